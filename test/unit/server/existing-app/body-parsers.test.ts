/**
 * Stasis's POST endpoints behind whatever body handling an existing app has: Express 4/5 with express.json()
 * before or after Stasis, a middleware that eats the body (`misconfigured` at once, not a hang), a stalled
 * body (408 after bodyTimeoutMs), a body the host parsed itself (`handle(req, res, { body })`), and Fastify 4/5.
 */
import { createServer, type IncomingMessage, type RequestListener } from 'node:http';
import { createRequire } from 'node:module';
import Express5 from 'express';
import Fastify5 from 'fastify';
import Fastify4 from 'fastify4';
import { afterEach, describe, expect, it } from 'vitest';
import { fastifyStasis } from '../../../../server-stub/adapters/fastify.js';
import type { StasisServer } from '../../../../server-stub/index.js';
import {
  expectLiveCycle,
  listen,
  newSid,
  onCleanup,
  postJson,
  rawExchange,
  runCleanups,
  startStasis,
  type CounterApp,
  type Listening,
} from './support.js';

afterEach(runCleanups);

// express4 (an npm alias of express@4) ships no types; its API used here is the same as Express 5's.
const Express4 = createRequire(import.meta.url)('express4') as typeof Express5;
const expresses = [
  ['Express 5', Express5],
  ['Express 4', Express4],
] as const;

/** Listens with an Express app as the request handler and Stasis's live channel attached. */
async function serveExpress(stasis: StasisServer<CounterApp>, app: RequestListener): Promise<Listening> {
  const server = createServer(app);
  stasis.attach(server);
  return listen(server);
}

/** The app's own JSON route, to show its parser still works wherever Stasis sits. */
function todoRoutes(app: ReturnType<typeof Express5>): void {
  app.post('/todos', (req, res) => {
    res.status(201).json({ created: req.body as unknown });
  });
  app.use((_req, res) => {
    res.status(404).json({ app: 'not found' });
  });
}

describe.each(expresses)('%s', (_name, express) => {
  it.each(['before', 'after'] as const)('express.json() %s stasis.middleware: the full hibernate → resume cycle', async (order) => {
    const stasis = await startStasis();
    const app = express();
    if (order === 'before') app.use(express.json());
    app.use(stasis.middleware);
    if (order === 'after') app.use(express.json());
    todoRoutes(app);
    const at = await serveExpress(stasis, app);

    await expectLiveCycle(at, newSid());
    const todo = await postJson(at.base, '/todos', { title: 'milk' });
    expect(todo).toMatchObject({ status: 201, json: { created: { title: 'milk' } } });
    const other = await fetch(`${at.base}/other`, { signal: AbortSignal.timeout(3000) });
    expect(other.status).toBe(404);
    expect(await other.json()).toStrictEqual({ app: 'not found' });
  });

  it('express.json() before Stasis and a body it does not parse (text/plain): Stasis reads the stream itself', async () => {
    const stasis = await startStasis();
    const app = express();
    app.use(express.json()); // Express 4 leaves req.body = {} here without reading the stream
    app.use(stasis.middleware);
    const at = await serveExpress(stasis, app);
    const sid = newSid();
    const answer = await postJson(at.base, '/stasis/hibernate', JSON.stringify({ sid }), { contentType: 'text/plain' });
    // The body was read and understood: the answer is about the session, not about the body.
    expect(answer).toMatchObject({ status: 404, json: { outcome: 'no-session' } });
  });

  it('express.raw() before Stasis leaves the JSON as bytes on req.body: used as is', async () => {
    const stasis = await startStasis();
    const app = express();
    app.use(express.raw({ type: '*/*' }));
    app.use(stasis.middleware);
    const at = await serveExpress(stasis, app);
    const answer = await postJson(at.base, '/stasis/hibernate', { sid: newSid() });
    expect(answer).toMatchObject({ status: 404, json: { outcome: 'no-session' } });
  });

  const consumers = {
    "req.on('data') + 'end', then next()": (req: IncomingMessage, _res: unknown, next: () => void) => {
      req.on('data', () => {});
      req.on('end', () => next());
    },
    'express.raw(), then delete req.body': (req: IncomingMessage, res: never, next: () => void) => {
      express.raw({ type: '*/*' })(req, res, () => {
        delete (req as { body?: unknown }).body;
        next();
      });
    },
  };
  it.each(Object.entries(consumers))('a middleware that eats the body (%s) → misconfigured at once', async (_how, consume) => {
    const stasis = await startStasis();
    const app = express();
    app.use(consume as never);
    app.use(stasis.middleware);
    const at = await serveExpress(stasis, app);
    for (const path of ['/stasis/hibernate', '/stasis/resume']) {
      const started = Date.now();
      // Fails the test (AbortError) when no answer arrives within 2 s: a hang is the bug this guards against.
      const answer = await postJson(at.base, path, { sid: newSid(), blob: 'x.y.z.w.v' }, { timeoutMs: 2000 });
      expect(answer.status).toBe(500);
      expect(answer.json.outcome).toBe('misconfigured');
      expect(String(answer.json.message)).toMatch(/stasis\.middleware/);
      expect(Date.now() - started).toBeLessThan(2000);
    }
  });
});

describe('a slow or stalled body', () => {
  it.each(['/stasis/hibernate', '/stasis/resume'])('POST %s: HTTP 408, outcome unavailable, connection closed after bodyTimeoutMs', async (path) => {
    const stasis = await startStasis({ bodyTimeoutMs: 300 });
    const server = createServer((req, res) => void stasis.handle(req, res));
    const at = await listen(server);
    const request =
      `POST ${path} HTTP/1.1\r\nHost: ${at.host}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n` +
      `Connection: keep-alive\r\n\r\n{"sid":`; // 7 of 100 bytes, then nothing
    const answer = await rawExchange(at.port, request, 3000); // resolves only once the server closes the connection
    expect(answer.status).toBe(408);
    expect(answer.headers.connection).toBe('close');
    expect(JSON.parse(answer.body)).toMatchObject({ outcome: 'unavailable', message: expect.stringMatching(/300 ms/) });
    expect(answer.closedByServer).toBe(true);
    expect(answer.elapsedMs).toBeGreaterThanOrEqual(250);
    expect(answer.elapsedMs).toBeLessThan(300 + 1500);
  });

  it('a body that completes in time is served normally', async () => {
    const stasis = await startStasis({ bodyTimeoutMs: 300 });
    const server = createServer((req, res) => void stasis.handle(req, res));
    const at = await listen(server);
    const body = JSON.stringify({ sid: newSid() });
    const request =
      `POST /stasis/hibernate HTTP/1.1\r\nHost: ${at.host}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
    const answer = await rawExchange(at.port, request, 3000);
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body)).toMatchObject({ outcome: 'no-session' });
  });
});

describe('stasis.handle(req, res, { body }) with a body the host parsed itself', () => {
  it('runs the full cycle, and an object given that way wins over an unread stream', async () => {
    const stasis = await startStasis();
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        const body = text ? (JSON.parse(text) as unknown) : undefined;
        void stasis.handle(req, res, { body }).then((handled) => {
          if (!handled) res.writeHead(404).end();
        });
      });
    });
    stasis.attach(server);
    const at = await listen(server);
    await expectLiveCycle(at, newSid());

    // A stream nobody read, but a parsed body handed over: that body is used (its sid is the bad one here).
    const direct = createServer((req, res) => void stasis.handle(req, res, { body: { sid: 'not a sid' } }));
    const at2 = await listen(direct);
    const answer = await postJson(at2.base, '/stasis/hibernate', { sid: newSid() });
    expect(answer).toMatchObject({ status: 400, json: { outcome: 'malformed' } });
  });
});

const fastifies = [
  ['Fastify 5', Fastify5],
  ['Fastify 4', Fastify4 as unknown as typeof Fastify5],
] as const;

describe.each(fastifies)('%s with fastifyStasis', (_name, fastify) => {
  it('the app’s JSON route, its 404 and the Stasis cycle all work', async () => {
    const stasis = await startStasis();
    const app = fastify({ logger: false });
    onCleanup(() => app.close());
    await app.register(fastifyStasis, { stasis });
    app.post('/todos', async (request, reply) => reply.code(201).send({ created: request.body }));
    app.get('/known', async () => ({ app: 'known' }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as { port: number }).port;
    const at: Listening = { port, base: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}` };

    // Fastify would have parsed the JSON (and left Stasis an empty stream) had the hook not taken it first.
    await expectLiveCycle(at, newSid());
    expect(await postJson(at.base, '/todos', { title: 'milk' })).toMatchObject({ status: 201, json: { created: { title: 'milk' } } });
    const known = await fetch(`${at.base}/known`, { signal: AbortSignal.timeout(3000) });
    expect(await known.json()).toStrictEqual({ app: 'known' });
    const other = await fetch(`${at.base}/other`, { signal: AbortSignal.timeout(3000) });
    expect(other.status).toBe(404);
    expect(await other.json()).toMatchObject({ statusCode: 404, error: 'Not Found' }); // Fastify's own 404
    const health = await fetch(`${at.base}/stasis/health?x=1`, { signal: AbortSignal.timeout(3000) });
    expect(await health.json()).toMatchObject({ ok: true });
    // Stasis's own 404 under its base path (JSON with an outcome), not Fastify's.
    const missing = await fetch(`${at.base}/stasis/nothing`, { signal: AbortSignal.timeout(3000) });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ outcome: 'malformed' });
  });

  it('refuses to register without { stasis }', async () => {
    const app = fastify({ logger: false });
    onCleanup(() => app.close());
    await expect(app.register(fastifyStasis, {} as never).ready()).rejects.toThrow(/needs \{ stasis \}/);
  });
});
