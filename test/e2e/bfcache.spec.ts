/**
 * The back/forward cache: Stasis never blocks it (no unload listener, the tab's Web Lock is let go on
 * pagehide), hibernates on the way out and resumes on `pageshow` with `persisted`.
 */
import { chromium, expect, test as base } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS } from './support/cdp-browser.js';
import { ServerProcess } from './support/server-process.js';

const test = base.extend<{ server: ServerProcess }>({
  server: async ({}, use) => {
    const server = await ServerProcess.start();
    await use(server);
    await server.stop();
  },
});

test('leaving for another page hibernates; Back restores the page from the bfcache and resumes the session', async ({ server }) => {
  // Playwright turns the bfcache off by default; this browser keeps it on.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS.filter((arg) => arg !== '--headless'),
    ignoreDefaultArgs: ['--disable-back-forward-cache'],
  });
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(server.url);
    await expect(page.locator('#connection')).toHaveText('connected');
    await page.getByRole('button', { name: 'Add one date stamp' }).click();
    await page.getByRole('button', { name: 'Add one date stamp' }).click();
    await expect(page.locator('#cart-count')).toHaveText('2');
    const sid = await page.evaluate(() => {
      (window as any).__sameDocument = true; // survives only if the document itself comes back
      return (window as any).Stasis.sid as string;
    });

    await page.goto(`${server.url}/stasis/health`);
    await expect.poll(async () => (await server.health(sid)).session?.state).toBe('hibernated');

    await page.goBack({ waitUntil: 'commit' });
    await expect.poll(() => page.evaluate(() => (window as any).__sameDocument === true)).toBe(true);
    expect(await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).type)).toBe('navigate');
    await expect(page.locator('#session-gen')).toHaveText('2');
    await expect(page.locator('#connection')).toHaveText('connected');
    await expect(page.locator('#cart-count')).toHaveText('2');
    expect(await page.evaluate(() => (window as any).Stasis.sid)).toBe(sid);
    expect((await server.health(sid)).session).toMatchObject({ state: 'live', gen: 2 });
  } finally {
    await browser.close();
  }
});
