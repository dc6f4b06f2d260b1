/**
 * The rows of the peer benchmark, in table order. Each row runs its own server process. Stasis has two: the
 * resume of a page whose app opens its own channel (`POST resume`, then the upgrade) and of a page in live mode
 * (the blob in the live channel's first message: one round trip).
 */
import { floorClients } from './clients/floor.js';
import { hmacRedisClients } from './clients/hmac-redis.js';
import { socketIoClients } from './clients/socket-io.js';
import { resumeStasisLive, stasisClients } from './clients/stasis.js';
import type { PeerRow } from './peer.js';

export const FLOOR_ID = 'floor';
export const SOCKET_IO_ID = 'socket-io';
export const HMAC_REDIS_ID = 'hmac-redis';

export const PEER_ROWS: readonly PeerRow[] = [
  { id: FLOOR_ID, label: 'floor', server: 'floor', subject: false, clients: floorClients },
  { id: SOCKET_IO_ID, label: 'Socket.IO CSR', server: 'socket-io', subject: false, clients: socketIoClients },
  { id: HMAC_REDIS_ID, label: 'HMAC + Redis', server: 'hmac-redis', subject: false, clients: hmacRedisClients },
  { id: 'stasis', label: 'Stasis (POST resume + upgrade)', server: 'stasis', subject: true, clients: (base) => stasisClients(base) },
  { id: 'stasis-live', label: 'Stasis live mode (1 round trip)', server: 'stasis', subject: true, clients: (base) => stasisClients(base, resumeStasisLive) },
];
