import type { Codec } from '../codec/json-codec.js';
import type { KeyRing } from '../envelope/key-ring.js';
import { LocalFleet, type Fleet } from '../fleet/fleet.js';
import type { Ledger } from '../ledger.js';
import type { Logger } from '../logger.js';
import { Metrics } from '../metrics.js';
import type { StoreChain } from '../store/store-chain.js';
import { DeclarationSites } from './declaration-sites.js';
import { SessionSealer } from './session-sealer.js';
import type { StasisApp } from './session.js';
import type { CodecLookup } from './state-registry.js';

export interface SessionManagerOptions {
  ring: KeyRing;
  app: StasisApp<unknown>;
  audience: string;
  schema: string;
  ttlSeconds: number;
  maxBlobBytes: number;
  warnBlobBytes: number;
  retentionMs: number;
  /** Live sessions one browser (binding) may hold; new ones beyond it are refused. Default: no cap. */
  maxSessionsPerBrowser?: number;
  /** Sessions with no app event for this long are hibernated by the server (blob pushed). 0: never. */
  idleMs?: number;
  metrics?: Metrics;
  ledger: Ledger;
  /** Where a session whose channels all dropped goes after the retention window. None: it is dropped. */
  stores?: StoreChain;
  /** Other instances (a shared Redis): who holds which live session, and handovers. Default: this process alone. */
  fleet?: Fleet;
  /** Push a checkpoint blob to live pages at most this often, when their state changed. 0: off. */
  checkpointMs?: number;
  /**
   * How long a live connect whose lookup keeps failing (Redis unreachable or hung, the owner not answering) is
   * refused before it starts a fresh session. Default LOOKUP_PATIENCE_MS.
   */
  lookupPatienceMs?: number;
  /** Live sessions this instance holds at most (new and restored ones beyond are refused). Default: no cap. */
  maxLiveSessions?: number;
  /** Live sessions started without a binding cookie, per client address. Default: no cap. */
  maxSessionsPerAddress?: number;
  codecs: CodecLookup;
  defaultCodec: Codec;
  logger: Logger;
  now?: () => number;
}

/**
 * What every part of the session manager shares: the options, with the defaults filled in (clock, metrics,
 * fleet), and the sealer. Holds no session state; that is the live pool's.
 */
export class ManagerContext {
  readonly now: () => number;
  readonly metrics: Metrics;
  readonly fleet: Fleet;
  readonly sealer: SessionSealer;
  /** Where the app declares its persisted keys, captured once per key (for duplicate-key errors). */
  readonly sites = new DeclarationSites();

  constructor(readonly options: SessionManagerOptions) {
    this.now = options.now ?? Date.now;
    this.metrics = options.metrics ?? new Metrics();
    this.fleet = options.fleet ?? new LocalFleet();
    this.sealer = new SessionSealer({ ...options, now: this.now });
  }

  debug(sid: string, message: string): void {
    this.options.logger.debug?.(`session ${short(sid)}: ${message}`);
  }
}

/** The start of a sid, enough to tell sessions apart in a log line without writing the whole id. */
export function short(sid: string): string {
  return sid.slice(0, 6);
}
