import type { Redis } from 'ioredis';
import type { Ledger, LedgerClaim, LedgerVerdict } from '../ledger.js';
import { connectRedis, DEFAULT_PREFIX, type RedisOptions } from './redis-client.js';

// One script, so the id check and the generation check are a single atomic step on the Redis server:
// two instances resuming the same blob at the same moment get exactly one `ok`.
const CONSUME = `
if not redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[1]) then return 'replayed' end
local newest = tonumber(redis.call('GET', KEYS[2]))
if newest and newest >= tonumber(ARGV[2]) then return 'stale' end
local ttl = redis.call('PTTL', KEYS[2])
if ttl > tonumber(ARGV[1]) then redis.call('SET', KEYS[2], ARGV[2], 'KEEPTTL') else redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[1]) end
return 'ok'`;

const RELEASE = `
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('SET', KEYS[2], tostring(tonumber(ARGV[1]) - 1), 'KEEPTTL') end
return 1`;

/** The ledger for a fleet: `SET NX PX` of the blob id plus the newest generation per session, in one Lua script. */
export class RedisLedger implements Ledger {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #owned: boolean;

  constructor(options: RedisOptions | { client: Redis; prefix?: string }, private readonly now: () => number = Date.now) {
    this.#owned = !('client' in options);
    this.#redis = 'client' in options ? options.client : connectRedis(options, 'ledger');
    this.#prefix = options.prefix ?? DEFAULT_PREFIX;
  }

  async consume(claim: LedgerClaim): Promise<LedgerVerdict> {
    const ttlMs = Math.max(1000, Math.ceil(claim.expiresAtMs - this.now()));
    const verdict = await this.#redis.eval(CONSUME, 2, this.#jtiKey(claim), this.#genKey(claim), ttlMs, claim.gen);
    if (verdict !== 'ok' && verdict !== 'replayed' && verdict !== 'stale') throw new Error(`ledger script answered ${String(verdict)}`);
    return verdict;
  }

  async release(claim: LedgerClaim): Promise<void> {
    await this.#redis.eval(RELEASE, 2, this.#jtiKey(claim), this.#genKey(claim), claim.gen);
  }

  async fresh(sid: string): Promise<number> {
    const newest = Number((await this.#redis.get(this.#genKey({ sid }))) ?? 0);
    return Number.isSafeInteger(newest) && newest > 0 ? newest + 1 : 1;
  }

  async close(): Promise<void> {
    if (this.#owned) this.#redis.disconnect();
  }

  #jtiKey(claim: LedgerClaim): string {
    return `${this.#prefix}jti:${claim.jti}`;
  }

  #genKey(claim: Pick<LedgerClaim, 'sid'>): string {
    return `${this.#prefix}gen:${claim.sid}`;
  }
}
