/**
 * Bounded resources under unauthenticated load: a cap on the live sessions of an instance, a cap per client
 * address on sessions started by connections without a binding cookie (each one is a new "browser", so the
 * per-browser cap bounds nothing), the hibernated index and the in-memory ledger bounded in entries.
 */
import { WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { closeFor } from '../../../server-stub/channel/connection.js';
import { StasisCapacityError } from '../../../server-stub/errors.js';
import { createStasisServer, type StasisServer } from '../../../server-stub/index.js';
import { MemoryLedger } from '../../../server-stub/ledger.js';
import { silentLogger } from '../../../server-stub/logger.js';
import { HIBERNATED_INDEX_MAX } from '../../../server-stub/session/live-pool.js';
import type { SessionManager } from '../../../server-stub/session/session-manager.js';
import { expectCode, FakeChannel, listenOnLoopback, managerWith, newBinding, newKey, newSid, ringOf } from './helpers.js';

const managers: SessionManager[] = [];
const servers: Array<{ stasis: StasisServer; close: () => void }> = [];
afterEach(async () => {
  for (const m of managers.splice(0)) m.closeAll();
  for (const s of servers.splice(0)) {
    s.close();
    await s.stasis.close();
  }
});

async function manager(...args: Parameters<typeof managerWith>): Promise<SessionManager> {
  const m = await managerWith(...args);
  managers.push(m);
  return m;
}

describe('the live-session cap of an instance (maxLiveSessions)', () => {
  it('refuses a new session past it with unavailable (close 1013), and a restore too; a session that leaves makes room', async () => {
    const m = await manager({ maxLiveSessions: 3 });
    const held: Array<{ sid: string; binding: string }> = [];
    for (let i = 0; i < 3; i++) {
      const sid = newSid();
      const binding = newBinding();
      await m.connect(sid, new FakeChannel(), binding);
      held.push({ sid, binding });
    }
    const refused = await expectCode(() => m.connect(newSid(), new FakeChannel(), newBinding()), 'unavailable');
    expect(refused).toBeInstanceOf(StasisCapacityError);
    expect(closeFor(refused)).toEqual({ code: 1013, reason: 'stasis:server-full' });

    // A hibernate frees a place; the blob's own restore then fits again, but not while the place is taken.
    const { blob } = await m.hibernate(held[0]!.sid, held[0]!.binding);
    await m.connect(newSid(), new FakeChannel(), newBinding());
    await expectCode(() => m.resume(held[0]!.sid, blob, held[0]!.binding), 'unavailable');
    expect(m.liveCount).toBe(3);
    // The session's own live copy does not count against its restore (it is replaced, not added).
    const { blob: second } = await m.hibernate(held[1]!.sid, held[1]!.binding, { keepChannels: true });
    await m.connect(held[1]!.sid, new FakeChannel(), held[1]!.binding).catch(() => undefined);
    expect((await m.resume(held[1]!.sid, second, held[1]!.binding)).outcome).toBe('ok');
  });
});

describe('the per-address cap on first visits (maxSessionsPerAddress)', () => {
  it('counts only sessions started without a binding cookie, per address; one leaving makes room', async () => {
    const m = await manager({ maxSessionsPerAddress: 2 });
    await m.connect(newSid(), new FakeChannel(), newBinding(), '203.0.113.7');
    await m.connect(newSid(), new FakeChannel(), newBinding(), '203.0.113.7');
    await expectCode(() => m.connect(newSid(), new FakeChannel(), newBinding(), '203.0.113.7'), 'rate-limited');
    // Another address, and browsers that brought their cookie, are not affected.
    await m.connect(newSid(), new FakeChannel(), newBinding(), '198.51.100.1');
    for (let i = 0; i < 5; i++) await m.connect(newSid(), new FakeChannel(), newBinding());
    expect(m.liveCount).toBe(8);
    // A page that hibernates frees its place.
    const channel = new FakeChannel();
    const m2 = await manager({ maxSessionsPerAddress: 1 });
    const sid = newSid();
    const binding = newBinding();
    await m2.connect(sid, channel, binding, '203.0.113.9');
    await expectCode(() => m2.connect(newSid(), new FakeChannel(), newBinding(), '203.0.113.9'), 'rate-limited');
    await m2.hibernate(sid, binding);
    await m2.connect(newSid(), new FakeChannel(), newBinding(), '203.0.113.9');
  });

  it('through the built-in live channel: cookie-less WebSockets from one address past the cap close with 4005', async () => {
    const stasis = await createStasisServer({ keys: await ringOf(newKey('caps')), logger: silentLogger, maxSessionsPerAddress: 3 });
    const { server, port } = await listenOnLoopback(stasis);
    servers.push({ stasis, close: () => server.close() });
    const open = (cookie?: string) =>
      new Promise<{ code?: number; socket: WebSocket }>((resolve) => {
        const socket = new WebSocket(`ws://127.0.0.1:${port}/stasis/live?sid=${newSid()}`, {
          headers: { Origin: `http://127.0.0.1:${port}`, ...(cookie ? { Cookie: `stasis_bid=${cookie}` } : {}) },
        });
        const timer = setTimeout(() => resolve({ socket }), 500); // still open: accepted
        socket.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, socket });
        });
      });
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await open());
    expect(results.map((r) => r.code)).toEqual([undefined, undefined, undefined, 4005, 4005]);
    // A browser that holds its cookie is not a first visit.
    expect((await open(newBinding())).code).toBeUndefined();
    expect(stasis.sessions.liveCount).toBe(4);
    for (const r of results) r.socket.terminate();
  });
});

describe('bounded bookkeeping', () => {
  it(`the hibernated index keeps at most ${HIBERNATED_INDEX_MAX} entries, forgetting the oldest first`, async () => {
    const m = await manager();
    const sids: string[] = [];
    for (let i = 0; i < HIBERNATED_INDEX_MAX + 20; i++) {
      const sid = newSid();
      const binding = newBinding();
      await m.connect(sid, new FakeChannel(), binding);
      await m.hibernate(sid, binding);
      sids.push(sid);
    }
    expect(m.hibernatedCount).toBe(HIBERNATED_INDEX_MAX);
    expect(m.report(sids[0]!).state).toBe('unknown');
    expect(m.report(sids.at(-1)!).state).toBe('hibernated');
  }, 60_000);

  it('the in-memory ledger keeps at most its max entries; a forgotten id is still refused by its generation record', async () => {
    const ledger = new MemoryLedger(Date.now, 10_000, 50);
    const claim = (jti: string, sid: string, gen = 1) => ({ jti, sid, gen, expiresAtMs: Date.now() + 3_600_000, bid: 'b', attempt: jti });
    expect(await ledger.consume(claim('first', 'keep'))).toBe('ok');
    for (let i = 0; i < 120; i++) expect(await ledger.consume(claim(`j${i}`, i % 2 ? 'keep' : `s${i}`, i + 2))).toBe('ok');
    expect(ledger.size).toBeLessThanOrEqual(50);
    // "first" was forgotten, but its session's newest generation is still recorded: a replay is stale.
    expect(await ledger.consume({ ...claim('first', 'keep'), attempt: 'again' })).toBe('stale');
  });
});
