import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { CLOSE_CODES, CLOSE_REASONS, ROUTES } from '../../src/protocol/index.js';
import type { ResolvedConfig } from '../config.js';
import { StasisError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SessionManager } from '../session/session-manager.js';
import { bindingSetCookie, closeFor, connectChannel, type StasisConnection } from '../channel/connection.js';
import { isOriginAllowed } from './origin-policy.js';
import { messageText } from './message-text.js';

const MAX_MESSAGE_BYTES = 256 * 1024;
const HEARTBEAT_MS = 30_000;
/** Messages held per socket while its session is being attached; one more closes it with 4009. */
const MAX_EARLY_MESSAGES = 64;

/** The `ws` package's server class, loaded by the caller (ws is an optional peer dependency). */
export type WebSocketServerClass = typeof WebSocketServer;

/**
 * The built-in live channel: a WebSocket per tab at `{basePath}/live?sid=…`, carrying the app's JSON
 * messages. A ping heartbeat drops sockets that went silent (a backgrounded phone may never send `close`).
 * Without the `ws` package an upgrade of the live path is answered 501 (the HTTP endpoints still work).
 */
export function createLiveSocket(manager: SessionManager, config: ResolvedConfig, logger: Logger, Server: WebSocketServerClass | undefined) {
  const path = `${config.basePath}${ROUTES.live}`;
  const wss = Server ? new Server({ noServer: true, maxPayload: MAX_MESSAGE_BYTES }) : undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  if (wss) {
    // A browser gets its binding cookie with its first live channel, so its sessions can be counted and capped.
    wss.on('headers', (headers, req) => {
      const cookie = bindingSetCookie(req, config);
      if (cookie) headers.push(`Set-Cookie: ${cookie}`);
    });
    const alive = new WeakSet<WebSocket>();
    heartbeat = setInterval(() => {
      for (const socket of wss.clients) {
        if (!alive.has(socket)) {
          socket.terminate();
          continue;
        }
        alive.delete(socket);
        socket.ping();
      }
    }, HEARTBEAT_MS);
    heartbeat.unref();
    wss.on('connection', (socket: WebSocket, req: IncomingMessage) => {
      alive.add(socket);
      socket.on('pong', () => alive.add(socket));
      serve(socket, req, () => alive.add(socket));
    });
  }

  function serve(socket: WebSocket, req: IncomingMessage, onActivity: () => void): void {
    const sid = new URL(req.url ?? '/', 'http://localhost').searchParams.get('sid');
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    // Looking the session up may ask the fleet and the stores first: hold the page's messages meanwhile.
    const early: unknown[] = [];
    let connection: StasisConnection<unknown> | undefined;
    let gone = false;
    let overflowed = false;
    // One chain per socket: each message reaches the app once the one before it was handled, in arrival
    // order, held or not (a message that arrives while the held ones are replayed waits its turn).
    let chain: Promise<void> = Promise.resolve();
    const deliver = (attached: StasisConnection<unknown>, message: unknown) => {
      chain = chain
        .then(() => attached.message(message))
        .catch((error: unknown) => logger.error(`live message failed: ${(error as Error)?.stack ?? String(error)}`));
    };
    socket.on('message', (data, isBinary) => {
      onActivity();
      let message: unknown;
      try {
        if (isBinary) throw new Error('binary');
        message = JSON.parse(messageText(data));
      } catch {
        if (socket.readyState === socket.OPEN) {
          socket.send(JSON.stringify({ type: 'stasis:error', code: 'malformed', message: 'Messages must be JSON text.' }));
        }
        return;
      }
      if (overflowed) return;
      if (connection) deliver(connection, message);
      else if (early.length < MAX_EARLY_MESSAGES) early.push(message);
      else {
        // Dropping some silently would break the order the app relies on: refuse the socket instead.
        overflowed = true;
        early.length = 0;
        socket.close(CLOSE_CODES.tooManyEarlyMessages, CLOSE_REASONS.tooManyEarlyMessages);
      }
    });
    socket.on('close', () => {
      gone = true;
      connection?.close();
    });
    socket.on('error', () => socket.terminate());
    connectChannel<unknown>(manager, config, {
      sid,
      request: req,
      socket: {
        send: (text) => socket.readyState === socket.OPEN && socket.send(text),
        close: (code, reason) => socket.close(code, reason),
        terminate: () => socket.terminate(),
        closed,
      },
    }).then(
      (attached) => {
        if (gone || overflowed) return attached.close();
        // Queued in one go, before any later message event can run: the held messages come first.
        connection = attached;
        for (const message of early.splice(0)) deliver(attached, message);
      },
      (error: unknown) => {
        if (overflowed) return; // already closed with 4009
        if (!(error instanceof StasisError)) logger.error(`live connect failed: ${(error as Error)?.stack ?? String(error)}`);
        const { code, reason } = closeFor(error);
        socket.close(code, reason);
      },
    );
  }

  let warned = false;
  return {
    path,
    /** Handles an HTTP upgrade for the live path; false (the socket untouched) for any other path. */
    handleUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
      if (new URL(req.url ?? '/', 'http://localhost').pathname !== path) return false;
      if (!isOriginAllowed(req, config.allowedOrigins, config.trustProxy)) {
        socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return true;
      }
      if (!wss) {
        if (!warned) logger.error(`${path}: the built-in live channel needs the "ws" package (npm install ws), or bring your own channel.`);
        warned = true;
        socket.end('HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return true;
      }
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
      return true;
    },
    close(): void {
      clearInterval(heartbeat);
      if (!wss) return;
      for (const socket of wss.clients) socket.terminate();
      wss.close();
    },
  };
}
