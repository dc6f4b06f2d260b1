/**
 * Entry of dist/stasis.js, the one script tag:
 *   <script src="/stasis.js" data-endpoint="/stasis" data-sw="/stasis-sw.js"></script>
 * Attributes: data-endpoint, data-sw ("off" to keep blobs in the page; append ?shell=/,/app.css to
 * precache an offline app shell), data-banner ("off"), data-auto ("off": call Stasis.start() yourself),
 * data-orphans ("auto" | "ask" | "never"), data-idle-minutes (hibernate after that long without input).
 * The global `Stasis` is the client.
 */
import { createStasis } from './index.js';

const script = document.currentScript as HTMLScriptElement | null;
const data = script?.dataset ?? {};
const off = (value: string | undefined) => value === 'off' || value === 'false';

const Stasis = createStasis({
  ...(data.endpoint ? { endpoint: data.endpoint } : {}),
  serviceWorker: off(data.sw) ? false : (data.sw ?? '/stasis-sw.js'),
  banner: !off(data.banner),
  autoStart: !off(data.auto),
  ...(data.orphans === 'auto' || data.orphans === 'ask' || data.orphans === 'never' ? { orphans: data.orphans } : {}),
  ...(Number(data.idleMinutes) > 0 ? { idleMinutes: Number(data.idleMinutes) } : {}),
});

export default Stasis;
