/**
 * The published test key ring and golden vectors (docs/vectors/), shipped in the package: found next to this
 * module's package (dist/server/conformance.js → ../../docs/vectors/), or where `--vectors` says. With them the
 * tool seals blobs a server started with those keys accepts, and sends the vectors' blobs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bindingHash, fromB64url, randomId, sealBlob } from './jwe.js';

export interface TestKey {
  kid: string;
  key: Buffer;
  inRing: boolean;
  sealing: boolean;
}

export interface VectorCase {
  id: string;
  description: string;
  blob: string;
  sid: string;
  context: { now: number; cookie: string | null; audience: string; schema: string; maxBlobBytes: number; codecs: string[] };
  expect: { outcome: string; stage: string; header?: Record<string, unknown>; plaintext?: Record<string, unknown> };
  remark?: string;
}

export interface TestVectors {
  dir: string;
  /** `STASIS_KEYS` of the test ring. */
  ring: string;
  keys: TestKey[];
  /** Every key by kid, the retired one too (for opening and sealing). */
  byKid: Map<string, Buffer>;
  /** The ring's sealing key. */
  sealing: TestKey;
  /** A key not in the ring (blobs sealed with it answer unknown-key). */
  retired: TestKey | undefined;
  audience: string;
  schema: string;
  otherAudience: string;
  otherSchema: string;
  cases: VectorCase[];
}

/** The folder holding keys.json: `dir` when given, else docs/vectors/ above this module (source or dist). */
export function locateVectors(dir?: string): string | undefined {
  if (dir) return resolve(dir);
  let here = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(here, 'docs', 'vectors');
    if (existsSync(join(candidate, 'keys.json')) && existsSync(join(candidate, 'blobs.json'))) return candidate;
    here = dirname(here);
  }
  return undefined;
}

/** Loads keys.json and blobs.json; throws an Error saying what is missing or wrong. */
export function loadVectors(dir?: string): TestVectors {
  const found = locateVectors(dir);
  if (!found) throw new Error('docs/vectors/ (keys.json, blobs.json) not found next to the package; pass --vectors <dir>');
  const read = (name: string): Record<string, unknown> => {
    try {
      return JSON.parse(readFileSync(join(found, name), 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new Error(`${join(found, name)}: ${(error as Error).message}`, { cause: error });
    }
  };
  const keysJson = read('keys.json');
  const blobsJson = read('blobs.json');
  const rawKeys = Array.isArray(keysJson.keys) ? (keysJson.keys as Array<Record<string, unknown>>) : [];
  const keys: TestKey[] = rawKeys.map((k) => ({
    kid: String(k.kid),
    key: fromB64url(String(k.key)),
    inRing: k.inRing === true,
    sealing: k.sealing === true,
  }));
  const sealing = keys.find((k) => k.sealing && k.inRing);
  if (!sealing || keys.some((k) => k.key.length !== 32)) throw new Error(`${join(found, 'keys.json')}: no sealing key of 32 bytes`);
  const text = (name: string): string => {
    const value = keysJson[name];
    if (typeof value !== 'string') throw new Error(`${join(found, 'keys.json')}: "${name}" missing`);
    return value;
  };
  return {
    dir: found,
    ring: text('ring'),
    keys,
    byKid: new Map(keys.map((k) => [k.kid, k.key])),
    sealing,
    retired: keys.find((k) => !k.inRing),
    audience: text('audience'),
    schema: text('schema'),
    otherAudience: text('otherAudience'),
    otherSchema: text('otherSchema'),
    cases: Array.isArray(blobsJson.cases) ? (blobsJson.cases as VectorCase[]) : [],
  };
}

export interface ForgeOptions {
  sid: string;
  /** The binding cookie the blob is bound to (its `bid`). */
  cookie: string;
  gen?: number;
  /** Seconds since the epoch; default now + 1 hour. */
  exp?: number;
  now: number;
  /** Members to set (or, with the value undefined, remove) in the plaintext. */
  plaintext?: Record<string, unknown>;
  /** Members to set or remove in the header. */
  header?: Record<string, unknown>;
  /** Seal with this key instead of the ring's sealing key (the header's kid follows unless `header.kid` is given). */
  key?: TestKey;
  iv?: Buffer;
  tagBytes?: number;
  encryptedKey?: string;
}

/** A blob sealed at run time with the test keys: valid for the server unless the options make it otherwise. */
export function forge(vectors: TestVectors, options: ForgeOptions): string {
  const key = options.key ?? vectors.sealing;
  const gen = options.gen ?? 1;
  const exp = options.exp ?? options.now + 3600;
  const plaintext = patch(
    {
      v: 1,
      sid: options.sid,
      gen,
      jti: randomId(),
      iat: options.now,
      exp,
      aud: vectors.audience,
      bid: bindingHash(options.cookie),
      schema: vectors.schema,
      values: { 'conformance.value': { c: 'json', v: 'forged' } },
    },
    options.plaintext,
  );
  // The header copies follow the options, not the plaintext patch: a patch changes the plaintext alone.
  const header = patch({ alg: 'dir', enc: 'A256GCM', kid: key.kid, typ: 'stasis+jwe', sid: options.sid, gen, exp }, options.header);
  return sealBlob({
    header,
    plaintext,
    key: key.key,
    ...(options.iv ? { iv: options.iv } : {}),
    ...(options.tagBytes !== undefined ? { tagBytes: options.tagBytes } : {}),
    ...(options.encryptedKey !== undefined ? { encryptedKey: options.encryptedKey } : {}),
  });
}

function patch(base: Record<string, unknown>, changes: Record<string, unknown> | undefined): Record<string, unknown> {
  const result = { ...base };
  for (const [name, value] of Object.entries(changes ?? {})) {
    if (value === undefined) delete result[name];
    else result[name] = value;
  }
  return result;
}

/**
 * A valid blob of exactly `length` characters (when one can be made: a part is never 1 mod 4 long), padded by
 * a value of the app and, for the last character or two, an extra header field (ignored by the rules).
 */
export function forgeOfLength(vectors: TestVectors, options: ForgeOptions, length: number): string | undefined {
  const base = forge(vectors, options).length;
  for (let pad = 0; pad < 4; pad++) {
    const header = { ...options.header, ...(pad ? { pad: 'p'.repeat(pad) } : {}) };
    const estimate = Math.max(0, Math.floor(((length - base - pad * 4) * 3) / 4) - 4);
    for (let extra = estimate; extra < estimate + 12; extra++) {
      const values = { 'conformance.value': { c: 'json', v: 'x'.repeat(extra) } };
      const blob = forge(vectors, { ...options, header, plaintext: { ...options.plaintext, values } });
      if (blob.length === length) return blob;
      if (blob.length > length) break;
    }
  }
  return undefined;
}
