/**
 * The page side of live mode (src/client/live-channel.ts) against a scripted socket: what it sends, when it
 * settles with the custody, and when it falls back to the HTTP resume (the server did not answer on the socket).
 * The real path runs in Chromium, Firefox and WebKit (test/e2e/live-resume.spec.ts, test/engines/engine.spec.ts).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ensureSocket, resumeOnSocket } from '../../../src/client/live-channel.js';
import type { Session } from '../../../src/client/session.js';
import type { CustodyApi } from '../../../src/protocol/custody.js';
import { CLOSE_CODES, LIVE_RESUME_ANSWER, LIVE_RESUME_MESSAGE } from '../../../src/protocol/index.js';

const SID = 'A'.repeat(22);
const BLOB = 'eyJ0eXAiOiJzdGFzaXMrandlIn0..aXY.Y2lwaGVy.dGFn';

/** A WebSocket the test drives: `opened()`, `receive(data)`, `closedBy(code)`. */
class ScriptedSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  static last: ScriptedSocket | undefined;
  readonly url: string;
  readyState = ScriptedSocket.CONNECTING;
  sent: string[] = [];
  closedByPage = false;
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: (() => void) | null = null;
  constructor(url: URL | string) {
    this.url = String(url);
    ScriptedSocket.last = this;
  }
  send(text: string): void {
    this.sent.push(text);
  }
  close(): void {
    this.closedByPage = true;
    this.readyState = ScriptedSocket.CLOSED;
  }
  opened(): void {
    this.readyState = ScriptedSocket.OPEN;
    this.onopen?.();
  }
  receive(data: unknown): void {
    this.onmessage?.({ data: typeof data === 'string' ? data : JSON.stringify(data) });
  }
  closedBy(_code: number): void {
    this.readyState = ScriptedSocket.CLOSED;
    this.onclose?.();
  }
}

function custody(lent: Awaited<ReturnType<CustodyApi['lend']>> = { outcome: 'ok', blob: BLOB, gen: 3, exp: 2_000_000_000, proof: 'p.r.f' }) {
  return {
    lend: vi.fn<CustodyApi['lend']>(async () => lent),
    settle: vi.fn<CustodyApi['settle']>(async () => ({ outcome: 'ok', gen: 4 })),
    resume: vi.fn<CustodyApi['resume']>(async () => ({ outcome: 'ok', gen: 4 })),
  };
}

function session(): Session {
  return { endpoint: 'https://app.example/stasis', sid: SID, callTimeoutMs: 10_000 } as Session;
}

/** Lets the pending lend resolve and the socket be created. */
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

beforeEach(() => vi.stubGlobal('WebSocket', ScriptedSocket));
afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe('resumeOnSocket', () => {
  it('opens {endpoint}/live?sid=…&resume=1 (wss on https), sends the blob and proof first, and settles the answer at once', async () => {
    const s = session();
    const api = custody();
    const result = resumeOnSocket(s, api as unknown as CustodyApi);
    await tick();
    const socket = ScriptedSocket.last!;
    expect(new URL(socket.url)).toMatchObject({ protocol: 'wss:', pathname: '/stasis/live' });
    expect(new URL(socket.url).searchParams.get('sid')).toBe(SID);
    expect(new URL(socket.url).searchParams.get('resume')).toBe('1');
    socket.opened();
    expect(socket.sent.map((text) => JSON.parse(text) as unknown)).toEqual([{ type: LIVE_RESUME_MESSAGE, sid: SID, blob: BLOB, proof: 'p.r.f' }]);
    const answer = { type: LIVE_RESUME_ANSWER, outcome: 'ok', sid: SID, gen: 4, checkpoint: BLOB };
    socket.receive(answer);
    expect(await result).toEqual({ outcome: 'ok', gen: 4 });
    expect(api.settle).toHaveBeenCalledWith({ endpoint: s.endpoint, sid: SID, gen: 3, exp: 2_000_000_000, answer });
    expect(api.resume).not.toHaveBeenCalled();
    expect(s.socket).toBe(socket);
    expect(socket.closedByPage).toBe(false);
    // The app's messages after the answer are the app's: the SDK's handler is gone.
    expect(socket.onmessage).toBeNull();
  });

  it('a refusal is passed on (Retry-After too) and settled; no HTTP resume', async () => {
    const api = custody();
    const result = resumeOnSocket(session(), api as unknown as CustodyApi);
    await tick();
    const socket = ScriptedSocket.last!;
    socket.opened();
    socket.receive({ type: LIVE_RESUME_ANSWER, outcome: 'rate-limited', message: 'slow down', retryAfterSeconds: 5 });
    socket.closedBy(CLOSE_CODES.resumeRefused);
    expect(await result).toMatchObject({ outcome: 'rate-limited', retryAfterSeconds: 5 });
    expect(api.settle).toHaveBeenCalledTimes(1);
    expect(api.resume).not.toHaveBeenCalled();
  });

  it('no answer on the socket (closed first, or the app spoke first: a server without live resume) → the HTTP resume, nothing settled', async () => {
    for (const script of [
      (socket: ScriptedSocket) => socket.closedBy(1006),
      (socket: ScriptedSocket) => {
        socket.opened();
        socket.receive({ type: 'view', step: 1 });
      },
      (socket: ScriptedSocket) => {
        socket.opened();
        socket.receive('not json');
      },
      (socket: ScriptedSocket) => {
        socket.opened();
        socket.receive({ type: LIVE_RESUME_ANSWER, outcome: 'ok', sid: 'B'.repeat(22), gen: 9 }); // another session's
      },
    ]) {
      const api = custody();
      const result = resumeOnSocket(session(), api as unknown as CustodyApi);
      await tick();
      script(ScriptedSocket.last!);
      expect(await result).toEqual({ outcome: 'ok', gen: 4 });
      expect(api.resume).toHaveBeenCalledTimes(1);
      expect(api.settle).not.toHaveBeenCalled();
    }
  });

  it('no answer within callTimeoutMs → the socket is closed and the HTTP resume runs', async () => {
    vi.useFakeTimers();
    const api = custody();
    const result = resumeOnSocket(session(), api as unknown as CustodyApi);
    await vi.advanceTimersByTimeAsync(0);
    const socket = ScriptedSocket.last!;
    socket.opened();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await result).toEqual({ outcome: 'ok', gen: 4 });
    expect(socket.closedByPage).toBe(true);
    expect(api.resume).toHaveBeenCalledTimes(1);
  });

  it("nothing to lend ('none', 'expired'): no socket is opened", async () => {
    ScriptedSocket.last = undefined;
    const api = custody({ outcome: 'none' });
    expect(await resumeOnSocket(session(), api as unknown as CustodyApi)).toEqual({ outcome: 'none' });
    expect(ScriptedSocket.last).toBeUndefined();
  });
});

describe('ensureSocket', () => {
  it("keeps an open socket of the session's sid, replaces one of another sid or a closed one", () => {
    const s = session();
    ensureSocket(s);
    const first = ScriptedSocket.last!;
    expect(new URL(first.url).searchParams.get('resume')).toBeNull();
    ensureSocket(s);
    expect(ScriptedSocket.last).toBe(first);
    s.sid = 'C'.repeat(22);
    ensureSocket(s);
    expect(first.closedByPage).toBe(true);
    expect(new URL(ScriptedSocket.last!.url).searchParams.get('sid')).toBe('C'.repeat(22));
    ScriptedSocket.last!.closedBy(1006);
    const dropped = ScriptedSocket.last;
    ensureSocket(s);
    expect(ScriptedSocket.last).not.toBe(dropped);
  });
});
