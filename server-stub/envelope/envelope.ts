import { CompactEncrypt, compactDecrypt, decodeProtectedHeader, errors as joseErrors } from 'jose';
import { BLOB_TYPE, PROTOCOL_VERSION, type BlobHeader } from '../../src/protocol/index.js';
import { StasisError } from '../errors.js';
import type { KeyRing } from './key-ring.js';

/** What a blob's plaintext carries. Everything is checked after the JWE authenticates, never before. */
export interface SealedSession {
  v: number;
  sid: string;
  gen: number;
  /** Unique blob id: the one-time ledger consumes it. */
  jti: string;
  /** Issued at / expires at, seconds since the epoch. */
  iat: number;
  exp: number;
  /** The app the blob belongs to. */
  aud: string;
  /** Hash of the per-browser binding secret (the cookie), base64url. */
  bid: string;
  /** The app's schema tag; a different tag on resume answers `schema-reset`. */
  schema: string;
  /** Encoded opted-in values by key (the state registry's format; the envelope does not look inside). */
  values: Record<string, unknown>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Seals a session into a JWE compact string (dir + A256GCM) under the ring's current key. */
export async function seal(session: SealedSession, ring: KeyRing): Promise<string> {
  const { kid, key } = ring.current;
  const header: BlobHeader = {
    alg: 'dir',
    enc: 'A256GCM',
    kid,
    typ: BLOB_TYPE,
    sid: session.sid,
    gen: session.gen,
    exp: session.exp,
  };
  return new CompactEncrypt(encoder.encode(JSON.stringify(session))).setProtectedHeader({ ...header }).encrypt(key);
}

/**
 * Opens a blob: structure, key lookup, authentication, then plaintext shape. Throws StasisError with
 * `malformed`, `unknown-key` or `tampered`; claim checks (expiry, audience, binding) are the caller's.
 */
export async function open(blob: string, ring: KeyRing): Promise<SealedSession> {
  const header = readHeader(blob);
  const entry = ring.find(header.kid);
  if (!entry) throw new StasisError('unknown-key', `The blob was sealed with key "${header.kid}", which this server does not hold.`);
  let plaintext: Uint8Array;
  let authenticated: Record<string, unknown>;
  try {
    const result = await compactDecrypt(blob, entry.key, {
      keyManagementAlgorithms: ['dir'],
      contentEncryptionAlgorithms: ['A256GCM'],
    });
    plaintext = result.plaintext;
    authenticated = result.protectedHeader as Record<string, unknown>;
  } catch (error) {
    if (error instanceof joseErrors.JWEDecryptionFailed) {
      throw new StasisError('tampered', 'The blob failed authentication: it was altered or sealed with another key.');
    }
    throw new StasisError('malformed', 'The blob is not a valid Stasis JWE.');
  }
  const session = parsePlaintext(plaintext);
  // The header copies are authenticated data; they must agree with the plaintext they index.
  if (authenticated.sid !== session.sid || authenticated.gen !== session.gen || authenticated.exp !== session.exp) {
    throw new StasisError('tampered', 'The blob header does not match its contents.');
  }
  return session;
}

function readHeader(blob: string): BlobHeader {
  if (typeof blob !== 'string' || blob.split('.').length !== 5) {
    throw new StasisError('malformed', 'The blob is not a JWE compact string (five dot-separated parts).');
  }
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(blob) as Record<string, unknown>;
  } catch {
    throw new StasisError('malformed', 'The blob header is not readable.');
  }
  if (header.alg !== 'dir' || header.enc !== 'A256GCM' || header.typ !== BLOB_TYPE || typeof header.kid !== 'string') {
    throw new StasisError('malformed', 'The blob header is not a Stasis header (alg dir, enc A256GCM, typ stasis+jwe, kid).');
  }
  return header as unknown as BlobHeader;
}

function parsePlaintext(bytes: Uint8Array): SealedSession {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    throw new StasisError('malformed', 'The blob contents are not JSON.');
  }
  const s = value as Partial<SealedSession> | null;
  const valid =
    s !== null &&
    typeof s === 'object' &&
    s.v === PROTOCOL_VERSION &&
    typeof s.sid === 'string' &&
    Number.isSafeInteger(s.gen) &&
    typeof s.jti === 'string' &&
    Number.isFinite(s.iat) &&
    Number.isFinite(s.exp) &&
    typeof s.aud === 'string' &&
    typeof s.bid === 'string' &&
    typeof s.schema === 'string' &&
    typeof s.values === 'object' &&
    s.values !== null &&
    !Array.isArray(s.values);
  if (!valid) throw new StasisError('malformed', 'The blob contents lack a required field or have the wrong version.');
  return s as SealedSession;
}
