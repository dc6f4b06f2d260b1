/**
 * `stasis/ws`: Stasis on a `ws` WebSocketServer your app already has. Your app keeps its socket, its path and
 * its per-connection code; each connection gets its Stasis session first.
 *
 *   const wss = new WebSocketServer({ server, path: '/app' });          // or { noServer: true } + your router
 *   withStasis(wss, stasis, (socket, { session, app }) => { … });       // the page connects to /app?sid=<Stasis.sid>
 *
 * Stasis's pushes (drain, idle, checkpoints) arrive on the socket as JSON text: hand each message to
 * `Stasis.receive(message)` first. A hibernate closes the socket with 4001; reconnect on Stasis's `ready`.
 */
import type { IncomingMessage } from 'node:http';
import type { WebSocket, WebSocketServer } from 'ws';
import { closeFor, type StasisConnection } from '../channel/connection.js';
import { StasisError } from '../errors.js';
import { messageText } from '../transport/message-text.js';
import type { StasisServer } from '../index.js';

export interface WithStasisOptions {
  /** Where the page put its session id. Default: the `sid` query parameter of the upgrade URL. */
  sid?: (request: IncomingMessage) => unknown;
}

/** Called once the connection's session is attached (new, reattached or restored). */
export type StasisConnectionListener<A> = (socket: WebSocket, connection: StasisConnection<A>, request: IncomingMessage) => void;

/**
 * Binds every connection of `wss` to its Stasis session before `onConnection` sees it. Messages the page sends
 * meanwhile are held (the socket is paused). JSON text messages then reach the app factory's `onMessage` too
 * and count as activity for the idle policy. A connection Stasis refuses is closed with the code of
 * `closeFor` (4003, 4004, 4005, 1012). Sets the binding cookie in the 101 answer when the browser has none.
 * Returns a function that stops binding new connections.
 */
export function withStasis<A>(
  wss: WebSocketServer,
  stasis: StasisServer<A>,
  onConnection: StasisConnectionListener<A>,
  options: WithStasisOptions = {},
): () => void {
  const readSid = options.sid ?? ((request: IncomingMessage) => new URL(request.url ?? '/', 'http://localhost').searchParams.get('sid'));
  const onHeaders = (headers: string[], request: IncomingMessage) => {
    const cookie = stasis.bindingCookie(request);
    if (cookie) headers.push(`Set-Cookie: ${cookie}`);
  };
  const onSocket = (socket: WebSocket, request: IncomingMessage) => {
    socket.pause();
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    stasis
      .connectChannel({
        sid: readSid(request),
        request,
        socket: {
          send: (text) => socket.readyState === socket.OPEN && socket.send(text),
          close: (code, reason) => socket.close(code, reason),
          terminate: () => socket.terminate(),
          closed,
        },
      })
      .then(
        (connection) => {
          if (socket.readyState !== socket.OPEN) return connection.close();
          socket.on('close', () => connection.close());
          socket.on('message', (data, isBinary) => {
            if (isBinary) return connection.touch();
            let message: unknown;
            try {
              message = JSON.parse(messageText(data));
            } catch {
              return connection.touch();
            }
            void connection.message(message);
          });
          try {
            onConnection(socket, connection, request);
          } finally {
            socket.resume();
          }
        },
        (error: unknown) => {
          if (!(error instanceof StasisError)) console.error('[stasis] ws connect failed', error);
          const { code, reason } = closeFor(error);
          socket.close(code, reason);
          // Read again: a paused socket never sees the page's close frame, and the close would wait for
          // ws's 30 s close timer.
          socket.resume();
        },
      );
  };
  wss.on('headers', onHeaders);
  wss.on('connection', onSocket);
  return () => {
    wss.off('headers', onHeaders);
    wss.off('connection', onSocket);
  };
}
