/**
 * The resume failure limit. Runs last: it spends one browser's whole budget (and part of the address's) on
 * failing resumes until the server answers `rate-limited`.
 */
import { describe, field, outcomeOf, type Answer } from '../http.js';
import type { Group } from '../types.js';

export const rateLimitGroup: Group = {
  name: 'rate-limit',
  requirements: [
    {
      id: 'HTTP-RATE-LIMITED',
      level: 'MUST',
      title: 'failing resumes past the per-browser limit answer 429 `rate-limited` with `Retry-After` and an equal `retryAfterSeconds`',
      section: 'Rate limit',
    },
    {
      id: 'HTTP-RATE-LIMIT-PER-BROWSER',
      level: 'SHOULD',
      title: 'another browser (cookie) from the same address is not limited by it',
      section: 'Rate limit',
    },
  ],
  async run(ctx) {
    const cookie = ctx.cookie();
    let limited: Answer | undefined;
    let sent = 0;
    while (sent < ctx.options.rateLimitProbe && !limited) {
      const answer = await ctx.http.stasis('resume', { sid: ctx.sid(), blob: 'conformance.not.a.real.blob' }, { cookie });
      sent++;
      if (answer.status === 0) return void ctx.check('HTTP-RATE-LIMITED', false, `failing resume ${sent}: ${describe(answer)}`);
      if (outcomeOf(answer) === 'rate-limited') limited = answer;
    }
    if (!limited) {
      ctx.check('HTTP-RATE-LIMITED', false, `no rate-limited after ${sent} failing resumes from one browser (the setup contract asks for a limit of at most 100 a minute)`);
      ctx.skip('HTTP-RATE-LIMIT-PER-BROWSER', 'needs HTTP-RATE-LIMITED');
      return;
    }
    const header = String(limited.headers['retry-after'] ?? '');
    const seconds = field(limited, 'retryAfterSeconds');
    ctx.check(
      'HTTP-RATE-LIMITED',
      limited.status === 429 && /^[1-9][0-9]*$/.test(header) && seconds === Number(header),
      `after ${sent - 1} failures: ${describe(limited)} (Retry-After: ${header || 'none'})`,
    );
    const other = await ctx.http.stasis('resume', { sid: ctx.sid(), blob: 'conformance.not.a.real.blob' }, { cookie: ctx.cookie() });
    ctx.check('HTTP-RATE-LIMIT-PER-BROWSER', outcomeOf(other) === 'malformed', `a fresh cookie right after: ${describe(other)}`);
  },
};
