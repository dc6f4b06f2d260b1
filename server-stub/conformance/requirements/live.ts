/** The live channel and the session cycle seen from it: new, hibernated, restored, detached, superseded, refused. */
import { CLOSE_CODES } from '../../../src/protocol/index.js';
import { describe, field, outcomeOf } from '../http.js';
import { readHeader, splitBlob } from '../jwe.js';
import { describeClose } from '../live.js';
import type { Context, Group } from '../types.js';
import { hibernate, needsApp, openSession, setValue } from './support.js';

const LIVE = 'Live channel';
const MAX_MESSAGE = 256 * 1024;

export const liveGroup: Group = {
  name: 'live',
  requirements: [
    { id: 'LIVE-NEW-SESSION', level: 'MUST', title: 'a connect with a new sid starts a session at gen 1 (value null)', section: 'rule 22'},
    {
      id: 'HTTP-HIBERNATE-OK',
      level: 'MUST',
      title: 'hibernate of a live session answers 200 `{ outcome: "ok", sid, gen, exp, blob }`, the blob header copies equal to them',
      section: 'POST /stasis/hibernate',
    },
    { id: 'LIVE-HIBERNATE-CLOSE', level: 'MUST', title: 'hibernate closes the live channel with 4001 "stasis:hibernated"', section: LIVE },
    { id: 'HTTP-RESUME-OK', level: 'MUST', title: 'resume of the blob answers 200 `{ outcome: "ok", sid, gen: blob gen + 1 }`', section: 'POST /stasis/resume' },
    {
      id: 'LIVE-RESTORED-GEN',
      level: 'MUST',
      title: 'a connect after a resume attaches the restored session: gen = blob gen + 1, the value as hibernated',
      section: 'rule 22',
    },
    {
      id: 'HTTP-HEALTH-SESSION',
      level: 'MUST',
      title: '`session` of health?sid= is `{ sid, state: "live", gen, channels }` for a live sid, and `{ sid, state: "hibernated", gen }` (or "unknown") after a hibernate',
      section: 'rule 19',
    },
    {
      id: 'LIVE-KEEP-CHANNELS',
      level: 'MUST',
      title: 'hibernate with `keepChannels: true` leaves the channel open without a close frame, and later messages are ignored',
      section: 'rule 18',
    },
    {
      id: 'LIVE-KEEP-CHANNELS-ONLY-TRUE',
      level: 'MUST',
      title: 'any `keepChannels` other than the JSON value `true` ("true", 1, {}) closes the channel with 4001',
      section: 'rule 18',
    },
    {
      id: 'LIVE-FRESH-GEN',
      level: 'MUST',
      title: 'a new session of a sid resumed before starts one past the newest generation resumed',
      section: 'rule 22; Live channel',
    },
    {
      id: 'LIVE-SUPERSEDED',
      level: 'MUST',
      title: 'a resume that replaces a live session of another incarnation closes its channel with 4002',
      section: LIVE,
    },
    { id: 'LIVE-BAD-SID', level: 'MUST', title: 'a connect with a missing or invalid sid is closed with 4004', section: LIVE },
    {
      id: 'LIVE-WRONG-BINDING',
      level: 'MUST',
      title: 'a connect to a live session with another browser\'s cookie (or none) is closed with 4003 "stasis:wrong-binding"',
      section: LIVE,
    },
    {
      id: 'LIVE-NON-JSON',
      level: 'MUST',
      title: 'a non-JSON message is answered `{ type: "stasis:error", code: "malformed" }` and the channel stays open',
      section: 'rule 20',
    },
    { id: 'LIVE-MESSAGE-TOO-BIG', level: 'MUST', title: 'a message over 256 KiB closes the channel with 1009', section: 'rule 20'},
    { id: 'LIVE-MESSAGE-MAX', level: 'SHOULD', title: 'a message of 200 KiB is delivered to the app', section: LIVE },
    {
      id: 'LIVE-PLAIN-GET',
      level: 'MUST',
      title: 'a plain GET of the live path (no Upgrade) answers 426 `malformed` with `Upgrade: websocket`',
      section: 'rule 16',
    },
    { id: 'LIVE-FOREIGN-ORIGIN', level: 'MUST', title: 'an upgrade whose Origin names another host is refused with HTTP 403', section: 'Origins' },
  ],
  async run(ctx) {
    if (!needsApp(ctx, this.requirements.map((r) => r.id))) return;
    await cycle(ctx);
    await keepChannelsOnlyTrue(ctx);
    await refusals(ctx);
    await messages(ctx);
  },
};

async function healthOf(ctx: Context, sid: string): Promise<{ text: string; session: Record<string, unknown> | undefined }> {
  const answer = await ctx.http.request(`/health?sid=${sid}`);
  return { text: describe(answer), session: field(answer, 'session') as Record<string, unknown> | undefined };
}

async function cycle(ctx: Context): Promise<void> {
  const { timeoutMs, quietMs } = ctx.options;
  const sid = ctx.sid();
  const cookie = ctx.cookie();
  const first = await openSession(ctx, sid, cookie);
  if (typeof first === 'string') {
    ctx.check('LIVE-NEW-SESSION', false, first);
    return;
  }
  ctx.check('LIVE-NEW-SESSION', first.state.gen === 1 && first.state.value === null, JSON.stringify(first.state));
  const value = { live: ctx.sid(), list: [1, 2, 3] };
  await setValue(ctx, first.conn, value);
  const live = await healthOf(ctx, sid);
  ctx.check(
    'HTTP-HEALTH-SESSION',
    live.session?.sid === sid && live.session.state === 'live' && live.session.gen === 1 && Number(live.session.channels) >= 1,
    `live: ${live.text}`,
  );

  const now = Date.now() / 1000;
  const done = await hibernate(ctx, sid, cookie);
  const header = readHeader(done.blob);
  const exp = field(done.answer, 'exp');
  ctx.check(
    'HTTP-HIBERNATE-OK',
    done.answer.status === 200 &&
      field(done.answer, 'sid') === sid &&
      done.gen === 1 &&
      typeof exp === 'number' &&
      exp > now &&
      splitBlob(done.blob) !== undefined &&
      header?.sid === sid &&
      header.gen === done.gen &&
      header.exp === exp,
    `${describe(done.answer, 100)}; header ${JSON.stringify(header)}`,
  );
  const closed = await first.conn.closed(timeoutMs);
  ctx.check(
    'LIVE-HIBERNATE-CLOSE',
    closed?.code === CLOSE_CODES.hibernated && closed.reason === 'stasis:hibernated',
    describeClose(closed),
  );
  const asleep = await healthOf(ctx, sid);
  const reported = asleep.session;
  ctx.check(
    'HTTP-HEALTH-SESSION',
    reported?.sid === sid && ((reported.state === 'hibernated' && reported.gen === 1) || reported.state === 'unknown'),
    `hibernated: ${asleep.text}`,
  );
  if (!done.blob) return;

  const resumed = await ctx.http.stasis('resume', { sid, blob: done.blob }, { cookie });
  ctx.check('HTTP-RESUME-OK', resumed.status === 200 && outcomeOf(resumed) === 'ok' && field(resumed, 'sid') === sid && field(resumed, 'gen') === 2, describe(resumed));
  const back = await openSession(ctx, sid, cookie);
  ctx.check(
    'LIVE-RESTORED-GEN',
    typeof back !== 'string' && back.state.gen === 2 && JSON.stringify(back.state.value) === JSON.stringify(value),
    typeof back === 'string' ? back : JSON.stringify(back.state),
  );
  if (typeof back === 'string') return;

  // Detached, not closed: a page entering the back/forward cache asks for this.
  const kept = await hibernate(ctx, sid, cookie, { keepChannels: true });
  const noClose = await back.conn.closed(quietMs);
  back.conn.send({ type: 'conformance:set', value: 'ignored' });
  const ignored = await back.conn.state(quietMs);
  ctx.check(
    'LIVE-KEEP-CHANNELS',
    kept.blob !== undefined && noClose === undefined && ignored === undefined,
    `hibernate ${describe(kept.answer, 60)}; then ${describeClose(noClose)} within ${quietMs} ms; a later set was ${ignored ? `answered ${JSON.stringify(ignored)}` : 'ignored'}`,
  );
  back.conn.close();
  if (!kept.blob) return;

  // A connect now starts a new session past the resumed generation (1); the blob of gen 2 then replaces it.
  const fresh = await openSession(ctx, sid, cookie);
  ctx.check('LIVE-FRESH-GEN', typeof fresh !== 'string' && fresh.state.gen === 2, typeof fresh === 'string' ? fresh : `after resuming gen 1: ${JSON.stringify(fresh.state)}`);
  if (typeof fresh === 'string') return;
  const replaced = await ctx.http.stasis('resume', { sid, blob: kept.blob }, { cookie });
  const superseded = await fresh.conn.closed(timeoutMs);
  ctx.check(
    'LIVE-SUPERSEDED',
    outcomeOf(replaced) === 'ok' && superseded?.code === CLOSE_CODES.superseded,
    `resume ${describe(replaced, 60)}; the other incarnation's channel: ${describeClose(superseded)}`,
  );
  const again = await openSession(ctx, sid, cookie);
  ctx.check(
    'LIVE-RESTORED-GEN',
    typeof again !== 'string' && again.state.gen === 3 && JSON.stringify(again.state.value) === JSON.stringify(value),
    typeof again === 'string' ? again : JSON.stringify(again.state),
  );
  await hibernate(ctx, sid, cookie);
}

async function keepChannelsOnlyTrue(ctx: Context): Promise<void> {
  for (const keepChannels of ['true', 1, {}]) {
    const sid = ctx.sid();
    const cookie = ctx.cookie();
    const session = await openSession(ctx, sid, cookie);
    if (typeof session === 'string') {
      ctx.check('LIVE-KEEP-CHANNELS-ONLY-TRUE', false, session);
      continue;
    }
    const done = await hibernate(ctx, sid, cookie, { keepChannels });
    const closed = await session.conn.closed(ctx.options.timeoutMs);
    ctx.check(
      'LIVE-KEEP-CHANNELS-ONLY-TRUE',
      done.blob !== undefined && closed?.code === CLOSE_CODES.hibernated,
      `keepChannels ${JSON.stringify(keepChannels)}: ${describe(done.answer, 40)}; ${describeClose(closed)}`,
    );
  }
}

async function refusals(ctx: Context): Promise<void> {
  const { timeoutMs } = ctx.options;
  const live = ctx.facts.live!;
  for (const query of ['sid=not-a-sid', '', `sid=${'s'.repeat(65)}`]) {
    const conn = await live.connect(query, { cookie: ctx.cookie() });
    const closed = await conn.closed(timeoutMs);
    ctx.check('LIVE-BAD-SID', closed?.code === CLOSE_CODES.badSession, `?${query.slice(0, 30)}: ${describeClose(closed, conn)}`);
  }
  const sid = ctx.sid();
  const owner = await openSession(ctx, sid, ctx.cookie());
  if (typeof owner === 'string') {
    ctx.check('LIVE-WRONG-BINDING', false, owner);
  } else {
    for (const cookie of [ctx.cookie(), null]) {
      const intruder = await live.connect(`sid=${sid}`, { cookie });
      const closed = await intruder.closed(timeoutMs);
      ctx.check(
        'LIVE-WRONG-BINDING',
        closed?.code === CLOSE_CODES.resumeFirst && closed.reason === 'stasis:wrong-binding',
        `${cookie ? "another browser's cookie" : 'no cookie'}: ${describeClose(closed, intruder)}`,
      );
    }
    owner.conn.close();
  }
  const plain = await ctx.http.request(`/live?sid=${ctx.sid()}`);
  const upgrade = String(plain.headers.upgrade ?? '');
  ctx.check(
    'LIVE-PLAIN-GET',
    plain.status === 426 && outcomeOf(plain) === 'malformed' && /^websocket$/i.test(upgrade),
    `GET ${ctx.basePath}/live without Upgrade: ${describe(plain)} (Upgrade: ${upgrade || 'none'})`,
  );
  const foreign = await live.connect(`sid=${ctx.sid()}`, { cookie: ctx.cookie(), origin: 'http://conformance.invalid' });
  ctx.check('LIVE-FOREIGN-ORIGIN', foreign.outcome === 'refused' && foreign.refusedStatus === 403, describeClose(foreign.closeInfo, foreign));
  foreign.close();
}

async function messages(ctx: Context): Promise<void> {
  const { timeoutMs } = ctx.options;
  const session = await openSession(ctx, ctx.sid(), ctx.cookie());
  if (typeof session === 'string') {
    for (const id of ['LIVE-NON-JSON', 'LIVE-MESSAGE-MAX', 'LIVE-MESSAGE-TOO-BIG']) ctx.check(id, false, session);
    return;
  }
  session.conn.send('this is not JSON {');
  const error = (await session.conn.next((m) => (m as { type?: unknown } | null)?.type === 'stasis:error', timeoutMs)) as Record<string, unknown> | undefined;
  const after = await setValue(ctx, session.conn, 'still open');
  ctx.check(
    'LIVE-NON-JSON',
    error?.code === 'malformed' && after?.value === 'still open',
    `answer ${error ? JSON.stringify(error) : 'none'}; then ${after ? 'a set was answered' : describeClose(session.conn.closeInfo)}`,
  );
  const big = 'y'.repeat(200 * 1024);
  const echoed = await setValue(ctx, session.conn, big);
  ctx.check('LIVE-MESSAGE-MAX', echoed?.value === big, echoed ? `a ${big.length}-character value came back` : describeClose(session.conn.closeInfo));
  session.conn.send(JSON.stringify({ type: 'conformance:set', value: 'z'.repeat(MAX_MESSAGE + 1024) }));
  const closed = await session.conn.closed(timeoutMs);
  ctx.check('LIVE-MESSAGE-TOO-BIG', closed?.code === 1009, `a message of ${MAX_MESSAGE + 1024 + 40} bytes: ${describeClose(closed)}`);
}
