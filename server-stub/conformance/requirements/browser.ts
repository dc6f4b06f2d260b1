/**
 * `--browser`: the real page SDK in headless Chromium against the server (puppeteer-core, when installed, and
 * Chromium at CHROMIUM_PATH or /usr/bin/chromium). The page must be same-origin with the server and the tool
 * serves nothing: it opens {base}/health (every Stasis server has it) and injects <script src="{base}/stasis.js">
 * there, then hides the tab (another tab in front), waits for the blob, shows it again and reads the state back.
 */
import { existsSync } from 'node:fs';
import type { Context, Group } from '../types.js';

interface Page {
  goto(url: string, options: { waitUntil: string; timeout: number }): Promise<unknown>;
  evaluate(script: string): Promise<unknown>;
  bringToFront(): Promise<void>;
}
interface Browser {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}
interface Puppeteer {
  launch(options: Record<string, unknown>): Promise<Browser>;
}

export const browserGroup: Group = {
  name: 'browser',
  requirements: [
    {
      id: 'BROWSER-ROUNDTRIP',
      level: 'MUST',
      title: '(--browser) the page SDK in Chromium: hide → blob stored → show → the state back at gen + 1',
      section: 'Page ↔ service worker',
    },
  ],
  async run(ctx) {
    if (!ctx.options.browser) return ctx.skip('BROWSER-ROUNDTRIP', 'not asked (--browser)');
    if (!ctx.facts.live || !ctx.facts.app) return ctx.skip('BROWSER-ROUNDTRIP', 'needs SETUP-APP');
    const result = await roundTrip(ctx).catch((error: unknown) => `${(error as Error)?.message ?? String(error)}`);
    ctx.check('BROWSER-ROUNDTRIP', result.startsWith('ok:'), result);
  },
};

async function loadPuppeteer(): Promise<Puppeteer> {
  const name = 'puppeteer-core'; // not a literal: bundlers leave an optional import alone
  try {
    const loaded = (await import(name)) as { default?: Puppeteer } & Partial<Puppeteer>;
    const found = loaded.default ?? (loaded as Puppeteer);
    if (typeof found.launch !== 'function') throw new Error('no launch()');
    return found;
  } catch (error) {
    throw new Error(`--browser needs the "puppeteer-core" package (npm install puppeteer-core): ${(error as Error).message}`, { cause: error });
  }
}

async function roundTrip(ctx: Context): Promise<string> {
  const puppeteer = await loadPuppeteer();
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(`no Chromium at ${executablePath} (set CHROMIUM_PATH)`);
  const wait = Math.max(15_000, ctx.options.timeoutMs * 3);
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--no-default-browser-check'],
    timeout: wait,
  });
  let closed = false;
  const close = async () => {
    if (!closed) await browser.close().catch(() => undefined);
    closed = true;
  };
  ctx.onCleanup(close);
  try {
    const page = await browser.newPage();
    await page.goto(`${ctx.base}/health`, { waitUntil: 'load', timeout: wait });
    const live = `${ctx.base.replace(/^http/, 'ws')}/live`;
    const sid = await page.evaluate(`(${pageSetup.toString()})(${JSON.stringify({ src: `${ctx.base}/stasis.js`, endpoint: ctx.base, live })})`);
    const poll = async (what: string, expression: string): Promise<unknown> => {
      const deadline = Date.now() + wait;
      for (;;) {
        const value = await page.evaluate(expression).catch(() => undefined);
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`timed out after ${wait} ms waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    const first = (await poll('the first state message', 'window.__conformance.states[0]')) as { gen: number };
    const token = ctx.sid();
    await page.evaluate(`window.__conformance.ws.send(JSON.stringify({ type: 'conformance:set', value: ${JSON.stringify(token)} }))`);
    await poll('the state after conformance:set', `window.__conformance.states.some((s) => s.value === ${JSON.stringify(token)})`);
    await browser.newPage(); // a tab in front: the page is really hidden (visibilitychange)
    await poll('the page to be hidden', "document.visibilityState === 'hidden'");
    await poll('Stasis.status.state "hibernated"', "window.Stasis.status.state === 'hibernated'");
    const stored = (await page.evaluate('window.Stasis.debug.peek()')) as { gen?: number } | null | undefined;
    if (stored?.gen !== first.gen) throw new Error(`hibernated, but the custody holds ${JSON.stringify(stored)} (expected gen ${first.gen})`);
    await page.bringToFront();
    const back = (await poll(
      `the state at gen ${first.gen + 1}`,
      `window.__conformance.states.find((s) => s.gen === ${first.gen + 1})`,
    )) as { gen: number; value: unknown };
    if (back.value !== token) throw new Error(`resumed at gen ${back.gen} but the value is ${JSON.stringify(back.value)}`);
    return `ok: sid ${String(sid).slice(0, 6)}…: live gen ${first.gen} → hidden, blob of gen ${stored.gen} stored → shown, live gen ${back.gen} with the value`;
  } finally {
    await close();
  }
}

/** Runs in the page: loads the SDK from the server, connects the live channel on every `ready`. */
function pageSetup(o: { src: string; endpoint: string; live: string }): Promise<string> {
  const w = window as unknown as Record<string, unknown>;
  return new Promise<void>((resolve, reject) => {
    const script = document.createElement('script');
    script.src = o.src;
    script.dataset.endpoint = o.endpoint;
    script.dataset.banner = 'off';
    script.dataset.orphans = 'never';
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`could not load ${o.src}`));
    (document.head ?? document.documentElement).appendChild(script);
  }).then(async () => {
    const stasis = w.Stasis as { ready(): Promise<unknown>; sid: string; receive(m: unknown): boolean; addEventListener(t: string, f: () => void): void };
    await stasis.ready();
    const c = { states: [] as unknown[], closes: [] as number[], ws: undefined as WebSocket | undefined };
    w.__conformance = c;
    const connect = () => {
      const ws = new WebSocket(`${o.live}?sid=${encodeURIComponent(stasis.sid)}`);
      c.ws = ws;
      ws.onmessage = (event: MessageEvent<string>) => {
        let message: { type?: unknown } | null;
        try {
          message = JSON.parse(event.data) as { type?: unknown } | null;
        } catch {
          return;
        }
        if (stasis.receive(message)) return;
        if (message?.type === 'conformance:state') c.states.push(message);
      };
      ws.onclose = (event) => c.closes.push(event.code);
    };
    connect();
    stasis.addEventListener('ready', connect);
    return stasis.sid;
  });
}
