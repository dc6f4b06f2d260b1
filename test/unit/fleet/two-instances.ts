/**
 * Two Stasis instances sharing one real redis-server, each mounted in its own Node HTTP server on
 * 127.0.0.1, plus small clients that speak to them the way a browser would (binding cookie, Origin).
 * Not a test file itself: the fleet tests import it.
 *
 * The Redis is one redis-server, or a three-master Redis Cluster (test/support/redis-cluster.ts) when
 * STASIS_TEST_REDIS=cluster or after `useRedisTopology('cluster')` (cluster.test.ts runs the fleet tests so).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { WebSocket } from 'ws';
import { jsonCodec } from '../../../server-stub/codec/json-codec.js';
import { open, type SealedSession } from '../../../server-stub/envelope/envelope.js';
import { generateKeySpec, parseKeyRing, type KeyRing } from '../../../server-stub/envelope/key-ring.js';
import { createStasisServer, type StasisServer, type StasisServerOptions } from '../../../server-stub/index.js';
import type { Logger } from '../../../server-stub/logger.js';
import type { StasisApp } from '../../../server-stub/session/session.js';
import { decodeStoredValues } from '../../../server-stub/session/state-registry.js';
import type { HealthResponse, HibernateResponse, PushedBlob, ResumeResponse } from '../../../src/protocol/index.js';
import { RedisCluster } from '../../support/redis-cluster.js';
import { RedisServer } from '../../support/redis-server.js';

export { RedisCluster, RedisServer };

/** The Redis a fleet test runs on: one server, or a Redis Cluster. Both can pause() (SIGSTOP) and unpause(). */
export type TestRedis = RedisServer | RedisCluster;
export type RedisTopology = 'single' | 'cluster';

let topology: RedisTopology = process.env.STASIS_TEST_REDIS === 'cluster' ? 'cluster' : 'single';

/**
 * Which Redis the fleets started from now on use (`fleetPerTest`, `startTwoInstances` without `redis`).
 * Module state: a test file that sets it (before importing the tests it runs) affects only itself.
 */
export function useRedisTopology(next: RedisTopology): void {
  topology = next;
}

async function startRedis(): Promise<TestRedis> {
  return topology === 'cluster' ? RedisCluster.start() : RedisServer.start();
}

/** The options that point createStasisServer at `redis`. */
function redisOptions(redis: TestRedis): Pick<StasisServerOptions, 'redisUrl' | 'redisCluster'> {
  return redis instanceof RedisCluster ? { redisCluster: redis.urls } : { redisUrl: redis.url };
}

// Test files that share a module graph (cluster.test.ts imports several) share one cluster: started once,
// stopped after the last of them.
let sharedCluster: { cluster: Promise<RedisCluster>; users: number } | undefined;

async function acquireRedis(): Promise<TestRedis> {
  if (topology !== 'cluster') return RedisServer.start();
  sharedCluster ??= { cluster: RedisCluster.start(), users: 0 };
  sharedCluster.users++;
  return sharedCluster.cluster;
}

async function releaseRedis(redis: TestRedis | undefined): Promise<void> {
  if (!redis) return;
  if (!(redis instanceof RedisCluster) || !sharedCluster) return redis.stop();
  if (--sharedCluster.users > 0) return;
  sharedCluster = undefined;
  await redis.stop();
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A fresh session id (128 random bits, base64url). */
export const newSid = (): string => randomBytes(16).toString('base64url');
/** A fresh binding secret, the shape the server issues (matches /^[A-Za-z0-9_-]{22,128}$/). */
export const newCookie = (): string => randomBytes(24).toString('base64url');
export const freshPrefix = (label: string): string => `fleet-${label}-${randomBytes(6).toString('hex')}:`;

// ---- The app under test ----

/** What the test app sends: its whole state plus the session's gen, after every connect and message. */
export interface StateMessage {
  type: 'state';
  n: number;
  gen: number;
  restored: boolean;
  /** The id of the message this answers, or "connect". */
  re: string;
}

/**
 * A tiny counter app: one persisted number `n`. `{type:'add', by, id}` adds to it; every connect and every
 * message is answered with a StateMessage.
 */
export const counterApp: StasisApp = (session) => {
  const n = session.persist('n', 0);
  const report = (re: string) => session.send({ type: 'state', n: n.get(), gen: session.gen, restored: session.restored, re } satisfies StateMessage);
  return {
    onConnect: () => report('connect'),
    onMessage(message) {
      const m = message as { type?: unknown; by?: unknown; id?: unknown };
      if (m.type === 'add' && typeof m.by === 'number') n.set(n.get() + m.by);
      report(typeof m.id === 'string' ? m.id : '?');
    },
  };
};

// ---- Loggers ----

export interface CapturingLogger extends Logger {
  readonly lines: Array<{ level: 'info' | 'warn' | 'error'; message: string }>;
  at(level: 'info' | 'warn' | 'error'): string[];
}

export function capturingLogger(): CapturingLogger {
  const lines: CapturingLogger['lines'] = [];
  return {
    lines,
    info: (message) => void lines.push({ level: 'info', message }),
    warn: (message) => void lines.push({ level: 'warn', message }),
    error: (message) => void lines.push({ level: 'error', message }),
    at: (level) => lines.filter((line) => line.level === level).map((line) => line.message),
  };
}

// ---- Instances ----

export interface Instance {
  readonly name: string;
  /** http://127.0.0.1:<port> (also the Origin the clients send). */
  readonly url: string;
  readonly stasis: StasisServer;
  readonly http: Server;
  readonly logger: CapturingLogger;
  /** False once `kill()` or the fleet's `close()` ran. */
  readonly running: boolean;
  /**
   * A dead instance, as far as the others can tell: `stasis.close()` (live sessions end, Redis connections
   * drop) and the HTTP server is destroyed without a drain.
   */
  kill(): Promise<void>;
}

export interface TwoInstances {
  readonly redis: TestRedis;
  readonly prefix: string;
  readonly ring: KeyRing;
  readonly a: Instance;
  readonly b: Instance;
  /** A separate connection to the same Redis (a cluster client on a cluster), for looking at keys (`prefix` is not applied). */
  inspector(): Promise<Redis | Cluster>;
  /** Closes live clients, both instances, the inspector, and the redis-server if this helper started it. */
  close(): Promise<void>;
}

export type FleetOptions = Omit<StasisServerOptions, 'app' | 'keys' | 'redisUrl' | 'redisCluster' | 'redisPrefix' | 'logger'> & {
  app?: StasisApp;
  /** A running redis-server or Redis Cluster to share; without it one is started (and stopped by `close()`). */
  redis?: TestRedis;
  /** Default: a fresh one per call. */
  redisPrefix?: string;
};

/**
 * Starts two createStasisServer instances on one Redis: same key ring, same redisUrl and prefix, each in its
 * own HTTP server on 127.0.0.1:0 (`stasis.handle` + `stasis.attach`).
 */
/**
 * The hooks every fleet test file shares: one redis-server (or Redis Cluster) for the file, and whatever fleet
 * a test started closed after that test. `start` starts two instances on that Redis.
 */
export function fleetPerTest(): { start(options?: Omit<FleetOptions, 'redis'>): Promise<TwoInstances> } {
  let redis: TestRedis | undefined;
  let current: TwoInstances | undefined;
  beforeAll(async () => {
    redis = await acquireRedis();
  }, 30_000);
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  afterAll(async () => {
    await releaseRedis(redis);
  });
  return {
    async start(options = {}) {
      current = await startTwoInstances({ ...options, ...(redis ? { redis } : {}) });
      return current;
    },
  };
}

export async function startTwoInstances(options: FleetOptions = {}): Promise<TwoInstances> {
  const { redis: given, app = counterApp, redisPrefix = freshPrefix('t'), ...rest } = options;
  const redis = given ?? (await startRedis());
  const ring = await parseKeyRing(generateKeySpec('fleet-k1'));
  const started: Instance[] = [];
  let inspector: Redis | Cluster | undefined;
  try {
    for (const name of ['A', 'B']) {
      started.push(
        await startInstance(name, {
          app,
          keys: ring,
          schema: 'fleet-test',
          ...redisOptions(redis),
          redisPrefix,
          ...rest,
        }),
      );
    }
  } catch (error) {
    await Promise.all(started.map((instance) => instance.kill()));
    if (!given) await redis.stop();
    throw error;
  }
  const [a, b] = started as [Instance, Instance];
  return {
    redis,
    prefix: redisPrefix,
    ring,
    a,
    b,
    async inspector() {
      if (!inspector) {
        inspector =
          redis instanceof RedisCluster
            ? new Cluster(redis.urls, { redisOptions: { maxRetriesPerRequest: 1 }, lazyConnect: true })
            : new Redis(redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
        inspector.on('error', () => undefined);
        await inspector.connect();
      }
      return inspector;
    },
    async close() {
      closeAllClients();
      await Promise.all([a.kill(), b.kill()]);
      inspector?.disconnect();
      if (!given) await redis.stop();
    },
  };
}

async function startInstance(name: string, options: StasisServerOptions): Promise<Instance> {
  const logger = capturingLogger();
  const stasis = await createStasisServer({ ...options, logger });
  const http = createServer((req, res) => {
    stasis.handle(req, res).then(
      (handled) => {
        if (!handled) {
          res.writeHead(404, { 'Content-Type': 'text/plain' });
          res.end('host app');
        }
      },
      () => {
        res.writeHead(500);
        res.end();
      },
    );
  });
  stasis.attach(http);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  let running = true;
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    stasis,
    http,
    logger,
    get running() {
      return running;
    },
    async kill() {
      if (!running) return;
      running = false;
      await stasis.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

// ---- HTTP clients ----

export interface Answer<T> {
  status: number;
  body: T;
  /** How long the request took, ms. */
  ms: number;
}

const originOf = (url: string) => new URL(url).origin;

async function post<T>(url: string, route: string, body: unknown, cookie: string | undefined): Promise<Answer<T>> {
  const started = performance.now();
  const response = await fetch(`${url}/stasis${route}`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Origin: originOf(url),
      ...(cookie ? { Cookie: `stasis_bid=${cookie}` } : {}),
    },
    body: JSON.stringify(body),
  });
  const parsed = (await response.json()) as T;
  return { status: response.status, body: parsed, ms: performance.now() - started };
}

export function hibernate(url: string, sid: string, cookie: string | undefined, keepChannels?: boolean): Promise<Answer<HibernateResponse>> {
  return post(url, '/hibernate', { sid, ...(keepChannels ? { keepChannels } : {}) }, cookie);
}

export function resume(url: string, sid: string, blob: string, cookie: string | undefined): Promise<Answer<ResumeResponse>> {
  return post(url, '/resume', { sid, blob }, cookie);
}

export async function health(url: string, sid?: string): Promise<Answer<HealthResponse>> {
  const started = performance.now();
  const response = await fetch(`${url}/stasis/health${sid ? `?sid=${sid}` : ''}`);
  return { status: response.status, body: (await response.json()) as HealthResponse, ms: performance.now() - started };
}

export async function metrics(url: string): Promise<Answer<string>> {
  const started = performance.now();
  const response = await fetch(`${url}/stasis/metrics`);
  return { status: response.status, body: await response.text(), ms: performance.now() - started };
}

/** A hibernate that must succeed: returns its blob and gen. */
export async function hibernateOk(url: string, sid: string, cookie: string): Promise<{ blob: string; gen: number }> {
  const answer = await hibernate(url, sid, cookie);
  if (answer.body.outcome !== 'ok') throw new Error(`hibernate at ${url} answered ${answer.status} ${JSON.stringify(answer.body)}`);
  return { blob: answer.body.blob, gen: answer.body.gen };
}

/** Opens a blob with the fleet's key ring and decodes its values (what was sealed). */
export async function openBlob(blob: string, ring: KeyRing): Promise<{ sealed: SealedSession; values: Record<string, unknown> }> {
  const sealed = await open(blob, ring);
  const decoded = decodeStoredValues(sealed.values, (name) => (name === jsonCodec.name ? jsonCodec : undefined));
  return { sealed, values: Object.fromEntries([...decoded].map(([key, { value }]) => [key, value])) };
}

// ---- The live channel client ----

const liveClients = new Set<LiveClient>();

/** Terminates every live client still open (test cleanup). */
export function closeAllClients(): void {
  for (const client of liveClients) client.terminate();
  liveClients.clear();
}

export interface CloseInfo {
  code: number;
  reason: string;
}

/** A WebSocket to /stasis/live?sid=… with the binding cookie and a same-origin Origin header. */
export class LiveClient {
  readonly messages: unknown[] = [];
  readonly closed: Promise<CloseInfo>;
  closeInfo: CloseInfo | undefined;
  readonly #socket: WebSocket;
  readonly #taken = new Set<number>();
  readonly #waiters = new Set<() => void>();
  #nextId = 0;

  private constructor(readonly url: string, readonly sid: string, socket: WebSocket) {
    this.#socket = socket;
    socket.on('message', (data) => {
      try {
        this.messages.push(JSON.parse((data as Buffer).toString()));
      } catch {
        this.messages.push({ unparsable: (data as Buffer).toString() });
      }
      for (const wake of [...this.#waiters]) wake();
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        liveClients.delete(this);
        resolve(this.closeInfo);
        for (const wake of [...this.#waiters]) wake();
      }),
    );
    socket.on('error', () => undefined);
    liveClients.add(this);
  }

  /** Opens the socket (resolves once the upgrade succeeded; the session lookup may still be running). */
  static open(url: string, sid: string, cookie: string | undefined): Promise<LiveClient> {
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/stasis/live?sid=${sid}`, {
      headers: { Origin: originOf(url), ...(cookie ? { Cookie: `stasis_bid=${cookie}` } : {}) },
    });
    const client = new LiveClient(url, sid, socket);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(client));
      socket.once('unexpected-response', (_req, res) => reject(new Error(`live upgrade refused: HTTP ${res.statusCode}`)));
      socket.once('error', reject);
    });
  }

  /** Opens and waits for the app's first state message (the session is attached). */
  static async connect(url: string, sid: string, cookie: string | undefined, timeoutMs = 5000): Promise<{ client: LiveClient; state: StateMessage }> {
    const client = await LiveClient.open(url, sid, cookie);
    const state = await client.waitFor((m): m is StateMessage => isState(m) && m.re === 'connect', timeoutMs);
    return { client, state };
  }

  get open(): boolean {
    return this.#socket.readyState === WebSocket.OPEN;
  }

  send(message: unknown): void {
    this.#socket.send(JSON.stringify(message));
  }

  /** Adds `by` to the app's counter and returns the app's answer. */
  async add(by: number, timeoutMs = 5000): Promise<StateMessage> {
    const id = `m${++this.#nextId}`;
    this.send({ type: 'add', by, id });
    return this.waitFor((m): m is StateMessage => isState(m) && m.re === id, timeoutMs);
  }

  /** The first message not yet taken that matches; waits for one (rejects on close or after `timeoutMs`). */
  waitFor<T>(match: (message: unknown) => message is T, timeoutMs = 5000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = (): boolean => {
        for (const [i, message] of this.messages.entries()) {
          if (!this.#taken.has(i) && match(message)) {
            this.#taken.add(i);
            done();
            resolve(message);
            return true;
          }
        }
        if (this.closeInfo) {
          done();
          reject(new Error(`socket closed (${this.closeInfo.code} ${this.closeInfo.reason}) before the message came; got ${JSON.stringify(this.messages)}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`));
      }, timeoutMs);
      const wake = () => void check();
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
      };
      this.#waiters.add(wake);
      check();
    });
  }

  /** Messages not yet taken that match (does not take them). */
  pending<T>(match: (message: unknown) => message is T): T[] {
    return this.messages.filter((m, i): m is T => !this.#taken.has(i) && match(m));
  }

  /** The close code, or undefined when the socket is still open after `ms`. */
  async closedWithin(ms: number): Promise<CloseInfo | undefined> {
    return Promise.race([this.closed, sleep(ms).then(() => undefined)]);
  }

  /** Drops the connection without a close handshake (a network loss, a killed tab). */
  terminate(): void {
    this.#socket.terminate();
  }

  close(): void {
    this.#socket.close(1000);
  }
}

export function isState(message: unknown): message is StateMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'state';
}

/**
 * A new, empty session, not a restored one. Its gen is not pinned: it is 1 for a sid never seen, but a
 * ledger may start a fresh session of a sid it has seen past the generations that sid already had.
 */
export function isFresh(state: StateMessage): boolean {
  return state.restored === false && state.n === 0 && Number.isSafeInteger(state.gen) && state.gen >= 1;
}

export function isCheckpoint(message: unknown): message is PushedBlob {
  const m = message as Partial<PushedBlob> | null;
  return typeof m === 'object' && m !== null && m.type === 'stasis:hibernated' && m.reason === 'checkpoint';
}

// ---- Small utilities ----

/** Resolves with the value, or rejects when `promise` has not settled within `ms` (a hang guard, not a benchmark). */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `probe` until it returns a truthy value, at most `timeoutMs`. */
export async function until<T>(probe: () => Promise<T> | T, timeoutMs: number, what: string, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
    await sleep(everyMs);
  }
}

/** One sample of a Prometheus text series, e.g. `stasis_store_breaker_state{store="redis",state="open"}`. */
export function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}
