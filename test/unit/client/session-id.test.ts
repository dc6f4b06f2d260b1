import { describe, it, expect, afterEach, vi } from 'vitest';
import { SessionIdStore, newSessionId } from '../../../src/session-id.js';
import { SID_PATTERN } from '../../../src/protocol/index.js';

/** Just enough of the Storage interface for SessionIdStore (getItem/setItem). */
class MemoryStorage {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, String(value));
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}

/** Storage that refuses everything, as in some private modes or with storage blocked. */
const blockedStorage = {
  getItem(): string | null {
    throw new DOMException('The operation is insecure.', 'SecurityError');
  },
  setItem(): void {
    throw new DOMException('The operation is insecure.', 'SecurityError');
  },
};

function installStorage(storage: unknown): void {
  vi.stubGlobal('sessionStorage', storage);
}

const KEY = 'stasis:sid:http://app.test/stasis';
const BASE64URL_22 = /^[A-Za-z0-9_-]{22}$/;

/** The stored id, else a new one (stored too). */
function current(store: SessionIdStore): string {
  return store.stored() ?? store.renew();
}

function decode(sid: string): Uint8Array {
  return new Uint8Array(Buffer.from(sid, 'base64url'));
}

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe('newSessionId', () => {
  it('is 22 base64url characters, with no padding, accepted by the protocol', () => {
    for (let i = 0; i < 200; i++) {
      const sid = newSessionId();
      expect(sid).toMatch(BASE64URL_22);
      expect(sid).toMatch(SID_PATTERN);
    }
  });

  /** Replaces crypto.getRandomValues for one test; `fill` writes the bytes it wants into the array. */
  function stubRandom(fill: (bytes: Uint8Array) => void) {
    const drawn: Uint8Array[] = [];
    const spy = vi.spyOn(crypto, 'getRandomValues').mockImplementation(((array: Uint8Array) => {
      fill(array);
      drawn.push(array.slice());
      return array;
    }) as typeof crypto.getRandomValues);
    return { drawn, spy };
  }

  it('draws exactly 16 random bytes (128 bits) and encodes all of them', () => {
    const { drawn } = stubRandom((bytes) => {
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 37 + 11) & 0xff;
    });
    const sid = newSessionId();
    expect(drawn).toHaveLength(1);
    expect(drawn[0]).toHaveLength(16);
    expect(decode(sid)).toEqual(drawn[0]);
  });

  it('different random bytes give different ids', () => {
    stubRandom((bytes) => bytes.fill(1));
    const ones = newSessionId();
    vi.restoreAllMocks();
    stubRandom((bytes) => {
      bytes.fill(1);
      bytes[15] = 2; // only the last byte differs: it must still show in the id
    });
    expect(newSessionId()).not.toBe(ones);
  });

  it('maps the bytes that base64 writes as + and / to - and _', () => {
    stubRandom((bytes) => bytes.fill(0xff));
    const slashes = newSessionId();
    expect(slashes).toBe('_____________________w');
    vi.restoreAllMocks();
    stubRandom((bytes) => bytes.fill(0xfb)); // 111110 111111 ...: base64 '+' then '/'
    const plusy = newSessionId();
    expect(plusy).not.toMatch(/[+/=]/);
    expect(plusy).toContain('-');
    expect(plusy).toContain('_');
    expect(decode(plusy)).toEqual(new Uint8Array(16).fill(0xfb));
  });

  it('does not repeat over many draws', () => {
    const ids = new Set(Array.from({ length: 2000 }, () => newSessionId()));
    expect(ids.size).toBe(2000);
  });
});

describe('SessionIdStore with sessionStorage', () => {
  it('an id made on first use is stored under its key and returned afterwards', () => {
    const storage = new MemoryStorage();
    installStorage(storage);
    const store = new SessionIdStore(KEY);
    const sid = current(store);
    expect(sid).toMatch(BASE64URL_22);
    expect(storage.getItem(KEY)).toBe(sid);
    expect(current(store)).toBe(sid);
  });

  it('a new store on the same storage (a reload) finds the same id', () => {
    const storage = new MemoryStorage();
    installStorage(storage);
    const sid = current(new SessionIdStore(KEY));
    expect(current(new SessionIdStore(KEY))).toBe(sid);
  });

  it('a new tab (empty storage) gets a different id', () => {
    installStorage(new MemoryStorage());
    const first = current(new SessionIdStore(KEY));
    installStorage(new MemoryStorage());
    const second = current(new SessionIdStore(KEY));
    expect(second).not.toBe(first);
  });

  it('stores with different keys keep different ids', () => {
    const storage = new MemoryStorage();
    installStorage(storage);
    const a = current(new SessionIdStore(KEY));
    const b = current(new SessionIdStore('stasis:sid:http://other.test/stasis'));
    expect(a).not.toBe(b);
    expect(storage.items.size).toBe(2);
  });

  it('renew() replaces the id, in storage too', () => {
    const storage = new MemoryStorage();
    installStorage(storage);
    const store = new SessionIdStore(KEY);
    const before = current(store);
    const renewed = store.renew();
    expect(renewed).not.toBe(before);
    expect(renewed).toMatch(BASE64URL_22);
    expect(storage.getItem(KEY)).toBe(renewed);
    expect(current(store)).toBe(renewed);
    expect(current(new SessionIdStore(KEY))).toBe(renewed);
  });

  it.each(['', 'short', 'has spaces in it and is long enough', 'x'.repeat(65), 'a+b/c=d'.padEnd(30, 'e')])(
    'replaces a stored value that is not a valid id (%j)',
    (bad) => {
      const storage = new MemoryStorage();
      storage.setItem(KEY, bad);
      installStorage(storage);
      const sid = current(new SessionIdStore(KEY));
      expect(sid).not.toBe(bad);
      expect(sid).toMatch(BASE64URL_22);
      expect(storage.getItem(KEY)).toBe(sid);
    },
  );

  it('keeps a valid stored id that it did not create (up to 64 characters)', () => {
    const storage = new MemoryStorage();
    const existing = 'A'.repeat(64);
    storage.setItem(KEY, existing);
    installStorage(storage);
    expect(current(new SessionIdStore(KEY))).toBe(existing);
  });
});

describe('SessionIdStore without usable storage', () => {
  it('falls back to memory when sessionStorage throws', () => {
    installStorage(blockedStorage);
    const store = new SessionIdStore(KEY);
    const sid = current(store);
    expect(sid).toMatch(BASE64URL_22);
    expect(current(store)).toBe(sid);
    const renewed = store.renew();
    expect(renewed).not.toBe(sid);
    expect(current(store)).toBe(renewed);
  });

  it('falls back to memory when sessionStorage is missing (e.g. in a worker)', () => {
    installStorage(undefined);
    const store = new SessionIdStore(KEY);
    const sid = current(store);
    expect(sid).toMatch(BASE64URL_22);
    expect(current(store)).toBe(sid);
  });

  it('memory is per store: two stores without storage do not share an id', () => {
    installStorage(blockedStorage);
    expect(current(new SessionIdStore(KEY))).not.toBe(current(new SessionIdStore(KEY)));
  });

  it('falls back to memory when only writes fail (e.g. quota exceeded)', () => {
    const storage = new MemoryStorage();
    vi.spyOn(storage, 'setItem').mockImplementation(() => {
      throw new DOMException('full', 'QuotaExceededError');
    });
    installStorage(storage);
    const store = new SessionIdStore(KEY);
    const sid = current(store);
    expect(current(store)).toBe(sid);
    expect(storage.items.size).toBe(0);
  });
});
