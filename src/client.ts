import { openCustody } from './custody/open-custody.js';
import {
  StasisEvent,
  type CustodyKind,
  type StasisEventDetail,
  type StasisEventType,
  type StasisState,
  type StasisStatus,
} from './events.js';
import { watchLifecycle, type SignalContext } from './lifecycle.js';
import { defaultPolicy, type Policy } from './policy.js';
import { DEFAULT_ENDPOINT, isFinal, isPushedBlob, type Outcome, type PushedBlob } from './protocol/index.js';
import type { CustodyApi, HibernateResult, ResumeResult } from './protocol/custody.js';
import { SessionIdStore, newSessionId } from './session-id.js';
import { TabClaim } from './tab-claim.js';

/** A page that started leaving but is still here after this long (a cancelled navigation, a download) takes its claim back. */
const NAVIGATION_GRACE_MS = 3000;
import { requestFailover } from './failover.js';
import type { FailoverAnswer, FailoverKind } from './protocol/index.js';
import { INPUT_EVENTS, watchIdle } from './idle.js';

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
  /** Loads the page's own custody, used only when no service worker is available (set by the entry points). */
  loadPageCustody?: () => Promise<typeof import('./custody/page-custody.js')>;
}

type Listener = (event: StasisEvent) => void;

/** How long a reloaded tab waits for its previous document to let go of the sid before calling itself a duplicate. */
const RECLAIM_WAIT_MS = 1500;

/**
 * The page side of Stasis: a small state machine that turns lifecycle signals into hibernate and resume
 * calls on the custody (the service worker), and reports every step as a typed event with a code.
 */
export class StasisClient extends EventTarget {
  readonly endpoint: string;
  readonly #options: Required<Omit<StasisOptions, 'endpoint' | 'loadPageCustody'>>;
  readonly #loadPageCustody: NonNullable<StasisOptions['loadPageCustody']>;
  readonly #ids: SessionIdStore;
  readonly #claim = new TabClaim();
  #sid: string;
  #state: StasisState = 'starting';
  #gen: number | undefined;
  #booted: Promise<CustodyApi> | undefined;
  /** The custody once chosen: lets the hide path post its message synchronously, before any await. */
  #custody: CustodyApi | undefined;
  #abandonCalls: (() => void) | undefined;
  #custodyKind: CustodyKind = 'none';
  #intent: 'here' | 'away' = 'here';
  #idle = false;
  /** Why the server pushed our blob (drain, idle), until the session is live again. */
  #paused: 'drain' | 'idle' | undefined;
  /** Why the first `ready` happens, when it is not a plain new session or a resume. */
  #startReason: 'duplicate' | 'adopted' | undefined;
  #lastOutcome: Outcome | 'none' | undefined;
  #lastMessage: string | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryCount = 0;
  #resuming = false;
  #stop: Array<() => void> = [];
  /** Settles once a parked claim is back (a page restored from the back/forward cache); resumes wait for it. */
  #reclaiming: Promise<unknown> | undefined;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  #firstReady: Promise<StasisStatus>;
  #resolveFirstReady!: (status: StasisStatus) => void;

  constructor(options: StasisOptions = {}) {
    super();
    this.endpoint = new URL(options.endpoint ?? DEFAULT_ENDPOINT, location.href).href.replace(/\/+$/, '');
    this.#options = {
      serviceWorker: options.serviceWorker ?? '/stasis-sw.js',
      callTimeoutMs: options.callTimeoutMs ?? 10_000,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 30_000,
      policy: options.policy ?? defaultPolicy,
      orphans: options.orphans ?? 'auto',
      idleMinutes: options.idleMinutes ?? 0,
    };
    this.#loadPageCustody =
      options.loadPageCustody ??
      (() => Promise.reject(new Error('no loadPageCustody (use createStasis)')));
    this.#ids = new SessionIdStore(`stasis:sid:${this.endpoint}`);
    // Provisional until start() has claimed it (it may turn out to be a duplicated tab's).
    this.#sid = this.#ids.stored() ?? newSessionId();
    this.#firstReady = new Promise((resolve) => (this.#resolveFirstReady = resolve));
  }

  /** The tab's session id: pass it to your live channel (e.g. `?sid=`) once `ready` has fired. */
  get sid(): string {
    return this.#sid;
  }

  get status(): StasisStatus {
    return {
      state: this.#state,
      sid: this.#sid,
      gen: this.#gen,
      custody: this.#custodyKind,
      online: globalThis.navigator?.onLine ?? true,
      lastOutcome: this.#lastOutcome,
      lastMessage: this.#lastMessage,
      idle: this.#idle,
      paused: this.#paused,
    };
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
    if (this.#state === 'live') return Promise.resolve(this.status);
    return new Promise((resolve) => this.addEventListener('ready', () => resolve(this.status), { once: true }));
  }

  /** Starts watching the page and resumes a stored session if there is one. Idempotent. */
  start(): Promise<StasisStatus> {
    if (!this.#stop.length) {
      this.#stop.push(watchLifecycle((context) => this.#onSignal(context)));
      if (this.#options.idleMinutes > 0) {
        this.#stop.push(
          watchIdle(this.#options.idleMinutes * 60_000, {
            idle: () => this.#onIdle(),
            active: () => this.#onActive(),
          }),
        );
      }
      // Leaving: park the tab claim so Firefox can keep the page in its back/forward cache (see TabClaim).
      const leaving = () => {
        if (this.#claim.park()) this.#graceTimer = setTimeout(() => this.#unpark(), NAVIGATION_GRACE_MS);
      };
      addEventListener('beforeunload', leaving);
      this.#stop.push(() => removeEventListener('beforeunload', leaving));
      const visible = document.visibilityState === 'visible';
      this.#onSignal({ signal: 'load', persisted: false, visible });
      if (!visible) this.#intent = 'away'; // loaded in the background: resume when first shown
    }
    return this.#firstReady;
  }

  stop(): void {
    for (const stop of this.#stop.splice(0)) stop();
    clearTimeout(this.#retryTimer);
    this.#claim.release();
  }

  /** `addEventListener` with the event type checked; returns a function that removes the listener. */
  on(type: StasisEventType, listener: Listener): () => void {
    const fn = (event: Event) => listener(event as StasisEvent);
    this.addEventListener(type, fn);
    return () => this.removeEventListener(type, fn);
  }

  /**
   * Takes over the session another, closed tab left behind (after an `orphan` event, or any sid from
   * `orphans`). The current session of this tab is left to the server's retention window.
   */
  async adopt(sid: string): Promise<boolean> {
    await this.#boot();
    if (!(await this.#claim.adopt(sid))) return false;
    this.#sid = this.#ids.set(sid);
    this.#gen = undefined;
    this.#startReason = 'adopted';
    this.#intent = 'here';
    this.#setState('hibernated');
    await this.#resume();
    return true;
  }

  /**
   * Give Stasis the messages of your live channel. Returns true when a message was Stasis's own: a blob the
   * server pushed before closing the channel (drain on shutdown, idle). Stasis keeps it and resumes on
   * whichever instance answers next.
   */
  receive(message: unknown): boolean {
    if (!isPushedBlob(message)) return false;
    if (message.sid !== this.#sid) return true;
    // A message from a socket of an older generation can arrive after a resume: its blob is of no use.
    if (this.#gen !== undefined && message.gen < this.#gen) return true;
    if (message.reason === 'checkpoint') void this.#keepCheckpoint(message);
    else void this.#keepPushed({ ...message, reason: message.reason });
    return true;
  }

  /**
   * The live channel dropped without a hibernate (the instance was killed, the network broke): call this
   * before reconnecting. When a checkpoint is kept it goes to the server first, and whichever instance
   * answers restores the newest copy: the session itself if it is still live somewhere, else the copy the
   * server stored, else the checkpoint. Resolves with the status; `ready` fires when a resume happened.
   * Pass the close event: a close that says the session belongs to another browser starts a new session.
   */
  async recover(closed?: { code: number; reason: string }): Promise<StasisStatus> {
    if (closed?.reason === 'stasis:wrong-binding' && this.#state === 'live') {
      // The server holds this sid for another binding cookie (this browser's is gone): start over.
      await this.#boot();
      await this.#startOver('wrong-binding', undefined); // the code says it all: another browser's cookie holds the sid
      return this.status;
    }
    if (this.#state !== 'live' || this.#intent !== 'here' || this.#resuming) return this.status;
    const api = await this.#boot();
    const kept = await api.peek(this.#sid).catch(() => undefined);
    if (!kept || this.#state !== 'live') return this.status;
    this.#setState('hibernated');
    await this.#resume();
    return this.status;
  }

  /** A checkpoint: the session stays live; the worker keeps the newest one in case the server dies. */
  async #keepCheckpoint(message: PushedBlob): Promise<void> {
    const api = await this.#boot();
    const result = await api.store({ endpoint: this.endpoint, sid: message.sid, blob: message.blob }).catch(unexpected);
    if (message.sid !== this.#sid || result.outcome !== 'ok') return;
    this.#emit('checkpoint', 'ok', { gen: result.gen, bytes: result.bytes });
  }

  async #keepPushed(message: PushedBlob & { reason: 'drain' | 'idle' }): Promise<void> {
    const api = await this.#boot();
    const result = await api.store({ endpoint: this.endpoint, sid: message.sid, blob: message.blob }).catch(unexpected);
    if (message.sid !== this.#sid) return;
    if (result.outcome === 'stale') return; // it arrived after a newer one, or after a resume: nothing to do
    if (result.outcome !== 'ok') {
      this.#emit('failed', result.outcome, { phase: 'hibernate', message: result.message });
      return;
    }
    this.#paused = message.reason;
    this.#gen = result.gen;
    this.#record('ok', undefined);
    if (message.reason === 'idle') {
      // The server saw no activity: wait for the user (any input, or the tab coming back) to resume.
      this.#intent = 'away';
      this.#idle = true;
      this.#resumeOnNextInput();
    }
    this.#setState('hibernated');
    this.#emit('hibernated', 'ok', { phase: 'hibernate', gen: result.gen, bytes: result.bytes });
    // Drain: the page is in use, so ask for it back at once; the draining server says `unavailable` and the
    // retry finds the next instance.
    if (message.reason === 'drain' && this.#intent === 'here' && !this.#resuming) void this.#resume();
  }

  #resumeOnNextInput(): void {
    const once = () => {
      for (const type of INPUT_EVENTS) removeEventListener(type, once, { capture: true });
      if (document.visibilityState === 'visible') this.#onActive();
    };
    for (const type of INPUT_EVENTS) addEventListener(type, once, { capture: true, passive: true });
  }

  /** Developer helpers: run a real cycle from the console, whatever the page's visibility. */
  readonly debug = {
    hibernate: () => {
      this.#intent = 'away';
      return this.#hibernate();
    },
    resume: () => {
      this.#intent = 'here';
      this.#idle = false;
      return this.#resume();
    },
    peek: async () => (await this.#boot()).peek(this.#sid),
    /**
     * Development only: the server does to this session what a failover would (`disconnect`: stored and
     * dropped abruptly; `restart`: blob pushed, close 4007; `move`: stored, close 1012). Your channel's close
     * and reconnect code then runs as it would in production. Refused under NODE_ENV=production.
     */
    failover: (kind: FailoverKind): Promise<FailoverAnswer> => requestFailover(this.endpoint, this.#sid, kind),
  };

  #onSignal(context: SignalContext): void {
    // The tab claim is parked while the page may sit in the back/forward cache (see TabClaim): taken back when
    // it returns, left for adoption when the page unloads for good.
    if (context.signal === 'pageshow' && context.persisted) {
      this.#resuming = false; // an abandoned call never answers
      this.#unpark();
    }
    if (context.signal === 'pagehide' && !context.persisted) this.#claim.leave();
    if (context.signal === 'offline' || context.signal === 'online') this.#setState(this.#state); // banner text
    if (context.signal === 'online' && this.#state === 'pending') void this.#retryPending();
    const action = this.#options.policy(context);
    if (action === 'hibernate') {
      const intoCache = context.signal === 'pagehide' && context.persisted;
      if (this.#intent !== 'away') {
        this.#intent = 'away'; // hidden + pagehide + freeze: one hibernate
        this.#idle = false;
        clearTimeout(this.#retryTimer);
        void this.#hibernate(intoCache);
      }
      // Entering the back/forward cache: an answer arriving there would run script and evict the page.
      // The worker finishes the hibernate anyway; `pageshow` resumes, which waits for it.
      if (intoCache) this.#abandonCalls?.();
    } else if (action === 'resume') {
      // load + pageshow + visible can arrive together: one resume at a time is enough.
      if (this.#intent === 'here' && (this.#resuming || !this.#mayNeedResume())) return;
      this.#intent = 'here';
      this.#idle = false;
      void this.#resume();
    }
  }

  #onIdle(): boolean {
    if (this.#intent === 'away' || this.#state !== 'live' || document.visibilityState !== 'visible') return false;
    this.#intent = 'away';
    this.#idle = true;
    void this.#hibernate();
    return true;
  }

  #onActive(): void {
    if (!this.#idle || this.#intent === 'here') return;
    this.#intent = 'here';
    this.#idle = false;
    void this.#resume();
  }

  #mayNeedResume(): boolean {
    const s = this.#state;
    return s === 'starting' || s === 'hibernated' || s === 'waiting' || s === 'hibernating' || s === 'pending';
  }

  /**
   * Chooses the custody and settles which session this tab has: its own (reload), a new one (new tab, or a
   * duplicated tab whose original still holds the sid), or an orphan's (the browser was killed).
   */
  #boot(): Promise<CustodyApi> {
    this.#booted ??= (async () => {
      const choice = await openCustody(this.#options.serviceWorker || undefined, this.#options.callTimeoutMs, this.#loadPageCustody);
      this.#custody = choice.api;
      this.#abandonCalls = choice.abandon;
      this.#custodyKind = choice.kind;
      if (choice.fallbackReason) {
        // Say so once, clearly: blobs kept by the page (or only in memory) survive less than the worker's.
        this.#lastMessage = `blobs kept by the ${choice.kind}: ${choice.fallbackReason}`;
        this.#emit('custody', 'none', { message: this.#lastMessage });
      }
      // Ask the browser not to evict our storage under pressure (granted by heuristics; harmless if refused).
      if (choice.kind !== 'memory') void navigator.storage?.persist?.().catch(() => false);
      const own = this.#ids.stored();
      if (own && (await this.#claim.claim(own, RECLAIM_WAIT_MS))) {
        this.#sid = own;
      } else {
        if (own) this.#startReason = 'duplicate'; // the original tab still holds it: start our own session
        await this.#newSid();
        if (!own) await this.#recoverOrphan(choice.api);
      }
      return choice.api;
    })();
    return this.#booted;
  }

  async #recoverOrphan(api: CustodyApi): Promise<void> {
    if (this.#options.orphans === 'never') return;
    const candidates = await api.orphans(this.endpoint).catch(() => []);
    for (const orphan of candidates) {
      if (orphan.sid === this.#sid) continue;
      if (this.#options.orphans === 'ask') {
        if (!(await this.#claim.isFree(orphan.sid))) continue;
        this.#emit('orphan', 'none', { orphan: { sid: orphan.sid, gen: orphan.gen, storedAt: orphan.storedAt } });
        return;
      }
      if (await this.#claim.adopt(orphan.sid)) {
        this.#sid = this.#ids.set(orphan.sid);
        this.#startReason = 'adopted';
        return;
      }
    }
  }

  /**
   * `intoCache`: the page is entering the back/forward cache. The browser closes its sockets there itself;
   * a close from the server arriving once the page is frozen would run script and evict it, so the server
   * is asked to leave the live channel open.
   */
  async #hibernate(intoCache = false): Promise<void> {
    if (this.#state === 'starting' && !this.#custody) return; // nothing can be live yet
    if (this.#state === 'hibernated' || this.#state === 'waiting') return; // the blob is already kept
    const sid = this.#sid;
    this.#setState('hibernating');
    this.#emit('hibernating', 'pending', { phase: 'hibernate' });
    // When custody is ready this posts synchronously: the page may be frozen right after this line.
    const request = { endpoint: this.endpoint, sid, ...(intoCache ? { keepChannels: true } : {}) };
    const custody = this.#custody;
    const result: HibernateResult = await (custody ? custody.hibernate(request) : this.#boot().then((api) => api.hibernate(request))).catch(
      unexpected,
    );
    if (sid !== this.#sid) return;
    this.#record(result.outcome, result.message);
    if (result.storage === 'memory' && this.#custodyKind !== 'memory') {
      this.#custodyKind = 'memory';
      this.#emit('custody', 'ok', { message: result.message });
    }
    if (result.outcome === 'ok') {
      this.#gen = result.gen;
      if (this.#state === 'hibernating') this.#setState('hibernated');
      this.#emit('hibernated', 'ok', { phase: 'hibernate', gen: result.gen, bytes: result.bytes });
      return;
    }
    if (result.pending && this.#state === 'hibernating') {
      // Offline: the session is still live on the server; hand it over when the network returns.
      this.#setState('pending');
      this.#emit('failed', result.outcome, { phase: 'hibernate', message: result.message });
      return;
    }
    // Nothing was stored; the server session (if any) is still live. A visible page is simply here again,
    // so the next hide (or idle spell) tries afresh.
    if (document.visibilityState === 'visible' && this.#intent === 'away') {
      this.#intent = 'here';
      this.#idle = false;
    }
    if (this.#state === 'hibernating') this.#setState('live');
    if (result.outcome !== 'no-session') this.#emit('failed', result.outcome, { phase: 'hibernate', message: result.message });
  }

  async #retryPending(): Promise<void> {
    if (this.#intent !== 'away') return;
    const api = await this.#boot();
    const sid = this.#sid;
    await api.flushPending().catch(() => 0);
    if (sid !== this.#sid || this.#intent !== 'away' || this.#state !== 'pending') return;
    const stored = await api.peek(sid).catch(() => undefined);
    if (stored) {
      this.#gen = stored.gen;
      this.#record('ok', undefined);
      this.#setState('hibernated');
      this.#emit('hibernated', 'ok', { phase: 'hibernate', gen: stored.gen, bytes: stored.bytes });
    }
  }

  async #resume(): Promise<void> {
    this.#resuming = true;
    try {
      await this.#resumeOnce();
    } finally {
      this.#resuming = false;
    }
  }

  /** Takes a parked claim back; if another tab has the sid by now, this page goes on under a new one. */
  #unpark(): void {
    clearTimeout(this.#graceTimer);
    this.#reclaiming = this.#claim.unpark().then((ours) => {
      if (ours) return;
      this.#startReason = 'duplicate';
      return this.#newSid();
    });
  }

  async #resumeOnce(): Promise<void> {
    clearTimeout(this.#retryTimer);
    await this.#reclaiming;
    const api = await this.#boot();
    const sid = this.#sid;
    const stored =
      this.#state === 'hibernated' ||
      this.#state === 'waiting' ||
      this.#state === 'hibernating' ||
      (this.#state === 'starting' && (await api.peek(sid).catch(() => undefined)) !== undefined);
    if (stored) {
      this.#setState('resuming');
      this.#emit('resuming', 'pending', { phase: 'resume' });
    }
    const result: ResumeResult = await api.resume({ endpoint: this.endpoint, sid }).catch(unexpected);
    if (sid !== this.#sid || this.#intent !== 'here') return;
    this.#record(result.outcome, result.message);
    if (result.outcome === 'none') {
      this.#setState('live');
      this.#ready(this.#startReason ?? (this.#gen === undefined ? 'new' : 'live'));
    } else if (result.outcome === 'ok') {
      this.#retryCount = 0;
      this.#paused = undefined;
      this.#gen = result.gen;
      this.#setState('live');
      this.#emit('resumed', 'ok', { phase: 'resume', gen: result.gen });
      this.#ready(this.#startReason === 'adopted' ? 'adopted' : 'resumed');
    } else if (!isFinal(result.outcome)) {
      this.#setState('waiting');
      this.#scheduleRetry(result.retryAfterSeconds);
    } else if (result.outcome === 'stale') {
      // The blob was older than a generation already resumed: the session itself lives on (on the server, or
      // in a store it finds when the page connects), so this tab keeps its id and goes back to it.
      this.#paused = undefined;
      this.#setState('live');
      this.#ready('live');
    } else {
      await this.#startOver(result.outcome, result.message, result.quiet);
    }
    this.#startReason = undefined;
  }

  /** The session is gone for good: start a new one under a new id, so no two tabs ever share one. */
  /** A session id of this tab's own, never used before. */
  async #newSid(): Promise<void> {
    this.#sid = this.#ids.renew();
    this.#gen = undefined;
    await this.#claim.claim(this.#sid);
  }

  async #startOver(outcome: Outcome, message: string | undefined, quiet?: true): Promise<void> {
    this.#paused = undefined;
    await this.#newSid();
    this.#setState('live');
    const graceful = outcome === 'schema-reset' || quiet === true;
    this.#emit(graceful ? 'reset' : 'failed', outcome, { phase: 'resume', message, ...(quiet ? { quiet } : {}) });
    this.#ready(graceful ? 'reset' : 'failed');
  }

  #scheduleRetry(retryAfterSeconds = 0): void {
    clearTimeout(this.#retryTimer);
    const base = Math.min(this.#options.maxRetryDelayMs, 1000 * 2 ** Math.min(this.#retryCount++, 10));
    // Jitter, so a fleet of tabs does not retry in step; never sooner than the server asked (429 Retry-After).
    const delay = Math.max(base * (0.8 + Math.random() * 0.4), retryAfterSeconds * 1000);
    this.#retryTimer = setTimeout(() => {
      if (this.#intent === 'here' && this.#state === 'waiting' && !this.#resuming) void this.#resume();
    }, delay);
  }

  #ready(reason: NonNullable<StasisEventDetail['reason']>): void {
    this.#emit('ready', 'ok', { reason, ...(this.#gen !== undefined ? { gen: this.#gen } : {}) });
    this.#resolveFirstReady(this.status);
  }

  #record(outcome: Outcome | 'none', message: string | undefined): void {
    this.#lastOutcome = outcome;
    this.#lastMessage = message;
  }

  #setState(state: StasisState): void {
    this.#state = state;
    this.#emit('statuschange', this.#lastOutcome ?? 'pending', {});
  }

  #emit(type: StasisEventType, code: StasisEvent['code'], detail: Omit<StasisEventDetail, 'sid' | 'status'>): void {
    this.dispatchEvent(new StasisEvent(type, code, { sid: this.#sid, status: this.status, ...detail }));
  }
}

/** A custody call that threw (a bug or broken storage) counts as `unavailable`: nothing is final, nothing deleted. */
function unexpected(error: unknown): { outcome: 'unavailable'; message: string } {
  return { outcome: 'unavailable', message: `Blob custody failed: ${error instanceof Error ? error.message : String(error)}` };
}
