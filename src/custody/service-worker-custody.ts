import { wrap } from 'comlink';
import { CONNECT_MESSAGE, type ConnectMessage } from '../protocol/index.js';
import type { CustodyApi, CustodyRequest, HibernateResult, LendResult, ResumeResult, SettleRequest } from '../protocol/custody.js';

/**
 * Talks to the Stasis service worker. Every call gets its own MessagePort, posted to the worker with a
 * `stasis:connect` message (which wakes a stopped worker and gives the call a `waitUntil`), and a
 * timeout: a worker that stops drops its ports silently and a comlink call would hang forever.
 */
interface InFlight {
  /** Held so comlink does not close the port of a proxy garbage-collected mid-call (its answer would be lost). */
  remote: unknown;
  port: MessagePort;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** The worker custody, plus `abandon` for a page that is entering the back/forward cache. */
export interface ServiceWorkerCustody extends CustodyApi {
  /**
   * Stops listening for the answers of calls in flight (the worker still completes them). A page in the
   * back/forward cache that receives a message runs script and is evicted; its next resume asks again.
   */
  abandon(): void;
}

export function serviceWorkerCustody(registration: ServiceWorkerRegistration, timeoutMs: number): ServiceWorkerCustody {
  const inFlight = new Set<InFlight>();
  function call<R>(
    invoke: (remote: ReturnType<typeof wrap<CustodyApi>>) => Promise<R>,
    onTimeout: () => R,
    hibernate?: ConnectMessage['hibernate'],
  ): Promise<R> {
    const worker = registration.active;
    if (!worker) return Promise.resolve(onTimeout());
    const { port1, port2 } = new MessageChannel();
    const message: ConnectMessage = { type: CONNECT_MESSAGE, ...(hibernate ? { hibernate } : {}) };
    worker.postMessage(message, [port2]);
    // The call is posted on the port synchronously, before this function returns: the page may freeze next.
    const remote = wrap<CustodyApi>(port1);
    const entry: InFlight = { remote, port: port1, timer: undefined };
    inFlight.add(entry);
    const pending = invoke(remote);
    const timeout = new Promise<R>((resolve) => (entry.timer = setTimeout(() => resolve(onTimeout()), timeoutMs)));
    return Promise.race([pending, timeout]).finally(() => {
      clearTimeout(entry.timer);
      inFlight.delete(entry);
      port1.close();
    });
  }
  const silent = (): { outcome: 'unavailable'; message: string } => ({
    outcome: 'unavailable',
    message: 'The service worker did not answer in time.',
  });
  return {
    hibernate: (request: CustodyRequest) => call<HibernateResult>((r) => r.hibernate(request), silent, { ...request }),
    resume: (request: CustodyRequest) => call<ResumeResult>((r) => r.resume(request), silent),
    lend: (request: CustodyRequest) => call<LendResult>((r) => r.lend(request), silent),
    settle: (request: SettleRequest) => call<ResumeResult>((r) => r.settle(request), silent),
    peek: (sid: string) => call((r) => r.peek(sid), () => undefined),
    orphans: (endpoint: string) => call((r) => r.orphans(endpoint), () => []),
    flushPending: () => call((r) => r.flushPending(), () => 0),
    store: (request: CustodyRequest & { blob: string }) => call<HibernateResult>((r) => r.store(request), silent),
    abandon() {
      for (const entry of inFlight) {
        clearTimeout(entry.timer);
        entry.port.close();
      }
      inFlight.clear();
    },
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
