/**
 * The one-time ledger: a blob id (`jti`) can be consumed once. Entries are kept until the blob would
 * have expired anyway, so memory is bounded by the number of blobs resumed within one TTL.
 */
export interface Ledger {
  /** True when this call consumed the id; false when it was consumed before. Atomic. */
  consume(jti: string, expiresAtMs: number): Promise<boolean>;
  /** Undoes a consume whose resume failed on the server's side (the app threw), so the blob stays usable. */
  release(jti: string): Promise<void>;
}

export class MemoryLedger implements Ledger {
  readonly #consumed = new Map<string, number>();
  #nextPurge = 0;

  constructor(private readonly now: () => number = Date.now) {}

  async consume(jti: string, expiresAtMs: number): Promise<boolean> {
    this.#purgeExpired();
    if (this.#consumed.has(jti)) return false;
    this.#consumed.set(jti, expiresAtMs);
    return true;
  }

  async release(jti: string): Promise<void> {
    this.#consumed.delete(jti);
  }

  get size(): number {
    return this.#consumed.size;
  }

  #purgeExpired(): void {
    const now = this.now();
    if (now < this.#nextPurge) return;
    this.#nextPurge = now + 60_000;
    for (const [jti, exp] of this.#consumed) if (exp <= now) this.#consumed.delete(jti);
  }
}
