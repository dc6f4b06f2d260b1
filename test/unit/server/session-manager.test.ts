import { afterEach, describe, expect, it, vi } from 'vitest';
import { jsonCodec, type Codec } from '../../../server-stub/codec/json-codec.js';
import { open, seal } from '../../../server-stub/envelope/envelope.js';
import { generateKeySpec, parseKeyRing, type KeyRing } from '../../../server-stub/envelope/key-ring.js';
import { StasisError } from '../../../server-stub/errors.js';
import { MemoryLedger, type Ledger } from '../../../server-stub/ledger.js';
import type { Logger } from '../../../server-stub/logger.js';
import type { SessionContext, StasisApp } from '../../../server-stub/session/session.js';
import type { Persisted } from '../../../server-stub/session/state-registry.js';
import { SessionManager, type SessionManagerOptions } from '../../../server-stub/session/session-manager.js';
import { bindingHash } from '../../../server-stub/session/session-sealer.js';
import { CLOSE_CODES, PROTOCOL_VERSION } from '../../../src/protocol/index.js';
import { expectCode, FakeChannel, newBinding, newSid } from './helpers.js';

// ---- a small app: four persisted inputs of different types, mutable from the test or by messages ----

interface Handles {
  session: SessionContext;
  cart: Persisted<Map<string, number>>;
  startedAt: Persisted<Date>;
  order: Persisted<bigint>;
  note: Persisted<string>;
  received: unknown[];
}

type Msg = { type: 'add'; id: string; qty: number } | { type: 'note'; text: string } | { type: 'boom' } | { type: 'reject' };

function testApp(options: { throwOnConnect?: boolean; keys?: 'all' | 'no-note' } = {}) {
  const made: Handles[] = [];
  const app: StasisApp = (session) => {
    const h: Handles = {
      session,
      cart: session.persist('test.cart', () => new Map<string, number>()),
      startedAt: session.persist('test.startedAt', () => new Date(Date.UTC(2026, 0, 1))),
      order: session.persist('test.order', 0n),
      note: options.keys === 'no-note' ? (undefined as never) : session.persist('test.note', ''),
      received: [],
    };
    made.push(h);
    return {
      onConnect() {
        if (options.throwOnConnect) throw new Error('onConnect exploded');
        session.send({ type: 'hello', gen: session.gen, restored: session.restored });
      },
      async onMessage(raw) {
        const m = raw as Msg;
        h.received.push(m);
        if (m.type === 'add') h.cart.set(new Map(h.cart.get()).set(m.id, m.qty));
        if (m.type === 'note') h.note.set(m.text);
        if (m.type === 'boom') throw new Error('onMessage exploded');
        if (m.type === 'reject') await Promise.reject(new Error('async onMessage exploded'));
      },
    };
  };
  return { app, made, latest: () => made[made.length - 1]! };
}

// ---- harness ----

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0, 250);
const managers: SessionManager[] = [];

interface Harness {
  manager: SessionManager;
  made: Handles[];
  latest: () => Handles;
  clock: { now: () => number; set(v: number): void };
  logger: Logger & { lines: { level: string; message: string }[] };
  options: SessionManagerOptions;
}

let sharedRing: Promise<KeyRing> | undefined;
const ring = () => (sharedRing ??= parseKeyRing(generateKeySpec('unit-1')));

async function harness(
  over: Partial<SessionManagerOptions> = {},
  appOptions: Parameters<typeof testApp>[0] = {},
): Promise<Harness> {
  let t = T0;
  const clock = { now: () => t, set: (v: number) => void (t = v) };
  const lines: { level: string; message: string }[] = [];
  const logger = {
    lines,
    info: (message: string) => void lines.push({ level: 'info', message }),
    warn: (message: string) => void lines.push({ level: 'warn', message }),
    error: (message: string) => void lines.push({ level: 'error', message }),
  };
  const { app, made, latest } = testApp(appOptions);
  const codecs = new Map<string, Codec>([[jsonCodec.name, jsonCodec]]);
  const options: SessionManagerOptions = {
    ring: await ring(),
    app,
    audience: 'unit-app',
    schema: 's1',
    ttlSeconds: 3600,
    maxBlobBytes: 64 * 1024,
    warnBlobBytes: 32 * 1024,
    retentionMs: 60_000,
    ledger: new MemoryLedger(clock.now),
    codecs: (name) => codecs.get(name),
    defaultCodec: jsonCodec,
    logger,
    now: clock.now,
    ...over,
  };
  const manager = new SessionManager(options);
  managers.push(manager);
  return { manager, made, latest, clock, logger, options };
}

afterEach(() => {
  for (const m of managers.splice(0)) m.closeAll();
  vi.useRealTimers();
});

/** Connects, fills the four values with distinctive data, hibernates; returns what a client would hold. */
async function hibernated(h: Harness, sid = newSid(), binding = newBinding()) {
  const channel = new FakeChannel();
  const session = await h.manager.connect(sid, channel);
  const handles = h.latest();
  handles.cart.set(new Map([['pen', 2], ['tape', 7]]));
  handles.startedAt.set(new Date(Date.UTC(2026, 4, 17, 9, 30, 15, 123)));
  handles.order.set(123_456_789_012_345_678_901_234_567_890n);
  handles.note.set('héllo ✓ "quoted"\n');
  const result = await h.manager.hibernate(sid, binding);
  return { sid, binding, channel, session, handles, result, blob: result.blob };
}

// ---- tests ----

describe('connect', () => {
  it('starts a new session at gen 1, not restored, and runs onConnect', async () => {
    const h = await harness();
    const sid = newSid();
    const ch = new FakeChannel();
    const session = await h.manager.connect(sid, ch);
    expect(session.gen).toBe(1);
    expect(session.restored).toBe(false);
    expect(session.sid).toBe(sid);
    expect(h.manager.liveCount).toBe(1);
    expect(h.manager.report(sid)).toStrictEqual({ sid, state: 'live', gen: 1, channels: 1 });
    expect(ch.sent).toStrictEqual([{ type: 'hello', gen: 1, restored: false }]);
    expect(h.made).toHaveLength(1);
  });

  it('a second channel joins the same live session without re-running the app', async () => {
    const h = await harness();
    const sid = newSid();
    const a = await h.manager.connect(sid, new FakeChannel());
    const b = await h.manager.connect(sid, new FakeChannel());
    expect(b).toBe(a);
    expect(h.made).toHaveLength(1);
    expect(h.manager.report(sid).channels).toBe(2);
    expect(h.manager.report(newSid()).state).toBe('unknown');
  });

  it('send reaches every channel; deliver runs onMessage', async () => {
    const h = await harness();
    const sid = newSid();
    const a = new FakeChannel();
    const b = new FakeChannel();
    const session = await h.manager.connect(sid, a);
    await h.manager.connect(sid, b);
    session.send({ x: 1 });
    expect(a.sent.at(-1)).toStrictEqual({ x: 1 });
    expect(b.sent.at(-1)).toStrictEqual({ x: 1 });
    await h.manager.deliver(session, { type: 'add', id: 'pen', qty: 3 });
    expect(h.latest().cart.get()).toStrictEqual(new Map([['pen', 3]]));
  });
});

describe('hibernate', () => {
  it('seals the session and frees it: liveCount 0, report hibernated, channels closed with 4001', async () => {
    const h = await harness();
    const { sid, channel, session, result } = await hibernated(h);
    const iat = Math.floor(T0 / 1000);
    expect(result).toMatchObject({ outcome: 'ok', sid, gen: 1, exp: iat + 3600 });
    expect(typeof result.blob).toBe('string');
    expect(h.manager.liveCount).toBe(0);
    expect(h.manager.hibernatedCount).toBe(1);
    expect(h.manager.report(sid)).toStrictEqual({ sid, state: 'hibernated', gen: 1 });
    expect(channel.closed).toStrictEqual({ code: CLOSE_CODES.hibernated, reason: 'stasis:hibernated' });
    expect(session.signal.aborted).toBe(true);
    expect(session.signal.reason).toBe('hibernated');
  });

  it('seals the claims the resume checks: audience, schema, binding hash, iat/exp, a fresh jti', async () => {
    const h = await harness();
    const a = await hibernated(h);
    const b = await hibernated(h);
    const sealed = await open(a.blob, await ring());
    expect(sealed).toMatchObject({
      v: PROTOCOL_VERSION,
      sid: a.sid,
      gen: 1,
      aud: 'unit-app',
      schema: 's1',
      bid: bindingHash(a.binding),
      iat: Math.floor(T0 / 1000),
      exp: Math.floor(T0 / 1000) + 3600,
    });
    expect(sealed.bid).not.toContain(a.binding);
    expect(Object.keys(sealed.values).sort()).toEqual(['test.cart', 'test.note', 'test.order', 'test.startedAt']);
    expect(sealed.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect((await open(b.blob, await ring())).jti).not.toBe(sealed.jti);
  });

  it('an unknown sid → no-session', async () => {
    const h = await harness();
    await expectCode(() => h.manager.hibernate(newSid(), newBinding()), 'no-session');
  });

  it('an already hibernated sid → no-session', async () => {
    const h = await harness();
    const { sid } = await hibernated(h);
    await expectCode(() => h.manager.hibernate(sid, newBinding()), 'no-session');
  });

  it('two concurrent hibernates of one sid: one ok, one no-session', async () => {
    const h = await harness();
    const sid = newSid();
    await h.manager.connect(sid, new FakeChannel());
    const results = await Promise.allSettled([h.manager.hibernate(sid, newBinding()), h.manager.hibernate(sid, newBinding())]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok).toHaveLength(1);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.reason).toBeInstanceOf(StasisError);
    expect((failed[0]!.reason as StasisError).code).toBe('no-session');
    expect(h.manager.liveCount).toBe(0);
  });

  it('a connect while sealing is refused with no-session', async () => {
    const h = await harness();
    const sid = newSid();
    await h.manager.connect(sid, new FakeChannel());
    const pending = h.manager.hibernate(sid, newBinding());
    await expectCode(() => h.manager.connect(sid, new FakeChannel()), 'no-session');
    expect((await pending).outcome).toBe('ok');
  });

  it('a blob over maxBlobBytes → too-large; the session stays live and can hibernate once smaller', async () => {
    const h = await harness({ maxBlobBytes: 1500, warnBlobBytes: 1000 });
    const sid = newSid();
    const ch = new FakeChannel();
    const session = await h.manager.connect(sid, ch);
    h.latest().note.set('x'.repeat(2000));
    const error = await expectCode(() => h.manager.hibernate(sid, newBinding()), 'too-large');
    expect(error.message).toMatch(/over the 1500-byte limit/);
    expect(h.manager.liveCount).toBe(1);
    expect(h.manager.report(sid)).toMatchObject({ state: 'live', gen: 1, channels: 1 });
    expect(ch.closed).toBeUndefined();
    expect(session.signal.aborted).toBe(false);
    expect(session.sealing).toBe(false);
    // Still serving messages, and a smaller state hibernates.
    await h.manager.deliver(session, { type: 'note', text: 'short' });
    expect(h.latest().note.get()).toBe('short');
    expect((await h.manager.hibernate(sid, newBinding())).outcome).toBe('ok');
    expect(ch.closed?.code).toBe(CLOSE_CODES.hibernated);
  });

  it('a blob over warnBlobBytes is sealed and logged as a warning', async () => {
    const h = await harness({ warnBlobBytes: 600 });
    const sid = newSid();
    await h.manager.connect(sid, new FakeChannel());
    h.latest().note.set('y'.repeat(800));
    const { blob } = await h.manager.hibernate(sid, newBinding());
    expect(blob.length).toBeGreaterThan(600);
    expect(h.logger.lines.some((l) => l.level === 'warn' && /over the warning size 600/.test(l.message))).toBe(true);
  });

  it('a value made unserializable in place → unserializable naming the key and path; the session stays live', async () => {
    const h = await harness();
    const sid = newSid();
    const ch = new FakeChannel();
    const session = await h.manager.connect(sid, ch);
    const cart = h.latest().cart;
    cart.set(new Map([['pen', 1]]));
    (cart.get() as Map<string, unknown>).set('evil', () => 1); // mutation in place bypasses set()
    const error = await expectCode(() => h.manager.hibernate(sid, newBinding()), 'unserializable');
    expect(error.message).toContain('test.cart');
    expect(error.message).toContain('$.entries[1].value');
    expect(error.message).toMatch(/function/);
    expect(h.manager.liveCount).toBe(1);
    expect(ch.closed).toBeUndefined();
    expect(session.signal.aborted).toBe(false);
    // Fix the value: the same session hibernates.
    cart.get().delete('evil');
    expect((await h.manager.hibernate(sid, newBinding())).outcome).toBe('ok');
  });
});

describe('resume', () => {
  it('restores exact values with types preserved, gen 2, restored true', async () => {
    const h = await harness();
    const { sid, binding, blob, handles: before } = await hibernated(h);
    const ok = await h.manager.resume(sid, blob, binding);
    expect(ok).toStrictEqual({ outcome: 'ok', sid, gen: 2 });
    const after = h.latest();
    expect(after).not.toBe(before);
    expect(after.session.gen).toBe(2);
    expect(after.session.restored).toBe(true);
    expect(after.session.sid).toBe(sid);

    const cart = after.cart.get();
    expect(cart).toBeInstanceOf(Map);
    expect(cart).toStrictEqual(new Map([['pen', 2], ['tape', 7]]));
    expect([...cart.keys()]).toEqual(['pen', 'tape']); // order kept
    expect(cart).not.toBe(before.cart.get());
    const started = after.startedAt.get();
    expect(started).toBeInstanceOf(Date);
    expect(started.getTime()).toBe(Date.UTC(2026, 4, 17, 9, 30, 15, 123));
    expect(typeof after.order.get()).toBe('bigint');
    expect(after.order.get()).toBe(123_456_789_012_345_678_901_234_567_890n);
    expect(after.note.get()).toBe('héllo ✓ "quoted"\n');

    expect(h.manager.liveCount).toBe(1);
    expect(h.manager.hibernatedCount).toBe(0);
    expect(h.manager.report(sid)).toStrictEqual({ sid, state: 'live', gen: 2, channels: 0 });
  });

  it('the restored session accepts a channel, and a second cycle gives gen 3 with the newer values', async () => {
    const h = await harness();
    const { sid, binding, blob } = await hibernated(h);
    await h.manager.resume(sid, blob, binding);
    const ch = new FakeChannel();
    const session = await h.manager.connect(sid, ch);
    expect(session.gen).toBe(2);
    expect(ch.sent).toStrictEqual([{ type: 'hello', gen: 2, restored: true }]);
    await h.manager.deliver(session, { type: 'add', id: 'stamp', qty: 1 });
    const second = await h.manager.hibernate(sid, binding);
    expect(second.gen).toBe(2);
    expect(ch.closed?.code).toBe(CLOSE_CODES.hibernated);
    expect(await h.manager.resume(sid, second.blob, binding)).toStrictEqual({ outcome: 'ok', sid, gen: 3 });
    expect(h.latest().cart.get()).toStrictEqual(new Map([['pen', 2], ['tape', 7], ['stamp', 1]]));
  });

  it('a second resume of the same blob → replayed; the restored session is untouched', async () => {
    const h = await harness();
    const { sid, binding, blob } = await hibernated(h);
    await h.manager.resume(sid, blob, binding);
    const first = h.latest();
    await expectCode(() => h.manager.resume(sid, blob, binding), 'replayed');
    expect(first.session.signal.aborted).toBe(false);
    // Whatever the app built for the refused resume (if anything) was ended and never went live.
    for (const extra of h.made.slice(h.made.indexOf(first) + 1)) expect(extra.session.signal.aborted).toBe(true);
    const ch = new FakeChannel();
    expect(await h.manager.connect(sid, ch)).toBe(first.session);
    expect(h.manager.report(sid)).toMatchObject({ state: 'live', gen: 2 });
    // Once that session has left (hibernated into a newer blob), the old blob stays a replay.
    await h.manager.hibernate(sid, binding);
    await expectCode(() => h.manager.resume(sid, blob, binding), 'replayed');
  });

  it('a consume whose answer never came (the ledger ran, no session was restored): the retry waits out the lease, then restores', async () => {
    const ledger = new MemoryLedger(Date.now, 40);
    const h = await harness({ ledger });
    const { sid, binding, blob } = await hibernated(h);
    const sealed = await open(blob, await ring());
    // What a timed-out attempt leaves behind: the id consumed by this browser, nothing live.
    const lost = { jti: sealed.jti, sid, gen: sealed.gen, expiresAtMs: sealed.exp * 1000, bid: bindingHash(binding), attempt: 'lost' };
    expect(await ledger.consume(lost)).toBe('ok');
    await expectCode(() => h.manager.resume(sid, blob, binding), 'unavailable');
    expect(h.manager.liveCount).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(await h.manager.resume(sid, blob, binding)).toMatchObject({ outcome: 'ok', gen: 2 });
    expect(h.latest().session.restored).toBe(true);
    // Another browser with the blob is still refused (its binding does not match).
    await expectCode(() => h.manager.resume(sid, blob, newBinding()), 'wrong-binding');
  });

  it('wrong sid → wrong-binding, and the blob is not used up', async () => {
    const h = await harness();
    const { sid, binding, blob } = await hibernated(h);
    const other = await hibernated(h);
    await expectCode(() => h.manager.resume(other.sid, blob, binding), 'wrong-binding');
    await expectCode(() => h.manager.resume(newSid(), blob, binding), 'wrong-binding');
    expect(h.manager.liveCount).toBe(0);
    expect((await h.manager.resume(sid, blob, binding)).gen).toBe(2);
  });

  it('wrong or missing binding secret → wrong-binding, and the blob is not used up', async () => {
    const h = await harness();
    const { sid, binding, blob } = await hibernated(h);
    await expectCode(() => h.manager.resume(sid, blob, undefined), 'wrong-binding');
    await expectCode(() => h.manager.resume(sid, blob, ''), 'wrong-binding');
    await expectCode(() => h.manager.resume(sid, blob, newBinding()), 'wrong-binding');
    await expectCode(() => h.manager.resume(sid, blob, bindingHash(binding)), 'wrong-binding'); // the hash is not the secret
    await expectCode(() => h.manager.resume(sid, blob, binding.slice(0, -1)), 'wrong-binding');
    expect((await h.manager.resume(sid, blob, binding)).outcome).toBe('ok');
  });

  it('a blob of another audience (same keys, same ledger) → wrong-binding', async () => {
    const h = await harness();
    const { sid, binding, blob } = await hibernated(h);
    const other = await harness({ audience: 'other-app', ledger: h.options.ledger });
    const error = await expectCode(() => other.manager.resume(sid, blob, binding), 'wrong-binding');
    expect(error.message).toContain('unit-app');
    expect(other.manager.liveCount).toBe(0);
    expect((await h.manager.resume(sid, blob, binding)).outcome).toBe('ok');
  });

  it('a blob of another schema → schema-reset, nothing restored', async () => {
    const h = await harness();
    const { sid, binding, blob } = await hibernated(h);
    const next = await harness({ schema: 's2' });
    const error = await expectCode(() => next.manager.resume(sid, blob, binding), 'schema-reset');
    expect(error.message).toContain('s1');
    expect(next.manager.liveCount).toBe(0);
    expect(next.made).toHaveLength(0);
  });

  it('expiry uses the injected clock: ok just before exp, expired at and after exp', async () => {
    const h = await harness({ ttlSeconds: 600 });
    const a = await hibernated(h);
    const b = await hibernated(h);
    const expMs = a.result.exp * 1000;
    expect(a.result.exp).toBe(Math.floor(T0 / 1000) + 600);
    h.clock.set(expMs - 1);
    expect((await h.manager.resume(a.sid, a.blob, a.binding)).outcome).toBe('ok');
    h.clock.set(expMs);
    await expectCode(() => h.manager.resume(b.sid, b.blob, b.binding), 'expired');
    h.clock.set(expMs + 86_400_000);
    await expectCode(() => h.manager.resume(b.sid, b.blob, b.binding), 'expired');
    // Expired blobs no longer count as hibernated.
    expect(h.manager.hibernatedCount).toBe(0);
    expect(h.manager.report(b.sid).state).toBe('unknown');
  });

  it('a blob longer than maxBlobBytes → too-large before any crypto', async () => {
    const h = await harness({ maxBlobBytes: 1000 });
    await expectCode(() => h.manager.resume(newSid(), 'x'.repeat(1001), newBinding()), 'too-large');
  });

  it('garbage, tampered or foreign-key blobs → malformed / tampered / unknown-key', async () => {
    const h = await harness();
    const { sid, binding, blob } = await hibernated(h);
    await expectCode(() => h.manager.resume(sid, 'garbage', binding), 'malformed');
    const p = blob.split('.');
    p[3] = p[3]!.slice(0, 10) + (p[3]![10] === 'A' ? 'B' : 'A') + p[3]!.slice(11);
    await expectCode(() => h.manager.resume(sid, p.join('.'), binding), 'tampered');
    const foreign = await harness({ ring: await parseKeyRing(generateKeySpec('unit-2')) });
    await expectCode(() => foreign.manager.resume(sid, blob, binding), 'unknown-key');
    expect((await h.manager.resume(sid, blob, binding)).outcome).toBe('ok');
  });

  it('a blob whose values do not decode → malformed, all or nothing, and the blob is not consumed', async () => {
    const h = await harness();
    const sid = newSid();
    const binding = newBinding();
    const iat = Math.floor(T0 / 1000);
    const blob = await seal(
      {
        v: PROTOCOL_VERSION,
        sid,
        gen: 4,
        jti: 'crafted-jti',
        iat,
        exp: iat + 60,
        aud: 'unit-app',
        bid: bindingHash(binding),
        schema: 's1',
        values: { 'test.note': { c: 'json', v: 'fine' }, 'test.cart': { c: 'json', v: { $t: 'Map', v: 'not pairs' } } },
      },
      await ring(),
    );
    await expectCode(() => h.manager.resume(sid, blob, binding), 'malformed');
    expect(h.made).toHaveLength(0);
    expect(h.manager.liveCount).toBe(0);
    expect(await h.options.ledger.consume({ jti: 'crafted-jti', sid, gen: 4, expiresAtMs: (iat + 60) * 1000, bid: 'any', attempt: 'any' })).toBe('ok');
  });

  it('a restored value the app no longer defines is dropped with a warning', async () => {
    const h = await harness();
    const { sid, binding, blob } = await hibernated(h);
    const slim = await harness({ ledger: h.options.ledger }, { keys: 'no-note' });
    await slim.manager.resume(sid, blob, binding);
    expect(slim.latest().cart.get().get('tape')).toBe(7);
    expect(slim.logger.lines.some((l) => l.level === 'warn' && l.message.includes('"test.note"'))).toBe(true);
  });

  it('resume while a session with that sid is live supersedes it (old channels closed with 4002)', async () => {
    const h = await harness();
    const { sid, binding, blob } = await hibernated(h);
    // The tab reconnected without resuming: a fresh gen-1 session under the same sid.
    const ch = new FakeChannel();
    const fresh = await h.manager.connect(sid, ch);
    expect(fresh.gen).toBe(1);
    expect(h.latest().cart.get().size).toBe(0);
    expect(await h.manager.resume(sid, blob, binding)).toStrictEqual({ outcome: 'ok', sid, gen: 2 });
    expect(ch.closed).toStrictEqual({ code: CLOSE_CODES.superseded, reason: 'stasis:superseded' });
    expect(fresh.signal.aborted).toBe(true);
    expect(fresh.signal.reason).toBe('superseded');
    expect(h.manager.liveCount).toBe(1);
    expect(h.manager.report(sid)).toStrictEqual({ sid, state: 'live', gen: 2, channels: 0 });
    expect(h.latest().cart.get().get('pen')).toBe(2);
    // Messages to the superseded session are ignored.
    await h.manager.deliver(fresh, { type: 'note', text: 'late' });
    expect(h.latest().note.get()).toBe('héllo ✓ "quoted"\n');
  });
});

describe('app handlers that throw', () => {
  it('onConnect and onMessage errors (sync and async) are logged and do not break the manager', async () => {
    const h = await harness({}, { throwOnConnect: true });
    const sid = newSid();
    const ch = new FakeChannel();
    const session = await h.manager.connect(sid, ch);
    await h.manager.deliver(session, { type: 'boom' });
    await h.manager.deliver(session, { type: 'reject' });
    await h.manager.deliver(session, { type: 'add', id: 'pen', qty: 5 });
    await vi.waitFor(() => expect(h.logger.lines.filter((l) => l.level === 'error')).toHaveLength(3));
    const errors = h.logger.lines.filter((l) => l.level === 'error').map((l) => l.message).join('\n');
    expect(errors).toContain('onConnect exploded');
    expect(errors).toContain('onMessage exploded');
    expect(errors).toContain('async onMessage exploded');
    expect(h.latest().cart.get().get('pen')).toBe(5);
    const { blob } = await h.manager.hibernate(sid, 'b'.repeat(32));
    expect((await h.manager.resume(sid, blob, 'b'.repeat(32))).gen).toBe(2);
    expect(h.latest().cart.get().get('pen')).toBe(5);
  });

  it('messages after hibernation are not delivered', async () => {
    const h = await harness();
    const { session, handles } = await hibernated(h);
    await h.manager.deliver(session, { type: 'note', text: 'after' });
    expect(handles.received).toHaveLength(0);
  });
});

describe('retention', () => {
  it('a resumed session nobody connects to is dropped after retentionMs; a connect in time keeps it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const h = await harness({ retentionMs: 5_000 });
    const a = await hibernated(h);
    const b = await hibernated(h);
    await h.manager.resume(a.sid, a.blob, a.binding);
    await h.manager.resume(b.sid, b.blob, b.binding);
    const ch = new FakeChannel();
    vi.advanceTimersByTime(4_000);
    await h.manager.connect(b.sid, ch);
    vi.advanceTimersByTime(2_000);
    expect(h.manager.report(a.sid).state).toBe('unknown');
    expect(h.manager.report(b.sid)).toMatchObject({ state: 'live', gen: 2, channels: 1 });
    expect(h.logger.lines.some((l) => l.level === 'info' && /dropped/.test(l.message))).toBe(true);
  });

  it('when the last channel disconnects the session is kept for retentionMs, then ended', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const h = await harness({ retentionMs: 5_000 });
    const sid = newSid();
    const a = new FakeChannel();
    const b = new FakeChannel();
    const session = await h.manager.connect(sid, a);
    await h.manager.connect(sid, b);
    h.manager.disconnect(session, a);
    vi.advanceTimersByTime(10_000);
    expect(h.manager.liveCount).toBe(1); // b still attached
    h.manager.disconnect(session, b);
    vi.advanceTimersByTime(4_999);
    expect(h.manager.liveCount).toBe(1);
    vi.advanceTimersByTime(1);
    expect(h.manager.liveCount).toBe(0);
    expect(session.signal.reason).toBe('expired');
  });

  it('closeAll ends every live session with 1001', async () => {
    const h = await harness();
    const ch = new FakeChannel();
    await h.manager.connect(newSid(), ch);
    await h.manager.connect(newSid(), new FakeChannel());
    h.manager.closeAll();
    expect(h.manager.liveCount).toBe(0);
    expect(ch.closed).toStrictEqual({ code: 1001, reason: 'stasis:closed' });
  });
});

describe('ledger integration', () => {
  it('a ledger that is down makes resume fail without restoring anything', async () => {
    const down: Ledger = {
      consume: () => Promise.reject(new Error('redis down')),
      release: async () => undefined,
      settle: async () => undefined,
      fresh: () => Promise.reject(new Error('redis down')),
    };
    const h = await harness({ ledger: down });
    const { sid, binding, blob } = await hibernated(h);
    await expect(h.manager.resume(sid, blob, binding)).rejects.toThrow('redis down');
    expect(h.manager.liveCount).toBe(0);
  });
});
