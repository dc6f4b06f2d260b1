/**
 * A sid is not a key: another browser that learns a tab's sid (a copied URL, a leaked log) cannot join that
 * tab's live session. Its live channel is refused (4003 `wrong-binding`), `Stasis.recover(event)` starts it
 * a session of its own, and the first tab keeps its state.
 */
import { test, expect } from '@playwright/test';
import { ServerProcess } from './support/server-process.js';

test('a second browser with the same sid but without its cookie gets a session of its own; the first keeps its state', async ({ browser }) => {
  const server = await ServerProcess.start();
  try {
    const first = await browser.newContext();
    const page = await first.newPage();
    await page.goto(server.url);
    await expect(page.locator('#connection')).toHaveText('connected');
    await page.getByRole('button', { name: 'Add one notebook' }).click();
    await expect(page.locator('#cart-count')).toHaveText('1');
    const sid = await page.evaluate(() => (window as any).Stasis.sid as string);

    const second = await browser.newContext();
    await second.addInitScript(
      ([key, value]) => sessionStorage.getItem(key) ?? sessionStorage.setItem(key, value),
      [`stasis:sid:${server.url}/stasis`, sid] as const,
    );
    const intruder = await second.newPage();
    await intruder.goto(server.url);
    // Refused once, then on a session of its own: a new sid, gen 1, an empty cart.
    await expect(intruder.locator('#event-log')).toContainText('failed (wrong-binding)', { timeout: 15_000 });
    await expect(intruder.locator('#connection')).toHaveText('connected');
    const own = await intruder.evaluate(() => (window as any).Stasis.sid as string);
    expect(own).not.toBe(sid);
    await expect(intruder.locator('#cart-count')).toHaveText('0');

    // The first tab was never disturbed.
    await expect(page.locator('#connection')).toHaveText('connected');
    await expect(page.locator('#cart-count')).toHaveText('1');
    expect((await server.health(sid)).session).toMatchObject({ state: 'live', gen: 1, channels: 1 });
    await Promise.all([first.close(), second.close()]);
  } finally {
    await server.stop();
  }
});
