// ESM entry for apps that build their own service worker: `installStasisWorker(self)`.
export { installStasisWorker, type ServiceWorkerScope, type StasisWorkerOptions } from './service-worker.js';
export { Custodian, type CustodianOptions } from '../src/custody/custodian.js';
export { Vault, MemoryStore, VAULT_DB, type VaultRecord, type BlobStore, type PendingHibernate } from '../src/custody/vault.js';
