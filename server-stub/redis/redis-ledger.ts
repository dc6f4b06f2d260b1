import { LEDGER_LEASE_MS, type Ledger, type LedgerClaim, type LedgerVerdict } from '../ledger.js';
import { connectRedis, keyPrefix, type RedisClient, type RedisOptions } from './redis-client.js';

// One script, so the id check and the generation check are a single atomic step on the Redis server:
// two instances resuming the same blob at the same moment get exactly one `ok`. The id's value records the
// verdict, the browser, the attempt and its lease (Redis's own clock), so a retry after an unknown outcome
// is answered as LedgerVerdict describes. KEYS: jti, gen. ARGV: ttl ms, gen, bid, attempt, lease ms.
const CONSUME = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gen = tonumber(ARGV[2])
local newest = tonumber(redis.call('GET', KEYS[2]))
local held = redis.call('GET', KEYS[1])
if held then
  local verdict, bid, _, lease = string.match(held, '^(%a+)|([^|]*)|([^|]*)|(%d+)$')
  if verdict == 'stale' then return 'stale' end
  if not verdict or bid ~= ARGV[3] or verdict ~= 'ok' then return 'replayed' end
  if tonumber(lease) > now then return 'busy' end
  if newest and newest > gen then return 'replayed' end
  redis.call('SET', KEYS[1], 'ok|' .. ARGV[3] .. '|' .. ARGV[4] .. '|' .. (now + tonumber(ARGV[5])), 'KEEPTTL')
  return 'retried'
end
if newest and newest >= gen then
  redis.call('SET', KEYS[1], 'stale|' .. ARGV[3] .. '|' .. ARGV[4] .. '|0', 'PX', ARGV[1])
  return 'stale'
end
redis.call('SET', KEYS[1], 'ok|' .. ARGV[3] .. '|' .. ARGV[4] .. '|' .. (now + tonumber(ARGV[5])), 'PX', ARGV[1])
local ttl = redis.call('PTTL', KEYS[2])
if ttl > tonumber(ARGV[1]) then redis.call('SET', KEYS[2], ARGV[2], 'KEEPTTL') else redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[1]) end
return 'ok'`;

// Undoes one attempt's consume only: the id's value names the attempt that holds it. KEYS: jti, gen. ARGV: gen, attempt.
const RELEASE = `
local held = redis.call('GET', KEYS[1])
if not held or not string.find(held, '|' .. ARGV[2] .. '|', 1, true) then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('SET', KEYS[2], tostring(tonumber(ARGV[1]) - 1), 'KEEPTTL') end
return 1`;

// Marks a consumed id settled (see Ledger.settle), keeping its expiry. KEYS: jti.
const SETTLE = `
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, 3) == 'ok|' then redis.call('SET', KEYS[1], 'settled' .. string.sub(held, 3), 'KEEPTTL') end
return 1`;

// Binds a blob id to its session (the key holds the sid), once. The id's consume record sits with its
// session's keys, in their hash slot; this single-key step keeps the id from being consumed again under another
// sid. (A blob's id and sid are sealed together, so a real claim never pairs them otherwise.) KEYS: bind.
// ARGV: sid, ttl ms. Answers 1 when the id is (now) bound to this sid, 0 when to another.
const BIND = `
local held = redis.call('GET', KEYS[1])
if held then
  if held == ARGV[1] then return 1 end
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

const VERDICTS: ReadonlySet<string> = new Set<LedgerVerdict>(['ok', 'replayed', 'stale', 'busy', 'retried']);

/**
 * The ledger for a fleet: `SET NX PX` of the blob id plus the newest generation per session, in one Lua script.
 * Both keys carry the sid as their Redis Cluster hash tag (`{sid}:jti:…`, `{sid}:gen`), so the script's keys
 * are always in one slot: on a Redis Cluster it runs on the master of that slot, as atomically as on one
 * server. Before it, `jti:{jti}` binds the id to its sid (one key, any slot), so an id is still used once
 * whatever sid a claim names. The binding has the name the id's record had before the sid tags: during a
 * rolling upgrade neither version restores a blob the other one consumed.
 */
export class RedisLedger implements Ledger {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #owned: boolean;
  readonly #leaseMs: number;

  /** `leaseMs`: see LEDGER_LEASE_MS (tests shorten it). */
  constructor(
    options: (RedisOptions | { client: RedisClient; prefix?: string }) & { leaseMs?: number },
    private readonly now: () => number = Date.now,
  ) {
    this.#leaseMs = options.leaseMs ?? LEDGER_LEASE_MS;
    this.#prefix = keyPrefix(options.prefix);
    this.#owned = !('client' in options);
    this.#redis = 'client' in options ? options.client : connectRedis(options, 'ledger');
  }

  async consume(claim: LedgerClaim): Promise<LedgerVerdict> {
    const ttlMs = Math.max(1000, Math.ceil(claim.expiresAtMs - this.now()));
    if ((await this.#redis.eval(BIND, 1, this.#bindKey(claim), claim.sid, ttlMs)) !== 1) return 'replayed';
    const verdict = await this.#redis.eval(CONSUME, 2, this.#jtiKey(claim), this.#genKey(claim), ttlMs, claim.gen, claim.bid, claim.attempt, this.#leaseMs);
    if (typeof verdict !== 'string' || !VERDICTS.has(verdict)) throw new Error(`ledger script answered ${String(verdict)}`);
    return verdict as LedgerVerdict;
  }

  async release(claim: LedgerClaim): Promise<void> {
    await this.#redis.eval(RELEASE, 2, this.#jtiKey(claim), this.#genKey(claim), claim.gen, claim.attempt);
  }

  async settle(claim: LedgerClaim): Promise<void> {
    await this.#redis.eval(SETTLE, 1, this.#jtiKey(claim));
  }

  async fresh(sid: string): Promise<number> {
    const newest = Number((await this.#redis.get(this.#genKey({ sid }))) ?? 0);
    return Number.isSafeInteger(newest) && newest > 0 ? newest + 1 : 1;
  }

  async close(): Promise<void> {
    if (this.#owned) this.#redis.disconnect();
  }

  #bindKey(claim: LedgerClaim): string {
    return `${this.#prefix}jti:${claim.jti}`;
  }

  // The two keys of a claim start with the same `{prefix}{sid}` (the prefix has no braces), so Redis Cluster
  // hashes both by the same tag, whatever the sid holds.
  #jtiKey(claim: LedgerClaim): string {
    return `${this.#prefix}{${claim.sid}}:jti:${claim.jti}`;
  }

  #genKey(claim: Pick<LedgerClaim, 'sid'>): string {
    return `${this.#prefix}{${claim.sid}}:gen`;
  }
}
