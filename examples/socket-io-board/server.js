// A node:http + Socket.IO app that existed before Stasis: a small task board whose state lives on the server
// and travels over the app's own Socket.IO connection. Stasis is added with the lines marked "Stasis".
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { Server } from 'socket.io';
import { createStasisServer, drainOnSignals } from 'stasis/server'; // Stasis
import { stasisMiddleware } from 'stasis/socket.io'; // Stasis

const stasis = await createStasisServer({
  keys: process.env.STASIS_KEYS,
  audience: 'socket-io-board',
  schema: 'board-1',
  app: (session) => ({
    columns: session.persist('columns', () => ({ todo: [], doing: [], done: [] })),
    filter: session.persist('filter', ''),
  }),
});

const files = { '/': ['index.html', 'text/html'], '/app.js': ['app.js', 'text/javascript'], '/style.css': ['style.css', 'text/css'] };
const server = createServer(async (req, res) => {
  if (await stasis.handle(req, res)) return; // Stasis: its endpoints and page bundles under /stasis
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (path === '/api/health') return res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}');
  const file = files[path];
  if (!file) return res.writeHead(404).end('Not found');
  res.writeHead(200, { 'Content-Type': `${file[1]}; charset=utf-8` }).end(await readFile(new URL(`./public/${file[0]}`, import.meta.url)));
});

const io = new Server(server);
io.use(stasisMiddleware(stasis, { io })); // Stasis: each socket gets its session (the page sends auth.sid)
io.on('connection', (socket) => {
  const { session, app: state } = socket.data.stasis;
  const view = () => socket.emit('board', { columns: state.columns.get(), filter: state.filter.get(), gen: session.gen, restored: session.restored });
  view();
  socket.on('add', (text) => {
    if (typeof text !== 'string' || !text.trim()) return;
    state.columns.update((c) => ({ ...c, todo: [...c.todo, text.trim().slice(0, 120)] }));
    view();
  });
  socket.on('move', (from, index, to) => {
    const columns = state.columns.get();
    if (!(from in columns) || !(to in columns) || !columns[from][index]) return;
    const card = columns[from][index];
    state.columns.set({ ...columns, [from]: columns[from].filter((_, i) => i !== index), [to]: [...columns[to], card] });
    view();
  });
  socket.on('filter', (text) => typeof text === 'string' && state.filter.set(text.slice(0, 100)));
  socket.on('app:ping', (id, reply) => typeof reply === 'function' && reply({ pong: id }));
});

server.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () =>
  console.log(`socket-io-board listening on http://127.0.0.1:${server.address().port}/`),
);
drainOnSignals(stasis, { servers: [server] }); // Stasis
