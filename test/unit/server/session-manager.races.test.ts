/**
 * Interleavings of hibernate and resume that need a seal held open, and a throwing app factory.
 * `seal` is wrapped so a test can hold one call until it releases it; otherwise it is the real seal.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as envelope from '../../../server-stub/envelope/envelope.js';
import { generateKeySpec, parseKeyRing } from '../../../server-stub/envelope/key-ring.js';
import type { StasisApp } from '../../../server-stub/session/session.js';
import type { SessionManager } from '../../../server-stub/session/session-manager.js';
import { CLOSE_CODES } from '../../../src/protocol/index.js';
import { FakeChannel, newBinding, newSid, stasisError, managerWith } from './helpers.js';

vi.mock('../../../server-stub/envelope/envelope.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../../server-stub/envelope/envelope.js')>();
  return { ...actual, seal: vi.fn(actual.seal) };
});

const realSeal = (await vi.importActual<typeof import('../../../server-stub/envelope/envelope.js')>('../../../server-stub/envelope/envelope.js')).seal;

/** Makes the next seal wait until `release()` is called. */
function holdNextSeal() {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  vi.mocked(envelope.seal).mockImplementationOnce(async (...args) => {
    await gate;
    return realSeal(...args);
  });
  return release;
}

const managers: SessionManager[] = [];
afterEach(() => {
  for (const m of managers.splice(0)) m.closeAll();
});

async function manager(app: StasisApp) {
  const m = await managerWith({ ring: await parseKeyRing(generateKeySpec('race')), app, audience: 'a' });
  managers.push(m);
  return m;
}

/** An app with one persisted counter; `made` lists each session's counter. */
function counterApp(options: { throwWhenRestored?: () => boolean } = {}) {
  const made: { gen: number; count: { get(): number; set(n: number): void } }[] = [];
  const app: StasisApp = (session) => {
    if (session.restored && options.throwWhenRestored?.()) throw new Error('app factory failed');
    made.push({ gen: session.gen, count: session.persist('count', 0) });
  };
  return { app, made };
}

describe('hibernate with the seal held open', () => {
  it('messages delivered while sealing are ignored (the sealed state is what the blob holds)', async () => {
    const { app, made } = counterApp();
    const m = await manager(app);
    const sid = newSid();
    const session = await m.connect(sid, new FakeChannel());
    made[0]!.count.set(1);
    const release = holdNextSeal();
    const pending = m.hibernate(sid, newBinding());
    // hibernate first asks the fleet whether the session is still ours (async), then starts sealing.
    await vi.waitFor(() => expect(session.sealing).toBe(true));
    expect(m.report(sid).state).toBe('live');
    const errors = await stasisError(() => m.hibernate(sid, newBinding()));
    expect(errors.code).toBe('no-session');
    release();
    expect((await pending).outcome).toBe('ok');
    expect(m.liveCount).toBe(0);
  });

  // A hibernate whose session was superseded while sealing must not remove the resumed session.
  it('a resume that supersedes a sealing session survives when the seal finishes', async () => {
    const { app, made } = counterApp();
    const m = await manager(app);
    const sid = newSid();
    const binding = newBinding();
    // An unconsumed blob B1 of this sid (gen 1, count 7).
    await m.connect(sid, new FakeChannel());
    made[0]!.count.set(7);
    const b1 = await m.hibernate(sid, binding);
    // The tab reconnects without resuming (fresh gen-1 session), then hibernates; the seal is held.
    const ch = new FakeChannel();
    await m.connect(sid, ch);
    const release = holdNextSeal();
    const pending = m.hibernate(sid, binding);
    // Meanwhile B1 is resumed: the sealing session is superseded.
    expect(await m.resume(sid, b1.blob, binding)).toMatchObject({ outcome: 'ok', gen: 2 });
    expect(ch.closed?.code).toBe(CLOSE_CODES.superseded);
    expect(m.report(sid)).toMatchObject({ state: 'live', gen: 2 });
    release();
    await pending.catch(() => undefined);
    // The resumed session must still be live.
    expect(m.report(sid)).toMatchObject({ state: 'live', gen: 2 });
  });
});

describe('an app factory that throws during resume', () => {
  it('the resume rejects with a non-protocol error and nothing is left live', async () => {
    let failing = true;
    const { app, made } = counterApp({ throwWhenRestored: () => failing });
    const m = await manager(app);
    const sid = newSid();
    const binding = newBinding();
    await m.connect(sid, new FakeChannel());
    made[0]!.count.set(3);
    const { blob } = await m.hibernate(sid, binding);
    await expect(m.resume(sid, blob, binding)).rejects.toThrow('app factory failed');
    expect(m.liveCount).toBe(0);
    failing = false;
    // The manager keeps working for other sessions.
    const other = newSid();
    await m.connect(other, new FakeChannel());
    expect(m.report(other)).toMatchObject({ state: 'live', gen: 1 });
  });

  it('the blob survives a failed restore: a retry restores it, and a live session of the sid is not superseded meanwhile', async () => {
    let failing = true;
    const { app, made } = counterApp({ throwWhenRestored: () => failing });
    const m = await manager(app);
    const sid = newSid();
    const binding = newBinding();
    await m.connect(sid, new FakeChannel());
    made[0]!.count.set(3);
    const { blob } = await m.hibernate(sid, binding);
    // The tab reconnected without resuming: a fresh live session under the same sid.
    const ch = new FakeChannel();
    await m.connect(sid, ch);
    await expect(m.resume(sid, blob, binding)).rejects.toThrow('app factory failed');
    expect(ch.closed).toBeUndefined();
    expect(m.report(sid)).toMatchObject({ state: 'live', gen: 1, channels: 1 });
    failing = false;
    expect(await m.resume(sid, blob, binding)).toMatchObject({ outcome: 'ok', gen: 2 });
    expect(ch.closed?.code).toBe(CLOSE_CODES.superseded);
    expect(made.at(-1)!.count.get()).toBe(3);
    expect(await stasisError(() => m.resume(sid, blob, binding))).toMatchObject({ code: 'replayed' });
  });
});

describe('replayed blobs never run the app', () => {
  it('a second resume of a consumed blob answers replayed without calling the app factory', async () => {
    const { app, made } = counterApp();
    const m = await manager(app);
    const sid = newSid();
    const binding = newBinding();
    await m.connect(sid, new FakeChannel());
    const { blob } = await m.hibernate(sid, binding);
    await m.resume(sid, blob, binding);
    const sessionsMade = made.length;
    expect(await stasisError(() => m.resume(sid, blob, binding))).toMatchObject({ code: 'replayed' });
    expect(made.length).toBe(sessionsMade);
  });
});
