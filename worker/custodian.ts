import {
  ROUTES,
  isFinal,
  isOutcome,
  readBlobHeader,
  type HibernateResponse,
  type ResumeResponse,
} from '../src/protocol/index.js';
import type {
  CustodyApi,
  CustodyRequest,
  HibernateResult,
  ResumeResult,
  StoredBlobInfo,
} from '../src/protocol/custody.js';
import type { Vault } from './vault.js';

export interface CustodianOptions {
  /** Opens the vault; called lazily and again after a failure. */
  openVault: () => Promise<Vault>;
  fetch?: typeof fetch;
  /** Page fallback: let the hibernate request outlive the page (64 KiB budget; the request body is tiny). */
  keepalive?: boolean;
  now?: () => number;
}

/**
 * Performs the protocol's requests and keeps the blobs: hibernate (POST, then a durable write) and resume
 * (read, POST, delete only on a final outcome). Operations on one sid run one after another, so a
 * resume waits for a hibernate still in flight (a reload right after hiding).
 */
export class Custodian implements CustodyApi {
  readonly #chains = new Map<string, Promise<unknown>>();
  #vault: Promise<Vault> | undefined;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;

  constructor(private readonly options: CustodianOptions) {
    this.#fetch = options.fetch ?? ((...args) => fetch(...args));
    this.#now = options.now ?? Date.now;
  }

  hibernate(request: CustodyRequest): Promise<HibernateResult> {
    return this.#serialize(request.sid, async () => {
      const answer = await this.#post<HibernateResponse>(request.endpoint, ROUTES.hibernate, { sid: request.sid }, true);
      if (answer.outcome !== 'ok') return { outcome: answer.outcome, message: answer.message };
      const header = readBlobHeader(answer.blob);
      if (!header || header.sid !== request.sid) {
        return { outcome: 'malformed', message: 'The server answered with a blob for another session.' };
      }
      const vault = await this.#openVault();
      await vault.put({
        sid: request.sid,
        blob: answer.blob,
        gen: header.gen,
        exp: header.exp,
        storedAt: this.#now(),
        endpoint: request.endpoint,
      });
      return { outcome: 'ok', gen: header.gen, exp: header.exp, bytes: answer.blob.length };
    });
  }

  resume(request: CustodyRequest): Promise<ResumeResult> {
    return this.#serialize(request.sid, async () => {
      const vault = await this.#openVault();
      const record = await vault.get(request.sid);
      if (!record) return { outcome: 'none' };
      if (record.exp * 1000 <= this.#now()) {
        await vault.delete(request.sid);
        return { outcome: 'expired', message: 'The stored session expired before it was resumed.' };
      }
      const answer = await this.#post<ResumeResponse>(
        request.endpoint,
        ROUTES.resume,
        { sid: request.sid, blob: record.blob },
        false,
      );
      if (isFinal(answer.outcome)) await vault.delete(request.sid);
      return answer.outcome === 'ok' ? { outcome: 'ok', gen: answer.gen } : { outcome: answer.outcome, message: answer.message };
    });
  }

  async peek(sid: string): Promise<StoredBlobInfo | undefined> {
    const record = await (await this.#openVault()).get(sid);
    return record && { sid, gen: record.gen, exp: record.exp, storedAt: record.storedAt, bytes: record.blob.length };
  }

  async purgeExpired(): Promise<number> {
    return (await this.#openVault()).purgeExpired(this.#now() / 1000);
  }

  #serialize<T>(sid: string, operation: () => Promise<T>): Promise<T> {
    const previous = this.#chains.get(sid) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(operation);
    const tail = next.catch(() => undefined);
    this.#chains.set(sid, tail);
    void tail.then(() => {
      if (this.#chains.get(sid) === tail) this.#chains.delete(sid);
    });
    return next;
  }

  #openVault(): Promise<Vault> {
    this.#vault ??= this.options.openVault().catch((error: unknown) => {
      this.#vault = undefined;
      throw error;
    });
    return this.#vault;
  }

  /**
   * Only a well-formed Stasis answer counts; anything else (network error, a proxy's HTML page, a 404 from a
   * misrouted path) is `unavailable`, which keeps the blob: an unknown answer must never delete user data.
   */
  async #post<T extends { outcome: string }>(
    endpoint: string,
    route: string,
    body: unknown,
    keepalive: boolean,
  ): Promise<T | { outcome: 'unavailable'; message: string }> {
    let response: Response;
    try {
      response = await this.#fetch(endpoint.replace(/\/+$/, '') + route, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
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
