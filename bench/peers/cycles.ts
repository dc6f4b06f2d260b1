/**
 * Resume latency and server CPU per pause + resume cycle, every row in the same run, interleaved.
 *
 * Every row's server runs in its own process (server-process.ts); the clients run here, one session per row
 * and size, over loopback. A round cycles each row once, the starting row rotating from round to round, so
 * whatever the machine does meanwhile lands on every row alike. A cycle: pause (not timed), a short gap (the
 * tab stays hidden a moment, and the server has seen the connection go), then the resume, timed from the
 * call until the app's first message with the restored state (checked: its size, and gen one higher).
 *
 * CPU: each server process's own process.cpuUsage (user + system) before and after the timed rounds of a
 * size, divided by the rounds: everything the server did for the pause and the resume (HTTP, WebSocket,
 * sealing, Redis client, GC), none of the client's work. For HMAC + Redis, Redis's own CPU (INFO cpu) over the
 * same rounds is reported beside it; every other row leaves Redis idle.
 */
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { round, summarize, type Summary } from '../stats.js';
import { checkRestored, PEER_SIZES, type PeerClient, type PeerClients, type PeerRow } from './peer.js';
import type { ServerProcess } from './server-process.js';

export interface PeerCycleRow {
  row: string;
  size: string;
  bytes: number;
  /** Resume latency, ms: from the resume call to the app's first message. */
  resume: Summary;
  /** Server process CPU per pause + resume cycle, ms. */
  serverCpuMs: number;
  /** HMAC + Redis: Redis's CPU per cycle, ms (INFO cpu). */
  redisCpuMs?: number;
}

export interface CycleOptions {
  rounds: number;
  warmup: number;
  /** Between a pause and its resume, ms. */
  gapMs: number;
  redis?: Redis;
  /** Progress lines. */
  log?: (message: string) => void;
}

export async function measureCycles(rows: readonly PeerRow[], servers: readonly ServerProcess[], options: CycleOptions): Promise<PeerCycleRow[]> {
  const results: PeerCycleRow[] = [];
  for (const size of PEER_SIZES) {
    options.log?.(`peers: ${options.rounds} interleaved cycles per row at ${size.label}…`);
    const pools: PeerClients[] = rows.map((row, i) => row.clients(servers[i]!.base));
    const clients: PeerClient[] = pools.map((pool) => pool.create());
    try {
      for (const client of clients) await client.open(size.bytes);
      const gens = clients.map(() => 1);
      const cycle = async (i: number): Promise<number> => {
        const client = clients[i]!;
        await client.pause();
        await sleep(options.gapMs);
        const t0 = performance.now();
        const view = await client.resume();
        const ms = performance.now() - t0;
        checkRestored(rows[i]!.label, view, size.bytes, gens[i]!);
        gens[i]! += 1;
        return ms;
      };
      for (let w = 0; w < options.warmup; w++) for (let i = 0; i < rows.length; i++) await cycle(i);

      const samples: number[][] = rows.map(() => []);
      const redisUsesHmac = rows.some((row) => row.server === 'hmac-redis');
      const cpuBefore = await Promise.all(servers.map((server) => server.cpuMicros()));
      const redisBefore = options.redis && redisUsesHmac ? await redisCpuSeconds(options.redis) : undefined;
      for (let r = 0; r < options.rounds; r++) {
        for (let k = 0; k < rows.length; k++) {
          const i = (r + k) % rows.length;
          samples[i]!.push(await cycle(i));
        }
      }
      const cpuAfter = await Promise.all(servers.map((server) => server.cpuMicros()));
      const redisAfter = redisBefore !== undefined && options.redis ? await redisCpuSeconds(options.redis) : undefined;

      rows.forEach((row, i) => {
        const redisCpuMs =
          row.server === 'hmac-redis' && redisBefore !== undefined && redisAfter !== undefined
            ? round(((redisAfter - redisBefore) * 1000) / options.rounds)
            : undefined;
        results.push({
          row: row.id,
          size: size.label,
          bytes: size.bytes,
          resume: summarize(samples[i]!),
          serverCpuMs: round((cpuAfter[i]! - cpuBefore[i]!) / 1000 / options.rounds),
          ...(redisCpuMs !== undefined ? { redisCpuMs } : {}),
        });
      });
    } finally {
      for (const client of clients) client.close();
      for (const pool of pools) pool.close();
    }
  }
  return results;
}

/** Redis's CPU time so far (used_cpu_user + used_cpu_sys of INFO cpu), seconds. */
async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return field('used_cpu_user') + field('used_cpu_sys');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
