/**
 * The benchmark page. With Stasis: connects on `ready`, reconnects after a resume, and stamps the moments the
 * harness measures (performance.now, one clock). Without (`?cold`): a plain app cold start, no Stasis.
 */
import type { StasisClient } from '../src/client.js';
import type { BenchView } from './bench-app.js';

interface Marks {
  hiddenAt?: number;
  visibleAt?: number;
  hibernatedAt?: number;
  state?: BenchView & { at: number };
}
const marks: Marks = {};
(window as unknown as { __bench: Marks }).__bench = marks;
const stasis = (window as unknown as { Stasis?: StasisClient }).Stasis;

let socket: WebSocket | undefined;
function connect(sid: string): void {
  if (socket && socket.readyState <= WebSocket.OPEN && socket.url.endsWith(sid)) return;
  const url = new URL(`/stasis/live?sid=${sid}`, location.href);
  url.protocol = url.protocol.replace('http', 'ws');
  socket = new WebSocket(url);
  socket.onmessage = (event) => {
    const message = JSON.parse(String(event.data)) as unknown;
    if (stasis?.receive(message)) return;
    if ((message as BenchView).type === 'state') marks.state = { ...(message as BenchView), at: performance.now() };
  };
}

(window as unknown as { __fill: (bytes: number) => void }).__fill = (bytes) => socket?.send(JSON.stringify({ type: 'fill', bytes }));

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') marks.hiddenAt = performance.now();
  else marks.visibleAt = performance.now();
});

if (stasis) {
  stasis.on('hibernated', () => (marks.hibernatedAt = performance.now()));
  stasis.on('ready', () => connect(stasis.sid));
} else {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  connect(btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));
}
