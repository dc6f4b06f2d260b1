/**
 * Where the milliseconds of hide → durable and show → restored go: page → service worker → server → IndexedDB →
 * page. The bench page (bench/page.ts) and the bench service worker (bench/public/bench/sw.js, the production
 * worker with timestamps taken from the outside) log what they see, each on its own clock; the bench server adds
 * a Server-Timing header (bench/server-timing.mjs). Every stage is a difference of two stamps on one clock, so
 * no clock is compared with another: the page ⇄ worker messaging is the page's round trip minus the worker's
 * span, and each context's "other" is its span minus the stages it measured. The stages of one run add up to
 * that run's total exactly, so the stages' means add up to the total's mean (percentiles do not add).
 */
import { summarize, type Summary } from './stats.js';

export type PageEvent = {
  what: 'hidden' | 'visible' | 'post' | 'apply' | 'reply' | 'hibernated' | 'resumed' | 'ready' | 'ws' | 'open' | 'state';
  at: number;
  op?: string;
};
type Span = { at: number; end?: number };
export type WorkerEvent =
  | { what: 'connect'; at: number; hibernate: boolean }
  | { what: 'apply'; at: number; op: string }
  | { what: 'reply'; at: number }
  /** `ready`: its last request succeeded (what a read waits for); `end`: `complete` (what a write waits for). */
  | (Span & { what: 'tx'; stores: string; mode: string; durability: string; ready?: number })
  | (Span & { what: 'sign' | 'digest' | 'result' | 'encode' | 'stringify' })
  | {
      what: 'fetch';
      at: number;
      url: string;
      bodyBytes: number;
      headers?: number;
      body?: number;
      parsed?: number;
      responseBytes?: number;
      server?: { body?: number; handler?: number };
    };

/** What the bench page hands over after each hide and each show: both logs, and each context's timeOrigin. */
export interface BenchLog {
  page: PageEvent[];
  pageOrigin: number;
  worker: { events: WorkerEvent[]; origin: number };
}

export type PathName = 'hide → durable' | 'show → restored';
/** One measured run: each stage's milliseconds (they add up to `total`). */
export interface RunStages {
  total: number;
  stages: Map<string, number>;
}

export interface BreakdownRow {
  path: PathName;
  size: string;
  bytes: number;
  total: Summary;
  stages: Array<{ stage: string; summary: Summary }>;
  /** Runs left out because their page and worker logs did not line up (should be 0). */
  unmatched: number;
}

const POSTED = 'page: visibilitychange → call posted';
const MESSAGING = 'page ⇄ worker: messages (both ways)';
const TO_WORKER = 'page → worker: the call arriving (connect message, then its port)';
const TO_PAGE = 'worker → page: the answer arriving on the port';
const DROP_PENDING = 'IDB: drop pending record (readwrite)';
const PROOF = 'worker: binding proof (TextEncoder, SHA-256, ECDSA sign)';
const DESERIALIZE = 'IDB: request.result (the value deserialized)';
const STRINGIFY = 'worker: JSON.stringify of the request';
const NETWORK = 'fetch: request → headers, less server time (loopback, network service)';
const SERVER_BODY = 'server: request body read';
const SERVER = 'server: endpoint (parse, seal/open, stringify)';
const BODY = 'worker: response body read';
const PARSE = 'worker: JSON.parse of the answer';
const OTHER = 'worker: other (queue, checks, comlink, GC)';
const ANSWERED = 'page: answer → Stasis event';
const OPEN = 'page: ready → WebSocket open';
const STATE = 'page: WebSocket open → app state';
/** The stages in the order a request meets them; IndexedDB transactions are named by what they do. */
const ORDER: Record<PathName, string[]> = {
  'hide → durable': [POSTED, MESSAGING, TO_WORKER, PROOF, STRINGIFY, NETWORK, SERVER_BODY, SERVER, BODY, PARSE, DROP_PENDING, 'IDB: write blob (strict commit)', OTHER, TO_PAGE, ANSWERED],
  'show → restored': [
    POSTED,
    MESSAGING,
    TO_WORKER,
    DROP_PENDING,
    'IDB: read blob',
    DESERIALIZE,
    PROOF,
    STRINGIFY,
    NETWORK,
    SERVER_BODY,
    SERVER,
    BODY,
    PARSE,
    'IDB: delete blob (strict commit)',
    'IDB: delete blob (relaxed)',
    OTHER,
    TO_PAGE,
    ANSWERED,
    OPEN,
    STATE,
  ],
};
const TX_NAMES: Record<string, string> = {
  'readwrite pending default': DROP_PENDING,
  'readonly blobs default': 'IDB: read blob',
  'readwrite blobs+pending strict': 'IDB: write blob (strict commit)',
  'readwrite blobs strict': 'IDB: delete blob (strict commit)',
  'readwrite blobs default': 'IDB: delete blob (relaxed)',
  'readonly keys default': 'IDB: read binding key',
};

/** The stages of one hide (visibilitychange to `hibernated`) or one show (visible to the app's state message). */
export function stagesOf(path: PathName, log: BenchLog): RunStages {
  const { page } = log;
  const worker = log.worker.events;
  const hide = path === 'hide → durable';
  const find = (what: PageEvent['what'], after: number, op?: string) => {
    const event = page.find((e) => e.what === what && e.at >= after && (op === undefined || e.op === op));
    if (!event) throw new Error(`breakdown: no page '${what}'${op ? ` (${op})` : ''} in ${JSON.stringify(page)}`);
    return event.at;
  };
  const start = find(hide ? 'hidden' : 'visible', -Infinity);
  const posted = find('post', start, hide ? 'hibernate' : 'call');
  const op = hide ? 'hibernate' : 'resume';
  const answered = find('reply', posted, op);
  const workerStart = worker.find((e) => (hide ? e.what === 'connect' && e.hibernate : e.what === 'apply' && e.op === op))?.at;
  const workerEnd = worker.find((e) => e.what === 'reply' && e.at >= (workerStart ?? Infinity))?.at;
  if (workerStart === undefined || workerEnd === undefined) throw new Error(`breakdown: no worker ${op} in ${JSON.stringify(worker)}`);
  const stages = new Map<string, number>();
  const add = (stage: string, ms: number) => stages.set(stage, (stages.get(stage) ?? 0) + ms);
  add(POSTED, posted - start);
  // The round trip less the worker's span is exact. Its split into the two directions compares clocks (the
  // page's and the worker's timeOrigin, both from the one monotonic clock), so it is an estimate; the two still
  // add up to the exact total.
  const offset = log.worker.origin - log.pageOrigin;
  if (Number.isFinite(offset)) {
    add(TO_WORKER, workerStart + offset - posted);
    add(TO_PAGE, answered - (workerEnd + offset));
  } else {
    add(MESSAGING, answered - posted - (workerEnd - workerStart));
  }
  // The worker's measured intervals, in the order they started. What the custodian does not wait for (a delete
  // under way while it goes on) overlaps the next interval: each counts only until the next one starts, so only
  // time on the path to the answer is counted; "other" is the span less all of it.
  const intervals: Array<{ stage: string; start: number; end: number; parts?: Array<[string, number]> }> = [];
  for (const e of worker) {
    if (e.at < workerStart || e.at > workerEnd) continue;
    if (e.what === 'tx' && e.end !== undefined) {
      const key = `${e.mode} ${e.stores} ${e.durability}`;
      // A read goes on with its request's result; a write waits for the commit (or does not wait at all).
      const end = e.mode === 'readonly' ? (e.ready ?? e.end) : e.end;
      intervals.push({ stage: TX_NAMES[key] ?? `IDB: ${key}`, start: e.at, end });
    } else if ((e.what === 'sign' || e.what === 'digest' || e.what === 'encode') && e.end !== undefined) {
      intervals.push({ stage: PROOF, start: e.at, end: e.end });
    } else if (e.what === 'result' && e.end !== undefined) {
      intervals.push({ stage: DESERIALIZE, start: e.at, end: e.end });
    } else if (e.what === 'stringify' && e.end !== undefined) {
      intervals.push({ stage: STRINGIFY, start: e.at, end: e.end });
    } else if (e.what === 'fetch' && e.headers !== undefined) {
      const bodyRead = e.server?.body ?? 0;
      const endpoint = e.server?.handler ?? 0;
      const ttfb = e.headers - e.at;
      // Time to the answer's headers: the server's share (its own Server-Timing), the rest is the way there and back.
      const parts: Array<[string, number]> = [[SERVER_BODY, bodyRead], [SERVER, endpoint], [NETWORK, ttfb - bodyRead - endpoint]];
      intervals.push({ stage: NETWORK, start: e.at, end: e.headers, parts });
      if (e.body !== undefined && e.parsed !== undefined) {
        intervals.push({ stage: BODY, start: e.headers, end: e.body });
        intervals.push({ stage: PARSE, start: e.body, end: e.parsed });
      }
    }
  }
  intervals.sort((a, b) => a.start - b.start);
  let measured = 0;
  intervals.forEach((interval, i) => {
    const until = Math.min(interval.end, intervals[i + 1]?.start ?? Infinity, workerEnd);
    const ms = Math.max(0, until - interval.start);
    const whole = interval.end - interval.start;
    // An interval cut short keeps its parts' proportions.
    for (const [stage, part] of interval.parts ?? [[interval.stage, whole]]) add(stage, whole > 0 ? (part / whole) * ms : 0);
    measured += ms;
  });
  add(OTHER, workerEnd - workerStart - measured);
  if (hide) {
    const end = find('hibernated', answered);
    add(ANSWERED, end - answered);
    return { total: end - start, stages };
  }
  const ready = find('ready', answered);
  const open = find('open', ready);
  const state = find('state', open);
  add(ANSWERED, ready - answered);
  add(OPEN, open - ready);
  add(STATE, state - open);
  return { total: state - start, stages };
}

/** Summaries over runs; a stage missing from a run counts as 0 ms there, so the means still add up. */
export function summarizeStages(path: PathName, size: string, bytes: number, runs: RunStages[], unmatched = 0): BreakdownRow {
  const names = new Set(runs.flatMap((r) => [...r.stages.keys()]));
  const order = ORDER[path];
  const ordered = [...order.filter((s) => names.has(s)), ...[...names].filter((s) => !order.includes(s)).sort()];
  return {
    path,
    size,
    bytes,
    total: summarize(runs.map((r) => r.total)),
    stages: ordered.map((stage) => ({ stage, summary: summarize(runs.map((r) => r.stages.get(stage) ?? 0)) })),
    unmatched,
  };
}

/** One table per path: a row per stage, a column per size, `mean / p95` in ms. */
export function renderBreakdown(rows: BreakdownRow[] | undefined): string[] {
  if (!rows?.length) return [];
  const lines: string[] = [];
  for (const path of ['hide → durable', 'show → restored'] as const) {
    const of = rows.filter((r) => r.path === path);
    if (!of.length) continue;
    const order = ORDER[path];
    const rank = (stage: string) => (order.includes(stage) ? order.indexOf(stage) : order.length);
    const stages = [...new Set(of.flatMap((r) => r.stages.map((s) => s.stage)))].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    const cell = (s: Summary | undefined) => (s ? `${round1(s.mean)} / ${round1(s.p95)}` : '–');
    lines.push(
      `**${path}** (ms, mean / p95 over ${of[0]!.total.runs} runs; the means add up to the total's mean)`,
      '',
      `| stage | ${of.map((r) => r.size).join(' | ')} |`,
      `| --- | ${of.map(() => '---').join(' | ')} |`,
      ...stages.map((stage) => `| ${stage} | ${of.map((r) => cell(r.stages.find((s) => s.stage === stage)?.summary)).join(' | ')} |`),
      `| **total** (p50 in brackets) | ${of.map((r) => `**${cell(r.total)}** (${round1(r.total.p50)})`).join(' | ')} |`,
      ...(of.some((r) => r.unmatched > 0) ? [`| runs left out (logs did not line up) | ${of.map((r) => r.unmatched).join(' | ')} |`] : []),
      '',
    );
  }
  return lines;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
