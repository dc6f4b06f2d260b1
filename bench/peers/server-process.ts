/**
 * One peer's server in a child process of its own (`node --expose-gc`, this file run with WORKER_FLAG), so
 * that its CPU time and heap are the server's alone: the clients run in the conductor. The conductor asks it
 * over the IPC channel for its CPU time (process.cpuUsage, user + system), its heap after forced GCs (as
 * bench/memory.ts settles it) and its session counts, and tells it to stop. A child whose conductor goes away
 * (the IPC channel disconnects) exits.
 *
 * Built: this module must stay its own output file (its own rollup entry, dist/bench/peers-server.js),
 * because the child re-runs the file `import.meta.url` names. Importing it has no side effect unless the
 * process was started with WORKER_FLAG as its first argument.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { settledHeap, type HeapReading } from '../settled-heap.js';
import type { ServerKind } from './peer.js';
import type { PeerServer, ServerCounts } from './servers/peer-server.js';

export type { ServerCounts } from './servers/peer-server.js';

const WORKER_FLAG = '--stasis-bench-peer-server';
const START_TIMEOUT_MS = 20_000;
const REQUEST_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 5_000;

export interface ServerOptions {
  /** The Redis the HMAC + Redis server stores sessions in. */
  redisPort?: number;
}

export type { HeapReading } from '../settled-heap.js';

type Op = 'cpu' | 'heap' | 'counts' | 'close';
interface Request {
  id: number;
  op: Op;
}
type Reply = { id: number; value: unknown } | { id: number; error: string };
type Hello = { ready: number } | { failed: string };

/** The conductor's handle on one server process. */
export class ServerProcess {
  readonly base: string;
  #next = 1;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  readonly #exited: Promise<unknown>;
  readonly #kill = () => this.child.kill('SIGKILL');

  private constructor(
    readonly kind: ServerKind,
    private readonly child: ChildProcess,
    port: number,
  ) {
    this.base = `http://127.0.0.1:${port}`;
    this.#exited = once(child, 'exit');
    process.once('exit', this.#kill); // never leave the server behind, even if the conductor exits mid-run
    child.on('message', (message: Reply) => {
      const waiter = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      if ('error' in message) waiter?.reject(new Error(`${kind} server: ${message.error}`));
      else waiter?.resolve(message.value);
    });
    child.once('exit', (code, signal) => {
      for (const waiter of this.#pending.values()) waiter.reject(new Error(`${kind} server exited (${signal ?? code})`));
      this.#pending.clear();
    });
  }

  static async start(kind: ServerKind, options: ServerOptions = {}): Promise<ServerProcess> {
    const script = fileURLToPath(import.meta.url);
    if (/\.[cm]?tsx?$/.test(script)) throw new Error(`${script} must be compiled to JavaScript first (its child re-runs this file with node).`);
    const child = fork(script, [WORKER_FLAG, kind, JSON.stringify(options)], {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      const hello = await new Promise<Hello>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`the ${kind} server did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
        child.once('message', (message: Hello) => resolve(message));
        child.once('error', reject);
        child.once('exit', (code, signal) => reject(new Error(`the ${kind} server exited (${signal ?? code}) while starting`)));
      });
      if ('failed' in hello) throw new Error(`the ${kind} server did not start: ${hello.failed}`);
      return new ServerProcess(kind, child, hello.ready);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The server's CPU time so far (user + system), microseconds. */
  async cpuMicros(): Promise<number> {
    return (await this.#request('cpu')) as number;
  }

  /** heapUsed and rss after forced GCs. */
  async heap(): Promise<HeapReading> {
    return (await this.#request('heap')) as HeapReading;
  }

  async counts(): Promise<ServerCounts> {
    return (await this.#request('counts')) as ServerCounts;
  }

  /** Polls the counts until `done` holds (the server has seen every close); rejects after `timeoutMs`. */
  async waitForCounts(done: (counts: ServerCounts) => boolean, what: string, timeoutMs = 60_000): Promise<ServerCounts> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const counts = await this.counts();
      if (done(counts)) return counts;
      if (Date.now() > deadline) throw new Error(`${this.kind} server: ${what} not reached within ${timeoutMs} ms (${JSON.stringify(counts)})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Closes the server and waits for the process to exit (SIGKILL after 5 s). */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const timer = setTimeout(this.#kill, STOP_GRACE_MS);
      await this.#request('close').catch(() => this.#kill());
      await this.#exited;
      clearTimeout(timer);
    }
    process.off('exit', this.#kill);
  }

  #request(op: Op): Promise<unknown> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.kind} server: no answer to ${op} within ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      const settle = <T>(f: (value: T) => void) => (value: T) => {
        clearTimeout(timer);
        f(value);
      };
      this.#pending.set(id, { resolve: settle(resolve), reject: settle(reject) });
      this.child.send({ id, op } satisfies Request);
    });
  }
}

// ——— the child ———

/**
 * Loads only the server the process runs: a child starts in a fraction of the time it takes to load ws,
 * Socket.IO, ioredis and the Stasis server together, and the conductor loads none of them. (rollup.config.mjs
 * puts these chunks under dist/bench/chunks, out of the package's dist/server.)
 */
async function startServer(kind: ServerKind, options: ServerOptions): Promise<PeerServer> {
  switch (kind) {
    case 'floor':
      return (await import('./servers/floor.js')).startFloorServer();
    case 'socket-io':
      return (await import('./servers/socket-io.js')).startSocketIoServer();
    case 'hmac-redis':
      if (!options.redisPort) throw new Error('the hmac-redis server needs a redisPort');
      return (await import('./servers/hmac-redis.js')).startHmacRedisServer({ redisPort: options.redisPort });
    case 'stasis':
      return (await import('./servers/stasis.js')).startStasisServer();
  }
}

async function runChild(kind: ServerKind, options: ServerOptions): Promise<void> {
  const gc = globalThis.gc;
  if (!gc) throw new Error('the server process must run with --expose-gc');
  const server = await startServer(kind, options);
  const send = (message: Reply | Hello, then?: () => void) => process.send!(message, undefined, {}, then);
  process.on('disconnect', () => process.exit(0)); // the conductor is gone
  process.on('message', (request: Request) => {
    const answer = async (): Promise<unknown> => {
      switch (request.op) {
        case 'cpu': {
          const { user, system } = process.cpuUsage();
          return user + system;
        }
        case 'heap':
          return settledHeap(gc);
        case 'counts':
          return server.counts();
        case 'close':
          await server.close();
          return true;
      }
    };
    answer().then(
      (value) => send({ id: request.id, value }, request.op === 'close' ? () => process.exit(0) : undefined),
      (error: unknown) => send({ id: request.id, error: (error as Error)?.stack ?? String(error) }),
    );
  });
  send({ ready: server.port });
}

function startedAsChild(): boolean {
  if (process.argv[2] !== WORKER_FLAG || !process.argv[1] || !process.send) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (startedAsChild()) {
  runChild(process.argv[3] as ServerKind, JSON.parse(process.argv[4] ?? '{}') as ServerOptions).catch((error: unknown) => {
    process.send?.({ failed: (error as Error)?.stack ?? String(error) } satisfies Hello);
    process.exitCode = 1;
    process.disconnect?.();
  });
}
