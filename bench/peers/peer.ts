/**
 * What every row of the peer benchmark is: a server kind (run in a child process of its own, see
 * server-process.ts) and a client that does what a tab would: open a session and fill its state, pause (the
 * connection goes away; the state is kept somewhere), resume (until the app's first message shows the state
 * back). Every server runs the same app as bench/bench-app.ts: one text value of the chosen size, filled by a
 * `{ type: 'fill', bytes }` message and confirmed by a small view `{ type: 'state', bytes, gen }`, which is
 * also the first message after every connect, so "first app message with the restored state" means the same
 * for every peer.
 */
import type { BenchView } from '../bench-app.js';

/** The servers a row can run. Several rows may run one kind, each in its own process (own CPU account). */
export type ServerKind = 'floor' | 'socket-io' | 'hmac-redis' | 'stasis';

/** One session as its tab holds it. */
export interface PeerClient {
  /** Connects a new session and fills its state with `bytes` of text; resolves once the app confirmed it. */
  open(bytes: number): Promise<void>;
  /** The connection goes away; resolves once the client holds whatever it needs to resume (token, blob). */
  pause(): Promise<void>;
  /** Resumes; resolves with the app's first message after it, the view of the restored state. */
  resume(): Promise<BenchView>;
  /** Drops whatever is still open (no close handshake). */
  close(): void;
}

/**
 * Makes the clients of one row against one server. `close()` drops what they share and keeps open (an HTTP
 * agent's idle connections); clients made before can still resume afterwards, on new connections.
 */
export interface PeerClients {
  create(): PeerClient;
  close(): void;
}

export interface PeerRow {
  /** Stable key in bench/results.json. */
  id: string;
  /** What the tables print. */
  label: string;
  server: ServerKind;
  /** Stasis rows: compared with every other row and judged by issue 14's goals. */
  subject: boolean;
  /** `base` is the server's `http://127.0.0.1:<port>`. */
  clients(base: string): PeerClients;
}

/** Issue 14 measures the peers at these state sizes. */
export const PEER_SIZES = [
  { label: '1 KB', bytes: 1024 },
  { label: '10 KB', bytes: 10 * 1024 },
  { label: '100 KB', bytes: 100 * 1024 },
] as const;

export type PeerSize = (typeof PEER_SIZES)[number];

/** Throws unless `view` is the state a resume of a session holding `bytes` at generation `gen` must show. */
export function checkRestored(row: string, view: BenchView, bytes: number, gen: number): void {
  if (view.type !== 'state' || view.bytes !== bytes || view.gen !== gen + 1) {
    throw new Error(`${row}: a resume showed ${JSON.stringify(view)}, not the restored state (${bytes} bytes, gen ${gen + 1})`);
  }
}
