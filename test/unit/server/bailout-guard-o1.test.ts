/**
 * The bail-out guard keeps its window as a ring of per-clock-reading slots with running totals: a resume
 * costs O(1) amortised and the ring holds at most one slot per distinct clock reading in the window, however
 * many resumes arrive. Its answers are the same as the straightforward list-of-events window it replaced
 * (checked here against that implementation on random traffic); the behaviour itself is in
 * store/bailout-guard.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Outcome } from '../../../src/protocol/index.js';
import { BailoutGuard } from '../../../server-stub/bailout-guard.js';
import type { Logger } from '../../../server-stub/logger.js';
import { Metrics } from '../../../server-stub/metrics.js';
import { capturingLogger, Clock } from './store/store-helpers.js';

const BAILOUTS: ReadonlySet<Outcome> = new Set(['expired', 'tampered', 'unknown-key', 'wrong-binding', 'malformed', 'schema-reset', 'too-large']);

/** The window as it was: every event kept, the whole window scanned on each record. */
class ListGuard {
  #events: Array<{ at: number; failed: boolean }> = [];
  #active = false;
  #lastLog = -Infinity;
  constructor(private readonly options: { fraction: number; minResumes: number; windowMs: number; logger: Logger; storm: (on: boolean) => void; now: () => number }) {}
  get active(): boolean {
    return this.#active;
  }
  record(outcome: Outcome): boolean {
    const now = this.options.now();
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
      this.options.storm(storm);
      if (!storm) {
        this.#lastLog = -Infinity;
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

function guardOf(windowMs: number, clock: Clock, minResumes = 20, fraction = 0.5) {
  const logger = capturingLogger();
  const guard = new BailoutGuard({ fraction, minResumes, windowMs, logger, metrics: new Metrics(), now: clock.now });
  return { guard, logger };
}

describe('BailoutGuard: O(1) amortised per resume, bounded by the clock readings in the window', () => {
  it('100 000 resumes at one clock reading take one slot', () => {
    const clock = new Clock();
    const { guard, logger } = guardOf(60_000, clock);
    for (let i = 0; i < 100_000; i++) guard.record(i % 3 === 0 ? 'ok' : 'expired');
    expect(guard.footprint).toStrictEqual({ slots: 1, capacity: 16, resumes: 100_000 });
    expect(guard.active).toBe(true);
    expect(logger.at('error')).toHaveLength(1);
    // 10 s later (still inside the window) the storm is logged again, with the exact counts.
    clock.advance(10_000);
    expect(guard.record('malformed')).toBe(true);
    expect(guard.footprint).toStrictEqual({ slots: 2, capacity: 16, resumes: 100_001 });
    expect(logger.at('error')[1]).toContain('66667 of the last 100001 resumes failed (last: malformed)');
  });

  it('100 000 resumes, one per millisecond, in a 1 s window: never more than 1 000 slots (1 024 allocated)', () => {
    const clock = new Clock();
    const { guard } = guardOf(1_000, clock);
    let most = { slots: 0, capacity: 0 };
    let uneven = 0;
    for (let i = 0; i < 100_000; i++) {
      guard.record(i % 4 === 0 ? 'tampered' : 'ok');
      const f = guard.footprint;
      most = { slots: Math.max(most.slots, f.slots), capacity: Math.max(most.capacity, f.capacity) };
      if (f.resumes !== f.slots) uneven++; // one resume per reading
      clock.advance(1);
    }
    expect(uneven).toBe(0);
    expect(most).toStrictEqual({ slots: 1_000, capacity: 1_024 });
    expect(guard.active).toBe(false);
  });

  it('100 000 resumes, ten per millisecond, in the default 60 s window: 10 000 slots; a quiet minute gives the memory back', () => {
    const clock = new Clock();
    const { guard } = guardOf(60_000, clock);
    for (let i = 0; i < 100_000; i++) {
      guard.record('unknown-key');
      if (i % 10 === 9) clock.advance(1);
    }
    expect(guard.footprint).toStrictEqual({ slots: 10_000, capacity: 16_384, resumes: 100_000 });
    expect(guard.active).toBe(true);
    clock.advance(60_000);
    expect(guard.record('ok')).toBe(false);
    expect(guard.footprint).toStrictEqual({ slots: 1, capacity: 16, resumes: 1 });
    expect(guard.active).toBe(false);
  });

  it('a ring that wrapped around many times keeps exact counts (the same answers and log lines as the list)', () => {
    const clock = new Clock(0);
    const { guard, logger } = guardOf(100, clock, 10);
    const reference = capturingLogger();
    const list = new ListGuard({ fraction: 0.5, minResumes: 10, windowMs: 100, logger: reference, storm: () => {}, now: clock.now });
    let most = 0;
    let differ = 0;
    for (let i = 0; i < 100_000; i++) {
      // Mostly exactly half fail; every 997th resume a short run of failures tips the window over.
      const outcome: Outcome = i % 997 < 6 ? 'expired' : i % 2 === 0 ? 'ok' : 'expired';
      if (guard.record(outcome) !== list.record(outcome)) differ++;
      most = Math.max(most, guard.footprint.capacity);
      clock.advance(i % 3); // 0-2 ms apart: two or three resumes share a reading now and then
    }
    expect(differ).toBe(0);
    expect(most).toBeLessThanOrEqual(128); // at most 100 readings in the window
    expect(guard.footprint.slots).toBeLessThanOrEqual(100);
    expect(logger.at('error').length).toBeGreaterThan(10); // the storms happened, and were logged alike
    expect(logger.lines).toStrictEqual(reference.lines);
  });

  it('answers, logs and storm switches are those of the list-of-events window, on random traffic', () => {
    const outcomes: Outcome[] = ['ok', 'ok', 'expired', 'tampered', 'unknown-key', 'malformed', 'replayed', 'stale', 'unavailable', 'rate-limited'];
    const step = fc.record({
      // Mostly the same or the next few readings, sometimes a jump past the window, rarely a clock going back.
      advance: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 3 }) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 120 }) }, { weight: 1, arbitrary: fc.integer({ min: -5, max: 0 }) }),
      outcome: fc.constantFrom(...outcomes),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 12 }),
        fc.constantFrom(0, 0.25, 0.5, 0.8),
        fc.integer({ min: 0, max: 20_000 }),
        fc.array(step, { maxLength: 400 }),
        (windowMs, minResumes, fraction, start, steps) => {
          const clock = new Clock(start);
          const ours = capturingLogger();
          const theirs = capturingLogger();
          const ourStorms: boolean[] = [];
          const theirStorms: boolean[] = [];
          const metrics = new Metrics();
          metrics.storm = (on: boolean) => void ourStorms.push(on);
          const guard = new BailoutGuard({ fraction, minResumes, windowMs, logger: ours, metrics, now: clock.now });
          const list = new ListGuard({ fraction, minResumes, windowMs, logger: theirs, storm: (on) => void theirStorms.push(on), now: clock.now });
          for (const { advance, outcome } of steps) {
            clock.advance(advance);
            expect(guard.record(outcome)).toBe(list.record(outcome));
            expect(guard.active).toBe(list.active);
          }
          expect(ours.lines).toStrictEqual(theirs.lines);
          expect(ourStorms).toStrictEqual(theirStorms);
        },
      ),
      { numRuns: 300 },
    );
  });
});
