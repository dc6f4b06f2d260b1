import { randomBytes } from 'node:crypto';
import { generateKeySpec, parseKeyRing, type KeyRing } from '../../../server-stub/envelope/key-ring.js';
import { StasisConfigError, StasisError } from '../../../server-stub/errors.js';
import type { LiveChannel } from '../../../server-stub/session/session.js';
import type { FailureCode } from '../../../src/protocol/index.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StasisServer } from '../../../server-stub/index.js';
import { jsonCodec } from '../../../server-stub/codec/json-codec.js';
import { MemoryLedger } from '../../../server-stub/ledger.js';
import { silentLogger } from '../../../server-stub/logger.js';
import { SessionManager, type SessionManagerOptions } from '../../../server-stub/session/session-manager.js';

/** A fresh session id: 128 random bits, base64url (22 characters). */
export function newSid(): string {
  return randomBytes(16).toString('base64url');
}

/** A fresh binding secret of the shape the HTTP layer issues. */
export function newBinding(): string {
  return randomBytes(24).toString('base64url');
}

export interface TestKey {
  kid: string;
  spec: string;
  /** The raw 32 key bytes, for opening blobs with jose directly. */
  raw: Uint8Array;
}

export function newKey(kid: string): TestKey {
  const spec = generateKeySpec(kid);
  const secret = spec.slice(spec.indexOf(':') + 1);
  return { kid, spec, raw: new Uint8Array(Buffer.from(secret, 'base64url')) };
}

export function ringOf(...keys: TestKey[]): Promise<KeyRing> {
  return parseKeyRing(keys.map((k) => k.spec).join(','));
}

/** Runs fn and returns the StasisError it throws (or rejects with); fails when it throws anything else or nothing. */
export async function stasisError(fn: () => unknown): Promise<StasisError> {
  let result: unknown;
  try {
    result = await fn();
  } catch (error) {
    if (error instanceof StasisError) return error;
    throw new Error(`expected a StasisError, got ${String(error)}`, { cause: error });
  }
  throw new Error(`expected a StasisError, but it returned ${JSON.stringify(result, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`);
}

/** Asserts fn throws a StasisError with this code; returns it for further checks. */
export async function expectCode(fn: () => unknown, code: FailureCode): Promise<StasisError> {
  const error = await stasisError(fn);
  if (error.code !== code) throw new Error(`expected StasisError code "${code}", got "${error.code}": ${error.message}`);
  return error;
}

/** A live channel that records what it was sent and how it was closed. */
export class FakeChannel implements LiveChannel {
  readonly sent: unknown[] = [];
  closed: { code: number; reason: string } | undefined;
  send(text: string): void {
    this.sent.push(JSON.parse(text));
  }
  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }
}

/** Splits a JWE compact string into its five parts. */
export function parts(blob: string): [string, string, string, string, string] {
  const p = blob.split('.');
  if (p.length !== 5) throw new Error(`not five parts: ${p.length}`);
  return p as [string, string, string, string, string];
}

/** Replaces the middle character of a base64url part with another valid base64url character. */
export function flipMiddle(part: string): string {
  const i = Math.floor(part.length / 2);
  const c = part[i] === 'A' ? 'B' : 'A';
  return part.slice(0, i) + c + part.slice(i + 1);
}

export const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
export const unb64url = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;

/**
 * Serves a Stasis server on 127.0.0.1 (a free port) the way a host app mounts it: Stasis first, then
 * the host's own 404 for anything Stasis does not handle.
 */
export async function listenOnLoopback(stasis: StasisServer): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    stasis.handle(req, res).then(
      (handled) => {
        if (!handled) {
          res.writeHead(404, { 'Content-Type': 'text/plain' });
          res.end('host app');
        }
      },
      () => {
        res.writeHead(500);
        res.end();
      },
    );
  });
  stasis.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** A session manager with small test defaults; `overrides` for what a test is about. */
export async function managerWith(overrides: Partial<SessionManagerOptions> = {}): Promise<SessionManager> {
  return new SessionManager({
    ring: await ringOf(newKey('k1')),
    app: (session) => void session.persist('n', 1),
    audience: 'test',
    schema: '1',
    ttlSeconds: 3600,
    maxBlobBytes: 1 << 20,
    warnBlobBytes: 1 << 20,
    retentionMs: 60_000,
    ledger: new MemoryLedger(),
    codecs: (name) => (name === 'json' ? jsonCodec : undefined),
    defaultCodec: jsonCodec,
    logger: silentLogger,
    ...overrides,
  });
}

/** Runs fn and returns the StasisConfigError it throws; fails when it throws anything else or nothing. */
export function configError(fn: () => unknown): StasisConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof StasisConfigError) return error;
    throw new Error(`expected a StasisConfigError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected a StasisConfigError');
}
