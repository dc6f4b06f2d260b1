import { StasisError } from '../errors.js';
import type { Logger } from '../logger.js';
import { CircuitBreaker, type BreakerOptions, type BreakerState } from './circuit-breaker.js';
import type { SessionStore, StoredBlob } from './session-store.js';

export type StoreOperation = 'put' | 'peek' | 'take' | 'delete';

/** What the chain reports for metrics. */
export interface StoreObserver {
  operation(store: string, operation: StoreOperation, result: 'ok' | 'error'): void;
  breaker(store: string, state: BreakerState): void;
}

/**
 * The server's stores in order (e.g. memory, then Redis), each behind its own circuit breaker and timeout.
 * `put` writes to every store (the memory copy is fast for this instance, the Redis copy serves the fleet);
 * `take` takes from every store at once and returns the newest copy, so no stale copy stays behind. A store
 * that is down is skipped; only when every store fails does an operation fail (`unavailable`).
 */
export class StoreChain {
  readonly #links: Array<{ store: SessionStore; breaker: CircuitBreaker }>;

  constructor(
    stores: readonly SessionStore[],
    breaker: Omit<BreakerOptions, 'onChange'> = {},
    private readonly observer?: StoreObserver,
    logger?: Logger,
  ) {
    this.#links = stores.map((store) => ({
      store,
      breaker: new CircuitBreaker(store.name, {
        ...breaker,
        onChange: (state) => {
          observer?.breaker(store.name, state);
          if (state === 'open') logger?.error(`store ${store.name}: circuit ${state}`);
          else logger?.info(`store ${store.name}: circuit ${state}`);
        },
      }),
    }));
    for (const { store } of this.#links) observer?.breaker(store.name, 'closed');
  }

  get names(): string[] {
    return this.#links.map(({ store }) => store.name);
  }

  get isEmpty(): boolean {
    return this.#links.length === 0;
  }

  breakerStates(): Record<string, BreakerState> {
    return Object.fromEntries(this.#links.map(({ store, breaker }) => [store.name, breaker.state]));
  }

  /** Evictions by store, for the stores that bound themselves. */
  evictions(): Record<string, number> {
    return Object.fromEntries(this.#links.flatMap(({ store }) => (store.evicted === undefined ? [] : [[store.name, store.evicted]])));
  }

  /** True when some store outlives this process (not only memory). */
  get outlivesProcess(): boolean {
    return this.#links.some(({ store }) => !store.local);
  }

  /**
   * Keeps the blob in every store that answers; fails only when none took it. `skipLocal`: only the stores
   * that outlive this process (a draining process has no use for its own memory).
   */
  async put(sid: string, entry: StoredBlob, options: { skipLocal?: boolean } = {}): Promise<string[]> {
    const links = options.skipLocal ? this.#links.filter(({ store }) => !store.local) : this.#links;
    const results = await Promise.all(links.map((link) => this.#call(link, 'put', () => link.store.put(sid, entry))));
    const stored = links.filter((_, i) => results[i]!.ok).map(({ store }) => store.name);
    if (!stored.length) throw this.#unavailable(results);
    return stored;
  }

  /**
   * Removes and returns the newest blob kept for `sid`. Undefined when no store has one; throws
   * `unavailable` when nothing was found and some store could not be asked.
   */
  async take(sid: string): Promise<StoredBlob | undefined> {
    const results = await Promise.all(this.#links.map((link) => this.#call(link, 'take', () => link.store.take(sid))));
    return this.#newest(results);
  }

  #newest(results: Array<{ ok: true; value: StoredBlob | undefined } | { ok: false; error: StasisError }>): StoredBlob | undefined {
    let newest: StoredBlob | undefined;
    for (const result of results) {
      const entry = result.ok ? result.value : undefined;
      if (entry && (!newest || entry.gen > newest.gen || (entry.gen === newest.gen && entry.exp > newest.exp))) newest = entry;
    }
    if (!newest && results.some((result) => !result.ok)) throw this.#unavailable(results);
    return newest;
  }

  /** The newest blob kept for `sid`, without removing it; throws `unavailable` like `take`. */
  async peek(sid: string): Promise<StoredBlob | undefined> {
    if (this.#holdNothing(sid)) {
      for (const { store } of this.#links) this.observer?.operation(store.name, 'peek', 'ok');
      return undefined;
    }
    const results = await Promise.all(this.#links.map((link) => this.#call(link, 'peek', () => link.store.peek(sid))));
    return this.#newest(results);
  }

  /** True when every store answers at once that it keeps nothing for `sid` (and no breaker would refuse). */
  #holdNothing(sid: string): boolean {
    return this.#links.every(({ store, breaker }) => store.holds !== undefined && breaker.state === 'closed' && !store.holds(sid));
  }

  async delete(sid: string): Promise<void> {
    await Promise.all(this.#links.map((link) => this.#call(link, 'delete', () => link.store.delete(sid))));
  }

  async close(): Promise<void> {
    await Promise.all(this.#links.map(({ store }) => store.close?.().catch(() => undefined) ?? Promise.resolve()));
  }

  async #call<T>(
    link: { store: SessionStore; breaker: CircuitBreaker },
    operation: StoreOperation,
    call: () => Promise<T>,
  ): Promise<{ ok: true; value: T } | { ok: false; error: StasisError }> {
    try {
      const value = await link.breaker.run(call);
      this.observer?.operation(link.store.name, operation, 'ok');
      return { ok: true, value };
    } catch (error) {
      this.observer?.operation(link.store.name, operation, 'error');
      return { ok: false, error: error as StasisError };
    }
  }

  #unavailable(results: Array<{ ok: boolean; error?: StasisError }>): StasisError {
    const reasons = results.flatMap((r) => (r.ok ? [] : [r.error?.message ?? 'failed']));
    return new StasisError('unavailable', `No session store answered: ${reasons.join('; ') || 'no store configured'}`);
  }
}
