// ESM entry for apps that build their own service worker: `installStasisWorker(self)`.
export { installStasisWorker, type ServiceWorkerScope } from './service-worker.js';
export { Custodian, type CustodianOptions } from './custodian.js';
export { Vault, VAULT_DB, type VaultRecord } from './vault.js';
