/**
 * Two reference-server instances behind nginx (round-robin, no stickiness) sharing one real Redis: drain,
 * SIGKILL with checkpoints, and an abrupt disconnect kept in Redis. Started on loopback by the tests.
 */
import { test as base, expect, type Page } from '@playwright/test';
import { CdpBrowser } from './support/cdp-browser.js';
import { fillCheckout, readDemo, sidOf, waitForLive, expectSameState } from './support/demo.js';
import { Fleet } from './support/fleet.js';

const test = base.extend<{ fleet: Fleet; fleetEnv: Record<string, string> }>({
  fleetEnv: [{}, { option: true }],
  fleet: async ({ fleetEnv }, use, testInfo) => {
    const fleet = await Fleet.start(fleetEnv);
    await use(fleet);
    if (testInfo.status !== testInfo.expectedStatus) {
      await testInfo.attach('fleet-output', { body: fleet.output });
    }
    await fleet.stop();
  },
});

async function live(page: Page, gen?: number): Promise<void> {
  try {
    await expect(page.locator('#connection')).toHaveText('connected', { timeout: 15_000 });
    if (gen !== undefined) await expect(page.locator('#session-gen')).toHaveText(String(gen));
  } catch (error) {
    const seen = await page.evaluate(() => ({
      status: (window as any).Stasis.status,
      events: [...document.querySelectorAll('#event-log li')].map((li) => li.textContent),
    }));
    throw new Error(`${(error as Error).message}\npage: ${JSON.stringify(seen)}`, { cause: error });
  }
}

/** Fills the demo through the page API and returns what it shows. */
async function fill(page: Page, name: string): Promise<Record<string, unknown>> {
  await page.getByRole('button', { name: 'Add one notebook' }).click();
  await page.getByRole('button', { name: 'Add one washi tape' }).click();
  await page.getByRole('button', { name: 'Add one washi tape' }).click();
  await expect(page.locator('#cart-count')).toHaveText('3');
  await page.getByRole('button', { name: 'Continue to details' }).click();
  await page.getByLabel('Full name').fill(name);
  await expect(page.locator('[data-review="name"]')).toHaveText(name);
  return view(page);
}

function view(page: Page): Promise<Record<string, unknown>> {
  return page.evaluate(() => ({
    step: document.body.dataset.step,
    cart: [...document.querySelectorAll<HTMLElement>('[data-qty]')].map((el) => `${el.dataset.qty}:${el.textContent}`),
    name: document.querySelector<HTMLInputElement>('[name="name"]')?.value,
    total: document.querySelector('[data-total]')?.textContent,
  }));
}

/** Records every banner state the page goes through (some last only milliseconds). */
async function recordBanner(page: Page): Promise<void> {
  await page.evaluate(() => {
    const seen: string[] = ((window as any).__bannerStates = []);
    const banner = document.querySelector('.stasis-banner')!;
    new MutationObserver(() => seen.push(banner.getAttribute('data-state') ?? '')).observe(banner, { attributes: true, attributeFilter: ['data-state'] });
  });
}

test.describe('drain', () => {
  test.use({ fleetEnv: { STASIS_DRAIN_TIMEOUT_MS: '5000' } });

  test('SIGTERM of the instance holding the tab: it shows "paused", resumes on the other instance with its exact state, and the first exits within its drain timeout', async ({
    page,
    fleet,
  }) => {
    await page.goto(fleet.url);
    await live(page, 1);
    const before = await fill(page, 'Radia Perlman');
    const sid = await page.evaluate(() => (window as any).Stasis.sid as string);
    const first = await fleet.holder(sid);
    expect(first, 'one instance holds the session').toBeDefined();
    const second = fleet.other(first!);
    await recordBanner(page);

    const started = Date.now();
    expect(await first!.terminate()).toBe(0);
    const drainedMs = Number(/drained 1\/1 sessions in (\d+) ms/.exec(first!.output)?.[1]);
    expect(drainedMs).toBeLessThanOrEqual(5000);
    expect(Date.now() - started).toBeLessThan(5000 + 3000); // drain timeout plus process exit

    await live(page, 2);
    expect(await view(page)).toEqual(before);
    expect(await page.evaluate(() => (window as any).__bannerStates)).toContain('paused');
    expect((await second.health(sid)).session).toMatchObject({ state: 'live', gen: 2 });
  });
});

test.describe('checkpoints', () => {
  test.use({ fleetEnv: { STASIS_CHECKPOINT_SECONDS: '1' } });

  test('SIGKILL of the instance holding a live tab: the tab resumes on the other instance from its newest checkpoint', async ({ page, fleet }) => {
    await page.goto(fleet.url);
    await live(page, 1);
    await page.evaluate(() => {
      (window as any).__checkpoints = 0;
      (window as any).Stasis.on('checkpoint', () => (window as any).__checkpoints++);
    });
    const sid = await page.evaluate(() => (window as any).Stasis.sid as string);
    await fill(page, 'Sophie Wilson');
    // One more change after the first checkpoints: the worker must keep the newest one, not the first.
    await page.waitForFunction(() => (window as any).__checkpoints >= 1, null, { timeout: 5000 });
    await page.getByLabel('Full name').fill('Sophie Wilson, ARM');
    await expect(page.locator('[data-review="name"]')).toHaveText('Sophie Wilson, ARM');
    const seen = await page.evaluate(() => (window as any).__checkpoints as number);
    await page.waitForFunction((n) => (window as any).__checkpoints > n, seen, { timeout: 5000 });
    const before = await view(page);
    const kept = await page.evaluate(() => (window as any).Stasis.debug.peek() as Promise<{ gen: number } | undefined>);
    expect(kept?.gen).toBe(1);

    const holder = (await fleet.holder(sid))!;
    const survivor = fleet.other(holder);
    await holder.stop(); // SIGKILL: no drain, nothing pushed

    await live(page, 2);
    expect(await view(page)).toEqual(before);
    expect((await survivor.health(sid)).session).toMatchObject({ state: 'live', gen: 2 });
  });
});

test('abrupt disconnect: a browser killed without hiding leaves its session in Redis after the retention window; the same identity resumes it on the other instance', async ({
  fleet,
}) => {
  const [a, b] = fleet.instances;
  await a.restart({ STASIS_RETENTION_SECONDS: '2' });
  await b.restart({ STASIS_RETENTION_SECONDS: '2' });
  const cdp = await CdpBrowser.launch();
  const redis = fleet.client();
  try {
    const tab = await cdp.newTab(fleet.url);
    await waitForLive(tab, 1);
    await fillCheckout(tab);
    const before = await readDemo(tab);
    const sid = await sidOf(tab);
    const { cookies } = await tab.send<{ cookies: Array<{ name: string; value: string }> }>('Network.getCookies');
    const binding = cookies.find((c) => c.name === 'stasis_bid')!;
    expect(binding, 'the browser has its binding cookie').toBeDefined();
    const holder = (await fleet.holder(sid))!;

    await cdp.kill(); // no pagehide, no hibernate: the socket just drops
    await expect.poll(async () => (await holder.health(sid)).session?.state, { timeout: 10_000 }).not.toBe('live');
    await expect.poll(() => redis.exists(`stasis:store:${sid}`), { timeout: 10_000 }).toBe(1);
    expect(holder.output).toMatch(/no channel for 2000 ms, kept in memory \+ redis/);

    // Only the other instance answers now, so the session can only come from Redis.
    expect(await holder.terminate()).toBe(0);
    const other = fleet.other(holder);
    // The same identity: what Chromium's session restore brings back after a crash (the tab's
    // sessionStorage and the cookie jar), given to a fresh browser.
    const restored = await CdpBrowser.launch();
    try {
      const blank = await restored.newTab('about:blank');
      await blank.send('Network.enable');
      await blank.send('Network.setCookie', { name: 'stasis_bid', value: binding.value, url: fleet.url, httpOnly: true, sameSite: 'Lax' });
      await blank.send('Page.addScriptToEvaluateOnNewDocument', {
        source: `sessionStorage.getItem(${JSON.stringify(`stasis:sid:${fleet.url}/stasis`)}) || sessionStorage.setItem(${JSON.stringify(`stasis:sid:${fleet.url}/stasis`)}, ${JSON.stringify(sid)});`,
      });
      await blank.goto(fleet.url);
      await waitForLive(blank, 2); // the restored view: "connected" alone can come before the first view
      expectSameState(await readDemo(blank), before);
      expect(await sidOf(blank)).toBe(sid);
      expect((await other.health(sid)).session).toMatchObject({ state: 'live', gen: 2 });
      expect(await redis.exists(`stasis:store:${sid}`)).toBe(0);
    } finally {
      await restored.close();
    }
  } finally {
    redis.disconnect();
    await cdp.close();
  }
});
