import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { awaitReady, freePort } from './service-process.js';

export { freePort };

const REDIS_SERVER = process.env.REDIS_SERVER_PATH ?? '/usr/bin/redis-server';
const STOP_GRACE_MS = 3_000;

/** Whether the redis-server binary is there (scripts/ensure-services.sh installs it). */
export function redisAvailable(): boolean {
  try {
    accessSync(REDIS_SERVER, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Sends PING over a raw socket; resolves true on `+PONG`, false on any error or timeout. */
function ping(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

// Last resort if a test forgets stop(): don't leave redis-server processes behind when this process exits.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** A real Debian redis-server child process on 127.0.0.1, a free port, and a temp dir (no persistence). */
export class RedisServer {
  #child: ChildProcess | undefined;
  #dir: string | undefined;
  #output = '';

  private constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    // The port is free when picked but could be taken before redis binds it: retry a couple of times.
    for (let attempt = 1; ; attempt++) {
      const server = new RedisServer(await freePort());
      try {
        await server.#spawn();
        return server;
      } catch (error) {
        if (attempt >= 3 || !/address already in use/i.test(String(error))) throw error;
      }
    }
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    const child = this.#child;
    return !!child && child.exitCode === null && child.signalCode === null;
  }

  /** Everything the current process has written to stdout/stderr. */
  get output(): string {
    return this.#output;
  }

  /** SIGTERM, then SIGKILL after 3 s; waits for exit and removes the temp dir. */
  async stop(): Promise<void> {
    await this.#terminate('SIGTERM');
    this.#removeDir();
  }

  /** SIGKILL (a crash). The temp dir stays until stop(). */
  async kill(): Promise<void> {
    await this.#terminate('SIGKILL');
  }

  /** SIGSTOP: a hang. Connections stay open and commands queue in the socket until `unpause()`. */
  pause(): void {
    this.#child?.kill('SIGSTOP');
  }

  /** SIGCONT: the hung server runs every queued command, in order. */
  unpause(): void {
    this.#child?.kill('SIGCONT');
  }

  /** Starts a fresh redis-server on the same port (after stop() or kill(); stops a running one first). */
  async restart(): Promise<void> {
    await this.#terminate('SIGTERM');
    await this.#spawn();
  }

  async #terminate(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    if (signal !== 'SIGKILL') child.kill('SIGCONT'); // a paused server would never see the SIGTERM
    const timer = signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }

  #removeDir(): void {
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }

  async #spawn(): Promise<void> {
    this.#dir ??= mkdtempSync(join(tmpdir(), 'stasis-redis-'));
    this.#output = '';
    const args = [
      '--port', String(this.port),
      '--bind', '127.0.0.1',
      '--save', '',
      '--appendonly', 'no',
      '--dir', this.#dir,
      '--protected-mode', 'yes',
      '--daemonize', 'no',
      '--loglevel', 'warning',
    ];
    const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    live.add(child);
    child.once('exit', () => live.delete(child));
    const reason = await awaitReady(child, REDIS_SERVER, (text) => (this.#output += text), () => ping(this.port), `did not answer PING on port ${this.port}`);
    if (!reason) return;
    await this.#terminate('SIGKILL');
    this.#removeDir();
    throw new Error(`redis-server ${reason}:\n${this.#output}`);
  }
}
