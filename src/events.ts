import type { FailureCode, Outcome } from './protocol/index.js';

/**
 * Where the client is. `waiting`: a resume could not reach the server; the blob is kept and retried.
 * `pending`: a hibernate could not reach the server; it is retried when the network returns.
 */
export type StasisState = 'starting' | 'live' | 'hibernating' | 'hibernated' | 'resuming' | 'waiting' | 'pending';

/**
 * The client's legal state changes, as data (PageLifecycle.js keeps its own the same way): `setState` checks
 * every change against it, and a unit test drives the client through each one. A state may always be set
 * again (a status refresh). Every state leads to `hibernated`: `adopt()` can be called at any moment, and a
 * blob the server pushes is kept whatever the client was doing.
 */
export const STATE_TRANSITIONS: Readonly<Record<StasisState, readonly StasisState[]>> = {
  starting: ['live', 'resuming', 'waiting', 'hibernating', 'hibernated'],
  // `waiting`: a resume the page asked for while away (the hibernate found nothing) could not reach the worker.
  live: ['waiting', 'hibernating', 'hibernated'],
  // `live`: nothing was stored; `resuming`: the user came back before the hibernate finished.
  hibernating: ['live', 'resuming', 'hibernated', 'pending'],
  hibernated: ['resuming'],
  resuming: ['live', 'waiting', 'hibernating', 'hibernated'],
  waiting: ['resuming', 'hibernated'],
  // `live`, `waiting`: the user came back; the resume cancels the hibernate that is still to be handed over.
  pending: ['live', 'waiting', 'hibernating', 'hibernated'],
};

/** Who keeps the blobs: the service worker, the page over IndexedDB, or (last resort) the page's memory. */
export type CustodyKind = 'service-worker' | 'page' | 'memory' | 'none';

interface StatusFields {
  sid: string;
  /** Generation of the session, when known (a new or adopted session's is learnt at its first hibernate or resume). */
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

/**
 * `Stasis.status`, narrowed by `state` where the client guarantees more: nothing is known yet while
 * `starting`; `live` has an outcome and no pause; `pending` is always the hibernate that found the server
 * unreachable.
 */
export type StasisStatus =
  | (StatusFields & { state: 'starting'; gen: undefined; idle: false; paused: undefined })
  | (StatusFields & { state: 'live'; lastOutcome: Outcome | 'none'; paused: undefined })
  | (StatusFields & { state: 'pending'; lastOutcome: 'unavailable'; lastMessage: string })
  | (StatusFields & { state: 'hibernating' | 'hibernated' | 'resuming' | 'waiting' });

/** Why a `ready` happened: a new session, a resumed one, a fresh start after a reset or a failure, ... */
export type StasisReadyReason = 'new' | 'resumed' | 'reset' | 'failed' | 'live' | 'duplicate' | 'adopted';

/** Per event type: its `code`, and what its `detail` holds besides `sid` and `status`. */
export interface StasisEventPayloadMap {
  hibernating: { code: 'pending'; detail: { phase: 'hibernate' } };
  /** The blob is kept: `bytes` is its size. */
  hibernated: { code: 'ok'; detail: { phase: 'hibernate'; gen: number; bytes: number } };
  resuming: { code: 'pending'; detail: { phase: 'resume' } };
  resumed: { code: 'ok'; detail: { phase: 'resume'; gen: number } };
  /** A fresh session replaced one that could not come back (`schema-reset`, or any failure while `quiet`). */
  reset: {
    code: FailureCode;
    /** `quiet`: a server's bail-out storm; start fresh without telling the user anything. */
    detail: { phase: 'resume'; message: string; quiet?: true };
  };
  /** A hibernate that stored nothing, or a resume that lost the session (a fresh one replaces it). */
  failed: {
    code: FailureCode;
    detail: { phase: 'hibernate'; message: string } | { phase: 'resume'; message?: string };
  };
  /**
   * The session is usable: connect the live channel. `gen` when known. With `live: true`, `socket` is the
   * channel the SDK opened for it (open, or still connecting for a new session).
   */
  ready: { code: 'ok'; detail: { reason: StasisReadyReason; gen?: number; socket?: WebSocket } };
  /** (`orphans: 'ask'`) the blob another, closed tab left behind; call `Stasis.adopt(orphan.sid)` to resume it. */
  orphan: { code: 'none'; detail: { orphan: { sid: string; gen: number; storedAt: number } } };
  /** Blobs are kept less durably than hoped (`message` says where, and why). */
  custody: { code: 'ok' | 'none'; detail: { message: string } };
  /** A checkpoint the server pushed is kept; the session stays live. */
  checkpoint: { code: 'ok'; detail: { gen: number; bytes: number } };
  /** `status` changed; `code` is its `lastOutcome`, `pending` before the first one. */
  statuschange: { code: Outcome | 'none' | 'pending'; detail: object };
}

export type StasisEventType = keyof StasisEventPayloadMap;

/** The `code` of an event: the protocol outcome, `none` when nothing was stored, `pending` while an operation runs. */
export type StasisEventCode<K extends StasisEventType = StasisEventType> = StasisEventPayloadMap[K]['code'];

/** The `detail` of an event (of any event without a type argument). */
export type StasisEventDetail<K extends StasisEventType = StasisEventType> = StasisEventPayloadMap[K]['detail'] & {
  sid: string;
  status: StasisStatus;
};

/**
 * Every Stasis event has a stable `code`: the protocol outcome (`ok`, `replayed`, `tampered`, ...),
 * `none` when nothing was stored, or `pending` while an operation runs.
 */
export class StasisEvent<K extends StasisEventType = StasisEventType> extends Event {
  declare readonly type: K;
  declare readonly code: StasisEventCode<K>;
  declare readonly detail: StasisEventDetail<K>;

  constructor(type: K, code: StasisEventCode<K>, detail: StasisEventDetail<K>) {
    super(type);
    this.code = code;
    this.detail = detail;
  }
}

/** Each event type's own event, as lib.dom's `WindowEventMap` is for `window`. */
export type StasisEventMap = { [K in StasisEventType]: StasisEvent<K> };
