/**
 * Just enough JWE (compact, `alg: dir`, `enc: A256GCM`) for the conformance tool, on node:crypto: read a
 * blob's parts and header without a key, open and seal with the published test keys, and build the deliberately
 * wrong blobs the checks send. Byte-exact: headers and plaintexts are handled as bytes, so a vector's odd JSON
 * (duplicate keys, invalid UTF-8, number notation) survives a re-seal.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64URL = /^[A-Za-z0-9_-]*$/;

export const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
export const fromB64url = (text: string): Buffer => Buffer.from(text, 'base64url');

/** A fresh random base64url id of `bytes` random bytes (16 → 22 characters). */
export const randomId = (bytes = 16): string => randomBytes(bytes).toString('base64url');

/** `base64url(SHA-256(cookie text))`, no padding: the `bid` a blob carries for a binding cookie. */
export const bindingHash = (cookie: string): string => createHash('sha256').update(cookie, 'utf8').digest('base64url');

/** True when `part` is the one unpadded base64url encoding of its bytes. */
export function isCanonical(part: string): boolean {
  if (!B64URL.test(part)) return false;
  const rest = part.length % 4;
  if (rest === 0) return true;
  if (rest === 1) return false;
  return (ALPHABET.indexOf(part[part.length - 1]!) & (rest === 2 ? 0x0f : 0x03)) === 0;
}

/** The same bytes under another string: an unused low bit of the last character set (length 2 or 3 mod 4). */
export function nonCanonical(part: string): string {
  const last = ALPHABET.indexOf(part[part.length - 1]!);
  return part.slice(0, -1) + ALPHABET[last | 1]!;
}

export interface BlobParts {
  header: string;
  encryptedKey: string;
  iv: string;
  ciphertext: string;
  tag: string;
}

export function splitBlob(blob: unknown): BlobParts | undefined {
  if (typeof blob !== 'string') return undefined;
  const parts = blob.split('.');
  if (parts.length !== 5) return undefined;
  const [header, encryptedKey, iv, ciphertext, tag] = parts as [string, string, string, string, string];
  return { header, encryptedKey, iv, ciphertext, tag };
}

export const joinBlob = (p: BlobParts): string => `${p.header}.${p.encryptedKey}.${p.iv}.${p.ciphertext}.${p.tag}`;

/** The protected header as JSON, readable without a key; undefined when it is not a JSON object. */
export function readHeader(blob: unknown): Record<string, unknown> | undefined {
  const parts = splitBlob(blob);
  if (!parts || !B64URL.test(parts.header)) return undefined;
  try {
    const value = JSON.parse(fromB64url(parts.header).toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export interface Opened {
  header: Record<string, unknown>;
  /** The header's bytes as sealed (latin1 text: one character per byte). */
  headerText: string;
  /** The plaintext's bytes (latin1 text). */
  plaintextText: string;
  /** The plaintext parsed as JSON (UTF-8); undefined when it does not parse. */
  plaintext: Record<string, unknown> | undefined;
}

/** Opens a blob with the key of its `kid`; a string says why it could not. */
export function openBlob(blob: string, keys: ReadonlyMap<string, Buffer>): Opened | string {
  const parts = splitBlob(blob);
  if (!parts) return 'not five parts';
  const header = readHeader(blob);
  if (!header) return 'header not readable';
  const key = typeof header.kid === 'string' ? keys.get(header.kid) : undefined;
  if (!key) return `no test key for kid ${JSON.stringify(header.kid)}`;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, fromB64url(parts.iv), { authTagLength: 16 });
    decipher.setAAD(Buffer.from(parts.header, 'ascii'));
    decipher.setAuthTag(fromB64url(parts.tag));
    const bytes = Buffer.concat([decipher.update(fromB64url(parts.ciphertext)), decipher.final()]);
    let plaintext: Record<string, unknown> | undefined;
    try {
      const value = JSON.parse(bytes.toString('utf8')) as unknown;
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) plaintext = value as Record<string, unknown>;
    } catch {
      plaintext = undefined;
    }
    return { header, headerText: fromB64url(parts.header).toString('latin1'), plaintextText: bytes.toString('latin1'), plaintext };
  } catch (error) {
    return `does not authenticate with the test key (${(error as Error).message})`;
  }
}

export interface SealInput {
  /** An object (JSON-encoded) or latin1 text (its bytes as they are). */
  header: Record<string, unknown> | string;
  plaintext: Record<string, unknown> | string;
  key: Buffer;
  /** Default: 12 random bytes. */
  iv?: Buffer;
  /** Keep only this many bytes of the 16-byte tag. */
  tagBytes?: number;
  encryptedKey?: string;
}

/** Seals a JWE compact string: base64url(header) as the AAD, AES-256-GCM over the plaintext's bytes. */
export function sealBlob(input: SealInput): string {
  const bytes = (value: Record<string, unknown> | string) =>
    typeof value === 'string' ? Buffer.from(value, 'latin1') : Buffer.from(JSON.stringify(value), 'utf8');
  const header = b64url(bytes(input.header));
  const iv = input.iv ?? randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', input.key, iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(header, 'ascii'));
  const ciphertext = Buffer.concat([cipher.update(bytes(input.plaintext)), cipher.final()]);
  const tag = cipher.getAuthTag().subarray(0, input.tagBytes ?? 16);
  return joinBlob({ header, encryptedKey: input.encryptedKey ?? '', iv: b64url(iv), ciphertext: b64url(ciphertext), tag: b64url(tag) });
}

/** Replaces the value of every `"name": <value>` member in JSON text (latin1), strings quoted, numbers as given. */
export function replaceMember(text: string, name: string, value: string | number): string {
  const literal = typeof value === 'string' ? JSON.stringify(value) : String(value);
  const pattern = new RegExp(`("${name}"\\s*:\\s*)("(?:[^"\\\\]|\\\\.)*"|-?[0-9][0-9.eE+-]*)`, 'g');
  return text.replace(pattern, (_match, prefix: string) => `${prefix}${literal}`);
}
