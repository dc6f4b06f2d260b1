/** What the server process (server-process.ts) needs of each peer's server, and the loopback listener they share. */
import { once } from 'node:events';
import type { Server } from 'node:http';

export interface ServerCounts {
  /** Sessions with a connection. */
  live: number;
  /** Sessions kept for a resume (by this process, or in its Redis). */
  paused: number;
  /** Where `paused` stops counting, if it does (Stasis's index of blobs handed out forgets the oldest past it). */
  pausedCap?: number;
}

export interface PeerServer {
  readonly port: number;
  counts(): Promise<ServerCounts>;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1, a free port; resolves with the port. */
export async function listenLoopback(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the bench server has no TCP address');
  return address.port;
}

/** Closes the listener and every connection still open. */
export async function closeServer(server: Server): Promise<void> {
  const closed = once(server, 'close');
  server.close();
  server.closeAllConnections();
  await closed;
}
