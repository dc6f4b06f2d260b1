/**
 * One blob, two instances, the same moment: the shared Redis ledger lets exactly one resume win.
 */
import { describe, expect, it } from 'vitest';
import {
  LiveClient,
  health,
  hibernateOk,
  newCookie,
  newSid,
  openBlob,
  resume,
  fleetPerTest,
  type Instance,
} from './two-instances.js';

const harness = fleetPerTest();

describe('exactly once across two instances', () => {
  it('100 concurrent double resumes of the same blob: one ok, the other replayed or told to wait each time; gen +1 per round', async () => {
    const fleet = await harness.start();
    const { a, b, ring } = fleet;
    const sid = newSid();
    const cookie = newCookie();
    const counts = { ok: 0, busy: 0, replayed: 0, stale: 0, other: [] as string[] };

    // Round 0 starts on A: a live socket changes the state, then the page hibernates.
    let holder: Instance = a;
    const rounds = 100;
    for (let i = 0; i < rounds; i++) {
      const other = holder === a ? b : a;
      // The session is live on `holder` (fresh on round 0, else restored by the previous round's winner).
      const { client, state } = await LiveClient.connect(holder.url, sid, cookie);
      expect(state.gen, `round ${i}: the session found live`).toBe(i + 1);
      expect(state.n, `round ${i}: its state`).toBe(i);
      expect((await client.add(1)).n).toBe(i + 1);
      // Hibernate where it lives, or (every other round) on the other instance, which asks the holder.
      const { blob, gen } = await hibernateOk(i % 2 === 0 ? holder.url : other.url, sid, cookie);
      expect(gen).toBe(i + 1);
      expect((await client.closed).code, 'the live socket is closed as hibernated').toBe(4001);
      if (i === 0 || i === rounds - 1) expect((await openBlob(blob, ring)).values).toEqual({ n: i + 1 });

      const [onA, onB] = await Promise.all([resume(a.url, sid, blob, cookie), resume(b.url, sid, blob, cookie)]);
      const oks = [onA, onB].filter((answer) => answer.body.outcome === 'ok');
      expect(oks, `round ${i}: exactly one ok (A: ${JSON.stringify(onA.body)}, B: ${JSON.stringify(onB.body)})`).toHaveLength(1);
      for (const answer of [onA, onB]) {
        const outcome = answer.body.outcome;
        if (outcome === 'ok') {
          counts.ok++;
          expect(answer.status).toBe(200);
          expect(answer.body).toMatchObject({ sid, gen: i + 2 });
        } else if (outcome === 'replayed' || outcome === 'stale') {
          counts[outcome]++;
          expect(answer.status).toBe(409);
        } else if (outcome === 'unavailable') {
          // The same browser's blob while the attempt that consumed it is still restoring it: non-final.
          counts.busy++;
          expect(answer.status).toBe(503);
        } else {
          counts.other.push(`round ${i}: ${answer.status} ${outcome}`);
        }
      }
      holder = onA.body.outcome === 'ok' ? a : b;
    }

    expect(counts.other).toEqual([]);
    expect(counts.ok).toBe(rounds);
    expect(counts.busy + counts.replayed + counts.stale).toBe(rounds);
    // Where the last round's winner holds it: live at gen 101 with all 100 increments, and nowhere else.
    const { client, state } = await LiveClient.connect(holder.url, sid, cookie);
    expect(state).toMatchObject({ gen: rounds + 1, n: rounds, restored: true });
    client.close();
    const elsewhere = (await health(holder === a ? b.url : a.url, sid)).body.session;
    expect(elsewhere?.state).not.toBe('live');
  });

  it('a blob resumed on A, replayed later on A and on B: both answer replayed (409)', async () => {
    const fleet = await harness.start();
    const { a, b } = fleet;
    const sid = newSid();
    const cookie = newCookie();
    const { client } = await LiveClient.connect(a.url, sid, cookie);
    await client.add(7);
    const { blob } = await hibernateOk(a.url, sid, cookie);
    expect((await resume(a.url, sid, blob, cookie)).body).toMatchObject({ outcome: 'ok', gen: 2 });

    // A replay on the instance holding the restored session leaves it alone.
    const again = await resume(a.url, sid, blob, cookie);
    expect(again.status).toBe(409);
    expect(again.body.outcome).toBe('replayed');
    expect((await health(a.url, sid)).body.session).toMatchObject({ state: 'live', gen: 2 });

    const replay = await resume(b.url, sid, blob, cookie);
    expect(replay.status).toBe(409);
    expect(replay.body.outcome).toBe('replayed');
    expect((await health(b.url, sid)).body.session?.state).not.toBe('live');
  });

it('a replay of a consumed blob on B does not touch the session it restored, live on A (the owner yields only to a newer blob)', async () => {
    const fleet = await harness.start();
    const { a, b } = fleet;
    const sid = newSid();
    const cookie = newCookie();
    const first = await LiveClient.connect(a.url, sid, cookie);
    await first.client.add(7);
    const { blob } = await hibernateOk(a.url, sid, cookie);
    expect((await resume(a.url, sid, blob, cookie)).body).toMatchObject({ outcome: 'ok', gen: 2 });
    const { client, state } = await LiveClient.connect(a.url, sid, cookie);
    expect(state).toMatchObject({ gen: 2, n: 7 });

    expect((await resume(b.url, sid, blob, cookie)).body.outcome).toBe('replayed');

    // Expected: nothing happened to the live session. Actual: A dropped it (socket closed 4002, state gone).
    expect(await client.closedWithin(300)).toBeUndefined();
    expect((await health(a.url, sid)).body.session).toMatchObject({ state: 'live', gen: 2 });
  });
});
