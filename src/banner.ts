import type { StasisClient } from './client.js';
import type { StasisEvent } from './events.js';

/** Banner texts; override any of them with `mountBanner(client, { texts: { … } })`. */
export const DEFAULT_TEXTS = {
  hibernating: 'Saving your session…',
  hibernated: 'Your session is saved. It will resume when you come back.',
  resuming: 'Restoring your session…',
  restored: 'Session restored.',
  offline: 'You are offline. Your session is saved and will resume when you are back online.',
  unreachable: 'Cannot reach the server. Your session is saved; retrying…',
  busy: 'Too many attempts to restore. Your session is saved; retrying shortly…',
  reset: 'The app was updated, so a fresh session was started.',
  failed: 'Your previous session could not be restored ({code}). A new session was started.',
  retry: 'Retry now',
  dismiss: 'Dismiss',
};
export type BannerTexts = typeof DEFAULT_TEXTS;

export interface BannerOptions {
  texts?: Partial<BannerTexts>;
  /** How long the "restored" and failure notes stay, ms. Default 4000. */
  noteMs?: number;
}

const STYLE_ID = 'stasis-banner-style';
// Themable through CSS custom properties: --stasis-bg, --stasis-fg, --stasis-accent, --stasis-radius, --stasis-font.
const CSS = `
.stasis-banner{position:fixed;left:16px;right:16px;bottom:16px;margin:0 auto;width:fit-content;max-width:560px;
z-index:2147483000;display:flex;gap:12px;align-items:center;padding:10px 14px;border-radius:var(--stasis-radius,10px);
background:var(--stasis-bg,#1f2430);color:var(--stasis-fg,#f5f7fb);font:14px/1.4 var(--stasis-font,system-ui,sans-serif);
box-shadow:0 6px 24px rgba(0,0,0,.25)}
.stasis-banner[hidden]{display:none}
.stasis-banner[data-tone=warn]{border-left:4px solid var(--stasis-warn,#f0b429)}
.stasis-banner[data-tone=ok]{border-left:4px solid var(--stasis-accent,#3ecf8e)}
.stasis-banner[data-tone=error]{border-left:4px solid var(--stasis-error,#ef5350)}
.stasis-banner button{font:inherit;color:inherit;background:transparent;border:1px solid currentColor;border-radius:6px;
padding:2px 10px;cursor:pointer}
.stasis-banner button:focus-visible{outline:2px solid var(--stasis-accent,#3ecf8e);outline-offset:2px}`;

/**
 * A small accessible status banner (role=status, aria-live=polite). It shows while Stasis saves,
 * restores or waits for the network, and briefly after a restore or a fresh start.
 */
export function mountBanner(client: StasisClient, options: BannerOptions = {}): () => void {
  const texts = { ...DEFAULT_TEXTS, ...options.texts };
  const noteMs = options.noteMs ?? 4000;
  if (!document.getElementById(STYLE_ID)) {
    const style = document.createElement('style');
    style.id = STYLE_ID;
    style.textContent = CSS;
    document.head.append(style);
  }
  const root = document.createElement('div');
  root.className = 'stasis-banner';
  root.setAttribute('role', 'status');
  root.setAttribute('aria-live', 'polite');
  root.hidden = true;
  const text = document.createElement('span');
  const action = document.createElement('button');
  action.type = 'button';
  root.append(text, action);
  document.body.append(root);
  let noteTimer: ReturnType<typeof setTimeout> | undefined;
  let onAction: (() => void) | undefined;
  action.addEventListener('click', () => onAction?.());

  const show = (message: string, tone: 'info' | 'warn' | 'ok' | 'error', state: string, button?: [string, () => void]) => {
    clearTimeout(noteTimer);
    text.textContent = message;
    root.dataset.tone = tone;
    root.dataset.state = state;
    action.hidden = !button;
    if (button) [action.textContent, onAction] = button;
    root.hidden = false;
  };
  const hide = () => {
    root.hidden = true;
    root.dataset.state = 'hidden';
  };
  const note = (...args: Parameters<typeof show>) => {
    show(...args);
    noteTimer = setTimeout(hide, noteMs);
  };

  const listeners = [
    client.on('statuschange', () => {
      const { state, online } = client.status;
      if (state === 'hibernating') show(texts.hibernating, 'info', 'hibernating');
      else if (state === 'hibernated') show(texts.hibernated, 'info', 'hibernated');
      else if (state === 'resuming') show(texts.resuming, 'info', 'resuming');
      else if (state === 'waiting') {
        const why = !online ? 'offline' : client.status.lastOutcome === 'rate-limited' ? 'busy' : 'unreachable';
        show(texts[why], 'warn', why, [
          texts.retry,
          () => void client.debug.resume(),
        ]);
      } else if (state === 'live' && ['hibernating', 'hibernated', 'resuming', 'unreachable', 'offline', 'busy'].includes(root.dataset.state ?? '')) {
        hide(); // a hibernate that found nothing to do, or an outcome event below replaces this
      }
    }),
    client.on('resumed', () => note(texts.restored, 'ok', 'restored')),
    client.on('reset', () => note(texts.reset, 'info', 'reset', [texts.dismiss, hide])),
    client.on('failed', (event: StasisEvent) => {
      if (event.detail.phase !== 'resume') return;
      show(texts.failed.replace('{code}', event.code), 'error', 'failed', [texts.dismiss, hide]);
    }),
  ];
  return () => {
    listeners.forEach((off) => off());
    clearTimeout(noteTimer);
    root.remove();
  };
}
