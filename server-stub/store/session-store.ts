/**
 * Server-side custody for sessions whose channel dropped without a hibernate (abrupt disconnect): after the
 * retention window the session is sealed into the same encrypted blob a page would get, and kept here.
 * A store never sees plaintext; resuming from it goes through the same checks as a client's blob
 * (binding, expiry, schema, one-time ledger), so keeping a copy in two stores can never resume twice.
 *
 * Implement this to plug in another backend, and run `storeContract` (./contract.ts) against it.
 */
export interface StoredBlob {
  /** The sealed session (JWE compact). */
  blob: string;
  /** Its generation and expiry (seconds since the epoch), copied from the blob header. */
  gen: number;
  exp: number;
}

export interface SessionStore {
  /** Short name for logs and metrics (`memory`, `redis`). */
  readonly name: string;
  /** True when the store lives in this process's memory and dies with it (a drain skips such stores). */
  readonly local?: boolean;
  /** Entries pushed out by the store's own bounds so far, if it has any (exported as a metric). */
  readonly evicted?: number;
  /** Keeps the blob for `sid` until its `exp`, replacing whatever was kept for `sid`. */
  put(sid: string, entry: StoredBlob): Promise<void>;
  /** Removes and returns the blob for `sid`; atomic, so two concurrent callers never both get it. */
  take(sid: string): Promise<StoredBlob | undefined>;
  /** Reads without removing (health reports, tests). */
  peek(sid: string): Promise<StoredBlob | undefined>;
  /**
   * Optional: false when the store certainly keeps nothing for `sid`, known without I/O (a store in this
   * process's memory). Every resume asks the stores for a newer copy; this spares it the asynchronous round.
   */
  holds?(sid: string): boolean;
  delete(sid: string): Promise<void>;
  /** Releases connections; the store is not used afterwards. */
  close?(): Promise<void>;
}

/** Size of an entry as stores count it for their byte bounds. */
export function entryBytes(sid: string, entry: StoredBlob): number {
  return sid.length + entry.blob.length + 16;
}
