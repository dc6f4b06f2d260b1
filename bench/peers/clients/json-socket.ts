/**
 * A WebSocket (package ws) carrying JSON messages, as the bench's tabs use it: open, read the messages in
 * order, wait for the close. The floor, the HMAC + Redis peer and Stasis's live channel all speak it.
 */
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import type { BenchView } from '../../bench-app.js';
import { Inbox } from './inbox.js';

const TIMEOUT_MS = 15_000;

export interface Close {
  code: number;
  reason: string;
}

export class JsonSocket {
  /** Settles when the socket has closed, with the close frame's code and reason. */
  readonly closed: Promise<Close>;
  /** `name=value` of the cookie the upgrade's answer set (only the one named in `open`). */
  setCookie: string | undefined;
  readonly #ws: WebSocket;
  readonly #messages = new Inbox<unknown>();
  #close: Close | undefined;

  private constructor(url: string, headers: Record<string, string>, cookieName: string | undefined) {
    const ws = new WebSocket(url, { headers, handshakeTimeout: TIMEOUT_MS });
    this.#ws = ws;
    if (cookieName) {
      ws.on('upgrade', (response: IncomingMessage) => {
        const header = ([] as string[]).concat(response.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${cookieName}=`));
        this.setCookie = header?.split(';')[0];
      });
    }
    ws.on('message', (data: Buffer) => this.#messages.push(JSON.parse(data.toString())));
    this.closed = new Promise((resolve) => {
      ws.on('close', (code: number, reason: Buffer) => {
        const close = (this.#close = { code, reason: reason.toString() });
        this.#messages.end(() => new Error(`the socket closed (${close.code} ${close.reason}) before the next message`));
        resolve(close);
      });
    });
    // An error is followed by a close; the waits below report it.
    ws.on('error', () => {});
  }

  /** Starts the upgrade; messages are read with `next()`, which also reports a failed upgrade (as a close). */
  static open(url: string, options: { cookie?: string; cookieName?: string } = {}): JsonSocket {
    return new JsonSocket(url, options.cookie ? { Cookie: options.cookie } : {}, options.cookieName);
  }

  /** The next message; rejects if the socket closes first or nothing comes within 15 s. */
  next(): Promise<unknown> {
    return this.#messages.next(TIMEOUT_MS, 'message');
  }

  /** The next app view (`{ type: 'state' }`), skipping any other message. */
  async nextView(): Promise<BenchView> {
    for (;;) {
      const message = await this.next();
      if ((message as Partial<BenchView> | null)?.type === 'state') return message as BenchView;
    }
  }

  send(message: object): void {
    this.#ws.send(JSON.stringify(message));
  }

  /** Sends `text` as soon as the upgrade is through (a page's first message, sent from its `open` event). */
  sendOnOpen(text: string): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(text);
    else this.#ws.once('open', () => this.#ws.send(text));
  }

  /** Waits for the server's close (rejects after 15 s). */
  async whenClosed(): Promise<Close> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`the server did not close the socket within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A close handshake from this side; resolves once the socket has closed. */
  async close(): Promise<Close> {
    if (!this.#close) this.#ws.close(1000);
    return this.whenClosed();
  }

  /** Drops the connection without a close handshake. */
  terminate(): void {
    this.#ws.terminate();
  }
}
