/**
 * Key binding (docs/protocol.md, "Key binding", rules 4a-4e): a blob hibernated with a proof is bound to the
 * proof's key; resuming it takes a valid proof by that key, and then no cookie. Optional for a server (SHOULD):
 * a server that does not bind blobs to keys answers the first check `wrong-binding` (no cookie) and the others
 * are skipped.
 */
import { findCookie } from '../cookies.js';
import { describe, outcomeOf } from '../http.js';
import { blobHash, makeProof, makeProofKey, type ProofKey } from '../proof.js';
import type { Context, Group } from '../types.js';
import { LIVE_RESUME_MESSAGE } from '../../../src/protocol/index.js';
import { describeResumed, liveResume, refusedWith } from './live-resume.js';
import { hibernate, needsApp, openSession, setValue } from './support.js';

const SECTION = 'Key binding; rules 4a-4e';
const REFUSALS = ['KEY-BOUND-NO-PROOF', 'KEY-BOUND-OTHER-KEY', 'KEY-PROOF-HTU', 'KEY-PROOF-IAT', 'KEY-PROOF-BH', 'KEY-REFUSAL-KEEPS-BLOB', 'KEY-LIVE-RESUME'];

export const keyBindingGroup: Group = {
  name: 'key-binding',
  requirements: [
    {
      id: 'KEY-BOUND-NO-COOKIE',
      level: 'SHOULD',
      title: 'a blob hibernated with a proof resumes `ok` with a proof by the same key and no cookie, and the answer sets a new binding cookie',
      section: SECTION,
    },
    { id: 'KEY-BOUND-NO-PROOF', level: 'SHOULD', title: 'that blob presented with its cookie and no proof answers `wrong-binding`', section: SECTION },
    { id: 'KEY-BOUND-OTHER-KEY', level: 'SHOULD', title: 'with its cookie and a valid proof by another key: `wrong-binding`', section: SECTION },
    { id: 'KEY-PROOF-HTU', level: 'SHOULD', title: 'with a proof made for another path (`htu` of hibernate): `wrong-binding`', section: SECTION },
    { id: 'KEY-PROOF-IAT', level: 'SHOULD', title: 'with a proof whose `iat` is 10 minutes old: `wrong-binding`', section: SECTION },
    { id: 'KEY-PROOF-BH', level: 'SHOULD', title: 'with a proof over another blob (`bh`): `wrong-binding`', section: SECTION },
    {
      id: 'KEY-REFUSAL-KEEPS-BLOB',
      level: 'SHOULD',
      title: 'those refusals do not use the blob up (binding is checked before the ledger): it then resumes `ok` with a valid proof',
      section: `${SECTION}; Resume checks, in order`,
    },
    {
      id: 'KEY-LIVE-RESUME',
      level: 'SHOULD',
      title: 'on the live channel (`resume=1`), a key-bound blob with a proof made for `POST {base}/live` is refused `wrong-binding` (4010); with one for `GET {base}/live` it resumes `ok`',
      section: `${SECTION}; Live channel: resume on the live channel`,
    },
  ],
  async run(ctx) {
    if (!needsApp(ctx, this.requirements.map((r) => r.id))) return;
    const key = makeProofKey();
    const bound = await boundBlob(ctx, key, 'key-bound a');
    if (typeof bound === 'string') {
      ctx.check('KEY-BOUND-NO-COOKIE', false, bound);
      for (const id of REFUSALS) ctx.skip(id, 'needs KEY-BOUND-NO-COOKIE');
      return;
    }
    const resumed = await ctx.http.stasis('resume', { sid: bound.sid, blob: bound.blob, proof: await proof(ctx, key, 'resume', bound.blob) }, { cookie: null });
    const fresh = findCookie(resumed.setCookies, ctx.options.cookieName);
    const keyBound = outcomeOf(resumed) === 'ok';
    ctx.check(
      'KEY-BOUND-NO-COOKIE',
      keyBound && fresh !== undefined && fresh.value !== '',
      `no cookie, a valid proof: ${describe(resumed)}; Set-Cookie ${fresh ? fresh.name : 'none'}`,
    );
    if (fresh) await hibernate(ctx, bound.sid, fresh.value);
    if (!keyBound) {
      for (const id of REFUSALS) ctx.skip(id, 'needs KEY-BOUND-NO-COOKIE (the server does not seem to bind blobs to keys)');
      return;
    }

    const second = await boundBlob(ctx, key, 'key-bound b');
    if (typeof second === 'string') {
      for (const id of REFUSALS) ctx.check(id, false, second);
      return;
    }
    const { sid, blob, cookie } = second;
    const refused = async (id: string, what: string, extra: Record<string, unknown>) => {
      const answer = await ctx.http.stasis('resume', { sid, blob, ...extra }, { cookie });
      ctx.check(id, outcomeOf(answer) === 'wrong-binding', `${what}: ${describe(answer)}`);
    };
    const now = await ctx.serverNow();
    await refused('KEY-BOUND-NO-PROOF', 'its cookie, no proof', {});
    await refused('KEY-BOUND-OTHER-KEY', 'its cookie, a proof by another key', { proof: await proof(ctx, makeProofKey(), 'resume', blob) });
    await refused('KEY-PROOF-HTU', `its cookie, a proof for ${ctx.basePath}/hibernate`, { proof: makeProof(key, { htu: `${ctx.basePath}/hibernate`, iat: now, blob }) });
    await refused('KEY-PROOF-IAT', 'its cookie, a proof with iat 600 s ago', { proof: makeProof(key, { htu: `${ctx.basePath}/resume`, iat: now - 600, blob }) });
    await refused('KEY-PROOF-BH', 'its cookie, a proof over another blob', { proof: makeProof(key, { htu: `${ctx.basePath}/resume`, iat: now, bh: blobHash(`${blob}x`) }) });
    const after = await ctx.http.stasis('resume', { sid, blob, proof: await proof(ctx, key, 'resume', blob) }, { cookie });
    ctx.check('KEY-REFUSAL-KEEPS-BLOB', outcomeOf(after) === 'ok', `after the refusals, a valid proof: ${describe(after)}`);
    await hibernate(ctx, sid, cookie);
    await liveKeyBound(ctx, key);
  },
};

/** KEY-LIVE-RESUME: the proof of a live resume is made for the upgrade request, `GET {base}/live`. */
async function liveKeyBound(ctx: Context, key: ProofKey): Promise<void> {
  if (ctx.facts.liveResume === false) return ctx.skip('KEY-LIVE-RESUME', 'needs LIVE-RESUME-OK (the server does not resume on the live channel)');
  const bound = await boundBlob(ctx, key, 'key-bound live');
  if (typeof bound === 'string') return ctx.check('KEY-LIVE-RESUME', false, bound);
  const { sid, blob, cookie } = bound;
  const htu = `${ctx.basePath}/live`;
  const resumeWith = async (htm: 'GET' | 'POST') =>
    liveResume(ctx, sid, { type: LIVE_RESUME_MESSAGE, sid, blob, proof: makeProof(key, { htm, htu, iat: await ctx.serverNow(), blob }) }, cookie);
  const refusal = await refusedWith(ctx, await resumeWith('POST'), 'wrong-binding');
  const resumed = await resumeWith('GET');
  ctx.check(
    'KEY-LIVE-RESUME',
    refusal.ok && typeof resumed !== 'string' && resumed.answer?.outcome === 'ok',
    `its cookie, a proof for POST ${htu}: ${refusal.saw}; for GET ${htu}: ${describeResumed(resumed)}`,
  );
  if (typeof resumed !== 'string') resumed.conn.close();
  await hibernate(ctx, sid, cookie);
}

/** A proof by `key` for a POST to `{base}/{route}` now (the server's clock). */
async function proof(ctx: Context, key: ProofKey, route: 'hibernate' | 'resume', blob?: string): Promise<string> {
  return makeProof(key, { htu: `${ctx.basePath}/${route}`, iat: await ctx.serverNow(), ...(blob === undefined ? {} : { blob }) });
}

/** A session opened, its value set, and hibernated with a proof by `key`. */
async function boundBlob(ctx: Context, key: ProofKey, value: string): Promise<{ sid: string; cookie: string; blob: string } | string> {
  const sid = ctx.sid();
  const cookie = ctx.cookie();
  const session = await openSession(ctx, sid, cookie);
  if (typeof session === 'string') return session;
  const state = await setValue(ctx, session.conn, value);
  if (!state) return 'no state answer to conformance:set';
  const done = await hibernate(ctx, sid, cookie, { proof: await proof(ctx, key, 'hibernate') });
  session.conn.close();
  if (!done.blob) return `hibernate with a proof: ${describe(done.answer)}`;
  return { sid, cookie, blob: done.blob };
}
