/** The demo checkout driven through any engine's EngineTab (clicks and typing are page events). */
import { expect } from '@playwright/test';
import { readDemo, sidOf, TYPED, waitForLive, waitForState, type DemoState } from '../../e2e/support/demo.js';
import type { EngineBrowser, EngineTab } from './engine-browser.js';

// The demo helpers of the Chromium suite take any page driver; the engine suite shares them.
export { expectSameState, proofInPage, readDemo, readVault, sidOf, TYPED, waitForLive, waitForState, writeVault, type DemoState } from '../../e2e/support/demo.js';

/** Fills the cart and every detail field through page events; waits until the server's view shows it all. */
export async function fillCheckout(tab: EngineTab): Promise<void> {
  await tab.evaluate(() => {
    const click = (selector: string) => (document.querySelector(selector) as HTMLElement).click();
    click('[data-add="notebook"][data-delta="1"]');
    click('[data-add="pen"][data-delta="1"]');
    click('[data-add="pen"][data-delta="1"]');
  });
  await tab.waitFor(() => document.querySelector('#cart-count')?.textContent === '3', [], 5000, 'cart of 3');
  await tab.evaluate(() => (document.querySelector('[data-goto="2"]') as HTMLElement).click());
  await tab.waitFor(() => document.body.dataset.step === '2', [], 5000, 'details step');
  await tab.evaluate((typed: Record<string, string>) => {
    for (const [name, text] of Object.entries(typed)) {
      const input = document.querySelector(`[name="${name}"]`) as HTMLInputElement;
      input.focus();
      input.value = text;
      input.dispatchEvent(new Event('input', { bubbles: true }));
      input.blur();
    }
  }, TYPED);
  await tab.waitFor((note) => document.querySelector('[data-review="note"]')?.textContent === note, [TYPED.note], 5000, 'server echo');
}

/** Records every Stasis event `type:code` in the page (window.__events), from now on. */
export function recordEvents(tab: EngineTab): Promise<void> {
  return tab.evaluate(() => {
    const w = window as any;
    w.__events = [];
    for (const type of ['hibernating', 'hibernated', 'resuming', 'resumed', 'reset', 'failed', 'ready']) {
      w.Stasis.on(type, (e: { type: string; code: string }) => w.__events.push(`${e.type}:${e.code}`));
    }
  });
}

export function events(tab: EngineTab): Promise<string[]> {
  return tab.evaluate(() => ((window as any).__events ?? []) as string[]);
}

/** Opens the demo, waits for a live session with service-worker custody, fills the checkout. */
export async function openFilledCheckout(engine: EngineBrowser, url: string): Promise<{ tab: EngineTab; before: DemoState; sid: string }> {
  const tab = await engine.newTab(url);
  await waitForLive(tab, 1);
  expect(await tab.evaluate(() => (window as any).Stasis.status.custody)).toBe('service-worker');
  await fillCheckout(tab);
  return { tab, before: await readDemo(tab), sid: await sidOf(tab) };
}

/** Really hides the tab and waits until Stasis has the blob. */
export async function hideUntilHibernated(tab: EngineTab): Promise<void> {
  await tab.hide();
  expect(await tab.evaluate(() => document.visibilityState)).toBe('hidden');
  await waitForState(tab, 'hibernated');
}
