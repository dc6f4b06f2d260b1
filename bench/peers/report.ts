/**
 * The peer benchmark as markdown (stdout and docs/performance.md) and as rows of issue 14's goals table.
 */
import type { PeersResult } from './index.js';
import { PEER_SIZES } from './peer.js';
import { FLOOR_ID, SOCKET_IO_ID } from './rows.js';

export interface PeerGoal {
  goal: string;
  measured: string;
  met: boolean;
}

/** Issue 14's goals, per subject row and size. */
const HEAP_GOAL_BYTES = 200;
const RESUME_VS_FLOOR = 1.2;
const RESUME_VS_SOCKET_IO = 1;
const cpuVsSocketIo = (bytes: number) => (bytes >= 100 * 1024 ? 1.5 : 1);

export function renderPeers(r: PeersResult): string {
  const label = (id: string) => r.rows.find((row) => row.id === id)?.label ?? id;
  const memoryOf = (id: string, size: string) => r.memory.find((m) => m.row === id && m.size === size)!;
  const cycleOf = (id: string, size: string) => r.cycles.find((c) => c.row === id && c.size === size)!;
  const header = `| | state | ${r.rows.map((row) => row.label).join(' | ')} |`;
  const rule = `| --- | --- | ${r.rows.map(() => '---').join(' | ')} |`;
  const line = (metric: string, cell: (id: string, size: string) => string) =>
    PEER_SIZES.map((size, i) => `| ${i === 0 ? metric : ''} | ${size.label} | ${r.rows.map((row) => cell(row.id, size.label)).join(' | ')} |`);
  const subjects = r.rows.filter((row) => row.subject);
  const lines = [
    `### Peers (issue 14): the same app on four servers, one run, loopback (${r.seconds} s)`,
    '',
    header,
    rule,
    ...line(`heap per paused session (${r.sessions} paused)`, (id, size) => {
      const m = memoryOf(id, size);
      return `${bytes(m.heapBytesPerSession)}${m.redisBytesPerSession !== undefined ? ` (+ ${bytes(m.redisBytesPerSession)} in Redis)` : ''}`;
    }),
    ...line(`resume p50 / p95, ms (${r.rounds} interleaved runs)`, (id, size) => {
      const c = cycleOf(id, size);
      return `${c.resume.p50} / ${c.resume.p95}`;
    }),
    ...line('server CPU per pause + resume, ms', (id, size) => {
      const c = cycleOf(id, size);
      return `${c.serverCpuMs}${c.redisCpuMs !== undefined ? ` (+ ${c.redisCpuMs} Redis)` : ''}`;
    }),
    '',
    ...subjects.flatMap((subject) => [
      `${subject.label} ÷ each peer, same run (server CPU against HMAC + Redis includes Redis's; heap "—" where the peer keeps nothing on its heap):`,
      '',
      '| versus | state | resume p50 | resume p95 | server CPU | heap per paused session |',
      '| --- | --- | --- | --- | --- | --- |',
      ...r.ratios
        .filter((x) => x.subject === subject.id)
        .map((x) => `| ${label(x.versus)} | ${x.size} | ${x.resumeP50}× | ${x.resumeP95}× | ${x.serverCpu}× | ${x.heap === null ? '—' : `${x.heap}×`} |`),
      '',
    ]),
    ...(r.skipped.length > 0 ? [`Left out of this run: ${r.skipped.join('; ')}.`, ''] : []),
  ];
  return lines.join('\n').trimEnd();
}

export function peerGoals(r: PeersResult): PeerGoal[] {
  const goals: PeerGoal[] = [];
  const memoryOf = (id: string, size: string) => r.memory.find((m) => m.row === id && m.size === size)!;
  const cycleOf = (id: string, size: string) => r.cycles.find((c) => c.row === id && c.size === size)!;
  const ratio = (subject: string, versus: string, size: string) => r.ratios.find((x) => x.subject === subject && x.versus === versus && x.size === size)!;
  for (const subject of r.rows.filter((row) => row.subject)) {
    for (const size of PEER_SIZES) {
      const heap = memoryOf(subject.id, size.label).heapBytesPerSession;
      goals.push({
        goal: `${subject.label}: ≤ ${HEAP_GOAL_BYTES} B heap per paused session, real HTTP path (${size.label})`,
        measured: `${bytes(heap)} (${r.sessions} hibernated)`,
        met: heap <= HEAP_GOAL_BYTES,
      });
    }
    for (const size of PEER_SIZES) {
      const floor = ratio(subject.id, FLOOR_ID, size.label).resumeP50;
      const socketIo = ratio(subject.id, SOCKET_IO_ID, size.label).resumeP50;
      goals.push({
        goal: `${subject.label}: resume p50 ≤ ${RESUME_VS_FLOOR}× floor and ≤ Socket.IO CSR (${size.label})`,
        measured: `${cycleOf(subject.id, size.label).resume.p50} ms: ${floor}× floor, ${socketIo}× Socket.IO`,
        met: floor <= RESUME_VS_FLOOR && socketIo <= RESUME_VS_SOCKET_IO,
      });
    }
    for (const size of PEER_SIZES) {
      const limit = cpuVsSocketIo(size.bytes);
      const x = ratio(subject.id, SOCKET_IO_ID, size.label).serverCpu;
      goals.push({
        goal: `${subject.label}: server CPU per pause + resume ≤ ${limit === 1 ? '' : `${limit}× `}Socket.IO CSR (${size.label})`,
        measured: `${cycleOf(subject.id, size.label).serverCpuMs} vs ${cycleOf(SOCKET_IO_ID, size.label).serverCpuMs} ms (${x}×)`,
        met: x <= limit,
      });
    }
  }
  return goals;
}

function bytes(n: number): string {
  return Math.abs(n) >= 10_000 ? `${(n / 1024).toFixed(1)} KB` : `${Math.round(n)} B`;
}
