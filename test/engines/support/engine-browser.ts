/**
 * What the engine suite needs from a browser, whatever drives it: Firefox over WebDriver BiDi
 * (puppeteer-core), WebKitGTK over classic WebDriver (WebKitWebDriver). Playwright cannot drive Debian's
 * Firefox or WebKitGTK (it needs its own builds), so each engine has a small driver behind this interface.
 */
export type EngineName = 'firefox' | 'webkit';

/** A script run in the page: a function serialised with `String(fn)` and called with JSON-able arguments. */
export type PageFunction<T, A extends unknown[]> = (...args: A) => T | Promise<T>;

export interface EngineTab {
  /** Runs `fn(...args)` in the page (awaiting a returned promise) and resolves with its JSON-able result. */
  evaluate<T, A extends unknown[]>(fn: PageFunction<T, A>, ...args: A): Promise<T>;
  /** Polls `fn(...args)` in the page until it is truthy; rejects after `timeoutMs` naming `what`. */
  waitFor<A extends unknown[]>(fn: PageFunction<unknown, A>, args: A, timeoutMs?: number, what?: string): Promise<void>;
  /** Navigates this tab and waits for the load. */
  goto(url: string): Promise<void>;
  reload(): Promise<void>;
  /** History navigation; the page may come back from the back/forward cache. */
  back(): Promise<void>;
  forward(): Promise<void>;
  /** Really hides the page (`document.visibilityState === 'hidden'`, a real visibilitychange). */
  hide(): Promise<void>;
  /** Shows it again (`visible`). */
  show(): Promise<void>;
  /** Closes the tab (its page goes away as when the user closes it). */
  close(): Promise<void>;
}

export interface EngineBrowser {
  readonly name: EngineName;
  /** The browser's own version string, e.g. "153.8.0esr" or "2.50.1". */
  readonly version: string;
  /** Opens a new tab (or window) at `url` and waits for the load. */
  newTab(url: string): Promise<EngineTab>;
  /**
   * Cuts the network of every page and worker (navigator.onLine false, `offline`/`online` events), where the
   * driver can; undefined where it cannot (then tests make the server unreachable instead).
   */
  setOffline?(offline: boolean): Promise<void>;
  /** Ends the browser and every process it started (driver, Xvfb) and removes its temporary profile. */
  close(): Promise<void>;
}

export type LaunchEngine = () => Promise<EngineBrowser>;
