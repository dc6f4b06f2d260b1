/**
 * The custody API: what the page asks of whoever keeps its blobs (the service worker over comlink, or the
 * same code running in the page when no worker is available). Shared by src/ and worker/.
 */
import type { Outcome } from './index.js';

export interface CustodyRequest {
  /** Absolute URL of the Stasis endpoint (e.g. https://app.example/stasis). */
  endpoint: string;
  sid: string;
  /** Hibernate only: ask the server not to close the live channel (the page is entering the bfcache). */
  keepChannels?: boolean;
}

export interface HibernateResult {
  outcome: Outcome;
  gen?: number;
  exp?: number;
  /** Size of the stored blob. */
  bytes?: number;
  /** Where the blob went: `memory` when storage refused it (quota, broken IndexedDB); it dies with the keeper. */
  storage?: 'disk' | 'memory';
  /** With `unavailable`: the hibernate is recorded and will be retried (sync, online, next visit). */
  pending?: boolean;
  message?: string;
}

export interface ResumeResult {
  /** `none`: no blob is kept for this sid, so there is nothing to resume. */
  outcome: Outcome | 'none';
  gen?: number;
  message?: string;
  /** With `rate-limited`: the server's Retry-After. */
  retryAfterSeconds?: number;
  /** A final failure during a bail-out storm: start fresh without an error message. */
  quiet?: true;
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
  /** Keeps a blob the server pushed (drain, idle, checkpoint) as if a hibernate had returned it; `stale` when a newer one is kept. */
  store(request: CustodyRequest & { blob: string }): Promise<HibernateResult>;
}
