/**
 * The protocol as a client without a browser speaks it (docs/protocol.md): the two POST endpoints and the live
 * WebSocket. Every answer is checked against the documented set (src/protocol OUTCOMES, HTTP_STATUS, close
 * codes) here, in one place, so the client model never has to guess what an odd answer meant.
 */
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { CLOSE_CODES, HTTP_STATUS, isOutcome, isPushedBlob, type Outcome, type PushedBlob } from '../../src/protocol/index.js';

export interface Answer {
  /** What the client acts on. An answer outside the protocol counts as `unavailable`, as the worker does. */
  outcome: Outcome;
  status: number;
  body: Record<string, unknown>;
  /** Set when the answer is outside the documented set: why (an nginx page, an unknown outcome, …). */
  undocumented?: string;
  /** `name=value` of a binding cookie the answer set. */
  cookie?: string;
  ms: number;
}

/** The body-timeout answer (408 + `unavailable`) is documented beside HTTP_STATUS. */
function documentedStatus(outcome: Outcome, status: number): boolean {
  return HTTP_STATUS[outcome] === status || (outcome === 'unavailable' && status === 408);
}

export async function post(url: string, body: object, cookie: string | undefined, timeoutMs: number): Promise<Answer> {
  const started = Date.now();
  const unavailable = (status: number, undocumented: string, parsed: Record<string, unknown> = {}): Answer => ({
    outcome: 'unavailable',
    status,
    body: parsed,
    undocumented,
    ms: Date.now() - started,
  });
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(cookie ? { Cookie: cookie } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    // A hang is as bad as a wrong answer: the worker gives up after 10 s and the page sees `unavailable`.
    const name = (error as Error).name === 'TimeoutError' ? `timeout-${timeoutMs}ms` : ((error as { cause?: { code?: string } }).cause?.code ?? 'network-error');
    return unavailable(0, `no-answer:${name}`);
  }
  const cookieHeader = response.headers.getSetCookie().find((c) => c.startsWith('stasis_bid='));
  const cookiePart = cookieHeader?.split(';')[0];
  const withCookie = (answer: Answer): Answer => (cookiePart ? { ...answer, cookie: cookiePart } : answer);
  const type = response.headers.get('content-type') ?? '';
  if (!type.includes('application/json')) {
    const what = /<html|<center>nginx/i.test(text) ? 'html' : type.split(';')[0] || 'no-type';
    return withCookie(unavailable(response.status, `http-${response.status}-${what}`));
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return withCookie(unavailable(response.status, `http-${response.status}-bad-json`));
  }
  if (!isOutcome(parsed.outcome)) return withCookie(unavailable(response.status, `http-${response.status}-unknown-outcome`, parsed));
  const answer: Answer = { outcome: parsed.outcome, status: response.status, body: parsed, ms: Date.now() - started };
  // Clients read the JSON outcome, not the status; a status that disagrees is still outside the contract.
  if (!documentedStatus(parsed.outcome, response.status)) answer.undocumented = `status-${response.status}-for-${parsed.outcome}`;
  return withCookie(answer);
}

// ---- Live channel ----

/** What the demo sends (demo/shared/messages.ts), as far as the test reads it. */
export interface View {
  gen: number;
  restored: boolean;
  cart: Array<{ id: string; qty: number }>;
}

export interface Close {
  code: number;
  reason: string;
}

/** Close codes a page is told to expect on the live channel (protocol.md and operations.md close-code tables). */
const DOCUMENTED_CLOSES = new Set<number>([...Object.values(CLOSE_CODES), 1001, 1006, 1012]);

export function documentedClose(code: number): boolean {
  return DOCUMENTED_CLOSES.has(code);
}

export type ConnectResult =
  | { ok: true; socket: LiveSocket; view: View; cookie?: string }
  | { ok: false; close?: Close; http?: { status: number; what: string }; timeout?: true; error?: string; cookie?: string };

/** One live channel. Pushed blobs go to `onPush` as they come, in order with the views. */
export class LiveSocket {
  readonly closed: Promise<Close>;
  #views: View[] = [];
  #waiter: (() => void) | undefined;
  #close: Close | undefined;

  private constructor(
    private readonly ws: WebSocket,
    onPush: (push: PushedBlob) => void,
    onOther: (message: unknown) => void,
  ) {
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.#close = { code, reason: reason.toString() };
        this.#waiter?.();
        resolve(this.#close);
      }),
    );
    ws.on('message', (data) => {
      let message: unknown;
      try {
        message = JSON.parse((data as Buffer).toString());
      } catch {
        onOther((data as Buffer).toString());
        return;
      }
      if (isPushedBlob(message)) onPush(message);
      else if ((message as { type?: unknown }).type === 'view') {
        this.#views.push((message as { view: View }).view);
        this.#waiter?.();
      } else onOther(message);
    });
  }

  get open(): boolean {
    return this.#close === undefined && this.ws.readyState === WebSocket.OPEN;
  }

  /**
   * Opens `{base}/live?sid=…` and waits for the app's first view (the demo renders on connect). The server
   * may accept the upgrade and then refuse the session with a close code: that is a refusal, not an open.
   */
  static connect(
    url: string,
    cookie: string | undefined,
    timeoutMs: number,
    onPush: (push: PushedBlob) => void,
    onOther: (message: unknown) => void,
  ): Promise<ConnectResult> {
    return new Promise((resolve) => {
      const ws = new WebSocket(url, { headers: cookie ? { Cookie: cookie } : {}, handshakeTimeout: timeoutMs });
      const socket = new LiveSocket(ws, onPush, onOther);
      let issued: string | undefined;
      let settled = false;
      const done = (result: ConnectResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(issued && !result.cookie ? { ...result, cookie: issued } : result);
      };
      const timer = setTimeout(() => {
        ws.terminate();
        done({ ok: false, timeout: true });
      }, timeoutMs);
      ws.on('upgrade', (response: IncomingMessage) => {
        const header = ([] as string[]).concat(response.headers['set-cookie'] ?? []).find((c) => c.startsWith('stasis_bid='));
        issued = header?.split(';')[0];
      });
      ws.on('unexpected-response', (request, response: IncomingMessage) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => {
          const type = String(response.headers['content-type'] ?? '').split(';')[0];
          const what = /<html|<center>nginx/i.test(text) ? 'html' : type || 'empty';
          done({ ok: false, http: { status: response.statusCode ?? 0, what } });
          request.destroy();
        });
      });
      ws.on('error', (error) => done({ ok: false, error: (error as NodeJS.ErrnoException).code ?? error.message }));
      void socket.nextView(timeoutMs).then((view) => {
        if (view === 'timeout') return; // the timer above answers
        if ('code' in view) done({ ok: false, close: view });
        else done({ ok: true, socket, view });
      });
    });
  }

  send(message: object): void {
    if (this.open) this.ws.send(JSON.stringify(message));
  }

  /** The next view the app sends, the close if the channel closes first, or 'timeout'. */
  async nextView(timeoutMs: number): Promise<View | Close | 'timeout'> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const view = this.#views.shift();
      if (view) return view;
      if (this.#close) return this.#close;
      const left = deadline - Date.now();
      if (left <= 0) return 'timeout';
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
  }

  /** Waits up to `timeoutMs` for the server to close the channel; undefined if it did not. */
  async waitClosed(timeoutMs: number): Promise<Close | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const result = await Promise.race([this.closed, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)))]);
    clearTimeout(timer);
    return result;
  }

  /** Drops the socket without a close handshake (what a page going away looks like to the server). */
  terminate(): void {
    this.ws.terminate();
  }
}
