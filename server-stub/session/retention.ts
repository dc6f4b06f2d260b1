import { StasisError } from '../errors.js';
import type { Handover } from './handover.js';
import type { LivePool } from './live-pool.js';
import { short, type ManagerContext } from './manager-context.js';
import type { Session } from './session.js';

/**
 * Sessions left without a channel: kept live for the retention window, then retired into the server stores
 * (or dropped when there are none).
 */
export class Retention {
  readonly #timers = new Map<string, NodeJS.Timeout>();

  readonly #ctx: ManagerContext;
  readonly #pool: LivePool;
  readonly #handover: Handover;

  constructor(ctx: ManagerContext, pool: LivePool, handover: Handover) {
    this.#ctx = ctx;
    this.#pool = pool;
    this.#handover = handover;
  }

  /**
   * Abrupt disconnect: a session left with no channel stays live for the retention window, so a page that
   * comes back (a network blip, a reload) finds it. Then it is sealed into the server stores, if any, and
   * freed; a later connect or resume of the sid finds it there, on any instance sharing the store.
   */
  start(session: Session, delayMs = this.#ctx.options.retentionMs): void {
    this.cancel(session.sid);
    const timer = setTimeout(() => {
      this.#timers.delete(session.sid);
      void this.retire(session);
    }, delayMs);
    timer.unref();
    this.#timers.set(session.sid, timer);
  }

  cancel(sid: string): void {
    const timer = this.#timers.get(sid);
    if (timer) clearTimeout(timer);
    this.#timers.delete(sid);
  }

  /** Cancels every timer (process shutdown). */
  clear(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  /** Moves a session without channels into the stores; true when it is kept there. */
  async retire(session: Session): Promise<boolean> {
    const { sid } = session;
    const { options, metrics } = this.#ctx;
    if (this.#pool.get(sid) !== session || session.channels.size > 0 || session.sealing) return false;
    const stores = options.stores;
    if (!stores || stores.isEmpty || !session.browser || !(await this.#handover.stillOurs(session))) {
      // Nowhere to keep it (or nobody could ever resume it, or another instance has it now).
      this.#pool.drop(session, 'expired', 1001);
      metrics.retired('dropped');
      options.logger.info(`session ${short(sid)}: no channel for ${options.retentionMs} ms, dropped.`);
      return false;
    }
    session.sealing = true; // a reconnect meanwhile waits for the store (close 4003) instead of racing it
    try {
      const { ok } = await this.#ctx.sealer.seal(session, session.browser);
      const kept = await stores.put(sid, { blob: ok.blob, gen: ok.gen, exp: ok.exp });
      if (this.#pool.get(sid) !== session || session.ended) return false;
      this.#pool.release(session, 'retained', 1001, ok);
      metrics.retired('stored');
      options.logger.info(
        `session ${short(sid)}: ${this.#pool.draining ? 'draining' : `no channel for ${options.retentionMs} ms`}, kept in ${kept.join(' + ')}.`,
      );
      return true;
    } catch (error) {
      session.sealing = false;
      if (this.#pool.get(sid) !== session) return false;
      const attempts = ++session.retireAttempts;
      const hopeless = this.#pool.draining || (error instanceof StasisError && (error.code === 'too-large' || error.code === 'unserializable'));
      if (attempts < 3 && !hopeless) {
        // Keep it live and try again: a store outage should not cost the session.
        options.logger.warn(`session ${short(sid)}: could not be stored (${(error as Error).message}); retrying`);
        this.start(session, Math.min(options.retentionMs, 30_000));
        return false;
      }
      this.#pool.drop(session, 'expired', 1001);
      metrics.retired('lost');
      options.logger.error(`session ${short(sid)}: LOST after ${attempts} attempts to store it: ${(error as Error).message}`);
      return false;
    }
  }
}
