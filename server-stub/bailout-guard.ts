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

/** The ring never shrinks below this many slots. */
const MIN_SLOTS = 16;

/**
 * The bail-out storm guard: when more than `fraction` of the resumes in the last window failed (a bad deploy,
 * a lost key), showing "could not restore" to every user helps nobody. While it is on, failed resumes are
 * answered with `quiet: true` so pages start fresh without an error banner, and the server logs loudly.
 */
export class BailoutGuard {
  // The window, coalesced by clock reading: a ring of slots (time, resumes, failures) in arrival order, plus
  // running totals. record() adds to the newest slot (or opens one) and drops expired slots from the oldest
  // end, so it costs O(1) amortised, and the ring holds at most one slot per distinct clock reading in the
  // window (60 000 for a 60 s window on a millisecond clock), however many resumes arrive.
  #at = new Float64Array(MIN_SLOTS);
  #resumesAt = new Uint32Array(MIN_SLOTS);
  #failuresAt = new Uint32Array(MIN_SLOTS);
  /** Index of the oldest slot, and how many slots are in use. */
  #head = 0;
  #slots = 0;
  #resumes = 0;
  #failures = 0;
  #active = false;
  #lastLog = -Infinity;
  readonly #now: () => number;

  constructor(private readonly options: BailoutGuardOptions) {
    this.#now = options.now ?? Date.now;
  }

  get active(): boolean {
    return this.#active;
  }

  /** The ring's size: slots in use and allocated (for tests; bounded by the distinct clock readings in the window). */
  get footprint(): { slots: number; capacity: number; resumes: number } {
    return { slots: this.#slots, capacity: this.#at.length, resumes: this.#resumes };
  }

  /** Records a resume outcome; returns true when this failure should start the page fresh quietly. */
  record(outcome: Outcome): boolean {
    const now = this.#now();
    const failed = BAILOUTS.has(outcome);
    if (outcome !== 'ok' && !failed) return false;
    this.#push(now, failed);
    const cutoff = now - this.options.windowMs;
    while (this.#slots && this.#at[this.#head]! <= cutoff) this.#dropOldest();
    const failures = this.#failures;
    const resumes = this.#resumes;
    const storm = resumes >= this.options.minResumes && failures / resumes > this.options.fraction;
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
        `BAIL-OUT STORM: ${failures} of the last ${resumes} resumes failed (last: ${outcome}). ` +
          'Pages now start fresh without an error. Check the key ring (STASIS_KEYS) and the last deploy.',
      );
    }
    return storm && failed;
  }

  /** Adds one resume at `at`: to the newest slot when it has the same time, else to a new slot. */
  #push(at: number, failed: boolean): void {
    const capacity = this.#at.length;
    let newest = (this.#head + this.#slots - 1) % capacity;
    if (!this.#slots || this.#at[newest] !== at) {
      if (this.#slots === capacity) this.#resize(capacity * 2);
      newest = (this.#head + this.#slots) % this.#at.length;
      this.#at[newest] = at;
      this.#resumesAt[newest] = 0;
      this.#failuresAt[newest] = 0;
      this.#slots++;
    }
    this.#resumesAt[newest]!++;
    this.#resumes++;
    if (failed) {
      this.#failuresAt[newest]!++;
      this.#failures++;
    }
  }

  #dropOldest(): void {
    this.#resumes -= this.#resumesAt[this.#head]!;
    this.#failures -= this.#failuresAt[this.#head]!;
    this.#head = (this.#head + 1) % this.#at.length;
    this.#slots--;
    // Give back what a burst took once the window is mostly empty again (halving keeps this O(1) amortised).
    if (this.#at.length > MIN_SLOTS && this.#slots <= this.#at.length / 4) this.#resize(this.#at.length / 2);
  }

  /** Moves the slots in use, oldest first, into rings of `capacity` (at least the slots in use). */
  #resize(capacity: number): void {
    const at = new Float64Array(capacity);
    const resumes = new Uint32Array(capacity);
    const failures = new Uint32Array(capacity);
    for (let i = 0; i < this.#slots; i++) {
      const from = (this.#head + i) % this.#at.length;
      at[i] = this.#at[from]!;
      resumes[i] = this.#resumesAt[from]!;
      failures[i] = this.#failuresAt[from]!;
    }
    this.#at = at;
    this.#resumesAt = resumes;
    this.#failuresAt = failures;
    this.#head = 0;
  }
}
