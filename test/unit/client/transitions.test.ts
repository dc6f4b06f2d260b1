/**
 * The client's state table (STATE_TRANSITIONS) is what the code does: each scenario drives a real StasisClient
 * (its flows, signals and pushes; a scripted custody in place of the service worker; a stub page) and records
 * every state change. No scenario makes a change the table forbids (setState would report it), every change
 * the table allows happens in some scenario, and every event's status has the shape StasisStatus promises.
 */
import { describe, it, expect, vi, beforeEach, afterEach, type MockInstance } from 'vitest';
import { StasisClient } from '../../../src/client.js';
import { setState, type Session } from '../../../src/client/session.js';
import { STATE_TRANSITIONS, type StasisEventType, type StasisState, type StasisStatus } from '../../../src/events.js';
import { PUSH_MESSAGE, type PushedBlob } from '../../../src/protocol/index.js';
import type { CustodyApi, HibernateResult, ResumeResult, StoredBlobInfo } from '../../../src/protocol/custody.js';

const EVENT_TYPES = [
  'hibernating',
  'hibernated',
  'resuming',
  'resumed',
  'reset',
  'failed',
  'ready',
  'orphan',
  'custody',
  'checkpoint',
  'statuschange',
] as const satisfies readonly StasisEventType[];
// Every event type is listened to (a new one fails to compile here until it is added).
const allTypes: [Exclude<StasisEventType, (typeof EVENT_TYPES)[number]>] extends [never] ? true : false = true;
void allTypes;

const KEPT: HibernateResult = { outcome: 'ok', gen: 3, exp: 4_000_000_000, bytes: 120, storage: 'disk' };
const RESUMED: ResumeResult = { outcome: 'ok', gen: 4 };
const NOTHING: ResumeResult = { outcome: 'none' };
const UNREACHABLE = { outcome: 'unavailable', message: 'The server could not be reached.' } as const;

/** Changes seen across all scenarios, as `from>to`. */
const seen = new Set<string>();

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => (resolve = settle));
  return { promise, resolve };
}

/** Lets the flows run to their next wait (the custody answers in microtasks). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

// ---- a stub page: document visibility, window events, location, navigator ----

const doc = Object.assign(new EventTarget(), { visibilityState: 'visible' });
const win = Object.assign(new EventTarget(), { document: doc });

function setVisible(visible: boolean): void {
  doc.visibilityState = visible ? 'visible' : 'hidden';
  doc.dispatchEvent(new Event('visibilitychange'));
}

beforeEach(() => {
  setVisible(true);
  vi.stubGlobal('window', win);
  vi.stubGlobal('document', doc);
  vi.stubGlobal('addEventListener', win.addEventListener.bind(win));
  vi.stubGlobal('removeEventListener', win.removeEventListener.bind(win));
  vi.stubGlobal('location', { href: 'https://app.test/checkout' });
  vi.stubGlobal('navigator', { onLine: true });
});

let running: Array<{ client: StasisClient; errors: MockInstance<typeof console.error> }> = [];
/** Statuses that broke a promise of StasisStatus, with the event that carried them. */
let broken: Array<{ type: string; status: StasisStatus }> = [];

afterEach(() => {
  const done = running;
  const shapes = broken;
  running = [];
  broken = [];
  for (const { client } of done) client.stop();
  const reported = done.flatMap(({ errors }) => errors.mock.calls);
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
  expect(reported).toEqual([]); // setState found no change outside the table
  expect(shapes).toEqual([]);
});

// ---- the client under test ----

function custody() {
  return {
    hibernate: vi.fn<CustodyApi['hibernate']>(async () => KEPT),
    resume: vi.fn<CustodyApi['resume']>(async () => RESUMED),
    peek: vi.fn<CustodyApi['peek']>(async () => undefined),
    orphans: vi.fn<CustodyApi['orphans']>(async () => []),
    flushPending: vi.fn<CustodyApi['flushPending']>(async () => 0),
    store: vi.fn<CustodyApi['store']>(async () => KEPT),
    lend: vi.fn<CustodyApi['lend']>(async () => ({ outcome: 'none' })),
    settle: vi.fn<CustodyApi['settle']>(async () => RESUMED),
  } satisfies CustodyApi;
}

/** Whether a status keeps what StasisStatus promises beyond its common fields (checked on every event). */
function keepsItsShape(status: StasisStatus): boolean {
  switch (status.state) {
    case 'starting':
      return status.gen === undefined && !status.idle && status.paused === undefined;
    case 'live':
      return status.lastOutcome !== undefined && status.paused === undefined;
    case 'pending':
      return status.lastOutcome === 'unavailable' && typeof status.lastMessage === 'string';
    case 'hibernating':
    case 'hibernated':
    case 'resuming':
    case 'waiting':
      return true;
  }
}

/** Starts a client over `api`; `states` lists each state it enters, in order. */
function start(api: CustodyApi) {
  const errors = vi.spyOn(console, 'error');
  const client = new StasisClient({
    serviceWorker: false,
    loadPageCustody: async () => ({ openPageCustody: async () => ({ api, kind: 'page' as const }) }),
  });
  running.push({ client, errors });
  const states: StasisState[] = [];
  let from = client.status.state;
  for (const type of EVENT_TYPES) {
    client.addEventListener(type, ({ detail: { status } }) => void (keepsItsShape(status) || broken.push({ type, status })));
  }
  client.addEventListener('statuschange', (event) => {
    const to = event.detail.status.state;
    if (to === from) return; // a refresh (online/offline), not a change
    seen.add(`${from}>${to}`);
    states.push(to);
    from = to;
  });
  void client.start();
  return { client, states };
}

async function live(api = custody()) {
  api.resume.mockResolvedValueOnce(NOTHING);
  const started = start(api);
  await settle();
  expect(started.states).toEqual(['live']);
  started.states.length = 0;
  return { api, ...started };
}

async function hibernated(api = custody()) {
  const started = await live(api);
  setVisible(false);
  await settle();
  expect(started.states).toEqual(['hibernating', 'hibernated']);
  started.states.length = 0;
  return started;
}

function pushed(sid: string, reason: PushedBlob['reason']): PushedBlob {
  return { type: PUSH_MESSAGE, reason, sid, gen: 3, exp: 4_000_000_000, blob: 'h.k.iv.ct.tag' };
}

// ---- scenarios ----

describe('the client state table', () => {
  it('a new tab: live at once; hidden, it hibernates; shown, it resumes', async () => {
    const { states } = await hibernated();
    setVisible(true);
    await settle();
    expect(states).toEqual(['resuming', 'live']);
  });

  it('a reload with a blob kept resumes from starting', async () => {
    const api = custody();
    api.peek.mockResolvedValue({ sid: 'x', gen: 3, exp: 4_000_000_000, storedAt: 1, bytes: 120 } satisfies StoredBlobInfo);
    const { states } = start(api);
    await settle();
    expect(states).toEqual(['resuming', 'live']);
  });

  it('a worker that does not answer at start: waiting, then resumed when the network returns', async () => {
    const api = custody();
    api.resume.mockResolvedValueOnce(UNREACHABLE);
    const { states } = start(api);
    await settle();
    expect(states).toEqual(['waiting']);
    win.dispatchEvent(new Event('online'));
    await settle();
    expect(states).toEqual(['waiting', 'resuming', 'live']);
  });

  it('a hide while the first resume runs hibernates from starting', async () => {
    const api = custody();
    const first = deferred<ResumeResult>();
    api.resume.mockReturnValueOnce(first.promise);
    const { states } = start(api);
    await settle();
    setVisible(false);
    await settle();
    first.resolve(NOTHING); // answers a page that is away: ignored
    await settle();
    expect(states).toEqual(['hibernating', 'hibernated']);
  });

  it('a resume that keeps failing: resuming, then waiting', async () => {
    const { api, states } = await hibernated();
    api.resume.mockResolvedValueOnce(UNREACHABLE);
    setVisible(true);
    await settle();
    expect(states).toEqual(['resuming', 'waiting']);
  });

  it('a hibernate that stores nothing leaves the session live; a resume asked from there may wait', async () => {
    const { api, states } = await live();
    api.hibernate.mockResolvedValueOnce({ outcome: 'no-session', message: 'No such session.' });
    setVisible(false);
    await settle();
    expect(states).toEqual(['hibernating', 'live']);
    api.resume.mockResolvedValueOnce(UNREACHABLE);
    setVisible(true);
    await settle();
    expect(states).toEqual(['hibernating', 'live', 'waiting']);
  });

  it('a hide while offline is pending, and handed over when the network returns', async () => {
    const { api, states } = await live();
    api.hibernate.mockResolvedValueOnce({ ...UNREACHABLE, pending: true });
    setVisible(false);
    await settle();
    expect(states).toEqual(['hibernating', 'pending']);
    api.peek.mockResolvedValueOnce({ sid: 'x', gen: 3, exp: 4_000_000_000, storedAt: 1, bytes: 120 });
    win.dispatchEvent(new Event('online'));
    await settle();
    expect(states).toEqual(['hibernating', 'pending', 'hibernated']);
  });

  it.each([
    ['nothing was stored', NOTHING, 'live'],
    ['the worker does not answer', UNREACHABLE, 'waiting'],
  ] as const)('back before a pending hibernate was handed over (%s)', async (_, answer, after) => {
    const { api, states } = await live();
    api.hibernate.mockResolvedValueOnce({ ...UNREACHABLE, pending: true });
    setVisible(false);
    await settle();
    api.resume.mockResolvedValueOnce(answer);
    setVisible(true);
    await settle();
    expect(states).toEqual(['hibernating', 'pending', after]);
  });

  it('hidden again while the resume from pending runs: a new hibernate', async () => {
    const { api, states } = await live();
    api.hibernate.mockResolvedValueOnce({ ...UNREACHABLE, pending: true });
    setVisible(false);
    await settle();
    const resumed = deferred<ResumeResult>();
    api.resume.mockReturnValueOnce(resumed.promise);
    setVisible(true);
    await settle();
    setVisible(false);
    await settle();
    resumed.resolve(NOTHING);
    await settle();
    expect(states).toEqual(['hibernating', 'pending', 'hibernating', 'hibernated']);
  });

  it('back before the hibernate finished: resuming from hibernating', async () => {
    const { api, states } = await live();
    const kept = deferred<HibernateResult>();
    api.hibernate.mockReturnValueOnce(kept.promise);
    setVisible(false);
    await settle();
    setVisible(true);
    await settle();
    kept.resolve(KEPT);
    await settle();
    expect(states).toEqual(['hibernating', 'resuming', 'live']);
  });

  it('hidden and shown again while a resume runs: the hibernate, then a second resume', async () => {
    const { api, states } = await hibernated();
    const resumed = deferred<ResumeResult>();
    const kept = deferred<HibernateResult>();
    api.resume.mockReturnValueOnce(resumed.promise);
    api.hibernate.mockReturnValueOnce(kept.promise);
    setVisible(true);
    await settle();
    setVisible(false);
    await settle();
    setVisible(true);
    await settle();
    resumed.resolve(RESUMED);
    kept.resolve(KEPT);
    await settle();
    expect(states).toEqual(['resuming', 'hibernating', 'resuming', 'live']);
  });

  it('a blob pushed before a drain: hibernated, then resumed at once', async () => {
    const { client, states } = await live();
    expect(client.receive(pushed(client.sid, 'drain'))).toBe(true);
    await settle();
    expect(states).toEqual(['hibernated', 'resuming', 'live']);
    expect(client.status.paused).toBeUndefined();
  });

  it('a dropped channel with a checkpoint kept: recover resumes from it', async () => {
    const { api, client, states } = await live();
    api.peek.mockResolvedValueOnce({ sid: client.sid, gen: 3, exp: 4_000_000_000, storedAt: 1, bytes: 120 });
    await client.recover();
    expect(states).toEqual(['hibernated', 'resuming', 'live']);
  });

  it('adopt while starting', async () => {
    const api = custody();
    const first = deferred<ResumeResult>();
    api.resume.mockReturnValueOnce(first.promise);
    const { client, states } = start(api);
    const adopted = client.adopt('AAAAAAAAAAAAAAAAAAAAAA');
    await settle();
    first.resolve(NOTHING); // answers for the sid this tab gave up: ignored
    expect(await adopted).toBe(true);
    await settle();
    expect(states).toEqual(['hibernated', 'resuming', 'live']);
  });

  it('adopt while waiting', async () => {
    const api = custody();
    api.resume.mockResolvedValueOnce(UNREACHABLE);
    const { client, states } = start(api);
    await settle();
    expect(await client.adopt('AAAAAAAAAAAAAAAAAAAAAA')).toBe(true);
    expect(states).toEqual(['waiting', 'hibernated', 'resuming', 'live']);
  });

  it('adopt while resuming', async () => {
    const { api, client, states } = await hibernated();
    const resumed = deferred<ResumeResult>();
    api.resume.mockReturnValueOnce(resumed.promise);
    setVisible(true);
    await settle();
    const adopted = client.adopt('AAAAAAAAAAAAAAAAAAAAAA');
    await settle();
    resumed.resolve(RESUMED); // for the sid this tab gave up: ignored
    expect(await adopted).toBe(true);
    expect(states).toEqual(['resuming', 'hibernated', 'resuming', 'live']);
  });

  it('every change the table allows happens in some scenario above, and no other', () => {
    const table = Object.entries(STATE_TRANSITIONS).flatMap(([from, tos]) => tos.map((to) => `${from}>${to}`));
    expect([...seen].sort()).toEqual(table.sort());
  });

  it('a change outside the table is reported, not thrown, and still made', () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const client = new EventTarget() as EventTarget & { status: object };
    client.status = {};
    const s = { client, sid: 'x', state: 'hibernated' } as unknown as Session;
    setState(s, 'pending');
    expect(s.state).toBe('pending');
    expect(errors).toHaveBeenCalledWith('Stasis: illegal transition', 'hibernated', 'pending');
  });
});
