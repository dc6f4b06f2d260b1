/**
 * The benchmark page. With Stasis: connects on `ready`, reconnects after a resume, and stamps the moments the
 * harness measures (performance.now, one clock). Without (`?cold`): a plain app cold start, no Stasis.
 *
 * For the breakdown (bench/breakdown.ts) it also logs, from the outside of the SDK: the connect message and the
 * comlink call posted to the service worker, the answer arriving on the call's port, Stasis's events, and the
 * live channel's open and first state. `__benchLog()` drains the page's log and the worker's (bench/public/bench/sw.js).
 */
import type { StasisClient } from '../src/client.js';
import type { BenchView } from './bench-app.js';
import type { BenchLog, PageEvent, WorkerEvent } from './breakdown.js';

interface Marks {
  hiddenAt?: number;
  visibleAt?: number;
  hibernatedAt?: number;
  state?: BenchView & { at: number };
}
const marks: Marks = {};
const log: PageEvent[] = [];
const bench = window as unknown as {
  __bench: Marks;
  __fill: (bytes: number) => void;
  __benchLog: () => Promise<BenchLog>;
  Stasis?: StasisClient;
};
bench.__bench = marks;
const stasis = bench.Stasis;
const stampEvent = (what: PageEvent['what'], op?: string) => log.push({ what, at: performance.now(), ...(op ? { op } : {}) });

let socket: WebSocket | undefined;
function connect(sid: string): void {
  // Live mode (live.html): the socket Stasis opened, and resumed on (already open then).
  const given = stasis?.socket;
  if (given && given !== socket && given.readyState <= WebSocket.OPEN) {
    socket = given;
  } else {
    if (socket && socket.readyState <= WebSocket.OPEN && new URL(socket.url).searchParams.get('sid') === sid) return;
    const url = new URL(`/stasis/live?sid=${sid}`, location.href);
    url.protocol = url.protocol.replace('http', 'ws');
    stampEvent('ws');
    socket = new WebSocket(url);
  }
  socket.onopen = () => stampEvent('open');
  socket.onmessage = (event) => {
    const message = JSON.parse(String(event.data)) as unknown;
    if (stasis?.receive(message)) return;
    if ((message as BenchView).type === 'state') {
      marks.state = { ...(message as BenchView), at: performance.now() };
      stampEvent('state');
    }
  };
}

bench.__fill = (bytes) => socket?.send(JSON.stringify({ type: 'fill', bytes }));

// Window, capture phase: runs before any listener on the document, Stasis's included.
addEventListener(
  'visibilitychange',
  () => {
    if (document.visibilityState === 'hidden') marks.hiddenAt = performance.now();
    else marks.visibleAt = performance.now();
    stampEvent(document.visibilityState === 'hidden' ? 'hidden' : 'visible');
  },
  { capture: true },
);

if (stasis) {
  watchWorkerCalls();
  stasis.on('hibernated', () => {
    marks.hibernatedAt = performance.now();
    stampEvent('hibernated');
  });
  stasis.on('resumed', () => stampEvent('resumed'));
  stasis.on('ready', () => {
    stampEvent('ready');
    connect(stasis.sid);
  });
  bench.__benchLog = async () => ({ page: log.splice(0), worker: await workerLog(), pageOrigin: performance.timeOrigin });
} else {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  connect(btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));
}

/** Stamps the connect message, the comlink call posted on its port, and the answer arriving there. */
function watchWorkerCalls(): void {
  hook(ServiceWorker.prototype, 'postMessage', (_worker, [message]) => {
    const m = message as { type?: string; hibernate?: unknown } | undefined;
    if (m?.type === 'stasis:connect') stampEvent('post', m.hibernate ? 'hibernate' : 'call');
  });
  const calls = new WeakMap<MessagePort, string>();
  hook(MessagePort.prototype, 'postMessage', (port, [message]) => {
    const m = message as { type?: string; path?: string[] } | undefined;
    if (m?.type !== 'APPLY') return;
    const op = String(m.path?.[0]);
    calls.set(port, op);
    stampEvent('apply', op);
  });
  // A listener of our own on each call's port, added before comlink's, stamps the answer as it arrives.
  const watched = new WeakSet<MessagePort>();
  hook(MessagePort.prototype, 'addEventListener', (port, [type]) => {
    if (type !== 'message' || watched.has(port)) return;
    watched.add(port);
    port.addEventListener('message', () => stampEvent('reply', calls.get(port)));
  });
}

/** Replaces `proto[name]` with a function that calls `before` and then the original, unchanged. */
function hook<T extends object>(proto: T, name: keyof T & string, before: (self: T, args: unknown[]) => void): void {
  const original = Reflect.get(proto, name) as (...args: unknown[]) => unknown;
  Reflect.set(proto, name, function (this: T, ...args: unknown[]) {
    before(this, args);
    return original.apply(this, args);
  });
}

/** Drains the bench service worker's log (bench/public/bench/sw.js). */
async function workerLog(): Promise<{ events: WorkerEvent[]; origin: number }> {
  const worker = (await navigator.serviceWorker.getRegistration('/bench/'))?.active;
  if (!worker) return { events: [], origin: NaN };
  const { port1, port2 } = new MessageChannel();
  const answer = new Promise<{ events: WorkerEvent[]; origin: number }>((resolve) => (port1.onmessage = (event) => resolve(event.data as { events: WorkerEvent[]; origin: number })));
  worker.postMessage({ type: 'bench:log' }, [port2]);
  return answer;
}
