/** The one-time ledger and the generations: replayed, stale, and checkpoints of a session still live. */
import { describe, field, outcomeOf } from '../http.js';
import { describeClose } from '../live.js';
import type { Context, Group } from '../types.js';
import { hibernate, needsApp, openSession, sessionBlob, setValue } from './support.js';

export const ledgerGroup: Group = {
  name: 'ledger',
  requirements: [
    {
      id: 'LEDGER-REPLAYED',
      level: 'MUST',
      title: 'a blob resumed once answers `replayed` when presented again (its session live, or moved on since)',
      section: 'rule 13; Resume checks, in order',
    },
    {
      id: 'LEDGER-STALE',
      level: 'MUST',
      title: 'a blob of an older generation, presented after a newer one of its sid resumed, answers `stale`',
      section: 'rule 13; Resume checks, in order',
    },
    {
      id: 'LEDGER-STALE-KEEPS-JTI',
      level: 'MUST',
      title: '`stale` does not use the blob up: presented again it answers `stale` again, not `replayed`',
      section: 'rule 13',
    },
    {
      id: 'LEDGER-CHECKPOINT-LIVE',
      level: 'MUST',
      title: 'a checkpoint of the session still live resumes `ok` with the same gen, and nothing is replaced (its channel stays open)',
      section: 'rule 13; POST /stasis/resume',
    },
    {
      id: 'LEDGER-CHECKPOINT-KEEPS-JTI',
      level: 'MUST',
      title: 'resuming a checkpoint of the still-live session does not use it up: again `ok`, same gen',
      section: 'rule 13',
    },
  ],
  async run(ctx) {
    if (!needsApp(ctx, this.requirements.map((r) => r.id))) return;
    await generations(ctx);
    await checkpoints(ctx);
  },
};

async function generations(ctx: Context): Promise<void> {
  const sid = ctx.sid();
  const cookie = ctx.cookie();
  // Two blobs of one sid, neither resumed: the first (A) and a fork sealed from a new session (B), both gen 1.
  const a = await sessionBlob(ctx, sid, cookie, 'a');
  if (typeof a === 'string') return void ctx.check('LEDGER-STALE', false, `first blob: ${a}`);
  const forked = await openSession(ctx, sid, cookie);
  if (typeof forked === 'string') return void ctx.check('LEDGER-STALE', false, `second session: ${forked}`);
  ctx.check('LIVE-FRESH-GEN', forked.state.gen === 1, `a sid hibernated but never resumed starts again at: ${JSON.stringify(forked.state)}`);
  await setValue(ctx, forked.conn, 'b');
  const b = await hibernate(ctx, sid, cookie);
  forked.conn.close();
  if (!b.blob) return void ctx.check('LEDGER-STALE', false, `second blob: ${describe(b.answer)}`);

  const first = await ctx.http.stasis('resume', { sid, blob: b.blob }, { cookie });
  if (outcomeOf(first) !== 'ok') return void ctx.check('LEDGER-REPLAYED', false, `first resume: ${describe(first)}`);
  const replay = await ctx.http.stasis('resume', { sid, blob: b.blob }, { cookie });
  ctx.check('LEDGER-REPLAYED', outcomeOf(replay) === 'replayed', `again while its session is live: ${describe(replay)}`);

  // The session moves on: gen 2 hibernated and resumed (gen 3 live).
  const next = await sessionBlob(ctx, sid, cookie, 'c');
  if (typeof next === 'string') return void ctx.check('LEDGER-STALE', false, `gen 2: ${next}`);
  const newer = await ctx.http.stasis('resume', { sid, blob: next.blob }, { cookie });
  const movedOn = await ctx.http.stasis('resume', { sid, blob: b.blob }, { cookie });
  ctx.check('LEDGER-REPLAYED', outcomeOf(movedOn) === 'replayed', `again after its session moved on (gen ${next.gen} resumed: ${outcomeOf(newer)}): ${describe(movedOn)}`);

  const stale = await ctx.http.stasis('resume', { sid, blob: a.blob }, { cookie });
  ctx.check('LEDGER-STALE', outcomeOf(stale) === 'stale', `gen ${a.gen} after gen ${next.gen} resumed: ${describe(stale)}`);
  const staleAgain = await ctx.http.stasis('resume', { sid, blob: a.blob }, { cookie });
  ctx.check('LEDGER-STALE-KEEPS-JTI', outcomeOf(staleAgain) === 'stale', `the same blob again: ${describe(staleAgain)}`);
  await hibernate(ctx, sid, cookie);
}

async function checkpoints(ctx: Context): Promise<void> {
  const ids = ['LEDGER-CHECKPOINT-LIVE', 'LEDGER-CHECKPOINT-KEEPS-JTI'];
  if (!ctx.facts.checkpoints) {
    for (const id of ids) ctx.skip(id, 'needs SETUP-CHECKPOINTS (resume answers carrying a checkpoint)');
    return;
  }
  const sid = ctx.sid();
  const cookie = ctx.cookie();
  const sealed = await sessionBlob(ctx, sid, cookie, 'checkpointed');
  if (typeof sealed === 'string') return void ctx.check('LEDGER-CHECKPOINT-LIVE', false, sealed);
  const resumed = await ctx.http.stasis('resume', { sid, blob: sealed.blob }, { cookie });
  const checkpoint = field(resumed, 'checkpoint');
  const gen = field(resumed, 'gen');
  if (typeof checkpoint !== 'string') return void ctx.check('LEDGER-CHECKPOINT-LIVE', false, `resume: ${describe(resumed)}`);
  const session = await openSession(ctx, sid, cookie);
  if (typeof session === 'string') return void ctx.check('LEDGER-CHECKPOINT-LIVE', false, session);

  const same = await ctx.http.stasis('resume', { sid, blob: checkpoint }, { cookie });
  const closed = await session.conn.closed(ctx.options.quietMs);
  const state = await setValue(ctx, session.conn, 'after the checkpoint');
  ctx.check(
    'LEDGER-CHECKPOINT-LIVE',
    outcomeOf(same) === 'ok' && field(same, 'gen') === gen && closed === undefined && state?.gen === gen,
    `checkpoint of live gen ${String(gen)}: ${describe(same)}; its channel: ${closed ? describeClose(closed) : state ? `open, state gen ${state.gen}` : 'no answer'}`,
  );
  const again = await ctx.http.stasis('resume', { sid, blob: checkpoint }, { cookie });
  ctx.check('LEDGER-CHECKPOINT-KEEPS-JTI', outcomeOf(again) === 'ok' && field(again, 'gen') === gen, `the same checkpoint again: ${describe(again)}`);
  session.conn.close();
  await hibernate(ctx, sid, cookie);
}
