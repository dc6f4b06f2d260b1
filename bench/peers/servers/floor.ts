/**
 * The floor: a plain WebSocket server (package ws) that keeps every session in a Map while its client is
 * away. A paused session costs exactly its state and the Map entry; a resume is one upgrade and a lookup.
 */
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { payloadOf, type BenchMessage, type BenchView } from '../../bench-app.js';
import { closeServer, listenLoopback, type PeerServer } from './peer-server.js';

interface Session {
  payload: string;
  gen: number;
  socket: WebSocket | undefined;
}

export async function startFloorServer(): Promise<PeerServer> {
  const sessions = new Map<string, Session>();
  const http = createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server: http, path: '/live' });
  wss.on('connection', (socket, req) => {
    const sid = new URL(req.url ?? '/', 'http://localhost').searchParams.get('sid');
    if (!sid) {
      socket.close(4004, 'no sid');
      return;
    }
    let session = sessions.get(sid);
    if (session) {
      session.socket?.terminate(); // a reconnect replaces a connection the server has not seen close yet
      session.gen += 1;
    } else {
      session = { payload: '', gen: 1, socket: undefined };
      sessions.set(sid, session);
    }
    const s = session;
    s.socket = socket;
    const view = () => socket.send(JSON.stringify({ type: 'state', bytes: s.payload.length, gen: s.gen } satisfies BenchView));
    socket.on('message', (data: Buffer) => {
      const m = JSON.parse(data.toString()) as Partial<BenchMessage>;
      if (m.type === 'fill' && typeof m.bytes === 'number') {
        s.payload = payloadOf(m.bytes);
        view();
      }
    });
    socket.on('close', () => {
      if (s.socket === socket) s.socket = undefined; // paused: the session stays in the Map
    });
    view();
  });
  const port = await listenLoopback(http);
  return {
    port,
    async counts() {
      let live = 0;
      for (const session of sessions.values()) if (session.socket) live++;
      return { live, paused: sessions.size - live };
    },
    async close() {
      for (const socket of wss.clients) socket.terminate();
      wss.close();
      await closeServer(http);
    },
  };
}
