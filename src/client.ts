// StasisClient is the facade: it owns the session's state (client/session.ts) and hands it to the modules that
// boot the custody (client/boot.ts), react to lifecycle signals (client/signals.ts), run the hibernate and
// resume flows (client/flows.ts) and keep the blobs the server pushes (client/pushes.ts).
import type { StasisEventMap, StasisEventType, StasisStatus } from './events.js';
import { defaultPolicy, type Policy } from './policy.js';
import { DEFAULT_ENDPOINT } from './protocol/index.js';
import { SessionIdStore, newSessionId } from './session-id.js';
import { TabClaim } from './tab-claim.js';
import { requestFailover } from './failover.js';
import type { FailoverAnswer, FailoverKind } from './protocol/index.js';
import { watchPage } from './client/signals.js';
import { boot } from './client/boot.js';
import { adopt, hibernate, recover, resume } from './client/flows.js';
import { receive } from './client/pushes.js';
import type { Session } from './client/session.js';

export interface StasisOptions {
  /** Where the server's Stasis endpoints are mounted. Default "/stasis". */
  endpoint?: string;
  /** URL of the Stasis service worker script; `false` keeps blobs in the page. Default "/stasis-sw.js". */
  serviceWorker?: string | false;
  /** Timeout of one call to the service worker, ms. Default 10000. */
  callTimeoutMs?: number;
  /** Longest wait between two automatic resume retries, ms. Default 30000. */
  maxRetryDelayMs?: number;
  /** When to hibernate and resume. Default: hibernate on hide, resume on show/online/pageshow/load. */
  policy?: Policy;
  /**
   * A tab that starts without a session of its own (the browser was killed, the site reopened) takes over
   * the newest blob that no live tab claims: `auto` (default), `ask` (an `orphan` event; call `adopt`), `never`.
   */
  orphans?: 'auto' | 'ask' | 'never';
  /** Hibernate a visible page after this many minutes without input; 0 turns it off (default). */
  idleMinutes?: number;
  /**
   * Let Stasis open the built-in live channel (`{endpoint}/live`) for the app: each `ready` event carries the
   * session's socket (`event.detail.socket`, also `Stasis.socket`), and a resume rides in that socket's first
   * message: one round trip instead of `POST resume` and then the upgrade. Default false (the app connects
   * its own channel on `ready`, and resumes go over HTTP).
   */
  live?: boolean;
  /** Loads the page's own custody, used only when no service worker is available (set by the entry points). */
  loadPageCustody?: () => Promise<typeof import('./custody/page-custody.js')>;
  /** Loads the live channel's code, used only with `live: true` (set by `createStasis` and the script tag). */
  loadLiveChannel?: () => Promise<typeof import('./client/live-channel.js')>;
}

/** EventTarget whose listeners get each Stasis event's own type, as Window's do from WindowEventMap. */
interface StasisEventTarget extends EventTarget {
  addEventListener<K extends StasisEventType>(
    type: K,
    listener: (this: StasisClient, event: StasisEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends StasisEventType>(
    type: K,
    listener: (this: StasisClient, event: StasisEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

// The cast only types the listeners: at run time the client extends EventTarget itself.
/**
 * The page side of Stasis: a small state machine that turns lifecycle signals into hibernate and resume
 * calls on the custody (the service worker), and reports every step as a typed event with a code.
 */
export class StasisClient extends (EventTarget as new () => StasisEventTarget) {
  readonly endpoint: string;
  readonly #s: Session;
  #stop: Array<() => void> = [];
  #firstReady: Promise<StasisStatus>;

  constructor(options: StasisOptions = {}) {
    super();
    this.endpoint = new URL(options.endpoint ?? DEFAULT_ENDPOINT, location.href).href.replace(/\/+$/, '');
    let resolve!: (status: StasisStatus) => void;
    this.#firstReady = new Promise((settle) => (resolve = settle));
    const ids = new SessionIdStore(`stasis:sid:${this.endpoint}`);
    this.#s = {
      client: this,
      endpoint: this.endpoint,
      serviceWorker: options.serviceWorker ?? '/stasis-sw.js',
      callTimeoutMs: options.callTimeoutMs ?? 10_000,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 30_000,
      policy: options.policy ?? defaultPolicy,
      orphans: options.orphans ?? 'auto',
      idleMinutes: options.idleMinutes ?? 0,
      loadLiveChannel: options.live ? options.loadLiveChannel : undefined,
      loadPageCustody:
        options.loadPageCustody ?? (() => Promise.reject(new Error('no loadPageCustody (use createStasis)'))),
      ids,
      claim: new TabClaim(),
      resolve,
      // Provisional until start() has claimed it (it may turn out to be a duplicated tab's).
      sid: ids.stored() ?? newSessionId(),
      state: 'starting',
      custody: 'none',
      away: false,
      idle: false,
      retries: 0,
      resuming: false,
    };
  }

  /** The tab's session id: pass it to your live channel (e.g. `?sid=`) once `ready` has fired. */
  get sid(): string {
    return this.#s.sid;
  }

  /** With `live: true`: the live channel the SDK opened for the session (undefined before the first `ready`). */
  get socket(): WebSocket | undefined {
    return this.#s.socket;
  }

  get status(): StasisStatus {
    const s = this.#s;
    // The narrower shapes of some states hold by how the flows set them (see StasisStatus); a unit test checks them.
    return {
      state: s.state,
      sid: s.sid,
      gen: s.gen,
      custody: s.custody,
      online: globalThis.navigator?.onLine ?? true,
      lastOutcome: s.lastOutcome,
      lastMessage: s.lastMessage,
      idle: s.idle,
      paused: s.paused,
    } as StasisStatus;
  }

  /** Resolves the first time the session is usable (resumed or new): connect your live channel then. */
  ready(): Promise<StasisStatus> {
    return this.#firstReady;
  }

  /**
   * Resolves when the session is usable: at once while it is live, else at the next `ready` (after a resume,
   * a reset or a new session). Apps whose UI can send while the session is hibernated (a drain, an idle
   * spell, a tab coming back) await it before sending, so nothing typed meanwhile is lost.
   */
  whenLive(): Promise<StasisStatus> {
    if (this.#s.state === 'live') return Promise.resolve(this.status);
    return new Promise((resolve) => this.addEventListener('ready', () => resolve(this.status), { once: true }));
  }

  /** Starts watching the page and resumes a stored session if there is one. Idempotent. */
  start(): Promise<StasisStatus> {
    if (!this.#stop.length) watchPage(this.#s, this.#stop);
    return this.#firstReady;
  }

  stop(): void {
    const s = this.#s;
    for (const stop of this.#stop.splice(0)) stop();
    clearTimeout(s.retry);
    s.claim.release();
  }

  /** `addEventListener` for one Stasis event type; returns a function that removes the listener. */
  on<K extends StasisEventType>(type: K, listener: (event: StasisEventMap[K]) => void): () => void {
    const fn = (event: StasisEventMap[K]) => listener(event);
    this.addEventListener(type, fn);
    return () => this.removeEventListener(type, fn);
  }

  /**
   * Takes over the session another, closed tab left behind (after an `orphan` event, or any sid from
   * `orphans`). The current session of this tab is left to the server's retention window.
   */
  adopt(sid: string): Promise<boolean> {
    return adopt(this.#s, sid);
  }

  /**
   * Give Stasis the messages of your live channel. Returns true when a message was Stasis's own: a blob the
   * server pushed before closing the channel (drain on shutdown, idle). Stasis keeps it and resumes on
   * whichever instance answers next.
   */
  receive(message: unknown): boolean {
    return receive(this.#s, message);
  }

  /**
   * The live channel dropped without a hibernate (the instance was killed, the network broke): call this
   * before reconnecting. When a checkpoint is kept it goes to the server first, and whichever instance
   * answers restores the newest copy: the session itself if it is still live somewhere, else the copy the
   * server stored, else the checkpoint. Resolves with the status; `ready` fires when a resume happened.
   * Pass the close event: a close that says the session belongs to another browser starts a new session.
   */
  recover(closed?: { code: number; reason: string }): Promise<StasisStatus> {
    return recover(this.#s, closed);
  }

  /** Developer helpers: run a real cycle from the console, whatever the page's visibility. */
  readonly debug = {
    hibernate: () => {
      this.#s.away = true;
      return hibernate(this.#s);
    },
    resume: () => {
      this.#s.away = false;
      this.#s.idle = false;
      return resume(this.#s);
    },
    peek: async () => (await boot(this.#s)).peek(this.#s.sid),
    /**
     * Development only: the server does to this session what a failover would (`disconnect`: stored and
     * dropped abruptly; `restart`: blob pushed, close CLOSE_CODES.draining; `move`: stored, close 1012). Your
     * channel's close and reconnect code then runs as it would in production. Refused under NODE_ENV=production.
     */
    failover: (kind: FailoverKind): Promise<FailoverAnswer> => requestFailover(this.endpoint, this.#s.sid, kind),
  };
}
