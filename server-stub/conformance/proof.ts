/**
 * Key-binding proofs for the conformance tool, on node:crypto (docs/protocol.md, "Key binding"): a P-256 key
 * pair as a browser's custodian would hold one, and ES256 compact JWS proofs over a request, made right or
 * deliberately wrong (another path, a stale `iat`, another blob's `bh`).
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

export const PROOF_TYPE = 'stasis-proof+jwt';

export interface ProofKey {
  privateKey: KeyObject;
  jwk: { kty: 'EC'; crv: 'P-256'; x: string; y: string };
}

export interface ProofClaimsInput {
  /** The request's method: `POST` (default), or `GET` for a resume on the live channel. */
  htm?: 'POST' | 'GET';
  /** The path the request goes to (`/stasis/resume`, `/stasis/live`). */
  htu: string;
  /** Seconds since the epoch. */
  iat: number;
  /** Resume: the blob presented (`bh` is its hash). */
  blob?: string;
  /** Overrides `bh` (a hash of something else). */
  bh?: string;
}

export function makeProofKey(): ProofKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { x, y } = publicKey.export({ format: 'jwk' });
  return { privateKey, jwk: { kty: 'EC', crv: 'P-256', x: x!, y: y! } };
}

export const blobHash = (blob: string): string => createHash('sha256').update(blob).digest('base64url');

/** A compact ES256 JWS proof signed with `key`. */
export function makeProof(key: ProofKey, input: ProofClaimsInput): string {
  const bh = input.bh ?? (input.blob === undefined ? undefined : blobHash(input.blob));
  const claims = { htm: input.htm ?? 'POST', htu: input.htu, iat: input.iat, jti: randomBytes(16).toString('base64url'), ...(bh === undefined ? {} : { bh }) };
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signingInput = `${encode({ typ: PROOF_TYPE, alg: 'ES256', jwk: key.jwk })}.${encode(claims)}`;
  const signature = sign('sha256', Buffer.from(signingInput), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${signature.toString('base64url')}`;
}
