/** Limits that need no HTTP server: the origin rule behind a proxy, and the session cap on resume. */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { MemoryLedger } from '../../../server-stub/ledger.js';
import { isOriginAllowed } from '../../../server-stub/transport/origin-policy.js';
import { expectCode, FakeChannel, managerWith, newBinding, newSid } from './helpers.js';

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('origin policy behind a reverse proxy', () => {
  const behindProxy = { host: 'app-backend:8080', origin: 'https://app.example', 'x-forwarded-host': 'app.example, lb.internal' };
  const proxied = request(behindProxy);

  it('refuses a same-origin request whose Host was rewritten, unless the proxy is trusted', () => {
    expect(isOriginAllowed(proxied, [])).toBe(false);
    expect(isOriginAllowed(proxied, [], true)).toBe(true);
  });

  it('never lets X-Forwarded-Host help when the proxy is not trusted, and still refuses foreign origins when it is', () => {
    const forged = request({ host: 'app.example', origin: 'https://evil.example', 'x-forwarded-host': 'evil.example' });
    expect(isOriginAllowed(forged, [])).toBe(false);
    expect(isOriginAllowed(request({ ...behindProxy, origin: 'https://evil.example' }), [], true)).toBe(false);
  });
});

describe('origin policy: how "this host" is compared', () => {
  it('host:port against Host, case-insensitive, default ports omitted; the scheme is not compared', () => {
    const allowed = (origin: string, host: string | undefined) => isOriginAllowed(request({ origin, ...(host ? { host } : {}) }), []);
    expect(allowed('https://app.example', 'app.example')).toBe(true);
    expect(allowed('https://app.example', 'APP.Example')).toBe(true);
    expect(allowed('https://app.example', 'app.example:443')).toBe(true);
    expect(allowed('http://app.example', 'app.example:80')).toBe(true);
    expect(allowed('http://app.example', 'app.example')).toBe(true); // a TLS-terminating proxy: the scheme is unknown here
    expect(allowed('https://app.example:8443', 'app.example')).toBe(false);
    expect(allowed('https://app.example', 'app.example:8443')).toBe(false);
    expect(allowed('https://app.example.evil', 'app.example')).toBe(false);
    expect(allowed('null', 'app.example')).toBe(false);
    expect(allowed('https://app.example', undefined)).toBe(false);
  });
});

describe('per-browser session cap', () => {
  it('also holds for resumes, without using up the refused blob', async () => {
    const manager = await managerWith({ maxSessionsPerBrowser: 2 });
    const binding = newBinding();
    const parked = newSid();
    await manager.connect(parked, new FakeChannel(), binding);
    const { blob } = await manager.hibernate(parked, binding);
    await manager.connect(newSid(), new FakeChannel(), binding);
    await manager.connect(newSid(), new FakeChannel(), binding);
    await expectCode(() => manager.connect(newSid(), new FakeChannel(), binding), 'rate-limited');
    await expectCode(() => manager.resume(parked, blob, binding), 'rate-limited');
    manager.closeAll();
    expect(await manager.resume(parked, blob, binding)).toMatchObject({ outcome: 'ok', gen: 2 });
  });
});

describe('drain', () => {
  it('pushes every live session its blob, closes with 4007, then refuses new work with unavailable', async () => {
    const manager = await managerWith({ app: (session) => void session.persist('n', 7) });
    const binding = newBinding();
    const channels = [new FakeChannel(), new FakeChannel()];
    const sids = [newSid(), newSid()];
    for (const [i, sid] of sids.entries()) await manager.connect(sid, channels[i]!, binding);
    const report = await manager.drain(1000);
    expect(report).toEqual({ sessions: 2, pushed: 2, failed: 0, flushed: true });
    expect(manager.liveCount).toBe(0);
    for (const [i, channel] of channels.entries()) {
      expect(channel.closed).toEqual({ code: 4007, reason: 'stasis:draining' });
      expect(channel.sent).toHaveLength(1);
      expect(channel.sent[0]).toMatchObject({ type: 'stasis:hibernated', reason: 'drain', sid: sids[i], gen: 1 });
    }
    await expectCode(() => manager.connect(newSid(), new FakeChannel(), binding), 'unavailable');
    const pushed = channels[0]!.sent[0] as { blob: string };
    await expectCode(() => manager.resume(sids[0]!, pushed.blob, binding), 'unavailable');
  });
});

describe('server-side idle', () => {
  it('hibernates only sessions without an app event for the idle timeout, pushing the blob and closing with 4008', async () => {
    let now = 1_000_000;
    const manager = await managerWith({ idleMs: 60_000, ledger: new MemoryLedger(() => now), now: () => now });
    try {
      const binding = newBinding();
      const [quiet, busy] = [new FakeChannel(), new FakeChannel()];
      const quietSid = newSid();
      await manager.connect(quietSid, quiet, binding);
      const busySession = await manager.connect(newSid(), busy, binding);
      now += 45_000;
      await manager.deliver(busySession, { type: 'anything' });
      now += 30_000; // quiet: 75 s without an event; busy: 30 s
      expect(await manager.hibernateIdle()).toBe(1);
      expect(quiet.closed).toEqual({ code: 4008, reason: 'stasis:idle' });
      expect(quiet.sent.at(-1)).toMatchObject({ type: 'stasis:hibernated', reason: 'idle', sid: quietSid, gen: 1 });
      expect(busy.closed).toBeUndefined();
      expect(manager.report(quietSid).state).toBe('hibernated');
      const { blob } = quiet.sent.at(-1) as { blob: string };
      expect(await manager.resume(quietSid, blob, binding)).toMatchObject({ outcome: 'ok', gen: 2 });
    } finally {
      manager.closeAll();
    }
  });
});
