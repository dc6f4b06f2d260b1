#!/usr/bin/env node
/**
 * stasis-server: runs the reference server stand-alone with an app module and static files.
 *   node dist/server/cli.js [--port 8080] [--host 127.0.0.1] [--app ./my-app.js] [--static ./public] [--dev-key]
 * Without --app it runs the demo app. Settings come from STASIS_* variables (see README).
 */
import { createServer } from 'node:http';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createStasisServer, drainOnSignals, generateKeySpec, StasisConfigError, type StasisApp, type StasisServer } from './index.js';
import { createStaticHandler, type StaticRoot } from './transport/static-files.js';

const here = dirname(fileURLToPath(import.meta.url)); // dist/server
const packageRoot = resolve(here, '..', '..');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      app: { type: 'string' },
      static: { type: 'string', multiple: true },
      'dev-key': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('Usage: stasis-server [--port N] [--host H] [--app module.js] [--static dir]... [--dev-key]');
    return;
  }
  // Signals are taken over before anything starts: a SIGTERM that comes early (a quick redeploy) or twice
  // (an impatient orchestrator) must never kill the process with the default action in the middle of a drain.
  let started!: (stasis: StasisServer) => void;
  let failed!: (error: unknown) => void;
  const stasisStarted = new Promise<StasisServer>((resolve, reject) => ((started = resolve), (failed = reject)));
  stasisStarted.catch(() => undefined);
  const servers: Array<ReturnType<typeof createServer>> = [];
  drainOnSignals(stasisStarted, { servers });
  const port = Number(values.port ?? process.env.PORT ?? 8080);
  const host = values.host ?? process.env.HOST ?? '127.0.0.1';
  let keys = process.env.STASIS_KEYS;
  if (!keys && values['dev-key']) {
    // A throwaway key printed to the console has no place in production: every blob would die with the process.
    if (process.env.NODE_ENV === 'production') {
      throw new StasisConfigError('--dev-key is refused under NODE_ENV=production: set STASIS_KEYS.', { code: 'invalid-option', option: 'keys', env: 'STASIS_KEYS' });
    }
    keys = generateKeySpec();
    console.log(`[stasis] development key ring generated for this run only (blobs die with it): STASIS_KEYS=${keys}`);
  }
  const appModule = values.app ? pathToFileURL(resolve(values.app)).href : new URL('../demo/app.js', import.meta.url).href;
  const loaded = (await import(appModule).catch((error: unknown) => {
    const missing = (error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && !values.app;
    throw missing ? new StasisConfigError('Give your app module with --app ./my-app.js (the demo is not part of the package).') : error;
  })) as { default?: StasisApp };
  const app = loaded.default;
  if (typeof app !== 'function') throw new StasisConfigError(`${appModule} must default-export an app function (session) => handlers.`);

  const roots: StaticRoot[] = values.static?.length
    ? values.static.map((dir) => ({ dir: resolve(dir), recursive: true }))
    : [
        { dir: resolve(packageRoot, 'demo', 'public'), recursive: true },
        { dir: resolve(packageRoot, 'dist'), recursive: false },
      ];
  const serveStatic = createStaticHandler(roots);
  const stasis = await createStasisServer({ app, keys }).catch((error: unknown) => {
    failed(error);
    throw error;
  });
  const server = createServer((req, res) => {
    void (async () => {
      if (await stasis.handle(req, res)) return;
      if (await serveStatic(req, res)) return;
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found\n');
    })().catch((error: unknown) => {
      console.error('[stasis] request failed', error);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  stasis.attach(server);
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, done);
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  console.log(`[stasis] listening on http://${host.includes(':') ? `[${host}]` : host}:${actualPort}/`);

  servers.push(server);
  started(stasis);
}

main().catch((error: unknown) => {
  console.error(error instanceof StasisConfigError ? `[stasis] ${error.message}` : error);
  process.exit(1);
});
