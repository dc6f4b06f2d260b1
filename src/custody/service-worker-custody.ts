import { wrap } from 'comlink';
import { CONNECT_MESSAGE, type ConnectMessage } from '../protocol/index.js';
import type { CustodyApi, CustodyRequest, HibernateResult, ResumeResult } from '../protocol/custody.js';

/**
 * Talks to the Stasis service worker. Every call gets its own MessagePort, posted to the worker with a
 * `stasis:connect` message (which wakes a stopped worker and gives the call a `waitUntil`), and a
 * timeout: a worker that stops drops its ports silently and a comlink call would hang forever.
 */
const inFlight = new Set<unknown>();

export function serviceWorkerCustody(registration: ServiceWorkerRegistration, timeoutMs: number): CustodyApi {
  function call<R>(invoke: (remote: ReturnType<typeof wrap<CustodyApi>>) => Promise<R>, onTimeout: () => R): Promise<R> {
    const worker = registration.active;
    if (!worker) return Promise.resolve(onTimeout());
    const { port1, port2 } = new MessageChannel();
    const message: ConnectMessage = { type: CONNECT_MESSAGE };
    worker.postMessage(message, [port2]);
    // The call is posted on the port synchronously, before this function returns: the page may freeze next.
    const remote = wrap<CustodyApi>(port1);
    // Comlink closes the port of a proxy that is garbage-collected, and a call whose proxy was collected
    // mid-flight never hears its answer (seen here under load): hold every proxy until its call settles.
    inFlight.add(remote);
    const pending = invoke(remote);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<R>((resolve) => (timer = setTimeout(() => resolve(onTimeout()), timeoutMs)));
    return Promise.race([pending, timeout]).finally(() => {
      clearTimeout(timer);
      inFlight.delete(remote);
      port1.close();
    });
  }
  const silent = (): { outcome: 'unavailable'; message: string } => ({
    outcome: 'unavailable',
    message: 'The service worker did not answer in time.',
  });
  return {
    hibernate: (request: CustodyRequest) => call<HibernateResult>((r) => r.hibernate(request), silent),
    resume: (request: CustodyRequest) => call<ResumeResult>((r) => r.resume(request), silent),
    peek: (sid: string) => call((r) => r.peek(sid), () => undefined),
    orphans: (endpoint: string) => call((r) => r.orphans(endpoint), () => []),
    flushPending: () => call((r) => r.flushPending(), () => 0),
  };
}

/** The registration's active worker, waiting for an installing one to activate (at most `timeoutMs`). */
export async function activeRegistration(
  registration: ServiceWorkerRegistration,
  timeoutMs: number,
): Promise<ServiceWorkerRegistration | undefined> {
  if (registration.active) return registration;
  const pending = registration.installing ?? registration.waiting;
  if (!pending) return undefined;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(registration.active ? registration : undefined), timeoutMs);
    pending.addEventListener('statechange', () => {
      if (pending.state === 'activated' || registration.active) {
        clearTimeout(timer);
        resolve(registration);
      } else if (pending.state === 'redundant') {
        clearTimeout(timer);
        resolve(registration.active ? registration : undefined);
      }
    });
  });
}
