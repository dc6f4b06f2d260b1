import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import type { SessionStore, StoredBlob } from './session-store.js';

/** One contract check: run it with any test runner (`for (const c of storeContract(make)) it(c.name, c.run)`). */
export interface ContractCheck {
  name: string;
  run: () => Promise<void>;
}

/**
 * The behaviour every SessionStore must have, as runner-neutral checks. `make` returns a fresh, empty store
 * (e.g. a new key prefix) and may return a cleanup. Library authors run these against their own store.
 */
export function storeContract(make: () => Promise<{ store: SessionStore; cleanup?: () => Promise<void> }>): ContractCheck[] {
  const sid = () => randomBytes(16).toString('base64url');
  const entry = (gen = 1, blob = `blob-${randomBytes(6).toString('hex')}`): StoredBlob => ({
    blob,
    gen,
    exp: Math.floor(Date.now() / 1000) + 3600,
  });
  const check = (name: string, body: (store: SessionStore) => Promise<void>): ContractCheck => ({
    name,
    async run() {
      const { store, cleanup } = await make();
      try {
        await body(store);
      } finally {
        await cleanup?.();
      }
    },
  });
  return [
    check('has a name', async (store) => {
      assert.equal(typeof store.name, 'string');
      assert.ok(store.name.length > 0);
    }),
    check('put then peek returns the same blob, gen and exp', async (store) => {
      const id = sid();
      const kept = entry(3);
      await store.put(id, kept);
      assert.deepEqual(await store.peek(id), kept);
      assert.deepEqual(await store.peek(id), kept, 'peek does not remove');
    }),
    check('take returns the blob once and removes it', async (store) => {
      const id = sid();
      const kept = entry();
      await store.put(id, kept);
      assert.deepEqual(await store.take(id), kept);
      assert.equal(await store.take(id), undefined);
      assert.equal(await store.peek(id), undefined);
    }),
    check('unknown sids answer undefined', async (store) => {
      assert.equal(await store.peek(sid()), undefined);
      assert.equal(await store.take(sid()), undefined);
      await store.delete(sid()); // deleting nothing is fine
    }),
    check('put replaces the previous blob of the same sid', async (store) => {
      const id = sid();
      await store.put(id, entry(1, 'first'));
      await store.put(id, entry(2, 'second'));
      assert.equal((await store.take(id))?.blob, 'second');
      assert.equal(await store.take(id), undefined);
    }),
    check('sids are independent; delete removes one', async (store) => {
      const [a, b] = [sid(), sid()];
      await store.put(a, entry(1, 'a'));
      await store.put(b, entry(1, 'b'));
      await store.delete(a);
      assert.equal(await store.peek(a), undefined);
      assert.equal((await store.peek(b))?.blob, 'b');
    }),
    check('an entry past its exp is not returned', async (store) => {
      const id = sid();
      await store.put(id, { blob: 'old', gen: 1, exp: Math.floor(Date.now() / 1000) - 1 });
      assert.equal(await store.peek(id), undefined);
      assert.equal(await store.take(id), undefined);
    }),
    check('20 concurrent takes of one blob: exactly one gets it', async (store) => {
      const id = sid();
      await store.put(id, entry());
      const results = await Promise.all(Array.from({ length: 20 }, () => store.take(id)));
      assert.equal(results.filter(Boolean).length, 1);
    }),
    check('keeps a 1 MB blob intact', async (store) => {
      const id = sid();
      const big = entry(1, randomBytes(768 * 1024).toString('base64url'));
      await store.put(id, big);
      assert.equal((await store.take(id))?.blob, big.blob);
    }),
  ];
}
