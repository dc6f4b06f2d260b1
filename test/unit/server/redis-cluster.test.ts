/**
 * RedisLedger and RedisStore on a real three-master Redis Cluster: the ledger contract and the store contract,
 * the ledger across two connections, and the key layout that keeps each ledger step in one hash slot.
 */
import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerClaim } from '../../../server-stub/ledger.js';
import { connectRedis, type RedisClient } from '../../../server-stub/redis/redis-client.js';
import { RedisFleet } from '../../../server-stub/redis/redis-fleet.js';
import { RedisLedger } from '../../../server-stub/redis/redis-ledger.js';
import { RedisStore } from '../../../server-stub/redis/redis-store.js';
import { storeContract } from '../../../server-stub/store/contract.js';
import { RedisCluster } from '../../support/redis-cluster.js';
import { claimOf, CONTRACT_LEASE_MS, describeLedgerContract, fromAnotherBrowser, retryOf } from './ledger-contract.js';
import { waitUntilAnswers } from './store/store-helpers.js';

let cluster: RedisCluster | undefined;
/** One cluster connection the contract fixtures share (each test gets its own prefix). */
let shared: RedisClient | undefined;
const opened = new Set<RedisClient>();

beforeAll(async () => {
  cluster = await RedisCluster.start();
  shared = await connected();
}, 30_000);

afterAll(async () => {
  for (const client of opened) client.disconnect();
  await cluster?.stop();
});

const freshPrefix = () => `test-${randomBytes(6).toString('base64url')}:`;

/**
 * A cluster connection once it serves commands: it fails fast rather than queueing (no offline queue), so a
 * command sent before the slot map is loaded would fail. Closed in afterAll.
 */
async function connected(): Promise<RedisClient> {
  if (!cluster) throw new Error('the Redis Cluster did not start');
  const client = connectRedis({ cluster: cluster.urls, commandTimeoutMs: 2_000 }, 'test');
  opened.add(client);
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      await client.get('readiness-probe');
      return client;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

describeLedgerContract('RedisLedger on a Redis Cluster', async () => ({
  ledger: new RedisLedger({ client: shared!, prefix: freshPrefix(), leaseMs: CONTRACT_LEASE_MS }),
}));

describe('RedisLedger on a Redis Cluster, across instances', () => {
  /** Two ledgers on separate cluster connections sharing one prefix: two server instances of one app. */
  async function twoInstances(): Promise<[RedisLedger, RedisLedger]> {
    const prefix = freshPrefix();
    const [a, b] = await Promise.all([connected(), connected()]);
    return [new RedisLedger({ client: a, prefix, leaseMs: CONTRACT_LEASE_MS }), new RedisLedger({ client: b, prefix, leaseMs: CONTRACT_LEASE_MS })];
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
    const four = claimOf({ sid, gen: 4 });
    expect(await b.consume(four)).toBe('ok');
    expect(await a.consume(fromAnotherBrowser(four))).toBe('replayed');
    await b.release(four);
    expect(await a.consume(four)).toBe('ok');
    expect(await b.fresh(sid)).toBe(5);
  });
});

describe('the ledger key layout on a Redis Cluster', () => {
  it("a claim's id and generation keys share the sid's hash tag: one slot, one master; sessions spread over every master; the id's binding holds the sid", async () => {
    const prefix = freshPrefix();
    const ledger = new RedisLedger({ client: shared!, prefix, leaseMs: CONTRACT_LEASE_MS });
    const claims: LedgerClaim[] = Array.from({ length: 30 }, () => claimOf());
    expect(await Promise.all(claims.map((claim) => ledger.consume(claim)))).toEqual(claims.map(() => 'ok'));
    const masters = new Set<number>();
    for (const claim of claims) {
      const jti = `${prefix}{${claim.sid}}:jti:${claim.jti}`;
      const gen = `${prefix}{${claim.sid}}:gen`;
      const [jtiSlot, genSlot, sidSlot] = await Promise.all([jti, gen, claim.sid].map((key) => cluster!.command(cluster!.ports[0]!, ['CLUSTER', 'KEYSLOT', key])));
      expect(jtiSlot).toBe(sidSlot);
      expect(genSlot).toBe(sidSlot);
      const master = await cluster!.masterOf(gen);
      masters.add(master);
      // Written where the slot lives: the master answers for both keys itself.
      expect(await cluster!.command(master, ['EXISTS', jti, gen])).toBe(2);
      const binding = `${prefix}jti:${claim.jti}`;
      expect(await cluster!.command(await cluster!.masterOf(binding), ['GET', binding])).toBe(claim.sid);
    }
    expect(masters.size).toBe(3);
  });
});

describe('RedisStore on a Redis Cluster (store contract)', () => {
  const stores = new Set<RedisStore>();
  afterEach(async () => {
    for (const store of stores) await store.close();
    stores.clear();
  });

  /** A store on its own cluster connection (closed by the store) and a fresh prefix, ready to answer. */
  async function fresh(prefix = freshPrefix()): Promise<RedisStore> {
    const store = new RedisStore({ cluster: cluster!.urls, prefix });
    stores.add(store);
    await waitUntilAnswers(store);
    return store;
  }

  for (const c of storeContract(async () => ({ store: new RedisStore({ client: shared!, prefix: freshPrefix() }) }))) {
    it(c.name, c.run);
  }

  it('two instances share stored sessions across every master; another prefix sees none of them', async () => {
    const prefix = freshPrefix();
    const [a, b, other] = await Promise.all([fresh(prefix), fresh(prefix), fresh()]);
    const exp = Math.floor(Date.now() / 1000) + 60;
    const sids = Array.from({ length: 30 }, () => randomBytes(16).toString('base64url'));
    await Promise.all(sids.map((sid, i) => a.put(sid, { blob: `blob-${i}`, gen: i + 1, exp })));
    const masters = new Set(await Promise.all(sids.map((sid) => cluster!.masterOf(`${prefix}store:${sid}`))));
    expect(masters.size).toBe(3);
    expect(await Promise.all(sids.map((sid) => other.peek(sid)))).toEqual(sids.map(() => undefined));
    const taken = await Promise.all(sids.map((sid) => b.take(sid)));
    expect(taken.map((entry) => entry?.blob)).toEqual(sids.map((_, i) => `blob-${i}`));
    expect(await Promise.all(sids.map((sid) => a.peek(sid)))).toEqual(sids.map(() => undefined));
  });
});

describe('an ACL user on the cluster', () => {
  // The commands a fleet needs on a Redis Cluster (docs/operations.md gives this line): the single-server set
  // plus sharded pub/sub and the two CLUSTER subcommands the client asks for its slot map and readiness.
  const RULES = (prefix: string) => [
    'on', '>s3cret', `~${prefix}*`, `&${prefix}fleet:*`,
    '+get', '+set', '+del', '+getdel', '+eval', '+pttl', '+time', '+publish', '+subscribe', '+spublish', '+ssubscribe',
    '+ping', '+info', '+client|setname', '+cluster|slots', '+cluster|info',
  ];

  it('with only the listed commands runs the ledger, the store and the fleet (credentials from the node URLs)', async () => {
    const prefix = `acl-${randomBytes(4).toString('hex')}:`;
    const user = `stasis-${randomBytes(4).toString('hex')}`;
    // ACL users are per node: set it on each.
    for (const port of cluster!.ports) expect(await cluster!.command(port, ['ACL', 'SETUSER', user, ...RULES(prefix)])).toBe('OK');
    const where = { cluster: cluster!.ports.map((port) => `redis://${user}:s3cret@127.0.0.1:${port}`), prefix, commandTimeoutMs: 2_000 };
    const ledger = new RedisLedger({ ...where, leaseMs: CONTRACT_LEASE_MS });
    const store = new RedisStore(where);
    const fleets = [new RedisFleet({ ...where, ownerTtlMs: 60_000, handoverTimeoutMs: 2_000 }), new RedisFleet({ ...where, ownerTtlMs: 60_000, handoverTimeoutMs: 2_000 })];
    try {
      await waitUntilAnswers(store);
      const claim = claimOf({ gen: 2 });
      const deadline = Date.now() + 5_000;
      for (;;) {
        try {
          expect(await ledger.consume(claim)).toBe('ok');
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
      await ledger.settle(claim);
      expect(await ledger.consume(retryOf(claim))).toBe('replayed');
      await ledger.release(claimOf({ sid: claim.sid, gen: 3 }));
      expect(await ledger.fresh(claim.sid)).toBe(3);

      const sid = randomBytes(16).toString('base64url');
      await store.put(sid, { blob: 'b', gen: 1, exp: Math.floor(Date.now() / 1000) + 60 });
      expect((await store.peek(sid))?.blob).toBe('b');
      expect((await store.take(sid))?.blob).toBe('b');
      await store.delete(sid);

      const [a, b] = fleets as [RedisFleet, RedisFleet];
      await Promise.all([a.ready(), b.ready()]);
      a.serve(async (request) => ({ outcome: 'no-session', message: request.sid }), () => undefined);
      await a.own(sid);
      expect(await b.owner(sid)).toBe(a.instanceId);
      expect(await b.reclaim([sid, claim.sid])).toEqual([sid]);
      expect(await b.handover(a.instanceId, { sid, purpose: 'probe', bid: 'x' })).toEqual({ outcome: 'no-session', message: sid });
      await a.disown(sid);
      expect(await b.owner(sid)).toBeUndefined();
    } finally {
      await Promise.all([ledger.close(), store.close(), ...fleets.map((fleet) => fleet.close())]);
      for (const port of cluster!.ports) await cluster!.command(port, ['ACL', 'DELUSER', user]);
    }
  });
});

describe('the cluster client', () => {
  it('is an ioredis Cluster that reads from masters and does not queue while disconnected', () => {
    expect(shared).toBeInstanceOf(Cluster);
    const options = (shared as Cluster).options;
    expect(options).toMatchObject({ enableOfflineQueue: false, scaleReads: 'master' });
    expect(options.redisOptions).toMatchObject({ commandTimeout: 2_000, maxRetriesPerRequest: 0, connectionName: 'stasis-test' });
  });

  it('a prefix with a brace is refused: it would make part of every key a hash tag', () => {
    for (const prefix of ['{app}:', 'app{', 'app}']) {
      expect(() => new RedisStore({ client: shared!, prefix })).toThrow(/must not contain "\{" or "\}"/);
      expect(() => new RedisLedger({ client: shared!, prefix })).toThrow(/must not contain/);
    }
  });
});
