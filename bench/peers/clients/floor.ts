/**
 * The floor's tab: a plain WebSocket to `/live?sid=…`. Pausing closes it (the server keeps the session in
 * memory); resuming opens a new one with the same sid, and the app's first message shows the state.
 */
import { randomBytes } from 'node:crypto';
import type { BenchView } from '../../bench-app.js';
import type { PeerClient, PeerClients } from '../peer.js';
import { JsonSocket } from './json-socket.js';

export function floorClients(base: string): PeerClients {
  return { create: () => new FloorClient(base), close() {} };
}

class FloorClient implements PeerClient {
  readonly #url: string;
  #socket: JsonSocket | undefined;

  constructor(base: string) {
    this.#url = `${base.replace(/^http/, 'ws')}/live?sid=${randomBytes(16).toString('base64url')}`;
  }

  async open(bytes: number): Promise<void> {
    await this.#connect();
    this.#socket!.send({ type: 'fill', bytes });
    const view = await this.#socket!.nextView();
    if (view.bytes !== bytes) throw new Error(`floor: filled ${view.bytes} bytes, not ${bytes}`);
  }

  async pause(): Promise<void> {
    await this.#socket!.close();
    this.#socket = undefined;
  }

  resume(): Promise<BenchView> {
    return this.#connect();
  }

  close(): void {
    this.#socket?.terminate();
    this.#socket = undefined;
  }

  #connect(): Promise<BenchView> {
    this.#socket = JsonSocket.open(this.#url);
    return this.#socket.nextView();
  }
}
