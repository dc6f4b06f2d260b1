/**
 * Server memory per paused session: a fresh server process per row and size (`--expose-gc`), clients in this
 * process over loopback. Warm-up sessions are opened, filled and paused first (so lazily built code, caches
 * and parser pools are in the baseline); then GC and read the server's heap (baseline); then `sessions` more
 * are opened, filled and paused, at most `concurrency` at a time; once the server counts them all paused
 * and none live, GC and read again. Per session = (reading − baseline) / sessions. A few of the measured
 * sessions are resumed afterwards and must show their state, so what was counted was resumable.
 *
 * Paused means: Stasis hibernated (the client holds the blob), Socket.IO disconnected within its recovery
 * window, the floor's Map entry, HMAC + Redis stored in Redis (its heap share is near zero; Redis's own
 * used_memory per session is read from INFO memory beside it).
 *
 * Stasis keeps an index of the blobs it handed out (sid → gen, exp; for metrics and health reports only) of at
 * most HIBERNATED_INDEX_MAX (10,000) entries, forgetting the oldest: with the warm-up sessions before the
 * baseline, the 10,000 measured ones push the oldest warm-up entries out, so its reading is low by
 * warm-up / sessions of one entry (256 / 10,000 in `npm run bench`; bench/memory.ts has the same).
 */
import type { Redis } from 'ioredis';
import { round } from '../stats.js';
import { checkRestored, type PeerClient, type PeerClients, type PeerRow, type PeerSize } from './peer.js';
import { ServerProcess } from './server-process.js';

export interface PeerMemoryRow {
  row: string;
  size: string;
  bytes: number;
  sessions: number;
  heapBytesPerSession: number;
  rssBytesPerSession: number;
  /** HMAC + Redis: Redis's used_memory per session (not in the server's heap). */
  redisBytesPerSession?: number;
  /** Measured sessions resumed after the reading; each showed its state. */
  verified: number;
}

export interface MemoryOptions {
  sessions: number;
  warmup: number;
  concurrency: number;
  verify: number;
  redisPort?: number;
  /** A connection to that Redis, to empty it first and read INFO memory. */
  redis?: Redis;
}

/** Lets the server see the clients' connections close before its heap is read. */
const QUIET_MS = 100;

export async function measurePausedMemory(row: PeerRow, size: PeerSize, options: MemoryOptions): Promise<PeerMemoryRow> {
  const usesRedis = row.server === 'hmac-redis';
  if (usesRedis) await options.redis?.flushall();
  const server = await ServerProcess.start(row.server, options.redisPort ? { redisPort: options.redisPort } : {});
  try {
    const warm = row.clients(server.base);
    await openAndPause(warm, size.bytes, options.warmup, options.concurrency, 0);
    warm.close();
    await server.waitForCounts((c) => c.live === 0 && c.paused >= Math.min(options.warmup, c.pausedCap ?? Infinity), 'every warm-up session paused');
    await sleep(QUIET_MS);
    const before = await server.heap();
    const redisBefore = usesRedis && options.redis ? await usedMemory(options.redis) : undefined;

    const measured = row.clients(server.base);
    const kept = await openAndPause(measured, size.bytes, options.sessions, options.concurrency, options.verify);
    measured.close(); // idle keep-alive connections are not per-session memory (the kept clients can still resume)
    const total = options.warmup + options.sessions;
    await server.waitForCounts((c) => c.live === 0 && c.paused >= Math.min(total, c.pausedCap ?? Infinity), `all ${total} sessions paused`);
    await sleep(QUIET_MS);
    const after = await server.heap();
    const redisAfter = redisBefore !== undefined && options.redis ? await usedMemory(options.redis) : undefined;

    for (const client of kept) {
      checkRestored(row.label, await client.resume(), size.bytes, 1);
      client.close();
    }
    measured.close();
    const per = (delta: number) => round(delta / options.sessions, 1);
    return {
      row: row.id,
      size: size.label,
      bytes: size.bytes,
      sessions: options.sessions,
      heapBytesPerSession: per(after.heapUsed - before.heapUsed),
      rssBytesPerSession: per(after.rss - before.rss),
      ...(redisBefore !== undefined && redisAfter !== undefined ? { redisBytesPerSession: per(redisAfter - redisBefore) } : {}),
      verified: kept.length,
    };
  } finally {
    await server.stop();
  }
}

/**
 * Opens, fills and pauses `count` sessions, `concurrency` at a time; returns the first `keep` clients (paused,
 * ready to resume) and drops the others: what a client holds (blob, token, pid) is not the server's memory.
 */
async function openAndPause(clients: PeerClients, bytes: number, count: number, concurrency: number, keep: number): Promise<PeerClient[]> {
  const kept: PeerClient[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const client = clients.create();
      await client.open(bytes);
      await client.pause();
      if (i < keep) kept.push(client);
      else client.close();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return kept;
}

/** Redis's `used_memory` (INFO memory), bytes. */
async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  const match = /^used_memory:(\d+)/m.exec(info);
  if (!match) throw new Error('INFO memory has no used_memory');
  return Number(match[1]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
