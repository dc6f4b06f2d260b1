import type { StasisClient, StasisOptions } from '../client.js';
import {
  STATE_TRANSITIONS,
  StasisEvent,
  type CustodyKind,
  type StasisEventPayloadMap,
  type StasisEventType,
  type StasisReadyReason,
  type StasisState,
  type StasisStatus,
} from '../events.js';
import type { Outcome } from '../protocol/index.js';
import type { CustodyApi } from '../protocol/custody.js';
import type { SessionIdStore } from '../session-id.js';
import type { TabClaim } from '../tab-claim.js';

export type LiveChannelModule = typeof import('./live-channel.js');

/**
 * Everything the client knows about its session, shared by the modules under src/client/. The facade
 * (StasisClient) owns the one object, with its options (defaults filled in), and hands it to the plain
 * functions that boot the custody (boot.ts), react to lifecycle signals (signals.ts), run the hibernate and
 * resume flows (flows.ts) and keep the blobs the server pushes (pushes.ts). Field names follow StasisStatus
 * where they can; the others are kept short, as terser leaves property names as they are.
 */
export interface Session extends Readonly<Required<Omit<StasisOptions, 'endpoint' | 'live' | 'loadLiveChannel'>>> {
  /** Set only with `live: true`. */
  readonly loadLiveChannel: StasisOptions['loadLiveChannel'];
  /** Where every event is dispatched, and whose `status` it carries. */
  readonly client: StasisClient;
  readonly endpoint: string;
  readonly ids: SessionIdStore;
  readonly claim: TabClaim;
  /** Settles `ready()`, at the first `ready` event. */
  readonly resolve: (status: StasisStatus) => void;
  sid: string;
  state: StasisState;
  gen?: number;
  /** The custody boot (chosen once, on first use), resolving with the custody. */
  booted?: Promise<CustodyApi>;
  /** The custody once chosen: lets the hide path post its message synchronously, before any await. */
  api?: CustodyApi;
  /** Stops waiting for the custody's answers in flight (the page is entering the back/forward cache). */
  abandon?: () => void;
  custody: CustodyKind;
  /** The user is away (page hidden, idle, or `debug.hibernate`): the session should be hibernated, not live. */
  away: boolean;
  idle: boolean;
  /** Why the server pushed our blob (drain, idle), until the session is live again (setState clears it). */
  paused?: 'drain' | 'idle';
  /** Why the first `ready` happens, when it is not a plain new session or a resume. */
  reason?: 'duplicate' | 'adopted';
  lastOutcome?: Outcome | 'none';
  lastMessage?: string;
  /** Timer of the next automatic resume retry, and how many retries came before it (for the backoff). */
  retry?: ReturnType<typeof setTimeout>;
  retries: number;
  /** `live`: the socket the SDK opened last (handed to the app with each `ready`). */
  socket?: WebSocket;
  /** `live`: the live channel's code once loaded (see flows.ts `loadLive`). */
  channel?: LiveChannelModule;
  /** A resume is under way (one at a time). */
  resuming: boolean;
  /** Settles once a parked claim is back (a page restored from the back/forward cache); resumes wait for it. */
  reclaiming?: Promise<unknown>;
  /** Timer that takes a parked claim back when a navigation was cancelled (see signals.ts). */
  grace?: ReturnType<typeof setTimeout>;
}

/** Dispatches a Stasis event on the client, with the sid and status of this moment. */
export function emit<K extends StasisEventType>(
  s: Session,
  type: K,
  code: StasisEventPayloadMap[K]['code'],
  detail: StasisEventPayloadMap[K]['detail'],
): void {
  s.client.dispatchEvent(new StasisEvent(type, code, { sid: s.sid, status: s.client.status, ...detail }));
}

/**
 * Every state change is a `statuschange` event (the banner follows them). A change the table does not allow
 * is a bug. PageLifecycle.js never throws over one (it skips it; its warning is a TODO); neither does this, as
 * the flows have acted already and a throw would leave them half done. It says so, and makes the change, so
 * that `status` tells what happened.
 */
export function setState(s: Session, state: StasisState): void {
  if (state !== s.state && !STATE_TRANSITIONS[s.state].includes(state)) console.error('Stasis: illegal transition', s.state, state);
  if (state === 'live') s.paused = undefined;
  s.state = state;
  emit(s, 'statuschange', s.lastOutcome ?? 'pending', {});
}

/** Keeps the outcome (and message) of a hibernate or resume for `status`. */
export function record(s: Session, result: { outcome: Outcome | 'none'; message?: string }): void {
  s.lastOutcome = result.outcome;
  s.lastMessage = result.message;
}

/** The session is usable: a `ready` event, and `ready()` resolves (the first time). */
export function markReady(s: Session, reason: StasisReadyReason): void {
  // Live mode: the session's socket goes with it (the one it resumed on, else a new one).
  s.channel?.ensureSocket(s);
  emit(s, 'ready', 'ok', { reason, ...(s.gen !== undefined ? { gen: s.gen } : {}), socket: s.socket });
  s.resolve(s.client.status);
}
