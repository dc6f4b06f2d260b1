/**
 * Stasis as users install it: the `npm pack` tarball installed into fresh projects outside this repository,
 * type-checked with TypeScript the way each kind of project is set up, and run. Nothing here resolves to the
 * repository's sources or node_modules: the projects live in the system temp folder.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTarball, ROOT } from './tarball.js';

const run = promisify(execFile);
const TSC = resolve(ROOT, 'node_modules/typescript/bin/tsc');

let home = '';

/** One project: its package.json `type`, its tsconfig compiler options, and its files. */
function project(name: string, type: 'module' | 'commonjs', compilerOptions: Record<string, unknown> | undefined, files: Record<string, string>): string {
  const dir = join(home, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name}`, private: true, type }, null, 2));
  if (compilerOptions) {
    const options = { strict: true, noEmit: true, skipLibCheck: false, target: 'ES2022', types: [], ...compilerOptions };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: options, include: ['*.ts'] }, null, 2));
  }
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

/** tsc over a project: resolves with its output; rejects (with the diagnostics) when it does not compile. */
async function typecheck(dir: string): Promise<void> {
  try {
    await run(process.execPath, [TSC, '-p', dir], { cwd: dir });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`tsc -p ${dir} failed:\n${stdout ?? ''}${stderr ?? ''}`, { cause: error });
  }
}

async function node(dir: string, file: string): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, [file], { cwd: dir, timeout: 30_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

const KEY = "'k1:' + 'A'.repeat(43)";

/** A node:http app with Stasis: health, the page bundle served by the server, and Redis without ioredis. */
const serverScript = (load: string) => `${load}
const http = require_http();
async function main() {
  const stasis = await createStasisServer({ app: () => ({}), keys: ${KEY} });
  const server = http.createServer(async (req, res) => {
    if (await stasis.handle(req, res)) return;
    res.end('the app');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = 'http://127.0.0.1:' + server.address().port;
  const health = (await fetch(base + '/stasis/health')).status;
  const bundle = await fetch(base + '/stasis/stasis.js');
  const app = await (await fetch(base + '/')).text();
  await stasis.close();
  server.close();
  let redis;
  try {
    await createStasisServer({ app: () => ({}), keys: ${KEY}, redisUrl: 'redis://127.0.0.1:9' });
    redis = 'started';
  } catch (error) {
    redis = { name: error.name, code: error.code, option: error.option, isConfigError: error instanceof StasisConfigError };
  }
  console.log(JSON.stringify({ health, bundle: bundle.status, bundleType: bundle.headers.get('content-type'), app, redis, closeCodes: typeof CLOSE_CODES.hibernated }));
}
main().catch((error) => { console.error(error); process.exit(1); });
`;

const SERVER_TS = `import { createStasisServer, StasisConfigError, CLOSE_CODES, type StasisServerOptions, type StasisApp } from 'stasis/server';
const app: StasisApp = (session) => {
  const count = session.persist('count', 0);
  return {
    onMessage: () => {
      count.update((n) => n + 1);
    },
  };
};
const options: StasisServerOptions = { app, ttlSeconds: 3600 };
export async function start(): Promise<number> {
  const stasis = await createStasisServer(options);
  const closed: number = CLOSE_CODES.hibernated;
  // @ts-expect-error ttlSeconds is a number
  void createStasisServer({ app, ttlSeconds: 'long' });
  if (closed < 0) throw new StasisConfigError('never');
  await stasis.close();
  return closed;
}
`;

const PAGE_TS = `import { createStasis, CLOSE_CODES, isFinal, type StasisStatus, type Outcome } from 'stasis';
const Stasis = createStasis({ endpoint: '/stasis' });
const status: StasisStatus = Stasis.status;
const state: string = status.state;
const remove = Stasis.on('ready', (event) => {
  const code: Outcome | 'none' | 'pending' = event.code;
  void code;
});
remove();
const final: boolean = isFinal('replayed');
const ours: readonly number[] = [CLOSE_CODES.hibernated, CLOSE_CODES.draining, CLOSE_CODES.idle];
export { state, final, ours };
`;

beforeAll(async () => {
  const tarball = ensureTarball();
  home = mkdtempSync(join(tmpdir(), 'stasis-consumers-'));
  writeFileSync(
    join(home, 'package.json'),
    JSON.stringify({ name: 'stasis-consumers', private: true, dependencies: { stasis: `file:${tarball}`, '@types/node': '^20.19.0' } }, null, 2),
  );
  await run('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'], { cwd: home, timeout: 240_000 });
}, 300_000);

afterAll(() => {
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('installed from the tarball', () => {
  it('ESM, moduleResolution nodenext: the server and the page type-check; the server runs', async () => {
    const dir = project('esm-nodenext', 'module', { module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM'], types: ['node'] }, {
      'server.ts': SERVER_TS,
      'page.ts': PAGE_TS,
      // stasis/redis names ioredis's types: a project that imports it installs ioredis (here it does not).
      'redis.ts': `// @ts-expect-error ioredis is not installed in this project\nimport type { Redis } from 'ioredis';\nexport type { Redis };\n`,
      'server.mjs': serverScript(`import { createStasisServer, StasisConfigError, CLOSE_CODES } from 'stasis/server';\nimport * as httpModule from 'node:http';\nconst require_http = () => httpModule;`),
    });
    await typecheck(dir);
    const result = await node(dir, 'server.mjs');
    expect(result).toMatchObject({ health: 200, bundle: 200, app: 'the app', closeCodes: 'number' });
    expect(String(result.bundleType)).toMatch(/javascript/);
    // ioredis is an optional peer: not installed here, so a Redis setting is refused at start, clearly.
    expect(result.redis).toEqual({ name: 'StasisConfigError', code: 'missing-dependency', option: 'redisUrl', isConfigError: true });
  }, 120_000);

  it('moduleResolution bundler: the page, the server and installStasisWorker type-check', async () => {
    const dir = project('bundler', 'module', { module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2022', 'DOM'], types: ['node'] }, {
      'server.ts': SERVER_TS,
      'page.ts': PAGE_TS,
      'sw.ts': `import { installStasisWorker } from 'stasis/worker';\ndeclare const self: Parameters<typeof installStasisWorker>[0];\ninstallStasisWorker(self);\n`,
    });
    await typecheck(dir);
  }, 120_000);

  it("CommonJS: require('stasis/server') runs, and TypeScript reads its types as CommonJS", async () => {
    const dir = project('cjs', 'commonjs', { module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022'], types: ['node'] }, {
      'server.ts': SERVER_TS,
      'server.cjs': serverScript(`const { createStasisServer, StasisConfigError, CLOSE_CODES } = require('stasis/server');\nconst require_http = () => require('node:http');`),
    });
    await typecheck(dir);
    const result = await node(dir, 'server.cjs');
    expect(result).toMatchObject({ health: 200, bundle: 200, app: 'the app', closeCodes: 'number' });
    expect(result.redis).toEqual({ name: 'StasisConfigError', code: 'missing-dependency', option: 'redisUrl', isConfigError: true });
  }, 120_000);

  it('a Node-only project without the DOM lib type-checks the server (skipLibCheck off)', async () => {
    const dir = project('node-only', 'module', { module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022'], types: ['node'] }, {
      'server.ts': SERVER_TS,
    });
    await typecheck(dir);
  }, 120_000);

  it('moduleResolution node10 (no exports map): stasis/server resolves through typesVersions', async () => {
    const dir = project('node10', 'commonjs', { module: 'CommonJS', moduleResolution: 'Node10', lib: ['ES2022'], types: ['node'] }, {
      'server.ts': SERVER_TS,
    });
    await typecheck(dir);
  }, 120_000);

  it('a page using the script tag: the global Stasis is typed by stasis/global', async () => {
    const dir = project('global', 'module', { module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2022', 'DOM'] }, {
      'page.ts': `/// <reference types="stasis/global" />
const state: string = Stasis.status.state;
const off = Stasis.on('hibernated', (event) => console.log(event.code, state));
off();
window.Stasis.start().then((status) => status.sid.length);
// @ts-expect-error no such event
Stasis.on('no-such-event', () => undefined);
export {};
`,
    });
    await typecheck(dir);
  }, 120_000);

  it('a page without the reference: no global Stasis (the declaration is opt-in)', async () => {
    const dir = project('no-global', 'module', { module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2022', 'DOM'] }, {
      'page.ts': `// @ts-expect-error Stasis is not declared without stasis/global\nStasis.start();\nexport {};\n`,
    });
    await typecheck(dir);
  }, 120_000);
});
