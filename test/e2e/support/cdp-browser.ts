import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-features=Translate,MediaRouter,OptimizationHints',
];

type Pending = { resolve: (value: any) => void; reject: (error: Error) => void; method: string };

/**
 * Chromium started directly and driven over raw CDP. Pages driven by Playwright always report
 * `visible`; here `Target.createTarget` really hides the current tab and `Target.activateTarget`
 * really shows it again, with genuine visibilitychange events (see ENVIRONMENT.md).
 */
export class CdpBrowser {
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #networkSessions = new Map<string, string>();
  readonly #listeners = new Set<(method: string, params: any, sessionId?: string) => void>();

  private constructor(
    private readonly process: ChildProcess,
    private readonly socket: WebSocket,
    readonly profileDir: string,
    /** A profile passed in by the caller is kept on close (e.g. to restart on it). */
    private readonly ownsProfile: boolean,
  ) {
    socket.on('message', (data) => {
      const message = JSON.parse((data as Buffer).toString());
      if (message.id !== undefined) {
        const pending = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        if (message.error) pending?.reject(new Error(`${pending.method}: ${message.error.message}`));
        else pending?.resolve(message.result);
      } else {
        for (const listener of this.#listeners) listener(message.method, message.params, message.sessionId);
      }
    });
  }

  static async launch(options: { profileDir?: string } = {}): Promise<CdpBrowser> {
    const profileDir = options.profileDir ?? (await mkdtemp(join(tmpdir(), 'stasis-e2e-')));
    const child = spawn(CHROMIUM, [...CHROMIUM_ARGS, '--remote-debugging-port=0', `--user-data-dir=${profileDir}`, 'about:blank'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true, // its own process group, so kill() takes every Chromium process down at once
    });
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Chromium did not start:\n${stderr}`)), 20_000);
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const match = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      child.once('exit', (code) => reject(new Error(`Chromium exited with ${code}:\n${stderr}`)));
    });
    const socket = new WebSocket(url, { perMessageDeflate: false });
    await once(socket, 'open');
    return new CdpBrowser(child, socket, profileDir, !options.profileDir);
  }

  send<T = any>(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, method });
      this.socket.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  }

  on(listener: (method: string, params: any, sessionId?: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Opens a new foreground tab at `url` (which hides the tab that was in front). */
  async newTab(url: string): Promise<Tab> {
    const { targetId } = await this.send<{ targetId: string }>('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
    const tab = new Tab(this, targetId, sessionId);
    await tab.send('Page.enable');
    await tab.send('Runtime.enable');
    if (url !== 'about:blank') await tab.goto(url);
    return tab;
  }

  /** The network state setOffline last set; undefined until it is first called. */
  #offline: boolean | undefined;

  /**
   * A service worker that (re)starts after setOffline gets the current state too: a worker stopped while offline
   * comes back under its old target id still emulated offline, and the session that set it is gone (the full run
   * saw a tab's resumes fail with a network error for 30 s after the network was back).
   */
  async #followWorkers(): Promise<void> {
    this.on((method, params: { targetInfo?: { targetId: string; type: string } }) => {
      const info = params?.targetInfo;
      if (method !== 'Target.targetCreated' || info?.type !== 'service_worker' || this.#offline === undefined) return;
      const conditions = { offline: this.#offline, latency: 0, downloadThroughput: -1, uploadThroughput: -1 };
      void (async () => {
        const { sessionId } = await this.send<{ sessionId: string }>('Target.attachToTarget', { targetId: info.targetId, flatten: true });
        this.#networkSessions.set(info.targetId, sessionId);
        await this.send('Network.enable', {}, sessionId);
        await this.send('Network.emulateNetworkConditions', conditions, sessionId);
      })().catch(() => undefined); // it stopped again meanwhile: the next start is followed too
    });
    await this.send('Target.setDiscoverTargets', { discover: true });
  }

  /** Sets offline emulation on every page and service worker target (page and worker fetches both fail). */
  async setOffline(offline: boolean): Promise<void> {
    if (this.#offline === undefined) await this.#followWorkers();
    this.#offline = offline;
    const conditions = { offline, latency: 0, downloadThroughput: -1, uploadThroughput: -1 };
    if (!offline) {
      // Every target we ever took offline goes back online, including a worker that is missing from the
      // target list right now (starting or stopping): left offline, its fetches would keep failing.
      for (const sessionId of this.#networkSessions.values()) {
        await this.send('Network.emulateNetworkConditions', conditions, sessionId).catch(() => undefined);
      }
    }
    const { targetInfos } = await this.send<{ targetInfos: Array<{ targetId: string; type: string }> }>('Target.getTargets');
    for (const target of targetInfos.filter((t) => t.type === 'page' || t.type === 'service_worker')) {
      // Emulation belongs to the CDP session that set it: reuse one session per target.
      let sessionId = this.#networkSessions.get(target.targetId);
      if (!sessionId) {
        ({ sessionId } = await this.send<{ sessionId: string }>('Target.attachToTarget', { targetId: target.targetId, flatten: true }));
        this.#networkSessions.set(target.targetId, sessionId);
        await this.send('Network.enable', {}, sessionId);
      }
      await this.send('Network.emulateNetworkConditions', conditions, sessionId).catch(async () => {
        // A session that detached (its worker restarted under the same id): attach afresh and try once more.
        ({ sessionId } = await this.send<{ sessionId: string }>('Target.attachToTarget', { targetId: target.targetId, flatten: true }));
        this.#networkSessions.set(target.targetId, sessionId);
        await this.send('Network.enable', {}, sessionId);
        await this.send('Network.emulateNetworkConditions', conditions, sessionId);
      });
    }
  }

  async close(): Promise<void> {
    try {
      if (this.socket.readyState === WebSocket.OPEN) await Promise.race([this.send('Browser.close'), new Promise((r) => setTimeout(r, 2000))]);
    } catch {
      // already gone
    }
    this.socket.close();
    if (this.#running) {
      const exited = once(this.process, 'exit').catch(() => undefined);
      try {
        process.kill(-this.process.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      await exited;
    }
    if (this.ownsProfile) await rm(this.profileDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }

  /** A process killed by a signal has `exitCode` null but a `signalCode`: it has exited all the same. */
  get #running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** Kills the whole browser with SIGKILL, as a mobile OS does: no unload, no flush. The profile stays. */
  async kill(): Promise<void> {
    this.socket.terminate();
    if (!this.#running) return;
    const exited = once(this.process, 'exit');
    process.kill(-this.process.pid!, 'SIGKILL');
    await exited;
  }
}

export class Tab {
  constructor(
    readonly browser: CdpBrowser,
    readonly targetId: string,
    readonly sessionId: string,
  ) {}

  send<T = any>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    return this.browser.send<T>(method, params, this.sessionId);
  }

  async goto(url: string): Promise<void> {
    const loaded = this.#waitForEvent('Page.loadEventFired');
    await this.send('Page.navigate', { url });
    await loaded;
  }

  async reload(): Promise<void> {
    const loaded = this.#waitForEvent('Page.loadEventFired');
    await this.send('Page.reload', {});
    await loaded;
  }

  /** Runs a function in the page and returns its (JSON) result; promises are awaited. */
  async evaluate<T, A extends unknown[]>(fn: (...args: A) => T | Promise<T>, ...args: A): Promise<T> {
    const result = await this.send('Runtime.evaluate', {
      expression: `(${fn.toString()})(...${JSON.stringify(args)})`,
      awaitPromise: true,
      returnByValue: true,
    });
    if (result.exceptionDetails) {
      throw new Error(`evaluate failed: ${result.exceptionDetails.exception?.description ?? result.exceptionDetails.text}`);
    }
    return result.result.value as T;
  }

  /** Polls a predicate in the page until it returns a truthy value. */
  async waitFor<T, A extends unknown[]>(fn: (...args: A) => T, args: A, timeoutMs = 10_000, what = fn.toString()): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: T | undefined;
    while (Date.now() < deadline) {
      last = await this.evaluate(fn, ...args);
      if (last) return last;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
  }

  async click(selector: string): Promise<void> {
    await this.evaluate((s) => {
      const el = document.querySelector<HTMLElement>(s);
      if (!el) throw new Error(`no element ${s}`);
      el.click();
    }, selector);
  }

  /** Focuses a field and types into it with real input events. */
  async type(selector: string, text: string): Promise<void> {
    await this.evaluate((s) => document.querySelector<HTMLElement>(s)!.focus(), selector);
    await this.send('Input.insertText', { text });
  }

  /** Really hides this tab by opening another one in front of it; returns the tab in front. */
  async hide(): Promise<Tab> {
    const front = await this.browser.newTab('about:blank');
    await this.waitFor(() => document.visibilityState === 'hidden', [], 5000, 'tab hidden');
    return front;
  }

  /** Brings this tab to the front again (a real visibilitychange to visible). */
  async show(): Promise<void> {
    await this.browser.send('Target.activateTarget', { targetId: this.targetId });
    await this.waitFor(() => document.visibilityState === 'visible', [], 5000, 'tab visible');
  }

  async close(): Promise<void> {
    await this.browser.send('Target.closeTarget', { targetId: this.targetId });
  }

  #waitForEvent(method: string, timeoutMs = 15_000): Promise<any> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`timed out waiting for ${method}`));
      }, timeoutMs);
      const off = this.browser.on((m, params, sessionId) => {
        if (m === method && sessionId === this.sessionId) {
          clearTimeout(timer);
          off();
          resolve(params);
        }
      });
    });
  }
}
