/**
 * A Solara-style store (the design of seed 000): while a client is away its session lives in Redis, not in the
 * server. On pause the server serializes the state (JSON), writes it to Redis with a TTL, frees it, and gives
 * the client a token `sid.gen.exp.mac`, mac = HMAC-SHA256 over the rest with a server secret. On resume
 * (`/live?token=…`) it checks the mac (timing-safe) and the expiry, takes the state out of Redis (GETDEL: once),
 * parses it and sends the view.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { WebSocketServer, type WebSocket } from 'ws';
import { payloadOf, type BenchMessage, type BenchView } from '../../bench-app.js';
import type { PausedMessage } from '../clients/hmac-redis.js';
import { closeServer, listenLoopback, type PeerServer } from './peer-server.js';

interface Session {
  sid: string;
  payload: string;
  gen: number;
}

/** What Redis holds per paused session. */
interface Stored {
  v: 1;
  sid: string;
  gen: number;
  payload: string;
}

const TTL_SECONDS = 7 * 24 * 3600; // Stasis's default blob lifetime
const PREFIX = 'bench:hmac:';

export async function startHmacRedisServer(options: { redisPort: number }): Promise<PeerServer> {
  const redis = new Redis({ host: '127.0.0.1', port: options.redisPort, maxRetriesPerRequest: 1 });
  await redis.ping();
  const secret = randomBytes(32);
  const mac = (claims: string) => createHmac('sha256', secret).update(claims).digest();
  const sign = (s: Session, exp: number) => {
    const claims = `${s.sid}.${s.gen}.${exp}`;
    return `${claims}.${mac(claims).toString('base64url')}`;
  };
  /** The token's sid and gen when its mac and expiry hold. */
  const verify = (token: string): { sid: string; gen: number } | undefined => {
    const parts = token.split('.');
    if (parts.length !== 4) return undefined;
    const [sid, gen, exp, given] = parts as [string, string, string, string];
    const expected = mac(`${sid}.${gen}.${exp}`);
    const presented = Buffer.from(given, 'base64url');
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return undefined;
    if (Number(exp) <= Date.now() / 1000) return undefined;
    return { sid, gen: Number(gen) };
  };
  let live = 0;

  const http = createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server: http, path: '/live' });
  const serve = (socket: WebSocket, session: Session) => {
    live++;
    let paused = false;
    const view = () => socket.send(JSON.stringify({ type: 'state', bytes: session.payload.length, gen: session.gen } satisfies BenchView));
    socket.on('close', () => live--);
    socket.on('message', (data: Buffer) => {
      const m = JSON.parse(data.toString()) as Partial<BenchMessage> | { type: 'pause' };
      if (m.type === 'fill' && typeof m.bytes === 'number') {
        session.payload = payloadOf(m.bytes);
        view();
      } else if (m.type === 'pause' && !paused) {
        paused = true;
        const exp = Math.floor(Date.now() / 1000) + TTL_SECONDS;
        const stored: Stored = { v: 1, sid: session.sid, gen: session.gen, payload: session.payload };
        redis.set(PREFIX + session.sid, JSON.stringify(stored), 'EX', TTL_SECONDS).then(
          () => {
            socket.send(JSON.stringify({ type: 'paused', token: sign(session, exp) } satisfies PausedMessage));
            socket.close(4001, 'paused');
          },
          () => socket.close(1011, 'store failed'),
        );
      }
    });
    view();
  };
  wss.on('connection', (socket, req) => {
    const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
    const token = query.get('token');
    const sid = query.get('sid');
    if (sid) return serve(socket, { sid, payload: '', gen: 1 });
    const claims = token ? verify(token) : undefined;
    if (!claims) return socket.close(4003, 'bad token');
    // The client sends nothing before the view, so no message can arrive while Redis answers.
    redis.getdel(PREFIX + claims.sid).then(
      (text) => {
        const stored = text === null ? undefined : (JSON.parse(text) as Stored);
        if (!stored || stored.v !== 1 || stored.sid !== claims.sid || stored.gen !== claims.gen) return socket.close(4004, 'no session');
        serve(socket, { sid: stored.sid, payload: stored.payload, gen: stored.gen + 1 });
      },
      () => socket.close(1011, 'store failed'),
    );
  });
  const port = await listenLoopback(http);
  return {
    port,
    async counts() {
      return { live, paused: await redis.dbsize() };
    },
    async close() {
      for (const socket of wss.clients) socket.terminate();
      wss.close();
      await closeServer(http);
      redis.disconnect();
    },
  };
}
