/**
 * Handovers over Redis pub/sub: a page's request lands on the instance that does not hold its live session.
 */
import { describe, expect, it } from 'vitest';
import {
  LiveClient,
  health,
  hibernate,
  metrics,
  newCookie,
  newSid,
  isFresh,
  openBlob,
  resume,
  sample,
  fleetPerTest,
  until,
  within,
  type FleetOptions,
  type TwoInstances,
} from './two-instances.js';

const harness = fleetPerTest();

async function start(options: Omit<FleetOptions, 'redis'> = {}): Promise<TwoInstances> {
  const fleet = await harness.start({ ...options });
  return fleet;
}

/** A session live on A with a socket attached and n = 5. */
async function liveOnA(f: TwoInstances) {
  const sid = newSid();
  const cookie = newCookie();
  const { client, state } = await LiveClient.connect(f.a.url, sid, cookie);
  expect(state).toMatchObject({ gen: 1, n: 0, restored: false });
  expect((await client.add(5)).n).toBe(5);
  return { sid, cookie, client };
}

describe('handover between two instances', () => {
  it('(a) a hibernate posted to B seals the session live on A: A closes its socket with 4001, the blob holds the state', async () => {
    const f = await start();
    const { sid, cookie, client } = await liveOnA(f);

    const answer = await hibernate(f.b.url, sid, cookie);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ outcome: 'ok', sid, gen: 1 });
    const blob = answer.body.outcome === 'ok' ? answer.body.blob : '';
    expect((await client.closed).code).toBe(4001);
    // Sealed by A from its live copy: the state is in it, bound to this browser.
    const { sealed, values } = await openBlob(blob, f.ring);
    expect(values).toEqual({ n: 5 });
    expect(sealed.gen).toBe(1);
    expect(sample((await metrics(f.b.url)).body, 'stasis_handovers_total{purpose="hibernate",outcome="ok"}')).toBe(1);
    expect((await health(f.a.url, sid)).body.session?.state).toBe('hibernated');
    expect((await health(f.a.url)).body.live).toBe(0);

    // Resume it on B and read the state back through the app.
    expect((await resume(f.b.url, sid, blob, cookie)).body).toMatchObject({ outcome: 'ok', sid, gen: 2 });
    const { state } = await LiveClient.connect(f.b.url, sid, cookie);
    expect(state).toMatchObject({ gen: 2, n: 5, restored: true });
    // And the sid is no longer live on A.
    expect((await health(f.a.url, sid)).body.session?.state).not.toBe('live');
  });

  it('(b) a live connect on B with the same cookie takes the session over: gen + 1, state kept, A closes with 4002', async () => {
    const f = await start();
    const { sid, cookie, client } = await liveOnA(f);

    const { client: onB, state } = await LiveClient.connect(f.b.url, sid, cookie);
    expect(state).toMatchObject({ gen: 2, n: 5, restored: true });
    expect((await client.closed).code).toBe(4002);
    expect((await onB.add(1)).n).toBe(6);
    expect(sample((await metrics(f.b.url)).body, 'stasis_recovered_sessions_total{from="fleet",outcome="ok"}')).toBe(1);
    expect(sample((await metrics(f.b.url)).body, 'stasis_handovers_total{purpose="takeover",outcome="ok"}')).toBe(1);
    expect((await health(f.a.url)).body.live).toBe(0);
    expect((await health(f.b.url, sid)).body.session).toMatchObject({ state: 'live', gen: 2, channels: 1 });
  });

  it('(c) a live connect on B with ANOTHER cookie: A refuses the takeover, B refuses the channel, A keeps its session and the owner record', async () => {
    const f = await start();
    const { sid, cookie, client } = await liveOnA(f);
    const redisClient = await f.inspector();
    const ownerKey = `${f.prefix}owner:${sid}`;
    const ownerA = await redisClient.get(ownerKey);
    expect(ownerA).toBeTruthy();

    const stranger = await LiveClient.open(f.b.url, sid, newCookie());
    expect(await stranger.closed).toMatchObject({ code: 4003, reason: 'stasis:wrong-binding' });
    expect(sample((await metrics(f.b.url)).body, 'stasis_handovers_total{purpose="takeover",outcome="wrong-binding"}')).toBe(1);
    expect((await health(f.b.url, sid)).body.session?.state).not.toBe('live');

    // A's session was neither sealed nor closed, and it still owns the sid.
    expect(await client.closedWithin(200)).toBeUndefined();
    expect((await client.add(1)).n).toBe(6);
    expect(await redisClient.get(ownerKey)).toBe(ownerA);
    // So the real browser's next hibernate on A gets its own state back.
    const answer = await hibernate(f.a.url, sid, cookie);
    expect(answer.body.outcome).toBe('ok');
    const blob = answer.body.outcome === 'ok' ? answer.body.blob : '';
    expect((await client.closed).code).toBe(4001);
    expect((await openBlob(blob, f.ring)).values).toEqual({ n: 6 });
  });

  it('(d) the holding instance died (closed, no drain): a connect on B starts fresh within the handover timeout', async () => {
    const handoverTimeoutMs = 1000;
    const f = await start({ handoverTimeoutMs });
    const { sid, cookie, client } = await liveOnA(f);
    await f.a.kill();
    expect((await client.closed).code).not.toBe(4002);

    const started = performance.now();
    const { state } = await within(LiveClient.connect(f.b.url, sid, cookie), handoverTimeoutMs + 2000, 'connect on B');
    expect(performance.now() - started).toBeLessThan(handoverTimeoutMs + 1000);
    // A's memory is gone with it; nothing was stored (the retention window had not passed): a new session.
    expect(isFresh(state)).toBe(true);
    // The dead owner's record was cleared (PUBLISH reached nobody) or B's own replaced it.
    const text = (await metrics(f.b.url)).body;
    const gone = sample(text, 'stasis_handovers_total{purpose="takeover",outcome="gone"}') ?? 0;
    const timedOut = sample(text, 'stasis_handovers_total{purpose="takeover",outcome="unavailable"}') ?? 0;
    expect(gone + timedOut).toBeLessThanOrEqual(1);
    expect((await health(f.b.url, sid)).body.session).toMatchObject({ state: 'live', gen: state.gen });
  });

  it('(d) the socket dropped, the retention passed (kept in Redis), then the instance died: B restores it from the store', async () => {
    const handoverTimeoutMs = 1000;
    const f = await start({ handoverTimeoutMs, retentionSeconds: 1 });
    const { sid, cookie, client } = await liveOnA(f);
    client.terminate();
    const redisClient = await f.inspector();
    await until(() => redisClient.exists(`${f.prefix}store:${sid}`), 4000, 'the session in the Redis store');
    await f.a.kill();

    const started = performance.now();
    const { state } = await within(LiveClient.connect(f.b.url, sid, cookie), handoverTimeoutMs + 2000, 'connect on B');
    expect(performance.now() - started).toBeLessThan(handoverTimeoutMs + 1000);
    expect(state).toMatchObject({ gen: 2, n: 5, restored: true });
    expect(await redisClient.exists(`${f.prefix}store:${sid}`)).toBe(0);
    expect(sample((await metrics(f.b.url)).body, 'stasis_recovered_sessions_total{from="store",outcome="ok"}')).toBe(1);
  });
});
