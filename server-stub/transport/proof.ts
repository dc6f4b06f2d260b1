import { createHash, createPublicKey, verify as verifySignature, type JsonWebKey } from 'node:crypto';
import { PROOF_MAX_SKEW_SECONDS, PROOF_TYPE } from '../../src/protocol/index.js';

/**
 * What a request's key-binding proof came to: the RFC 7638 thumbprint of the key that signed it (`kbt`), or why
 * it does not count. A proof is never refused here: the binding check decides what a missing or bad one means
 * (docs/protocol.md, "Key binding": only a blob bound to a key requires one).
 */
export type ProofResult = { kbt: string } | { problem: string };

export interface ProofExpectation {
  /** The request's method: `POST` (the HTTP endpoints, the default) or `GET` (a resume on the live channel's upgrade). */
  htm?: 'POST' | 'GET';
  /** The path the request was made to, as the server received it (`/stasis/resume`, `/stasis/live`: no query). */
  htu: string;
  nowSeconds: number;
  /** Resume: the blob string the request presents; the proof's `bh` must be its hash. */
  blob?: string;
}

/** A proof is small: a P-256 JWK in the header, five short claims. Anything longer is not one. */
const MAX_PROOF_CHARS = 2048;
const B64URL = /^[A-Za-z0-9_-]+$/;
const COORDINATE = /^[A-Za-z0-9_-]{43}$/;

/** Verifies a key-binding proof (ES256 compact JWS) against this request; never throws. */
export function verifyProof(proof: unknown, expected: ProofExpectation): ProofResult {
  if (typeof proof !== 'string' || proof.length > MAX_PROOF_CHARS) return { problem: 'the proof is not a compact JWS' };
  const parts = proof.split('.');
  if (parts.length !== 3 || !parts.every((part) => B64URL.test(part))) return { problem: 'the proof is not a compact JWS' };
  const [head, body, signature] = parts as [string, string, string];
  const header = parseJson(head);
  const claims = parseJson(body);
  if (!header || !claims) return { problem: 'the proof is not a compact JWS' };
  if (header.typ !== PROOF_TYPE || header.alg !== 'ES256') return { problem: `the proof is not an ES256 ${PROOF_TYPE}` };
  const jwk = header.jwk as Record<string, unknown> | undefined;
  if (
    typeof jwk !== 'object' ||
    jwk === null ||
    jwk.kty !== 'EC' ||
    jwk.crv !== 'P-256' ||
    typeof jwk.x !== 'string' ||
    typeof jwk.y !== 'string' ||
    !COORDINATE.test(jwk.x) ||
    !COORDINATE.test(jwk.y) ||
    'd' in jwk
  ) {
    return { problem: "the proof's jwk is not a public EC P-256 key" };
  }
  const publicJwk = { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
  let valid: boolean;
  try {
    const key = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' });
    const raw = Buffer.from(signature, 'base64url');
    // JWS ES256 signatures are r || s, 32 bytes each (IEEE P1363), not DER.
    valid = raw.length === 64 && verifySignature('sha256', Buffer.from(`${head}.${body}`), { key, dsaEncoding: 'ieee-p1363' }, raw);
  } catch {
    return { problem: "the proof's jwk is not a point on P-256" };
  }
  if (!valid) return { problem: "the proof's signature does not verify" };
  const htm = expected.htm ?? 'POST';
  if (claims.htm !== htm || claims.htu !== expected.htu) return { problem: `the proof was made for another request, not ${htm} ${expected.htu}` };
  if (!Number.isSafeInteger(claims.iat) || Math.abs((claims.iat as number) - expected.nowSeconds) > PROOF_MAX_SKEW_SECONDS) {
    return { problem: `the proof's iat is more than ${PROOF_MAX_SKEW_SECONDS} s from the server's clock` };
  }
  if (typeof claims.jti !== 'string' || claims.jti.length < 8 || claims.jti.length > 64) return { problem: 'the proof has no jti' };
  if (expected.blob !== undefined && claims.bh !== blobHash(expected.blob)) return { problem: 'the proof was made for another blob (bh)' };
  return { kbt: jwkThumbprint(publicJwk) };
}

/** RFC 7638 thumbprint of an EC public key: SHA-256 over the required members in lexicographic order, base64url. */
export function jwkThumbprint(jwk: { crv: string; x: string; y: string }): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: 'EC', x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

/** The `bh` claim: base64url SHA-256 of the blob string (its ASCII). */
export function blobHash(blob: string): string {
  return createHash('sha256').update(blob).digest('base64url');
}

function parseJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
