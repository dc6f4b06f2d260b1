/**
 * The fleet tests again, on a real three-master Redis Cluster (test/support/redis-cluster.ts) instead of one
 * redis-server: exactly once across two instances, handovers and takeovers, checkpoints, retention and the
 * Redis store, a resume across a Redis hang. The files are imported after switching the topology, so their
 * tests register here and share one cluster (each file has its own module state: the files themselves still
 * run on one redis-server). redis-outage.test.ts stays single-server only: it restarts its Redis empty,
 * which a cluster does not survive without being created again.
 */
import { useRedisTopology } from './two-instances.js';

useRedisTopology('cluster');

await import('./exactly-once.test.js');
await import('./handover.test.js');
await import('./checkpoints.test.js');
await import('./retention-store.test.js');
await import('./redis-hang.test.js');
