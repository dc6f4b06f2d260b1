import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { jsonCodec, type Codec } from './codec/json-codec.js';
import { resolveConfig, type ResolvedConfig, type StasisServerOptions } from './config.js';
import { parseKeyRing, type KeyRing } from './envelope/key-ring.js';
import { MemoryLedger, type Ledger } from './ledger.js';
import { consoleLogger } from './logger.js';
import { Metrics } from './metrics.js';
import { connectRedis, whenReady } from './redis/redis-client.js';
import { RedisFleet } from './redis/redis-fleet.js';
import { RedisLedger } from './redis/redis-ledger.js';
import { RedisStore } from './redis/redis-store.js';
import { MemoryStore } from './store/memory-store.js';
import { StoreChain } from './store/store-chain.js';
import { SessionManager } from './session/session-manager.js';
import { createHttpHandler } from './transport/http-endpoints.js';
import { createLiveSocket } from './transport/live-socket.js';

export type { StasisServerOptions } from './config.js';
export { DEFAULTS } from './config.js';
export type { AppHandlers, SessionContext, StasisApp } from './session/session.js';
export type { Persisted, PersistOptions } from './session/state-registry.js';
export { createJsonCodec, jsonCodec, type Codec, type ClassCodec } from './codec/json-codec.js';
export { parseKeyRing, generateKeySpec, type KeyRing } from './envelope/key-ring.js';
export { MemoryLedger, type Ledger, type LedgerClaim, type LedgerVerdict } from './ledger.js';
export type { SessionStore, StoredBlob } from './store/session-store.js';
export { MemoryStore, MEMORY_STORE_DEFAULTS } from './store/memory-store.js';
export { CircuitBreaker, BREAKER_DEFAULTS, type BreakerState } from './store/circuit-breaker.js';
export { storeContract } from './store/contract.js';
export { RedisStore } from './redis/redis-store.js';
export { RedisLedger } from './redis/redis-ledger.js';
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
  /** Ends every live session and releases the stores' and Redis connections. */
  close(): Promise<void>;
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
  const metrics = new Metrics();
  // Redis, when configured, carries everything a fleet shares: ledger, owners and handovers, a store.
  const redisOptions = config.redisUrl ? { url: config.redisUrl, prefix: config.redisPrefix, commandTimeoutMs: config.storeTimeoutMs } : undefined;
  // One command connection for ledger, store and fleet (plus the fleet's subscriber connection).
  const client = redisOptions ? connectRedis(redisOptions, 'server') : undefined;
  const redis = client ? { client, prefix: config.redisPrefix } : undefined;
  if (client && !(await whenReady(client, 5000))) {
    logger.error(`Redis at ${redactUrl(config.redisUrl!)} is not reachable yet; resumes answer "unavailable" until it is.`);
  }
  const ledger: Ledger = options.ledger ?? (redis ? new RedisLedger(redis, options.now) : new MemoryLedger(options.now));
  const fleet = redisOptions
    ? new RedisFleet({ ...redisOptions, client: client!, ownerTtlMs: config.ttlSeconds * 1000, handoverTimeoutMs: config.handoverTimeoutMs, logger })
    : undefined;
  const stores = new StoreChain(
    config.stores.map((store) =>
      store === 'memory'
        ? new MemoryStore({ ...config.memoryStore, ...(options.now ? { now: options.now } : {}) })
        : store === 'redis'
          ? new RedisStore(redis!, options.now)
          : store,
    ),
    config.breaker,
    metrics,
    logger,
  );
  await fleet?.ready();
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
    metrics,
    ledger,
    stores,
    ...(fleet ? { fleet } : {}),
    checkpointMs: config.checkpointMs,
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
    async close() {
      live.close();
      sessions.closeAll();
      await Promise.all([stores.close(), fleet?.close(), options.ledger ? undefined : ledger.close?.()]);
      client?.disconnect();
    },
  };
}

/** A Redis URL without its password, for logs. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
