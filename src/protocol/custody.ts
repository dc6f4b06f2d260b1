/**
 * The custody API: what the page asks of whoever keeps its blobs (the service worker over comlink, or the
 * same code running in the page when no worker is available). Shared by src/ and worker/.
 */
import type { Outcome } from './index.js';

export interface CustodyRequest {
  /** Absolute URL of the Stasis endpoint (e.g. https://app.example/stasis). */
  endpoint: string;
  sid: string;
}

export interface HibernateResult {
  outcome: Outcome;
  gen?: number;
  exp?: number;
  /** Size of the stored blob. */
  bytes?: number;
  message?: string;
}

export interface ResumeResult {
  /** `none`: no blob is kept for this sid, so there is nothing to resume. */
  outcome: Outcome | 'none';
  gen?: number;
  message?: string;
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
}
