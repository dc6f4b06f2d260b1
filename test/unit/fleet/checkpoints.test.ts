/**
 * Checkpoints: blobs pushed to the page of a session that stays live, so a page whose instance died can
 * hand the newest one to another instance. The live session always wins over its own checkpoints.
 */
import { describe, expect, it } from 'vitest';
import type { PushedBlob, ResumeOk } from '../../../src/protocol/index.js';
import {
  LiveClient,
  health,
  isCheckpoint,
  metrics,
  newCookie,
  newSid,
  openBlob,
  resume,
  sample,
  sleep,
  fleetPerTest,
  hibernateOk,
  type TwoInstances,
} from './two-instances.js';

const harness = fleetPerTest();

/** A session live on A with n = 1 and two checkpoints: cp1 (n = 1) and cp2 (n = 2); then n = 3 live. */
async function withCheckpoints(f: TwoInstances) {
  const sid = newSid();
  const cookie = newCookie();
  const { client } = await LiveClient.connect(f.a.url, sid, cookie);
  expect((await client.add(1)).n).toBe(1);

  expect(await f.a.stasis.sessions.checkpointAll()).toBe(1);
  const cp1 = await client.waitFor(isCheckpoint, 2000);
  expect(cp1).toMatchObject({ type: 'stasis:hibernated', reason: 'checkpoint', sid, gen: 1 });
  expect(typeof cp1.exp).toBe('number');
  expect((await openBlob(cp1.blob, f.ring)).values).toEqual({ n: 1 });

  // Nothing changed: no second checkpoint.
  expect(await f.a.stasis.sessions.checkpointAll()).toBe(0);
  await sleep(100);
  expect(client.pending(isCheckpoint)).toEqual([]);

  expect((await client.add(1)).n).toBe(2);
  expect(await f.a.stasis.sessions.checkpointAll()).toBe(1);
  const cp2 = await client.waitFor(isCheckpoint, 2000);
  expect(cp2.gen).toBe(1);
  expect(cp2.blob).not.toBe(cp1.blob);
  expect((await openBlob(cp2.blob, f.ring)).values).toEqual({ n: 2 });
  // The session stayed live through both.
  expect(client.open).toBe(true);
  expect(sample((await metrics(f.a.url)).body, 'stasis_hibernations_total{reason="checkpoint",outcome="ok"}')).toBe(2);
  return { sid, cookie, client, cp1, cp2 };
}

describe('checkpoints across two instances', () => {
  it('pushes a checkpoint only after a change; the live session wins over its checkpoints on either instance', async () => {
    const f = await harness.start();
    const { sid, cookie, client, cp1, cp2 } = await withCheckpoints(f);

    // Resumed on the instance holding the session live: ok, the SAME gen, nothing replaced.
    const here = await resume(f.a.url, sid, cp2.blob, cookie);
    expect(here.status).toBe(200);
    expect(here.body).toEqual({ outcome: 'ok', sid, gen: 1 });
    expect(await client.closedWithin(100)).toBeUndefined();
    expect((await client.add(1)).n).toBe(3); // the same live session, now newer than cp2
    expect((await health(f.a.url, sid)).body.session).toMatchObject({ state: 'live', gen: 1, channels: 1 });

    // Resumed on the other instance: B takes the live session over from A, newest state (n 3, not cp2's 2).
    const there = await resume(f.b.url, sid, cp2.blob, cookie);
    expect(there.body).toEqual({ outcome: 'ok', sid, gen: 2 });
    expect((await client.closed).code).toBe(4002);
    const { client: onB, state } = await LiveClient.connect(f.b.url, sid, cookie);
    expect(state).toMatchObject({ gen: 2, n: 3, restored: true });
    expect((await health(f.a.url)).body.live).toBe(0);

    // An older checkpoint after a newer generation was resumed: stale (on the instance holding gen 2).
    const old = await resume(f.b.url, sid, cp1.blob, cookie);
    expect(old.status).toBe(409);
    expect(old.body.outcome).toBe('stale');
    expect(await onB.closedWithin(100)).toBeUndefined();
    expect((await health(f.b.url, sid)).body.session).toMatchObject({ state: 'live', gen: 2 });

    // B checkpoints its generation in turn.
    expect((await onB.add(1)).n).toBe(4);
    expect(await f.b.stasis.sessions.checkpointAll()).toBe(1);
    const cp3 = await onB.waitFor(isCheckpoint, 2000);
    expect(cp3.gen).toBe(2);
    expect((await openBlob(cp3.blob, f.ring)).values).toEqual({ n: 4 });
  });

  it('an older checkpoint resumed on the instance NOT holding the newer generation answers stale', async () => {
    const f = await harness.start();
    const { sid, cookie, cp1, cp2 } = await withCheckpoints(f);
    expect((await resume(f.b.url, sid, cp2.blob, cookie)).body).toMatchObject({ outcome: 'ok', gen: 2 });

    const old = await resume(f.a.url, sid, cp1.blob, cookie);
    expect(old.status).toBe(409);
    expect(old.body.outcome).toBe('stale');
  });

it('an older checkpoint resumed on A leaves the newer generation live on B (the owner yields only to a newer blob)', async () => {
    const f = await harness.start();
    const { sid, cookie, cp1, cp2 } = await withCheckpoints(f);
    expect((await resume(f.b.url, sid, cp2.blob, cookie)).body).toMatchObject({ outcome: 'ok', gen: 2 });
    const { client: onB, state } = await LiveClient.connect(f.b.url, sid, cookie);
    expect(state).toMatchObject({ gen: 2, n: 2 });

    expect((await resume(f.a.url, sid, cp1.blob, cookie)).body.outcome).toBe('stale');
    expect(await onB.closedWithin(300)).toBeUndefined();
    expect((await health(f.b.url, sid)).body.session).toMatchObject({ state: 'live', gen: 2 });
  });

  it('with checkpointSeconds 1 the timer pushes a checkpoint after a change, and not again without one', async () => {
    const f = await harness.start({ checkpointSeconds: 1 });
    const sid = newSid();
    const cookie = newCookie();
    const { client } = await LiveClient.connect(f.a.url, sid, cookie);
    expect((await client.add(6)).n).toBe(6);
    // A tick between the connect and the change may have pushed the initial state (n 0) first.
    let pushed: PushedBlob;
    let seen = 0;
    do {
      pushed = await client.waitFor(isCheckpoint, 3000);
      expect(pushed).toMatchObject({ reason: 'checkpoint', sid, gen: 1 });
      seen++;
    } while ((await openBlob(pushed.blob, f.ring)).values.n !== 6 && seen < 2);
    expect((await openBlob(pushed.blob, f.ring)).values).toEqual({ n: 6 });
    await sleep(1300); // at least one more tick, with nothing changed
    expect(client.pending(isCheckpoint)).toEqual([]);
    expect(client.open).toBe(true);
  });
});

describe('a resume answered with checkpoints on', () => {
  it('carries a checkpoint of the restored session; if the instance dies before any other, that checkpoint restores the state elsewhere', async () => {
    const f = await harness.start({ checkpointSeconds: 60 });
    const sid = newSid();
    const cookie = newCookie();
    const { client } = await LiveClient.connect(f.a.url, sid, cookie);
    expect((await client.add(5)).n).toBe(5);
    const { blob } = await hibernateOk(f.a.url, sid, cookie);

    const resumed = await resume(f.a.url, sid, blob, cookie);
    expect(resumed.body).toMatchObject({ outcome: 'ok', sid, gen: 2 });
    const checkpoint = (resumed.body as ResumeOk).checkpoint;
    expect(typeof checkpoint).toBe('string');
    const opened = await openBlob(checkpoint!, f.ring);
    expect(opened.sealed).toMatchObject({ sid, gen: 2 });
    expect(opened.values).toEqual({ n: 5 });

    // The used-up blob no longer restores; A dies before the page connected or got any other checkpoint.
    await f.a.kill();
    expect((await resume(f.b.url, sid, blob, cookie)).body.outcome).not.toBe('ok');
    const again = await resume(f.b.url, sid, checkpoint!, cookie);
    expect(again.body).toMatchObject({ outcome: 'ok', sid, gen: 3 });
    const { state } = await LiveClient.connect(f.b.url, sid, cookie);
    expect(state).toMatchObject({ gen: 3, n: 5, restored: true });
  });

  it('on the instance where the session is live: the page presents that checkpoint, gets the same gen and a newer checkpoint; the attach pushes none again', async () => {
    const f = await harness.start({ checkpointSeconds: 60 });
    const sid = newSid();
    const cookie = newCookie();
    const first = await LiveClient.connect(f.a.url, sid, cookie);
    expect((await first.client.add(2)).n).toBe(2);
    const { blob } = await hibernateOk(f.a.url, sid, cookie);
    const resumed = (await resume(f.a.url, sid, blob, cookie)).body as ResumeOk;
    const { client } = await LiveClient.connect(f.a.url, sid, cookie);
    await sleep(200);
    expect(client.pending(isCheckpoint)).toEqual([]); // the answer carried it
    expect((await client.add(1)).n).toBe(3);

    // A reload: the page presents the checkpoint it kept; the live session stays and a newer one comes back.
    const reload = (await resume(f.a.url, sid, resumed.checkpoint!, cookie)).body as ResumeOk;
    expect(reload).toMatchObject({ outcome: 'ok', sid, gen: 2 });
    expect((await openBlob(reload.checkpoint!, f.ring)).values).toEqual({ n: 3 });
    expect(await client.closedWithin(100)).toBeUndefined();
  });

  it('without checkpoints the answer carries none', async () => {
    const f = await harness.start();
    const sid = newSid();
    const cookie = newCookie();
    await LiveClient.connect(f.a.url, sid, cookie);
    const { blob } = await hibernateOk(f.a.url, sid, cookie);
    expect((await resume(f.a.url, sid, blob, cookie)).body).toEqual({ outcome: 'ok', sid, gen: 2 });
  });
});
