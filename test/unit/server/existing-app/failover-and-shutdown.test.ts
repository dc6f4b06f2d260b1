/**
 * The development failover route (POST /stasis/debug/failover), the page bundles served under the base path,
 * and drainOnSignals in a real child process.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { StasisConfigError, type StasisServer } from '../../../../server-stub/index.js';
import {
  isType,
  listen,
  newSid,
  onCleanup,
  postJson,
  runCleanups,
  startStasis,
  within,
  wsClient,
  type CounterApp,
  type Hello,
  type Listening,
} from './support.js';

afterEach(runCleanups);

const distDir = fileURLToPath(new URL('../../../../dist/', import.meta.url));
const bundles = ['stasis.js', 'stasis-sw.js', 'stasis-fallback.mjs'];
const distBuilt = bundles.every((name) => existsSync(join(distDir, name))) && existsSync(join(distDir, 'server/index.js'));
if (!distBuilt) console.warn(`[existing-app] ${distDir} is not built: page-asset and drainOnSignals tests skipped (run \`npx rollup -c\`).`);

/** node:http with Stasis first, the host's 404 after, and the live channel attached. */
async function serve(stasis: StasisServer<CounterApp>): Promise<Listening> {
  const server = createServer((req, res) => {
    void stasis.handle(req, res).then((handled) => {
      if (!handled) res.writeHead(404, { 'Content-Type': 'text/plain' }).end('host app');
    });
  });
  stasis.attach(server);
  return listen(server);
}

/** A live tab with one increment done: the session is at gen 1 with count 1. */
async function liveTab(at: Listening, sid: string) {
  const tab = wsClient(`ws://${at.host}/stasis/live?sid=${sid}`);
  await within(tab.opened, 3000, 'live open');
  tab.ws.send(JSON.stringify({ type: 'inc' }));
  expect(await tab.next(isType('count'))).toMatchObject({ count: 1, gen: 1 });
  return { tab, cookie: tab.cookie() };
}

const failover = (at: Listening, body: unknown, cookie?: string) => postJson(at.base, '/stasis/debug/failover', body, cookie ? { cookie } : {});

describe('POST /stasis/debug/failover', () => {
  it("'restart': the live socket gets the pushed blob (reason drain), closes 4007, and the blob resumes", async () => {
    const stasis = await startStasis();
    const at = await serve(stasis);
    const sid = newSid();
    const { tab, cookie } = await liveTab(at, sid);

    expect(await failover(at, { sid, kind: 'restart' }, cookie)).toMatchObject({ status: 200, json: { ok: true, kind: 'restart', sid, gen: 1 } });
    const pushed = await tab.next<Record<string, unknown>>(isType('stasis:hibernated'));
    expect(pushed).toMatchObject({ type: 'stasis:hibernated', reason: 'drain', sid, gen: 1, exp: expect.any(Number), blob: expect.any(String) });
    expect(await within(tab.closed, 3000, 'close')).toStrictEqual({ code: 4007, reason: 'stasis:draining' });

    // Only simulated: the server is not draining, and the page's blob resumes right here.
    const resumed = await postJson(at.base, '/stasis/resume', { sid, blob: pushed.blob }, { cookie });
    expect(resumed.json).toStrictEqual({ outcome: 'ok', sid, gen: 2 });
    const back = wsClient(`ws://${at.host}/stasis/live?sid=${sid}`, cookie);
    expect(await back.next<Hello>(isType('hello'))).toStrictEqual({ type: 'hello', count: 1, gen: 2, restored: true });
  });

  it.each([
    ['move', 1012, 'stasis:moved'],
    ['disconnect', 1006, ''],
  ] as const)("'%s': the socket closes %i; a reconnect with the same sid and cookie gets the session back at gen 2", async (kind, code, reason) => {
    const stasis = await startStasis();
    const at = await serve(stasis);
    const sid = newSid();
    const { tab, cookie } = await liveTab(at, sid);

    expect(await failover(at, { sid, kind }, cookie)).toMatchObject({ status: 200, json: { ok: true, kind, sid, gen: 1 } });
    // 1006: dropped without a close frame, as a dying instance would.
    expect(await within(tab.closed, 3000, 'close')).toStrictEqual({ code, reason });
    expect(tab.messages.filter(isType('stasis:hibernated'))).toStrictEqual([]); // nothing pushed: the server kept it

    const back = wsClient(`ws://${at.host}/stasis/live?sid=${sid}`, cookie);
    expect(await back.next<Hello>(isType('hello'))).toStrictEqual({ type: 'hello', count: 1, gen: 2, restored: true });
    back.ws.send(JSON.stringify({ type: 'inc' }));
    expect(await back.next(isType('count'))).toMatchObject({ count: 2, gen: 2 });
  });

  it('refuses another browser, an unknown session, a bad kind and GET', async () => {
    const stasis = await startStasis();
    const at = await serve(stasis);
    const sid = newSid();
    const { tab, cookie } = await liveTab(at, sid);

    expect(await failover(at, { sid, kind: 'move' })).toMatchObject({ status: 403, json: { ok: false, code: 'wrong-binding' } });
    expect(await failover(at, { sid: newSid(), kind: 'move' }, cookie)).toMatchObject({ status: 404, json: { ok: false, code: 'no-session' } });
    expect(await failover(at, { sid, kind: 'explode' }, cookie)).toMatchObject({ status: 400, json: { ok: false, code: 'malformed' } });
    const get = await fetch(`${at.base}/stasis/debug/failover`, { signal: AbortSignal.timeout(3000) });
    expect(get.status).toBe(400);
    expect(get.headers.get('allow')).toBe('POST');
    expect(tab.ws.readyState).toBe(tab.ws.OPEN); // none of them touched the session
  });

  describe('under NODE_ENV=production', () => {
    const saved = process.env.NODE_ENV;
    afterEach(() => {
      if (saved === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = saved;
    });

    it('answers 403 { ok: false, code: "disabled-in-production" } and leaves the session alone', async () => {
      process.env.NODE_ENV = 'production';
      await expect(startStasis()).rejects.toBeInstanceOf(StasisConfigError); // production needs a metrics token
      const stasis = await startStasis({ metricsToken: 'metrics-secret' });
      const at = await serve(stasis);
      const sid = newSid();
      const { tab, cookie } = await liveTab(at, sid);

      for (const kind of ['restart', 'move', 'disconnect']) {
        const answer = await failover(at, { sid, kind }, cookie);
        expect(answer.status).toBe(403);
        expect(answer.json).toMatchObject({ ok: false, code: 'disabled-in-production', message: expect.any(String) });
      }
      expect(tab.ws.readyState).toBe(tab.ws.OPEN);
      const health = (await (await fetch(`${at.base}/stasis/health?sid=${sid}`)).json()) as { session: unknown };
      expect(health.session).toStrictEqual({ sid, state: 'live', gen: 1, channels: 1 });
    });
  });
});

describe.skipIf(!distBuilt)('page bundles under the base path', () => {
  it('serves stasis.js, stasis-sw.js (Service-Worker-Allowed: /) and stasis-fallback.mjs with ETags', async () => {
    const at = await serve(await startStasis());
    for (const name of bundles) {
      const res = await fetch(`${at.base}/stasis/${name}`, { signal: AbortSignal.timeout(3000) });
      expect(res.status, name).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('etag')).toMatch(/^"[0-9a-z]+-[0-9a-z]+"$/);
      expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(distDir, name))), name).toBe(true);
      expect(res.headers.get('service-worker-allowed')).toBe(name === 'stasis-sw.js' ? '/' : null);
    }
    const map = await fetch(`${at.base}/stasis/stasis.js.map`);
    expect(map.headers.get('content-type')).toBe('application/json; charset=utf-8');
  });

  it('answers 304 to a matching If-None-Match, 200 to a stale one; HEAD has no body', async () => {
    const at = await serve(await startStasis());
    const first = await fetch(`${at.base}/stasis/stasis-sw.js`);
    await first.arrayBuffer();
    const etag = first.headers.get('etag')!;
    const again = await fetch(`${at.base}/stasis/stasis-sw.js`, { headers: { 'If-None-Match': etag } });
    expect(again.status).toBe(304);
    expect(again.headers.get('etag')).toBe(etag);
    expect(again.headers.get('service-worker-allowed')).toBe('/');
    expect(await again.text()).toBe('');
    const stale = await fetch(`${at.base}/stasis/stasis-sw.js`, { headers: { 'If-None-Match': '"old-etag"' } });
    expect(stale.status).toBe(200);
    await stale.arrayBuffer();
    const head = await fetch(`${at.base}/stasis/stasis.js`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(readFileSync(join(distDir, 'stasis.js')).length);
    expect(await head.text()).toBe('');
  });

  it('serves nothing else from dist: /stasis/server/index.js, /stasis/stasis.d.ts and a POST are Stasis 404s', async () => {
    const at = await serve(await startStasis());
    for (const [method, path] of [
      ['GET', '/stasis/server/index.js'],
      ['GET', '/stasis/stasis.d.ts'],
      ['GET', '/stasis/stasis.mjs'],
      ['POST', '/stasis/stasis.js'],
    ] as const) {
      const res = await fetch(`${at.base}${path}`, { method, signal: AbortSignal.timeout(3000) });
      expect(res.status, path).toBe(404);
      expect(await res.json()).toMatchObject({ outcome: 'malformed' });
    }
  });

  it('`assets: false` serves no bundle; `assets: dir` serves that folder', async () => {
    const none = await serve(await startStasis({ assets: false }));
    expect((await fetch(`${none.base}/stasis/stasis.js`)).status).toBe(404);

    const dir = mkdtempSync(join(tmpdir(), 'stasis-assets-'));
    onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'stasis.js'), 'console.log("own build");');
    const own = await serve(await startStasis({ assets: dir }));
    const res = await fetch(`${own.base}/stasis/stasis.js`);
    expect(await res.text()).toBe('console.log("own build");');
    expect((await fetch(`${own.base}/stasis/stasis-sw.js`)).status).toBe(404); // not in that folder
  });
});

describe.skipIf(!distBuilt)('drainOnSignals in a child process (dist/server/index.js)', () => {
  /** Starts a server with drainOnSignals in a child node; resolves once it printed its port. */
  async function child(): Promise<{ port: number; exit: Promise<{ code: number | null; stdout: string; stderr: string }>; kill: (signal: NodeJS.Signals) => void }> {
    const dir = mkdtempSync(join(tmpdir(), 'stasis-drain-'));
    onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    const script = join(dir, 'server.mjs');
    writeFileSync(
      script,
      `import { createServer } from 'node:http';
import { createStasisServer, drainOnSignals, generateKeySpec, silentLogger } from ${JSON.stringify(pathToFileURL(join(distDir, 'server/index.js')).href)};
const stasis = await createStasisServer({ keys: generateKeySpec('child'), logger: silentLogger });
const server = createServer((req, res) => void stasis.handle(req, res).then((handled) => handled || res.writeHead(404).end()));
stasis.attach(server);
drainOnSignals(stasis, { servers: [server] });
server.listen(0, '127.0.0.1', () => console.log('ready ' + server.address().port));
`,
    );
    const proc = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'development' } });
    onCleanup(() => proc.exitCode === null && proc.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      proc.once('exit', (code) => setImmediate(() => resolve({ code, stdout, stderr }))),
    );
    const port = await within(
      new Promise<number>((resolve, reject) => {
        proc.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          const ready = /ready (\d+)/.exec(stdout);
          if (ready) resolve(Number(ready[1]));
        });
        void exit.then((e) => reject(new Error(`the child exited (${e.code}) before it was ready: ${e.stderr}`)));
      }),
      10_000,
      'child ready',
    );
    return { port, exit, kill: (signal) => proc.kill(signal) };
  }

  it('SIGTERM with no session: drains 0/0, closes and exits 0', async () => {
    const { exit, kill } = await child();
    kill('SIGTERM');
    const result = await within(exit, 10_000, 'child exit');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/\[stasis\] drained 0\/0 sessions in \d+ ms \(SIGTERM\)/);
  });

  it('SIGTERM with a live page: its blob is pushed (4007) before the exit, drained 1/1', async () => {
    const { port, exit, kill } = await child();
    const sid = newSid();
    const tab = wsClient(`ws://127.0.0.1:${port}/stasis/live?sid=${sid}`);
    await within(tab.opened, 3000, 'live open');
    kill('SIGTERM');
    const pushed = await tab.next(isType('stasis:hibernated'), 8000);
    expect(pushed).toMatchObject({ reason: 'drain', sid, gen: 1, blob: expect.any(String) });
    expect(await within(tab.closed, 5000, 'close')).toMatchObject({ code: 4007 });
    const result = await within(exit, 10_000, 'child exit');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/drained 1\/1 sessions in \d+ ms \(SIGTERM\)/);
    expect(result.stdout).not.toMatch(/timed out/);
  });
});

describe.skipIf(!distBuilt)('the CLI (dist/server/cli.js)', () => {
  it('refuses --dev-key under NODE_ENV=production: a throwaway key would make every blob die with the process', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production', PORT: '0' };
    delete env.STASIS_KEYS;
    const proc = spawn(process.execPath, [join(distDir, 'server/cli.js'), '--dev-key'], { stdio: ['ignore', 'pipe', 'pipe'], env });
    onCleanup(() => proc.exitCode === null && proc.kill('SIGKILL'));
    let output = '';
    proc.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    proc.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await within(new Promise<number | null>((resolve) => proc.once('exit', resolve)), 10_000, 'the CLI exits');
    expect(code).not.toBe(0);
    expect(output).toContain('--dev-key is refused under NODE_ENV=production');
    expect(output).not.toMatch(/STASIS_KEYS=\S+:/); // no key printed
  });
});
