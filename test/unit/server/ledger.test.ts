import { describe, expect, it } from 'vitest';
import { MemoryLedger } from '../../../server-stub/ledger.js';

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, set: (v: number) => void (t = v), advance: (ms: number) => void (t += ms) };
}

describe('MemoryLedger', () => {
  it('consumes an id once; later calls answer false; other ids are independent', async () => {
    const c = clock();
    const ledger = new MemoryLedger(c.now);
    const exp = c.now() + 3_600_000;
    expect(await ledger.consume('a', exp)).toBe(true);
    expect(await ledger.consume('a', exp)).toBe(false);
    expect(await ledger.consume('a', exp + 1_000_000)).toBe(false);
    expect(await ledger.consume('b', exp)).toBe(true);
    expect(await ledger.consume('b', exp)).toBe(false);
    expect(ledger.size).toBe(2);
  });

  it('50 concurrent consumes of one id: exactly one wins', async () => {
    const ledger = new MemoryLedger();
    const exp = Date.now() + 60_000;
    const results = await Promise.all(Array.from({ length: 50 }, () => ledger.consume('same', exp)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(results.filter((r) => r === false)).toHaveLength(49);
  });

  it('concurrent consumes of many ids: each id wins exactly once', async () => {
    const ledger = new MemoryLedger();
    const exp = Date.now() + 60_000;
    const ids = Array.from({ length: 20 }, (_, i) => `id-${i}`);
    const calls = ids.flatMap((id) => [id, id, id]).map((id) => ledger.consume(id, exp).then((won) => [id, won] as const));
    const wins = (await Promise.all(calls)).filter(([, won]) => won).map(([id]) => id);
    expect(wins.sort()).toEqual([...ids].sort());
  });

  it('purges expired entries (at most once a minute) and keeps unexpired ones', async () => {
    const c = clock(0);
    const ledger = new MemoryLedger(c.now);
    expect(await ledger.consume('short', 10_000)).toBe(true);
    expect(await ledger.consume('long', 10_000_000)).toBe(true);
    expect(ledger.size).toBe(2);

    // 'short' has expired but the next purge is only due at 60 s: it stays refused meanwhile.
    c.set(30_000);
    expect(await ledger.consume('short', 10_000)).toBe(false);
    expect(ledger.size).toBe(2);

    c.set(60_000);
    expect(await ledger.consume('other', 10_000_000)).toBe(true);
    expect(ledger.size).toBe(2); // short purged, other added
    // Purge never frees an unexpired id.
    expect(await ledger.consume('long', 10_000_000)).toBe(false);
  });

  it('an entry expiring exactly now is purged (exp <= now)', async () => {
    const c = clock(0);
    const ledger = new MemoryLedger(c.now);
    await ledger.consume('edge', 120_000);
    await ledger.consume('later', 120_001);
    c.set(120_000);
    await ledger.consume('tick', 10_000_000);
    expect(ledger.size).toBe(2); // edge gone; later and tick kept
    expect(await ledger.consume('later', 120_001)).toBe(false);
  });

  it('across many purges with a moving clock, no unexpired id is ever consumed twice', async () => {
    const c = clock(0);
    const ledger = new MemoryLedger(c.now);
    const live = new Map<string, number>();
    for (let step = 0; step < 200; step++) {
      c.advance(7_919); // crosses the 60 s purge interval many times
      const id = `id-${step}`;
      const exp = c.now() + (step % 5) * 45_000 + 1; // some expire before the next purge, some long after
      expect(await ledger.consume(id, exp)).toBe(true);
      live.set(id, exp);
      for (const [other, otherExp] of live) {
        if (otherExp > c.now()) expect(await ledger.consume(other, otherExp)).toBe(false);
        else live.delete(other);
      }
    }
    // Memory stays bounded by what is still unexpired (plus at most one purge interval).
    expect(ledger.size).toBeLessThan(30);
  });
});
