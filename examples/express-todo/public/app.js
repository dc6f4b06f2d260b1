// The page of the todo app. Its WebSocket carries the app's messages; Stasis (the global from the script tag)
// says when the session is usable, and gets the messages it owns first.
const $ = (selector) => document.querySelector(selector);
const STASIS_CLOSE_CODES = [4001, 4007, 4008]; // hibernated, draining, idle: Stasis resumes, then fires `ready`
let socket;
const outbox = []; // sent while the session is hibernated or the socket reconnects: kept, not lost

function connect() {
  if (socket && socket.readyState <= WebSocket.OPEN && socket.sid === Stasis.sid) return;
  socket?.close(1000);
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/app?sid=${Stasis.sid}`);
  ws.sid = Stasis.sid;
  socket = ws;
  $('#socket').textContent = 'connecting';
  ws.onopen = () => {
    $('#socket').textContent = 'open';
    flush();
  };
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (Stasis.receive(message)) return; // a blob Stasis pushed (drain, idle, checkpoint)
    if (message.type === 'view') render(message);
    if (message.type === 'pong') window.dispatchEvent(new CustomEvent('app:pong', { detail: message }));
  };
  ws.onclose = (event) => {
    if (socket !== ws) return;
    socket = undefined;
    $('#socket').textContent = 'closed';
    if (STASIS_CLOSE_CODES.includes(event.code)) return;
    // Dropped without a hibernate (network, a server killed): reconnect while the page is in use.
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
  if (Stasis.status.state !== 'live' || socket?.readyState !== WebSocket.OPEN) return;
  while (outbox.length) socket.send(JSON.stringify(outbox.shift()));
}

function render(view) {
  $('#gen').textContent = String(view.gen);
  $('#restored').textContent = view.restored ? 'restored' : 'new';
  document.body.dataset.gen = String(view.gen);
  const draft = $('#draft');
  if (document.activeElement !== draft || !draft.value) draft.value = view.draft;
  $('#todos').replaceChildren(
    ...view.todos.map((todo) => {
      const li = document.createElement('li');
      li.dataset.id = todo.id;
      li.className = todo.done ? 'done' : '';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = todo.done;
      box.setAttribute('aria-label', todo.text);
      box.onchange = () => send({ type: 'toggle', id: todo.id });
      li.append(box, document.createTextNode(` ${todo.text}`));
      return li;
    }),
  );
  document.body.dataset.ready = 'true';
}

$('#add').onsubmit = (event) => {
  event.preventDefault();
  send({ type: 'add', text: $('#draft').value });
  $('#draft').value = '';
};
$('#draft').oninput = () => send({ type: 'draft', text: $('#draft').value });

// For the example's tests and your console: a round trip on the app's own socket.
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

Stasis.on('ready', connect); // first load, and again after every resume
Stasis.whenLive().then(flush);
