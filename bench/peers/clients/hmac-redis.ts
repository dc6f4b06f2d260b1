/**
 * The HMAC + Redis peer's tab (a Solara-style store): a WebSocket to `/live?sid=…`. Pausing asks the server
 * to store the session (`{ type: 'pause' }`); it answers with an HMAC-signed token and closes. Resuming opens
 * `/live?token=…`; the server checks the token, loads the state from Redis and sends the view.
 */
import { randomBytes } from 'node:crypto';
import type { BenchView } from '../../bench-app.js';
import type { PeerClient, PeerClients } from '../peer.js';
import { JsonSocket } from './json-socket.js';

/** What the server answers a pause with, just before it closes the socket. */
export interface PausedMessage {
  type: 'paused';
  token: string;
}

export function hmacRedisClients(base: string): PeerClients {
  return { create: () => new HmacRedisClient(base), close() {} };
}

class HmacRedisClient implements PeerClient {
  readonly #live: string;
  #socket: JsonSocket | undefined;
  #token: string | undefined;

  constructor(base: string) {
    this.#live = `${base.replace(/^http/, 'ws')}/live`;
  }

  async open(bytes: number): Promise<void> {
    this.#socket = JsonSocket.open(`${this.#live}?sid=${randomBytes(16).toString('base64url')}`);
    await this.#socket.nextView();
    this.#socket.send({ type: 'fill', bytes });
    const view = await this.#socket.nextView();
    if (view.bytes !== bytes) throw new Error(`hmac-redis: filled ${view.bytes} bytes, not ${bytes}`);
  }

  async pause(): Promise<void> {
    const socket = this.#socket!;
    socket.send({ type: 'pause' });
    const answer = (await socket.next()) as Partial<PausedMessage>;
    if (answer.type !== 'paused' || typeof answer.token !== 'string') throw new Error(`hmac-redis: pause answered ${JSON.stringify(answer)}`);
    this.#token = answer.token;
    await socket.whenClosed();
    this.#socket = undefined;
  }

  resume(): Promise<BenchView> {
    this.#socket = JsonSocket.open(`${this.#live}?token=${this.#token}`);
    return this.#socket.nextView();
  }

  close(): void {
    this.#socket?.terminate();
    this.#socket = undefined;
  }
}
