/**
 * Socket.IO 4's tab (socket.io-client over WebSocket only). Pausing drops the transport (the engine closes),
 * which the server sees as "transport close", a disconnect its connection-state recovery keeps the session
 * for; resuming is `socket.connect()` on the same Socket, which sends the session's pid and last offset in
 * its CONNECT packet. The server restores `socket.data` (the state) and the app sends its view.
 */
import { Manager, type Socket } from 'socket.io-client';
import type { BenchMessage, BenchView } from '../../bench-app.js';
import type { PeerClient, PeerClients } from '../peer.js';
import { Inbox } from './inbox.js';

/** The events of the bench app over Socket.IO. */
export interface ServerToClient {
  view: (view: BenchView) => void;
}
export interface ClientToServer {
  fill: (message: BenchMessage) => void;
}

const TIMEOUT_MS = 15_000;

export function socketIoClients(base: string): PeerClients {
  return { create: () => new SocketIoClient(base), close() {} };
}

class SocketIoClient implements PeerClient {
  readonly #manager: Manager<ServerToClient, ClientToServer>;
  readonly #socket: Socket<ServerToClient, ClientToServer>;
  readonly #views = new Inbox<BenchView>();

  constructor(base: string) {
    // One manager per tab: its own connection. No automatic reconnection: the bench decides when to resume.
    this.#manager = new Manager(base, { transports: ['websocket'], reconnection: false, autoConnect: false });
    this.#socket = this.#manager.socket('/');
    this.#socket.on('view', (view) => this.#views.push(view));
    this.#socket.on('connect_error', (error) => this.#views.end(() => error));
  }

  async open(bytes: number): Promise<void> {
    this.#socket.connect();
    await this.#nextView();
    this.#socket.emit('fill', { type: 'fill', bytes });
    const view = await this.#nextView();
    if (view.bytes !== bytes) throw new Error(`socket.io: filled ${view.bytes} bytes, not ${bytes}`);
  }

  async pause(): Promise<void> {
    const disconnected = new Promise<void>((resolve) => this.#socket.once('disconnect', () => resolve()));
    this.#manager.engine.close(); // the transport goes away under the Socket: a recoverable disconnect
    await disconnected;
  }

  async resume(): Promise<BenchView> {
    this.#socket.connect();
    const view = await this.#nextView();
    if (!this.#socket.recovered) throw new Error('socket.io: the connection state was not recovered');
    return view;
  }

  close(): void {
    this.#socket.disconnect();
  }

  #nextView(): Promise<BenchView> {
    return this.#views.next(TIMEOUT_MS, 'socket.io view');
  }
}
