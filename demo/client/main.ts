/**
 * The demo's browser side. It renders what the server sends and sends every input back: the state lives
 * on the server. Stasis (the global from the script tag) tells it when the session is usable.
 */
import type { StasisClient } from '../../src/client.js';
import type { StasisEvent } from '../../src/events.js';
import { CLOSE_CODES } from '../../src/protocol/index.js';
import { DETAIL_FIELDS, PRODUCTS, type ClientMessage, type ServerMessage, type View } from '../shared/messages.js';

declare const Stasis: StasisClient;

const $ = <T extends HTMLElement>(selector: string) => document.querySelector(selector) as T;
const money = (cents: number) => `$${(cents / 100).toFixed(2)}`;

let socket: WebSocket | undefined;
let socketSid: string | undefined;
let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
/** The first view on a new socket replaces every field, even the focused one (it may be a new session). */
let firstView = true;

/**
 * Opens the live channel, unless this session's is open already. `fresh`: a socket of the session's previous
 * incarnation (a resume or a new session just happened) is replaced even while it is still open: after a drain
 * its 4007 close can arrive after the resume's `ready`, and it is no channel of the restored session.
 */
function connect(fresh = false): void {
  clearTimeout(reconnectTimer);
  const sid = Stasis.sid;
  // With data-live="on" (live.html) Stasis opens the channel itself, and a resume rode in its first message.
  const given = Stasis.socket && Stasis.socket.readyState <= WebSocket.OPEN && Stasis.socket !== socket ? Stasis.socket : undefined;
  if (!fresh && !given && socket && socketSid === sid && socket.readyState <= WebSocket.OPEN) return;
  socket?.close(1000, 'new session'); // its close is expected: `socket` is the new one by then (see onclose)
  const ws = given ?? openOwnSocket(sid);
  socket = ws;
  socketSid = sid;
  firstView = true;
  $('#app').setAttribute('aria-busy', 'true'); // until this socket's first view: what shows may be stale
  setConnection('connecting');
  // A socket opened while the network was going away can hang in CONNECTING: give up on it and try again.
  const stuck = setTimeout(() => ws.readyState === WebSocket.CONNECTING && ws.close(), 5000);
  ws.onopen = () => {
    flush();
    clearTimeout(stuck);
    setConnection('connected');
  };
  if (ws.readyState === WebSocket.OPEN) ws.onopen(new Event('open')); // resumed on it: already open
  ws.onmessage = (event) => {
    const message = JSON.parse(String(event.data)) as ServerMessage;
    if (Stasis.receive(message)) return; // a blob pushed by the server before it restarts
    if (message.type === 'view') render(message.view);
  };
  ws.onclose = (event) => {
    if (socket !== ws) return;
    socket = undefined;
    if (event.code === CLOSE_CODES.hibernated || event.code === CLOSE_CODES.draining || event.code === CLOSE_CODES.idle) {
      setConnection(event.code === CLOSE_CODES.hibernated ? 'hibernated' : 'paused');
      return; // Stasis resumes the session and says `ready`; reconnect then
    }
    setConnection('disconnected');
    // Dropped without hibernation (network, an instance killed): try again while the page is in use. Stasis
    // first hands the newest checkpoint (if the server sends them) to whichever instance answers.
    if (document.visibilityState === 'visible' && Stasis.status.state === 'live') {
      reconnectTimer = setTimeout(
        () => void Stasis.recover(event).then((status) => status.state === 'live' && connect()),
        500 + Math.random() * 1000,
      );
    }
  };
}

function openOwnSocket(sid: string): WebSocket {
  const url = new URL(`${Stasis.endpoint}/live`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('sid', sid);
  return new WebSocket(url);
}

/**
 * Input made while the session is not usable (resuming, paused by a server restart or idleness, the socket
 * reconnecting) waits here and goes out once it is (`Stasis.whenLive()`, the socket open): nothing the user
 * typed or clicked meanwhile is lost. Keystrokes in one field collapse into their last value.
 */
const outbox: ClientMessage[] = [];

function send(message: ClientMessage): void {
  const last = outbox.at(-1);
  if (message.type === 'field' && last?.type === 'field' && last.name === message.name) outbox.pop();
  outbox.push(message);
  flush();
}

function flush(): void {
  if (Stasis.status.state !== 'live' || socket?.readyState !== WebSocket.OPEN) return;
  for (const message of outbox.splice(0)) socket.send(JSON.stringify(message));
}

function setConnection(state: string): void {
  const el = $('#connection');
  el.textContent = state;
  el.dataset.state = state;
}

function render(view: View): void {
  document.body.dataset.step = String(view.step);
  $('#app').removeAttribute('aria-busy');
  document.querySelectorAll<HTMLElement>('[data-step-panel]').forEach((panel) => {
    panel.hidden = panel.dataset.stepPanel !== String(view.step);
  });
  document.querySelectorAll<HTMLElement>('.stepper li').forEach((li) => {
    const step = Number(li.dataset.step);
    li.classList.toggle('done', step < view.step);
    li.toggleAttribute('aria-current', step === view.step);
  });
  for (const product of PRODUCTS) {
    const qty = view.cart.find((line) => line.id === product.id)?.qty ?? 0;
    $(`[data-qty="${product.id}"]`).textContent = String(qty);
    $(`[data-product="${product.id}"]`).classList.toggle('in-cart', qty > 0);
  }
  const summary = view.cart.length
    ? view.cart.map((l) => `<li><span>${l.qty} × ${escapeHtml(l.name)}</span><span>${money(l.lineTotal)}</span></li>`).join('')
    : '<li class="empty">Your cart is empty.</li>';
  document.querySelectorAll('[data-cart-lines]').forEach((el) => (el.innerHTML = summary));
  document.querySelectorAll('[data-total]').forEach((el) => (el.textContent = money(view.total)));
  $('#cart-count').textContent = String(view.cart.reduce((n, l) => n + l.qty, 0));
  for (const field of DETAIL_FIELDS) {
    const input = $<HTMLInputElement>(`[name="${field}"]`);
    // Never overwrite what the user is typing; the server already has it.
    if ((firstView || document.activeElement !== input) && input.value !== view.details[field]) input.value = view.details[field];
    const review = document.querySelector(`[data-review="${field}"]`);
    if (review) review.textContent = view.details[field] || '—';
  }
  firstView = false;
  $('#problem').textContent = view.problem ?? '';
  $('#order-number').textContent = view.orderNumber ?? '';
  $('#session-gen').textContent = String(view.gen);
  $('#session-started').textContent = new Date(view.startedAt).toLocaleTimeString();
  $('#session-restored').textContent = view.restored ? 'yes' : 'no';
}

function renderStatus(): void {
  const status = Stasis.status;
  $('#session-id').textContent = `${status.sid.slice(0, 8)}…`;
  $('#session-state').textContent = status.state;
  $('#session-custody').textContent = status.custody;
  const log = $('#event-log');
  log.dataset.last = status.lastOutcome ?? '';
}

function logEvent(event: StasisEvent): void {
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()}  ${event.type}${event.code !== 'pending' ? ` (${event.code})` : ''}`;
  item.dataset.type = event.type;
  item.dataset.code = event.code;
  const log = $('#event-log');
  log.prepend(item);
  while (log.children.length > 8) log.lastElementChild?.remove();
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function wire(): void {
  document.querySelectorAll<HTMLButtonElement>('[data-add]').forEach((button) =>
    button.addEventListener('click', () => {
      // Deltas, not absolute quantities: two quick clicks must add two, whatever the last view said.
      send({ type: 'add', id: button.dataset.add as (typeof PRODUCTS)[number]['id'], delta: Number(button.dataset.delta) });
    }),
  );
  for (const field of DETAIL_FIELDS) {
    $<HTMLInputElement>(`[name="${field}"]`).addEventListener('input', (event) =>
      send({ type: 'field', name: field, value: (event.target as HTMLInputElement).value }),
    );
  }
  document.querySelectorAll<HTMLButtonElement>('[data-goto]').forEach((button) =>
    button.addEventListener('click', () => send({ type: 'step', step: Number(button.dataset.goto) as 1 | 2 | 3 })),
  );
  $('#place-order').addEventListener('click', () => send({ type: 'place' }));
  $('#restart').addEventListener('click', () => send({ type: 'restart' }));
  $('#details-form').addEventListener('submit', (event) => {
    event.preventDefault();
    send({ type: 'step', step: 3 });
  });
  $('#simulate').addEventListener('click', () => void Stasis.debug.hibernate().then(() => Stasis.debug.resume()));
}

wire();
for (const type of ['hibernating', 'hibernated', 'resuming', 'resumed', 'reset', 'failed', 'ready', 'checkpoint'] as const) {
  Stasis.on(type, logEvent);
}
Stasis.on('statuschange', renderStatus);
/** Closes the live channel without reconnecting; the session stays live on the server (retention window). */
function closeSocket(): void {
  const closing = socket;
  socket = undefined; // its close is expected: no reconnect from onclose
  closing?.close(1000, 'leaving');
  setConnection('closed');
}
// Firefox keeps any page with a WebSocket (even one closing) out of its back/forward cache; Stasis itself does
// not block it (its tab claim is parked on `beforeunload`). Closing on `beforeunload` is too late for Firefox
// but frees the server at once; a page still here a moment later (a cancelled navigation) reconnects.
addEventListener('beforeunload', () => {
  closeSocket();
  setTimeout(() => document.visibilityState === 'visible' && Stasis.status.state === 'live' && connect(), 3000);
});
// For the engine suite: shows that a Stasis page with a live session, and no socket of the app's, is cached.
(window as unknown as { demo: unknown }).demo = { closeSocket };
Stasis.on('ready', (event) => {
  // `live`: the same session goes on (a stale blob went back to it, a recover), so an open socket stays.
  connect(event.detail.reason !== 'live');
  flush();
});
renderStatus();
void Stasis.ready().then(() => connect());
