/**
 * (--test-keys) The golden vectors of docs/vectors/blobs.json sent on the wire, grouped by expected outcome.
 * Refused blobs are sent byte for byte; those whose outcome depends on the verifier's clock are re-sealed with
 * the test key at the same distance from the server's clock; `ok` blobs are re-sealed under a fresh sid and jti
 * (a server's ledger would otherwise answer `replayed` or `stale` from the second one on, or on a second run).
 */
import { describe, field, outcomeOf } from '../http.js';
import { openBlob, randomId, replaceMember, sealBlob } from '../jwe.js';
import type { TestVectors, VectorCase } from '../vectors.js';
import type { Context, Group } from '../types.js';

const VECTOR_OUTCOMES = ['ok', 'malformed', 'tampered', 'unknown-key', 'wrong-binding', 'expired', 'schema-reset'] as const;
const vectorId = (outcome: string) => `VECTOR-${outcome.toUpperCase()}`;
/** A too-large vector: its limit is not the server's, so BLOB-SIZE-LIMIT makes the same check at the server's. */
const SIZE_CONTEXT = 'size-context';

export const vectorsGroup: Group = {
  name: 'vectors',
  requirements: [
    ...VECTOR_OUTCOMES.map((outcome) => ({
      id: vectorId(outcome),
      level: 'MUST' as const,
      title: `(--test-keys) every golden vector expecting \`${outcome}\` answers it on the wire${outcome === 'ok' ? ' (re-sealed under a fresh sid and jti), at gen + 1' : ''}`,
      section: 'docs/vectors/README.md',
    })),
    {
      id: 'VECTOR-COVERAGE',
      level: 'SHOULD',
      title: "(--test-keys) every golden vector was sent, or its check made at the server's own limit (too-large: BLOB-SIZE-LIMIT)",
      section: 'docs/vectors/README.md',
    },
  ],
  async run(ctx) {
    const vectors = ctx.facts.vectors;
    if (!vectors) {
      for (const r of this.requirements) ctx.skip(r.id, ctx.facts.vectorsProblem ?? 'needs --test-keys');
      return;
    }
    const serverNow = await ctx.serverNow();
    const failures = new Map<string, string[]>();
    const counts = new Map<string, number>();
    const notSent: string[] = [];
    const replaced: string[] = [];
    for (const vector of vectors.cases) {
      const expected = vector.expect.outcome;
      const prepared = prepare(ctx, vectors, vector, serverNow);
      if (typeof prepared === 'string') {
        if (prepared === SIZE_CONTEXT) replaced.push(vector.id);
        else notSent.push(`${vector.id} (${prepared})`);
        continue;
      }
      const answer = await ctx.http.stasis('resume', { sid: prepared.sid, blob: prepared.blob }, { cookie: prepared.cookie });
      let ok = outcomeOf(answer) === expected;
      if (ok && expected === 'ok') ok = field(answer, 'gen') === prepared.gen + 1;
      const saw = `vector ${vector.id}${prepared.note}: ${describe(answer, 90)}`;
      if (outcomeOf(answer) === 'ok') await ctx.http.stasis('hibernate', { sid: prepared.sid }, { cookie: prepared.cookie });
      const id = vectorId(expected);
      counts.set(id, (counts.get(id) ?? 0) + 1);
      if (!ok) failures.set(id, [...(failures.get(id) ?? []), saw]);
    }
    for (const outcome of VECTOR_OUTCOMES) {
      const id = vectorId(outcome);
      const total = counts.get(id) ?? 0;
      const failed = failures.get(id) ?? [];
      if (!total) ctx.skip(id, 'no such vector in blobs.json');
      else ctx.check(id, failed.length === 0, failed.length ? `${failed.length} of ${total} differ: ${failed.join(' | ')}` : `${total} vectors`);
    }
    const instead = replaced.length ? `; at the server's maxBlobBytes instead (BLOB-SIZE-LIMIT): ${replaced.join(', ')}` : '';
    ctx.check(
      'VECTOR-COVERAGE',
      notSent.length === 0,
      `${vectors.cases.length - notSent.length - replaced.length} of ${vectors.cases.length} sent${notSent.length ? `; not sent: ${notSent.join('; ')}` : ''}${instead}`,
    );
  },
};

interface Prepared {
  sid: string;
  blob: string;
  cookie: string | null;
  /** Gen of the plaintext (ok vectors). */
  gen: number;
  note: string;
}

/** The request a vector becomes on the wire, or why it is not sent. */
function prepare(ctx: Context, vectors: TestVectors, vector: VectorCase, serverNow: number): Prepared | string {
  const { context } = vector;
  if (context.audience !== vectors.audience || context.schema !== vectors.schema) return 'another audience or schema than the test server';
  if (context.codecs.some((c) => c !== 'json')) return `codecs ${context.codecs.join(', ')}`;
  if (vector.blob.length > context.maxBlobBytes && context.maxBlobBytes < ctx.options.maxBlobBytes) {
    return SIZE_CONTEXT;
  }
  // The binding is checked after the envelope: a refusal decided there does not depend on the cookie, so each
  // gets a fresh one (the vectors' cookie would soon reach the per-browser failure limit).
  const own = vector.expect.stage === 'open' && vector.expect.outcome !== 'ok';
  const cookie = own ? ctx.cookie() : context.cookie;
  const sent = own ? ' (with a cookie of its own)' : '';
  const opened = openBlob(vector.blob, vectors.byKid);
  const plain = typeof opened === 'string' ? undefined : opened.plaintext;
  const exp = plain?.exp;
  const gen = typeof plain?.gen === 'number' ? plain.gen : 0;
  if (typeof opened !== 'string' && typeof exp === 'number' && exp <= context.now) {
    // Expired in the vector's clock: the same distance from the server's clock.
    const shifted = serverNow - (context.now - exp);
    const key = vectors.byKid.get(String(opened.header.kid))!;
    const blob = sealBlob({ header: replaceMember(opened.headerText, 'exp', shifted), plaintext: replaceMember(opened.plaintextText, 'exp', shifted), key });
    return { sid: vector.sid, blob, cookie, gen, note: ` (re-sealed with exp = server now - ${context.now - exp})${sent}` };
  }
  if (vector.expect.outcome !== 'ok') return { sid: vector.sid, blob: vector.blob, cookie, gen, note: sent };
  if (typeof opened === 'string') return `an ok vector the test keys do not open: ${opened}`;
  if (typeof exp === 'number' && exp <= serverNow + 60) return 'expired by the clock since it was made';
  const sid = ctx.sid();
  const key = vectors.byKid.get(String(opened.header.kid))!;
  const swap = (text: string) => text.split(JSON.stringify(vector.sid)).join(JSON.stringify(sid));
  const blob = sealBlob({ header: swap(opened.headerText), plaintext: replaceMember(swap(opened.plaintextText), 'jti', randomId()), key });
  return { sid, blob, cookie, gen, note: ' (re-sealed: fresh sid and jti)' };
}
