/**
 * The setup contract (docs/conformance.md): the server answers, its live channel opens, it runs the conformance
 * app, and (with --test-keys) it holds the published test keys. What is found here decides which later
 * requirements can be checked at all; a requirement that cannot is reported SKIP naming the setup check.
 */
import { SET_MESSAGE } from '../contract.js';
import { describe, field, outcomeOf } from '../http.js';
import { readHeader } from '../jwe.js';
import { createLiveClient, describeClose } from '../live.js';
import { forge, loadVectors } from '../vectors.js';
import type { Context, Group } from '../types.js';

export const setupGroup: Group = {
  name: 'setup',
  setup: true,
  requirements: [
    { id: 'SETUP-REACHABLE', level: 'MUST', title: 'GET {base}/health answers over HTTP', section: 'GET /stasis/health' },
    {
      id: 'SETUP-LIVE',
      level: 'MUST',
      title: 'the live channel `{base}/live?sid=` accepts a WebSocket (the tool needs the `ws` package)',
      section: 'Live channel',
    },
    {
      id: 'SETUP-APP',
      level: 'MUST',
      title: 'the server runs the conformance app: `conformance:state` on connect, `conformance:set` answered with the new state',
      section: 'docs/conformance.md, setup contract',
    },
    {
      id: 'SETUP-TEST-KEYS',
      level: 'MUST',
      title: '(--test-keys) a blob sealed with the published test key, audience and schema resumes',
      section: 'docs/conformance.md, setup contract',
    },
    {
      id: 'SETUP-CHECKPOINTS',
      level: 'SHOULD',
      title: 'resume answers carry a `checkpoint` of generation `gen` (the server runs with checkpoints on)',
      section: 'POST /stasis/resume',
    },
  ],
  async run(ctx) {
    const health = await ctx.http.request('/health');
    ctx.check('SETUP-REACHABLE', health.status !== 0, `GET ${ctx.base}/health: ${describe(health)}`);
    if (health.status === 0) {
      ctx.facts.reachable = false;
      for (const id of ['SETUP-LIVE', 'SETUP-APP', 'SETUP-TEST-KEYS', 'SETUP-CHECKPOINTS']) ctx.skip(id, 'the server did not answer');
      return;
    }
    await setUpLive(ctx);
    await setUpTestKeys(ctx);
  },
};

async function setUpLive(ctx: Context): Promise<void> {
  const { timeoutMs } = ctx.options;
  try {
    ctx.facts.live = await createLiveClient(ctx.base, ctx.options.cookieName, timeoutMs, (fn) => ctx.onCleanup(fn));
  } catch (error) {
    ctx.facts.liveProblem = (error as Error).message;
    ctx.check('SETUP-LIVE', false, ctx.facts.liveProblem);
    ctx.skip('SETUP-APP', 'needs SETUP-LIVE');
    ctx.skip('SETUP-CHECKPOINTS', 'needs SETUP-LIVE');
    return;
  }
  const sid = ctx.sid();
  const cookie = ctx.cookie();
  const conn = await ctx.facts.live.connect(`sid=${sid}`, { cookie });
  const opened = conn.outcome === 'open';
  ctx.check('SETUP-LIVE', opened, opened ? `${ctx.facts.live.url}?sid=… upgraded` : describeClose(undefined, conn));
  if (!opened) {
    ctx.facts.liveProblem = `the live channel did not open (${describeClose(undefined, conn)})`;
    delete ctx.facts.live;
    ctx.skip('SETUP-APP', 'needs SETUP-LIVE');
    ctx.skip('SETUP-CHECKPOINTS', 'needs SETUP-LIVE');
    return;
  }
  const first = await conn.state(timeoutMs);
  const token = { conformance: ctx.sid() };
  conn.send({ type: SET_MESSAGE, value: token });
  const echo = first ? await conn.state(timeoutMs) : undefined;
  const ok = first?.gen === 1 && first.value === null && JSON.stringify(echo?.value) === JSON.stringify(token) && echo?.gen === 1;
  ctx.check(
    'SETUP-APP',
    ok,
    first
      ? `connect: ${JSON.stringify(first)}; after set: ${echo ? JSON.stringify(echo) : 'no state message'}`
      : `no conformance:state message within ${timeoutMs} ms (${describeClose(conn.closeInfo)}; received ${JSON.stringify(conn.received).slice(0, 120)}); run the conformance app`,
  );
  ctx.facts.app = ok;
  if (!ok) {
    ctx.skip('SETUP-CHECKPOINTS', 'needs SETUP-APP');
    return;
  }
  // One full cycle tells whether resume answers carry a checkpoint.
  const hibernated = await ctx.http.stasis('hibernate', { sid }, { cookie });
  const blob = field(hibernated, 'blob');
  if (outcomeOf(hibernated) !== 'ok' || typeof blob !== 'string') {
    ctx.check('SETUP-CHECKPOINTS', false, `hibernate of a live session: ${describe(hibernated)}`);
    return;
  }
  const resumed = await ctx.http.stasis('resume', { sid, blob }, { cookie });
  const checkpoint = field(resumed, 'checkpoint');
  const header = readHeader(checkpoint);
  ctx.facts.checkpoints = typeof checkpoint === 'string' && header?.gen === field(resumed, 'gen');
  ctx.check(
    'SETUP-CHECKPOINTS',
    ctx.facts.checkpoints,
    typeof checkpoint === 'string'
      ? `resume ok gen ${String(field(resumed, 'gen'))}, checkpoint header gen ${String(header?.gen)}`
      : `resume: ${describe(resumed)} (no checkpoint: start the server with checkpoints on, e.g. STASIS_CHECKPOINT_SECONDS=60)`,
  );
  await ctx.http.stasis('hibernate', { sid }, { cookie });
}

async function setUpTestKeys(ctx: Context): Promise<void> {
  if (!ctx.options.testKeys) {
    ctx.skip('SETUP-TEST-KEYS', 'not asked: pass --test-keys when the server runs with docs/vectors/keys.json');
    ctx.facts.vectorsProblem = 'needs --test-keys (the server started with the published test keys)';
    return;
  }
  let vectors;
  try {
    vectors = loadVectors(ctx.options.vectorsDir);
  } catch (error) {
    ctx.facts.vectorsProblem = (error as Error).message;
    ctx.check('SETUP-TEST-KEYS', false, ctx.facts.vectorsProblem);
    return;
  }
  const sid = ctx.sid();
  const cookie = ctx.cookie();
  const blob = forge(vectors, { sid, cookie, gen: 1, now: await ctx.serverNow() });
  const answer = await ctx.http.stasis('resume', { sid, blob }, { cookie });
  const ok = outcomeOf(answer) === 'ok' && field(answer, 'gen') === 2;
  ctx.check(
    'SETUP-TEST-KEYS',
    ok,
    ok
      ? `a blob sealed with ${vectors.sealing.kid} (aud ${vectors.audience}, schema ${vectors.schema}) resumed: ${describe(answer)}`
      : `${describe(answer)}: start the server with STASIS_KEYS, STASIS_AUDIENCE and STASIS_SCHEMA of ${vectors.dir}/keys.json`,
  );
  if (ok) {
    ctx.facts.vectors = vectors;
    await ctx.http.stasis('hibernate', { sid }, { cookie });
  } else {
    ctx.facts.vectorsProblem = 'needs SETUP-TEST-KEYS';
  }
}
