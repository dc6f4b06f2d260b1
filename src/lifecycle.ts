/**
 * Watches the page's lifecycle and connectivity and reports them as signals. Only listens: what to do
 * about a signal is the policy's job. Never adds an `unload` listener (that would block the bfcache).
 */
export type LifecycleSignal =
  | 'load'
  | 'visible'
  | 'hidden'
  | 'pageshow'
  | 'pagehide'
  | 'freeze'
  | 'resume'
  | 'online'
  | 'offline';

export interface SignalContext {
  signal: LifecycleSignal;
  /** `pageshow`/`pagehide`: the page is entering or leaving the back/forward cache. */
  persisted: boolean;
  visible: boolean;
}

export function watchLifecycle(onSignal: (context: SignalContext) => void, target: Window = window): () => void {
  const doc = target.document;
  const report = (signal: LifecycleSignal, persisted = false) =>
    onSignal({ signal, persisted, visible: doc.visibilityState === 'visible' });
  const listeners: Array<[EventTarget, string, (event: Event) => void]> = [
    [doc, 'visibilitychange', () => report(doc.visibilityState === 'visible' ? 'visible' : 'hidden')],
    [target, 'pagehide', (e) => report('pagehide', (e as PageTransitionEvent).persisted)],
    [target, 'pageshow', (e) => report('pageshow', (e as PageTransitionEvent).persisted)],
    [doc, 'freeze', () => report('freeze')],
    [doc, 'resume', () => report('resume')],
    [target, 'online', () => report('online')],
    [target, 'offline', () => report('offline')],
  ];
  // capture: run before app handlers, so the hide message leaves first.
  for (const [t, type, fn] of listeners) t.addEventListener(type, fn, { capture: true });
  return () => {
    for (const [t, type, fn] of listeners) t.removeEventListener(type, fn, { capture: true });
  };
}
