/**
 * The peers of issue 14 in `npm run bench`: Stasis against a plain WebSocket reconnect to a session kept in
 * memory (the floor), Socket.IO 4 connection-state recovery and an HMAC-token + Redis store, at 1, 10 and
 * 100 KB of state, in one run: server heap per paused session (memory.ts), then resume latency and server CPU
 * per pause + resume cycle, interleaved (cycles.ts). Everything on 127.0.0.1; the Redis is a redis-server of
 * our own on a free port, without persistence, stopped at the end.
 */
import { Redis } from 'ioredis';
import { RedisServer, redisAvailable } from '../../test/support/redis-server.js';
import { round } from '../stats.js';
import { measureCycles, type PeerCycleRow } from './cycles.js';
import { measurePausedMemory, type PeerMemoryRow } from './memory.js';
import { PEER_SIZES, type PeerRow } from './peer.js';
import { HMAC_REDIS_ID, PEER_ROWS } from './rows.js';
import { ServerProcess } from './server-process.js';

export interface PeersOptions {
  /** Paused sessions per memory reading (issue 14: 10,000). */
  sessions: number;
  /** Timed cycles per row and size (issue 14: ≥ 200). */
  rounds: number;
  warmupRounds: number;
  warmupSessions: number;
  concurrency: number;
  gapMs: number;
  log?: (message: string) => void;
}

/** One subject row against one other row at one size: subject / other. */
export interface PeerRatio {
  subject: string;
  versus: string;
  size: string;
  resumeP50: number;
  resumeP95: number;
  /** Server CPU per cycle; against HMAC + Redis, Redis's CPU is added to its server's. */
  serverCpu: number;
  /** Heap per paused session; null where the other row keeps (next to) nothing on the heap. */
  heap: number | null;
}

export interface PeersResult {
  rows: Array<{ id: string; label: string; server: string; subject: boolean }>;
  /** Rows left out of this run, and why. */
  skipped: string[];
  sessions: number;
  rounds: number;
  gapMs: number;
  memory: PeerMemoryRow[];
  cycles: PeerCycleRow[];
  ratios: PeerRatio[];
  seconds: number;
}

/** Heap per paused session under this many bytes counts as "keeps nothing" for the heap ratio. */
const NOTHING_BYTES = 64;
/** Measured sessions resumed after each memory reading. */
const VERIFY_SESSIONS = 3;

export async function benchPeers(options: PeersOptions): Promise<PeersResult> {
  const begun = Date.now();
  const log = options.log ?? (() => {});
  const skipped: string[] = [];
  const redisServer = redisAvailable() ? await RedisServer.start() : undefined;
  if (!redisServer) skipped.push(`${HMAC_REDIS_ID}: no redis-server (scripts/ensure-services.sh installs it; REDIS_SERVER_PATH)`);
  const rows = PEER_ROWS.filter((row) => row.server !== 'hmac-redis' || redisServer);
  const redis = redisServer ? new Redis({ host: '127.0.0.1', port: redisServer.port, maxRetriesPerRequest: 1 }) : undefined;
  const redisPort = redisServer?.port;
  try {
    const memory: PeerMemoryRow[] = [];
    for (const size of PEER_SIZES) {
      for (const row of rows) {
        log(`peers: heap per paused session, ${row.label}, ${size.label}, ${options.sessions} sessions…`);
        memory.push(
          await measurePausedMemory(row, size, {
            sessions: options.sessions,
            warmup: options.warmupSessions,
            concurrency: options.concurrency,
            verify: Math.min(VERIFY_SESSIONS, options.sessions),
            ...(redisPort ? { redisPort } : {}),
            ...(redis ? { redis } : {}),
          }),
        );
      }
    }
    if (redis) await redis.flushall();

    const starting = rows.map((row) => ServerProcess.start(row.server, redisPort ? { redisPort } : {}));
    const started = await Promise.allSettled(starting);
    const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    let cycles: PeerCycleRow[];
    try {
      const failed = started.find((s) => s.status === 'rejected');
      if (failed) throw failed.reason;
      cycles = await measureCycles(rows, servers, {
        rounds: options.rounds,
        warmup: options.warmupRounds,
        gapMs: options.gapMs,
        log,
        ...(redis ? { redis } : {}),
      });
    } finally {
      await Promise.all(servers.map((server) => server.stop()));
    }

    return {
      rows: rows.map(({ id, label, server, subject }) => ({ id, label, server, subject })),
      skipped,
      sessions: options.sessions,
      rounds: options.rounds,
      gapMs: options.gapMs,
      memory,
      cycles,
      ratios: ratios(rows, memory, cycles),
      seconds: Math.round((Date.now() - begun) / 1000),
    };
  } finally {
    redis?.disconnect();
    await redisServer?.stop();
  }
}

function ratios(rows: readonly PeerRow[], memory: PeerMemoryRow[], cycles: PeerCycleRow[]): PeerRatio[] {
  const out: PeerRatio[] = [];
  const cycleOf = (row: string, size: string) => cycles.find((c) => c.row === row && c.size === size)!;
  const heapOf = (row: string, size: string) => memory.find((m) => m.row === row && m.size === size)!.heapBytesPerSession;
  for (const subject of rows.filter((row) => row.subject)) {
    for (const versus of rows.filter((row) => row.id !== subject.id)) {
      for (const size of PEER_SIZES) {
        const s = cycleOf(subject.id, size.label);
        const v = cycleOf(versus.id, size.label);
        const versusHeap = heapOf(versus.id, size.label);
        out.push({
          subject: subject.id,
          versus: versus.id,
          size: size.label,
          resumeP50: round(s.resume.p50 / v.resume.p50, 2),
          resumeP95: round(s.resume.p95 / v.resume.p95, 2),
          serverCpu: round((s.serverCpuMs + (s.redisCpuMs ?? 0)) / (v.serverCpuMs + (v.redisCpuMs ?? 0)), 2),
          heap: versusHeap >= NOTHING_BYTES ? round(heapOf(subject.id, size.label) / versusHeap, 3) : null,
        });
      }
    }
  }
  return out;
}
