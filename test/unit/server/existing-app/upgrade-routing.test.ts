/**
 * `stasis.attach(server)` on a server whose app already takes WebSocket upgrades: Stasis takes only its own
 * path (/stasis/live) and every other upgrade reaches the app's listeners untouched, whichever was added first.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { Server as SocketIOServer } from 'socket.io';
import { io as ioClient } from 'socket.io-client';
import { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import type { StasisServer } from '../../../../server-stub/index.js';
import {
  isType,
  listen,
  newSid,
  onCleanup,
  rawExchange,
  runCleanups,
  sleep,
  startStasis,
  upgradeRequest,
  within,
  wsClient,
  type CounterApp,
  type Hello,
  type Listening,
} from './support.js';

afterEach(runCleanups);

/** A node:http server with Stasis first and the host app's 404 after, as an existing app mounts it. */
function hostServer(stasis: StasisServer<CounterApp>): Server {
  return createServer((req, res) => {
    void stasis.handle(req, res).then((handled) => {
      if (!handled) res.writeHead(404, { 'Content-Type': 'text/plain' }).end('host app');
    });
  });
}

/** An echo app on a ws server: every message comes back prefixed. */
function echo(wss: WebSocketServer): void {
  wss.on('connection', (socket) => socket.on('message', (data) => socket.send(`echo:${(data as Buffer).toString()}`)));
}

/** The app's socket opens, round-trips two messages and is still open a while later. */
async function expectAppSocketWorks(at: Listening, path = '/app'): Promise<void> {
  const app = wsClient(`ws://${at.host}${path}`);
  await within(app.opened, 3000, 'app socket open');
  app.ws.send('one');
  expect(await app.next((m) => m === 'echo:one')).toBe('echo:one');
  app.ws.send('two');
  expect(await app.next((m) => m === 'echo:two')).toBe('echo:two');
  await sleep(150); // Stasis (or anyone) aborting the handshake late would show up here
  expect(app.ws.readyState).toBe(app.ws.OPEN);
  app.ws.close(1000);
  expect(await within(app.closed, 3000, 'app socket close')).toMatchObject({ code: 1000 });
}

/** Stasis's live channel on the same server: a new session, the binding cookie, a message round trip. */
async function expectStasisSocketWorks(at: Listening): Promise<void> {
  const tab = wsClient(`ws://${at.host}/stasis/live?sid=${newSid()}`);
  await within(tab.opened, 3000, 'stasis socket open');
  expect(tab.setCookie()).toMatch(/^stasis_bid=[A-Za-z0-9_-]{32}; Path=\/; HttpOnly; SameSite=Lax/);
  expect(await tab.next<Hello>(isType('hello'))).toMatchObject({ count: 0, gen: 1, restored: false });
  tab.ws.send(JSON.stringify({ type: 'inc' }));
  expect(await tab.next(isType('count'))).toMatchObject({ type: 'count', count: 1 });
  expect(tab.ws.readyState).toBe(tab.ws.OPEN);
}

describe.each(['before', 'after'] as const)('an app upgrade listener added %s attach', (order) => {
  it('a plain upgrade listener (ws noServer) keeps its sockets and never sees Stasis’s', async () => {
    const stasis = await startStasis();
    const server = hostServer(stasis);
    const wss = new WebSocketServer({ noServer: true });
    onCleanup(() => wss.close());
    echo(wss);
    const seen: string[] = [];
    const listener = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      seen.push(req.url ?? '');
      if (req.url === '/app') wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
      else socket.destroy(); // what a strict app listener does with a path it does not own
    };
    if (order === 'before') server.on('upgrade', listener);
    stasis.attach(server);
    if (order === 'after') server.on('upgrade', listener);
    const at = await listen(server);

    await expectAppSocketWorks(at);
    await expectStasisSocketWorks(at);
    expect(seen).toStrictEqual(['/app']);
  });

  it('a ws WebSocketServer({ server, path: "/app" }) and Stasis’s live channel both work', async () => {
    const stasis = await startStasis();
    const server = hostServer(stasis);
    const make = () => {
      const wss = new WebSocketServer({ server, path: '/app' });
      onCleanup(() => wss.close());
      echo(wss);
    };
    if (order === 'before') make();
    stasis.attach(server);
    if (order === 'after') make();
    const at = await listen(server);

    // Both at once, as a page with both channels would open them.
    await Promise.all([expectAppSocketWorks(at), expectStasisSocketWorks(at)]);
    // ws answers 400 to a path it does not own: Stasis's path never reaches it (else the socket would fail).
    await expectStasisSocketWorks(at);
    const unknown = await rawExchange(at.port, upgradeRequest('/nobody'));
    expect(unknown.status).toBe(400); // ws's own answer: foreign upgrades still reach the app
  });

  it('a Socket.IO server (client on websocket only) connects and round-trips an event', async () => {
    const stasis = await startStasis();
    const server = hostServer(stasis);
    const make = () => {
      const io = new SocketIOServer(server);
      onCleanup(() => io.close());
      io.on('connection', (socket) => socket.on('ping', (n: number, ack: (m: number) => void) => ack(n + 1)));
    };
    if (order === 'before') make();
    stasis.attach(server);
    if (order === 'after') make();
    const at = await listen(server);

    const client = ioClient(at.base, { transports: ['websocket'], reconnection: false, forceNew: true });
    onCleanup(() => client.disconnect());
    await within(
      new Promise<void>((resolve, reject) => {
        client.once('connect', resolve);
        client.once('connect_error', reject);
      }),
      3000,
      'socket.io connect',
    );
    expect(await within(client.timeout(2000).emitWithAck('ping', 41), 3000, 'socket.io ack')).toBe(42);
    await expectStasisSocketWorks(at);
    await sleep(100);
    expect(client.connected).toBe(true);
    expect(await client.timeout(2000).emitWithAck('ping', 1)).toBe(2);
  });
});

describe('handleUpgrade, the 404 and detaching', () => {
  it('handleUpgrade returns false and writes nothing for a foreign path; true for the live path', async () => {
    const stasis = await startStasis();
    const server = hostServer(stasis);
    const results: Array<{ url: string; taken: boolean; bytesWritten: number; destroyed: boolean }> = [];
    server.on('upgrade', (req: IncomingMessage, socket: Duplex & { bytesWritten?: number }, head: Buffer) => {
      const taken = stasis.handleUpgrade(req, socket, head);
      if (taken) return void results.push({ url: req.url ?? '', taken, bytesWritten: -1, destroyed: false });
      // Let a late write show up before looking.
      setTimeout(() => {
        results.push({ url: req.url ?? '', taken, bytesWritten: socket.bytesWritten ?? -1, destroyed: socket.destroyed });
        socket.end("HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      }, 50);
    });
    const at = await listen(server);

    const foreign = await rawExchange(at.port, upgradeRequest('/app?sid=x'));
    // The client got exactly the app's answer: Stasis wrote nothing before it.
    expect(foreign.text).toBe("HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    expect(results).toStrictEqual([{ url: '/app?sid=x', taken: false, bytesWritten: 0, destroyed: false }]);

    // A look-alike path is not the live path either.
    const lookalike = await rawExchange(at.port, upgradeRequest('/stasis/live-not'));
    expect(lookalike.status).toBe(418);

    await expectStasisSocketWorks(at);
    expect(results.at(-1)).toMatchObject({ url: expect.stringMatching(/^\/stasis\/live\?sid=/), taken: true });
  });

  it('with no other upgrade listener a foreign upgrade is answered 404; plain requests still reach the app', async () => {
    const stasis = await startStasis();
    const server = hostServer(stasis);
    stasis.attach(server);
    const at = await listen(server);

    const answer = await rawExchange(at.port, upgradeRequest('/app'));
    expect(answer.text.startsWith('HTTP/1.1 404 Not Found\r\n')).toBe(true);
    expect(answer.headers.connection).toBe('close');
    expect(answer.closedByServer).toBe(true);

    const plain = await fetch(`${at.base}/app`, { signal: AbortSignal.timeout(3000) });
    expect(plain.status).toBe(404);
    expect(await plain.text()).toBe('host app');
    await expectStasisSocketWorks(at);
  });

  it('the function attach returns stops Stasis taking upgrades', async () => {
    const stasis = await startStasis();
    const server = hostServer(stasis);
    const seen: string[] = [];
    server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      seen.push(req.url ?? '');
      socket.end('HTTP/1.1 409 Conflict\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
    const detach = stasis.attach(server);
    const at = await listen(server);
    const path = `/stasis/live?sid=${newSid()}`;

    await expectStasisSocketWorks(at);
    expect(seen).toStrictEqual([]);

    detach();
    detach(); // twice is harmless
    const after = wsClient(`ws://${at.host}${path}`);
    await expect(after.opened).rejects.toMatchObject({ status: 409 });
    expect(seen).toStrictEqual([path]);
    expect(server.listenerCount('upgrade')).toBe(1); // only the app's own listener is left
  });

  it('detached with no other listener: the live path is an ordinary request again (no WebSocket)', async () => {
    const stasis = await startStasis();
    const server = hostServer(stasis);
    const detach = stasis.attach(server);
    const at = await listen(server);
    await expectStasisSocketWorks(at);
    detach();
    expect(server.listenerCount('upgrade')).toBe(0);
    const refused = wsClient(`ws://${at.host}/stasis/live?sid=${newSid()}`);
    await expect(refused.opened).rejects.toMatchObject({ status: 404 }); // Stasis's HTTP handler: no live channel here
  });
});
