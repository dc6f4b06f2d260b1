/**
 * RedisFleet on a real three-master Redis Cluster: handover channels are sharded (SSUBSCRIBE / SPUBLISH) and
 * live on the master of their slot, so SPUBLISH's receiver count is exact and "nobody listens" still means the
 * owner is gone; owner records spread over every master and `reclaim` reaches all of them. A second cluster
 * without sharded pub/sub (the commands renamed away, as on Redis 6) shows the fallback: classic channels,
 * where a count of 0 says nothing and the handover timeout decides.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HibernateOk } from '../../../src/protocol/index.js';
import { StasisError } from '../../../server-stub/errors.js';
import type { HandoverReply, HandoverRequest } from '../../../server-stub/fleet/fleet.js';
import { RedisFleet } from '../../../server-stub/redis/redis-fleet.js';
import { RedisCluster } from '../../support/redis-cluster.js';
import { capturingLogger, newSid, until, type CapturingLogger } from './two-instances.js';

let sharded: RedisCluster | undefined;
let classic: RedisCluster | undefined;

beforeAll(async () => {
  [sharded, classic] = await Promise.all([
    RedisCluster.start(),
    RedisCluster.start({ serverArgs: ['--rename-command', 'SPUBLISH', '', '--rename-command', 'SSUBSCRIBE', '', '--rename-command', 'SUNSUBSCRIBE', ''] }),
  ]);
}, 40_000);

afterAll(async () => {
  await Promise.all([sharded?.stop(), classic?.stop()]);
});

const fleets = new Set<RedisFleet>();
afterEach(async () => {
  await Promise.all([...fleets].map((fleet) => fleet.close()));
  fleets.clear();
});

const freshPrefix = () => `cluster-fleet-${randomBytes(6).toString('hex')}:`;

type TestFleet = RedisFleet & { logger: CapturingLogger; channel: string; undelivered: HibernateOk[] };

/** A listening fleet instance on `cluster` (its own command and subscriber connections). */
async function fleetOn(cluster: RedisCluster, prefix: string, handoverTimeoutMs = 5_000): Promise<TestFleet> {
  const logger = capturingLogger();
  const fleet = new RedisFleet({ cluster: cluster.urls, prefix, commandTimeoutMs: 2_000, ownerTtlMs: 60_000, handoverTimeoutMs, logger });
  fleets.add(fleet);
  await fleet.ready();
  const undelivered: HibernateOk[] = [];
  fleet.serve(async () => ({ outcome: 'no-session', message: 'not here' }), (reply) => undelivered.push(reply));
  // The command connection fails fast until the cluster's slot map is loaded: wait until it answers.
  await until(() => fleet.owner('readiness-probe').then(() => true, () => false), 5_000, 'the fleet answers');
  return Object.assign(fleet, { logger, channel: `${prefix}fleet:${fleet.instanceId}`, undelivered });
}

const probe = (sid = newSid()): HandoverRequest => ({ sid, purpose: 'probe', bid: 'bid' });
const sealed = (sid: string): HibernateOk => ({ outcome: 'ok', sid, gen: 1, exp: Math.floor(Date.now() / 1000) + 60, blob: `blob-${sid}` });

/** Subscribers of `channel` per node, by port: sharded (PUBSUB SHARDNUMSUB) or classic (PUBSUB NUMSUB). */
async function listeners(cluster: RedisCluster, channel: string, kind: 'SHARDNUMSUB' | 'NUMSUB'): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  for (const port of cluster.ports) counts.set(port, Number(((await cluster.command(port, ['PUBSUB', kind, channel])) as [string, number])[1]));
  return counts;
}

describe('RedisFleet on a Redis Cluster with sharded pub/sub', () => {
  it('each instance listens on a sharded channel on the master of its slot, and on no classic channel', async () => {
    const prefix = freshPrefix();
    const a = await fleetOn(sharded!, prefix);
    const b = await fleetOn(sharded!, prefix);
    for (const fleet of [a, b]) {
      const master = await sharded!.masterOf(fleet.channel);
      const counts = await until(async () => {
        const found = await listeners(sharded!, fleet.channel, 'SHARDNUMSUB');
        return found.get(master) === 1 ? found : undefined;
      }, 5_000, 'the sharded subscription');
      expect([...counts.values()].reduce((sum, n) => sum + n, 0)).toBe(1);
      expect([...(await listeners(sharded!, fleet.channel, 'NUMSUB')).values()]).toEqual([0, 0, 0]);
      expect(fleet.logger.lines).toEqual([]);
    }
  });

  it('handovers reach owners whose channels live on every master, and the replies come back delivered', async () => {
    const prefix = freshPrefix();
    const asker = await fleetOn(sharded!, prefix);
    // Instances until their channels cover all three masters (random ids: about six).
    const owners = new Map<number, TestFleet>();
    for (let i = 0; i < 40 && owners.size < 3; i++) {
      const owner = await fleetOn(sharded!, prefix);
      owners.set(await sharded!.masterOf(owner.channel), owner);
    }
    expect(owners.size).toBe(3);
    for (const owner of owners.values()) {
      const sid = newSid();
      const blob = sealed(sid);
      owner.serve(async (request) => (request.sid === sid ? blob : { outcome: 'no-session', message: 'not here' }), (reply) => owner.undelivered.push(reply));
      expect(await asker.handover(owner.instanceId, probe(sid))).toEqual(blob);
      expect(await asker.handover(owner.instanceId, probe())).toEqual({ outcome: 'no-session', message: 'not here' });
      // SPUBLISH counted the asker as the reply's receiver: the owner does not keep a copy.
      expect(owner.undelivered).toEqual([]);
    }
  });

  it('a handover to an instance that is gone answers at once (SPUBLISH reached nobody) and clears its owner record', async () => {
    const prefix = freshPrefix();
    const asker = await fleetOn(sharded!, prefix, 5_000);
    const masters = new Set<number>();
    for (let i = 0; i < 40 && masters.size < 3; i++) {
      const owner = await fleetOn(sharded!, prefix);
      const master = await sharded!.masterOf(owner.channel);
      if (masters.has(master)) continue;
      masters.add(master);
      const sid = newSid();
      await owner.own(sid);
      expect(await asker.owner(sid)).toBe(owner.instanceId);
      await owner.close();
      await until(async () => (await listeners(sharded!, owner.channel, 'SHARDNUMSUB')).get(master) === 0, 5_000, 'the subscription gone');
      const started = performance.now();
      expect(await asker.handover(owner.instanceId, probe(sid))).toBeUndefined();
      expect(performance.now() - started).toBeLessThan(2_500); // not the 5 s timeout
      expect(await asker.owner(sid)).toBeUndefined();
    }
    expect(masters.size).toBe(3);
  });

  it('a reply to an asker that is gone is known undelivered (SPUBLISH counted nobody): the owner keeps the session', async () => {
    const prefix = freshPrefix();
    const owner = await fleetOn(sharded!, prefix);
    const asker = await fleetOn(sharded!, prefix, 1_000);
    const sid = newSid();
    const blob = sealed(sid); // once: its exp is in whole seconds of the clock
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let asked!: () => void;
    const arrived = new Promise<void>((resolve) => (asked = resolve));
    owner.serve(
      async (): Promise<HandoverReply> => {
        asked();
        await gate;
        return blob;
      },
      (reply) => owner.undelivered.push(reply),
    );
    const pending = asker.handover(owner.instanceId, probe(sid)).catch((error: unknown) => error);
    await arrived;
    await asker.close();
    const master = await sharded!.masterOf(asker.channel);
    await until(async () => (await listeners(sharded!, asker.channel, 'SHARDNUMSUB')).get(master) === 0, 5_000, "the asker's subscription gone");
    open();
    await until(() => owner.undelivered.length === 1, 5_000, 'the reply kept');
    expect(owner.undelivered).toEqual([blob]);
    // The closed asker's own call failed: timed out, or its SPUBLISH's answer lost with the connection.
    expect(await pending).toBeInstanceOf(Error);
  });

  it('the sharded subscription comes back after its connection drops (the cluster client subscribes again)', async () => {
    const prefix = freshPrefix();
    const owner = await fleetOn(sharded!, prefix);
    const asker = await fleetOn(sharded!, prefix);
    owner.serve(async (request) => ({ outcome: 'no-session', message: request.sid }), () => undefined);
    const master = await sharded!.masterOf(owner.channel);
    const subscribed = () => until(async () => (await listeners(sharded!, owner.channel, 'SHARDNUMSUB')).get(master) === 1, 10_000, 'the sharded subscription');
    await subscribed();
    expect(await sharded!.command(master, ['CLIENT', 'KILL', 'TYPE', 'pubsub'])).toBeGreaterThanOrEqual(1);
    await subscribed();
    const sid = newSid();
    expect(await asker.handover(owner.instanceId, probe(sid))).toEqual({ outcome: 'no-session', message: sid });
  });

  it('reclaim writes missing owner records on every master and reports the sids another instance holds', async () => {
    const prefix = freshPrefix();
    const a = await fleetOn(sharded!, prefix);
    const b = await fleetOn(sharded!, prefix);
    const sids = Array.from({ length: 300 }, () => newSid());
    const ofB = sids.slice(100, 200);
    await Promise.all(sids.slice(0, 100).map((sid) => a.own(sid)));
    await Promise.all(ofB.map((sid) => b.own(sid)));
    const masters = new Set(await Promise.all(sids.map((sid) => sharded!.masterOf(`${prefix}owner:${sid}`))));
    expect(masters.size).toBe(3);

    expect((await a.reclaim(sids)).sort()).toEqual([...ofB].sort());
    const owners = await Promise.all(sids.map((sid) => a.owner(sid)));
    expect(owners.slice(0, 100).every((id) => id === a.instanceId)).toBe(true);
    expect(owners.slice(100, 200).every((id) => id === b.instanceId)).toBe(true);
    expect(owners.slice(200).every((id) => id === a.instanceId)).toBe(true);
    expect(await a.reclaim([])).toEqual([]);
  });
});

describe('RedisFleet on a Redis Cluster without sharded pub/sub (Redis 6)', () => {
  it('falls back to classic channels: handovers arrive; an instance that is gone is noticed at the handover timeout', async () => {
    const prefix = freshPrefix();
    const handoverTimeoutMs = 800;
    const owner = await fleetOn(classic!, prefix, handoverTimeoutMs);
    const asker = await fleetOn(classic!, prefix, handoverTimeoutMs);
    for (const fleet of [owner, asker]) {
      expect(fleet.logger.at('warn')).toEqual([expect.stringContaining('no sharded pub/sub')]);
    }
    // Classic subscriptions: one per instance, on whichever node its subscriber connection chose.
    const counts = await until(async () => {
      const found = await listeners(classic!, owner.channel, 'NUMSUB');
      return [...found.values()].reduce((sum, n) => sum + n, 0) === 1 ? found : undefined;
    }, 5_000, 'the classic subscription');
    // Why 0 is not "gone" here: a PUBLISH counts only the subscribers of the node that took it.
    const elsewhere = classic!.ports.find((port) => counts.get(port) === 0)!;
    expect(await classic!.command(elsewhere, ['PUBLISH', owner.channel, 'not json'])).toBe(0);

    const sid = newSid();
    const blob = sealed(sid);
    owner.serve(async () => blob, (reply) => owner.undelivered.push(reply));
    expect(await asker.handover(owner.instanceId, probe(sid))).toEqual(blob);

    await owner.own(sid);
    await owner.close();
    await until(async () => [...(await listeners(classic!, owner.channel, 'NUMSUB')).values()].every((n) => n === 0), 5_000, 'the subscription gone');
    const started = performance.now();
    const answer = await asker.handover(owner.instanceId, probe(sid)).catch((error: unknown) => error);
    expect(answer).toBeInstanceOf(StasisError);
    expect((answer as StasisError).code).toBe('unavailable');
    expect(performance.now() - started).toBeGreaterThanOrEqual(handoverTimeoutMs - 50);
    // Nothing proved the owner gone, so its record stays (it expires, or its instance comes back for it).
    expect(await asker.owner(sid)).toBe(owner.instanceId);
  });
});
