/**
 * Socket.IO 4 with connection-state recovery, what a Node user picks to survive a dropped connection. The
 * state lives in `socket.data`; when a client's transport drops, Socket.IO keeps the session (id, rooms, data)
 * in the adapter's memory for `maxDisconnectionDuration`, plus every packet emitted meanwhile (with recovery
 * on, each `socket.emit` is stored for the window so a reconnect can replay what it missed). A reconnect that
 * brings the session's pid and last offset gets `socket.data` back (`socket.recovered`).
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { payloadOf, type BenchView } from '../../bench-app.js';
import type { ClientToServer, ServerToClient } from '../clients/socket-io.js';
import { closeServer, listenLoopback, type PeerServer } from './peer-server.js';

interface SocketData {
  payload: string;
  gen: number;
}

/** Long enough that no paused session of a bench run expires (the default is 2 minutes). */
const RECOVERY_WINDOW_MS = 30 * 60_000;

export async function startSocketIoServer(): Promise<PeerServer> {
  const http = createServer();
  const io = new Server<ClientToServer, ServerToClient, Record<string, never>, SocketData>(http, {
    serveClient: false,
    connectionStateRecovery: { maxDisconnectionDuration: RECOVERY_WINDOW_MS, skipMiddlewares: true },
  });
  io.on('connection', (socket) => {
    if (socket.recovered) socket.data.gen += 1;
    else socket.data = { payload: '', gen: 1 };
    const view = () => socket.emit('view', { type: 'state', bytes: socket.data.payload.length, gen: socket.data.gen } satisfies BenchView);
    socket.on('fill', (message) => {
      if (message?.type === 'fill' && typeof message.bytes === 'number') {
        socket.data.payload = payloadOf(message.bytes);
        view();
      }
    });
    view();
  });
  const port = await listenLoopback(http);
  // The in-memory adapter's map of kept sessions (not in its public types). A recovered session's entry stays
  // until it expires or the next disconnect replaces it, so `paused` counts those too.
  const kept = () => (io.of('/').adapter as unknown as { sessions: Map<string, unknown> }).sessions;
  return {
    port,
    async counts() {
      return { live: io.of('/').sockets.size, paused: kept().size };
    },
    async close() {
      await io.close(); // closes the HTTP server too
      if (http.listening) await closeServer(http);
    },
  };
}
