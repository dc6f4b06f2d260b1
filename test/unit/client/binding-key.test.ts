/**
 * The custodian's binding key (src/custody/binding-key.ts): made once, stored before the first blob, reused,
 * never exportable; no proof (cookie-only binding) where keys cannot be kept.
 */
import 'fake-indexeddb/auto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { BindingKey, type BindingKeyStore, type StoredBindingKey } from '../../../src/custody/binding-key.js';
import { Custodian } from '../../../src/custody/custodian.js';
import { MemoryStore, Vault } from '../../../src/custody/vault.js';
import { verifyProof } from '../../../server-stub/transport/proof.js';
import { epochSeconds, makeBlob, makeSid, uniqueDbName } from './blob.js';

const ENDPOINT = 'http://app.test/stasis';
const server = setupServer();
const opened: Vault[] = [];
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  server.resetHandlers();
  for (const vault of opened.splice(0)) vault.close();
});
afterAll(() => server.close());

async function vaultAt(name: string): Promise<Vault> {
  const vault = await Vault.open(name);
  opened.push(vault);
  return vault;
}

/** A key store in memory, counting writes (the injected interface, independent of IndexedDB's cloning). */
function memoryKeys(): BindingKeyStore & { writes: number; kept?: StoredBindingKey } {
  const store = {
    writes: 0,
    kept: undefined as StoredBindingKey | undefined,
    getBindingKey: async () => store.kept,
    addBindingKey: async (key: StoredBindingKey) => {
      store.writes++;
      return (store.kept ??= key);
    },
  };
  return store;
}

const now = () => Math.floor(Date.now() / 1000);

describe('BindingKey', () => {
  it('makes one non-extractable P-256 key, stores it once and signs proofs the server verifies', async () => {
    const keys = memoryKeys();
    const binding = new BindingKey(keys);
    const blob = makeBlob({ sid: makeSid(), gen: 1, exp: epochSeconds(3600) });
    const first = await binding.prove(`${ENDPOINT}/resume`, blob);
    const second = await binding.prove(`${ENDPOINT}/hibernate`);
    expect(keys.writes).toBe(1);
    expect(keys.kept!.privateKey.extractable).toBe(false);
    expect(keys.kept!.privateKey.algorithm).toMatchObject({ name: 'ECDSA', namedCurve: 'P-256' });
    await expect(crypto.subtle.exportKey('jwk', keys.kept!.privateKey)).rejects.toThrow();
    const a = verifyProof(first, { htu: '/stasis/resume', nowSeconds: now(), blob });
    const b = verifyProof(second, { htu: '/stasis/hibernate', nowSeconds: now() });
    expect(a).toHaveProperty('kbt');
    expect(b).toStrictEqual(a); // the same key
  });

  it('a second context finds the stored key instead of making another', async () => {
    const keys = memoryKeys();
    const one = verifyProof(await new BindingKey(keys).prove(`${ENDPOINT}/hibernate`), { htu: '/stasis/hibernate', nowSeconds: now() });
    const two = verifyProof(await new BindingKey(keys).prove(`${ENDPOINT}/hibernate`), { htu: '/stasis/hibernate', nowSeconds: now() });
    expect(two).toStrictEqual(one);
    expect(keys.writes).toBe(1);
  });

  it('no proof where WebCrypto is missing, or keys cannot be stored (DataCloneError: tried once)', async () => {
    expect(await new BindingKey(memoryKeys(), null).prove(`${ENDPOINT}/hibernate`)).toBeUndefined();
    let attempts = 0;
    const refusing: BindingKeyStore = {
      getBindingKey: async () => undefined,
      addBindingKey: async () => {
        attempts++;
        throw Object.assign(new Error('could not be cloned'), { name: 'DataCloneError' });
      },
    };
    const binding = new BindingKey(refusing);
    expect(await binding.prove(`${ENDPOINT}/hibernate`)).toBeUndefined();
    expect(await binding.prove(`${ENDPOINT}/hibernate`)).toBeUndefined();
    expect(attempts).toBe(1);
    expect(binding.unavailableReason).toContain('DataCloneError');
  });
});

describe('the custodian and the vault key store (fake-indexeddb)', () => {
  it('stores the key (CryptoKey objects) in the vault before the hibernate is sent, and reuses it after a restart', async () => {
    const name = uniqueDbName('binding');
    const inspect = await vaultAt(name);
    const sid = makeSid();
    const proofs: unknown[] = [];
    let keyAtRequest: StoredBindingKey | undefined;
    server.use(
      http.post(`${ENDPOINT}/hibernate`, async ({ request }) => {
        keyAtRequest = await inspect.keys.getBindingKey();
        proofs.push(((await request.json()) as { proof?: unknown }).proof);
        return HttpResponse.json({ outcome: 'ok', sid, gen: 1, exp: epochSeconds(3600), blob: makeBlob({ sid, gen: 1, exp: epochSeconds(3600) }) });
      }),
    );
    const custodian = new Custodian({ openVault: () => vaultAt(name) });
    expect((await custodian.hibernate({ endpoint: ENDPOINT, sid })).outcome).toBe('ok');
    // fake-indexeddb (Node's structured clone) keeps CryptoKey objects: the stored key signs after a reload.
    expect(keyAtRequest?.privateKey).toBeInstanceOf(CryptoKey);
    const restarted = new Custodian({ openVault: () => vaultAt(name) });
    expect((await restarted.hibernate({ endpoint: ENDPOINT, sid })).outcome).toBe('ok');
    const [a, b] = proofs.map((proof) => verifyProof(proof, { htu: '/stasis/hibernate', nowSeconds: now() }));
    expect(a).toHaveProperty('kbt');
    expect(b).toStrictEqual(a);
  });

  it('memory custody sends no proof (cookie-only binding)', async () => {
    const sid = makeSid();
    let body: Record<string, unknown> = {};
    server.use(
      http.post(`${ENDPOINT}/hibernate`, async ({ request }) => {
        body = (await request.json()) as Record<string, unknown>;
        return HttpResponse.json({ outcome: 'ok', sid, gen: 1, exp: epochSeconds(3600), blob: makeBlob({ sid, gen: 1, exp: epochSeconds(3600) }) });
      }),
    );
    const memory = new MemoryStore();
    await new Custodian({ openVault: async () => memory }).hibernate({ endpoint: ENDPOINT, sid });
    expect(body).toStrictEqual({ sid });
  });

  it('a version 2 vault is upgraded in place: its blobs stay, the key store is added', async () => {
    const name = uniqueDbName('upgrade');
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.open(name, 2);
      request.onupgradeneeded = () => {
        request.result.createObjectStore('blobs', { keyPath: 'sid' }).createIndex('exp', 'exp');
        request.result.createObjectStore('pending', { keyPath: 'sid' });
      };
      request.onsuccess = () => {
        const tx = request.result.transaction('blobs', 'readwrite');
        tx.objectStore('blobs').put({ sid: 'old-one-xxxxxxxxxxxxxxx', blob: 'b', gen: 1, exp: epochSeconds(60), storedAt: 1, endpoint: ENDPOINT });
        tx.oncomplete = () => {
          request.result.close();
          resolve();
        };
      };
      request.onerror = () => reject(request.error ?? new Error('open failed'));
    });
    const vault = await vaultAt(name);
    expect((await vault.get('old-one-xxxxxxxxxxxxxxx'))?.blob).toBe('b');
    expect(await vault.keys.getBindingKey()).toBeUndefined();
  });
});
