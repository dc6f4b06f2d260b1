/**
 * The three example apps (examples/), installed from the npm pack tarball, end to end: each keeps its own
 * routes and sockets working, and its state survives a real tab hide, a reload, a SIGTERM deploy and a
 * SIGKILL while hibernated. Real Chromium over raw CDP, so tabs really hide and show.
 */
import type { CdpBrowser, Tab } from './support/cdp-browser.js';
import { hideUntilHibernated, readVault, sidOf } from './support/demo.js';
import type { ExampleProcess } from './support/example-process.js';
import { boardEvents, EXAMPLES, recordBoardEvents, test, waitForApp, type ExampleDriver } from './support/examples.js';
import { expect } from './support/fixtures.js';

/** Opens the app in a new (front) tab and waits for its first render of a live session at gen 1. */
async function open(app: ExampleProcess, cdp: CdpBrowser): Promise<{ tab: Tab; sid: string }> {
  const tab = await cdp.newTab(`${app.url}/`);
  await waitForApp(tab, 1);
  return { tab, sid: await sidOf(tab) };
}

async function expectSession(app: ExampleProcess, sid: string, session: Record<string, unknown>): Promise<void> {
  await expect.poll(async () => (await app.health(sid)).session, { timeout: 10_000 }).toMatchObject(session);
}

/** Socket.IO: the state came back as a `board` event on the app's own, connected Socket.IO connection. */
async function expectBoardEvent(driver: ExampleDriver, tab: Tab, gen: number, state: unknown): Promise<void> {
  if (driver.name !== 'socket-io-board') return;
  const events = await boardEvents(tab);
  expect(events.filter((e) => e.gen === gen)).toEqual([
    { gen, restored: true, socketId: expect.any(String), connected: true, columns: state },
  ]);
  expect(await tab.evaluate(() => [...document.querySelectorAll('[data-column] li')].length)).toBe(2);
  expect(await driver.read(tab)).toEqual(state);
}

/**
 * Product bug (server-stub/session/session-manager.ts #push, used by drain, idle and failover 'restart'): a
 * session whose channel connected without the binding cookie (Socket.IO's first handshake: no Stasis
 * response has set the cookie yet, and the Socket.IO adapter cannot set it) is sealed to an empty binding
 * (`session.browser ?? ''`). No browser can resume that blob: the page gets `wrong-binding` and starts over
 * with a new, empty session. Only a session that already went through one hibernate (which sets the cookie)
 * survives a drain.
 */
/** Opens the app, makes its state through the UI and returns what it shows. */
async function openWithState(app: ExampleProcess, cdp: CdpBrowser, driver: ExampleDriver) {
  const { tab, sid } = await open(app, cdp);
  await driver.makeState(tab);
  const before = await driver.read(tab);
  expect(before).toEqual(driver.expected);
  if (driver.name === 'socket-io-board') await recordBoardEvents(tab);
  return { tab, sid, before };
}

/**
 * SIGTERM (exit 0 after the drain line), the blob the drain pushed lands in IndexedDB, then the app again on
 * the same port with the same keys: the visible page resumes there at `gen` with the exact state.
 */
async function deploy(app: ExampleProcess, driver: ExampleDriver, tab: Tab, sid: string, gen: number, before: unknown): Promise<void> {
  const drained = app.output.length;
  expect(await app.terminate(), app.output).toBe(0);
  expect(app.output.slice(drained)).toMatch(/\[stasis\] drained 1\/1 sessions in \d+ ms \(SIGTERM\)/);
  await expect.poll(async () => (await readVault(tab, sid))?.gen, { timeout: 10_000 }).toBe(gen - 1);
  await driver.wipe(tab);
  await app.start();
  // The page retries its resume with backoff (1 s, 2 s, 4 s…) while no server answers: allow for that.
  await waitForApp(tab, gen, 15_000);
  expect(await sidOf(tab)).toBe(sid);
  expect(await driver.read(tab)).toEqual(before);
  await expectBoardEvent(driver, tab, gen, before);
  await driver.checkSockets(tab);
  await expectSession(app, sid, { state: 'live', gen, channels: 1 });
}

for (const driver of EXAMPLES) {
  test.describe(driver.name, () => {
    test.use({ exampleName: driver.name });

    test('own routes and socket work; a real hide hibernates into IndexedDB, show restores the exact state at gen 2; a reload at gen 3', async ({ app, cdp }) => {
      const { tab, sid } = await open(app, cdp);
      await driver.checkRoutes(app);
      await driver.checkSockets(tab);

      await driver.makeState(tab);
      const before = await driver.read(tab);
      expect(before).toEqual(driver.expected);
      await expectSession(app, sid, { state: 'live', gen: 1, channels: 1 });
      if (driver.name === 'socket-io-board') await recordBoardEvents(tab);

      await hideUntilHibernated(tab); // cdp.newTab('about:blank') in front of it: a real visibilitychange
      await expectSession(app, sid, { state: 'hibernated', gen: 1 });
      const stored = await readVault(tab, sid);
      expect(stored?.gen).toBe(1);
      expect(stored?.blob.split('.')).toHaveLength(5); // a JWE, kept by the service worker
      await driver.wipe(tab); // whatever shows after the resume is rendered from the server's view

      await tab.show();
      await waitForApp(tab, 2);
      expect(await driver.read(tab)).toEqual(before);
      await expectBoardEvent(driver, tab, 2, before);
      await driver.checkSockets(tab);
      await expectSession(app, sid, { state: 'live', gen: 2, channels: 1 });
      expect(await readVault(tab, sid)).toBeNull(); // consumed by the resume

      await tab.reload(); // pagehide → hibernate, load → resume
      await waitForApp(tab, 3);
      expect(await sidOf(tab)).toBe(sid);
      expect(await driver.read(tab)).toEqual(before);
      await driver.checkSockets(tab);
      await driver.checkRoutes(app);
    });

    test('a SIGTERM deploy: the drain hands the blob to the page, which resumes on the new process with the exact state', async ({ app, cdp }) => {
      const { tab, sid, before } = await openWithState(app, cdp, driver);
      await deploy(app, driver, tab, sid, 2, before);
    });

    test('a SIGKILL while hidden and hibernated: the blob in IndexedDB brings the state back; a SIGTERM deploy after it too', async ({ app, cdp }) => {
      const { tab, sid, before } = await openWithState(app, cdp, driver);

      await hideUntilHibernated(tab);
      expect((await readVault(tab, sid))?.gen).toBe(1);
      await app.restart(); // SIGKILL, then the same port and keys: the new process knows nothing of the session
      expect((await app.health(sid)).session?.state).toBe('unknown');
      await driver.wipe(tab);
      await tab.show();
      await waitForApp(tab, 2);
      expect(await sidOf(tab)).toBe(sid);
      expect(await driver.read(tab)).toEqual(before);
      await expectBoardEvent(driver, tab, 2, before);
      await driver.checkSockets(tab);
      await expectSession(app, sid, { state: 'live', gen: 2, channels: 1 });

      // The session is bound to this browser now (the hibernate set the binding cookie): a deploy keeps it.
      await deploy(app, driver, tab, sid, 3, before);
    });
  });
}
