import type { CustodyKind } from '../events.js';
import type { CustodyApi } from '../protocol/custody.js';
import { activeRegistration, serviceWorkerCustody } from './service-worker-custody.js';

export interface CustodyChoice {
  api: CustodyApi;
  kind: CustodyKind;
  /** Stops waiting for answers in flight (page entering the back/forward cache). */
  abandon?: () => void;
  /** Why a better custody was not used, if it was not. */
  fallbackReason?: string;
}

/**
 * Picks who keeps the blobs, best first: the service worker (a frozen or closed page still gets its blob
 * stored), else the same custodian in the page over IndexedDB, else in the page's memory (IndexedDB
 * blocked, private mode): the blob then lives as long as the page.
 */
export async function openCustody(
  serviceWorkerUrl: string | undefined,
  timeoutMs: number,
  loadPageCustody: () => Promise<typeof import('./page-custody.js')>,
): Promise<CustodyChoice> {
  let fallbackReason = 'service worker off';
  if (serviceWorkerUrl && globalThis.navigator?.serviceWorker) {
    try {
      // The worker only keeps blobs, which needs no control of any page: its default scope (its own folder,
      // /stasis/ when the server serves it) leaves the site's own service worker alone. An offline app shell
      // (`?shell=`) needs the whole site; the server allows that with Service-Worker-Allowed: /.
      const registration = await navigator.serviceWorker.register(serviceWorkerUrl, /[?&]shell=/.test(serviceWorkerUrl) ? { scope: '/' } : undefined);
      const active = await activeRegistration(registration, timeoutMs);
      if (active) {
        const custody = serviceWorkerCustody(active, timeoutMs);
        return { api: custody, kind: 'service-worker', abandon: () => custody.abandon() };
      }
      fallbackReason = 'service worker not active in time';
    } catch (error) {
      fallbackReason = `service worker not registered (${(error as Error)?.message ?? error})`;
    }
  } else if (serviceWorkerUrl) {
    fallbackReason = 'no service worker here';
  }
  const page = await (await loadPageCustody()).openPageCustody();
  return { api: page.api, kind: page.kind, fallbackReason: page.problem ? `${fallbackReason}; ${page.problem}` : fallbackReason };
}
