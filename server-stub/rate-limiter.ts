/**
 * Counts failed resumes per client in a sliding window. Past the limit, a client must wait until its
 * oldest failure leaves the window: guessing blobs or replaying stolen ones gets slow, honest clients
 * (one or two failures) never notice. Memory is bounded by `maxClients`.
 */
export class FailureRateLimiter {
  readonly #failures = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxClients = 100_000,
  ) {}

  /** Seconds until `client` may try again; 0 when it may try now. */
  retryAfterSeconds(client: string): number {
    const times = this.#recent(client);
    if (times.length < this.limit) return 0;
    return Math.max(1, Math.ceil((times[0]! + this.windowMs - this.now()) / 1000));
  }

  recordFailure(client: string): void {
    const times = this.#recent(client);
    times.push(this.now());
    this.#failures.delete(client); // re-insert: the map's order is least recently failed first
    this.#failures.set(client, times);
    if (this.#failures.size > this.maxClients) this.#failures.delete(this.#failures.keys().next().value!);
  }

  #recent(client: string): number[] {
    const times = this.#failures.get(client) ?? [];
    const cutoff = this.now() - this.windowMs;
    while (times.length && times[0]! <= cutoff) times.shift();
    if (!times.length) this.#failures.delete(client);
    return times;
  }
}
