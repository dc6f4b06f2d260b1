/**
 * Clients that go away mid-request (issue 10, "log flood"): a body cut short by a closed or reset connection
 * is one debug line and one count in stasis_aborted_requests_total{route}, never an error with a stack trace
 * and never a resume or hibernation outcome. Real node:http server and raw sockets on 127.0.0.1.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createStasisServer, generateKeySpec, type Logger, type StasisServer } from '../../../server-stub/index.js';
import { newSid } from './helpers.js';

interface Line {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
}

function capturingLogger(): Logger & { lines: Line[]; at(...levels: Line['level'][]): string[] } {
  const lines: Line[] = [];
  return {
    lines,
    at: (...levels) => lines.filter((l) => levels.includes(l.level)).map((l) => l.message),
    debug: (message) => void lines.push({ level: 'debug', message }),
    info: (message) => void lines.push({ level: 'info', message }),
    warn: (message) => void lines.push({ level: 'warn', message }),
    error: (message) => void lines.push({ level: 'error', message }),
  };
}

interface Running {
  stasis: StasisServer;
  server: Server;
  port: number;
  logger: ReturnType<typeof capturingLogger>;
  /** Requests whose handle() rejected (it must never). */
  rejected: unknown[];
  /** Called for every request once Stasis has started handling it (listeners attached, body not read yet). */
  onRequest?: (req: IncomingMessage) => void;
}

const running: Running[] = [];

afterEach(async () => {
  for (const r of running.splice(0)) {
    await r.stasis.close();
    r.server.closeAllConnections();
    await new Promise<void>((resolve) => r.server.close(() => resolve()));
  }
});

async function start(): Promise<Running> {
  const logger = capturingLogger();
  const stasis = await createStasisServer({
    app: (session) => void session.persist('n', 1),
    keys: generateKeySpec('aborted-1'),
    logger,
  });
  const r: Running = { stasis, server: undefined as unknown as Server, port: 0, logger, rejected: [] };
  r.server = createServer((req: IncomingMessage, res: ServerResponse) => {
    stasis.handle(req, res).then(
      (handled) => {
        if (!handled) res.writeHead(404).end();
      },
      (error) => r.rejected.push(error),
    );
    r.onRequest?.(req);
  });
  await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
  r.port = (r.server.address() as AddressInfo).port;
  running.push(r);
  return r;
}

async function metrics(r: Running): Promise<string> {
  return (await fetch(`http://127.0.0.1:${r.port}/stasis/metrics`)).text();
}

function counter(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Sends the head of a POST announcing `declared` body bytes and the first `body` bytes only, waits until the
 * server handles it, then goes away: `reset` sends an RST (ECONNRESET on the server), otherwise a FIN.
 */
function abortedPost(r: Running, path: string, waiting: Map<number, () => void>, reset: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(r.port, '127.0.0.1');
    socket.on('error', () => {}); // the socket is ours to break
    socket.once('connect', () => {
      waiting.set(socket.localPort!, () => {
        waiting.delete(socket.localPort!);
        if (reset) socket.resetAndDestroy();
        else socket.destroy();
      });
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${r.port}\r\nContent-Type: application/json\r\n` +
          `Content-Length: 4096\r\nConnection: keep-alive\r\n\r\n{"sid":"${newSid()}","blob":"eyJ`,
      );
    });
    socket.once('close', () => resolve());
    socket.setTimeout(5000, () => reject(new Error(`${path}: the server never saw the request`)));
  });
}

/** Runs `tasks` with at most `width` at a time. */
async function pool(tasks: Array<() => Promise<void>>, width: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < tasks.length) await tasks[next++]!();
    }),
  );
}

const STACK = /\n\s+at |\bat .+:\d+:\d+\)?$/m;

describe('aborted request bodies', () => {
  it('1,000 aborts: one debug line each, counted by route in stasis_aborted_requests_total, no errors, no unavailable outcome', async () => {
    const r = await start();
    const waiting = new Map<number, () => void>();
    r.onRequest = (req) => waiting.get(req.socket.remotePort!)?.();
    const tasks = Array.from({ length: 1000 }, (_, i) => () =>
      abortedPost(r, i % 2 === 0 ? '/stasis/resume' : '/stasis/hibernate', waiting, i % 4 < 2),
    );
    await pool(tasks, 50);
    await until(async () => {
      const text = await metrics(r);
      return counter(text, 'stasis_aborted_requests_total{route="resume"}') + counter(text, 'stasis_aborted_requests_total{route="hibernate"}') >= 1000;
    });
    const text = await metrics(r);
    expect(text).toContain('# TYPE stasis_aborted_requests_total counter');
    expect(text).toMatch(/# HELP stasis_aborted_requests_total .+/);
    expect(counter(text, 'stasis_aborted_requests_total{route="resume"}')).toBe(500);
    expect(counter(text, 'stasis_aborted_requests_total{route="hibernate"}')).toBe(500);
    expect(text).not.toMatch(/^stasis_resumes_total/m);
    expect(text).not.toMatch(/^stasis_hibernations_total/m);
    expect(text).toContain('stasis_bailout_storm 0');

    expect(r.logger.at('error', 'warn')).toEqual([]);
    const debug = r.logger.at('debug');
    const aborts = debug.filter((m) => /abort/i.test(m));
    expect(aborts).toHaveLength(1000);
    expect(debug.length).toBeLessThanOrEqual(1000);
    expect(aborts.filter((m) => m.startsWith('POST /stasis/resume'))).toHaveLength(500);
    expect(aborts.filter((m) => m.startsWith('POST /stasis/hibernate'))).toHaveLength(500);
    for (const line of r.logger.lines) expect(line.message).not.toMatch(STACK);
    expect(r.rejected).toEqual([]);

    // The server still answers.
    const health = await fetch(`http://127.0.0.1:${r.port}/stasis/health`);
    expect(health.status).toBe(200);
    const hibernate = await fetch(`http://127.0.0.1:${r.port}/stasis/hibernate`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ sid: newSid() }),
    });
    expect(hibernate.status).toBe(404);
    expect(await hibernate.json()).toMatchObject({ outcome: 'no-session' });
    expect(counter(await metrics(r), 'stasis_hibernations_total{reason="request",outcome="no-session"}')).toBe(1);
  });

  it('a failover request cut short is counted under route="failover"', async () => {
    const r = await start();
    const waiting = new Map<number, () => void>();
    r.onRequest = (req) => waiting.get(req.socket.remotePort!)?.();
    await pool(Array.from({ length: 10 }, (_, i) => () => abortedPost(r, '/stasis/debug/failover', waiting, i % 2 === 0)), 5);
    await until(async () => counter(await metrics(r), 'stasis_aborted_requests_total{route="failover"}') >= 10);
    expect(counter(await metrics(r), 'stasis_aborted_requests_total{route="failover"}')).toBe(10);
    expect(r.logger.at('error', 'warn')).toEqual([]);
    expect(r.logger.at('debug').filter((m) => /abort/i.test(m))).toHaveLength(10);
    expect(r.rejected).toEqual([]);
  });

  it('a client gone while its resume is in progress: no error, no stack trace, the outcome still counted', async () => {
    const r = await start();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inResume = new Promise<void>((resolve) => (entered = resolve));
    const resume = r.stasis.sessions.resume.bind(r.stasis.sessions);
    r.stasis.sessions.resume = async (...args: Parameters<typeof resume>) => {
      entered();
      await gate;
      return resume(...args);
    };
    const body = JSON.stringify({ sid: newSid(), blob: 'not.a.real.blob.x' });
    const socket = connect(r.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(
      `POST /stasis/resume HTTP/1.1\r\nHost: 127.0.0.1:${r.port}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\n\r\n${body}`,
    );
    await inResume;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.resetAndDestroy();
    await closed;
    await new Promise((resolve) => setTimeout(resolve, 50)); // the server sees the reset
    release();
    await until(async () => /^stasis_resumes_total\{/m.test(await metrics(r)));
    const text = await metrics(r);
    expect(counter(text, 'stasis_resumes_total{outcome="unavailable"}')).toBe(0);
    expect(counter(text, 'stasis_aborted_requests_total{route="resume"}')).toBe(0); // the body had arrived
    expect(r.logger.at('error', 'warn')).toEqual([]);
    expect(r.logger.at('debug').filter((m) => m.startsWith('POST /stasis/resume: client gone, answer not delivered'))).toHaveLength(1);
    for (const line of r.logger.lines) expect(line.message).not.toMatch(STACK);
    expect(r.rejected).toEqual([]);
    expect((await fetch(`http://127.0.0.1:${r.port}/stasis/health`)).status).toBe(200);
  });
});
