/**
 * The per-browser cap on live sessions: new sessions past it are refused (4005), and a resume past it answers
 * `rate-limited` without using the blob up (rule 12).
 */
import { CLOSE_CODES } from '../../../src/protocol/index.js';
import { describe, field, outcomeOf } from '../http.js';
import { describeClose, type LiveConnection } from '../live.js';
import type { Group } from '../types.js';
import { hibernate, needsApp, sessionBlob } from './support.js';

/** New sessions opened at most while looking for the cap (the protocol's default cap is 32). */
const PROBE = 64;

export const capsGroup: Group = {
  name: 'caps',
  requirements: [
    {
      id: 'LIVE-SESSION-CAP',
      level: 'SHOULD',
      title: `a browser opening new sessions is refused with 4005 past its cap (looked for up to ${PROBE} sessions)`,
      section: 'Live channel',
    },
    {
      id: 'HTTP-CAP-RATE-LIMITED',
      level: 'MUST',
      title: 'a resume past the per-browser cap answers 429 `rate-limited` with `Retry-After`, and the blob is not used up',
      section: 'rule 12',
    },
  ],
  async run(ctx) {
    if (!needsApp(ctx, this.requirements.map((r) => r.id))) return;
    const cookie = ctx.cookie();
    const kept = await sessionBlob(ctx, ctx.sid(), cookie, 'past the cap');
    if (typeof kept === 'string') return void ctx.check('HTTP-CAP-RATE-LIMITED', false, kept);
    const held: Array<{ sid: string; conn: LiveConnection }> = [];
    let refused: LiveConnection | undefined;
    try {
      while (held.length < PROBE && !refused) {
        const sid = ctx.sid();
        const conn = await ctx.facts.live!.connect(`sid=${sid}`, { cookie });
        const state = await conn.state(ctx.options.timeoutMs);
        if (state) held.push({ sid, conn });
        else refused = conn;
      }
      const closed = refused ? await refused.closed(ctx.options.timeoutMs) : undefined;
      ctx.check(
        'LIVE-SESSION-CAP',
        closed?.code === CLOSE_CODES.tooManySessions,
        refused ? `session ${held.length + 1}: ${describeClose(closed, refused)}` : `${held.length} new sessions of one browser, none refused`,
      );
      if (closed?.code !== CLOSE_CODES.tooManySessions) {
        ctx.skip('HTTP-CAP-RATE-LIMITED', 'needs a per-browser cap (LIVE-SESSION-CAP)');
        return;
      }
      const over = await ctx.http.stasis('resume', { sid: kept.sid, blob: kept.blob }, { cookie });
      const header = String(over.headers['retry-after'] ?? '');
      ctx.check(
        'HTTP-CAP-RATE-LIMITED',
        outcomeOf(over) === 'rate-limited' && over.status === 429 && /^[1-9][0-9]*$/.test(header),
        `with ${held.length} sessions live: ${describe(over)} (Retry-After: ${header || 'none'})`,
      );
      const freed = held.pop()!;
      await hibernate(ctx, freed.sid, cookie);
      const after = await ctx.http.stasis('resume', { sid: kept.sid, blob: kept.blob }, { cookie });
      ctx.check(
        'HTTP-CAP-RATE-LIMITED',
        outcomeOf(after) === 'ok' && field(after, 'gen') === kept.gen + 1,
        `the same blob once a session was freed: ${describe(after)}`,
      );
      await hibernate(ctx, kept.sid, cookie);
    } finally {
      for (const { sid, conn } of held) {
        conn.close();
        await hibernate(ctx, sid, cookie);
      }
      refused?.close();
    }
  },
};
