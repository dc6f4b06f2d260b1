import { CLOSE_CODES, type HibernateOk, type ResumeOk, type SessionReport } from '../../src/protocol/index.js';
import { KeyedQueue } from '../../src/concurrency/keyed-queue.js';
import { StasisCapacityError, StasisError } from '../errors.js';
import type { ProofResult } from '../transport/proof.js';
import type { Metrics } from '../metrics.js';
import { Handover } from './handover.js';
import { LivePool } from './live-pool.js';
import { ManagerContext, short, type SessionManagerOptions } from './manager-context.js';
import { Retention } from './retention.js';
import { Restorer } from './restorer.js';
import { ServerPush } from './server-push.js';
import { bindingHash } from './session-sealer.js';
import type { LiveChannel, Session } from './session.js';

export type { SessionManagerOptions } from './manager-context.js';

/** How often owner records Redis lost are written again (the window a restarted-empty Redis leaves open). */
export const OWNER_RECLAIM_MS = 30_000;
/** How often the marker of the owner records is checked: a loss (restart, FLUSHALL) is repaired this fast. */
export const DIRECTORY_CHECK_MS = 1000;

/**
 * The live pool and the hibernate/resume rules. Transport-neutral: HTTP and WebSocket code call in here.
 * The parts, each over the one below it: the live pool (live-pool.ts), handover between instances
 * (handover.ts), retention and retirement (retention.ts), server pushes (server-push.ts), restore
 * (restorer.ts); this facade wires them and runs connects and resumes of one sid one at a time.
 */
export class SessionManager {
  readonly #ctx: ManagerContext;
  readonly #pool: LivePool;
  readonly #handover: Handover;
  readonly #retention: Retention;
  readonly #push: ServerPush;
  readonly #restorer: Restorer;
  /** Connects and resumes of one sid run one at a time (each may ask the fleet and the stores first). */
  readonly #busy = new KeyedQueue();
  readonly metrics: Metrics;
  #idleSweep: NodeJS.Timeout | undefined;
  #checkpointTimer: NodeJS.Timeout | undefined;
  #reclaimTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: SessionManagerOptions) {
    const ctx = (this.#ctx = new ManagerContext(options));
    this.metrics = ctx.metrics;
    this.#pool = new LivePool(ctx, (sid) => this.#retention.cancel(sid));
    this.#handover = new Handover(ctx, this.#pool);
    this.#retention = new Retention(ctx, this.#pool, this.#handover);
    this.#push = new ServerPush(ctx, this.#pool, this.#retention);
    this.#restorer = new Restorer(ctx, this.#pool, this.#handover, this.#retention);
    ctx.fleet.serve(
      (request) => this.#handover.serve(request),
      (sealed) => void this.#handover.keepUndelivered(sealed),
    );
    const idleMs = options.idleMs ?? 0;
    if (idleMs > 0) {
      this.#idleSweep = setInterval(() => void this.hibernateIdle(), Math.max(1000, Math.min(30_000, idleMs / 4)));
      this.#idleSweep.unref();
    }
    if (ctx.fleet.shared) {
      void this.#pool.watchDirectory(); // the first look learns the marker: a loss is a change from it
      let lastFull = ctx.now();
      this.#reclaimTimer = setInterval(() => {
        void this.#pool.watchDirectory().then((lost) => {
          if (lost || ctx.now() - lastFull < OWNER_RECLAIM_MS) return;
          lastFull = ctx.now();
          return this.reclaimOwnership();
        });
      }, DIRECTORY_CHECK_MS);
      this.#reclaimTimer.unref();
    }
    const checkpointMs = options.checkpointMs ?? 0;
    if (checkpointMs > 0) {
      this.#checkpointTimer = setInterval(() => void this.checkpointAll(), checkpointMs);
      this.#checkpointTimer.unref();
    }
  }

  /** See ServerPush.checkpointAll. */
  checkpointAll(): Promise<number> {
    return this.#push.checkpointAll();
  }

  /** See ServerPush.hibernateIdle. */
  hibernateIdle(): Promise<number> {
    return this.#push.hibernateIdle();
  }

  /**
   * Attaches a live channel to the session `sid`. When no session with that id is live here, it is looked
   * for in the fleet (another instance hands it over) and then in the server stores (a session whose channel
   * dropped); only then does a new session (gen 1) start. `binding` is the browser's binding secret;
   * `firstVisitFrom`, the client address of a connection that brought no binding cookie (the per-address cap).
   */
  connect(sid: string, channel: LiveChannel, binding?: string, firstVisitFrom?: string): Promise<Session> {
    if (this.#pool.draining) return Promise.reject(new StasisError('unavailable', 'This server is shutting down.'));
    return this.#busy.run(sid, async () => {
      if (this.#pool.draining) throw new StasisError('unavailable', 'This server is shutting down.');
      let session = this.#pool.get(sid);
      if (session?.sealing) throw new StasisError('no-session', 'The session is hibernating; resume it first.');
      if (session && !(await this.#handover.stillOurs(session))) {
        this.#pool.drop(session, 'superseded', CLOSE_CODES.superseded);
        session = undefined;
      }
      const browser = binding === undefined ? undefined : bindingHash(binding);
      if (session?.browser && browser && session.browser !== browser) {
        // Knowing a sid is not enough: a live session only takes channels from the browser that holds it.
        throw new StasisError('wrong-binding', 'The session belongs to another browser.');
      }
      if (!session) session = await this.#restorer.recover(sid, binding);
      if (!session) {
        this.#checkNewSessionCaps(browser, firstVisitFrom);
        session = this.#restorer.build(sid, await this.#restorer.freshGeneration(sid), new Map(), browser, false);
        session.address = firstVisitFrom;
        // A new session holds nothing to lose: with the fleet directory down it still starts (availability
        // first) and the reclaim sweep records it once Redis answers again.
        await this.#pool.add(session, false);
        this.#pool.forgetHibernated(sid);
        this.#ctx.debug(sid, `connect: new session at gen ${session.gen}`);
      } else {
        this.#ctx.debug(sid, `connect: attached at gen ${session.gen}`);
      }
      // The awaits above let a hibernate, a push or another instance's takeover seal this session meanwhile:
      // a channel attached to it now would stay open with every message ignored.
      if (session.sealing || session.ended) throw new StasisError('no-session', 'The session left while this channel connected; resume it first.');
      this.#retention.cancel(sid);
      session.channels.add(channel);
      session.lastActivity = this.#ctx.now();
      const attached = session;
      void this.#safely(attached, () => attached.handlers.onConnect?.()); // logs an app error itself; connecting does not wait for it
      // A session this connect restored (from another instance or the stores) lives only in this memory until
      // the page holds a checkpoint of it: with checkpoints on, push the first one now rather than at the next
      // tick. (A resume answered with one already.)
      if ((this.options.checkpointMs ?? 0) > 0 && attached.restored && attached.checkpointDigest === undefined) {
        void this.#push.checkpoint(attached);
      }
      return attached;
    });
  }

  /** The caps a new, empty session must pass: this instance's, this browser's, and first visits per address. */
  #checkNewSessionCaps(browser: string | undefined, firstVisitFrom: string | undefined): void {
    const total = this.options.maxLiveSessions ?? Infinity;
    if (this.#pool.size >= total) throw new StasisCapacityError(total);
    const perBrowser = this.options.maxSessionsPerBrowser ?? Infinity;
    if (browser && this.#pool.heldBy(browser) >= perBrowser) {
      throw new StasisError('rate-limited', `This browser already holds ${perBrowser} live sessions; close a tab first.`);
    }
    const perAddress = this.options.maxSessionsPerAddress ?? Infinity;
    if (firstVisitFrom !== undefined && this.#pool.startedFrom(firstVisitFrom) >= perAddress) {
      throw new StasisError('rate-limited', `${perAddress} live sessions were started from this address without a binding cookie; try again later.`);
    }
  }

  disconnect(session: Session, channel: LiveChannel): void {
    session.channels.delete(channel);
    if (session.channels.size === 0 && this.#pool.get(session.sid) === session) this.#retention.start(session);
  }

  /** Activity on a live channel that carries no app message (the idle policy reads it). */
  touch(session: Session): void {
    if (!session.sealing && !session.ended) session.lastActivity = this.#ctx.now();
  }

  async deliver(session: Session, message: unknown): Promise<void> {
    if (session.sealing || session.ended) return;
    session.lastActivity = this.#ctx.now();
    await this.#safely(session, () => session.handlers.onMessage?.(message));
  }

  /** Seals a live session into a blob and frees it. Throws StasisError with a protocol code. */
  /** `kbt`: the thumbprint of a valid proof that came with the request; the blob is bound to that key. */
  async hibernate(sid: string, binding: string, options: { keepChannels?: boolean; kbt?: string } = {}): Promise<HibernateOk> {
    if (this.#pool.draining) throw new StasisError('unavailable', 'This server is shutting down; try another instance.');
    const bid = bindingHash(binding);
    let session = this.#pool.get(sid);
    if (session && !session.sealing && !(await this.#handover.stillOurs(session))) {
      this.#pool.drop(session, 'superseded', CLOSE_CODES.superseded);
      session = undefined;
    }
    if (session && !session.sealing) {
      // Only the browser holding the session may have it sealed (to its own cookie): a sid is not enough.
      if (session.browser && session.browser !== bid) throw new StasisError('wrong-binding', 'The session belongs to another browser.');
      if (options.kbt) session.kbt = options.kbt;
      this.#ctx.debug(sid, `hibernate: sealing gen ${session.gen} here${session.kbt ? ', key-bound' : ''}`);
      return this.#pool.seal(session, bid, options.keepChannels ? undefined : CLOSE_CODES.hibernated, 'hibernated');
    }
    // The load balancer sent the page's hibernate here, but another instance may hold the session live.
    const fleet = this.#ctx.fleet;
    const owner = fleet.shared && !session ? await fleet.owner(sid).catch(() => undefined) : undefined;
    if (owner && owner !== fleet.instanceId) {
      const reply = await this.#handover.askOwner(owner, {
        sid,
        purpose: 'hibernate',
        bid,
        ...(options.keepChannels ? { keepChannels: true } : {}),
        ...(options.kbt ? { kbt: options.kbt } : {}),
      });
      this.#ctx.debug(sid, `hibernate: asked ${owner}: ${reply ? reply.outcome : 'gone'}`);
      if (reply?.outcome === 'ok') return reply;
      if (reply) throw new StasisError(reply.outcome, reply.message);
    }
    throw new StasisError('no-session', 'No live session with this id.');
  }

  /** See ServerPush.simulateFailover (development only). */
  simulateFailover(sid: string, kind: 'disconnect' | 'restart' | 'move', binding: string): Promise<HibernateOk> {
    return this.#push.simulateFailover(sid, kind, binding);
  }

  /**
   * See ServerPush.drain. Connects and resumes already under way finish first (at most `timeoutMs`): one may be
   * holding a session another instance just handed over, which must be drained or stored, not dropped.
   */
  async drain(timeoutMs: number): Promise<{ sessions: number; pushed: number; failed: number; flushed: boolean }> {
    this.#pool.startDraining();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#busy.idle(), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    return this.#push.drain(timeoutMs);
  }

  get draining(): boolean {
    return this.#pool.draining;
  }

  /** Verifies a blob and restores its session with gen + 1 (see Restorer.resume). Throws StasisError. */
  resume(sid: string, blob: string, binding: string | undefined, proof?: ProofResult): Promise<ResumeOk> {
    if (this.#pool.draining) return Promise.reject(new StasisError('unavailable', 'This server is shutting down; try another instance.'));
    if (blob.length > this.options.maxBlobBytes) return Promise.reject(new StasisError('too-large', 'The blob is over the size limit.'));
    return this.#busy.run(sid, async () => {
      const ok = await this.#restorer.resume(sid, blob, binding, proof);
      if ((this.options.checkpointMs ?? 0) <= 0) return ok;
      // The page's blob is used up: until it holds a checkpoint of the restored session, that session lives
      // only in this process. Answering with one closes the window an instance kill would otherwise have.
      const session = this.#pool.get(sid);
      const checkpoint = session && session.gen === ok.gen ? await this.#push.sealCheckpoint(session, true) : undefined;
      return checkpoint ? { ...ok, checkpoint: checkpoint.blob } : ok;
    });
  }

  /** See LivePool.reclaimOwnership. */
  reclaimOwnership(): Promise<void> {
    return this.#pool.reclaimOwnership();
  }

  report(sid: string): SessionReport {
    return this.#pool.report(sid);
  }

  /** Evictions of the bounded stores, for the metrics. */
  get storeEvictions(): Record<string, number> {
    return this.options.stores?.evictions() ?? {};
  }

  get liveCount(): number {
    return this.#pool.size;
  }

  get hibernatedCount(): number {
    return this.#pool.hibernatedCount;
  }

  /** Ends every live session (process shutdown). */
  closeAll(): void {
    clearInterval(this.#idleSweep);
    clearInterval(this.#checkpointTimer);
    clearInterval(this.#reclaimTimer);
    this.#retention.clear();
    this.#pool.closeAll();
  }

  async #safely(session: Session, fn: () => unknown): Promise<void> {
    try {
      await fn();
    } catch (error) {
      this.options.logger.error(`session ${short(session.sid)}: app handler failed: ${(error as Error)?.stack ?? String(error)}`);
    }
  }
}
