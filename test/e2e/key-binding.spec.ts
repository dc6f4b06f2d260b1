/**
 * The browser binding that is durable with the blob (docs/protocol.md, "Key binding"): the custodian's
 * non-extractable ECDSA key lives in the vault's IndexedDB, committed before the first blob, and resumes prove
 * possession of it. Chromium writes cookies to disk only every ~30 s, so a browser killed within seconds of a
 * first visit has lost its binding cookie but kept its blob and key: the state comes back all the same.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from './support/fixtures.js';
import { CdpBrowser } from './support/cdp-browser.js';
import {
  expectSameState,
  hideUntilHibernated,
  openFilledCheckout,
  readDemo,
  readVault,
  sidOf,
  waitForLive,
  writeVault,
} from './support/demo.js';

test('Chromium killed (SIGKILL) within 2 s of the first load and hide, restarted on the same profile: the exact state returns', async ({ server }) => {
  test.setTimeout(90_000);
  const profileDir = await mkdtemp(join(tmpdir(), 'stasis-early-kill-'));
  let browser = await CdpBrowser.launch({ profileDir });
  try {
    const loadedAt = Date.now();
    const { tab, before, sid } = await openFilledCheckout(browser, `${server.url}/`);
    const hiddenAt = Date.now();
    await hideUntilHibernated(tab);
    const stored = await readVault(tab, sid);
    expect(stored?.gen).toBe(1);
    expect(JSON.parse(Buffer.from(stored!.blob.split('.')[0]!, 'base64url').toString()).sid).toBe(sid);
    // No waiting for the cookie flush: the browser dies right after the blob is on disk.
    const killedAt = Date.now();
    await browser.kill();
    // Reported, not asserted (no timing asserts in tests): the load includes filling the checkout.
    console.log(`killed ${killedAt - hiddenAt} ms after the hide, ${killedAt - loadedAt} ms after the first load`);

    browser = await CdpBrowser.launch({ profileDir });
    const { cookies } = await browser.send('Storage.getCookies');
    // Reported: whether this run lost the binding cookie (it usually does this early). Whatever the flush did,
    // the key alone must carry the binding, so the cookie is deleted before the site is reopened.
    console.log(`binding cookie after restart: ${cookies.some((c: { name: string }) => c.name === 'stasis_bid') ? 'kept' : 'lost'} (deleted now)`);
    await browser.send('Storage.clearCookies');
    const first = await browser.newTab(`${server.url}/`);
    await waitForLive(first, 2);
    expect(await sidOf(first)).toBe(sid);
    expectSameState(await readDemo(first), before);
    expect(await first.evaluate(() => (window as any).Stasis.status.lastOutcome)).toBe('ok');
  } finally {
    await browser.close();
    await rm(profileDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
});

test('a blob copied into a second profile with the first one\'s cookie answers wrong-binding; the first browser still resumes it', async ({ server, cdp }) => {
  const { tab, before, sid } = await openFilledCheckout(cdp, `${server.url}/`);
  const front = await hideUntilHibernated(tab);
  const copy = (await readVault(tab, sid))!;
  const { cookies } = await cdp.send('Storage.getCookies');
  expect(cookies.map((c: { name: string }) => c.name)).toContain('stasis_bid');

  const thief = await CdpBrowser.launch();
  try {
    const b = await thief.newTab(`${server.url}/stasis/health`);
    await thief.send('Storage.setCookies', { cookies });
    await b.evaluate((key, value) => sessionStorage.setItem(key, value), `stasis:sid:${server.url}/stasis`, sid);
    await writeVault(b, copy);
    // The raw protocol first: the blob and the cookie, no proof.
    const raw = await b.evaluate(
      (body) => fetch('/stasis/resume', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body }).then(async (r) => ({ status: r.status, json: await r.json() })),
      JSON.stringify({ sid, blob: copy.blob }),
    );
    expect(raw).toMatchObject({ status: 403, json: { outcome: 'wrong-binding' } });
    // Then through the SDK, whose custodian signs with this profile's own key.
    await b.goto(`${server.url}/`);
    await waitForLive(b, 1);
    expect(await b.evaluate(() => (window as any).Stasis.status.lastOutcome)).toBe('wrong-binding');
    expect(await sidOf(b)).not.toBe(sid);
    expect((await readDemo(b)).cart).toEqual({ notebook: '0', pen: '0', tape: '0', stamp: '0' });
  } finally {
    await thief.close();
  }
  await front.close();
  await tab.show();
  await waitForLive(tab, 2);
  expectSameState(await readDemo(tab), before);
});
