/**
 * The back/forward cache: Stasis never blocks it (no unload listener; a held Web Lock and the service
 * worker do not block it), hibernates on the way out without the server closing the socket under the
 * frozen page, and resumes on `pageshow` with `persisted`. Driven over raw CDP: Playwright's own
 * instrumentation runs script in cached pages now and then, which evicts them.
 */
import { expect, test } from './support/fixtures.js';
import { expectSameState, openFilledCheckout, readDemo, sidOf, waitForLive } from './support/demo.js';
import { probeCapabilities, recordMeasured } from '../support/measured.js';

for (const [page, mode] of [
  ['/', ''],
  ['/live.html', ' (live mode: the resume rides in a new socket\'s first message)'],
] as const) {
  test(`leaving for another page hibernates; Back restores the page from the bfcache and resumes the session${mode}`, async ({ server, cdp }) => {
    const { tab, before, sid } = await openFilledCheckout(cdp, `${server.url}${page}`);
    const version = (await cdp.send<{ product: string }>('Browser.getVersion')).product.replace(/^[^/]*\//, '');
    if (!mode) await recordMeasured('chromium', version, { capabilities: await tab.evaluate(probeCapabilities) });
    await tab.evaluate(() => ((window as any).__sameDocument = true)); // survives only if the document itself comes back
    const notRestored: string[] = [];
    cdp.on((method, params) => method === 'Page.backForwardCacheNotUsed' && notRestored.push(JSON.stringify(params.notRestoredExplanations)));

    await tab.goto(`${server.url}/stasis/health`);
    await expect.poll(async () => (await server.health(sid)).session?.state).toBe('hibernated');

    const { currentIndex, entries } = await tab.send<{ currentIndex: number; entries: Array<{ id: number }> }>('Page.getNavigationHistory');
    await tab.send('Page.navigateToHistoryEntry', { entryId: entries[currentIndex - 1]!.id });
    await expect.poll(() => tab.evaluate(() => (window as any).__sameDocument === true).catch(() => false)).toBe(true);
    expect(notRestored).toEqual([]);
    await waitForLive(tab, 2);
    expect(await sidOf(tab)).toBe(sid);
    expectSameState(await readDemo(tab), before);
    expect((await server.health(sid)).session).toMatchObject({ state: 'live', gen: 2 });
    if (!mode) await recordMeasured('chromium', version, { bfcache: true });
    else expect(await tab.evaluate(() => (window as any).Stasis.socket?.url as string)).toContain('resume=1');
  });
}
