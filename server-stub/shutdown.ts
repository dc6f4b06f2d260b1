import type { StasisServer } from './index.js';

/** Something that stops accepting connections: a node:http / https Server, `fastify.server`, … */
export interface ClosableServer {
  close(callback?: (error?: Error) => void): unknown;
}

export interface DrainOnSignalsOptions {
  /** Servers to close once the sessions are drained. */
  servers?: ClosableServer[];
  /** Default SIGTERM (a deploy, Kubernetes) and SIGINT (Ctrl-C). */
  signals?: NodeJS.Signals[];
  /** Exit the process when done (default true): 0 after a drain, 1 when the server never started. */
  exit?: boolean;
  /** Runs after the drain, before the servers close: close your own resources here. */
  onDrained?(report: Awaited<ReturnType<StasisServer['drain']>>): void | Promise<void>;
  /** Where the one-line report goes. Default console.log. */
  log?: (line: string) => void;
}

/** Longest wait for servers and Stasis's own connections to close after a drain, before exiting anyway. */
export const SHUTDOWN_GRACE_MS = 2000;

/**
 * The one-liner for a graceful shutdown: on SIGTERM or SIGINT, `drain()` (every live session's blob goes to
 * its page, which resumes on the next instance), then close Stasis and the given servers and exit.
 * Opt-in: importing Stasis installs nothing. The handlers are installed at once, so a signal that comes
 * while `stasis` is still starting (a quick redeploy) waits for it instead of killing the process; repeated
 * signals during a drain are ignored. Returns a function that removes the handlers.
 *
 *   drainOnSignals(stasis, { servers: [server] });
 */
export function drainOnSignals(stasis: StasisServer<unknown> | Promise<StasisServer<unknown>>, options: DrainOnSignalsOptions = {}): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const log = options.log ?? ((line: string) => console.log(line));
  const exit = options.exit ?? true;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      let server: StasisServer<unknown>;
      try {
        server = await stasis;
      } catch {
        if (exit) process.exit(1);
        return;
      }
      const started = Date.now();
      const report = await server.drain();
      log(
        `[stasis] drained ${report.pushed}/${report.sessions} sessions in ${Date.now() - started} ms` +
          `${report.failed ? `, ${report.failed} failed` : ''}${report.flushed ? '' : ' (timed out waiting for flushes)'} (${signal})`,
      );
      await options.onDrained?.(report);
      // Stasis lets its channels and stores go in the background; the process waits only for the servers
      // (their answers still on the way get out), at most SHUTDOWN_GRACE_MS.
      const stopped = server.close().catch(() => undefined);
      const closed = Promise.all(
        (options.servers ?? []).map((http) => new Promise<void>((resolve) => http.close(() => resolve()))),
      );
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref())]);
      if (!exit) await stopped;
      if (exit) process.exit(0);
    })();
  };
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}
