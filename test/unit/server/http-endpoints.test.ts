import { request, type Server } from 'node:http';
import { WebSocket } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import app from '../../../demo/app.js';
import type { View } from '../../../demo/shared/messages.js';
import { generateKeySpec } from '../../../server-stub/envelope/key-ring.js';
import { createStasisServer, type StasisServer, type StasisServerOptions } from '../../../server-stub/index.js';
import { silentLogger } from '../../../server-stub/logger.js';
import { CLOSE_CODES, HTTP_STATUS, PROTOCOL_VERSION, type HealthResponse } from '../../../src/protocol/index.js';
import { newSid, listenOnLoopback } from './helpers.js';

// ---- a real node:http server with the demo app ----

interface Running {
  stasis: StasisServer;
  server: Server;
  base: string;
  host: string;
}

async function start(options: Partial<StasisServerOptions> = {}): Promise<Running> {
  const stasis = await createStasisServer({ app, keys: generateKeySpec('http-1'), logger: silentLogger, ...options });
  const { server, port } = await listenOnLoopback(stasis);
  return { stasis, server, base: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}` };
}

async function stop(r: Running | undefined): Promise<void> {
  if (!r) return;
  await r.stasis.close();
  r.server.closeAllConnections();
  await new Promise<void>((resolve) => r.server.close(() => resolve()));
}

/** Every response body seen, to check none carries a stack trace. */
const bodies: string[] = [];

interface Answer {
  status: number;
  json: Record<string, unknown>;
  headers: Headers;
}

async function post(r: Running, path: string, body: unknown, cookie?: string): Promise<Answer> {
  const res = await fetch(`${r.base}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(cookie ? { Cookie: cookie } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  bodies.push(text);
  return { status: res.status, json: JSON.parse(text) as Record<string, unknown>, headers: res.headers };
}

async function get(r: Running, path: string): Promise<Answer> {
  const res = await fetch(`${r.base}${path}`);
  const text = await res.text();
  bodies.push(text);
  return { status: res.status, json: JSON.parse(text) as Record<string, unknown>, headers: res.headers };
}

const health = async (r: Running, sid?: string) =>
  (await get(r, `/stasis/health${sid ? `?sid=${sid}` : ''}`)).json as unknown as HealthResponse;

// ---- live channel client ----

interface Live {
  ws: WebSocket;
  messages: unknown[];
  /** Resolves with the first message (already received or future) after index `from` that matches. */
  next<T>(match: (m: unknown) => boolean, from?: number): Promise<T>;
  closed: Promise<{ code: number; reason: string }>;
  /** The binding cookie the upgrade answered with (`name=value`), as a browser would keep it. */
  cookie(): string;
  /** That answer's whole Set-Cookie header. */
  setCookie(): string;
}

const sockets: WebSocket[] = [];

/** `cookie`: the browser's binding cookie, as a browser would send it (a live session only takes its own browser). */
function live(r: Running, query: string, cookie?: string): Live {
  const ws = new WebSocket(`ws://${r.host}/stasis/live${query}`, cookie ? { headers: { Cookie: cookie } } : {});
  let issued = '';
  ws.on('upgrade', (response) => (issued = String(response.headers['set-cookie'] ?? '')));
  sockets.push(ws);
  const messages: unknown[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (data) => {
    messages.push(JSON.parse((data as Buffer).toString()));
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  ws.on('error', () => {}); // surfaced through `closed`
  const next = <T>(match: (m: unknown) => boolean, from = 0): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const check = () => {
        const found = messages.slice(from).find(match);
        if (found !== undefined) return resolve(found as T);
        waiters.push(check);
      };
      void closed.then(() => setTimeout(() => reject(new Error('socket closed before the message arrived')), 0));
      check();
    });
  return { ws, messages, next, closed, setCookie: () => issued, cookie: () => issued.split(';')[0] || cookie || '' };
}

const isView = (m: unknown): m is { type: 'view'; view: View } => (m as { type?: unknown }).type === 'view';
const viewWhere = (pred: (v: View) => boolean) => (m: unknown) => isView(m) && pred(m.view);

afterEach(() => {
  for (const ws of sockets.splice(0)) if (ws.readyState !== ws.CLOSED) ws.terminate();
});

// ---- tests ----

describe('the Stasis HTTP endpoints and live channel (demo app)', () => {
  let r: Running;
  beforeAll(async () => {
    r = await start();
  });
  afterAll(() => stop(r));

  it('GET /stasis/health counts sessions and reports a sid', async () => {
    const h = await health(r);
    expect(h).toMatchObject({ ok: true, version: PROTOCOL_VERSION });
    expect(typeof h.live).toBe('number');
    expect(typeof h.hibernated).toBe('number');
    expect(h.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(h.session).toBeUndefined();
    const sid = newSid();
    expect((await health(r, sid)).session).toStrictEqual({ sid, state: 'unknown' });
    // An invalid sid is ignored, not echoed.
    expect((await health(r, 'bad sid')).session).toBeUndefined();
    const head = await fetch(`${r.base}/stasis/health`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('hibernate over a live session → ok + blob + binding cookie, socket closed 4001; resume → gen 2 with the cart', async () => {
    const sid = newSid();
    const before = await health(r);
    const tab = live(r, `?sid=${sid}`);
    const first = await tab.next<{ view: View }>(isView);
    expect(first.view).toMatchObject({ gen: 1, restored: false, step: 1, cart: [] });
    tab.ws.send(JSON.stringify({ type: 'add', id: 'pen', delta: 2 }));
    tab.ws.send(JSON.stringify({ type: 'field', name: 'name', value: 'Ada' }));
    await tab.next(viewWhere((v) => v.details.name === 'Ada'));
    expect((await health(r, sid)).session).toStrictEqual({ sid, state: 'live', gen: 1, channels: 1 });
    expect((await health(r)).live).toBe(before.live + 1);

    // The browser got its binding cookie with the live channel's upgrade.
    const setCookie = tab.setCookie();
    expect(setCookie).toMatch(/^stasis_bid=[A-Za-z0-9_-]{32}; /);
    const attrs = setCookie.split(';').map((a) => a.trim().toLowerCase());
    expect(attrs).toContain('httponly');
    expect(attrs).toContain('samesite=lax');
    expect(attrs).toContain('path=/');
    expect(attrs).not.toContain('secure'); // plain http
    const cookie = tab.cookie();

    // Knowing the sid is not enough: a hibernate from another browser (no cookie: a new one) is refused.
    const stranger = await post(r, '/stasis/hibernate', { sid });
    expect(stranger.status).toBe(403);
    expect(stranger.json.outcome).toBe('wrong-binding');
    expect((await health(r, sid)).session).toStrictEqual({ sid, state: 'live', gen: 1, channels: 1 });

    const hib = await post(r, '/stasis/hibernate', { sid }, cookie);
    expect(hib.status).toBe(200);
    expect(hib.json).toMatchObject({ outcome: 'ok', sid, gen: 1 });
    expect(typeof hib.json.blob).toBe('string');
    expect((hib.json.blob as string).split('.')).toHaveLength(5);
    expect(typeof hib.json.exp).toBe('number');
    expect(hib.headers.get('cache-control')).toBe('no-store');
    expect(hib.headers.get('set-cookie')).toBeNull(); // it already had one
    expect(await tab.closed).toStrictEqual({ code: CLOSE_CODES.hibernated, reason: 'stasis:hibernated' });
    expect((await health(r, sid)).session).toStrictEqual({ sid, state: 'hibernated', gen: 1 });

    const blob = hib.json.blob as string;
    const noCookie = await post(r, '/stasis/resume', { sid, blob });
    expect(noCookie.status).toBe(403);
    expect(noCookie.json.outcome).toBe('wrong-binding');
    const otherCookie = await post(r, '/stasis/resume', { sid, blob }, `stasis_bid=${'A'.repeat(32)}`);
    expect(otherCookie.status).toBe(403);
    expect(otherCookie.json.outcome).toBe('wrong-binding');
    const wrongSid = await post(r, '/stasis/resume', { sid: newSid(), blob }, cookie);
    expect(wrongSid.json.outcome).toBe('wrong-binding');

    const resumed = await post(r, '/stasis/resume', { sid, blob }, `theme=dark; ${cookie}; other=1`);
    expect(resumed.status).toBe(200);
    expect(resumed.json).toStrictEqual({ outcome: 'ok', sid, gen: 2 });
    expect(resumed.headers.get('set-cookie')).toBeNull();

    const replay = await post(r, '/stasis/resume', { sid, blob }, cookie);
    expect(replay.status).toBe(409);
    expect(replay.json.outcome).toBe('replayed');
    expect(typeof replay.json.message).toBe('string');

    const again = live(r, `?sid=${sid}`, cookie);
    const view = (await again.next<{ view: View }>(isView)).view;
    expect(view).toMatchObject({ gen: 2, restored: true, cart: [{ id: 'pen', qty: 2 }] });
    expect(view.details.name).toBe('Ada');
    expect((await health(r, sid)).session).toStrictEqual({ sid, state: 'live', gen: 2, channels: 1 });

    // With the cookie already set, a second hibernate reuses it (no new Set-Cookie) and the blob resumes.
    const hib2 = await post(r, '/stasis/hibernate', { sid }, cookie);
    expect(hib2.json).toMatchObject({ outcome: 'ok', gen: 2 });
    expect(hib2.headers.get('set-cookie')).toBeNull();
    expect((await again.closed).code).toBe(CLOSE_CODES.hibernated);
    expect((await post(r, '/stasis/resume', { sid, blob: hib2.json.blob }, cookie)).json).toStrictEqual({
      outcome: 'ok',
      sid,
      gen: 3,
    });
  });

  it('hibernate of a sid with no live session → 404 no-session', async () => {
    const a = await post(r, '/stasis/hibernate', { sid: newSid() });
    expect(a.status).toBe(404);
    expect(a.json.outcome).toBe('no-session');
    expect(a.headers.get('set-cookie')).toBeNull(); // no binding cookie unless a blob depends on it
  });

  it('refuses bad requests with malformed and the mapped status', async () => {
    const sid = newSid();
    const cases: [string, unknown][] = [
      ['/stasis/hibernate', '{not json'],
      ['/stasis/resume', '{not json'],
      ['/stasis/hibernate', ''],
      ['/stasis/hibernate', '[1,2]'],
      ['/stasis/resume', JSON.stringify([{ sid }])],
      ['/stasis/hibernate', 'null'],
      ['/stasis/hibernate', '"sid"'],
      ['/stasis/hibernate', '42'],
      ['/stasis/hibernate', {}],
      ['/stasis/hibernate', { sid: 'short' }],
      ['/stasis/hibernate', { sid: 12345 }],
      ['/stasis/hibernate', { sid: `${sid}!` }],
      ['/stasis/resume', { blob: 'x' }],
      ['/stasis/resume', { sid }],
      ['/stasis/resume', { sid, blob: 42 }],
      ['/stasis/resume', { sid, blob: 'not.a.jwe' }],
    ];
    for (const [path, body] of cases) {
      const a = await post(r, path, body);
      expect({ path, body, status: a.status, outcome: a.json.outcome }).toStrictEqual({ path, body, status: 400, outcome: 'malformed' });
      expect(typeof a.json.message).toBe('string');
    }
  });

  it('GET on hibernate/resume → 400 malformed with Allow: POST', async () => {
    for (const path of ['/stasis/resume', '/stasis/hibernate']) {
      const a = await get(r, path);
      expect(a.status).toBe(HTTP_STATUS.malformed);
      expect(a.json.outcome).toBe('malformed');
      expect(a.headers.get('allow')).toBe('POST');
    }
  });

  it('unknown paths under /stasis → 404 malformed; paths outside are left to the host app', async () => {
    for (const path of ['/stasis/x', '/stasis', '/stasis/', '/stasis/health/extra']) {
      const a = await get(r, path);
      expect(a.status).toBe(404);
      expect(a.json.outcome).toBe('malformed');
    }
    // The live path without an upgrade: 426, and what to do instead.
    const plain = await get(r, '/stasis/live');
    expect(plain.status).toBe(426);
    expect(plain.headers.get('upgrade')).toBe('websocket');
    expect(plain.json.outcome).toBe('malformed');
    // A known route, the wrong method: 400 malformed with Allow, as for hibernate and resume.
    for (const [path, allow] of [['/stasis/health', 'GET, HEAD'], ['/stasis/metrics', 'GET']] as const) {
      const wrong = await fetch(`${r.base}${path}`, { method: 'PUT' });
      expect(wrong.status).toBe(400);
      expect(wrong.headers.get('allow')).toBe(allow);
      expect(((await wrong.json()) as { outcome: string }).outcome).toBe('malformed');
    }
    const outside = await fetch(`${r.base}/stasisx/health`);
    expect(outside.status).toBe(404);
    expect(await outside.text()).toBe('host app');
  });

  it('a tampered blob → 400 tampered', async () => {
    const sid = newSid();
    const tab = live(r, `?sid=${sid}`);
    await tab.next(isView);
    const hib = await post(r, '/stasis/hibernate', { sid }, tab.cookie());
    const p = (hib.json.blob as string).split('.');
    p[3] = p[3]!.slice(0, 5) + (p[3]![5] === 'A' ? 'B' : 'A') + p[3]!.slice(6);
    const a = await post(r, '/stasis/resume', { sid, blob: p.join('.') }, tab.cookie());
    expect(a.status).toBe(400);
    expect(a.json.outcome).toBe('tampered');
  });

  it('a WebSocket with an invalid or missing sid is closed with badSession', async () => {
    for (const query of ['?sid=short', '', '?sid=', `?sid=${'x'.repeat(65)}`]) {
      const tab = live(r, query);
      expect(await tab.closed).toStrictEqual({ code: CLOSE_CODES.badSession, reason: 'stasis:bad-sid' });
    }
  });

  it('a WebSocket upgrade on another path is refused', async () => {
    const ws = new WebSocket(`ws://${r.host}/stasis/other?sid=${newSid()}`);
    sockets.push(ws);
    const outcome = await new Promise<string>((resolve) => {
      ws.on('open', () => resolve('open'));
      ws.on('error', () => resolve('error'));
    });
    expect(outcome).toBe('error');
  });

  it('a non-JSON or binary message gets a stasis:error reply and the socket stays open', async () => {
    const sid = newSid();
    const tab = live(r, `?sid=${sid}`);
    await tab.next(isView);
    const mark = tab.messages.length;
    tab.ws.send('{nope');
    const error = await tab.next<Record<string, unknown>>((m) => (m as { type?: string }).type === 'stasis:error', mark);
    expect(error).toMatchObject({ type: 'stasis:error', code: 'malformed' });
    const mark2 = tab.messages.length;
    tab.ws.send(Buffer.from(JSON.stringify({ type: 'add', id: 'tape', delta: 1 })), { binary: true });
    await tab.next((m) => (m as { type?: string }).type === 'stasis:error', mark2);
    // Still open and still served.
    expect(tab.ws.readyState).toBe(WebSocket.OPEN);
    tab.ws.send(JSON.stringify({ type: 'add', id: 'tape', delta: 3 }));
    const view = await tab.next<{ view: View }>(viewWhere((v) => v.cart.length > 0), mark2);
    expect(view.view.cart).toMatchObject([{ id: 'tape', qty: 3 }]);
  });

  it('a second tab on the same sid joins the session; resume supersedes a live session (4002)', async () => {
    const sid = newSid();
    const cookie = `stasis_bid=${'B'.repeat(32)}`;
    const a = live(r, `?sid=${sid}`, cookie);
    await a.next(isView);
    a.ws.send(JSON.stringify({ type: 'add', id: 'stamp', delta: 1 }));
    await a.next(viewWhere((v) => v.cart.length === 1));
    const hib = await post(r, '/stasis/hibernate', { sid }, cookie);
    await a.closed;
    // The tab reconnects without resuming: a fresh session.
    const b = live(r, `?sid=${sid}`, cookie);
    expect((await b.next<{ view: View }>(isView)).view).toMatchObject({ gen: 1, cart: [] });
    const c = live(r, `?sid=${sid}`, cookie);
    // Another browser that learned the sid does not get in.
    const stranger = live(r, `?sid=${sid}`, `stasis_bid=${'C'.repeat(32)}`);
    expect(await stranger.closed).toStrictEqual({ code: CLOSE_CODES.resumeFirst, reason: 'stasis:wrong-binding' });
    await c.next(isView);
    expect((await health(r, sid)).session).toMatchObject({ state: 'live', channels: 2 });
    const resumed = await post(r, '/stasis/resume', { sid, blob: hib.json.blob }, cookie);
    expect(resumed.json).toStrictEqual({ outcome: 'ok', sid, gen: 2 });
    expect((await b.closed).code).toBe(CLOSE_CODES.superseded);
    expect((await c.closed).code).toBe(CLOSE_CODES.superseded);
    const d = live(r, `?sid=${sid}`, cookie);
    expect((await d.next<{ view: View }>(isView)).view).toMatchObject({ gen: 2, restored: true, cart: [{ id: 'stamp', qty: 1 }] });
  });

  it('no response body carries a stack trace, and health still answers', async () => {
    expect(bodies.length).toBeGreaterThan(20);
    for (const text of bodies) {
      expect(text).not.toMatch(/\n\s*at\s/);
      expect(text).not.toMatch(/\bat\s+\S+\s+\(/);
      expect(text).not.toMatch(/\.(?:ts|js|mjs):\d+:\d+/);
      expect(text).not.toMatch(/node_modules|server-stub|file:\/\//);
    }
    expect((await health(r)).ok).toBe(true);
  });
});

describe('body and blob size limits (maxBlobBytes 1000)', () => {
  let r: Running;
  beforeAll(async () => {
    r = await start({ maxBlobBytes: 1000 });
  });
  afterAll(() => stop(r));

  it('the body cap is maxBlobBytes + 1024', () => {
    expect(r.stasis.config.maxBodyBytes).toBe(2024);
  });

  it('a body over the limit with Content-Length → 413 too-large', async () => {
    const sid = newSid();
    for (const path of ['/stasis/resume', '/stasis/hibernate']) {
      // Valid JSON whose padding is ignored: only the body limit can refuse it (not the blob check).
      const a = await post(r, path, { sid, blob: 'short', pad: 'x'.repeat(3000) });
      expect(a.status).toBe(413);
      expect(a.json.outcome).toBe('too-large');
    }
  });

  it('a declared Content-Length over the limit is refused before the body arrives', async () => {
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        `${r.base}/stasis/hibernate`,
        { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': 100_000 } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            req.destroy();
            resolve({ status: res.statusCode ?? 0, text });
          });
        },
      );
      req.on('error', () => {}); // the request is cut off on purpose
      const timer = setTimeout(() => reject(new Error('no answer while the body was still missing')), 3000);
      req.on('close', () => clearTimeout(timer));
      req.write(`{"sid":"${newSid()}"`); // 30 of the 100 000 announced bytes
    });
    bodies.push(answer.text);
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.text)).toMatchObject({ outcome: 'too-large' });
  });

  it('a body just under the limit is read (and the blob itself judged: too-large)', async () => {
    const sid = newSid();
    const a = await post(r, '/stasis/resume', { sid, blob: 'x'.repeat(1500) });
    expect(a.status).toBe(413);
    expect(a.json.outcome).toBe('too-large');
    expect(a.json.message).toMatch(/blob/);
  });

  it('a chunked body (no Content-Length) over the limit → 413 too-large', async () => {
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(`${r.base}/stasis/hibernate`, { method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      });
      req.on('error', reject);
      expect(req.getHeader('content-length')).toBeUndefined();
      // Not JSON: without the streaming cap this would be answered `malformed`, not `too-large`.
      let sent = 0;
      const pump = () => {
        if (sent > 20_000 || req.destroyed) return req.end();
        sent += 500;
        req.write('y'.repeat(500), () => setImmediate(pump));
      };
      pump();
    });
    bodies.push(answer.text);
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.text)).toMatchObject({ outcome: 'too-large' });
  });

  it('a chunked body under the limit is read normally', async () => {
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(`${r.base}/stasis/hibernate`, { method: 'POST' }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.write('{"sid":');
      req.write(`"${newSid()}"}`);
      req.end();
    });
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.text)).toMatchObject({ outcome: 'no-session' });
  });

  it('a session whose blob would be too large → 413 too-large on hibernate and it stays live', async () => {
    const sid = newSid();
    const tab = live(r, `?sid=${sid}`);
    await tab.next(isView);
    for (const name of ['name', 'address', 'city', 'note']) tab.ws.send(JSON.stringify({ type: 'field', name, value: 'z'.repeat(400) }));
    await tab.next(viewWhere((v) => v.details.note.length === 400));
    const a = await post(r, '/stasis/hibernate', { sid }, tab.cookie());
    expect(a.status).toBe(413);
    expect(a.json.outcome).toBe('too-large');
    expect(tab.ws.readyState).toBe(WebSocket.OPEN);
    expect((await health(r, sid)).session).toMatchObject({ state: 'live', gen: 1, channels: 1 });
    // Shrink the state: now it hibernates.
    for (const name of ['name', 'address', 'city', 'note']) tab.ws.send(JSON.stringify({ type: 'field', name, value: '' }));
    await tab.next(viewWhere((v) => v.details.note === '' && v.details.city === ''), tab.messages.length);
    const ok = await post(r, '/stasis/hibernate', { sid }, tab.cookie());
    expect(ok.json.outcome).toBe('ok');
    expect((await tab.closed).code).toBe(CLOSE_CODES.hibernated);
  });

  it('the server keeps answering health after all of that', async () => {
    const h = await health(r);
    expect(h.ok).toBe(true);
    for (const text of bodies) expect(text).not.toMatch(/\n\s*at\s|\.(?:ts|js):\d+:\d+/);
  });
});
