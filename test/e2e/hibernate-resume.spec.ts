/**
 * The vertical slice end to end: the real server process, the real demo, real Chromium driven over raw
 * CDP so tabs really hide and show.
 */
import { expect, test } from './support/fixtures.js';
import { Tab } from './support/cdp-browser.js';
import { expectSameState, hideUntilHibernated, openFilledCheckout, readDemo, readVault, sidOf, waitForLive } from './support/demo.js';

test('a. hiding the tab hibernates the session into IndexedDB; showing it restores the exact state at gen 2', async ({ server, cdp }) => {
  const { tab, before, sid } = await openFilledCheckout(cdp, `${server.url}/`);
  expect((await server.health(sid)).session).toMatchObject({ state: 'live', gen: 1, channels: 1 });

  await hideUntilHibernated(tab);
  const health = await server.health(sid);
  expect(health.live).toBe(0);
  expect(health.hibernated).toBe(1);
  expect(health.session).toMatchObject({ state: 'hibernated', gen: 1 });
  const stored = await readVault(tab, sid);
  expect(stored?.gen).toBe(1);
  expect(stored?.blob.split('.')).toHaveLength(5);
  expect(await tab.evaluate(() => document.querySelector('#connection')?.textContent)).toBe('hibernated');

  await tab.show();
  await waitForLive(tab, 2);
  expectSameState(await readDemo(tab), before);
  expect(await tab.evaluate(() => document.querySelector('#session-restored')?.textContent)).toBe('yes');
  expect((await server.health(sid)).session).toMatchObject({ state: 'live', gen: 2, channels: 1 });
  expect(await readVault(tab, sid)).toBeNull(); // consumed: deleted after the final outcome
});

test('b. reloading while hibernated brings the same state back', async ({ server, cdp }) => {
  const { tab, before, sid } = await openFilledCheckout(cdp, `${server.url}/`);

  await hideUntilHibernated(tab);
  await tab.reload(); // still hidden: the new page must not resume until it is shown
  expect(await tab.evaluate(() => document.visibilityState)).toBe('hidden');
  expect((await server.health(sid)).session?.state).toBe('hibernated');

  await tab.show();
  await waitForLive(tab, 2);
  expect(await sidOf(tab)).toBe(sid);
  expectSameState(await readDemo(tab), before);
});

test('b2. a reload of a visible tab (pagehide → hibernate, load → resume) keeps the state', async ({ server, cdp }) => {
  const { tab, before } = await openFilledCheckout(cdp, `${server.url}/`);
  await tab.reload();
  await waitForLive(tab, 2);
  expectSameState(await readDemo(tab), before);
});

test('c1. a page frozen right after it hides still gets its blob stored by the service worker', async ({ server, cdp }) => {
  const { tab, before, sid } = await openFilledCheckout(cdp, `${server.url}/`);

  const front = await cdp.newTab('about:blank'); // hides the demo tab…
  await tab.send('Page.setWebLifecycleState', { state: 'frozen' }); // …which is frozen at once
  // Look from another page of the same origin: the frozen page runs no script.
  await front.goto(`${server.url}/stasis/health`);
  await front.waitFor((s) => fetch(`/stasis/health?sid=${s}`).then((r) => r.json()).then((h) => h.session.state === 'hibernated'), [sid], 10_000, 'server hibernated');
  await expect.poll(async () => (await readVault(front, sid))?.gen, { timeout: 10_000 }).toBe(1);
  expect((await server.health()).live).toBe(0);

  await tab.send('Page.setWebLifecycleState', { state: 'active' });
  await tab.show();
  await waitForLive(tab, 2);
  expectSameState(await readDemo(tab), before);
});

test('c2. a page closed right after it hides still gets its blob stored by the service worker', async ({ server, cdp }) => {
  const { tab, sid } = await openFilledCheckout(cdp, `${server.url}/`);

  // Hide and close without waiting for anything in between.
  const opening = cdp.send<{ targetId: string }>('Target.createTarget', { url: `${server.url}/stasis/health` });
  const closing = cdp.send('Target.closeTarget', { targetId: tab.targetId });
  const [{ targetId }] = await Promise.all([opening, closing]);
  const { sessionId } = await cdp.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
  const other = new Tab(cdp, targetId, sessionId);
  // Until the new tab has committed its navigation its document has no origin (IndexedDB is denied): retry.
  await expect.poll(async () => (await readVault(other, sid).catch(() => null))?.gen, { timeout: 10_000 }).toBe(1);
  expect((await server.health(sid)).session?.state).toBe('hibernated');
});
