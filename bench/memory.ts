/**
 * Memory per session, live and hibernated, measured in a fresh child process started with `--expose-gc`
 * (this same file run with WORKER_FLAG), so nothing the caller has allocated pollutes the numbers.
 *
 * The worker creates a reference server with the demo app, warms it up (a few sessions connected and
 * hibernated, so lazily built code and caches are in the baseline), forces GC and reads heapUsed/rss, then:
 *   - connects N live sessions through `stasis.sessions.connect` with a minimal LiveChannel (no socket:
 *     the numbers are the server's own per-session cost, not a WebSocket's), GC, read → live;
 *   - hibernates every one of them and drops the blobs (a client-held deployment keeps nothing else),
 *     GC, read → hibernated. Per-session bytes are always (reading − baseline) / N.
 * The sids and binding secrets come from one Buffer allocated before the baseline and are turned into
 * strings only when the server is handed them, so the harness holds nothing per session on the heap.
 * rss is what the OS sees: V8 and malloc keep freed pages, so hibernated rss falls far less than heap.
 *
 * The worker reports one line `STASIS_BENCH_MEMORY {json}` on stdout, which the parent parses.
 *
 * Built: this module must stay its own output file (its own rollup entry), because the worker re-runs the
 * file `import.meta.url` names. Importing it has no side effect unless the process was started with
 * WORKER_FLAG as its first argument.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import app from '../demo/app.js';
import { createStasisServer, generateKeySpec, silentLogger } from '../server-stub/index.js';
import type { LiveChannel } from '../server-stub/session/session.js';

export interface MemoryResult {
  sessions: number;
  live: { heapBytesPerSession: number; rssBytesPerSession: number };
  hibernated: { heapBytesPerSession: number; rssBytesPerSession: number };
}

const WORKER_FLAG = '--stasis-bench-memory-worker';
const REPORT_PREFIX = 'STASIS_BENCH_MEMORY ';
const WARMUP_SESSIONS = 256;
const SID_BYTES = 16; // 22 base64url characters
const SECRET_BYTES = 24; // 32 base64url characters, like the server's own binding secrets
const DEFAULT_TIMEOUT_MS = 120_000;

/** Measures per-session memory with `sessions` sessions in a fresh `node --expose-gc` child process. */
export async function benchMemory(options: { sessions: number; timeoutMs?: number }): Promise<MemoryResult> {
  const sessions = Math.floor(options.sessions);
  if (!(sessions > 0)) throw new Error(`benchMemory: sessions must be a positive integer, not ${options.sessions}`);
  const script = fileURLToPath(import.meta.url);
  if (/\.[cm]?tsx?$/.test(script)) {
    throw new Error(`benchMemory: ${script} must be compiled to JavaScript first (its worker re-runs this file with node).`);
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const child = spawn(process.execPath, ['--expose-gc', script, WORKER_FLAG, String(sessions)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killChild = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killChild); // never leave the worker behind, even if the caller exits mid-run
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let timer: NodeJS.Timeout | undefined;
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`benchMemory: worker did not finish within ${timeoutMs} ms`)), timeoutMs);
      child.once('error', reject);
      child.once('close', (exitCode) => resolve(exitCode));
    });
    const line = stdout
      .split('\n')
      .reverse()
      .find((l) => l.startsWith(REPORT_PREFIX));
    if (code !== 0 || !line) {
      throw new Error(`benchMemory: worker exited with ${code} and ${line ? 'a' : 'no'} report.\n${stdout}${stderr}`.trimEnd());
    }
    return JSON.parse(line.slice(REPORT_PREFIX.length)) as MemoryResult;
  } finally {
    clearTimeout(timer);
    killChild();
    process.off('exit', killChild);
  }
}

// ——— worker (child process) ———

function noop(): void {}

async function settle(gc: NodeJS.GCFunction): Promise<{ heap: number; rss: number }> {
  // Several rounds with turns of the event loop between them, so finalizers and weak callbacks run too.
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
  gc();
  const { heapUsed, rss } = process.memoryUsage();
  return { heap: heapUsed, rss };
}

async function runWorker(sessions: number): Promise<MemoryResult> {
  const gc = globalThis.gc;
  if (!gc) throw new Error('the memory worker must run with --expose-gc');
  const stasis = await createStasisServer({ app, keys: generateKeySpec('bench'), logger: silentLogger });
  const total = sessions + WARMUP_SESSIONS;
  // Off-heap raw material; indexes [sessions, total) are the warm-up's.
  const sidBytes = randomBytes(total * SID_BYTES);
  const secretBytes = randomBytes(total * SECRET_BYTES);
  const sidAt = (i: number) => sidBytes.toString('base64url', i * SID_BYTES, (i + 1) * SID_BYTES);
  const secretAt = (i: number) => secretBytes.toString('base64url', i * SECRET_BYTES, (i + 1) * SECRET_BYTES);
  const connect = async (i: number) => {
    const channel: LiveChannel = { send: noop, close: noop };
    await stasis.sessions.connect(sidAt(i), channel, secretAt(i));
  };
  const hibernate = async (i: number) => {
    await stasis.sessions.hibernate(sidAt(i), secretAt(i)); // the blob is dropped: the client would hold it
  };

  for (let i = sessions; i < total; i++) await connect(i);
  for (let i = sessions; i < total; i++) await hibernate(i);
  const before = await settle(gc);

  for (let i = 0; i < sessions; i++) await connect(i);
  if (stasis.sessions.liveCount !== sessions) throw new Error(`expected ${sessions} live sessions, found ${stasis.sessions.liveCount}`);
  const live = await settle(gc);

  for (let i = 0; i < sessions; i++) await hibernate(i);
  if (stasis.sessions.liveCount !== 0) throw new Error(`${stasis.sessions.liveCount} sessions still live after hibernating all`);
  const hibernated = await settle(gc);
  await stasis.close();

  const per = (after: { heap: number; rss: number }) => ({
    heapBytesPerSession: Math.round((after.heap - before.heap) / sessions),
    rssBytesPerSession: Math.round((after.rss - before.rss) / sessions),
  });
  return { sessions, live: per(live), hibernated: per(hibernated) };
}

function startedAsWorker(): boolean {
  if (process.argv[2] !== WORKER_FLAG || !process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (startedAsWorker()) {
  runWorker(Number(process.argv[3])).then(
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
