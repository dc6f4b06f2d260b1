/** The shapes shared by the conformance runner, its requirement groups and its report. */
import type { Http } from './http.js';
import type { LiveClient } from './live.js';
import type { TestVectors } from './vectors.js';

export type Level = 'MUST' | 'SHOULD';
export type Status = 'PASS' | 'FAIL' | 'SKIP';

/** One requirement of the protocol the tool checks. `id` is stable: scripts and CI may match on it. */
export interface RequirementSpec {
  id: string;
  level: Level;
  /** What is checked, in one line (docs/conformance.md shows the same text). */
  title: string;
  /** The docs/protocol.md section that states the rule. */
  section: string;
}

export interface RequirementResult extends RequirementSpec {
  status: Status;
  /** What the tool saw: a status, an excerpt of the body, a close code; or why it was skipped. */
  saw: string;
}

export interface ConformanceOptions {
  /** The server's base URL, its mount point included: `http://127.0.0.1:8080/stasis`. */
  baseUrl: string;
  /** The server runs with the published test key ring, audience and schema of docs/vectors/keys.json. */
  testKeys?: boolean;
  /** Where keys.json and blobs.json are; default: the package's docs/vectors/. */
  vectorsDir?: string;
  /** Also drive the real page SDK in headless Chromium (puppeteer-core). */
  browser?: boolean;
  /** Only requirements whose id starts with one of these (the SETUP- checks always run). */
  only?: string[];
  /** Per request and per wait, ms. Default 5000. */
  timeoutMs?: number;
  /** How long "nothing happens" is watched for (no close frame, no answer), ms. Default 600. */
  quietMs?: number;
  /** The binding cookie's name. Default `stasis_bid`. */
  cookieName?: string;
  /** The server's `maxBlobBytes`. Default 5 MiB (the protocol's default). */
  maxBlobBytes?: number;
  /** Failing resumes sent at most while looking for `rate-limited`. Default 150. */
  rateLimitProbe?: number;
  /** Called with each result as soon as its group ended (the CLI prints them as they come). */
  onResult?: (result: RequirementResult) => void;
}

export interface ResolvedOptions {
  baseUrl: string;
  testKeys: boolean;
  vectorsDir: string | undefined;
  browser: boolean;
  only: string[];
  timeoutMs: number;
  quietMs: number;
  cookieName: string;
  maxBlobBytes: number;
  rateLimitProbe: number;
}

/** What the setup checks found out, for the groups after them. */
export interface Facts {
  /** The server answered HTTP at all (SETUP-REACHABLE); without it nothing else runs. */
  reachable: boolean;
  /** The live channel can be opened (the `ws` package is there and the server upgrades). */
  live?: LiveClient;
  /** Why it cannot. */
  liveProblem?: string;
  /** The server runs the conformance app (state message on connect, set answered). */
  app: boolean;
  /** The published test keys, vectors and the server's acceptance of them. */
  vectors?: TestVectors;
  vectorsProblem?: string;
  /** The server resumes on the live channel (LIVE-RESUME-OK passed; false: it failed; unset: not checked). */
  liveResume?: boolean;
  /** Resume answers carry a `checkpoint` (the server has checkpoints on). */
  checkpoints?: boolean;
}

export interface Context {
  readonly options: ResolvedOptions;
  /** The base URL without a trailing slash. */
  readonly base: string;
  readonly basePath: string;
  /** `scheme://host[:port]` of the base URL: what a same-origin page would send as Origin. */
  readonly origin: string;
  readonly http: Http;
  readonly facts: Facts;
  /** Records one observation for a requirement; any failed observation makes the requirement FAIL. */
  check(id: string, ok: boolean, saw: string): void;
  skip(id: string, why: string): void;
  /** A fresh random session id (22 base64url characters). */
  sid(): string;
  /** A fresh random binding cookie value (32 base64url characters). */
  cookie(): string;
  /** The server's clock, seconds since the epoch (its Date header; the local clock without one). */
  serverNow(): Promise<number>;
  /** Runs `fn` when the whole run ends (close sockets, browsers). */
  onCleanup(fn: () => unknown): void;
}

/** A group of requirements checked by one scenario against the server. */
export interface Group {
  name: string;
  requirements: RequirementSpec[];
  /** Setup groups always run, whatever `only` says. */
  setup?: boolean;
  run(ctx: Context): Promise<void>;
}
