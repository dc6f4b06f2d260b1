import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import type { HealthResponse } from '../../../src/protocol/index.js';
import { generateKeySpec } from '../../../server-stub/envelope/key-ring.js';

const CLI = resolve(import.meta.dirname, '../../../dist/server/cli.js');

/** The real reference server (the built CLI running the demo) as a child process on loopback. */
export class ServerProcess {
  #child: ChildProcess | undefined;
  #output = '';
  port = 0;

  private constructor(
    readonly keys: string,
    private readonly env: Record<string, string>,
  ) {}

  /** Settings the process was (re)started with. */
  get settings(): Readonly<Record<string, string>> {
    return { STASIS_KEYS: this.keys, ...this.env };
  }

  static async start(env: Record<string, string> = {}): Promise<ServerProcess> {
    const server = new ServerProcess(env.STASIS_KEYS ?? generateKeySpec('e2e'), env);
    await server.#spawn(0);
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get output(): string {
    return this.#output;
  }

  /**
   * Stops the process and starts a new one on the same port, with the same key ring unless `env`
   * changes it (a deploy: new schema, rotated keys).
   */
  async restart(env: Record<string, string> = {}): Promise<void> {
    await this.stop();
    Object.assign(this.env, env);
    await this.#spawn(this.port);
  }

  /** Sends SIGTERM (a deploy) and waits for the process to drain and exit; returns its exit code. */
  async terminate(): Promise<number | null> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null) return child?.exitCode ?? null;
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    child.kill('SIGTERM');
    const [code, signal] = await exited;
    if (code === null) this.#output += `\n[test] process ended by ${signal} instead of exiting after its drain\n`;
    return code;
  }

  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  }

  async health(sid?: string): Promise<HealthResponse> {
    const response = await fetch(`${this.url}/stasis/health${sid ? `?sid=${sid}` : ''}`);
    return (await response.json()) as HealthResponse;
  }

  async #spawn(port: number): Promise<void> {
    const child = spawn(process.execPath, [CLI, '--host', '127.0.0.1', '--port', String(port)], {
      env: { ...process.env, STASIS_KEYS: this.keys, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    const from = this.#output.length;
    const listening = new Promise<number>((resolvePort, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start:\n${this.#output}`)), 10_000);
      child.stdout.on('data', (chunk: Buffer) => {
        this.#output += chunk.toString();
        // Only this process's output: after a restart the previous one's line is still in #output.
        const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(this.#output.slice(from));
        if (match) {
          clearTimeout(timer);
          resolvePort(Number(match[1]));
        }
      });
      child.stderr.on('data', (chunk: Buffer) => (this.#output += chunk.toString()));
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}:\n${this.#output}`));
      });
    });
    this.port = await listening;
  }
}
