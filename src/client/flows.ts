import { STATE_TRANSITIONS, type StasisStatus } from '../events.js';
import { isFinal, WRONG_BINDING_REASON, type FailureCode } from '../protocol/index.js';
import { custodyFailed, type HibernateResult, type ResumeResult } from '../protocol/custody.js';
import { boot, newSid } from './boot.js';
import { emit, markReady, record, setState, type Session } from './session.js';

/**
 * `intoCache`: the page is entering the back/forward cache. The browser closes its sockets there itself;
 * a close from the server arriving once the page is frozen would run script and evict it, so the server
 * is asked to leave the live channel open.
 */
export async function hibernate(s: Session, intoCache = false): Promise<void> {
  // Nothing can be live yet, or the blob is already kept.
  if ((s.state === 'starting' && !s.api) || s.state === 'hibernated' || s.state === 'waiting') return;
  const sid = s.sid;
  setState(s, 'hibernating');
  emit(s, 'hibernating', 'pending', { phase: 'hibernate' });
  // When custody is ready this posts synchronously: the page may be frozen right after this line.
  const request = { endpoint: s.endpoint, sid, ...(intoCache ? { keepChannels: true } : {}) };
  const custody = s.api;
  const result: HibernateResult = await (custody ? custody.hibernate(request) : boot(s).then((api) => api.hibernate(request))).catch(
    custodyFailed,
  );
  if (sid !== s.sid) return;
  record(s, result);
  if (result.outcome === 'ok') {
    if (result.storage === 'memory' && s.custody !== 'memory') {
      s.custody = 'memory';
      emit(s, 'custody', 'ok', { message: result.message });
    }
    s.gen = result.gen;
    if (s.state === 'hibernating') setState(s, 'hibernated');
    emit(s, 'hibernated', 'ok', { phase: 'hibernate', gen: result.gen, bytes: result.bytes });
    return;
  }
  if ('pending' in result && s.state === 'hibernating') {
    // Offline: the session is still live on the server; hand it over when the network returns.
    setState(s, 'pending');
  } else {
    // Nothing was stored; the server session (if any) is still live. A visible page is simply here again,
    // so the next hide (or idle spell) tries afresh.
    if (document.visibilityState === 'visible' && s.away) {
      s.away = false;
      s.idle = false;
    }
    if (s.state === 'hibernating') setState(s, 'live');
  }
  if (result.outcome !== 'no-session') emit(s, 'failed', result.outcome, { phase: 'hibernate', message: result.message });
}

/** Back online after a hibernate that could not reach the server: the worker hands it over now. */
export async function retryPending(s: Session): Promise<void> {
  if (!s.away) return;
  const api = await boot(s);
  const sid = s.sid;
  await api.flushPending().catch(() => 0);
  if (sid !== s.sid || !s.away || s.state !== 'pending') return;
  const stored = await api.peek(sid).catch(() => undefined);
  if (stored) {
    s.gen = stored.gen;
    record(s, { outcome: 'ok' });
    setState(s, 'hibernated');
    emit(s, 'hibernated', 'ok', { phase: 'hibernate', gen: stored.gen, bytes: stored.bytes });
  }
}

/** StasisClient.adopt: takes over the session another, closed tab left behind. */
export async function adopt(s: Session, sid: string): Promise<boolean> {
  await boot(s);
  if (!(await s.claim.adopt(sid))) return false;
  s.sid = s.ids.set(sid);
  s.gen = undefined;
  s.reason = 'adopted';
  s.away = false;
  setState(s, 'hibernated');
  await resume(s);
  return true;
}

/** StasisClient.recover: the live channel dropped without a hibernate; resume from the newest copy. */
export async function recover(s: Session, closed?: { code: number; reason: string }): Promise<StasisStatus> {
  await loadLive(s);
  if (closed?.reason === WRONG_BINDING_REASON && s.state === 'live') {
    // The server holds this sid for another binding cookie (this browser's is gone): start over.
    await boot(s);
    await startOver(s, 'wrong-binding'); // the code says it all: another browser's cookie holds the sid
  } else if (s.state === 'live' && !s.away && !s.resuming) {
    const kept = await (await boot(s)).peek(s.sid).catch(() => undefined);
    if (kept && s.state === 'live') {
      setState(s, 'hibernated');
      await resume(s);
    } else if (s.channel && s.state === 'live') markReady(s, 'live'); // the SDK's socket dropped: a new one
  }
  return s.client.status;
}

/** One resume at a time: `resuming` is set while it runs (signals and retries check it). */
export async function resume(s: Session): Promise<void> {
  s.resuming = true;
  try {
    await resumeOnce(s);
  } finally {
    s.resuming = false;
  }
}

async function resumeOnce(s: Session): Promise<void> {
  clearTimeout(s.retry);
  await s.reclaiming;
  const api = await boot(s);
  const sid = s.sid;
  // The states that may go on to `resuming` are those whose blob is kept (starting: when one is found).
  const stored =
    STATE_TRANSITIONS[s.state].includes('resuming') &&
    (s.state !== 'starting' || (await api.peek(sid).catch(() => undefined)) !== undefined);
  if (stored) {
    setState(s, 'resuming');
    emit(s, 'resuming', 'pending', { phase: 'resume' });
  }
  await loadLive(s);
  const result: ResumeResult = await (s.channel?.resumeOnSocket(s, api) ?? api.resume({ endpoint: s.endpoint, sid }).catch(custodyFailed));
  if (sid !== s.sid || s.away) return;
  record(s, result);
  if (result.outcome === 'none') {
    setState(s, 'live');
    markReady(s, s.reason ?? (s.gen === undefined ? 'new' : 'live'));
  } else if (result.outcome === 'ok') {
    s.retries = 0;
    s.gen = result.gen;
    setState(s, 'live');
    emit(s, 'resumed', 'ok', { phase: 'resume', gen: result.gen });
    markReady(s, s.reason === 'adopted' ? 'adopted' : 'resumed');
  } else if (!isFinal(result.outcome)) {
    setState(s, 'waiting');
    scheduleRetry(s, result.retryAfterSeconds);
  } else if (result.outcome === 'stale') {
    // The blob was older than a generation already resumed: the session itself lives on (on the server, or
    // in a store it finds when the page connects), so this tab keeps its id and goes back to it.
    setState(s, 'live');
    markReady(s, 'live');
  } else {
    await startOver(s, result.outcome, result.message, result.quiet);
  }
  s.reason = undefined;
}

/** The session is gone for good: start a new one under a new id, so no two tabs ever share one. */
async function startOver(s: Session, outcome: FailureCode, message?: string, quiet?: true): Promise<void> {
  await newSid(s);
  setState(s, 'live');
  const graceful = outcome === 'schema-reset' || quiet === true;
  emit(s, graceful ? 'reset' : 'failed', outcome, { phase: 'resume', message, ...(quiet ? { quiet } : {}) });
  markReady(s, graceful ? 'reset' : 'failed');
}

function scheduleRetry(s: Session, retryAfterSeconds = 0): void {
  clearTimeout(s.retry);
  const base = Math.min(s.maxRetryDelayMs, 1000 * 2 ** Math.min(s.retries++, 10));
  // Jitter, so a fleet of tabs does not retry in step; never sooner than the server asked (429 Retry-After).
  const delay = Math.max(base * (0.8 + Math.random() * 0.4), retryAfterSeconds * 1000);
  s.retry = setTimeout(() => {
    if (!s.away && s.state === 'waiting' && !s.resuming) void resume(s);
  }, delay);
}

/**
 * `live: true`: loads the live channel's code (its own file) before a resume or a recover needs it. Offline at
 * first use it stays unloaded: that resume goes over HTTP and its `ready` has no socket; the next one tries again.
 */
export async function loadLive(s: Session): Promise<void> {
  s.channel ??= await s.loadLiveChannel?.().catch(() => undefined);
}
