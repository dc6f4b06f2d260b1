import { isAscii } from 'node:buffer';
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { BLOB_TYPE, PROTOCOL_VERSION, type BlobHeader } from '../../src/protocol/index.js';
import { StasisError } from '../errors.js';
import { randomBuffer } from '../random.js';
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
  /**
   * Key binding: RFC 7638 thumbprint of the browser's binding key (base64url), sealed when a valid proof came
   * with the hibernate (or the resume the session came from). A blob with `kbt` resumes only with a proof by
   * that key; the cookie (`bid`) is then not required.
   */
  kbt?: string;
  /** The app's schema tag; a different tag on resume answers `schema-reset`. */
  schema: string;
  /** Encoded opted-in values by key (the state registry's format; the envelope does not look inside). */
  values: Record<string, unknown>;
  /**
   * Incarnation: a random id of the live session object the blob was sealed from. A checkpoint shares it with
   * its still-live session; a server that still holds that incarnation live knows the blob is not newer.
   */
  inc?: string;
}

/**
 * JWE compact serialization with `alg: dir`, `enc: A256GCM` (RFC 7516), done with node:crypto directly:
 * BASE64URL(header) . (empty: no encrypted key) . BASE64URL(iv) . BASE64URL(ciphertext) . BASE64URL(tag),
 * the ASCII of the encoded header as additional authenticated data. Any JOSE library opens it (the tests
 * check with jose's compactDecrypt); this path just skips the generic machinery, which costs 10x here.
 */
const IV_BYTES = 12;
const TAG_BYTES = 16;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const EMPTY = Buffer.alloc(0);

/**
 * The bytes of one part of a compact JWE, or undefined when the part is not base64url: a character outside
 * `[A-Za-z0-9_-]` (padding included) or a length of 1 mod 4. One pass of node's decoder does the check: it
 * skips every character outside its alphabet (and stops at `=`), and for a length not 1 mod 4 every character
 * skipped leaves fewer bytes than the length implies. Its alphabet also holds `+` and `/`, and it reads a
 * character above U+00FF by its low byte: those are looked for first, with native scans that cost a small
 * fraction of a regular expression over the part (a part can be megabytes).
 */
export function decodePart(part: string): Buffer | undefined {
  const length = part.length;
  if (length % 4 === 1) return undefined;
  // Every character ASCII (one UTF-8 byte each), and none of the two standard-base64 ones.
  if (Buffer.byteLength(part, 'utf8') !== length || part.includes('+') || part.includes('/')) return undefined;
  const bytes = Buffer.from(part, 'base64url');
  return bytes.length === Math.floor((length * 3) / 4) ? bytes : undefined;
}

/**
 * True when `part` (already known to be base64url, unpadded, not 1 mod 4 long) is the one encoding of its
 * bytes: the length is not 1 mod 4 (a lone sixth of a byte), and the bits of the last character that carry no
 * byte (4 of them after 1 byte, 2 after 2 bytes) are zero. Decoders ignore those bits, so without this check
 * up to 16 different strings would open as the same blob.
 */
function isCanonical(part: string): boolean {
  const rest = part.length % 4;
  if (rest === 0) return true;
  if (rest === 1) return false;
  const last = ALPHABET.indexOf(part[part.length - 1]!);
  return (last & (rest === 2 ? 0x0f : 0x03)) === 0;
}

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
  const encodedHeader = Buffer.from(JSON.stringify(header)).toString('base64url');
  const iv = randomBuffer(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(encodedHeader, 'latin1'));
  const json = JSON.stringify(session);
  const ciphertext = whole(cipher.update(json, asciiOnly(json) ? 'latin1' : 'utf8'), cipher.final());
  const tag = cipher.getAuthTag();
  return `${encodedHeader}..${iv.toString('base64url')}.${ciphertext.toString('base64url')}.${tag.toString('base64url')}`;
}

/**
 * True when every character of `text` is ASCII: its Latin-1 bytes are then its UTF-8 bytes, and node copies a
 * Latin-1 string as it is, where its UTF-8 path encodes character by character into a buffer three times as long.
 */
function asciiOnly(text: string): boolean {
  return Buffer.byteLength(text, 'utf8') === text.length;
}

/** The plaintext as a string: ASCII bytes are copied as they are (Latin-1), anything else is read as UTF-8. */
function asText(bytes: Buffer): string {
  return isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
}

/** `update`'s output and `final`'s: AES-GCM is a stream mode, so `final` gives nothing and no copy is made. */
function whole(head: Buffer, rest: Buffer): Buffer {
  return rest.length === 0 ? head : Buffer.concat([head, rest]);
}

/**
 * Opens a blob: structure, key lookup, authentication, then plaintext shape. Throws StasisError with
 * `malformed`, `unknown-key` or `tampered`; claim checks (expiry, audience, binding) are the caller's.
 */
export async function open(blob: string, ring: KeyRing): Promise<SealedSession> {
  const parts = typeof blob === 'string' ? blob.split('.', 6) : [];
  const bytes: Buffer[] = [];
  for (const part of parts.length === 5 ? parts : []) {
    // The encrypted key must be empty (below): its bytes are never needed, only whether it is base64url.
    const decoded = part === '' ? EMPTY : decodePart(part);
    if (!decoded) break;
    bytes.push(decoded);
  }
  if (bytes.length !== 5) throw new StasisError('malformed', 'The blob is not a JWE compact string (five base64url parts).');
  const [encodedHeader, encryptedKey] = parts as [string, string];
  const [headerBytes, , iv, ciphertext, tag] = bytes as [Buffer, Buffer, Buffer, Buffer, Buffer];
  const header = readHeader(headerBytes);
  if (encryptedKey !== '') throw new StasisError('malformed', 'A dir JWE carries no encrypted key.');
  // Every structural defect is `malformed`, whatever else is wrong with the blob: checked before the key.
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
    throw new StasisError('malformed', 'The blob has an IV or tag of the wrong length for A256GCM.');
  }
  const entry = ring.find(header.kid);
  if (!entry) throw new StasisError('unknown-key', `The blob was sealed with key "${header.kid}", which this server does not hold.`);
  // A blob is one string, not any of the strings that decode to its bytes: an altered encoding is an alteration.
  if (!parts.every(isCanonical)) throw new StasisError('tampered', 'The blob is not in canonical base64url: it was altered.');
  let plaintext: string;
  try {
    const decipher = createDecipheriv('aes-256-gcm', entry.key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(encodedHeader, 'latin1'));
    decipher.setAuthTag(tag);
    plaintext = asText(whole(decipher.update(ciphertext), decipher.final()));
  } catch {
    throw new StasisError('tampered', 'The blob failed authentication: it was altered or sealed with another key.');
  }
  const session = parsePlaintext(plaintext);
  // The header copies are authenticated data; they must agree with the plaintext they index.
  if (header.sid !== session.sid || header.gen !== session.gen || header.exp !== session.exp) {
    throw new StasisError('tampered', 'The blob header does not match its contents.');
  }
  return session;
}

function readHeader(decoded: Buffer): BlobHeader {
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(decoded.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new StasisError('malformed', 'The blob header is not readable.');
  }
  if (
    typeof header !== 'object' ||
    header === null ||
    header.alg !== 'dir' ||
    header.enc !== 'A256GCM' ||
    header.typ !== BLOB_TYPE ||
    typeof header.kid !== 'string' ||
    // The copies of sid, gen and exp a page reads without the key (docs/protocol.md, "Blob format").
    typeof header.sid !== 'string' ||
    !Number.isSafeInteger(header.gen) ||
    !Number.isSafeInteger(header.exp) ||
    'zip' in header ||
    'crit' in header
  ) {
    throw new StasisError('malformed', 'The blob header is not a Stasis header (alg dir, enc A256GCM, typ stasis+jwe, kid, sid, gen, exp; no zip or crit).');
  }
  return header as unknown as BlobHeader;
}

function parsePlaintext(text: string): SealedSession {
  let value: unknown;
  try {
    value = JSON.parse(text);
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
    s.gen! >= 1 &&
    typeof s.jti === 'string' &&
    s.jti !== '' &&
    Number.isSafeInteger(s.iat) &&
    Number.isSafeInteger(s.exp) &&
    typeof s.aud === 'string' &&
    typeof s.bid === 'string' &&
    typeof s.schema === 'string' &&
    typeof s.values === 'object' &&
    s.values !== null &&
    !Array.isArray(s.values) &&
    (s.inc === undefined || typeof s.inc === 'string') &&
    (s.kbt === undefined || (typeof s.kbt === 'string' && s.kbt !== ''));
  if (!valid) throw new StasisError('malformed', 'The blob contents lack a required field or have the wrong version.');
  return s as SealedSession;
}
