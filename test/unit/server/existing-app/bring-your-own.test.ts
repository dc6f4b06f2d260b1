/**
 * Bring your own live channel: Stasis sessions on sockets the app owns. The ws adapter (withStasis), the
 * Socket.IO adapter (stasisMiddleware) and connectChannel itself with a plain object socket.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { Server as SocketIOServer, type Socket as ServerSocket } from 'socket.io';
import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client';
import { WebSocketServer, type WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { stasisMiddleware, type StasisSocketData } from '../../../../server-stub/adapters/socket-io.js';
import { withStasis } from '../../../../server-stub/adapters/ws.js';
import { closeFor, generateKeySpec, StasisError, type StasisConnection, type StasisServer } from '../../../../server-stub/index.js';
import {
  bindingCookie,
  countApp,
  isType,
  listen,
  newSid,
  onCleanup,
  postJson,
  runCleanups,
  startStasis,
  within,
  wsClient,
  type CountApp,
  type Listening,
} from './support.js';

afterEach(runCleanups);

/** Stasis's HTTP endpoints on the app's server; the app has no other HTTP routes. */
function endpoints(stasis: Pick<StasisServer<unknown>, 'handle'>): Server {
  return createServer((req, res) => {
    void stasis.handle(req, res).then((handled) => {
      if (!handled) res.writeHead(404).end();
    });
  });
}

const start = (keys = generateKeySpec('byo')) => startStasis<CountApp>({ app: countApp, keys });

async function hibernate(at: Listening, sid: string, cookie: string): Promise<string> {
  const answer = await postJson(at.base, '/stasis/hibernate', { sid }, { cookie });
  expect(answer).toMatchObject({ status: 200, json: { outcome: 'ok', sid, gen: expect.any(Number) } });
  return answer.json.blob as string;
}

async function resume(at: Listening, sid: string, blob: string, cookie: string, gen = 2): Promise<void> {
  const answer = await postJson(at.base, '/stasis/resume', { sid, blob }, { cookie });
  expect(answer).toMatchObject({ status: 200, json: { outcome: 'ok', sid, gen } });
}

describe('ws adapter: withStasis(wss, stasis, onConnection)', () => {
  interface Seen {
    connection: StasisConnection<CountApp>;
    request: IncomingMessage;
  }

  async function setup(keys?: string) {
    const stasis = await start(keys);
    const server = endpoints(stasis);
    const wss = new WebSocketServer({ server, path: '/app' });
    onCleanup(() => wss.close());
    const seen: Seen[] = [];
    // The app's own protocol on its own socket: `inc` and `get`, answered with the persisted count.
    withStasis(wss, stasis, (socket: WebSocket, connection, request) => {
      seen.push({ connection, request });
      socket.on('message', (data) => {
        const message = JSON.parse((data as Buffer).toString()) as { op?: string };
        if (message.op === 'inc') connection.app.count.update((n) => n + 1);
        if (message.op === 'inc' || message.op === 'get') {
          socket.send(JSON.stringify({ type: 'count', count: connection.app.count.get(), gen: connection.session.gen }));
        }
      });
    });
    const at = await listen(server);
    return { stasis, at, seen };
  }

  it('binds the session, round-trips app messages, hibernates (4001), resumes, and restores the value at gen 2', async () => {
    const { at, seen } = await setup();
    const sid = newSid();
    const page = wsClient(`ws://${at.host}/app?sid=${sid}`);
    await within(page.opened, 3000, 'app socket open');
    // The binding cookie comes with the 101, as on the built-in channel.
    expect(page.setCookie()).toMatch(/^stasis_bid=[A-Za-z0-9_-]{32}; Path=\/; HttpOnly; SameSite=Lax/);
    const cookie = page.cookie();
    // Sent the moment the socket opens, possibly before the adapter bound the session (it holds them meanwhile).
    page.ws.send(JSON.stringify({ op: 'inc' }));
    page.ws.send(JSON.stringify({ op: 'inc' }));
    await page.next((m) => isType('count')(m) && (m as { count: number }).count === 2);
    expect(page.messages.filter(isType('count'))).toStrictEqual([
      { type: 'count', count: 1, gen: 1 },
      { type: 'count', count: 2, gen: 1 },
    ]);
    expect(seen).toHaveLength(1);
    const first = seen[0]!.connection;
    expect(first.sid).toBe(sid);
    expect(first.session).toMatchObject({ sid, gen: 1, restored: false });
    expect(first.app.count.get()).toBe(2);
    expect(seen[0]!.request.url).toBe(`/app?sid=${sid}`);

    const blob = await hibernate(at, sid, cookie);
    expect(await within(page.closed, 3000, 'app socket close')).toStrictEqual({ code: 4001, reason: 'stasis:hibernated' });
    expect(first.session.signal.aborted).toBe(true);
    await resume(at, sid, blob, cookie);

    const back = wsClient(`ws://${at.host}/app?sid=${sid}`, cookie);
    await within(back.opened, 3000, 'app socket reopen');
    expect(back.setCookie()).toBe(''); // it has one already
    back.ws.send(JSON.stringify({ op: 'get' }));
    expect(await back.next(isType('count'))).toStrictEqual({ type: 'count', count: 2, gen: 2 });
    expect(seen).toHaveLength(2);
    expect(seen[1]!.connection.session).toMatchObject({ sid, gen: 2, restored: true });
    expect(seen[1]!.connection.app.count.get()).toBe(2);
  });

  it('drain pushes the blob over the app socket, then closes it with 4007; the blob resumes elsewhere', async () => {
    const keys = generateKeySpec('shared');
    const { stasis, at } = await setup(keys);
    const sid = newSid();
    const page = wsClient(`ws://${at.host}/app?sid=${sid}`);
    await page.opened;
    const cookie = page.cookie();
    page.ws.send(JSON.stringify({ op: 'inc' }));
    await page.next(isType('count'));

    const report = await within(stasis.drain(3000), 4000, 'drain');
    expect(report).toStrictEqual({ sessions: 1, pushed: 1, failed: 0, flushed: true });
    const pushed = await page.next<Record<string, unknown>>(isType('stasis:hibernated'));
    expect(pushed).toMatchObject({ type: 'stasis:hibernated', reason: 'drain', sid, gen: 1, exp: expect.any(Number) });
    expect(String(pushed.blob).split('.')).toHaveLength(5);
    expect(await within(page.closed, 3000, 'close')).toStrictEqual({ code: 4007, reason: 'stasis:draining' });
    // The pushed message came before the close.
    expect(page.messages.at(-1)).toBe(pushed);

    // A draining server takes no new session.
    const late = wsClient(`ws://${at.host}/app?sid=${newSid()}`);
    expect(await within(late.closed, 3000, 'late close')).toStrictEqual({ code: 1012, reason: 'stasis:draining' });

    // The next instance (same key ring) resumes the pushed blob with the count.
    const next = await setup(keys);
    await resume(next.at, sid, pushed.blob as string, cookie);
    const back = wsClient(`ws://${next.at.host}/app?sid=${sid}`, cookie);
    await back.opened;
    back.ws.send(JSON.stringify({ op: 'get' }));
    expect(await back.next(isType('count'))).toStrictEqual({ type: 'count', count: 1, gen: 2 });
  });

  it('a bad or missing sid is closed with 4004, and onConnection never runs', async () => {
    const { at, seen } = await setup();
    for (const query of ['?sid=short', '?sid=has%20spaces%20in%20it%20and%20more', '']) {
      const page = wsClient(`ws://${at.host}/app${query}`);
      expect(await within(page.closed, 3000, `close for "${query}"`)).toStrictEqual({ code: 4004, reason: 'stasis:bad-sid' });
    }
    expect(seen).toHaveLength(0);
  });
});

describe('Socket.IO adapter: io.use(stasisMiddleware(stasis, { io }))', () => {
  interface IoPage {
    client: ClientSocket;
    hello: Promise<{ count: number; gen: number; restored: boolean }>;
    connected: Promise<void>;
    /** Payloads of the `stasis` event (Stasis's pushes). */
    pushes: unknown[];
    disconnected: Promise<string>;
    connectError: Promise<Error & { data?: { code: number; reason: string } }>;
  }

  async function setup(keys?: string) {
    const stasis = await start(keys);
    const server = endpoints(stasis);
    const io = new SocketIOServer(server);
    onCleanup(() => io.close());
    io.use(stasisMiddleware(stasis, { io }));
    // What the handshake answers carried (engine.io's `headers` follows `initial_headers` with the same object).
    const issued: string[] = [];
    io.engine.on('headers', (headers: Record<string, unknown>) => {
      const cookie = headers['set-cookie'] as string | string[] | undefined;
      if (cookie !== undefined) issued.push(String(cookie));
    });
    const seen: Array<StasisConnection<CountApp>> = [];
    io.on('connection', (socket: ServerSocket) => {
      const { stasis: connection } = socket.data as StasisSocketData<CountApp>;
      seen.push(connection);
      const { session, app } = connection;
      socket.emit('hello', { count: app.count.get(), gen: session.gen, restored: session.restored });
      socket.on('inc', (ack: (count: number) => void) => ack(app.count.update((n) => n + 1)));
    });
    const at = await listen(server);
    const page = (sid: unknown, cookie: string): IoPage => {
      // The node client sends extraHeaders with the WebSocket handshake, as a browser sends its cookies.
      const client = ioClient(at.base, { transports: ['websocket'], auth: { sid }, extraHeaders: { cookie }, reconnection: false, forceNew: true });
      onCleanup(() => client.disconnect());
      const pushes: unknown[] = [];
      client.on('stasis', (message: unknown) => pushes.push(message));
      return {
        client,
        pushes,
        hello: new Promise((resolve) => client.once('hello', resolve)),
        connected: new Promise((resolve) => client.once('connect', () => resolve())),
        disconnected: new Promise((resolve) => client.once('disconnect', (reason) => resolve(reason))),
        connectError: new Promise((resolve) => client.once('connect_error', (error) => resolve(error as never))),
      };
    };
    return { stasis, at, seen, page, issued };
  }

  it('binds the session before `connection`; hibernate disconnects the socket; after resume the value is back at gen 2', async () => {
    const { at, seen, page } = await setup();
    const sid = newSid();
    const cookie = bindingCookie();
    const tab = page(sid, cookie);
    expect(await within(tab.hello, 3000, 'hello')).toStrictEqual({ count: 0, gen: 1, restored: false });
    expect(await tab.client.timeout(2000).emitWithAck('inc')).toBe(1);
    expect(await tab.client.timeout(2000).emitWithAck('inc')).toBe(2);
    expect(seen[0]!.app.count.get()).toBe(2);
    expect(seen[0]!.sid).toBe(sid);

    const blob = await hibernate(at, sid, cookie);
    expect(await within(tab.disconnected, 3000, 'disconnect')).toBe('io server disconnect');
    await resume(at, sid, blob, cookie);

    const back = page(sid, cookie);
    expect(await within(back.hello, 3000, 'hello again')).toStrictEqual({ count: 2, gen: 2, restored: true });
    expect(seen).toHaveLength(2);
    expect(seen[1]!.app.count.get()).toBe(2);
    expect(seen[1]!.session.gen).toBe(2);
  });

  it('a browser without the binding cookie: the handshake answer sets it, so a blob drained before any hibernate resumes', async () => {
    const keys = generateKeySpec('byo-cookie');
    const { stasis, page, issued } = await setup(keys);
    const sid = newSid();
    const tab = page(sid, 'theme=dark'); // some cookie, not Stasis's
    expect(await within(tab.hello, 3000, 'hello')).toMatchObject({ gen: 1 });
    await tab.client.timeout(2000).emitWithAck('inc');
    expect(issued).toHaveLength(1);
    expect(issued[0]).toMatch(/^stasis_bid=[A-Za-z0-9_-]{32}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
    const cookie = issued[0]!.split(';')[0]!;

    // A deploy before the page ever hibernated: the pushed blob is bound to the cookie the handshake set.
    expect(await within(stasis.drain(3000), 4000, 'drain')).toMatchObject({ sessions: 1, pushed: 1, failed: 0 });
    expect(await within(tab.disconnected, 3000, 'disconnect')).toBe('io server disconnect');
    const blob = (tab.pushes[0] as { blob: string }).blob;

    const next = await setup(keys); // the next instance, same keys
    expect(await postJson(next.at.base, '/stasis/resume', { sid, blob }, { cookie: bindingCookie() })).toMatchObject({
      status: 403,
      json: { outcome: 'wrong-binding' },
    });
    await resume(next.at, sid, blob, cookie);
    const back = next.page(sid, cookie);
    expect(await within(back.hello, 3000, 'hello again')).toStrictEqual({ count: 1, gen: 2, restored: true });
    expect(next.issued).toHaveLength(0); // the browser has its cookie now: nothing new is issued
  });

  it('needs { io }: the binding cookie cannot be set on the handshake without it', async () => {
    const stasis = await start();
    expect(() => stasisMiddleware(stasis, undefined as never)).toThrow(/needs your Socket.IO server/);
  });

  it('drain emits a `stasis` event carrying the pushed blob, then disconnects', async () => {
    const { stasis, page } = await setup();
    const sid = newSid();
    const tab = page(sid, bindingCookie());
    await within(tab.hello, 3000, 'hello');
    await tab.client.timeout(2000).emitWithAck('inc');

    const report = await within(stasis.drain(3000), 4000, 'drain');
    expect(report).toStrictEqual({ sessions: 1, pushed: 1, failed: 0, flushed: true });
    expect(await within(tab.disconnected, 3000, 'disconnect')).toBe('io server disconnect');
    expect(tab.pushes).toHaveLength(1);
    expect(tab.pushes[0]).toMatchObject({ type: 'stasis:hibernated', reason: 'drain', sid, gen: 1, exp: expect.any(Number), blob: expect.any(String) });
  });

  it('a bad sid is refused: connect_error with err.data.code 4004', async () => {
    const { page, seen } = await setup();
    for (const sid of ['nope', undefined, 42]) {
      const tab = page(sid, bindingCookie());
      const error = await within(tab.connectError, 3000, 'connect_error');
      expect(error.data).toStrictEqual({ code: 4004, reason: 'stasis:bad-sid' });
      expect(tab.client.connected).toBe(false);
    }
    expect(seen).toHaveLength(0);
  });
});

describe('connectChannel with a plain object socket', () => {
  it('binds, delivers messages, closes 4001 on hibernate, restores after resume, pushes on drain', async () => {
    const stasis = await startStasis(); // counterApp: `inc` messages and a hello on every attach
    const at = await listen(endpoints(stasis));
    const sid = newSid();
    const cookie = bindingCookie();
    const plain = () => {
      const sent: Array<Record<string, unknown>> = [];
      const closes: Array<{ code: number; reason: string }> = [];
      return { sent, closes, socket: { send: (text: string) => void sent.push(JSON.parse(text) as Record<string, unknown>), close: (code: number, reason: string) => void closes.push({ code, reason }) } };
    };

    const one = plain();
    const first = await stasis.connectChannel({ sid, request: { headers: { cookie } }, socket: one.socket });
    expect(first.sid).toBe(sid);
    expect(first.session).toMatchObject({ gen: 1, restored: false });
    expect(one.sent).toStrictEqual([{ type: 'hello', count: 0, gen: 1, restored: false }]);
    await first.message({ type: 'inc' });
    expect(one.sent.at(-1)).toStrictEqual({ type: 'count', count: 1, gen: 1 });
    expect(first.app.count.get()).toBe(1);
    const health = async () => ((await (await fetch(`${at.base}/stasis/health?sid=${sid}`)).json()) as { session: unknown }).session;
    expect(await health()).toStrictEqual({ sid, state: 'live', gen: 1, channels: 1 });

    // Another browser's cookie cannot attach to it.
    const stranger = await stasis.connectChannel({ sid, request: { headers: { cookie: bindingCookie() } }, socket: plain().socket }).catch((e: unknown) => e);
    expect(stranger).toBeInstanceOf(StasisError);
    expect((stranger as StasisError).code).toBe('wrong-binding');
    expect(closeFor(stranger)).toStrictEqual({ code: 4003, reason: 'stasis:wrong-binding' });

    const blob = await hibernate(at, sid, cookie);
    expect(one.closes).toStrictEqual([{ code: 4001, reason: 'stasis:hibernated' }]);
    const before = one.sent.length;
    await first.message({ type: 'inc' }); // a hibernated session takes no more messages
    expect(one.sent).toHaveLength(before);
    await resume(at, sid, blob, cookie);

    const two = plain();
    const second = await stasis.connectChannel({ sid, request: { headers: { cookie } }, socket: two.socket });
    expect(second.session).toMatchObject({ gen: 2, restored: true });
    expect(second.app.count.get()).toBe(1);
    expect(two.sent).toStrictEqual([{ type: 'hello', count: 1, gen: 2, restored: true }]);
    second.close();
    second.close(); // idempotent
    expect(await health()).toStrictEqual({ sid, state: 'live', gen: 2, channels: 0 }); // kept for the retention window

    const three = plain();
    await stasis.connectChannel({ sid, request: { headers: { cookie } }, socket: three.socket });
    expect(await stasis.drain(1000)).toStrictEqual({ sessions: 1, pushed: 1, failed: 0, flushed: true });
    expect(three.sent.at(-1)).toMatchObject({ type: 'stasis:hibernated', reason: 'drain', sid, gen: 2, blob: expect.any(String) });
    expect(three.closes).toStrictEqual([{ code: 4007, reason: 'stasis:draining' }]);
  });

  it('rejects a bad sid with a StasisError that closeFor maps to 4004', async () => {
    const stasis = await startStasis();
    const error = await stasis
      .connectChannel({ sid: 'short', request: { headers: {} }, socket: { send() {}, close() {} } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StasisError);
    expect((error as StasisError).code).toBe('malformed');
    expect(closeFor(error)).toStrictEqual({ code: 4004, reason: 'stasis:bad-sid' });
  });
});
