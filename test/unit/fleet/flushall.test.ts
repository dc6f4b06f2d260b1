/**
 * Redis loses its data under a live session (FLUSHALL, as a restart without persistence does): the owner
 * records come back within about a second, and meanwhile a connect on an instance that does not hold the
 * session is refused (1012) instead of given an empty rival session. The page's next connect takes it over.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { fleetPerTest, LiveClient, newCookie, newSid, until, within } from './two-instances.js';

const fleet = fleetPerTest();

describe('FLUSHALL under a live session', () => {
  it('owner records are written again within a second; a connect elsewhere meanwhile is refused, then takes the session over', async () => {
    const f = await fleet.start({ handoverTimeoutMs: 1000 });
    const sid = newSid();
    const cookie = newCookie();
    const { client } = await LiveClient.connect(f.a.url, sid, cookie);
    expect((await client.add(5)).n).toBe(5);
    const redis = (await f.inspector()) as Redis;
    const ownerKey = `${f.prefix}owner:${sid}`;
    expect(await redis.get(ownerKey)).not.toBeNull();

    await redis.flushall();
    // Right after the loss, before or while the instances notice: never an empty session on B.
    const early = await LiveClient.open(f.b.url, sid, cookie);
    const first = await within(Promise.race([early.closed, early.waitFor((m): m is { n: number } => typeof (m as { n?: unknown }).n === 'number', 3000)]), 4000, 'B answers');
    if ('code' in first) expect(first.code).toBe(1012);
    else expect(first.n).toBe(5); // B already found the record A wrote again, and took the session over

    await until(async () => (await redis.get(ownerKey)) !== null, 3000, 'the owner record written again');
    const { state } = await LiveClient.connect(f.b.url, sid, cookie);
    expect(state.n).toBe(5);
  });
});
