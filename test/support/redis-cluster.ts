/**
 * A real Redis Cluster for tests: Debian's redis-server started N times in cluster mode on 127.0.0.1 (free
 * ports, a temp dir each, no persistence), joined with `redis-cli --cluster create` (masters only, every slot
 * assigned), and awaited until every node reports cluster_state:ok. Modelled on redis-server.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { awaitReady, freePort, sleep } from './service-process.js';

const REDIS_SERVER = process.env.REDIS_SERVER_PATH ?? '/usr/bin/redis-server';
const REDIS_CLI = process.env.REDIS_CLI_PATH ?? '/usr/bin/redis-cli';
const STOP_GRACE_MS = 3_000;
const JOIN_TIMEOUT_MS = 20_000;

/** Whether redis-server and redis-cli are there (scripts/ensure-services.sh installs them). */
export function redisClusterAvailable(): boolean {
  try {
    accessSync(REDIS_SERVER, constants.X_OK);
    accessSync(REDIS_CLI, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

type Reply = string | number | null | Error | Reply[];

/**
 * Sends one command over a raw socket and resolves with its reply (RESP2: simple strings, errors, integers,
 * bulk strings, arrays); rejects on a connection error or after `timeoutMs`.
 */
export function command(port: number, args: readonly string[], timeoutMs = 2_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let buffer = Buffer.alloc(0);
    const finish = (error: Error | undefined, reply?: Reply) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(reply!);
    };
    const timer = setTimeout(() => finish(new Error(`redis ${port}: no answer to ${args[0]} within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => {
      socket.write(`*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`);
    });
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const parsed = parseReply(buffer, 0);
      if (parsed) finish(undefined, parsed.reply);
    });
    socket.once('error', (error) => finish(error));
    socket.once('close', () => finish(new Error(`redis ${port}: connection closed before the answer to ${args[0]}`)));
  });
}

/** One RESP2 reply from `offset`, or undefined while it is incomplete. */
function parseReply(buffer: Buffer, offset: number): { reply: Reply; end: number } | undefined {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buffer[offset]!);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { reply: line, end: next };
    case '-':
      return { reply: new Error(line), end: next };
    case ':':
      return { reply: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { reply: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return { reply: buffer.toString('utf8', next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { reply: null, end: next };
      const items: Reply[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, at);
        if (!item) return undefined;
        items.push(item.reply);
        at = item.end;
      }
      return { reply: items, end: at };
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

/** `CLUSTER INFO` of one node as a map (cluster_state → ok, …); undefined when it does not answer. */
async function clusterInfo(port: number): Promise<Map<string, string> | undefined> {
  const reply = await command(port, ['CLUSTER', 'INFO'], 1_000).catch(() => undefined);
  if (typeof reply !== 'string') return undefined;
  return new Map(reply.split('\r\n').filter(Boolean).map((line) => line.split(':', 2) as [string, string]));
}

// Last resort if a test forgets stop(): don't leave redis-server processes behind when this process exits.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** One cluster node: a redis-server child process with its client port and cluster bus port. */
class Node {
  child: ChildProcess | undefined;
  output = '';
  readonly dir = mkdtempSync(join(tmpdir(), 'stasis-redis-cluster-'));

  constructor(
    readonly port: number,
    readonly busPort: number,
  ) {}

  get running(): boolean {
    const child = this.child;
    return !!child && child.exitCode === null && child.signalCode === null;
  }

  async spawn(extraArgs: readonly string[]): Promise<void> {
    const args = [
      '--port', String(this.port),
      // Explicit: the default (port + 10000) may be taken, or past 65535 for a high ephemeral port.
      '--cluster-port', String(this.busPort),
      '--cluster-enabled', 'yes',
      '--cluster-config-file', join(this.dir, 'nodes.conf'),
      '--cluster-node-timeout', '5000',
      '--bind', '127.0.0.1',
      '--save', '',
      '--appendonly', 'no',
      '--dir', this.dir,
      '--protected-mode', 'yes',
      '--daemonize', 'no',
      '--loglevel', 'warning',
      ...extraArgs,
    ];
    const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    live.add(child);
    child.once('exit', () => live.delete(child));
    const ping = async () => (await command(this.port, ['PING'], 1_000).catch(() => undefined)) === 'PONG';
    const reason = await awaitReady(child, REDIS_SERVER, (text) => (this.output += text), ping, `did not answer PING on port ${this.port}`);
    if (reason) throw new Error(`redis-server (cluster node ${this.port}) ${reason}:\n${this.output}`);
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child!.kill(signal);
  }

  /** SIGTERM (SIGKILL after 3 s), waits for the exit, removes the temp dir. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      child.kill('SIGCONT'); // a paused server would never see the SIGTERM
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `count` distinct free ports. */
async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

export interface RedisClusterOptions {
  /** Masters (no replicas). Default 3, the smallest cluster redis-cli creates. */
  masters?: number;
  /** Extra redis-server arguments for every node (e.g. `--rename-command SPUBLISH ""`). */
  serverArgs?: readonly string[];
}

/** A running Redis Cluster of masters on 127.0.0.1. */
export class RedisCluster {
  readonly #nodes: Node[];

  private constructor(nodes: Node[]) {
    this.#nodes = nodes;
  }

  static async start({ masters = 3, serverArgs = [] }: RedisClusterOptions = {}): Promise<RedisCluster> {
    // A port is free when picked but could be taken before redis binds it: retry a couple of times.
    for (let attempt = 1; ; attempt++) {
      const ports = await freePorts(masters * 2);
      const cluster = new RedisCluster(Array.from({ length: masters }, (_, i) => new Node(ports[i]!, ports[masters + i]!)));
      try {
        await Promise.all(cluster.#nodes.map((node) => node.spawn(serverArgs)));
        await cluster.#join();
        return cluster;
      } catch (error) {
        await cluster.stop();
        if (attempt >= 3 || !/address already in use/i.test(String(error))) throw error;
      }
    }
  }

  /** Client ports of the nodes. */
  get ports(): number[] {
    return this.#nodes.map((node) => node.port);
  }

  /** Seed node URLs (every node), as STASIS_REDIS_CLUSTER takes them. */
  get urls(): string[] {
    return this.ports.map((port) => `redis://127.0.0.1:${port}`);
  }

  get running(): boolean {
    return this.#nodes.every((node) => node.running);
  }

  /** Everything the nodes wrote to stdout/stderr. */
  get output(): string {
    return this.#nodes.map((node) => `--- node ${node.port}\n${node.output}`).join('\n');
  }

  /** SIGSTOP every node: a hang. Connections stay open and commands queue until `unpause()`. */
  pause(): void {
    for (const node of this.#nodes) node.signal('SIGSTOP');
  }

  /** SIGCONT every node: each runs its queued commands, in order. */
  unpause(): void {
    for (const node of this.#nodes) node.signal('SIGCONT');
  }

  /** Stops every node (SIGTERM, then SIGKILL after 3 s) and removes their temp dirs. */
  async stop(): Promise<void> {
    await Promise.all(this.#nodes.map((node) => node.stop()));
  }

  /** Sends a command to the node at `port` (for looking at one node: PUBSUB SHARDCHANNELS, DBSIZE, …). */
  command(port: number, args: readonly string[]): Promise<Reply> {
    return command(port, args);
  }

  /** The port of the master serving `key`'s slot (CLUSTER KEYSLOT, then CLUSTER SLOTS). */
  async masterOf(key: string): Promise<number> {
    const slot = await command(this.ports[0]!, ['CLUSTER', 'KEYSLOT', key]);
    const ranges = (await command(this.ports[0]!, ['CLUSTER', 'SLOTS'])) as Array<[number, number, [string, number, ...unknown[]]]>;
    const range = ranges.find(([from, to]) => typeof slot === 'number' && slot >= from && slot <= to);
    if (!range) throw new Error(`no master serves slot ${String(slot)}`);
    return range[2][1];
  }

  async #join(): Promise<void> {
    const cli = spawn(REDIS_CLI, ['--cluster', 'create', ...this.ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    cli.stdout.on('data', (chunk: Buffer) => (output += String(chunk)));
    cli.stderr.on('data', (chunk: Buffer) => (output += String(chunk)));
    const timer = setTimeout(() => cli.kill('SIGKILL'), JOIN_TIMEOUT_MS);
    const [code, signal] = (await once(cli, 'close')) as [number | null, NodeJS.Signals | null];
    clearTimeout(timer);
    if (code !== 0) throw new Error(`redis-cli --cluster create exited with ${signal ?? code}:\n${output}\n${this.output}`);
    // Every node must see the whole cluster (all slots served, every node known) before a client connects.
    const deadline = Date.now() + JOIN_TIMEOUT_MS;
    for (;;) {
      const infos = await Promise.all(this.ports.map(clusterInfo));
      const ok = infos.every(
        (info) => info?.get('cluster_state') === 'ok' && info.get('cluster_slots_ok') === '16384' && info.get('cluster_known_nodes') === String(this.#nodes.length),
      );
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`the cluster did not reach cluster_state:ok within ${JOIN_TIMEOUT_MS} ms:\n${output}`);
      await sleep(50);
    }
  }
}
