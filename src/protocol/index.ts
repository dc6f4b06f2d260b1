/**
 * The Stasis wire protocol: the one module the page SDK, the service worker and the server all import.
 * docs/protocol.md describes the same things in prose; change both together.
 */

export const PROTOCOL_VERSION = 1;

/** Mount point of the server endpoints, relative to the page origin. */
export const DEFAULT_ENDPOINT = '/stasis';

/** Development only (refused under NODE_ENV=production): simulate a failover of one session. */
export const FAILOVER_ROUTE = '/debug/failover';

/** Paths below the endpoint. */
export const ROUTES = {
  hibernate: '/hibernate',
  resume: '/resume',
  health: '/health',
  live: '/live',
  metrics: '/metrics',
  failover: FAILOVER_ROUTE,
} as const;

/**
 * The page bundles the server serves below its mount point (`<script src="/stasis/stasis.js">`): the script
 * tag, the service worker, the page custody it loads where no service worker is available, the live channel
 * it loads with `data-live="on"` and the banner's stylesheet. (The ESM build
 * is for bundlers: `import { createStasis } from 'stasis'`.)
 */
export const PAGE_ASSETS = ['stasis.js', 'stasis-sw.js', 'stasis-fallback.mjs', 'stasis-live.mjs', 'stasis-banner.css'] as const;

/** What `Stasis.debug.failover(kind)` simulates: an abrupt disconnect, a server restart, a move to another instance. */
export const FAILOVER_KINDS = ['disconnect', 'restart', 'move'] as const;
export type FailoverKind = (typeof FAILOVER_KINDS)[number];

/** The answer of `POST {endpoint}/debug/failover` (not a protocol outcome: a development tool). */
export type FailoverAnswer =
  | { ok: true; kind: FailoverKind; sid: string; gen: number }
  | { ok: false; code: 'disabled-in-production' | 'no-session' | 'wrong-binding' | 'unavailable' | 'malformed'; message: string };

/**
 * Every answer of the hibernate and resume endpoints carries one of these codes.
 * `ok` is success; every other code is a reason.
 */
export const OUTCOMES = [
  'ok',
  'schema-reset',
  'expired',
  'tampered',
  'unknown-key',
  'replayed',
  'wrong-binding',
  'too-large',
  'malformed',
  'unavailable',
  'no-session',
  'unserializable',
  'stale',
  'forbidden-origin',
  'rate-limited',
  'misconfigured',
] as const;
export type Outcome = (typeof OUTCOMES)[number];
export type FailureCode = Exclude<Outcome, 'ok'>;

export function isOutcome(value: unknown): value is Outcome {
  return typeof value === 'string' && (OUTCOMES as readonly string[]).includes(value);
}

/**
 * A final outcome ends a blob's life: the client deletes it. These keep it for a retry, because they say
 * nothing about the blob: `unavailable` (server, store or network down), `rate-limited` (too many failed
 * resumes from this browser; see Retry-After), `forbidden-origin` and `misconfigured` (a server or proxy
 * misconfiguration, e.g. a body parser that consumed the request before Stasis saw it).
 */
export function isFinal(outcome: Outcome): boolean {
  return outcome !== 'unavailable' && outcome !== 'rate-limited' && outcome !== 'forbidden-origin' && outcome !== 'misconfigured';
}

/** HTTP status the server uses for each outcome; clients read the JSON `outcome`, not the status. */
export const HTTP_STATUS: Record<Outcome, number> = {
  ok: 200,
  'schema-reset': 409,
  expired: 410,
  tampered: 400,
  'unknown-key': 400,
  replayed: 409,
  'wrong-binding': 403,
  'too-large': 413,
  malformed: 400,
  unavailable: 503,
  'no-session': 404,
  unserializable: 500,
  stale: 409,
  'forbidden-origin': 403,
  'rate-limited': 429,
  misconfigured: 500,
};

/** Session ids: at least 128 random bits, base64url. */
export const SID_PATTERN = /^[A-Za-z0-9_-]{22,64}$/;

export function isSid(value: unknown): value is string {
  return typeof value === 'string' && SID_PATTERN.test(value);
}

// ---- HTTP messages ----

export interface HibernateRequest {
  sid: string;
  /**
   * Key binding (optional): a proof of possession of the browser's binding key (see PROOF_TYPE). A valid one
   * binds the blob to the key's thumbprint (`kbt`); without one the blob is bound to the cookie only.
   */
  proof?: string;
  /**
   * Leave the session's live channels open instead of closing them with 4001 (they are detached from the
   * session). Pages entering the back/forward cache ask for this: the browser closes their sockets itself.
   */
  keepChannels?: boolean;
}

export interface HibernateOk {
  outcome: 'ok';
  sid: string;
  gen: number;
  /** Expiry, seconds since the epoch (same as the blob header). */
  exp: number;
  /** The sealed session: a JWE compact string, opaque to the client. */
  blob: string;
}

export interface Failure {
  outcome: FailureCode;
  /** Human-readable; never contains secrets or stack traces. */
  message: string;
  /** With `rate-limited`: when to try again (also sent as the Retry-After header). */
  retryAfterSeconds?: number;
  /**
   * The server is in a bail-out storm (most recent resumes failed: a bad deploy, a lost key): start fresh
   * without an error message; the operators already know.
   */
  quiet?: true;
}

export type HibernateResponse = HibernateOk | Failure;

export interface ResumeRequest {
  sid: string;
  blob: string;
  /** Required for a blob bound to a key: a proof by that key, over this request and this blob (`bh`). */
  proof?: string;
}

/** A blob is base64url parts joined by dots: nothing in it needs escaping in a JSON string. */
const BLOB_CHARS = /^[A-Za-z0-9_.-]*$/;

/**
 * The JSON text of a message that carries a blob in `key` (a resume request's or a push's `blob`, a resume
 * answer's `checkpoint`). The blob, often 100 KB and more, is spliced in as it is instead of going through
 * JSON.stringify's escaping scan (about half the cost at 100 KB); a value that is not blob-shaped is
 * stringified as usual. `sealedHere`: the blob was sealed by this process (a server's answers and pushes), so
 * its shape needs no check (the check costs about half of what the splice saves).
 */
export function encodeWithBlob<T extends object>(message: T, key: 'blob' | 'checkpoint', sealedHere = false): string {
  const blob = (message as Record<string, unknown>)[key];
  if (typeof blob !== 'string' || (!sealedHere && !BLOB_CHARS.test(blob))) return JSON.stringify(message);
  const rest = { ...message } as Record<string, unknown>;
  delete rest[key];
  const head = JSON.stringify(rest);
  return `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"${key}":"${blob}"}`;
}

/** The JSON text of a resume request (HTTP body or live-channel first message): see encodeWithBlob. */
export function encodeResumeRequest(request: ResumeRequest | LiveResume): string {
  return encodeWithBlob(request, 'blob');
}

/**
 * The key-binding proof (docs/protocol.md, "Key binding"; the shape of an RFC 9449 DPoP proof): a compact JWS,
 * header `{ typ: PROOF_TYPE, alg: 'ES256', jwk: <the public key, EC P-256> }`, payload
 * `{ htm: 'POST', htu: <the request URL's path>, iat: <seconds>, jti: <random>, bh?: <base64url SHA-256 of
 * the blob string: resume only> }`, signed by the browser's non-extractable key.
 */
export const PROOF_TYPE = 'stasis-proof+jwt';
/** How far a proof's `iat` may be from the server's clock, either way, in seconds. */
export const PROOF_MAX_SKEW_SECONDS = 120;

/** The payload of a key-binding proof. */
export interface ProofClaims {
  /** `POST` for the HTTP endpoints; `GET` for a resume on the live channel (the upgrade request's method). */
  htm: 'POST' | 'GET';
  htu: string;
  iat: number;
  jti: string;
  bh?: string;
}

export interface ResumeOk {
  outcome: 'ok';
  sid: string;
  /** The generation of the restored session (the blob's gen + 1): a fencing token. */
  gen: number;
  /**
   * Servers with checkpoints on: a checkpoint of the session now live (a blob of generation `gen`). The blob
   * the page presented is used up, so the page keeps this one in its place: if the instance dies before the
   * next checkpoint, the page still holds the state it resumed.
   */
  checkpoint?: string;
}

export type ResumeResponse = ResumeOk | Failure;

export interface HealthResponse {
  ok: true;
  version: number;
  /** Sessions held in memory right now. */
  live: number;
  /** Blobs handed out and neither resumed nor expired (as far as this process knows). */
  hibernated: number;
  uptimeSeconds: number;
  /** True once the process started draining (SIGTERM): it hands out and takes no more sessions. */
  draining: boolean;
  /** Present when the request named `?sid=`. */
  session?: SessionReport;
}

export interface SessionReport {
  sid: string;
  state: 'live' | 'hibernated' | 'unknown';
  gen?: number;
  /** Live channels attached to the session. */
  channels?: number;
}

// ---- Blob format ----

/** Protected header of a Stasis blob. `sid`, `gen`, `exp` are readable copies for housekeeping. */
export interface BlobHeader {
  alg: 'dir';
  enc: 'A256GCM';
  kid: string;
  typ: typeof BLOB_TYPE;
  sid: string;
  gen: number;
  exp: number;
}
export const BLOB_TYPE = 'stasis+jwe';

/** Reads the readable copies of a blob's header without any key; undefined when it is not a blob. */
export function readBlobHeader(blob: unknown): Pick<BlobHeader, 'sid' | 'gen' | 'exp' | 'kid'> | undefined {
  if (typeof blob !== 'string') return undefined;
  const parts = blob.split('.');
  if (parts.length !== 5 || !parts[0]) return undefined;
  try {
    const b64 = parts[0].replace(/-/g, '+').replace(/_/g, '/');
    const json = JSON.parse(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4))) as Record<string, unknown>;
    const { sid, gen, exp, kid, typ } = json;
    if (typ !== BLOB_TYPE || typeof sid !== 'string' || !Number.isSafeInteger(gen) || typeof exp !== 'number' || typeof kid !== 'string') {
      return undefined;
    }
    return { sid, gen: gen as number, exp, kid };
  } catch {
    return undefined;
  }
}

// ---- Live channel ----

/** WebSocket close codes the server uses on the live channel. */
export const CLOSE_CODES = {
  /** The session was hibernated; resume before reconnecting. */
  hibernated: 4001,
  /** A newer connection or a resume replaced this one. */
  superseded: 4002,
  /** The session is being hibernated right now; wait for the SDK's `ready` before reconnecting. */
  resumeFirst: 4003,
  /** The query had no valid sid. */
  badSession: 4004,
  /** This browser already has the maximum number of live sessions. */
  tooManySessions: 4005,
  /** The server is draining (shutting down): the blob was pushed just before; resume on any instance. */
  draining: 4007,
  /** The session had no app event for the idle timeout: the blob was pushed just before; resume on return. */
  idle: 4008,
  /**
   * The page sent more messages than the server holds (64) while it was still attaching the session: reconnect
   * as after any drop (and send less before the session is attached).
   */
  tooManyEarlyMessages: 4009,
  /**
   * A resume on the live channel was refused (its answer message came first, with the outcome); the reason is
   * `stasis:<outcome>`. Also when no LiveResume came first, or not within the server's body timeout.
   */
  resumeRefused: 4010,
} as const;
export type CloseCode = (typeof CLOSE_CODES)[keyof typeof CLOSE_CODES];

/**
 * A resume on the live channel (one round trip instead of `POST resume` and then the upgrade): the page opens
 * `{endpoint}/live?sid=…&resume=1` and its first message is a LiveResume. The server answers with one
 * LiveResumeAnswer before anything else: `ok` and the session is attached to this socket (the app's messages
 * follow), or a failure and the socket is closed with `CLOSE_CODES.resumeRefused` and reason `stasis:<outcome>`.
 * The checks, rate limits, ledger and outcomes are those of `POST resume`; the proof is made for
 * `GET {endpoint}/live` (`htm: 'GET'`, `htu`: the live path).
 */
export const LIVE_RESUME_PARAM = 'resume';
export const LIVE_RESUME_MESSAGE = 'stasis:resume';
export const LIVE_RESUME_ANSWER = 'stasis:resumed';

export interface LiveResume extends ResumeRequest {
  type: typeof LIVE_RESUME_MESSAGE;
}

export type LiveResumeAnswer = { type: typeof LIVE_RESUME_ANSWER } & ResumeResponse;

export function isLiveResumeAnswer(data: unknown): data is LiveResumeAnswer {
  const m = data as Partial<LiveResumeAnswer> | null;
  return typeof m === 'object' && m !== null && m.type === LIVE_RESUME_ANSWER && isOutcome(m.outcome);
}

/** The reason a channel closed with 4003 when its session belongs to another browser (page code compares it). */
export const WRONG_BINDING_REASON = 'stasis:wrong-binding';

/**
 * The reason text of each close Stasis makes (the close frame's reason; `connect_error` data over Socket.IO).
 * 4003 carries `stasis:<outcome>` of the refused connect: `noSession`, `wrongBinding` or `unavailable` below.
 */
export const CLOSE_REASONS = {
  hibernated: 'stasis:hibernated',
  superseded: 'stasis:superseded',
  draining: 'stasis:draining',
  idle: 'stasis:idle',
  expired: 'stasis:expired',
  closed: 'stasis:closed',
  retained: 'stasis:retained',
  noSession: 'stasis:no-session',
  wrongBinding: WRONG_BINDING_REASON,
  unavailable: 'stasis:unavailable',
  badSid: 'stasis:bad-sid',
  tooManySessions: 'stasis:too-many-sessions',
  serverFull: 'stasis:server-full',
  tooManyEarlyMessages: 'stasis:too-many-early-messages',
  moved: 'stasis:moved',
  dropped: 'stasis:dropped',
} as const;
export type CloseReason = (typeof CLOSE_REASONS)[keyof typeof CLOSE_REASONS];

/**
 * Server-initiated hibernation (drain, idle): the server pushes the blob over the app's live channel just
 * before closing it. A `checkpoint` (opt-in, periodic while the state changes) leaves the session live: the
 * page keeps the newest one, and hands it back if the channel drops without a hibernate (the instance was
 * killed). The app hands every such message to `Stasis.receive(message)`.
 */
export interface PushedBlob {
  type: typeof PUSH_MESSAGE;
  reason: 'drain' | 'idle' | 'checkpoint';
  sid: string;
  gen: number;
  exp: number;
  blob: string;
}
export const PUSH_MESSAGE = 'stasis:hibernated';

export function isPushedBlob(data: unknown): data is PushedBlob {
  const m = data as Partial<PushedBlob> | null;
  return (
    typeof m === 'object' &&
    m !== null &&
    m.type === PUSH_MESSAGE &&
    (m.reason === 'drain' || m.reason === 'idle' || m.reason === 'checkpoint') &&
    isSid(m.sid) &&
    typeof m.blob === 'string'
  );
}

// ---- Service worker ↔ page ----

/** The message a page posts to the service worker to open one RPC port (one call per port). */
export interface ConnectMessage {
  type: typeof CONNECT_MESSAGE;
  /**
   * A hibernate travels in the connect message itself, so the worker starts it even if the page dies before
   * the call on the new port gets through (a port still in transit when its page is killed can lose it).
   * The comlink call that follows gets the same operation's result.
   */
  hibernate?: { endpoint: string; sid: string; keepChannels?: boolean };
}
export const CONNECT_MESSAGE = 'stasis:connect';

export function isConnectMessage(data: unknown): data is ConnectMessage {
  return typeof data === 'object' && data !== null && (data as { type?: unknown }).type === CONNECT_MESSAGE;
}
