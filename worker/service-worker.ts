import { expose } from 'comlink';
import { isConnectMessage } from '../src/protocol/index.js';
import type { CustodyApi, HibernateResult } from '../src/protocol/custody.js';
import { Custodian } from '../src/custody/custodian.js';
import { Vault } from '../src/custody/vault.js';

// Just the service-worker types this file uses (the DOM and WebWorker libs cannot share one tsconfig).
interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface ExtendableMessageEvent extends ExtendableEvent {
  readonly data: unknown;
  readonly ports: readonly MessagePort[];
}
interface SyncEvent extends ExtendableEvent {
  readonly tag: string;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(response: Promise<Response>): void;
}
export interface ServiceWorkerScope {
  addEventListener(type: 'message', listener: (event: ExtendableMessageEvent) => void): void;
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEvent) => void): void;
  addEventListener(type: 'sync', listener: (event: SyncEvent) => void): void;
  addEventListener(type: 'fetch', listener: (event: FetchEvent) => void): void;
  skipWaiting(): Promise<void>;
  registration: { sync?: { register(tag: string): Promise<void> } };
  location: { href: string; origin: string };
  caches: CacheStorage;
}

export interface StasisWorkerOptions {
  /**
   * App-shell URLs to precache, so a tab opened offline still renders and can say "offline, your session
   * is safe". Navigations and these URLs are then served network-first, from the cache when offline.
   * Default: the `shell` query parameter of the worker's own URL (comma-separated), else none.
   */
  shell?: string[];
}

const SYNC_TAG = 'stasis-pending';
const SHELL_CACHE = 'stasis-shell-v1';

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
export function installStasisWorker(
  scope: ServiceWorkerScope,
  options: StasisWorkerOptions = {},
  custodian: Custodian = defaultCustodian(scope),
): void {
  const shell = options.shell ?? shellFromUrl(scope.location.href);
  // An app shell served offline shows the banner styled: its stylesheet (next to this worker when the Stasis
  // server serves both) is cached with it, on its own, as a copy of the worker elsewhere may not have one.
  const bannerStylesheet = new URL('stasis-banner.css', scope.location.href).pathname;
  scope.addEventListener('install', (event) => {
    void scope.skipWaiting();
    if (!shell.length) return;
    event.waitUntil(
      scope.caches
        .open(SHELL_CACHE)
        .then((cache) => Promise.all([cache.addAll(shell), cache.add(bannerStylesheet).catch(() => undefined)]))
        .catch(() => undefined),
    );
  });
  // No clients.claim(): pages talk to the worker without being controlled by it, and claiming a page that
  // sits in the back/forward cache would evict it. The shell cache serves the next loads.
  scope.addEventListener('activate', (event) => {
    event.waitUntil(Promise.all([custodian.purgeExpired().catch(() => 0), custodian.flushPending().catch(() => 0)]));
  });
  // Background Sync (Chromium): hand over sessions whose hibernate was attempted offline.
  scope.addEventListener('sync', (event) => {
    if (event.tag === SYNC_TAG) event.waitUntil(custodian.flushPending());
  });
  if (shell.length) installShellCache(scope, [...shell, bannerStylesheet]);
  scope.addEventListener('message', (event) => {
    if (!isConnectMessage(event.data)) return;
    const port = event.ports[0];
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    // A hibernate starts from the message itself: the page may already be gone (see ConnectMessage).
    const early = event.data.hibernate && custodian.hibernate(event.data.hibernate);
    if (early) void early.finally(() => setTimeout(finished, 0)).catch(() => undefined);
    if (port) expose(oneCall(custodian, finished, early || undefined), port);
    else if (!early) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const cap = new Promise<void>((resolve) => (timer = setTimeout(resolve, CALL_LIFETIME_MS)));
    event.waitUntil(Promise.race([done, cap]).finally(() => clearTimeout(timer)));
  });
}

/** Wraps the custodian so the event's lifetime ends once the call settled and its reply was posted. */
function oneCall(custodian: CustodyApi, finished: () => void, started?: Promise<HibernateResult>): CustodyApi {
  const track = <T>(promise: Promise<T>): Promise<T> => {
    // comlink posts the reply in a later microtask; a macrotask later it has surely been sent.
    void promise.finally(() => setTimeout(finished, 0)).catch(() => undefined);
    return promise;
  };
  return {
    hibernate: (request) => track(started ?? custodian.hibernate(request)),
    resume: (request) => track(custodian.resume(request)),
    lend: (request) => track(custodian.lend(request)),
    settle: (request) => track(custodian.settle(request)),
    peek: (sid) => track(custodian.peek(sid)),
    orphans: (endpoint) => track(custodian.orphans(endpoint)),
    flushPending: () => track(custodian.flushPending()),
    store: (request) => track(custodian.store(request)),
  };
}

function defaultCustodian(scope: ServiceWorkerScope): Custodian {
  return new Custodian({
    openVault: () => Vault.open(),
    onPending: () => void scope.registration.sync?.register(SYNC_TAG).catch(() => undefined),
  });
}

function shellFromUrl(href: string): string[] {
  const list = new URL(href).searchParams.get('shell');
  return list ? list.split(',').map((url) => url.trim()).filter(Boolean) : [];
}

/** Network first for navigations and shell URLs; the cached copy when the network fails. */
function installShellCache(scope: ServiceWorkerScope, shell: string[]): void {
  const paths = new Set(shell.map((url) => new URL(url, scope.location.href).pathname));
  scope.addEventListener('fetch', (event) => {
    const { request } = event;
    const url = new URL(request.url);
    if (request.method !== 'GET' || url.origin !== scope.location.origin) return;
    if (request.mode !== 'navigate' && !paths.has(url.pathname)) return;
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok && paths.has(url.pathname)) {
            const copy = response.clone();
            event.waitUntil(scope.caches.open(SHELL_CACHE).then((cache) => cache.put(url.pathname, copy)));
          }
          return response;
        })
        .catch(async (error: unknown) => {
          const cache = await scope.caches.open(SHELL_CACHE);
          const cached = (await cache.match(url.pathname)) ?? (request.mode === 'navigate' ? await cache.match('/') : undefined);
          if (cached) return cached;
          throw error;
        }),
    );
  });
}
