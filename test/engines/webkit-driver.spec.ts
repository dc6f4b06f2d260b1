/**
 * Proves each capability of the WebKitGTK driver (test/engines/drivers/webkit.ts) against a tiny local
 * server, then runs one hibernate/resume cycle of the real demo. Measured facts are printed at the end.
 */
import { test, expect } from '@playwright/test';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { WebSocketServer } from 'ws';
import { launchWebKit } from './drivers/webkit.js';
import type { EngineBrowser, EngineTab } from './support/engine-browser.js';
import { ServerProcess } from '../e2e/support/server-process.js';

/** What each test page records about itself, from its first script on. */
const RECORDER = `<script>
  window.rec = { id: Math.random(), vis: 0, states: [], pageshow: [], pagehide: [], freeze: 0 };
  document.addEventListener('visibilitychange', () => { rec.vis++; rec.states.push(document.visibilityState); });
  addEventListener('pageshow', (e) => rec.pageshow.push(e.persisted));
  addEventListener('pagehide', (e) => rec.pagehide.push(e.persisted));
  document.addEventListener('freeze', () => rec.freeze++);
</script>`;
const SW = `self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));
self.addEventListener('fetch', (e) => { if (new URL(e.request.url).pathname === '/sw-echo') e.respondWith(new Response('from-sw')); });`;

interface Rec { id: number; vis: number; states: string[]; pageshow: boolean[]; pagehide: boolean[]; freeze: number }
const rec = (tab: EngineTab) => tab.evaluate(() => (window as unknown as { rec: Rec }).rec);
const path = (tab: EngineTab) => tab.evaluate(() => location.pathname + location.search);

const WATCHED = new Set(['MiniBrowser', 'WebKitWebDriver', 'WebKitWebProces', 'WebKitNetworkPr', 'WebKitGPUProces', 'Xvfb']);
/** Live (not zombie) processes of the kinds the driver starts. */
function liveProcesses(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    const stat = (() => { try { return readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return ''; } })(); // gone meanwhile
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    if (WATCHED.has(comm) && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z') found.push(`${pid} ${comm}`);
  }
  return found.sort();
}
const profiles = () => readdirSync(tmpdir()).filter((name) => name.startsWith('stasis-webkit-'));

const facts: Record<string, unknown> = {};
let browser: EngineBrowser;
let server: Server;
let sockets: WebSocketServer;
let base = '';
let baseline: { processes: number; profiles: number };

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({}, info) => {
  test.skip(info.project.name !== 'webkit', 'the WebKitGTK driver runs in the webkit project only');
  server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://x');
    if (url.pathname === '/sw.js') return void response.writeHead(200, { 'content-type': 'text/javascript' }).end(SW);
    if (url.pathname === '/cookie') return void response.writeHead(200, { 'content-type': 'text/plain' }).end(request.headers.cookie ?? '');
    const headers: Record<string, string> = { 'content-type': 'text/html' };
    if (url.pathname === '/a') headers['set-cookie'] = 'stasis-test=1; Path=/';
    if (url.searchParams.has('no-store')) headers['cache-control'] = 'no-store';
    response.writeHead(200, headers).end(`<!doctype html><title>${url.pathname}</title>${RECORDER}<p>${url.pathname}</p>`);
  });
  sockets = new WebSocketServer({ server, path: '/ws' }).on('connection', (socket) => socket.send('hello'));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  baseline = { processes: liveProcesses().length, profiles: profiles().length };
  const started = Date.now();
  browser = await launchWebKit();
  facts.launchMs = Date.now() - started;
});

test.afterAll(async () => {
  await browser?.close();
  server?.closeAllConnections();
  await new Promise((done) => (server ? server.close(done) : done(undefined)));
  if (browser) console.log(`[webkit facts] ${JSON.stringify(facts, null, 2)}`);
});

test('launch: version from the session capabilities; no network emulation', async () => {
  expect(browser.name).toBe('webkit');
  expect(browser.version).toMatch(/^2\.\d+\.\d+$/);
  expect(typeof browser.setOffline).toBe('undefined');
  facts.version = browser.version;
});

test('evaluate: arguments, JSON results, awaited promises, page errors; waitFor polls and times out', async () => {
  const started = Date.now();
  const tab = await browser.newTab(`${base}/a`);
  facts.newTabMs = Date.now() - started;
  expect(await tab.evaluate((a: number, b: number) => a + b, 2, 3)).toBe(5);
  expect(await tab.evaluate((o: { list: unknown[] }) => ({ ...o, n: null, s: 'é' }), { list: [1, 'x', true] })).toEqual({ list: [1, 'x', true], n: null, s: 'é' });
  expect(await tab.evaluate(async (ms: number) => new Promise((done) => setTimeout(() => done(location.pathname), ms)), 50)).toBe('/a');
  expect(await tab.evaluate(() => undefined)).toBeUndefined();
  await expect(tab.evaluate(() => { throw new Error('boom from the page'); })).rejects.toThrow('boom from the page');
  await expect(tab.evaluate(() => Promise.reject(new TypeError('async boom')))).rejects.toThrow('async boom');
  await expect(tab.evaluate(() => ({ big: BigInt(1) }))).rejects.toThrow(/BigInt/i); // not JSON-able: an error, not a hang

  await tab.evaluate(() => void setTimeout(() => ((window as unknown as { flag: boolean }).flag = true), 300));
  const waited = Date.now();
  await tab.waitFor(() => (window as unknown as { flag?: boolean }).flag === true, []);
  expect(Date.now() - waited).toBeGreaterThanOrEqual(200);
  await expect(tab.waitFor((x: number) => x > 1, [0], 300, 'the impossible')).rejects.toThrow(/300 ms waiting for the impossible/);
  await tab.close();
});

test('platform: service worker, IndexedDB and cookies work on http://127.0.0.1; what the engine offers', async () => {
  const tab = await browser.newTab(`${base}/a`);
  const started = Date.now();
  await tab.evaluate(() => navigator.serviceWorker.register('/sw.js').then(() => navigator.serviceWorker.ready).then(() => undefined));
  await tab.waitFor(() => navigator.serviceWorker.controller !== null, [], 5_000, 'a controlling service worker');
  facts.serviceWorkerReadyMs = Date.now() - started;
  expect(await tab.evaluate(() => fetch('/sw-echo').then((r) => r.text()))).toBe('from-sw');
  const stored = () =>
    new Promise((done, fail) => {
      const open = Object.assign(indexedDB.open('probe', 1), { onerror: () => fail(open.error ?? new Error('indexedDB.open failed')) });
      open.onupgradeneeded = () => open.result.createObjectStore('kv');
      open.onsuccess = () => {
        const tx = open.result.transaction('kv', 'readwrite', { durability: 'strict' });
        tx.objectStore('kv').put({ n: 42 }, 'k');
        tx.oncomplete = () => (open.result.transaction('kv').objectStore('kv').get('k').onsuccess = (e) => done((e.target as IDBRequest).result));
      };
    });
  expect(await tab.evaluate(stored)).toEqual({ n: 42 });
  expect(await tab.evaluate(() => document.cookie)).toContain('stasis-test=1');
  expect(await tab.evaluate(() => fetch('/cookie').then((r) => r.text()))).toContain('stasis-test=1');
  Object.assign(
    facts,
    await tab.evaluate(() => ({
      userAgent: navigator.userAgent,
      navigatorStorage: 'storage' in navigator,
      navigatorLocks: 'locks' in navigator,
      backgroundSync: 'SyncManager' in window || 'sync' in ServiceWorkerRegistration.prototype,
      freezeEventHandler: 'onfreeze' in document,
      wasDiscarded: 'wasDiscarded' in document,
    })),
  );
  await tab.close();
});

test('hide() and show(): really hidden and visible again with real visibilitychange events, repeatedly', async () => {
  const tab = await browser.newTab(`${base}/a`);
  expect(await tab.evaluate(() => document.visibilityState)).toBe('visible');
  const timings: number[] = [];
  for (let round = 1; round <= 3; round++) {
    let started = Date.now();
    await tab.hide();
    timings.push(Date.now() - started);
    expect(await tab.evaluate(() => [document.visibilityState, document.hidden])).toEqual(['hidden', true]);
    expect((await rec(tab)).vis).toBe(2 * round - 1);
    started = Date.now();
    await tab.show();
    timings.push(Date.now() - started);
    expect(await tab.evaluate(() => [document.visibilityState, document.hidden])).toEqual(['visible', false]);
    expect((await rec(tab)).vis).toBe(2 * round);
  }
  const { states, freeze } = await rec(tab);
  expect(states).toEqual(['hidden', 'visible', 'hidden', 'visible', 'hidden', 'visible']);
  facts.hideShowMs = timings;
  facts.freezeEventsOnHide = freeze;
  await tab.close();
});

test('tabs: each drives its own window, in any order; a second window does not hide the first', async () => {
  const one = await browser.newTab(`${base}/a?one`);
  const two = await browser.newTab(`${base}/b?two`);
  expect(await Promise.all([path(one), path(two), path(one), path(two)])).toEqual(['/a?one', '/b?two', '/a?one', '/b?two']);
  expect(await one.evaluate(() => document.visibilityState)).toBe('visible');
  facts.secondWindowHidesFirst = (await rec(one)).vis > 0;
  await one.hide();
  expect(await two.evaluate(() => document.visibilityState)).toBe('visible');
  await two.goto(`${base}/a?two`);
  expect(await Promise.all([path(one), path(two)])).toEqual(['/a?one', '/a?two']);
  expect(await one.evaluate(() => document.visibilityState)).toBe('hidden');
  await one.show();
  await one.close();
  await expect(path(one)).rejects.toThrow(/closed/);
  expect(await path(two)).toBe('/a?two'); // only that window went away
  await two.close();
  const three = await browser.newTab(`${base}/b?three`); // after every tab closed, new ones still open
  expect(await path(three)).toBe('/b?three');
  await three.close();
});

test('navigation: goto, reload, back, forward; the back/forward cache for plain, locked and socket pages', async () => {
  const tab = await browser.newTab(`${base}/a`);
  /** Leaves the page set up by `setup` for /b and comes back: was it restored from the back/forward cache? */
  type Probe = () => unknown;
  const roundTrip = async (query: string, setup: Probe, probes: { away?: Probe; back?: Probe } = {}) => {
    await tab.goto(`${base}/a?${query}`);
    const before = await tab.evaluate(setup);
    const { id } = await rec(tab);
    let started = Date.now();
    await tab.goto(`${base}/b`);
    const leftMs = Date.now() - started;
    await new Promise((done) => setTimeout(done, 200)); // let the cached page's socket close, if it does
    const away = { serverSockets: sockets.clients.size, page: probes.away ? await tab.evaluate(probes.away) : undefined };
    started = Date.now();
    await tab.back();
    const backMs = Date.now() - started;
    expect(await path(tab)).toBe(`/a?${query}`);
    const after = await rec(tab);
    const persisted = after.pageshow.at(-1) ?? null;
    expect(persisted).toBe(after.id === id); // the same page instance exactly when pageshow says persisted
    const restored = probes.back ? await tab.evaluate(probes.back) : undefined;
    return { persisted, pagehidePersisted: after.pagehide.at(-1) ?? null, pageshows: after.pageshow, leftMs, backMs, before, away, restored };
  };
  facts.bfcachePlain = await roundTrip('plain', () => undefined);
  expect(facts.bfcachePlain).toMatchObject({ persisted: true, pageshows: [false, true] });
  facts.bfcacheNoStore = (await roundTrip('no-store', () => undefined)).persisted;
  let started = Date.now();
  await tab.forward();
  facts.forwardMs = Date.now() - started;
  expect(await path(tab)).toBe('/b');
  expect((await rec(tab)).pageshow).toEqual([false, true]);
  await tab.evaluate(() => ((window as unknown as { marker: number }).marker = 1));
  started = Date.now();
  await tab.reload();
  facts.reloadMs = Date.now() - started;
  expect(await tab.evaluate(() => (window as unknown as { marker?: number }).marker)).toBeUndefined();
  expect((await rec(tab)).pageshow).toEqual([false]);

  const heldLocks = () => navigator.locks.query().then((all) => all.held?.map((lock) => lock.name));
  facts.bfcacheWebLock = await roundTrip(
    'lock',
    () => new Promise<void>((granted) => void navigator.locks.request('held', () => (granted(), new Promise(() => {})))).then(() => navigator.locks.query()).then((all) => all.held?.map((lock) => lock.name)),
    { away: heldLocks, back: heldLocks },
  );
  type Socketed = { socket: WebSocket; wsLog: string[] };
  facts.bfcacheWebSocket = await roundTrip(
    'ws',
    () =>
      new Promise<void>((opened, failed) => {
        const page = window as unknown as Socketed;
        page.wsLog = [];
        page.socket = new WebSocket(`ws://${location.host}/ws`);
        page.socket.onmessage = (e) => (page.wsLog.push(`message ${e.data}`), opened());
        page.socket.onclose = (e) => page.wsLog.push(`close ${e.code}`);
        page.socket.onerror = () => (page.wsLog.push('error'), failed(new Error('WebSocket failed')));
      }),
    {
      back: () =>
        new Promise((done) =>
          setTimeout(() => {
            const page = window as unknown as Socketed;
            done({ readyState: page.socket.readyState, log: page.wsLog });
          }, 300),
        ),
    },
  );
  await tab.close();
});

test('the real demo: service-worker custody, a console hibernate/resume to gen 2, then a real hide/show', async () => {
  test.skip(!existsSync(resolve(import.meta.dirname, '../../dist/server/cli.js')), 'build first: npx rollup -c && npx tsc -p tsconfig.build.json');
  const demo = await ServerProcess.start();
  try {
    const tab = await browser.newTab(`${demo.url}/`);
    type Stasis = { status: { state: string; gen?: number; custody: string }; debug: Record<'hibernate' | 'resume', () => Promise<unknown>> };
    const status = () => tab.evaluate(() => (window as unknown as { Stasis: Stasis }).Stasis.status);
    const debug = (step: 'hibernate' | 'resume') =>
      tab.evaluate((s) => (window as unknown as { Stasis: Stasis }).Stasis.debug[s]().then(() => undefined), step);
    const until = (state: string, gen: number | null) =>
      tab
        .waitFor(
          (s: string, g: number | null) => {
            const now = (window as unknown as { Stasis?: Stasis }).Stasis?.status;
            return now?.state === s && (g === null || now.gen === g);
          },
          [state, gen],
          15_000,
          `Stasis ${state}${gen === null ? '' : ` at gen ${gen}`}`,
        )
        .catch(async (error: Error) => {
          throw new Error(`${error.message}; status ${JSON.stringify(await status().catch(String))}\n${demo.output.slice(-2_000)}`);
        });
    await until('live', null); // a new session has no generation until its first hibernate
    const { custody, gen } = await status();
    Object.assign(facts, { demoCustody: custody, demoGenWhenNew: gen ?? null });
    expect(custody).toBe('service-worker');
    let started = Date.now();
    await debug('hibernate');
    await until('hibernated', 1);
    facts.demoHibernateMs = Date.now() - started;
    started = Date.now();
    await debug('resume');
    await until('live', 2);
    facts.demoResumeMs = Date.now() - started;
    await tab.hide();
    await until('hibernated', 2);
    await tab.show();
    await until('live', 3);
    await tab.close();
  } finally {
    await demo.stop();
  }
});

test('close(): each launch is a fresh profile; closing leaves no process and no profile behind', async () => {
  const second = await launchWebKit(); // concurrently with the first: its own display, port and profile
  try {
    const tab = await second.newTab(`${base}/b`);
    expect(await tab.evaluate(() => document.cookie)).toBe('');
    expect(await tab.evaluate(() => navigator.serviceWorker.getRegistrations().then((all) => all.length))).toBe(0);
    expect(await tab.evaluate(() => indexedDB.databases().then((all) => all.length))).toBe(0);
  } finally {
    await second.close();
  }
  const started = Date.now();
  await browser.close();
  facts.closeMs = Date.now() - started;
  await browser.close(); // idempotent
  await expect.poll(() => liveProcesses().length, { timeout: 5_000 }).toBeLessThanOrEqual(baseline.processes);
  expect(profiles().length).toBeLessThanOrEqual(baseline.profiles);
});
