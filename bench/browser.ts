/**
 * Browser timings in real Chromium over raw CDP (so tabs really hide and show):
 *  - hide → durable: the real `visibilitychange` to hidden, until the page hears the blob is committed in
 *    IndexedDB (the worker answers after its 'strict' transaction completes, so this bounds it from above);
 *  - show → restored: `visible` until the app's state is back in place (its view message after the resume);
 *  - the baseline without Stasis: navigation start until a cold-started app shows its (fresh) state.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { CdpBrowser, type Tab } from '../test/e2e/support/cdp-browser.js';
import { generateKeySpec } from '../server-stub/envelope/key-ring.js';
import { SIZES, summarize, type Summary } from './stats.js';

export interface BrowserRow {
  size: string;
  bytes: number;
  hideToDurable: Summary;
  showToRestored: Summary;
}

export interface BrowserResult {
  rows: BrowserRow[];
  coldStart: Summary;
}

interface Marks {
  hiddenAt?: number;
  visibleAt?: number;
  hibernatedAt?: number;
  state?: { bytes: number; gen: number; at: number };
}

export async function benchBrowser(options: { runs: number; coldRuns: number; serverCli: string; benchAppModule: string; staticDirs: string[] }): Promise<BrowserResult> {
  const server = await startServer(options);
  const browser = await CdpBrowser.launch();
  try {
    const rows: BrowserRow[] = [];
    // Tabs are switched, not created: opening a tab spawns a renderer process, and on two cores that
    // start-up would be measured instead of Stasis (about +10 ms at p50 here).
    const elsewhere = await browser.newTab('about:blank');
    for (const size of SIZES) {
      const tab = await browser.newTab(`${server.url}/`);
      await waitMarks(tab, (m) => m.state !== undefined, 'first state');
      await tab.evaluate((bytes) => (window as unknown as { __fill: (bytes: number) => void }).__fill(bytes), size.bytes);
      await waitMarks(tab, (m) => m.state?.bytes === size.bytes, 'filled');
      const hide: number[] = [];
      const show: number[] = [];
      for (let run = 0; run < options.runs + 2; run++) {
        const genBefore = (await marks(tab)).state!.gen;
        await browser.send('Target.activateTarget', { targetId: elsewhere.targetId });
        const hidden = await waitMarks(tab, (m) => (m.hibernatedAt ?? 0) > (m.hiddenAt ?? Infinity), 'hibernated');
        await tab.show();
        const shown = await waitMarks(tab, (m) => (m.state?.gen ?? 0) > genBefore && (m.state?.at ?? 0) > (m.visibleAt ?? Infinity), 'restored');
        if (run < 2) continue; // warm-up
        hide.push(hidden.hibernatedAt! - hidden.hiddenAt!);
        show.push(shown.state!.at - shown.visibleAt!);
        if (shown.state!.bytes !== size.bytes) throw new Error(`state of ${shown.state!.bytes} bytes came back, not ${size.bytes}`);
      }
      await tab.close();
      rows.push({ size: size.label, bytes: size.bytes, hideToDurable: summarize(hide), showToRestored: summarize(show) });
    }
    const cold: number[] = [];
    const tab = await browser.newTab('about:blank');
    for (let run = 0; run < options.coldRuns + 1; run++) {
      await tab.goto(`${server.url}/cold.html?run=${run}`);
      const m = await waitMarks(tab, (x) => x.state !== undefined, 'cold state');
      if (run > 0) cold.push(m.state!.at); // ms since this navigation started
    }
    return { rows, coldStart: summarize(cold) };
  } finally {
    await browser.close();
    await server.stop();
  }
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

async function startServer(options: { serverCli: string; benchAppModule: string; staticDirs: string[] }): Promise<{ url: string; stop(): Promise<void> }> {
  const args = [options.serverCli, '--host', '127.0.0.1', '--port', '0', '--app', options.benchAppModule];
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
