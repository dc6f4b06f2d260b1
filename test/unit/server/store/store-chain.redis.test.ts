import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../../../server-stub/metrics.js';
import { RedisStore } from '../../../../server-stub/redis/redis-store.js';
import { MemoryStore } from '../../../../server-stub/store/memory-store.js';
import { StoreChain } from '../../../../server-stub/store/store-chain.js';
import { RedisServer } from '../../../support/redis-server.js';
import { blobOf, capturingLogger, randomPrefix, randomSid, settleOrHang, sleep, waitUntilAnswers } from './store-helpers.js';

// Small timeouts so an outage costs little; the guard only catches hangs, it asserts no speed.
const STORE_TIMEOUT_MS = 200;
const COMMAND_TIMEOUT_MS = 150;
const OPEN_MS = 300;
const HANG_GUARD_MS = 5_000;

describe('StoreChain [memory, redis] with a real redis-server that is killed and restarted', () => {
  let server: RedisServer | undefined;
  let chain: StoreChain | undefined;
  let inspector: RedisStore | undefined;

  beforeAll(async () => {
    server = await RedisServer.start();
  });

  afterAll(async () => {
    await chain?.close();
    await inspector?.close();
    await server?.stop();
  });

  it('keeps working through memory while redis is down, opens the redis breaker, and closes it after a restart', async () => {
    const prefix = randomPrefix('chain');
    const redis = new RedisStore({ url: server!.url, prefix, commandTimeoutMs: COMMAND_TIMEOUT_MS });
    inspector = new RedisStore({ url: server!.url, prefix, commandTimeoutMs: COMMAND_TIMEOUT_MS });
    await waitUntilAnswers(redis);
    await waitUntilAnswers(inspector);
    const metrics = new Metrics();
    const logger = capturingLogger();
    chain = new StoreChain([new MemoryStore(), redis], { failureThreshold: 3, openMs: OPEN_MS, timeoutMs: STORE_TIMEOUT_MS }, metrics, logger);
    const render = () => metrics.render({ live: 0, hibernated: 0, draining: false });

    // Up: both stores take the blob, take returns it and removes both copies.
    const before = randomSid();
    expect(await chain.put(before, blobOf({ gen: 1 }))).toEqual(['memory', 'redis']);
    expect((await inspector.peek(before))?.gen).toBe(1);
    expect((await chain.take(before))?.gen).toBe(1);
    expect(await inspector.peek(before)).toBeUndefined();
    expect(await chain.take(before)).toBeUndefined();

    // A copy only in redis (as another instance would leave it) is found by take.
    const remote = randomSid();
    await inspector.put(remote, blobOf({ gen: 7, blob: 'from-another-instance' }));
    expect((await chain.take(remote))?.blob).toBe('from-another-instance');

    // Crash.
    await server!.kill();
    expect(server!.running).toBe(false);

    const during: string[] = [];
    for (let i = 0; i < 6; i++) {
      const sid = randomSid();
      const outcome = await settleOrHang(chain.put(sid, blobOf({ gen: 2 })), HANG_GUARD_MS);
      expect(outcome, `put #${i} must settle`).not.toBe('hung');
      expect(outcome).toEqual({ ok: true, value: ['memory'] });
      during.push(sid);
    }
    expect(chain.breakerStates().memory).toBe('closed');
    expect(chain.breakerStates().redis).not.toBe('closed');
    expect(logger.at('error')).toContain('store redis: circuit open');
    // Once, or more if a probe already went out and failed on a slow machine.
    expect(render()).toMatch(/stasis_store_breaker_opened_total\{store="redis"\} [1-9]/);
    expect(render()).toMatch(/stasis_store_operations_total\{store="redis",operation="put",result="error"\} 6/);
    expect(render()).toContain('stasis_store_operations_total{store="memory",operation="put",result="ok"} 7');

    // take is served by memory; it settles too.
    const took = await settleOrHang(chain.take(during[0]!), HANG_GUARD_MS);
    expect(took).toMatchObject({ ok: true, value: { gen: 2 } });
    // A miss while redis cannot be asked is `unavailable`, not "no such blob".
    const miss = await settleOrHang(chain.take(randomSid()), HANG_GUARD_MS);
    expect(miss).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    const deleted = await settleOrHang(chain.delete(during[1]!), HANG_GUARD_MS);
    expect(deleted).toEqual({ ok: true, value: undefined });

    // Back up (empty: no persistence). Poll: the breaker must let a probe through after OPEN_MS and ioredis
    // must have reconnected (its retry delay is up to 2 s); no exact timing is assumed.
    await server!.restart();
    const after = randomSid();
    const deadline = Date.now() + 10_000;
    let stored: string[] = [];
    while (Date.now() < deadline) {
      const outcome = await settleOrHang(chain.put(after, blobOf({ gen: 3 })), HANG_GUARD_MS);
      expect(outcome).not.toBe('hung');
      if (outcome !== 'hung' && outcome.ok) stored = outcome.value;
      if (stored.includes('redis')) break;
      await sleep(50);
    }
    expect(stored).toEqual(['memory', 'redis']);
    expect(chain.breakerStates()).toEqual({ memory: 'closed', redis: 'closed' });
    expect(logger.at('info')).toContain('store redis: circuit half-open');
    expect(logger.at('info').at(-1)).toBe('store redis: circuit closed');
    expect(render()).toContain('stasis_store_breaker_state{store="redis",state="closed"} 0');

    // The blob really is in the restarted redis, and the chain works normally again.
    await waitUntilAnswers(inspector);
    expect((await inspector.peek(after))?.gen).toBe(3);
    expect((await chain.take(after))?.gen).toBe(3);
    expect(await inspector.peek(after)).toBeUndefined();
    const later = randomSid();
    expect(await chain.put(later, blobOf())).toEqual(['memory', 'redis']);
  });
});
