/**
 * Memory per session, live and hibernated, measured in a fresh child process started with `--expose-gc`
 * (this same file run with WORKER_FLAG), so nothing the caller has allocated pollutes the numbers.
 *
 * The worker first runs WARMUP_SESSIONS sessions (connected and hibernated) through a reference server of
 * their own, then closes it: the JIT compiles the hot paths there, and that server's bookkeeping (its index of
 * hibernated blobs, capped at 10,000 entries) is not the measured one's. Optimized code made during the
 * measurement would be counted as if sessions held it (it was most of the "~300 B per session" the HTTP path
 * used to show), and warm-up entries evicted from a shared index would hide as many measured ones. It then
 * creates the measured server with the demo app, forces GC and reads heapUsed/rss, then:
 *   - connects N live sessions through `stasis.sessions.connect` with a minimal LiveChannel (no socket:
 *     the numbers are the server's own per-session cost, not a WebSocket's), GC, read → live;
 *   - hibernates every one of them and drops the blobs (a client-held deployment keeps nothing else),
 *     GC, read → hibernated. Per-session bytes are always (reading − baseline) / N.
 * The sids and binding secrets come from one Buffer allocated before the baseline and are turned into
 * strings only when the server is handed them, so the harness holds nothing per session on the heap.
 * rss is what the OS sees: V8 and malloc keep freed pages, so hibernated rss falls far less than heap.
 * Workers run with `--no-flush-bytecode`: V8 otherwise drops the bytecode of functions unused for a while
 * (the warm-up server's) in the middle of the measurement, and the heap shrinks by more than sessions add.
 *
 * The worker reports one line `STASIS_BENCH_MEMORY {json}` on stdout, which the parent parses.
 *
 * `http`: the same hibernated-session number through the real HTTP path, as a browser gets there. A second
 * worker (WORKER_HTTP_FLAG) serves the demo app on 127.0.0.1 (node:http, the built-in live channel); this
 * process is the browser: per session a WebSocket to `{base}/live?sid=…` without a cookie (the 101 sets one),
 * then, once the first view arrived, `POST {base}/hibernate` with that cookie, and it waits for the 4001 close.
 * Over the IPC channel the worker hands out a warm-up server first, then the measured one (read before and
 * after the driver's N sessions). Every socket is closed by then, so what is left is what the server keeps
 * per hibernated session.
 *
 * Built: this module must stay its own output file (its own rollup entry), because the worker re-runs the
 * file `import.meta.url` names. Importing it has no side effect unless the process was started with
 * WORKER_FLAG or WORKER_HTTP_FLAG as its first argument.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import app from '../demo/app.js';
import { createStasisServer, generateKeySpec, silentLogger, type StasisServer } from '../server-stub/index.js';
import type { LiveChannel } from '../server-stub/session/session.js';
import { settledHeap } from './settled-heap.js';

export interface MemoryResult {
  sessions: number;
  live: { heapBytesPerSession: number; rssBytesPerSession: number };
  hibernated: { heapBytesPerSession: number; rssBytesPerSession: number };
  /** Hibernated sessions made through the HTTP path (WebSocket connect, POST hibernate), as a browser does. */
  http: { sessions: number; hibernated: { heapBytesPerSession: number; rssBytesPerSession: number } };
}

type DirectResult = Omit<MemoryResult, 'http'>;

const WORKER_FLAG = '--stasis-bench-memory-worker';
const WORKER_HTTP_FLAG = '--stasis-bench-memory-http-worker';
/** Sessions connected and hibernated over HTTP at once. */
const HTTP_CONCURRENCY = 32;
const REPORT_PREFIX = 'STASIS_BENCH_MEMORY ';
const WARMUP_SESSIONS = 2000;
const SID_BYTES = 16; // 22 base64url characters
const SECRET_BYTES = 24; // 32 base64url characters, like the server's own binding secrets
const DEFAULT_TIMEOUT_MS = 120_000;

/** Measures per-session memory with `sessions` sessions in fresh `node --expose-gc` child processes. */
export async function benchMemory(options: { sessions: number; timeoutMs?: number }): Promise<MemoryResult> {
  const sessions = Math.floor(options.sessions);
  if (!(sessions > 0)) throw new Error(`benchMemory: sessions must be a positive integer, not ${options.sessions}`);
  const script = fileURLToPath(import.meta.url);
  if (/\.[cm]?tsx?$/.test(script)) {
    throw new Error(`benchMemory: ${script} must be compiled to JavaScript first (its worker re-runs this file with node).`);
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const direct = await runWorkerProcess<DirectResult>([script, WORKER_FLAG, String(sessions)], timeoutMs);
  const http = await runWorkerProcess<MemoryResult['http']>([script, WORKER_HTTP_FLAG, String(sessions)], timeoutMs, driveHttpWorker);
  return { ...direct, http };
}

/**
 * Runs one worker to its report. `drive`, when given, talks to it over an IPC channel while it runs (the
 * HTTP worker's browser side).
 */
async function runWorkerProcess<T>(args: string[], timeoutMs: number, drive?: (child: ChildProcess) => Promise<void>): Promise<T> {
  const child = spawn(process.execPath, ['--expose-gc', '--no-flush-bytecode', ...args], { stdio: ['ignore', 'pipe', 'pipe', ...(drive ? ['ipc' as const] : [])] });
  const killChild = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killChild); // never leave the worker behind, even if the caller exits mid-run
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let timer: NodeJS.Timeout | undefined;
  try {
    const closed = new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (exitCode) => resolve(exitCode));
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`benchMemory: worker did not finish within ${timeoutMs} ms`)), timeoutMs);
      closed.then(resolve, reject);
      drive?.(child).catch((error: unknown) => {
        killChild();
        reject(error instanceof Error ? error : new Error(String(error)));
      });
    });
    const line = stdout
      .split('\n')
      .reverse()
      .find((l) => l.startsWith(REPORT_PREFIX));
    if (code !== 0 || !line) {
      throw new Error(`benchMemory: worker exited with ${code} and ${line ? 'a' : 'no'} report.\n${stdout}${stderr}`.trimEnd());
    }
    return JSON.parse(line.slice(REPORT_PREFIX.length)) as T;
  } finally {
    clearTimeout(timer);
    killChild();
    process.off('exit', killChild);
  }
}

/** The HTTP worker's IPC messages: a server for the driver to run `count` sessions through; their end. */
type ToDriver = { type: 'serve'; port: number; count: number };
type ToWorker = { type: 'done' };

/** The browser side of the HTTP worker: runs the sessions it is asked for, on the server it is given. */
async function driveHttpWorker(child: ChildProcess): Promise<void> {
  let chain = Promise.resolve();
  let failed: Error | undefined;
  await new Promise<void>((resolve, reject) => {
    child.on('message', (message: ToDriver) => {
      chain = chain
        .then(() => pauseSessions(message.port, message.count))
        .then(() => void child.send({ type: 'done' } satisfies ToWorker))
        .catch((error: unknown) => {
          failed ??= error instanceof Error ? error : new Error(String(error));
          reject(failed);
        });
    });
    child.once('close', () => (failed ? reject(failed) : resolve()));
  });
}

/** `count` sessions, `HTTP_CONCURRENCY` at a time: each connected over a WebSocket, then hibernated over HTTP. */
async function pauseSessions(port: number, count: number): Promise<void> {
  let started = 0;
  const lane = async () => {
    while (started < count) {
      started++;
      await pauseOne(port, randomBytes(SID_BYTES).toString('base64url'));
    }
  };
  await Promise.all(Array.from({ length: HTTP_CONCURRENCY }, lane));
}

async function pauseOne(port: number, sid: string): Promise<void> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/stasis/live?sid=${sid}`);
  let cookie = '';
  socket.on('upgrade', (response) => (cookie = String(response.headers['set-cookie']?.[0] ?? '').split(';')[0]!));
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    socket.once('message', () => resolve()); // the first view: the session is attached
    socket.once('error', reject);
    socket.once('close', (code) => reject(new Error(`benchMemory: live channel closed with ${code} before a view`)));
  });
  const answer = await fetch(`http://127.0.0.1:${port}/stasis/hibernate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie },
    body: JSON.stringify({ sid }),
  });
  const body = (await answer.json()) as { outcome?: string };
  if (body.outcome !== 'ok') throw new Error(`benchMemory: hibernate over HTTP answered ${JSON.stringify(body)}`);
  const code = await closed;
  if (code !== 4001) throw new Error(`benchMemory: live channel closed with ${code}, not 4001 (hibernated)`);
}

// ——— worker (child process) ———

function noop(): void {}

async function settle(gc: NodeJS.GCFunction): Promise<{ heap: number; rss: number }> {
  const { heapUsed, rss } = await settledHeap(gc);
  return { heap: heapUsed, rss };
}

async function runWorker(sessions: number): Promise<DirectResult> {
  const gc = globalThis.gc;
  if (!gc) throw new Error('the memory worker must run with --expose-gc');
  const total = sessions + WARMUP_SESSIONS;
  // Off-heap raw material; indexes [sessions, total) are the warm-up's.
  const sidBytes = randomBytes(total * SID_BYTES);
  const secretBytes = randomBytes(total * SECRET_BYTES);
  const sidAt = (i: number) => sidBytes.toString('base64url', i * SID_BYTES, (i + 1) * SID_BYTES);
  const secretAt = (i: number) => secretBytes.toString('base64url', i * SECRET_BYTES, (i + 1) * SECRET_BYTES);
  const connect = async (stasis: StasisServer, i: number) => {
    const channel: LiveChannel = { send: noop, close: noop };
    await stasis.sessions.connect(sidAt(i), channel, secretAt(i));
  };
  const hibernate = async (stasis: StasisServer, i: number) => {
    await stasis.sessions.hibernate(sidAt(i), secretAt(i)); // the blob is dropped: the client would hold it
  };

  // In a function of its own: a variable of this one would keep the warm-up server (and its index) reachable.
  const warmUp = async () => {
    const warm = await createStasisServer({ app, keys: generateKeySpec('bench'), logger: silentLogger });
    for (let i = sessions; i < total; i++) await connect(warm, i);
    for (let i = sessions; i < total; i++) await hibernate(warm, i);
    await warm.close();
  };
  await warmUp();
  const stasis = await createStasisServer({ app, keys: generateKeySpec('bench'), logger: silentLogger });
  const before = await settle(gc);

  for (let i = 0; i < sessions; i++) await connect(stasis, i);
  if (stasis.sessions.liveCount !== sessions) throw new Error(`expected ${sessions} live sessions, found ${stasis.sessions.liveCount}`);
  const live = await settle(gc);

  for (let i = 0; i < sessions; i++) await hibernate(stasis, i);
  if (stasis.sessions.liveCount !== 0) throw new Error(`${stasis.sessions.liveCount} sessions still live after hibernating all`);
  const hibernated = await settle(gc);
  await stasis.close();

  const per = (after: { heap: number; rss: number }) => ({
    heapBytesPerSession: Math.round((after.heap - before.heap) / sessions),
    rssBytesPerSession: Math.round((after.rss - before.rss) / sessions),
  });
  return { sessions, live: per(live), hibernated: per(hibernated) };
}

/**
 * The HTTP worker: the demo app behind node:http and the built-in live channel on 127.0.0.1, measured when the
 * driver (the parent) says so.
 */
async function runHttpWorker(sessions: number): Promise<MemoryResult['http']> {
  const gc = globalThis.gc;
  if (!gc || !process.send) throw new Error('the HTTP memory worker must run with --expose-gc and an IPC channel');
  const doneMessages: Array<() => void> = [];
  process.on('message', () => doneMessages.shift()?.());
  /** Starts a server, has the driver run `count` sessions through it; `between` runs once it listens. */
  const runThrough = async (count: number, between: () => Promise<void> = async () => {}) => {
    const stasis = await createStasisServer({ app, keys: generateKeySpec('bench'), logger: silentLogger, assets: false });
    const server = createServer((req, res) => {
      stasis.handle(req, res).then(
        (handled) => handled || res.writeHead(404).end(),
        () => res.writeHead(500).end(),
      );
    });
    stasis.attach(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await between();
    const done = new Promise<void>((resolve) => doneMessages.push(resolve));
    process.send!({ type: 'serve', port: (server.address() as { port: number }).port, count } satisfies ToDriver);
    await done;
    if (stasis.sessions.liveCount !== 0) throw new Error(`${stasis.sessions.liveCount} sessions still live after hibernating all`);
    return { stasis, server };
  };
  // In a function of its own: a variable of this one would keep the warm-up server (and its index) reachable.
  const warmUp = async () => {
    const warm = await runThrough(WARMUP_SESSIONS);
    await new Promise((resolve) => warm.server.close(resolve));
    await warm.stasis.close();
  };
  await warmUp();
  let before = { heap: 0, rss: 0 };
  const measured = await runThrough(sessions, async () => {
    before = await settle(gc);
  });
  const after = await settle(gc);
  measured.server.close();
  await measured.stasis.close();
  process.disconnect();
  return {
    sessions,
    hibernated: {
      heapBytesPerSession: Math.round((after.heap - before.heap) / sessions),
      rssBytesPerSession: Math.round((after.rss - before.rss) / sessions),
    },
  };
}

function startedAsWorker(flag: string): boolean {
  if (process.argv[2] !== flag || !process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

const worker = startedAsWorker(WORKER_FLAG) ? runWorker : startedAsWorker(WORKER_HTTP_FLAG) ? runHttpWorker : undefined;
if (worker) {
  worker(Number(process.argv[3])).then(
    (result) => {
      process.stdout.write(`${REPORT_PREFIX}${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`memory worker failed: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
