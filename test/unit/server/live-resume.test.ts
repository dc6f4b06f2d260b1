/**
 * Resume on the live channel (docs/protocol.md, "Resume on the live channel (one round trip)"): a socket opened
 * with `resume=1` whose first message is `stasis:resume` is answered `stasis:resumed` before anything else, then
 * attached to the restored session (ok) or closed with 4010 `stasis:<outcome>`. It shares the resume gate of
 * `POST resume`: the same checks, failure limits, bail-out guard and binding.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { Server } from 'node:http';
import { WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { open } from '../../../server-stub/envelope/envelope.js';
import { generateKeySpec, parseKeyRing } from '../../../server-stub/envelope/key-ring.js';
import { createStasisServer, type StasisServer, type StasisServerOptions } from '../../../server-stub/index.js';
import { silentLogger } from '../../../server-stub/logger.js';
import { blobHash } from '../../../server-stub/transport/proof.js';
import { CLOSE_CODES, LIVE_RESUME_ANSWER, LIVE_RESUME_MESSAGE, PROOF_TYPE, isLiveResumeAnswer } from '../../../src/protocol/index.js';
import { flipMiddle, listenOnLoopback, newSid, parts } from './helpers.js';

interface Running {
  stasis: StasisServer;
  server: Server;
  base: string;
  host: string;
  keys: string;
  /** Every message the app's onMessage received, across sessions, in order. */
  seen: unknown[];
}

const running: Running[] = [];
const sockets: WebSocket[] = [];

/** The app: `n` persisted; says hello (gen, n, restored) on connect; `set` changes n; every message is echoed. */
async function start(options: Partial<StasisServerOptions> = {}): Promise<Running> {
  const keys = generateKeySpec('live-resume-1');
  const seen: unknown[] = [];
  const stasis = await createStasisServer({
    keys,
    logger: silentLogger,
    app: (session) => {
      const n = session.persist('n', 0);
      return {
        onConnect: () => session.send({ type: 'hello', gen: session.gen, n: n.get(), restored: session.restored }),
        onMessage: (message: unknown) => {
          seen.push(message);
          const m = message as { type?: string; n?: number };
          if (m.type === 'set' && typeof m.n === 'number') n.set(m.n);
          session.send({ type: 'echo', message });
        },
      };
    },
    ...options,
  });
  const { server, port } = await listenOnLoopback(stasis);
  const r = { stasis, server, base: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, keys, seen };
  running.push(r);
  return r;
}

afterEach(async () => {
  for (const ws of sockets.splice(0)) if (ws.readyState !== ws.CLOSED) ws.terminate();
  for (const r of running.splice(0)) {
    await r.stasis.close();
    r.server.closeAllConnections();
    await new Promise<void>((resolve) => r.server.close(() => resolve()));
  }
});

interface Socket {
  ws: WebSocket;
  messages: Record<string, unknown>[];
  /** The n-th message (0-based), waiting for it. */
  nth(index: number): Promise<Record<string, unknown>>;
  closed: Promise<{ code: number; reason: string }>;
  /** The upgrade answer's Set-Cookie header, '' without one. */
  setCookie(): string;
  opened: Promise<void>;
}

function connect(r: Running, query: string, cookie?: string): Socket {
  const ws = new WebSocket(`ws://${r.host}/stasis/live?${query}`, { maxPayload: 64 * 1024 * 1024, ...(cookie ? { headers: { Cookie: cookie } } : {}) });
  sockets.push(ws);
  let setCookie = '';
  ws.on('upgrade', (response) => (setCookie = String(response.headers['set-cookie'] ?? '')));
  ws.on('error', () => {}); // surfaced through `closed`
  const messages: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (data) => {
    messages.push(JSON.parse((data as Buffer).toString()) as Record<string, unknown>);
    for (const wake of waiters.splice(0)) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const nth = (index: number) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const look = () => (messages.length > index ? resolve(messages[index]!) : waiters.push(look));
      void closed.then(() => setTimeout(() => reject(new Error(`closed with ${messages.length} messages, wanted #${index}`)), 0));
      look();
    });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, messages, nth, closed, setCookie: () => setCookie, opened };
}

/** Opens a resume socket and sends its first message as soon as it is open. */
function resumeSocket(r: Running, sid: string, body: Record<string, unknown>, cookie?: string): Socket {
  const socket = connect(r, `sid=${sid}&resume=1`, cookie);
  void socket.opened.then(() => socket.ws.send(JSON.stringify({ type: LIVE_RESUME_MESSAGE, sid, ...body })), () => {});
  return socket;
}

async function post(r: Running, path: string, body: unknown, cookie?: string) {
  const res = await fetch(`${r.base}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(cookie ? { Cookie: cookie } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

/** A session opened on a plain socket, its n set, hibernated: the blob and the browser's cookie. */
async function blobOf(r: Running, n = 7, proof?: (sid: string) => string): Promise<{ sid: string; cookie: string; blob: string }> {
  const sid = newSid();
  const socket = connect(r, `sid=${sid}`);
  await socket.nth(0);
  const cookie = socket.setCookie().split(';')[0]!;
  expect(cookie).toMatch(/^stasis_bid=/);
  socket.ws.send(JSON.stringify({ type: 'set', n }));
  await socket.nth(1);
  const hib = await post(r, '/stasis/hibernate', { sid, ...(proof ? { proof: proof(sid) } : {}) }, cookie);
  expect(hib.json.outcome).toBe('ok');
  await socket.closed;
  return { sid, cookie, blob: hib.json.blob as string };
}

// ---- key-binding proofs, made as the custodian makes them ----

interface Signer {
  jwk: { kty: 'EC'; crv: 'P-256'; x: string; y: string };
  privateKey: KeyObject;
}

function newSigner(): Signer {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { x, y } = publicKey.export({ format: 'jwk' });
  return { jwk: { kty: 'EC', crv: 'P-256', x: x!, y: y! }, privateKey };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function makeProof(signer: Signer, htm: 'GET' | 'POST', htu: string, blob?: string): string {
  const claims = { htm, htu, iat: Math.floor(Date.now() / 1000), jti: `jti-${newSid()}`, ...(blob === undefined ? {} : { bh: blobHash(blob) }) };
  const input = `${b64({ typ: PROOF_TYPE, alg: 'ES256', jwk: signer.jwk })}.${b64(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: signer.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

// ---- tests ----

describe('resume on the live channel', () => {
  it('ok: the stasis:resumed answer comes first, then the restored session talks on this socket; messages sent before the answer reach the app after attach, in order', async () => {
    const r = await start();
    const { sid, cookie, blob } = await blobOf(r, 7);
    const socket = connect(r, `sid=${sid}&resume=1`, cookie);
    await socket.opened;
    socket.ws.send(JSON.stringify({ type: LIVE_RESUME_MESSAGE, sid, blob }));
    socket.ws.send(JSON.stringify({ type: 'early', i: 1 }));
    socket.ws.send(JSON.stringify({ type: 'early', i: 2 }));
    const answer = await socket.nth(0);
    expect(isLiveResumeAnswer(answer)).toBe(true);
    expect(answer).toStrictEqual({ type: LIVE_RESUME_ANSWER, outcome: 'ok', sid, gen: 2 });
    // The session restored by this resume is the one attached: gen 2, n as hibernated, restored.
    expect(await socket.nth(1)).toStrictEqual({ type: 'hello', gen: 2, n: 7, restored: true });
    expect(await socket.nth(2)).toStrictEqual({ type: 'echo', message: { type: 'early', i: 1 } });
    expect(await socket.nth(3)).toStrictEqual({ type: 'echo', message: { type: 'early', i: 2 } });
    expect(r.seen.slice(-2)).toStrictEqual([{ type: 'early', i: 1 }, { type: 'early', i: 2 }]);
    expect(r.stasis.sessions.report(sid)).toMatchObject({ state: 'live', gen: 2, channels: 1 });
    // The resume message itself never reaches the app.
    expect(r.seen.some((m) => (m as { type?: unknown }).type === LIVE_RESUME_MESSAGE)).toBe(false);
  });

  it('with checkpoints on, the ok answer carries a checkpoint blob of the restored generation', async () => {
    const r = await start({ checkpointSeconds: 60 });
    const { sid, cookie, blob } = await blobOf(r, 3);
    const socket = resumeSocket(r, sid, { blob }, cookie);
    const answer = await socket.nth(0);
    expect(answer).toMatchObject({ type: LIVE_RESUME_ANSWER, outcome: 'ok', sid, gen: 2, checkpoint: expect.any(String) });
    const sealed = await open(answer.checkpoint as string, await parseKeyRing(r.keys));
    expect(sealed.gen).toBe(2);
    expect(sealed.sid).toBe(sid);
    expect(await socket.nth(1)).toMatchObject({ type: 'hello', gen: 2, n: 3 });
  });

  it('a replayed, tampered or expired blob is answered with its outcome and closed 4010 stasis:<outcome>', async () => {
    let clock = Date.now();
    const r = await start({ now: () => clock, ttlSeconds: 60 });
    const { sid, cookie, blob } = await blobOf(r);
    expect((await post(r, '/stasis/resume', { sid, blob }, cookie)).json.outcome).toBe('ok');
    const replayed = resumeSocket(r, sid, { blob }, cookie);
    expect(await replayed.nth(0)).toMatchObject({ type: LIVE_RESUME_ANSWER, outcome: 'replayed', message: expect.any(String) });
    expect(await replayed.closed).toStrictEqual({ code: CLOSE_CODES.resumeRefused, reason: 'stasis:replayed' });
    expect(replayed.messages).toHaveLength(1); // no app message after a refusal

    const second = await blobOf(r);
    const p = parts(second.blob);
    const tampered = resumeSocket(r, second.sid, { blob: [p[0], p[1], p[2], flipMiddle(p[3]), p[4]].join('.') }, second.cookie);
    expect(await tampered.nth(0)).toMatchObject({ type: LIVE_RESUME_ANSWER, outcome: 'tampered' });
    expect(await tampered.closed).toStrictEqual({ code: CLOSE_CODES.resumeRefused, reason: 'stasis:tampered' });

    clock += 120_000;
    const expired = resumeSocket(r, second.sid, { blob: second.blob }, second.cookie);
    expect(await expired.nth(0)).toMatchObject({ type: LIVE_RESUME_ANSWER, outcome: 'expired' });
    expect(await expired.closed).toStrictEqual({ code: CLOSE_CODES.resumeRefused, reason: 'stasis:expired' });
  });

  it('a first message that is not a stasis:resume for the query sid (another type, another sid, not JSON, a non-string blob) is answered malformed and closed 4010', async () => {
    const r = await start();
    const sid = newSid();
    const firsts = [
      JSON.stringify({ type: 'hello', sid, blob: 'x' }),
      JSON.stringify({ type: LIVE_RESUME_MESSAGE, sid: newSid(), blob: 'x' }),
      'not JSON {',
      JSON.stringify({ type: LIVE_RESUME_MESSAGE, sid, blob: 42 }),
    ];
    for (const first of firsts) {
      const socket = connect(r, `sid=${sid}&resume=1`);
      await socket.opened;
      socket.ws.send(first);
      expect(await socket.nth(0)).toMatchObject({ type: LIVE_RESUME_ANSWER, outcome: 'malformed' });
      expect(await socket.closed).toStrictEqual({ code: CLOSE_CODES.resumeRefused, reason: 'stasis:malformed' });
    }
    // An invalid sid, even when the message repeats it.
    const bad = connect(r, 'sid=bad&resume=1');
    await bad.opened;
    bad.ws.send(JSON.stringify({ type: LIVE_RESUME_MESSAGE, sid: 'bad', blob: 'x' }));
    expect(await bad.nth(0)).toMatchObject({ outcome: 'malformed' });
    expect((await bad.closed).code).toBe(CLOSE_CODES.resumeRefused);
    expect(r.seen).toHaveLength(0);
  });

  it('no first message within bodyTimeoutMs: malformed and 4010', async () => {
    const r = await start({ bodyTimeoutMs: 200 });
    const socket = connect(r, `sid=${newSid()}&resume=1`);
    await socket.opened;
    const started = Date.now();
    expect(await socket.nth(0)).toMatchObject({ type: LIVE_RESUME_ANSWER, outcome: 'malformed', message: expect.stringContaining('200 ms') });
    expect(await socket.closed).toStrictEqual({ code: CLOSE_CODES.resumeRefused, reason: 'stasis:malformed' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  it('while the server drains, the resume answers unavailable (the blob is kept) and closes 4010', async () => {
    const r = await start();
    const { sid, cookie, blob } = await blobOf(r);
    await r.stasis.drain(100);
    const socket = resumeSocket(r, sid, { blob }, cookie);
    expect(await socket.nth(0)).toMatchObject({ type: LIVE_RESUME_ANSWER, outcome: 'unavailable' });
    expect(await socket.closed).toStrictEqual({ code: CLOSE_CODES.resumeRefused, reason: 'stasis:unavailable' });
  });

  it('a first message larger than 256 KiB is accepted; a later message over 256 KiB closes the socket with 1009', async () => {
    const r = await start();
    const { sid, cookie, blob } = await blobOf(r, 5);
    const pad = 'p'.repeat(400 * 1024); // a resume body may be as large as maxBodyBytes; extra fields are ignored
    const socket = resumeSocket(r, sid, { blob, pad }, cookie);
    expect(await socket.nth(0)).toMatchObject({ outcome: 'ok', gen: 2 });
    expect(await socket.nth(1)).toMatchObject({ type: 'hello', n: 5 });
    const fits = 'f'.repeat(200 * 1024);
    socket.ws.send(JSON.stringify({ type: 'big', fits }));
    expect(await socket.nth(2)).toStrictEqual({ type: 'echo', message: { type: 'big', fits } });
    socket.ws.send(JSON.stringify({ type: 'big', pad: 'x'.repeat(257 * 1024) }));
    expect((await socket.closed).code).toBe(1009);
    expect(r.seen.filter((m) => (m as { pad?: unknown }).pad !== undefined)).toHaveLength(0);
  });

  it('a socket without resume=1 is unchanged: the app talks first, a stasis:resume message goes to the app, 256 KiB + 1 closes 1009', async () => {
    const r = await start();
    const sid = newSid();
    const socket = connect(r, `sid=${sid}`);
    expect(await socket.nth(0)).toStrictEqual({ type: 'hello', gen: 1, n: 0, restored: false });
    socket.ws.send(JSON.stringify({ type: LIVE_RESUME_MESSAGE, sid, blob: 'x' }));
    expect(await socket.nth(1)).toStrictEqual({ type: 'echo', message: { type: LIVE_RESUME_MESSAGE, sid, blob: 'x' } });
    socket.ws.send(JSON.stringify({ type: 'big', pad: 'x'.repeat(256 * 1024) }));
    expect((await socket.closed).code).toBe(1009);
  });
});

describe('one failure limit for both resume routes', () => {
  it('failures over HTTP count on the live channel, and failures on the live channel count over HTTP', async () => {
    const r = await start({ resumeFailuresPerMinute: 2 });
    const { sid, cookie, blob } = await blobOf(r);
    const p = parts(blob);
    const forged = [p[0], p[1], p[2], flipMiddle(p[3]), p[4]].join('.');
    for (let i = 0; i < 2; i++) expect((await post(r, '/stasis/resume', { sid, blob: forged }, cookie)).json.outcome).toBe('tampered');
    const limited = resumeSocket(r, sid, { blob }, cookie);
    const answer = await limited.nth(0);
    expect(answer).toMatchObject({ type: LIVE_RESUME_ANSWER, outcome: 'rate-limited', retryAfterSeconds: expect.any(Number) });
    expect(answer.retryAfterSeconds as number).toBeGreaterThan(0);
    expect(await limited.closed).toStrictEqual({ code: CLOSE_CODES.resumeRefused, reason: 'stasis:rate-limited' });

    // Another browser: its failures on the live channel limit its POST resume.
    const other = await blobOf(r);
    const q = parts(other.blob);
    const otherForged = [q[0], q[1], q[2], flipMiddle(q[3]), q[4]].join('.');
    for (let i = 0; i < 2; i++) {
      const socket = resumeSocket(r, other.sid, { blob: otherForged }, other.cookie);
      expect(await socket.nth(0)).toMatchObject({ outcome: 'tampered' });
      await socket.closed;
    }
    const http = await post(r, '/stasis/resume', { sid: other.sid, blob: other.blob }, other.cookie);
    expect(http.status).toBe(429);
    expect(http.json).toMatchObject({ outcome: 'rate-limited', retryAfterSeconds: Number(http.headers.get('retry-after')) });
    // The limits refused before the ledger: once the window passed, the blob would still resume (nothing used up).
    expect(r.stasis.sessions.report(other.sid).state).not.toBe('live');
  });
});

describe('one bail-out guard for both resume routes', () => {
  it('failures over HTTP start a storm that makes the live channel\'s failures quiet', async () => {
    const r = await start({ bailoutMinResumes: 4, bailoutFraction: 0.5, resumeFailuresPerMinute: 1000 });
    const { sid, cookie, blob } = await blobOf(r);
    const p = parts(blob);
    const forged = [p[0], p[1], p[2], flipMiddle(p[3]), p[4]].join('.');
    const http = [];
    for (let i = 0; i < 4; i++) http.push((await post(r, '/stasis/resume', { sid, blob: forged }, cookie)).json);
    expect(http[0]).toStrictEqual({ outcome: 'tampered', message: expect.any(String) }); // not a storm yet
    expect(http[3]).toMatchObject({ outcome: 'tampered', quiet: true });
    const socket = resumeSocket(r, sid, { blob: forged }, cookie);
    expect(await socket.nth(0)).toMatchObject({ type: LIVE_RESUME_ANSWER, outcome: 'tampered', quiet: true });
    expect(await socket.closed).toStrictEqual({ code: CLOSE_CODES.resumeRefused, reason: 'stasis:tampered' });
  });
});

describe('key-bound blobs on the live channel', () => {
  async function keyBound(r: Running, signer: Signer) {
    return blobOf(r, 9, () => makeProof(signer, 'POST', '/stasis/hibernate'));
  }

  it('resume with a proof for GET /stasis/live: ok; without a proof, or with a POST proof (either path): wrong-binding and 4010, nothing used up', async () => {
    const r = await start();
    const signer = newSigner();
    const { sid, cookie, blob } = await keyBound(r, signer);
    const refusals = [undefined, makeProof(signer, 'POST', '/stasis/live', blob), makeProof(signer, 'POST', '/stasis/resume', blob), makeProof(signer, 'GET', '/stasis/resume', blob)];
    for (const proof of refusals) {
      const socket = resumeSocket(r, sid, { blob, ...(proof ? { proof } : {}) }, cookie);
      expect(await socket.nth(0)).toMatchObject({ type: LIVE_RESUME_ANSWER, outcome: 'wrong-binding' });
      expect(await socket.closed).toStrictEqual({ code: CLOSE_CODES.resumeRefused, reason: 'stasis:wrong-binding' });
    }
    const socket = resumeSocket(r, sid, { blob, proof: makeProof(signer, 'GET', '/stasis/live', blob) }, cookie);
    expect(await socket.nth(0)).toStrictEqual({ type: LIVE_RESUME_ANSWER, outcome: 'ok', sid, gen: 2 });
    expect(await socket.nth(1)).toMatchObject({ type: 'hello', gen: 2, n: 9 });
  });

  it('a cookieless key-bound resume gets its binding cookie on the 101, and the session is bound to it', async () => {
    const r = await start();
    const signer = newSigner();
    const { sid, blob } = await keyBound(r, signer);
    const socket = resumeSocket(r, sid, { blob, proof: makeProof(signer, 'GET', '/stasis/live', blob) });
    expect(await socket.nth(0)).toStrictEqual({ type: LIVE_RESUME_ANSWER, outcome: 'ok', sid, gen: 2 });
    expect(await socket.nth(1)).toMatchObject({ type: 'hello', gen: 2, n: 9 });
    const issued = socket.setCookie();
    expect(issued).toMatch(/^stasis_bid=[A-Za-z0-9_-]{32}; /);
    const cookie = issued.split(';')[0]!;
    // Another browser's cookie cannot take the session; the issued one can hibernate it, still bound to the key.
    expect((await post(r, '/stasis/hibernate', { sid }, 'stasis_bid=' + 'z'.repeat(32))).json.outcome).toBe('wrong-binding');
    const hib = await post(r, '/stasis/hibernate', { sid }, cookie);
    expect(hib.json.outcome).toBe('ok');
    const sealed = await open(hib.json.blob as string, await parseKeyRing(r.keys));
    expect(typeof sealed.kbt).toBe('string');
  });
});
