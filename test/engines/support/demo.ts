/** The demo checkout driven through any engine's EngineTab (clicks and typing are page events). */
import { expect } from '@playwright/test';
import { TYPED, type DemoState } from '../../e2e/support/demo.js';
import type { EngineBrowser, EngineTab } from './engine-browser.js';

export { TYPED, readVault, writeVault, type DemoState } from '../../e2e/support/demo.js';

export async function waitForLive(tab: EngineTab, gen?: number, timeoutMs = 15_000): Promise<void> {
  await tab
    .waitFor(
      (g) =>
        (window as any).Stasis?.status.state === 'live' &&
        document.querySelector('#connection')?.textContent === 'connected' &&
        (g === null || document.querySelector('#session-gen')?.textContent === String(g)),
      [gen ?? null],
      timeoutMs,
      `demo live${gen ? ` with gen ${gen}` : ''}`,
    )
    .catch(async (error: Error) => {
      const seen = await tab.evaluate(() => ({
        status: (window as any).Stasis?.status,
        connection: document.querySelector('#connection')?.textContent,
        gen: document.querySelector('#session-gen')?.textContent,
      }));
      throw new Error(`${error.message}; page shows ${JSON.stringify(seen)}`);
    });
}

export async function waitForState(tab: EngineTab, state: string, timeoutMs = 15_000): Promise<void> {
  await tab.waitFor((s) => (window as any).Stasis?.status.state === s, [state], timeoutMs, `Stasis state ${state}`);
}

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
  }, TYPED as Record<string, string>);
  await tab.waitFor((note) => document.querySelector('[data-review="note"]')?.textContent === note, [TYPED.note], 5000, 'server echo');
}

export function readDemo(tab: EngineTab): Promise<DemoState> {
  return tab.evaluate(() => {
    const text = (s: string) => document.querySelector(s)?.textContent ?? '';
    const cart: Record<string, string> = {};
    document.querySelectorAll<HTMLElement>('[data-qty]').forEach((el) => (cart[el.dataset.qty!] = el.textContent ?? ''));
    const details: Record<string, string> = {};
    document.querySelectorAll<HTMLInputElement>('#details-form [name]').forEach((el) => (details[el.name] = el.value));
    const review: Record<string, string> = {};
    document.querySelectorAll<HTMLElement>('[data-review]').forEach((el) => (review[el.dataset.review!] = el.textContent ?? ''));
    return { step: document.body.dataset.step ?? '', cart, details, review, total: text('[data-total]') };
  });
}

export function expectSameState(after: DemoState, before: DemoState): void {
  expect(after).toEqual(before);
  expect(after.cart).toMatchObject({ notebook: '1', pen: '2' });
  expect(after.details).toEqual(TYPED);
}

export function sidOf(tab: EngineTab): Promise<string> {
  return tab.evaluate(() => (window as any).Stasis.sid as string);
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
