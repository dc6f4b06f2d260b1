/**
 * Requirements checked on every hibernate and resume answer the run provokes, whichever group provoked it:
 * the status of each outcome, the failure body, the JSON and caching headers.
 */
import { HTTP_STATUS, OUTCOMES, type Outcome } from '../../../src/protocol/index.js';
import { describe, type Answer, type StasisRoute } from '../http.js';
import type { Context, Group, RequirementSpec } from '../types.js';

const OUTCOMES_SECTION = 'Outcome codes; rule 15';

/** `HTTP-STATUS-REPLAYED` for `replayed`. */
export const statusId = (outcome: Outcome): string => `HTTP-STATUS-${outcome.toUpperCase()}`;

/** Outcomes no request of the setup contract can provoke: reported SKIP with the reason. */
const UNPROVOKABLE: Partial<Record<Outcome, string>> = {
  unavailable: 'needs a draining server, a store outage or a body slower than bodyTimeoutMs',
  unserializable: 'needs an app value the codec refuses (outside the setup contract)',
  misconfigured: 'needs a host that consumes the request body before the server sees it',
};

export const answerRequirements: RequirementSpec[] = [
  ...OUTCOMES.map((outcome) => ({
    id: statusId(outcome),
    level: 'MUST' as const,
    title: `an answer with outcome \`${outcome}\` has HTTP status ${HTTP_STATUS[outcome]}`,
    section: OUTCOMES_SECTION,
  })),
  {
    id: 'HTTP-FAILURE-BODY',
    level: 'MUST',
    title:
      'every failure answer is a JSON object with `outcome` (a failure code) and `message` (a string); `rate-limited` also has `retryAfterSeconds` and an equal `Retry-After` header',
    section: 'rule 15',
  },
  {
    id: 'HTTP-JSON-ANSWERS',
    level: 'MUST',
    title: 'hibernate and resume answer JSON (`Content-Type: application/json`) with `Cache-Control: no-store`',
    section: 'Endpoints; rule 15',
  },
];

export const AGGREGATED = new Set(answerRequirements.map((r) => r.id));

/** The group holding the aggregated requirements; they are recorded by `inspectAnswer`, not by a scenario. */
export const answersGroup: Group = {
  name: 'answers',
  requirements: answerRequirements,
  async run(ctx) {
    for (const [outcome, why] of Object.entries(UNPROVOKABLE)) ctx.skip(statusId(outcome as Outcome), why);
  },
};

const FAILURES: ReadonlySet<string> = new Set(OUTCOMES.filter((o) => o !== 'ok'));

/** Checks one answer of hibernate or resume against the aggregated requirements. */
export function inspectAnswer(ctx: Context, route: StasisRoute, answer: Answer): void {
  if (answer.status === 0) return; // no answer: the scenario's own check reports it
  const where = `${route}: ${describe(answer)}`;
  const type = String(answer.headers['content-type'] ?? '');
  const cache = String(answer.headers['cache-control'] ?? '');
  ctx.check(
    'HTTP-JSON-ANSWERS',
    /^application\/json\b/i.test(type) && /\bno-store\b/i.test(cache),
    `${where} (Content-Type: ${type || 'none'}; Cache-Control: ${cache || 'none'})`,
  );
  const json = answer.json;
  const body = typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>) : undefined;
  const outcome = body?.outcome;
  if (outcome === 'ok') {
    ctx.check(statusId('ok'), answer.status === HTTP_STATUS.ok, where);
    return;
  }
  let shaped = body !== undefined && typeof outcome === 'string' && FAILURES.has(outcome) && typeof body.message === 'string';
  if (shaped && outcome === 'rate-limited') {
    const header = String(answer.headers['retry-after'] ?? '');
    shaped = /^[1-9][0-9]*$/.test(header) && body?.retryAfterSeconds === Number(header);
  }
  ctx.check('HTTP-FAILURE-BODY', shaped, `${where}${outcome === 'rate-limited' ? ` (Retry-After: ${String(answer.headers['retry-after'] ?? 'none')})` : ''}`);
  if (typeof outcome === 'string' && FAILURES.has(outcome)) {
    const code = outcome as Outcome;
    // A body still arriving after bodyTimeoutMs is answered 408 with `unavailable` (protocol.md, Endpoints).
    const expected = code === 'unavailable' && answer.status === 408 ? 408 : HTTP_STATUS[code];
    ctx.check(statusId(code), answer.status === expected, where);
  }
}
