import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CLOSE_CODES, ROUTES, isSid } from '../../src/protocol/index.js';
import type { ResolvedConfig } from '../config.js';
import { StasisError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { LiveChannel, Session } from '../session/session.js';
import type { SessionManager } from '../session/session-manager.js';
import { bindingCookieHeader, newBindingSecret, readBindingCookie } from './binding-cookie.js';
import { isOriginAllowed } from './origin-policy.js';

/** The binding secret an upgrade request will use: its cookie's, or a new one sent back with the 101. */
const upgradeBindings = new WeakMap<IncomingMessage, { secret: string; fresh: boolean }>();

const MAX_MESSAGE_BYTES = 256 * 1024;
const HEARTBEAT_MS = 30_000;

/**
 * The live channel: a WebSocket per tab at `{basePath}/live?sid=…`, carrying the app's JSON messages.
 * A ping heartbeat drops sockets that went silent (a backgrounded phone may never send `close`).
 */
export function createLiveSocket(manager: SessionManager, config: ResolvedConfig, logger: Logger) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  // A browser gets its binding cookie with its first live channel, so its sessions can be counted and capped.
  wss.on('headers', (headers, req) => {
    const binding = upgradeBindings.get(req);
    if (binding?.fresh) headers.push(`Set-Cookie: ${bindingCookieHeader(req, config.cookieName, binding.secret, config.trustProxy)}`);
  });
  const alive = new WeakSet<WebSocket>();
  const heartbeat = setInterval(() => {
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
    const sid = new URL(req.url ?? '/', 'http://localhost').searchParams.get('sid');
    if (!isSid(sid)) {
      socket.close(CLOSE_CODES.badSession, 'stasis:bad-sid');
      return;
    }
    const channel: LiveChannel = {
      send: (text) => socket.readyState === socket.OPEN && socket.send(text),
      close: (code, reason) => socket.close(code, reason),
      whenClosed: new Promise<void>((resolve) => socket.once('close', () => resolve())),
    };
    // Looking the session up may ask the fleet and the stores first: hold the page's messages meanwhile.
    const early: unknown[] = [];
    let live: Session | undefined;
    let closed = false;
    socket.on('message', (data, isBinary) => {
      alive.add(socket);
      let message: unknown;
      try {
        if (isBinary) throw new Error('binary');
        message = JSON.parse(data.toString());
      } catch {
        channel.send(JSON.stringify({ type: 'stasis:error', code: 'malformed', message: 'Messages must be JSON text.' }));
        return;
      }
      if (live) void manager.deliver(live, message);
      else if (early.length < 64) early.push(message);
    });
    socket.on('close', () => {
      closed = true;
      if (live) manager.disconnect(live, channel);
    });
    socket.on('error', () => socket.terminate());
    manager.connect(sid, channel, upgradeBindings.get(req)?.secret).then(
      async (session) => {
        if (closed) {
          manager.disconnect(session, channel);
          return;
        }
        live = session;
        for (const message of early.splice(0)) await manager.deliver(session, message);
      },
      (error: unknown) => {
        if (error instanceof StasisError && error.code === 'rate-limited') {
          socket.close(CLOSE_CODES.tooManySessions, 'stasis:too-many-sessions');
        } else if (error instanceof StasisError && error.code === 'unavailable') {
          socket.close(1012, 'stasis:draining'); // Service Restart: try again (another instance)
        } else {
          if (!(error instanceof StasisError)) logger.error(`live connect failed: ${(error as Error)?.stack ?? error}`);
          socket.close(CLOSE_CODES.resumeFirst, `stasis:${error instanceof StasisError ? error.code : 'unavailable'}`);
        }
      },
    );
  });

  const path = `${config.basePath}${ROUTES.live}`;
  return {
    /** Handles an HTTP upgrade for the live path; false for any other path. */
    handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
      if (new URL(req.url ?? '/', 'http://localhost').pathname !== path) return false;
      if (!isOriginAllowed(req, config.allowedOrigins, config.trustProxy)) {
        socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return true;
      }
      const existing = readBindingCookie(req, config.cookieName);
      upgradeBindings.set(req, { secret: existing ?? newBindingSecret(), fresh: !existing });
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
      return true;
    },
    close(): void {
      clearInterval(heartbeat);
      for (const socket of wss.clients) socket.terminate();
      wss.close();
    },
  };
}
