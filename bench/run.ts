/**
 * `npm run bench`: every measurement in one run on this machine, as ratios and percentiles beside their
 * baselines; writes bench/results.json, docs/performance.md and a table on stdout. `--smoke` runs tiny counts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { benchBrowser, type BrowserResult } from './browser.js';
import { renderBreakdown } from './breakdown.js';
import { benchDrainStorm, type DrainResult } from './drain-storm.js';
import { benchMemory, type MemoryResult } from './memory.js';
import { benchPeers, type PeersResult } from './peers/index.js';
import { peerGoals, renderPeers } from './peers/report.js';
import { benchProofCost, benchServerCost, type CostRow, type ProofCostRow } from './server-cost.js';
import { round } from './stats.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const smoke = process.argv.includes('--smoke');
const at = (...parts: string[]) => resolve(root, ...parts);

interface Goal {
  goal: string;
  measured: string;
  met: boolean;
}

async function main(): Promise<void> {
  const started = Date.now();
  const machine = {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    chromium: chromiumVersion(),
    date: new Date().toISOString(),
    mode: smoke ? 'smoke (tiny counts: numbers are not meaningful)' : 'full',
  };
  log(`machine: ${machine.cores} cores, ${machine.cpu}, Node ${machine.node}, ${machine.chromium}`);

  log('size…');
  const size = {
    stasisJsGzip: gzipSync(readFileSync(at('dist', 'stasis.js')), { level: 9 }).length,
    stasisSwJsGzip: gzipSync(readFileSync(at('dist', 'stasis-sw.js')), { level: 9 }).length,
  };

  log('server cost…');
  const cost: CostRow[] = await benchServerCost({
    iterations: (bytes) => (smoke ? 5 : bytes <= 1024 ? 3000 : bytes <= 100 * 1024 ? 400 : 60),
  });

  log('key binding: resume with a proof vs without…');
  const proofCost: ProofCostRow[] = await benchProofCost({
    iterations: (bytes) => (smoke ? 5 : bytes <= 1024 ? 2000 : bytes <= 100 * 1024 ? 300 : 40),
  });

  log('memory…');
  const memory: MemoryResult = await benchMemory({ sessions: smoke ? 200 : 10_000 });

  log('peers: floor, Socket.IO CSR, HMAC + Redis and Stasis over loopback…');
  const peers: PeersResult = await benchPeers(
    smoke
      ? { sessions: 20, warmupSessions: 5, rounds: 5, warmupRounds: 1, concurrency: 8, gapMs: 5, log }
      : { sessions: 10_000, warmupSessions: 256, rounds: 300, warmupRounds: 10, concurrency: 32, gapMs: 5, log },
  );

  log('drain storm…');
  const drain: DrainResult = await benchDrainStorm({ sessions: smoke ? 100 : 10_000, serverCli: at('dist', 'server', 'cli.js') });

  log('browser (real Chromium over CDP)…');
  const browser: BrowserResult = await benchBrowser({
    runs: smoke ? 3 : 50,
    coldRuns: smoke ? 3 : 20,
    serverCli: at('dist', 'server', 'cli.js'),
    benchAppModule: at('dist', 'bench', 'bench-app.js'),
    staticDirs: [at('bench', 'public'), at('dist')],
    serverTiming: at('bench', 'server-timing.mjs'),
  });

  const at100 = browser.rows.find((r) => r.bytes === 100 * 1024)!;
  const live100 = browser.liveRows.find((r) => r.bytes === 100 * 1024)!;
  const restoredVsCold = round(browser.coldStart.p50 / at100.showToRestored.p50, 1);
  const blobPerStateByte = cost.map((r) => `${r.size}: ${round(r.blobBytes / r.bytes, 2)}`).join(', ');
  const goals: Goal[] = [
    ...cost.map((r) => ({
      goal: `server cost ≤ 2× the AES-GCM+base64url limit at ${r.size}`,
      measured: `hibernate ${r.hibernateRatio}×, resume ${r.resumeRatio}×`,
      met: r.hibernateRatio <= 2 && r.resumeRatio <= 2,
    })),
    ...proofCost.map((r) => ({
      goal: `key binding adds ≤ 1 ms to a resume at p50 (${r.size})`,
      measured: `${signed(r.addedP50Ms)} ms (${r.ratio}×)`,
      met: r.addedP50Ms <= 1,
    })),
    { goal: 'hide → durable p95 ≤ 15 ms at 100 KB', measured: `${at100.hideToDurable.p95} ms`, met: at100.hideToDurable.p95 <= 15 },
    { goal: 'show → restored p95 ≤ 25 ms at 100 KB', measured: `${at100.showToRestored.p95} ms`, met: at100.showToRestored.p95 <= 25 },
    {
      goal: 'show → restored p95 ≤ 25 ms at 100 KB, live mode (1 round trip)',
      measured: `${live100.showToRestored.p95} ms (p50 ${live100.showToRestored.p50} vs ${at100.showToRestored.p50} ms with POST resume)`,
      met: live100.showToRestored.p95 <= 25,
    },
    { goal: 'restored ≥ 10× faster than reload + cold start (p50, 100 KB)', measured: `${restoredVsCold}×`, met: restoredVsCold >= 10 },
    {
      goal: '≤ 200 bytes of server memory per hibernated session (client-held)',
      measured: `${Math.round(memory.http.hibernated.heapBytesPerSession)} B heap through HTTP (WS connect + POST hibernate), ${Math.round(memory.hibernated.heapBytesPerSession)} B direct`,
      met: memory.http.hibernated.heapBytesPerSession <= 200,
    },
    { goal: `drain of ${drain.sessions} sessions ≤ 5 s`, measured: `${drain.allBlobsMs} ms until every client held its blob`, met: drain.allBlobsMs <= 5000 },
    { goal: 'dist/stasis.js ≤ 8 KB min+gzip', measured: `${size.stasisJsGzip} B`, met: size.stasisJsGzip <= 8 * 1024 },
    ...peerGoals(peers),
  ];

  const results = { machine, size, blobPerStateByte, cost, proofCost, memory, peers, drain, browser, goals, seconds: Math.round((Date.now() - started) / 1000) };
  const table = render(results);
  console.log(`\n${table}`);
  if (!smoke) {
    mkdirSync(at('bench'), { recursive: true });
    writeFileSync(at('bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(at('docs', 'performance.md'), page(table));
    log('wrote bench/results.json and docs/performance.md');
  }
}

type Results = {
  machine: { cores: number; cpu: string; memoryGiB: number; node: string; chromium: string; date: string; mode: string };
  size: { stasisJsGzip: number; stasisSwJsGzip: number };
  blobPerStateByte: string;
  cost: CostRow[];
  proofCost: ProofCostRow[];
  memory: MemoryResult;
  peers: PeersResult;
  drain: DrainResult;
  browser: BrowserResult;
  goals: Goal[];
  seconds: number;
};

function render(r: Results): string {
  const m = r.machine;
  const lines = [
    `Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, Node ${m.node}, ${m.chromium}; ${m.mode}; ${m.date}`,
    '',
    '### Server cost (one core; limit = node:crypto AES-256-GCM + base64url on the same bytes, same run)',
    '',
    '| state | blob | hibernate/s | limit seal/s | ratio | resume/s | limit open/s | ratio |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.cost.map(
      (c) =>
        `| ${c.size} | ${c.blobBytes} B | ${c.hibernatePerSecond} | ${c.limitSealPerSecond} | ${c.hibernateRatio}× | ${c.resumePerSecond} | ${c.limitOpenPerSecond} | ${c.resumeRatio}× |`,
    ),
    '',
    '### Key binding: server resume with a proof vs without (one core; ms per resume)',
    '',
    '| state | with proof p50 / p95 | without p50 / p95 | verifyProof alone p50 | added at p50 | ratio |',
    '| --- | --- | --- | --- | --- | --- |',
    ...r.proofCost.map(
      (k) =>
        `| ${k.size} | ${k.withProof.p50} / ${k.withProof.p95} | ${k.withoutProof.p50} / ${k.withoutProof.p95} | ${k.verifyOnly.p50} | ${signed(k.addedP50Ms)} | ${k.ratio}× |`,
    ),
    '',
    '### Browser (Chromium, raw CDP tab switches; ms)',
    '',
    '| state | hide → durable p50 / p95 / max | show → restored p50 / p95 / max | runs |',
    '| --- | --- | --- | --- |',
    ...r.browser.rows.map(
      (b) =>
        `| ${b.size} | ${b.hideToDurable.p50} / ${b.hideToDurable.p95} / ${b.hideToDurable.max} | ${b.showToRestored.p50} / ${b.showToRestored.p95} / ${b.showToRestored.max} | ${b.hideToDurable.runs} |`,
    ),
    `| without Stasis: reload + cold start (state lost) | | ${r.browser.coldStart.p50} / ${r.browser.coldStart.p95} / ${r.browser.coldStart.max} | ${r.browser.coldStart.runs} |`,
    '',
    'Live mode (`data-live="on"`: the SDK opens the live channel and resumes in its first message), the same runs:',
    '',
    '| state | hide → durable p50 / p95 / max | show → restored p50 / p95 / max | show → restored p50 vs POST resume | runs |',
    '| --- | --- | --- | --- | --- |',
    ...r.browser.liveRows.map((b) => {
      const http = r.browser.rows.find((x) => x.bytes === b.bytes)!;
      return `| ${b.size} | ${b.hideToDurable.p50} / ${b.hideToDurable.p95} / ${b.hideToDurable.max} | ${b.showToRestored.p50} / ${b.showToRestored.p95} / ${b.showToRestored.max} | ${round(b.showToRestored.p50 / http.showToRestored.p50, 2)}× | ${b.hideToDurable.runs} |`;
    }),
    '',
    renderPeers(r.peers),
    '',
    '### Where the milliseconds go (the same runs, stage by stage)',
    '',
    ...renderBreakdown(r.browser.breakdown),
    '### Memory, drain, size',
    '',
    `- Server memory per live session: ${Math.round(r.memory.live.heapBytesPerSession)} B heap (${Math.round(r.memory.live.rssBytesPerSession)} B RSS), ${r.memory.sessions} sessions.`,
    `- Server memory per hibernated session (client-held): ${Math.round(r.memory.hibernated.heapBytesPerSession)} B heap (${Math.round(r.memory.hibernated.rssBytesPerSession)} B RSS) direct, ${Math.round(r.memory.http.hibernated.heapBytesPerSession)} B heap through HTTP (WebSocket connect + POST hibernate, ${r.memory.http.sessions} sessions).`,
    `- Drain storm: ${r.drain.sessions} live WebSocket sessions (clients in a second process), SIGTERM → every client holds its blob after ${r.drain.allBlobsMs} ms (server's own drain: ${r.drain.drainedMs} ms; ${r.drain.received} blobs received).`,
    `- dist/stasis.js ${r.size.stasisJsGzip} B and dist/stasis-sw.js ${r.size.stasisSwJsGzip} B min+gzip; blob bytes per state byte: ${r.blobPerStateByte}.`,
    '',
    '### Goals',
    '',
    '| goal | measured | met |',
    '| --- | --- | --- |',
    ...r.goals.map((g) => `| ${g.goal} | ${g.measured} | ${g.met ? 'yes' : '**no**'} |`),
    '',
    `Run time: ${r.seconds} s.`,
  ];
  return lines.join('\n');
}

function page(table: string): string {
  return `# Performance

This page is the output of \`npm run bench\` (bench/run.ts), run on the machine it names; the raw numbers are
in bench/results.json. Speed is reported as ratios against a baseline measured in the same run and as
percentiles, never as timing assertions in tests. How each number is taken:

- **Server cost**: in one process, \`hibernate\` (encode the opted-in values, seal the JWE, free the session)
  and \`resume\` (open, verify, consume the jti, decode, rebuild the session) one after another, against
  node:crypto AES-256-GCM + base64url over the same number of plaintext bytes. The state is one persisted
  text value of the given size.
- **Key binding**: blobs sealed key-bound, resumed with a proof (\`verifyProof\` as the endpoint runs it:
  ES256 verify, SHA-256 of the blob, thumbprint; then the resume, with no cookie), alternating with blobs sealed
  by the cookie and resumed without a proof. Proofs are signed beforehand (signing is the browser's cost).
- **Hide → durable**: a real tab switch over raw CDP; from the page's \`visibilitychange\` to the moment the
  page hears from the service worker that the blob is committed (\`durability: 'strict'\`), so it bounds the
  commit from above. **Show → restored**: from \`visible\` to the app's state back in place (its view message
  after the resume and the reconnect). **Reload + cold start**: navigation start to a cold-started app's first
  state, with no Stasis on the page (and the user's state lost).
- **Memory**: a separate process with \`--expose-gc\`, 10,000 sessions of the demo app, heap after gc.
- **Peers** (issue 14): the bench app (one text value of 1, 10 or 100 KB; its view \`{ type: 'state' }\` is the first
  message after every connect) on four servers, each in a child process of its own, with Node clients in the
  bench process over loopback. *Floor*: a ws server keeping each session in a Map while its client is away
  (pause: the client closes; resume: a new upgrade with the sid). *Socket.IO CSR*: Socket.IO 4 with
  \`connectionStateRecovery\`, the state in \`socket.data\` (pause: the client's transport drops; resume:
  \`socket.connect()\` with the session's pid and offset). *HMAC + Redis*: a Solara-style store (pause: the
  server writes the JSON state to Redis and hands out an HMAC-SHA256-signed token; resume: a new upgrade with
  the token, checked, then GETDEL and parse). *Stasis*: \`createStasisServer\` on node:http with the bench app
  (pause: \`POST /stasis/hibernate\`, the blob comes back and the channel closes with 4001; resume: \`POST
  /stasis/resume\` with the blob and the binding cookie, then the live upgrade; *live mode*: the same server, the resume in one
  round trip, the live upgrade with \`resume=1\` and the blob in its first message). **Heap per paused session**:
  a fresh server process per row and size (\`--expose-gc\`), warm-up sessions paused, heap after GC, then
  10,000 sessions opened, filled and paused, heap after GC, the difference per session; three of them are
  resumed afterwards and must show their state. Socket.IO's share includes the two view packets each session
  was sent: with recovery on, every emit is kept for the recovery window (set to 30 minutes here, so nothing
  expires mid-run). Stasis's index of blobs handed out (metrics only) stops at 10,000 entries, so its
  reading is a few bytes low. **Resume latency**: from the resume call to the app's first
  message with the restored state (checked: size and gen), 300 runs per row and size, the rows interleaved
  round-robin (the first row rotating), 5 ms between pause and resume. **Server CPU**: each server process's own
  \`process.cpuUsage\` (user + system) over those rounds, per pause + resume cycle; none of the clients' work is
  in it. Redis runs on a free loopback port without persistence; its memory (INFO memory) and CPU (INFO cpu) are
  shown beside the HMAC row, and the CPU ratio against that row includes Redis's.
- **Drain storm**: the server CLI and 10,000 WebSocket clients in a second process on loopback; SIGTERM.
- **Where the milliseconds go**: the same browser runs, stage by stage (bench/breakdown.ts). The page registers
  bench/public/bench/sw.js, which is dist/stasis-sw.js unchanged with timestamps taken from the outside (the
  connect message and the comlink call arriving, each IndexedDB transaction from creation to \`complete\`,
  WebCrypto, fetch to headers / body / \`JSON.parse\`, the answer posted); the page stamps what it posts and
  receives; the server runs with bench/server-timing.mjs preloaded, a \`Server-Timing\` header on each answer.
  Every stage is a difference on one clock: page ⇄ worker messaging is the page's round trip less the worker's
  span, and "worker: other" is the worker's span less what it measured, so a run's stages add up to its total.

${table}
`;
}

function chromiumVersion(): string {
  try {
    return execFileSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).split('\n')[0]!.trim();
  } catch {
    return 'Chromium (version unknown)';
  }
}

/** `+0.35`, `-0.08`: a difference with its sign. */
function signed(x: number): string {
  return x >= 0 ? `+${x}` : String(x);
}

function log(message: string): void {
  console.error(`[bench] ${message}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
