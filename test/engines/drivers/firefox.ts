import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import type { EngineBrowser, EngineTab, LaunchEngine, PageFunction } from '../support/engine-browser.js';

export const FIREFOX = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';

/**
 * Debian's Firefox ESR driven over WebDriver BiDi. puppeteer-core only launches it and owns the connection;
 * every command is a raw BiDi call on that connection, because puppeteer's own navigation tracking hangs after
 * a back/forward-cache restore (no load event comes, and every later `goto` then times out).
 *
 * Each `newTab` is a top-level window, so tabs never hide each other; `hide()` opens a helper tab in the same
 * window and brings it to front, which makes the page really `hidden` (a genuine visibilitychange).
 * `setOffline` is Firefox's own "Work Offline" (`Services.io.offline`) set from the privileged parent process
 * (`--remote-allow-system-access`): unlike BiDi `emulation.setNetworkConditions`, which leaves service workers
 * online, it cuts pages and workers alike. Open WebSockets stay open.
 */
export interface FirefoxBrowser extends EngineBrowser {
  /** The main process id, also the process group of every Firefox process (puppeteer starts it detached). */
  readonly pid: number;
  readonly profileDir: string;
  /**
   * SIGKILLs every Firefox process (as the OS kills a browser) and waits until they are gone; the profile stays
   * on disk (a crash), for a launch on the same `profileDir`. close() after it only cleans up.
   */
  kill(): Promise<void>;
  /** The names of the cookies this profile holds (WebDriver BiDi storage.getCookies). */
  cookieNames(): Promise<string[]>;
  /** Deletes every cookie of this profile (storage.deleteCookies), as a cookie file lost in a crash. */
  deleteCookies(): Promise<void>;
}

export interface FirefoxLaunchOptions {
  /** An existing profile directory (kept by close(); the caller removes it). Default: a fresh temporary one. */
  profileDir?: string;
}

/** What the BiDi connection puppeteer-core made looks like to us (puppeteer types it per command). */
interface BidiLink {
  send(method: string, params: object): Promise<{ result: unknown }>;
}
type RemoteValue = { type: string; value?: unknown };
type EvaluateResult =
  | { type: 'success'; result: RemoteValue }
  | { type: 'exception'; exceptionDetails: { text: string } };

/** On top of puppeteer's defaults (@puppeteer/browsers): nothing may leave loopback. */
const PREFS: Record<string, string | number | boolean> = {
  // Remote settings (blocklists, Nimbus recipes…): a release build honours this only with
  // MOZ_DISABLE_NONLOCAL_CONNECTIONS=1, and the data: URL makes it skip all remote activity. Then Normandy,
  // updates, telemetry, captive portal, DNS-over-HTTPS, safebrowsing, add-ons, region, push, OCSP, crashes.
  'services.settings.server': 'data:,#remote-settings-dummy/v1', 'app.normandy.enabled': false,
  'app.shield.optoutstudies.enabled': false, 'messaging-system.rsexperimentloader.enabled': false,
  'nimbus.rsexperimentloader.enabled': false, 'app.update.auto': false, 'app.update.enabled': false,
  'app.update.service.enabled': false, 'app.update.staging.enabled': false, 'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.unified': false, 'toolkit.telemetry.archive.enabled': false,
  'toolkit.telemetry.server': 'data:,', 'toolkit.telemetry.shutdownPingSender.enabled': false,
  'toolkit.telemetry.firstShutdownPing.enabled': false, 'toolkit.telemetry.newProfilePing.enabled': false,
  'toolkit.telemetry.updatePing.enabled': false, 'toolkit.telemetry.bhrPing.enabled': false,
  'toolkit.coverage.opt-out': true, 'datareporting.usage.uploadEnabled': false,
  'datareporting.healthreport.documentServerURI': 'data:,', 'network.captive-portal-service.enabled': false,
  'captivedetect.canonicalURL': '', 'network.connectivity-service.enabled': false, 'network.trr.mode': 5,
  'network.dns.disablePrefetch': true, 'network.prefetch-next': false, 'network.predictor.enabled': false,
  'browser.safebrowsing.downloads.remote.enabled': false, 'browser.safebrowsing.provider.google4.updateURL': '',
  'browser.safebrowsing.provider.google4.gethashURL': '', 'browser.safebrowsing.provider.google.updateURL': '',
  'browser.safebrowsing.provider.google.gethashURL': '', 'browser.safebrowsing.provider.mozilla.updateURL': '',
  'browser.safebrowsing.provider.mozilla.gethashURL': '', 'extensions.systemAddon.update.enabled': false,
  'extensions.getAddons.discovery.api_url': 'data:,', 'extensions.webservice.discoverURL': 'data:,',
  'extensions.blocklist.enabled': false, 'browser.region.network.url': '', 'browser.region.update.enabled': false,
  'geo.provider.network.url': '', 'browser.search.geoip.url': '',
  'browser.newtabpage.activity-stream.telemetry': false,
  'browser.newtabpage.activity-stream.feeds.telemetry': false, 'browser.topsites.contile.enabled': false,
  'browser.discovery.enabled': false, 'browser.ml.enable': false, 'browser.translations.enable': false,
  'browser.urlbar.merino.endpointURL': '', 'browser.aboutwelcome.enabled': false, 'browser.backup.enabled': false,
  'termsofuse.bypassNotification': true, 'dom.push.connection.enabled': false, 'dom.push.serverURL': '',
  'network.sntp.pools': '', 'identity.fxaccounts.enabled': false, 'security.OCSP.enabled': 0,
  'security.remote_settings.crlite_filters.enabled': false, 'security.remote_settings.intermediates.enabled': false,
  'media.gmp-gmpopenh264.enabled': false, 'media.gmp-widevinecdm.enabled': false, 'breakpad.reportURL': '',
  'browser.tabs.crashReporting.sendReport': false,
  // Work Offline must also refuse loopback, or setOffline could not cut the test servers.
  'network.disable-localhost-when-offline': true,
};

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((done) => (timer = setTimeout(() => done('timeout'), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Live (not zombie) processes in process group `pgid`, from /proc. */
export async function processGroup(pgid: number): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses, so split after the last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') found.push(Number(entry));
  }
  return found;
}

class FirefoxTab implements EngineTab {
  #helper: string | undefined;
  #closed = false;

  constructor(
    private readonly send: <T>(method: string, params: object) => Promise<T>,
    readonly context: string,
  ) {}

  async evaluate<T, A extends unknown[]>(fn: PageFunction<T, A>, ...args: A): Promise<T> {
    const expression = `(async () => JSON.stringify(await (${String(fn)})(...${JSON.stringify(args)})))()`;
    const outcome = await this.send<EvaluateResult>('script.evaluate', {
      expression,
      target: { context: this.context },
      awaitPromise: true,
      resultOwnership: 'none',
    });
    if (outcome.type === 'exception') throw new Error(`evaluate: ${outcome.exceptionDetails.text}`);
    const { result } = outcome;
    return (result.type === 'string' ? JSON.parse(String(result.value)) : undefined) as T;
  }

  async waitFor<A extends unknown[]>(fn: PageFunction<unknown, A>, args: A, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError = '';
    for (;;) {
      try {
        if (await this.evaluate(fn, ...args)) return;
      } catch (error) {
        lastError = (error as Error).message; // e.g. the page is navigating: try again
      }
      if (Date.now() >= deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}`);
      }
      await sleep(50);
    }
  }

  async goto(url: string): Promise<void> {
    await this.send('browsingContext.navigate', { context: this.context, url, wait: 'complete' });
  }

  async reload(): Promise<void> {
    await this.send('browsingContext.reload', { context: this.context, wait: 'complete' });
  }

  back(): Promise<void> {
    return this.#traverse(-1);
  }

  forward(): Promise<void> {
    return this.#traverse(1);
  }

  /**
   * A restore from the back/forward cache sends no load event over BiDi, so the current document is marked
   * first and the traversal is done once another document, fully loaded, is in place (a cached page keeps
   * an older mark or none).
   */
  async #traverse(delta: number): Promise<void> {
    const mark = `${Date.now()}-${Math.random()}`;
    await this.evaluate((m) => void ((window as any).__engineDriverMark = m), mark);
    await this.send('browsingContext.traverseHistory', { context: this.context, delta });
    await this.waitFor(
      (m) => (window as any).__engineDriverMark !== m && document.readyState === 'complete',
      [mark],
      15_000,
      `history traversal by ${delta}`,
    );
    await this.evaluate(() => new Promise((done) => setTimeout(done, 0))); // pageshow comes right after load
  }

  async hide(): Promise<void> {
    this.#helper ??= await this.#createHelper();
    await this.send('browsingContext.activate', { context: this.#helper });
    await this.waitFor(() => document.visibilityState === 'hidden', [], 5000, 'the page to be hidden');
  }

  async show(): Promise<void> {
    await this.send('browsingContext.activate', { context: this.context });
    await this.waitFor(() => document.visibilityState === 'visible', [], 5000, 'the page to be visible');
  }

  /** Closes the page's tab as a user does (no beforeunload prompt), then its helper tab if any. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.send('browsingContext.close', { context: this.context, promptUnload: false });
    if (this.#helper) await this.send('browsingContext.close', { context: this.#helper }).catch(() => undefined);
  }

  async #createHelper(): Promise<string> {
    const created = await this.send<{ context: string }>('browsingContext.create', {
      type: 'tab',
      referenceContext: this.context,
      background: true,
    });
    return created.context;
  }
}

export async function launchFirefoxBrowser(options: FirefoxLaunchOptions = {}): Promise<FirefoxBrowser> {
  const ownProfile = options.profileDir === undefined;
  const profileDir = options.profileDir ?? (await mkdtemp(join(tmpdir(), 'stasis-firefox-')));
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      browser: 'firefox',
      protocol: 'webDriverBiDi',
      executablePath: FIREFOX,
      headless: true,
      userDataDir: profileDir,
      extraPrefsFirefox: PREFS,
      args: ['--remote-allow-system-access'],
      env: { ...process.env, MOZ_DISABLE_NONLOCAL_CONNECTIONS: '1', MOZ_CRASHREPORTER_DISABLE: '1' },
    });
  } catch (error) {
    if (ownProfile) await rm(profileDir, { recursive: true, force: true });
    throw error;
  }
  const pid = browser.process()!.pid!;
  const link = (browser as unknown as { connection: BidiLink }).connection;
  const send = async <T>(method: string, params: object) => (await link.send(method, params)).result as T;

  /** Evaluates in the parent process (a chrome window); undefined if system access is refused. */
  const chrome = async (expression: string): Promise<unknown> => {
    const tree = await send<{ contexts: { context: string }[] }>('browsingContext.getTree', { 'moz:scope': 'chrome', maxDepth: 0 });
    const target = { context: tree.contexts[0]!.context };
    const outcome = await send<EvaluateResult>('script.evaluate', { expression, target, awaitPromise: false });
    if (outcome.type === 'exception') throw new Error(`chrome evaluate: ${outcome.exceptionDetails.text}`);
    return outcome.result.value;
  };
  const display = await chrome('AppConstants.MOZ_APP_VERSION_DISPLAY').catch(() => undefined);
  let closed = false;

  const firefox: FirefoxBrowser = {
    name: 'firefox',
    version: typeof display === 'string' ? display : (await browser.version()).replace(/^firefox\//, ''),
    pid,
    profileDir,
    async newTab(url) {
      const { context } = await send<{ context: string }>('browsingContext.create', { type: 'window' });
      const tab = new FirefoxTab(send, context);
      await tab.goto(url);
      return tab;
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        const ended = await withTimeout(browser.close().catch(() => undefined), 10_000);
        if (ended === 'timeout') browser.process()?.kill('SIGKILL');
        // The main process is gone; its forkserver children may linger a moment: give them 2 s, then kill.
        for (let i = 0; (await processGroup(pid)).length > 0; i++) {
          if (i === 40) killGroup(pid);
          if (i === 100) throw new Error(`Firefox processes left: ${(await processGroup(pid)).join(' ')}`);
          await sleep(50);
        }
      } finally {
        if (ownProfile) await rm(profileDir, { recursive: true, force: true, maxRetries: 3 });
      }
    },
    async cookieNames() {
      const { cookies } = await send<{ cookies: { name: string }[] }>('storage.getCookies', {});
      return cookies.map((cookie) => cookie.name);
    },
    async deleteCookies() {
      await send('storage.deleteCookies', {});
    },
    async kill() {
      if (closed) return;
      closed = true;
      killGroup(pid);
      for (let i = 0; (await processGroup(pid)).length > 0; i++) {
        if (i === 100) throw new Error(`Firefox processes left after SIGKILL: ${(await processGroup(pid)).join(' ')}`);
        await sleep(50);
      }
      browser.disconnect().catch(() => undefined);
      if (ownProfile) await rm(profileDir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
  if (display !== undefined) {
    firefox.setOffline = async (offline) => {
      // Idle keep-alive connections would still carry requests: prune them when going offline.
      const now = await chrome(
        `Services.io.offline = ${offline}; if (${offline}) Services.obs.notifyObservers(null, 'net:prune-all-connections'); Services.io.offline`,
      );
      if (now !== offline) throw new Error(`Firefox did not go ${offline ? 'offline' : 'online'}`);
    };
  }
  return firefox;
}

export const launchFirefox: LaunchEngine = launchFirefoxBrowser;
