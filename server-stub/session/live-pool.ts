import { CLOSE_CODES, type HibernateOk, type SessionReport } from '../../src/protocol/index.js';
import { StasisError } from '../errors.js';
import { short, type ManagerContext } from './manager-context.js';
import type { EndReason, Session } from './session.js';

/**
 * Blobs remembered for reports and the hibernated gauge. Past it the oldest are forgotten first: a report then
 * says `unknown` for such a sid (its blob still resumes; nothing decides on this index).
 */
export const HIBERNATED_INDEX_MAX = 10_000;

/**
 * The live pool: the sessions held in this process, by sid and by browser, the blobs handed out (for metrics
 * and reports), and the primitives every other part of the manager takes sessions in and out with. A
 * session leaves only through `seal`, `release` or `drop`, which settle its ledger claim, forget its owner
 * record and tell `onLeave` (its retention timer is cancelled there).
 */
export class LivePool {
  readonly #live = new Map<string, Session>();
  /** Blobs handed out and not yet resumed, by sid: for metrics and reports only, never for decisions. */
  readonly #hibernated = new Map<string, { gen: number; exp: number }>();
  /** Live sids per browser binding, for the per-browser cap. */
  readonly #byBrowser = new Map<string, Set<string>>();
  /** Live sids started by connections without a binding cookie, per client address, for the per-address cap. */
  readonly #byAddress = new Map<string, Set<string>>();
  #nextPrune = 0;
  #draining = false;

  readonly #ctx: ManagerContext;
  /** A session left the pool (sealed, released or dropped). */
  readonly #onLeave: (sid: string) => void;

  constructor(ctx: ManagerContext, onLeave: (sid: string) => void) {
    this.#ctx = ctx;
    this.#onLeave = onLeave;
  }

  get(sid: string): Session | undefined {
    return this.#live.get(sid);
  }

  /** The live sessions now (a copy: the pool may change while the caller walks it). */
  sessions(): Session[] {
    return [...this.#live.values()];
  }

  get size(): number {
    return this.#live.size;
  }

  /** Live sessions of one browser, not counting `except`. */
  heldBy(browser: string, except?: string): number {
    const sids = this.#byBrowser.get(browser);
    if (!sids) return 0;
    return except !== undefined && sids.has(except) ? sids.size - 1 : sids.size;
  }

  /** Live sessions started without a binding cookie from one client address. */
  startedFrom(address: string): number {
    return this.#byAddress.get(address)?.size ?? 0;
  }

  /** Set once a drain began: from then on no session is added and nothing is sealed for another instance. */
  get draining(): boolean {
    return this.#draining;
  }

  startDraining(): void {
    this.#draining = true;
  }

  /**
   * Puts a session in the live pool and records this instance as its owner. `mustOwn`: a failed record throws
   * `unavailable` (the caller undoes the add); otherwise it is logged and left to the reclaim sweep.
   */
  async add(session: Session, mustOwn: boolean): Promise<void> {
    this.#live.set(session.sid, session);
    if (session.browser) addTo(this.#byBrowser, session.browser, session.sid);
    if (session.address) addTo(this.#byAddress, session.address, session.sid);
    const fleet = this.#ctx.fleet;
    if (!fleet.shared) return;
    try {
      await fleet.own(session.sid);
    } catch (error) {
      const message = `the fleet directory is unavailable: ${(error as Error).message}`;
      if (mustOwn) throw new StasisError('unavailable', `Other instances could not be told where the session lives (${message}).`);
      this.#ctx.options.logger.warn(`session ${short(session.sid)}: ${message}; it will be recorded when it answers again`);
    }
  }

  /**
   * Seals a live session and frees it: the blob is handed to `beforeClose` (a push) and returned, then the
   * channels close with `closeCode` (undefined: they are only detached). Throws StasisError.
   */
  async seal(
    session: Session,
    bid: string,
    closeCode: number | undefined,
    reason: 'hibernated' | 'draining' | 'idle' | 'superseded',
    beforeClose?: (ok: HibernateOk) => void,
  ): Promise<HibernateOk> {
    const { sid } = session;
    session.sealing = true;
    try {
      const { ok } = await this.#ctx.sealer.seal(session, bid);
      // While this seal was running a resume may have replaced the session: hand nothing out then.
      if (this.#live.get(sid) !== session || session.ended) {
        throw new StasisError('no-session', 'The session was replaced while it was being hibernated.');
      }
      beforeClose?.(ok);
      this.release(session, reason, closeCode, ok);
      return ok;
    } catch (error) {
      session.sealing = false;
      throw error;
    }
  }

  /** Takes a session out of the live pool after its blob went somewhere (page, store, another instance). */
  release(session: Session, reason: EndReason, closeCode: number | undefined, ok: HibernateOk): void {
    this.#settle(session);
    this.#remove(session);
    this.#onLeave(session.sid);
    session.end(reason, closeCode);
    this.#hibernated.delete(session.sid); // re-inserted last: the index forgets the oldest first
    if (this.#hibernated.size >= HIBERNATED_INDEX_MAX) this.#hibernated.delete(this.#hibernated.keys().next().value!);
    this.#hibernated.set(session.sid, { gen: ok.gen, exp: ok.exp });
    this.prune();
  }

  /** Ends a live copy without sealing it (another instance or a newer blob took the session over). */
  drop(session: Session, reason: EndReason, closeCode: number | undefined): void {
    if (reason === 'superseded') this.#settle(session);
    this.#remove(session);
    this.#onLeave(session.sid);
    session.end(reason, closeCode);
  }

  /**
   * Re-records the owner of every live session here where Redis lost it (restart without persistence,
   * FLUSHALL), so a page's next request on another instance finds it; drops copies another instance holds now.
   */
  /**
   * Looks at the shared marker of the owner records (one GET) and, when Redis lost them since the last look,
   * writes this instance's records again (in the background). Redis away: nothing to learn, nothing done.
   */
  async watchDirectory(): Promise<boolean> {
    const lost = await this.#ctx.fleet.directoryLost().catch(() => false);
    if (lost) void this.reclaimOwnership();
    return lost;
  }

  async reclaimOwnership(): Promise<void> {
    if (!this.#ctx.fleet.shared || this.#draining) return;
    const sids = [...this.#live.values()].filter((s) => !s.sealing).map((s) => s.sid);
    if (!sids.length) return;
    let moved: string[];
    try {
      moved = await this.#ctx.fleet.reclaim(sids);
    } catch {
      return; // Redis still away: the next sweep tries again
    }
    for (const sid of moved) {
      const session = this.#live.get(sid);
      if (session && !session.sealing) this.drop(session, 'superseded', CLOSE_CODES.superseded);
    }
  }

  /** A session with this sid went live again: its handed-out blob is no longer the one to report. */
  forgetHibernated(sid: string): void {
    this.#hibernated.delete(sid);
  }

  report(sid: string): SessionReport {
    const session = this.#live.get(sid);
    if (session) return { sid, state: 'live', gen: session.gen, channels: session.channels.size };
    const hibernated = this.#hibernatedEntry(sid);
    if (hibernated) return { sid, state: 'hibernated', gen: hibernated.gen };
    return { sid, state: 'unknown' };
  }

  get hibernatedCount(): number {
    this.prune(true);
    return this.#hibernated.size;
  }

  /** Drops bookkeeping for blobs that have expired anyway (at most once a minute unless forced). */
  prune(force = false): void {
    const now = this.#ctx.now();
    if (!force && now < this.#nextPrune) return;
    this.#nextPrune = now + 60_000;
    for (const [sid, entry] of this.#hibernated) if (entry.exp * 1000 <= now) this.#hibernated.delete(sid);
  }

  /** Ends every live session (process shutdown). */
  closeAll(): void {
    for (const session of this.#live.values()) session.end('closed', 1001);
    this.#live.clear();
    this.#byBrowser.clear();
    this.#byAddress.clear();
  }

  #remove(session: Session): void {
    if (this.#live.get(session.sid) === session) {
      this.#live.delete(session.sid);
      if (this.#ctx.fleet.shared) void this.#ctx.fleet.disown(session.sid).catch(() => undefined);
    }
    if (session.browser) removeFrom(this.#byBrowser, session.browser, session.sid);
    if (session.address) removeFrom(this.#byAddress, session.address, session.sid);
  }

  /** The session left: the blob it was restored from may no longer restore it again (see Ledger.settle). */
  #settle(session: Session): void {
    const claim = session.restoredFrom;
    session.restoredFrom = undefined;
    if (claim) void this.#ctx.options.ledger.settle(claim).catch(() => undefined);
  }

  #hibernatedEntry(sid: string): { gen: number; exp: number } | undefined {
    const entry = this.#hibernated.get(sid);
    if (entry && entry.exp * 1000 <= this.#ctx.now()) {
      this.#hibernated.delete(sid);
      return undefined;
    }
    return entry;
  }
}

function addTo(index: Map<string, Set<string>>, key: string, sid: string): void {
  let sids = index.get(key);
  if (!sids) index.set(key, (sids = new Set()));
  sids.add(sid);
}

function removeFrom(index: Map<string, Set<string>>, key: string, sid: string): void {
  const sids = index.get(key);
  sids?.delete(sid);
  if (sids?.size === 0) index.delete(key);
}
