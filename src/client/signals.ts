import { INPUT_EVENTS, watchIdle } from '../idle.js';
import { watchLifecycle, type SignalContext } from '../lifecycle.js';
import { unpark } from './boot.js';
import { hibernate, resume, retryPending } from './flows.js';
import { setState, type Session } from './session.js';

/** A page that started leaving but is still here after this long (a cancelled navigation, a download) takes its claim back. */
const NAVIGATION_GRACE_MS = 3000;

/** Starts watching the page (lifecycle, idleness, leaving); pushes what stops each watcher onto `stop`. */
export function watchPage(s: Session, stop: Array<() => void>): void {
  stop.push(watchLifecycle((context) => onSignal(s, context)));
  if (s.idleMinutes > 0) {
    stop.push(
      watchIdle(s.idleMinutes * 60_000, {
        idle: () => onIdle(s),
        active: () => onActive(s),
      }),
    );
  }
  // Leaving: park the tab claim so Firefox can keep the page in its back/forward cache (see TabClaim).
  const leaving = () => {
    if (s.claim.park()) s.grace = setTimeout(() => unpark(s), NAVIGATION_GRACE_MS);
  };
  addEventListener('beforeunload', leaving);
  stop.push(() => removeEventListener('beforeunload', leaving));
  const visible = document.visibilityState === 'visible';
  onSignal(s, { signal: 'load', persisted: false, visible });
  if (!visible) s.away = true; // loaded in the background: resume when first shown
}

function onSignal(s: Session, context: SignalContext): void {
  // The tab claim is parked while the page may sit in the back/forward cache (see TabClaim): taken back when
  // it returns, left for adoption when the page unloads for good.
  if (context.signal === 'pageshow' && context.persisted) {
    s.resuming = false; // an abandoned call never answers
    unpark(s);
  }
  if (context.signal === 'pagehide' && !context.persisted) s.claim.leave();
  if (context.signal === 'offline' || context.signal === 'online') setState(s, s.state); // banner text
  if (context.signal === 'online' && s.state === 'pending') void retryPending(s);
  const action = s.policy(context);
  if (action === 'hibernate') {
    const intoCache = context.signal === 'pagehide' && context.persisted;
    if (!s.away) {
      s.away = true; // hidden + pagehide + freeze: one hibernate
      s.idle = false;
      clearTimeout(s.retry);
      void hibernate(s, intoCache);
    }
    // Entering the back/forward cache: an answer arriving there would run script and evict the page.
    // The worker finishes the hibernate anyway; `pageshow` resumes, which waits for it.
    if (intoCache) s.abandon?.();
  } else if (action === 'resume') {
    // load + pageshow + visible can arrive together: one resume at a time is enough.
    if (!s.away && (s.resuming || !mayNeedResume(s))) return;
    s.away = false;
    s.idle = false;
    void resume(s);
  }
}

function onIdle(s: Session): boolean {
  if (s.away || s.state !== 'live' || document.visibilityState !== 'visible') return false;
  s.away = true;
  s.idle = true;
  void hibernate(s);
  return true;
}

function onActive(s: Session): void {
  if (!s.idle || !s.away) return;
  s.away = false;
  s.idle = false;
  void resume(s);
}

function mayNeedResume(s: Session): boolean {
  const state = s.state;
  return state !== 'live' && state !== 'resuming';
}

/** The server paused the session for idleness: the first input on a visible page resumes it. */
export function resumeOnNextInput(s: Session): void {
  const once = () => {
    for (const type of INPUT_EVENTS) removeEventListener(type, once, { capture: true });
    if (document.visibilityState === 'visible') onActive(s);
  };
  for (const type of INPUT_EVENTS) addEventListener(type, once, { capture: true, passive: true });
}
