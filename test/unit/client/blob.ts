/**
 * Test helpers: JWE-looking Stasis blobs (the client never decrypts, it only reads the header's copies)
 * and unique names for throwaway IndexedDB databases.
 */
import type { BlobHeader } from '../../../src/protocol/index.js';

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

function randomSegment(length: number): string {
  return base64url(crypto.getRandomValues(new Uint8Array(length)));
}

/** Encodes any JSON value as a first segment: lets tests build headers that are not valid. */
export function encodeHeader(header: unknown): string {
  return base64url(new TextEncoder().encode(JSON.stringify(header)));
}

/** A compact JWE-shaped string: header.encryptedKey(empty for dir).iv.ciphertext.tag */
export function makeBlob(fields: { sid: string; gen: number; exp: number; kid?: string }, ciphertextBytes = 96): string {
  const header: BlobHeader = {
    alg: 'dir',
    enc: 'A256GCM',
    kid: fields.kid ?? 'k1',
    typ: 'stasis+jwe',
    sid: fields.sid,
    gen: fields.gen,
    exp: fields.exp,
  };
  return [encodeHeader(header), '', randomSegment(12), randomSegment(ciphertextBytes), randomSegment(16)].join('.');
}

let counter = 0;
/** A database name no other test uses. */
export function uniqueDbName(prefix: string): string {
  return `${prefix}-${process.pid}-${++counter}-${Math.random().toString(36).slice(2)}`;
}

/** A syntactically valid sid (22 base64url chars). */
export function makeSid(): string {
  return randomSegment(16);
}

/** Seconds since the epoch, `offsetSeconds` from now. */
export function epochSeconds(offsetSeconds = 0): number {
  return Math.floor(Date.now() / 1000) + offsetSeconds;
}
