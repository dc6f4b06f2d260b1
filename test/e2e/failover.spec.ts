/**
 * `Stasis.debug.failover(kind)` from the page console, against the demo run by the CLI: each kind does to
 * the session what a real failover would, and the demo's state comes back at a higher generation without a
 * reload. Under NODE_ENV=production the route refuses and touches nothing.
 */
import type { FailoverAnswer, FailoverKind } from '../../src/protocol/index.js';
import type { Tab } from './support/cdp-browser.js';
import { expectSameState, openFilledCheckout, readDemo, waitForLive } from './support/demo.js';
import { expect, test } from './support/fixtures.js';
import { ServerProcess } from './support/server-process.js';

function failover(tab: Tab, kind: FailoverKind): Promise<FailoverAnswer> {
  return tab.evaluate((k) => (window as any).Stasis.debug.failover(k) as Promise<FailoverAnswer>, kind);
}

/** A mark on this document: it survives anything but a navigation (a reload would drop it). */
async function markDocument(tab: Tab): Promise<string> {
  const mark = `doc-${Math.random().toString(36).slice(2)}`;
  await tab.evaluate((m) => ((window as any).failoverMark = m), mark);
  return mark;
}

/** Records the Stasis events this document sees from now on (type, code, gen), statuschange and custody left out. */
async function recordEvents(tab: Tab): Promise<void> {
  await tab.evaluate(() => {
    const seen: unknown[] = ((window as any).stasisEvents = []);
    for (const type of ['hibernating', 'hibernated', 'resuming', 'resumed', 'reset', 'failed', 'ready', 'checkpoint']) {
      (window as any).Stasis.on(type, (event: any) => seen.push({ type, code: event.code, gen: event.detail?.gen }));
    }
  });
}

const HOW: Record<FailoverKind, string> = {
  restart: 'the blob is pushed and the channel closes with 4007; the page resumes from its blob',
  move: 'the session goes to the server stores and the channel closes with 1012; the reconnect restores it',
  disconnect: 'the session goes to the server stores and the channel drops without a close; the reconnect restores it',
};

/** What the page sees: a resume from the pushed blob, or nothing at all (the reconnect restored it server-side). */
const EVENTS: Record<FailoverKind, unknown[]> = {
  restart: [
    { type: 'hibernated', code: 'ok', gen: 1 },
    { type: 'resuming', code: 'pending' },
    { type: 'resumed', code: 'ok', gen: 2 },
    { type: 'ready', code: 'ok', gen: 2 },
  ],
  move: [],
  disconnect: [],
};

/**
 * Live mode (/live.html): the SDK owns the channel. A drop without a Stasis close code (1012, 1006) makes the demo
 * call `Stasis.recover()`, which, with no blob kept, hands it a new socket with a `ready` (no gen: this page never
 * hibernated or resumed); that connect restores the session from the stores at gen 2.
 */
const LIVE_EVENTS: Record<FailoverKind, unknown[]> = {
  restart: EVENTS.restart,
  move: [{ type: 'ready', code: 'ok' }],
  disconnect: [{ type: 'ready', code: 'ok' }],
};

for (const [page, mode, events] of [
  ['/', '', EVENTS],
  ['/live.html', ' (live mode)', LIVE_EVENTS],
] as const) {
  for (const kind of ['restart', 'move', 'disconnect'] as const) {
    test(`failover '${kind}' from the console${mode}: ${HOW[kind]}, at gen 2, without a reload`, async ({ server, cdp }) => {
      const { tab, before, sid } = await openFilledCheckout(cdp, `${server.url}${page}`);
      expect((await server.health(sid)).session).toMatchObject({ state: 'live', gen: 1, channels: 1 });
      const mark = await markDocument(tab);
      await recordEvents(tab);

      expect(await failover(tab, kind)).toEqual({ ok: true, kind, sid, gen: 1 });
      await waitForLive(tab, 2);
      expectSameState(await readDemo(tab), before);
      expect(await tab.evaluate(() => ({ mark: (window as any).failoverMark, sid: (window as any).Stasis.sid }))).toEqual({ mark, sid });
      await expect.poll(async () => (await server.health(sid)).session, { timeout: 10_000 }).toMatchObject({ state: 'live', gen: 2, channels: 1 });
      expect(await tab.evaluate(() => document.querySelector('#session-restored')?.textContent)).toBe('yes');
      expect(await tab.evaluate(() => (window as any).stasisEvents)).toEqual(events[kind]);
    });
  }
}

test('under NODE_ENV=production every failover kind answers disabled-in-production and the session stays live at gen 1', async ({ cdp }, testInfo) => {
  // STASIS_DEBUG logs every session step, so a failover that ran anyway would show in the output.
  const server = await ServerProcess.start({ NODE_ENV: 'production', STASIS_METRICS_TOKEN: 't', STASIS_DEBUG: '1' });
  try {
    const { tab, before, sid } = await openFilledCheckout(cdp, `${server.url}/`);
    const mark = await markDocument(tab);
    await recordEvents(tab);
    for (const kind of ['restart', 'move', 'disconnect'] as const) {
      expect(await failover(tab, kind)).toEqual({ ok: false, code: 'disabled-in-production', message: expect.any(String) });
    }
    // The refusal comes before anything is touched: the same channel, the same generation, the same page.
    expect((await server.health(sid)).session).toMatchObject({ state: 'live', gen: 1, channels: 1 });
    await waitForLive(tab, 1);
    expect(await tab.evaluate(() => (window as any).Stasis.status.state)).toBe('live');
    expect(await tab.evaluate(() => (window as any).failoverMark)).toBe(mark);
    expectSameState(await readDemo(tab), before);
    expect(await tab.evaluate(() => (window as any).stasisEvents)).toEqual([]);
    expect(server.output).toMatch(/connect: new session at gen 1/);
    expect(server.output).not.toMatch(/failover simulated|hibernate:|resume:/);
  } catch (error) {
    await testInfo.attach('server-output', { body: server.output });
    throw error;
  } finally {
    await server.stop();
  }
});
