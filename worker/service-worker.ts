import { expose } from 'comlink';
import { isConnectMessage } from '../src/protocol/index.js';
import type { CustodyApi } from '../src/protocol/custody.js';
import { Custodian } from './custodian.js';
import { Vault } from './vault.js';

// Just the service-worker types this file uses (the DOM and WebWorker libs cannot share one tsconfig).
interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface ExtendableMessageEvent extends ExtendableEvent {
  readonly data: unknown;
  readonly ports: readonly MessagePort[];
}
export interface ServiceWorkerScope {
  addEventListener(type: 'message', listener: (event: ExtendableMessageEvent) => void): void;
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEvent) => void): void;
  skipWaiting(): Promise<void>;
  clients: { claim(): Promise<void> };
}

/** A browser caps one event at 5 minutes; a call that outlives this is abandoned. */
const CALL_LIFETIME_MS = 4 * 60 * 1000;

/**
 * Installs Stasis in a service worker: `installStasisWorker(self)`. Works in an app's own worker too
 * (import it, or `importScripts('/stasis-sw.js')`, which installs itself).
 *
 * Each page call arrives as a `stasis:connect` message carrying a fresh MessagePort with one comlink call
 * on it. The message event's `waitUntil` covers that call, so the worker stays alive until the blob is on
 * disk even if the page was frozen or closed right after sending.
 */
export function installStasisWorker(scope: ServiceWorkerScope, custodian: Custodian = defaultCustodian()): void {
  scope.addEventListener('install', () => void scope.skipWaiting());
  scope.addEventListener('activate', (event) => {
    event.waitUntil(Promise.all([scope.clients.claim(), custodian.purgeExpired().catch(() => 0)]));
  });
  scope.addEventListener('message', (event) => {
    if (!isConnectMessage(event.data)) return;
    const port = event.ports[0];
    if (!port) return;
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    expose(oneCall(custodian, finished), port);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const cap = new Promise<void>((resolve) => (timer = setTimeout(resolve, CALL_LIFETIME_MS)));
    event.waitUntil(Promise.race([done, cap]).finally(() => clearTimeout(timer)));
  });
}

/** Wraps the custodian so the event's lifetime ends once the call settled and its reply was posted. */
function oneCall(custodian: CustodyApi, finished: () => void): CustodyApi {
  const track = <T>(promise: Promise<T>): Promise<T> => {
    // comlink posts the reply in a later microtask; a macrotask later it has surely been sent.
    void promise.finally(() => setTimeout(finished, 0)).catch(() => undefined);
    return promise;
  };
  return {
    hibernate: (request) => track(custodian.hibernate(request)),
    resume: (request) => track(custodian.resume(request)),
    peek: (sid) => track(custodian.peek(sid)),
  };
}

function defaultCustodian(): Custodian {
  return new Custodian({ openVault: () => Vault.open() });
}
