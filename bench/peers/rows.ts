/**
 * The rows of the peer benchmark, in table order. Each row runs its own server process. A second Stasis row
 * (the one-round-trip resume) is one more entry here: `server: 'stasis'`, `subject: true`, and
 * `clients: (base) => stasisClients(base, itsResume)`.
 */
import { floorClients } from './clients/floor.js';
import { hmacRedisClients } from './clients/hmac-redis.js';
import { socketIoClients } from './clients/socket-io.js';
import { stasisClients } from './clients/stasis.js';
import type { PeerRow } from './peer.js';

export const FLOOR_ID = 'floor';
export const SOCKET_IO_ID = 'socket-io';
export const HMAC_REDIS_ID = 'hmac-redis';

export const PEER_ROWS: readonly PeerRow[] = [
  { id: FLOOR_ID, label: 'floor', server: 'floor', subject: false, clients: floorClients },
  { id: SOCKET_IO_ID, label: 'Socket.IO CSR', server: 'socket-io', subject: false, clients: socketIoClients },
  { id: HMAC_REDIS_ID, label: 'HMAC + Redis', server: 'hmac-redis', subject: false, clients: hmacRedisClients },
  { id: 'stasis', label: 'Stasis', server: 'stasis', subject: true, clients: (base) => stasisClients(base) },
];
