import { createServer, type Server, type Socket } from 'node:net';
import { connect } from 'node:net';

/**
 * A loopback TCP proxy in front of a server, whose "network" a test can cut and restore: while cut, open
 * connections are destroyed and new ones are refused at once (as a page sees an offline network), and the
 * server behind it keeps running, with its live sessions. For engines whose driver cannot emulate offline.
 */
export class CuttableProxy {
  readonly #sockets = new Set<Socket>();
  #cut = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<CuttableProxy> {
    const server = createServer((client) => {
      if (proxy.#cut) return client.destroy();
      const upstream = connect(targetPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        proxy.#sockets.add(socket);
        socket.on('close', () => proxy.#sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const proxy = new CuttableProxy(server, typeof address === 'object' && address ? address.port : 0);
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  cut(): void {
    this.#cut = true;
    for (const socket of this.#sockets) socket.destroy();
  }

  restore(): void {
    this.#cut = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
