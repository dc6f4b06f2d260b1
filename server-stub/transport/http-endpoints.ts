import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  encodeWithBlob,
  HTTP_STATUS,
  PROTOCOL_VERSION,
  ROUTES,
  isSid,
  type Failure,
  type HealthResponse,
  type Outcome,
} from '../../src/protocol/index.js';
import type { ResolvedConfig } from '../config.js';
import { StasisError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SessionManager } from '../session/session-manager.js';
import { bindingCookieHeader, clientAddress, newBindingSecret, readBindingCookie } from './binding-cookie.js';
import { isOriginAllowed } from './origin-policy.js';
import { verifyProof } from './proof.js';
import type { ResumeGate } from './resume-gate.js';
import { BodyTimeoutError, readJsonBody, RequestAbortedError, type ParsedBody } from './request-body.js';
import { failoverEndpoint } from './failover-endpoint.js';
import { createAssetHandler } from './page-assets.js';

const startedAt = Date.now();
/** The `route` label of stasis_aborted_requests_total for each route that reads a body. */
const ABORT_ROUTES: ReadonlyMap<string, string> = new Map([
  [ROUTES.hibernate, 'hibernate'],
  [ROUTES.resume, 'resume'],
  [ROUTES.failover, 'failover'],
]);

/**
 * The HTTP endpoints: POST hibernate, POST resume, GET health. Returns false for any other path so the
 * host app can handle it. Every answer is JSON with an `outcome` code; no stack trace ever leaves.
 * A client that goes away (before its body ended, or while the answer was worked out) gets no answer
 * attempt: one debug line each, and a body cut short counts in stasis_aborted_requests_total{route}.
 */
export function createHttpHandler(
  manager: SessionManager,
  config: ResolvedConfig,
  logger: Logger,
  resumeGate: ResumeGate,
  options: { now?: () => number; assetsDir?: string | undefined } = {},
) {
  const now = options.now ?? Date.now;
  const base = config.basePath;
  const serveAsset = createAssetHandler(options.assetsDir);
  return async function handle(req: IncomingMessage, res: ServerResponse, parsed?: ParsedBody): Promise<boolean> {
    /** Set when the client went away before its body ended (the failover endpoint turns errors into answers). */
    let aborted: RequestAbortedError | undefined;
    const readJson = () =>
      readJsonBody(req, { limit: config.maxBodyBytes, timeoutMs: config.bodyTimeoutMs, ...(parsed ? { parsed } : {}) }).catch(
        (error: unknown) => {
          if (error instanceof RequestAbortedError) aborted = error;
          throw error;
        },
      );
    /** The POST routes: the method, then the origin (a cross-site form or script must not reach them). */
    const checkPost = (route: string) => {
      if (req.method !== 'POST') {
        res.setHeader('Allow', 'POST');
        throw new StasisError('malformed', `${route} takes POST.`);
      }
      if (!isOriginAllowed(req, config.allowedOrigins, config.trustProxy)) {
        req.resume();
        throw new StasisError('forbidden-origin', `Origin ${req.headers.origin} may not call Stasis here.`);
      }
    };
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== base && !url.pathname.startsWith(`${base}/`)) return false;
    const route = url.pathname.slice(base.length);
    /** Answers, unless the client is gone (it closed the connection while the server worked): then one debug line. */
    const reply = (status: number, body: unknown) => {
      if (send(res, status, body)) return;
      const outcome = (body as { outcome?: unknown } | null)?.outcome;
      logger.debug?.(`${req.method} ${url.pathname}: client gone, answer not delivered (${status}${typeof outcome === 'string' ? ` ${outcome}` : ''})`);
    };
    try {
      if (route === ROUTES.health && (req.method === 'GET' || req.method === 'HEAD')) {
        const sid = url.searchParams.get('sid');
        const body: HealthResponse = {
          ok: true,
          version: PROTOCOL_VERSION,
          live: manager.liveCount,
          hibernated: manager.hibernatedCount,
          uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
          draining: manager.draining,
          ...(isSid(sid) ? { session: manager.report(sid) } : {}),
        };
        // 503 while draining, so a readiness probe takes the instance out of the load balancer at once.
        reply(manager.draining ? 503 : 200, body);
      } else if (route === ROUTES.metrics && req.method === 'GET') {
        if (!metricsAllowed(req, config.metricsToken)) {
          reply(401, failure('malformed', 'The metrics need `Authorization: Bearer <STASIS_METRICS_TOKEN>`.'));
          return true;
        }
        const text = manager.metrics.render({
          live: manager.liveCount,
          hibernated: manager.hibernatedCount,
          draining: manager.draining,
          evictions: manager.storeEvictions,
        });
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(text);
      } else if (route === ROUTES.hibernate || route === ROUTES.resume) {
        checkPost(route);
        if (route === ROUTES.hibernate) {
          const body = await readJson();
          if (!isSid(body.sid)) throw new StasisError('malformed', 'sid must be a base64url string of 22-64 characters.');
          const existing = readBindingCookie(req, config.cookieName);
          const binding = existing ?? newBindingSecret();
          // A valid proof binds the blob to the browser's key too; a bad one leaves it bound to the cookie only.
          const proof = body.proof === undefined ? undefined : verifyProof(body.proof, { htu: url.pathname, nowSeconds: Math.floor(now() / 1000) });
          if (proof && 'problem' in proof) logger.debug?.(`hibernate ${String(body.sid).slice(0, 6)}: proof not used: ${proof.problem}`);
          const kbt = proof && 'kbt' in proof ? proof.kbt : undefined;
          const answer = await manager.hibernate(body.sid, binding, { keepChannels: body.keepChannels === true, ...(kbt ? { kbt } : {}) });
          manager.metrics.hibernation('request', 'ok', answer.blob.length);
          // Only once a blob depends on it.
          if (!existing) res.setHeader('Set-Cookie', bindingCookieHeader(req, config.cookieName, binding, config.trustProxy));
          reply(200, answer);
        } else {
          const verdict = await resumeGate.resume({
            read: readJson,
            cookie: readBindingCookie(req, config.cookieName),
            issueBinding: newBindingSecret,
            address: clientAddress(req, config.trustProxy),
            htm: 'POST',
            htu: url.pathname,
          });
          if (verdict.status === HTTP_STATUS['rate-limited']) req.resume(); // a body the limit left unread: discarded
          if (verdict.retryAfter !== undefined) res.setHeader('Retry-After', String(verdict.retryAfter));
          if (verdict.issued) res.setHeader('Set-Cookie', bindingCookieHeader(req, config.cookieName, verdict.issued, config.trustProxy));
          reply(verdict.status, verdict.answer);
        }
      } else if (route === ROUTES.failover) {
        checkPost(route);
        const { status, answer } = await failoverEndpoint(manager, config.cookieName, readJson, req);
        if (aborted) throw aborted; // it made an answer of it; nobody is left to read one
        reply(status, answer);
      } else if (route === ROUTES.health || route === ROUTES.metrics) {
        // A known route, the wrong method: the same answer as for hibernate and resume (400, with Allow).
        res.setHeader('Allow', route === ROUTES.health ? 'GET, HEAD' : 'GET');
        throw new StasisError('malformed', `${route} takes ${route === ROUTES.health ? 'GET or HEAD' : 'GET'}.`);
      } else if (route === ROUTES.live && req.headers.upgrade) {
        // An upgrade nobody took: the built-in channel is not attached here (the app brings its own, or detached it).
        reply(404, failure('malformed', `No live channel is served at ${url.pathname} on this server.`));
      } else if (route === ROUTES.live && req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET');
        throw new StasisError('malformed', `${route} takes a GET with Upgrade: websocket.`);
      } else if (route === ROUTES.live) {
        // The live channel reached without a WebSocket upgrade (a proxy that drops Upgrade, a plain fetch).
        req.resume();
        res.setHeader('Upgrade', 'websocket');
        reply(426, failure('malformed', `${url.pathname} is a WebSocket endpoint: connect with an Upgrade: websocket request.`));
      } else if (!(await serveAsset(route.slice(1), req, res))) {
        reply(404, failure('malformed', `No Stasis endpoint at ${url.pathname}.`));
      }
    } catch (error) {
      if (error instanceof RequestAbortedError) {
        // Routine (a tab closed mid-upload): one debug line and a count of its own, never an error or an outcome.
        manager.metrics.aborted(ABORT_ROUTES.get(route) ?? 'other');
        const of = error.declared === undefined ? '' : ` of ${error.declared}`;
        logger.debug?.(`${req.method} ${url.pathname}: client aborted the request body (${error.received}${of} bytes received, ${error.how})`);
        if (!res.destroyed) res.destroy(); // whatever is left of the connection: no answer will be read
        return true;
      }
      if (route === ROUTES.hibernate && req.method === 'POST') {
        manager.metrics.hibernation('request', error instanceof StasisError ? error.code : 'unavailable');
      }
      if (error instanceof BodyTimeoutError) {
        // 408 and a closed connection: the rest of a stalled body is never read.
        res.setHeader('Connection', 'close');
        reply(408, failure(error.code, error.message));
        res.once('finish', () => req.destroy());
      } else if (error instanceof StasisError) {
        if (error.code === 'misconfigured') logger.error(`${req.method} ${url.pathname}: ${error.message}`);
        reply(HTTP_STATUS[error.code], failure(error.code, error.message));
      } else {
        logger.error(`${req.method} ${url.pathname} failed: ${(error as Error)?.stack ?? String(error)}`);
        reply(HTTP_STATUS.unavailable, failure('unavailable', 'The server could not handle the request; try again.'));
      }
    }
    return true;
  };
}

function failure(outcome: Exclude<Outcome, 'ok'>, message: string): Failure {
  return { outcome, message };
}

/** Writes a JSON answer; false, writing nothing, when the client is gone (the connection closed). */
function send(res: ServerResponse, status: number, body: unknown): boolean {
  if (res.destroyed || res.socket?.destroyed === true) return false;
  if (res.headersSent) return true;
  // Hibernate answers carry the blob, resume answers may carry a checkpoint: both sealed here (see encodeWithBlob).
  const text = encodeWithBlob(body as object, 'blob' in (body as object) ? 'blob' : 'checkpoint', true);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(text);
  return true;
}

/** Metrics are open unless a token is configured; then only `Authorization: Bearer <token>` (compared in constant time). */
function metricsAllowed(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const given = Buffer.from(String(req.headers.authorization ?? ''));
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
