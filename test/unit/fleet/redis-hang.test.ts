/**
 * A Redis hang (SIGSTOP) in the middle of a resume: the ledger step times out and the resume answers the
 * non-final `unavailable`, but the queued Lua step runs when Redis wakes. The page's retry with the same blob
 * must restore the session, not be refused as a replay; another browser presenting the blob still is.
 */
import { describe, expect, it } from 'vitest';
import { fleetPerTest, health, hibernateOk, LiveClient, newCookie, newSid, resume, sleep } from './two-instances.js';

const fleet = fleetPerTest();

describe('a resume across a Redis hang', () => {
  it('times out while Redis is stopped, then the same browser retrying the same blob restores it', async () => {
    const f = await fleet.start({ storeTimeoutMs: 300, handoverTimeoutMs: 1000 });
    const sid = newSid();
    const cookie = newCookie();
    const live = await LiveClient.connect(f.a.url, sid, cookie);
    await live.client.add(7);
    const { blob } = await hibernateOk(f.a.url, sid, cookie);

    f.redis.pause();
    let hung;
    try {
      hung = await resume(f.b.url, sid, blob, cookie);
    } finally {
      f.redis.unpause();
    }
    expect(hung.status).toBe(503);
    expect(hung.body.outcome).toBe('unavailable');
    await sleep(200); // the queued consume (and the release queued behind it) run now

    const thief = await resume(f.a.url, sid, blob, newCookie());
    expect(thief.body.outcome).not.toBe('ok');

    const retried = await resume(f.a.url, sid, blob, cookie);
    expect(retried.body).toMatchObject({ outcome: 'ok', sid, gen: 2 });
    const { state } = await LiveClient.connect(f.a.url, sid, cookie);
    expect(state).toMatchObject({ n: 7, gen: 2, restored: true });

    // Used once: presented again on the other instance, it is a replay (the session it restored is live on A).
    const again = await resume(f.b.url, sid, blob, cookie);
    expect(again.body.outcome).toBe('replayed');
    expect((await health(f.a.url, sid)).body.session).toMatchObject({ state: 'live', gen: 2 });
  });
});
