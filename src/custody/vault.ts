import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { BINDING_KEY_ID, type BindingKeyStore, type StoredBindingKey } from './binding-key.js';

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

/** A hibernate that could not reach the server (offline): retried on `sync`, `online` or the next visit. */
export interface PendingHibernate {
  sid: string;
  endpoint: string;
  since: number;
}

/** What the custodian needs from storage: IndexedDB in practice, memory as the last fallback. */
export interface BlobStore {
  put(record: VaultRecord): Promise<void>;
  get(sid: string): Promise<VaultRecord | undefined>;
  delete(sid: string): Promise<void>;
  /** Every record (any endpoint), newest first. */
  list(): Promise<VaultRecord[]>;
  purgeExpired(nowSeconds?: number): Promise<number>;
  putPending(pending: PendingHibernate): Promise<void>;
  deletePending(sid: string): Promise<void>;
  listPending(): Promise<PendingHibernate[]>;
  /** Called once when the store can no longer be used (connection closed); open a new one then. */
  onClose(listener: () => void): void;
  close(): void;
  /** The browser's binding key (IndexedDB only: memory custody binds by the cookie alone). */
  readonly keys?: BindingKeyStore;
}

interface VaultSchema extends DBSchema {
  blobs: { key: string; value: VaultRecord; indexes: { exp: number } };
  pending: { key: string; value: PendingHibernate };
  keys: { key: string; value: StoredBindingKey };
}

export const VAULT_DB = 'stasis-vault';
/** 3: the `keys` store (the binding key). A version 2 vault is upgraded in place; its blobs stay. */
const VERSION = 3;

/** Blob storage in IndexedDB, keyed by sid. The same code runs in the service worker and, as a fallback, in the page. */
export class Vault implements BlobStore {
  readonly #closeListeners = new Set<() => void>();
  #closed = false;

  private constructor(private readonly db: IDBPDatabase<VaultSchema>) {}

  readonly keys: BindingKeyStore = {
    getBindingKey: () => this.db.get('keys', BINDING_KEY_ID),
    addBindingKey: async (key) => {
      // Strict, and one transaction: on disk before any blob bound to it, and one key even if the worker and a
      // page fallback make theirs at once (the second finds the first's).
      const tx = this.db.transaction('keys', 'readwrite', { durability: 'strict' });
      const kept = await tx.store.get(key.id);
      if (!kept) await tx.store.add(key);
      await tx.done;
      return kept ?? key;
    },
  };

  static async open(name = VAULT_DB): Promise<Vault> {
    let vault: Vault | undefined;
    const db = await openDB<VaultSchema>(name, VERSION, {
      upgrade(db, oldVersion) {
        if (oldVersion < 1) db.createObjectStore('blobs', { keyPath: 'sid' }).createIndex('exp', 'exp');
        if (oldVersion < 2) db.createObjectStore('pending', { keyPath: 'sid' });
        if (oldVersion < 3) db.createObjectStore('keys', { keyPath: 'id' });
      },
      // Another context wants a newer version: step aside instead of blocking it.
      blocking: () => vault?.close(),
      // The browser closed the connection (storage cleared, disk error).
      terminated: () => vault?.markClosed(),
    });
    vault = new Vault(db);
    return vault;
  }

  onClose(listener: () => void): void {
    if (this.#closed) listener();
    else this.#closeListeners.add(listener);
  }

  /** Writes with durability 'strict': the blob is on disk when this resolves (Chrome's default is 'relaxed'). */
  async put(record: VaultRecord): Promise<void> {
    const tx = this.db.transaction(['blobs', 'pending'], 'readwrite', { durability: 'strict' });
    await Promise.all([tx.objectStore('blobs').put(record), tx.objectStore('pending').delete(record.sid), tx.done]);
  }

  get(sid: string): Promise<VaultRecord | undefined> {
    return this.db.get('blobs', sid);
  }

  /**
   * Deletes with durability 'strict', and resolves once the delete is under way, not once it is on disk:
   * IndexedDB starts transactions over the same store in the order they were created, on every connection, so
   * every later read or write of the blobs sees the delete (a blob stored later for the sid is never undone by
   * it). The resume that ended in a final answer passes the answer on meanwhile (3–9 ms sooner; see "Where the
   * milliseconds go" in docs/performance.md). Should the commit fail, the used-up blob stays: the next
   * hibernate of the sid overwrites it, and a resume with it gets a final answer and deletes it then.
   */
  async delete(sid: string): Promise<void> {
    const tx = this.db.transaction('blobs', 'readwrite', { durability: 'strict' });
    void Promise.all([tx.store.delete(sid), tx.done]).catch(() => undefined);
  }

  async list(): Promise<VaultRecord[]> {
    return (await this.db.getAll('blobs')).sort((a, b) => b.storedAt - a.storedAt);
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

  async putPending(pending: PendingHibernate): Promise<void> {
    await this.db.put('pending', pending);
  }

  /**
   * Like `delete`, resolves once under way: a later `listPending` (the retry) is ordered after it, and so is the
   * `put` of the sid, which clears the pending record in its own transaction anyway. A resume reads the blob
   * meanwhile, in parallel (another store).
   */
  async deletePending(sid: string): Promise<void> {
    const tx = this.db.transaction('pending', 'readwrite');
    void Promise.all([tx.store.delete(sid), tx.done]).catch(() => undefined);
  }

  listPending(): Promise<PendingHibernate[]> {
    return this.db.getAll('pending');
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

/**
 * The last fallback when IndexedDB is unusable (blocked, private mode, broken): blobs live as long as the
 * page. A reload loses them, so Stasis.status reports custody `memory` and the app can say so.
 */
export class MemoryStore implements BlobStore {
  readonly #blobs = new Map<string, VaultRecord>();
  readonly #pending = new Map<string, PendingHibernate>();

  async put(record: VaultRecord): Promise<void> {
    this.#blobs.set(record.sid, record);
    this.#pending.delete(record.sid);
  }
  async get(sid: string): Promise<VaultRecord | undefined> {
    return this.#blobs.get(sid);
  }
  async delete(sid: string): Promise<void> {
    this.#blobs.delete(sid);
  }
  async list(): Promise<VaultRecord[]> {
    return [...this.#blobs.values()].sort((a, b) => b.storedAt - a.storedAt);
  }
  async purgeExpired(nowSeconds = Date.now() / 1000): Promise<number> {
    let count = 0;
    for (const [sid, record] of this.#blobs) if (record.exp <= nowSeconds && this.#blobs.delete(sid)) count++;
    return count;
  }
  async putPending(pending: PendingHibernate): Promise<void> {
    this.#pending.set(pending.sid, pending);
  }
  async deletePending(sid: string): Promise<void> {
    this.#pending.delete(sid);
  }
  async listPending(): Promise<PendingHibernate[]> {
    return [...this.#pending.values()];
  }
  onClose(): void {}
  close(): void {}
}
