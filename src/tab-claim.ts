/**
 * A tab claims its session id with a Web Lock held for as long as the tab lives. The browser releases it
 * when the tab closes or crashes, so "is anyone holding this sid?" tells a duplicated tab (the original
 * still holds it) from an orphan (its tab is gone). Without Web Locks every claim succeeds.
 */
export class TabClaim {
  #release: (() => void) | undefined;
  #sid: string | undefined;

  get sid(): string | undefined {
    return this.#sid;
  }

  /**
   * Claims `sid`, waiting up to `waitMs` for a tab that is unloading to let go (a reload can overlap the old
   * document for a moment). On success any earlier claim of this tab is released; on failure it is kept.
   */
  async claim(sid: string, waitMs = 0): Promise<boolean> {
    if (this.#sid === sid) return true;
    const locks = typeof navigator === 'undefined' ? undefined : navigator.locks;
    if (!locks) {
      this.#sid = sid;
      return true;
    }
    let release: (() => void) | undefined;
    const acquired = await new Promise<boolean>((resolve) => {
      const options: LockOptions = waitMs > 0 ? { signal: AbortSignal.timeout(waitMs) } : { ifAvailable: true };
      locks
        .request(lockName(sid), options, (lock) => {
          if (!lock) {
            resolve(false);
            return undefined;
          }
          resolve(true);
          return new Promise<void>((done) => (release = done));
        })
        .catch(() => resolve(false)); // AbortError: still held after waitMs
    });
    if (!acquired) return false;
    this.release();
    this.#release = release;
    this.#sid = sid;
    return true;
  }

  /** True when no tab holds `sid` right now (probes without keeping a claim). */
  async isFree(sid: string): Promise<boolean> {
    const locks = typeof navigator === 'undefined' ? undefined : navigator.locks;
    if (!locks) return true;
    return locks.request(lockName(sid), { ifAvailable: true }, (lock) => lock !== null).catch(() => false);
  }

  /** Lets the claim go (the client stops; otherwise the browser releases it when the tab goes away). */
  release(): void {
    this.#release?.();
    this.#release = undefined;
    this.#sid = undefined;
  }
}

function lockName(sid: string): string {
  return `stasis:tab:${sid}`;
}
