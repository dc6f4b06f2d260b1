/**
 * Reports when a visible page has had no input for `idleMs`, and the first input after that. Input
 * listeners are passive and only record a timestamp; a coarse timer does the checking.
 */
/** What counts as input: for the idle timer, and for resuming a session the server paused for idleness. */
export const INPUT_EVENTS = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart', 'scroll'] as const;

/** `idle` returns whether it acted; if not (the page was busy resuming, say), it is asked again later. */
export function watchIdle(idleMs: number, on: { idle: () => boolean; active: () => void }, target: Window = window): () => void {
  let lastInput = Date.now();
  let idle = false;
  const onInput = () => {
    lastInput = Date.now();
    if (idle) {
      idle = false;
      on.active();
    }
  };
  const onVisible = () => {
    if (target.document.visibilityState === 'visible') lastInput = Date.now(); // coming back counts as activity
  };
  for (const type of INPUT_EVENTS) target.addEventListener(type, onInput, { capture: true, passive: true });
  target.document.addEventListener('visibilitychange', onVisible);
  const timer = setInterval(
    () => {
      if (!idle && target.document.visibilityState === 'visible' && Date.now() - lastInput >= idleMs) {
        idle = on.idle();
      }
    },
    Math.min(15_000, Math.max(250, idleMs / 4)),
  );
  return () => {
    clearInterval(timer);
    for (const type of INPUT_EVENTS) target.removeEventListener(type, onInput, { capture: true });
    target.document.removeEventListener('visibilitychange', onVisible);
  };
}
