// The notes page: Stasis's built-in live channel carries the note; the app's own /echo socket is separate.
const $ = (selector) => document.querySelector(selector);
const STASIS_CLOSE_CODES = [4001, 4007, 4008]; // hibernated, draining, idle: Stasis resumes, then fires `ready`
const wsUrl = (path) => `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`;
let live;
const outbox = [];

function connect() {
  if (live && live.readyState <= WebSocket.OPEN && live.sid === Stasis.sid) return;
  live?.close(1000);
  const ws = new WebSocket(wsUrl(`/stasis/live?sid=${Stasis.sid}`));
  ws.sid = Stasis.sid;
  live = ws;
  ws.onopen = flush;
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (Stasis.receive(message)) return;
    if (message.type === 'view') render(message);
    if (message.type === 'pong') window.dispatchEvent(new CustomEvent('app:pong', { detail: message }));
  };
  ws.onclose = (event) => {
    if (live !== ws) return;
    live = undefined;
    if (STASIS_CLOSE_CODES.includes(event.code)) return;
    if (document.visibilityState === 'visible') {
      setTimeout(() => Stasis.recover(event).then((status) => status.state === 'live' && connect()), 500);
    }
  };
}

function send(message) {
  outbox.push(message);
  flush();
}

function flush() {
  if (Stasis.status.state !== 'live' || live?.readyState !== WebSocket.OPEN) return;
  while (outbox.length) live.send(JSON.stringify(outbox.shift()));
}

function render(view) {
  $('#gen').textContent = String(view.gen);
  $('#restored').textContent = view.restored ? 'restored' : 'new';
  $('#saves').textContent = String(view.saves);
  document.body.dataset.gen = String(view.gen);
  const note = $('#note');
  if (document.activeElement !== note) note.value = view.note;
  document.body.dataset.ready = 'true';
}

$('#note').oninput = () => send({ type: 'note', text: $('#note').value });
$('#save').onclick = () => send({ type: 'save' });

// The app's own socket: Stasis does not touch it.
const echo = new WebSocket(wsUrl('/echo'));
echo.onmessage = (event) => ($('#echo').textContent = String(event.data));
window.appEcho = (text) =>
  new Promise((resolve) => {
    const socket = echo.readyState === WebSocket.OPEN ? echo : new WebSocket(wsUrl('/echo'));
    const go = () => {
      socket.addEventListener('message', (event) => resolve(String(event.data)), { once: true });
      socket.send(text);
    };
    if (socket.readyState === WebSocket.OPEN) go();
    else socket.addEventListener('open', go, { once: true });
  });
window.appPing = (id = Date.now()) =>
  new Promise((resolve) => {
    const onPong = (event) => {
      if (event.detail.id !== id) return;
      window.removeEventListener('app:pong', onPong);
      resolve(event.detail);
    };
    window.addEventListener('app:pong', onPong);
    send({ type: 'ping', id });
  });

Stasis.on('ready', connect);
