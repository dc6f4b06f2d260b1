import { StasisError } from '../errors.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. Default 5. */
  failureThreshold?: number;
  /** How long it stays open before one probe call may try again, ms. Default 10 000. */
  openMs?: number;
  /** Hard timeout of every call, ms: a hung backend costs this much, never more. Default 500. */
  timeoutMs?: number;
  now?: () => number;
  /** Called on every state change (logs, metrics). */
  onChange?: (state: BreakerState) => void;
}

export const BREAKER_DEFAULTS = { failureThreshold: 5, openMs: 10_000, timeoutMs: 500 } as const;

/**
 * Guards calls to one backend: after `failureThreshold` consecutive failures (errors or timeouts) it opens
 * and fails calls at once for `openMs`; then a single probe is let through (half-open): its success closes
 * the breaker, its failure opens it again. Every call also has a hard timeout.
 */
export class CircuitBreaker {
  readonly #threshold: number;
  readonly #openMs: number;
  readonly timeoutMs: number;
  readonly #now: () => number;
  readonly #onChange: ((state: BreakerState) => void) | undefined;
  #state: BreakerState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #probing = false;

  constructor(readonly name: string, options: BreakerOptions = {}) {
    this.#threshold = options.failureThreshold ?? BREAKER_DEFAULTS.failureThreshold;
    this.#openMs = options.openMs ?? BREAKER_DEFAULTS.openMs;
    this.timeoutMs = options.timeoutMs ?? BREAKER_DEFAULTS.timeoutMs;
    this.#now = options.now ?? Date.now;
    this.#onChange = options.onChange;
  }

  get state(): BreakerState {
    if (this.#state === 'open' && !this.#probing && this.#now() - this.#openedAt >= this.#openMs) return 'half-open';
    return this.#state;
  }

  /** Runs `call` under the breaker; throws StasisError `unavailable` when open, on timeout or on failure. */
  async run<T>(call: () => Promise<T>): Promise<T> {
    const probe = this.#admit();
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        call(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${this.timeoutMs} ms`)), this.timeoutMs);
        }),
      ]);
      this.#succeeded();
      return result;
    } catch (error) {
      this.#failed(probe);
      throw new StasisError('unavailable', `Store "${this.name}" failed: ${(error as Error)?.message ?? error}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Lets a call through or throws; returns true when the call is the half-open probe. */
  #admit(): boolean {
    if (this.#state === 'closed') return false;
    if (!this.#probing && this.#now() - this.#openedAt >= this.#openMs) {
      this.#probing = true;
      this.#set('half-open');
      return true;
    }
    throw new StasisError('unavailable', `Store "${this.name}" is unavailable (circuit open).`);
  }

  #succeeded(): void {
    this.#failures = 0;
    this.#probing = false;
    if (this.#state !== 'closed') this.#set('closed');
  }

  #failed(probe: boolean): void {
    this.#failures++;
    if (probe) this.#probing = false;
    if (probe || (this.#state === 'closed' && this.#failures >= this.#threshold)) {
      this.#openedAt = this.#now();
      this.#set('open');
    }
  }

  #set(state: BreakerState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#onChange?.(state);
  }
}
