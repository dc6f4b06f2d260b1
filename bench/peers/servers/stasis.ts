/**
 * Stasis: the real reference server (`createStasisServer`, server-stub/index.ts) with the bench app, mounted
 * on node:http as an app would (`handle` for the endpoints, `attach` for the live channel). A hibernated
 * session is freed; its client holds the blob.
 */
import { createServer } from 'node:http';
import app from '../../bench-app.js';
import { createStasisServer, generateKeySpec, silentLogger } from '../../../server-stub/index.js';
import { HIBERNATED_INDEX_MAX } from '../../../server-stub/session/live-pool.js';
import { closeServer, listenLoopback, type PeerServer } from './peer-server.js';

export async function startStasisServer(): Promise<PeerServer> {
  const stasis = await createStasisServer({
    app,
    keys: generateKeySpec('bench'),
    logger: silentLogger,
    assets: false,
    maxBlobBytes: 8 << 20,
    warnBlobBytes: 8 << 20,
    // Every bench client is a browser of its own, all from 127.0.0.1: the per-address cap on cookie-less
    // connects (256 live) would refuse the memory run's clients, as it would a large NAT's users.
    maxSessionsPerAddress: 1_000_000,
  });
  const http = createServer((req, res) => {
    stasis.handle(req, res).then(
      (handled) => {
        if (!handled) res.writeHead(404).end();
      },
      () => res.writeHead(500).end(),
    );
  });
  // The clients' keep-alive agent may reuse a connection just as node's 5 s idle timeout closes it (a POST then
  // fails with ECONNRESET; a browser would retry it). The bench's pauses between phases must not hit that race.
  http.keepAliveTimeout = 10 * 60_000;
  const detach = stasis.attach(http);
  const port = await listenLoopback(http);
  return {
    port,
    async counts() {
      // hibernatedCount is an index for metrics (the blobs are the clients'); past its cap it forgets the oldest.
      return { live: stasis.sessions.liveCount, paused: stasis.sessions.hibernatedCount, pausedCap: HIBERNATED_INDEX_MAX };
    },
    async close() {
      detach();
      await stasis.close();
      await closeServer(http);
    },
  };
}
