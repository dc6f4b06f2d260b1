import { HTTP_STATUS, isSid, type Failure, type FailureCode, type ResumeResponse } from '../../src/protocol/index.js';
import { BailoutGuard } from '../bailout-guard.js';
import type { ResolvedConfig } from '../config.js';
import { StasisError } from '../errors.js';
import type { Logger } from '../logger.js';
import { FailureRateLimiter } from '../rate-limiter.js';
import type { SessionManager } from '../session/session-manager.js';
import { bindingHash } from '../session/session-sealer.js';
import { verifyProof, type ProofResult } from './proof.js';
import { BodyTimeoutError, RequestAbortedError } from './request-body.js';

/** A resume refused by the per-browser cap on live sessions: try again after this long (a tab may close). */
export const SESSION_CAP_RETRY_SECONDS = 5;
/** Answers that suggest guessing or stolen blobs; honest ones (expired, replayed by a duplicate tab, schema-reset after a deploy) do not count. */
const SUSPICIOUS: ReadonlySet<string> = new Set(['tampered', 'unknown-key', 'wrong-binding', 'malformed']);

/** One resume request, whichever route carried it. */
export interface ResumeAttempt {
  /**
   * Reads the request: its JSON object `{ sid, blob, proof? }`. Called only once the failure limits let the
   * client through, so a limited client's body is never read. A StasisError it throws is the answer.
   */
  read(): Promise<Record<string, unknown>>;
  /** The browser's binding cookie, when the request carried a valid one. */
  cookie: string | undefined;
  /**
   * A binding secret for a request without the cookie whose proof is valid: a key-bound blob resumes, and the
   * session needs a cookie for its live channel. The route makes sure the browser receives it.
   */
  issueBinding(): string;
  /** The client's address (clientAddress): the per-address failure limit. */
  address: string;
  /** The request the proof must have been made for: `POST {base}/resume`, or `GET {base}/live` on the live channel. */
  htm: 'POST' | 'GET';
  htu: string;
}

export interface ResumeVerdict {
  answer: ResumeResponse;
  /** The answer's HTTP status (docs/protocol.md, "Outcome codes"). */
  status: number;
  /** Every `rate-limited` answer: seconds until the client may try again (the Retry-After header). */
  retryAfter?: number;
  /** The secret of `issueBinding()` the restored session is now bound to: it must reach the browser as its cookie. */
  issued?: string;
}

export interface ResumeGate {
  /**
   * Decides one resume: failure limits, the request's checks, the proof, the manager's resume, metrics and the
   * bail-out guard. Resolves with the answer for every protocol outcome; rejects only for a request that has
   * nobody or nothing to answer (RequestAbortedError, BodyTimeoutError: the HTTP route answers 408 itself).
   */
  resume(attempt: ResumeAttempt): Promise<ResumeVerdict>;
}

/**
 * The resume of `POST {base}/resume` and of the live channel's `stasis:resume` message, in one place: one
 * instance per server, so the failure limits and the bail-out guard count both routes together (docs/protocol.md,
 * "Resume on the live channel": a client cannot double its guesses by switching routes).
 */
export function createResumeGate(manager: SessionManager, config: ResolvedConfig, logger: Logger, now: () => number = Date.now): ResumeGate {
  const bailout = new BailoutGuard({ ...config.bailout, logger, metrics: manager.metrics, now });
  const failuresByBrowser = new FailureRateLimiter(config.resumeFailuresPerMinute, 60_000, now);
  // A client can drop or invent cookies, so addresses get their own, looser limit (shared NATs).
  const failuresByAddress = new FailureRateLimiter(config.resumeFailuresPerMinute * 5, 60_000, now);

  const limited = (wait: number): ResumeVerdict => {
    manager.metrics.resume('rate-limited');
    const answer: Failure = { outcome: 'rate-limited', message: `Too many failed resumes; try again in ${wait} s.`, retryAfterSeconds: wait };
    return { answer, status: HTTP_STATUS['rate-limited'], retryAfter: wait };
  };

  return {
    async resume(attempt) {
      const { cookie, address, htm, htu } = attempt;
      // The browser's identity for the failure limit: the key of a valid proof, else the cookie's hash.
      let browser = cookie ? bindingHash(cookie) : undefined;
      const wait = Math.max(failuresByAddress.retryAfterSeconds(address), browser ? failuresByBrowser.retryAfterSeconds(browser) : 0);
      if (wait > 0) return limited(wait);
      try {
        const body = await attempt.read();
        if (!isSid(body.sid)) throw new StasisError('malformed', 'sid must be a base64url string of 22-64 characters.');
        if (typeof body.blob !== 'string') throw new StasisError('malformed', 'blob must be a string.');
        const proof: ProofResult | undefined =
          body.proof === undefined ? undefined : verifyProof(body.proof, { htm, htu, nowSeconds: Math.floor(now() / 1000), blob: body.blob });
        if (proof && 'kbt' in proof) {
          browser = `key:${proof.kbt}`;
          const keyWait = failuresByBrowser.retryAfterSeconds(browser);
          if (keyWait > 0) return limited(keyWait);
        }
        // A browser killed before it wrote its cookie to disk comes back without one: a key-bound blob still
        // resumes, and the session is bound to a new cookie (its live channel needs one).
        const issued = !cookie && proof && 'kbt' in proof ? attempt.issueBinding() : undefined;
        const answer = await manager.resume(body.sid, body.blob, cookie ?? issued, proof);
        manager.metrics.resume('ok');
        bailout.record('ok');
        return { answer, status: HTTP_STATUS.ok, ...(issued ? { issued } : {}) };
      } catch (error) {
        if (error instanceof RequestAbortedError) throw error; // not a resume outcome; nobody to answer
        manager.metrics.resume(error instanceof StasisError ? error.code : 'unavailable');
        if (error instanceof BodyTimeoutError) throw error;
        if (!(error instanceof StasisError)) {
          logger.error(`resume (${htm} ${htu}) failed: ${(error as Error)?.stack ?? String(error)}`);
          return refusal('unavailable', 'The server could not handle the request; try again.');
        }
        const quiet = bailout.record(error.code);
        if (SUSPICIOUS.has(error.code)) {
          failuresByAddress.recordFailure(address);
          if (browser) failuresByBrowser.recordFailure(browser);
        }
        if (quiet) return { ...refusal(error.code, error.message), answer: { outcome: error.code, message: error.message, quiet: true } };
        if (error.code === 'rate-limited') {
          // The per-browser cap on live sessions (checked after the blob, before the ledger: the blob is not
          // used up). Every rate-limited answer says when to come back.
          const answer: Failure = { outcome: error.code, message: error.message, retryAfterSeconds: SESSION_CAP_RETRY_SECONDS };
          return { answer, status: HTTP_STATUS['rate-limited'], retryAfter: SESSION_CAP_RETRY_SECONDS };
        }
        if (error.code === 'misconfigured') logger.error(`resume (${htm} ${htu}): ${error.message}`);
        return refusal(error.code, error.message);
      }
    },
  };
}

function refusal(outcome: FailureCode, message: string): ResumeVerdict {
  return { answer: { outcome, message }, status: HTTP_STATUS[outcome] };
}
