import type { Outcome } from '../src/protocol/index.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

export interface BailoutGuardOptions {
  /** Fraction of recent resumes that must fail for the guard to turn on. Default 0.5. */
  fraction: number;
  /** Fewest resumes in the window before the fraction means anything. Default 20. */
  minResumes: number;
  /** The window, ms. Default 60 000. */
  windowMs: number;
  logger: Logger;
  metrics?: Metrics;
  now?: () => number;
}

// Outcomes that say the blob could not be used for a reason the user cannot fix. `replayed` and `stale` are
// the protocol working (a duplicate tab, an old checkpoint); non-final codes say nothing about the blob.
const BAILOUTS: ReadonlySet<Outcome> = new Set(['expired', 'tampered', 'unknown-key', 'wrong-binding', 'malformed', 'schema-reset', 'too-large']);

/**
 * The bail-out storm guard: when more than `fraction` of the resumes in the last window failed (a bad deploy,
 * a lost key), showing "could not restore" to every user helps nobody. While it is on, failed resumes are
 * answered with `quiet: true` so pages start fresh without an error banner, and the server logs loudly.
 */
export class BailoutGuard {
  #events: Array<{ at: number; failed: boolean }> = [];
  #active = false;
  #lastLog = -Infinity;
  readonly #now: () => number;

  constructor(private readonly options: BailoutGuardOptions) {
    this.#now = options.now ?? Date.now;
  }

  get active(): boolean {
    return this.#active;
  }

  /** Records a resume outcome; returns true when this failure should start the page fresh quietly. */
  record(outcome: Outcome): boolean {
    const now = this.#now();
    const failed = BAILOUTS.has(outcome);
    if (outcome !== 'ok' && !failed) return false;
    this.#events.push({ at: now, failed });
    const cutoff = now - this.options.windowMs;
    let first = 0;
    while (first < this.#events.length && this.#events[first]!.at <= cutoff) first++;
    if (first) this.#events = this.#events.slice(first);
    const failures = this.#events.reduce((n, e) => n + (e.failed ? 1 : 0), 0);
    const storm = this.#events.length >= this.options.minResumes && failures / this.#events.length > this.options.fraction;
    if (storm !== this.#active) {
      this.#active = storm;
      this.options.metrics?.storm(storm);
      if (!storm) {
        this.#lastLog = -Infinity; // the next storm is news again
        this.options.logger.warn('bail-out storm over: failed resumes show their error again.');
      }
    }
    if (storm && now - this.#lastLog >= 10_000) {
      this.#lastLog = now;
      this.options.logger.error(
        `BAIL-OUT STORM: ${failures} of the last ${this.#events.length} resumes failed (last: ${outcome}). ` +
          'Pages now start fresh without an error. Check the key ring (STASIS_KEYS) and the last deploy.',
      );
    }
    return storm && failed;
  }
}
