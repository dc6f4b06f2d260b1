import { createHash, randomBytes } from 'node:crypto';
import {
  CLOSE_CODES,
  PUSH_MESSAGE,
  type PushedBlob,
  type HibernateOk,
  type ResumeOk,
  type SessionReport,
} from '../../src/protocol/index.js';
import type { Codec } from '../codec/json-codec.js';
import type { SealedSession } from '../envelope/envelope.js';
import type { KeyRing } from '../envelope/key-ring.js';
import { StasisError } from '../errors.js';
import { LocalFleet, type Fleet, type HandoverReply, type HandoverRequest } from '../fleet/fleet.js';
import type { Ledger, LedgerClaim } from '../ledger.js';
import type { Logger } from '../logger.js';
import { Metrics } from '../metrics.js';
import type { StoreChain } from '../store/store-chain.js';
import { bindingHash, SessionSealer } from './session-sealer.js';
import { Session, type AppHandlers, type EndReason, type LiveChannel, type StasisApp } from './session.js';
import { decodeStoredValues, StateRegistry, type CodecLookup } from './state-registry.js';

/** How often owner records Redis lost are written again (the window a restarted-empty Redis leaves open). */
export const OWNER_RECLAIM_MS = 5000;

export interface SessionManagerOptions {
  ring: KeyRing;
  app: StasisApp<unknown>;
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
  /** Where a session whose channels all dropped goes after the retention window. None: it is dropped. */
  stores?: StoreChain;
  /** Other instances (a shared Redis): who holds which live session, and handovers. Default: this process alone. */
  fleet?: Fleet;
  /** Push a checkpoint blob to live pages at most this often, when their state changed. 0: off. */
  checkpointMs?: number;
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
  /** Connects and resumes of one sid run one at a time (each may ask the fleet and the stores first). */
  readonly #busy = new Map<string, Promise<unknown>>();
  readonly #fleet: Fleet;
  readonly #sealer: SessionSealer;
  /** Live sids per browser binding, for the per-browser cap. */
  readonly #byBrowser = new Map<string, Set<string>>();
  readonly #now: () => number;
  readonly metrics: Metrics;
  #nextPrune = 0;
  #draining = false;
  #idleSweep: NodeJS.Timeout | undefined;
  #checkpointTimer: NodeJS.Timeout | undefined;
  #reclaimTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: SessionManagerOptions) {
    this.#now = options.now ?? Date.now;
    this.metrics = options.metrics ?? new Metrics();
    this.#fleet = options.fleet ?? new LocalFleet();
    this.#sealer = new SessionSealer({ ...options, now: this.#now });
    this.#fleet.serve(
      (request) => this.#serveHandover(request),
      (sealed) => void this.#keepUndelivered(sealed),
    );
    const idleMs = options.idleMs ?? 0;
    if (idleMs > 0) {
      this.#idleSweep = setInterval(() => void this.hibernateIdle(), Math.max(1000, Math.min(30_000, idleMs / 4)));
      this.#idleSweep.unref();
    }
    if (this.#fleet.shared) {
      this.#reclaimTimer = setInterval(() => void this.reclaimOwnership(), OWNER_RECLAIM_MS);
      this.#reclaimTimer.unref();
    }
    const checkpointMs = options.checkpointMs ?? 0;
    if (checkpointMs > 0) {
      this.#checkpointTimer = setInterval(() => void this.checkpointAll(), checkpointMs);
      this.#checkpointTimer.unref();
    }
  }

  /**
   * Checkpoints: seals every live session whose values changed since its last checkpoint and pushes the blob
   * over its channels, leaving the session live. If this instance then dies without a drain (SIGKILL, a
   * crash), the page hands the newest checkpoint to another instance. Returns how many were pushed.
   */
  async checkpointAll(): Promise<number> {
    if (this.#draining) return 0;
    let count = 0;
    for (const session of [...this.#live.values()]) if (await this.#checkpoint(session)) count++;
    return count;
  }

  /** Pushes a checkpoint of one live session when its values changed since its last one. */
  async #checkpoint(session: Session): Promise<boolean> {
    if (session.sealing || session.channels.size === 0 || session.signal.aborted) return false;
    try {
      const values = session.state.encodeAll();
      const digest = createHash('sha256').update(JSON.stringify(values)).digest('base64url');
      if (digest === session.checkpointDigest) return false;
      const { ok } = await this.#sealer.seal(session, session.browser ?? '', values);
      if (this.#live.get(session.sid) !== session || session.sealing || session.signal.aborted) return false;
      const message: PushedBlob = { type: PUSH_MESSAGE, reason: 'checkpoint', sid: ok.sid, gen: ok.gen, exp: ok.exp, blob: ok.blob };
      session.send(message);
      session.checkpointDigest = digest;
      this.metrics.checkpoint('ok', ok.blob.length);
      return true;
    } catch (error) {
      this.metrics.checkpoint(error instanceof StasisError ? error.code : 'unavailable');
      this.options.logger.warn(`checkpoint: session ${short(session.sid)}: ${(error as Error).message}`);
      return false;
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
  async #push(session: Session, reason: 'drain' | 'idle', closeCode: number): Promise<HibernateOk> {
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
   * Attaches a live channel to the session `sid`. When no session with that id is live here, it is looked
   * for in the fleet (another instance hands it over) and then in the server stores (a session whose channel
   * dropped); only then does a new session (gen 1) start. `binding` is the browser's binding secret.
   */
  connect(sid: string, channel: LiveChannel, binding?: string): Promise<Session> {
    if (this.#draining) return Promise.reject(new StasisError('unavailable', 'This server is shutting down.'));
    return this.#oneAtATime(sid, async () => {
      if (this.#draining) throw new StasisError('unavailable', 'This server is shutting down.');
      let session = this.#live.get(sid);
      if (session?.sealing) throw new StasisError('no-session', 'The session is hibernating; resume it first.');
      if (session && !(await this.#stillOurs(session))) {
        this.#drop(session, 'superseded', CLOSE_CODES.superseded);
        session = undefined;
      }
      const browser = binding === undefined ? undefined : bindingHash(binding);
      if (session?.browser && browser && session.browser !== browser) {
        // Knowing a sid is not enough: a live session only takes channels from the browser that holds it.
        throw new StasisError('wrong-binding', 'The session belongs to another browser.');
      }
      if (!session) session = await this.#recover(sid, binding);
      if (!session) {
        const cap = this.options.maxSessionsPerBrowser ?? Infinity;
        if (browser && (this.#byBrowser.get(browser)?.size ?? 0) >= cap) {
          throw new StasisError('rate-limited', `This browser already holds ${cap} live sessions; close a tab first.`);
        }
        session = this.#build(sid, await this.#freshGeneration(sid), new Map(), browser, false);
        // A new session holds nothing to lose: with the fleet directory down it still starts (availability
        // first) and the reclaim sweep records it once Redis answers again.
        await this.#add(session, false);
        this.#hibernated.delete(sid);
        this.#debug(sid, `connect: new session at gen ${session.gen}`);
      } else {
        this.#debug(sid, `connect: attached at gen ${session.gen}`);
      }
      this.#cancelRetention(sid);
      session.channels.add(channel);
      session.lastActivity = this.#now();
      const attached = session;
      this.#safely(attached, () => attached.handlers.onConnect?.());
      // A restored session's only copy is this memory until the page holds a checkpoint of it (the page's blob
      // was used up by the resume): with checkpoints on, push the first one now rather than at the next tick.
      if ((this.options.checkpointMs ?? 0) > 0 && attached.restored && attached.checkpointDigest === undefined) {
        void this.#checkpoint(attached);
      }
      return attached;
    });
  }

  /**
   * A live connect for a sid this instance does not hold: takes the session over from the instance that
   * holds it, else from the server stores. Undefined when neither has it (or what they have cannot resume).
   */
  async #recover(sid: string, binding: string | undefined): Promise<Session | undefined> {
    if (!binding) return undefined; // without the browser's binding no blob of it could resume anyway
    let blob: string | undefined;
    let from: 'fleet' | 'store' = 'fleet';
    try {
      blob = await this.#takeOver(sid, bindingHash(binding));
      if (!blob) {
        from = 'store';
        blob = await this.#peekStored(sid, binding, undefined, true);
      }
    } catch (error) {
      // Another browser's session is live elsewhere under this sid: refuse rather than start a rival copy.
      if (error instanceof StasisError && error.code === 'wrong-binding') throw error;
      // The fleet or every store is down: this page starts fresh rather than waits (availability first).
      this.options.logger.warn(`connect: session ${short(sid)} could not be looked up (${(error as Error).message}); starting fresh`);
      return undefined;
    }
    if (!blob) return undefined;
    let sealed: SealedSession | undefined;
    try {
      sealed = await this.#sealer.verify(sid, blob, binding);
      const session = await this.#restore(sealed, binding);
      if (from === 'store') await this.#removeStored(sid, blob);
      this.metrics.recovered(from, 'ok');
      this.options.logger.info(`session ${short(sid)}: restored from the ${from === 'fleet' ? 'instance that held it' : 'server store'} at gen ${session.gen}`);
      return session;
    } catch (error) {
      const code = error instanceof StasisError ? error.code : 'unavailable';
      this.metrics.recovered(from, code);
      this.options.logger.warn(`connect: session ${short(sid)} from the ${from} did not restore: ${(error as Error).message}`);
      // A stored copy that can never restore (used up, older than what was resumed) is cleared away.
      if (from === 'store' && (code === 'replayed' || code === 'stale')) await this.#removeStored(sid, blob);
      // Not restored for a reason of ours (draining, a store or ledger outage): the session exists, so a fresh
      // one would be its rival; the page connects again. A handed-over blob left its last home for this
      // connect: it goes to the stores rather than be lost.
      if (sealed && code === 'unavailable') {
        if (from === 'fleet') await this.#keepUndelivered({ outcome: 'ok', sid, gen: sealed.gen, exp: sealed.exp, blob });
        throw error;
      }
      if (this.#draining) throw error; // no fresh session on a draining instance
      return undefined;
    }
  }

  /**
   * The blob the stores keep for `sid` when it verifies for this browser (and is newer than `than`, if given).
   * Only looks: the copy stays until a restore from it succeeded (`#removeStored`), so a store step whose
   * outcome is unknown (a timeout) can never lose it. With `refuseForeign` another browser's copy is refused
   * (`wrong-binding`) rather than given a rival session.
   */
  async #peekStored(sid: string, binding: string, than?: { gen: number; exp: number }, refuseForeign = false): Promise<string | undefined> {
    const stores = this.options.stores;
    if (!stores || stores.isEmpty) return undefined;
    const kept = await stores.peek(sid);
    if (!kept || (than && (kept.gen < than.gen || (kept.gen === than.gen && kept.exp < than.exp)))) return undefined;
    try {
      await this.#sealer.verify(sid, kept.blob, binding);
    } catch (error) {
      this.#debug(sid, `stores: the kept blob does not verify here (${(error as Error).message}); left in place`);
      if (refuseForeign && error instanceof StasisError && error.code === 'wrong-binding') throw error;
      return undefined;
    }
    return kept.blob;
  }

  /**
   * Removes a stored copy once it restored (or turned out used up). Best effort: a copy left behind is refused
   * by the ledger later. A newer copy that arrived meanwhile is put back.
   */
  async #removeStored(sid: string, blob: string): Promise<void> {
    const stores = this.options.stores;
    if (!stores) return;
    try {
      const taken = await stores.take(sid);
      if (taken && taken.blob !== blob) await stores.put(sid, taken);
    } catch (error) {
      this.#debug(sid, `stores: the restored copy could not be removed (${(error as Error).message})`);
    }
  }

  /**
   * Asks the instance holding `sid` live (if another one does) to seal it and hand the blob over. With `blob`
   * (a resume), the owner hands over only a live copy at least as new as that blob.
   */
  async #takeOver(sid: string, bid: string, blob?: { gen: number; inc: string | undefined }): Promise<string | undefined> {
    if (!this.#fleet.shared) return undefined;
    let owner: string | undefined;
    try {
      owner = await this.#fleet.owner(sid);
    } catch (error) {
      throw new StasisError('unavailable', `The fleet directory is unavailable: ${(error as Error).message}`);
    }
    if (!owner || owner === this.#fleet.instanceId) return undefined;
    const reply = await this.#askOwner(owner, {
      sid,
      purpose: 'takeover',
      bid,
      ...(blob ? { gen: blob.gen, ...(blob.inc ? { incarnation: blob.inc } : {}) } : {}),
    });
    this.#debug(sid, `takeover from ${owner}: ${reply ? reply.outcome : 'gone'}${reply?.outcome === 'ok' ? ` gen ${reply.gen}` : ''}`);
    if (reply?.outcome === 'wrong-binding') throw new StasisError('wrong-binding', reply.message);
    return reply?.outcome === 'ok' ? reply.blob : undefined;
  }

  /** Another instance asks for a session this one holds live. */
  async #serveHandover(request: HandoverRequest): Promise<HandoverReply> {
    const session = this.#live.get(request.sid);
    this.#debug(request.sid, `handover asked (${request.purpose}): ${session ? `live at gen ${session.gen}${session.sealing ? ', sealing' : ''}` : 'not here'}`);
    if (!session || session.sealing || this.#draining) return { outcome: 'no-session', message: 'Not live on this instance.' };
    if (request.purpose === 'probe') return { outcome: 'no-session', message: 'Live here; it stays.', kept: session.gen };
    if (request.purpose === 'takeover') {
      if (session.browser && session.browser !== request.bid) {
        return { outcome: 'wrong-binding', message: 'The session belongs to another browser.' };
      }
      // A resume names its blob: the live copy wins over a checkpoint of itself, yields to a blob at least as
      // new from another incarnation (the ledger then decides), and stays put for an older one (the asker's
      // ledger answers `stale` or `replayed`; a replayed blob must not move or end a live session).
      const checkpointOfThis = request.incarnation !== undefined && request.incarnation === session.incarnation;
      if (request.gen !== undefined && !checkpointOfThis) {
        if (request.gen < session.gen) return { outcome: 'no-session', message: 'The copy live here is newer; it stays.', kept: session.gen };
        this.#drop(session, 'superseded', CLOSE_CODES.superseded);
        return { outcome: 'no-session', message: 'The copy live here was not newer; it was dropped.' };
      }
      return this.#seal(session, session.browser ?? request.bid, CLOSE_CODES.superseded, 'superseded');
    }
    if (session.browser && session.browser !== request.bid) {
      return { outcome: 'wrong-binding', message: 'The session belongs to another browser.' };
    }
    return this.#seal(session, request.bid, request.keepChannels ? undefined : CLOSE_CODES.hibernated, 'hibernated');
  }

  /** Asks another instance for a session; a reply that never comes counts as `timeout` and fails the caller. */
  async #askOwner(owner: string, request: HandoverRequest): Promise<HandoverReply | undefined> {
    let reply: HandoverReply | undefined;
    try {
      reply = await this.#fleet.handover(owner, request);
    } catch (error) {
      this.metrics.handover(request.purpose, 'timeout');
      this.#debug(request.sid, `${request.purpose}: asked ${owner}: ${(error as Error).message}`);
      throw error;
    }
    this.metrics.handover(request.purpose, reply ? reply.outcome : 'gone');
    return reply;
  }

  /** A session sealed for another instance that never got it: keep it in the stores, where a reconnect looks. */
  async #keepUndelivered(sealed: HibernateOk): Promise<void> {
    try {
      if (!this.options.stores || this.options.stores.isEmpty) throw new Error('no store configured');
      await this.options.stores.put(sealed.sid, { blob: sealed.blob, gen: sealed.gen, exp: sealed.exp });
      this.options.logger.warn(`session ${short(sealed.sid)}: a handover was not delivered; kept in the stores`);
    } catch (error) {
      this.metrics.retired('lost');
      this.options.logger.error(`session ${short(sealed.sid)}: LOST: a handover was not delivered and ${(error as Error).message}`);
    }
  }

  /** Generation of a new, empty session: past any earlier one of this sid (see Ledger.fresh). */
  async #freshGeneration(sid: string): Promise<number> {
    try {
      return await this.options.ledger.fresh(sid);
    } catch (error) {
      this.options.logger.warn(`connect: session ${short(sid)}: the ledger is unavailable (${(error as Error).message}); starting at gen 1`);
      return 1;
    }
  }

  /** False when the fleet says another instance took this session over: the copy here is stale. */
  async #stillOurs(session: Session): Promise<boolean> {
    if (!this.#fleet.shared) return true;
    try {
      const owner = await this.#fleet.owner(session.sid);
      return owner === undefined || owner === this.#fleet.instanceId;
    } catch {
      return true; // the fleet is down: trust the copy we have
    }
  }

  disconnect(session: Session, channel: LiveChannel): void {
    session.channels.delete(channel);
    if (session.channels.size === 0 && this.#live.get(session.sid) === session) this.#startRetention(session);
  }

  /** Activity on a live channel that carries no app message (the idle policy reads it). */
  touch(session: Session): void {
    if (!session.sealing && !session.signal.aborted) session.lastActivity = this.#now();
  }

  async deliver(session: Session, message: unknown): Promise<void> {
    if (session.sealing || session.signal.aborted) return;
    session.lastActivity = this.#now();
    await this.#safely(session, () => session.handlers.onMessage?.(message));
  }

  /** Seals a live session into a blob and frees it. Throws StasisError with a protocol code. */
  async hibernate(sid: string, binding: string, options: { keepChannels?: boolean } = {}): Promise<HibernateOk> {
    if (this.#draining) throw new StasisError('unavailable', 'This server is shutting down; try another instance.');
    const bid = bindingHash(binding);
    let session = this.#live.get(sid);
    if (session && !session.sealing && !(await this.#stillOurs(session))) {
      this.#drop(session, 'superseded', CLOSE_CODES.superseded);
      session = undefined;
    }
    if (session && !session.sealing) {
      // Only the browser holding the session may have it sealed (to its own cookie): a sid is not enough.
      if (session.browser && session.browser !== bid) throw new StasisError('wrong-binding', 'The session belongs to another browser.');
      this.#debug(sid, `hibernate: sealing gen ${session.gen} here`);
      return this.#seal(session, bid, options.keepChannels ? undefined : CLOSE_CODES.hibernated, 'hibernated');
    }
    // The load balancer sent the page's hibernate here, but another instance may hold the session live.
    const owner = this.#fleet.shared && !session ? await this.#fleet.owner(sid).catch(() => undefined) : undefined;
    if (owner && owner !== this.#fleet.instanceId) {
      const reply = await this.#askOwner(owner, { sid, purpose: 'hibernate', bid, ...(options.keepChannels ? { keepChannels: true } : {}) });
      this.#debug(sid, `hibernate: asked ${owner}: ${reply ? reply.outcome : 'gone'}`);
      if (reply?.outcome === 'ok') return reply;
      if (reply) throw new StasisError(reply.outcome, reply.message);
    }
    throw new StasisError('no-session', 'No live session with this id.');
  }

  /**
   * Development only (the failover route refuses it under NODE_ENV=production): does to one live session what
   * a failover would. `restart`: the blob is pushed to the page and the channels close with 4007, as a
   * restarting server does; the page resumes from its blob. `disconnect`: the session is sealed into the server
   * stores and its channels dropped without a close handshake (an instance that died after storing it);
   * `move`: the same with close code 1012 (Service Restart). The page's reconnect restores it from the stores.
   */
  async simulateFailover(sid: string, kind: 'disconnect' | 'restart' | 'move', binding: string): Promise<HibernateOk> {
    const session = this.#live.get(sid);
    if (!session || session.sealing) throw new StasisError('no-session', 'No live session with this id here.');
    const bid = bindingHash(binding);
    if (session.browser && session.browser !== bid) throw new StasisError('wrong-binding', 'The session belongs to another browser.');
    if (kind === 'restart') return this.#push(session, 'drain', CLOSE_CODES.draining);
    const stores = this.options.stores;
    if (!stores || stores.isEmpty) throw new StasisError('unavailable', 'No server store is configured (STASIS_STORES), so nothing could keep the session.');
    session.sealing = true;
    try {
      const { ok } = await this.#sealer.seal(session, session.browser ?? bid);
      await stores.put(sid, { blob: ok.blob, gen: ok.gen, exp: ok.exp });
      if (this.#live.get(sid) !== session || session.signal.aborted) throw new StasisError('no-session', 'The session was replaced meanwhile.');
      const channels = [...session.channels];
      this.#release(session, 'retained', undefined, ok);
      for (const channel of channels) {
        if (kind === 'move') channel.close(1012, 'stasis:moved');
        else if (channel.terminate) channel.terminate();
        else channel.close(1011, 'stasis:dropped');
      }
      this.#debug(sid, `failover simulated (${kind}) at gen ${ok.gen}`);
      return ok;
    } catch (error) {
      session.sealing = false;
      throw error;
    }
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
    const kept: Promise<unknown>[] = [];
    const stores = this.options.stores;
    let pushed = 0;
    let failed = 0;
    for (const [i, session] of sessions.entries()) {
      const channels = [...session.channels];
      if (!channels.length) {
        // Nobody to push to (the page dropped, or its hibernate is pending offline): keep it in the stores.
        if (await this.#retire(session)) pushed++;
        else failed++;
        continue;
      }
      try {
        const ok = await this.#push(session, 'drain', CLOSE_CODES.draining);
        pushed++;
        for (const channel of channels) if (channel.whenClosed) closed.push(channel.whenClosed);
        // A socket can look open and still never deliver (the page went offline a moment ago): keep a copy in
        // the stores too. A resume that finds it uses whichever copy is newest; the ledger keeps it one-time.
        if (stores?.outlivesProcess) {
          kept.push(stores.put(ok.sid, { blob: ok.blob, gen: ok.gen, exp: ok.exp }, { skipLocal: true }).catch(() => undefined));
        }
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
    await Promise.all(kept); // each put is bounded by its store's timeout
    this.metrics.drained((this.#now() - started) / 1000);
    return { sessions: sessions.length, pushed, failed, flushed };
  }

  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Seals a live session and frees it: the blob is handed to `beforeClose` (a push) and returned, then the
   * channels close with `closeCode` (undefined: they are only detached). Throws StasisError.
   */
  async #seal(
    session: Session,
    bid: string,
    closeCode: number | undefined,
    reason: 'hibernated' | 'draining' | 'idle' | 'superseded',
    beforeClose?: (ok: HibernateOk) => void,
  ): Promise<HibernateOk> {
    const { sid } = session;
    session.sealing = true;
    try {
      const { ok } = await this.#sealer.seal(session, bid);
      // While this seal was running a resume may have replaced the session: hand nothing out then.
      if (this.#live.get(sid) !== session || session.signal.aborted) {
        throw new StasisError('no-session', 'The session was replaced while it was being hibernated.');
      }
      beforeClose?.(ok);
      this.#release(session, reason, closeCode, ok);
      return ok;
    } catch (error) {
      session.sealing = false;
      throw error;
    }
  }

  /** Takes a session out of the live pool after its blob went somewhere (page, store, another instance). */
  #release(session: Session, reason: EndReason, closeCode: number | undefined, ok: HibernateOk): void {
    this.#settle(session);
    this.#remove(session);
    this.#cancelRetention(session.sid);
    session.end(reason, closeCode);
    this.#hibernated.set(session.sid, { gen: ok.gen, exp: ok.exp });
    this.#prune();
  }

  /** Ends a live copy without sealing it (another instance or a newer blob took the session over). */
  #drop(session: Session, reason: EndReason, closeCode: number | undefined): void {
    if (reason === 'superseded') this.#settle(session);
    this.#remove(session);
    this.#cancelRetention(session.sid);
    session.end(reason, closeCode);
  }

  /**
   * Verifies a blob and restores its session with gen + 1. All or nothing; throws StasisError.
   * The newest copy wins: a checkpoint of a session still live (here or on another instance) resumes that
   * live session, and a newer blob kept by the server stores (sealed after the channel dropped) is used
   * instead of the page's.
   */
  resume(sid: string, blob: string, binding: string | undefined): Promise<ResumeOk> {
    if (this.#draining) return Promise.reject(new StasisError('unavailable', 'This server is shutting down; try another instance.'));
    if (blob.length > this.options.maxBlobBytes) return Promise.reject(new StasisError('too-large', 'The blob is over the size limit.'));
    return this.#oneAtATime(sid, async () => {
      const sealed = await this.#sealer.verify(sid, blob, binding);
      let local = this.#live.get(sid);
      if (local && !local.sealing && !(await this.#stillOurs(local))) {
        this.#drop(local, 'superseded', CLOSE_CODES.superseded);
        local = undefined;
      }
      if (local && !local.sealing && sealed.inc !== undefined && local.incarnation === sealed.inc) {
        this.#debug(sid, `resume: gen ${sealed.gen} is a checkpoint of the session live here (gen ${local.gen})`);
        return { outcome: 'ok', sid, gen: local.gen }; // a checkpoint of the session live here: nothing to do
      }
      let newest = sealed;
      let newestBlob = blob;
      let source: 'page' | 'fleet' | 'store' = 'page';
      if (!local) {
        const handed = await this.#takeOver(sid, sealed.bid, { gen: sealed.gen, inc: sealed.inc });
        if (handed) {
          newest = await this.#sealer.verify(sid, handed, binding);
          newestBlob = handed;
          source = 'fleet';
        }
      }
      if (source === 'page') {
        const kept = await this.#peekStored(sid, binding!, { gen: sealed.gen, exp: sealed.exp }).catch((error: unknown) => {
          this.options.logger.warn(`resume: stores not asked for ${short(sid)}: ${(error as Error).message}`);
          return undefined;
        });
        if (kept) {
          newest = await this.#sealer.verify(sid, kept, binding);
          newestBlob = kept;
          source = 'store';
        }
      }
      let session: Session;
      try {
        session = await this.#restore(newest, binding!);
      } catch (error) {
        const code = error instanceof StasisError ? error.code : 'unavailable';
        this.#debug(sid, `resume: blob gen ${newest.gen} (${source}) refused: ${(error as Error).message}`);
        if (source === 'fleet' && code === 'unavailable') {
          // The handed-over copy has no other home now: keep it.
          await this.#keepUndelivered({ outcome: 'ok', sid, gen: newest.gen, exp: newest.exp, blob: newestBlob });
        }
        if (source !== 'store' || (code !== 'replayed' && code !== 'stale')) throw error;
        // The stored copy was used up already: clear it away and restore the page's own blob instead.
        await this.#removeStored(sid, newestBlob);
        newest = sealed;
        source = 'page';
        session = await this.#restore(sealed, binding!);
      }
      if (source === 'store') {
        await this.#removeStored(sid, newestBlob);
        this.metrics.recovered('store', 'ok');
      }
      this.#debug(sid, `resume: ${newest === sealed ? "the page's blob" : 'a newer copy'} gen ${newest.gen} → live at gen ${session.gen}`);
      return { outcome: 'ok', sid, gen: session.gen };
    });
  }

  /** Restores a verified blob: decode, per-browser cap, ledger (once, newest generation), app, live pool. */
  async #restore(sealed: SealedSession, binding: string): Promise<Session> {
    const { sid } = sealed;
    const restored = decodeStoredValues(sealed.values, this.options.codecs);
    const browser = bindingHash(binding);
    const cap = this.options.maxSessionsPerBrowser ?? Infinity;
    const others = [...(this.#byBrowser.get(browser) ?? [])].filter((other) => other !== sid).length;
    if (others >= cap) throw new StasisError('rate-limited', `This browser already holds ${cap} live sessions; close a tab first.`);
    this.#prune();
    const claim: LedgerClaim = { jti: sealed.jti, sid, gen: sealed.gen, expiresAtMs: sealed.exp * 1000, bid: browser, attempt: randomBytes(9).toString('base64url') };
    let verdict;
    try {
      verdict = await this.options.ledger.consume(claim);
    } catch (error) {
      // The consume may still run (a Redis hang queues it): the release queued behind it undoes it, so the
      // page's retry of this blob is not refused as a replay.
      void this.options.ledger.release(claim).catch(() => undefined);
      throw new StasisError('unavailable', `The one-time ledger is unavailable: ${(error as Error).message}`);
    }
    if (verdict === 'replayed') throw new StasisError('replayed', 'This blob was already resumed once.');
    if (verdict === 'stale') {
      throw new StasisError('stale', `A newer generation of this session was already resumed; this blob (gen ${sealed.gen}) is older.`);
    }
    if (verdict === 'busy' || verdict === 'retried') {
      // This browser consumed the blob before. If the session it restored is live, the blob did its job;
      // if not, that attempt is still running (busy) or never restored it (retried: restore it now).
      if (await this.#restoredFromIsLive(sealed)) throw new StasisError('replayed', 'This blob was already resumed once; its session is live.');
      if (verdict === 'busy') throw new StasisError('unavailable', 'An earlier attempt with this blob may still be running; try again shortly.');
      this.#debug(sid, `resume: gen ${sealed.gen} retried; no session restored from it is live, restoring it again`);
    }
    if (this.#draining) {
      // The drain began while this restore was on its way: a session added now would miss the drain's
      // snapshot and die with the process. Give the blob back instead; the caller keeps or returns it.
      await this.options.ledger.release(claim).catch(() => undefined);
      throw new StasisError('unavailable', 'This server started shutting down; try another instance.');
    }
    let session: Session;
    try {
      session = this.#build(sid, sealed.gen + 1, restored, browser);
      session.restoredFrom = claim;
    } catch (error) {
      // The app failed, not the blob: give the blob back so the client's retry can succeed.
      await this.options.ledger.release(claim).catch(() => undefined);
      throw error;
    }
    const previous = this.#live.get(sid);
    if (previous) this.#drop(previous, 'superseded', CLOSE_CODES.superseded);
    this.#hibernated.delete(sid);
    try {
      // The answer waits for the owner record: the page's next request may land on any instance.
      await this.#add(session, true);
    } catch (error) {
      this.#drop(session, 'closed', 1011);
      await this.options.ledger.release(claim).catch(() => undefined);
      throw error;
    }
    this.#startRetention(session);
    return session;
  }

  /**
   * Whether a session newer than this blob is live: here, or on the instance recorded as its owner (asked, so
   * a record left by a dead instance does not count).
   */
  async #restoredFromIsLive(sealed: SealedSession): Promise<boolean> {
    const local = this.#live.get(sealed.sid);
    if (local && !local.sealing && local.gen > sealed.gen) return true;
    if (!this.#fleet.shared) return false;
    let owner: string | undefined;
    try {
      owner = await this.#fleet.owner(sealed.sid);
    } catch (error) {
      throw new StasisError('unavailable', `The fleet directory is unavailable: ${(error as Error).message}`);
    }
    if (!owner || owner === this.#fleet.instanceId) return false;
    const reply = await this.#askOwner(owner, { sid: sealed.sid, purpose: 'probe', bid: sealed.bid });
    return reply !== undefined && 'kept' in reply && reply.kept !== undefined && reply.kept > sealed.gen;
  }

  /** Runs connects and resumes of one sid one after another. */
  async #oneAtATime<T>(sid: string, task: () => Promise<T>): Promise<T> {
    const before = this.#busy.get(sid) ?? Promise.resolve();
    const run = before.then(task, task);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#busy.set(sid, settled);
    void settled.then(() => {
      if (this.#busy.get(sid) === settled) this.#busy.delete(sid);
    });
    return run;
  }

  report(sid: string): SessionReport {
    const session = this.#live.get(sid);
    if (session) return { sid, state: 'live', gen: session.gen, channels: session.channels.size };
    const hibernated = this.#hibernatedEntry(sid);
    if (hibernated) return { sid, state: 'hibernated', gen: hibernated.gen };
    return { sid, state: 'unknown' };
  }

  /** Evictions of the bounded stores, for the metrics. */
  get storeEvictions(): Record<string, number> {
    return this.options.stores?.evictions() ?? {};
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
  }

  /** Ends every live session (process shutdown). */
  closeAll(): void {
    clearInterval(this.#idleSweep);
    clearInterval(this.#checkpointTimer);
    clearInterval(this.#reclaimTimer);
    for (const timer of this.#retention.values()) clearTimeout(timer);
    this.#retention.clear();
    for (const session of this.#live.values()) session.end('closed', 1001);
    this.#live.clear();
    this.#byBrowser.clear();
  }

  /** Creates a session and runs the app's factory on it; the caller puts it in the live pool. */
  #build(
    sid: string,
    gen: number,
    restored: Map<string, { codec: string; value: unknown }>,
    browser: string | undefined,
    wasRestored = true,
  ): Session {
    const state = new StateRegistry(this.options.codecs, this.options.defaultCodec, restored);
    const session = new Session(sid, gen, wasRestored, state, browser);
    // The app defines its persisted values here; restored ones are handed back by define().
    const app = this.options.app(session);
    session.app = app;
    // Any object may come back (the app's own values beside the handlers); only the two handlers are read.
    session.handlers = typeof app === 'object' && app !== null ? (app as AppHandlers) : {};
    for (const key of restored.keys()) {
      this.options.logger.warn(`session ${short(sid)}: restored value "${key}" was not defined by the app and is dropped.`);
    }
    return session;
  }

  /**
   * Puts a session in the live pool and records this instance as its owner. `mustOwn`: a failed record throws
   * `unavailable` (the caller undoes the add); otherwise it is logged and left to the reclaim sweep.
   */
  async #add(session: Session, mustOwn: boolean): Promise<void> {
    this.#live.set(session.sid, session);
    if (session.browser) {
      let sids = this.#byBrowser.get(session.browser);
      if (!sids) this.#byBrowser.set(session.browser, (sids = new Set()));
      sids.add(session.sid);
    }
    if (!this.#fleet.shared) return;
    try {
      await this.#fleet.own(session.sid);
    } catch (error) {
      const message = `the fleet directory is unavailable: ${(error as Error).message}`;
      if (mustOwn) throw new StasisError('unavailable', `Other instances could not be told where the session lives (${message}).`);
      this.options.logger.warn(`session ${short(session.sid)}: ${message}; it will be recorded when it answers again`);
    }
  }

  /**
   * Re-records the owner of every live session here where Redis lost it (restart without persistence,
   * FLUSHALL), so a page's next request on another instance finds it; drops copies another instance holds now.
   */
  async reclaimOwnership(): Promise<void> {
    if (!this.#fleet.shared || this.#draining) return;
    const sids = [...this.#live.values()].filter((s) => !s.sealing).map((s) => s.sid);
    if (!sids.length) return;
    let moved: string[];
    try {
      moved = await this.#fleet.reclaim(sids);
    } catch {
      return; // Redis still away: the next sweep tries again
    }
    for (const sid of moved) {
      const session = this.#live.get(sid);
      if (session && !session.sealing) this.#drop(session, 'superseded', CLOSE_CODES.superseded);
    }
  }

  #remove(session: Session): void {
    if (this.#live.get(session.sid) === session) {
      this.#live.delete(session.sid);
      if (this.#fleet.shared) void this.#fleet.disown(session.sid).catch(() => undefined);
    }
    if (!session.browser) return;
    const sids = this.#byBrowser.get(session.browser);
    sids?.delete(session.sid);
    if (sids?.size === 0) this.#byBrowser.delete(session.browser);
  }

  /** The session left: the blob it was restored from may no longer restore it again (see Ledger.settle). */
  #settle(session: Session): void {
    const claim = session.restoredFrom;
    session.restoredFrom = undefined;
    if (claim) void this.options.ledger.settle(claim).catch(() => undefined);
  }

  #hibernatedEntry(sid: string): { gen: number; exp: number } | undefined {
    const entry = this.#hibernated.get(sid);
    if (entry && entry.exp * 1000 <= this.#now()) {
      this.#hibernated.delete(sid);
      return undefined;
    }
    return entry;
  }

  /**
   * Abrupt disconnect: a session left with no channel stays live for the retention window, so a page that
   * comes back (a network blip, a reload) finds it. Then it is sealed into the server stores, if any, and
   * freed; a later connect or resume of the sid finds it there, on any instance sharing the store.
   */
  #startRetention(session: Session, delayMs = this.options.retentionMs): void {
    this.#cancelRetention(session.sid);
    const timer = setTimeout(() => {
      this.#retention.delete(session.sid);
      void this.#retire(session);
    }, delayMs);
    timer.unref();
    this.#retention.set(session.sid, timer);
  }

  /** Moves a session without channels into the stores; true when it is kept there. */
  async #retire(session: Session): Promise<boolean> {
    const { sid } = session;
    if (this.#live.get(sid) !== session || session.channels.size > 0 || session.sealing) return false;
    const stores = this.options.stores;
    if (!stores || stores.isEmpty || !session.browser || !(await this.#stillOurs(session))) {
      // Nowhere to keep it (or nobody could ever resume it, or another instance has it now).
      this.#drop(session, 'expired', 1001);
      this.metrics.retired('dropped');
      this.options.logger.info(`session ${short(sid)}: no channel for ${this.options.retentionMs} ms, dropped.`);
      return false;
    }
    session.sealing = true; // a reconnect meanwhile waits for the store (close 4003) instead of racing it
    try {
      const { ok } = await this.#sealer.seal(session, session.browser);
      const kept = await stores.put(sid, { blob: ok.blob, gen: ok.gen, exp: ok.exp });
      if (this.#live.get(sid) !== session || session.signal.aborted) return false;
      this.#release(session, 'retained', 1001, ok);
      this.metrics.retired('stored');
      this.options.logger.info(
        `session ${short(sid)}: ${this.#draining ? 'draining' : `no channel for ${this.options.retentionMs} ms`}, kept in ${kept.join(' + ')}.`,
      );
      return true;
    } catch (error) {
      session.sealing = false;
      if (this.#live.get(sid) !== session) return false;
      const attempts = ++session.retireAttempts;
      const hopeless = this.#draining || (error instanceof StasisError && (error.code === 'too-large' || error.code === 'unserializable'));
      if (attempts < 3 && !hopeless) {
        // Keep it live and try again: a store outage should not cost the session.
        this.options.logger.warn(`session ${short(sid)}: could not be stored (${(error as Error).message}); retrying`);
        this.#startRetention(session, Math.min(this.options.retentionMs, 30_000));
        return false;
      }
      this.#drop(session, 'expired', 1001);
      this.metrics.retired('lost');
      this.options.logger.error(`session ${short(sid)}: LOST after ${attempts} attempts to store it: ${(error as Error).message}`);
      return false;
    }
  }

  #cancelRetention(sid: string): void {
    const timer = this.#retention.get(sid);
    if (timer) clearTimeout(timer);
    this.#retention.delete(sid);
  }

  #debug(sid: string, message: string): void {
    this.options.logger.debug?.(`session ${short(sid)}: ${message}`);
  }

  async #safely(session: Session, fn: () => unknown): Promise<void> {
    try {
      await fn();
    } catch (error) {
      this.options.logger.error(`session ${short(session.sid)}: app handler failed: ${(error as Error)?.stack ?? error}`);
    }
  }
}

function short(sid: string): string {
  return sid.slice(0, 6);
}

