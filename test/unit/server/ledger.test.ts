import { describe, expect, it } from 'vitest';
import { MemoryLedger, type LedgerClaim } from '../../../server-stub/ledger.js';
import { CONTRACT_LEASE_MS, describeLedgerContract } from './ledger-contract.js';

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, set: (v: number) => void (t = v), advance: (ms: number) => void (t += ms) };
}

/** A claim of its own session (gen 1) unless told otherwise, so only the id matters. */
const claim = (jti: string, expiresAtMs: number, over: Partial<LedgerClaim> = {}): LedgerClaim => ({
  jti,
  sid: `sid-of-${jti}`,
  gen: 1,
  expiresAtMs,
  bid: `browser-${Math.random()}`, // each call another browser: a repeat is a replay
  attempt: `try-${jti}`,
  ...over,
});

/** Another browser's attempt, for claims written out in full. */
const elsewhere = () => ({ bid: `browser-${Math.random()}`, attempt: `try-${Math.random()}` });

describeLedgerContract('MemoryLedger', async () => ({ ledger: new MemoryLedger(Date.now, CONTRACT_LEASE_MS) }));

describe('MemoryLedger', () => {
  it('holds one entry per consumed id, whatever the verdict', async () => {
    const c = clock();
    const ledger = new MemoryLedger(c.now);
    const exp = c.now() + 3_600_000;
    expect(await ledger.consume(claim('a', exp))).toBe('ok');
    expect(await ledger.consume(claim('a', exp))).toBe('replayed');
    expect(await ledger.consume(claim('a', exp + 1_000_000))).toBe('replayed');
    expect(await ledger.consume(claim('b', exp))).toBe('ok');
    expect(await ledger.consume(claim('b', exp))).toBe('replayed');
    expect(ledger.size).toBe(2);
    // A stale blob uses up its id too.
    expect(await ledger.consume(claim('c', exp, { sid: 'sid-of-a', gen: 1 }))).toBe('stale');
    expect(ledger.size).toBe(3);
    await ledger.release(claim('b', exp));
    expect(ledger.size).toBe(2);
  });

  it('purges expired entries (at most once a minute) and keeps unexpired ones', async () => {
    const c = clock(0);
    const ledger = new MemoryLedger(c.now);
    expect(await ledger.consume(claim('short', 10_000))).toBe('ok');
    expect(await ledger.consume(claim('long', 10_000_000))).toBe('ok');
    expect(ledger.size).toBe(2);

    // 'short' has expired but the next purge is only due at 60 s: it stays refused meanwhile.
    c.set(30_000);
    expect(await ledger.consume(claim('short', 10_000))).toBe('replayed');
    expect(ledger.size).toBe(2);

    c.set(60_000);
    expect(await ledger.consume(claim('other', 10_000_000))).toBe('ok');
    expect(ledger.size).toBe(2); // short purged, other added
    // Purge never frees an unexpired id.
    expect(await ledger.consume(claim('long', 10_000_000))).toBe('replayed');
  });

  it('an entry expiring exactly now is purged (exp <= now)', async () => {
    const c = clock(0);
    const ledger = new MemoryLedger(c.now);
    await ledger.consume(claim('edge', 120_000));
    await ledger.consume(claim('later', 120_001));
    c.set(120_000);
    await ledger.consume(claim('tick', 10_000_000));
    expect(ledger.size).toBe(2); // edge gone; later and tick kept
    expect(await ledger.consume(claim('later', 120_001))).toBe('replayed');
  });

  it('across many purges with a moving clock, no unexpired id is ever consumed twice', async () => {
    const c = clock(0);
    const ledger = new MemoryLedger(c.now);
    const live = new Map<string, number>();
    for (let step = 0; step < 200; step++) {
      c.advance(7_919); // crosses the 60 s purge interval many times
      const id = `id-${step}`;
      const exp = c.now() + (step % 5) * 45_000 + 1; // some expire before the next purge, some long after
      expect(await ledger.consume(claim(id, exp))).toBe('ok');
      live.set(id, exp);
      for (const [other, otherExp] of live) {
        if (otherExp > c.now()) expect(await ledger.consume(claim(other, otherExp))).toBe('replayed');
        else live.delete(other);
      }
    }
    // Memory stays bounded by what is still unexpired (plus at most one purge interval).
    expect(ledger.size).toBeLessThan(30);
  });

  it('the newest-generation record expires with the blob: after its expiry and a purge an older generation is ok again', async () => {
    const c = clock(0);
    const ledger = new MemoryLedger(c.now);
    const sid = 'expiring';
    const exp = 100_000;
    expect(await ledger.consume({ jti: 'g3', sid, gen: 3, expiresAtMs: exp, ...elsewhere() })).toBe('ok');
    c.set(exp - 1);
    expect(await ledger.consume({ jti: 'g2-early', sid, gen: 2, expiresAtMs: 1_000_000, ...elsewhere() })).toBe('stale');
    // Past the blob's expiry and past the next purge (due at 60 s after the last one, at 0 and then at 99 999).
    c.set(exp + 60_000);
    expect(await ledger.consume({ jti: 'g2-late', sid, gen: 2, expiresAtMs: c.now() + 100_000, ...elsewhere() })).toBe('ok');
    // The stale blob's id is still unexpired, so it stays stale (a stale verdict did not extend the record).
    expect(await ledger.consume({ jti: 'g2-early', sid, gen: 9, expiresAtMs: 1_000_000, ...elsewhere() })).toBe('stale');
    // And the new record is in force.
    expect(await ledger.consume({ jti: 'g1', sid, gen: 1, expiresAtMs: c.now() + 100_000, ...elsewhere() })).toBe('stale');
    expect(await ledger.consume({ jti: 'g3-again', sid, gen: 3, expiresAtMs: c.now() + 100_000, ...elsewhere() })).toBe('ok');
  });

  it('the newest-generation record lasts as long as the longest-lived blob consumed for its session', async () => {
    const c = clock(0);
    const ledger = new MemoryLedger(c.now);
    const sid = 'mixed';
    expect(await ledger.consume({ jti: 'long', sid, gen: 3, expiresAtMs: 1_000_000, ...elsewhere() })).toBe('ok');
    expect(await ledger.consume({ jti: 'short', sid, gen: 4, expiresAtMs: 100_000, ...elsewhere() })).toBe('ok');
    c.set(200_000); // the gen-4 blob expired (and a purge ran); the gen-3 blob has not
    expect(await ledger.consume({ jti: 'old', sid, gen: 2, expiresAtMs: 1_000_000, ...elsewhere() })).toBe('stale');
    expect(await ledger.consume({ jti: 'four', sid, gen: 4, expiresAtMs: 1_000_000, ...elsewhere() })).toBe('stale');
    expect(await ledger.consume({ jti: 'five', sid, gen: 5, expiresAtMs: 1_000_000, ...elsewhere() })).toBe('ok');
  });
});
