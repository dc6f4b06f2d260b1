import type { SessionStore, StoredBlob } from '../store/session-store.js';
import { connectRedis, keyPrefix, type RedisClient, type RedisOptions } from './redis-client.js';

/**
 * Sealed sessions in Redis, one key per sid with the blob's own expiry as TTL. `take` is GETDEL, so two
 * instances asking at once never both get the blob. Every command names one key, so a Redis Cluster serves it as is.
 */
export class RedisStore implements SessionStore {
  readonly name = 'redis';
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #owned: boolean;

  constructor(options: RedisOptions | { client: RedisClient; prefix?: string }, private readonly now: () => number = Date.now) {
    this.#prefix = `${keyPrefix(options.prefix)}store:`;
    this.#owned = !('client' in options);
    this.#redis = 'client' in options ? options.client : connectRedis(options, 'store');
  }

  async put(sid: string, entry: StoredBlob): Promise<void> {
    const ttlMs = entry.exp * 1000 - this.now();
    if (ttlMs <= 0) {
      await this.#redis.del(this.#prefix + sid);
      return;
    }
    await this.#redis.set(this.#prefix + sid, JSON.stringify({ blob: entry.blob, gen: entry.gen, exp: entry.exp }), 'PX', Math.ceil(ttlMs));
  }

  async take(sid: string): Promise<StoredBlob | undefined> {
    return parse(await this.#redis.getdel(this.#prefix + sid));
  }

  async peek(sid: string): Promise<StoredBlob | undefined> {
    return parse(await this.#redis.get(this.#prefix + sid));
  }

  async delete(sid: string): Promise<void> {
    await this.#redis.del(this.#prefix + sid);
  }

  async close(): Promise<void> {
    if (this.#owned) this.#redis.disconnect();
  }
}

function parse(text: string | null): StoredBlob | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as Partial<StoredBlob>;
    if (typeof value.blob === 'string' && Number.isSafeInteger(value.gen) && typeof value.exp === 'number') {
      return { blob: value.blob, gen: value.gen!, exp: value.exp };
    }
  } catch {
    // fall through: a foreign or corrupt value is not a session
  }
  return undefined;
}
