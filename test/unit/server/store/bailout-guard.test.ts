import { describe, expect, it } from 'vitest';
import type { Outcome } from '../../../../src/protocol/index.js';
import { BailoutGuard } from '../../../../server-stub/bailout-guard.js';
import { Metrics } from '../../../../server-stub/metrics.js';
import { capturingLogger, Clock } from './store-helpers.js';

function setup(over: { fraction?: number; minResumes?: number; windowMs?: number; clock?: Clock } = {}) {
  const clock = over.clock ?? new Clock();
  const logger = capturingLogger();
  const metrics = new Metrics();
  const storms: boolean[] = [];
  const original = metrics.storm.bind(metrics);
  metrics.storm = (active: boolean) => {
    storms.push(active);
    original(active);
  };
  const guard = new BailoutGuard({
    fraction: over.fraction ?? 0.5,
    minResumes: over.minResumes ?? 10,
    windowMs: over.windowMs ?? 60_000,
    logger,
    metrics,
    now: clock.now,
  });
  const gauge = () =>
    metrics
      .render({ live: 0, hibernated: 0, draining: false })
      .split('\n')
      .filter((line) => line.startsWith('stasis_bailout_storm'));
  return { clock, logger, metrics, storms, guard, gauge };
}

/** Records `outcome` n times; answers what record() returned each time. */
const many = (guard: BailoutGuard, outcome: Outcome, n: number) => Array.from({ length: n }, () => guard.record(outcome));

const FAILURES: Outcome[] = ['expired', 'tampered', 'unknown-key', 'wrong-binding', 'malformed', 'schema-reset', 'too-large'];
const IGNORED: Outcome[] = ['replayed', 'stale', 'unavailable', 'rate-limited', 'no-session', 'unserializable', 'forbidden-origin'];

describe('BailoutGuard', () => {
  it('starts off; successes and isolated failures never turn it on', () => {
    const { guard, logger, storms } = setup();
    expect(guard.active).toBe(false);
    expect(many(guard, 'ok', 20)).toEqual(Array(20).fill(false));
    expect(many(guard, 'expired', 5)).toEqual(Array(5).fill(false));
    expect(guard.active).toBe(false);
    expect(logger.lines).toEqual([]);
    expect(storms).toEqual([]);
  });

  it('needs at least minResumes in the window, even if all of them failed', () => {
    const { guard } = setup({ minResumes: 10 });
    expect(many(guard, 'tampered', 9)).toEqual(Array(9).fill(false));
    expect(guard.active).toBe(false);
    expect(guard.record('tampered')).toBe(true); // the 10th: 10 of 10 failed
    expect(guard.active).toBe(true);
  });

  it('turns on only when failures / total is strictly more than fraction', () => {
    const { guard } = setup({ fraction: 0.5, minResumes: 10 });
    many(guard, 'ok', 5);
    many(guard, 'expired', 5); // 5 of 10: exactly the fraction, not more
    expect(guard.active).toBe(false);
    expect(guard.record('expired')).toBe(true); // 6 of 11
    expect(guard.active).toBe(true);
  });

  it('returns true for failures while on and false for successes', () => {
    const { guard } = setup({ minResumes: 4 });
    many(guard, 'expired', 4);
    expect(guard.active).toBe(true);
    expect(guard.record('malformed')).toBe(true);
    expect(guard.record('ok')).toBe(false); // 5 of 6 failed: still on
    expect(guard.active).toBe(true);
    expect(guard.record('unknown-key')).toBe(true);
  });

  it.each(FAILURES)('%s counts as a failure', (outcome) => {
    const { guard } = setup({ minResumes: 3 });
    expect(many(guard, outcome, 3)).toEqual([false, false, true]);
    expect(guard.active).toBe(true);
  });

  it.each(IGNORED)('%s is ignored: not counted, answers false, even during a storm', (outcome) => {
    const { guard } = setup({ minResumes: 4, fraction: 0.5 });
    // Ignored outcomes do not count towards minResumes.
    expect(many(guard, outcome, 50)).toEqual(Array(50).fill(false));
    many(guard, 'expired', 3);
    expect(guard.active).toBe(false);
    expect(guard.record('expired')).toBe(true);
    // ...nor dilute the fraction, nor answer true while on.
    expect(many(guard, outcome, 50)).toEqual(Array(50).fill(false));
    expect(guard.active).toBe(true);
  });

  it('logs loudly (error) when it turns on, then at most every 10 s while it stays on', () => {
    const { guard, clock, logger } = setup({ minResumes: 4 });
    many(guard, 'tampered', 4);
    const errors = logger.at('error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/BAIL-OUT STORM/);
    expect(errors[0]).toContain('4 of the last 4 resumes failed');
    expect(errors[0]).toContain('last: tampered');
    expect(errors[0]).toContain('STASIS_KEYS');
    clock.advance(9_999);
    guard.record('expired');
    expect(logger.at('error')).toHaveLength(1);
    clock.advance(1);
    guard.record('wrong-binding');
    expect(logger.at('error')).toHaveLength(2);
    expect(logger.at('error')[1]).toContain('6 of the last 6 resumes failed (last: wrong-binding)');
  });

  it('metrics: storm(true) when it turns on (once), storm(false) when it turns off', () => {
    const { guard, clock, storms, gauge } = setup({ minResumes: 4, windowMs: 1_000 });
    expect(gauge()).toEqual(['stasis_bailout_storm 0', 'stasis_bailout_storms_total 0']);
    many(guard, 'expired', 10);
    expect(storms).toEqual([true]);
    expect(gauge()).toEqual(['stasis_bailout_storm 1', 'stasis_bailout_storms_total 1']);
    clock.advance(1_000);
    guard.record('ok');
    expect(storms).toEqual([true, false]);
    expect(gauge()).toEqual(['stasis_bailout_storm 0', 'stasis_bailout_storms_total 1']);
  });

  it('turns off when successes bring the window back under the fraction, and says so (warn)', () => {
    const { guard, logger } = setup({ minResumes: 4, fraction: 0.5 });
    many(guard, 'expired', 4);
    expect(guard.active).toBe(true);
    many(guard, 'ok', 3); // 4 of 7 failed: still on
    expect(guard.active).toBe(true);
    expect(guard.record('ok')).toBe(false); // 4 of 8: not more than half
    expect(guard.active).toBe(false);
    expect(logger.at('warn')).toEqual(['bail-out storm over: failed resumes show their error again.']);
    // Off: a failure that does not tip the window answers false (the page shows its error).
    many(guard, 'ok', 2); // 4 of 10
    expect(guard.record('expired')).toBe(false); // 5 of 11
    expect(guard.active).toBe(false);
    expect(guard.record('expired')).toBe(false); // 6 of 12: exactly half, still off
    expect(guard.record('expired')).toBe(true); // 7 of 13: on again, and this failure already starts fresh
    expect(guard.active).toBe(true);
  });

  it('the failure that turns it on answers true', () => {
    const { guard } = setup({ minResumes: 4, fraction: 0.5 });
    many(guard, 'ok', 2);
    many(guard, 'expired', 2); // 2 of 4
    expect(guard.active).toBe(false);
    expect(guard.record('expired')).toBe(true); // 3 of 5
    expect(guard.active).toBe(true);
  });

  it('turns off when the failures slide out of the window', () => {
    const { guard, clock, logger, storms } = setup({ minResumes: 4, windowMs: 60_000 });
    many(guard, 'expired', 6);
    expect(guard.active).toBe(true);
    clock.advance(59_999);
    expect(guard.record('ok')).toBe(false);
    expect(guard.active).toBe(true); // the failures are still inside the window
    clock.advance(1); // the six failures are now exactly windowMs old: out
    expect(guard.record('expired')).toBe(false); // window: [ok, expired] → below minResumes
    expect(guard.active).toBe(false);
    expect(storms).toEqual([true, false]);
    expect(logger.at('warn')).toHaveLength(1);
  });

  it('only the last window counts: old successes do not hide a new storm', () => {
    const { guard, clock } = setup({ minResumes: 4, windowMs: 10_000 });
    many(guard, 'ok', 100);
    clock.advance(10_000);
    expect(many(guard, 'expired', 4)).toEqual([false, false, false, true]);
    expect(guard.active).toBe(true);
  });

  it('a second storm turns on the gauge and counts again', () => {
    const { guard, clock, storms, gauge } = setup({ minResumes: 4, windowMs: 1_000 });
    many(guard, 'expired', 4);
    clock.advance(1_000);
    guard.record('ok'); // over
    clock.advance(1_000);
    many(guard, 'malformed', 4);
    expect(guard.active).toBe(true);
    expect(storms).toEqual([true, false, true]);
    expect(gauge()).toEqual(['stasis_bailout_storm 1', 'stasis_bailout_storms_total 2']);
  });

  it('a second storm 10 s or more after the last error line is logged again', () => {
    const { guard, clock, logger } = setup({ minResumes: 4, windowMs: 1_000 });
    many(guard, 'expired', 4);
    clock.advance(1_000);
    guard.record('ok'); // over
    clock.advance(9_000);
    many(guard, 'malformed', 4);
    expect(logger.at('error')).toHaveLength(2);
    expect(logger.at('error')[1]).toContain('(last: malformed)');
  });

  // A storm that starts again soon after the previous one ended is news again: it is logged.
  it('a second storm within 10 s of the last log is logged', () => {
    const { guard, clock, logger } = setup({ minResumes: 4, windowMs: 1_000 });
    many(guard, 'expired', 4);
    clock.advance(1_000);
    guard.record('ok');
    clock.advance(1_000);
    many(guard, 'malformed', 4);
    expect(logger.at('error')).toHaveLength(2);
  });

  // A clock that reads under 10 000 (a fake clock, a monotonic one) still logs the first storm.
  it('a clock that starts at 0 still logs the first storm', () => {
    const { guard, logger } = setup({ minResumes: 4, clock: new Clock(0) });
    many(guard, 'expired', 4);
    expect(guard.active).toBe(true);
    expect(logger.at('error')).toHaveLength(1);
  });

  it('works without metrics', () => {
    const clock = new Clock();
    const logger = capturingLogger();
    const guard = new BailoutGuard({ fraction: 0.5, minResumes: 2, windowMs: 1_000, logger, now: clock.now });
    expect(many(guard, 'expired', 2)).toEqual([false, true]);
    clock.advance(1_000);
    guard.record('ok');
    expect(guard.active).toBe(false);
  });
});
