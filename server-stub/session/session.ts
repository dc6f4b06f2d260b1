import { CLOSE_REASONS } from '../../src/protocol/index.js';
import type { LedgerClaim } from '../ledger.js';
import { randomId } from '../random.js';
import type { Persisted, PersistOptions, StateRegistry } from './state-registry.js';

/** What the app sees of one session. */
export interface SessionContext {
  readonly sid: string;
  /** Generation: 1 for a new session, the blob's gen + 1 after a resume. Pass it to external side effects as a fencing token. */
  readonly gen: number;
  /** True when this session was restored from a blob. */
  readonly restored: boolean;
  /** Fires when the session hibernates, is superseded or ends: stop background work. */
  readonly signal: AbortSignal;
  /**
   * Component state: declares one persisted value under an explicit, stable key. On a resumed session
   * the restored value comes back here, before the app renders anything.
   */
  persist<T>(key: string, initial: T | (() => T), options?: PersistOptions<T>): Persisted<T>;
  /**
   * Service state: persists the chosen fields of a session-wide object. On resume they are assigned back
   * onto `target` before this returns; everything else on it is the object's to recompute.
   */
  persistFields<T extends object, K extends keyof T & string>(
    key: string,
    target: T,
    fields: readonly K[],
    options?: PersistOptions<Pick<T, K>>,
  ): T;
  /** Sends a JSON message to every live channel of the session. */
  send(message: unknown): void;
}

/** The app's handlers for one session, returned by the app factory. */
export interface AppHandlers {
  /** A JSON message from the page over the live channel. */
  onMessage?(message: unknown): void | Promise<void>;
  /** A live channel attached (first connect or reconnect): a good moment to send the current view. */
  onConnect?(): void;
}

/**
 * An app: called once per session (new or restored) before anything is rendered. It declares the persisted
 * values and returns the session's handlers, plus anything the app's own connection code wants to reach
 * (a bring-your-own connection hands the return value back as `app`).
 */
export type StasisApp<A = AppHandlers | void> = (session: SessionContext) => A;

/** A transport-neutral live channel (a WebSocket in the reference server). */
export interface LiveChannel {
  send(text: string): void;
  close(code: number, reason: string): void;
  /** Drops the channel without a close handshake (a simulated failover); default: close. */
  terminate?(): void;
  /** Settles when the channel has closed (for drain: everything sent before the close was flushed). */
  readonly whenClosed?: Promise<void>;
}

export type EndReason = 'hibernated' | 'superseded' | 'expired' | 'closed' | 'draining' | 'idle' | 'retained';

/** The handlers of a session whose app returned none. */
const NO_HANDLERS: AppHandlers = Object.freeze({});

export class Session implements SessionContext {
  readonly channels = new Set<LiveChannel>();
  /** Made when the app first reads `signal`: a session whose app never does costs no controller. */
  #abort: AbortController | undefined;
  #ended: EndReason | undefined;
  handlers: AppHandlers = NO_HANDLERS;
  /** What the app factory returned (the handlers, and whatever else it chose to expose). */
  app: unknown;
  /** Set while a hibernate is sealing this session; a second hibernate then finds nothing to do. */
  sealing = false;
  /** Set by the manager (with its clock) on every channel event; the idle policy reads it. */
  lastActivity = 0;
  /** Random id of this live object, sealed into its blobs: a checkpoint of it is never newer than it. */
  readonly incarnation = randomId(9);
  /**
   * Thumbprint of the binding key a verified proof showed for this session (its hibernate, or the resume it
   * came from): sealed into every blob of it, the ones the server pushes too.
   */
  kbt: string | undefined;
  /** Digest of the values of the last checkpoint pushed, so an unchanged session is not pushed again. */
  checkpointDigest: string | undefined;
  /** Failed attempts to move this session into the server store after its channel dropped. */
  retireAttempts = 0;
  /** Client address of a session started by a connection without a binding cookie (the per-address cap). */
  address: string | undefined;
  /** The ledger claim of the blob this session was restored from: settled when the session leaves. */
  restoredFrom: LedgerClaim | undefined;

  constructor(
    readonly sid: string,
    readonly gen: number,
    readonly restored: boolean,
    readonly state: StateRegistry,
    /** Hash of the browser's binding secret, when known: for the per-browser session cap. */
    readonly browser?: string,
  ) {}

  get signal(): AbortSignal {
    if (!this.#abort) {
      this.#abort = new AbortController();
      if (this.#ended !== undefined) this.#abort.abort(this.#ended);
    }
    return this.#abort.signal;
  }

  /** True once the session ended (what `signal.aborted` says, without making a signal for it). */
  get ended(): boolean {
    return this.#ended !== undefined;
  }

  persist<T>(key: string, initial: T | (() => T), options?: PersistOptions<T>): Persisted<T> {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- only marks where the stack trace starts; never called
    return this.state.define(key, initial, options, this.persist);
  }

  persistFields<T extends object, K extends keyof T & string>(
    key: string,
    target: T,
    fields: readonly K[],
    options?: PersistOptions<Pick<T, K>>,
  ): T {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- only marks where the stack trace starts; never called
    return this.state.defineFields(key, target, fields, options, this.persistFields);
  }

  send(message: unknown): void {
    this.sendText(JSON.stringify(message));
  }

  /** A message already in JSON text (a pushed blob, encoded with encodeWithBlob). */
  sendText(text: string): void {
    for (const channel of this.channels) channel.send(text);
  }

  /**
   * Ends the session: aborts app work and closes every channel with the reason's close code, or, with
   * `closeCode` undefined, only detaches them (their messages are ignored from now on).
   */
  end(reason: EndReason, closeCode: number | undefined): void {
    if (this.#ended !== undefined) return;
    this.#ended = reason;
    this.#abort?.abort(reason);
    if (closeCode !== undefined) for (const channel of this.channels) channel.close(closeCode, CLOSE_REASONS[reason]);
    this.channels.clear();
  }
}
