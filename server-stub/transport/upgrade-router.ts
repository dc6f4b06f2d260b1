import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;

/** Any server that emits `upgrade`: node:http and node:https servers, `fastify.server`, … */
export type UpgradeServer = EventEmitter;

/** The Stasis handlers of each routed server (several Stasis servers may share one HTTP server). */
const routed = new WeakMap<UpgradeServer, Set<UpgradeHandler>>();

/**
 * Routes a server's WebSocket upgrades for Stasis's own path to `handle`, and leaves every other upgrade to
 * the server's other `upgrade` listeners, whether they were added before or after this call.
 *
 * Node calls every `upgrade` listener with the same socket, and some of them answer any path they do not
 * own with an error (a `ws` server created with `{ server, path }` aborts the handshake with 400). A plain
 * listener could not keep them off Stasis's sockets, so the server's `emit` is wrapped: an upgrade Stasis
 * takes is not emitted at all; any other goes on to the listeners untouched. When the server has no other
 * upgrade listener, the request is answered 404 as Node would have answered it without a WebSocket server.
 * Returns a function that undoes it.
 */
export function routeUpgrades(server: UpgradeServer, handle: UpgradeHandler): () => void {
  let handlers = routed.get(server);
  if (!handlers) {
    const own = (handlers = new Set());
    routed.set(server, own);
    // eslint-disable-next-line @typescript-eslint/unbound-method -- the original emit, applied with the server as `this` below
    const emit = server.emit;
    server.emit = function (this: UpgradeServer, event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'upgrade' && own.size) {
        const [req, socket, head] = args as [IncomingMessage, Duplex, Buffer];
        for (const take of own) if (take(req, socket, head)) return true;
        if (server.listenerCount('upgrade') <= 1) {
          socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
          return true;
        }
      }
      return emit.apply(this, [event, ...args] as Parameters<UpgradeServer['emit']>);
    } as UpgradeServer['emit'];
  }
  const own = handlers;
  own.add(handle);
  // Node emits `upgrade` only while the server has a listener; this one keeps it so and does nothing itself.
  if (!server.listeners('upgrade').includes(keepUpgradesOn)) server.on('upgrade', keepUpgradesOn);
  return () => {
    own.delete(handle);
    // The wrapper stays (another library may have wrapped emit after it); with no handler it only passes on.
    if (!own.size) server.off('upgrade', keepUpgradesOn);
  };
}

function keepUpgradesOn(): void {}
