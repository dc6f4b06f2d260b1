import { CLOSE_CODES, type ResumeOk } from '../../src/protocol/index.js';
import type { SealedSession } from '../envelope/envelope.js';
import type { ProofResult } from '../transport/proof.js';
import { StasisCapacityError, StasisError } from '../errors.js';
import { randomId } from '../random.js';
import type { LedgerClaim } from '../ledger.js';
import type { Handover } from './handover.js';
import type { LivePool } from './live-pool.js';
import { short, type ManagerContext } from './manager-context.js';
import type { Retention } from './retention.js';
import { bindingHash } from './session-sealer.js';
import { Session } from './session.js';
import { decodeStoredValues, StateRegistry } from './state-registry.js';

/**
 * A live connect whose lookup failed is refused (1012, the page connects again) rather than given a fresh
 * session that would rival the real one, for this long per sid; then availability wins and it starts fresh.
 */
export const LOOKUP_PATIENCE_MS = 30_000;
/** After the owner records were lost, how long "no owner" is not believed (every instance re-records by then). */
const DIRECTORY_SETTLE_MS = 3000;
/** Sids whose lookups are failing, remembered at most (the oldest is forgotten first). */
const FAILING_LOOKUPS_MAX = 10_000;

/**
 * Sessions coming back: a page's blob resumed (or a newer copy of it from another instance or the stores),
 * a live connect recovering a session this instance does not hold, and the app's factory run on each.
 * The caller runs `resume` and `recover` of one sid one at a time.
 */
export class Restorer {
  readonly #ctx: ManagerContext;
  readonly #pool: LivePool;
  readonly #handover: Handover;
  readonly #retention: Retention;
  /** Since when the lookups of a sid have been failing, ms. */
  readonly #failingSince = new Map<string, number>();

  constructor(ctx: ManagerContext, pool: LivePool, handover: Handover, retention: Retention) {
    this.#ctx = ctx;
    this.#pool = pool;
    this.#handover = handover;
    this.#retention = retention;
  }

  /**
   * Verifies a blob and restores its session with gen + 1. All or nothing; throws StasisError.
   * The newest copy wins: a checkpoint of a session still live (here or on another instance) resumes that
   * live session, and a newer blob kept by the server stores (sealed after the channel dropped) is used
   * instead of the page's.
   */
  async resume(sid: string, blob: string, binding: string | undefined, proof?: ProofResult): Promise<ResumeOk> {
    const { sealer, metrics } = this.#ctx;
    const sealed = await sealer.verify(sid, blob, binding, proof);
    // A key-bound blob verifies without a cookie, but the restored session still needs one: its live channel
    // attaches by it (the HTTP endpoint mints a new one; a direct caller must pass one).
    if (binding === undefined) throw new StasisError('wrong-binding', 'No binding cookie to attach the restored session to: pass a new binding secret.');
    // The restored session keeps the blob's key binding; an old blob resumed with a valid proof takes it up.
    const kbt = sealed.kbt ?? (proof && 'kbt' in proof ? proof.kbt : undefined);
    let local = this.#pool.get(sid);
    if (local && !local.sealing && !(await this.#handover.stillOurs(local))) {
      this.#pool.drop(local, 'superseded', CLOSE_CODES.superseded);
      local = undefined;
    }
    if (local && !local.sealing && sealed.inc !== undefined && local.incarnation === sealed.inc) {
      this.#ctx.debug(sid, `resume: gen ${sealed.gen} is a checkpoint of the session live here (gen ${local.gen})`);
      return { outcome: 'ok', sid, gen: local.gen }; // a checkpoint of the session live here: nothing to do
    }
    let newest = sealed;
    let newestBlob = blob;
    let source: 'page' | 'fleet' | 'store' = 'page';
    if (!local) {
      const handed = await this.#handover.takeOver(sid, sealed.bid, { gen: sealed.gen, inc: sealed.inc });
      if (handed) {
        newest = await sealer.verify(sid, handed, binding, proof, true);
        newestBlob = handed;
        source = 'fleet';
      }
    }
    if (source === 'page') {
      const kept = await this.#peekStored(sid, binding, { gen: sealed.gen, exp: sealed.exp }, false, proof).catch((error: unknown) => {
        this.#ctx.options.logger.warn(`resume: stores not asked for ${short(sid)}: ${(error as Error).message}`);
        return undefined;
      });
      if (kept) {
        newest = await sealer.verify(sid, kept, binding, proof, true);
        newestBlob = kept;
        source = 'store';
      }
    }
    let session: Session;
    try {
      session = await this.#restore(newest, binding, kbt);
    } catch (error) {
      const code = error instanceof StasisError ? error.code : 'unavailable';
      this.#ctx.debug(sid, `resume: blob gen ${newest.gen} (${source}) refused: ${(error as Error).message}`);
      if (source === 'fleet' && code === 'unavailable') {
        // The handed-over copy has no other home now: keep it.
        await this.#handover.keepUndelivered({ outcome: 'ok', sid, gen: newest.gen, exp: newest.exp, blob: newestBlob });
      }
      if (source !== 'store' || (code !== 'replayed' && code !== 'stale')) throw error;
      // The stored copy was used up already: clear it away and restore the page's own blob instead.
      await this.#removeStored(sid, newestBlob);
      newest = sealed;
      source = 'page';
      session = await this.#restore(sealed, binding, kbt);
    }
    if (source === 'store') {
      await this.#removeStored(sid, newestBlob);
      metrics.recovered('store', 'ok');
    }
    this.#ctx.debug(sid, `resume: ${newest === sealed ? "the page's blob" : 'a newer copy'} gen ${newest.gen} → live at gen ${session.gen}`);
    return { outcome: 'ok', sid, gen: session.gen };
  }

  /**
   * A live connect for a sid this instance does not hold: takes the session over from the instance that
   * holds it, else from the server stores. Undefined when neither has it (or what they have cannot resume).
   */
  async recover(sid: string, binding: string | undefined): Promise<Session | undefined> {
    if (!binding) return undefined; // without the browser's binding no blob of it could resume anyway
    const { logger } = this.#ctx.options;
    let blob: string | undefined;
    let from: 'fleet' | 'store' = 'fleet';
    try {
      blob = await this.#handover.takeOver(sid, bindingHash(binding));
      if (!blob) {
        from = 'store';
        blob = await this.#peekStored(sid, binding, undefined, true);
      }
    } catch (error) {
      // Another browser's session is live elsewhere under this sid: refuse rather than start a rival copy.
      if (error instanceof StasisError && error.code === 'wrong-binding') throw error;
      this.#lookupFailed(sid, error as Error);
      return undefined;
    }
    this.#failingSince.delete(sid);
    if (!blob) {
      // Redis lost the owner records a moment ago: the session may be live on an instance that has not
      // written its record again yet. A fresh session now would be its rival. (One GET: only new sessions pay.)
      await this.#pool.watchDirectory();
      const lostAt = this.#ctx.fleet.directoryLostAt;
      if (lostAt > 0 && Date.now() - lostAt < DIRECTORY_SETTLE_MS) this.#lookupFailed(sid, new Error('the owner records were lost and are being written again'));
      return undefined;
    }
    let sealed: SealedSession | undefined;
    try {
      sealed = await this.#ctx.sealer.verify(sid, blob, binding, undefined, true);
      const session = await this.#restore(sealed, binding, sealed.kbt);
      if (from === 'store') await this.#removeStored(sid, blob);
      this.#ctx.metrics.recovered(from, 'ok');
      logger.info(`session ${short(sid)}: restored from the ${from === 'fleet' ? 'instance that held it' : 'server store'} at gen ${session.gen}`);
      return session;
    } catch (error) {
      const code = error instanceof StasisError ? error.code : 'unavailable';
      this.#ctx.metrics.recovered(from, code);
      logger.warn(`connect: session ${short(sid)} from the ${from} did not restore: ${(error as Error).message}`);
      // A stored copy that can never restore (used up, older than what was resumed) is cleared away.
      if (from === 'store' && (code === 'replayed' || code === 'stale')) await this.#removeStored(sid, blob);
      // Not restored for a reason of ours (draining, a store or ledger outage): the session exists, so a fresh
      // one would be its rival; the page connects again. A handed-over blob left its last home for this
      // connect: it goes to the stores rather than be lost.
      if (sealed && code === 'unavailable') {
        if (from === 'fleet') await this.#handover.keepUndelivered({ outcome: 'ok', sid, gen: sealed.gen, exp: sealed.exp, blob });
        throw error;
      }
      if (this.#pool.draining) throw error; // no fresh session on a draining instance
      return undefined;
    }
  }

  /** Generation of a new, empty session: past any earlier one of this sid (see Ledger.fresh). */
  async freshGeneration(sid: string): Promise<number> {
    try {
      return await this.#ctx.options.ledger.fresh(sid);
    } catch (error) {
      this.#ctx.options.logger.warn(`connect: session ${short(sid)}: the ledger is unavailable (${(error as Error).message}); starting at gen 1`);
      return 1;
    }
  }

  /** Creates a session and runs the app's factory on it; the caller puts it in the live pool. */
  build(
    sid: string,
    gen: number,
    restored: Map<string, { codec: string; value: unknown }>,
    browser: string | undefined,
    wasRestored = true,
  ): Session {
    const { options } = this.#ctx;
    const state = new StateRegistry(options.codecs, options.defaultCodec, restored, this.#ctx.sites);
    // The sid outlives the session as a key of the hibernated index: a copy of its own, never a slice of the
    // request it came in (a query string's value is one: it would keep the whole URL alive).
    const session = new Session(ownCopy(sid), gen, wasRestored, state, browser);
    // The app defines its persisted values here; restored ones are handed back by define().
    const app = options.app(session);
    session.app = app;
    // Any object may come back (the app's own values beside the handlers); only the two handlers are read.
    session.handlers = typeof app === 'object' && app !== null ? app : {};
    for (const key of restored.keys()) {
      options.logger.warn(`session ${short(sid)}: restored value "${key}" was not defined by the app and is dropped.`);
    }
    return session;
  }

  /** Restores a verified blob: decode, per-browser cap, ledger (once, newest generation), app, live pool. */
  async #restore(sealed: SealedSession, binding: string, kbt: string | undefined): Promise<Session> {
    const { sid } = sealed;
    const { options } = this.#ctx;
    const ledger = options.ledger;
    const restored = decodeStoredValues(sealed.values, options.codecs);
    const browser = bindingHash(binding);
    const cap = options.maxSessionsPerBrowser ?? Infinity;
    const others = this.#pool.heldBy(browser, sid);
    if (others >= cap) throw new StasisError('rate-limited', `This browser already holds ${cap} live sessions; close a tab first.`);
    const total = options.maxLiveSessions ?? Infinity;
    if (this.#pool.size - (this.#pool.get(sid) ? 1 : 0) >= total) throw new StasisCapacityError(total);
    this.#pool.prune();
    const claim: LedgerClaim = { jti: sealed.jti, sid, gen: sealed.gen, expiresAtMs: sealed.exp * 1000, bid: browser, attempt: randomId(9) };
    let verdict;
    try {
      verdict = await ledger.consume(claim);
    } catch (error) {
      // The consume may still run (a Redis hang queues it): the release queued behind it undoes it, so the
      // page's retry of this blob is not refused as a replay.
      void ledger.release(claim).catch(() => undefined);
      throw new StasisError('unavailable', `The one-time ledger is unavailable: ${(error as Error).message}`);
    }
    if (verdict === 'replayed') throw new StasisError('replayed', 'This blob was already resumed once.');
    if (verdict === 'stale') {
      throw new StasisError('stale', `A newer generation of this session was already resumed; this blob (gen ${sealed.gen}) is older.`);
    }
    if (verdict === 'busy' || verdict === 'retried') {
      // This browser consumed the blob before. If the session it restored is live, the blob did its job;
      // if not, that attempt is still running (busy) or never restored it (retried: restore it now).
      if (await this.#handover.restoredFromIsLive(sealed)) throw new StasisError('replayed', 'This blob was already resumed once; its session is live.');
      if (verdict === 'busy') throw new StasisError('unavailable', 'An earlier attempt with this blob may still be running; try again shortly.');
      this.#ctx.debug(sid, `resume: gen ${sealed.gen} retried; no session restored from it is live, restoring it again`);
    }
    if (this.#pool.draining) {
      // The drain began while this restore was on its way: a session added now would miss the drain's
      // snapshot and die with the process. Give the blob back instead; the caller keeps or returns it.
      await ledger.release(claim).catch(() => undefined);
      throw new StasisError('unavailable', 'This server started shutting down; try another instance.');
    }
    let session: Session;
    try {
      session = this.build(sid, sealed.gen + 1, restored, browser);
      session.restoredFrom = claim;
      session.kbt = kbt;
    } catch (error) {
      // The app failed, not the blob: give the blob back so the client's retry can succeed.
      await ledger.release(claim).catch(() => undefined);
      throw error;
    }
    const previous = this.#pool.get(sid);
    if (previous) this.#pool.drop(previous, 'superseded', CLOSE_CODES.superseded);
    this.#pool.forgetHibernated(sid);
    try {
      // The answer waits for the owner record: the page's next request may land on any instance.
      await this.#pool.add(session, true);
    } catch (error) {
      this.#pool.drop(session, 'closed', 1011);
      await ledger.release(claim).catch(() => undefined);
      throw error;
    }
    this.#retention.start(session);
    return session;
  }

  /**
   * The session may exist, live on an instance that did not answer or in a store that could not be read: the
   * connect is refused (`unavailable`) until the lookups of this sid have failed for the lookup patience. Then
   * the page starts fresh rather than waits any longer (availability first).
   */
  #lookupFailed(sid: string, error: Error): void {
    const now = this.#ctx.now();
    let since = this.#failingSince.get(sid);
    if (since === undefined) {
      if (this.#failingSince.size >= FAILING_LOOKUPS_MAX) this.#failingSince.delete(this.#failingSince.keys().next().value!);
      this.#failingSince.set(sid, (since = now));
    }
    const patience = this.#ctx.options.lookupPatienceMs ?? LOOKUP_PATIENCE_MS;
    if (now - since < patience) {
      this.#ctx.debug(sid, `connect: could not be looked up (${error.message}); refused for now`);
      throw new StasisError('unavailable', `The session could not be looked up (${error.message}); try again.`);
    }
    this.#failingSince.delete(sid);
    this.#ctx.options.logger.warn(`connect: session ${short(sid)} could not be looked up for ${Math.round((now - since) / 1000)} s (${error.message}); starting fresh`);
  }

  /**
   * The blob the stores keep for `sid` when it verifies for this browser (and is newer than `than`, if given).
   * Only looks: the copy stays until a restore from it succeeded (`#removeStored`), so a store step whose
   * outcome is unknown (a timeout) can never lose it. With `refuseForeign` another browser's copy is refused
   * (`wrong-binding`) rather than given a rival session.
   */
  async #peekStored(
    sid: string,
    binding: string,
    than?: { gen: number; exp: number },
    refuseForeign = false,
    proof?: ProofResult,
  ): Promise<string | undefined> {
    const stores = this.#ctx.options.stores;
    if (!stores || stores.isEmpty) return undefined;
    const kept = await stores.peek(sid);
    if (!kept || (than && (kept.gen < than.gen || (kept.gen === than.gen && kept.exp < than.exp)))) return undefined;
    try {
      await this.#ctx.sealer.verify(sid, kept.blob, binding, proof, true);
    } catch (error) {
      this.#ctx.debug(sid, `stores: the kept blob does not verify here (${(error as Error).message}); left in place`);
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
    const stores = this.#ctx.options.stores;
    if (!stores) return;
    try {
      const taken = await stores.take(sid);
      if (taken && taken.blob !== blob) await stores.put(sid, taken);
    } catch (error) {
      this.#ctx.debug(sid, `stores: the restored copy could not be removed (${(error as Error).message})`);
    }
  }
}

/** An exact, flat copy of a short string (a sid) that shares no memory with a string it was sliced from. */
function ownCopy(text: string): string {
  return JSON.parse(JSON.stringify(text)) as string;
}
