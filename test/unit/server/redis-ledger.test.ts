/** The ledger contract against RedisLedger on a real redis-server, plus what only a shared Redis has to show. */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerClaim } from '../../../server-stub/ledger.js';
import { RedisLedger } from '../../../server-stub/redis/redis-ledger.js';
import { RedisServer } from '../../support/redis-server.js';
import { claimOf, CONTRACT_LEASE_MS, describeLedgerContract, fromAnotherBrowser, retryOf } from './ledger-contract.js';

let redis: RedisServer | undefined;

beforeAll(async () => {
  redis = await RedisServer.start();
}, 20_000);

afterAll(async () => {
  await redis?.stop();
});

const freshPrefix = () => `test-${randomBytes(6).toString('base64url')}:`;

/**
 * A RedisLedger on the test server, once its connection is up: the client fails fast rather than queueing
 * (no offline queue), so a command sent before it connected would fail. A release of a claim nobody holds
 * is a no-op, so it serves as the probe.
 */
async function connectedLedger(prefix: string): Promise<RedisLedger> {
  if (!redis) throw new Error('redis-server did not start');
  const ledger = new RedisLedger({ url: redis.url, prefix, leaseMs: CONTRACT_LEASE_MS });
  const probe: LedgerClaim = { jti: 'probe', sid: 'probe', gen: 0, expiresAtMs: Date.now() + 1000, bid: 'probe', attempt: 'probe' };
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      await ledger.release(probe);
      return ledger;
    } catch (error) {
      if (Date.now() > deadline) {
        await ledger.close();
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

describeLedgerContract('RedisLedger', async () => {
  const ledger = await connectedLedger(freshPrefix());
  return { ledger, cleanup: () => ledger.close() };
});

describe('RedisLedger across instances', () => {
  const opened: RedisLedger[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((ledger) => ledger.close()));
  });

  /** Two ledgers on separate connections sharing one prefix: two server instances of one app. */
  async function twoInstances(): Promise<[RedisLedger, RedisLedger]> {
    const prefix = freshPrefix();
    const pair = await Promise.all([connectedLedger(prefix), connectedLedger(prefix)]);
    opened.push(...pair);
    return pair;
  }

  it('100 concurrent consumes of one blob through two instances: exactly one ok (other browsers replayed, the same one busy)', async () => {
    const [a, b] = await twoInstances();
    const claim = claimOf({ gen: 2 });
    const verdicts = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).consume(i % 4 < 2 ? fromAnotherBrowser(claim) : retryOf(claim))));
    expect(verdicts.filter((v) => v === 'ok')).toHaveLength(1);
    expect(verdicts.filter((v) => v === 'replayed' || v === 'busy')).toHaveLength(99);
  });

  it('the newest generation is shared: a blob resumed on one instance makes older ones stale on the other', async () => {
    const [a, b] = await twoInstances();
    const sid = `sid-${randomBytes(6).toString('base64url')}`;
    expect(await a.consume(claimOf({ sid, gen: 3 }))).toBe('ok');
    expect(await b.consume(claimOf({ sid, gen: 2 }))).toBe('stale');
    expect(await b.consume(claimOf({ sid, gen: 3 }))).toBe('stale');
    const four = claimOf({ sid, gen: 4 });
    expect(await b.consume(four)).toBe('ok');
    expect(await a.consume(fromAnotherBrowser(four))).toBe('replayed');
    // A release on one instance is seen by the other.
    await b.release(four);
    expect(await a.consume(four)).toBe('ok');
  });

  it('instances with different prefixes (different apps) do not share ids or generations', async () => {
    const [a] = await twoInstances();
    const other = await connectedLedger(freshPrefix());
    opened.push(other);
    const claim = claimOf({ gen: 5 });
    expect(await a.consume(claim)).toBe('ok');
    expect(await other.consume(claim)).toBe('ok');
    expect(await other.consume(claimOf({ sid: claim.sid, gen: 4 }))).toBe('stale');
  });

  it('the id and the generation record expire with the blob (Redis TTL; at least 1 s)', async () => {
    const [a] = await twoInstances();
    const sid = `sid-${randomBytes(6).toString('base64url')}`;
    const short = claimOf({ sid, gen: 3, expiresAtMs: Date.now() + 200 }); // kept for the 1 s minimum
    expect(await a.consume(short)).toBe('ok');
    expect(await a.consume(claimOf({ sid, gen: 2 }))).toBe('stale');
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    expect(await a.consume(claimOf({ sid, gen: 2 }))).toBe('ok');
    expect(await a.consume(fromAnotherBrowser({ ...short, gen: 7 }))).toBe('ok'); // its id expired as well
  });
});
