/**
 * `runConformance(options)`: checks a server implementing the Stasis protocol and reports one result per
 * requirement. Never throws for anything the server does: a wrong, missing or late answer is a FAIL with what
 * was seen; every request and wait has a timeout, and every group a deadline.
 */
import { randomBytes } from 'node:crypto';
import { createHttp } from './http.js';
import { AGGREGATED, answersGroup, inspectAnswer } from './requirements/answers.js';
import { blobGroup } from './requirements/blob.js';
import { capsGroup } from './requirements/caps.js';
import { browserGroup } from './requirements/browser.js';
import { cookieGroup } from './requirements/cookie.js';
import { forgedGroup } from './requirements/forged.js';
import { httpGroup } from './requirements/http.js';
import { keyBindingGroup } from './requirements/key-binding.js';
import { ledgerGroup } from './requirements/ledger.js';
import { liveGroup } from './requirements/live.js';
import { liveResumeGroup } from './requirements/live-resume.js';
import { rateLimitGroup } from './requirements/rate-limit.js';
import { setupGroup } from './requirements/setup.js';
import { vectorsGroup } from './requirements/vectors.js';
import type { ConformanceOptions, Context, Facts, Group, RequirementResult, RequirementSpec, ResolvedOptions, Status } from './types.js';

export type { ConformanceOptions, RequirementResult, RequirementSpec, Level, Status } from './types.js';

/** Every group in the order it runs: setup first, the rate limit (which exhausts a browser's budget) near the end. */
export const GROUPS: readonly Group[] = [
  setupGroup,
  httpGroup,
  cookieGroup,
  liveGroup,
  liveResumeGroup,
  ledgerGroup,
  keyBindingGroup,
  capsGroup,
  blobGroup,
  forgedGroup,
  vectorsGroup,
  rateLimitGroup,
  browserGroup,
  // Recorded by every group above (each hibernate and resume answer), reported last.
  answersGroup,
];

/** Every requirement the tool knows, in report order. */
export const REQUIREMENTS: readonly RequirementSpec[] = GROUPS.flatMap((g) => g.requirements);

export interface ConformanceReport {
  target: string;
  startedAt: string;
  durationMs: number;
  options: Omit<ResolvedOptions, 'baseUrl'>;
  results: RequirementResult[];
  summary: { total: number; passed: number; failed: number; skipped: number; mustFailed: number; shouldFailed: number };
  /** No MUST requirement failed. */
  ok: boolean;
}

export function resolveOptions(options: ConformanceOptions): ResolvedOptions {
  const url = new URL(options.baseUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${options.baseUrl}: the base URL must be http: or https:`);
  return {
    baseUrl: `${url.origin}${url.pathname.replace(/\/+$/, '')}`,
    testKeys: options.testKeys ?? false,
    vectorsDir: options.vectorsDir,
    browser: options.browser ?? false,
    only: (options.only ?? []).filter(Boolean),
    timeoutMs: options.timeoutMs ?? 5000,
    quietMs: options.quietMs ?? 600,
    cookieName: options.cookieName ?? 'stasis_bid',
    maxBlobBytes: options.maxBlobBytes ?? 5 * 1024 * 1024,
    rateLimitProbe: options.rateLimitProbe ?? 150,
  };
}

interface Entry {
  status: Status;
  saw: string;
  count: number;
}

export async function runConformance(input: ConformanceOptions): Promise<ConformanceReport> {
  const options = resolveOptions(input);
  const started = Date.now();
  const url = new URL(options.baseUrl);
  const entries = new Map<string, Entry>();
  const cleanups: Array<() => unknown> = [];
  const facts: Facts = { reachable: true, app: false };
  let failures = 0;
  const record = (id: string, status: Status, saw: string) => {
    if (status === 'FAIL') failures++;
    const entry = entries.get(id);
    if (!entry || (entry.status === 'SKIP' && status !== 'SKIP')) entries.set(id, { status, saw, count: 1 });
    else if (status === 'SKIP') return;
    else if (entry.status === 'PASS' && status === 'FAIL') entries.set(id, { status, saw, count: entry.count + 1 });
    else entry.count++;
  };
  const ctx: Context = {
    options,
    base: options.baseUrl,
    basePath: url.pathname.replace(/\/+$/, ''),
    origin: url.origin,
    http: createHttp(options.baseUrl, options.cookieName, options.timeoutMs, (route, answer) => inspectAnswer(ctx, route, answer)),
    facts,
    check: (id, ok, saw) => record(id, ok ? 'PASS' : 'FAIL', saw),
    skip: (id, why) => record(id, 'SKIP', why),
    sid: () => randomBytes(16).toString('base64url'),
    cookie: () => randomBytes(24).toString('base64url'),
    async serverNow() {
      if (ctx.http.lastDate === undefined) await ctx.http.request('/health');
      const date = ctx.http.lastDate;
      return Math.floor((date ?? Date.now()) / 1000);
    },
    onCleanup: (fn) => cleanups.push(fn),
  };

  const matches = (id: string) => !options.only.length || options.only.some((prefix) => id.startsWith(prefix));
  const onlyAggregated = options.only.length > 0 && !GROUPS.some((g) => !g.setup && g.requirements.some((r) => !AGGREGATED.has(r.id) && matches(r.id)));
  const reported = (spec: RequirementSpec) => matches(spec.id) || spec.id.startsWith('SETUP-');
  const groupDeadline = Math.max(60_000, options.timeoutMs * 12);
  const emitted = new Set<string>();
  const emit = (group: Group) => {
    for (const spec of group.requirements) {
      if (!reported(spec) || emitted.has(spec.id)) continue;
      emitted.add(spec.id);
      input.onResult?.(resultOf(spec, entries.get(spec.id)));
    }
  };

  try {
    for (const group of GROUPS) {
      const runs = group.setup || onlyAggregated || group.requirements.some((r) => matches(r.id));
      if (!runs) continue;
      if (!facts.reachable && !group.setup) {
        for (const spec of group.requirements) record(spec.id, 'SKIP', 'the server did not answer (SETUP-REACHABLE)');
        emit(group);
        continue;
      }
      let problem: string | undefined;
      let timer: NodeJS.Timeout | undefined;
      const failuresBefore = failures;
      try {
        await Promise.race([
          group.run(ctx),
          new Promise<void>((_resolve, reject) => {
            timer = setTimeout(() => reject(new Error(`the ${group.name} checks did not end within ${groupDeadline / 1000} s`)), groupDeadline);
          }),
        ]);
      } catch (error) {
        problem = (error as Error)?.message ?? String(error);
      } finally {
        clearTimeout(timer);
      }
      // A requirement its scenario never reached fails with the scenario (an earlier step failed, or it threw).
      const stopped = problem ?? (failures > failuresBefore ? 'an earlier step of its scenario failed (see the FAIL above)' : undefined);
      for (const spec of group.requirements) {
        if (entries.has(spec.id) || AGGREGATED.has(spec.id)) continue;
        record(spec.id, stopped ? 'FAIL' : 'SKIP', stopped ? `not reached: ${stopped}` : 'not checked by this run');
      }
      if (!AGGREGATED.has(group.requirements[0]?.id ?? '')) emit(group);
    }
  } finally {
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch {
        // best effort
      }
    }
  }
  for (const id of AGGREGATED) if (!entries.has(id)) record(id, 'SKIP', 'no such answer was provoked by the requirements run');
  emit(answersGroup);

  const results = REQUIREMENTS.filter(reported).map((spec) => resultOf(spec, entries.get(spec.id)));
  const count = (status: Status, level?: string) => results.filter((r) => r.status === status && (!level || r.level === level)).length;
  const summary = {
    total: results.length,
    passed: count('PASS'),
    failed: count('FAIL'),
    skipped: count('SKIP'),
    mustFailed: count('FAIL', 'MUST'),
    shouldFailed: count('FAIL', 'SHOULD'),
  };
  const { baseUrl, ...rest } = options;
  return { target: baseUrl, startedAt: new Date(started).toISOString(), durationMs: Date.now() - started, options: rest, results, summary, ok: summary.mustFailed === 0 };
}

function resultOf(spec: RequirementSpec, entry: Entry | undefined): RequirementResult {
  if (!entry) return { ...spec, status: 'SKIP', saw: 'not checked by this run' };
  const more = entry.status === 'PASS' && entry.count > 1 ? ` (${entry.count} observations)` : '';
  return { ...spec, status: entry.status, saw: entry.saw + more };
}
