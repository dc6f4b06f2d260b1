/**
 * Resume on the live channel (docs/protocol.md, "Resume on the live channel (one round trip)"): `resume=1` and a
 * first message `stasis:resume`, answered `stasis:resumed` before anything else. Optional (SHOULD): a server may
 * offer only `POST resume` (the page falls back to it); when the ok case fails, the others are skipped.
 */
import { CLOSE_CODES, LIVE_RESUME_MESSAGE, isLiveResumeAnswer } from '../../../src/protocol/index.js';
import { SET_MESSAGE, isStateMessage } from '../contract.js';
import { describeClose, type CloseInfo, type LiveConnection } from '../live.js';
import type { Context, Group } from '../types.js';
import { hibernate, needsApp, sessionBlob } from './support.js';

const SECTION = 'Live channel: resume on the live channel';
const AFTER_OK = ['LIVE-RESUME-REPLAYED', 'LIVE-RESUME-MALFORMED'];

export const liveResumeGroup: Group = {
  name: 'live-resume',
  requirements: [
    {
      id: 'LIVE-RESUME-OK',
      level: 'SHOULD',
      title:
        'a `resume=1` socket whose first message is `stasis:resume` with a blob is answered `{ type: "stasis:resumed", outcome: "ok", sid, gen: blob gen + 1 }` first, then the restored session\'s messages follow on that socket',
      section: SECTION,
    },
    {
      id: 'LIVE-RESUME-REPLAYED',
      level: 'SHOULD',
      title: 'that blob again on the live channel is answered `stasis:resumed` `replayed`, then the socket is closed with 4010 "stasis:replayed"',
      section: SECTION,
    },
    {
      id: 'LIVE-RESUME-MALFORMED',
      level: 'SHOULD',
      title: 'a `resume=1` socket whose first message is not a `stasis:resume` is answered `malformed` and closed with 4010 "stasis:malformed"',
      section: SECTION,
    },
  ],
  async run(ctx) {
    if (!needsApp(ctx, this.requirements.map((r) => r.id))) return;
    if (await resumeOk(ctx)) await malformedFirst(ctx);
  },
};

export interface LiveResumed {
  conn: LiveConnection;
  /** The `stasis:resumed` answer, or undefined when none came. */
  answer: Record<string, unknown> | undefined;
}

/** Opens `sid` with `resume=1`, sends `first` as its first message and waits for the answer. A string says the socket did not open. */
export async function liveResume(ctx: Context, sid: string, first: unknown, cookie: string | null): Promise<LiveResumed | string> {
  const conn = await ctx.facts.live!.connect(`sid=${sid}&resume=1`, { cookie });
  if (conn.outcome !== 'open') return `connect with resume=1: ${describeClose(undefined, conn)}`;
  conn.send(first);
  const answer = (await conn.next(isLiveResumeAnswer, ctx.options.timeoutMs)) as Record<string, unknown> | undefined;
  return { conn, answer };
}

/** `stasis:resumed {"outcome":…}`, or what came instead. */
export function describeResumed(resumed: LiveResumed | string, closed?: CloseInfo): string {
  if (typeof resumed === 'string') return resumed;
  const answer = resumed.answer ? `stasis:resumed ${JSON.stringify(resumed.answer).slice(0, 120)}` : `no stasis:resumed answer (${describeClose(resumed.conn.closeInfo, resumed.conn)})`;
  return closed === undefined ? answer : `${answer}, then ${describeClose(closed)}`;
}

/** Whether a refused live resume ended as the spec says: the answer with `outcome`, then 4010 `stasis:<outcome>`. */
export async function refusedWith(ctx: Context, resumed: LiveResumed | string, outcome: string): Promise<{ ok: boolean; saw: string }> {
  if (typeof resumed === 'string') return { ok: false, saw: resumed };
  const closed = await resumed.conn.closed(ctx.options.timeoutMs);
  const ok = resumed.answer?.outcome === outcome && closed?.code === CLOSE_CODES.resumeRefused && closed.reason === `stasis:${outcome}`;
  return { ok, saw: describeResumed(resumed, closed) };
}

/** LIVE-RESUME-OK, then LIVE-RESUME-REPLAYED; true when the server resumes on the live channel. */
async function resumeOk(ctx: Context): Promise<boolean> {
  const sid = ctx.sid();
  const cookie = ctx.cookie();
  const value = { liveResume: ctx.sid() };
  const made = await sessionBlob(ctx, sid, cookie, value);
  if (typeof made === 'string') {
    ctx.check('LIVE-RESUME-OK', false, made);
    for (const id of AFTER_OK) ctx.skip(id, 'needs LIVE-RESUME-OK');
    return false;
  }
  const resumed = await liveResume(ctx, sid, { type: LIVE_RESUME_MESSAGE, sid, blob: made.blob }, cookie);
  const state = typeof resumed === 'string' ? undefined : await resumed.conn.state(ctx.options.timeoutMs);
  const first = typeof resumed === 'string' ? undefined : resumed.conn.received[0];
  const ok =
    typeof resumed !== 'string' &&
    first === resumed.answer &&
    resumed.answer?.outcome === 'ok' &&
    resumed.answer.sid === sid &&
    resumed.answer.gen === made.gen + 1 &&
    state?.gen === made.gen + 1 &&
    JSON.stringify(state.value) === JSON.stringify(value);
  ctx.facts.liveResume = ok;
  const order = typeof resumed === 'string' || first === resumed.answer ? '' : `; the first message was ${JSON.stringify(first).slice(0, 80)}`;
  ctx.check(
    'LIVE-RESUME-OK',
    ok,
    `${describeResumed(resumed)}${order}; then ${state ? `conformance:state gen ${state.gen} value ${JSON.stringify(state.value).slice(0, 60)}` : 'no conformance:state'}`,
  );
  if (!ok) {
    for (const id of AFTER_OK) ctx.skip(id, 'needs LIVE-RESUME-OK');
    if (typeof resumed !== 'string') resumed.conn.close();
    return false;
  }
  const replayed = await liveResume(ctx, sid, { type: LIVE_RESUME_MESSAGE, sid, blob: made.blob }, cookie);
  const refusal = await refusedWith(ctx, replayed, 'replayed');
  ctx.check('LIVE-RESUME-REPLAYED', refusal.ok, `the same blob again, its session live: ${refusal.saw}`);
  if (typeof resumed !== 'string') resumed.conn.close();
  await hibernate(ctx, sid, cookie);
  return true;
}

async function malformedFirst(ctx: Context): Promise<void> {
  const sid = ctx.sid();
  const resumed = await liveResume(ctx, sid, { type: SET_MESSAGE, value: 'not a resume' }, ctx.cookie());
  const refusal = await refusedWith(ctx, resumed, 'malformed');
  const leaked = typeof resumed !== 'string' && resumed.conn.received.some(isStateMessage);
  ctx.check('LIVE-RESUME-MALFORMED', refusal.ok && !leaked, `first message ${SET_MESSAGE}: ${refusal.saw}${leaked ? '; the app talked on the socket' : ''}`);
}
