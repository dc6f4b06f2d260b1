/** How long a parked claim (a page waiting in the back/forward cache) keeps other tabs from adopting its blob. */
export const PARKED_CLAIM_MS = 30 * 60_000;

/**
 * A tab claims its session id with a Web Lock held for as long as the tab lives. The browser releases it
 * when the tab closes or crashes, so "is anyone holding this sid?" tells a duplicated tab (the original
 * still holds it) from an orphan (its tab is gone). Without Web Locks every claim succeeds.
 *
 * Firefox keeps a page that holds a Web Lock out of the back/forward cache, and decides before `pagehide`.
 * So a page that starts leaving (`beforeunload`) parks its claim: the lock goes, and a mark in localStorage
 * (shared by the origin's tabs) keeps other tabs from adopting the blob while the page may wait in the cache.
 * The page takes the lock back on `pageshow`, or when it is still here after the navigation was cancelled.
 */
export class TabClaim {
  #release: (() => void) | undefined;
  #sid: string | undefined;
  #parked: string | undefined;

  /**
   * Claims `sid`, waiting up to `waitMs` for a tab that is unloading to let go (a reload can overlap the old
   * document for a moment). On success any earlier claim of this tab is released; on failure it is kept.
   */
  async claim(sid: string, waitMs = 0): Promise<boolean> {
    if (this.#sid === sid) return true;
    const locks = webLocks();
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
    mark(sid, false); // its own again (a reload of a tab whose cached page was dropped)
    return true;
  }

  /** Claims the sid another tab left behind, unless that tab's page may still come back from the cache. */
  adopt(sid: string): Promise<boolean> {
    return parked(sid) ? Promise.resolve(false) : this.claim(sid);
  }

  /** True when no tab holds `sid` right now, nor has it parked (probes without keeping a claim). */
  async isFree(sid: string): Promise<boolean> {
    const locks = webLocks();
    if (parked(sid)) return false;
    if (!locks) return true;
    return locks.request(lockName(sid), { ifAvailable: true }, (lock) => lock !== null).catch(() => false);
  }

  /** Lets the lock go but keeps the claim marked (the page may enter the back/forward cache); false if it cannot. */
  park(): boolean {
    const sid = this.#sid;
    if (!sid || !this.#release || !mark(sid, true)) return false;
    this.release();
    this.#parked = sid;
    return true;
  }

  /** The page unloads for good (closed, or not cached): its blob is an orphan now, free to adopt. */
  leave(): void {
    if (this.#parked) mark(this.#parked, false);
  }

  /** Takes a parked claim back; false when another tab holds the sid now (it adopted it after the mark expired). */
  async unpark(): Promise<boolean> {
    const sid = this.#parked;
    this.#parked = undefined;
    return sid === undefined || this.claim(sid);
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

function webLocks(): LockManager | undefined {
  return globalThis.navigator?.locks;
}

/** Sets (or clears) the parked mark of `sid`; false when localStorage refuses. */
function mark(sid: string, on: boolean): boolean {
  try {
    if (on) localStorage.setItem(lockName(sid), String(Date.now()));
    else localStorage.removeItem(lockName(sid));
    return true;
  } catch {
    return false;
  }
}

function parked(sid: string): boolean {
  try {
    return Date.now() - Number(localStorage.getItem(lockName(sid))) < PARKED_CLAIM_MS;
  } catch {
    return false;
  }
}
