/**
 * What happens when things go wrong between hide and show: the network, the server process, the blob.
 * Real server process, real demo, real Chromium over raw CDP.
 */
import { expect, test } from './support/fixtures.js';
import {
  expectSameState,
  hideUntilHibernated,
  openFilledCheckout,
  readDemo,
  readVault,
  sidOf,
  waitForLive,
  waitForState,
  writeVault,
  proofInPage,
} from './support/demo.js';
import { CdpBrowser, type Tab } from './support/cdp-browser.js';



function banner(tab: Tab) {
  return tab.evaluate(() => {
    const el = document.querySelector<HTMLElement>('.stasis-banner');
    return el && { text: el.textContent ?? '', role: el.getAttribute('role'), live: el.getAttribute('aria-live'), hidden: el.hidden, state: el.dataset.state };
  });
}

test('d. offline when the tab returns: the banner says so, the blob is kept, and it resumes by itself when back online', async ({ server, cdp }) => {
  const { tab, before, sid } = await openFilledCheckout(cdp, `${server.url}/`);
  await hideUntilHibernated(tab);

  await cdp.setOffline(true);
  await tab.show();
  await waitForState(tab, 'waiting');
  expect(await tab.evaluate(() => navigator.onLine)).toBe(false);
  const shown = await banner(tab);
  expect(shown).toMatchObject({ role: 'status', live: 'polite', hidden: false, state: 'offline' });
  expect(shown?.text).toContain('You are offline');
  expect((await readVault(tab, sid))?.gen).toBe(1); // kept: `unavailable` is not final
  expect((await server.health(sid)).session?.state).toBe('hibernated');

  await cdp.setOffline(false); // the `online` event triggers the resume; nobody clicks anything
  await waitForLive(tab, 2);
  expectSameState(await readDemo(tab), before);
  expect(await readVault(tab, sid)).toBeNull();
});

test('e. the server process restarts (same key ring) between hide and show: the state resumes', async ({ server, cdp }) => {
  const { tab, before, sid } = await openFilledCheckout(cdp, `${server.url}/`);
  await hideUntilHibernated(tab);

  await server.restart();
  expect((await server.health()).live).toBe(0); // a new process: nothing in memory

  await tab.show();
  await waitForLive(tab, 2);
  expectSameState(await readDemo(tab), before);
  expect((await server.health(sid)).session).toMatchObject({ state: 'live', gen: 2 });
});

test('f. a blob altered in IndexedDB: a `tampered` event, a fresh session, the server still healthy', async ({ server, cdp }) => {
  const { tab, sid } = await openFilledCheckout(cdp, `${server.url}/`);
  await tab.evaluate(() => {
    (window as any).__events = [];
    (window as any).Stasis.on('failed', (e: any) => (window as any).__events.push({ type: e.type, code: e.code, phase: e.detail.phase }));
  });
  await hideUntilHibernated(tab);

  const record = (await readVault(tab, sid))!;
  const parts = record.blob.split('.');
  const ciphertext = parts[3]!;
  const i = Math.floor(ciphertext.length / 2);
  parts[3] = ciphertext.slice(0, i) + (ciphertext[i] === 'A' ? 'B' : 'A') + ciphertext.slice(i + 1);
  await writeVault(tab, { ...record, blob: parts.join('.') });

  await tab.show();
  await waitForLive(tab, 1); // a new session, gen 1
  expect(await tab.evaluate(() => (window as any).__events)).toEqual([{ type: 'failed', code: 'tampered', phase: 'resume' }]);
  const newSid = await sidOf(tab);
  expect(newSid).not.toBe(sid);
  const fresh = await readDemo(tab);
  expect(fresh.cart).toEqual({ notebook: '0', pen: '0', tape: '0', stamp: '0' });
  expect(fresh.details.note).toBe('');
  const shown = await banner(tab);
  expect(shown).toMatchObject({ state: 'failed', hidden: false });
  expect(shown?.text).toContain('tampered');
  expect(await readVault(tab, sid)).toBeNull(); // final outcome: deleted
  const health = await server.health(newSid);
  expect(health).toMatchObject({ ok: true, live: 1, session: { state: 'live', gen: 1 } });
});

test('g. the same blob resumed twice: the second answers `replayed`, no crash, no shared state', async ({ server, cdp }) => {
  const { tab: a, before, sid } = await openFilledCheckout(cdp, `${server.url}/`);
  await hideUntilHibernated(a);
  const copy = (await readVault(a, sid))!;
  await a.show();
  await waitForLive(a, 2);

  // 1. The raw protocol: the same request again, from the same browser (same binding cookie, a proof by the
  //    same key: the binding holds, the ledger refuses).
  const proof = await proofInPage(a, '/stasis/resume', copy.blob);
  expect(proof).toBeDefined();
  const again = await a.evaluate(
    (body) => fetch('/stasis/resume', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body }).then(async (r) => ({ status: r.status, json: await r.json() })),
    JSON.stringify({ sid, blob: copy.blob, proof }),
  );
  expect(again).toMatchObject({ status: 409, json: { outcome: 'replayed' } });

  // 2. Through the SDK, from another browser that stole both the blob and the binding cookie, planted
  //    under the first tab's sid: the blob is bound to the first browser's key, so the binding check (before
  //    the ledger) answers `wrong-binding`; a fresh session of its own.
  const thief = await CdpBrowser.launch();
  try {
    const { cookies } = await cdp.send('Storage.getCookies');
    expect(cookies.map((c: { name: string }) => c.name)).toContain('stasis_bid');
    const b = await thief.newTab(`${server.url}/stasis/health`);
    await thief.send('Storage.setCookies', { cookies });
    await b.evaluate((key, value) => sessionStorage.setItem(key, value), `stasis:sid:${server.url}/stasis`, sid);
    await writeVault(b, copy);
    await b.goto(`${server.url}/`);
    await waitForLive(b, 1);
    expect(await b.evaluate(() => (window as any).Stasis.status.lastOutcome)).toBe('wrong-binding');
    expect(await sidOf(b)).not.toBe(sid); // never shares the first tab's session
    expect((await readDemo(b)).cart).toEqual({ notebook: '0', pen: '0', tape: '0', stamp: '0' });
  } finally {
    await thief.close();
  }

  // The first tab still has its own state, live at gen 2, and the server is fine.
  expect(await readDemo(a)).toEqual(before);
  expect(await server.health(sid)).toMatchObject({ ok: true, live: 2, session: { state: 'live', gen: 2, channels: 1 } });
});
