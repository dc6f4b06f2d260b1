import { describe, expect, it } from 'vitest';
import { storeContract } from '../../../../server-stub/store/contract.js';
import { MemoryStore } from '../../../../server-stub/store/memory-store.js';
import type { SessionStore, StoredBlob } from '../../../../server-stub/store/session-store.js';
import { throwingStore } from './store-helpers.js';

describe('MemoryStore (store contract)', () => {
  const checks = storeContract(async () => ({ store: new MemoryStore() }));

  it('the contract has checks with distinct names', () => {
    expect(checks.length).toBeGreaterThanOrEqual(9);
    expect(new Set(checks.map((c) => c.name)).size).toBe(checks.length);
  });

  for (const c of checks) it(c.name, c.run);

  it('a store with tight bounds still passes (the 1 MB check fits in 2 MiB)', async () => {
    for (const c of storeContract(async () => ({ store: new MemoryStore({ maxEntries: 4, maxBytes: 2 * 1024 * 1024 }) }))) {
      await c.run();
    }
  });
});

/** A store that answers from a Map but breaks one rule of the contract. */
class FaultyStore implements SessionStore {
  readonly name = 'faulty';
  readonly #entries = new Map<string, StoredBlob>();
  constructor(private readonly fault: 'take-keeps' | 'ignores-exp' | 'keeps-first' | 'peek-removes' | 'mangles-gen') {}
  async put(sid: string, entry: StoredBlob): Promise<void> {
    if (this.fault === 'keeps-first' && this.#entries.has(sid)) return;
    this.#entries.set(sid, this.fault === 'mangles-gen' ? { ...entry, gen: entry.gen + 1 } : { ...entry });
  }
  async take(sid: string): Promise<StoredBlob | undefined> {
    const entry = this.#read(sid); // synchronous: read and remove are one step, like GETDEL
    if (this.fault !== 'take-keeps') this.#entries.delete(sid);
    return entry;
  }
  async peek(sid: string): Promise<StoredBlob | undefined> {
    return this.#read(sid);
  }
  #read(sid: string): StoredBlob | undefined {
    const entry = this.#entries.get(sid);
    if (entry && this.fault !== 'ignores-exp' && entry.exp * 1000 <= Date.now()) return undefined;
    if (this.fault === 'peek-removes') this.#entries.delete(sid);
    return entry;
  }
  async delete(sid: string): Promise<void> {
    this.#entries.delete(sid);
  }
}

/** Runs every check of the contract against `make`; answers the names of the checks that rejected. */
async function failingChecks(make: () => SessionStore, cleanup?: () => Promise<void>): Promise<string[]> {
  const failed: string[] = [];
  for (const c of storeContract(async () => ({ store: make(), ...(cleanup ? { cleanup } : {}) }))) {
    try {
      await c.run();
    } catch {
      failed.push(c.name);
    }
  }
  return failed;
}

describe('the store contract detects bad stores', () => {
  it('a store whose methods throw fails every check that uses them (put/peek among them)', async () => {
    const putPeek = storeContract(async () => ({ store: throwingStore() })).find((c) => c.name.startsWith('put then peek'));
    expect(putPeek).toBeDefined();
    await expect(putPeek!.run()).rejects.toThrow(/not implemented/);

    const all = storeContract(async () => ({ store: throwingStore() }));
    const failed = await failingChecks(() => throwingStore());
    expect(failed).toEqual(all.map((c) => c.name).filter((name) => name !== 'has a name'));
  });

  it('a store whose methods reject fails the put/peek check', async () => {
    const rejecting: SessionStore = {
      name: 'rejecting',
      put: async () => Promise.reject(new Error('down')),
      take: async () => Promise.reject(new Error('down')),
      peek: async () => Promise.reject(new Error('down')),
      delete: async () => Promise.reject(new Error('down')),
    };
    const putPeek = storeContract(async () => ({ store: rejecting })).find((c) => c.name.startsWith('put then peek'))!;
    await expect(putPeek.run()).rejects.toThrow('down');
  });

  it('a store without a name fails "has a name"', async () => {
    const unnamed: SessionStore = new MemoryStore();
    Object.defineProperty(unnamed, 'name', { value: '' });
    expect(await failingChecks(() => unnamed)).toEqual(['has a name']);
  });

  it('take that does not remove fails the take-once and concurrency checks', async () => {
    const failed = await failingChecks(() => new FaultyStore('take-keeps'));
    expect(failed).toContain('take returns the blob once and removes it');
    expect(failed).toContain('20 concurrent takes of one blob: exactly one gets it');
    expect(failed).not.toContain('put then peek returns the same blob, gen and exp');
  });

  it('ignoring exp fails the expiry check only', async () => {
    expect(await failingChecks(() => new FaultyStore('ignores-exp'))).toEqual(['an entry past its exp is not returned']);
  });

  it('keeping the first put fails the replace check only', async () => {
    expect(await failingChecks(() => new FaultyStore('keeps-first'))).toEqual(['put replaces the previous blob of the same sid']);
  });

  it('a take that reads and removes in two steps (not atomic) fails the concurrency check', async () => {
    const racy: SessionStore = Object.assign(new MemoryStore(), {
      async take(this: MemoryStore, sid: string) {
        const entry = await this.peek(sid);
        await new Promise((resolve) => setImmediate(resolve));
        await this.delete(sid);
        return entry;
      },
    });
    expect(await failingChecks(() => racy)).toEqual(['20 concurrent takes of one blob: exactly one gets it']);
  });

  it('a peek that removes fails the put/peek check', async () => {
    expect(await failingChecks(() => new FaultyStore('peek-removes'))).toContain('put then peek returns the same blob, gen and exp');
  });

  it('a store that changes the generation fails the put/peek check', async () => {
    expect(await failingChecks(() => new FaultyStore('mangles-gen'))).toEqual([
      'put then peek returns the same blob, gen and exp',
      'take returns the blob once and removes it',
    ]);
  });

  it('runs the cleanup of every check, also when the check fails', async () => {
    let cleanups = 0;
    const failed = await failingChecks(
      () => throwingStore(),
      async () => void cleanups++,
    );
    expect(failed.length).toBeGreaterThan(0);
    expect(cleanups).toBe(storeContract(async () => ({ store: throwingStore() })).length);
  });
});
