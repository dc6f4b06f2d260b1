/**
 * A session whose channel dropped stays live for the retention window, then goes to the server stores, where
 * any instance of the fleet finds it.
 */
import { describe, expect, it } from 'vitest';
import {
  LiveClient,
  health,
  isFresh,
  metrics,
  newCookie,
  newSid,
  openBlob,
  sample,
  fleetPerTest,
  until,
} from './two-instances.js';

const harness = fleetPerTest();

describe('retention and the server stores', () => {
  it('after the retention window the session is in Redis; a connect on B (same cookie) restores it and takes the key', async () => {
    const fleet = await harness.start({ retentionSeconds: 1 });
    const { a, b, ring, prefix } = fleet;
    const sid = newSid();
    const cookie = newCookie();
    const { client } = await LiveClient.connect(a.url, sid, cookie);
    expect((await client.add(3)).n).toBe(3);
    expect((await client.add(4)).n).toBe(7);
    const droppedAt = Date.now();
    client.terminate();

    const inspector = await fleet.inspector();
    const key = `${prefix}store:${sid}`;
    // Still live on A during the window (a blip or a reload would find it there).
    expect((await health(a.url, sid)).body.session).toMatchObject({ state: 'live', gen: 1, channels: 0 });
    expect(await inspector.exists(key)).toBe(0);
    const raw = await until(() => inspector.get(key), 4000, 'the stored session in Redis');
    expect(Date.now() - droppedAt).toBeGreaterThanOrEqual(900);
    const stored = JSON.parse(raw) as { blob: string; gen: number; exp: number };
    expect(stored.gen).toBe(1);
    expect((await openBlob(stored.blob, ring)).values).toEqual({ n: 7 });
    const ttl = await inspector.pttl(key);
    expect(ttl).toBeGreaterThan(0); // expires with the blob
    expect((await health(a.url)).body.live).toBe(0);
    const textA = (await metrics(a.url)).body;
    expect(sample(textA, 'stasis_retired_sessions_total{result="stored"}')).toBe(1);
    expect(sample(textA, 'stasis_store_operations_total{store="redis",operation="put",result="ok"}')).toBe(1);
    expect(await inspector.exists(`${prefix}owner:${sid}`)).toBe(0);

    const { client: onB, state } = await LiveClient.connect(b.url, sid, cookie);
    expect(state).toMatchObject({ gen: 2, n: 7, restored: true });
    expect(await inspector.exists(key)).toBe(0);
    expect(sample((await metrics(b.url)).body, 'stasis_recovered_sessions_total{from="store",outcome="ok"}')).toBe(1);
    expect((await onB.add(1)).n).toBe(8);
    // A's own memory copy (gen 1) cannot come back: a connect on A asks B, the holder, for the live session.
    const { state: backOnA } = await LiveClient.connect(a.url, sid, cookie);
    expect(backOnA).toMatchObject({ gen: 3, n: 8 });
  });

  it('a connect with another cookie is refused and leaves the stored session for the real browser', async () => {
    const fleet = await harness.start({ retentionSeconds: 1 });
    const { a, b, prefix } = fleet;
    const sid = newSid();
    const cookie = newCookie();
    const { client } = await LiveClient.connect(a.url, sid, cookie);
    await client.add(2);
    client.terminate();
    const inspector = await fleet.inspector();
    await until(() => inspector.exists(`${prefix}store:${sid}`), 4000, 'the stored session in Redis');

    const stranger = await LiveClient.open(b.url, sid, newCookie());
    expect(await stranger.closed).toMatchObject({ code: 4003, reason: 'stasis:wrong-binding' });
    // The blob does not verify for that browser, so it is left where it is for the real one.
    expect(await inspector.exists(`${prefix}store:${sid}`)).toBe(1);
    const { state: back } = await LiveClient.connect(b.url, sid, cookie);
    expect(back.n).toBe(2);
  });

  it('with stores: [] the session is dropped after the retention window; a later connect starts fresh', async () => {
    const fleet = await harness.start({ retentionSeconds: 1, stores: [] });
    const { a, b, prefix } = fleet;
    const sid = newSid();
    const cookie = newCookie();
    const { client } = await LiveClient.connect(a.url, sid, cookie);
    await client.add(9);
    client.terminate();

    await until(
      async () => sample((await metrics(a.url)).body, 'stasis_retired_sessions_total{result="dropped"}') === 1,
      4000,
      'the session dropped',
    );
    const textA = (await metrics(a.url)).body;
    expect(sample(textA, 'stasis_retired_sessions_total{result="stored"}')).toBeUndefined();
    expect(textA).not.toContain('stasis_store_breaker_state{');
    expect((await health(a.url)).body.live).toBe(0);
    const inspector = await fleet.inspector();
    expect(await inspector.exists(`${prefix}store:${sid}`)).toBe(0);

    const { state } = await LiveClient.connect(b.url, sid, cookie);
    expect(isFresh(state)).toBe(true);
  });
});
