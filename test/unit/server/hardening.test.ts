/**
 * Integration tests for the server hardening: exactly-once resume under concurrency, stale generations,
 * the resume-failure rate limit, the origin policy, the per-browser live-session cap (and the binding
 * cookie issued on the live channel), the schema tag, key rotation and expiry, all over a real
 * node:http server on 127.0.0.1 with fetch and the `ws` client.
 */
import type { Server } from 'node:http';
import { decodeProtectedHeader } from 'jose';
import { WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../server-stub/config.js';
import { createStasisServer, type StasisServer, type StasisServerOptions } from '../../../server-stub/index.js';
import { SESSION_CAP_RETRY_SECONDS } from '../../../server-stub/transport/resume-gate.js';
import { silentLogger } from '../../../server-stub/logger.js';
import { FailureRateLimiter } from '../../../server-stub/rate-limiter.js';
import type { StasisApp } from '../../../server-stub/session/session.js';
import { CLOSE_CODES, HTTP_STATUS, isFinal, type FailureCode, type HealthResponse } from '../../../src/protocol/index.js';
import { b64url, flipMiddle, newBinding, newKey, newSid, parts, unb64url, listenOnLoopback } from './helpers.js';

// ---- a small app: one persisted counter; records every time its factory runs ----

interface Hello {
  type: 'hello';
  gen: number;
  restored: boolean;
  count: number;
}

/** Every factory run per sid, in order: the generation, whether it was restored, the restored counter. */
const builds = new Map<string, { gen: number; restored: boolean; count: number }[]>();

const app: StasisApp = (session) => {
  const count = session.persist('count', 0);
  let runs = builds.get(session.sid);
  if (!runs) builds.set(session.sid, (runs = []));
  runs.push({ gen: session.gen, restored: session.restored, count: count.get() });
  const hello = () => session.send({ type: 'hello', gen: session.gen, restored: session.restored, count: count.get() } satisfies Hello);
  return {
    onConnect: hello,
    onMessage(message) {
      if ((message as { type?: unknown }).type === 'inc') {
        count.set(count.get() + 1);
        hello();
      }
    },
  };
};

// ---- servers ----

interface Running {
  stasis: StasisServer;
  server: Server;
  base: string;
  host: string;
}

const running: Running[] = [];
const sockets: WebSocket[] = [];

async function start(options: Partial<StasisServerOptions> = {}): Promise<Running> {
  const stasis = await createStasisServer({ app, keys: newKey('hard-1').spec, logger: silentLogger, ...options });
  const { server, port } = await listenOnLoopback(stasis);
  const r = { stasis, server, base: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}` };
  running.push(r);
  return r;
}

async function stop(r: Running): Promise<void> {
  await r.stasis.close();
  r.server.closeAllConnections();
  await new Promise<void>((resolve) => r.server.close(() => resolve()));
}

afterEach(async () => {
  for (const ws of sockets.splice(0)) if (ws.readyState !== ws.CLOSED) ws.terminate();
  await Promise.all(running.splice(0).map(stop));
});

// ---- HTTP ----

interface Answer {
  status: number;
  json: Record<string, unknown>;
  headers: Headers;
}

interface Via {
  cookie?: string;
  origin?: string;
}

async function post(r: Running, path: string, body: unknown, via: Via = {}): Promise<Answer> {
  const res = await fetch(`${r.base}${path}`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      ...(via.cookie ? { Cookie: via.cookie } : {}),
      ...(via.origin ? { Origin: via.origin } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) as Record<string, unknown>, headers: res.headers };
}

const resume = (r: Running, sid: string, blob: string, via: Via = {}) => post(r, '/stasis/resume', { sid, blob }, via);

async function health(r: Running, sid?: string, origin?: string): Promise<HealthResponse> {
  const res = await fetch(`${r.base}/stasis/health${sid ? `?sid=${sid}` : ''}`, origin ? { headers: { Origin: origin } } : {});
  expect(res.status).toBe(200);
  return (await res.json()) as HealthResponse;
}

const newCookie = () => `stasis_bid=${newBinding()}`;

/** Compact view of an answer, for one readable assertion. */
const outcome = (a: Answer) => ({ status: a.status, outcome: a.json.outcome });

// ---- live channel ----

type Handshake = { status: 101; setCookie: string[] | undefined } | { status: number };

interface Tab {
  ws: WebSocket;
  /** 101 (with the Set-Cookie headers of the upgrade response) or the HTTP status of a refused upgrade. */
  handshake: Promise<Handshake>;
  hellos: Hello[];
  /** The first hello at index ≥ from (already received or future); rejects when the socket closes first. */
  hello(from?: number): Promise<Hello>;
  closed: Promise<{ code: number; reason: string }>;
}

function connect(r: Running, sid: string, via: Via = {}): Tab {
  const ws = new WebSocket(`ws://${r.host}/stasis/live?sid=${sid}`, {
    headers: via.cookie ? { Cookie: via.cookie } : {},
    ...(via.origin ? { origin: via.origin } : {}),
  });
  sockets.push(ws);
  const handshake = new Promise<Handshake>((resolve) => {
    let setCookie: string[] | undefined;
    ws.on('upgrade', (res) => (setCookie = res.headers['set-cookie']));
    ws.on('open', () => resolve({ status: 101, setCookie }));
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      res.resume();
      ws.terminate();
    });
  });
  const hellos: Hello[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (data) => {
    hellos.push(JSON.parse((data as Buffer).toString()) as Hello);
    for (const w of waiters.splice(0)) w();
  });
  ws.on('error', () => {}); // surfaced through `handshake` and `closed`
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const hello = (from = 0) =>
    new Promise<Hello>((resolve, reject) => {
      const check = () => {
        const found = hellos[from];
        if (found) return resolve(found);
        waiters.push(check);
      };
      void closed.then(() => setTimeout(() => reject(new Error('socket closed before the hello arrived')), 0));
      check();
    });
  return { ws, handshake, hellos, hello, closed };
}

/** The close of a socket that must be refused before any hello (fails at once instead of timing out). */
const refused = (tab: Tab) =>
  Promise.race([
    tab.closed,
    tab.hello().then((h) => {
      throw new Error(`expected the socket to be refused, got ${JSON.stringify(h)}`);
    }),
  ]);

/** Opens a new session over the live channel and bumps its counter `incs` times. */
async function liveSession(r: Running, via: Via = {}, incs = 0, sid = newSid()): Promise<{ sid: string; tab: Tab }> {
  const tab = connect(r, sid, via);
  expect(await tab.hello()).toMatchObject({ gen: 1 });
  for (let i = 1; i <= incs; i++) {
    const mark = tab.hellos.length;
    tab.ws.send(JSON.stringify({ type: 'inc' }));
    expect((await tab.hello(mark)).count).toBe(i);
  }
  return { sid, tab };
}

/** Hibernates `sid` and returns its blob (asserting ok and the expected generation). */
async function hibernate(r: Running, sid: string, gen: number, via: Via = {}): Promise<string> {
  const a = await post(r, '/stasis/hibernate', { sid }, via);
  expect(a.json).toMatchObject({ outcome: 'ok', sid, gen });
  return a.json.blob as string;
}

// ---- tests ----

describe('exactly once under concurrency', () => {
  it('one blob POSTed to resume 50 times at once: one ok, 49 replayed, the app restored once (5 rounds)', async () => {
    // The 49 replays of each round are failures: keep the rate limit out of this test.
    const r = await start({ resumeFailuresPerMinute: 100_000 });
    for (let round = 0; round < 5; round++) {
      const cookie = newCookie();
      const { sid, tab } = await liveSession(r, { cookie }, 2);
      const blob = await hibernate(r, sid, 1, { cookie });
      expect((await tab.closed).code).toBe(CLOSE_CODES.hibernated);
      const before = await health(r, sid);
      expect(before.session).toStrictEqual({ sid, state: 'hibernated', gen: 1 });

      const answers = await Promise.all(Array.from({ length: 50 }, () => resume(r, sid, blob, { cookie })));

      const ok = answers.filter((a) => a.status === 200);
      expect(ok.map((a) => a.json)).toStrictEqual([{ outcome: 'ok', sid, gen: 2 }]);
      const others = answers.filter((a) => a.status !== 200);
      expect(others).toHaveLength(49);
      for (const a of others) expect(outcome(a)).toStrictEqual({ status: 409, outcome: 'replayed' });

      const after = await health(r, sid);
      expect(after.session).toStrictEqual({ sid, state: 'live', gen: 2, channels: 0 });
      expect(after.live).toBe(before.live + 1);
      expect(after.hibernated).toBe(before.hibernated - 1);
      // The app's factory ran once for the new session and exactly once for the restore.
      expect(builds.get(sid)).toStrictEqual([
        { gen: 1, restored: false, count: 0 },
        { gen: 2, restored: true, count: 2 },
      ]);
      const again = connect(r, sid, { cookie });
      expect(await again.hello()).toStrictEqual({ type: 'hello', gen: 2, restored: true, count: 2 });
      again.ws.close();
    }
  });
});

describe('stale generations', () => {
  it('two blobs forked from gen 1: the one resumed first wins, the other is stale and supersedes nothing', async () => {
    const r = await start();
    const cookie = newCookie();
    const { sid, tab } = await liveSession(r, { cookie }, 1);
    const blobA = await hibernate(r, sid, 1, { cookie });
    await tab.closed;
    // The tab reconnects without resuming: a fresh gen-1 session under the same sid.
    const second = connect(r, sid, { cookie });
    expect(await second.hello()).toStrictEqual({ type: 'hello', gen: 1, restored: false, count: 0 });
    const mark = second.hellos.length;
    second.ws.send(JSON.stringify({ type: 'inc' }));
    second.ws.send(JSON.stringify({ type: 'inc' }));
    second.ws.send(JSON.stringify({ type: 'inc' }));
    await second.hello(mark + 2);
    const blobB = await hibernate(r, sid, 1, { cookie });
    expect(blobB).not.toBe(blobA);
    expect(decodeProtectedHeader(blobA)).toMatchObject({ sid, gen: 1 });
    expect(decodeProtectedHeader(blobB)).toMatchObject({ sid, gen: 1 });

    expect((await resume(r, sid, blobB, { cookie })).json).toStrictEqual({ outcome: 'ok', sid, gen: 2 });
    const third = connect(r, sid, { cookie });
    expect(await third.hello()).toStrictEqual({ type: 'hello', gen: 2, restored: true, count: 3 });

    const stale = await resume(r, sid, blobA, { cookie });
    expect(outcome(stale)).toStrictEqual({ status: HTTP_STATUS.stale, outcome: 'stale' });
    expect(stale.status).toBe(409);
    expect(typeof stale.json.message).toBe('string');
    expect(isFinal('stale')).toBe(true);
    // Nothing was replaced: the gen-2 session keeps its channel and its state.
    expect(third.ws.readyState).toBe(WebSocket.OPEN);
    expect((await health(r, sid)).session).toStrictEqual({ sid, state: 'live', gen: 2, channels: 1 });
    expect(builds.get(sid)!.filter((b) => b.restored)).toStrictEqual([{ gen: 2, restored: true, count: 3 }]);
  });

  it('an old gen-1 blob that was never resumed is stale once gen 1 and gen 2 have been resumed', async () => {
    const r = await start();
    const cookie = newCookie();
    const { sid, tab } = await liveSession(r, { cookie });
    const old = await hibernate(r, sid, 1, { cookie }); // never resumed
    await tab.closed;
    const fresh = connect(r, sid, { cookie });
    expect(await fresh.hello()).toMatchObject({ gen: 1, restored: false });
    const gen1 = await hibernate(r, sid, 1, { cookie });
    await fresh.closed;
    expect((await resume(r, sid, gen1, { cookie })).json).toStrictEqual({ outcome: 'ok', sid, gen: 2 });
    const gen2 = await hibernate(r, sid, 2, { cookie });
    expect(decodeProtectedHeader(gen2).gen).toBe(2);
    expect((await resume(r, sid, gen2, { cookie })).json).toStrictEqual({ outcome: 'ok', sid, gen: 3 });

    expect(outcome(await resume(r, sid, old, { cookie }))).toStrictEqual({ status: 409, outcome: 'stale' });
    expect((await health(r, sid)).session).toStrictEqual({ sid, state: 'live', gen: 3, channels: 0 });
    // The resumed blobs stay replayed (the ledger answers before the generation check).
    expect(outcome(await resume(r, sid, gen1, { cookie }))).toStrictEqual({ status: 409, outcome: 'replayed' });
  });
});

describe('resume-failure rate limit', () => {
  /** Four different failures (own codes), made from one real blob of `sid`. */
  function broken(blob: string): { blob: string; sid?: string; expect: FailureCode }[] {
    const p = parts(blob);
    const tamperedCipher = [p[0], p[1], p[2], flipMiddle(p[3]), p[4]].join('.');
    const tamperedTag = [p[0], p[1], p[2], p[3], flipMiddle(p[4])].join('.');
    const foreignKid = [b64url({ ...unb64url(p[0]), kid: 'nobody' }), p[1], p[2], p[3], p[4]].join('.');
    return [
      { blob: tamperedCipher, expect: 'tampered' },
      { blob: 'not.a.stasis.blob.really', expect: 'malformed' },
      { blob, sid: newSid(), expect: 'wrong-binding' },
      { blob: foreignKid, expect: 'unknown-key' },
      { blob: tamperedTag, expect: 'tampered' },
    ];
  }

  it('five failures keep their codes, the sixth is 429 with Retry-After; other browsers are not limited; the window slides (injected clock)', async () => {
    const t0 = Date.parse('2031-03-01T00:00:00.000Z');
    let clock = t0;
    const r = await start({ resumeFailuresPerMinute: 5, now: () => clock });
    const cookie = newCookie();
    const { sid, tab } = await liveSession(r, { cookie }, 1);
    const blob = await hibernate(r, sid, 1, { cookie });
    await tab.closed;

    for (const bad of broken(blob)) {
      const a = await resume(r, bad.sid ?? sid, bad.blob, { cookie });
      expect(outcome(a)).toStrictEqual({ status: HTTP_STATUS[bad.expect], outcome: bad.expect });
      expect(a.headers.get('retry-after')).toBeNull();
    }

    // The sixth, even with the valid blob: refused without looking at it.
    const limited = await resume(r, sid, blob, { cookie });
    expect(limited.status).toBe(429);
    expect(limited.json).toStrictEqual({ outcome: 'rate-limited', message: expect.any(String), retryAfterSeconds: 60 });
    expect(limited.headers.get('retry-after')).toBe('60');
    expect(isFinal('rate-limited')).toBe(false);
    expect(isFinal('unavailable')).toBe(false);
    expect(isFinal('tampered')).toBe(true);

    // Another browser is not limited: its failures keep their codes and its blobs resume.
    const other = newCookie();
    const o = await liveSession(r, { cookie: other });
    const otherBlob = await hibernate(r, o.sid, 1, { cookie: other });
    expect(outcome(await resume(r, o.sid, broken(otherBlob)[0]!.blob, { cookie: other }))).toStrictEqual({ status: 400, outcome: 'tampered' });
    expect((await resume(r, o.sid, otherBlob, { cookie: other })).json).toStrictEqual({ outcome: 'ok', sid: o.sid, gen: 2 });

    // A 429 is not a failure: the wait counts down from the oldest failure, not from the last request.
    clock = t0 + 30_000;
    const later = await resume(r, sid, blob, { cookie });
    expect(outcome(later)).toStrictEqual({ status: 429, outcome: 'rate-limited' });
    expect(later.headers.get('retry-after')).toBe('30');
    expect(later.json.retryAfterSeconds).toBe(30);
    clock = t0 + 59_999;
    const last = await resume(r, sid, blob, { cookie });
    expect(last.headers.get('retry-after')).toBe('1');
    expect(last.json.retryAfterSeconds).toBe(1);

    // The window has passed: the blob (never consumed by the refused attempts) resumes.
    clock = t0 + 60_000;
    expect((await resume(r, sid, blob, { cookie })).json).toStrictEqual({ outcome: 'ok', sid, gen: 2 });
    expect((await health(r, sid)).session).toMatchObject({ state: 'live', gen: 2 });
  });

  it('Retry-After on the real clock is an integer of 1..60 seconds, equal to retryAfterSeconds', async () => {
    const r = await start({ resumeFailuresPerMinute: 2 });
    const cookie = newCookie();
    for (let i = 0; i < 2; i++) expect((await resume(r, newSid(), 'not.a.stasis.blob.really', { cookie })).json.outcome).toBe('malformed');
    const a = await resume(r, newSid(), 'not.a.stasis.blob.really', { cookie });
    expect(a.status).toBe(429);
    const header = a.headers.get('retry-after') ?? '';
    expect(header).toMatch(/^\d+$/);
    const seconds = Number(header);
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(60);
    expect(a.json).toMatchObject({ outcome: 'rate-limited', retryAfterSeconds: seconds });
    expect(a.headers.get('content-type')).toMatch(/^application\/json/);
    expect(a.headers.get('cache-control')).toBe('no-store');
  });

  it('successful resumes do not count', async () => {
    const r = await start({ resumeFailuresPerMinute: 5, now: () => Date.parse('2031-03-01T00:00:00.000Z') });
    const cookie = newCookie();
    const blobs: { sid: string; blob: string }[] = [];
    for (let i = 0; i < 4; i++) {
      const { sid, tab } = await liveSession(r, { cookie });
      blobs.push({ sid, blob: await hibernate(r, sid, 1, { cookie }) });
      await tab.closed;
    }
    const bad = broken(blobs[0]!.blob)[0]!.blob;
    for (let i = 0; i < 4; i++) expect((await resume(r, blobs[0]!.sid, bad, { cookie })).json.outcome).toBe('tampered');
    // Four failures so far; four successes do not push the browser over the limit of five.
    for (const { sid, blob } of blobs) expect((await resume(r, sid, blob, { cookie })).json).toStrictEqual({ outcome: 'ok', sid, gen: 2 });
    expect((await resume(r, blobs[0]!.sid, bad, { cookie })).json.outcome).toBe('tampered'); // the fifth failure
    expect(outcome(await resume(r, blobs[0]!.sid, bad, { cookie }))).toStrictEqual({ status: 429, outcome: 'rate-limited' });
  });

  it('clients without a (valid) cookie share their address limit (5× the browser limit), which also caps invented cookies', async () => {
    const r = await start({ resumeFailuresPerMinute: 5, now: () => Date.parse('2031-03-01T00:00:00.000Z') });
    const cookie = newCookie();
    const { sid, tab } = await liveSession(r, { cookie });
    const blob = await hibernate(r, sid, 1, { cookie });
    await tab.closed;
    // Without a cookie, or with a new invented one each time, the blob cannot match: wrong-binding, 25 times.
    for (let i = 0; i < 25; i++) {
      const invented = i % 2 === 0 ? {} : { cookie: newCookie() };
      expect(outcome(await resume(r, sid, blob, invented))).toStrictEqual({ status: 403, outcome: 'wrong-binding' });
    }
    const limited = await resume(r, sid, blob);
    expect(outcome(limited)).toStrictEqual({ status: 429, outcome: 'rate-limited' });
    expect(Number(limited.headers.get('retry-after'))).toBe(60);
    expect((await resume(r, sid, blob, { cookie: 'stasis_bid=short' })).json.outcome).toBe('rate-limited');
    expect((await resume(r, sid, blob, { cookie: newCookie() })).json.outcome).toBe('rate-limited');
    // The address ceiling holds for everyone behind it, the blob is not used up by refused attempts.
    expect((await resume(r, sid, blob, { cookie })).json.outcome).toBe('rate-limited');
  });

  it('honest outcomes (expired, replayed, schema-reset, stale) do not count towards the limit', async () => {
    const r = await start({ resumeFailuresPerMinute: 2 });
    const cookie = newCookie();
    const { sid, tab } = await liveSession(r, { cookie });
    const blob = await hibernate(r, sid, 1, { cookie });
    await tab.closed;
    expect((await resume(r, sid, blob, { cookie })).json.outcome).toBe('ok');
    for (let i = 0; i < 6; i++) expect((await resume(r, sid, blob, { cookie })).json.outcome).toBe('replayed');
  });

  it('FailureRateLimiter: sliding window per client, with an injected clock', () => {
    let now = 1_000_000;
    const limiter = new FailureRateLimiter(3, 60_000, () => now, 2);
    expect(limiter.retryAfterSeconds('a')).toBe(0);
    limiter.recordFailure('a'); // t = 0
    now += 10_000;
    limiter.recordFailure('a'); // t = 10 s
    expect(limiter.retryAfterSeconds('a')).toBe(0);
    now += 10_000;
    limiter.recordFailure('a'); // t = 20 s
    expect(limiter.retryAfterSeconds('a')).toBe(40); // until the t = 0 failure leaves the window
    expect(limiter.retryAfterSeconds('b')).toBe(0);
    now += 39_001; // t = 59.001 s
    expect(limiter.retryAfterSeconds('a')).toBe(1);
    now += 999; // t = 60 s: the first failure is out
    expect(limiter.retryAfterSeconds('a')).toBe(0);
    limiter.recordFailure('a'); // t = 60 s: failures at 10, 20, 60
    expect(limiter.retryAfterSeconds('a')).toBe(10);
    now += 60_000; // all of them out
    expect(limiter.retryAfterSeconds('a')).toBe(0);
    // Memory is bounded: past maxClients (2) the least recently failed client is forgotten.
    for (const c of ['x', 'y', 'z']) for (let i = 0; i < 3; i++) limiter.recordFailure(c);
    expect(limiter.retryAfterSeconds('x')).toBe(0);
    expect(limiter.retryAfterSeconds('y')).toBe(60);
    expect(limiter.retryAfterSeconds('z')).toBe(60);
  });
});

describe('origin policy', () => {
  const evil = 'http://evil.example';
  const allowed = 'https://app.example';

  it('hibernate and resume: foreign and "null" origins → 403 forbidden-origin; same host, listed or no Origin → allowed', async () => {
    const r = await start({ allowedOrigins: [allowed] });
    const cookie = newCookie();
    const { sid, tab } = await liveSession(r, { cookie });

    for (const origin of [evil, 'null', 'https://app.example:8443', 'http://app.example', 'https://app.example.evil.example', 'garbage']) {
      const a = await post(r, '/stasis/hibernate', { sid }, { cookie, origin });
      expect({ origin, ...outcome(a) }).toStrictEqual({ origin, status: HTTP_STATUS['forbidden-origin'], outcome: 'forbidden-origin' });
      expect(a.status).toBe(403);
      expect(a.headers.get('set-cookie')).toBeNull();
    }
    // Nothing happened to the session.
    expect(tab.ws.readyState).toBe(WebSocket.OPEN);
    expect((await health(r, sid)).session).toStrictEqual({ sid, state: 'live', gen: 1, channels: 1 });

    // Same host → allowed.
    const blob = await hibernate(r, sid, 1, { cookie, origin: `http://${r.host}` });
    await tab.closed;
    for (const origin of [evil, 'null']) {
      expect(outcome(await resume(r, sid, blob, { cookie, origin }))).toStrictEqual({ status: 403, outcome: 'forbidden-origin' });
    }
    // A listed origin → allowed (and the refused attempts did not consume the blob).
    expect((await resume(r, sid, blob, { cookie, origin: allowed })).json).toStrictEqual({ outcome: 'ok', sid, gen: 2 });
    // No Origin at all (a non-browser client) → allowed.
    const blob2 = await hibernate(r, sid, 2, { cookie });
    expect((await resume(r, sid, blob2, { cookie })).json).toStrictEqual({ outcome: 'ok', sid, gen: 3 });
    // A misconfigured origin says nothing about the blob: the client keeps it.
    expect(isFinal('forbidden-origin')).toBe(false);
  });

  it('GET health is not origin-checked', async () => {
    const r = await start({ allowedOrigins: [allowed] });
    for (const origin of [evil, 'null']) expect((await health(r, undefined, origin)).ok).toBe(true);
  });

  it('the live-channel upgrade: foreign or "null" origin → HTTP 403, no session; listed, same host or no Origin → open', async () => {
    const r = await start({ allowedOrigins: [allowed] });
    for (const origin of [evil, 'null']) {
      const sid = newSid();
      const tab = connect(r, sid, { origin });
      expect(await tab.handshake).toStrictEqual({ status: 403 });
      expect(tab.hellos).toHaveLength(0);
      expect((await health(r, sid)).session).toStrictEqual({ sid, state: 'unknown' });
    }
    for (const origin of [allowed, `http://${r.host}`, undefined]) {
      const tab = connect(r, newSid(), origin ? { origin } : {});
      expect(await tab.handshake).toMatchObject({ status: 101 });
      expect(await tab.hello()).toMatchObject({ gen: 1, restored: false });
    }
  });

  it('an allowedOrigins entry with a path, query or credentials is refused with a clear message; others are normalised', async () => {
    for (const bad of ['https://app.example/path', 'app.example', 'ftp://app.example', 'https://a.example?x', 'https://u:p@a.example']) {
      await expect(createStasisServer({ app, keys: newKey('o').spec, logger: silentLogger, allowedOrigins: [bad] })).rejects.toThrow(
        `allowedOrigins: "${bad}" must be scheme://host[:port], no path, query or credentials.`,
      );
    }
    expect(resolveConfig({ app, allowedOrigins: ['https://App.Example/', 'https://a.example:443'] }).allowedOrigins).toStrictEqual([
      'https://app.example',
      'https://a.example',
    ]);
    expect(() => resolveConfig({ app }, { STASIS_ALLOWED_ORIGINS: 'https://a.example, https://b.example/x' })).toThrow(
      /allowedOrigins: "https:\/\/b\.example\/x"/,
    );
    expect(resolveConfig({ app }, { STASIS_ALLOWED_ORIGINS: ' https://a.example , http://b.example:8080,' }).allowedOrigins).toStrictEqual([
      'https://a.example',
      'http://b.example:8080',
    ]);
  });
});

describe('per-browser live-session cap', () => {
  it('maxSessionsPerBrowser 3: a 4th new sid is closed 4005; reconnects still work; hibernating frees a slot; other browsers are unaffected', async () => {
    const r = await start({ maxSessionsPerBrowser: 3 });
    const cookie = newCookie();
    const tabs: { sid: string; tab: Tab }[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await liveSession(r, { cookie });
      // The browser already has its cookie: no new one with the 101.
      expect(await s.tab.handshake).toStrictEqual({ status: 101, setCookie: undefined });
      tabs.push(s);
    }
    const fourthSid = newSid();
    const fourth = connect(r, fourthSid, { cookie });
    expect(await refused(fourth)).toStrictEqual({ code: CLOSE_CODES.tooManySessions, reason: 'stasis:too-many-sessions' });
    expect(fourth.hellos).toHaveLength(0);
    expect((await health(r, fourthSid)).session).toStrictEqual({ sid: fourthSid, state: 'unknown' });

    // A second tab on an existing sid is not a new session.
    const rejoin = connect(r, tabs[0]!.sid, { cookie });
    expect(await rejoin.hello()).toMatchObject({ gen: 1 });
    expect((await health(r, tabs[0]!.sid)).session).toMatchObject({ state: 'live', channels: 2 });

    // Another browser is unaffected.
    const elsewhere = await liveSession(r, { cookie: newCookie() });
    expect((await health(r, elsewhere.sid)).session).toMatchObject({ state: 'live', gen: 1 });

    // One hibernates: a new sid is accepted again, and the one after that is refused again.
    await hibernate(r, tabs[1]!.sid, 1, { cookie });
    expect((await tabs[1]!.tab.closed).code).toBe(CLOSE_CODES.hibernated);
    const fifth = connect(r, fourthSid, { cookie });
    expect(await fifth.hello()).toMatchObject({ gen: 1, restored: false });
    const sixth = connect(r, newSid(), { cookie });
    expect((await refused(sixth)).code).toBe(CLOSE_CODES.tooManySessions);

    // A resume past the cap: 429 rate-limited with when to come back, and the blob is not used up.
    const blob = await hibernate(r, tabs[2]!.sid, 1, { cookie });
    await liveSession(r, { cookie }); // the freed slot is taken again
    const capped = await resume(r, tabs[2]!.sid, blob, { cookie });
    expect(capped.status).toBe(429);
    expect(capped.headers.get('retry-after')).toBe(String(SESSION_CAP_RETRY_SECONDS));
    expect(capped.json).toStrictEqual({ outcome: 'rate-limited', message: expect.any(String), retryAfterSeconds: SESSION_CAP_RETRY_SECONDS });
  });

  it('the first upgrade without a cookie gets the binding cookie in its 101; sessions and blobs are bound to it', async () => {
    const r = await start({ maxSessionsPerBrowser: 3 });
    const first = await liveSession(r);
    const handshake = await first.tab.handshake;
    expect(handshake.status).toBe(101);
    const setCookie = 'setCookie' in handshake ? (handshake.setCookie ?? []) : [];
    expect(setCookie).toHaveLength(1);
    expect(setCookie[0]).toMatch(/^stasis_bid=[A-Za-z0-9_-]{32}; /);
    const attrs = setCookie[0]!.split(';').map((a) => a.trim().toLowerCase());
    expect(attrs).toContain('httponly');
    expect(attrs).toContain('samesite=lax');
    expect(attrs).toContain('path=/');
    expect(attrs).not.toContain('secure'); // plain http
    const cookie = setCookie[0]!.split(';')[0]!;

    // The first session was counted under that cookie: two more fit, a fourth does not.
    await liveSession(r, { cookie });
    await liveSession(r, { cookie });
    expect((await refused(connect(r, newSid(), { cookie }))).code).toBe(CLOSE_CODES.tooManySessions);

    // Hibernate from that browser: no new cookie, and the blob is bound to the one it has.
    const hib = await post(r, '/stasis/hibernate', { sid: first.sid }, { cookie });
    expect(hib.json).toMatchObject({ outcome: 'ok', gen: 1 });
    expect(hib.headers.get('set-cookie')).toBeNull();
    const blob = hib.json.blob as string;
    expect(outcome(await resume(r, first.sid, blob, { cookie: newCookie() }))).toStrictEqual({ status: 403, outcome: 'wrong-binding' });
    expect((await resume(r, first.sid, blob, { cookie })).json).toStrictEqual({ outcome: 'ok', sid: first.sid, gen: 2 });
  });
});

describe('schema tag', () => {
  it('a blob sealed under schema "1" answers 409 schema-reset on a server (same keys) running schema "2"', async () => {
    const keys = newKey('schema-k').spec;
    const one = await start({ keys, schema: '1' });
    const two = await start({ keys, schema: '2' });
    const alsoOne = await start({ keys, schema: '1' });
    expect(one.stasis.config.schema).toBe('1');
    const cookie = newCookie();
    const { sid } = await liveSession(one, { cookie }, 1);
    const blob = await hibernate(one, sid, 1, { cookie });
    const a = await resume(two, sid, blob, { cookie });
    expect(outcome(a)).toStrictEqual({ status: 409, outcome: 'schema-reset' });
    expect(a.json.message).toMatch(/"1".*"2"/);
    // Only the tag differed: another server on schema "1" with the same keys resumes it.
    expect((await resume(alsoOne, sid, blob, { cookie })).json).toStrictEqual({ outcome: 'ok', sid, gen: 2 });
  });

  it('the default schema is "1" for every server (never the app version: a release must not reset every blob); STASIS_SCHEMA, then the option, win', () => {
    expect(resolveConfig({ app }, {}).schema).toBe('1');
    expect(resolveConfig({ app }, { npm_package_version: '3.4.5' }).schema).toBe('1');
    expect(resolveConfig({ app }, { npm_package_version: '3.4.5', STASIS_SCHEMA: '7' }).schema).toBe('7');
    expect(resolveConfig({ app, schema: 'opt' }, { npm_package_version: '3.4.5', STASIS_SCHEMA: '7' }).schema).toBe('opt');
  });

});

describe('key rotation over HTTP', () => {
  it('a k1 blob resumes on "k2,k1"; new blobs there are sealed with k2; a "k2"-only server answers 400 unknown-key', async () => {
    const k1 = newKey('k1');
    const k2 = newKey('k2');
    const old = await start({ keys: k1.spec });
    const rotated = await start({ keys: `${k2.spec},${k1.spec}` });
    const retired = await start({ keys: k2.spec });
    const cookie = newCookie();
    const { sid } = await liveSession(old, { cookie }, 2);
    const blob1 = await hibernate(old, sid, 1, { cookie });
    expect(decodeProtectedHeader(blob1).kid).toBe('k1');

    const unknown = await resume(retired, sid, blob1, { cookie });
    expect(outcome(unknown)).toStrictEqual({ status: 400, outcome: 'unknown-key' });
    expect(unknown.json.message).toContain('"k1"');
    expect(JSON.stringify(unknown.json)).not.toContain(k1.spec.slice(3)); // no secret leaks

    expect((await resume(rotated, sid, blob1, { cookie })).json).toStrictEqual({ outcome: 'ok', sid, gen: 2 });
    const tab = connect(rotated, sid, { cookie });
    expect(await tab.hello()).toStrictEqual({ type: 'hello', gen: 2, restored: true, count: 2 });
    const blob2 = await hibernate(rotated, sid, 2, { cookie });
    expect(decodeProtectedHeader(blob2)).toMatchObject({ kid: 'k2', sid, gen: 2 });
    // Sealed with k2 only: the retired-k1 server opens it, the k1-only server does not.
    expect(outcome(await resume(old, sid, blob2, { cookie }))).toStrictEqual({ status: 400, outcome: 'unknown-key' });
    expect((await resume(retired, sid, blob2, { cookie })).json).toStrictEqual({ outcome: 'ok', sid, gen: 3 });
  });
});

describe('expiry with a controlled clock', () => {
  it('a blob resumes until ttlSeconds have passed, then answers 410 expired', async () => {
    const t0 = Date.parse('2031-01-01T00:00:00.000Z');
    let clock = t0;
    const r = await start({ ttlSeconds: 60, now: () => clock });
    const cookie = newCookie();
    const a = await liveSession(r, { cookie });
    const b = await liveSession(r, { cookie });
    const hibA = await post(r, '/stasis/hibernate', { sid: a.sid }, { cookie });
    expect(hibA.json.exp).toBe(t0 / 1000 + 60);
    expect(decodeProtectedHeader(hibA.json.blob as string).exp).toBe(t0 / 1000 + 60);
    const blobB = await hibernate(r, b.sid, 1, { cookie });
    expect((await health(r)).hibernated).toBe(2);

    clock = t0 + 59_999;
    expect((await resume(r, a.sid, hibA.json.blob as string, { cookie })).json).toStrictEqual({ outcome: 'ok', sid: a.sid, gen: 2 });
    clock = t0 + 61_000;
    const expired = await resume(r, b.sid, blobB, { cookie });
    expect(outcome(expired)).toStrictEqual({ status: HTTP_STATUS.expired, outcome: 'expired' });
    expect(expired.status).toBe(410);
    // The server forgot the expired blob too.
    expect((await health(r, b.sid)).session).toStrictEqual({ sid: b.sid, state: 'unknown' });
    expect((await health(r)).hibernated).toBe(0);
  });
});
