import { expect, type Page } from '@playwright/test';
import type { CdpBrowser, Tab } from './cdp-browser.js';

/** Anything that can run a function in a page: a raw-CDP Tab, or a Playwright page through `evaluator`. */
export interface Evaluator {
  evaluate<T, A extends unknown[]>(fn: (...args: A) => T | Promise<T>, ...args: A): Promise<T>;
}

/** A page a test can run and poll scripts in: a raw-CDP Tab, or another engine's EngineTab (test/engines). */
export interface PageDriver extends Evaluator {
  waitFor<A extends unknown[]>(fn: (...args: A) => unknown, args: A, timeoutMs?: number, what?: string): Promise<unknown>;
}

export function evaluator(page: Page): Evaluator {
  return {
    evaluate: <T, A extends unknown[]>(fn: (...args: A) => T | Promise<T>, ...args: A) =>
      page.evaluate<T>(`(${fn.toString()})(...${JSON.stringify(args)})`),
  };
}

/** What the demo shows: everything here comes from the server's view of the session. */
export interface DemoState {
  step: string;
  cart: Record<string, string>;
  details: Record<string, string>;
  review: Record<string, string>;
  total: string;
}

export const TYPED = {
  name: 'Ada Lovelace',
  email: 'ada@example.org',
  address: '12 Analytical Row',
  city: 'London',
  note: 'Leave it with the neighbour — thanks!',
};

export async function waitForLive(tab: PageDriver, gen?: number, timeoutMs = 15_000): Promise<void> {
  await tab
    .waitFor(
    (g) =>
      (window as any).Stasis?.status.state === 'live' &&
      document.querySelector('#connection')?.textContent === 'connected' &&
      !document.querySelector('#app')?.hasAttribute('aria-busy') && // this socket's first view is rendered
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

export async function waitForState(tab: PageDriver, state: string, timeoutMs = 10_000): Promise<void> {
  await tab.waitFor((s) => (window as any).Stasis.status.state === s, [state], timeoutMs, `Stasis state ${state}`);
}

/** Fills the cart, goes to the details step and types every field; waits until the server has it all. */
export async function fillCheckout(tab: Tab): Promise<void> {
  await tab.click('[data-add="notebook"][data-delta="1"]');
  await tab.click('[data-add="pen"][data-delta="1"]');
  await tab.click('[data-add="pen"][data-delta="1"]');
  await tab.waitFor(() => document.querySelector('#cart-count')?.textContent === '3', [], 5000, 'cart of 3');
  await tab.click('[data-goto="2"]');
  await tab.waitFor(() => document.body.dataset.step === '2', [], 5000, 'details step');
  for (const [field, text] of Object.entries(TYPED)) await tab.type(`[name="${field}"]`, text);
  // The review panel is rendered from the server's view: once it shows the note, the server has every field.
  await tab.waitFor((note) => document.querySelector('[data-review="note"]')?.textContent === note, [TYPED.note], 5000, 'server echo');
}

export function readDemo(tab: Evaluator): Promise<DemoState> {
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

export function sidOf(tab: Evaluator): Promise<string> {
  return tab.evaluate(() => (window as any).Stasis.sid as string);
}

/** Reads the vault record for `sid` straight from IndexedDB (without creating the database). */
export function readVault(tab: Evaluator, sid: string): Promise<{ sid: string; blob: string; gen: number; exp: number } | null> {
  return tab.evaluate(async (s) => {
    const names = (await indexedDB.databases()).map((d) => d.name);
    if (!names.includes('stasis-vault')) return null;
    return new Promise((resolve, reject) => {
      const request = indexedDB.open('stasis-vault');
      request.onerror = () => reject(request.error ?? new Error('indexedDB.open failed'));
      request.onsuccess = () => {
        const db = request.result;
        const get = db.transaction('blobs').objectStore('blobs').get(s);
        get.onsuccess = () => {
          db.close();
          resolve(get.result ?? null);
        };
        get.onerror = () => reject(get.error ?? new Error('vault read failed'));
      };
    });
  }, sid);
}

/** Replaces the vault record for `sid` (to tamper with it or plant a copy). */
export function writeVault(tab: Evaluator, record: { sid: string; blob: string; gen: number; exp: number }): Promise<void> {
  return tab.evaluate(
    (r) =>
      new Promise<void>((resolve, reject) => {
        const request = indexedDB.open('stasis-vault', 3);
        // A browser that never ran Stasis has no vault yet: create it as src/custody/vault.ts does.
        request.onupgradeneeded = () => {
          request.result.createObjectStore('blobs', { keyPath: 'sid' }).createIndex('exp', 'exp');
          request.result.createObjectStore('pending', { keyPath: 'sid' });
          request.result.createObjectStore('keys', { keyPath: 'id' });
        };
        request.onsuccess = () => {
          const db = request.result;
          const tx = db.transaction('blobs', 'readwrite');
          tx.objectStore('blobs').put({ ...r, storedAt: Date.now(), endpoint: `${location.origin}/stasis` });
          tx.oncomplete = () => {
            db.close();
            resolve();
          };
          tx.onerror = () => reject(tx.error ?? new Error('vault write failed'));
        };
        request.onerror = () => reject(request.error ?? new Error('indexedDB.open failed'));
      }),
    record,
  );
}

export function expectSameState(after: DemoState, before: DemoState): void {
  expect(after).toEqual(before);
  expect(after.cart).toMatchObject({ notebook: '1', pen: '2' });
  expect(after.details).toEqual(TYPED);
}

/** Opens the demo in a new tab, fills the checkout and returns what it shows and its sid. */
export async function openFilledCheckout(cdp: CdpBrowser, url: string): Promise<{ tab: Tab; before: DemoState; sid: string }> {
  const tab = await cdp.newTab(url);
  await waitForLive(tab, 1);
  await fillCheckout(tab);
  return { tab, before: await readDemo(tab), sid: await sidOf(tab) };
}

/** Really hides the tab and waits until Stasis reports the session hibernated. */
export async function hideUntilHibernated(tab: Tab): Promise<Tab> {
  const front = await tab.hide();
  await waitForState(tab, 'hibernated');
  return front;
}

/**
 * A key-binding proof made by page script with the key the custodian keeps in this profile's vault: script of
 * the site's origin can use the key (it cannot export it; docs/security.md). Undefined when there is no key.
 */
export function proofInPage(tab: Evaluator, path: string, blob?: string): Promise<string | undefined> {
  return tab.evaluate(
    async (htu, body) => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open('stasis-vault');
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error ?? new Error('indexedDB.open failed'));
      });
      if (!db.objectStoreNames.contains('keys')) return undefined;
      const key = await new Promise<any>((resolve, reject) => {
        const get = db.transaction('keys').objectStore('keys').get('binding');
        get.onsuccess = () => resolve(get.result);
        get.onerror = () => reject(get.error ?? new Error('key read failed'));
      });
      db.close();
      if (!key) return undefined;
      const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      const enc = (value: unknown) => b64(new TextEncoder().encode(JSON.stringify(value)));
      const bh = body === undefined ? undefined : b64(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body))));
      const payload = { htm: 'POST', htu, iat: Math.floor(Date.now() / 1000), jti: crypto.randomUUID(), ...(bh ? { bh } : {}) };
      const input = `${enc({ typ: 'stasis-proof+jwt', alg: 'ES256', jwk: key.jwk })}.${enc(payload)}`;
      const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, new TextEncoder().encode(input));
      return `${input}.${b64(new Uint8Array(signature))}`;
    },
    path,
    blob,
  );
}
