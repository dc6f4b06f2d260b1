import type { StasisClient } from './client.js';

/** Banner texts; override any of them with `mountBanner(client, { texts: { … } })`. */
export const DEFAULT_TEXTS = {
  hibernating: 'Saving your session…',
  hibernated: 'Your session is saved. It will resume when you come back.',
  idle: 'Paused while you were away. Your session is saved.',
  paused: 'The server is restarting. Your session is saved and will resume in a moment.',
  pending: 'You are offline. Your session will be saved when the connection returns.',
  resuming: 'Restoring your session…',
  restored: 'Session restored.',
  offline: 'You are offline. Your session is safe and will resume when you are back online.',
  unreachable: 'Cannot reach the server. Your session is safe; retrying…',
  busy: 'Too many attempts to restore. Your session is safe; retrying shortly…',
  reset: 'The app was updated, so a fresh session was started.',
  failed: 'Your previous session could not be restored ({code}). A new session was started.',
  resumeNow: 'Resume now',
  reload: 'Reload',
  dismiss: 'Dismiss',
};
export type BannerTexts = typeof DEFAULT_TEXTS;

export interface BannerOptions {
  texts?: Partial<BannerTexts>;
  /**
   * URL of the banner's stylesheet (a `<link>`, so a Content-Security-Policy of `style-src 'self'` allows it).
   * Default: `stasis-banner.css` under the client's endpoint, where the Stasis server serves it. `false`: the app
   * styles `.stasis-banner` itself.
   */
  stylesheet?: string | false;
  /** How long the "restored" note stays, ms. Default 4000. */
  noteMs?: number;
}

/** What the banner shows, as `data-state` on its element (for styling and tests). */
export type BannerState =
  | 'hidden'
  | 'hibernating'
  | 'hibernated'
  | 'idle'
  | 'paused'
  | 'pending'
  | 'resuming'
  | 'restored'
  | 'offline'
  | 'unreachable'
  | 'busy'
  | 'reset'
  | 'failed';

/** A button: label, what it does, and whether it is shown but inert for now (kept so focus stays on it). */
type Action = [label: string, run: () => void, disabled?: boolean];

const STYLE_ID = 'stasis-banner-style';

/**
 * A small accessible status banner (role=status, aria-live=polite). It shows while Stasis saves,
 * restores or waits for the network, and after a restore or a fresh start; its buttons are ordinary
 * buttons, reachable with Tab.
 */
export function mountBanner(client: StasisClient, options: BannerOptions = {}): () => void {
  const texts = { ...DEFAULT_TEXTS, ...options.texts };
  const noteMs = options.noteMs ?? 4000;
  const href = options.stylesheet ?? `${client.endpoint}/stasis-banner.css`;
  if (href && !document.getElementById(STYLE_ID)) {
    const link = document.createElement('link');
    link.id = STYLE_ID;
    link.rel = 'stylesheet';
    link.href = href;
    document.head.append(link);
  }
  // The live region itself stays rendered (empty and sizeless when there is nothing to say): screen readers
  // announce changes inside an existing live region, not one that has just appeared.
  const root = document.createElement('div');
  root.className = 'stasis-banner';
  root.setAttribute('role', 'status');
  root.setAttribute('aria-live', 'polite');
  root.dataset.state = 'hidden';
  const box = document.createElement('div');
  box.className = 'stasis-banner__box';
  const text = document.createElement('span');
  const buttons = [document.createElement('button'), document.createElement('button')];
  const handlers: Array<() => void> = [];
  buttons.forEach((button, i) => {
    button.type = 'button';
    button.hidden = true;
    button.addEventListener('click', () => {
      if (button.getAttribute('aria-disabled') !== 'true') handlers[i]?.();
    });
  });
  box.append(text, ...buttons);
  root.append(box);
  document.body.append(root);
  let noteTimer: ReturnType<typeof setTimeout> | undefined;

  const hide = () => {
    clearTimeout(noteTimer);
    root.dataset.state = 'hidden';
    text.textContent = '';
  };
  const show = (
    state: Exclude<BannerState, 'hidden'>,
    tone: 'info' | 'warn' | 'ok' | 'error',
    actions: Action[] = [],
    message: string = texts[state],
  ) => {
    clearTimeout(noteTimer);
    text.textContent = message;
    root.dataset.tone = tone;
    root.dataset.state = state;
    buttons.forEach((button, i) => {
      const action = actions[i];
      button.hidden = !action;
      if (action) [button.textContent, handlers[i]] = action;
      if (action?.[2]) button.setAttribute('aria-disabled', 'true');
      else button.removeAttribute('aria-disabled');
    });
  };
  const resumeNow: Action = [texts.resumeNow, () => void client.debug.resume()];
  const transient: readonly string[] = ['hibernating', 'hibernated', 'idle', 'paused', 'pending', 'resuming', 'offline', 'unreachable', 'busy'];

  const listeners = [
    client.on('statuschange', () => {
      const { state, online, idle, lastOutcome, paused } = client.status;
      if (paused === 'drain' && (state === 'hibernated' || (state === 'waiting' && online))) show('paused', 'warn', [resumeNow]);
      else if (state === 'hibernating') show('hibernating', 'info');
      else if (state === 'hibernated') show(idle ? 'idle' : 'hibernated', 'info', idle ? [resumeNow] : []);
      else if (state === 'pending') show('pending', 'warn');
      else if (state === 'resuming') {
        // An automatic retry from a waiting state keeps its button (inert for now) so keyboard focus stays put.
        const retrying = ['offline', 'unreachable', 'busy', 'paused'].includes(root.dataset.state ?? '');
        show('resuming', 'info', retrying ? [[texts.resumeNow, () => undefined, true]] : []);
      }
      else if (state === 'waiting') {
        const why = !online ? 'offline' : lastOutcome === 'rate-limited' ? 'busy' : 'unreachable';
        show(why, 'warn', [resumeNow]);
      } else if (state === 'live' && transient.includes(root.dataset.state ?? '')) {
        hide(); // a hibernate that found nothing to do; outcome events below replace this
      }
    }),
    client.on('resumed', () => {
      show('restored', 'ok');
      noteTimer = setTimeout(hide, noteMs);
    }),
    client.on('reset', (event) => (event.detail.quiet ? hide() : show('reset', 'info', [[texts.dismiss, hide]]))),
    client.on('failed', (event) => {
      if (event.detail.phase !== 'resume') return;
      show(
        'failed',
        'error',
        [
          [texts.reload, () => location.reload()],
          [texts.dismiss, hide],
        ],
        texts.failed.replace('{code}', event.code),
      );
    }),
  ];
  return () => {
    listeners.forEach((off) => off());
    clearTimeout(noteTimer);
    root.remove();
  };
}
