/**
 * Entry of dist/stasis.js, the one script tag, served by the Stasis server itself:
 *   <script src="/stasis/stasis.js"></script>
 * Attributes: data-endpoint (default /stasis), data-sw (default: stasis-sw.js next to this script; "off" to
 * keep blobs in the page; append ?shell=/,/app.css to precache an offline app shell), data-banner ("off"), data-auto ("off": call Stasis.start() yourself),
 * data-orphans ("auto" | "ask" | "never"), data-idle-minutes (hibernate after that long without input),
 * data-fallback (URL of stasis-fallback.mjs, default: next to this script), data-live ("on": Stasis opens the
 * live channel and resumes in it; see StasisOptions.live).
 * The global `Stasis` is the client.
 */
import { createClient } from './create.js';
import type { openPageCustody } from './custody/page-custody.js';
import type { LiveChannelModule } from './client/session.js';

const script = document.currentScript as HTMLScriptElement | null;
const data = script?.dataset ?? {};
const off = (value: string | undefined) => value === 'off' || value === 'false';
// The page custody (no service worker) lives in its own file next to this one, loaded only if needed.
const here = script?.src ?? location.href;
const fallbackUrl = new URL(data.fallback ?? 'stasis-fallback.mjs', here).href;

const Stasis = createClient({
  loadPageCustody: () => import(/* @vite-ignore */ fallbackUrl) as Promise<{ openPageCustody: typeof openPageCustody }>,
  // So is the live channel's code (data-live="on").
  loadLiveChannel: () => import(/* @vite-ignore */ new URL('stasis-live.mjs', here).href) as Promise<LiveChannelModule>,
  endpoint: data.endpoint || undefined,
  // Next to this script: /stasis/stasis-sw.js when the Stasis server serves it, /stasis-sw.js for copies at the root.
  serviceWorker: off(data.sw) ? false : (data.sw ?? (script ? new URL('stasis-sw.js', script.src).pathname : '/stasis-sw.js')),
  // The banner's stylesheet is next to this script too.
  banner: !off(data.banner) && { stylesheet: new URL('stasis-banner.css', here).href },
  autoStart: !off(data.auto),
  ...(data.orphans === 'auto' || data.orphans === 'ask' || data.orphans === 'never' ? { orphans: data.orphans } : {}),
  idleMinutes: Number(data.idleMinutes) || 0,
  live: data.live === 'on' || data.live === 'true',
});

export default Stasis;
