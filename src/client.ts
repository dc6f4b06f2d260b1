import { openCustody, type CustodyChoice } from './custody/open-custody.js';
import { StasisEvent, type CustodyKind, type StasisEventDetail, type StasisEventType, type StasisState, type StasisStatus } from './events.js';
import { watchLifecycle, type SignalContext } from './lifecycle.js';
import { defaultPolicy, type Policy } from './policy.js';
import { DEFAULT_ENDPOINT, isFinal, type Outcome } from './protocol/index.js';
import type { CustodyApi, HibernateResult, ResumeResult } from './protocol/custody.js';
import { SessionIdStore } from './session-id.js';

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
}

type Listener = (event: StasisEvent) => void;

/**
 * The page side of Stasis: a small state machine that turns lifecycle signals into hibernate and resume
 * calls on the custody (the service worker), and reports every step as a typed event with a code.
 */
export class StasisClient extends EventTarget {
  readonly endpoint: string;
  readonly #options: Required<Omit<StasisOptions, 'endpoint'>>;
  readonly #ids: SessionIdStore;
  #sid: string;
  #state: StasisState = 'starting';
  #gen: number | undefined;
  #custody: Promise<CustodyChoice> | undefined;
  /** The custody once chosen: lets the hide path post its message synchronously, before any await. */
  #resolvedCustody: CustodyApi | undefined;
  #custodyKind: CustodyKind = 'none';
  #intent: 'here' | 'away' = 'here';
  #lastOutcome: Outcome | 'none' | undefined;
  #lastMessage: string | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryCount = 0;
  #resuming = false;
  #stopWatching: (() => void) | undefined;
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
    };
    this.#ids = new SessionIdStore(`stasis:sid:${this.endpoint}`);
    this.#sid = this.#ids.current();
    this.#firstReady = new Promise((resolve) => (this.#resolveFirstReady = resolve));
  }

  /** The tab's session id: pass it to your live channel (e.g. `?sid=`). */
  get sid(): string {
    return this.#sid;
  }

  get status(): StasisStatus {
    return {
      state: this.#state,
      sid: this.#sid,
      gen: this.#gen,
      custody: this.#custodyKind,
      online: typeof navigator === 'undefined' ? true : navigator.onLine,
      lastOutcome: this.#lastOutcome,
      lastMessage: this.#lastMessage,
    };
  }

  /** Resolves the first time the session is usable (resumed or new): connect your live channel then. */
  ready(): Promise<StasisStatus> {
    return this.#firstReady;
  }

  /** Starts watching the page and resumes a stored session if there is one. Idempotent. */
  start(): Promise<StasisStatus> {
    if (!this.#stopWatching) {
      this.#stopWatching = watchLifecycle((context) => this.#onSignal(context));
      const visible = document.visibilityState === 'visible';
      this.#onSignal({ signal: 'load', persisted: false, visible });
      if (!visible) this.#intent = 'away'; // loaded in the background: resume when first shown
    }
    return this.#firstReady;
  }

  stop(): void {
    this.#stopWatching?.();
    this.#stopWatching = undefined;
    clearTimeout(this.#retryTimer);
  }

  /** `addEventListener` with the event type checked; returns a function that removes the listener. */
  on(type: StasisEventType, listener: Listener): () => void {
    const fn = (event: Event) => listener(event as StasisEvent);
    this.addEventListener(type, fn);
    return () => this.removeEventListener(type, fn);
  }

  /** Developer helpers: run a real cycle from the console, whatever the page's visibility. */
  readonly debug = {
    hibernate: () => {
      this.#intent = 'away';
      return this.#hibernate();
    },
    resume: () => {
      this.#intent = 'here';
      return this.#resume();
    },
    peek: async () => (await this.#api()).peek(this.#sid),
  };

  #onSignal(context: SignalContext): void {
    if (context.signal === 'offline' || context.signal === 'online') this.#setState(this.#state); // banner text
    const action = this.#options.policy(context);
    if (action === 'hibernate') {
      if (this.#intent === 'away') return; // hidden + pagehide + freeze: one hibernate
      this.#intent = 'away';
      clearTimeout(this.#retryTimer);
      void this.#hibernate();
    } else if (action === 'resume') {
      // load + pageshow + visible can arrive together: one resume at a time is enough.
      if (this.#intent === 'here' && (this.#resuming || !this.#mayNeedResume())) return;
      this.#intent = 'here';
      void this.#resume();
    }
  }

  #mayNeedResume(): boolean {
    return this.#state === 'starting' || this.#state === 'hibernated' || this.#state === 'waiting' || this.#state === 'hibernating';
  }

  async #hibernate(): Promise<void> {
    if (this.#state === 'starting' && !this.#custody) return; // nothing can be live yet
    if (this.#state === 'hibernated' || this.#state === 'waiting') return; // the blob is already kept
    const sid = this.#sid;
    this.#setState('hibernating');
    this.#emit('hibernating', 'pending', { phase: 'hibernate' });
    // When custody is ready this sends synchronously: the page may be frozen right after this line.
    const custody = this.#resolvedCustody;
    const request = { endpoint: this.endpoint, sid };
    const result: HibernateResult = await (custody ? custody.hibernate(request) : this.#api().then((api) => api.hibernate(request))).catch(
      unexpected,
    );
    if (sid !== this.#sid) return;
    this.#record(result.outcome, result.message);
    if (result.outcome === 'ok') {
      this.#gen = result.gen;
      if (this.#state === 'hibernating') this.#setState('hibernated');
      this.#emit('hibernated', 'ok', { phase: 'hibernate', gen: result.gen, bytes: result.bytes });
      return;
    }
    // Nothing was stored; the server session (if any) is still live.
    if (this.#state === 'hibernating') this.#setState('live');
    if (result.outcome !== 'no-session') {
      this.#emit('failed', result.outcome, { phase: 'hibernate', message: result.message });
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

  async #resumeOnce(): Promise<void> {
    clearTimeout(this.#retryTimer);
    const sid = this.#sid;
    const api = await this.#api();
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
      this.#ready(this.#gen === undefined ? 'new' : 'live');
    } else if (result.outcome === 'ok') {
      this.#retryCount = 0;
      this.#gen = result.gen;
      this.#setState('live');
      this.#emit('resumed', 'ok', { phase: 'resume', gen: result.gen });
      this.#ready('resumed');
    } else if (!isFinal(result.outcome)) {
      this.#setState('waiting');
      this.#scheduleRetry();
    } else {
      // The blob is gone for good: start a new session under a new id, so no two tabs ever share one.
      this.#sid = this.#ids.renew();
      this.#gen = undefined;
      this.#setState('live');
      const graceful = result.outcome === 'schema-reset';
      this.#emit(graceful ? 'reset' : 'failed', result.outcome, { phase: 'resume', message: result.message });
      this.#ready(graceful ? 'reset' : 'failed');
    }
  }

  #scheduleRetry(): void {
    clearTimeout(this.#retryTimer);
    const base = Math.min(this.#options.maxRetryDelayMs, 1000 * 2 ** Math.min(this.#retryCount++, 10));
    const delay = base * (0.8 + Math.random() * 0.4); // jitter: a fleet of tabs must not retry in step
    this.#retryTimer = setTimeout(() => {
      if (this.#intent === 'here' && this.#state === 'waiting') void this.#resume();
    }, delay);
  }

  #api(): Promise<CustodyApi> {
    this.#custody ??= openCustody(this.#options.serviceWorker || undefined, this.#options.callTimeoutMs).then((choice) => {
      this.#custodyKind = choice.kind;
      this.#resolvedCustody = choice.api;
      if (choice.fallbackReason) this.#lastMessage = `blobs kept by the page: ${choice.fallbackReason}`;
      return choice;
    });
    return this.#custody.then((choice) => choice.api);
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
