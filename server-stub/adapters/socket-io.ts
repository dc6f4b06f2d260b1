/**
 * `stasis/socket.io`: Stasis on your Socket.IO 4 server, as a namespace middleware. Your app keeps its
 * Socket.IO connection and handlers; each socket gets its Stasis session before `connection` fires.
 *
 *   io.use(stasisMiddleware(stasis, { io }));
 *   io.on('connection', (socket) => { const { session, app } = socket.data.stasis; … });
 *
 * The page passes its session id in the handshake and hands Stasis's messages to `Stasis.receive`:
 *
 *   const socket = io({ autoConnect: false, auth: (cb) => cb({ sid: Stasis.sid }) });
 *   socket.on('stasis', (message) => Stasis.receive(message));
 *   Stasis.on('ready', () => { socket.disconnect(); socket.connect(); });
 */
import type { Server, Socket } from 'socket.io';
import { closeFor, type StasisConnection } from '../channel/connection.js';
import { StasisError } from '../errors.js';
import type { StasisServer } from '../index.js';

/** The event Stasis's messages (pushed blobs, `session.send`) travel on. */
export const STASIS_EVENT = 'stasis';

export interface StasisMiddlewareOptions {
  /**
   * Your Socket.IO server: Stasis sets the browser's binding cookie on its first handshake (engine.io's
   * `initial_headers`), so a blob pushed before the first hibernate (a drain, an idle pause) can resume.
   */
  io: Pick<Server, 'engine'>;
  /** Where the page put its session id. Default: `socket.handshake.auth.sid`, else the `sid` query parameter. */
  sid?: (socket: Socket) => unknown;
  /** The event Stasis's messages are emitted on. Default `stasis`. */
  event?: string;
}

const cookieEngines = new WeakSet<object>();

/** The first request of each engine.io connection (polling or WebSocket) answers with the binding cookie. */
function setCookieOnHandshake(engine: Server['engine'], stasis: StasisServer<unknown>): void {
  if (cookieEngines.has(engine)) return;
  cookieEngines.add(engine);
  engine.on('initial_headers', (headers: Record<string, string | string[]>, request: Parameters<StasisServer['bindingCookie']>[0]) => {
    const cookie = stasis.bindingCookie(request);
    if (!cookie) return;
    const existing = headers['set-cookie']; // engine.io's own `cookie` option may have set one
    headers['set-cookie'] = existing === undefined ? cookie : [...(Array.isArray(existing) ? existing : [existing]), cookie];
  });
}

/** `socket.data.stasis` after the middleware ran. */
export interface StasisSocketData<A = unknown> {
  stasis: StasisConnection<A>;
}

/** A refused connect: the page's `connect_error` carries `err.data = { code, reason }` (close codes as in the protocol). */
export interface StasisConnectError extends Error {
  data: { code: number; reason: string };
}

/**
 * A namespace middleware (`io.use(…)` or `io.of('/x').use(…)`) that binds each socket to its Stasis session
 * and puts it on `socket.data.stasis`. A hibernate, drain or idle push disconnects the socket from the server
 * side (Socket.IO does not reconnect by itself then: reconnect on Stasis's `ready`). A simulated abrupt
 * failover closes the underlying connection instead, and the client reconnects as after any network loss.
 * Every event from the page counts as activity for the idle policy.
 */
export function stasisMiddleware<A>(
  stasis: StasisServer<A>,
  options: StasisMiddlewareOptions,
): (socket: Socket, next: (error?: Error) => void) => void {
  if (!options?.io?.engine) throw new TypeError('stasisMiddleware(stasis, { io }) needs your Socket.IO server, to set the binding cookie on the handshake.');
  setCookieOnHandshake(options.io.engine, stasis);
  const event = options.event ?? STASIS_EVENT;
  const readSid = options.sid ?? ((socket: Socket) => (socket.handshake.auth as { sid?: unknown } | undefined)?.sid ?? socket.handshake.query.sid);
  return (socket, next) => {
    const closed = new Promise<void>((resolve) => {
      socket.once('disconnect', () => resolve());
      socket.conn.once('close', () => resolve());
    });
    stasis
      .connectChannel({
        sid: readSid(socket),
        request: socket.request,
        socket: {
          send: (text) => socket.connected && socket.emit(event, JSON.parse(text)),
          // Stasis's own codes (hibernated, draining, idle, superseded): a server-side disconnect, which Socket.IO
          // does not retry; the page reconnects on `ready`. Others (a simulated move, 1012): drop the connection,
          // so the client reconnects by itself as after any network loss.
          close: (code) => (code >= 4000 ? socket.disconnect() : socket.conn.close()),
          terminate: () => socket.conn.close(),
          closed,
        },
      })
      .then(
        (connection) => {
          (socket.data as StasisSocketData<A>).stasis = connection;
          socket.onAny(() => connection.touch());
          // `disconnect` never fires for a socket whose connection dropped before the middleware finished.
          socket.once('disconnect', () => connection.close());
          socket.conn.once('close', () => connection.close());
          if (socket.conn.readyState === 'closed') connection.close();
          next();
        },
        (error: unknown) => {
          if (!(error instanceof StasisError)) console.error('[stasis] socket.io connect failed', error);
          const refused = new Error(error instanceof Error ? error.message : 'Stasis refused the session') as StasisConnectError;
          refused.data = closeFor(error);
          next(refused);
        },
      );
  };
}
