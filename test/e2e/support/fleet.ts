import { Redis } from 'ioredis';
import { Nginx } from '../../support/nginx.js';
import { RedisServer } from '../../support/redis-server.js';
import { ServerProcess } from './server-process.js';

/**
 * A small fleet on loopback: a real redis-server, two reference-server processes sharing it and one key ring,
 * and nginx in front doing plain round-robin (no stickiness). Pages talk to nginx only.
 */
export class Fleet {
  private constructor(
    readonly redis: RedisServer,
    readonly instances: [ServerProcess, ServerProcess],
    readonly nginx: Nginx,
  ) {}

  static async start(env: Record<string, string> = {}): Promise<Fleet> {
    const redis = await RedisServer.start();
    const shared = { STASIS_REDIS_URL: redis.url, ...env };
    const a = await ServerProcess.start(shared);
    const b = await ServerProcess.start({ ...shared, STASIS_KEYS: a.keys });
    const nginx = await Nginx.start({ upstreams: [a.port, b.port] });
    return new Fleet(redis, [a, b], nginx);
  }

  get url(): string {
    return this.nginx.url;
  }

  /** The instance holding `sid` live, asked directly (not through nginx). */
  async holder(sid: string): Promise<ServerProcess | undefined> {
    for (const instance of this.instances) {
      const health = await instance.health(sid).catch(() => undefined);
      if (health?.session?.state === 'live') return instance;
    }
    return undefined;
  }

  /** The other instance. */
  other(instance: ServerProcess): ServerProcess {
    return this.instances[0] === instance ? this.instances[1] : this.instances[0];
  }

  /** A Redis client for looking at what the fleet keeps (close it when done). */
  client(): Redis {
    return new Redis(this.redis.url, { lazyConnect: false, maxRetriesPerRequest: 1 });
  }

  /** Everything each process printed, for failure reports. */
  get output(): string {
    return this.instances.map((instance, i) => `--- instance ${'AB'[i]} (port ${instance.port}) ---\n${instance.output}`).join('\n');
  }

  async stop(): Promise<void> {
    await this.nginx.stop();
    await Promise.all(this.instances.map((instance) => instance.stop()));
    await this.redis.stop();
  }
}
