import { randomBytes } from 'node:crypto';
import { StasisError } from '../errors.js';
import type { HibernateOk } from '../../src/protocol/index.js';
import type { Fleet, HandoverReply, HandoverRequest } from '../fleet/fleet.js';
import type { Logger } from '../logger.js';
import { connectRedis, isUnknownCommand, keyPrefix, type RedisClient, type RedisOptions } from './redis-client.js';

const DISOWN = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
// Re-owns a session only where no other instance is recorded: a copy that moved elsewhere must not come back.
const RECLAIM = `local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

export type RedisFleetOptions = RedisOptions & {
  /** How long an owner record lives, ms; it is set when a session goes live here and deleted when it leaves. */
  ownerTtlMs: number;
  /** How long to wait for the owning instance to hand a session over, ms. Default 3000. */
  handoverTimeoutMs?: number;
  logger?: Logger;
};

/** RECLAIM scripts in flight at once on a Redis Cluster, where they cannot share a pipeline. */
const CLUSTER_RECLAIM_CONCURRENCY = 64;

type Envelope =
  | { kind: 'request'; id: string; from: string; request: HandoverRequest }
  | { kind: 'reply'; id: string; reply: HandoverReply };

/**
 * The fleet over Redis: `owner:{sid}` names the instance holding a live session, and each instance listens
 * on its own pub/sub channel for handover requests. PUBLISH says how many subscribers got the message, so a
 * request to an instance that died (SIGKILL) is known to be undeliverable at once, without a timeout.
 *
 * On a Redis Cluster the channel is a sharded one (SSUBSCRIBE / SPUBLISH, Redis 7): it lives on the master of
 * its slot, where the listener subscribes and where every SPUBLISH to it goes, so SPUBLISH's count is every
 * listener there is. (A classic PUBLISH is broadcast over the cluster bus, and its count covers only the node
 * that took it: 0 would not mean "gone".) A cluster without sharded pub/sub (Redis 6) gets classic pub/sub,
 * where 0 receivers means "not known": the asker waits out the handover timeout instead.
 */
export class RedisFleet implements Fleet {
  readonly instanceId = randomBytes(9).toString('base64url');
  readonly shared = true;
  readonly #redis: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #prefix: string;
  readonly #cluster: boolean;
  /** Cluster only: whether sharded pub/sub works (undefined until the first SSUBSCRIBE or SPUBLISH says). */
  #sharded: boolean | undefined;
  #closed = false;
  readonly #pending = new Map<string, (reply: HandoverReply) => void>();
  #handler: ((request: HandoverRequest) => Promise<HandoverReply>) | undefined;
  #undelivered: ((reply: HibernateOk) => void) | undefined;
  readonly #ready: Promise<void>;

  readonly #owned: boolean;

  /** `client`: a command connection to share, of the same kind (`url` or `cluster`); the fleet still opens its own subscriber connection. */
  constructor(private readonly options: RedisFleetOptions & { client?: RedisClient }) {
    this.#prefix = keyPrefix(options.prefix);
    this.#cluster = !!options.cluster;
    this.#owned = !options.client;
    this.#redis = options.client ?? connectRedis(options, 'fleet');
    this.#subscriber = connectRedis(options, 'fleet-sub', { shardedSubscribers: this.#cluster });
    this.#subscriber.on('message', (_channel: string, text: string) => void this.#onMessage(text));
    this.#subscriber.on('smessage', (_channel: string, text: string) => void this.#onMessage(text));
    let subscribed!: () => void;
    const first = new Promise<void>((resolve) => (subscribed = resolve));
    let done = false;
    let retry: NodeJS.Timeout | undefined;
    const subscribe = () => {
      // A cluster client subscribes its channels again by itself after a reconnect (sharded ones per master).
      if (this.#closed || (this.#cluster && done)) return;
      clearTimeout(retry);
      void this.#subscribe().then(
        () => {
          done = true;
          subscribed();
        },
        (error: unknown) => {
          options.logger?.warn(`fleet: could not subscribe (${(error as Error).message}); trying again on the next reconnect`);
          // A cluster can refuse while its slot map settles, without a reconnect to try again on.
          if (this.#cluster && !this.#closed) retry = setTimeout(subscribe, 1000).unref();
        },
      );
    };
    // The subscriber subscribes on every (re)connect: a first attempt while Redis is down must not be the last.
    this.#subscriber.on('ready', subscribe);
    if (this.#subscriber.status === 'ready') subscribe();
    this.#ready = Promise.race([first, new Promise<void>((resolve) => setTimeout(resolve, 5000).unref())]);
  }

  /** Resolves once this instance listens for handover requests (or the first attempt failed). */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** Serving handover requests needs the subscriber connection; without it other instances find us gone. */
  get listening(): boolean {
    return this.#subscriber.status === 'ready';
  }

  async own(sid: string): Promise<void> {
    await this.#redis.set(this.#ownerKey(sid), this.instanceId, 'PX', this.options.ownerTtlMs);
  }

  #epoch: string | undefined;
  #directoryLostAt = 0;

  get directoryLostAt(): number {
    return this.#directoryLostAt;
  }

  async directoryLost(): Promise<boolean> {
    const key = `${this.#prefix}fleet:epoch`;
    let epoch = await this.#redis.get(key);
    if (epoch === null) {
      // The first instance to notice sets a new marker; the others see it differ from the one they knew.
      await this.#redis.set(key, randomBytes(9).toString('base64url'), 'NX');
      epoch = (await this.#redis.get(key)) ?? '';
    }
    const lost = this.#epoch !== undefined && epoch !== this.#epoch;
    this.#epoch = epoch;
    if (lost) this.#directoryLostAt = Date.now();
    return lost;
  }

  async reclaim(sids: readonly string[]): Promise<string[]> {
    if (this.#cluster) return this.#reclaimEach(sids);
    const moved: string[] = [];
    // One pipeline per batch: thousands of live sessions cost a few round trips, not one each.
    for (let i = 0; i < sids.length; i += 500) {
      const batch = sids.slice(i, i + 500);
      const pipeline = this.#redis.pipeline();
      for (const sid of batch) pipeline.eval(RECLAIM, 1, this.#ownerKey(sid), this.instanceId, this.options.ownerTtlMs);
      const results = (await pipeline.exec()) ?? [];
      results.forEach(([error, kept], j) => {
        if (error) throw error;
        if (kept === 0) moved.push(batch[j]!);
      });
    }
    return moved;
  }

  /**
   * On a Redis Cluster the owner records of many sids live on every master, and a pipeline must stay on one:
   * one EVAL per sid (each goes to its key's master), a bounded number in flight.
   */
  async #reclaimEach(sids: readonly string[]): Promise<string[]> {
    const kept = new Array<unknown>(sids.length);
    let next = 0;
    const worker = async () => {
      while (next < sids.length) {
        const i = next++;
        kept[i] = await this.#redis.eval(RECLAIM, 1, this.#ownerKey(sids[i]!), this.instanceId, this.options.ownerTtlMs);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CLUSTER_RECLAIM_CONCURRENCY, sids.length) }, worker));
    return sids.filter((_, i) => kept[i] === 0);
  }

  async disown(sid: string): Promise<void> {
    await this.#redis.eval(DISOWN, 1, this.#ownerKey(sid), this.instanceId);
  }

  async owner(sid: string): Promise<string | undefined> {
    return (await this.#redis.get(this.#ownerKey(sid))) ?? undefined;
  }

  async handover(owner: string, request: HandoverRequest): Promise<HandoverReply | undefined> {
    const id = randomBytes(9).toString('base64url');
    const timeoutMs = this.options.handoverTimeoutMs ?? 3000;
    let timer: NodeJS.Timeout | undefined;
    const answered = new Promise<HandoverReply>((resolve, reject) => {
      this.#pending.set(id, resolve);
      timer = setTimeout(
        () => reject(new StasisError('unavailable', `Instance ${owner} did not hand session over within ${timeoutMs} ms.`)),
        timeoutMs,
      );
    });
    answered.catch(() => undefined);
    try {
      const envelope: Envelope = { kind: 'request', id, from: this.instanceId, request };
      const receivers = await this.#publish(owner, JSON.stringify(envelope));
      if (receivers === 0) {
        // Nobody listens there: that instance is gone, and so is whatever it held in memory.
        await this.#redis.eval(DISOWN, 1, this.#ownerKey(request.sid), owner).catch(() => undefined);
        return undefined;
      }
      return await answered;
    } finally {
      clearTimeout(timer);
      this.#pending.delete(id);
    }
  }

  serve(handler: (request: HandoverRequest) => Promise<HandoverReply>, undelivered: (reply: HibernateOk) => void): void {
    this.#handler = handler;
    this.#undelivered = undelivered;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#subscriber.disconnect();
    if (this.#owned) this.#redis.disconnect();
  }

  async #onMessage(text: string): Promise<void> {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(text) as Envelope;
    } catch {
      return;
    }
    if (envelope.kind === 'reply') {
      const waiting = this.#pending.get(envelope.id);
      if (waiting) waiting(envelope.reply);
      else if (envelope.reply.outcome === 'ok') this.#undelivered?.(envelope.reply); // we gave up on it: keep it
      return;
    }
    if (envelope.kind !== 'request' || !this.#handler) return;
    let reply: HandoverReply;
    try {
      reply = await this.#handler(envelope.request);
    } catch (error) {
      reply = error instanceof StasisError ? { outcome: error.code, message: error.message } : { outcome: 'unavailable', message: 'Handover failed.' };
      if (!(error instanceof StasisError)) this.options.logger?.error(`fleet: handover failed: ${(error as Error)?.stack ?? String(error)}`);
    }
    const answer: Envelope = { kind: 'reply', id: envelope.id, reply };
    const delivered = await this.#publish(envelope.from, JSON.stringify(answer)).catch((error: unknown) => {
      this.options.logger?.warn(`fleet: could not answer a handover (${(error as Error).message}); keeping the session in the stores`);
      return 0;
    });
    // Not known to have arrived (0, or a count that says nothing): keep it, the ledger refuses a second restore.
    if (!delivered && reply.outcome === 'ok') this.#undelivered?.(reply);
  }

  /** Listens on this instance's channel: a sharded one on a Redis Cluster that has them, else a classic one. */
  async #subscribe(): Promise<void> {
    const channel = this.#channel(this.instanceId);
    if (this.#cluster && this.#sharded !== false) {
      try {
        await this.#subscriber.ssubscribe(channel);
        this.#sharded = true;
        return;
      } catch (error) {
        if (!isUnknownCommand(error)) throw error;
        this.#classicInCluster();
      }
    }
    await this.#subscriber.subscribe(channel);
  }

  /**
   * Sends on `instance`'s channel. Resolves with how many listeners got the message, or undefined when the
   * count says nothing: a classic PUBLISH in a cluster counts only the node that took it.
   */
  async #publish(instance: string, text: string): Promise<number | undefined> {
    const channel = this.#channel(instance);
    if (!this.#cluster) return this.#redis.publish(channel, text);
    if (this.#sharded !== false) {
      try {
        return Number(await this.#redis.spublish(channel, text));
      } catch (error) {
        if (!isUnknownCommand(error)) throw error;
        this.#classicInCluster();
      }
    }
    const receivers = await this.#redis.publish(channel, text);
    return receivers > 0 ? receivers : undefined;
  }

  #classicInCluster(): void {
    if (this.#sharded === false) return;
    this.#sharded = false;
    this.options.logger?.warn(
      'fleet: this Redis Cluster has no sharded pub/sub (SSUBSCRIBE/SPUBLISH, Redis 7); using classic pub/sub, so a handover to an instance that died waits out the handover timeout',
    );
  }

  #ownerKey(sid: string): string {
    return `${this.#prefix}owner:${sid}`;
  }

  // A single key each: a Redis Cluster keeps an owner record and a (sharded) channel on the master of its slot.
  #channel(instance: string): string {
    return `${this.#prefix}fleet:${instance}`;
  }
}
