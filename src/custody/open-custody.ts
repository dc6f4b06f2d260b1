import { Custodian } from '../../worker/custodian.js';
import { Vault } from '../../worker/vault.js';
import type { CustodyKind } from '../events.js';
import type { CustodyApi } from '../protocol/custody.js';
import { activeRegistration, serviceWorkerCustody } from './service-worker-custody.js';

export interface CustodyChoice {
  api: CustodyApi;
  kind: CustodyKind;
  /** Why the preferred custody was not used, if it was not. */
  fallbackReason?: string;
}

/**
 * Picks who keeps the blobs: the service worker when it registers and activates (so a frozen or closed
 * page still gets its blob stored), else the same vault code in the page.
 */
export async function openCustody(serviceWorkerUrl: string | undefined, timeoutMs: number): Promise<CustodyChoice> {
  let fallbackReason = 'no service worker URL configured';
  if (serviceWorkerUrl && typeof navigator !== 'undefined' && 'serviceWorker' in navigator) {
    try {
      const registration = await navigator.serviceWorker.register(serviceWorkerUrl);
      const active = await activeRegistration(registration, timeoutMs);
      if (active) return { api: serviceWorkerCustody(active, timeoutMs), kind: 'service-worker' };
      fallbackReason = 'the service worker did not activate in time';
    } catch (error) {
      fallbackReason = `the service worker could not be registered (${(error as Error)?.message ?? error})`;
    }
  } else if (serviceWorkerUrl) {
    fallbackReason = 'this browser offers no service worker here';
  }
  return { api: new Custodian({ openVault: () => Vault.open(), keepalive: true }), kind: 'page', fallbackReason };
}
