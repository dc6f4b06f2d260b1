/**
 * The custody API: what the page asks of whoever keeps its blobs (the service worker over comlink, or the
 * same code running in the page when no worker is available). Shared by src/ and worker/.
 */
import type { Failure, FailureCode, ResumeResponse } from './index.js';

export interface CustodyRequest {
  /** Absolute URL of the Stasis endpoint (e.g. https://app.example/stasis). */
  endpoint: string;
  sid: string;
  /** Hibernate only: ask the server not to close the live channel (the page is entering the bfcache). */
  keepChannels?: boolean;
}

/** A blob the keeper holds now. */
interface BlobKept {
  outcome: 'ok';
  gen: number;
  exp: number;
  /** Size of the stored blob. */
  bytes: number;
}

/**
 * What a hibernate (or keeping a pushed blob) came to. `storage`: where the blob went; `memory` when storage
 * refused it (quota, broken IndexedDB, `message` says how): it dies with the keeper.
 */
export type HibernateResult =
  | (BlobKept & { storage: 'disk' })
  | (BlobKept & { storage: 'memory'; message: string })
  /** `pending`: the server was unreachable; the hibernate is recorded and retried (sync, online, next visit). */
  | { outcome: 'unavailable'; message: string; pending?: true }
  /** A pushed blob older than the one kept (whose `gen` and `exp` are given when known). */
  | { outcome: 'stale'; message: string; gen?: number; exp?: number }
  | { outcome: Exclude<FailureCode, 'unavailable' | 'stale'>; message: string };

/**
 * What a resume came to: `ok` with the generation now live, `none` when no blob is kept for the sid (nothing
 * to resume), or the server's failure passed on (`retryAfterSeconds`, `quiet`: see Failure) or the keeper's
 * own (`expired`, `unavailable`).
 */
export type ResumeResult = { outcome: 'ok'; gen: number } | { outcome: 'none' } | Failure;

/**
 * A live-channel resume, step one: the kept blob and a proof made for presenting it on the live channel
 * (`GET {endpoint}/live`). Nothing is deleted; `gen` and `exp` name the blob lent, for `settle`. `none`,
 * `expired` and `unavailable` as for `resume`.
 */
export type LendResult =
  | { outcome: 'ok'; blob: string; gen: number; exp: number; proof?: string }
  | { outcome: 'none' }
  | { outcome: 'expired' | 'unavailable'; message: string };

/** A live-channel resume, step two: what the server answered for the blob lent (`gen`, `exp`). */
export interface SettleRequest extends CustodyRequest {
  gen: number;
  exp: number;
  answer: ResumeResponse;
}

export interface StoredBlobInfo {
  sid: string;
  gen: number;
  exp: number;
  storedAt: number;
  bytes: number;
}

export interface CustodyApi {
  /** Asks the server to hibernate `sid` and stores the blob durably. */
  hibernate(request: CustodyRequest): Promise<HibernateResult>;
  /** Sends the stored blob back; deletes it only on a final outcome. Waits for a hibernate of the same sid in flight. */
  resume(request: CustodyRequest): Promise<ResumeResult>;
  /** What is stored for `sid`, without the blob. */
  peek(sid: string): Promise<StoredBlobInfo | undefined>;
  /** Blobs stored for `endpoint`, newest first, whatever tab made them (candidates for orphan recovery). */
  orphans(endpoint: string): Promise<StoredBlobInfo[]>;
  /** Retries hibernates recorded as pending; resolves with how many were stored. */
  flushPending(): Promise<number>;
  /** Live-channel resume: the kept blob (and a proof) to send in the socket's first message; deletes nothing. */
  lend(request: CustodyRequest): Promise<LendResult>;
  /**
   * Live-channel resume: the server's answer for a lent blob. Deletes that blob on a final outcome (only if it
   * is still the one kept), keeps an `ok` answer's checkpoint in its place; resolves as `resume` would have.
   */
  settle(request: SettleRequest): Promise<ResumeResult>;
  /** Keeps a blob the server pushed (drain, idle, checkpoint) as if a hibernate had returned it; `stale` when a newer one is kept. */
  store(request: CustodyRequest & { blob: string }): Promise<HibernateResult>;
}

/** A custody call that threw (a bug, broken storage) counts as `unavailable`: nothing is final, nothing deleted. */
export function custodyFailed(error: unknown): { outcome: 'unavailable'; message: string } {
  return { outcome: 'unavailable', message: `Blob custody failed: ${error instanceof Error ? error.message : String(error)}` };
}
