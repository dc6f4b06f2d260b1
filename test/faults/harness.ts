/**
 * The fleet of test/e2e/support/fleet.ts (redis-server + two reference servers + nginx round-robin, all on
 * 127.0.0.1) plus what the fault test does to it: SIGSTOP/SIGCONT Redis, SIGKILL and restart it, FLUSHALL, and
 * SIGKILL and restart an instance. RedisServer does not expose its pid, so Redis is asked for it (INFO) and the
 * answer is only trusted when /proc says that process is our own child. Teardown is idempotent and checks that
 * nothing was left behind: no child process of ours, no port still accepting.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { Redis } from 'ioredis';
import { Fleet } from '../e2e/support/fleet.js';
import type { ServerProcess } from '../e2e/support/server-process.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export { seededRandom as random } from '../support/seeded-random.js';

interface ChildInfo {
  pid: number;
  command: string;
}

/** Live processes whose parent is this process (Linux /proc), with their command line. */
export function ownChildren(): ChildInfo[] {
  const children: ChildInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name in parentheses may contain spaces: the fields after the last ')' are fixed.
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) !== process.pid || state === 'Z') continue;
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      children.push({ pid: Number(entry), command });
    } catch {
      // the process ended while we looked
    }
  }
  return children;
}

/** Whether something still accepts connections on 127.0.0.1:`port`. */
function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Runs `operation`, giving up after `ms` (a teardown step must never hang the test run). */
async function bounded(ms: number, operation: Promise<unknown>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([operation.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

export interface Teardown {
  /** What every process printed (instances, nginx's error log, redis), read just before they stopped. */
  logs: string;
  /** Child processes still there after the fleet stopped (killed now, but reported). */
  orphans: string[];
  /** Ports of the fleet still accepting connections after teardown. */
  openPorts: number[];
}

export class FaultHarness {
  /** Asked ahead of time, so a SIGSTOP lands when the timeline says, not after a round trip to Redis. */
  #redisPid: number | undefined;
  #stoppedRedisPid: number | undefined;
  #teardown: Promise<Teardown> | undefined;
  readonly #ports: number[];

  private constructor(readonly fleet: Fleet) {
    this.#ports = [fleet.redis.port, fleet.nginx.port, ...fleet.instances.map((instance) => instance.port)];
  }

  static async start(env: Record<string, string>): Promise<FaultHarness> {
    try {
      const harness = new FaultHarness(await Fleet.start(env));
      harness.#redisPid = await harness.#askRedisPid().catch(async (error: unknown) => {
        await harness.stop();
        throw error;
      });
      return harness;
    } catch (error) {
      // Fleet.start leaves what it had started when a later step fails; RedisServer and Nginx clean up on
      // exit, a ServerProcess does not: end our own server children here.
      for (const child of ownChildren()) if (child.command.includes('dist/server/cli.js')) process.kill(child.pid, 'SIGKILL');
      throw error;
    }
  }

  /** True once teardown began: the fault steps and the clients stop (a timed-out test keeps running). */
  get stopped(): boolean {
    return this.#teardown !== undefined;
  }

  /** Never start anything after teardown: it would outlive the test. */
  #live(): void {
    if (this.stopped) throw new Error('the fleet was torn down');
  }

  get keys(): string {
    return this.fleet.instances[0].keys;
  }

  /** The redis-server pid, from Redis itself, checked to be our own child (never signal a stranger). */
  async #askRedisPid(): Promise<number> {
    const client = new Redis(this.fleet.redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2_000, retryStrategy: () => null });
    try {
      await client.connect();
      const info = await client.info('server');
      const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
      if (!ownChildren().some((child) => child.pid === pid)) throw new Error(`redis pid ${pid} is not a child of this process`);
      return pid;
    } finally {
      client.disconnect();
    }
  }

  redisStop(): string {
    this.#live();
    const pid = this.#redisPid;
    if (pid === undefined || !ownChildren().some((child) => child.pid === pid)) throw new Error(`redis pid ${pid} is not a child of this process`);
    process.kill(pid, 'SIGSTOP');
    this.#stoppedRedisPid = pid;
    return `pid ${pid}`;
  }

  redisContinue(): string {
    const pid = this.#stoppedRedisPid;
    if (pid === undefined) throw new Error('redis is not stopped');
    process.kill(pid, 'SIGCONT');
    this.#stoppedRedisPid = undefined;
    return `pid ${pid}`;
  }

  /** A crash: SIGKILL. The data (no persistence) goes with it. */
  async redisKill(): Promise<string> {
    this.#redisPid = undefined;
    await this.fleet.redis.kill();
    return `port ${this.fleet.redis.port}`;
  }

  /** A fresh, empty redis-server on the same port. */
  async redisRestart(): Promise<string> {
    this.#live();
    await this.fleet.redis.restart();
    this.#redisPid = await this.#askRedisPid();
    return `port ${this.fleet.redis.port}, pid ${this.#redisPid}`;
  }

  async redisFlushAll(): Promise<string> {
    const client = new Redis(this.fleet.redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2_000, retryStrategy: () => null });
    try {
      await client.connect();
      const keys = await client.dbsize();
      await client.flushall();
      return `${keys} keys`;
    } finally {
      client.disconnect();
    }
  }

  instance(index: 0 | 1): ServerProcess {
    return this.fleet.instances[index];
  }

  /** SIGKILL (ServerProcess.stop): no drain, its live sessions die with it. */
  async instanceKill(index: 0 | 1): Promise<string> {
    await this.instance(index).stop();
    return `instance ${'AB'[index]} (port ${this.instance(index).port})`;
  }

  async instanceRestart(index: 0 | 1): Promise<string> {
    this.#live();
    await this.instance(index).restart();
    return `instance ${'AB'[index]} (port ${this.instance(index).port})`;
  }

  /** Stops everything once (later calls get the first result), whatever state the faults left it in. */
  stop(): Promise<Teardown> {
    this.#teardown ??= this.#stop();
    return this.#teardown;
  }

  async #stop(): Promise<Teardown> {
    // A stopped redis-server would sit on its SIGTERM until the 3 s SIGKILL fallback: wake it first.
    if (this.#stoppedRedisPid !== undefined) {
      try {
        process.kill(this.#stoppedRedisPid, 'SIGCONT');
      } catch {
        // already gone
      }
      this.#stoppedRedisPid = undefined;
    }
    // nginx keeps its error log in its temp dir, which stop() removes: read everything first.
    const logs = [
      this.fleet.output,
      `--- nginx (port ${this.fleet.nginx.port}) ---\n${this.fleet.nginx.output}`,
      `--- redis (port ${this.fleet.redis.port}) ---\n${this.fleet.redis.output}`,
    ].join('\n');
    await bounded(20_000, this.fleet.stop());
    await sleep(200);
    // Only what this harness starts: the runner may have children of its own.
    const orphans = ownChildren().filter((child) => /redis-server|redis-check-rdb|nginx|dist\/server\/cli\.js/.test(child.command));
    for (const child of orphans) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    const openPorts: number[] = [];
    for (const port of this.#ports) if (await accepting(port)) openPorts.push(port);
    return { logs, orphans: orphans.map((child) => `${child.pid} ${child.command}`), openPorts };
  }
}
