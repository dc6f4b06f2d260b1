import type { Failure, HibernateOk } from '../../src/protocol/index.js';

/**
 * Several instances behind a load balancer with no stickiness: a tab's requests can land anywhere, but its
 * live session sits in one instance's memory. The fleet records which instance holds each live session and
 * lets another instance ask it to seal the session and hand the blob over.
 */
export interface HandoverRequest {
  sid: string;
  /**
   * `hibernate`: a page's hibernate landed on another instance; the blob goes back to that page.
   * `takeover`: the page reconnected or resumed on another instance, which restores the blob itself.
   * `probe`: only asks whether the session is live there (the reply's `kept`); nothing moves.
   */
  purpose: 'hibernate' | 'takeover' | 'probe';
  /** Binding hash of the requesting browser: sealed into a `hibernate` blob, checked for a `takeover`. */
  bid: string;
  /** `hibernate`: the thumbprint of the key a valid proof came with (sealed into the blob as `kbt`). */
  kbt?: string;
  keepChannels?: boolean;
  /**
   * `takeover` for a page resuming a blob of this generation: an owner whose live copy is older yields (drops
   * it) instead of handing it over, so the newest copy wins.
   */
  gen?: number;
  /** With `gen`: the incarnation sealed into that blob; equal to the owner's means a checkpoint of it. */
  incarnation?: string;
}

/** `kept`: the owner holds the session live and keeps it (its generation): a `probe`, or a newer copy than a blob. */
export type HandoverReply = HibernateOk | (Failure & { kept?: number });

export interface Fleet {
  /** This instance's id (random per process). */
  readonly instanceId: string;
  /** True when other instances may exist (a shared backend is configured). */
  readonly shared: boolean;
  /**
   * Records this instance as the holder of `sid`'s live session. Awaited before a resume or connect answers:
   * once the page hears `ok`, any instance its next request lands on must find the session. Throws when the
   * record could not be written.
   */
  own(sid: string): Promise<void>;
  /**
   * Writes the record again for each of `sids` that has none (Redis restarted empty, FLUSHALL, an expiry),
   * leaving records of other instances alone. Returns the sids another instance holds now: the copies here
   * are stale.
   */
  reclaim(sids: readonly string[]): Promise<string[]>;
  /**
   * True when the owner records were lost since this instance last looked (Redis restarted empty, FLUSHALL):
   * a marker every instance shares changed or vanished. Each instance sees a loss once; it then re-records
   * its sessions at once instead of at the next full sweep.
   */
  directoryLost(): Promise<boolean>;
  /** When this instance last found the owner records lost (ms, its clock); 0 if never. */
  readonly directoryLostAt: number;
  /** Forgets it, if this instance still holds it. Best effort. */
  disown(sid: string): Promise<void>;
  /** The instance holding `sid` live, if any is recorded. */
  owner(sid: string): Promise<string | undefined>;
  /** Asks `owner` to seal `sid` and hand the blob over; undefined when that instance is gone. */
  handover(owner: string, request: HandoverRequest): Promise<HandoverReply | undefined>;
  /**
   * Serves the handover requests addressed to this instance. `undelivered` gets a sealed session that never
   * reached the asker (the reply could not be sent, or came after the asker gave up): the session has left
   * its owner by then, so the caller keeps it in the stores rather than lose it.
   */
  serve(handler: (request: HandoverRequest) => Promise<HandoverReply>, undelivered: (reply: HibernateOk) => void): void;
  close(): Promise<void>;
}

/** One process on its own: every live session is here, so there is nobody to ask. */
export class LocalFleet implements Fleet {
  readonly instanceId = 'local';
  readonly shared = false;
  async own(): Promise<void> {}
  async reclaim(): Promise<string[]> {
    return [];
  }
  async directoryLost(): Promise<boolean> {
    return false;
  }
  readonly directoryLostAt = 0;
  async disown(): Promise<void> {}
  async owner(): Promise<string | undefined> {
    return undefined;
  }
  async handover(): Promise<HandoverReply | undefined> {
    return undefined;
  }
  serve(): void {}
  async close(): Promise<void> {}
}
