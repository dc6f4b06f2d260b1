import { Redis } from 'ioredis';

export interface RedisOptions {
  /** redis://[user:password@]host:port[/db]. */
  url: string;
  /** Prefix of every key and channel, so several apps can share one Redis. Default "stasis:". */
  prefix?: string;
  /** Per-command timeout, ms. Default 500. */
  commandTimeoutMs?: number;
}

/**
 * A Redis connection that fails fast instead of queueing: no offline queue, a per-command timeout and
 * background reconnects. Callers put a circuit breaker in front; a dead Redis must never hang a request.
 */
export function connectRedis(options: RedisOptions, role: string): Redis {
  const client = new Redis(options.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? 500,
    connectTimeout: 2000,
    connectionName: `stasis-${role}`,
    // Keep trying in the background, at most every 2 s.
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
    lazyConnect: false,
  });
  // ioredis emits 'error' on every failed reconnect; the breaker and its logs report outages.
  client.on('error', () => undefined);
  return client;
}

export const DEFAULT_PREFIX = 'stasis:';

/** Resolves true once the connection is ready, false after `timeoutMs` (it keeps trying in the background). */
export function whenReady(client: Redis, timeoutMs: number): Promise<boolean> {
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
