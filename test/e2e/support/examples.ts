/**
 * The three example apps (examples/) as the e2e tests drive them: how to make state through each one's UI,
 * how to read what it renders, and its own routes and sockets. Plus a fixture that runs one of them.
 */
import { expect } from '@playwright/test';
import type { Tab } from './cdp-browser.js';
import { ExampleProcess, type ExampleName } from './example-process.js';
import { test as base } from './fixtures.js';

/** Each test gets the example named by `exampleName` (set per describe with test.use) in its own process. */
export const test = base.extend<{ exampleName: ExampleName; app: ExampleProcess }>({
  exampleName: ['express-todo', { option: true }],
  app: async ({ exampleName }, use, testInfo) => {
    const app = await ExampleProcess.launch(exampleName);
    try {
      await use(app);
    } finally {
      await app.stop();
      if (testInfo.status !== testInfo.expectedStatus) await testInfo.attach(`${exampleName}-output`, { body: app.output });
    }
  },
});

export interface ExampleDriver {
  name: ExampleName;
  /** The app's own HTTP routes answer as they did before Stasis was added. */
  checkRoutes(app: ExampleProcess): Promise<void>;
  /** A round trip on each of the app's own sockets. */
  checkSockets(tab: Tab): Promise<void>;
  /** Makes state through the UI; resolves once the server has all of it. */
  makeState(tab: Tab): Promise<void>;
  /** The session state as the page renders it. */
  read(tab: Tab): Promise<unknown>;
  /** What `read` shows after `makeState`. */
  expected: unknown;
  /** Clears the rendered state, so that only a render from the server's view can bring it back. */
  wipe(tab: Tab): Promise<void>;
}

/** Outcomes after which the state cannot come back: waiting longer is pointless. */
const LOST = ['wrong-binding', 'tampered', 'unknown-key', 'replayed', 'expired', 'schema-reset'];

/**
 * Waits until the page rendered a view of a live session at `gen` (body[data-ready], body.dataset.gen); fails
 * at once when Stasis reports an outcome that loses the state.
 */
export async function waitForApp(tab: Tab, gen: number, timeoutMs = 10_000): Promise<void> {
  await tab
    .waitFor(
      (g, lost) => {
        const status = (window as any).Stasis?.status;
        if (lost.includes(status?.lastOutcome)) throw new Error(`Stasis reported ${status.lastOutcome}: ${status.lastMessage}`);
        return document.body.dataset.ready === 'true' && document.body.dataset.gen === String(g) && status?.state === 'live';
      },
      [gen, LOST] as [number, string[]],
      timeoutMs,
      `app live at gen ${gen}`,
    )
    .catch(async (error: Error) => {
      const seen = await tab.evaluate(() => ({ status: (window as any).Stasis?.status, ready: document.body.dataset.ready, gen: document.body.dataset.gen }));
      throw new Error(`${error.message}; page shows ${JSON.stringify(seen)}`);
    });
}

const blur = (tab: Tab) => tab.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());

async function ping(tab: Tab): Promise<{ id: string; answer: unknown }> {
  const id = `p-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const answer = await withTimeout(tab.evaluate((i) => (window as any).appPing(i), id), 'appPing');
  return { id, answer };
}

function withTimeout<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const expressTodo: ExampleDriver = {
  name: 'express-todo',
  async checkRoutes(app) {
    const stats = await app.request('GET', '/api/stats');
    expect(stats.status).toBe(200);
    expect(stats.json).toEqual({ served: expect.any(Number) });
    const body = { hello: 'wörld', list: [1, 2, { deep: true }] };
    // express.json() is mounted before stasis.middleware: the app's own POST still gets its parsed body.
    expect(await app.request('POST', '/api/echo', body)).toMatchObject({ status: 200, json: { echo: body } });
  },
  async checkSockets(tab) {
    const { id, answer } = await ping(tab);
    expect(answer).toEqual({ type: 'pong', id });
  },
  async makeState(tab) {
    for (const [n, text] of ['Buy milk', 'Write the e2e tests'].entries()) {
      await tab.type('#draft', text);
      await tab.click('#add button');
      await tab.waitFor((c) => document.querySelectorAll('#todos li').length === c, [n + 1], 10_000, `${n + 1} todos from the server`);
    }
    await tab.click('#todos li:first-child input');
    // The class comes only from the server's view (the checkbox itself flips locally).
    await tab.waitFor(() => document.querySelector('#todos li:first-child')?.className === 'done', [], 10_000, 'todo done on the server');
    await tab.type('#draft', 'half-typ');
    // Drafts are not echoed: a round trip on the same socket says the server handled the draft before it.
    await expressTodo.checkSockets(tab);
    await blur(tab);
  },
  read: (tab) =>
    tab.evaluate(() => ({
      todos: [...document.querySelectorAll<HTMLElement>('#todos li')].map((li) => ({
        id: li.dataset.id,
        text: li.textContent.trim(),
        done: li.querySelector<HTMLInputElement>('input')!.checked,
        className: li.className,
      })),
      draft: document.querySelector<HTMLInputElement>('#draft')!.value,
    })),
  expected: {
    todos: [
      { id: expect.any(String), text: 'Buy milk', done: true, className: 'done' },
      { id: expect.any(String), text: 'Write the e2e tests', done: false, className: '' },
    ],
    draft: 'half-typ',
  },
  async wipe(tab) {
    await blur(tab);
    await tab.evaluate(() => {
      document.querySelector('#todos')!.replaceChildren();
      document.querySelector<HTMLInputElement>('#draft')!.value = '';
    });
  },
};

const NOTE = 'Remember the milk,\nand the eggs — ünïcödé ✓';

const fastifyNotes: ExampleDriver = {
  name: 'fastify-notes',
  async checkRoutes(app) {
    const time = await app.request('GET', '/api/time');
    expect(time.status).toBe(200);
    expect(Number.isNaN(Date.parse(time.json.now))).toBe(false);
    const body = { note: 'hi', n: 42, nested: { ok: true } };
    expect(await app.request('POST', '/api/echo', body)).toMatchObject({ status: 200, json: { echo: body } });
  },
  async checkSockets(tab) {
    const { id, answer } = await ping(tab);
    expect(answer).toEqual({ type: 'pong', id }); // over Stasis's built-in live channel
    const text = `hello ${id}`;
    expect(await withTimeout(tab.evaluate((t) => (window as any).appEcho(t) as Promise<string>, text), 'appEcho')).toBe(`echo:${text}`);
  },
  async makeState(tab) {
    await tab.type('#note', NOTE);
    await tab.click('#save');
    // The count comes from the server's view; the note went first on the same socket.
    await tab.waitFor(() => document.querySelector('#saves')?.textContent === '1', [], 10_000, 'save counted on the server');
    await blur(tab);
  },
  read: (tab) =>
    tab.evaluate(() => ({
      note: document.querySelector<HTMLTextAreaElement>('#note')!.value,
      saves: document.querySelector('#saves')!.textContent,
    })),
  expected: { note: NOTE, saves: '1' },
  async wipe(tab) {
    await blur(tab);
    await tab.evaluate(() => {
      document.querySelector<HTMLTextAreaElement>('#note')!.value = '';
      document.querySelector('#saves')!.textContent = '–';
    });
  },
};

const socketIoBoard: ExampleDriver = {
  name: 'socket-io-board',
  async checkRoutes(app) {
    expect(await app.request('GET', '/api/health')).toMatchObject({ status: 200, json: { ok: true } });
  },
  async checkSockets(tab) {
    const { id, answer } = await ping(tab);
    expect(answer).toEqual({ pong: id }); // a Socket.IO acknowledgement
  },
  async makeState(tab) {
    for (const [n, text] of ['Write tests', 'Ship it'].entries()) {
      await tab.type('#card', text);
      await tab.click('#add button');
      await tab.waitFor((c) => document.querySelectorAll('[data-column="todo"] li').length === c, [n + 1], 10_000, `${n + 1} cards`);
    }
    await tab.click('[data-column="todo"] li:first-child button');
    await tab.waitFor(() => document.querySelector('[data-column="doing"] li')?.firstChild?.textContent === 'Write tests', [], 10_000, 'card moved');
    await blur(tab);
  },
  read: (tab) =>
    tab.evaluate(() =>
      Object.fromEntries(
        [...document.querySelectorAll<HTMLElement>('[data-column]')].map((section) => [
          section.dataset.column,
          [...section.querySelectorAll('li')].map((li) => li.firstChild?.textContent),
        ]),
      ),
    ),
  expected: { todo: ['Ship it'], doing: ['Write tests'], done: [] },
  async wipe(tab) {
    await tab.evaluate(() => document.querySelectorAll('[data-column] ol').forEach((ol) => ol.replaceChildren()));
  },
};

export const EXAMPLES: readonly ExampleDriver[] = [expressTodo, fastifyNotes, socketIoBoard];

/**
 * Socket.IO board only: records every `board` event the app's own Socket.IO connection delivers (the page's
 * top-level `socket`), with the socket's id at that moment.
 */
export async function recordBoardEvents(tab: Tab): Promise<void> {
  await tab.evaluate(() => {
    const socket = (0, eval)('socket');
    (window as any).boardEvents = [];
    socket.on('board', (view: { gen: number; restored: boolean; columns: unknown }) =>
      (window as any).boardEvents.push({ gen: view.gen, restored: view.restored, columns: view.columns, socketId: socket.id, connected: socket.connected }),
    );
  });
}

export function boardEvents(tab: Tab): Promise<Array<{ gen: number; restored: boolean; columns: unknown; socketId: string; connected: boolean }>> {
  return tab.evaluate(() => (window as any).boardEvents);
}
