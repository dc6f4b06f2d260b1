/**
 * The one-time ledger and the newest-generation record, checked in one atomic step on every resume:
 * a blob id (`jti`) can be consumed once, and a blob whose generation is not newer than one already resumed
 * for its session is `stale` (an old checkpoint, a copy kept by a store) and stays `stale` when presented again.
 * Entries are kept until the blob would have expired anyway, so memory is bounded by the blobs resumed within
 * one TTL.
 *
 * A consume whose answer never came back (a Redis hang, a timeout, a crash between the ledger and the answer)
 * may or may not have run. So each consume records which browser made it and when its lease ends: the same
 * browser retrying the same blob gets `busy` while the lease runs (an attempt may still be under way) and
 * `retried` after it (the caller looks for the session the earlier attempt may have restored, else restores
 * the blob again); any other browser gets `replayed`. Once the session restored from a blob has left its
 * instance (hibernated, handed over, stored), `settle` makes the blob `replayed` for everyone.
 */
export interface LedgerClaim {
  jti: string;
  sid: string;
  gen: number;
  /** The blob's expiry, ms since the epoch. */
  expiresAtMs: number;
  /** Binding hash of the browser resuming: only it may retry. */
  bid: string;
  /** Random per consume call: a release undoes only its own attempt. */
  attempt: string;
}

/**
 * `ok`: consumed now. `replayed`: consumed before (by another browser, or a newer generation was resumed
 * since). `stale`: a newer (or the same) generation was already resumed, now or when this blob was first
 * presented. `busy`: this browser's earlier attempt may still be
 * running (try again later). `retried`: this browser consumed it before and nothing newer was resumed since;
 * the earlier attempt may or may not have restored the session.
 */
export type LedgerVerdict = 'ok' | 'replayed' | 'stale' | 'busy' | 'retried';

/** How long a consumed blob is held for the attempt that consumed it before the same browser may retry it. */
export const LEDGER_LEASE_MS = 10_000;

/**
 * Entries the in-memory ledger keeps at most, of each kind (consumed ids, newest generations; ~250 B each,
 * so about 100 MiB at most). Past it the oldest are forgotten first: a blob whose id was forgotten is still
 * refused as `stale` while its session's generation record remains; one whose session's record went too could
 * resume once more. A fleet uses the Redis ledger, whose entries expire with their blobs instead.
 */
export const MEMORY_LEDGER_MAX_ENTRIES = 200_000;

export interface Ledger {
  /** Consumes the blob id and records its generation as the session's newest. Atomic across instances. */
  consume(claim: LedgerClaim): Promise<LedgerVerdict>;
  /**
   * Undoes this attempt's consume (the app threw, the answer could not be made, the consume's outcome is
   * unknown), so a retry works. Leaves another attempt's consume alone.
   */
  release(claim: LedgerClaim): Promise<void>;
  /**
   * The generation a new, empty session for `sid` starts at: 1 for a sid never resumed, else one past the
   * newest generation resumed. A sid can start over when an instance died with its session and nothing was
   * kept; starting at gen 1 again would make every blob of the new session `stale`.
   */
  fresh(sid: string): Promise<number>;
  /**
   * The session restored by this claim's consume has ended where it lived (its state went into a newer blob
   * or another instance): the blob is `replayed` from now on, whoever presents it. Best effort.
   */
  settle(claim: LedgerClaim): Promise<void>;
  close?(): Promise<void>;
}

interface Consumed {
  verdict: 'ok' | 'stale' | 'settled';
  bid: string;
  attempt: string;
  leaseUntil: number;
  expiresAtMs: number;
}

export class MemoryLedger implements Ledger {
  readonly #consumed = new Map<string, Consumed>();
  readonly #newest = new Map<string, { gen: number; until: number }>();
  #nextPurge = 0;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly leaseMs: number = LEDGER_LEASE_MS,
    private readonly maxEntries: number = MEMORY_LEDGER_MAX_ENTRIES,
  ) {}

  async consume(claim: LedgerClaim): Promise<LedgerVerdict> {
    this.#purgeExpired();
    const now = this.now();
    const held = this.#consumed.get(claim.jti);
    const newest = this.#newest.get(claim.sid);
    const newestGen = newest && newest.until > now ? newest.gen : undefined;
    if (held) {
      // A stale blob stays stale for everyone (and never resumes later, even once its session's record is gone).
      if (held.verdict === 'stale') return 'stale';
      if (held.bid !== claim.bid || held.verdict !== 'ok') return 'replayed';
      if (held.leaseUntil > now) return 'busy';
      if (newestGen !== undefined && newestGen > claim.gen) return 'replayed';
      Object.assign(held, { attempt: claim.attempt, leaseUntil: now + this.leaseMs });
      return 'retried';
    }
    const entry: Consumed = { verdict: 'ok', bid: claim.bid, attempt: claim.attempt, leaseUntil: now + this.leaseMs, expiresAtMs: claim.expiresAtMs };
    remember(this.#consumed, claim.jti, entry, this.maxEntries);
    if (newestGen !== undefined && newestGen >= claim.gen) {
      entry.verdict = 'stale';
      return 'stale';
    }
    this.#newest.delete(claim.sid); // re-inserted last: the oldest session is forgotten first
    remember(this.#newest, claim.sid, { gen: claim.gen, until: Math.max(claim.expiresAtMs, newest?.until ?? 0) }, this.maxEntries);
    return 'ok';
  }

  async release(claim: LedgerClaim): Promise<void> {
    if (this.#consumed.get(claim.jti)?.attempt !== claim.attempt) return;
    this.#consumed.delete(claim.jti);
    const newest = this.#newest.get(claim.sid);
    if (newest?.gen === claim.gen) newest.gen = claim.gen - 1;
  }

  async settle(claim: LedgerClaim): Promise<void> {
    const held = this.#consumed.get(claim.jti);
    if (held?.verdict === 'ok') held.verdict = 'settled';
  }

  async fresh(sid: string): Promise<number> {
    const newest = this.#newest.get(sid);
    return newest && newest.until > this.now() ? newest.gen + 1 : 1;
  }

  get size(): number {
    return this.#consumed.size;
  }

  #purgeExpired(): void {
    const now = this.now();
    if (now < this.#nextPurge) return;
    this.#nextPurge = now + 60_000;
    for (const [jti, entry] of this.#consumed) if (entry.expiresAtMs <= now) this.#consumed.delete(jti);
    for (const [sid, entry] of this.#newest) if (entry.until <= now) this.#newest.delete(sid);
  }
}

/** Sets `key` in a map kept to `max` entries, forgetting the oldest inserted first. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  while (map.size >= max) map.delete(map.keys().next().value!);
  map.set(key, value);
}
