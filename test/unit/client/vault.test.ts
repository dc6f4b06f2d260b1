import 'fake-indexeddb/auto';
import { describe, it, expect, afterEach, vi } from 'vitest';
import { Vault, type VaultRecord } from '../../../src/custody/vault.js';
import { makeBlob, makeSid, uniqueDbName, epochSeconds } from './blob.js';

const opened: Vault[] = [];
async function openVault(): Promise<Vault> {
  const vault = await Vault.open(uniqueDbName('vault'));
  opened.push(vault);
  return vault;
}

function record(overrides: Partial<VaultRecord> = {}): VaultRecord {
  const sid = overrides.sid ?? makeSid();
  const gen = overrides.gen ?? 3;
  const exp = overrides.exp ?? epochSeconds(3600);
  return {
    sid,
    gen,
    exp,
    blob: makeBlob({ sid, gen, exp }),
    storedAt: 1_700_000_000_000,
    endpoint: 'http://app.test/stasis',
    ...overrides,
  };
}

afterEach(() => {
  vi.restoreAllMocks();
  for (const vault of opened.splice(0)) vault.close();
});

describe('Vault round trip', () => {
  it('get returns what put stored, field for field', async () => {
    const vault = await openVault();
    const stored = record();
    await vault.put(stored);
    expect(await vault.get(stored.sid)).toStrictEqual(stored);
  });

  it('get of an unknown sid is undefined', async () => {
    const vault = await openVault();
    await vault.put(record());
    expect(await vault.get(makeSid())).toBeUndefined();
  });

  it('put on the same sid replaces the record (keyed by sid)', async () => {
    const vault = await openVault();
    const first = record({ gen: 1 });
    const second = record({ sid: first.sid, gen: 2 });
    await vault.put(first);
    await vault.put(second);
    expect(await vault.get(first.sid)).toStrictEqual(second);
  });

  it('delete removes only that sid', async () => {
    const vault = await openVault();
    const a = record();
    const b = record();
    await vault.put(a);
    await vault.put(b);
    await vault.delete(a.sid);
    expect(await vault.get(a.sid)).toBeUndefined();
    expect(await vault.get(b.sid)).toStrictEqual(b);
  });

  it('delete of a missing sid resolves', async () => {
    const vault = await openVault();
    await expect(vault.delete(makeSid())).resolves.toBeUndefined();
  });

  it('data survives closing and reopening the same database', async () => {
    const name = uniqueDbName('vault-reopen');
    const first = await Vault.open(name);
    const stored = record();
    await first.put(stored);
    first.close();
    const second = await Vault.open(name);
    opened.push(second);
    expect(await second.get(stored.sid)).toStrictEqual(stored);
  });

  it('databases with different names do not share records', async () => {
    const a = await openVault();
    const b = await openVault();
    const stored = record();
    await a.put(stored);
    expect(await b.get(stored.sid)).toBeUndefined();
  });
});

describe('Vault durability', () => {
  function spyTransactions() {
    return vi.spyOn(IDBDatabase.prototype, 'transaction');
  }

  it("put writes in a readwrite transaction with durability 'strict'", async () => {
    const vault = await openVault();
    const spy = spyTransactions();
    await vault.put(record());
    expect(spy).toHaveBeenCalledTimes(1);
    // One transaction stores the blob and clears any pending hibernate of the same sid.
    expect(spy).toHaveBeenCalledWith(['blobs', 'pending'], 'readwrite', { durability: 'strict' });
    const tx = spy.mock.results[0]?.value as IDBTransaction;
    expect(tx.mode).toBe('readwrite');
    expect(tx.durability).toBe('strict');
  });

  it("delete also uses a readwrite transaction with durability 'strict'", async () => {
    const vault = await openVault();
    const stored = record();
    await vault.put(stored);
    const spy = spyTransactions();
    await vault.delete(stored.sid);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy).toHaveBeenCalledWith('blobs', 'readwrite', { durability: 'strict' });
    expect((spy.mock.results[0]?.value as IDBTransaction).durability).toBe('strict');
  });

  it('put resolves only after the transaction committed (a second connection sees the record)', async () => {
    const name = uniqueDbName('vault-commit');
    const writer = await Vault.open(name);
    const reader = await Vault.open(name);
    opened.push(writer, reader);
    const stored = record();
    await writer.put(stored);
    expect(await reader.get(stored.sid)).toStrictEqual(stored);
  });
});

describe('Vault deletes resolve once under way (IndexedDB orders what comes after)', () => {
  async function twoConnections() {
    const name = uniqueDbName('vault-order');
    const writer = await Vault.open(name);
    const reader = await Vault.open(name);
    opened.push(writer, reader);
    return { writer, reader };
  }

  it('delete resolves before its commit, yet every later read, on any connection, misses the blob', async () => {
    const { writer, reader } = await twoConnections();
    const stored = record();
    await writer.put(stored);
    let committed = false;
    const spy = vi.spyOn(IDBDatabase.prototype, 'transaction');
    await writer.delete(stored.sid);
    const tx = spy.mock.results[0]?.value as IDBTransaction;
    tx.addEventListener('complete', () => (committed = true));
    expect(committed).toBe(false);
    spy.mockRestore();
    expect(await reader.get(stored.sid)).toBeUndefined();
    expect(await writer.get(stored.sid)).toBeUndefined();
    expect(committed).toBe(true);
  });

  it('a blob stored for the sid right after a delete is kept (the delete comes first)', async () => {
    const { writer, reader } = await twoConnections();
    const first = record({ gen: 1 });
    const second = record({ sid: first.sid, gen: 2 });
    await writer.put(first);
    await writer.delete(first.sid);
    await reader.put(second);
    expect(await writer.get(first.sid)).toStrictEqual(second);
  });

  it('deletePending: a later listPending, on any connection, no longer lists the sid', async () => {
    const { writer, reader } = await twoConnections();
    const sid = makeSid();
    await writer.putPending({ sid, endpoint: 'http://app.test/stasis', since: 1 });
    await writer.deletePending(sid);
    expect(await reader.listPending()).toStrictEqual([]);
    // and a pending record written after it stays
    await writer.putPending({ sid, endpoint: 'http://app.test/stasis', since: 2 });
    expect((await reader.listPending()).map((p) => p.since)).toStrictEqual([2]);
  });
});

describe('Vault.purgeExpired', () => {
  it('removes only records whose exp is at or before now, and returns how many', async () => {
    const vault = await openVault();
    const now = 2_000_000_000;
    const past = record({ exp: now - 3600 });
    const older = record({ exp: now - 1 });
    const boundary = record({ exp: now });
    const future = record({ exp: now + 1 });
    const farFuture = record({ exp: now + 86_400 });
    for (const r of [future, past, boundary, farFuture, older]) await vault.put(r);

    expect(await vault.purgeExpired(now)).toBe(3);

    expect(await vault.get(past.sid)).toBeUndefined();
    expect(await vault.get(older.sid)).toBeUndefined();
    expect(await vault.get(boundary.sid)).toBeUndefined();
    expect(await vault.get(future.sid)).toStrictEqual(future);
    expect(await vault.get(farFuture.sid)).toStrictEqual(farFuture);
  });

  it('returns 0 and removes nothing when no record has expired', async () => {
    const vault = await openVault();
    const a = record({ exp: 1000 });
    const b = record({ exp: 2000 });
    await vault.put(a);
    await vault.put(b);
    expect(await vault.purgeExpired(999)).toBe(0);
    expect(await vault.get(a.sid)).toStrictEqual(a);
    expect(await vault.get(b.sid)).toStrictEqual(b);
  });

  it('returns 0 on an empty vault', async () => {
    const vault = await openVault();
    expect(await vault.purgeExpired(2_000_000_000)).toBe(0);
  });

  it('a second purge finds nothing more', async () => {
    const vault = await openVault();
    await vault.put(record({ exp: 10 }));
    await vault.put(record({ exp: 20 }));
    expect(await vault.purgeExpired(100)).toBe(2);
    expect(await vault.purgeExpired(100)).toBe(0);
  });

  it('defaults to the current time, in seconds', async () => {
    const vault = await openVault();
    const expired = record({ exp: epochSeconds(-60) });
    const live = record({ exp: epochSeconds(60) });
    await vault.put(expired);
    await vault.put(live);
    expect(await vault.purgeExpired()).toBe(1);
    expect(await vault.get(expired.sid)).toBeUndefined();
    expect(await vault.get(live.sid)).toStrictEqual(live);
  });
});
