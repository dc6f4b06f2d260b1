// `stasis/redis`: the Redis-backed store and ledger, for apps that assemble them themselves (createStasisServer
// builds both from `redisUrl` / `redisCluster`). Its own entry, so the core's types never name ioredis, an
// optional peer dependency that apps without Redis do not install.
export { RedisStore } from './redis-store.js';
export { RedisLedger } from './redis-ledger.js';
export type { RedisClient, RedisOptions } from './redis-client.js';
