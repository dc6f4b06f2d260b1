import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import type { HealthResponse } from '../../../src/protocol/index.js';
import { generateKeySpec } from '../../../server-stub/envelope/key-ring.js';

export const EXAMPLES_DIR = resolve(import.meta.dirname, '../../../examples');
export type ExampleName = 'express-todo' | 'fastify-notes' | 'socket-io-board';

/**
 * One of the example apps (`node server.js` in examples/<name>, Stasis installed from the npm pack tarball by
 * scripts/examples.sh) as a child process on loopback: PORT=0 first, then the same port and the same
 * STASIS_KEYS on every restart, as a deploy of the same app would.
 */
export class ExampleProcess {
  #child: ChildProcess | undefined;
  #output = '';
  port = 0;

  private constructor(
    readonly name: ExampleName,
    readonly keys: string,
    private readonly env: Record<string, string>,
  ) {}

  static async launch(name: ExampleName, env: Record<string, string> = {}): Promise<ExampleProcess> {
    const app = new ExampleProcess(name, env.STASIS_KEYS ?? generateKeySpec('e2e'), env);
    await app.start();
    return app;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Everything every process of this app printed (stdout and stderr), with a line per start and stop. */
  get output(): string {
    return this.#output;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Starts the app (again): on the port it had before, or a free one the first time. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    const child = spawn(process.execPath, ['server.js'], {
      cwd: resolve(EXAMPLES_DIR, this.name),
      env: { ...process.env, ...this.env, PORT: String(this.port), HOST: '127.0.0.1', STASIS_KEYS: this.keys },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    this.#output += `[test] starting ${this.name} on port ${this.port || '(any)'}\n`;
    const from = this.#output.length;
    this.port = await new Promise<number>((resolvePort, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} did not start within 10 s:\n${this.#output}`)), 10_000);
      child.stdout.on('data', (chunk: Buffer) => {
        this.#output += chunk.toString();
        // Only this process's output: after a restart the previous one's line is still in #output.
        const match = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(this.#output.slice(from));
        if (match) {
          clearTimeout(timer);
          resolvePort(Number(match[1]));
        }
      });
      child.stderr.on('data', (chunk: Buffer) => (this.#output += chunk.toString()));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        this.#output += `[test] ${this.name} exited (${signal ?? code})\n`;
        reject(new Error(`${this.name} exited with ${signal ?? code} before listening:\n${this.#output}`));
      });
    });
  }

  /** A crash and a restart: SIGKILL (no drain), then the app again on the same port with the same keys. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** SIGTERM (a deploy): waits for the drain and the exit (at most 15 s); returns the exit code. */
  async terminate(): Promise<number | null> {
    const child = this.#child;
    this.#child = undefined;
    if (!child) return null;
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const [code, signal] = await exited.finally(() => clearTimeout(timer));
    if (code === null) this.#output += `[test] ${this.name} ended by ${signal} instead of exiting after its drain\n`;
    return code;
  }

  /** SIGKILL, if it still runs. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  async health(sid?: string): Promise<HealthResponse> {
    const response = await fetch(`${this.url}/stasis/health${sid ? `?sid=${encodeURIComponent(sid)}` : ''}`);
    return (await response.json()) as HealthResponse;
  }

  /** A request to the app's own routes: status and parsed JSON body. */
  async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; type: string; json: any }> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }),
    });
    return { status: response.status, type: response.headers.get('content-type') ?? '', json: await response.json() };
  }
}
