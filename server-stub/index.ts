import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { jsonCodec, type Codec } from './codec/json-codec.js';
import { resolveConfig, type ResolvedConfig, type StasisServerOptions } from './config.js';
import { parseKeyRing, type KeyRing } from './envelope/key-ring.js';
import { MemoryLedger } from './ledger.js';
import { consoleLogger } from './logger.js';
import { SessionManager } from './session/session-manager.js';
import { createHttpHandler } from './transport/http-endpoints.js';
import { createLiveSocket } from './transport/live-socket.js';

export type { StasisServerOptions } from './config.js';
export { DEFAULTS } from './config.js';
export type { AppHandlers, SessionContext, StasisApp } from './session/session.js';
export type { Persisted, PersistOptions } from './session/state-registry.js';
export { createJsonCodec, jsonCodec, type Codec, type ClassCodec } from './codec/json-codec.js';
export { parseKeyRing, generateKeySpec, type KeyRing } from './envelope/key-ring.js';
export { MemoryLedger, type Ledger } from './ledger.js';
export { StasisError, StasisCodecError, StasisConfigError } from './errors.js';
export { consoleLogger, silentLogger, type Logger } from './logger.js';

export interface StasisServer {
  readonly config: ResolvedConfig;
  readonly sessions: SessionManager;
  /** Handles a Stasis HTTP request; resolves false when the path is not Stasis's, so the app can. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Connect-style middleware: `app.use(stasis.middleware)`. */
  middleware(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void;
  /** Routes the live channel's WebSocket upgrades of an existing Node server to Stasis. */
  attach(server: Server): void;
  /**
   * Graceful shutdown: seals every live session and pushes its blob to its page, closes the channels (4007),
   * then waits for them to flush, at most `timeoutMs` (default `STASIS_DRAIN_TIMEOUT_MS`, 10 s). Sealing is
   * not cut short (that would lose sessions): about 0.25 ms per session here. Call on SIGTERM.
   */
  drain(timeoutMs?: number): Promise<{ sessions: number; pushed: number; failed: number; flushed: boolean }>;
  close(): void;
}

/**
 * Creates the reference server. Mount it into an existing Node HTTP server with `attach`, or call
 * `handle` from your own request handler.
 */
export async function createStasisServer(options: StasisServerOptions): Promise<StasisServer> {
  const config = resolveConfig(options);
  const logger = options.logger ?? consoleLogger;
  const ring: KeyRing =
    typeof options.keys === 'object' ? options.keys : await parseKeyRing(options.keys ?? process.env.STASIS_KEYS);
  const codecs = new Map<string, Codec>([[jsonCodec.name, jsonCodec]]);
  for (const codec of options.codecs ?? []) codecs.set(codec.name, codec);
  const sessions = new SessionManager({
    ring,
    app: options.app,
    audience: config.audience,
    schema: config.schema,
    ttlSeconds: config.ttlSeconds,
    maxBlobBytes: config.maxBlobBytes,
    warnBlobBytes: config.warnBlobBytes,
    retentionMs: config.retentionMs,
    maxSessionsPerBrowser: config.maxSessionsPerBrowser,
    idleMs: config.idleMs,
    ledger: options.ledger ?? new MemoryLedger(options.now),
    codecs: (name) => codecs.get(name),
    defaultCodec: jsonCodec,
    logger,
    ...(options.now ? { now: options.now } : {}),
  });
  const handle = createHttpHandler(sessions, config, logger, options.now);
  const live = createLiveSocket(sessions, config, logger);

  return {
    config,
    sessions,
    handle,
    middleware(req, res, next) {
      handle(req, res).then((handled) => handled || next(), next);
    },
    attach(server) {
      server.on('upgrade', (req, socket, head) => {
        if (!live.handleUpgrade(req, socket, head)) socket.destroy();
      });
    },
    drain(timeoutMs = config.drainTimeoutMs) {
      return sessions.drain(timeoutMs);
    },
    close() {
      live.close();
      sessions.closeAll();
    },
  };
}
