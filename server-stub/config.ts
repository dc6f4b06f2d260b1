import type { Codec } from './codec/json-codec.js';
import { readOptions } from './config-rules.js';
import { StasisConfigError } from './errors.js';
import type { KeyRing } from './envelope/key-ring.js';
import type { Ledger } from './ledger.js';
import type { Logger } from './logger.js';
import type { AppHandlers, StasisApp } from './session/session.js';
import type { SessionStore } from './store/session-store.js';
import { DEFAULT_ENDPOINT } from '../src/protocol/index.js';

/**
 * Server options. Every setting also reads a `STASIS_*` environment variable; an explicit option wins. Both are
 * checked by the same rule (config-rules.ts); a wrong value or type, or an unknown key, throws StasisConfigError.
 * docs/protocol.md and the README list the same defaults.
 */
export interface StasisServerOptions<A = AppHandlers | void> {
  /**
   * The app: called once per session, new or restored, before anything is rendered. Declare persisted values
   * here; whatever it returns is the session's `app` on a bring-your-own connection (`connectChannel`, the ws
   * and Socket.IO adapters). Default: a session with no persisted values.
   */
  app?: StasisApp<A>;
  /** Key ring: `kid:secret,...` (first seals) or a parsed ring. Env STASIS_KEYS. Required. */
  keys?: string | KeyRing;
  /** App id sealed into every blob and checked on resume. Env STASIS_AUDIENCE. Default "stasis-app". */
  audience?: string;
  /**
   * Schema tag; a blob with another tag answers `schema-reset`. Env STASIS_SCHEMA. Default "1", the same for
   * every server (a version-derived default reset every blob on each release, even mid rolling deploy). Change
   * it whenever the shape of persisted values changes.
   */
  schema?: string;
  /** Blob lifetime. Env STASIS_TTL_SECONDS. Default 7 days (Safari clears site storage after 7 days unused). */
  ttlSeconds?: number;
  /** Blobs over this are refused (`too-large`). Env STASIS_MAX_BLOB_BYTES. Default 5 MiB. */
  maxBlobBytes?: number;
  /** Blobs over this are logged. Env STASIS_WARN_BLOB_BYTES. Default 1 MiB. */
  warnBlobBytes?: number;
  /** How long a session whose channels all dropped stays live. Env STASIS_RETENTION_SECONDS. Default 180. */
  retentionSeconds?: number;
  /** Where the endpoints are mounted. Env STASIS_BASE_PATH. Default "/stasis". */
  basePath?: string;
  /** Name of the browser-binding cookie. Env STASIS_COOKIE. Default "stasis_bid". */
  cookieName?: string;
  /** Other origins allowed to call the endpoints (`https://host[:port]`). Env STASIS_ALLOWED_ORIGINS (comma-separated). Default: none. */
  allowedOrigins?: string[];
  /**
   * Behind a reverse proxy you run: believe its X-Forwarded-Host (the request's own host, for the same-origin
   * check), the last X-Forwarded-For entry (the client address, for rate limits) and X-Forwarded-Proto
   * (`https` makes the binding cookie Secure). Only enable it when every request comes through that proxy.
   * Env STASIS_TRUST_PROXY=1 (or true, yes; 0, false, no: off; anything else is refused). Default false.
   */
  trustProxy?: boolean;
  /** Failed resumes allowed per browser (or address) per minute before HTTP 429. Env STASIS_RESUME_FAILURES_PER_MINUTE. Default 20. */
  resumeFailuresPerMinute?: number;
  /** Live sessions one browser may hold at once. Env STASIS_MAX_SESSIONS_PER_BROWSER. Default 32. */
  maxSessionsPerBrowser?: number;
  /**
   * Live sessions this instance holds at most; a new or restored session beyond it is refused (`unavailable`,
   * the page retries; close code 1013 on the live channel). Env STASIS_MAX_LIVE_SESSIONS. Default 20000.
   */
  maxLiveSessions?: number;
  /**
   * Live sessions started by connections that brought no binding cookie, per client address (every such
   * connection is a new "browser", so the per-browser cap does not bound them). Env
   * STASIS_MAX_SESSIONS_PER_ADDRESS. Default 256.
   */
  maxSessionsPerAddress?: number;
  /**
   * How long a live connect whose session lookup keeps failing (Redis unreachable or hung, the owner not
   * answering) is refused (close 1012; the page connects again) before it starts a fresh session.
   * Env STASIS_LOOKUP_PATIENCE_SECONDS. Default 30.
   */
  lookupPatienceSeconds?: number;
  /** How long a drain waits for pushed blobs to flush. Env STASIS_DRAIN_TIMEOUT_MS. Default 10000. */
  drainTimeoutMs?: number;
  /**
   * A hibernate or resume body still incomplete after this long is refused (HTTP 408, outcome `unavailable`,
   * the connection closed). Env STASIS_BODY_TIMEOUT_MS. Default 15000.
   */
  bodyTimeoutMs?: number;
  /**
   * Where the page bundles (stasis.js, stasis-sw.js, …) are served from, below `basePath`. Default: the
   * package's own dist folder. `false`: not served (you serve them yourself).
   */
  assets?: string | false;
  /** Hibernate sessions with no app event for this long (blob pushed to the page). Env STASIS_IDLE_SECONDS. Default: off (leave it unset; 0 is refused). */
  idleSeconds?: number;
  /**
   * Bearer token for GET {basePath}/metrics. Env STASIS_METRICS_TOKEN. Required when NODE_ENV=production
   * (the server refuses to start without it); open otherwise.
   */
  metricsToken?: string;
  /**
   * Redis for a fleet: the one-time ledger and newest-generation record, the owner of each live session
   * (handovers between instances) and a session store. Env STASIS_REDIS_URL (redis://host:port[/db]). Default: none.
   */
  redisUrl?: string;
  /**
   * A Redis Cluster instead of one Redis: a few of its nodes, `redis[s]://[user:password@]host:port`, the same
   * scheme and credentials on each; the others are discovered. Handovers use sharded pub/sub (Redis 7); on an
   * older cluster a handover to an instance that died waits out the handover timeout. Env STASIS_REDIS_CLUSTER
   * (comma-separated). Set this or `redisUrl`, not both. Default: none.
   */
  redisCluster?: string[];
  /** Prefix of every Redis key and channel, without "{" or "}". Env STASIS_REDIS_PREFIX. Default "stasis:". */
  redisPrefix?: string;
  /**
   * Where sessions whose channel dropped go after the retention window: `memory`, `redis`, or your own
   * `SessionStore` objects. A blob is written to every store that answers and taken back from all of them
   * (the newest copy wins). Env STASIS_STORES (comma-separated names). Default: memory, plus redis when
   * STASIS_REDIS_URL or STASIS_REDIS_CLUSTER is set. An empty list drops such sessions.
   */
  stores?: Array<'memory' | 'redis' | SessionStore>;
  /** Memory store bound, entries. Env STASIS_MEMORY_STORE_MAX_ENTRIES. Default 10000. */
  memoryStoreMaxEntries?: number;
  /** Memory store bound, bytes of blobs. Env STASIS_MEMORY_STORE_MAX_BYTES. Default 64 MiB. */
  memoryStoreMaxBytes?: number;
  /** Hard timeout of every store and Redis call, ms. Env STASIS_STORE_TIMEOUT_MS. Default 500. */
  storeTimeoutMs?: number;
  /** Consecutive failures that open a store's circuit breaker. Env STASIS_BREAKER_FAILURES. Default 5. */
  breakerFailures?: number;
  /** How long an open breaker waits before a probe, seconds. Env STASIS_BREAKER_OPEN_SECONDS. Default 10. */
  breakerOpenSeconds?: number;
  /** How long to wait for another instance to hand a session over, ms. Env STASIS_HANDOVER_TIMEOUT_MS. Default 3000. */
  handoverTimeoutMs?: number;
  /**
   * Push a checkpoint blob to each live page at most this often, when its state changed, so an instance
   * killed without a drain loses at most this window. Env STASIS_CHECKPOINT_SECONDS. Default: off (leave it unset; 0 is refused).
   */
  checkpointSeconds?: number;
  /**
   * Bail-out storm guard: when more than this fraction of the resumes in the window failed, failures start
   * pages fresh quietly. Env STASIS_BAILOUT_FRACTION (0-1). Default 0.5.
   */
  bailoutFraction?: number;
  /** Fewest resumes in the window before the guard can turn on. Env STASIS_BAILOUT_MIN_RESUMES. Default 20. */
  bailoutMinResumes?: number;
  /** The guard's window, seconds. Env STASIS_BAILOUT_WINDOW_SECONDS. Default 60. */
  bailoutWindowSeconds?: number;
  /** Extra codecs, chosen per value by name. The strict JSON codec ("json") is always there. */
  codecs?: Codec[];
  /** One-time ledger. Default: in memory (one process). */
  ledger?: Ledger;
  logger?: Logger;
  /** Clock, for tests. */
  now?: () => number;
}

export interface ResolvedConfig {
  audience: string;
  schema: string;
  ttlSeconds: number;
  maxBlobBytes: number;
  warnBlobBytes: number;
  /** Request bodies are cut off past this, before parsing. */
  maxBodyBytes: number;
  bodyTimeoutMs: number;
  retentionMs: number;
  basePath: string;
  cookieName: string;
  allowedOrigins: string[];
  trustProxy: boolean;
  resumeFailuresPerMinute: number;
  maxSessionsPerBrowser: number;
  maxLiveSessions: number;
  maxSessionsPerAddress: number;
  lookupPatienceMs: number;
  drainTimeoutMs: number;
  idleMs: number;
  metricsToken: string | undefined;
  redisUrl: string | undefined;
  /** Only when set: seed node URLs of a Redis Cluster (then `redisUrl` is undefined). */
  redisCluster?: string[];
  redisPrefix: string;
  stores: Array<'memory' | 'redis' | SessionStore>;
  memoryStore: { maxEntries: number; maxBytes: number };
  storeTimeoutMs: number;
  breaker: { failureThreshold: number; openMs: number; timeoutMs: number };
  handoverTimeoutMs: number;
  checkpointMs: number;
  bailout: { fraction: number; minResumes: number; windowMs: number };
}

export const DEFAULTS = {
  audience: 'stasis-app',
  schema: '1',
  ttlSeconds: 7 * 24 * 3600,
  maxBlobBytes: 5 * 1024 * 1024,
  warnBlobBytes: 1024 * 1024,
  retentionSeconds: 180,
  basePath: DEFAULT_ENDPOINT,
  cookieName: 'stasis_bid',
  resumeFailuresPerMinute: 20,
  maxSessionsPerBrowser: 32,
  maxLiveSessions: 20_000,
  maxSessionsPerAddress: 256,
  lookupPatienceSeconds: 30,
  drainTimeoutMs: 10_000,
  bodyTimeoutMs: 15_000,
  redisPrefix: 'stasis:',
  memoryStoreMaxEntries: 10_000,
  memoryStoreMaxBytes: 64 * 1024 * 1024,
  storeTimeoutMs: 500,
  breakerFailures: 5,
  breakerOpenSeconds: 10,
  handoverTimeoutMs: 3000,
  bailoutFraction: 0.5,
  bailoutMinResumes: 20,
  bailoutWindowSeconds: 60,
} as const;

/**
 * Every option checked once, by the rule its environment variable follows (server-stub/config-rules.ts); a
 * refused value throws a StasisConfigError naming the option (and the variable) with a stable `code`.
 */
export function resolveConfig(options: StasisServerOptions<unknown>, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  const o = readOptions(options, env);
  const d = DEFAULTS;
  const maxBlobBytes = o.maxBlobBytes ?? d.maxBlobBytes;
  const storeTimeoutMs = o.storeTimeoutMs ?? d.storeTimeoutMs;
  const config: ResolvedConfig = {
    audience: o.audience ?? d.audience,
    schema: o.schema ?? d.schema,
    ttlSeconds: o.ttlSeconds ?? d.ttlSeconds,
    maxBlobBytes,
    warnBlobBytes: o.warnBlobBytes ?? d.warnBlobBytes,
    // A resume body is the blob plus a sid and JSON punctuation.
    maxBodyBytes: maxBlobBytes + 1024,
    bodyTimeoutMs: o.bodyTimeoutMs ?? d.bodyTimeoutMs,
    retentionMs: 1000 * (o.retentionSeconds ?? d.retentionSeconds),
    basePath: o.basePath ?? d.basePath,
    cookieName: o.cookieName ?? d.cookieName,
    allowedOrigins: o.allowedOrigins ?? [],
    trustProxy: o.trustProxy ?? false,
    resumeFailuresPerMinute: o.resumeFailuresPerMinute ?? d.resumeFailuresPerMinute,
    maxSessionsPerBrowser: o.maxSessionsPerBrowser ?? d.maxSessionsPerBrowser,
    maxLiveSessions: o.maxLiveSessions ?? d.maxLiveSessions,
    maxSessionsPerAddress: o.maxSessionsPerAddress ?? d.maxSessionsPerAddress,
    lookupPatienceMs: 1000 * (o.lookupPatienceSeconds ?? d.lookupPatienceSeconds),
    drainTimeoutMs: o.drainTimeoutMs ?? d.drainTimeoutMs,
    idleMs: 1000 * (o.idleSeconds ?? 0),
    metricsToken: o.metricsToken,
    redisUrl: o.redisUrl,
    ...(o.redisCluster ? { redisCluster: o.redisCluster } : {}),
    redisPrefix: o.redisPrefix ?? d.redisPrefix,
    stores: o.stores ?? (o.redisUrl || o.redisCluster ? ['memory', 'redis'] : ['memory']),
    memoryStore: { maxEntries: o.memoryStoreMaxEntries ?? d.memoryStoreMaxEntries, maxBytes: o.memoryStoreMaxBytes ?? d.memoryStoreMaxBytes },
    storeTimeoutMs,
    breaker: { failureThreshold: o.breakerFailures ?? d.breakerFailures, openMs: 1000 * (o.breakerOpenSeconds ?? d.breakerOpenSeconds), timeoutMs: storeTimeoutMs },
    handoverTimeoutMs: o.handoverTimeoutMs ?? d.handoverTimeoutMs,
    checkpointMs: 1000 * (o.checkpointSeconds ?? 0),
    bailout: {
      fraction: o.bailoutFraction ?? d.bailoutFraction,
      minResumes: o.bailoutMinResumes ?? d.bailoutMinResumes,
      windowMs: 1000 * (o.bailoutWindowSeconds ?? d.bailoutWindowSeconds),
    },
  };
  if (config.stores.includes('redis') && !config.redisUrl && !config.redisCluster) {
    throw new StasisConfigError('The "redis" store needs STASIS_REDIS_URL or STASIS_REDIS_CLUSTER (or the redisUrl or redisCluster option).', {
      code: 'missing-option',
      option: 'redisUrl',
      env: 'STASIS_REDIS_URL',
    });
  }
  if (env.NODE_ENV === 'production' && !config.metricsToken) {
    throw new StasisConfigError('NODE_ENV=production: set STASIS_METRICS_TOKEN (or the metricsToken option) to protect /metrics.', {
      code: 'missing-option',
      option: 'metricsToken',
      env: 'STASIS_METRICS_TOKEN',
    });
  }
  return config;
}
