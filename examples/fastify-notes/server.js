// A Fastify 5 notes app that existed before Stasis: its own JSON routes and its own WebSocket at /echo.
// Stasis is added with the lines marked "Stasis"; its live channel carries the note at /stasis/live.
import { readFile } from 'node:fs/promises';
import Fastify from 'fastify';
import { WebSocketServer } from 'ws';
import { createStasisServer, drainOnSignals } from 'stasis/server'; // Stasis
import { fastifyStasis } from 'stasis/fastify'; // Stasis

// Stasis: the session's state, and what the page and the server say to each other over the live channel.
const stasis = await createStasisServer({
  keys: process.env.STASIS_KEYS,
  audience: 'fastify-notes',
  schema: 'notes-1',
  app: (session) => {
    const note = session.persist('note', '');
    const saves = session.persist('saves', 0);
    const view = () => session.send({ type: 'view', note: note.get(), saves: saves.get(), gen: session.gen, restored: session.restored });
    return {
      onConnect: view,
      onMessage(message) {
        if (message?.type === 'note' && typeof message.text === 'string') note.set(message.text.slice(0, 5000));
        if (message?.type === 'save') saves.update((n) => n + 1);
        if (message?.type === 'ping') return session.send({ type: 'pong', id: message.id });
        view();
      },
    };
  },
});

const fastify = Fastify();
await fastify.register(fastifyStasis, { stasis }); // Stasis: endpoints, page bundles, live channel

const page = (file, type) => async (_request, reply) => reply.type(type).send(await readFile(new URL(`./public/${file}`, import.meta.url)));
fastify.get('/', page('index.html', 'text/html; charset=utf-8'));
fastify.get('/app.js', page('app.js', 'text/javascript; charset=utf-8'));
fastify.get('/style.css', page('style.css', 'text/css; charset=utf-8'));

fastify.get('/api/time', async () => ({ now: new Date().toISOString() }));
fastify.post('/api/echo', async (request) => ({ echo: request.body }));

// The app's own WebSocket on the same server: Stasis leaves its upgrades alone.
const echo = new WebSocketServer({ server: fastify.server, path: '/echo' });
echo.on('connection', (socket) => socket.on('message', (data) => socket.send(`echo:${data}`)));

await fastify.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' });
console.log(`fastify-notes listening on http://127.0.0.1:${fastify.server.address().port}/`);
drainOnSignals(stasis, { servers: [fastify] }); // Stasis: fastify.close() after the drain
