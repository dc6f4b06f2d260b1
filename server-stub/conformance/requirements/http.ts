/** The HTTP endpoints without any session: health, request validation, methods, paths, origins, size limits. */
import { PROTOCOL_VERSION } from '../../../src/protocol/index.js';
import { describe, field, outcomeOf, type Answer } from '../http.js';
import type { Context, Group } from '../types.js';

const FOREIGN_ORIGIN = 'http://conformance.invalid';

export const httpGroup: Group = {
  name: 'http',
  requirements: [
    {
      id: 'HTTP-HEALTH',
      level: 'MUST',
      title: 'GET {base}/health answers 200 `{ ok: true, version: 1, live, hibernated, uptimeSeconds, draining: false }`',
      section: 'GET /stasis/health',
    },
    {
      id: 'HTTP-HEALTH-UNKNOWN-SID',
      level: 'MUST',
      title: 'GET {base}/health?sid=<never used> reports `session: { sid, state: "unknown" }`',
      section: 'GET /stasis/health',
    },
    { id: 'HTTP-HIBERNATE-NO-SESSION', level: 'MUST', title: 'hibernate of a sid with nothing live answers `no-session`', section: 'POST /stasis/hibernate' },
    {
      id: 'HTTP-BAD-SID',
      level: 'MUST',
      title: 'hibernate and resume with a sid outside `[A-Za-z0-9_-]{22,64}` (or not a string) answer `malformed`',
      section: 'Identity',
    },
    { id: 'HTTP-BODY-NOT-JSON', level: 'MUST', title: 'a body that is not a JSON object answers `malformed`', section: 'Endpoints' },
    { id: 'HTTP-RESUME-BLOB-TYPE', level: 'MUST', title: 'resume without a string `blob` answers `malformed`', section: 'POST /stasis/resume' },
    { id: 'HTTP-RESUME-GARBAGE', level: 'MUST', title: 'resume of a blob that is not a JWE answers `malformed`', section: 'Resume checks, in order' },
    {
      id: 'HTTP-TOO-LARGE-BLOB',
      level: 'MUST',
      title: 'a blob of maxBlobBytes + 1 characters answers `too-large` before anything else',
      section: 'Resume checks, in order',
    },
    {
      id: 'HTTP-TOO-LARGE-BODY',
      level: 'MUST',
      title: 'a request body over maxBlobBytes + 1024 bytes answers `too-large` (413): by its Content-Length before reading it, else while reading',
      section: 'Endpoints',
    },
    {
      id: 'HTTP-WRONG-METHOD',
      level: 'MUST',
      title: 'the wrong method on a known route (hibernate, resume, health, metrics) answers 400 `malformed` with an `Allow` header (not 405)',
      section: 'rule 16',
    },
    {
      id: 'HTTP-UNKNOWN-PATH',
      level: 'MUST',
      title: 'an unknown path under the base path answers 404 with a JSON failure body `malformed`',
      section: 'rule 16',
    },
    {
      id: 'HTTP-FOREIGN-ORIGIN',
      level: 'MUST',
      title: 'a POST whose Origin names another host answers `forbidden-origin` (403)',
      section: 'Origins; rule 17',
    },
    { id: 'HTTP-SAME-ORIGIN', level: 'MUST', title: "a POST whose Origin is the server's own passes the origin check", section: 'Origins; rule 17'},
    {
      id: 'HTTP-ORIGIN-RULES',
      level: 'MUST',
      title: 'the origin check compares host:port case-insensitively, not the scheme; `Origin: null` is refused',
      section: 'rule 17',
    },
    {
      id: 'HTTP-PAGE-BUNDLES',
      level: 'SHOULD',
      title: 'GET {base}/stasis.js and {base}/stasis-sw.js serve JavaScript; the worker with `Service-Worker-Allowed: /`',
      section: 'Endpoints (Page bundles)',
    },
  ],
  async run(ctx) {
    await health(ctx);
    await requestValidation(ctx);
    await methodsAndPaths(ctx);
    await origins(ctx);
    await sizeLimits(ctx);
    await bundles(ctx);
  },
};

async function health(ctx: Context): Promise<void> {
  const answer = await ctx.http.request('/health');
  const j = answer.json as Record<string, unknown> | undefined;
  const ok =
    answer.status === 200 &&
    j?.ok === true &&
    j.version === PROTOCOL_VERSION &&
    typeof j.live === 'number' &&
    typeof j.hibernated === 'number' &&
    typeof j.uptimeSeconds === 'number' &&
    j.draining === false;
  ctx.check('HTTP-HEALTH', ok, describe(answer));
  const sid = ctx.sid();
  const unknown = await ctx.http.request(`/health?sid=${sid}`);
  const session = field(unknown, 'session') as Record<string, unknown> | undefined;
  ctx.check('HTTP-HEALTH-UNKNOWN-SID', unknown.status === 200 && session?.sid === sid && session.state === 'unknown', describe(unknown));
}

const isMalformed = (answer: Answer) => outcomeOf(answer) === 'malformed';

async function requestValidation(ctx: Context): Promise<void> {
  const none = await ctx.http.stasis('hibernate', { sid: ctx.sid() });
  ctx.check('HTTP-HIBERNATE-NO-SESSION', outcomeOf(none) === 'no-session', describe(none));

  const badSids: unknown[] = ['too-short', 'x'.repeat(65), `${'a'.repeat(21)}.`, 1234567890123456];
  for (const sid of badSids) {
    for (const route of ['hibernate', 'resume'] as const) {
      const answer = await ctx.http.stasis(route, route === 'resume' ? { sid, blob: 'x' } : { sid });
      ctx.check('HTTP-BAD-SID', isMalformed(answer), `${route} sid ${JSON.stringify(sid).slice(0, 30)}: ${describe(answer)}`);
    }
  }
  for (const body of ['not json', '[1,2]', '"text"']) {
    for (const route of ['hibernate', 'resume'] as const) {
      const answer = await ctx.http.stasis(route, undefined, { body });
      ctx.check('HTTP-BODY-NOT-JSON', isMalformed(answer), `${route} body ${body}: ${describe(answer)}`);
    }
  }
  for (const blob of [undefined, 42, null]) {
    const answer = await ctx.http.stasis('resume', { sid: ctx.sid(), ...(blob === undefined ? {} : { blob }) });
    ctx.check('HTTP-RESUME-BLOB-TYPE', isMalformed(answer), `blob ${String(blob)}: ${describe(answer)}`);
  }
  for (const blob of ['x', 'not.a.jwe', 'a.b.c.d.e', '']) {
    const answer = await ctx.http.stasis('resume', { sid: ctx.sid(), blob }, { cookie: ctx.cookie() });
    ctx.check('HTTP-RESUME-GARBAGE', isMalformed(answer), `blob "${blob}": ${describe(answer)}`);
  }
}

async function methodsAndPaths(ctx: Context): Promise<void> {
  const wrongMethod = (route: string, method: string, answer: Answer, allowed: string) => {
    const allow = String(answer.headers.allow ?? '');
    ctx.check(
      'HTTP-WRONG-METHOD',
      answer.status === 400 && isMalformed(answer) && new RegExp(`\\b${allowed}\\b`).test(allow),
      `${method} ${route}: ${describe(answer)} (Allow: ${allow || 'none'})`,
    );
  };
  for (const route of ['hibernate', 'resume'] as const) {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const answer = await ctx.http.stasis(route, undefined, { method, ...(method === 'PUT' ? { body: JSON.stringify({ sid: ctx.sid() }) } : {}) });
      wrongMethod(route, method, answer, 'POST');
    }
  }
  for (const method of ['POST', 'PUT', 'DELETE']) {
    wrongMethod('health', method, await ctx.http.request('/health', { method, ...(method === 'DELETE' ? {} : { body: {} }) }), 'GET');
  }
  // Metrics are optional for another server: checked only where GET {base}/metrics exists (open or behind a token).
  const metrics = await ctx.http.request('/metrics');
  if (metrics.status === 200 || metrics.status === 401) wrongMethod('metrics', 'POST', await ctx.http.request('/metrics', { method: 'POST', body: {} }), 'GET');
  for (const [method, path] of [
    ['GET', '/conformance-no-such-endpoint'],
    ['POST', '/conformance-no-such-endpoint'],
    ['GET', '/hibernate/extra'],
  ] as const) {
    const answer = await ctx.http.request(path, { method, ...(method === 'POST' ? { body: { sid: ctx.sid() } } : {}) });
    const shaped = isMalformed(answer) && typeof field(answer, 'message') === 'string';
    ctx.check('HTTP-UNKNOWN-PATH', answer.status === 404 && shaped, `${method} ${ctx.basePath}${path}: ${describe(answer)}`);
  }
}

async function origins(ctx: Context): Promise<void> {
  for (const route of ['hibernate', 'resume'] as const) {
    const answer = await ctx.http.stasis(route, { sid: ctx.sid(), ...(route === 'resume' ? { blob: 'x' } : {}) }, { origin: FOREIGN_ORIGIN });
    ctx.check('HTTP-FOREIGN-ORIGIN', outcomeOf(answer) === 'forbidden-origin', `${route} with Origin ${FOREIGN_ORIGIN}: ${describe(answer)}`);
  }
  const own = await ctx.http.stasis('hibernate', { sid: ctx.sid() }, { origin: ctx.origin });
  ctx.check('HTTP-SAME-ORIGIN', outcomeOf(own) === 'no-session', `hibernate with Origin ${ctx.origin}: ${describe(own)}`);
  const url = new URL(ctx.origin);
  const otherScheme = `${url.protocol === 'https:' ? 'http:' : 'https:'}//${url.host}`;
  const upper = `${url.protocol}//${url.host.toUpperCase()}`;
  for (const [origin, expected] of [
    [otherScheme, 'no-session'],
    [upper, 'no-session'],
    ['null', 'forbidden-origin'],
  ] as const) {
    const answer = await ctx.http.stasis('hibernate', { sid: ctx.sid() }, { origin });
    ctx.check('HTTP-ORIGIN-RULES', outcomeOf(answer) === expected, `Origin ${origin}: ${describe(answer)}`);
  }
}

async function sizeLimits(ctx: Context): Promise<void> {
  const max = ctx.options.maxBlobBytes;
  // A blob one character over the limit, in a body still under the body limit.
  const over = await ctx.http.stasis('resume', { sid: ctx.sid(), blob: 'x'.repeat(max + 1) }, { cookie: ctx.cookie() });
  ctx.check('HTTP-TOO-LARGE-BLOB', outcomeOf(over) === 'too-large', `blob of ${max + 1} characters: ${describe(over)}`);
  const bytes = max + 1024 + 4096;
  for (const declared of [true, false]) {
    const huge = await ctx.http.oversized('resume', bytes, { declared, cookie: ctx.cookie() });
    ctx.check(
      'HTTP-TOO-LARGE-BODY',
      huge.status === 413 && outcomeOf(huge) === 'too-large',
      `a body of ${bytes} bytes, ${declared ? 'announced by Content-Length (the body held back a second)' : 'chunked, stopped 2 KiB short of its end'}: ${describe(huge)}`,
    );
  }
}

async function bundles(ctx: Context): Promise<void> {
  const script = await ctx.http.request('/stasis.js');
  const worker = await ctx.http.request('/stasis-sw.js');
  const js = (a: Answer) => a.status === 200 && /javascript/i.test(String(a.headers['content-type'] ?? ''));
  ctx.check(
    'HTTP-PAGE-BUNDLES',
    js(script) && js(worker) && worker.headers['service-worker-allowed'] === '/',
    `stasis.js: ${script.status} ${String(script.headers['content-type'] ?? '')}; stasis-sw.js: ${worker.status} (Service-Worker-Allowed: ${String(worker.headers['service-worker-allowed'] ?? 'none')})`,
  );
}
