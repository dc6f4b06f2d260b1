import type { IncomingMessage } from 'node:http';
import { StasisError } from '../errors.js';

/** What a framework's body parser may have left on the request (Express `req.body`, or passed in by an adapter). */
export interface ParsedBody {
  body?: unknown;
}

/**
 * Reads the JSON object body of a Stasis POST, whatever ran before Stasis:
 * - the stream is still unread: it is read here, refusing more than `limit` bytes and giving up after
 *   `timeoutMs` (a slow or stalled body: `unavailable`, HTTP 408, and the connection is closed); a client
 *   that goes away before its body ends (RequestAbortedError) has nobody left to answer;
 * - a body parser read it already and left the value (`req.body`, or `parsed.body` from an adapter): that
 *   value is used (an object, or the JSON text as a string or bytes);
 * - the stream was read and nothing usable is left: `misconfigured` at once, naming the fix. Waiting for an
 *   `end` that already happened would hang the request until the client gives up.
 */
export async function readJsonBody(
  req: IncomingMessage,
  options: { limit: number; timeoutMs: number; parsed?: ParsedBody },
): Promise<Record<string, unknown>> {
  const { limit } = options;
  const given = options.parsed?.body ?? (req as ParsedBody).body;
  if (streamWasRead(req)) return fromParsed(given, limit);
  // Express 4's json() sets `req.body = {}` even when it did not parse (another content type): only a body
  // with content counts while the stream is unread.
  if (given !== undefined && !isEmptyObject(given)) return fromParsed(given, limit);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume(); // discard, so the connection stays usable
    throw new StasisError('too-large', `The request body is over ${limit} bytes.`);
  }
  return parseJson(await readBody(req, limit, options.timeoutMs));
}

/** A body the stream no longer has: something read it (a body parser) or it ended already. */
function streamWasRead(req: IncomingMessage): boolean {
  return req.readableEnded || (req as { readableDidRead?: boolean }).readableDidRead === true || req.complete && !req.readable;
}

function isEmptyObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value) && Object.keys(value).length === 0;
}

function fromParsed(body: unknown, limit: number): Record<string, unknown> {
  if (body === undefined || body === null || isEmptyObject(body)) {
    throw new StasisError(
      'misconfigured',
      'The request body was read before Stasis saw it and nothing usable was left. Mount Stasis before your body ' +
        'parsers (app.use(stasis.middleware) first), or let them leave JSON on req.body (express.json()).',
    );
  }
  if (typeof body === 'string' || body instanceof Uint8Array) {
    const size = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
    if (size > limit) throw new StasisError('too-large', `The request body is over ${limit} bytes.`);
    return parseJson(Buffer.from(body).toString('utf8'));
  }
  if (typeof body !== 'object' || Array.isArray(body)) throw new StasisError('malformed', 'The request body must be a JSON object.');
  // The parser's own limit may be larger than ours: measure what we were given the same way.
  if (JSON.stringify(body).length > limit) throw new StasisError('too-large', `The request body is over ${limit} bytes.`);
  return body as Record<string, unknown>;
}

function parseJson(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new StasisError('malformed', 'The request body is not JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new StasisError('malformed', 'The request body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}

/** A body that did not arrive in time. The HTTP layer answers 408 and closes the connection. */
export class BodyTimeoutError extends StasisError {
  override readonly name = 'BodyTimeoutError';
  constructor(timeoutMs: number) {
    super('unavailable', `The request body did not arrive within ${timeoutMs} ms; try again.`);
  }
}

/**
 * The client went away before its body ended: it closed or reset the connection (a tab closed, a page left,
 * a proxy gave up). Routine, and nobody is left to answer: the HTTP layer writes nothing, logs one debug line
 * and counts it in stasis_aborted_requests_total, not as a resume or hibernation outcome.
 */
export class RequestAbortedError extends StasisError {
  override readonly name = 'RequestAbortedError';
  constructor(
    /** Body bytes that arrived before the connection went. */
    readonly received: number,
    /** The Content-Length the request announced, when it did. */
    readonly declared: number | undefined,
    /** How the stream ended: the error's code (`ECONNRESET`), or `close` for a connection closed without one. */
    readonly how: string,
  ) {
    super('unavailable', 'The request was aborted before its body ended.');
  }
}

/**
 * Collects the body up to `limit` bytes. Past it, the answer is `too-large` at once while the rest is read
 * and dropped: a request stream left half-read would stall its keep-alive connection. A body still
 * incomplete after `timeoutMs` (slowloris, a stalled upload) fails with BodyTimeoutError; one whose
 * connection closes or errors first (the client went away) with RequestAbortedError.
 */
function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const declared = Number(req.headers['content-length']);
    const aborted = (how: string) => new RequestAbortedError(size, Number.isFinite(declared) ? declared : undefined, how);
    // Gone before we got here (a handler that ran first awaited): its 'error' and 'close' are past.
    if (req.destroyed) return reject(aborted('close'));
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(() => settle(() => reject(new BodyTimeoutError(timeoutMs))), timeoutMs);
    timer.unref();
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        settle(() => reject(new StasisError('too-large', `The request body is over ${limit} bytes.`)));
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => settle(() => resolve(Buffer.concat(chunks).toString('utf8'))));
    // Node destroys an unfinished request whose connection closed or broke with ECONNRESET "aborted" (also
    // for a malformed chunked body, after which the connection is gone too): either way nobody is left.
    req.on('error', (error: NodeJS.ErrnoException) => settle(() => reject(aborted(error.code ?? error.message))));
    // An aborted request never ends: settle now instead of at the timeout.
    req.on('close', () => settle(() => reject(aborted('close'))));
  });
}
