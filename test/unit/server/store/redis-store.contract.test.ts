import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../../../server-stub/redis/redis-store.js';
import { storeContract } from '../../../../server-stub/store/contract.js';
import { RedisServer } from '../../../support/redis-server.js';
import { randomPrefix, randomSid, waitUntilAnswers } from './store-helpers.js';

describe('RedisStore (store contract, real redis-server)', () => {
  let server: RedisServer | undefined;
  const open = new Set<RedisStore>();

  beforeAll(async () => {
    server = await RedisServer.start();
  });

  afterAll(async () => {
    for (const store of open) await store.close();
    await server?.stop();
  });

  /** A fresh store on its own random prefix, ready to answer. */
  async function fresh(prefix = randomPrefix('contract')): Promise<RedisStore> {
    const store = new RedisStore({ url: server!.url, prefix });
    open.add(store);
    await waitUntilAnswers(store);
    return store;
  }

  async function release(store: RedisStore): Promise<void> {
    open.delete(store);
    await store.close();
  }

  for (const c of storeContract(async () => {
    const store = await fresh();
    return { store, cleanup: () => release(store) };
  })) {
    it(c.name, c.run);
  }

  it('stores under distinct prefixes do not see each other; the same prefix does', async () => {
    const prefix = randomPrefix('shared');
    const [a, b, other] = [await fresh(prefix), await fresh(prefix), await fresh()];
    try {
      const sid = randomSid();
      await a.put(sid, { blob: 'shared', gen: 1, exp: Math.floor(Date.now() / 1000) + 60 });
      expect(await other.peek(sid)).toBeUndefined();
      expect((await b.take(sid))?.blob).toBe('shared');
      expect(await a.peek(sid)).toBeUndefined();
    } finally {
      await Promise.all([release(a), release(b), release(other)]);
    }
  });
});
