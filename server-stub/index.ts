import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { bindingSetCookie, connectChannel, type ConnectChannelOptions, type StasisConnection } from './channel/connection.js';
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
import { createLiveSocket, type WebSocketServerClass } from './transport/live-socket.js';
import { createResumeGate } from './transport/resume-gate.js';
import { defaultAssetsDir } from './transport/page-assets.js';
import type { ParsedBody } from './transport/request-body.js';
import { routeUpgrades, type UpgradeServer } from './transport/upgrade-router.js';
import type { AppHandlers } from './session/session.js';

export type { StasisServerOptions } from './config.js';
export { DEFAULTS } from './config.js';
export type { AppHandlers, SessionContext, StasisApp } from './session/session.js';
export { closeFor, type ChannelSocket, type ConnectChannelOptions, type StasisConnection } from './channel/connection.js';
export { drainOnSignals, SHUTDOWN_GRACE_MS, type DrainOnSignalsOptions, type ClosableServer } from './shutdown.js';
export type { ParsedBody } from './transport/request-body.js';
export { CLOSE_CODES, PUSH_MESSAGE, OUTCOMES, HTTP_STATUS, type Outcome, type FailureCode, type FailoverAnswer, type FailoverKind } from '../src/protocol/index.js';
export type { Persisted, PersistOptions } from './session/state-registry.js';
export { createJsonCodec, jsonCodec, type Codec, type ClassCodec } from './codec/json-codec.js';
export { parseKeyRing, generateKeySpec, type KeyRing } from './envelope/key-ring.js';
export { MemoryLedger, type Ledger, type LedgerClaim, type LedgerVerdict } from './ledger.js';
export type { SessionStore, StoredBlob } from './store/session-store.js';
export { MemoryStore, MEMORY_STORE_DEFAULTS } from './store/memory-store.js';
export { CircuitBreaker, BREAKER_DEFAULTS, type BreakerState } from './store/circuit-breaker.js';
export { storeContract } from './store/contract.js';
export { StasisError, StasisCodecError, StasisConfigError, StasisCapacityError } from './errors.js';
export { consoleLogger, silentLogger, type Logger } from './logger.js';

export interface StasisServer<A = AppHandlers | void> {
  readonly config: ResolvedConfig;
  readonly sessions: SessionManager;
  /**
   * node:http: handles a request under the base path (the endpoints and the page bundles) and resolves true;
   * resolves false for any other path, so the app can. `parsed.body`: what a body parser already read.
   */
  handle(req: IncomingMessage, res: ServerResponse, parsed?: ParsedBody): Promise<boolean>;
  /**
   * Express 4/5 and Connect: `app.use(stasis.middleware)`, before or after `express.json()` (a body it
   * parsed is used). Answers only under the base path and calls `next()` for everything else.
   */
  middleware: (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;
  /**
   * Takes a WebSocket upgrade of the live channel (`{basePath}/live`) and returns true; returns false and
   * leaves the socket untouched for any other path. For servers that route upgrades themselves.
   */
  handleUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;
  /**
   * Serves the live channel on an existing server: takes only upgrades of `{basePath}/live` and leaves every
   * other upgrade to the server's other listeners (ws, Socket.IO, …), added before or after. Returns a
   * function that stops it.
   */
  attach(server: UpgradeServer): () => void;
  /**
   * Bring your own live channel: binds the session `sid` to a socket your app owns. Resolves with the
   * session and what the app factory returned for it; rejects with a StasisError (see `closeFor` for the
   * close code to answer with). The ws and Socket.IO adapters (`stasis/ws`, `stasis/socket.io`) call this.
   */
  connectChannel(options: ConnectChannelOptions): Promise<StasisConnection<A>>;
  /**
   * For a transport of your own: the Set-Cookie header value to send with the answer to `request` (your
   * handshake), so the browser holds its binding cookie from its first connection; undefined when it has one.
   * Send it, or a blob pushed before the page's first hibernate (drain, idle, checkpoint) cannot resume.
   */
  bindingCookie(request: IncomingMessage): string | undefined;
  /**
   * Graceful shutdown: seals every live session and pushes its blob to its page, closes the channels (4007),
   * then waits for them to flush, at most `timeoutMs` (default `STASIS_DRAIN_TIMEOUT_MS`, 10 s). Sealing is
   * not cut short (that would lose sessions): about 0.25 ms per session here. `drainOnSignals(stasis)` wires
   * it to SIGTERM/SIGINT.
   */
  drain(timeoutMs?: number): Promise<{ sessions: number; pushed: number; failed: number; flushed: boolean }>;
  /** Ends every live session and releases the stores' and Redis connections. */
  close(): Promise<void>;
}

/**
 * Creates the reference server. Mount it with `handle` (node:http), `middleware` (Express, Connect) or the
 * Fastify plugin (`stasis/fastify`); serve its live channel with `attach`, or bring your own socket.
 */
export async function createStasisServer<A = AppHandlers | void>(
  options: StasisServerOptions<A>,
): Promise<StasisServer<A>> {
  const config = resolveConfig(options);
  const logger = options.logger ?? consoleLogger;
  const ring: KeyRing =
    typeof options.keys === 'object' ? options.keys : await parseKeyRing(options.keys ?? process.env.STASIS_KEYS);
  const codecs = new Map<string, Codec>([[jsonCodec.name, jsonCodec]]);
  for (const codec of options.codecs ?? []) codecs.set(codec.name, codec);
  const metrics = new Metrics();
  // Redis (one server or a Redis Cluster), when configured, carries everything a fleet shares: ledger, owners
  // and handovers, a store.
  const where = { prefix: config.redisPrefix, commandTimeoutMs: config.storeTimeoutMs };
  const redisOptions = config.redisCluster
    ? { ...where, cluster: config.redisCluster }
    : config.redisUrl
      ? { ...where, url: config.redisUrl }
      : undefined;
  // One command connection for ledger, store and fleet (plus the fleet's subscriber connection).
  const client = redisOptions ? connectRedis(redisOptions, 'server') : undefined;
  const redis = client ? { client, prefix: config.redisPrefix } : undefined;
  if (client && !(await whenReady(client, 5000))) {
    const target = config.redisCluster ? `Redis Cluster ${config.redisCluster.map(redactUrl).join(', ')}` : `Redis at ${redactUrl(config.redisUrl!)}`;
    logger.error(`${target} is not reachable yet; resumes answer "unavailable" until it is.`);
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
    app: options.app ?? (() => undefined),
    audience: config.audience,
    schema: config.schema,
    ttlSeconds: config.ttlSeconds,
    maxBlobBytes: config.maxBlobBytes,
    warnBlobBytes: config.warnBlobBytes,
    retentionMs: config.retentionMs,
    maxSessionsPerBrowser: config.maxSessionsPerBrowser,
    maxLiveSessions: config.maxLiveSessions,
    maxSessionsPerAddress: config.maxSessionsPerAddress,
    lookupPatienceMs: config.lookupPatienceMs,
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
  const assetsDir = options.assets === false ? undefined : (options.assets ?? defaultAssetsDir());
  // One gate for both resume routes: their failure limits and bail-out guard count together.
  const resumeGate = createResumeGate(sessions, config, logger, options.now);
  const handle = createHttpHandler(sessions, config, logger, resumeGate, { ...(options.now ? { now: options.now } : {}), assetsDir });
  const live = createLiveSocket(sessions, config, logger, resumeGate, await loadWebSocketServer());

  return {
    config,
    sessions,
    handle,
    middleware(req, res, next) {
      handle(req, res).then((handled) => handled || next(), next);
    },
    handleUpgrade: live.handleUpgrade,
    attach: (server) => routeUpgrades(server, live.handleUpgrade),
    connectChannel: (channel) => connectChannel<A>(sessions, config, channel, logger),
    bindingCookie: (request) => bindingSetCookie(request, config),
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

/** `ws` is an optional peer dependency: only the built-in live channel needs it. */
async function loadWebSocketServer(): Promise<WebSocketServerClass | undefined> {
  try {
    const ws = (await import('ws')) as { WebSocketServer?: WebSocketServerClass; default?: { WebSocketServer?: WebSocketServerClass } };
    return ws.WebSocketServer ?? ws.default?.WebSocketServer;
  } catch {
    return undefined;
  }
}

/** A Redis URL without its password, for logs. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
