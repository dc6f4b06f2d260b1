/**
 * The shared Redis dies mid-run (SIGKILL) and comes back empty. Every request keeps answering within a bound,
 * resumes answer the non-final `unavailable`, dropped sessions go to the memory store, the Redis store's
 * breaker opens, and after the restart it closes again and everything works.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFinal } from '../../../src/protocol/index.js';
import {
  LiveClient,
  RedisServer,
  health,
  hibernate,
  hibernateOk,
  metrics,
  newCookie,
  newSid,
  resume,
  sample,
  startTwoInstances,
  until,
  within,
  type TwoInstances,
} from './two-instances.js';

/** Every request must settle within this while Redis is down: a hang guard, not a benchmark. */
const BOUND_MS = 3000;

let redis: RedisServer;
let fleet: TwoInstances | undefined;

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await fleet?.close();
  await redis?.stop();
});

const OPEN = 'stasis_store_breaker_state{store="redis",state="open"}';
const CLOSED = 'stasis_store_breaker_state{store="redis",state="closed"}';

describe('a Redis outage under two instances', () => {
  it('keeps answering, degrades to unavailable / memory, opens the breaker, and recovers after a restart', async () => {
    const f = (fleet = await startTwoInstances({
      redis,
      storeTimeoutMs: 300,
      breakerFailures: 2,
      breakerOpenSeconds: 1,
      retentionSeconds: 1,
      handoverTimeoutMs: 1000,
      lookupPatienceSeconds: 1,
    }));
    const { a, b } = f;
    const bounded = <T>(what: string, promise: Promise<T>) => within(promise, BOUND_MS, what);

    // Before the outage: S live on A (to hibernate during it), a hibernated blob R, and D1, D2 live on A
    // (their sockets will drop during the outage).
    const s = { sid: newSid(), cookie: newCookie() };
    const sLive = await LiveClient.connect(a.url, s.sid, s.cookie);
    await sLive.client.add(3);
    const r = { sid: newSid(), cookie: newCookie() };
    const rLive = await LiveClient.connect(a.url, r.sid, r.cookie);
    await rLive.client.add(4);
    const { blob: rBlob } = await hibernateOk(a.url, r.sid, r.cookie);
    const dropped = [
      { sid: newSid(), cookie: newCookie(), n: 10 },
      { sid: newSid(), cookie: newCookie(), n: 20 },
    ];
    const droppedClients: LiveClient[] = [];
    for (const d of dropped) {
      const { client } = await LiveClient.connect(a.url, d.sid, d.cookie);
      expect((await client.add(d.n)).n).toBe(d.n);
      droppedClients.push(client);
    }
    expect(sample((await metrics(a.url)).body, CLOSED)).toBe(0);

    await redis.kill();
    expect(redis.running).toBe(false);

    // Health and metrics: local, they answer.
    for (const instance of [a, b]) {
      const h = await bounded(`health ${instance.name}`, health(instance.url));
      expect(h.status).toBe(200);
      expect(h.body.ok).toBe(true);
      const m = await bounded(`metrics ${instance.name}`, metrics(instance.url));
      expect(m.status).toBe(200);
    }

    // A hibernate where the session lives works without Redis (the owner check fails open).
    const sHibernate = await bounded('hibernate S on A', hibernate(a.url, s.sid, s.cookie));
    expect(sHibernate.status).toBe(200);
    expect(sHibernate.body).toMatchObject({ outcome: 'ok', sid: s.sid, gen: 1 });
    expect((await sLive.client.closed).code).toBe(4001);
    // Where it does not live, the fleet cannot be asked: an answer, not a hang.
    const elsewhere = await bounded('hibernate D1 on B', hibernate(b.url, dropped[0]!.sid, dropped[0]!.cookie));
    expect(['no-session', 'unavailable']).toContain(elsewhere.body.outcome);

    // A resume needs the ledger: 503 unavailable on both, non-final (the page keeps its blob).
    for (const instance of [a, b]) {
      const answer = await bounded(`resume R on ${instance.name}`, resume(instance.url, r.sid, rBlob, r.cookie));
      expect(answer.status).toBe(503);
      expect(answer.body.outcome).toBe('unavailable');
      expect(isFinal(answer.body.outcome)).toBe(false);
    }

    // A live connect whose session cannot be looked up is refused (1012: the page connects again), since the
    // session may live elsewhere; past the lookup patience (1 s here) it starts fresh (availability first).
    const newcomer = { sid: newSid(), cookie: newCookie() };
    const refused = await bounded('live connect on B', LiveClient.open(b.url, newcomer.sid, newcomer.cookie));
    expect(await bounded('refusal', refused.closed)).toMatchObject({ code: 1012 });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const fresh = await bounded('live connect on B', LiveClient.connect(b.url, newcomer.sid, newcomer.cookie));
    expect(fresh.state).toMatchObject({ gen: 1, n: 0 });
    expect((await fresh.client.add(1)).n).toBe(1);

    // D1 and D2 drop: after the retention window they are kept in the memory store; the Redis puts fail
    // and open the Redis breaker (2 failures).
    for (const client of droppedClients) client.terminate();
    const outage = await until(
      async () => {
        const text = (await bounded('metrics A', metrics(a.url))).body;
        return sample(text, 'stasis_retired_sessions_total{result="stored"}') === 2 && sample(text, OPEN) === 2 ? text : undefined;
      },
      5000,
      'both dropped sessions stored and the redis breaker open',
    );
    expect(sample(outage, 'stasis_store_operations_total{store="memory",operation="put",result="ok"}')).toBe(2);
    expect(sample(outage, 'stasis_store_operations_total{store="redis",operation="put",result="error"}')).toBe(2);
    expect(sample(outage, 'stasis_store_breaker_opened_total{store="redis"}')).toBe(1);
    expect(sample(outage, 'stasis_retired_sessions_total{result="lost"}')).toBeUndefined();
    expect(sample(outage, CLOSED)).toBeUndefined();
    expect((await bounded('health A', health(a.url))).body.live).toBe(0);

    // Redis comes back (empty: no persistence).
    await redis.restart();
    const resumed = await until(
      async () => {
        const answer = await bounded('resume R on A', resume(a.url, r.sid, rBlob, r.cookie));
        if (answer.body.outcome === 'ok') return answer;
        expect(answer.body.outcome).toBe('unavailable');
        return undefined;
      },
      10_000,
      'a resume answers ok after the restart',
      200,
    );
    expect(resumed.body).toMatchObject({ outcome: 'ok', sid: r.sid, gen: 2 });

    // The breaker closes after its next probe (store lookups of live connects reach it).
    await until(
      async () => {
        if (sample((await metrics(a.url)).body, CLOSED) === 0) return true;
        // Its lookup reaches the stores whether or not the connect is then refused (the lookup patience).
        const probe = await bounded('probe connect on A', LiveClient.open(a.url, newSid(), newCookie()));
        await probe.closedWithin(300);
        probe.close();
        return false;
      },
      10_000,
      'the redis breaker closes',
      200,
    );
    const after = (await metrics(a.url)).body;
    expect(sample(after, OPEN)).toBeUndefined();

    // The sessions kept in A's memory during the outage come back with their state.
    for (const d of dropped) {
      const { state } = await bounded('connect D on A', LiveClient.connect(a.url, d.sid, d.cookie));
      expect(state).toMatchObject({ gen: 2, n: d.n, restored: true });
    }

    // Handovers work again once both instances listen on their channels.
    const inspector = (await f.inspector()) as Redis;
    await until(async () => (await inspector.pubsub('CHANNELS', `${f.prefix}fleet:*`)).length === 2, 10_000, 'both instances subscribed again');
    const { state: movedToB } = await bounded('takeover D1 on B', LiveClient.connect(b.url, dropped[0]!.sid, dropped[0]!.cookie));
    expect(movedToB).toMatchObject({ gen: 3, n: dropped[0]!.n });

    for (const instance of [a, b]) expect((await bounded(`health ${instance.name}`, health(instance.url))).status).toBe(200);
  });
});
