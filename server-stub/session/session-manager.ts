import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  CLOSE_CODES,
  PROTOCOL_VERSION,
  PUSH_MESSAGE,
  type PushedBlob,
  type HibernateOk,
  type ResumeOk,
  type SessionReport,
} from '../../src/protocol/index.js';
import type { Codec } from '../codec/json-codec.js';
import { open, seal, type SealedSession } from '../envelope/envelope.js';
import type { KeyRing } from '../envelope/key-ring.js';
import { StasisCodecError, StasisError } from '../errors.js';
import type { Ledger } from '../ledger.js';
import type { Logger } from '../logger.js';
import { Metrics } from '../metrics.js';
import { Session, type LiveChannel, type StasisApp } from './session.js';
import { decodeStoredValues, StateRegistry, type CodecLookup } from './state-registry.js';

export interface SessionManagerOptions {
  ring: KeyRing;
  app: StasisApp;
  audience: string;
  schema: string;
  ttlSeconds: number;
  maxBlobBytes: number;
  warnBlobBytes: number;
  retentionMs: number;
  /** Live sessions one browser (binding) may hold; new ones beyond it are refused. Default: no cap. */
  maxSessionsPerBrowser?: number;
  /** Sessions with no app event for this long are hibernated by the server (blob pushed). 0: never. */
  idleMs?: number;
  metrics?: Metrics;
  ledger: Ledger;
  codecs: CodecLookup;
  defaultCodec: Codec;
  logger: Logger;
  now?: () => number;
}

/**
 * The live pool and the hibernate/resume rules. Transport-neutral: HTTP and WebSocket code call in here.
 */
export class SessionManager {
  readonly #live = new Map<string, Session>();
  /** Blobs handed out and not yet resumed, by sid: for metrics and reports only, never for decisions. */
  readonly #hibernated = new Map<string, { gen: number; exp: number }>();
  readonly #retention = new Map<string, NodeJS.Timeout>();
  /** Newest generation resumed per sid (until it could no longer matter): older blobs are `stale`. */
  readonly #newestResumed = new Map<string, { gen: number; until: number }>();
  /** Live sids per browser binding, for the per-browser cap. */
  readonly #byBrowser = new Map<string, Set<string>>();
  readonly #now: () => number;
  readonly metrics: Metrics;
  #nextPrune = 0;
  #draining = false;
  #idleSweep: NodeJS.Timeout | undefined;

  constructor(private readonly options: SessionManagerOptions) {
    this.#now = options.now ?? Date.now;
    this.metrics = options.metrics ?? new Metrics();
    const idleMs = options.idleMs ?? 0;
    if (idleMs > 0) {
      this.#idleSweep = setInterval(() => void this.hibernateIdle(), Math.max(1000, Math.min(30_000, idleMs / 4)));
      this.#idleSweep.unref();
    }
  }

  /**
   * Server-side idle policy: every session whose last app event (connect or message) is older than the idle
   * timeout is sealed, its blob pushed over its channels, which then close with 4008. Returns how many.
   */
  async hibernateIdle(): Promise<number> {
    const idleMs = this.options.idleMs ?? 0;
    if (idleMs <= 0 || this.#draining) return 0;
    const cutoff = this.#now() - idleMs;
    let count = 0;
    for (const session of [...this.#live.values()]) {
      if (session.sealing || session.lastActivity > cutoff || session.channels.size === 0) continue;
      try {
        await this.#push(session, 'idle', CLOSE_CODES.idle);
        count++;
      } catch (error) {
        this.options.logger.warn(`idle: session ${short(session.sid)} stays live: ${(error as Error).message}`);
      }
    }
    return count;
  }

  /** Seals a session, pushes the blob over its channels, then closes them with `closeCode`. */
  async #push(session: Session, reason: PushedBlob['reason'], closeCode: number): Promise<HibernateOk> {
    try {
      const ok = await this.#seal(session, session.browser ?? '', closeCode, reason === 'drain' ? 'draining' : 'idle', (sealed) => {
        const message: PushedBlob = { type: PUSH_MESSAGE, reason, sid: sealed.sid, gen: sealed.gen, exp: sealed.exp, blob: sealed.blob };
        session.send(message);
      });
      this.metrics.hibernation(reason, 'ok', ok.blob.length);
      return ok;
    } catch (error) {
      this.metrics.hibernation(reason, error instanceof StasisError ? error.code : 'unavailable');
      throw error;
    }
  }

  /**
   * Attaches a live channel to the session `sid`, starting a new session (gen 1) when none is live.
   * `binding` is the browser's binding secret, when the request carried one.
   */
  connect(sid: string, channel: LiveChannel, binding?: string): Session {
    if (this.#draining) throw new StasisError('unavailable', 'This server is shutting down.');
    let session = this.#live.get(sid);
    if (session?.sealing) throw new StasisError('no-session', 'The session is hibernating; resume it first.');
    if (!session) {
      const browser = binding === undefined ? undefined : bindingHash(binding);
      const cap = this.options.maxSessionsPerBrowser ?? Infinity;
      if (browser && (this.#byBrowser.get(browser)?.size ?? 0) >= cap) {
        throw new StasisError('rate-limited', `This browser already holds ${cap} live sessions; close a tab first.`);
      }
      session = this.#build(sid, 1, new Map(), browser);
      this.#add(session);
      this.#hibernated.delete(sid);
    }
    this.#cancelRetention(sid);
    session.channels.add(channel);
    session.lastActivity = this.#now();
    this.#safely(session, () => session.handlers.onConnect?.());
    return session;
  }

  disconnect(session: Session, channel: LiveChannel): void {
    session.channels.delete(channel);
    if (session.channels.size === 0 && this.#live.get(session.sid) === session) this.#startRetention(session);
  }

  async deliver(session: Session, message: unknown): Promise<void> {
    if (session.sealing || session.signal.aborted) return;
    session.lastActivity = this.#now();
    await this.#safely(session, () => session.handlers.onMessage?.(message));
  }

  /** Seals a live session into a blob and frees it. Throws StasisError with a protocol code. */
  async hibernate(sid: string, binding: string, options: { keepChannels?: boolean } = {}): Promise<HibernateOk> {
    if (this.#draining) throw new StasisError('unavailable', 'This server is shutting down; try another instance.');
    const session = this.#live.get(sid);
    if (!session || session.sealing) throw new StasisError('no-session', 'No live session with this id.');
    return this.#seal(session, bindingHash(binding), options.keepChannels ? undefined : CLOSE_CODES.hibernated, 'hibernated');
  }

  /**
   * Drain: seals every live session, pushes each blob over its live channels, closes them with 4007 and
   * waits (at most `timeoutMs`) until the channels have closed, so the blobs are out. From now on the
   * server refuses new sessions, hibernates and resumes with `unavailable`: clients go to another instance.
   */
  async drain(timeoutMs: number): Promise<{ sessions: number; pushed: number; failed: number; flushed: boolean }> {
    this.#draining = true;
    const sessions = [...this.#live.values()].filter((s) => !s.sealing);
    const closed: Promise<void>[] = [];
    let pushed = 0;
    let failed = 0;
    for (const [i, session] of sessions.entries()) {
      const channels = [...session.channels];
      try {
        await this.#push(session, 'drain', CLOSE_CODES.draining);
        pushed++;
        for (const channel of channels) if (channel.whenClosed) closed.push(channel.whenClosed);
      } catch (error) {
        failed++;
        this.options.logger.error(`drain: session ${short(session.sid)} could not be sealed: ${(error as Error).message}`);
      }
      if (i % 64 === 63) await new Promise((resolve) => setImmediate(resolve)); // let sockets write meanwhile
    }
    let timer: NodeJS.Timeout | undefined;
    const started = this.#now();
    const flushed = await Promise.race([
      Promise.all(closed).then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    this.metrics.drained((this.#now() - started) / 1000);
    return { sessions: sessions.length, pushed, failed, flushed };
  }

  get draining(): boolean {
    return this.#draining;
  }

  async #seal(
    session: Session,
    bid: string,
    closeCode: number | undefined,
    reason: 'hibernated' | 'draining' | 'idle',
    beforeClose?: (ok: HibernateOk) => void,
  ): Promise<HibernateOk> {
    const { sid } = session;
    session.sealing = true;
    try {
      const values = session.state.encodeAll();
      const iat = Math.floor(this.#now() / 1000);
      const sealed: SealedSession = {
        v: PROTOCOL_VERSION,
        sid,
        gen: session.gen,
        jti: randomBytes(16).toString('base64url'),
        iat,
        exp: iat + this.options.ttlSeconds,
        aud: this.options.audience,
        bid,
        schema: this.options.schema,
        values,
      };
      const blob = await seal(sealed, this.options.ring);
      if (blob.length > this.options.maxBlobBytes) {
        throw new StasisError(
          'too-large',
          `The session's blob is ${blob.length} bytes, over the ${this.options.maxBlobBytes}-byte limit; it stays live. Persist less (inputs, not outputs).`,
        );
      }
      // While this seal was running a resume may have replaced the session: hand nothing out then.
      if (this.#live.get(sid) !== session || session.signal.aborted) {
        throw new StasisError('no-session', 'The session was replaced while it was being hibernated.');
      }
      if (blob.length > this.options.warnBlobBytes) {
        this.options.logger.warn(`session ${short(sid)}: blob of ${blob.length} bytes is over the warning size ${this.options.warnBlobBytes}.`);
      }
      const ok: HibernateOk = { outcome: 'ok', sid, gen: session.gen, exp: sealed.exp, blob };
      beforeClose?.(ok);
      this.#remove(session);
      this.#cancelRetention(sid);
      session.end(reason, closeCode);
      this.#hibernated.set(sid, { gen: session.gen, exp: sealed.exp });
      this.#prune();
      return ok;
    } catch (error) {
      session.sealing = false;
      if (error instanceof StasisCodecError) throw new StasisError('unserializable', error.message);
      throw error;
    }
  }

  /** Verifies a blob and restores its session with gen + 1. All or nothing; throws StasisError. */
  async resume(sid: string, blob: string, binding: string | undefined): Promise<ResumeOk> {
    if (this.#draining) throw new StasisError('unavailable', 'This server is shutting down; try another instance.');
    if (blob.length > this.options.maxBlobBytes) throw new StasisError('too-large', 'The blob is over the size limit.');
    const sealed = await open(blob, this.options.ring);
    if (sealed.aud !== this.options.audience) {
      throw new StasisError('wrong-binding', `The blob belongs to app "${sealed.aud}", not "${this.options.audience}".`);
    }
    if (sealed.sid !== sid) throw new StasisError('wrong-binding', 'The blob belongs to another session.');
    if (!binding || !sameSecret(bindingHash(binding), sealed.bid)) {
      throw new StasisError('wrong-binding', 'The blob was issued to another browser.');
    }
    if (sealed.exp * 1000 <= this.#now()) throw new StasisError('expired', 'The blob has expired.');
    if (sealed.schema !== this.options.schema) {
      throw new StasisError(
        'schema-reset',
        `The blob has schema "${sealed.schema}"; this server runs "${this.options.schema}". Starting fresh.`,
      );
    }
    const restored = decodeStoredValues(sealed.values, this.options.codecs);
    const browser = bindingHash(binding);
    const cap = this.options.maxSessionsPerBrowser ?? Infinity;
    const others = [...(this.#byBrowser.get(browser) ?? [])].filter((other) => other !== sid).length;
    if (others >= cap) throw new StasisError('rate-limited', `This browser already holds ${cap} live sessions; close a tab first.`);
    this.#prune();
    if (!(await this.options.ledger.consume(sealed.jti, sealed.exp * 1000))) {
      throw new StasisError('replayed', 'This blob was already resumed once.');
    }
    const newest = this.#newestResumed.get(sid);
    if (newest && newest.until > this.#now() && sealed.gen <= newest.gen) {
      throw new StasisError('stale', `Generation ${newest.gen} of this session was already resumed; this blob (gen ${sealed.gen}) is older.`);
    }
    let session: Session;
    try {
      session = this.#build(sid, sealed.gen + 1, restored, browser);
    } catch (error) {
      // The app failed, not the blob: give the blob back so the client's retry can succeed.
      await this.options.ledger.release(sealed.jti);
      throw error;
    }
    this.#newestResumed.set(sid, { gen: sealed.gen, until: this.#now() + this.options.ttlSeconds * 1000 });
    const previous = this.#live.get(sid);
    if (previous) {
      this.#remove(previous);
      previous.end('superseded', CLOSE_CODES.superseded);
    }
    this.#hibernated.delete(sid);
    this.#add(session);
    this.#startRetention(session);
    return { outcome: 'ok', sid, gen: session.gen };
  }

  report(sid: string): SessionReport {
    const session = this.#live.get(sid);
    if (session) return { sid, state: 'live', gen: session.gen, channels: session.channels.size };
    const hibernated = this.#hibernatedEntry(sid);
    if (hibernated) return { sid, state: 'hibernated', gen: hibernated.gen };
    return { sid, state: 'unknown' };
  }

  get liveCount(): number {
    return this.#live.size;
  }

  get hibernatedCount(): number {
    this.#prune(true);
    return this.#hibernated.size;
  }

  /** Drops bookkeeping for blobs that have expired anyway (at most once a minute unless forced). */
  #prune(force = false): void {
    const now = this.#now();
    if (!force && now < this.#nextPrune) return;
    this.#nextPrune = now + 60_000;
    for (const [sid, entry] of this.#hibernated) if (entry.exp * 1000 <= now) this.#hibernated.delete(sid);
    for (const [sid, entry] of this.#newestResumed) if (entry.until <= now) this.#newestResumed.delete(sid);
  }

  /** Ends every live session (process shutdown). */
  closeAll(): void {
    clearInterval(this.#idleSweep);
    for (const timer of this.#retention.values()) clearTimeout(timer);
    this.#retention.clear();
    for (const session of this.#live.values()) session.end('closed', 1001);
    this.#live.clear();
    this.#byBrowser.clear();
  }

  /** Creates a session and runs the app's factory on it; the caller puts it in the live pool. */
  #build(sid: string, gen: number, restored: Map<string, { codec: string; value: unknown }>, browser?: string): Session {
    const wasRestored = restored.size > 0 || gen > 1;
    const state = new StateRegistry(this.options.codecs, this.options.defaultCodec, restored);
    const session = new Session(sid, gen, wasRestored, state, browser);
    // The app defines its persisted values here; restored ones are handed back by define().
    session.handlers = this.options.app(session) ?? {};
    for (const key of restored.keys()) {
      this.options.logger.warn(`session ${short(sid)}: restored value "${key}" was not defined by the app and is dropped.`);
    }
    return session;
  }

  #add(session: Session): void {
    this.#live.set(session.sid, session);
    if (!session.browser) return;
    let sids = this.#byBrowser.get(session.browser);
    if (!sids) this.#byBrowser.set(session.browser, (sids = new Set()));
    sids.add(session.sid);
  }

  #remove(session: Session): void {
    if (this.#live.get(session.sid) === session) this.#live.delete(session.sid);
    if (!session.browser) return;
    const sids = this.#byBrowser.get(session.browser);
    sids?.delete(session.sid);
    if (sids?.size === 0) this.#byBrowser.delete(session.browser);
  }

  #hibernatedEntry(sid: string): { gen: number; exp: number } | undefined {
    const entry = this.#hibernated.get(sid);
    if (entry && entry.exp * 1000 <= this.#now()) {
      this.#hibernated.delete(sid);
      return undefined;
    }
    return entry;
  }

  // A session left with no channel stays live for the retention window, then is dropped.
  #startRetention(session: Session): void {
    this.#cancelRetention(session.sid);
    const timer = setTimeout(() => {
      this.#retention.delete(session.sid);
      if (this.#live.get(session.sid) !== session || session.channels.size > 0) return;
      this.#remove(session);
      session.end('expired', 1001);
      this.options.logger.info(`session ${short(session.sid)}: no channel for ${this.options.retentionMs} ms, dropped.`);
    }, this.options.retentionMs);
    timer.unref();
    this.#retention.set(session.sid, timer);
  }

  #cancelRetention(sid: string): void {
    const timer = this.#retention.get(sid);
    if (timer) clearTimeout(timer);
    this.#retention.delete(sid);
  }

  async #safely(session: Session, fn: () => unknown): Promise<void> {
    try {
      await fn();
    } catch (error) {
      this.options.logger.error(`session ${short(session.sid)}: app handler failed: ${(error as Error)?.stack ?? error}`);
    }
  }
}

export function bindingHash(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function short(sid: string): string {
  return sid.slice(0, 6);
}
