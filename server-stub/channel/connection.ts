import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { CLOSE_CODES, CLOSE_REASONS, isSid } from '../../src/protocol/index.js';
import type { ResolvedConfig } from '../config.js';
import { StasisCapacityError, StasisError } from '../errors.js';
import type { AppHandlers, LiveChannel, SessionContext } from '../session/session.js';
import type { SessionManager } from '../session/session-manager.js';
import type { Logger } from '../logger.js';
import { bindingCookieHeader, clientAddress, newBindingSecret, readBindingCookie } from '../transport/binding-cookie.js';

/**
 * A socket the app already owns (a `ws` WebSocket, a Socket.IO socket, anything that carries text), as
 * Stasis needs it: to push blobs (drain, idle, checkpoints) and to close it when the session hibernates.
 */
export interface ChannelSocket {
  /** Sends one JSON text: a Stasis push (`{ type: 'stasis:hibernated', … }`) or a `session.send` message. */
  send(text: string): void;
  /** Closes the socket; `code` is one of CLOSE_CODES (4001 hibernated, 4007 draining, 4008 idle, …). */
  close(code: number, reason: string): void;
  /** Drops the socket without a close handshake (a simulated failover). Default: `close(1011, …)`. */
  terminate?(): void;
  /** Settles once the socket has closed: a drain waits for it, so the pushed blob is flushed first. */
  readonly closed?: Promise<void>;
}

export interface ConnectChannelOptions {
  /** The tab's session id (`Stasis.sid`), as the page sent it (query string, handshake auth, …). */
  sid: unknown;
  /** The upgrade or handshake request: its Cookie header carries the browser's binding cookie. */
  request: IncomingMessage | { headers: IncomingHttpHeaders };
  socket: ChannelSocket;
}

/** A Stasis session bound to the app's own socket. */
export interface StasisConnection<A = AppHandlers | void> {
  readonly sid: string;
  /** `persist`, `persistFields`, `gen` (fencing token), `restored`, `signal` (aborts on hibernate), `send`. */
  readonly session: SessionContext;
  /** What the app factory returned for this session: its persisted values, as the app chose to expose them. */
  readonly app: A;
  /** Hands one message from the page to Stasis: it counts as activity (idle policy) and reaches the app's `onMessage`. */
  message(message: unknown): Promise<void>;
  /** Activity without a message for the app (an event of another shape): keeps the idle policy informed. */
  touch(): void;
  /** The socket closed: the session stays live for the retention window, then goes to the server stores. */
  close(): void;
}

/** Why a connect was refused, as a close code and reason the page understands (see docs/protocol.md). */
export function closeFor(error: unknown): { code: number; reason: string } {
  if (error instanceof StasisError && error.code === 'rate-limited') return { code: CLOSE_CODES.tooManySessions, reason: CLOSE_REASONS.tooManySessions };
  if (error instanceof StasisCapacityError) return { code: 1013, reason: CLOSE_REASONS.serverFull }; // Try Again Later
  if (error instanceof StasisError && error.code === 'unavailable') return { code: 1012, reason: CLOSE_REASONS.draining }; // Service Restart
  if (error instanceof StasisError && error.code === 'malformed') return { code: CLOSE_CODES.badSession, reason: CLOSE_REASONS.badSid };
  return { code: CLOSE_CODES.resumeFirst, reason: `stasis:${error instanceof StasisError ? error.code : 'unavailable'}` };
}

/** Binding secrets issued to upgrade requests that had no cookie (sent back with their 101 answer). */
const issued = new WeakMap<object, string>();

/**
 * The binding secret for an upgrade `request` whose answer can still carry a Set-Cookie (a `ws` `headers`
 * event): the cookie's when it has one, else a new secret, remembered for this request (`fresh: true`: send it
 * back as a Set-Cookie, as the built-in channel does in its 101 answer).
 */
export function issueBinding(request: { headers: IncomingHttpHeaders }, cookieName: string): { secret: string; fresh: boolean } {
  const existing = readBindingCookie(request as IncomingMessage, cookieName);
  if (existing) return { secret: existing, fresh: false };
  let secret = issued.get(request);
  if (!secret) issued.set(request, (secret = newBindingSecret()));
  return { secret, fresh: true };
}

/**
 * The browser's binding secret as far as this request shows it: its cookie, or one issued to it above. None
 * (a Socket.IO handshake without the cookie yet) starts the session unbound: the first hibernate sets the
 * cookie and binds the blob to it. A secret the browser never received must never bind a session.
 */
function bindingOf(request: { headers: IncomingHttpHeaders }, cookieName: string): string | undefined {
  return readBindingCookie(request as IncomingMessage, cookieName) ?? issued.get(request);
}

/**
 * The Set-Cookie header value a handshake answer (a 101, a Socket.IO handshake) should carry so the browser
 * holds its binding cookie from its first connection; undefined when the request already has one. A session
 * whose browser never got the cookie cannot be resumed from a blob the server pushes (drain, idle,
 * checkpoint) before its first hibernate.
 */
export function bindingSetCookie(request: IncomingMessage, config: ResolvedConfig): string | undefined {
  const binding = issueBinding(request, config.cookieName);
  return binding.fresh ? bindingCookieHeader(request, config.cookieName, binding.secret, config.trustProxy) : undefined;
}

let warnedUnbound = false;

/** Binds a session to an app-owned socket: the one code path of the built-in channel and the adapters. */
export async function connectChannel<A>(
  manager: SessionManager,
  config: ResolvedConfig,
  { sid, request, socket }: ConnectChannelOptions,
  logger?: Logger,
): Promise<StasisConnection<A>> {
  if (!isSid(sid)) throw new StasisError('malformed', 'sid must be a base64url string of 22-64 characters (Stasis.sid).');
  const channel: LiveChannel = {
    send: (text) => socket.send(text),
    close: (code, reason) => socket.close(code, reason),
    terminate: () => (socket.terminate ? socket.terminate() : socket.close(1011, CLOSE_REASONS.dropped)),
    ...(socket.closed ? { whenClosed: socket.closed } : {}),
  };
  const binding = bindingOf(request, config.cookieName);
  // No cookie: a browser seen for the first time (or a script). Counted per address, as any number of them can come.
  const firstVisit = readBindingCookie(request as IncomingMessage, config.cookieName) === undefined;
  const address = firstVisit ? clientAddress(request as IncomingMessage, config.trustProxy) : undefined;
  if (!binding && !warnedUnbound) {
    warnedUnbound = true;
    logger?.warn(
      'A live channel connected without the binding cookie: a blob pushed to it (drain, idle, checkpoint) before its first ' +
        'hibernate cannot resume. Send stasis.bindingCookie(request) with your handshake answer (the adapters do).',
    );
  }
  const session = await manager.connect(sid, channel, binding, address);
  let closed = false;
  return {
    sid,
    session,
    app: session.app as A,
    message: (message) => (closed ? Promise.resolve() : manager.deliver(session, message)),
    touch: () => manager.touch(session),
    close: () => {
      if (closed) return;
      closed = true;
      manager.disconnect(session, channel);
    },
  };
}
