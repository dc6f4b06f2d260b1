/** The binding cookie: when it is set, its attributes and value, which values count, and that it binds blobs. */
import { findCookie, COOKIE_VALUE, pathCovers, type SetCookie } from '../cookies.js';
import { describe, field, outcomeOf } from '../http.js';
import { bindingHash, openBlob } from '../jwe.js';
import { forge } from '../vectors.js';
import type { Context, Group } from '../types.js';
import { hibernate, needsApp, openSession, setValue } from './support.js';

const IDS = [
  'COOKIE-SET-ON-FIRST-BLOB',
  'COOKIE-SET-ON-CONNECT',
  'COOKIE-NAME',
  'COOKIE-VALUE',
  'COOKIE-HTTPONLY',
  'COOKIE-SAMESITE',
  'COOKIE-PATH',
  'COOKIE-MAX-AGE',
  'COOKIE-SECURE',
  'COOKIE-VALID-KEPT',
  'COOKIE-INVALID-ABSENT',
  'COOKIE-BINDING-ENFORCED',
  'COOKIE-BID',
] as const;

export const cookieGroup: Group = {
  name: 'cookie',
  requirements: [
    {
      id: 'COOKIE-SET-ON-FIRST-BLOB',
      level: 'MUST',
      title: 'a browser without the cookie gets it no later than the answer that first hands out a blob bound to it',
      section: 'rule 3',
    },
    { id: 'COOKIE-SET-ON-CONNECT', level: 'SHOULD', title: 'it gets it on its first live connect already (the 101 of the upgrade)', section: 'rule 3' },
    { id: 'COOKIE-NAME', level: 'MUST', title: 'the binding cookie is named `stasis_bid` (or --cookie-name)', section: 'rule 1' },
    { id: 'COOKIE-VALUE', level: 'MUST', title: 'a new value is base64url, 22–128 characters', section: 'rule 1' },
    { id: 'COOKIE-HTTPONLY', level: 'MUST', title: 'it is `HttpOnly`', section: 'rule 2' },
    { id: 'COOKIE-SAMESITE', level: 'MUST', title: 'it is `SameSite=Lax`', section: 'rule 2' },
    { id: 'COOKIE-PATH', level: 'MUST', title: 'its `Path` covers the base path', section: 'rule 2' },
    {
      id: 'COOKIE-MAX-AGE',
      level: 'MUST',
      title: 'its `Max-Age` is at least the blob lifetime (the `exp` of a hibernate answer from now): not a session cookie',
      section: 'rule 2',
    },
    { id: 'COOKIE-SECURE', level: 'MUST', title: 'over HTTPS it is `Secure`', section: 'rule 2' },
    {
      id: 'COOKIE-VALID-KEPT',
      level: 'MUST',
      title: 'a valid cookie the browser sends is never replaced',
      section: 'rule 3',
    },
    {
      id: 'COOKIE-INVALID-ABSENT',
      level: 'MUST',
      title: 'a value outside the alphabet or 22–128 characters counts as no cookie: a new one is set; a blob bound to it does not resume',
      section: 'rule 1',
    },
    {
      id: 'COOKIE-BINDING-ENFORCED',
      level: 'MUST',
      title: "another browser's cookie, or none, gets `wrong-binding` for a blob (resume) and for a live session (hibernate)",
      section: 'Identity; POST /stasis/hibernate',
    },
    { id: 'COOKIE-BID', level: 'MUST', title: "(--test-keys) the blob's `bid` is base64url(SHA-256(cookie text)), no padding", section: 'rule 4' },
  ],
  async run(ctx) {
    if (!needsApp(ctx, IDS)) return;
    await firstCookie(ctx);
    await validValues(ctx);
    await invalidValues(ctx);
  },
};

function checkAttributes(ctx: Context, cookie: SetCookie): void {
  const { attributes: a } = cookie;
  ctx.check('COOKIE-VALUE', COOKIE_VALUE.test(cookie.value), `value "${cookie.value}" (${cookie.value.length} characters)`);
  ctx.check('COOKIE-HTTPONLY', a.has('httponly'), cookie.line);
  ctx.check('COOKIE-SAMESITE', a.get('samesite')?.toLowerCase() === 'lax', cookie.line);
  const path = a.get('path');
  ctx.check('COOKIE-PATH', path !== undefined && pathCovers(path, ctx.basePath), `${cookie.line} (base path ${ctx.basePath})`);
  if (ctx.base.startsWith('https:')) ctx.check('COOKIE-SECURE', a.has('secure'), cookie.line);
  else ctx.skip('COOKIE-SECURE', 'the base URL is http:');
}

/** Max-Age against the lifetime of a blob the server just handed out (a few seconds of slack for the clocks). */
function checkMaxAge(ctx: Context, cookie: SetCookie, exp: unknown, now: number): void {
  const maxAge = Number(cookie.attributes.get('max-age'));
  const lifetime = typeof exp === 'number' ? exp - now : undefined;
  ctx.check(
    'COOKIE-MAX-AGE',
    cookie.attributes.has('max-age') && Number.isInteger(maxAge) && lifetime !== undefined && maxAge >= lifetime - 5,
    `${cookie.line} (blob lifetime ${lifetime === undefined ? 'unknown: no exp in the hibernate answer' : `${lifetime} s`})`,
  );
}

/** A browser seen for the first time: the cookie comes with the 101, or with the first hibernate. */
async function firstCookie(ctx: Context): Promise<void> {
  const name = ctx.options.cookieName;
  const sid = ctx.sid();
  const session = await openSession(ctx, sid, null);
  if (typeof session === 'string') {
    ctx.check('COOKIE-SET-ON-FIRST-BLOB', false, session);
    return;
  }
  let cookie = findCookie(session.conn.setCookies, name);
  let where = '101 of the first live channel';
  await setValue(ctx, session.conn, { cookie: 'first' });
  let hibernated;
  if (!cookie) {
    hibernated = await hibernate(ctx, sid, null);
    cookie = findCookie(hibernated.answer.setCookies, name);
    where = `first hibernate (${describe(hibernated.answer, 60)})`;
  }
  ctx.check('COOKIE-SET-ON-CONNECT', findCookie(session.conn.setCookies, name) !== undefined, `the 101: ${session.conn.setCookies.join(' | ') || 'no Set-Cookie'}`);
  const any = [...session.conn.setCookies, ...(hibernated?.answer.setCookies ?? [])];
  ctx.check('COOKIE-NAME', cookie !== undefined, cookie ? cookie.line : `no Set-Cookie named ${name} (Set-Cookie seen: ${any.join(' | ') || 'none'})`);
  ctx.check('COOKIE-SET-ON-FIRST-BLOB', cookie !== undefined, cookie ? `set on the ${where}` : `no ${name} cookie on the 101 nor on the first hibernate`);
  if (!cookie) return;
  checkAttributes(ctx, cookie);
  const value = cookie.value;
  if (!hibernated) {
    hibernated = await hibernate(ctx, sid, value);
    const again = findCookie(hibernated.answer.setCookies, name);
    ctx.check('COOKIE-VALID-KEPT', !again || again.value === value, `hibernate with the cookie: ${again ? again.line : 'no Set-Cookie'}`);
  }
  session.conn.close();
  checkMaxAge(ctx, cookie, field(hibernated.answer, 'exp'), await ctx.serverNow());
  const blob = hibernated.blob;
  if (!blob) {
    ctx.check('COOKIE-BINDING-ENFORCED', false, `hibernate with the server's own cookie: ${describe(hibernated.answer)}`);
    return;
  }
  const vectors = ctx.facts.vectors;
  if (vectors) {
    const opened = openBlob(blob, vectors.byKid);
    const bid = typeof opened === 'string' ? undefined : opened.plaintext?.bid;
    ctx.check('COOKIE-BID', bid === bindingHash(value), typeof opened === 'string' ? opened : `bid ${String(bid)}; SHA-256 of the cookie: ${bindingHash(value)}`);
  } else {
    ctx.skip('COOKIE-BID', ctx.facts.vectorsProblem ?? 'needs --test-keys');
  }
  const other = await ctx.http.stasis('resume', { sid, blob }, { cookie: ctx.cookie() });
  ctx.check('COOKIE-BINDING-ENFORCED', outcomeOf(other) === 'wrong-binding', `resume with another browser's cookie: ${describe(other)}`);
  const none = await ctx.http.stasis('resume', { sid, blob });
  ctx.check('COOKIE-BINDING-ENFORCED', outcomeOf(none) === 'wrong-binding', `resume without a cookie: ${describe(none)}`);
  const own = await ctx.http.stasis('resume', { sid, blob }, { cookie: value });
  ctx.check('COOKIE-BINDING-ENFORCED', outcomeOf(own) === 'ok', `resume with the cookie it was sealed for: ${describe(own)}`);
  const stolen = await ctx.http.stasis('hibernate', { sid }, { cookie: ctx.cookie() });
  ctx.check('COOKIE-BINDING-ENFORCED', outcomeOf(stolen) === 'wrong-binding', `hibernate of the session with another browser's cookie: ${describe(stolen)}`);
  await hibernate(ctx, sid, value);
}

/** Values of the alphabet at both ends of the length range are taken as they are. */
async function validValues(ctx: Context): Promise<void> {
  for (const value of [ctx.cookie().slice(0, 22), `${ctx.cookie()}${ctx.cookie()}${ctx.cookie()}${ctx.cookie()}${ctx.cookie()}${ctx.cookie()}`.slice(0, 128)]) {
    const sid = ctx.sid();
    const conn = await ctx.facts.live!.connect(`sid=${sid}`, { cookie: value });
    const set = findCookie(conn.setCookies, ctx.options.cookieName);
    ctx.check('COOKIE-VALID-KEPT', conn.outcome === 'open' && (!set || set.value === value), `connect with a ${value.length}-character cookie: ${set ? set.line : 'no Set-Cookie'}`);
    const done = await hibernate(ctx, sid, value);
    ctx.check('COOKIE-VALID-KEPT', done.blob !== undefined, `hibernate with that cookie: ${describe(done.answer)}`);
    conn.close();
  }
}

/** Values outside the rule count as no cookie: a new one is set, and nothing is bound to them. */
async function invalidValues(ctx: Context): Promise<void> {
  const invalid = ['a'.repeat(21), 'b'.repeat(129), `${'c'.repeat(22)}.d`, `${'e'.repeat(22)}+/`, ''];
  for (const value of invalid) {
    const conn = await ctx.facts.live!.connect(`sid=${ctx.sid()}`, { cookie: value });
    const set = findCookie(conn.setCookies, ctx.options.cookieName);
    ctx.check(
      'COOKIE-INVALID-ABSENT',
      conn.outcome === 'open' && set !== undefined && set.value !== value && COOKIE_VALUE.test(set.value),
      `connect with cookie "${value.slice(0, 24)}${value.length > 24 ? '…' : ''}" (${value.length}): ${set ? `new cookie set (${set.value.length} characters)` : 'no Set-Cookie'}`,
    );
    conn.close();
  }
  const vectors = ctx.facts.vectors;
  if (!vectors) return;
  const now = await ctx.serverNow();
  for (const value of ['a'.repeat(21), 'b'.repeat(129)]) {
    const sid = ctx.sid();
    const blob = forge(vectors, { sid, cookie: value, now });
    const answer = await ctx.http.stasis('resume', { sid, blob }, { cookie: value });
    ctx.check('COOKIE-INVALID-ABSENT', outcomeOf(answer) === 'wrong-binding', `a blob bound to the ${value.length}-character cookie, with it: ${describe(answer)}`);
  }
}
