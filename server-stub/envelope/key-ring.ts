import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { StasisConfigError } from '../errors.js';

/** One AES-256 key with its id. The first key of a ring seals; any key opens. */
export interface RingKey {
  kid: string;
  /** Imported once: node:crypto uses it directly for AES-256-GCM. */
  key: KeyObject;
}

export interface KeyRing {
  /** The key new blobs are sealed with. */
  readonly current: RingKey;
  /** Looks a key up by id; undefined for an unknown (retired or foreign) kid. */
  find(kid: string): RingKey | undefined;
  readonly kids: readonly string[];
}

const KID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Parses a key ring spec: comma- or whitespace-separated `kid:secret` pairs, secret in base64url
 * (or base64) of exactly 32 bytes. The first pair is the sealing key. Example:
 *   STASIS_KEYS="2026-11:3q2-7w...,2026-10:Zm9v..."
 */
export async function parseKeyRing(spec: string | undefined, source = 'STASIS_KEYS'): Promise<KeyRing> {
  if (!spec || !spec.trim()) {
    throw new StasisConfigError(
      `${source} is empty: hibernation needs a key ring. Set ${source}="kid:<32 random bytes, base64url>" ` +
        `(generate one with: node -e "console.log('k1:'+require('crypto').randomBytes(32).toString('base64url'))").`,
    );
  }
  const entries = spec.split(/[\s,]+/).filter(Boolean);
  const keys: RingKey[] = [];
  for (const [index, entry] of entries.entries()) {
    const colon = entry.indexOf(':');
    if (colon <= 0) throw new StasisConfigError(`${source}: entry ${index + 1} is not of the form kid:secret.`);
    const kid = entry.slice(0, colon);
    if (!KID_PATTERN.test(kid)) {
      throw new StasisConfigError(`${source}: key id "${kid}" may only use letters, digits, '.', '_' and '-' (1-64).`);
    }
    if (keys.some((k) => k.kid === kid)) throw new StasisConfigError(`${source}: key id "${kid}" appears twice.`);
    const bytes = decodeSecret(entry.slice(colon + 1));
    if (bytes.length !== 32) {
      throw new StasisConfigError(
        `${source}: key "${kid}" is ${bytes.length * 8} bits; A256GCM needs exactly 256 bits (32 bytes, base64url).`,
      );
    }
    keys.push({ kid, key: importAesKey(bytes) });
  }
  return createKeyRing(keys);
}

export function createKeyRing(keys: RingKey[]): KeyRing {
  const [current] = keys;
  if (!current) throw new StasisConfigError('A key ring needs at least one key.');
  const byId = new Map(keys.map((k) => [k.kid, k]));
  return { current, find: (kid) => byId.get(kid), kids: keys.map((k) => k.kid) };
}

export function importAesKey(bytes: Uint8Array): KeyObject {
  if (bytes.length !== 32) throw new StasisConfigError(`An A256GCM key is 32 bytes, not ${bytes.length}.`);
  return createSecretKey(bytes);
}

/** A fresh `kid:secret` spec, for development and tests only. */
export function generateKeySpec(kid = `dev-${Date.now().toString(36)}`): string {
  return `${kid}:${randomBytes(32).toString('base64url')}`;
}

function decodeSecret(text: string): Uint8Array {
  if (!/^[A-Za-z0-9+/_-]+=*$/.test(text)) return new Uint8Array(0);
  return new Uint8Array(Buffer.from(text.replace(/\+/g, '-').replace(/\//g, '_'), 'base64url'));
}
