import { CLOSE_CODES, type HibernateOk } from '../../src/protocol/index.js';
import type { SealedSession } from '../envelope/envelope.js';
import { StasisError } from '../errors.js';
import type { HandoverReply, HandoverRequest } from '../fleet/fleet.js';
import type { LivePool } from './live-pool.js';
import { short, type ManagerContext } from './manager-context.js';
import type { Session } from './session.js';

/**
 * Sessions moving between instances of a fleet: asking the owner of a sid for it (takeover, probe), serving
 * such requests for the sessions live here, and keeping a handed-over blob that never arrived.
 */
export class Handover {
  readonly #ctx: ManagerContext;
  readonly #pool: LivePool;

  constructor(ctx: ManagerContext, pool: LivePool) {
    this.#ctx = ctx;
    this.#pool = pool;
  }

  /**
   * Asks the instance holding `sid` live (if another one does) to seal it and hand the blob over. With `blob`
   * (a resume), the owner hands over only a live copy at least as new as that blob.
   */
  async takeOver(sid: string, bid: string, blob?: { gen: number; inc: string | undefined }): Promise<string | undefined> {
    const fleet = this.#ctx.fleet;
    if (!fleet.shared) return undefined;
    let owner: string | undefined;
    try {
      owner = await fleet.owner(sid);
    } catch (error) {
      throw new StasisError('unavailable', `The fleet directory is unavailable: ${(error as Error).message}`);
    }
    if (!owner || owner === fleet.instanceId) return undefined;
    const reply = await this.askOwner(owner, {
      sid,
      purpose: 'takeover',
      bid,
      ...(blob ? { gen: blob.gen, ...(blob.inc ? { incarnation: blob.inc } : {}) } : {}),
    });
    this.#ctx.debug(sid, `takeover from ${owner}: ${reply ? reply.outcome : 'gone'}${reply?.outcome === 'ok' ? ` gen ${reply.gen}` : ''}`);
    if (reply?.outcome === 'wrong-binding') throw new StasisError('wrong-binding', reply.message);
    return reply?.outcome === 'ok' ? reply.blob : undefined;
  }

  /** Another instance asks for a session this one holds live. */
  async serve(request: HandoverRequest): Promise<HandoverReply> {
    const session = this.#pool.get(request.sid);
    this.#ctx.debug(request.sid, `handover asked (${request.purpose}): ${session ? `live at gen ${session.gen}${session.sealing ? ', sealing' : ''}` : 'not here'}`);
    if (!session || session.sealing || this.#pool.draining) return { outcome: 'no-session', message: 'Not live on this instance.' };
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
        this.#pool.drop(session, 'superseded', CLOSE_CODES.superseded);
        return { outcome: 'no-session', message: 'The copy live here was not newer; it was dropped.' };
      }
      return this.#pool.seal(session, session.browser ?? request.bid, CLOSE_CODES.superseded, 'superseded');
    }
    if (session.browser && session.browser !== request.bid) {
      return { outcome: 'wrong-binding', message: 'The session belongs to another browser.' };
    }
    if (request.kbt) session.kbt = request.kbt;
    return this.#pool.seal(session, request.bid, request.keepChannels ? undefined : CLOSE_CODES.hibernated, 'hibernated');
  }

  /** Asks another instance for a session; a reply that never comes counts as `timeout` and fails the caller. */
  async askOwner(owner: string, request: HandoverRequest): Promise<HandoverReply | undefined> {
    let reply: HandoverReply | undefined;
    try {
      reply = await this.#ctx.fleet.handover(owner, request);
    } catch (error) {
      this.#ctx.metrics.handover(request.purpose, 'timeout');
      this.#ctx.debug(request.sid, `${request.purpose}: asked ${owner}: ${(error as Error).message}`);
      throw error;
    }
    this.#ctx.metrics.handover(request.purpose, reply ? reply.outcome : 'gone');
    return reply;
  }

  /** A session sealed for another instance that never got it: keep it in the stores, where a reconnect looks. */
  async keepUndelivered(sealed: HibernateOk): Promise<void> {
    const { stores, logger } = this.#ctx.options;
    try {
      if (!stores || stores.isEmpty) throw new Error('no store configured');
      await stores.put(sealed.sid, { blob: sealed.blob, gen: sealed.gen, exp: sealed.exp });
      logger.warn(`session ${short(sealed.sid)}: a handover was not delivered; kept in the stores`);
    } catch (error) {
      this.#ctx.metrics.retired('lost');
      logger.error(`session ${short(sealed.sid)}: LOST: a handover was not delivered and ${(error as Error).message}`);
    }
  }

  /** False when the fleet says another instance took this session over: the copy here is stale. */
  async stillOurs(session: Session): Promise<boolean> {
    const fleet = this.#ctx.fleet;
    if (!fleet.shared) return true;
    try {
      const owner = await fleet.owner(session.sid);
      return owner === undefined || owner === fleet.instanceId;
    } catch {
      return true; // the fleet is down: trust the copy we have
    }
  }

  /**
   * Whether a session newer than this blob is live: here, or on the instance recorded as its owner (asked, so
   * a record left by a dead instance does not count).
   */
  async restoredFromIsLive(sealed: SealedSession): Promise<boolean> {
    const local = this.#pool.get(sealed.sid);
    if (local && !local.sealing && local.gen > sealed.gen) return true;
    const fleet = this.#ctx.fleet;
    if (!fleet.shared) return false;
    let owner: string | undefined;
    try {
      owner = await fleet.owner(sealed.sid);
    } catch (error) {
      throw new StasisError('unavailable', `The fleet directory is unavailable: ${(error as Error).message}`);
    }
    if (!owner || owner === fleet.instanceId) return false;
    const reply = await this.askOwner(owner, { sid: sealed.sid, purpose: 'probe', bid: sealed.bid });
    return reply !== undefined && 'kept' in reply && reply.kept !== undefined && reply.kept > sealed.gen;
  }
}
