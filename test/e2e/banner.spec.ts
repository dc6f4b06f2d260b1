/**
 * The status banner (src/banner.ts), one test per state, against the real server and the demo page.
 *
 * Service workers are blocked, so the page itself keeps the blobs (src/custody/open-custody.ts) and makes
 * the /stasis/hibernate and /stasis/resume fetches: `page.route` can then hold, fail or fake the answers.
 * Cycles are driven with `Stasis.debug` (Playwright pages always report `visible`).
 *
 * Tests that show a state with automatic retries (offline, unreachable, busy) pause the page clock first,
 * so that no retry runs (and hides the focused button) while the keyboard walks to the banner.
 */
import { test as base, expect, type Locator, type Page, type Route, type TestInfo } from '@playwright/test';
import { DEFAULT_TEXTS, type BannerState } from '../../src/banner.js';
import { ServerProcess } from './support/server-process.js';

const test = base.extend<{ server: ServerProcess }>({
  server: async ({}, use, testInfo) => {
    const server = await ServerProcess.start();
    await use(server);
    await server.stop();
    if (testInfo.status !== testInfo.expectedStatus) await testInfo.attach('server-output', { body: server.output });
  },
});

// A fresh context per test, without service workers: the page custody makes the fetches.
test.use({ serviceWorkers: 'block' });

const RESUME = '**/stasis/resume';
const HIBERNATE = '**/stasis/hibernate';
const TAB_LIMIT = 60;

const banner = (page: Page) => page.locator('.stasis-banner');

/** Opens the demo and waits until the session is live (gen 1) with the page keeping the blobs. */
async function openDemo(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await live(page, 1);
  await expect(page.locator('#session-custody')).toHaveText('page');
  await expect(banner(page)).toBeHidden();
  await expect(banner(page)).toHaveAttribute('data-state', 'hidden');
  await page.evaluate(() => {
    const w = window as any;
    // Counts resume attempts that had a blob to send (the `resuming` event), for the "Resume now" checks.
    w.__resumings = 0;
    w.Stasis.on('resuming', () => w.__resumings++);
    // Every data-state the banner takes, with the page's time.
    const root = document.querySelector<HTMLElement>('.stasis-banner')!;
    w.__bannerLog = [] as Array<{ state: string; at: number }>;
    new MutationObserver(() => w.__bannerLog.push({ state: root.dataset.state, at: performance.now() })).observe(root, {
      attributeFilter: ['data-state'],
    });
  });
}

const bannerLog = (page: Page) => page.evaluate(() => (window as any).__bannerLog as Array<{ state: string; at: number }>);

async function live(page: Page, gen: number): Promise<void> {
  try {
    await expect(page.locator('#connection')).toHaveText('connected');
    await expect(page.locator('#session-gen')).toHaveText(String(gen));
  } catch (error) {
    const seen = await page.evaluate(() => ({
      status: (window as any).Stasis.status,
      banner: document.querySelector('.stasis-banner')?.getAttribute('data-state'),
      events: [...document.querySelectorAll('#event-log li')].map((li) => li.textContent),
    }));
    throw new Error(`${(error as Error).message}\npage: ${JSON.stringify(seen)}`, { cause: error });
  }
}

const hibernate = (page: Page) => page.evaluate(() => (window as any).Stasis.debug.hibernate() as Promise<void>);
const resume = (page: Page) => page.evaluate(() => (window as any).Stasis.debug.resume() as Promise<void>);
const resumings = (page: Page) => page.evaluate(() => (window as any).__resumings as number);
const stasisState = (page: Page) => page.evaluate(() => (window as any).Stasis.status.state as string);

/** Starts a call without awaiting it (its request is being held); its end is awaited later, or ignored. */
function begin(call: Promise<void>): Promise<void> {
  call.catch(() => undefined); // the page may be gone before a held call ends
  return call;
}

/** Registers a one-shot route that holds the next matching request; `next` resolves with it. */
async function holdNext(page: Page, url: string): Promise<{ next: Promise<Route> }> {
  let hold!: (route: Route) => void;
  const next = new Promise<Route>((resolve) => (hold = resolve));
  await page.route(url, (route) => hold(route), { times: 1 });
  return { next };
}

/** Real hibernate; waits until the banner says the session is saved. */
async function hibernated(page: Page): Promise<void> {
  await hibernate(page);
  await expect(banner(page)).toHaveAttribute('data-state', 'hibernated');
  await expect(page.locator('#connection')).toHaveText('hibernated');
}

/** Everything the banner must show in `state`: text, accessibility attributes, visibility and buttons. */
async function expectBanner(page: Page, state: BannerState, text: string, buttons: string[]): Promise<void> {
  const root = banner(page);
  await expect(root).toHaveAttribute('data-state', state);
  await expect(root).toBeVisible();
  await expect(root).toHaveAttribute('role', 'status');
  await expect(root).toHaveAttribute('aria-live', 'polite');
  await expect(root.locator('span')).toHaveText(text);
  // The accessible tree sees only the buttons that are shown (hidden ones are display:none).
  const shown = root.getByRole('button');
  if (buttons.length) await expect(shown).toHaveText(buttons);
  else await expect(shown).toHaveCount(0);
  await expect(page.getByRole('status').filter({ hasText: text })).toHaveCount(1);
}

async function screenshot(page: Page, testInfo: TestInfo, state: BannerState): Promise<void> {
  await page.screenshot({ path: testInfo.outputPath(`banner-${state}.png`) });
}

/**
 * From the page body, presses Tab until `target` has the focus (at most TAB_LIMIT presses); returns how
 * many presses that took. Fails if the keyboard never gets there.
 */
async function tabTo(page: Page, target: Locator): Promise<number> {
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  expect(await page.evaluate(() => document.activeElement === document.body)).toBe(true);
  for (let presses = 1; presses <= TAB_LIMIT; presses++) {
    await page.keyboard.press('Tab');
    if (await target.evaluate((el) => el === document.activeElement)) return presses;
  }
  const focused = await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 120));
  throw new Error(`${TAB_LIMIT} Tab presses did not reach the banner button (focus ended on ${focused})`);
}

const isFocused = (target: Locator) => target.evaluate((el) => el === document.activeElement);

/** Stops the page's timers (automatic resume retries, the restored note) until `page.clock.resume()`. */
async function pauseClock(page: Page): Promise<void> {
  // pauseAt refuses a time already past; on a loaded machine the round trip can outlast a small margin, so
  // retry with a wider one (timers due inside the margin fire, which none of these tests depend on).
  for (const marginMs of [20, 100, 500, 2000]) {
    const at = await page.evaluate((m) => Date.now() + m, marginMs);
    try {
      await page.clock.pauseAt(at);
      return;
    } catch (err) {
      if (!String(err).includes('fast-forward to the past')) throw err;
    }
  }
  throw new Error('could not pause the page clock');
}

test('hibernating: "Saving your session…" while the hibernate request is in flight, no button', async ({ page, server }, testInfo) => {
  await openDemo(page, server.url);
  const held = await holdNext(page, HIBERNATE);
  const call = begin(hibernate(page));
  const route = await held.next;

  await expectBanner(page, 'hibernating', DEFAULT_TEXTS.hibernating, []);
  await screenshot(page, testInfo, 'hibernating');

  await route.continue();
  await call;
  await expect(banner(page)).toHaveAttribute('data-state', 'hibernated');
});

test('hibernated: the session is saved, no button', async ({ page, server }, testInfo) => {
  await openDemo(page, server.url);
  await hibernated(page);

  await expectBanner(page, 'hibernated', DEFAULT_TEXTS.hibernated, []);
  expect(await stasisState(page)).toBe('hibernated');
  expect((await server.health()).hibernated).toBe(1);
  await screenshot(page, testInfo, 'hibernated');
});

test('resuming: "Restoring your session…" while the resume request is in flight, no button', async ({ page, server }, testInfo) => {
  await openDemo(page, server.url);
  await hibernated(page);
  const held = await holdNext(page, RESUME);
  const call = begin(resume(page));
  const route = await held.next;

  await expectBanner(page, 'resuming', DEFAULT_TEXTS.resuming, []);
  await screenshot(page, testInfo, 'resuming');

  await route.continue();
  await call;
  await expect(banner(page)).toHaveAttribute('data-state', 'restored');
  await live(page, 2);
});

test('restored: announced after a real resume, then hides by itself after about 4 s', async ({ page, server }, testInfo) => {
  await openDemo(page, server.url);
  await hibernated(page);
  await resume(page);

  await expectBanner(page, 'restored', DEFAULT_TEXTS.restored, []);
  await screenshot(page, testInfo, 'restored');
  await live(page, 2);

  await expect(banner(page)).toBeHidden({ timeout: 8_000 });
  await expect(banner(page)).toHaveAttribute('data-state', 'hidden');
  // The note stayed for noteMs (4000 ms), measured in the page.
  const log = await bannerLog(page);
  const shown = [...log].reverse().find((entry) => entry.state === 'restored')!;
  const hidden = log.at(-1)!;
  expect(hidden.state).toBe('hidden');
  expect(hidden.at - shown.at).toBeGreaterThanOrEqual(3_900);
  expect(hidden.at - shown.at).toBeLessThan(6_000);
});

test('offline: a resume without network keeps the blob and offers "Resume now"', async ({ page, context, server }, testInfo) => {
  await page.clock.install();
  await openDemo(page, server.url);
  await hibernated(page);
  await context.setOffline(true);
  await pauseClock(page);
  await resume(page);

  await expectBanner(page, 'offline', DEFAULT_TEXTS.offline, [DEFAULT_TEXTS.resumeNow]);
  expect(await stasisState(page)).toBe('waiting');
  await screenshot(page, testInfo, 'offline');

  const button = banner(page).getByRole('button', { name: DEFAULT_TEXTS.resumeNow });
  await tabTo(page, button);
  const before = await resumings(page);
  await page.keyboard.press('Enter');
  // Enter runs a resume; still offline, it fails again and the banner comes back to offline.
  await expect.poll(() => resumings(page)).toBe(before + 1);
  await expect.poll(async () => (await bannerLog(page)).slice(-2).map((entry) => entry.state)).toEqual(['resuming', 'offline']);
  await expect(banner(page)).toHaveAttribute('data-state', 'offline');
  expect(await stasisState(page)).toBe('waiting');

  // Back online: the client resumes by itself and the session is intact.
  await context.setOffline(false);
  await expect(banner(page)).toHaveAttribute('data-state', 'restored');
  await live(page, 2);
  await page.clock.resume();
});

test('unreachable: a resume the server does not answer keeps the blob and offers "Resume now"', async ({ page, server }, testInfo) => {
  await page.clock.install();
  await openDemo(page, server.url);
  await hibernated(page);
  let failing = true;
  await page.route(RESUME, (route) => (failing ? route.abort('connectionrefused') : route.continue()));
  await pauseClock(page);
  await resume(page);

  await expectBanner(page, 'unreachable', DEFAULT_TEXTS.unreachable, [DEFAULT_TEXTS.resumeNow]);
  expect(await stasisState(page)).toBe('waiting');
  await screenshot(page, testInfo, 'unreachable');

  const button = banner(page).getByRole('button', { name: DEFAULT_TEXTS.resumeNow });
  await tabTo(page, button);
  failing = false;
  const before = await resumings(page);
  await page.keyboard.press('Enter'); // the clock is paused: only the button can resume now
  await expect(banner(page)).toHaveAttribute('data-state', 'restored');
  expect(await resumings(page)).toBe(before + 1);
  await live(page, 2);
  await page.clock.resume();
});

test('busy: a rate-limited resume keeps the blob, says so and offers "Resume now"', async ({ page, server }, testInfo) => {
  await page.clock.install();
  await openDemo(page, server.url);
  await hibernated(page);
  let limited = true;
  await page.route(RESUME, (route) =>
    limited
      ? route.fulfill({
          status: 429,
          headers: { 'Retry-After': '30' },
          json: { outcome: 'rate-limited', message: 'Too many failed resumes from this browser.', retryAfterSeconds: 30 },
        })
      : route.continue(),
  );
  await pauseClock(page);
  await resume(page);

  await expectBanner(page, 'busy', DEFAULT_TEXTS.busy, [DEFAULT_TEXTS.resumeNow]);
  expect(await stasisState(page)).toBe('waiting');
  await screenshot(page, testInfo, 'busy');

  const button = banner(page).getByRole('button', { name: DEFAULT_TEXTS.resumeNow });
  await tabTo(page, button);
  limited = false;
  const before = await resumings(page);
  await page.keyboard.press('Enter');
  await expect(banner(page)).toHaveAttribute('data-state', 'restored');
  expect(await resumings(page)).toBe(before + 1);
  await live(page, 2);
  await page.clock.resume();
});

test('reset: after a schema reset the page starts a fresh session; Dismiss hides the banner', async ({ page, server }, testInfo) => {
  await openDemo(page, server.url);
  // One real cycle first, so that the fresh session's generation 1 is a visible change.
  await hibernated(page);
  await resume(page);
  await live(page, 2);
  const oldSid = await page.evaluate(() => (window as any).Stasis.sid as string);

  await hibernated(page);
  await page.route(RESUME, (route) =>
    route.fulfill({ status: 409, json: { outcome: 'schema-reset', message: 'The app was updated since this session was saved.' } }),
  );
  await resume(page);

  await expectBanner(page, 'reset', DEFAULT_TEXTS.reset, [DEFAULT_TEXTS.dismiss]);
  await live(page, 1);
  expect(await page.evaluate(() => (window as any).Stasis.sid as string)).not.toBe(oldSid);
  await expect(page.locator('#session-restored')).toHaveText('no');
  await screenshot(page, testInfo, 'reset');

  const dismiss = banner(page).getByRole('button', { name: DEFAULT_TEXTS.dismiss });
  await tabTo(page, dismiss);
  await page.keyboard.press('Enter');
  await expect(banner(page)).toBeHidden();
  await expect(banner(page)).toHaveAttribute('data-state', 'hidden');
});

test('failed: a tampered blob starts a new session; Dismiss hides the banner and Reload reloads the page', async ({ page, server }, testInfo) => {
  await openDemo(page, server.url);
  await page.route(RESUME, (route) =>
    route.fulfill({ status: 400, json: { outcome: 'tampered', message: 'The blob failed authentication.' } }),
  );
  const failedText = DEFAULT_TEXTS.failed.replace('{code}', 'tampered');

  await hibernated(page);
  await resume(page);
  await expectBanner(page, 'failed', failedText, [DEFAULT_TEXTS.reload, DEFAULT_TEXTS.dismiss]);
  expect(failedText).not.toContain('{code}');
  await live(page, 1); // the new session
  await screenshot(page, testInfo, 'failed');

  // Both buttons are in the tab order: Reload first, then Dismiss.
  const reload = banner(page).getByRole('button', { name: DEFAULT_TEXTS.reload });
  const dismiss = banner(page).getByRole('button', { name: DEFAULT_TEXTS.dismiss });
  await tabTo(page, reload);
  await page.keyboard.press('Tab');
  expect(await isFocused(dismiss)).toBe(true);
  await page.keyboard.press('Enter');
  await expect(banner(page)).toBeHidden();
  await expect(banner(page)).toHaveAttribute('data-state', 'hidden');

  // Once more (the new session), this time leaving through Reload.
  await hibernated(page);
  await resume(page);
  await expectBanner(page, 'failed', failedText, [DEFAULT_TEXTS.reload, DEFAULT_TEXTS.dismiss]);
  await live(page, 1);
  await page.evaluate(() => ((window as any).__beforeReload = true));
  await tabTo(page, reload);
  const reloaded = page.waitForEvent('load');
  await page.keyboard.press('Enter');
  await reloaded;
  expect(await page.evaluate(() => (window as any).__beforeReload)).toBeUndefined();
  await live(page, 1);
  await expect(banner(page)).toBeHidden();
});

test('pending: a hibernate without network is kept for later, no button; it clears when back online', async ({ page, context, server }, testInfo) => {
  await openDemo(page, server.url);
  await context.setOffline(true);
  await hibernate(page);

  await expectBanner(page, 'pending', DEFAULT_TEXTS.pending, []);
  expect(await stasisState(page)).toBe('pending');
  expect((await server.health()).hibernated).toBe(0); // the session never left the server
  await screenshot(page, testInfo, 'pending');

  // Back online and visible: the tab is here, so it keeps its live session rather than handing it over.
  await context.setOffline(false);
  await expect(banner(page)).toBeHidden();
  await expect.poll(() => stasisState(page)).toBe('live');
  expect((await server.health()).hibernated).toBe(0);
});

test('idle: after data-idle-minutes without input the session is saved; a key press or "Resume now" resumes', async ({ page, context, server }, testInfo) => {
  // Serve the real demo page with data-idle-minutes="0.02" (1.2 s) added to the Stasis script tag.
  // Chromium does not know the address of a fulfilled document, so its Local Network Access checks would
  // block the live channel's WebSocket to 127.0.0.1: grant the permission a user would grant.
  await context.grantPermissions(['local-network-access'], { origin: server.url });
  await page.route(`${server.url}/`, async (route) => {
    const response = await route.fetch();
    const html = await response.text();
    const tag = '<script src="/stasis.js"';
    expect(html).toContain(tag);
    await route.fulfill({ response, body: html.replace(tag, '<script data-idle-minutes="0.02" src="/stasis.js"') });
  });
  await openDemo(page, server.url);
  expect(await page.evaluate(() => document.querySelector<HTMLScriptElement>('script[src="/stasis.js"]')?.dataset.idleMinutes)).toBe('0.02');

  const button = banner(page).getByRole('button', { name: DEFAULT_TEXTS.resumeNow });
  await expect(banner(page)).toHaveAttribute('data-state', 'idle', { timeout: 5_000 });
  await expectBanner(page, 'idle', DEFAULT_TEXTS.idle, [DEFAULT_TEXTS.resumeNow]);
  expect(await page.evaluate(() => (window as any).Stasis.status.idle)).toBe(true);
  await screenshot(page, testInfo, 'idle');

  // Any key press is activity: the first Tab towards the button already resumes (so the button itself is
  // for pointer and assistive-technology users; its keyboard path is checked by focusing it below).
  await page.keyboard.press('Tab');
  await expect(banner(page)).toHaveAttribute('data-state', 'restored');
  await live(page, 2);

  // Idle again; this time the button resumes (a click event alone: no input event that would count as activity).
  await expect(banner(page)).toHaveAttribute('data-state', 'idle', { timeout: 5_000 });
  await expectBanner(page, 'idle', DEFAULT_TEXTS.idle, [DEFAULT_TEXTS.resumeNow]);
  await button.dispatchEvent('click');
  await expect(banner(page)).toHaveAttribute('data-state', 'restored');
  await live(page, 3);
});

test('the banner follows the --stasis-* CSS custom properties', async ({ page, server }) => {
  await openDemo(page, server.url);
  await hibernated(page);
  const colours = () =>
    banner(page).locator('.stasis-banner__box').evaluate((el) => {
      const style = getComputedStyle(el);
      return { background: style.backgroundColor, color: style.color, radius: style.borderTopLeftRadius };
    });
  expect(await colours()).toEqual({ background: 'rgb(31, 36, 48)', color: 'rgb(245, 247, 251)', radius: '10px' });

  await page.addStyleTag({ content: ':root { --stasis-bg: rgb(10, 90, 40); --stasis-fg: rgb(255, 250, 200); --stasis-radius: 3px; }' });
  expect(await colours()).toEqual({ background: 'rgb(10, 90, 40)', color: 'rgb(255, 250, 200)', radius: '3px' });
  await expect(banner(page)).toBeVisible();
});
