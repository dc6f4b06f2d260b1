/**
 * Entry of dist/stasis.js, the one script tag, served by the Stasis server itself:
 *   <script src="/stasis/stasis.js"></script>
 * Attributes: data-endpoint (default /stasis), data-sw (default: stasis-sw.js next to this script; "off" to
 * keep blobs in the page; append ?shell=/,/app.css to precache an offline app shell), data-banner ("off"), data-auto ("off": call Stasis.start() yourself),
 * data-orphans ("auto" | "ask" | "never"), data-idle-minutes (hibernate after that long without input),
 * data-fallback (URL of stasis-fallback.mjs, default: next to this script).
 * The global `Stasis` is the client.
 */
import { createClient } from './create.js';
import type { openPageCustody } from './custody/page-custody.js';

const script = document.currentScript as HTMLScriptElement | null;
const data = script?.dataset ?? {};
const off = (value: string | undefined) => value === 'off' || value === 'false';
// The page custody (no service worker) lives in its own file next to this one, loaded only if needed.
const fallbackUrl = new URL(data.fallback ?? 'stasis-fallback.mjs', script?.src ?? location.href).href;

const Stasis = createClient({
  loadPageCustody: () => import(/* @vite-ignore */ fallbackUrl) as Promise<{ openPageCustody: typeof openPageCustody }>,
  endpoint: data.endpoint || undefined,
  // Next to this script: /stasis/stasis-sw.js when the Stasis server serves it, /stasis-sw.js for copies at the root.
  serviceWorker: off(data.sw) ? false : (data.sw ?? (script ? new URL('stasis-sw.js', script.src).pathname : '/stasis-sw.js')),
  banner: !off(data.banner),
  autoStart: !off(data.auto),
  ...(data.orphans === 'auto' || data.orphans === 'ask' || data.orphans === 'never' ? { orphans: data.orphans } : {}),
  idleMinutes: Number(data.idleMinutes) || 0,
});

export default Stasis;
