/**
 * The HTTP side of the conformance tool: node:http(s) requests with a hard timeout that never throw. A network
 * error or a timeout is an answer with `status: 0` and `error` set, so a check reports what it saw instead of
 * crashing the run.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface Answer {
  /** 0 when no HTTP answer came (see `error`). */
  status: number;
  headers: IncomingHttpHeaders;
  /** Every Set-Cookie header line. */
  setCookies: string[];
  text: string;
  /** The body parsed as JSON; undefined when it is not JSON. */
  json: unknown;
  error?: string;
}

export interface RequestOptions {
  method?: string;
  /** A string or bytes are sent as they are; anything else as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  /** The binding cookie's value to send; undefined or null: no Cookie header. */
  cookie?: string | null;
  origin?: string;
}

export type StasisRoute = 'hibernate' | 'resume';

export interface Http {
  /** Any request; `path` is relative to the base URL (`/health?sid=…`) or absolute (`http://…`). */
  request(path: string, options?: RequestOptions): Promise<Answer>;
  /** A POST (unless `method` says otherwise) of hibernate or resume; every answer is inspected by the run. */
  stasis(route: StasisRoute, body: unknown, options?: RequestOptions): Promise<Answer>;
  /**
   * A POST of `route` whose body is `bytes` long (a JSON object with a huge `blob`), streamed in chunks that stop
   * as soon as an answer comes: with `declared`, Content-Length announces the size and only the first chunks are
   * sent (a server refuses by the header, before reading); without, the body is chunked and sent until answered.
   */
  oversized(route: StasisRoute, bytes: number, options: { declared: boolean; cookie?: string }): Promise<Answer>;
  /** The last Date header seen, ms since the epoch (for the server's clock). */
  readonly lastDate: number | undefined;
}

const MAX_BODY = 8 * 1024 * 1024;
const STALLED_AFTER = 3;

export function createHttp(
  base: string,
  cookieName: string,
  timeoutMs: number,
  observe: (route: StasisRoute, answer: Answer, sent: RequestOptions) => void,
): Http {
  let lastDate: number | undefined;
  /** Requests in a row that got no answer in time: past STALLED_AFTER the run stops waiting on this server. */
  let timeouts = 0;
  const request = (path: string, options: RequestOptions = {}): Promise<Answer> => {
    if (timeouts >= STALLED_AFTER) {
      return Promise.resolve({ status: 0, headers: {}, setCookies: [], text: '', json: undefined, error: `not sent: the server stopped answering (${STALLED_AFTER} requests in a row timed out)` });
    }
    const url = new URL(/^https?:/.test(path) ? path : `${base}${path}`);
    const headers: Record<string, string> = { ...options.headers };
    let payload: Buffer | undefined;
    if (options.body !== undefined) {
      payload =
        typeof options.body === 'string'
          ? Buffer.from(options.body)
          : options.body instanceof Uint8Array
            ? Buffer.from(options.body)
            : Buffer.from(JSON.stringify(options.body));
      headers['Content-Type'] ??= 'application/json';
      headers['Content-Length'] ??= String(payload.length);
    }
    if (options.cookie !== undefined && options.cookie !== null) headers.Cookie = `${cookieName}=${options.cookie}`;
    if (options.origin !== undefined) headers.Origin = options.origin;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<Answer>((resolve) => {
      let settled = false;
      const done = (answer: Answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (answer.status) timeouts = 0;
        resolve(answer);
      };
      const failed = (error: string): Answer => ({ status: 0, headers: {}, setCookies: [], text: '', json: undefined, error });
      const req = send(url, { method: options.method ?? (payload ? 'POST' : 'GET'), headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_BODY) chunks.push(chunk);
        });
        res.on('error', (error) => done(failed(`answer cut off: ${error.message}`)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const date = Date.parse(String(res.headers.date ?? ''));
          if (Number.isFinite(date)) lastDate = date;
          done({ status: res.statusCode ?? 0, headers: res.headers, setCookies: res.headers['set-cookie'] ?? [], text, json: parseJson(text) });
        });
      });
      const timer = setTimeout(() => {
        timeouts++;
        done(failed(`no answer within ${timeoutMs} ms`));
        req.destroy();
      }, timeoutMs);
      req.on('error', (error: NodeJS.ErrnoException) => {
        // A server that answers before reading the whole body (413) may reset the upload: the answer counts.
        done(failed(error.code ? `${error.code}: ${error.message}` : error.message));
      });
      req.end(payload);
    });
  };
  const oversized = (route: StasisRoute, bytes: number, options: { declared: boolean; cookie?: string }): Promise<Answer> => {
    const url = new URL(`${base}/${route}`);
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (options.declared) headers['Content-Length'] = String(bytes);
    if (options.cookie) headers.Cookie = `${cookieName}=${options.cookie}`;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<Answer>((resolve) => {
      let answered = false;
      let settled = false;
      const done = (answer: Answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        resolve(answer);
      };
      const req = send(url, { method: 'POST', headers, agent: false }, (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', () => undefined);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          done({ status: res.statusCode ?? 0, headers: res.headers, setCookies: res.headers['set-cookie'] ?? [], text, json: parseJson(text) });
        });
      });
      const timer = setTimeout(() => done({ status: 0, headers: {}, setCookies: [], text: '', json: undefined, error: `no answer within ${timeoutMs} ms` }), timeoutMs);
      // A server may close the connection right after its early answer: the write fails, the answer still counts.
      req.on('error', (error) => {
        setTimeout(() => done({ status: 0, headers: {}, setCookies: [], text: '', json: undefined, error: error.message }), answered ? timeoutMs : 200);
      });
      const prefix = `{"sid":"${'a'.repeat(22)}","blob":"`;
      const chunk = Buffer.alloc(64 * 1024, 'x');
      let sent = 0;
      const pump = () => {
        while (!answered && !settled && sent < bytes) {
          // Past the limit by a margin: stop and wait (the server answers once it counted past its limit).
          if (!options.declared && sent > bytes - 2048) return;
          const piece = sent === 0 ? Buffer.from(prefix) : chunk.subarray(0, Math.min(chunk.length, bytes - sent - 2));
          sent += piece.length;
          if (sent >= bytes - 2) {
            req.end(Buffer.concat([piece, Buffer.from('"}')]));
            return;
          }
          // Announced bodies stop after the first few chunks: the size alone must be refused.
          if (options.declared && sent > 4 * chunk.length) return;
          if (!req.write(piece)) return void req.once('drain', pump);
        }
      };
      if (!options.declared) return pump();
      // Announced: the headers alone must be enough. A server that answers them at once and closes the
      // connection must not find body bytes in flight (the client's write would fail before it read the answer).
      req.flushHeaders();
      setTimeout(pump, Math.min(1000, timeoutMs / 2));
    });
  };
  return {
    request,
    async oversized(route, bytes, options) {
      const answer = await oversized(route, bytes, options);
      observe(route, answer, {});
      return answer;
    },
    async stasis(route, body, options = {}) {
      const answer = await request(`/${route}`, { method: 'POST', ...options, body: options.body ?? body });
      observe(route, answer, options);
      return answer;
    },
    get lastDate() {
      return lastDate;
    },
  };
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The `outcome` of a JSON answer, or undefined. */
export function outcomeOf(answer: Answer): string | undefined {
  const outcome = (answer.json as { outcome?: unknown } | null | undefined)?.outcome;
  return typeof outcome === 'string' ? outcome : undefined;
}

/** A field of a JSON object answer. */
export function field(answer: Answer, name: string): unknown {
  const json = answer.json;
  return typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>)[name] : undefined;
}

/** `409 {"outcome":"replayed",…}`: what a check saw, short enough for one report line. */
export function describe(answer: Answer, max = 140): string {
  if (answer.status === 0) return `no answer (${answer.error ?? 'unknown error'})`;
  const body = answer.text.replace(/\s+/g, ' ').trim();
  const excerpt = body.length > max ? `${body.slice(0, max)}…` : body;
  return `${answer.status} ${excerpt || '(empty body)'}`;
}
