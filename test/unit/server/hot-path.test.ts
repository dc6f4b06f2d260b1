/**
 * What the hibernate/resume cycle stopped paying for (issue 14, "server cost near the limit"), and that the
 * behaviour the app sees stayed: the session's AbortSignal is made only when the app reads it, call sites are
 * captured once per key and app (not on every rebuild), random ids come from a pool, the binding hash of a
 * request is computed once, and a resume asks an in-memory store without the asynchronous round.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { jsonCodec } from '../../../server-stub/codec/json-codec.js';
import { StasisConfigError } from '../../../server-stub/errors.js';
import { randomBuffer, randomId } from '../../../server-stub/random.js';
import { DeclarationSites } from '../../../server-stub/session/declaration-sites.js';
import { bindingHash } from '../../../server-stub/session/session-sealer.js';
import { Session } from '../../../server-stub/session/session.js';
import { StateRegistry } from '../../../server-stub/session/state-registry.js';
import { MemoryStore } from '../../../server-stub/store/memory-store.js';
import { StoreChain } from '../../../server-stub/store/store-chain.js';
import { FakeChannel, managerWith, newBinding, newSid } from './helpers.js';

const lookup = (name: string) => (name === 'json' ? jsonCodec : undefined);

afterEach(() => vi.restoreAllMocks());

describe('the session signal is made when the app reads it', () => {
  const session = () => new Session(newSid(), 1, false, new StateRegistry(lookup, jsonCodec));

  it('read before the end: it aborts at the end, with the reason', () => {
    const s = session();
    const signal = s.signal;
    expect(signal.aborted).toBe(false);
    s.end('hibernated', undefined);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe('hibernated');
    expect(s.ended).toBe(true);
  });

  it('read only after the end: already aborted, with the reason; `ended` says so without a signal', () => {
    const s = session();
    expect(s.ended).toBe(false);
    s.end('superseded', 4002);
    expect(s.ended).toBe(true);
    expect(s.signal.aborted).toBe(true);
    expect(s.signal.reason).toBe('superseded');
    expect(s.signal).toBe(s.signal);
  });

  it('a second end changes nothing', () => {
    const s = session();
    s.end('idle', 4008);
    s.end('closed', 1001);
    expect(s.signal.reason).toBe('idle');
  });

  it('the manager ends sessions whose app never read the signal, and those that did', async () => {
    let seen: AbortSignal | undefined;
    const manager = await managerWith({
      app: (session) => {
        session.persist('n', 1);
        if (session.gen === 1) seen = session.signal;
      },
    });
    const sid = newSid();
    const binding = newBinding();
    const channel = new FakeChannel();
    await manager.connect(sid, channel, binding);
    const { blob } = await manager.hibernate(sid, binding);
    expect(seen?.aborted).toBe(true);
    expect(channel.closed?.code).toBe(4001);
    await manager.resume(sid, blob, binding);
    await manager.connect(sid, new FakeChannel(), binding);
    await manager.hibernate(sid, binding);
    manager.closeAll();
  });
});

describe('call sites are captured once per key and app', () => {
  it('a session rebuilt from a blob captures no stack; a duplicate still names both places', async () => {
    const manager = await managerWith({
      app: (session) => {
        session.persist('a', 1);
        session.persistFields('b', { x: 1 }, ['x']);
      },
    });
    const binding = newBinding();
    const first = newSid();
    await manager.connect(first, new FakeChannel(), binding); // the app's first session: its keys' sites
    const { blob } = await manager.hibernate(first, binding);
    const capture = vi.spyOn(Error, 'captureStackTrace');
    await manager.connect(newSid(), new FakeChannel(), binding);
    await manager.resume(first, blob, binding);
    expect(capture).not.toHaveBeenCalled();
    manager.closeAll();
  });

  it('the first site is where the app first declared the key; the second is where the duplicate is', () => {
    const sites = new DeclarationSites();
    const make = () => new Session(newSid(), 1, false, new StateRegistry(lookup, jsonCodec, new Map(), sites));
    const declare = (s: Session) => s.persist('row.open', false); // one line, run for every row
    declare(make()); // another session of the same app declared the key first, here
    const s = make();
    declare(s);
    let error: unknown;
    try {
      declare(s);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StasisConfigError);
    expect((error as Error).message).toMatch(/first at test\/unit\/server\/hot-path\.test\.ts:\d+:\d+\)\. The same line ran twice/);
    const other = make();
    other.persist('draft', '');
    expect(() => other.persist('draft', '')).toThrow(/first at .*hot-path\.test\.ts:\d+:\d+, again at .*hot-path\.test\.ts:\d+:\d+/);
  });

  it('a registry used without Session names no place, and still refuses', () => {
    const registry = new StateRegistry(lookup, jsonCodec);
    registry.define('k', 1);
    expect(() => registry.define('k', 2)).toThrow(/persist\("k"\) was called twice in one session\. Keys must be unique/);
  });
});

describe('pooled random ids', () => {
  it('ids have the length of their bytes in base64url and do not repeat', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const id = randomId(16);
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      seen.add(id);
    }
    expect(seen.size).toBe(5000);
    expect(randomId(9)).toHaveLength(12);
    expect(randomId(24)).toHaveLength(32);
  });

  it('buffers are copies of their own, across refills of the pool', () => {
    const buffers = Array.from({ length: 1000 }, () => randomBuffer(12));
    const copies = buffers.map((b) => Buffer.from(b));
    for (let i = 0; i < 1000; i++) randomId(16); // refills the pool several times
    expect(buffers).toStrictEqual(copies);
    expect(new Set(buffers.map((b) => b.toString('hex'))).size).toBe(1000);
    expect(buffers.every((b) => b.length === 12)).toBe(true);
  });

  it('refuses more than the pool holds at once', () => {
    expect(() => randomId(4097)).toThrow(RangeError);
  });
});

describe('the binding hash', () => {
  it('is the SHA-256 of the secret, whatever was hashed before', () => {
    const a = newBinding();
    const b = newBinding();
    const sha = (s: string) => createHash('sha256').update(s).digest('base64url');
    for (const secret of [a, a, b, a, b, b]) expect(bindingHash(secret)).toBe(sha(secret));
  });
});

describe('a resume asks an in-memory store without the asynchronous round', () => {
  it('nothing kept: answered at once, the operation still counted', async () => {
    const ops: string[] = [];
    const store = new MemoryStore();
    const peek = vi.spyOn(store, 'peek');
    const chain = new StoreChain([store], {}, { operation: (s, o, r) => void ops.push(`${s} ${o} ${r}`), breaker: () => {} });
    await expect(chain.peek('nobody')).resolves.toBeUndefined();
    expect(peek).not.toHaveBeenCalled();
    expect(ops).toEqual(['memory peek ok']);
    await chain.put('somebody', { blob: 'b', gen: 1, exp: Math.floor(Date.now() / 1000) + 60 });
    await expect(chain.peek('somebody')).resolves.toMatchObject({ blob: 'b' });
    expect(peek).toHaveBeenCalledTimes(1);
  });

  it('a store that cannot say (no `holds`) is always asked', async () => {
    const store = new MemoryStore();
    const other = { name: 'other', put: async () => {}, take: async () => undefined, peek: vi.fn(async () => undefined), delete: async () => {} };
    const chain = new StoreChain([store, other]);
    await expect(chain.peek('nobody')).resolves.toBeUndefined();
    expect(other.peek).toHaveBeenCalledTimes(1);
  });
});
