/**
 * Fuzz test against a real running server (node:http on 127.0.0.1, createStasisServer + handle + attach,
 * the demo app). Real blobs come from hibernating real sessions (live WebSocket + POST hibernate with a
 * cookie jar); they are then mutated, replayed and presented wrongly, and mixed with random bodies,
 * methods, paths, content types and sizes. Every answer must be a well-formed Stasis answer.
 *
 * Reproducible: every random choice comes from a seeded PRNG (and fast-check samples with a fixed seed).
 * Only what the server generates itself (sids of real sessions' blobs, jti, IVs) differs between runs.
 */
import { Agent, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import app from '../../../demo/app.js';
import { generateKeySpec } from '../../../server-stub/envelope/key-ring.js';
import { createStasisServer, type StasisServer, type StasisServerOptions } from '../../../server-stub/index.js';
import { silentLogger } from '../../../server-stub/logger.js';
import {
  HTTP_STATUS,
  OUTCOMES,
  PROTOCOL_VERSION,
  isSid,
  type HealthResponse,
  type Outcome,
} from '../../../src/protocol/index.js';
import { b64url, parts, unb64url, listenOnLoopback } from './helpers.js';

const SEED = 20261122;
const MAX_BLOB = 64 * 1024;
const MAX_BODY = MAX_BLOB + 1024;
const SCHEMA = 'fuzz-1';
const FUZZ_REQUESTS = 11_000;
const IN_FLIGHT = 32;

// ---- seeded PRNG ----

class Rng {
  #a: number;
  constructor(seed: number) {
    this.#a = seed >>> 0;
  }
  /** mulberry32: uniform in [0, 1). */
  next(): number {
    this.#a = (this.#a + 0x6d2b79f5) >>> 0;
    let t = this.#a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  b64url(chars: number): string {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    let s = '';
    for (let i = 0; i < chars; i++) s += alphabet[this.int(64)];
    return s;
  }
  sid(): string {
    return this.b64url(this.range(22, 64));
  }
  /** A cookie value of the shape the server issues (never one it issued). */
  cookie(): string {
    return this.b64url(32);
  }
}

// ---- a real server ----

interface Running {
  stasis: StasisServer;
  server: Server;
  port: number;
  host: string;
  agent: Agent;
}

async function start(options: Partial<StasisServerOptions>): Promise<Running> {
  const stasis = await createStasisServer({ app, keys: generateKeySpec('fuzz-main'), logger: silentLogger, ...options });
  const { server, port } = await listenOnLoopback(stasis);
  return { stasis, server, port, host: `127.0.0.1:${port}`, agent: new Agent({ keepAlive: true, maxSockets: IN_FLIGHT }) };
}

async function stop(r: Running | undefined): Promise<void> {
  if (!r) return;
  r.agent.destroy();
  await r.stasis.close();
  r.server.closeAllConnections();
  await new Promise<void>((resolve) => r.server.close(() => resolve()));
}

// ---- a small HTTP client with full control over method, headers and body ----

interface Req {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Send the body with Transfer-Encoding: chunked, on its own connection. */
  chunked?: boolean;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

function send(r: Running, q: Req): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    const body = q.body === undefined ? undefined : Buffer.isBuffer(q.body) ? q.body : Buffer.from(q.body, 'utf8');
    const headers: Record<string, string | number> = { ...q.headers };
    if (body && !q.chunked) headers['Content-Length'] = body.length;
    let answered = false;
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer within 10 s: ${q.method} ${q.path}`));
    }, 10_000);
    const req = request(
      // A chunked body over the limit leaves its connection unusable (see the known-bug test below), so it
      // gets a connection of its own instead of one from the shared keep-alive pool.
      { host: '127.0.0.1', port: r.port, method: q.method, path: q.path, headers, agent: q.chunked ? false : r.agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          answered = true;
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
      },
    );
    req.on('error', (e) => {
      if (answered) return; // the server may close a connection whose body it refused
      clearTimeout(timer);
      reject(new Error(`${q.method} ${q.path}: ${e.message}`));
    });
    if (!body) return void req.end();
    if (!q.chunked) return void req.end(body);
    let sent = 0;
    const pump = () => {
      if (req.destroyed || answered) return;
      if (sent >= body.length) return void req.end();
      const piece = body.subarray(sent, sent + 8192);
      sent += piece.length;
      if (req.write(piece)) setImmediate(pump);
      else req.once('drain', pump);
    };
    pump();
  });
}

const postJson = (r: Running, route: string, value: unknown, cookie?: string) =>
  send(r, {
    method: 'POST',
    path: `/stasis/${route}`,
    headers: { 'Content-Type': 'application/json', ...(cookie ? { Cookie: cookie } : {}) },
    body: JSON.stringify(value),
  });

async function health(r: Running, sid?: string): Promise<HealthResponse> {
  const reply = await send(r, { method: 'GET', path: `/stasis/health${sid ? `?sid=${sid}` : ''}` });
  expect(reply.status).toBe(200);
  return JSON.parse(reply.text) as HealthResponse;
}

// ---- real sessions and their blobs ----

type BlobKind = 'main' | 'stale' | 'schema' | 'audience' | 'expired' | 'foreign-key';

interface PoolBlob {
  kind: BlobKind;
  sid: string;
  /** The `Cookie` header of the browser (jar) the blob is bound to. */
  cookie: string;
  blob: string;
  gen: number;
  state: 'fresh' | 'pending' | 'consumed';
}

/** Opens a live channel; resolves once the first view arrived, with the jar's cookie. */
async function openLive(r: Running, sid: string, cookie?: string): Promise<{ ws: WebSocket; cookie: string }> {
  const ws = new WebSocket(`ws://${r.host}/stasis/live?sid=${sid}`, cookie ? { headers: { Cookie: cookie } } : {});
  let issued: string | undefined;
  ws.on('upgrade', (res) => {
    const set = res.headers['set-cookie']?.[0];
    if (set) issued = set.split(';')[0];
  });
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no first view')), 5000);
    ws.once('message', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.once('close', (code) => reject(new Error(`live channel closed with ${code}`)));
  });
  const jar = cookie ?? issued;
  if (!jar) throw new Error('the live channel set no binding cookie');
  return { ws, cookie: jar };
}

/** A session with some state (cart, unicode details), hibernated with the jar's cookie. */
async function hibernateSession(r: Running, rng: Rng, sid: string, cookie?: string): Promise<{ blob: string; gen: number; cookie: string }> {
  const live = await openLive(r, sid, cookie);
  const fields = ['name', 'email', 'address', 'city', 'note'] as const;
  for (let i = rng.range(0, 3); i > 0; i--) {
    live.ws.send(JSON.stringify({ type: 'add', id: rng.pick(['notebook', 'pen', 'tape', 'stamp']), delta: rng.range(1, 5) }));
  }
  const marker = `fuzz ✓ ${rng.b64url(8)} 🧪 \u2028 "$t"`;
  const echoed = new Promise<void>((resolve) =>
    live.ws.on('message', (data) => {
      const view = (JSON.parse((data as Buffer).toString()) as { view?: { details?: Record<string, string> } }).view;
      if (view?.details && Object.values(view.details).includes(marker)) resolve();
    }),
  );
  live.ws.send(JSON.stringify({ type: 'field', name: rng.pick(fields), value: marker }));
  await echoed;
  const closed = new Promise<void>((resolve) => live.ws.once('close', () => resolve()));
  const reply = await postJson(r, 'hibernate', { sid }, live.cookie);
  const json = JSON.parse(reply.text) as { outcome: string; blob: string; gen: number };
  if (json.outcome !== 'ok') throw new Error(`setup hibernate failed: ${reply.text}`);
  await closed;
  return { blob: json.blob, gen: json.gen, cookie: live.cookie };
}

// ---- expectations ----

type Expectation =
  /** POST hibernate/resume: a Stasis answer; `outcomes` when the exact code is known. */
  | { kind: 'endpoint'; outcomes?: readonly Outcome[] }
  /** Another method on a known route: 400 malformed with its Allow (POST for hibernate and resume). */
  | { kind: 'method'; allow?: string }
  /** The live path without a WebSocket upgrade: 426 malformed with Upgrade: websocket. */
  | { kind: 'live-plain' }
  /** An unknown path under /stasis: 404 malformed. */
  | { kind: 'unknown' }
  | { kind: 'health' };

interface Case {
  label: string;
  req: Req;
  expect: Expectation;
  /** Runs after a valid answer (pool bookkeeping and extra checks); returns a problem or undefined. */
  after?: (reply: Reply, json: Record<string, unknown>) => string | undefined;
}

/** Signs of a stack trace or a source location in a body (JSON-escaped newlines included). */
const hasStack = (text: string) =>
  text.includes('    at ') || text.includes('.ts:') || /\\n\s*at |\.m?js:\d|node_modules|file:\/\//.test(text);

/** Checks one answer; returns the outcome (or a pseudo-outcome) for the histogram, or throws a problem. */
function judge(c: Case, reply: Reply): string {
  const problem = (what: string) => new Error(`${c.label} ${c.req.method} ${c.req.path}: ${what} (status ${reply.status}, body ${reply.text.slice(0, 200)})`);
  if (hasStack(reply.text)) throw problem('stack trace in the body');
  if (c.req.method === 'HEAD') {
    const status = c.expect.kind === 'health' ? 200 : c.expect.kind === 'unknown' ? 404 : c.expect.kind === 'live-plain' ? 426 : HTTP_STATUS.malformed;
    if (reply.status !== status || reply.text !== '') throw problem(`HEAD answer should be ${status} with no body`);
    return c.expect.kind === 'health' ? 'health' : 'malformed';
  }
  if (!String(reply.headers['content-type']).startsWith('application/json')) throw problem('not JSON');
  if (reply.headers['cache-control'] !== 'no-store') throw problem('no Cache-Control: no-store');
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(reply.text) as Record<string, unknown>;
  } catch {
    throw problem('body does not parse as JSON');
  }
  if (c.expect.kind === 'health') {
    if (reply.status !== 200 || json.ok !== true || json.version !== PROTOCOL_VERSION || typeof json.live !== 'number') {
      throw problem('bad health answer');
    }
    return 'health';
  }
  if (typeof json.outcome !== 'string' || !(OUTCOMES as readonly string[]).includes(json.outcome)) {
    throw problem(`outcome ${JSON.stringify(json.outcome)} is not in OUTCOMES`);
  }
  const outcome = json.outcome as Outcome;
  if (c.expect.kind === 'unknown') {
    if (reply.status !== 404 || outcome !== 'malformed') throw problem('an unknown path should answer 404 malformed');
  } else if (c.expect.kind === 'live-plain') {
    if (reply.status !== 426 || outcome !== 'malformed' || reply.headers.upgrade !== 'websocket') throw problem('the live path without an upgrade should answer 426 malformed with Upgrade: websocket');
  } else {
    if (reply.status !== HTTP_STATUS[outcome]) throw problem(`status should be HTTP_STATUS[${outcome}] = ${HTTP_STATUS[outcome]}`);
    if (c.expect.kind === 'method') {
      const allow = c.expect.allow ?? 'POST';
      if (outcome !== 'malformed' || reply.headers.allow !== allow) throw problem(`another method should answer malformed with Allow: ${allow}`);
    } else {
      // A 503 here would mean the server failed internally on some input.
      if (outcome === 'unavailable') throw problem('unavailable: the server threw on this input');
      if (c.expect.outcomes && !c.expect.outcomes.includes(outcome)) throw problem(`expected one of ${c.expect.outcomes.join('|')}`);
    }
  }
  if (outcome !== 'ok' && typeof json.message !== 'string') throw problem('a failure without a message');
  if (outcome === 'rate-limited') {
    const wait = json.retryAfterSeconds;
    if (!Number.isInteger(wait) || (wait as number) < 1 || (wait as number) > 60 || reply.headers['retry-after'] !== String(wait)) {
      throw problem('a 429 needs retryAfterSeconds in 1..60 equal to its Retry-After header');
    }
  }
  const extra = c.after?.(reply, json);
  if (extra) throw problem(extra);
  return outcome;
}

/** What the server must answer for an arbitrary POST body, when that follows from the body alone. */
function oracle(route: 'hibernate' | 'resume', body: Buffer, knownSids: ReadonlySet<string>): readonly Outcome[] | undefined {
  if (body.length > MAX_BODY) return ['too-large'];
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    return ['malformed'];
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return ['malformed'];
  const { sid, blob } = v as { sid?: unknown; blob?: unknown };
  if (!isSid(sid)) return ['malformed'];
  if (route === 'hibernate') return knownSids.has(sid) ? undefined : ['no-session'];
  if (typeof blob !== 'string') return ['malformed'];
  if (blob.length > MAX_BLOB) return ['too-large'];
  if (blob.split('.').length !== 5) return ['malformed'];
  return ['malformed', 'tampered', 'unknown-key', 'wrong-binding', 'replayed', 'stale', 'expired', 'schema-reset', 'ok'];
}

/** Mirrors the routing of http-endpoints.ts for a path and method. */
function expectationFor(method: string, path: string): Expectation | 'outside' {
  const pathname = new URL(path, 'http://localhost').pathname;
  if (pathname !== '/stasis' && !pathname.startsWith('/stasis/')) return 'outside';
  const route = pathname.slice('/stasis'.length);
  if (route === '/health' && (method === 'GET' || method === 'HEAD')) return { kind: 'health' };
  if (route === '/hibernate' || route === '/resume') return method === 'POST' ? { kind: 'endpoint' } : { kind: 'method' };
  if (route === '/health') return { kind: 'method', allow: 'GET, HEAD' };
  if (route === '/metrics') return method === 'GET' ? { kind: 'endpoint' } : { kind: 'method', allow: 'GET' };
  if (route === '/live') return method === 'GET' || method === 'HEAD' ? { kind: 'live-plain' } : { kind: 'method', allow: 'GET' };
  return { kind: 'unknown' };
}

// ---- blob mutations ----

function flipBit(part: string, rng: Rng): string {
  const bytes = Buffer.from(part, 'base64url');
  if (bytes.length === 0) return rng.b64url(rng.range(1, 40));
  const i = rng.int(bytes.length);
  bytes[i] = bytes[i]! ^ (1 << rng.int(8));
  return bytes.toString('base64url');
}

const withPart = (blob: string, index: number, value: string) => {
  const p: string[] = parts(blob);
  p[index] = value;
  return p.join('.');
};

/** Header replacements with the answer each must get. */
function headerVariant(blob: string, rng: Rng): { blob: string; outcomes: readonly Outcome[]; what: string } {
  const header = unb64url(parts(blob)[0]);
  const variants: [string, unknown, readonly Outcome[]][] = [
    ['alg none', { ...header, alg: 'none' }, ['malformed']],
    ['alg RSA-OAEP', { ...header, alg: 'RSA-OAEP' }, ['malformed']],
    ['enc A128GCM', { ...header, enc: 'A128GCM' }, ['malformed']],
    ['unknown kid', { ...header, kid: `nope-${rng.b64url(6)}` }, ['unknown-key']],
    ['numeric kid', { ...header, kid: 7 }, ['malformed']],
    ['unsafe gen', { ...header, gen: rng.pick([2 ** 53 + 10, 1e308, 1.5]) }, ['malformed']], // header copies are checked for shape
    ['largest gen', { ...header, gen: Number.MAX_SAFE_INTEGER }, ['tampered']], // well-formed, but not the sealed one
    ['other sid', { ...header, sid: rng.sid() }, ['tampered']],
    ['other exp', { ...header, exp: (header.exp as number) + 1 }, ['tampered']],
    ['extra field', { ...header, x: 1 }, ['tampered']],
    ['missing typ', (({ typ: _t, ...rest }) => rest)(header), ['malformed']],
    ['typ JWT', { ...header, typ: 'JWT' }, ['malformed']],
    ['missing kid', (({ kid: _k, ...rest }) => rest)(header), ['malformed']],
    ['crit', { ...header, crit: ['exp'] }, ['malformed', 'tampered']],
    ['zip', { ...header, zip: 'DEF' }, ['malformed', 'tampered']],
    ['array', [header], ['malformed']],
    ['string', 'stasis+jwe', ['malformed']],
    ['number', 42, ['malformed']],
    ['null', null, ['malformed']],
    ['empty object', {}, ['malformed']],
  ];
  const [what, value, outcomes] = rng.pick(variants);
  return { blob: withPart(blob, 0, b64url(value)), outcomes, what };
}

// ---- the run ----

interface Stats {
  histogram: Map<string, number>;
  failures: string[];
  requests: number;
}

function count(stats: Stats, key: string) {
  stats.histogram.set(key, (stats.histogram.get(key) ?? 0) + 1);
}

/** Runs cases from `next` with at most IN_FLIGHT in flight until `total` were answered. */
async function run(r: Running, total: number, next: (i: number) => Case, stats: Stats, onProgress?: (done: number) => Promise<void>) {
  let issued = 0;
  let done = 0;
  const worker = async () => {
    while (issued < total) {
      const c = next(issued++);
      try {
        count(stats, judge(c, await send(r, c.req)));
      } catch (error) {
        count(stats, 'FAILED');
        if (stats.failures.length < 40) stats.failures.push((error as Error).message);
      }
      stats.requests++;
      done++;
      if (onProgress) await onProgress(done);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

function getGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

describe('fuzzing a real server (demo app)', () => {
  const rng = new Rng(SEED);
  let main: Running;
  const aux: Running[] = [];
  const pool: PoolBlob[] = [];
  const jars: string[] = [];
  /** Sids that may legitimately be live: connected over a live channel or resumed. */
  const mayBeLive = new Set<string>();
  /** Random sids used by the fuzz (never connected): none of them may ever become known to the server. */
  const strangers: string[] = [];
  let hibernateOks = 0;
  const histogram = new Map<string, number>();
  const stats: Stats = { histogram, failures: [], requests: 0 };
  let phase2Requests = 0;
  const processProblems: string[] = [];
  const onRejection = (reason: unknown) => processProblems.push(`unhandledRejection: ${String(reason)}`);
  const onException = (error: Error) => processProblems.push(`uncaughtException: ${error.stack ?? String(error)}`);

  beforeAll(async () => {
    process.on('unhandledRejection', onRejection);
    process.on('uncaughtException', onException);
    const keys = generateKeySpec('fuzz-main');
    main = await start({ keys, schema: SCHEMA, maxBlobBytes: MAX_BLOB, resumeFailuresPerMinute: 1_000_000_000 });
    // Servers that seal blobs the main server must refuse for one precise reason each.
    const auxOptions: [BlobKind, Partial<StasisServerOptions>][] = [
      ['schema', { keys, schema: 'another-schema' }],
      ['audience', { keys, schema: SCHEMA, audience: 'another-app' }],
      ['expired', { keys, schema: SCHEMA, now: () => Date.now() - 30 * 24 * 3600 * 1000 }],
      ['foreign-key', { keys: generateKeySpec('fuzz-other'), schema: SCHEMA }],
    ];
    for (const [kind, options] of auxOptions) {
      const r = await start(options);
      aux.push(r);
      for (let i = 0; i < 3; i++) {
        const sid = rng.sid();
        const sealed = await hibernateSession(r, rng, sid);
        pool.push({ kind, sid, cookie: sealed.cookie, blob: sealed.blob, gen: sealed.gen, state: 'fresh' });
      }
    }
    // Four browsers (cookie jars), twelve sessions each, hibernated. Sequential, so the PRNG's draws
    // happen in the same order on every run.
    for (let jar = 0; jar < 4; jar++) {
      let cookie: string | undefined;
      for (let i = 0; i < 12; i++) {
        const sid = rng.sid();
        mayBeLive.add(sid);
        const sealed = await hibernateSession(main, rng, sid, cookie);
        cookie = sealed.cookie;
        hibernateOks++;
        pool.push({ kind: 'main', sid, cookie, blob: sealed.blob, gen: sealed.gen, state: 'fresh' });
      }
      jars.push(cookie!);
    }
    // Stale blobs: the same sid hibernated twice from fresh sessions; the second blob is resumed, so
    // the first one (same gen) is stale.
    for (let i = 0; i < 6; i++) {
      const sid = rng.sid();
      const cookie = jars[i % jars.length]!;
      mayBeLive.add(sid);
      const older = await hibernateSession(main, rng, sid, cookie);
      const newer = await hibernateSession(main, rng, sid, cookie);
      hibernateOks += 2;
      const resumed = JSON.parse((await postJson(main, 'resume', { sid, blob: newer.blob }, cookie)).text) as { outcome: string };
      expect(resumed.outcome).toBe('ok');
      pool.push({ kind: 'stale', sid, cookie, blob: older.blob, gen: older.gen, state: 'fresh' });
    }
  }, 60_000);

  afterAll(async () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
    await stop(main);
    for (const r of aux) await stop(r);
  });

  it(`answers ${FUZZ_REQUESTS} mutated, replayed and random requests with well-formed Stasis answers`, async () => {
    const started = Date.now();
    const rehibernate: { sid: string; cookie: string; gen: number }[] = [];
    const jsonSamples = fc.sample(fc.jsonValue({ maxDepth: 5 }), { seed: SEED, numRuns: 400 });
    const objectSamples = fc.sample(
      fc.record(
        {
          sid: fc.oneof(fc.string(), fc.constant('x'.repeat(22)), fc.integer(), fc.constant(null)),
          blob: fc.oneof(fc.string(), fc.constant('a.b.c.d.e'), fc.jsonValue({ maxDepth: 2 })),
          gen: fc.jsonValue({ maxDepth: 2 }),
        },
        { requiredKeys: [] },
      ),
      { seed: SEED + 1, numRuns: 400 },
    );
    const mainBlobs = () => pool.filter((b) => b.kind === 'main' || b.kind === 'stale');
    const anyBlob = () => rng.pick(mainBlobs());
    const contentTypes = ['text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'image/png', '', ';;;'];
    const route = () => rng.pick(['hibernate', 'resume'] as const);
    const resumeCase = (label: string, sid: unknown, blob: unknown, cookie: string | undefined, outcomes: readonly Outcome[], after?: Case['after']): Case => ({
      label,
      req: {
        method: 'POST',
        path: '/stasis/resume',
        headers: { 'Content-Type': 'application/json', ...(cookie ? { Cookie: cookie } : {}) },
        body: JSON.stringify({ sid, blob }),
      },
      expect: { kind: 'endpoint', outcomes },
      ...(after ? { after } : {}),
    });
    const bodyCase = (label: string, r: 'hibernate' | 'resume', body: Buffer, extra: Partial<Req> = {}): Case => ({
      label,
      req: { method: 'POST', path: `/stasis/${r}`, headers: { 'Content-Type': 'application/json', ...extra.headers }, body, ...(extra.chunked ? { chunked: true } : {}) },
      expect: { kind: 'endpoint', outcomes: oracle(r, body, mayBeLive) },
    });

    const generators: [number, () => Case][] = [
      [3, () => {
        const fresh = mainBlobs().filter((b) => b.state === 'fresh');
        if (!fresh.length) return generators[1]![1]();
        const b = rng.pick(fresh);
        b.state = 'pending';
        const expected: Outcome = b.kind === 'stale' ? 'stale' : 'ok';
        return resumeCase(`resume-${expected}`, b.sid, b.blob, b.cookie, [expected], (_reply, json) => {
          b.state = 'consumed';
          if (expected === 'ok') {
            mayBeLive.add(b.sid);
            if (json.sid !== b.sid || json.gen !== b.gen + 1) return `resume ok should carry sid and gen ${b.gen + 1}`;
            rehibernate.push({ sid: b.sid, cookie: b.cookie, gen: b.gen + 1 });
          }
          return undefined;
        });
      }],
      [2, () => {
        const consumed = mainBlobs().filter((b) => b.state === 'consumed');
        if (!consumed.length) return resumeCase('replay-too-early', rng.sid(), anyBlob().blob, anyBlob().cookie, ['wrong-binding']);
        const b = rng.pick(consumed);
        // A blob that answered `stale` stays stale; one that restored is replayed.
        return resumeCase('replay', b.sid, b.blob, b.cookie, [b.kind === 'stale' ? 'stale' : 'replayed']);
      }],
      [4, () => {
        const b = anyBlob();
        return resumeCase('flip-header', b.sid, withPart(b.blob, 0, flipBit(parts(b.blob)[0], rng)), b.cookie, ['malformed', 'tampered', 'unknown-key']);
      }],
      [1, () => {
        const b = anyBlob();
        return resumeCase('flip-encrypted-key', b.sid, withPart(b.blob, 1, flipBit(parts(b.blob)[1], rng)), b.cookie, ['malformed']);
      }],
      [2, () => {
        const b = anyBlob();
        return resumeCase('flip-iv', b.sid, withPart(b.blob, 2, flipBit(parts(b.blob)[2], rng)), b.cookie, ['tampered']);
      }],
      [4, () => {
        const b = anyBlob();
        return resumeCase('flip-ciphertext', b.sid, withPart(b.blob, 3, flipBit(parts(b.blob)[3], rng)), b.cookie, ['tampered']);
      }],
      [2, () => {
        const b = anyBlob();
        return resumeCase('flip-tag', b.sid, withPart(b.blob, 4, flipBit(parts(b.blob)[4], rng)), b.cookie, ['tampered']);
      }],
      [3, () => {
        const b = anyBlob();
        const cut = rng.int(b.blob.length);
        const truncated = rng.chance(0.5) ? b.blob.slice(0, cut) : b.blob.slice(cut);
        return resumeCase('truncate', b.sid, truncated, b.cookie, ['malformed', 'tampered']);
      }],
      [2, () => {
        const b = anyBlob();
        const p: string[] = parts(b.blob);
        const mode = rng.int(3);
        if (mode === 0) {
          p.splice(rng.int(6), 0, p[rng.int(5)]!); // six parts
          return resumeCase('duplicate-part', b.sid, p.join('.'), b.cookie, ['malformed']);
        }
        if (mode === 1) return resumeCase('duplicate-blob', b.sid, `${b.blob}.${b.blob}`, b.cookie, ['malformed']);
        const i = rng.int(5);
        let j = rng.int(5);
        if (j === i) j = (j + 1) % 5;
        p[i] = p[j]!; // five parts, one copied over another
        return resumeCase('copy-part', b.sid, p.join('.'), b.cookie, ['malformed', 'tampered', 'unknown-key']);
      }],
      [3, () => {
        const b = anyBlob();
        const garbage = rng.chance(0.7)
          ? Array.from({ length: 5 }, () => rng.b64url(rng.range(0, 60))).join('.')
          : rng.pick(['....', '.', '', '=====.=.=.=.=', '!!!!.@@@.###.$$$.%%%', `${rng.b64url(40)}`, `eyJ.${rng.b64url(5)}...`]);
        return resumeCase('base64url-garbage', b.sid, garbage, b.cookie, ['malformed']);
      }],
      [4, () => {
        const b = anyBlob();
        const v = headerVariant(b.blob, rng);
        return resumeCase(`header-${v.what}`, b.sid, v.blob, b.cookie, v.outcomes);
      }],
      [2, () => {
        const b = anyBlob();
        const sid = rng.sid();
        strangers.push(sid);
        return resumeCase('wrong-sid', sid, b.blob, b.cookie, ['wrong-binding']);
      }],
      [1, () => {
        const b = anyBlob();
        return resumeCase('invalid-sid', rng.pick([`${b.sid}!`, b.sid.slice(0, 10), '', 42, null, [b.sid], `${b.sid}${'A'.repeat(64)}`]), b.blob, b.cookie, ['malformed']);
      }],
      [2, () => {
        const b = anyBlob();
        return resumeCase('no-cookie', b.sid, b.blob, undefined, ['wrong-binding']);
      }],
      [2, () => {
        const b = anyBlob();
        const cookie = rng.pick([
          `stasis_bid=${rng.cookie()}`, // well-formed, never issued
          jars.find((j) => j !== b.cookie)!, // another browser's cookie
          `stasis_bid=${rng.b64url(10)}`, // too short: ignored
          `stasis_bid=${b.cookie.slice('stasis_bid='.length)}!`, // invalid characters: ignored
          `other=${b.cookie.slice('stasis_bid='.length)}`, // the right secret under another name
          'stasis_bid', // no value
        ]);
        return resumeCase('wrong-cookie', b.sid, b.blob, cookie, ['wrong-binding']);
      }],
      [3, () => {
        const b = rng.pick(pool.filter((x) => x.kind !== 'main' && x.kind !== 'stale'));
        const outcome: Outcome = { schema: 'schema-reset', audience: 'wrong-binding', expired: 'expired', 'foreign-key': 'unknown-key' }[
          b.kind as 'schema' | 'audience' | 'expired' | 'foreign-key'
        ] as Outcome;
        return resumeCase(`foreign-${b.kind}`, b.sid, b.blob, b.cookie, [outcome]);
      }],
      [1, () => {
        const b = anyBlob();
        // Under the body limit, over the blob limit.
        return resumeCase('blob-too-long', b.sid, rng.b64url(rng.range(MAX_BLOB + 1, MAX_BODY - 200)), b.cookie, ['too-large']);
      }],
      [2, () => {
        const sid = rng.sid();
        strangers.push(sid);
        return bodyCase('hibernate-unknown-sid', 'hibernate', Buffer.from(JSON.stringify({ sid })), rng.chance(0.5) ? { headers: { Cookie: rng.pick(jars) } } : {});
      }],
      [4, () => bodyCase('random-bytes', route(), rng.bytes(rng.range(0, 3000)))],
      [4, () => bodyCase('random-json', route(), Buffer.from(JSON.stringify(rng.pick(jsonSamples))))],
      [3, () => {
        const o = { ...rng.pick(objectSamples) } as Record<string, unknown>;
        if (rng.chance(0.5)) o.sid = rng.sid();
        if (rng.chance(0.3)) o.blob = anyBlob().blob;
        return bodyCase('random-object', route(), Buffer.from(JSON.stringify(o)));
      }],
      [1, () => {
        const depth = rng.range(100, 10_000);
        const deep = rng.pick([
          '['.repeat(depth) + ']'.repeat(depth),
          '{"a":'.repeat(depth) + '1' + '}'.repeat(depth),
          '[{"a":'.repeat(depth) + '0' + '}]'.repeat(depth),
        ]);
        const body = rng.chance(0.5) ? deep : `{"sid":"${rng.sid()}","blob":${deep}}`;
        return bodyCase('deep-json', route(), Buffer.from(body));
      }],
      [1, () => {
        const b = anyBlob();
        const body = Buffer.from(JSON.stringify({ sid: b.sid, blob: b.blob, pad: rng.b64url(rng.range(MAX_BODY, 3 * MAX_BODY)) }));
        return bodyCase('huge-body', route(), body, { headers: { Cookie: b.cookie } });
      }],
      [0.3, () => bodyCase('huge-chunked-body', route(), Buffer.from(`{"sid":"${rng.sid()}","blob":"${rng.b64url(rng.range(MAX_BODY, 2 * MAX_BODY))}"}`), { chunked: true })],
      [0.3, () => bodyCase('small-chunked-body', route(), Buffer.from(JSON.stringify({ sid: rng.sid(), blob: rng.b64url(rng.range(0, 5000)) })), { chunked: true })],
      [2, () => {
        const b = anyBlob();
        const form = rng.chance(0.5) ? `sid=${b.sid}&blob=${b.blob}` : `--x\r\nContent-Disposition: form-data; name="sid"\r\n\r\n${b.sid}\r\n--x--`;
        const c = bodyCase('form-body', route(), Buffer.from(form), { headers: { Cookie: b.cookie } });
        c.req.headers!['Content-Type'] = rng.pick(contentTypes);
        return c;
      }],
      [3, () => {
        const r = rng.pick(['hibernate', 'resume']);
        const method = rng.pick(['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);
        const body = method !== 'GET' && method !== 'HEAD' && rng.chance(0.5) ? JSON.stringify({ sid: anyBlob().sid, blob: anyBlob().blob }) : undefined;
        return {
          label: 'wrong-method',
          req: { method, path: `/stasis/${r}${rng.chance(0.2) ? `?sid=${rng.sid()}` : ''}`, ...(body ? { body } : {}) },
          expect: { kind: 'method' },
        };
      }],
      [3, () => {
        const segment = rng.pick([
          () => `x-${rng.b64url(rng.range(1, 12))}`,
          () => rng.pick(['HEALTH', 'Resume', 'hibernate/', 'resume/extra', 'health/extra', 'live', 'live/x', '', 'stasis/resume', 'resume%2F', '%00', '%ZZ', '%F0%9F%A7%AA', '..%2Fresume']),
          () => encodeURIComponent(rng.bytes(rng.range(1, 8)).toString('latin1')),
        ])();
        const method = rng.pick(['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS']);
        let path = rng.chance(0.1) ? '/stasis' : `/stasis/${segment}`;
        if (rng.chance(0.2)) path += `?sid=${rng.sid()}&q=%ZZ`;
        let expectation = expectationFor(method, path);
        if (expectation === 'outside' || expectation.kind !== 'unknown') {
          path = `/stasis/x-${rng.b64url(6)}`;
          expectation = { kind: 'unknown' };
        }
        return { label: 'unknown-path', req: { method, path, ...(method === 'POST' ? { body: rng.bytes(rng.range(0, 200)) } : {}) }, expect: expectation };
      }],
      [1, () => {
        const sid = rng.chance(0.5) ? anyBlob().sid : rng.pick([rng.sid(), 'bad sid', '%ZZ', '']);
        return { label: 'health', req: { method: rng.chance(0.9) ? 'GET' : 'HEAD', path: `/stasis/health?sid=${encodeURIComponent(sid)}` }, expect: { kind: 'health' } };
      }],
      [1, () => {
        const b = anyBlob();
        const c = resumeCase('forbidden-origin', b.sid, b.blob, b.cookie, ['forbidden-origin']);
        if (rng.chance(0.5)) {
          c.req.path = '/stasis/hibernate';
          c.req.body = JSON.stringify({ sid: rng.sid() });
        }
        c.req.headers!.Origin = rng.pick(['https://evil.example', 'null', 'http://127.0.0.1', `http://localhost:${main.port}`, 'garbage']);
        return c;
      }],
    ];
    const totalWeight = generators.reduce((s, [w]) => s + w, 0);

    const next = (): Case => {
      const again = rehibernate.shift();
      if (again) {
        return {
          label: 'rehibernate',
          req: { method: 'POST', path: '/stasis/hibernate', headers: { 'Content-Type': 'application/json', Cookie: again.cookie }, body: JSON.stringify({ sid: again.sid }) },
          expect: { kind: 'endpoint', outcomes: ['ok'] },
          after: (_reply, json) => {
            if (json.sid !== again.sid || json.gen !== again.gen || typeof json.blob !== 'string') return `hibernate ok should carry sid, gen ${again.gen} and a blob`;
            hibernateOks++;
            pool.push({ kind: 'main', sid: again.sid, cookie: again.cookie, blob: json.blob, gen: again.gen, state: 'fresh' });
            return undefined;
          },
        };
      }
      let x = rng.next() * totalWeight;
      let c: Case | undefined;
      for (const [w, make] of generators) {
        if ((x -= w) < 0) {
          c = make();
          break;
        }
      }
      c ??= generators[0]![1]();
      // Wrong or missing content types never change the answer: the body decides.
      if (c.req.method === 'POST' && c.req.headers && rng.chance(0.15)) {
        const type = rng.pick(contentTypes);
        if (type) c.req.headers['Content-Type'] = type;
        else delete c.req.headers['Content-Type'];
      }
      // A same-origin Origin header is allowed.
      if (c.req.headers && !c.req.headers.Origin && rng.chance(0.1)) c.req.headers.Origin = `http://${main.host}`;
      return c;
    };

    const gc = getGc();
    const heap = () => {
      gc?.();
      return process.memoryUsage();
    };
    let warm: NodeJS.MemoryUsage | undefined;
    await run(main, FUZZ_REQUESTS, next, stats, async (done) => {
      if (done === 1500) warm = heap();
    });
    const end = heap();
    const seconds = (Date.now() - started) / 1000;

    // ---- phase 2: the default resume-failure limit (20 per minute) answers well-formed 429s ----
    const limited = await start({ keys: generateKeySpec('fuzz-rl'), schema: SCHEMA, maxBlobBytes: MAX_BLOB });
    aux.push(limited);
    const rl = await phase2(limited, rng);
    phase2Requests = rl.requests;
    for (const [k, n] of rl.histogram) histogram.set(k, (histogram.get(k) ?? 0) + n);
    stats.failures.push(...rl.failures);

    const summary = [...histogram].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}=${n}`).join(' ');
    console.log(
      `[fuzz] ${stats.requests} requests (+${phase2Requests} rate-limit phase) in ${seconds.toFixed(1)} s, seed ${SEED}: ${summary}; ` +
        `heap ${(warm!.heapUsed / 2 ** 20).toFixed(1)} → ${(end.heapUsed / 2 ** 20).toFixed(1)} MiB${gc ? ' (after gc)' : ''}, rss ${(end.rss / 2 ** 20).toFixed(0)} MiB`,
    );

    // Every answer was well formed and as expected.
    expect(stats.failures).toStrictEqual([]);
    expect(histogram.get('FAILED') ?? 0).toBe(0);
    expect(stats.requests + phase2Requests).toBeGreaterThanOrEqual(10_000);
    // The limiter never masked anything in the main phase, and nothing failed inside the server.
    expect(histogram.get('unavailable') ?? 0).toBe(0);
    // The mix reached the interesting answers (if a generator broke, these counts would collapse).
    for (const outcome of ['ok', 'malformed', 'tampered', 'unknown-key', 'replayed', 'wrong-binding', 'too-large', 'no-session', 'stale', 'expired', 'schema-reset', 'forbidden-origin', 'rate-limited'] as const) {
      expect(histogram.get(outcome) ?? 0, outcome).toBeGreaterThan(outcome === 'stale' || outcome === 'rate-limited' ? 4 : 20);
    }
    for (const key of histogram.keys()) expect(OUTCOMES.includes(key as Outcome) || key === 'health', key).toBe(true);

    // Memory stayed bounded.
    if (gc) expect(end.heapUsed - warm!.heapUsed, 'heap growth after gc').toBeLessThan(16 * 2 ** 20);
    expect(end.rss - warm!.rss, 'rss growth').toBeLessThan(150 * 2 ** 20);

    // Only real sessions are live or hibernated; fuzzed sids never became known to the server.
    const h = await health(main);
    expect(h.live).toBeLessThanOrEqual(mayBeLive.size);
    expect(h.hibernated).toBeLessThanOrEqual(hibernateOks);
    expect(main.stasis.sessions.liveCount).toBe(h.live);
    expect(strangers.length).toBeGreaterThan(100);
    for (let i = 0; i < strangers.length; i += Math.ceil(strangers.length / 25)) {
      expect((await health(main, strangers[i])).session).toStrictEqual({ sid: strangers[i], state: 'unknown' });
    }

    // The process never saw an unhandled rejection or an uncaught exception.
    expect(processProblems).toStrictEqual([]);
  }, 120_000);

  it('after a chunked body over the limit, the keep-alive connection keeps answering', async () => {
    // http-endpoints.ts readJson leaves its `for await` loop by throwing, which destroys the request;
    // the parser then pauses the socket, so the next request on the same connection is never answered.
    // Marked `fails`: when readJson is fixed this test starts failing; then drop `.fails`.
    const { connect } = await import('node:net');
    const sock = connect(main.port, '127.0.0.1');
    let got = '';
    sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
    sock.on('error', () => {});
    await new Promise((resolve) => sock.once('connect', resolve));
    sock.write('POST /stasis/resume HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = Buffer.alloc(8192, 'y');
    for (let i = 0; i < 64; i++) {
      sock.write(`2000\r\n`);
      sock.write(chunk);
      sock.write('\r\n');
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    sock.write('0\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(got).toMatch(/^HTTP\/1\.1 413 /);
    got = '';
    sock.write('GET /stasis/health HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    sock.destroy();
    // Either the server answers, or it closes the connection (Connection: close on the 413); it must not hang.
    expect(got).toMatch(/^HTTP\/1\.1 200 /);
  });
});

/**
 * The default limits: 20 suspicious resume failures (tampered, unknown-key, wrong-binding, malformed) per
 * browser per minute, 100 per address; then 429 with Retry-After, without looking at the blob.
 */
async function phase2(r: Running, rng: Rng): Promise<Stats> {
  const stats: Stats = { histogram: new Map(), failures: [], requests: 0 };
  const check = async (c: Case): Promise<string> => {
    stats.requests++;
    let outcome: string;
    try {
      outcome = judge(c, await send(r, c.req));
    } catch (error) {
      outcome = 'FAILED';
      stats.failures.push((error as Error).message);
    }
    count(stats, outcome);
    return outcome;
  };
  const resume = (label: string, sid: unknown, blob: unknown, cookie?: string): Case => ({
    label,
    req: { method: 'POST', path: '/stasis/resume', headers: { 'Content-Type': 'application/json', ...(cookie ? { Cookie: cookie } : {}) }, body: JSON.stringify({ sid, blob }) },
    expect: { kind: 'endpoint' },
  });
  const sequence = async (n: number, make: () => Case) => {
    const seen: string[] = [];
    for (let i = 0; i < n; i++) seen.push(await check(make()));
    return seen;
  };
  const xSid = rng.sid();
  const x = await hibernateSession(r, rng, xSid);
  const ySid = rng.sid();
  const y = await hibernateSession(r, rng, ySid);

  // Browser X fails 30 times in a row (wrong sid): 20 answers, then 429s. Address count: 20.
  const xs = await sequence(30, () => resume('rl-x', rng.sid(), x.blob, x.cookie));
  expect(xs).toStrictEqual([...Array(20).fill('wrong-binding'), ...Array(10).fill('rate-limited')]);
  // X's own valid blob is refused too while X is limited (the blob is not looked at, so not consumed).
  expect(await check(resume('rl-x-valid', xSid, x.blob, x.cookie))).toBe('rate-limited');
  // Hibernate is never rate-limited.
  const hib: Case = {
    label: 'rl-x-hibernate',
    req: { method: 'POST', path: '/stasis/hibernate', headers: { Cookie: x.cookie }, body: JSON.stringify({ sid: rng.sid() }) },
    expect: { kind: 'endpoint', outcomes: ['no-session'] },
  };
  expect(await check(hib)).toBe('no-session');
  // Browser Y is not affected, and honest failures (replayed) never count.
  expect(await check(resume('rl-y-valid', ySid, y.blob, y.cookie))).toBe('ok');
  expect(await sequence(25, () => resume('rl-y-replay', ySid, y.blob, y.cookie))).toStrictEqual(Array(25).fill('replayed'));
  // Without a cookie only the address counts (limit 5 × 20, X's 20 included): 80 more, then 429s.
  const anon = await sequence(85, () => resume('rl-anon', rng.sid(), rng.b64url(50)));
  expect(anon).toStrictEqual([...Array(80).fill('malformed'), ...Array(5).fill('rate-limited')]);
  // Now the address is limited for every browser, even with a valid blob.
  expect(await check(resume('rl-y-after', ySid, y.blob, y.cookie))).toBe('rate-limited');
  // A concurrent mix from a few browsers: every answer, 429 or not, is well formed.
  const cookies = Array.from({ length: 6 }, () => `stasis_bid=${rng.cookie()}`);
  const cases = Array.from({ length: 240 }, () =>
    resume('rl-mix', rng.chance(0.5) ? rng.sid() : 'bad', rng.chance(0.5) ? x.blob : rng.b64url(80), rng.pick(cookies)),
  );
  let i = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (i < cases.length) await check(cases[i++]!);
    }),
  );
  expect(stats.histogram.get('rate-limited') ?? 0).toBeGreaterThan(250);
  return stats;
}
