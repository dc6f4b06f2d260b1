import { describe, expect, it } from 'vitest';
import { MEMORY_STORE_DEFAULTS, MemoryStore } from '../../../../server-stub/store/memory-store.js';
import { entryBytes, type StoredBlob } from '../../../../server-stub/store/session-store.js';
import { blobOf, Clock } from './store-helpers.js';

const clock = () => new Clock();

/** A blob of exactly `length` characters that expires in an hour of `c`. */
function sized(c: Clock, length: number, gen = 1): StoredBlob {
  return { blob: 'x'.repeat(length), gen, exp: Math.floor(c.ms / 1000) + 3600 };
}

/** Which of `sids` the store still has (peek would reorder the LRU, so only use this at the end of a test). */
async function kept(store: MemoryStore, sids: string[]): Promise<string[]> {
  const present: string[] = [];
  for (const sid of sids) if (await store.peek(sid)) present.push(sid);
  return present;
}

describe('MemoryStore', () => {
  describe('basics', () => {
    it('is named memory and starts empty', () => {
      const store = new MemoryStore();
      expect(store.name).toBe('memory');
      expect(store.size).toBe(0);
      expect(store.bytes).toBe(0);
      expect(store.evicted).toBe(0);
    });

    it('has the documented defaults', () => {
      expect(MEMORY_STORE_DEFAULTS).toEqual({ maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 });
    });

    it('put / peek / take / delete keep the size and byte count exact', async () => {
      const c = clock();
      const store = new MemoryStore({ now: c.now });
      const a = blobOf({ gen: 2 }, c.ms);
      const b = blobOf({ gen: 5 }, c.ms);
      await store.put('a', a);
      await store.put('b', b);
      expect(store.size).toBe(2);
      expect(store.bytes).toBe(entryBytes('a', a) + entryBytes('b', b));

      expect(await store.peek('a')).toEqual(a);
      expect(store.size).toBe(2);

      expect(await store.take('a')).toEqual(a);
      expect(await store.take('a')).toBeUndefined();
      expect(store.size).toBe(1);
      expect(store.bytes).toBe(entryBytes('b', b));

      await store.delete('b');
      await store.delete('b');
      await store.delete('never-there');
      expect(store.size).toBe(0);
      expect(store.bytes).toBe(0);
      expect(store.evicted).toBe(0);
    });

    it('keeps a copy: mutating the object passed to put or returned by peek does not change what is kept', async () => {
      const c = clock();
      const store = new MemoryStore({ now: c.now });
      const entry = blobOf({ gen: 1 }, c.ms);
      const original = { ...entry };
      await store.put('s', entry);
      entry.blob = 'changed';
      entry.gen = 99;
      expect(await store.peek('s')).toEqual(original);
      expect(store.bytes).toBe(entryBytes('s', original));
    });

    it('does not keep fields beyond blob, gen and exp', async () => {
      const c = clock();
      const store = new MemoryStore({ now: c.now });
      const entry = { ...blobOf({}, c.ms), extra: 'x'.repeat(100) } as StoredBlob;
      await store.put('s', entry);
      expect(Object.keys((await store.peek('s'))!).sort()).toEqual(['blob', 'exp', 'gen']);
    });
  });

  describe('replacing a sid', () => {
    it('replaces the blob and fixes the byte count (no leak of the old size)', async () => {
      const c = clock();
      const store = new MemoryStore({ now: c.now });
      await store.put('s', sized(c, 1000, 1));
      expect(store.bytes).toBe(entryBytes('s', sized(c, 1000)));
      await store.put('s', sized(c, 10, 2));
      expect(store.size).toBe(1);
      expect(store.bytes).toBe(entryBytes('s', sized(c, 10)));
      expect((await store.peek('s'))?.gen).toBe(2);
      await store.put('s', sized(c, 500, 3));
      expect(store.bytes).toBe(entryBytes('s', sized(c, 500)));
      await store.take('s');
      expect(store.bytes).toBe(0);
      expect(store.evicted).toBe(0);
    });

    it('replacing does not evict another entry when the new total still fits', async () => {
      const c = clock();
      const one = entryBytes('a', sized(c, 100));
      // Room for exactly two 100-char entries.
      const store = new MemoryStore({ now: c.now, maxBytes: 2 * one });
      await store.put('a', sized(c, 100, 1));
      await store.put('b', sized(c, 100, 1));
      await store.put('a', sized(c, 100, 2)); // same size again: must not count the old copy
      expect(store.size).toBe(2);
      expect(store.evicted).toBe(0);
      expect(store.bytes).toBe(2 * one);
    });

    it('replacing moves the sid to most recently used', async () => {
      const c = clock();
      const store = new MemoryStore({ now: c.now, maxEntries: 2 });
      await store.put('a', blobOf({ gen: 1 }, c.ms));
      await store.put('b', blobOf({}, c.ms));
      await store.put('a', blobOf({ gen: 2 }, c.ms)); // a is now newer than b
      await store.put('c', blobOf({}, c.ms));
      expect(store.evicted).toBe(1);
      expect(await kept(store, ['a', 'b', 'c'])).toEqual(['a', 'c']);
      expect((await store.peek('a'))?.gen).toBe(2);
    });
  });

  describe('LRU bound by entries', () => {
    it('never holds more than maxEntries; the least recently put goes first and is counted', async () => {
      const c = clock();
      const store = new MemoryStore({ now: c.now, maxEntries: 3 });
      for (const sid of ['a', 'b', 'c', 'd', 'e']) {
        await store.put(sid, blobOf({}, c.ms));
        expect(store.size).toBeLessThanOrEqual(3);
      }
      expect(store.size).toBe(3);
      expect(store.evicted).toBe(2);
      expect(await kept(store, ['a', 'b', 'c', 'd', 'e'])).toEqual(['c', 'd', 'e']);
    });

    it('peek marks an entry as recently used', async () => {
      const c = clock();
      const store = new MemoryStore({ now: c.now, maxEntries: 3 });
      await store.put('a', blobOf({}, c.ms));
      await store.put('b', blobOf({}, c.ms));
      await store.put('c', blobOf({}, c.ms));
      await store.peek('a'); // order now b, c, a
      await store.put('d', blobOf({}, c.ms)); // evicts b
      expect(await kept(store, ['a', 'b', 'c', 'd'])).toEqual(['a', 'c', 'd']);
      expect(store.evicted).toBe(1);
    });

    it('the eviction order follows use, over several evictions', async () => {
      const c = clock();
      const store = new MemoryStore({ now: c.now, maxEntries: 3 });
      await store.put('a', blobOf({}, c.ms));
      await store.put('b', blobOf({}, c.ms));
      await store.put('c', blobOf({}, c.ms));
      await store.peek('b'); // a, c, b
      await store.peek('a'); // c, b, a
      await store.put('d', blobOf({}, c.ms)); // evicts c → b, a, d
      expect(await store.peek('c')).toBeUndefined(); // (a miss does not reorder)
      await store.put('e', blobOf({}, c.ms)); // evicts b → a, d, e
      expect(store.evicted).toBe(2);
      expect(await kept(store, ['a', 'b', 'c', 'd', 'e'])).toEqual(['a', 'd', 'e']);
    });

    it('take and delete free a slot without counting an eviction', async () => {
      const c = clock();
      const store = new MemoryStore({ now: c.now, maxEntries: 2 });
      await store.put('a', blobOf({}, c.ms));
      await store.put('b', blobOf({}, c.ms));
      await store.take('a');
      await store.put('c', blobOf({}, c.ms));
      await store.delete('b');
      await store.put('d', blobOf({}, c.ms));
      expect(store.evicted).toBe(0);
      expect(await kept(store, ['a', 'b', 'c', 'd'])).toEqual(['c', 'd']);
    });

    it('maxEntries 1 keeps only the last entry', async () => {
      const c = clock();
      const store = new MemoryStore({ now: c.now, maxEntries: 1 });
      await store.put('a', blobOf({}, c.ms));
      await store.put('b', blobOf({}, c.ms));
      expect(store.size).toBe(1);
      expect(store.evicted).toBe(1);
      expect(await kept(store, ['a', 'b'])).toEqual(['b']);
    });

    it('maxEntries 0 keeps nothing and counts every put as evicted', async () => {
      const c = clock();
      const store = new MemoryStore({ now: c.now, maxEntries: 0 });
      await store.put('a', blobOf({}, c.ms));
      await store.put('b', blobOf({}, c.ms));
      expect(store.size).toBe(0);
      expect(store.bytes).toBe(0);
      expect(store.evicted).toBe(2);
      expect(await store.take('a')).toBeUndefined();
    });
  });

  describe('LRU bound by bytes', () => {
    it('counts bytes with entryBytes (sid + blob + 16)', async () => {
      const c = clock();
      const store = new MemoryStore({ now: c.now });
      const entry = sized(c, 250);
      expect(entryBytes('sid-1', entry)).toBe(5 + 250 + 16);
      await store.put('sid-1', entry);
      expect(store.bytes).toBe(5 + 250 + 16);
    });

    it('evicts least recently used entries until the bytes fit', async () => {
      const c = clock();
      const one = entryBytes('a', sized(c, 100)); // 117
      const store = new MemoryStore({ now: c.now, maxBytes: 3 * one });
      await store.put('a', sized(c, 100));
      await store.put('b', sized(c, 100));
      await store.put('c', sized(c, 100));
      expect(store.bytes).toBe(3 * one);
      expect(store.evicted).toBe(0);
      await store.peek('a'); // b is now the least recently used
      await store.put('d', sized(c, 100));
      expect(store.bytes).toBe(3 * one);
      expect(store.evicted).toBe(1);
      // One entry twice the size: the two least recently used (c, a) make room.
      await store.put('e', sized(c, 100 + one));
      expect(store.bytes).toBeLessThanOrEqual(3 * one);
      expect(store.evicted).toBe(3);
      expect(await kept(store, ['a', 'b', 'c', 'd', 'e'])).toEqual(['d', 'e']);
      expect(store.bytes).toBe(one + entryBytes('e', sized(c, 100 + one)));
    });

    it('an entry of exactly maxBytes is kept (alone)', async () => {
      const c = clock();
      const store = new MemoryStore({ now: c.now, maxBytes: entryBytes('big', sized(c, 1000)) });
      await store.put('small', sized(c, 10));
      await store.put('big', sized(c, 1000));
      expect(await kept(store, ['small', 'big'])).toEqual(['big']);
      expect(store.evicted).toBe(1);
    });

    it('an entry bigger than maxBytes is not kept and evicts nothing', async () => {
      const c = clock();
      const store = new MemoryStore({ now: c.now, maxBytes: 1000 });
      await store.put('a', sized(c, 100));
      await store.put('b', sized(c, 100));
      const before = store.bytes;
      await store.put('huge', sized(c, 1000)); // 4 + 1000 + 16 > 1000
      expect(await store.peek('huge')).toBeUndefined();
      expect(store.size).toBe(2);
      expect(store.bytes).toBe(before);
      expect(store.evicted).toBe(1); // the refused entry itself, nothing else
      expect(await kept(store, ['a', 'b'])).toEqual(['a', 'b']);
    });

    it('an oversized replacement removes the old copy of that sid but keeps the others', async () => {
      const c = clock();
      const store = new MemoryStore({ now: c.now, maxBytes: 1000 });
      await store.put('a', sized(c, 100, 1));
      await store.put('b', sized(c, 100, 1));
      await store.put('a', sized(c, 2000, 2));
      // put replaces whatever was kept for the sid: an older generation must not survive a newer put.
      expect(await store.peek('a')).toBeUndefined();
      expect(await kept(store, ['b'])).toEqual(['b']);
      expect(store.bytes).toBe(entryBytes('b', sized(c, 100)));
    });

    it('both bounds at once: whichever is hit first evicts', async () => {
      const c = clock();
      const one = entryBytes('a', sized(c, 50));
      const store = new MemoryStore({ now: c.now, maxEntries: 3, maxBytes: 10 * one });
      for (const sid of ['a', 'b', 'c', 'd']) await store.put(sid, sized(c, 50));
      expect(store.size).toBe(3); // the entry bound
      await store.put('e', sized(c, 50 + 8 * one)); // the byte bound: everything else must go but one
      expect(store.bytes).toBeLessThanOrEqual(10 * one);
      expect(await kept(store, ['a', 'b', 'c', 'd', 'e'])).toEqual(['d', 'e']);
    });
  });

  describe('expiry (injected clock)', () => {
    it('an entry is returned until its exp and not at or after it', async () => {
      const c = clock();
      const store = new MemoryStore({ now: c.now });
      const exp = Math.floor(c.ms / 1000) + 10;
      await store.put('s', { blob: 'b', gen: 1, exp });
      c.ms = exp * 1000 - 1;
      expect(await store.peek('s')).toEqual({ blob: 'b', gen: 1, exp });
      c.ms = exp * 1000;
      expect(await store.peek('s')).toBeUndefined();
      expect(await store.take('s')).toBeUndefined();
    });

    it('reading an expired entry drops it and frees its bytes (not counted as evicted)', async () => {
      const c = clock();
      const store = new MemoryStore({ now: c.now });
      await store.put('short', blobOf({}, c.ms, 5));
      await store.put('long', blobOf({}, c.ms, 3600));
      c.advance(6_000);
      expect(await store.take('short')).toBeUndefined();
      expect(store.size).toBe(1);
      expect(store.bytes).toBe(entryBytes('long', (await store.peek('long'))!));
      expect(store.evicted).toBe(0);
    });

    it('an entry put already expired is never returned', async () => {
      const c = clock();
      const store = new MemoryStore({ now: c.now });
      await store.put('s', blobOf({}, c.ms, -1));
      expect(await store.peek('s')).toBeUndefined();
      expect(await store.take('s')).toBeUndefined();
      expect(store.size).toBe(0);
    });

    it('a fresh put after expiry is returned again', async () => {
      const c = clock();
      const store = new MemoryStore({ now: c.now });
      await store.put('s', blobOf({ gen: 1 }, c.ms, 5));
      c.advance(10_000);
      expect(await store.peek('s')).toBeUndefined();
      await store.put('s', blobOf({ gen: 2 }, c.ms, 5));
      expect((await store.take('s'))?.gen).toBe(2);
    });

    it('delete of an expired entry frees its bytes', async () => {
      const c = clock();
      const store = new MemoryStore({ now: c.now });
      await store.put('s', blobOf({}, c.ms, 1));
      c.advance(5_000);
      await store.delete('s');
      expect(store.size).toBe(0);
      expect(store.bytes).toBe(0);
    });
  });

  it('size and bytes stay consistent over a random workload', async () => {
    const c = clock();
    const store = new MemoryStore({ now: c.now, maxEntries: 20, maxBytes: 4000 });
    const model = new Map<string, StoredBlob>();
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 2000; i++) {
      const sid = `s${rand(40)}`;
      const op = rand(4);
      if (op === 0 || op === 1) await store.put(sid, sized(c, rand(400), i));
      else if (op === 2) await store.take(sid);
      else await store.delete(sid);
      expect(store.size).toBeLessThanOrEqual(20);
      expect(store.bytes).toBeLessThanOrEqual(4000);
      expect(store.bytes).toBeGreaterThanOrEqual(0);
    }
    // Whatever is left adds up to `bytes` exactly.
    let total = 0;
    for (let i = 0; i < 40; i++) {
      const entry = await store.peek(`s${i}`);
      if (entry) {
        model.set(`s${i}`, entry);
        total += entryBytes(`s${i}`, entry);
      }
    }
    expect(model.size).toBe(store.size);
    expect(total).toBe(store.bytes);
  });
});
