import { createRequire } from 'node:module';
import type { Cluster, ClusterNode, Redis } from 'ioredis';
import { StasisConfigError } from '../errors.js';

/** A single Redis (or a primary behind one endpoint) or a Redis Cluster: the commands Stasis uses exist on both. */
export type RedisClient = Redis | Cluster;

interface RedisCommonOptions {
  /**
   * Prefix of every key and channel, so several apps can share one Redis. Default "stasis:". No "{" or "}":
   * the keys carry their own Redis Cluster hash tags.
   */
  prefix?: string;
  /** Per-command timeout, ms. Default 500. */
  commandTimeoutMs?: number;
}

/** Where Redis is: `url` for one server, `cluster` for a Redis Cluster (a few of its nodes; the rest are discovered). */
export type RedisOptions = RedisCommonOptions &
  (
    | {
        /** redis://[user:password@]host:port[/db]. */
        url: string;
        cluster?: undefined;
      }
    | {
        /** Seed nodes redis[s]://[user:password@]host:port of a Redis Cluster; the same scheme and credentials on each. */
        cluster: readonly string[];
        url?: undefined;
      }
  );

export const DEFAULT_PREFIX = 'stasis:';

/** The key prefix to use: refused if it holds a brace, which would turn part of it into a Redis Cluster hash tag. */
export function keyPrefix(prefix: string | undefined): string {
  const value = prefix ?? DEFAULT_PREFIX;
  if (/[{}]/.test(value)) {
    throw new StasisConfigError(`The Redis prefix must not contain "{" or "}" (got ${JSON.stringify(value)}): Stasis puts its own Redis Cluster hash tags in its keys.`, {
      code: 'invalid-option',
      option: 'redisPrefix',
    });
  }
  return value;
}

/** Keep trying in the background, at most every 2 s. */
const retryStrategy = (times: number): number => Math.min(100 * 2 ** Math.min(times, 5), 2000);

/**
 * A Redis connection that fails fast instead of queueing: no offline queue, a per-command timeout and
 * background reconnects. Callers put a circuit breaker in front; a dead Redis must never hang a request.
 * With `options.cluster`, a Redis Cluster client with the same settings (commands go to the master of their
 * key's slot); `shardedSubscribers` gives it a subscriber per master for SSUBSCRIBE (the fleet's listener).
 */
export function connectRedis(options: RedisOptions, role: string, { shardedSubscribers = false } = {}): RedisClient {
  const { Cluster, Redis } = loadIoredis(options);
  const common = {
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? 500,
    connectTimeout: 2000,
    connectionName: `stasis-${role}`,
  };
  let client: RedisClient;
  if (options.cluster) {
    const { nodes, auth, tls } = clusterNodes(options.cluster);
    client = new Cluster(nodes, {
      enableOfflineQueue: false,
      clusterRetryStrategy: retryStrategy,
      // Every read goes to the master: the ledger and owner records must be read where they were written.
      scaleReads: 'master',
      slotsRefreshTimeout: 2000,
      shardedSubscribers,
      // Behind TLS the certificates name hosts, not addresses: keep the seed hostnames as given.
      ...(tls ? { dnsLookup: (address: string, callback: (error: null, address: string) => void) => callback(null, address) } : {}),
      redisOptions: { ...common, ...auth, ...(tls ? { tls: {} } : {}) },
      lazyConnect: false,
    });
  } else {
    client = new Redis(options.url, { ...common, enableOfflineQueue: false, retryStrategy, lazyConnect: false });
  }
  // ioredis emits 'error' on every failed reconnect; the breaker and its logs report outages.
  client.on('error', () => undefined);
  return client;
}

/**
 * ioredis is an optional peer dependency: apps without Redis never install it. Loaded synchronously, on the
 * first Redis connection, so a missing package fails `createStasisServer` with a clear error.
 */
function loadIoredis(options: RedisOptions): typeof import('ioredis') {
  try {
    return createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
  } catch (error) {
    if ((error as NodeJS.ErrnoException)?.code !== 'MODULE_NOT_FOUND') throw error;
    const cluster = options.cluster !== undefined;
    throw new StasisConfigError(
      `${cluster ? 'A Redis Cluster' : 'Redis'} is configured, but the optional dependency ioredis is not installed: npm install ioredis`,
      { code: 'missing-dependency', option: cluster ? 'redisCluster' : 'redisUrl', env: cluster ? 'STASIS_REDIS_CLUSTER' : 'STASIS_REDIS_URL' },
    );
  }
}

/** Seed node URLs → ioredis cluster nodes plus the credentials and TLS they share (config-rules checked them). */
function clusterNodes(urls: readonly string[]): { nodes: ClusterNode[]; auth: { username?: string; password?: string }; tls: boolean } {
  if (urls.length === 0) throw new StasisConfigError('A Redis Cluster needs at least one node URL.', { code: 'invalid-option', option: 'redisCluster' });
  const parsed = urls.map((url) => new URL(url));
  const first = parsed[0]!;
  return {
    nodes: parsed.map((url) => ({ host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port || 6379) })),
    auth: {
      ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
      ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
    },
    tls: first.protocol === 'rediss:',
  };
}

/** Resolves true once the connection is ready, false after `timeoutMs` (it keeps trying in the background). */
export function whenReady(client: RedisClient, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    client.once('ready', onReady);
  });
}

/** The server does not know the command (e.g. SPUBLISH before Redis 7, or a command renamed away). */
export function isUnknownCommand(error: unknown): boolean {
  return /unknown command/i.test((error as Error | undefined)?.message ?? '');
}
