/**
 * The page's own custody, for when no service worker is available: the same custodian over IndexedDB,
 * else over memory. Shipped as a separate file (dist/stasis-fallback.mjs) that the SDK loads only when it
 * needs it, so the one script tag stays small.
 */
import { Custodian } from './custodian.js';
import { MemoryStore, Vault } from './vault.js';
import type { CustodyApi } from '../protocol/custody.js';

export async function openPageCustody(): Promise<{ api: CustodyApi; kind: 'page' | 'memory'; problem?: string }> {
  try {
    const vault = await Vault.open();
    return { api: new Custodian({ openVault: async () => vault, keepalive: true }), kind: 'page' };
  } catch (error) {
    const memory = new MemoryStore();
    return {
      api: new Custodian({ openVault: async () => memory, keepalive: true }),
      kind: 'memory',
      problem: `IndexedDB is unusable (${(error as Error)?.message ?? error})`,
    };
  }
}
