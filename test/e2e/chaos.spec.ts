/**
 * Chaos: two instances behind nginx with Redis and checkpoints, three demo tabs in a real Chromium. For at
 * least 200 cycles the test switches tabs (real hide/show), goes offline and back, SIGTERMs or SIGKILLs an
 * instance and restarts it, and changes carts. At the end every tab shows exactly the cart it last sent.
 *
 * SIGKILL loses what changed after a page's newest checkpoint (STASIS_CHECKPOINT_SECONDS): before each
 * SIGKILL the test waits until every tab's last change is covered by a checkpoint or a hibernate, so the
 * expected state stays exact. When it cannot be (a tab hid while offline: its hibernate is pending and the
 * session has no channel to receive checkpoints), the cycle uses SIGTERM instead and counts that.
 * STASIS_CHAOS_SEED (a number, or `random`) and STASIS_CHAOS_CYCLES replay, vary or lengthen a run.
 */
import { writeFile } from 'node:fs/promises';
import { test, expect } from '@playwright/test';
import { CdpBrowser, type Tab } from './support/cdp-browser.js';
import { Fleet } from './support/fleet.js';
import type { ServerProcess } from './support/server-process.js';
import { seededRandom as random } from '../support/seeded-random.js';

const CYCLES = Number(process.env.STASIS_CHAOS_CYCLES ?? 200);
// A fixed seed by default, so a CI failure replays exactly; STASIS_CHAOS_SEED=random explores new runs.
const SEED =
  process.env.STASIS_CHAOS_SEED === 'random' ? Date.now() % 1_000_000 : Number(process.env.STASIS_CHAOS_SEED ?? 20_261_123);
const PRODUCTS = ['notebook', 'pen', 'tape', 'stamp'] as const;
const TABS = 3;

interface Chaos {
  tab: Tab;
  sid: string;
  /** The cart the server last confirmed for this tab. */
  expected: Record<string, number>;
  /** The last change is covered by a checkpoint or a hibernate (a SIGKILL cannot lose it). */
  safe: boolean;
  /** Checkpoints the page had received when it made its last change. */
  checkpointsAtChange: number;
}

test('chaos: 200+ cycles of tab switches, offline spells, SIGTERM and SIGKILL of instances; every tab ends with the cart it last sent', async ({}, testInfo) => {
  test.setTimeout(12 * 60_000);
  const rand = random(SEED);
  const pick = <T,>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  console.log(`[chaos] seed ${SEED}, ${CYCLES} cycles (replay: STASIS_CHAOS_SEED=${SEED})`);

  const fleet = await Fleet.start({
    STASIS_CHECKPOINT_SECONDS: '1',
    STASIS_DRAIN_TIMEOUT_MS: '3000',
    STASIS_RETENTION_SECONDS: '20',
    STASIS_RESUME_FAILURES_PER_MINUTE: '1000',
  });
  const cdp = await CdpBrowser.launch();
  const counts: Record<string, number> = {};
  const history: string[] = [];
  const count = (what: string, detail = '') => {
    counts[what] = (counts[what] ?? 0) + 1;
    history.push(`${what}${detail}`);
  };
  const outcomes: Record<string, number> = {};
  let offline = false;
  let front: Tab | undefined; // the tab in front; undefined: the blank tab
  try {
    const blank = await cdp.newTab('about:blank');
    const tabs: Chaos[] = [];
    for (let i = 0; i < TABS; i++) {
      const tab = await cdp.newTab(fleet.url);
      await waitLive(tab);
      await tab.evaluate(() => {
        const w = window as any;
        w.__checkpoints = 0;
        w.__outcomes = {};
        w.Stasis.on('checkpoint', () => w.__checkpoints++);
        for (const type of ['hibernated', 'resumed', 'failed', 'reset', 'ready'])
          w.Stasis.on(type, (e: any) => (w.__outcomes[`${type}:${e.code}`] = (w.__outcomes[`${type}:${e.code}`] ?? 0) + 1));
      });
      tabs.push({ tab, sid: await tab.evaluate(() => (window as any).Stasis.sid as string), expected: {}, safe: true, checkpointsAtChange: 0 });
      front = tab;
    }

    const show = async (next: Chaos | undefined) => {
      const target = next?.tab ?? blank;
      await cdp.send('Target.activateTarget', { targetId: target.targetId });
      await target.waitFor(() => document.visibilityState === 'visible', [], 5000, 'tab visible');
      const previous = tabs.find((t) => t.tab === front);
      front = next?.tab;
      if (previous && previous !== next) {
        await previous.tab.waitFor(() => document.visibilityState === 'hidden', [], 5000, 'tab hidden');
        // A hidden tab hibernates; its blob (newer than any checkpoint) makes its last change safe.
        const state = await previous.tab
          .waitFor(() => ['hibernated', 'pending', 'waiting'].includes((window as any).Stasis.status.state) && (window as any).Stasis.status.state, [], 15_000, 'hibernate settled')
          .catch(() => 'unsettled');
        count(`hide→${state}`);
        if (state === 'hibernated') previous.safe = true;
      }
    };

    const settle = async () => {
      const current = tabs.find((t) => t.tab === front);
      if (!current || offline) return;
      await waitLive(current.tab, 30_000);
      await expectCart(current, 30_000);
    };

    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const roll = rand();
      const current = tabs.find((t) => t.tab === front);
      if (roll < 0.35 && current && !offline) {
        const product = pick(PRODUCTS);
        const before = await current.tab.evaluate(() => (window as any).__checkpoints as number);
        await current.tab.click(`[data-add="${product}"][data-delta="1"]`);
        current.expected[product] = (current.expected[product] ?? 0) + 1;
        await expectCart(current, 15_000);
        current.safe = false;
        current.checkpointsAtChange = before;
        count('change');
        history.push(`  ${current.sid.slice(0, 6)} +${product} → ${JSON.stringify(current.expected)}`);
      } else if (roll < 0.65) {
        const next = pick([...tabs, undefined]);
        await show(next);
        if (next) count('show', ` ${next.sid.slice(0, 6)}`);
        else count('hide-all');
      } else if (roll < 0.75) {
        offline = !offline;
        await cdp.setOffline(offline);
        count(offline ? 'offline' : 'online');
      } else {
        const instance = pick(fleet.instances);
        let kill = rand() < 0.5;
        if (kill) kill = await makeSafe(tabs, front);
        if (kill) {
          await instance.stop();
          count('sigkill', ` ${fleet.instances.indexOf(instance) ? 'B' : 'A'}`);
        } else {
          expect(await instance.terminate(), 'a drained instance exits 0').toBe(0);
          count('sigterm', ` ${fleet.instances.indexOf(instance) ? 'B' : 'A'}`);
        }
        await restart(instance);
      }
      await settle();
    }

    // The end: network back, every tab shown in turn must show exactly what it last sent.
    if (offline) await cdp.setOffline(false);
    offline = false;
    for (const t of tabs) {
      await show(t);
      await waitLive(t.tab, 30_000);
      await expectCart(t, 30_000);
      const seen = await t.tab.evaluate(() => (window as any).__outcomes as Record<string, number>);
      for (const [key, n] of Object.entries(seen)) outcomes[key] = (outcomes[key] ?? 0) + n;
    }
    expect(outcomes['failed:tampered'] ?? 0).toBe(0);
    console.log(`[chaos] events: ${JSON.stringify(counts)}`);
    console.log(`[chaos] page outcomes: ${JSON.stringify(outcomes)}`);
    expect((counts.sigkill ?? 0) + (counts.sigterm ?? 0)).toBeGreaterThan(0);
  } catch (error) {
    const log = testInfo.outputPath('fleet-output.txt');
    await writeFile(log, `${history.join('\n')}\n\n${fleet.output}`);
    console.log(`[chaos] failed with seed ${SEED}; the last steps:\n${history.slice(-30).join('\n')}\n(all steps and server output: ${log})`);
    throw error;
  } finally {
    await cdp.close();
    await fleet.stop();
  }

  /**
   * Before a SIGKILL: waits until the front tab's last change is in a checkpoint (one arrived after the
   * change, then one more period for a seal that raced the change). False when some tab cannot be made safe.
   */
  async function makeSafe(tabs: Chaos[], front: Tab | undefined): Promise<boolean> {
    for (const t of tabs) {
      if (t.safe) continue;
      if (t.tab !== front || offline) return false;
      await t.tab.waitFor((n) => (window as any).__checkpoints > n, [t.checkpointsAtChange], 10_000, 'a checkpoint after the change');
      await new Promise((r) => setTimeout(r, 1300));
      t.safe = true;
    }
    // A hidden tab is covered only while it holds its blob (hibernated, or waiting to resume it). One whose
    // hibernate is pending (offline) has its session live on a server with no channel to checkpoint over:
    // a SIGKILL there is outside the documented window, so this cycle drains instead.
    for (const t of tabs) {
      if (t.tab === front) continue;
      const state = await t.tab.evaluate(() => (window as any).Stasis.status.state as string);
      if (state !== 'hibernated' && state !== 'waiting') return false;
    }
    // A tab live on a session restored a moment ago holds a checkpoint of it once the resume's answer (or, for a
    // session its connect restored from another instance, the push on attach) reached the worker: wait for it.
    const current = tabs.find((t) => t.tab === front);
    if (current && !offline) {
      await current.tab.waitFor(
        async () => {
          const kept = await (window as any).Stasis.debug.peek();
          return kept !== undefined && String(kept.gen) === document.querySelector('#session-gen')?.textContent;
        },
        [],
        10_000,
        'a checkpoint of the live generation',
      );
    }
    return true;
  }

  async function restart(instance: ServerProcess): Promise<void> {
    await instance.restart();
  }
});

async function waitLive(tab: Tab, timeoutMs = 15_000): Promise<void> {
  await tab
    .waitFor(
      () =>
        (window as any).Stasis?.status.state === 'live' &&
        document.querySelector('#connection')?.textContent === 'connected' &&
        !document.querySelector('#app')?.hasAttribute('aria-busy'), // this socket's first view is rendered
      [],
      timeoutMs,
      'tab live and connected',
    )
    .catch(async (error: Error) => {
      const seen = await tab.evaluate(() => ({
        status: (window as any).Stasis?.status,
        connection: document.querySelector('#connection')?.textContent,
        events: [...document.querySelectorAll('#event-log li')].slice(0, 12).map((li) => li.textContent),
      }));
      throw new Error(`${error.message}; the page shows ${JSON.stringify(seen)}`, { cause: error });
    });
}

async function expectCart(t: Chaos, timeoutMs: number): Promise<void> {
  const want = Object.fromEntries(PRODUCTS.map((p) => [p, String(t.expected[p] ?? 0)]));
  try {
    await t.tab.waitFor(
      (w: Record<string, string>) => Object.entries(w).every(([p, n]) => document.querySelector(`[data-qty="${p}"]`)?.textContent === n),
      [want],
      timeoutMs,
      'cart as last sent',
    );
  } catch (error) {
    const seen = await t.tab.evaluate(() => ({
      cart: Object.fromEntries([...document.querySelectorAll<HTMLElement>('[data-qty]')].map((el) => [el.dataset.qty, el.textContent])),
      status: (window as any).Stasis.status,
      events: [...document.querySelectorAll('#event-log li')].slice(0, 12).map((li) => li.textContent),
    }));
    throw new Error(`${(error as Error).message}: tab ${t.sid.slice(0, 6)} wants ${JSON.stringify(want)}, shows ${JSON.stringify(seen)}`, { cause: error });
  }
}
