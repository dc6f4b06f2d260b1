/**
 * The contract every Ledger keeps, whatever stores it (memory, Redis): a blob id is consumed once, atomically,
 * and a blob whose generation is not newer than the newest one already resumed for its session is `stale`.
 * Only checks that do not depend on time; expiry and purging are tested per implementation.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Ledger, LedgerClaim, LedgerVerdict } from '../../../server-stub/ledger.js';

export interface LedgerFixture {
  ledger: Ledger;
  cleanup?: () => Promise<void>;
}

/** The lease the fixtures give their ledgers (`new MemoryLedger(Date.now, CONTRACT_LEASE_MS)`), so retries are testable. */
export const CONTRACT_LEASE_MS = 300;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const id = (label: string) => `${label}-${randomBytes(9).toString('base64url')}`;

/** A claim with fresh random jti and sid (unless given) that expires in an hour. */
export function claimOf(over: Partial<LedgerClaim> = {}): LedgerClaim {
  return { jti: id('jti'), sid: id('sid'), gen: 1, expiresAtMs: Date.now() + 3_600_000, bid: id('bid'), attempt: id('try'), ...over };
}

/** The same blob presented by another browser (another binding): a replay. */
export function fromAnotherBrowser(claim: LedgerClaim): LedgerClaim {
  return { ...claim, bid: id('bid'), attempt: id('try') };
}

/** The same blob presented again by the same browser (a retry after an answer that never came). */
export function retryOf(claim: LedgerClaim): LedgerClaim {
  return { ...claim, attempt: id('try') };
}

const count = (verdicts: LedgerVerdict[], verdict: LedgerVerdict) => verdicts.filter((v) => v === verdict).length;

/** Runs the ledger contract against the ledgers `make` builds (a fresh one per test). */
export function describeLedgerContract(name: string, make: () => Promise<LedgerFixture>): void {
  describe(`${name} (ledger contract)`, () => {
    let fixture: LedgerFixture | undefined;
    let ledger: Ledger;

    beforeEach(async () => {
      fixture = await make();
      ledger = fixture.ledger;
    });

    afterEach(async () => {
      const done = fixture;
      fixture = undefined;
      await done?.cleanup?.();
    });

    describe('once only', () => {
      it('consumes a blob id once; later calls answer replayed; other ids are independent', async () => {
        const a = claimOf();
        const b = claimOf();
        expect(await ledger.consume(a)).toBe('ok');
        expect(await ledger.consume(fromAnotherBrowser(a))).toBe('replayed');
        expect(await ledger.consume(fromAnotherBrowser({ ...a, expiresAtMs: a.expiresAtMs + 1_000_000 }))).toBe('replayed');
        expect(await ledger.consume(b)).toBe('ok');
        expect(await ledger.consume(fromAnotherBrowser(b))).toBe('replayed');
        expect(await ledger.consume(fromAnotherBrowser(a))).toBe('replayed');
      });

      it('a consumed id is replayed whatever sid or generation the claim names (the id is checked first)', async () => {
        const a = claimOf({ gen: 3 });
        expect(await ledger.consume(a)).toBe('ok');
        expect(await ledger.consume(fromAnotherBrowser({ ...a, gen: 2 }))).toBe('replayed');
        expect(await ledger.consume(fromAnotherBrowser({ ...a, gen: 9 }))).toBe('replayed');
        expect(await ledger.consume(fromAnotherBrowser({ ...a, sid: id('sid') }))).toBe('replayed');
      });

      it('50 concurrent consumes of one blob by 50 browsers: exactly one ok, the rest replayed', async () => {
        const claim = claimOf();
        const verdicts = await Promise.all(Array.from({ length: 50 }, () => ledger.consume(fromAnotherBrowser(claim))));
        expect(count(verdicts, 'ok')).toBe(1);
        expect(count(verdicts, 'replayed')).toBe(49);
      });

      it('50 concurrent consumes of one blob by one browser: exactly one ok, the rest busy (never two oks)', async () => {
        const claim = claimOf();
        const verdicts = await Promise.all(Array.from({ length: 50 }, () => ledger.consume(retryOf(claim))));
        expect(count(verdicts, 'ok')).toBe(1);
        expect(count(verdicts, 'busy')).toBe(49);
      });

      it('concurrent consumes of many ids: each id wins exactly once', async () => {
        const claims = Array.from({ length: 20 }, () => claimOf());
        const calls = claims
          .flatMap((claim) => [claim, claim, claim])
          .map((claim) => ledger.consume(fromAnotherBrowser(claim)).then((verdict) => [claim.jti, verdict] as const));
        const results = await Promise.all(calls);
        const wins = results.filter(([, verdict]) => verdict === 'ok').map(([jti]) => jti);
        expect(wins.sort()).toEqual(claims.map((c) => c.jti).sort());
        expect(results.filter(([, verdict]) => verdict !== 'ok').every(([, verdict]) => verdict === 'replayed')).toBe(true);
      });
    });

    describe('newest generation', () => {
      it('after gen 3 is consumed, gen 2 and another gen-3 blob are stale, gen 4 is ok', async () => {
        const sid = id('sid');
        expect(await ledger.consume(claimOf({ sid, gen: 3 }))).toBe('ok');
        expect(await ledger.consume(claimOf({ sid, gen: 2 }))).toBe('stale');
        expect(await ledger.consume(claimOf({ sid, gen: 3 }))).toBe('stale');
        expect(await ledger.consume(claimOf({ sid, gen: 1 }))).toBe('stale');
        expect(await ledger.consume(claimOf({ sid, gen: 4 }))).toBe('ok');
        // Now gen 4 is the newest: gen 3 and 4 are stale, gen 5 is ok.
        expect(await ledger.consume(claimOf({ sid, gen: 3 }))).toBe('stale');
        expect(await ledger.consume(claimOf({ sid, gen: 4 }))).toBe('stale');
        expect(await ledger.consume(claimOf({ sid, gen: 5 }))).toBe('ok');
      });

      it('a stale blob stays stale when presented again, by this browser or another (never replayed, never ok)', async () => {
        const sid = id('sid');
        expect(await ledger.consume(claimOf({ sid, gen: 3 }))).toBe('ok');
        const old = claimOf({ sid, gen: 2 });
        expect(await ledger.consume(old)).toBe('stale');
        expect(await ledger.consume({ ...old, attempt: id('attempt') })).toBe('stale');
        expect(await ledger.consume({ ...old, bid: id('bid'), attempt: id('attempt') })).toBe('stale');
      });

      it('a newer generation may skip some (gen 2 then gen 7), and a stale blob does not lower the newest', async () => {
        const sid = id('sid');
        expect(await ledger.consume(claimOf({ sid, gen: 2 }))).toBe('ok');
        expect(await ledger.consume(claimOf({ sid, gen: 7 }))).toBe('ok');
        expect(await ledger.consume(claimOf({ sid, gen: 5 }))).toBe('stale');
        expect(await ledger.consume(claimOf({ sid, gen: 6 }))).toBe('stale');
        expect(await ledger.consume(claimOf({ sid, gen: 7 }))).toBe('stale');
        expect(await ledger.consume(claimOf({ sid, gen: 8 }))).toBe('ok');
      });

      it('sessions are independent: a high generation of one sid does not make another sid stale', async () => {
        const [a, b] = [id('sid'), id('sid')];
        expect(await ledger.consume(claimOf({ sid: a, gen: 5 }))).toBe('ok');
        expect(await ledger.consume(claimOf({ sid: b, gen: 1 }))).toBe('ok');
        expect(await ledger.consume(claimOf({ sid: b, gen: 2 }))).toBe('ok');
        expect(await ledger.consume(claimOf({ sid: a, gen: 4 }))).toBe('stale');
        expect(await ledger.consume(claimOf({ sid: b, gen: 2 }))).toBe('stale');
        expect(await ledger.consume(claimOf({ sid: a, gen: 6 }))).toBe('ok');
      });

      it('concurrent blobs of one session and generation (different ids): exactly one ok, the rest stale', async () => {
        const sid = id('sid');
        const claims = Array.from({ length: 30 }, () => claimOf({ sid, gen: 4 }));
        const verdicts = await Promise.all(claims.map((claim) => ledger.consume(claim)));
        expect(count(verdicts, 'ok')).toBe(1);
        expect(count(verdicts, 'stale')).toBe(29);
      });

      it('concurrent blobs of one session with different generations: the newest is ok, none is replayed', async () => {
        const sid = id('sid');
        const claims = Array.from({ length: 10 }, (_, i) => claimOf({ sid, gen: i + 1 }));
        const verdicts = await Promise.all(claims.map((claim) => ledger.consume(claim)));
        expect(verdicts.at(-1)).toBe('ok'); // whatever the order, nothing as new as gen 10 was recorded before it
        expect(count(verdicts, 'replayed')).toBe(0);
        expect(await ledger.consume(claimOf({ sid, gen: 10 }))).toBe('stale');
        expect(await ledger.consume(claimOf({ sid, gen: 11 }))).toBe('ok');
      });
    });

    describe('retries by the same browser (an answer that never came)', () => {
      it(`busy while the earlier attempt's lease runs (${CONTRACT_LEASE_MS} ms here), retried after it; another browser is still refused`, async () => {
        const sid = id('sid');
        const claim = claimOf({ sid, gen: 4 });
        expect(await ledger.consume(claim)).toBe('ok');
        expect(await ledger.consume(retryOf(claim))).toBe('busy');
        await sleep(CONTRACT_LEASE_MS + 100);
        const retry = retryOf(claim);
        expect(await ledger.consume(retry)).toBe('retried');
        // The retry took the lease over: a second retry meanwhile is busy, so two retries never both restore.
        expect(await ledger.consume(retryOf(claim))).toBe('busy');
        expect(await ledger.consume(fromAnotherBrowser(claim))).toBe('replayed');
        // The newest generation did not move: another blob of gen 4 is still stale.
        expect(await ledger.consume(claimOf({ sid, gen: 4 }))).toBe('stale');
      });

      it('a retry after a newer generation was resumed is replayed: the session moved on', async () => {
        const sid = id('sid');
        const claim = claimOf({ sid, gen: 4 });
        expect(await ledger.consume(claim)).toBe('ok');
        expect(await ledger.consume(claimOf({ sid, gen: 5 }))).toBe('ok');
        await sleep(CONTRACT_LEASE_MS + 100);
        expect(await ledger.consume(retryOf(claim))).toBe('replayed');
      });

      it("a release by the retrying attempt frees the blob for a plain consume", async () => {
        const claim = claimOf({ gen: 2 });
        expect(await ledger.consume(claim)).toBe('ok');
        await sleep(CONTRACT_LEASE_MS + 100);
        const retry = retryOf(claim);
        expect(await ledger.consume(retry)).toBe('retried');
        await ledger.release(retry);
        expect(await ledger.consume(retryOf(claim))).toBe('ok');
      });
    });

    describe('release', () => {
      it('makes the same claim usable again', async () => {
        const claim = claimOf({ gen: 3 });
        expect(await ledger.consume(claim)).toBe('ok');
        await ledger.release(claim);
        expect(await ledger.consume(claim)).toBe('ok');
        expect(await ledger.consume(fromAnotherBrowser(claim))).toBe('replayed');
      });

      it("undoes only its own attempt: a release naming another attempt leaves the consume in place", async () => {
        const claim = claimOf({ gen: 3 });
        expect(await ledger.consume(claim)).toBe('ok');
        await ledger.release(retryOf(claim));
        expect(await ledger.consume(fromAnotherBrowser(claim))).toBe('replayed');
      });

      it('also works for the first claim of a session (gen 1) and for a released claim released again', async () => {
        const claim = claimOf({ gen: 1 });
        expect(await ledger.consume(claim)).toBe('ok');
        await ledger.release(claim);
        await ledger.release(claim);
        expect(await ledger.consume(claim)).toBe('ok');
      });

      it('steps the newest generation back: another blob of the released generation is ok, an older one stays stale', async () => {
        const sid = id('sid');
        expect(await ledger.consume(claimOf({ sid, gen: 2 }))).toBe('ok');
        const three = claimOf({ sid, gen: 3 });
        expect(await ledger.consume(three)).toBe('ok');
        await ledger.release(three);
        expect(await ledger.consume(claimOf({ sid, gen: 2 }))).toBe('stale');
        expect(await ledger.consume(claimOf({ sid, gen: 3 }))).toBe('ok');
        expect(await ledger.consume(three)).toBe('stale'); // its id was freed, but gen 3 is the newest again
      });

      it('releasing a claim that is no longer the newest frees its id but keeps the newer generation', async () => {
        const sid = id('sid');
        const three = claimOf({ sid, gen: 3 });
        expect(await ledger.consume(three)).toBe('ok');
        expect(await ledger.consume(claimOf({ sid, gen: 4 }))).toBe('ok');
        await ledger.release(three);
        expect(await ledger.consume(three)).toBe('stale'); // not replayed: the id was freed
        expect(await ledger.consume(claimOf({ sid, gen: 4 }))).toBe('stale');
        expect(await ledger.consume(claimOf({ sid, gen: 5 }))).toBe('ok');
      });

      it('releasing a claim never consumed changes nothing', async () => {
        const sid = id('sid');
        expect(await ledger.consume(claimOf({ sid, gen: 2 }))).toBe('ok');
        const unseen = claimOf({ sid, gen: 5 });
        await ledger.release(unseen);
        expect(await ledger.consume(claimOf({ sid, gen: 2 }))).toBe('stale');
        expect(await ledger.consume(unseen)).toBe('ok');
      });

      it('other sessions and ids are untouched by a release', async () => {
        const a = claimOf({ gen: 2 });
        const b = claimOf({ gen: 2 });
        expect(await ledger.consume(a)).toBe('ok');
        expect(await ledger.consume(b)).toBe('ok');
        await ledger.release(a);
        expect(await ledger.consume(fromAnotherBrowser(b))).toBe('replayed');
        expect(await ledger.consume(claimOf({ sid: b.sid, gen: 2 }))).toBe('stale');
        expect(await ledger.consume(a)).toBe('ok');
      });
    });
  });
}
