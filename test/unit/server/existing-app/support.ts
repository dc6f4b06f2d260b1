/**
 * Shared helpers of the "existing app" tests: Stasis mounted into servers an app already has (node:http,
 * Express, Fastify, ws, Socket.IO). Everything runs on real sockets on 127.0.0.1 (port 0); nothing is mocked.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { expect } from 'vitest';
import {
  createStasisServer,
  generateKeySpec,
  silentLogger,
  type AppHandlers,
  type Persisted,
  type SessionContext,
  type StasisServer,
  type StasisServerOptions,
} from '../../../../server-stub/index.js';

export { newSid } from '../helpers.js';

// ---- cleanup: every test registers what it opened; afterEach(runCleanups) closes it, newest first ----

const cleanups: Array<() => unknown> = [];

export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

export async function runCleanups(): Promise<void> {
  while (cleanups.length) {
    const fn = cleanups.pop()!;
    try {
      await fn();
    } catch {
      // a cleanup that fails must not hide the test's own result
    }
  }
}

// ---- apps ----

/** The bring-your-own app: the factory's return value is what the app's own socket code reaches. */
export interface CountApp {
  count: Persisted<number>;
}
export const countApp = (session: SessionContext): CountApp => ({ count: session.persist('count', 0) });

/**
 * An app for the built-in live channel: `{type:'inc'}` increments a persisted counter and answers
 * `{type:'count'}`; every attach sends `{type:'hello', count, gen, restored}`.
 */
export interface CounterApp extends AppHandlers, CountApp {}
export const counterApp = (session: SessionContext): CounterApp => {
  const count = session.persist('count', 0);
  return {
    count,
    onMessage(message) {
      if ((message as { type?: unknown })?.type !== 'inc') return;
      count.update((n) => n + 1);
      session.send({ type: 'count', count: count.get(), gen: session.gen });
    },
    onConnect() {
      session.send({ type: 'hello', count: count.get(), gen: session.gen, restored: session.restored });
    },
  };
};

export interface Hello {
  type: 'hello';
  count: number;
  gen: number;
  restored: boolean;
}
export const isType =
  (type: string) =>
  (m: unknown): boolean =>
    (m as { type?: unknown } | null)?.type === type;

/** A Stasis server with a fresh key, no logs and the counter app; closed after the test. */
export async function startStasis<A = CounterApp>(
  options: Partial<StasisServerOptions<A>> = {},
): Promise<StasisServer<A>> {
  const stasis = await createStasisServer<A>({
    keys: generateKeySpec('existing-app'),
    logger: silentLogger,
    app: counterApp as unknown as StasisServerOptions<A>['app'],
    ...options,
  });
  onCleanup(() => stasis.close());
  return stasis;
}

// ---- HTTP servers ----

export interface Listening {
  port: number;
  /** `http://127.0.0.1:port` */
  base: string;
  /** `127.0.0.1:port` */
  host: string;
}

/**
 * Listens on 127.0.0.1 (free port) and registers a cleanup that destroys every connection (upgraded ones
 * included: `closeAllConnections` does not see those) and closes the server.
 */
export async function listen(server: Server): Promise<Listening> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        if (!server.listening) return resolve();
        server.close(() => resolve());
      }),
  );
  const port = (server.address() as AddressInfo).port;
  return { port, base: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}` };
}

export interface Answer {
  status: number;
  json: Record<string, unknown>;
  headers: Headers;
}

/**
 * POSTs JSON (or a string as is). Every request gives up after `timeoutMs` (default 5 s), so a server that
 * never answers fails the test instead of hanging it.
 */
export async function postJson(
  base: string,
  path: string,
  body: unknown,
  options: { cookie?: string; contentType?: string; timeoutMs?: number } = {},
): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: {
      'Content-Type': options.contentType ?? 'application/json',
      ...(options.cookie ? { Cookie: options.cookie } : {}),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
  });
  const text = await res.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: res.status, json, headers: res.headers };
}

/** A made-up binding cookie of the shape Stasis issues (for clients whose channel sets none). */
export function bindingCookie(name = 'stasis_bid'): string {
  return `${name}=${randomBytes(24).toString('base64url')}`;
}

// ---- WebSocket clients ----

export interface WsClient {
  ws: WebSocket;
  /** Resolves once open; rejects when the handshake fails (with the HTTP status when there was one). */
  opened: Promise<void>;
  /** Every message, JSON-parsed (the raw text when it is not JSON). */
  messages: unknown[];
  /** The first message (received already or later) that matches; rejects on close or after `timeoutMs`. */
  next<T = unknown>(match: (m: unknown) => boolean, timeoutMs?: number): Promise<T>;
  closed: Promise<{ code: number; reason: string }>;
  /** The Set-Cookie header of the 101 answer ('' when none). */
  setCookie(): string;
  /** The binding cookie the 101 answer set (`name=value`), else the one the client sent. */
  cookie(): string;
}

export function wsClient(url: string, cookie?: string): WsClient {
  const ws = new WebSocket(url, cookie ? { headers: { Cookie: cookie } } : {});
  onCleanup(() => ws.terminate());
  let issued = '';
  ws.on('upgrade', (response) => (issued = ([] as string[]).concat(response.headers['set-cookie'] ?? []).join(', ')));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => {
      reject(Object.assign(new Error(`handshake answered HTTP ${res.statusCode}`), { status: res.statusCode }));
      ws.terminate();
    });
    ws.once('error', reject);
  });
  opened.catch(() => {}); // observed through `opened` or `closed` by the test
  ws.on('error', () => {});
  const messages: unknown[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (data) => {
    const text = (data as Buffer).toString();
    let message: unknown = text;
    try {
      message = JSON.parse(text);
    } catch {
      // plain text
    }
    messages.push(message);
    for (const wake of waiters.splice(0)) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  let isClosed = false;
  void closed.then(() => {
    isClosed = true;
    for (const wake of waiters.splice(0)) wake();
  });
  const next = <T>(match: (m: unknown) => boolean, timeoutMs = 5000): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching message within ${timeoutMs} ms (got ${JSON.stringify(messages)})`)), timeoutMs);
      const check = () => {
        const found = messages.find(match);
        if (found !== undefined) {
          clearTimeout(timer);
          return resolve(found as T);
        }
        if (isClosed) {
          clearTimeout(timer);
          return reject(new Error(`socket closed before the message arrived (got ${JSON.stringify(messages)})`));
        }
        waiters.push(check);
      };
      check();
    });
  return { ws, opened, messages, next, closed, setCookie: () => issued, cookie: () => issued.split(';')[0] || cookie || '' };
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `promise`, or a rejection naming `what` after `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms))),
  ]);
}

// ---- the Stasis cycle over HTTP ----

/**
 * The page's whole cycle against a server at `at`: a live socket on `/stasis/live?sid=…` creates the session
 * (and the binding cookie), one increment, hibernate (ok + blob, the socket closed 4001), resume (ok, gen 2),
 * and a reconnect that finds the count restored at gen 2.
 */
export async function expectLiveCycle(at: Listening, sid: string): Promise<void> {
  const tab = wsClient(`ws://${at.host}/stasis/live?sid=${sid}`);
  await tab.opened;
  expect(tab.setCookie()).toMatch(/^stasis_bid=[A-Za-z0-9_-]{32}; /);
  expect(await tab.next<Hello>(isType('hello'))).toMatchObject({ count: 0, gen: 1, restored: false });
  tab.ws.send(JSON.stringify({ type: 'inc' }));
  expect(await tab.next(isType('count'))).toMatchObject({ count: 1, gen: 1 });
  const cookie = tab.cookie();

  const hibernated = await postJson(at.base, '/stasis/hibernate', { sid }, { cookie });
  expect(hibernated.status).toBe(200);
  expect(hibernated.json).toMatchObject({ outcome: 'ok', sid, gen: 1 });
  expect(String(hibernated.json.blob).split('.')).toHaveLength(5);
  expect(await within(tab.closed, 3000, 'live socket close')).toMatchObject({ code: 4001 });

  const resumed = await postJson(at.base, '/stasis/resume', { sid, blob: hibernated.json.blob }, { cookie });
  expect(resumed.status).toBe(200);
  expect(resumed.json).toStrictEqual({ outcome: 'ok', sid, gen: 2 });

  const again = wsClient(`ws://${at.host}/stasis/live?sid=${sid}`, cookie);
  expect(await again.next<Hello>(isType('hello'))).toMatchObject({ count: 1, gen: 2, restored: true });
  again.ws.close();
}

// ---- raw HTTP over a net socket ----

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The whole text the server sent. */
  text: string;
  /** The server closed (or ended) the connection. */
  closedByServer: boolean;
  /** ms from the first write to the end. */
  elapsedMs: number;
}

/**
 * Writes `request` on a fresh TCP connection and collects everything the server sends until it closes the
 * connection; rejects after `timeoutMs`. For answers fetch cannot show (an upgrade refused, a stalled body).
 */
export function rawExchange(port: number, request: string, timeoutMs = 5000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    onCleanup(() => socket.destroy());
    const chunks: Buffer[] = [];
    let started = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server did not close the connection within ${timeoutMs} ms; got: ${Buffer.concat(chunks).toString()}`));
    }, timeoutMs);
    socket.once('connect', () => {
      started = Date.now();
      socket.write(request);
    });
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.once('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      resolve({ ...parseHttp(text), text, closedByServer: true, elapsedMs: Date.now() - started });
    });
  });
}

export function parseHttp(text: string): { status: number; headers: Record<string, string>; body: string } {
  const split = text.indexOf('\r\n\r\n');
  const head = split >= 0 ? text.slice(0, split) : text;
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1] ?? 0), headers, body: split >= 0 ? text.slice(split + 4) : '' };
}

/** A WebSocket upgrade request for `path`, as a browser would send it. */
export function upgradeRequest(path: string, host = '127.0.0.1'): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
    `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`
  );
}
