/**
 * Drain storm: N live WebSocket sessions on the real server CLI, then SIGTERM, and how long until every
 * page holds its pushed blob.
 *
 * Three processes on 127.0.0.1: this one (the conductor), the server CLI (`serverCli`, the built
 * dist/server/cli.js running the demo app) and a client process (this same file run with CLIENT_FLAG)
 * that opens the N sockets, each with its own sid and `stasis_bid` cookie, at most `concurrency` handshakes
 * at a time. Once every socket has had its first app message (the demo's view, sent on connect) the client
 * prints `ready`; the conductor then sends SIGTERM to the server and waits for
 *   - the client's `all-blobs` event: a `stasis:hibernated` message with a non-empty blob on every socket
 *     (`allBlobsMs` = its Date.now() minus the conductor's Date.now() at SIGTERM; same machine, same clock);
 *   - the server's own report `[stasis] drained X/Y sessions in Z ms` (`drainedMs` = Z), which it prints
 *     once every channel has closed (or its drain timeout, STASIS_DRAIN_TIMEOUT_MS, passed).
 * If some socket never gets its blob, `received` < `sessions` and `allBlobsMs` is the time of the last blob
 * that did arrive (reported once every socket has closed; NaN if none did).
 *
 * The client prints JSON lines on stdout ({event, at, ...}). It watches its stdin: if the conductor dies
 * without cleaning up, the client kills the server and exits, so neither outlives it. Normally both children
 * are killed in `finally` (if still running), and the whole run is bounded by `timeoutMs`.
 *
 * Built: this module must stay its own output file (its own rollup entry), because the client re-runs the
 * file `import.meta.url` names. Importing it has no side effect unless the process was started with
 * CLIENT_FLAG as its first argument.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { generateKeySpec } from '../server-stub/envelope/key-ring.js';

export interface DrainResult {
  sessions: number;
  drainedMs: number;
  allBlobsMs: number;
  received: number;
  serverReport: string;
}

export interface DrainStormOptions {
  sessions: number;
  /** Absolute path of the built server CLI (dist/server/cli.js). */
  serverCli: string;
  /** Bound on the whole run, start to finish. Default 120 s. */
  timeoutMs?: number;
  /** WebSocket handshakes in flight at once. Default 200. */
  concurrency?: number;
}

const CLIENT_FLAG = '--stasis-bench-ws-clients';
const DEFAULT_TIMEOUT_MS = 120_000;
const DEFAULT_CONCURRENCY = 200;
const DRAINED = /\[stasis\] drained (\d+)\/(\d+) sessions in (\d+) ms[^\n]*/;
const LISTENING = /listening on http:\/\/127\.0\.0\.1:(\d+)\//;

/** Events the client process prints, one JSON object a line. */
type ClientEvent =
  | { event: 'progress'; at: number; ready: number }
  | { event: 'ready'; at: number; ready: number }
  | { event: 'all-blobs'; at: number; received: number }
  | { event: 'done'; at: number; received: number; lastBlobAt: number; closeCodes: Record<string, number> }
  | { event: 'error'; at: number; message: string };

export async function benchDrainStorm(options: DrainStormOptions): Promise<DrainResult> {
  const sessions = Math.floor(options.sessions);
  if (!(sessions > 0)) throw new Error(`benchDrainStorm: sessions must be a positive integer, not ${options.sessions}`);
  const script = fileURLToPath(import.meta.url);
  if (/\.[cm]?tsx?$/.test(script)) {
    throw new Error(`benchDrainStorm: ${script} must be compiled to JavaScript first (its client re-runs this file with node).`);
  }
  const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? DEFAULT_CONCURRENCY));
  const children: Child[] = [];
  const killAll = () => {
    for (const child of children) child.kill();
  };
  process.once('exit', killAll); // never leave a child behind, even if the caller exits mid-run

  try {
    const server = new Child('server', process.execPath, [options.serverCli, '--port', '0', '--host', '127.0.0.1'], {
      ...process.env,
      STASIS_KEYS: generateKeySpec('bench'),
      STASIS_MAX_SESSIONS_PER_BROWSER: '1000000',
    });
    children.push(server);
    const port = Number((await server.waitForOutput(LISTENING, deadline))[1]);

    const url = `ws://127.0.0.1:${port}/stasis/live`;
    const clientArgs = [script, CLIENT_FLAG, url, String(sessions), String(concurrency), String(server.pid ?? 0)];
    const client = new Child('client', process.execPath, clientArgs, process.env);
    children.push(client);
    // No deadline of its own (the waits it is raced with have theirs); settles when the client fails or exits.
    const failed = client.waitForEvent('error', Infinity).then((e) => {
      throw new Error(`benchDrainStorm: client failed: ${e.message}`);
    });
    failed.catch(() => {}); // raced below; never unhandled
    await Promise.race([client.waitForEvent('ready', deadline), failed]);

    const sigtermAt = Date.now();
    server.signal('SIGTERM');
    const blobs = Promise.race([client.waitForEvent('all-blobs', deadline), client.waitForEvent('done', deadline), failed]);
    const [drained, lastBlob] = await Promise.all([server.waitForOutput(DRAINED, deadline), blobs]);
    const { received } = lastBlob;
    const lastBlobAt = lastBlob.event === 'all-blobs' ? lastBlob.at : lastBlob.lastBlobAt;
    return {
      sessions,
      drainedMs: Number(drained[3]),
      allBlobsMs: received > 0 ? lastBlobAt - sigtermAt : NaN,
      received,
      serverReport: drained[0].trim(),
    };
  } finally {
    killAll();
    await Promise.all(children.map((child) => child.exited));
    process.off('exit', killAll);
  }
}

/** A child process whose output is collected and waited on, each wait until a deadline (Infinity: until the child exits). */
class Child {
  readonly #process: ChildProcess;
  readonly exited: Promise<void>;
  #output = '';
  #pending = '';
  readonly #events: ClientEvent[] = [];
  readonly #listeners = new Set<() => void>();
  #exit: string | undefined;

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv,
  ) {
    this.#process = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise<void>((resolve) => {
      // 'close', not 'exit': by then everything the child printed has been read.
      this.#process.once('close', (code, signal) => {
        this.#exit = `exited with ${signal ?? code}`;
        this.#notify();
        resolve();
      });
      this.#process.once('error', (error) => {
        this.#exit = `failed to start: ${error.message}`;
        this.#notify();
        resolve();
      });
    });
    this.#process.stdin?.on('error', () => {}); // EPIPE when the child is gone
    this.#process.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#output += chunk;
      this.#pending += chunk;
      const lines = this.#pending.split('\n');
      this.#pending = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        try {
          this.#events.push(JSON.parse(line) as ClientEvent);
        } catch {
          // not one of ours
        }
      }
      this.#notify();
    });
    this.#process.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#output += chunk;
    });
  }

  get pid(): number | undefined {
    return this.#process.pid;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.#running) this.#process.kill(signal);
  }

  kill(): void {
    if (this.#running) this.#process.kill('SIGKILL');
  }

  get #running(): boolean {
    return this.#process.exitCode === null && this.#process.signalCode === null && this.#exit === undefined;
  }

  waitForOutput(pattern: RegExp, deadline: number): Promise<RegExpExecArray> {
    return this.#waitFor(`output ${pattern}`, deadline, () => pattern.exec(this.#output) ?? undefined);
  }

  waitForEvent<E extends ClientEvent['event']>(event: E, deadline: number): Promise<Extract<ClientEvent, { event: E }>> {
    return this.#waitFor(`event "${event}"`, deadline, () =>
      this.#events.find((e): e is Extract<ClientEvent, { event: E }> => e.event === event),
    );
  }

  #waitFor<T>(what: string, deadline: number, check: () => T | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.#listeners.delete(poll);
      };
      const poll = () => {
        const found = check();
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (this.#exit !== undefined) {
          done();
          reject(new Error(`benchDrainStorm: ${this.name} ${this.#exit} before ${what}.\n${this.#tail()}`));
        }
      };
      const timer =
        deadline === Infinity
          ? undefined
          : setTimeout(() => {
              done();
              reject(new Error(`benchDrainStorm: timed out waiting for the ${this.name}'s ${what}.\n${this.#tail()}`));
            }, Math.max(0, deadline - Date.now()));
      this.#listeners.add(poll);
      poll();
    });
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  #tail(): string {
    return this.#output.slice(-4000);
  }
}

// ——— client (child process) ———

async function runClients(url: string, sessions: number, concurrency: number, serverPid: number): Promise<void> {
  const emit = (event: ClientEvent) => process.stdout.write(`${JSON.stringify(event)}\n`);
  // The conductor holds our stdin. If it goes away without cleaning up (killed), we take the server with us:
  // the CLI has no such watch of its own. (When the conductor cleans up, it kills us first.)
  const orphaned = () => {
    try {
      if (serverPid > 0) process.kill(serverPid, 'SIGKILL');
    } catch {
      // already gone
    }
    process.exit(0);
  };
  process.stdin.on('end', orphaned);
  process.stdin.on('error', orphaned);
  process.stdin.resume();

  let ready = 0;
  let received = 0;
  let closed = 0;
  let lastBlobAt = 0;
  let draining = false;
  const closeCodes: Record<string, number> = {};

  const finishIfAllClosed = () => {
    if (!draining || closed < sessions) return;
    emit({ event: 'done', at: Date.now(), received, lastBlobAt, closeCodes });
    process.exit(0);
  };

  const open = () =>
    new Promise<void>((resolve, reject) => {
      const sid = randomBytes(16).toString('base64url');
      const bid = randomBytes(24).toString('base64url');
      const socket = new WebSocket(`${url}?sid=${sid}`, {
        headers: { cookie: `stasis_bid=${bid}` },
        perMessageDeflate: false,
        handshakeTimeout: 30_000,
      });
      let first = false;
      let blob = false;
      socket.on('message', (data, isBinary) => {
        if (!first) {
          first = true; // the app's first message (the demo's view): this session is live
          ready++;
          resolve();
          return;
        }
        if (blob || isBinary) return;
        let message: { type?: unknown; blob?: unknown };
        try {
          message = JSON.parse((data as Buffer).toString()) as typeof message; // ws's default binaryType: a Buffer
        } catch {
          return;
        }
        if (message.type === 'stasis:hibernated' && typeof message.blob === 'string' && message.blob.length > 0) {
          blob = true;
          received++;
          lastBlobAt = Date.now();
          if (received === sessions) emit({ event: 'all-blobs', at: lastBlobAt, received });
        }
      });
      socket.on('error', (error) => {
        if (!first) reject(error);
      });
      socket.on('close', (code) => {
        if (!first) {
          reject(new Error(`socket closed with ${code} before its first message`));
          return;
        }
        closed++;
        closeCodes[code] = (closeCodes[code] ?? 0) + 1;
        finishIfAllClosed();
      });
    });

  // A bounded pool of handshakes; a connection that fails under load is retried a few times.
  let next = 0;
  let reported = 0;
  const worker = async () => {
    while (next < sessions) {
      next++;
      for (let attempt = 1; ; attempt++) {
        try {
          await open();
          break;
        } catch (error) {
          if (attempt >= 3) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
        }
      }
      if (ready - reported >= 1000) emit({ event: 'progress', at: Date.now(), ready: (reported = ready) });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, sessions) }, worker));
  draining = true;
  emit({ event: 'ready', at: Date.now(), ready });
  finishIfAllClosed();
}

function startedAsClient(): boolean {
  if (process.argv[2] !== CLIENT_FLAG || !process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (startedAsClient()) {
  const [url, sessions, concurrency, serverPid] = process.argv.slice(3);
  runClients(String(url), Number(sessions), Number(concurrency), Number(serverPid)).catch((error: unknown) => {
    process.stdout.write(`${JSON.stringify({ event: 'error', at: Date.now(), message: String((error as Error)?.message ?? error) })}\n`);
    process.exit(1);
  });
}
