// The board page. The app's own Socket.IO connection carries the board; it passes the tab's session id in
// the handshake and hands Stasis's own messages (the `stasis` event) to Stasis.
const $ = (selector) => document.querySelector(selector);
const NEXT = { todo: 'doing', doing: 'done', done: 'todo' };
let board;

const socket = io({ autoConnect: false, transports: ['websocket'], auth: (cb) => cb({ sid: Stasis.sid }) });
socket.on('stasis', (message) => Stasis.receive(message)); // blobs pushed on drain, idle, checkpoints
socket.on('board', render);
socket.on('connect', () => ($('#socket').textContent = 'connected'));
socket.on('disconnect', (reason) => {
  $('#socket').textContent = 'disconnected';
  // 'io server disconnect': Stasis hibernated the session (or the server drains); it resumes, then says `ready`.
  // Anything else (network, a server killed): Socket.IO reconnects by itself; hand Stasis a checkpoint first.
  if (reason !== 'io server disconnect') void Stasis.recover();
});
socket.on('connect_error', (error) => ($('#socket').textContent = `refused (${error.data?.reason ?? error.message})`));

// Connect on the first `ready`, and again after every resume (the session may have a new id or generation).
Stasis.on('ready', () => {
  socket.disconnect();
  socket.connect();
});

function render(view) {
  board = view;
  $('#gen').textContent = String(view.gen);
  $('#restored').textContent = view.restored ? 'restored' : 'new';
  document.body.dataset.gen = String(view.gen);
  if (document.activeElement !== $('#filter')) $('#filter').value = view.filter;
  const filter = $('#filter').value.toLowerCase();
  for (const [name, cards] of Object.entries(view.columns)) {
    $(`[data-column="${name}"] ol`).replaceChildren(
      ...cards.map((text, index) => {
        const li = document.createElement('li');
        li.textContent = text;
        li.hidden = Boolean(filter) && !text.toLowerCase().includes(filter);
        const move = document.createElement('button');
        move.textContent = '→';
        move.setAttribute('aria-label', `Move "${text}" to ${NEXT[name]}`);
        move.onclick = () => emit('move', name, index, NEXT[name]);
        li.append(' ', move);
        return li;
      }),
    );
  }
  document.body.dataset.ready = 'true';
}

/** Emits once the session is usable: input while hibernated waits instead of being lost. */
async function emit(event, ...args) {
  await Stasis.whenLive();
  if (!socket.connected) await new Promise((resolve) => socket.once('connect', resolve));
  socket.emit(event, ...args);
}

$('#add').onsubmit = (event) => {
  event.preventDefault();
  void emit('add', $('#card').value);
  $('#card').value = '';
};
$('#filter').oninput = () => {
  void emit('filter', $('#filter').value);
  if (board) render(board);
};

// For the example's tests and your console: a round trip on the app's own socket.
window.appPing = async (id = Date.now()) => {
  await Stasis.whenLive();
  if (!socket.connected) await new Promise((resolve) => socket.once('connect', resolve));
  return new Promise((resolve) => socket.emit('app:ping', id, resolve));
};
