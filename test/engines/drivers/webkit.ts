/**
 * WebKitGTK through Debian's WebKitWebDriver (classic W3C WebDriver over HTTP, plain `fetch`), which drives
 * the MiniBrowser of libwebkit2gtk-4.1 on a private Xvfb display.
 *
 * - One WebDriver session; every EngineTab is its own top-level *window* (New Window `type: 'window'`): a
 *   MiniBrowser tab in a background notebook page reports `hidden`, and minimising acts on a whole window.
 * - Classic WebDriver acts on one "current window": all commands go through one queue, and a tab switches to
 *   its window handle first (cached, so no needless switches). A long `evaluate` therefore blocks the others.
 * - hide() = Minimize Window (the page turns `hidden` with a real visibilitychange, even with no window
 *   manager); show() = Set Window Rect back to the size it had. Both wait until the page reports the state.
 * - MiniBrowser in `--automation` mode uses an ephemeral website data manager (memory only): every launch is
 *   a fresh profile. HOME and XDG_DATA/CONFIG_HOME point at a temporary directory, removed by close(); only
 *   XDG_CACHE_HOME (Mesa shaders, GStreamer registry: no web data) is shared between launches.
 * - setOffline: WebKitWebDriver has no network emulation, so it is left undefined.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EngineTab, LaunchEngine, PageFunction } from '../support/engine-browser.js';

const DRIVER = '/usr/bin/WebKitWebDriver';
const XVFB = '/usr/bin/Xvfb';
const MINIBROWSER = '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
const CACHE = join(tmpdir(), 'stasis-webkitgtk-cache');

interface Rect { x: number; y: number; width: number; height: number }
type Outcome = { ok: true; json?: string } | { ok: false; message: string };

/** Starts Xvfb on the first free display of :90..:120; resolves once its socket exists. */
async function startXvfb(): Promise<{ child: ChildProcess; display: string }> {
  for (let n = 90; n <= 120; n++) {
    if (existsSync(`/tmp/.X${n}-lock`) || existsSync(`/tmp/.X11-unix/X${n}`)) continue;
    const child = spawn(XVFB, [`:${n}`, '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], { stdio: 'ignore' });
    let exited = false;
    child.once('exit', () => (exited = true));
    for (const deadline = Date.now() + 5_000; !exited && Date.now() < deadline; await sleep(20)) {
      if (existsSync(`/tmp/.X11-unix/X${n}`)) return { child, display: `:${n}` };
    }
    if (!exited) child.kill('SIGKILL');
  }
  throw new Error('no free X display in :90..:120 for Xvfb');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Ends a whole process group (the driver and the MiniBrowser it started) and waits until it is gone. */
async function killGroup(pid: number | undefined): Promise<void> {
  if (!pid) return;
  const alive = () => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (const [signal, waitMs] of [['SIGTERM', 3_000], ['SIGKILL', 3_000]] as const) {
    if (!alive()) return;
    try {
      process.kill(-pid, signal);
    } catch {
      return;
    }
    for (const deadline = Date.now() + waitMs; alive() && Date.now() < deadline; ) await sleep(25);
  }
}

export const launchWebKit: LaunchEngine = async () => {
  const xvfb = await startXvfb();
  const profile = await mkdtemp(join(tmpdir(), 'stasis-webkit-')).catch((error: unknown) => {
    xvfb.child.kill('SIGKILL');
    throw error;
  });
  let log = '';
  let driver: ChildProcess | undefined;
  let base = '';
  const killAll = () => {
    for (const kill of [() => driver?.pid && process.kill(-driver.pid, 'SIGKILL'), () => xvfb.child.kill('SIGKILL')]) {
      try {
        kill();
      } catch {
        /* already gone */
      }
    }
  };
  process.once('exit', killAll); // a crashed test run leaves nothing behind

  const call = async <T = unknown>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(base + path, {
      method,
      headers: { 'content-type': 'application/json' },
      body: method === 'POST' ? JSON.stringify(body ?? {}) : null,
    });
    const { value } = (await response.json()) as { value: T & { error?: string; message?: string } };
    if (!response.ok) throw new Error(`WebDriver ${method} ${path.replace(/^\/session\/[^/]+/, '')}: ${value?.error}: ${value?.message}`);
    return value;
  };

  let sessionPath = '';
  let capabilities: { browserVersion?: string };
  let anchor: string; // the session's first window: it stays open at about:blank, as closing the last one ends the session
  try {
    for (let attempt = 0; !driver; attempt++) {
      const port = await freePort();
      const child = spawn(DRIVER, [`--port=${port}`], {
        detached: true, // own process group: close() ends the driver and its MiniBrowser together
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          DISPLAY: xvfb.display,
          HOME: profile,
          XDG_DATA_HOME: join(profile, 'data'),
          XDG_CONFIG_HOME: join(profile, 'config'),
          XDG_CACHE_HOME: CACHE, // Mesa shaders and the GStreamer registry only: a fresh one costs ~1 s a launch
          WEBKIT_DISABLE_DMABUF_RENDERER: '1', // no GPU under Xvfb: new windows map ~30 % faster
        },
      });
      const append = (chunk: Buffer) => (log = (log + chunk.toString()).slice(-8_000));
      child.stdout.on('data', append);
      child.stderr.on('data', append);
      base = `http://127.0.0.1:${port}`;
      for (const deadline = Date.now() + 5_000; child.exitCode === null && Date.now() < deadline; await sleep(25)) {
        if (await fetch(`${base}/status`).then((r) => r.ok, () => false)) {
          driver = child;
          break;
        }
      }
      if (!driver) {
        await killGroup(child.pid);
        if (attempt >= 2) throw new Error(`WebKitWebDriver did not start:\n${log}`);
      }
    }
    const session = await call<{ sessionId: string; capabilities: { browserVersion?: string } }>('POST', '/session', {
      capabilities: {
        alwaysMatch: {
          browserName: 'MiniBrowser',
          'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
          pageLoadStrategy: 'normal',
          timeouts: { script: 30_000, pageLoad: 30_000, implicit: 0 },
        },
      },
    });
    sessionPath = `/session/${session.sessionId}`;
    capabilities = session.capabilities;
    anchor = await call<string>('GET', `${sessionPath}/window`);
  } catch (error) {
    await killGroup(driver?.pid);
    xvfb.child.kill('SIGKILL');
    process.off('exit', killAll);
    await rm(profile, { recursive: true, force: true });
    throw error;
  }

  let current: string | undefined = anchor;
  let queue: Promise<unknown> = Promise.resolve();
  /** Runs `body` alone, with `handle` as the current window. */
  const exclusive = <T>(handle: string | undefined, body: () => Promise<T>): Promise<T> => {
    const run = queue.then(async () => {
      if (handle && current !== handle) {
        await call('POST', `${sessionPath}/window`, { handle });
        current = handle;
      }
      return body();
    });
    queue = run.catch(() => undefined);
    return run;
  };
  let closed = false;

  const makeTab = (handle: string): EngineTab => {
    let open = true;
    let rect: Rect = { x: 0, y: 0, width: 1024, height: 768 };
    const onTab = <T>(body: () => Promise<T>): Promise<T> => {
      if (!open || closed) return Promise.reject(new Error('this WebKit tab is closed'));
      return exclusive(handle, body);
    };
    const session = (method: string, path: string, body?: unknown) => onTab(() => call(method, `${sessionPath}${path}`, body));

    const evaluate = async <T, A extends unknown[]>(fn: PageFunction<T, A>, ...args: A): Promise<T> => {
      const script = `const done = arguments[arguments.length - 1];
        Promise.resolve()
          .then(() => (${String(fn)})(...arguments[0]))
          .then((value) => ({ ok: true, json: value === undefined ? undefined : JSON.stringify(value) }))
          .then(done, (error) => done({ ok: false, message: String(error && error.message !== undefined ? error.message : error) }));`;
      const outcome = (await session('POST', '/execute/async', { script, args: [args] })) as Outcome;
      if (!outcome.ok) throw new Error(`page: ${outcome.message}`);
      return (outcome.json == null ? undefined : JSON.parse(outcome.json)) as T;
    };
    const waitFor = async <A extends unknown[]>(fn: PageFunction<unknown, A>, args: A, timeoutMs = 10_000, what?: string) => {
      let last = '';
      for (const deadline = Date.now() + timeoutMs; ; await sleep(50)) {
        try {
          if (await evaluate(fn, ...args)) return;
        } catch (error) {
          if (!open || closed) throw error;
          last = ` (last error: ${(error as Error).message})`; // e.g. the page was navigating: try again
        }
        if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what ?? String(fn)}${last}`);
      }
    };
    const visibility = (state: DocumentVisibilityState) =>
      waitFor((s) => document.visibilityState === s, [state], 5_000, `document.visibilityState === '${state}'`);

    return {
      evaluate,
      waitFor,
      goto: async (url) => void (await session('POST', '/url', { url })),
      reload: async () => void (await session('POST', '/refresh')),
      back: async () => void (await session('POST', '/back')),
      forward: async () => void (await session('POST', '/forward')),
      hide: async () => {
        await onTab(async () => {
          const now = await call<Rect>('GET', `${sessionPath}/window/rect`);
          if (now.width > 0 && now.height > 0) rect = now;
          await call('POST', `${sessionPath}/window/minimize`);
        });
        await visibility('hidden');
      },
      show: async () => {
        // No window manager: Set Window Rect maps the window again at once (Maximize waits ~1 s for nothing).
        await session('POST', '/window/rect', { width: rect.width, height: rect.height });
        await visibility('visible');
      },
      close: async () => {
        if (!open || closed) return;
        await onTab(async () => {
          await call('DELETE', `${sessionPath}/window`);
          current = undefined;
        });
        open = false;
      },
    };
  };

  return {
    name: 'webkit',
    version: capabilities.browserVersion ?? 'unknown',
    newTab: (url) =>
      exclusive(undefined, async () => {
        if (closed) throw new Error('this WebKit browser is closed');
        if (current === undefined) {
          await call('POST', `${sessionPath}/window`, { handle: anchor }); // New Window needs an open current window
          current = anchor;
        }
        const { handle } = await call<{ handle: string }>('POST', `${sessionPath}/window/new`, { type: 'window' });
        await call('POST', `${sessionPath}/window`, { handle }); // the first switch to a new window: ~0.3-1 s
        current = handle;
        await call('POST', `${sessionPath}/url`, { url });
        return makeTab(handle);
      }),
    close: async () => {
      if (closed) return;
      closed = true;
      await Promise.race([queue, sleep(5_000)]); // let a running command finish, but not a hung one
      await fetch(`${base}${sessionPath}`, { method: 'DELETE', signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
      await killGroup(driver?.pid);
      if (xvfb.child.exitCode === null && xvfb.child.signalCode === null) {
        const exited = once(xvfb.child, 'exit');
        xvfb.child.kill('SIGTERM');
        await Promise.race([exited, sleep(3_000).then(() => xvfb.child.kill('SIGKILL'))]);
      }
      process.off('exit', killAll);
      await rm(profile, { recursive: true, force: true });
    },
  };
};
