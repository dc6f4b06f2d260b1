// An Express 5 todo app that existed before Stasis: its own routes, express.json(), and its own WebSocket at
// /app that carries the todo list. Stasis is added with the lines marked "Stasis".
import { createServer } from 'node:http';
import express from 'express';
import { WebSocketServer } from 'ws';
import { createStasisServer, drainOnSignals } from 'stasis/server'; // Stasis
import { withStasis } from 'stasis/ws'; // Stasis

// Stasis: what persists per session, declared once per session (new or restored).
const stasis = await createStasisServer({
  keys: process.env.STASIS_KEYS, // "kid:<32 bytes base64url>"; the same keys on every instance and restart
  audience: 'express-todo',
  schema: 'todo-1',
  app: (session) => ({
    todos: session.persist('todos', () => []),
    draft: session.persist('draft', ''),
  }),
});

const app = express();
app.use(express.json()); // the app's body parser, before Stasis: Stasis uses the body it parsed
app.use(stasis.middleware); // Stasis: /stasis/hibernate, /stasis/resume, /stasis/stasis.js, …
app.use(express.static(new URL('./public', import.meta.url).pathname));

let served = 0;
app.get('/api/stats', (_req, res) => res.json({ served }));
app.post('/api/echo', (req, res) => res.json({ echo: req.body }));

const server = createServer(app);

// The app's own WebSocket. Stasis binds each connection to the tab's session (?sid=Stasis.sid).
const wss = new WebSocketServer({ server, path: '/app' });
withStasis(wss, stasis, (socket, { session, app: state }) => {
  const view = () =>
    socket.send(JSON.stringify({ type: 'view', todos: state.todos.get(), draft: state.draft.get(), gen: session.gen, restored: session.restored }));
  served++;
  view();
  socket.on('message', (data) => {
    let message;
    try {
      message = JSON.parse(String(data));
    } catch {
      return;
    }
    if (message.type === 'ping') return socket.send(JSON.stringify({ type: 'pong', id: message.id }));
    if (message.type === 'add' && typeof message.text === 'string' && message.text.trim()) {
      state.todos.update((todos) => [...todos, { id: Date.now().toString(36), text: message.text.trim().slice(0, 200), done: false }]);
      state.draft.set('');
    } else if (message.type === 'toggle') {
      state.todos.update((todos) => todos.map((t) => (t.id === message.id ? { ...t, done: !t.done } : t)));
    } else if (message.type === 'draft' && typeof message.text === 'string') {
      state.draft.set(message.text.slice(0, 200));
      return; // no echo while typing
    }
    view();
  });
});

const port = Number(process.env.PORT ?? 3000);
server.listen(port, process.env.HOST ?? '127.0.0.1', () => console.log(`express-todo listening on http://127.0.0.1:${server.address().port}/`));
drainOnSignals(stasis, { servers: [server] }); // Stasis: SIGTERM/SIGINT hand every session to its page first
