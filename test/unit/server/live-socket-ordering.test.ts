/**
 * The built-in live channel holds the page's messages while the session is being looked up (fleet, stores,
 * ledger) and then hands them to the app. Delivery is one chain per socket, in arrival order: a message that
 * arrives while the held ones are being replayed waits its turn. More held messages than the channel keeps
 * close the socket with 4009 (`tooManyEarlyMessages`) instead of dropping some silently.
 */
import type { Server } from 'node:http';
import { WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { generateKeySpec } from '../../../server-stub/envelope/key-ring.js';
import { createStasisServer, type StasisServer } from '../../../server-stub/index.js';
import { MemoryLedger } from '../../../server-stub/ledger.js';
import { silentLogger } from '../../../server-stub/logger.js';
import { CLOSE_CODES } from '../../../src/protocol/index.js';
import { listenOnLoopback, newSid } from './helpers.js';

/** A ledger whose `fresh` (asked when a new session starts) waits until the test opens the gate. */
class GatedLedger extends MemoryLedger {
  #open!: () => void;
  readonly gate = new Promise<void>((resolve) => (this.#open = resolve));
  asked = 0;
  open(): void {
    this.#open();
  }
  override async fresh(sid: string): Promise<number> {
    this.asked++;
    await this.gate;
    return super.fresh(sid);
  }
}

interface Running {
  stasis: StasisServer;
  server: Server;
  host: string;
  ledger: GatedLedger;
  /** What the app's onMessage saw, in the order it was called, and in the order the handlers finished. */
  started: number[];
  finished: number[];
}

const running: Running[] = [];
const sockets: WebSocket[] = [];

/** `handlerMs`: each onMessage is async and takes this long (so a replay of held messages takes a while). */
async function start(handlerMs: number): Promise<Running> {
  const ledger = new GatedLedger();
  const started: number[] = [];
  const finished: number[] = [];
  const stasis = await createStasisServer({
    keys: generateKeySpec('order-1'),
    logger: silentLogger,
    ledger,
    app: () => ({
      onMessage: async (message: unknown) => {
        const n = (message as { n: number }).n;
        started.push(n);
        await new Promise((resolve) => setTimeout(resolve, handlerMs));
        finished.push(n);
      },
    }),
  });
  const { server, port } = await listenOnLoopback(stasis);
  const r = { stasis, server, host: `127.0.0.1:${port}`, ledger, started, finished };
  running.push(r);
  return r;
}

function open(r: Running): Promise<{ ws: WebSocket; closed: Promise<{ code: number; reason: string }> }> {
  const ws = new WebSocket(`ws://${r.host}/stasis/live?sid=${newSid()}`);
  sockets.push(ws);
  ws.on('error', () => {}); // surfaced through `closed`
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, closed }));
    ws.once('error', reject);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(5);
  }
}

afterEach(async () => {
  for (const ws of sockets.splice(0)) if (ws.readyState !== ws.CLOSED) ws.terminate();
  for (const r of running.splice(0)) {
    r.ledger.open();
    await r.stasis.close();
    r.server.closeAllConnections();
    await new Promise<void>((resolve) => r.server.close(() => resolve()));
  }
});

describe('live channel: message order while the session is being connected', () => {
  it('delivers held messages, then the ones that arrive during their replay, strictly in arrival order', async () => {
    const r = await start(10);
    const { ws } = await open(r);
    await until(() => r.ledger.asked > 0); // the connect is under way and waiting
    for (let n = 0; n < 10; n++) ws.send(JSON.stringify({ n }));
    await sleep(50); // the ten reach the server and are held
    expect(r.started).toEqual([]);
    r.ledger.open();
    // While the held ten are replayed (10 ms each), more arrive: they must not overtake.
    await sleep(15);
    for (let n = 10; n < 20; n++) ws.send(JSON.stringify({ n }));
    await until(() => r.finished.length === 20);
    const inOrder = Array.from({ length: 20 }, (_, n) => n);
    expect(r.started).toEqual(inOrder);
    expect(r.finished).toEqual(inOrder);
    expect(ws.readyState).toBe(ws.OPEN);
  });

  it('keeps arrival order for messages sent right after the upgrade, without waiting', async () => {
    const r = await start(1);
    const { ws } = await open(r);
    const N = 60;
    for (let n = 0; n < N; n++) ws.send(JSON.stringify({ n }));
    setTimeout(() => r.ledger.open(), 20);
    await sleep(25);
    for (let n = N; n < 2 * N; n++) ws.send(JSON.stringify({ n }));
    await until(() => r.finished.length === 2 * N);
    expect(r.started).toEqual(Array.from({ length: 2 * N }, (_, n) => n));
  });

  it('64 held messages are fine; the 65th closes the socket with tooManyEarlyMessages (4009)', async () => {
    expect(CLOSE_CODES.tooManyEarlyMessages).toBe(4009);
    const fine = await start(0);
    const a = await open(fine);
    await until(() => fine.ledger.asked > 0);
    for (let n = 0; n < 64; n++) a.ws.send(JSON.stringify({ n }));
    await sleep(50);
    fine.ledger.open();
    await until(() => fine.finished.length === 64);
    expect(fine.started).toEqual(Array.from({ length: 64 }, (_, n) => n));
    expect(a.ws.readyState).toBe(a.ws.OPEN);

    const r = await start(0);
    const b = await open(r);
    await until(() => r.ledger.asked > 0);
    for (let n = 0; n < 65; n++) b.ws.send(JSON.stringify({ n }));
    expect(await b.closed).toStrictEqual({ code: CLOSE_CODES.tooManyEarlyMessages, reason: 'stasis:too-many-early-messages' });
    // The connect that was under way completes and lets go of the socket; none of the messages reach the app.
    r.ledger.open();
    await sleep(50);
    expect(r.started).toEqual([]);
  });

  it('many more early messages than that still close once with the same code', async () => {
    const r = await start(0);
    const { ws, closed } = await open(r);
    for (let n = 0; n < 500; n++) ws.send(JSON.stringify({ n }));
    expect((await closed).code).toBe(CLOSE_CODES.tooManyEarlyMessages);
    r.ledger.open();
    await sleep(50);
    expect(r.started).toEqual([]);
  });
});
