/**
 * Browser timings in real Chromium over raw CDP (so tabs really hide and show):
 *  - hide → durable: the real `visibilitychange` to hidden, until the page hears the blob is committed in
 *    IndexedDB (the worker answers after its 'strict' transaction completes, so this bounds it from above);
 *  - show → restored: `visible` until the app's state is back in place (its view message after the resume);
 *  - the baseline without Stasis: navigation start until a cold-started app shows its (fresh) state.
 * Each run's stages (page → worker → server → IndexedDB → page) are logged too: bench/breakdown.ts. The page
 * registers bench/public/bench/sw.js, the production worker with timestamps taken from the outside, and the
 * server runs with bench/server-timing.mjs preloaded (a Server-Timing header on every answer).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { CdpBrowser, type Tab } from '../test/e2e/support/cdp-browser.js';
import { generateKeySpec } from '../server-stub/envelope/key-ring.js';
import { SIZES, summarize, type Summary } from './stats.js';
import { stagesOf, summarizeStages, type BenchLog, type BreakdownRow, type PathName, type RunStages } from './breakdown.js';

/** The browser runs at 10 KB too, for the breakdown at 1, 10 and 100 KB. */
const BROWSER_SIZES = [...SIZES, { label: '10 KB', bytes: 10 * 1024 }]
  .filter((s, i, all) => all.findIndex((t) => t.bytes === s.bytes) === i)
  .sort((a, b) => a.bytes - b.bytes);

export interface BrowserRow {
  size: string;
  bytes: number;
  hideToDurable: Summary;
  showToRestored: Summary;
}

export interface BrowserResult {
  rows: BrowserRow[];
  /** The same runs in live mode (the SDK opens the live channel and resumes in its first message). */
  liveRows: BrowserRow[];
  coldStart: Summary;
  /** Where the milliseconds go: per path and size, each stage's summary over the same runs as `rows`. */
  breakdown: BreakdownRow[];
}

interface Marks {
  hiddenAt?: number;
  visibleAt?: number;
  hibernatedAt?: number;
  state?: { bytes: number; gen: number; at: number };
}

export async function benchBrowser(options: {
  runs: number;
  coldRuns: number;
  serverCli: string;
  benchAppModule: string;
  staticDirs: string[];
  /** bench/server-timing.mjs, preloaded into the server. */
  serverTiming: string;
}): Promise<BrowserResult> {
  const server = await startServer(options);
  const browser = await CdpBrowser.launch();
  try {
    const rows: BrowserRow[] = [];
    const liveRows: BrowserRow[] = [];
    const breakdown: BreakdownRow[] = [];
    // Tabs are switched, not created: opening a tab spawns a renderer process, and on two cores that
    // start-up would be measured instead of Stasis (about +10 ms at p50 here).
    const elsewhere = await browser.newTab('about:blank');
    // The page as apps use it today (its own channel, POST resume), with the breakdown; then in live mode (the SDK
    // opens the channel and resumes in its first message: bench/public/live.html), timings only.
    for (const [page, into] of [['/', rows], ['/live.html', liveRows]] as const) {
      for (const size of BROWSER_SIZES) {
        const measured = await measureSize(browser, elsewhere, `${server.url}${page}`, size, options.runs);
        into.push(measured.row);
        if (page === '/') breakdown.push(...measured.breakdown);
      }
    }
    const cold: number[] = [];
    const tab = await browser.newTab('about:blank');
    for (let run = 0; run < options.coldRuns + 1; run++) {
      await tab.goto(`${server.url}/cold.html?run=${run}`);
      const m = await waitMarks(tab, (x) => x.state !== undefined, 'cold state');
      if (run > 0) cold.push(m.state!.at); // ms since this navigation started
    }
    return { rows, liveRows, coldStart: summarize(cold), breakdown };
  } finally {
    await browser.close();
    await server.stop();
  }
}

/** One page at one size: `runs` hide/show cycles after two warm-up ones, with each run's stages. */
async function measureSize(
  browser: CdpBrowser,
  elsewhere: Tab,
  url: string,
  size: { label: string; bytes: number },
  runs: number,
): Promise<{ row: BrowserRow; breakdown: BreakdownRow[] }> {
  const tab = await browser.newTab(url);
  await waitMarks(tab, (m) => m.state !== undefined, 'first state');
  await tab.evaluate((bytes) => (window as unknown as { __fill: (bytes: number) => void }).__fill(bytes), size.bytes);
  await waitMarks(tab, (m) => m.state?.bytes === size.bytes, 'filled');
  const hide: number[] = [];
  const show: number[] = [];
  const stages: Record<PathName, RunStages[]> = { 'hide → durable': [], 'show → restored': [] };
  const unmatched: Record<PathName, number> = { 'hide → durable': 0, 'show → restored': 0 };
  await drainLog(tab);
  for (let run = 0; run < runs + 2; run++) {
    const genBefore = (await marks(tab)).state!.gen;
    await browser.send('Target.activateTarget', { targetId: elsewhere.targetId });
    const hidden = await waitMarks(tab, (m) => (m.hibernatedAt ?? 0) > (m.hiddenAt ?? Infinity), 'hibernated');
    const hideLog = await drainLog(tab);
    await tab.show();
    const shown = await waitMarks(tab, (m) => (m.state?.gen ?? 0) > genBefore && (m.state?.at ?? 0) > (m.visibleAt ?? Infinity), 'restored');
    const showLog = await drainLog(tab);
    if (process.env.STASIS_BENCH_DEBUG) console.error(JSON.stringify({ url, size: size.label, run, hideLog, showLog }));
    if (run < 2) continue; // warm-up
    for (const [path, log] of [['hide → durable', hideLog], ['show → restored', showLog]] as const) {
      try {
        stages[path].push(stagesOf(path, log));
      } catch (error) {
        unmatched[path]++; // counted, and said in the table: a run whose logs do not line up is not guessed at
        if (process.env.STASIS_BENCH_DEBUG) console.error(error);
      }
    }
    hide.push(hidden.hibernatedAt! - hidden.hiddenAt!);
    show.push(shown.state!.at - shown.visibleAt!);
    if (shown.state!.bytes !== size.bytes) throw new Error(`state of ${shown.state!.bytes} bytes came back, not ${size.bytes}`);
  }
  await tab.close();
  return {
    row: { size: size.label, bytes: size.bytes, hideToDurable: summarize(hide), showToRestored: summarize(show) },
    breakdown: (['hide → durable', 'show → restored'] as const).map((path) => summarizeStages(path, size.label, size.bytes, stages[path], unmatched[path])),
  };
}

/** The page's and the bench worker's logs since the last call (bench/page.ts). */
function drainLog(tab: Tab): Promise<BenchLog> {
  return tab.evaluate(() => (window as unknown as { __benchLog: () => Promise<BenchLog> }).__benchLog());
}

function marks(tab: Tab): Promise<Marks> {
  return tab.evaluate(() => ({ ...(window as unknown as { __bench: Marks }).__bench }));
}

async function waitMarks(tab: Tab, done: (m: Marks) => boolean, what: string): Promise<Marks> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const m = await marks(tab);
    if (done(m)) return m;
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what} (${JSON.stringify(m)})`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function startServer(options: { serverCli: string; benchAppModule: string; staticDirs: string[]; serverTiming: string }): Promise<{ url: string; stop(): Promise<void> }> {
  const args = ['--import', pathToFileURL(options.serverTiming).href, options.serverCli, '--host', '127.0.0.1', '--port', '0', '--app', options.benchAppModule];
  for (const dir of options.staticDirs) args.push('--static', dir);
  const child: ChildProcess = spawn(process.execPath, args, {
    env: { ...process.env, STASIS_KEYS: generateKeySpec('bench'), STASIS_MAX_BLOB_BYTES: String(8 << 20), STASIS_WARN_BLOB_BYTES: String(8 << 20) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bench server did not start:\n${output}`)), 10_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}:\n${output}`)));
  });
  return {
    url,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}
