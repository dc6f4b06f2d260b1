/**
 * Resume on the live channel (docs/protocol.md, "Resume on the live channel"): the demo in live mode
 * (`/live.html`, data-live="on"), where Stasis opens the channel itself and a resume rides in its first
 * message, one round trip instead of `POST resume` and then the upgrade. Real Chromium over raw CDP.
 */
import { expect, test } from './support/fixtures.js';
import type { Evaluator } from './support/demo.js';
import { expectSameState, hideUntilHibernated, openFilledCheckout, readDemo, readVault, sidOf, waitForLive, writeVault } from './support/demo.js';

/** The socket Stasis handed the page: the one it resumed on (`resume=1`), still open, is the demo's channel. */
function channel(tab: Evaluator): Promise<{ url: string; open: boolean } | undefined> {
  return tab.evaluate(() => {
    const socket = (window as any).Stasis.socket as WebSocket | undefined;
    return socket && { url: socket.url, open: socket.readyState === WebSocket.OPEN };
  });
}

test('a. live mode: show resumes in the socket\'s first message; that socket carries the restored session (exact state, gen 2)', async ({ server, cdp }) => {
  const { tab, before, sid } = await openFilledCheckout(cdp, `${server.url}/live.html`);
  // A new session: Stasis opened a plain channel (no blob to present).
  expect((await channel(tab))?.url).not.toContain('resume=1');
  await hideUntilHibernated(tab);
  expect((await readVault(tab, sid))?.gen).toBe(1);

  await tab.show();
  await waitForLive(tab, 2);
  expectSameState(await readDemo(tab), before);
  const resumedOn = await channel(tab);
  expect(resumedOn).toEqual({ url: expect.stringContaining('resume=1'), open: true });
  expect(new URL(resumedOn!.url).searchParams.get('sid')).toBe(sid);
  expect((await server.health(sid)).session).toMatchObject({ state: 'live', gen: 2, channels: 1 });
  // Settled: the blob used up by the `ok` answer is gone from the vault.
  await expect.poll(() => readVault(tab, sid), { timeout: 5000 }).toBeNull();

  // And again: the session keeps going through cycles on the live path.
  await hideUntilHibernated(tab);
  await tab.show();
  await waitForLive(tab, 3);
  expectSameState(await readDemo(tab), before);
});

test('b. live mode: a reload while hibernated resumes on the new page\'s first socket', async ({ server, cdp }) => {
  const { tab, before, sid } = await openFilledCheckout(cdp, `${server.url}/live.html`);
  await hideUntilHibernated(tab);
  await tab.reload();
  await tab.show();
  await waitForLive(tab, 2);
  expect(await sidOf(tab)).toBe(sid);
  expectSameState(await readDemo(tab), before);
  expect((await channel(tab))?.url).toContain('resume=1');
});

test('c. live mode: a tampered blob is refused on the socket (tampered, close 4010): the blob is deleted and a fresh session starts', async ({ server, cdp }) => {
  const { tab, sid } = await openFilledCheckout(cdp, `${server.url}/live.html`);
  await hideUntilHibernated(tab);
  const stored = (await readVault(tab, sid))!;
  const parts = stored.blob.split('.');
  parts[3] = `${parts[3]!.slice(0, -4)}${parts[3]!.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`; // the ciphertext
  await writeVault(tab, { ...stored, blob: parts.join('.') });
  await tab.evaluate(() => {
    (window as any).__failed = [];
    (window as any).Stasis.on('failed', (event: { code: string }) => (window as any).__failed.push(event.code));
  });
  await tab.show();
  await tab.waitFor(() => ((window as any).__failed as string[]).includes('tampered'), [], 15_000, 'failed: tampered');
  await waitForLive(tab, 1);
  expect(await sidOf(tab)).not.toBe(sid);
  expect((await readDemo(tab)).cart).toMatchObject({ notebook: '0', pen: '0' });
  expect(await readVault(tab, sid)).toBeNull();
  // The fresh session has a plain channel of its own.
  expect(await channel(tab)).toEqual({ url: expect.not.stringContaining('resume=1'), open: true });
});
