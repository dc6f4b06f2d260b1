import { createHash } from 'node:crypto';
import { CLOSE_CODES, CLOSE_REASONS, encodeWithBlob, PUSH_MESSAGE, type HibernateOk, type PushedBlob } from '../../src/protocol/index.js';
import { StasisError } from '../errors.js';
import type { LivePool } from './live-pool.js';
import { short, type ManagerContext } from './manager-context.js';
import type { Retention } from './retention.js';
import { bindingHash } from './session-sealer.js';
import type { Session } from './session.js';

/**
 * Blobs the server sends on its own: checkpoints of live sessions, idle sessions hibernated, every session
 * pushed out on a drain, and the development-only failover simulation.
 */
export class ServerPush {
  readonly #ctx: ManagerContext;
  readonly #pool: LivePool;
  readonly #retention: Retention;

  constructor(ctx: ManagerContext, pool: LivePool, retention: Retention) {
    this.#ctx = ctx;
    this.#pool = pool;
    this.#retention = retention;
  }

  /**
   * Checkpoints: seals every live session whose values changed since its last checkpoint and pushes the blob
   * over its channels, leaving the session live. If this instance then dies without a drain (SIGKILL, a
   * crash), the page hands the newest checkpoint to another instance. Returns how many were pushed.
   */
  async checkpointAll(): Promise<number> {
    if (this.#pool.draining) return 0;
    let count = 0;
    for (const session of this.#pool.sessions()) if (await this.checkpoint(session)) count++;
    return count;
  }

  /** Pushes a checkpoint of one live session when its values changed since its last one. */
  async checkpoint(session: Session): Promise<boolean> {
    if (session.channels.size === 0) return false;
    const ok = await this.sealCheckpoint(session, false);
    if (!ok) return false;
    const message: PushedBlob = { type: PUSH_MESSAGE, reason: 'checkpoint', sid: ok.sid, gen: ok.gen, exp: ok.exp, blob: ok.blob };
    session.sendText(encodeWithBlob(message, 'blob', true));
    return true;
  }

  /**
   * Seals a checkpoint of a live session and leaves it live. Undefined when the session left meanwhile, when
   * sealing failed (logged and counted), or, unless `always`, when its values did not change since the last one.
   */
  async sealCheckpoint(session: Session, always: boolean): Promise<HibernateOk | undefined> {
    if (session.sealing || session.ended) return undefined;
    try {
      const values = session.state.encodeAll();
      const digest = createHash('sha256').update(JSON.stringify(values)).digest('base64url');
      if (!always && digest === session.checkpointDigest) return undefined;
      const { ok } = await this.#ctx.sealer.seal(session, session.browser ?? '', values);
      if (this.#pool.get(session.sid) !== session || session.sealing || session.ended) return undefined;
      session.checkpointDigest = digest;
      this.#ctx.metrics.checkpoint('ok', ok.blob.length);
      return ok;
    } catch (error) {
      this.#ctx.metrics.checkpoint(error instanceof StasisError ? error.code : 'unavailable');
      this.#ctx.options.logger.warn(`checkpoint: session ${short(session.sid)}: ${(error as Error).message}`);
      return undefined;
    }
  }

  /**
   * Server-side idle policy: every session whose last app event (connect or message) is older than the idle
   * timeout is sealed, its blob pushed over its channels, which then close with 4008. Returns how many.
   */
  async hibernateIdle(): Promise<number> {
    const idleMs = this.#ctx.options.idleMs ?? 0;
    if (idleMs <= 0 || this.#pool.draining) return 0;
    const cutoff = this.#ctx.now() - idleMs;
    let count = 0;
    for (const session of this.#pool.sessions()) {
      if (session.sealing || session.lastActivity > cutoff || session.channels.size === 0) continue;
      try {
        await this.#push(session, 'idle', CLOSE_CODES.idle);
        count++;
      } catch (error) {
        this.#ctx.options.logger.warn(`idle: session ${short(session.sid)} stays live: ${(error as Error).message}`);
      }
    }
    return count;
  }

  /**
   * Drain: seals every live session, pushes each blob over its live channels, closes them with 4007 and
   * waits (at most `timeoutMs`) until the channels have closed, so the blobs are out. From now on the
   * server refuses new sessions, hibernates and resumes with `unavailable`: clients go to another instance.
   */
  async drain(timeoutMs: number): Promise<{ sessions: number; pushed: number; failed: number; flushed: boolean }> {
    this.#pool.startDraining();
    const sessions = this.#pool.sessions().filter((s) => !s.sealing);
    const closed: Promise<void>[] = [];
    const kept: Promise<unknown>[] = [];
    const stores = this.#ctx.options.stores;
    let pushed = 0;
    let failed = 0;
    for (const [i, session] of sessions.entries()) {
      const channels = [...session.channels];
      if (!channels.length) {
        // Nobody to push to (the page dropped, or its hibernate is pending offline): keep it in the stores.
        if (await this.#retention.retire(session)) pushed++;
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
        this.#ctx.options.logger.error(`drain: session ${short(session.sid)} could not be sealed: ${(error as Error).message}`);
      }
      if (i % 64 === 63) await new Promise((resolve) => setImmediate(resolve)); // let sockets write meanwhile
    }
    let timer: NodeJS.Timeout | undefined;
    const started = this.#ctx.now();
    const flushed = await Promise.race([
      Promise.all(closed).then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    await Promise.all(kept); // each put is bounded by its store's timeout
    this.#ctx.metrics.drained((this.#ctx.now() - started) / 1000);
    return { sessions: sessions.length, pushed, failed, flushed };
  }

  /**
   * Development only (the failover route refuses it under NODE_ENV=production): does to one live session what
   * a failover would. `restart`: the blob is pushed to the page and the channels close with 4007, as a
   * restarting server does; the page resumes from its blob. `disconnect`: the session is sealed into the server
   * stores and its channels dropped without a close handshake (an instance that died after storing it);
   * `move`: the same with close code 1012 (Service Restart). The page's reconnect restores it from the stores.
   */
  async simulateFailover(sid: string, kind: 'disconnect' | 'restart' | 'move', binding: string): Promise<HibernateOk> {
    const session = this.#pool.get(sid);
    if (!session || session.sealing) throw new StasisError('no-session', 'No live session with this id here.');
    const bid = bindingHash(binding);
    if (session.browser && session.browser !== bid) throw new StasisError('wrong-binding', 'The session belongs to another browser.');
    if (kind === 'restart') return this.#push(session, 'drain', CLOSE_CODES.draining);
    const stores = this.#ctx.options.stores;
    if (!stores || stores.isEmpty) throw new StasisError('unavailable', 'No server store is configured (STASIS_STORES), so nothing could keep the session.');
    session.sealing = true;
    try {
      const { ok } = await this.#ctx.sealer.seal(session, session.browser ?? bid);
      await stores.put(sid, { blob: ok.blob, gen: ok.gen, exp: ok.exp });
      if (this.#pool.get(sid) !== session || session.ended) throw new StasisError('no-session', 'The session was replaced meanwhile.');
      const channels = [...session.channels];
      this.#pool.release(session, 'retained', undefined, ok);
      for (const channel of channels) {
        if (kind === 'move') channel.close(1012, CLOSE_REASONS.moved);
        else if (channel.terminate) channel.terminate();
        else channel.close(1011, CLOSE_REASONS.dropped);
      }
      this.#ctx.debug(sid, `failover simulated (${kind}) at gen ${ok.gen}`);
      return ok;
    } catch (error) {
      session.sealing = false;
      throw error;
    }
  }

  /** Seals a session, pushes the blob over its channels, then closes them with `closeCode`. */
  async #push(session: Session, reason: 'drain' | 'idle', closeCode: number): Promise<HibernateOk> {
    try {
      const ok = await this.#pool.seal(session, session.browser ?? '', closeCode, reason === 'drain' ? 'draining' : 'idle', (sealed) => {
        const message: PushedBlob = { type: PUSH_MESSAGE, reason, sid: sealed.sid, gen: sealed.gen, exp: sealed.exp, blob: sealed.blob };
        session.sendText(encodeWithBlob(message, 'blob', true));
      });
      this.#ctx.metrics.hibernation(reason, 'ok', ok.blob.length);
      return ok;
    } catch (error) {
      this.#ctx.metrics.hibernation(reason, error instanceof StasisError ? error.code : 'unavailable');
      throw error;
    }
  }
}
