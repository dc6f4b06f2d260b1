import type { Outcome } from './protocol/index.js';

/**
 * Where the client is. `waiting`: a resume could not reach the server; the blob is kept and retried.
 * `pending`: a hibernate could not reach the server; it is retried when the network returns.
 */
export type StasisState = 'starting' | 'live' | 'hibernating' | 'hibernated' | 'resuming' | 'waiting' | 'pending';

/** Who keeps the blobs: the service worker, the page over IndexedDB, or (last resort) the page's memory. */
export type CustodyKind = 'service-worker' | 'page' | 'memory' | 'none';

export interface StasisStatus {
  state: StasisState;
  sid: string;
  /** Generation of the live session, when known. */
  gen: number | undefined;
  custody: CustodyKind;
  online: boolean;
  /** The last hibernate/resume outcome, `none` when there was nothing to resume. */
  lastOutcome: Outcome | 'none' | undefined;
  lastMessage: string | undefined;
  /** The last hibernate was started by idleness, not by hiding. */
  idle: boolean;
  /** The server pushed the blob (`drain`: it is restarting; `idle`), until the session is live again. */
  paused: 'drain' | 'idle' | undefined;
}

export type StasisEventType =
  | 'hibernating'
  | 'hibernated'
  | 'resuming'
  | 'resumed'
  | 'reset'
  | 'failed'
  | 'ready'
  | 'orphan'
  | 'custody'
  | 'checkpoint'
  | 'statuschange';

export interface StasisEventDetail {
  sid: string;
  gen?: number;
  /** hibernate or resume: which operation this is about. */
  phase?: 'hibernate' | 'resume';
  /** `ready`: why the session is usable now. */
  reason?: 'new' | 'resumed' | 'reset' | 'failed' | 'live' | 'duplicate' | 'adopted';
  /** `orphan` (policy `ask`): the blob another, closed tab left behind; call `Stasis.adopt(sid)` to resume it. */
  orphan?: { sid: string; gen: number; storedAt: number };
  message?: string;
  bytes?: number;
  /** `reset` during a server's bail-out storm: start fresh without telling the user anything. */
  quiet?: true;
  status: StasisStatus;
}

/**
 * Every Stasis event has a stable `code`: the protocol outcome (`ok`, `replayed`, `tampered`, ...),
 * `none` when nothing was stored, or `pending` while an operation runs.
 */
export class StasisEvent extends Event {
  constructor(
    type: StasisEventType,
    readonly code: Outcome | 'none' | 'pending',
    readonly detail: StasisEventDetail,
  ) {
    super(type);
  }
}
