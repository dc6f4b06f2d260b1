/**
 * Envelope rules seen from a real browser: browser binding, schema reset, key rotation. These need no
 * real tab switch, so they use Playwright pages and run the cycle with Stasis.debug.
 */
import { test as base, expect, type Browser, type Page } from '@playwright/test';
import { generateKeySpec } from '../../server-stub/envelope/key-ring.js';
import { evaluator, readVault, writeVault } from './support/demo.js';
import { ServerProcess } from './support/server-process.js';

const test = base.extend<{ server: ServerProcess }>({
  server: async ({}, use) => {
    const server = await ServerProcess.start({ STASIS_KEYS: generateKeySpec('k1') });
    await use(server);
    await server.stop();
  },
});

const EMPTY_CART = '0';

/** Opens the demo in a fresh context, records Stasis events and browser dialogs. */
async function openDemo(browser: Browser, url: string): Promise<{ page: Page; events: () => Promise<string[]>; dialogs: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.addInitScript(() => {
    (window as any).__events = [];
    addEventListener('DOMContentLoaded', () => {
      for (const type of ['resumed', 'reset', 'failed']) {
        (window as any).Stasis.on(type, (e: any) => (window as any).__events.push(`${e.type}:${e.code}`));
      }
    });
  });
  await page.goto(url);
  return { page, dialogs, events: () => page.evaluate(() => (window as any).__events as string[]) };
}

async function live(page: Page, gen: number) {
  await expect(page.locator('#connection')).toHaveText('connected');
  await expect(page.locator('#session-gen')).toHaveText(String(gen));
}

async function addTwoPens(page: Page) {
  await page.getByRole('button', { name: 'Add one fineliner set' }).click();
  await page.getByRole('button', { name: 'Add one fineliner set' }).click();
  await expect(page.locator('#cart-count')).toHaveText('2');
}

const sidOf = (page: Page) => page.evaluate(() => (window as any).Stasis.sid as string);
const hibernate = (page: Page) => page.evaluate(() => (window as any).Stasis.debug.hibernate());
const resume = (page: Page) => page.evaluate(() => (window as any).Stasis.debug.resume());

test('a blob copied into another browser answers wrong-binding there and still resumes at home', async ({ browser, server }) => {
  const home = await openDemo(browser, server.url);
  await live(home.page, 1);
  await addTwoPens(home.page);
  await hibernate(home.page);
  const sid = await sidOf(home.page);
  const blob = (await readVault(evaluator(home.page), sid))!;
  expect(blob.gen).toBe(1);

  // Another browser (its own cookie jar and storage) gets the blob and the sid, but not the cookie.
  const other = await openDemo(browser, `${server.url}/stasis/health`);
  await other.page.evaluate(([key, value]) => sessionStorage.setItem(key, value), [`stasis:sid:${server.url}/stasis`, sid] as const);
  await writeVault(evaluator(other.page), blob);
  await other.page.goto(server.url);
  await live(other.page, 1);
  expect(await other.events()).toEqual(['failed:wrong-binding']);
  expect(await sidOf(other.page)).not.toBe(sid);
  await expect(other.page.locator('[data-qty="pen"]')).toHaveText(EMPTY_CART);
  expect(other.dialogs).toEqual([]);

  // The owner is unaffected: its own blob resumes with the state.
  await resume(home.page);
  await live(home.page, 2);
  await expect(home.page.locator('[data-qty="pen"]')).toHaveText('2');
});

test('a deploy with a new schema between hide and return starts fresh quietly: reset event, no dialog', async ({ browser, server }) => {
  const { page, events, dialogs } = await openDemo(browser, server.url);
  await live(page, 1);
  await addTwoPens(page);
  await hibernate(page);
  const sid = await sidOf(page);

  await server.restart({ STASIS_SCHEMA: 'checkout-v2' });
  await resume(page);
  await live(page, 1);
  expect(await events()).toEqual(['reset:schema-reset']);
  expect(dialogs).toEqual([]);
  const banner = page.locator('.stasis-banner[role=status]');
  await expect(banner).toHaveAttribute('data-state', 'reset');
  await expect(banner).toContainText('The app was updated');
  await expect(page.locator('#cart-count')).toHaveText('0');
  expect(await sidOf(page)).not.toBe(sid);
  expect(await readVault(evaluator(page), sid)).toBeNull();
});

test('key rotation: old blobs resume under the new ring, new blobs use the new key, retired keys answer unknown-key', async ({ browser, server }) => {
  const k1 = server.keys;
  const k2 = generateKeySpec('k2');
  const { page, events } = await openDemo(browser, server.url);
  await live(page, 1);
  await addTwoPens(page);
  await hibernate(page); // sealed with k1

  await server.restart({ STASIS_KEYS: `${k2},${k1}` }); // rotate: k2 seals, k1 still opens
  await resume(page);
  await live(page, 2);
  await expect(page.locator('[data-qty="pen"]')).toHaveText('2');

  await hibernate(page);
  const sid = await sidOf(page);
  const blob = (await readVault(evaluator(page), sid))!;
  const header = JSON.parse(Buffer.from(blob.blob.split('.')[0]!, 'base64url').toString()) as { kid: string };
  expect(header.kid).toBe('k2');

  await server.restart({ STASIS_KEYS: generateKeySpec('k3') }); // k2 retired too early
  await resume(page);
  await live(page, 1);
  expect(await events()).toEqual(['resumed:ok', 'failed:unknown-key']);
  await expect(page.locator('[data-qty="pen"]')).toHaveText('0');
});
