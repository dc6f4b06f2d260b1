import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { describe, it, expect, beforeAll, afterEach, afterAll, vi } from 'vitest';
import { http, HttpResponse, delay } from 'msw';
import { setupServer } from 'msw/node';
import { Custodian, type CustodianOptions } from '../../../src/custody/custodian.js';
import { Vault, type VaultRecord } from '../../../src/custody/vault.js';
import { HTTP_STATUS, OUTCOMES, isFinal, type FailureCode } from '../../../src/protocol/index.js';
import { encodeHeader, epochSeconds, makeBlob, makeSid, uniqueDbName } from './blob.js';

const ORIGIN = 'http://app.test';
const ENDPOINT = `${ORIGIN}/stasis`;
const HIBERNATE_URL = `${ENDPOINT}/hibernate`;
const RESUME_URL = `${ENDPOINT}/resume`;

/** Every request msw saw (handled or not), in arrival order. */
const seen: Array<{ method: string; url: string }> = [];
/** Bodies the handlers read, in arrival order; the key-binding proof apart (see binding-key.test.ts). */
const bodies: Array<{ url: string; body: unknown; proof: unknown; contentType: string | null }> = [];
const openedVaults: Vault[] = [];

const server = setupServer();

beforeAll(() => {
  server.listen({ onUnhandledRequest: 'error' });
  server.events.on('request:start', ({ request }) => {
    seen.push({ method: request.method, url: request.url });
  });
});

afterEach(() => {
  server.resetHandlers();
  seen.length = 0;
  bodies.length = 0;
  vi.restoreAllMocks();
  for (const vault of openedVaults.splice(0)) vault.close();
});

afterAll(() => server.close());

// ---- helpers ----

async function readBody(request: Request): Promise<unknown> {
  const body = (await request.json()) as Record<string, unknown>;
  const { proof, ...rest } = body;
  bodies.push({ url: request.url, body: rest, proof, contentType: request.headers.get('content-type') });
  return body;
}

/** A custodian over a fresh database, plus a second connection to the same database for inspection. */
async function setup(options: Partial<CustodianOptions> = {}) {
  const dbName = uniqueDbName('custodian');
  const openVault = vi.fn(async () => {
    const vault = await Vault.open(dbName);
    openedVaults.push(vault);
    return vault;
  });
  const custodian = new Custodian({ openVault, ...options });
  const inspect = await Vault.open(dbName);
  openedVaults.push(inspect);
  return { custodian, inspect, openVault, dbName };
}

/** Stores a blob for `sid` as a previous hibernate would have. */
async function seed(vault: Vault, sid: string, fields: { gen?: number; exp?: number } = {}): Promise<VaultRecord> {
  const gen = fields.gen ?? 7;
  const exp = fields.exp ?? epochSeconds(3600);
  const record: VaultRecord = { sid, gen, exp, blob: makeBlob({ sid, gen, exp }), storedAt: Date.now(), endpoint: ENDPOINT };
  await vault.put(record);
  return record;
}

/** Hibernate handler that seals the requested sid; `issued` collects the blobs it handed out. */
function hibernateOk(options: { gen?: number; exp?: number; delayMs?: number } = {}) {
  const issued: string[] = [];
  const handler = http.post(HIBERNATE_URL, async ({ request }) => {
    const { sid } = (await readBody(request)) as { sid: string };
    if (options.delayMs) await delay(options.delayMs);
    const gen = options.gen ?? 4;
    const exp = options.exp ?? epochSeconds(3600);
    const blob = makeBlob({ sid, gen, exp });
    issued.push(blob);
    return HttpResponse.json({ outcome: 'ok', sid, gen, exp, blob });
  });
  return { handler, issued };
}

/** Resume handler answering ok with gen + 1 (the gen is read from the test, not the blob). */
function resumeOk(gen = 8, delayMs = 0) {
  return http.post(RESUME_URL, async ({ request }) => {
    const { sid } = (await readBody(request)) as { sid: string };
    if (delayMs) await delay(delayMs);
    return HttpResponse.json({ outcome: 'ok', sid, gen });
  });
}

function failureJson(outcome: FailureCode, message = `server says ${outcome}`) {
  return HttpResponse.json({ outcome, message }, { status: HTTP_STATUS[outcome] });
}

/** Non-Stasis answers: a proxy's page, a misrouted 404, JSON that is not a Stasis message. */
const NON_STASIS_ANSWERS: Array<{ name: string; status: number; respond: () => Response }> = [
  {
    name: 'an HTML 404 page',
    status: 404,
    respond: () => HttpResponse.html('<!doctype html><title>Not Found</title><h1>404</h1>', { status: 404 }),
  },
  { name: 'a 502 with plain text', status: 502, respond: () => HttpResponse.text('Bad Gateway', { status: 502 }) },
  {
    name: 'JSON without an outcome',
    status: 500,
    respond: () => HttpResponse.json({ error: 'Internal Server Error' }, { status: 500 }),
  },
  {
    name: 'JSON with an unknown outcome string',
    status: 400,
    respond: () => HttpResponse.json({ outcome: 'deleted', message: 'please delete' }, { status: 400 }),
  },
  { name: 'JSON null', status: 200, respond: () => HttpResponse.json(null) },
  { name: 'a bare JSON string "ok"', status: 200, respond: () => HttpResponse.json('ok') },
  { name: 'an empty 200', status: 200, respond: () => new HttpResponse(null, { status: 200 }) },
];

const FINAL_FAILURES = OUTCOMES.filter((o): o is FailureCode => o !== 'ok' && isFinal(o));
const KEEPING_FAILURES = OUTCOMES.filter((o): o is FailureCode => !isFinal(o));

// ---- hibernate ----

describe('Custodian.hibernate', () => {
  it('an ok answer without a blob is malformed and stores nothing (never a thrown TypeError)', async () => {
    const { custodian, inspect } = await setup();
    const sid = makeSid();
    server.use(http.post(HIBERNATE_URL, () => HttpResponse.json({ outcome: 'ok', sid, gen: 1, exp: epochSeconds(60) })));
    expect((await custodian.hibernate({ endpoint: ENDPOINT, sid })).outcome).toBe('malformed');
    expect(await inspect.get(sid)).toBeUndefined();
  });

  it('stores the blob the server answers with and reports gen, exp and size', async () => {
    const now = 1_750_000_000_000;
    const { custodian, inspect } = await setup({ now: () => now });
    const exp = epochSeconds(1800);
    const { handler, issued } = hibernateOk({ gen: 12, exp });
    server.use(handler);
    const sid = makeSid();

    const result = await custodian.hibernate({ endpoint: ENDPOINT, sid });

    const blob = issued[0]!;
    expect(issued).toHaveLength(1);
    expect(result).toEqual({ outcome: 'ok', gen: 12, exp, bytes: blob.length, storage: 'disk' });
    expect(await custodian.peek(sid)).toEqual({ sid, gen: 12, exp, storedAt: now, bytes: blob.length });
    expect(await inspect.get(sid)).toEqual({ sid, blob, gen: 12, exp, storedAt: now, endpoint: ENDPOINT });
  });

  it('POSTs JSON {sid} to <endpoint>/hibernate', async () => {
    const { custodian } = await setup();
    server.use(hibernateOk().handler);
    const sid = makeSid();
    await custodian.hibernate({ endpoint: ENDPOINT, sid });
    expect(seen).toEqual([{ method: 'POST', url: HIBERNATE_URL }]);
    expect(bodies).toEqual([{ url: HIBERNATE_URL, body: { sid }, proof: expect.any(String), contentType: 'application/json' }]);
  });

  it('ignores trailing slashes on the endpoint', async () => {
    const { custodian } = await setup();
    server.use(hibernateOk().handler);
    const result = await custodian.hibernate({ endpoint: `${ENDPOINT}//`, sid: makeSid() });
    expect(result.outcome).toBe('ok');
    expect(seen.map((r) => r.url)).toEqual([HIBERNATE_URL]);
  });

  it('takes gen and exp from the blob header, not from the JSON envelope', async () => {
    const { custodian } = await setup();
    const sid = makeSid();
    const exp = epochSeconds(600);
    const blob = makeBlob({ sid, gen: 3, exp });
    server.use(http.post(HIBERNATE_URL, () => HttpResponse.json({ outcome: 'ok', sid, gen: 99, exp: 1, blob })));
    expect(await custodian.hibernate({ endpoint: ENDPOINT, sid })).toEqual({ outcome: 'ok', gen: 3, exp, bytes: blob.length, storage: 'disk' });
    expect(await custodian.peek(sid)).toMatchObject({ gen: 3, exp });
  });

  it.each(['no-session', 'unserializable', 'too-large', 'unavailable'] as const)(
    'a %s failure is returned with its message and nothing is stored',
    async (outcome) => {
      const { custodian, inspect } = await setup();
      server.use(http.post(HIBERNATE_URL, () => failureJson(outcome, `because ${outcome}`)));
      const sid = makeSid();
      const pending = outcome === 'unavailable' ? { pending: true } : {};
      expect(await custodian.hibernate({ endpoint: ENDPOINT, sid })).toEqual({ outcome, message: `because ${outcome}`, ...pending });
      expect(await inspect.get(sid)).toBeUndefined();
      expect(await custodian.peek(sid)).toBeUndefined();
      expect((await inspect.listPending()).map((p) => p.sid)).toEqual(outcome === 'unavailable' ? [sid] : []);
    },
  );

  it('a pending hibernate is handed over by flushPending once the server answers, and cancelled by a resume', async () => {
    const onPending = vi.fn();
    const { custodian, inspect } = await setup({ onPending });
    const [away, back] = [makeSid(), makeSid()];
    server.use(http.post(HIBERNATE_URL, () => HttpResponse.error()));
    expect(await custodian.hibernate({ endpoint: ENDPOINT, sid: away })).toMatchObject({ outcome: 'unavailable', pending: true });
    expect(await custodian.hibernate({ endpoint: ENDPOINT, sid: back })).toMatchObject({ outcome: 'unavailable', pending: true });
    expect(onPending).toHaveBeenCalledTimes(2);

    // `back` returns to the page before the network does: nothing to resume, and nothing to hand over later.
    expect(await custodian.resume({ endpoint: ENDPOINT, sid: back })).toEqual({ outcome: 'none' });
    const hibernate = hibernateOk({ gen: 3 });
    server.use(hibernate.handler);
    expect(await custodian.flushPending()).toBe(1);
    expect(hibernate.issued).toHaveLength(1);
    expect(await custodian.peek(away)).toMatchObject({ gen: 3 });
    expect(await custodian.peek(back)).toBeUndefined();
    expect(await inspect.listPending()).toEqual([]);
  });

  it('orphans lists the blobs of one endpoint, newest first, without expired ones', async () => {
    const now = 1_800_000_000_000;
    const { custodian, inspect } = await setup({ now: () => now });
    const [older, newer, expired, elsewhere] = [makeSid(), makeSid(), makeSid(), makeSid()];
    const put = (sid: string, storedAt: number, exp: number, endpoint = ENDPOINT) =>
      inspect.put({ sid, blob: makeBlob({ sid, gen: 1, exp }), gen: 1, exp, storedAt, endpoint });
    await put(older, now - 5000, now / 1000 + 60);
    await put(newer, now - 1000, now / 1000 + 60);
    await put(expired, now, now / 1000 - 1);
    await put(elsewhere, now, now / 1000 + 60, 'http://other.example/stasis');
    expect((await custodian.orphans(ENDPOINT)).map((o) => o.sid)).toEqual([newer, older]);
  });

  const badBlobs: Array<{ name: string; blob: (sid: string) => string }> = [
    { name: 'a blob sealed for another sid', blob: () => makeBlob({ sid: makeSid(), gen: 1, exp: epochSeconds(60) }) },
    { name: 'a string with no dot', blob: () => 'not-a-jwe' },
    { name: 'a string starting with a dot', blob: () => '.a.b.c.d' },
    { name: 'a header that is not base64url JSON', blob: () => '%%%%.a.b.c.d' },
    { name: 'a header that is JSON null', blob: () => `${encodeHeader(null)}.a.b.c.d` },
    {
      name: 'a header whose gen is not a number',
      blob: (sid) => `${encodeHeader({ alg: 'dir', enc: 'A256GCM', kid: 'k1', typ: 'stasis+jwe', sid, gen: '1', exp: epochSeconds(60) })}.a.b.c.d`,
    },
    {
      name: 'a header without kid',
      blob: (sid) => `${encodeHeader({ alg: 'dir', enc: 'A256GCM', typ: 'stasis+jwe', sid, gen: 1, exp: epochSeconds(60) })}.a.b.c.d`,
    },
  ];

  it.each(badBlobs)('an ok answer carrying $name is malformed and nothing is stored', async ({ blob }) => {
    const { custodian, inspect } = await setup();
    const sid = makeSid();
    server.use(
      http.post(HIBERNATE_URL, () => HttpResponse.json({ outcome: 'ok', sid, gen: 1, exp: epochSeconds(60), blob: blob(sid) })),
    );
    const result = await custodian.hibernate({ endpoint: ENDPOINT, sid });
    expect(result.outcome).toBe('malformed');
    expect(result).not.toHaveProperty('gen');
    expect(await inspect.get(sid)).toBeUndefined();
  });

  it('a network error is unavailable and nothing is stored', async () => {
    const { custodian, inspect } = await setup();
    server.use(http.post(HIBERNATE_URL, () => HttpResponse.error()));
    const sid = makeSid();
    const result = await custodian.hibernate({ endpoint: ENDPOINT, sid });
    expect(result).toMatchObject({ outcome: 'unavailable', message: expect.stringMatching(/could not be reached/) });
    expect(seen).toHaveLength(1);
    expect(await inspect.get(sid)).toBeUndefined();
  });

  it.each(NON_STASIS_ANSWERS)('$name is unavailable and nothing is stored', async ({ respond, status }) => {
    const { custodian, inspect } = await setup();
    server.use(http.post(HIBERNATE_URL, respond));
    const sid = makeSid();
    const result = await custodian.hibernate({ endpoint: ENDPOINT, sid });
    expect(result).toMatchObject({ outcome: 'unavailable', message: expect.stringContaining(`HTTP ${status}`) });
    expect(await inspect.get(sid)).toBeUndefined();
  });

  it('a second hibernate of the same sid replaces the stored blob', async () => {
    const { custodian, inspect } = await setup();
    const sid = makeSid();
    const first = hibernateOk({ gen: 1 });
    server.use(first.handler);
    await custodian.hibernate({ endpoint: ENDPOINT, sid });
    const second = hibernateOk({ gen: 2 });
    server.use(second.handler);
    await custodian.hibernate({ endpoint: ENDPOINT, sid });
    const stored = await inspect.get(sid);
    expect(stored?.gen).toBe(2);
    expect(stored?.blob).toBe(second.issued[0]);
  });
});

describe('Custodian fetch options', () => {
  function recordingFetch() {
    const inits: RequestInit[] = [];
    const fetchSpy: typeof fetch = (input, init) => {
      inits.push(init ?? {});
      return fetch(input, init);
    };
    return { fetchSpy, inits };
  }

  it('uses the injected fetch, with same-origin credentials and no-store', async () => {
    const { fetchSpy, inits } = recordingFetch();
    const { custodian } = await setup({ fetch: fetchSpy });
    server.use(hibernateOk().handler);
    await custodian.hibernate({ endpoint: ENDPOINT, sid: makeSid() });
    expect(inits).toHaveLength(1);
    expect(inits[0]).toMatchObject({ method: 'POST', credentials: 'same-origin', cache: 'no-store' });
  });

  it('sends keepalive on hibernate only when the keepalive option is set, never on resume', async () => {
    const withKeepalive = recordingFetch();
    const a = await setup({ fetch: withKeepalive.fetchSpy, keepalive: true });
    const without = recordingFetch();
    const b = await setup({ fetch: without.fetchSpy });
    server.use(hibernateOk().handler, resumeOk());

    const sidA = makeSid();
    await a.custodian.hibernate({ endpoint: ENDPOINT, sid: sidA });
    await a.custodian.resume({ endpoint: ENDPOINT, sid: sidA });
    const sidB = makeSid();
    await b.custodian.hibernate({ endpoint: ENDPOINT, sid: sidB });

    expect(withKeepalive.inits.map((i) => i.keepalive)).toEqual([true, false]);
    expect(without.inits.map((i) => i.keepalive)).toEqual([false]);
  });
});

// ---- resume ----

describe('Custodian.resume', () => {
  it("passes the server's Retry-After on `rate-limited` through to the page, and keeps the blob", async () => {
    const { custodian, inspect } = await setup();
    const sid = makeSid();
    await seed(inspect, sid);
    server.use(
      http.post(RESUME_URL, () =>
        HttpResponse.json({ outcome: 'rate-limited', message: 'slow down', retryAfterSeconds: 30 }, { status: 429, headers: { 'Retry-After': '30' } }),
      ),
    );
    expect(await custodian.resume({ endpoint: ENDPOINT, sid })).toEqual({ outcome: 'rate-limited', message: 'slow down', retryAfterSeconds: 30 });
    expect(await inspect.get(sid)).toBeDefined();
  });

  it('an ok answer without the resumed session (no gen, other sid) is not final: the blob is kept', async () => {
    for (const answer of [{ outcome: 'ok' }, { outcome: 'ok', sid: 'someone-else-entirely-xx', gen: 3 }]) {
      const { custodian, inspect } = await setup();
      const sid = makeSid();
      await seed(inspect, sid);
      server.use(http.post(RESUME_URL, () => HttpResponse.json(answer)));
      expect((await custodian.resume({ endpoint: ENDPOINT, sid })).outcome).toBe('unavailable');
      expect(await inspect.get(sid)).toBeDefined();
    }
  });

  it("answers 'none' without any request when nothing is stored", async () => {
    const { custodian } = await setup();
    server.use(resumeOk());
    expect(await custodian.resume({ endpoint: ENDPOINT, sid: makeSid() })).toEqual({ outcome: 'none' });
    expect(seen).toEqual([]);
  });

  it('ok: sends {sid, blob}, deletes the blob and returns the new gen', async () => {
    const { custodian, inspect } = await setup();
    const sid = makeSid();
    const record = await seed(inspect, sid, { gen: 7 });
    server.use(resumeOk(8));

    expect(await custodian.resume({ endpoint: ENDPOINT, sid })).toEqual({ outcome: 'ok', gen: 8 });
    expect(seen).toEqual([{ method: 'POST', url: RESUME_URL }]);
    expect(bodies).toEqual([{ url: RESUME_URL, body: { sid, blob: record.blob }, proof: expect.any(String), contentType: 'application/json' }]);
    expect(await inspect.get(sid)).toBeUndefined();
    expect(await custodian.peek(sid)).toBeUndefined();
  });

  it('ok with a checkpoint: the checkpoint takes the used-up blob\'s place (gen and exp from its header)', async () => {
    const { custodian, inspect } = await setup();
    const sid = makeSid();
    await seed(inspect, sid, { gen: 7 });
    const exp = epochSeconds(7200);
    const checkpoint = makeBlob({ sid, gen: 8, exp });
    server.use(http.post(RESUME_URL, () => HttpResponse.json({ outcome: 'ok', sid, gen: 8, checkpoint })));

    expect(await custodian.resume({ endpoint: ENDPOINT, sid })).toEqual({ outcome: 'ok', gen: 8 });
    expect(await inspect.get(sid)).toMatchObject({ sid, gen: 8, exp, blob: checkpoint, endpoint: ENDPOINT });
    expect(await custodian.peek(sid)).toMatchObject({ sid, gen: 8, exp });
  });

  it('ok with a checkpoint of another sid (or not a blob): the used-up blob is deleted and nothing is kept', async () => {
    const { custodian, inspect } = await setup();
    const sid = makeSid();
    await seed(inspect, sid, { gen: 7 });
    const foreign = makeBlob({ sid: makeSid(), gen: 8, exp: epochSeconds(3600) });
    server.use(http.post(RESUME_URL, () => HttpResponse.json({ outcome: 'ok', sid, gen: 8, checkpoint: foreign })));
    expect(await custodian.resume({ endpoint: ENDPOINT, sid })).toEqual({ outcome: 'ok', gen: 8 });
    expect(await inspect.get(sid)).toBeUndefined();
  });

  it("a second resume after ok finds nothing and sends nothing", async () => {
    const { custodian, inspect } = await setup();
    const sid = makeSid();
    await seed(inspect, sid);
    server.use(resumeOk());
    await custodian.resume({ endpoint: ENDPOINT, sid });
    expect(await custodian.resume({ endpoint: ENDPOINT, sid })).toEqual({ outcome: 'none' });
    expect(seen).toHaveLength(1);
  });

  it('the listed final codes are all among the final outcomes under test', () => {
    expect(FINAL_FAILURES).toEqual(
      expect.arrayContaining(['tampered', 'replayed', 'expired', 'wrong-binding', 'schema-reset', 'malformed', 'unknown-key']),
    );
    expect(FINAL_FAILURES).not.toContain('unavailable');
  });

  it.each(FINAL_FAILURES)('final failure %s deletes the blob and is returned with its message', async (outcome) => {
    const { custodian, inspect } = await setup();
    const sid = makeSid();
    const other = await seed(inspect, makeSid());
    await seed(inspect, sid);
    server.use(http.post(RESUME_URL, () => failureJson(outcome, `no: ${outcome}`)));

    expect(await custodian.resume({ endpoint: ENDPOINT, sid })).toEqual({ outcome, message: `no: ${outcome}` });
    expect(seen).toHaveLength(1);
    expect(await inspect.get(sid)).toBeUndefined();
    expect(await inspect.get(other.sid)).toEqual(other); // only that sid
  });

  it.each(KEEPING_FAILURES)("a '%s' answer keeps the blob", async (code) => {
    const { custodian, inspect } = await setup();
    const sid = makeSid();
    const record = await seed(inspect, sid);
    server.use(http.post(RESUME_URL, () => failureJson(code, 'try later')));
    expect(await custodian.resume({ endpoint: ENDPOINT, sid })).toEqual({ outcome: code, message: 'try later' });
    expect(await inspect.get(sid)).toEqual(record);
  });

  it("a network error keeps the blob and is 'unavailable'", async () => {
    const { custodian, inspect } = await setup();
    const sid = makeSid();
    const record = await seed(inspect, sid);
    server.use(http.post(RESUME_URL, () => HttpResponse.error()));
    const result = await custodian.resume({ endpoint: ENDPOINT, sid });
    expect(result.outcome).toBe('unavailable');
    expect(seen).toHaveLength(1);
    expect(await inspect.get(sid)).toEqual(record);
  });

  it.each(NON_STASIS_ANSWERS)("$name is 'unavailable' and the blob is KEPT", async ({ respond, status }) => {
    const { custodian, inspect } = await setup();
    const sid = makeSid();
    const record = await seed(inspect, sid);
    server.use(http.post(RESUME_URL, respond));
    const result = await custodian.resume({ endpoint: ENDPOINT, sid });
    expect(result).toMatchObject({ outcome: 'unavailable', message: expect.stringContaining(`HTTP ${status}`) });
    expect(seen).toHaveLength(1);
    expect(await inspect.get(sid)).toEqual(record);
  });

  it('a kept blob is sent again on the next resume and deleted once that succeeds', async () => {
    const { custodian, inspect } = await setup();
    const sid = makeSid();
    const record = await seed(inspect, sid);
    server.use(http.post(RESUME_URL, async ({ request }) => (await readBody(request), failureJson('unavailable'))));
    expect((await custodian.resume({ endpoint: ENDPOINT, sid })).outcome).toBe('unavailable');
    server.use(resumeOk(9));
    expect(await custodian.resume({ endpoint: ENDPOINT, sid })).toEqual({ outcome: 'ok', gen: 9 });
    expect(bodies.map((b) => b.body)).toEqual([
      { sid, blob: record.blob },
      { sid, blob: record.blob },
    ]);
    expect(await inspect.get(sid)).toBeUndefined();
  });

  it("an expired stored record is 'expired', deleted, and never sent", async () => {
    const exp = 1_800_000_000;
    const { custodian, inspect } = await setup({ now: () => exp * 1000 + 1 });
    const sid = makeSid();
    await seed(inspect, sid, { exp });
    server.use(resumeOk());
    const result = await custodian.resume({ endpoint: ENDPOINT, sid });
    expect(result.outcome).toBe('expired');
    expect(seen).toEqual([]);
    expect(await inspect.get(sid)).toBeUndefined();
  });

  it('a record expiring exactly now counts as expired', async () => {
    const exp = 1_800_000_000;
    const { custodian, inspect } = await setup({ now: () => exp * 1000 });
    const sid = makeSid();
    await seed(inspect, sid, { exp });
    server.use(resumeOk());
    expect((await custodian.resume({ endpoint: ENDPOINT, sid })).outcome).toBe('expired');
    expect(seen).toEqual([]);
  });

  it('a record one millisecond before its expiry is still sent', async () => {
    const exp = 1_800_000_000;
    const { custodian, inspect } = await setup({ now: () => exp * 1000 - 1 });
    const sid = makeSid();
    await seed(inspect, sid, { exp });
    server.use(resumeOk(8));
    expect(await custodian.resume({ endpoint: ENDPOINT, sid })).toEqual({ outcome: 'ok', gen: 8 });
    expect(seen).toHaveLength(1);
  });
});

// ---- peek and purge ----

describe('Custodian.peek and purgeExpired', () => {
  it('peek of an unknown sid is undefined and never exposes the blob', async () => {
    const { custodian, inspect } = await setup();
    const sid = makeSid();
    expect(await custodian.peek(sid)).toBeUndefined();
    const record = await seed(inspect, sid);
    const info = await custodian.peek(sid);
    expect(info).toEqual({ sid, gen: record.gen, exp: record.exp, storedAt: record.storedAt, bytes: record.blob.length });
    expect(info).not.toHaveProperty('blob');
  });

  it('purgeExpired uses the injected clock in seconds', async () => {
    const now = 1_800_000_000;
    const { custodian, inspect } = await setup({ now: () => now * 1000 });
    const old = await seed(inspect, makeSid(), { exp: now - 1 });
    const fresh = await seed(inspect, makeSid(), { exp: now + 1 });
    expect(await custodian.purgeExpired()).toBe(1);
    expect(await inspect.get(old.sid)).toBeUndefined();
    expect(await inspect.get(fresh.sid)).toEqual(fresh);
  });
});

// ---- serialization ----

describe('Custodian per-sid serialization', () => {
  it('a resume issued during a slow hibernate of the same sid waits for it and resumes its blob', async () => {
    const { custodian, inspect } = await setup();
    const sid = makeSid();
    const slow = hibernateOk({ gen: 5, delayMs: 100 });
    server.use(slow.handler, resumeOk(6));
    const completed: string[] = [];

    const hibernating = custodian.hibernate({ endpoint: ENDPOINT, sid }).then((r) => (completed.push('hibernate'), r));
    const resuming = custodian.resume({ endpoint: ENDPOINT, sid }).then((r) => (completed.push('resume'), r));
    const [hibernated, resumed] = await Promise.all([hibernating, resuming]);

    expect(hibernated.outcome).toBe('ok');
    expect(resumed).toEqual({ outcome: 'ok', gen: 6 });
    expect(completed).toEqual(['hibernate', 'resume']);
    expect(seen.map((r) => r.url)).toEqual([HIBERNATE_URL, RESUME_URL]);
    expect(bodies[1]?.body).toEqual({ sid, blob: slow.issued[0] });
    expect(await inspect.get(sid)).toBeUndefined();
  });

  it('two resumes of the same sid send the blob once: the second sees it deleted', async () => {
    const { custodian, inspect } = await setup();
    const sid = makeSid();
    await seed(inspect, sid);
    server.use(resumeOk(8, 50));
    const [first, second] = await Promise.all([
      custodian.resume({ endpoint: ENDPOINT, sid }),
      custodian.resume({ endpoint: ENDPOINT, sid }),
    ]);
    expect(first).toEqual({ outcome: 'ok', gen: 8 });
    expect(second).toEqual({ outcome: 'none' });
    expect(seen).toHaveLength(1);
  });

  it('a slow hibernate of one sid does not hold up a resume of another sid', async () => {
    const { custodian, inspect } = await setup();
    const sidA = makeSid();
    const sidB = makeSid();
    await seed(inspect, sidB);
    server.use(hibernateOk({ delayMs: 100 }).handler, resumeOk(8));
    const completed: string[] = [];

    const a = custodian.hibernate({ endpoint: ENDPOINT, sid: sidA }).then((r) => (completed.push('hibernate A'), r));
    const b = custodian.resume({ endpoint: ENDPOINT, sid: sidB }).then((r) => (completed.push('resume B'), r));
    const [hibernatedA, resumedB] = await Promise.all([a, b]);

    expect(hibernatedA.outcome).toBe('ok');
    expect(resumedB).toEqual({ outcome: 'ok', gen: 8 });
    expect(completed).toEqual(['resume B', 'hibernate A']);
  });

  it('an operation that rejects does not block the next one on the same sid', async () => {
    const { custodian, inspect, openVault } = await setup();
    openVault.mockRejectedValueOnce(new Error('vault broken'));
    const sid = makeSid();
    server.use(hibernateOk({ gen: 2 }).handler);

    const first = custodian.resume({ endpoint: ENDPOINT, sid });
    const second = custodian.hibernate({ endpoint: ENDPOINT, sid });
    await expect(first).rejects.toThrow('vault broken');
    await expect(second).resolves.toMatchObject({ outcome: 'ok', gen: 2 });
    expect((await inspect.get(sid))?.gen).toBe(2);
    expect(openVault).toHaveBeenCalledTimes(2);
  });
});

// ---- vault opening ----

describe('Custodian vault opening', () => {
  it('opens the vault lazily, once, and reuses it', async () => {
    const { custodian, openVault } = await setup();
    expect(openVault).not.toHaveBeenCalled();
    const sid = makeSid();
    await custodian.peek(sid);
    await custodian.resume({ endpoint: ENDPOINT, sid });
    await custodian.peek(makeSid());
    expect(openVault).toHaveBeenCalledTimes(1);
  });

  it('a failing open rejects the call, and a later call opens again', async () => {
    const { custodian, inspect, openVault } = await setup();
    openVault.mockRejectedValueOnce(new Error('QuotaExceededError'));
    const sid = makeSid();
    const record = await seed(inspect, sid);
    server.use(resumeOk(8));

    await expect(custodian.resume({ endpoint: ENDPOINT, sid })).rejects.toThrow('QuotaExceededError');
    expect(seen).toEqual([]); // no blob could be read, so nothing was sent
    expect(await inspect.get(sid)).toEqual(record);

    expect(await custodian.resume({ endpoint: ENDPOINT, sid })).toEqual({ outcome: 'ok', gen: 8 });
    expect(openVault).toHaveBeenCalledTimes(2);
    await custodian.peek(sid);
    expect(openVault).toHaveBeenCalledTimes(2); // the successful open is kept
  });

  it('peek rejects when the vault cannot be opened, then recovers', async () => {
    const { custodian, inspect, openVault } = await setup();
    openVault.mockRejectedValueOnce(new Error('blocked'));
    const sid = makeSid();
    const record = await seed(inspect, sid);
    await expect(custodian.peek(sid)).rejects.toThrow('blocked');
    expect(await custodian.peek(sid)).toMatchObject({ sid, gen: record.gen });
  });

  it('calls made while an open is in flight share that one attempt, and its failure', async () => {
    const { custodian, openVault } = await setup();
    openVault.mockRejectedValueOnce(new Error('denied'));
    const results = await Promise.allSettled([custodian.peek(makeSid()), custodian.peek(makeSid())]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(openVault).toHaveBeenCalledTimes(1);
    await expect(custodian.peek(makeSid())).resolves.toBeUndefined();
    expect(openVault).toHaveBeenCalledTimes(2);
  });

  it('a failing open during hibernate answers unavailable without asking the server to let the session go', async () => {
    const { custodian, inspect, openVault } = await setup();
    openVault.mockRejectedValueOnce(new Error('vault down'));
    const hibernate = hibernateOk();
    server.use(hibernate.handler);
    const sid = makeSid();
    const result = await custodian.hibernate({ endpoint: ENDPOINT, sid });
    expect(result).toMatchObject({ outcome: 'unavailable', message: expect.stringContaining('vault down') });
    expect(hibernate.issued).toHaveLength(0); // the server was never asked
    expect(await inspect.get(sid)).toBeUndefined();
  });

  it('a blob the vault refuses to store is kept in memory and still resumes', async () => {
    const { custodian, openVault } = await setup();
    const realOpen = openVault.getMockImplementation()!;
    openVault.mockImplementationOnce(async () => {
      const vault = await realOpen();
      vault.put = async () => {
        throw new DOMException('quota', 'QuotaExceededError');
      };
      return vault;
    });
    server.use(hibernateOk({ gen: 4 }).handler, resumeOk(5));
    const sid = makeSid();
    const stored = await custodian.hibernate({ endpoint: ENDPOINT, sid });
    expect(stored).toMatchObject({ outcome: 'ok', gen: 4, message: expect.stringContaining('memory') });
    expect(await custodian.peek(sid)).toMatchObject({ gen: 4 });
    expect(await custodian.resume({ endpoint: ENDPOINT, sid })).toEqual({ outcome: 'ok', gen: 5 });
    expect(await custodian.peek(sid)).toBeUndefined();
  });
});

// ---- lend and settle: a resume the page sends on its live channel ----

/** The payload of a key-binding proof (compact JWS). */
function proofClaims(proof: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(proof.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('Custodian.lend and settle (resume on the live channel)', () => {
  it('lend hands out the kept blob with a proof made for GET <endpoint>/live over that blob, deletes nothing and sends nothing', async () => {
    const { custodian, inspect } = await setup();
    const sid = makeSid();
    const record = await seed(inspect, sid, { gen: 7 });
    const lent = await custodian.lend({ endpoint: ENDPOINT, sid });
    expect(lent).toMatchObject({ outcome: 'ok', blob: record.blob, gen: 7, exp: record.exp, proof: expect.any(String) });
    const claims = proofClaims((lent as { proof: string }).proof);
    expect(claims).toMatchObject({ htm: 'GET', htu: '/stasis/live', bh: createHash('sha256').update(record.blob).digest('base64url') });
    expect(seen).toEqual([]);
    expect(await inspect.get(sid)).toMatchObject({ blob: record.blob });
  });

  it("lend: 'none' when nothing is kept; an expired blob is 'expired' and deleted", async () => {
    const { custodian, inspect } = await setup();
    expect(await custodian.lend({ endpoint: ENDPOINT, sid: makeSid() })).toEqual({ outcome: 'none' });
    const sid = makeSid();
    await seed(inspect, sid, { exp: epochSeconds(-1) });
    expect((await custodian.lend({ endpoint: ENDPOINT, sid })).outcome).toBe('expired');
    expect(await inspect.get(sid)).toBeUndefined();
  });

  it('settle ok deletes the lent blob; with a checkpoint the checkpoint takes its place', async () => {
    const { custodian, inspect } = await setup();
    const sid = makeSid();
    const record = await seed(inspect, sid, { gen: 7 });
    const answer = { outcome: 'ok' as const, sid, gen: 8 };
    expect(await custodian.settle({ endpoint: ENDPOINT, sid, gen: 7, exp: record.exp, answer })).toEqual({ outcome: 'ok', gen: 8 });
    expect(await inspect.get(sid)).toBeUndefined();

    const other = makeSid();
    const kept = await seed(inspect, other, { gen: 3 });
    const checkpoint = makeBlob({ sid: other, gen: 4, exp: epochSeconds(7200) });
    const settled = await custodian.settle({ endpoint: ENDPOINT, sid: other, gen: 3, exp: kept.exp, answer: { outcome: 'ok', sid: other, gen: 4, checkpoint } });
    expect(settled).toEqual({ outcome: 'ok', gen: 4 });
    expect(await inspect.get(other)).toMatchObject({ gen: 4, blob: checkpoint });
    expect(seen).toEqual([]);
  });

  it('settle keeps the blob for a non-final answer (Retry-After passed on) and deletes it for a final one', async () => {
    const { custodian, inspect } = await setup();
    const sid = makeSid();
    const record = await seed(inspect, sid, { gen: 7 });
    const lent = { endpoint: ENDPOINT, sid, gen: 7, exp: record.exp };
    expect(await custodian.settle({ ...lent, answer: { outcome: 'rate-limited', message: 'slow down', retryAfterSeconds: 5 } })).toEqual({
      outcome: 'rate-limited',
      message: 'slow down',
      retryAfterSeconds: 5,
    });
    expect(await custodian.settle({ ...lent, answer: { outcome: 'unavailable', message: 'down' } })).toMatchObject({ outcome: 'unavailable' });
    expect(await inspect.get(sid)).toBeDefined();
    expect(await custodian.settle({ ...lent, answer: { outcome: 'replayed', message: 'used' } })).toMatchObject({ outcome: 'replayed' });
    expect(await inspect.get(sid)).toBeUndefined();
  });

  it('settle never deletes on an answer that is not a Stasis outcome, nor on an ok for another session', async () => {
    const { custodian, inspect } = await setup();
    const sid = makeSid();
    const record = await seed(inspect, sid, { gen: 7 });
    const lent = { endpoint: ENDPOINT, sid, gen: 7, exp: record.exp };
    const bogus = [{ outcome: 'deleted', message: 'please delete' }, null, { outcome: 'ok', sid: makeSid(), gen: 8 }, { outcome: 'ok', sid }];
    for (const answer of bogus) {
      expect((await custodian.settle({ ...lent, answer: answer as never })).outcome).toBe('unavailable');
    }
    expect(await inspect.get(sid)).toMatchObject({ blob: record.blob });
  });

  it('settle leaves a newer blob kept meanwhile alone (a hibernate or push that overtook it): not deleted, not overwritten by the checkpoint', async () => {
    const { custodian, inspect } = await setup();
    const sid = makeSid();
    const lent = await seed(inspect, sid, { gen: 7 });
    const newer = makeBlob({ sid, gen: 8, exp: epochSeconds(7200) });
    expect((await custodian.store({ endpoint: ENDPOINT, sid, blob: newer })).outcome).toBe('ok');
    const checkpoint = makeBlob({ sid, gen: 8, exp: epochSeconds(3600) });
    await custodian.settle({ endpoint: ENDPOINT, sid, gen: 7, exp: lent.exp, answer: { outcome: 'ok', sid, gen: 8, checkpoint } });
    expect(await inspect.get(sid)).toMatchObject({ blob: newer });
    await custodian.settle({ endpoint: ENDPOINT, sid, gen: 7, exp: lent.exp, answer: { outcome: 'replayed', message: 'used' } });
    expect(await inspect.get(sid)).toMatchObject({ blob: newer });
  });
});
