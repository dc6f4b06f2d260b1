import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

const START_TIMEOUT_MS = 10_000;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A free TCP port on 127.0.0.1 (bind to port 0, read it, close). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  if (!port) throw new Error('could not allocate a free port');
  return port;
}

/**
 * Follows a test service's freshly spawned process until `ready()` says it serves, passing its output on.
 * Resolves with undefined once ready, else with why not: it failed to spawn or exited (then its last output
 * is in), or `notReady` after the start timeout.
 */
export async function awaitReady(
  child: ChildProcess,
  binary: string,
  onOutput: (text: string) => void,
  ready: () => Promise<boolean>,
  notReady: string,
): Promise<string | undefined> {
  const closed = once(child, 'close').catch(() => undefined); // stdio drained
  let exited: string | undefined;
  child.stdout!.on('data', (chunk: Buffer) => onOutput(String(chunk)));
  child.stderr!.on('data', (chunk: Buffer) => onOutput(String(chunk)));
  child.once('error', (error) => (exited = `failed to spawn ${binary}: ${error.message}`));
  child.once('exit', (code, signal) => (exited ??= `exited with ${signal ?? code}`));
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited) break;
    if (await ready()) return undefined;
    await sleep(50);
  }
  if (exited) await Promise.race([closed, sleep(500)]);
  return exited ?? `${notReady} within ${START_TIMEOUT_MS} ms`;
}
