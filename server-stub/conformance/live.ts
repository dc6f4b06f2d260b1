/**
 * The live channel client of the conformance tool, on the `ws` package (an optional peer dependency of Stasis:
 * without it the live checks fail with a message saying so). Every wait has a timeout; nothing here throws
 * once a client exists.
 */
import type { IncomingMessage } from 'node:http';
import { isStateMessage, type StateMessage } from './contract.js';

/** The part of `ws`'s WebSocket the tool uses (declared here so the package's types never name `ws`). */
interface WsSocket {
  readonly readyState: number;
  on(event: 'open', listener: () => void): void;
  on(event: 'upgrade', listener: (response: IncomingMessage) => void): void;
  on(event: 'unexpected-response', listener: (request: { destroy(): void }, response: IncomingMessage) => void): void;
  on(event: 'message', listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): void;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  send(data: string, callback?: (error?: Error) => void): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
}
type WsConstructor = new (url: string, options: Record<string, unknown>) => WsSocket;

export interface CloseInfo {
  code: number;
  reason: string;
}

export interface LiveConnection {
  /** `open` once upgraded; `refused` when the server answered the upgrade with another status; `failed`: no answer. */
  readonly outcome: 'open' | 'refused' | 'failed';
  /** The HTTP status of a refused upgrade. */
  readonly refusedStatus?: number;
  readonly error?: string;
  /** Set-Cookie lines of the 101 (or of the refusal). */
  readonly setCookies: string[];
  /** Every message received, parsed (a text that is not JSON is kept as the string). */
  readonly received: unknown[];
  /** The close frame once the socket closed; undefined while open. */
  readonly closeInfo: CloseInfo | undefined;
  send(message: unknown): void;
  /** The next unconsumed message matching `match`, or undefined after `timeoutMs` (or when the socket closed). */
  next(match: (message: unknown) => boolean, timeoutMs: number): Promise<unknown>;
  /** The next `conformance:state` message. */
  state(timeoutMs: number): Promise<StateMessage | undefined>;
  /** The close frame, or undefined when none came within `timeoutMs`. */
  closed(timeoutMs: number): Promise<CloseInfo | undefined>;
  close(): void;
}

export interface LiveClient {
  connect(query: string, options?: { cookie?: string | null; origin?: string }): Promise<LiveConnection>;
  /** The ws: or wss: URL of the live channel (without the query). */
  readonly url: string;
}

/** Loads `ws` and returns a client for `{base}/live`; throws an Error with a clear message when `ws` is missing. */
export async function createLiveClient(base: string, cookieName: string, timeoutMs: number, onCleanup: (fn: () => unknown) => void): Promise<LiveClient> {
  const WebSocket = await loadWs();
  const url = `${base.replace(/^http/, 'ws')}/live`;
  return {
    url,
    connect(query, options = {}) {
      const headers: Record<string, string> = {};
      if (options.cookie !== undefined && options.cookie !== null) headers.Cookie = `${cookieName}=${options.cookie}`;
      const socket = new WebSocket(`${url}${query ? `?${query}` : ''}`, {
        headers,
        handshakeTimeout: timeoutMs,
        maxPayload: 64 * 1024 * 1024,
        ...(options.origin !== undefined ? { origin: options.origin } : {}),
      });
      onCleanup(() => socket.terminate());
      return wrap(socket, timeoutMs);
    },
  };
}

async function loadWs(): Promise<WsConstructor> {
  let loaded: { WebSocket?: WsConstructor; default?: WsConstructor | { WebSocket?: WsConstructor } };
  try {
    loaded = await import('ws');
  } catch (error) {
    throw new Error(`the live channel checks need the "ws" package (npm install ws): ${(error as Error).message}`, { cause: error });
  }
  const found = loaded.WebSocket ?? (typeof loaded.default === 'function' ? loaded.default : loaded.default?.WebSocket);
  if (!found) throw new Error('the "ws" package loaded but has no WebSocket export');
  return found;
}

function wrap(socket: WsSocket, timeoutMs: number): Promise<LiveConnection> {
  const received: unknown[] = [];
  const unread: unknown[] = [];
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const waiter of [...waiters]) waiter();
  };
  let setCookies: string[] = [];
  let closeInfo: CloseInfo | undefined;
  let outcome: LiveConnection['outcome'] = 'failed';
  let refusedStatus: number | undefined;
  let error: string | undefined;

  const connection: LiveConnection = {
    get outcome() {
      return outcome;
    },
    get refusedStatus() {
      return refusedStatus;
    },
    get error() {
      return error;
    },
    get setCookies() {
      return setCookies;
    },
    received,
    get closeInfo() {
      return closeInfo;
    },
    send(message) {
      if (socket.readyState !== 1) return;
      socket.send(typeof message === 'string' ? message : JSON.stringify(message), () => undefined);
    },
    next(match, waitMs) {
      return new Promise((resolve) => {
        const look = (): boolean => {
          const index = unread.findIndex(match);
          if (index >= 0) {
            const [message] = unread.splice(index, 1);
            finish(message);
            return true;
          }
          if (closeInfo || outcome !== 'open') {
            finish(undefined);
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => finish(undefined), waitMs);
        const finish = (message: unknown) => {
          clearTimeout(timer);
          waiters.delete(look);
          resolve(message);
        };
        if (!look()) waiters.add(look);
      });
    },
    async state(waitMs) {
      return (await connection.next(isStateMessage, waitMs)) as StateMessage | undefined;
    },
    closed(waitMs) {
      return new Promise((resolve) => {
        if (closeInfo || outcome !== 'open') return resolve(closeInfo);
        const timer = setTimeout(() => finish(), waitMs);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(closeInfo);
        };
        const waiter = () => {
          if (closeInfo || outcome !== 'open') finish();
        };
        waiters.add(waiter);
      });
    },
    close() {
      try {
        socket.close(1000, 'conformance');
      } catch {
        socket.terminate();
      }
    },
  };

  return new Promise((resolve) => {
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(connection);
    };
    const timer = setTimeout(() => {
      error = `no upgrade answer within ${timeoutMs} ms`;
      socket.terminate();
      settle();
    }, timeoutMs + 500);
    socket.on('upgrade', (response) => {
      setCookies = response.headers['set-cookie'] ?? [];
    });
    socket.on('unexpected-response', (request, response) => {
      outcome = 'refused';
      refusedStatus = response.statusCode;
      setCookies = response.headers['set-cookie'] ?? [];
      response.resume();
      request.destroy();
      settle();
    });
    socket.on('open', () => {
      outcome = 'open';
      settle();
    });
    socket.on('message', (data, isBinary) => {
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
      let message: unknown = text;
      if (!isBinary) {
        try {
          message = JSON.parse(text);
        } catch {
          message = text;
        }
      }
      received.push(message);
      unread.push(message);
      wake();
    });
    socket.on('close', (code, reason) => {
      closeInfo = { code, reason: reason.toString('utf8') };
      settle();
      wake();
    });
    socket.on('error', (problem) => {
      error ??= problem.message;
      settle();
      wake();
    });
  });
}

/** `4001 "stasis:hibernated"`, or what happened instead. */
export function describeClose(info: CloseInfo | undefined, connection?: LiveConnection): string {
  if (info) return `close ${info.code}${info.reason ? ` "${info.reason}"` : ''}`;
  if (connection?.outcome === 'refused') return `upgrade refused with HTTP ${connection.refusedStatus}`;
  if (connection?.outcome === 'failed') return `no connection (${connection.error ?? 'no answer'})`;
  return 'no close frame';
}
