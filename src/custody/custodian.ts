import {
  ROUTES,
  isFinal,
  encodeResumeRequest,
  isOutcome,
  readBlobHeader,
  type HibernateRequest,
  type HibernateResponse,
  type ResumeResponse,
} from '../protocol/index.js';
import type {
  CustodyApi,
  CustodyRequest,
  HibernateResult,
  LendResult,
  ResumeResult,
  SettleRequest,
  StoredBlobInfo,
} from '../protocol/custody.js';
import { KeyedQueue } from '../concurrency/keyed-queue.js';
import type { BlobStore, VaultRecord } from './vault.js';
import { BindingKey, type BindingKeyStore } from './binding-key.js';

export interface CustodianOptions {
  /** Opens the vault; called lazily and again after a failure. */
  openVault: () => Promise<BlobStore>;
  /** Called when a hibernate could not reach the server and was recorded as pending (e.g. to register a Background Sync). */
  onPending?: () => void;
  fetch?: typeof fetch;
  /** Page fallback: let the hibernate request outlive the page (64 KiB budget; the request body is tiny). */
  keepalive?: boolean;
  now?: () => number;
  /**
   * Signs the key-binding proofs (docs/protocol.md, "Key binding"). Default: a key kept in the vault (none for
   * a vault without a key store, i.e. memory custody: cookie-only binding); `false`: no proofs.
   */
  bindingKey?: BindingKey | false;
}

/**
 * Performs the protocol's requests and keeps the blobs: hibernate (POST, then a durable write) and resume
 * (read, POST, delete only on a final outcome, or keep the checkpoint an `ok` carries instead; `lend` and
 * `settle` are the same two halves for a resume the page sends on its live channel). Operations on one sid
 * run one after another, so a resume waits for a hibernate still in flight (a reload right after hiding).
 */
export class Custodian implements CustodyApi {
  readonly #queue = new KeyedQueue();
  #vault: Promise<BlobStore> | undefined;
  /** Blobs the vault refused to store (quota, broken storage): held for this worker's lifetime. */
  readonly #unstored = new Map<string, VaultRecord>();
  /** Generation each session was resumed to: a pushed blob older than that arrived late and is refused. */
  readonly #resumedTo = new Map<string, number>();
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #binding: BindingKey | undefined;

  constructor(private readonly options: CustodianOptions) {
    this.#fetch = options.fetch ?? ((...args) => fetch(...args));
    this.#now = options.now ?? Date.now;
    this.#binding = options.bindingKey === false ? undefined : (options.bindingKey ?? new BindingKey(this.#vaultKeys(), globalThis.crypto?.subtle ?? null, this.#now));
  }

  /** The vault's key store, through whatever vault connection is current. */
  #vaultKeys(): BindingKeyStore {
    const keys = async () => {
      const store = (await this.#openVault()).keys;
      if (!store) throw Object.assign(new Error('this custody keeps no binding key (memory)'), { name: 'NotSupportedError' });
      return store;
    };
    return {
      getBindingKey: async () => (await keys()).getBindingKey(),
      addBindingKey: async (key) => (await keys()).addBindingKey(key),
    };
  }

  /** A key-binding proof for `route`, or undefined (no key here, or signing failed: the cookie binds alone). */
  async #prove(endpoint: string, route: string, blob?: string, htm: 'POST' | 'GET' = 'POST'): Promise<string | undefined> {
    try {
      return await this.#binding?.prove(endpoint.replace(/\/+$/, '') + route, blob, htm);
    } catch {
      return undefined;
    }
  }

  hibernate(request: CustodyRequest): Promise<HibernateResult> {
    return this.#queue.run(request.sid, async () => {
      // Open storage first: if it is broken, do not ask the server to give up the session.
      let vault: BlobStore;
      try {
        vault = await this.#openVault();
      } catch (error) {
        return { outcome: 'unavailable', message: `Blob storage is unavailable: ${describe(error)}` };
      }
      return this.#hibernateNow(request, vault);
    });
  }

  store(request: CustodyRequest & { blob: string }): Promise<HibernateResult> {
    return this.#queue.run(request.sid, async () => {
      const vault = await this.#openVault();
      // Pushed blobs (checkpoints especially) can arrive out of order: only the newest is worth keeping.
      const pushed = readBlobHeader(request.blob);
      const kept = this.#unstored.get(request.sid) ?? (await vault.get(request.sid).catch(() => undefined));
      if (pushed && kept && (kept.gen > pushed.gen || (kept.gen === pushed.gen && kept.exp > pushed.exp))) {
        return { outcome: 'stale', gen: kept.gen, exp: kept.exp, message: 'A newer blob of this session is already kept.' };
      }
      // A push that was on its way while the page resumed: the session has moved past it.
      const resumedTo = this.#resumedTo.get(request.sid);
      if (pushed && resumedTo !== undefined && pushed.gen < resumedTo) {
        return { outcome: 'stale', message: `The session was already resumed to generation ${resumedTo}.` };
      }
      return this.#keep(request, request.blob, vault);
    });
  }

  async #hibernateNow(request: CustodyRequest, vault: BlobStore): Promise<HibernateResult> {
    const proof = await this.#prove(request.endpoint, ROUTES.hibernate);
    const body: HibernateRequest = {
      sid: request.sid,
      ...(request.keepChannels ? { keepChannels: true } : {}),
      ...(proof ? { proof } : {}),
    };
    const answer = await this.#post<HibernateResponse>(request.endpoint, ROUTES.hibernate, JSON.stringify(body), true);
    if (answer.outcome === 'unavailable') {
      // Offline or server down: the session is still live there. Remember to hand it over later.
      await vault.putPending({ sid: request.sid, endpoint: request.endpoint, since: this.#now() }).catch(() => undefined);
      this.options.onPending?.();
      return { outcome: 'unavailable', message: answer.message, pending: true };
    }
    await vault.deletePending(request.sid).catch(() => undefined);
    if (answer.outcome !== 'ok') return { outcome: answer.outcome, message: answer.message };
    return this.#keep(request, answer.blob, vault);
  }

  /** Writes a blob the server handed out for `request.sid`, durably, or to memory when storage refuses. */
  async #keep(request: CustodyRequest, blob: unknown, vault: BlobStore): Promise<HibernateResult> {
    const header = readBlobHeader(blob);
    if (typeof blob !== 'string' || !header || header.sid !== request.sid) {
      return { outcome: 'malformed', message: 'The server answered without a blob for this session.' };
    }
    const record: VaultRecord = {
      sid: request.sid,
      blob,
      gen: header.gen,
      exp: header.exp,
      storedAt: this.#now(),
      endpoint: request.endpoint,
    };
    const stored = { outcome: 'ok' as const, gen: header.gen, exp: header.exp, bytes: record.blob.length };
    try {
      await vault.put(record);
      this.#unstored.delete(request.sid);
      return { ...stored, storage: 'disk' };
    } catch (error) {
      // The server has already let the session go: keep the blob in memory rather than drop it.
      this.#unstored.set(request.sid, record);
      return { ...stored, storage: 'memory', message: `Kept in memory only: ${describe(error)}` };
    }
  }

  resume(request: CustodyRequest): Promise<ResumeResult> {
    return this.#queue.run(request.sid, async () => {
      const lent = await this.#lendNow(request, ROUTES.resume, 'POST');
      if (lent.outcome !== 'ok') return lent;
      const answer = await this.#post<ResumeResponse>(
        request.endpoint,
        ROUTES.resume,
        encodeResumeRequest({ sid: request.sid, blob: lent.blob, ...(lent.proof ? { proof: lent.proof } : {}) }),
        false,
      );
      return this.#settleNow({ ...request, gen: lent.gen, exp: lent.exp, answer });
    });
  }

  lend(request: CustodyRequest): Promise<LendResult> {
    return this.#queue.run(request.sid, () => this.#lendNow(request, ROUTES.live, 'GET'));
  }

  settle(request: SettleRequest): Promise<ResumeResult> {
    return this.#queue.run(request.sid, () => this.#settleNow(request));
  }

  /** The kept blob of `request.sid` and a proof for presenting it at `route`; expired blobs are dropped here. */
  async #lendNow(request: CustodyRequest, route: string, htm: 'POST' | 'GET'): Promise<LendResult> {
    const vault = await this.#openVault();
    // The tab is back before a pending hibernate went through: the session never left the server.
    await vault.deletePending(request.sid);
    const record = this.#unstored.get(request.sid) ?? (await vault.get(request.sid));
    if (!record) return { outcome: 'none' };
    if (record.exp * 1000 <= this.#now()) {
      await this.#forget(request.sid, vault);
      return { outcome: 'expired', message: 'The stored session expired before it was resumed.' };
    }
    const proof = await this.#prove(request.endpoint, route, record.blob, htm);
    return { outcome: 'ok', blob: record.blob, gen: record.gen, exp: record.exp, ...(proof ? { proof } : {}) };
  }

  /**
   * The server's answer for the blob lent (`gen`, `exp`): deleted on a final outcome, replaced by an `ok`
   * answer's checkpoint. A blob kept meanwhile that is not the one lent (a newer push) is left alone.
   */
  async #settleNow({ answer, ...request }: SettleRequest): Promise<ResumeResult> {
    const vault = await this.#openVault();
    // The page passes on what its socket said: only a Stasis outcome counts (an unknown one never deletes).
    if (!isOutcome(answer?.outcome)) return { outcome: 'unavailable', message: 'The server answered without a Stasis outcome.' };
    if (answer.outcome === 'ok' && (answer.sid !== request.sid || !Number.isSafeInteger(answer.gen))) {
      return { outcome: 'unavailable', message: 'The server answered ok without the resumed session.' };
    }
    const kept = this.#unstored.get(request.sid) ?? (await vault.get(request.sid));
    const lentStillKept = kept !== undefined && kept.gen === request.gen && kept.exp === request.exp;
    if (answer.outcome === 'ok' && typeof answer.checkpoint === 'string' && (lentStillKept || !kept)) {
      // The presented blob is used up; the server's checkpoint of the restored session takes its place (unless
      // a newer blob came meanwhile: a hibernate or push that overtook this settle).
      const stored = await this.#keep(request, answer.checkpoint, vault);
      if (stored.outcome !== 'ok' && lentStillKept) await this.#forget(request.sid, vault);
    } else if (isFinal(answer.outcome) && lentStillKept) await this.#forget(request.sid, vault);
    if (answer.outcome === 'ok') {
      this.#resumedTo.delete(request.sid); // most recent last, so the oldest entry goes first
      this.#resumedTo.set(request.sid, answer.gen);
      if (this.#resumedTo.size > 1000) this.#resumedTo.delete(this.#resumedTo.keys().next().value!);
      return { outcome: 'ok', gen: answer.gen };
    }
    const wait = 'retryAfterSeconds' in answer ? answer.retryAfterSeconds : undefined;
    return {
      outcome: answer.outcome,
      message: answer.message,
      ...(typeof wait === 'number' ? { retryAfterSeconds: wait } : {}),
      ...('quiet' in answer && answer.quiet === true ? { quiet: true as const } : {}),
    };
  }

  async #forget(sid: string, vault: BlobStore): Promise<void> {
    this.#unstored.delete(sid);
    await vault.delete(sid);
  }

  peek(sid: string): Promise<StoredBlobInfo | undefined> {
    return this.#queue.run(sid, async () => {
      const record = this.#unstored.get(sid) ?? (await (await this.#openVault()).get(sid));
      return record && { sid, gen: record.gen, exp: record.exp, storedAt: record.storedAt, bytes: record.blob.length };
    });
  }

  /** Unclaimed-looking blobs of `endpoint`, newest first (the page decides which tab is gone, by Web Locks). */
  async orphans(endpoint: string): Promise<StoredBlobInfo[]> {
    const now = this.#now() / 1000;
    const records = [...this.#unstored.values(), ...(await (await this.#openVault()).list())];
    return records
      .filter((r) => r.endpoint === endpoint && r.exp > now)
      .sort((a, b) => b.storedAt - a.storedAt)
      .map((r) => ({ sid: r.sid, gen: r.gen, exp: r.exp, storedAt: r.storedAt, bytes: r.blob.length }));
  }

  /**
   * Retries hibernates that could not reach the server. Each one re-checks, in its sid's turn, that it is
   * still pending: a tab that came back meanwhile has cancelled it by resuming.
   */
  async flushPending(): Promise<number> {
    const vault = await this.#openVault();
    let stored = 0;
    for (const pending of await vault.listPending()) {
      const result = await this.#queue.run(pending.sid, async () => {
        if (!(await vault.listPending()).some((p: { sid: string }) => p.sid === pending.sid)) return undefined;
        return this.#hibernateNow(pending, vault);
      });
      if (result?.outcome === 'ok') stored++;
    }
    return stored;
  }

  async purgeExpired(): Promise<number> {
    return (await this.#openVault()).purgeExpired(this.#now() / 1000);
  }

  #openVault(): Promise<BlobStore> {
    const opening = (this.#vault ??= this.options.openVault().then(
      (vault) => {
        // A connection closed by the browser (or by a newer version elsewhere) is reopened on next use.
        vault.onClose(() => {
          if (this.#vault === opening) this.#vault = undefined;
        });
        // Make (or load) the binding key now, off the hibernate's path: a page fallback hiding may freeze soon.
        if (vault.keys) void this.#binding?.warm();
        return vault;
      },
      (error: unknown) => {
        this.#vault = undefined;
        throw error;
      },
    ));
    return opening;
  }

  /**
   * Only a well-formed Stasis answer counts; anything else (network error, a proxy's HTML page, a 404 from a
   * misrouted path) is `unavailable`, which keeps the blob: an unknown answer must never delete user data.
   */
  async #post<T extends { outcome: string }>(
    endpoint: string,
    route: string,
    body: string,
    keepalive: boolean,
  ): Promise<T | { outcome: 'unavailable'; message: string }> {
    let response: Response;
    try {
      response = await this.#fetch(endpoint.replace(/\/+$/, '') + route, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
        credentials: 'same-origin',
        cache: 'no-store',
        keepalive: keepalive && this.options.keepalive === true,
      });
    } catch {
      return { outcome: 'unavailable', message: 'The server could not be reached (offline or network error).' };
    }
    try {
      const json = (await response.json()) as T;
      if (isOutcome(json?.outcome)) return json;
    } catch {
      // fall through
    }
    return { outcome: 'unavailable', message: `The server answered HTTP ${response.status} without a Stasis outcome.` };
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
