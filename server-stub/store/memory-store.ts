import { entryBytes, type SessionStore, type StoredBlob } from './session-store.js';

export interface MemoryStoreOptions {
  /** Most entries kept; the least recently used goes first. Default 10 000. */
  maxEntries?: number;
  /** Most bytes kept (blob lengths). Default 64 MiB. */
  maxBytes?: number;
  now?: () => number;
}

export const MEMORY_STORE_DEFAULTS = { maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 } as const;

/**
 * One process's store: a least-recently-used map bounded by entries and bytes. Fast and free, but it dies
 * with the process and other instances cannot see it; put Redis after it for a fleet.
 */
export class MemoryStore implements SessionStore {
  readonly name = 'memory';
  readonly local = true;
  // A Map iterates in insertion order: re-inserting on use makes the first key the least recently used.
  readonly #entries = new Map<string, StoredBlob>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #now: () => number;
  #bytes = 0;
  /** Entries pushed out by the bounds (for metrics). */
  evicted = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.#maxEntries = options.maxEntries ?? MEMORY_STORE_DEFAULTS.maxEntries;
    this.#maxBytes = options.maxBytes ?? MEMORY_STORE_DEFAULTS.maxBytes;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  async put(sid: string, entry: StoredBlob): Promise<void> {
    this.#drop(sid);
    const bytes = entryBytes(sid, entry);
    if (bytes > this.#maxBytes || this.#maxEntries < 1) {
      this.evicted++;
      return; // could never fit: keeping it would evict everything else
    }
    this.#entries.set(sid, { blob: entry.blob, gen: entry.gen, exp: entry.exp });
    this.#bytes += bytes;
    for (const [oldest] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break;
      this.#drop(oldest);
      this.evicted++;
    }
  }

  async take(sid: string): Promise<StoredBlob | undefined> {
    const entry = this.#live(sid);
    if (entry) this.#drop(sid);
    return entry;
  }

  async peek(sid: string): Promise<StoredBlob | undefined> {
    const entry = this.#live(sid);
    if (entry) {
      this.#entries.delete(sid); // mark as recently used
      this.#entries.set(sid, entry);
    }
    return entry;
  }

  holds(sid: string): boolean {
    return this.#entries.has(sid);
  }

  async delete(sid: string): Promise<void> {
    this.#drop(sid);
  }

  #live(sid: string): StoredBlob | undefined {
    const entry = this.#entries.get(sid);
    if (entry && entry.exp * 1000 <= this.#now()) {
      this.#drop(sid);
      return undefined;
    }
    return entry;
  }

  #drop(sid: string): void {
    const entry = this.#entries.get(sid);
    if (!entry) return;
    this.#entries.delete(sid);
    this.#bytes -= entryBytes(sid, entry);
  }
}
