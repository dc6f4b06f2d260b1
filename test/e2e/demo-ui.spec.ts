/**
 * The demo as a user sees it, through Playwright's page API (pages stay "visible" under Playwright, so
 * these tests drive the cycle with Stasis.debug; real hide/show is covered by the CDP suites).
 */
import { test as base, expect, type Page } from '@playwright/test';
import { ServerProcess } from './support/server-process.js';

const test = base.extend<{ server: ServerProcess }>({
  server: async ({}, use) => {
    const server = await ServerProcess.start();
    await use(server);
    await server.stop();
  },
});

async function live(page: Page, gen: number) {
  try {
    await expect(page.locator('#connection')).toHaveText('connected');
    await expect(page.locator('#session-gen')).toHaveText(String(gen));
  } catch (error) {
    const seen = await page.evaluate(() => ({
      status: (window as any).Stasis.status,
      events: [...document.querySelectorAll('#event-log li')].map((li) => li.textContent),
    }));
    throw new Error(`${(error as Error).message}\npage: ${JSON.stringify(seen)}`, { cause: error });
  }
}

test('the demo renders the checkout with the banner hidden, and a console cycle restores typed text', async ({ page, server }, testInfo) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
  await page.goto(server.url);
  await live(page, 1);
  await expect(page.locator('.stasis-banner')).toBeHidden();
  await expect(page.locator('#session-custody')).toHaveText('service-worker');

  await page.getByRole('button', { name: 'Add one notebook' }).click();
  await page.getByRole('button', { name: 'Add one washi tape' }).click();
  await expect(page.locator('#cart-count')).toHaveText('2');
  await page.getByRole('button', { name: 'Continue to details' }).click();
  await page.getByLabel('Full name').fill('Grace Hopper');
  await expect(page.locator('[data-review="name"]')).toHaveText('Grace Hopper');

  await page.evaluate(() => (window as any).Stasis.debug.hibernate());
  await expect(page.locator('#connection')).toHaveText('hibernated');
  expect((await server.health()).live).toBe(0);
  await page.evaluate(() => (window as any).Stasis.debug.resume());
  await live(page, 2);
  await expect(page.getByLabel('Full name')).toHaveValue('Grace Hopper');
  await expect(page.locator('#cart-count')).toHaveText('2');

  // The restored note is announced politely and then goes away.
  const banner = page.locator('.stasis-banner[role=status]');
  await expect(banner).toHaveText('Session restored.');
  await expect(banner).toHaveAttribute('aria-live', 'polite');
  await page.screenshot({ path: testInfo.outputPath('demo-restored.png'), fullPage: true });
  expect(errors).toEqual([]);
});

test('with service workers blocked, the page keeps the blob itself and says so', async ({ browser, server }) => {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  const page = await context.newPage();
  await page.goto(server.url);
  await live(page, 1);
  await expect(page.locator('#session-custody')).toHaveText('page');
  await page.getByRole('button', { name: 'Add one date stamp' }).click();
  await expect(page.locator('#cart-count')).toHaveText('1');
  await page.evaluate(() => (window as any).Stasis.debug.hibernate());
  expect((await server.health()).hibernated).toBe(1);
  await page.reload();
  await live(page, 2);
  await expect(page.locator('#cart-count')).toHaveText('1');
  await context.close();
});

test('the retry button in the banner is reachable by keyboard while the server is down', async ({ page, server }) => {
  await page.goto(server.url);
  await live(page, 1);
  await page.getByRole('button', { name: 'Add one fineliner set' }).click();
  await expect(page.locator('#cart-count')).toHaveText('1');
  await page.evaluate(() => (window as any).Stasis.debug.hibernate());
  await server.stop();
  void page.evaluate(() => (window as any).Stasis.debug.resume());
  const banner = page.locator('.stasis-banner[role=status]');
  await expect(banner).toContainText('Cannot reach the server');
  await server.restart();
  const retry = banner.getByRole('button', { name: 'Resume now' });
  await retry.focus();
  await page.keyboard.press('Enter');
  await live(page, 2);
  await expect(page.locator('#cart-count')).toHaveText('1');
});

test('with IndexedDB unusable and no service worker, blobs are kept in memory, the page says so, and a cycle still works', async ({ browser, server }) => {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  const page = await context.newPage();
  await page.addInitScript(() => {
    // What a locked-down private mode looks like: opening a database fails.
    indexedDB.open = () => {
      throw new DOMException('IndexedDB is disabled', 'InvalidStateError');
    };
    // The custody event fires while the SDK boots, before any page script could subscribe: record it.
    (window as any).__custody = [];
    // eslint-disable-next-line @typescript-eslint/unbound-method -- the original, called with the patched target as `this` below
    const dispatch = EventTarget.prototype.dispatchEvent;
    EventTarget.prototype.dispatchEvent = function (event: Event) {
      if (event.type === 'custody') (window as any).__custody.push((event as any).detail.message);
      return dispatch.call(this, event);
    };
  });
  await page.goto(server.url);
  await live(page, 1);
  await expect(page.locator('#session-custody')).toHaveText('memory');
  const messages = (await page.evaluate(() => (window as any).__custody)) as string[];
  expect(messages).toHaveLength(1);
  expect(messages[0]).toContain('IndexedDB is unusable');
  expect(await page.evaluate(() => (window as any).Stasis.status.custody)).toBe('memory');
  await page.getByRole('button', { name: 'Add one notebook' }).click();
  await expect(page.locator('#cart-count')).toHaveText('1');
  await page.evaluate(() => (window as any).Stasis.debug.hibernate());
  expect((await server.health()).live).toBe(0);
  await page.evaluate(() => (window as any).Stasis.debug.resume());
  await live(page, 2);
  await expect(page.locator('#cart-count')).toHaveText('1');
  await context.close();
});

test('SIGTERM drains the server: the page keeps the pushed blob, says the server is restarting, and resumes when it is back', async ({ page, server }) => {
  await page.goto(server.url);
  await live(page, 1);
  await page.getByRole('button', { name: 'Add one fineliner set' }).click();
  await page.getByRole('button', { name: 'Continue to details' }).click();
  await page.getByLabel('Full name').fill('Barbara Liskov');
  await expect(page.locator('[data-review="name"]')).toHaveText('Barbara Liskov');

  expect(await server.terminate()).toBe(0);
  expect(server.output).toMatch(/drained 1\/1 sessions in \d+ ms/);
  await expect(page.locator('#connection')).toHaveText('paused');
  const banner = page.locator('.stasis-banner[role=status]');
  await expect(banner).toHaveAttribute('data-state', 'paused');
  await expect(banner).toContainText('The server is restarting');

  await server.restart();
  await live(page, 2);
  await expect(page.getByLabel('Full name')).toHaveValue('Barbara Liskov');
  await expect(page.locator('#cart-count')).toHaveText('1');
  await expect(banner).toHaveAttribute('data-state', 'restored');
});

test('server-side idle: a session with no app event is hibernated by the server, and the next input resumes it', async ({ page }) => {
  const server = await ServerProcess.start({ STASIS_IDLE_SECONDS: '2' });
  try {
    await page.goto(server.url);
    await live(page, 1);
    await page.getByRole('button', { name: 'Add one washi tape' }).click();
    await expect(page.locator('#cart-count')).toHaveText('1');
    // No app event for 2 s: the server pushes the blob and closes the channel with 4008.
    await expect(page.locator('#connection')).toHaveText('paused', { timeout: 10_000 });
    expect((await server.health()).live).toBe(0);
    const banner = page.locator('.stasis-banner[role=status]');
    await expect(banner).toHaveAttribute('data-state', 'idle');
    expect(await page.evaluate(() => (window as any).Stasis.status.paused)).toBe('idle');
    await page.keyboard.press('Shift');
    await live(page, 2);
    await expect(page.locator('#cart-count')).toHaveText('1');
  } finally {
    await server.stop();
  }
});
