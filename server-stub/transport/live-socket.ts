import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { CLOSE_CODES, CLOSE_REASONS, encodeWithBlob, LIVE_RESUME_ANSWER, LIVE_RESUME_MESSAGE, LIVE_RESUME_PARAM, ROUTES, type LiveResumeAnswer } from '../../src/protocol/index.js';
import type { ResolvedConfig } from '../config.js';
import { StasisError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SessionManager } from '../session/session-manager.js';
import { bindingSetCookie, closeFor, connectChannel, issueBinding, type StasisConnection } from '../channel/connection.js';
import { clientAddress, readBindingCookie } from './binding-cookie.js';
import { isOriginAllowed } from './origin-policy.js';
import { messageBytes, messageText } from './message-text.js';
import { RequestAbortedError } from './request-body.js';
import type { ResumeGate } from './resume-gate.js';

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
 * With `resume=1` the socket's first message is a resume (docs/protocol.md, "Resume on the live channel"),
 * decided by the same gate as `POST resume`, and answered before anything else.
 */
export function createLiveSocket(
  manager: SessionManager,
  config: ResolvedConfig,
  logger: Logger,
  resumeGate: ResumeGate,
  Server: WebSocketServerClass | undefined,
) {
  const path = `${config.basePath}${ROUTES.live}`;
  const wss = Server ? new Server({ noServer: true, maxPayload: MAX_MESSAGE_BYTES }) : undefined;
  // A resume socket's first message may be as large as a `POST resume` body: its server lets that through, and
  // serve() holds its later messages to the 256 KiB that ws enforces on plain sockets.
  const resumeWss = Server ? new Server({ noServer: true, maxPayload: Math.max(MAX_MESSAGE_BYTES, config.maxBodyBytes) }) : undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  if (wss && resumeWss) {
    const alive = new WeakSet<WebSocket>();
    heartbeat = setInterval(() => {
      for (const socket of [...wss.clients, ...resumeWss.clients]) {
        if (!alive.has(socket)) {
          socket.terminate();
          continue;
        }
        alive.delete(socket);
        socket.ping();
      }
    }, HEARTBEAT_MS);
    heartbeat.unref();
    for (const server of [wss, resumeWss]) {
      // A browser gets its binding cookie with its first live channel, so its sessions can be counted and capped
      // (and a cookieless key-bound resume binds its session to this very cookie).
      server.on('headers', (headers, req) => {
        const cookie = bindingSetCookie(req, config);
        if (cookie) headers.push(`Set-Cookie: ${cookie}`);
      });
      server.on('connection', (socket: WebSocket, req: IncomingMessage) => {
        alive.add(socket);
        socket.on('pong', () => alive.add(socket));
        serve(socket, req, () => alive.add(socket), server === resumeWss);
      });
    }
  }

  function serve(socket: WebSocket, req: IncomingMessage, onActivity: () => void, resuming: boolean): void {
    const sid = new URL(req.url ?? '/', 'http://localhost').searchParams.get('sid');
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    // Looking the session up may ask the fleet and the stores first: hold the page's messages meanwhile.
    const early: unknown[] = [];
    let connection: StasisConnection<unknown> | undefined;
    let gone = false;
    /** Closed by this side (4009, 4010, 1009): later messages are dropped and nothing attaches. */
    let shut = false;
    /** A resume socket until its first message came: that message is the resume request, not the app's. */
    let takeResume: ((data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void) | undefined;
    const shutWith = (code: number, reason?: string) => {
      shut = true;
      early.length = 0;
      socket.close(code, reason);
    };
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
      if (takeResume) return takeResume(data, isBinary);
      if (shut) return;
      // Only the resume server lets more through (see resumeWss); the close ws itself would have made.
      if (resuming && messageBytes(data) > MAX_MESSAGE_BYTES) return shutWith(1009);
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
      if (connection) deliver(connection, message);
      else if (early.length < MAX_EARLY_MESSAGES) early.push(message);
      // Dropping some silently would break the order the app relies on: refuse the socket instead.
      else shutWith(CLOSE_CODES.tooManyEarlyMessages, CLOSE_REASONS.tooManyEarlyMessages);
    });
    socket.on('close', () => {
      gone = true;
      connection?.close();
    });
    socket.on('error', () => socket.terminate());

    const attach = () =>
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
          if (gone || shut) return attached.close();
          // Queued in one go, before any later message event can run: the held messages come first.
          connection = attached;
          for (const message of early.splice(0)) deliver(attached, message);
        },
        (error: unknown) => {
          if (shut) return; // already closed by this side
          if (!(error instanceof StasisError)) logger.error(`live connect failed: ${(error as Error)?.stack ?? String(error)}`);
          const { code, reason } = closeFor(error);
          socket.close(code, reason);
        },
      );
    if (!resuming) return void attach();

    let timer: NodeJS.Timeout | undefined;
    const request = new Promise<Record<string, unknown>>((resolve, reject) => {
      takeResume = (data, isBinary) => {
        stopWaiting();
        const body = resumeRequest(data, isBinary, sid);
        if (body instanceof StasisError) reject(body);
        else resolve(body);
      };
      timer = setTimeout(() => {
        stopWaiting();
        reject(new StasisError('malformed', `No ${LIVE_RESUME_MESSAGE} message came within ${config.bodyTimeoutMs} ms.`));
      }, config.bodyTimeoutMs);
      // Nobody left to answer: like a POST whose client went away, not a resume outcome.
      void closed.then(() => {
        if (!takeResume) return;
        stopWaiting();
        reject(new RequestAbortedError(0, undefined, 'close'));
      });
    });
    request.catch(() => {}); // a limit may answer without reading it: the gate sees the rejection when it does
    function stopWaiting(): void {
      takeResume = undefined;
      clearTimeout(timer);
    }
    const answer = (reply: LiveResumeAnswer) => socket.readyState === socket.OPEN && socket.send(encodeWithBlob(reply, 'checkpoint', true));
    resumeGate
      .resume({
        read: () => request,
        cookie: readBindingCookie(req, config.cookieName),
        // The secret the 101 already carried as Set-Cookie (the `headers` event above issued it).
        issueBinding: () => issueBinding(req, config.cookieName).secret,
        address: clientAddress(req, config.trustProxy),
        htm: 'GET',
        htu: path,
      })
      .then(
        ({ answer: verdict }) => {
          stopWaiting(); // a limit answered before the message came
          if (gone || shut) return; // an `ok` session stays live for the retention window, as after a POST resume
          answer({ type: LIVE_RESUME_ANSWER, ...verdict });
          // Sent before the connect: nothing the app sends on attach can come ahead of the answer.
          if (verdict.outcome === 'ok') void attach();
          else shutWith(CLOSE_CODES.resumeRefused, `stasis:${verdict.outcome}`);
        },
        (error: unknown) => {
          stopWaiting();
          if (error instanceof RequestAbortedError || gone || shut) return;
          logger.error(`live resume failed: ${(error as Error)?.stack ?? String(error)}`);
          answer({ type: LIVE_RESUME_ANSWER, outcome: 'unavailable', message: 'The server could not handle the resume; try again.' });
          shutWith(CLOSE_CODES.resumeRefused, 'stasis:unavailable');
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
      if (!wss || !resumeWss) {
        if (!warned) logger.error(`${path}: the built-in live channel needs the "ws" package (npm install ws), or bring your own channel.`);
        warned = true;
        socket.end('HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return true;
      }
      const server = new URL(req.url ?? '/', 'http://localhost').searchParams.get(LIVE_RESUME_PARAM) === '1' ? resumeWss : wss;
      server.handleUpgrade(req, socket, head, (ws) => server.emit('connection', ws, req));
      return true;
    },
    close(): void {
      clearInterval(heartbeat);
      for (const server of [wss, resumeWss]) {
        if (!server) continue;
        for (const socket of server.clients) socket.terminate();
        server.close();
      }
    },
  };
}

/** The first message of a resume socket as the body of a `POST resume`; `malformed` unless it is a `stasis:resume` for the socket's sid. */
function resumeRequest(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean, sid: string | null): Record<string, unknown> | StasisError {
  let message: unknown;
  try {
    message = isBinary ? undefined : JSON.parse(messageText(data));
  } catch {
    // not JSON: refused below
  }
  const request = message as Record<string, unknown> | undefined;
  if (typeof request !== 'object' || request === null || Array.isArray(request) || request.type !== LIVE_RESUME_MESSAGE) {
    return new StasisError('malformed', `The first message with ${LIVE_RESUME_PARAM}=1 must be a JSON ${LIVE_RESUME_MESSAGE} message.`);
  }
  if (request.sid !== sid) return new StasisError('malformed', `The ${LIVE_RESUME_MESSAGE} message names another sid than the socket's query.`);
  return request;
}
