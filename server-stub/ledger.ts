/**
 * The one-time ledger and the newest-generation record, checked in one atomic step on every resume:
 * a blob id (`jti`) can be consumed once, and a blob whose generation is not newer than one already resumed
 * for its session is `stale` (an old checkpoint, a copy kept by a store). Entries are kept until the blob
 * would have expired anyway, so memory is bounded by the blobs resumed within one TTL.
 */
export interface LedgerClaim {
  jti: string;
  sid: string;
  gen: number;
  /** The blob's expiry, ms since the epoch. */
  expiresAtMs: number;
}

export type LedgerVerdict = 'ok' | 'replayed' | 'stale';

export interface Ledger {
  /** Consumes the blob id and records its generation as the session's newest. Atomic across instances. */
  consume(claim: LedgerClaim): Promise<LedgerVerdict>;
  /** Undoes an `ok` consume whose resume then failed on the server's side (the app threw), so a retry works. */
  release(claim: LedgerClaim): Promise<void>;
  /**
   * The generation a new, empty session for `sid` starts at: 1 for a sid never resumed, else one past the
   * newest generation resumed. A sid can start over when an instance died with its session and nothing was
   * kept; starting at gen 1 again would make every blob of the new session `stale`.
   */
  fresh(sid: string): Promise<number>;
  close?(): Promise<void>;
}

export class MemoryLedger implements Ledger {
  readonly #consumed = new Map<string, number>();
  readonly #newest = new Map<string, { gen: number; until: number }>();
  #nextPurge = 0;

  constructor(private readonly now: () => number = Date.now) {}

  async consume(claim: LedgerClaim): Promise<LedgerVerdict> {
    this.#purgeExpired();
    if (this.#consumed.has(claim.jti)) return 'replayed';
    this.#consumed.set(claim.jti, claim.expiresAtMs);
    const newest = this.#newest.get(claim.sid);
    if (newest && newest.until > this.now() && newest.gen >= claim.gen) return 'stale';
    this.#newest.set(claim.sid, { gen: claim.gen, until: Math.max(claim.expiresAtMs, newest?.until ?? 0) });
    return 'ok';
  }

  async release(claim: LedgerClaim): Promise<void> {
    this.#consumed.delete(claim.jti);
    const newest = this.#newest.get(claim.sid);
    if (newest?.gen === claim.gen) newest.gen = claim.gen - 1;
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
    for (const [jti, exp] of this.#consumed) if (exp <= now) this.#consumed.delete(jti);
    for (const [sid, entry] of this.#newest) if (entry.until <= now) this.#newest.delete(sid);
  }
}
