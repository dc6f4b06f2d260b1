import { openDB, type DBSchema, type IDBPDatabase } from 'idb';

/** One stored blob. `gen` and `exp` are the blob header's readable copies, for housekeeping without a key. */
export interface VaultRecord {
  sid: string;
  blob: string;
  gen: number;
  /** Seconds since the epoch. */
  exp: number;
  /** Milliseconds since the epoch. */
  storedAt: number;
  endpoint: string;
}

interface VaultSchema extends DBSchema {
  blobs: { key: string; value: VaultRecord; indexes: { exp: number } };
}

export const VAULT_DB = 'stasis-vault';
const VERSION = 1;

/** Blob storage in IndexedDB, keyed by sid. The same code runs in the service worker and, as a fallback, in the page. */
export class Vault {
  readonly #closeListeners = new Set<() => void>();
  #closed = false;

  private constructor(private readonly db: IDBPDatabase<VaultSchema>) {}

  static async open(name = VAULT_DB): Promise<Vault> {
    let vault: Vault | undefined;
    const db = await openDB<VaultSchema>(name, VERSION, {
      upgrade(db) {
        const store = db.createObjectStore('blobs', { keyPath: 'sid' });
        store.createIndex('exp', 'exp');
      },
      // Another context wants a newer version: step aside instead of blocking it.
      blocking: () => vault?.close(),
      // The browser closed the connection (storage cleared, disk error).
      terminated: () => vault?.markClosed(),
    });
    vault = new Vault(db);
    return vault;
  }

  /** Called once when this connection is closed, by us or by the browser; open a new Vault then. */
  onClose(listener: () => void): void {
    if (this.#closed) listener();
    else this.#closeListeners.add(listener);
  }

  /** Writes with durability 'strict': the blob is on disk when this resolves (Chrome's default is 'relaxed'). */
  async put(record: VaultRecord): Promise<void> {
    const tx = this.db.transaction('blobs', 'readwrite', { durability: 'strict' });
    await Promise.all([tx.store.put(record), tx.done]);
  }

  get(sid: string): Promise<VaultRecord | undefined> {
    return this.db.get('blobs', sid);
  }

  async delete(sid: string): Promise<void> {
    const tx = this.db.transaction('blobs', 'readwrite', { durability: 'strict' });
    await Promise.all([tx.store.delete(sid), tx.done]);
  }

  /** Deletes blobs whose expiry has passed; returns how many. */
  async purgeExpired(nowSeconds = Date.now() / 1000): Promise<number> {
    const tx = this.db.transaction('blobs', 'readwrite');
    let count = 0;
    for await (const cursor of tx.store.index('exp').iterate(IDBKeyRange.upperBound(nowSeconds))) {
      await cursor.delete();
      count++;
    }
    await tx.done;
    return count;
  }

  close(): void {
    this.db.close();
    this.markClosed();
  }

  /** @internal */
  markClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const listener of this.#closeListeners) listener();
    this.#closeListeners.clear();
  }
}
