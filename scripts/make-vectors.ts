/**
 * Golden vectors for other implementations of the Stasis server: docs/vectors/{keys,blobs,codec}.json.
 *
 * Regenerate (from the repository root; Node 20 runs no TypeScript by itself, so esbuild, a dev dependency,
 * bundles this file first):
 *
 *   node_modules/.bin/esbuild scripts/make-vectors.ts --bundle --platform=node --format=esm --packages=external \
 *     --outfile=.stasis-tmp/make-vectors.mjs && node .stasis-tmp/make-vectors.mjs
 *
 * Blobs are sealed here with node:crypto directly (docs/protocol.md, "Blob format"), with IVs, jti and iat
 * derived from each case's id, so every run writes byte-identical files. Every expected outcome is not written
 * by hand but observed by running the reference server: the envelope's `open`, the sealer's `verify` and the
 * values' decode (server-stub/), and the codec (server-stub/codec/). test/unit/server/golden-vectors.test.ts
 * re-runs `makeVectors()` and fails when the files on disk differ, so a change of the reference's behaviour
 * shows up as a diff of these files, to be made on purpose.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createJsonCodec, jsonCodec, type ClassCodec, type Codec, type Encoded } from '../server-stub/codec/json-codec.js';
import { open } from '../server-stub/envelope/envelope.js';
import { parseKeyRing, type KeyRing } from '../server-stub/envelope/key-ring.js';
import { StasisCodecError, StasisError } from '../server-stub/errors.js';
import { silentLogger } from '../server-stub/logger.js';
import { bindingHash, SessionSealer } from '../server-stub/session/session-sealer.js';
import { decodeStoredValues } from '../server-stub/session/state-registry.js';
import { BLOB_TYPE, PROTOCOL_VERSION } from '../src/protocol/index.js';

// ---------------------------------------------------------------------------------------------------------
// Fixed material (all derived from labels, so nothing here is random)
// ---------------------------------------------------------------------------------------------------------

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();
const derive = (label: string, bytes: number) => sha256(`stasis golden vectors: ${label}`).subarray(0, bytes);
const b64u = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

export const VECTORS_DIR = fileURLToPath(new URL('../docs/vectors/', import.meta.url));

const TEST_ONLY =
  'TEST VECTORS ONLY. These keys are published: anyone can open and forge blobs sealed with them. ' +
  'Never put them (or any key derived the same way) in a production key ring.';

interface VectorKey {
  kid: string;
  /** 32 bytes, base64url without padding: the `secret` of a `kid:secret` ring entry. */
  key: string;
  inRing: boolean;
  sealing: boolean;
  note: string;
}

const KEY_A: VectorKey = { kid: 'stasis-test-a', key: b64u(derive('key a', 32)), inRing: true, sealing: true, note: 'first key of the ring: seals new blobs, opens blobs' };
const KEY_B: VectorKey = { kid: 'stasis-test-b', key: b64u(derive('key b', 32)), inRing: true, sealing: false, note: 'second key of the ring (a key being rotated out): opens blobs only' };
const KEY_FOREIGN: VectorKey = {
  kid: 'stasis-test-retired',
  key: b64u(derive('key retired', 32)),
  inRing: false,
  sealing: false,
  note: 'NOT in the ring: blobs sealed with it answer unknown-key; its bytes under a ring kid answer tampered',
};
const KEYS = [KEY_A, KEY_B, KEY_FOREIGN];
const RING_SPEC = `${KEY_A.kid}:${KEY_A.key},${KEY_B.kid}:${KEY_B.key}`;

const AUDIENCE = 'vectors.stasis.test';
const OTHER_AUDIENCE = 'other-app.stasis.test';
const SCHEMA = 'schema-7';
const OTHER_SCHEMA = 'schema-6';
/** Binding cookies (`stasis_bid`): 192 bits, base64url, as the reference issues them. */
const COOKIE = b64u(derive('cookie of this browser', 24));
const OTHER_COOKIE = b64u(derive('cookie of another browser', 24));
const SID = b64u(derive('sid', 16));
const OTHER_SID = b64u(derive('other sid', 16));
/** The verifier's clock for every case, seconds since the epoch (2030-03-17T17:46:40Z). */
const NOW = 1_900_000_000;
const TTL = 7 * 24 * 3600;
const IAT = NOW - 3600;
const EXP = IAT + TTL;
/** The reference's default maxBlobBytes (5 MiB). */
const MAX_BLOB_BYTES = 5 * 1024 * 1024;
/** The codecs the verifier has registered, by name: only the default JSON codec. */
const CODECS = ['json'];

/** SHA-256 of the cookie's text (UTF-8), base64url: what a blob's `bid` holds. Checked against the reference below. */
const bid = (cookie: string) => b64u(createHash('sha256').update(cookie, 'utf8').digest());

// ---------------------------------------------------------------------------------------------------------
// Sealing (node:crypto, docs/protocol.md "Blob format")
// ---------------------------------------------------------------------------------------------------------

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const keyBytes = (k: VectorKey) => Buffer.from(k.key, 'base64url');

type Plaintext = Record<string, unknown>;

/** The plaintext the reference seals, field for field in its order; `inc` only when given. */
function session(id: string, over: Plaintext = {}): Plaintext {
  return {
    v: PROTOCOL_VERSION,
    sid: SID,
    gen: 3,
    jti: b64u(derive(`jti ${id}`, 16)),
    iat: IAT,
    exp: EXP,
    aud: AUDIENCE,
    bid: bid(COOKIE),
    schema: SCHEMA,
    values: {},
    ...over,
  };
}

interface Craft {
  /** Key whose bytes encrypt (default KEY_A); `kid` of the header defaults to its kid. */
  key?: VectorKey;
  /** The plaintext: an object (JSON-encoded), raw text, or raw bytes. */
  plaintext?: Plaintext | string | Buffer;
  /** Header fields replacing/adding to the default ones; a field set to undefined is left out. */
  header?: Record<string, unknown>;
  /** The header's JSON text verbatim (instead of the object). */
  headerText?: string;
  ivBytes?: number;
  tagBytes?: number;
}

/** Seals one blob. The IV comes from the case id: deterministic, and no two cases share one under a key. */
function craft(id: string, c: Craft = {}): string {
  const key = c.key ?? KEY_A;
  const plain = c.plaintext ?? session(id);
  const fromPlain = typeof plain === 'object' && !Buffer.isBuffer(plain) ? plain : session(id);
  const header: Record<string, unknown> = {
    alg: 'dir',
    enc: 'A256GCM',
    kid: key.kid,
    typ: BLOB_TYPE,
    sid: fromPlain.sid,
    gen: fromPlain.gen,
    exp: fromPlain.exp,
  };
  for (const [k, v] of Object.entries(c.header ?? {})) {
    if (v === undefined) delete header[k];
    else header[k] = v;
  }
  const encodedHeader = Buffer.from(c.headerText ?? JSON.stringify(header), 'utf8').toString('base64url');
  const iv = derive(`iv ${id}`, c.ivBytes ?? 12);
  const tagBytes = c.tagBytes ?? 16;
  const cipher = createCipheriv('aes-256-gcm', keyBytes(key), iv, { authTagLength: tagBytes });
  cipher.setAAD(Buffer.from(encodedHeader, 'ascii'));
  const bytes = Buffer.isBuffer(plain) ? plain : Buffer.from(typeof plain === 'string' ? plain : JSON.stringify(plain), 'utf8');
  const ciphertext = Buffer.concat([cipher.update(bytes), cipher.final()]);
  return [encodedHeader, '', b64u(iv), b64u(ciphertext), b64u(cipher.getAuthTag())].join('.');
}

const partsOf = (blob: string) => blob.split('.');
const withPart = (blob: string, index: number, value: string) => {
  const p = partsOf(blob);
  p[index] = value;
  return p.join('.');
};
const part = (blob: string, index: number) => partsOf(blob)[index]!;
/** XORs one byte of a part (decoded) with 0x01 and re-encodes it canonically. */
function flipByte(encoded: string, index: number): string {
  const bytes = Buffer.from(encoded, 'base64url');
  bytes[index] = bytes[index]! ^ 0x01;
  return b64u(bytes);
}
/** The same bytes, but the lowest unused bit of the last character set: a non-canonical encoding. */
function nonCanonical(encoded: string): string {
  const rest = encoded.length % 4;
  if (rest !== 2 && rest !== 3) throw new Error(`a part of length ${encoded.length} has no unused bits`);
  const last = ALPHABET.indexOf(encoded.at(-1)!);
  const variant = encoded.slice(0, -1) + ALPHABET[last ^ 1]!;
  if (!Buffer.from(variant, 'base64url').equals(Buffer.from(encoded, 'base64url'))) throw new Error('not the same bytes');
  return variant;
}

// ---------------------------------------------------------------------------------------------------------
// Blob cases
// ---------------------------------------------------------------------------------------------------------

export interface BlobContext {
  /** The verifier's clock, seconds since the epoch. */
  now: number;
  /** The `stasis_bid` cookie sent with the resume; null: none sent. */
  cookie: string | null;
  audience: string;
  schema: string;
  maxBlobBytes: number;
  /** Codec names the verifier has registered. */
  codecs: string[];
}

export interface BlobExpect {
  outcome: string;
  /** Which part of the resume decided: `open` (the envelope), `verify` (size and claims), `values` (decoding), `done`. */
  stage: 'open' | 'verify' | 'values' | 'done';
  /** For `ok`: the protected header, decoded. */
  header?: unknown;
  /** For `ok`: the plaintext, exactly. */
  plaintext?: unknown;
}

export interface BlobCase {
  id: string;
  description: string;
  blob: string;
  /** The sid the resume request names. */
  sid: string;
  context: BlobContext;
  expect: BlobExpect;
  /** Present where the reference's behaviour looked accidental or an interop hazard: read before copying it. */
  remark?: string;
}

interface Draft {
  id: string;
  description: string;
  blob: string;
  sid?: string;
  context?: Partial<BlobContext>;
  remark?: string;
}

const CONTEXT: BlobContext = { now: NOW, cookie: COOKIE, audience: AUDIENCE, schema: SCHEMA, maxBlobBytes: MAX_BLOB_BYTES, codecs: CODECS };

/** Several encoded values (server-stub/codec, default JSON codec) as a blob carries them. */
function sampleValues(): Record<string, { c: string; v: Encoded }> {
  const values: [string, unknown][] = [
    ['note', 'héllo ✓ 😀'],
    ['checkout.cart', new Map<unknown, unknown>([['pen', 2], ['ink', { colour: 'blue' }]])],
    ['checkout.when', new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 6))],
    ['ledger/total', 12345678901234567890n],
    ['upload:raw', new Uint8Array([0, 1, 2, 253, 254, 255])],
    ['flags', new Set(['beta', 'dark'])],
    ['literal', { $t: 'Date', v: 1 }],
    ['odd', [undefined, NaN, -0, Infinity, null, true]],
    ['form', { name: 'Ada', age: 36, tags: ['a', 'b'] }],
  ];
  return Object.fromEntries(values.map(([key, value]) => [key, { c: 'json', v: jsonCodec.encode(value, key) }]));
}

function drafts(): Draft[] {
  const out: Draft[] = [];
  const add = (d: Draft) => out.push(d);
  const base = (id: string) => craft(id);

  // ---- valid ----
  add({ id: 'ok-minimal', description: 'Minimal plaintext: no values, no inc.', blob: base('ok-minimal') });
  add({ id: 'ok-inc', description: 'With `inc` (the incarnation a checkpoint shares with its live session).', blob: craft('ok-inc', { plaintext: session('ok-inc', { inc: b64u(derive('inc', 16)) }) }) });
  add({
    id: 'ok-values',
    description: 'Several values of the JSON codec (Map, Date, BigInt, bytes, Set, an escaped `$t` object, undefined/NaN/-0/Infinity, non-ASCII text). Decoding them is codec.json\'s business.',
    blob: craft('ok-values', { plaintext: session('ok-values', { values: sampleValues(), inc: b64u(derive('inc values', 16)) }) }),
  });
  add({ id: 'ok-second-key', description: 'Sealed with the second key of the ring (a key being rotated out still opens).', blob: craft('ok-second-key', { key: KEY_B }) });
  add({ id: 'ok-exp-in-one-second', description: 'exp = now + 1: not expired yet.', blob: craft('ok-exp-in-one-second', { plaintext: session('ok-exp-in-one-second', { exp: NOW + 1 }) }) });
  add({
    id: 'ok-gen-1-fresh',
    description: 'A first-generation blob (gen 1) issued just now (iat = now).',
    blob: craft('ok-gen-1-fresh', { plaintext: session('ok-gen-1-fresh', { gen: 1, iat: NOW, exp: NOW + TTL }) }),
  });
  add({
    id: 'ok-extra-fields',
    description: 'An extra protected-header field and an extra plaintext field: both ignored.',
    blob: craft('ok-extra-fields', { header: { cty: 'json' }, plaintext: session('ok-extra-fields', { future: { x: 1 } }) }),
  });
  add({
    id: 'ok-max-blob-bytes',
    description: 'The blob is exactly maxBlobBytes characters long (the limit is inclusive).',
    blob: base('ok-max-blob-bytes'),
    context: { maxBlobBytes: base('ok-max-blob-bytes').length },
  });
  {
    const p = session('ok-number-notation');
    add({
      id: 'ok-number-notation',
      description: 'Header and plaintext write gen as 3.0 and exp in exponent notation: JSON numbers, equal to the integers.',
      blob: craft('ok-number-notation', {
        headerText: `{"alg":"dir","enc":"A256GCM","kid":"${KEY_A.kid}","typ":"${BLOB_TYPE}","sid":"${SID}","gen":3.0,"exp":${EXP / 100}e2}`,
        plaintext: JSON.stringify(p).replace('"gen":3,', '"gen":3.0,').replace(`"exp":${EXP},`, `"exp":${EXP / 100}e2,`),
      }),
      remark: 'Numbers compare as JSON numbers: a parser that keeps 3.0 or 1.9e9 apart from the integer would answer tampered/malformed here.',
    });
  }
  add({
    id: 'malformed-gen-negative',
    description: 'gen = -1 (header and plaintext agree): a generation is a safe integer of at least 1.',
    blob: craft('malformed-gen-negative', { plaintext: session('malformed-gen-negative', { gen: -1 }) }),
  });
  add({
    id: 'malformed-gen-zero',
    description: 'gen = 0 (header and plaintext agree): a generation is a safe integer of at least 1.',
    blob: craft('malformed-gen-zero', { plaintext: session('malformed-gen-zero', { gen: 0 }) }),
  });
  add({
    id: 'malformed-exp-fractional',
    description: 'exp = now + 0.5 (header and plaintext agree); iat fractional too: iat and exp are whole seconds.',
    blob: craft('malformed-exp-fractional', { plaintext: session('malformed-exp-fractional', { iat: IAT + 0.25, exp: NOW + 0.5 }) }),
  });
  add({
    id: 'ok-iat-in-future',
    description: 'iat a day after now (exp still later).',
    blob: craft('ok-iat-in-future', { plaintext: session('ok-iat-in-future', { iat: NOW + 86400, exp: NOW + 86400 + TTL }) }),
    remark: 'iat is a whole number of seconds; it is never compared with the clock.',
  });
  add({
    id: 'ok-header-duplicate-kid',
    description: 'The header JSON names kid twice: first the retired key, then the ring\'s first key (which sealed it).',
    blob: craft('ok-header-duplicate-kid', {
      headerText: `{"alg":"dir","enc":"A256GCM","kid":"${KEY_FOREIGN.kid}","kid":"${KEY_A.kid}","typ":"${BLOB_TYPE}","sid":"${SID}","gen":3,"exp":${EXP}}`,
    }),
    remark: 'Duplicate JSON keys are not refused: the last one wins (JSON.parse). A parser that keeps the first, or refuses duplicates, answers differently (unknown-key, malformed).',
  });
  {
    const text = JSON.stringify(session('ok-invalid-utf8', { values: { note: { c: 'json', v: 'AB' } } }));
    const bytes = Buffer.from(text, 'utf8');
    const at = bytes.indexOf(Buffer.from('"AB"')) + 2; // the B
    bytes[at] = 0xff; // not UTF-8
    add({
      id: 'ok-invalid-utf8',
      description: 'The plaintext holds a byte 0xFF (invalid UTF-8) inside a JSON string.',
      blob: craft('ok-invalid-utf8', { plaintext: bytes }),
      remark: 'The reference decodes UTF-8 leniently (0xFF becomes U+FFFD) and opens the blob; a strict decoder (Python, .NET with throwOnInvalid) would refuse it. Only a key holder can produce such a blob.',
    });
  }

  // ---- structure: malformed ----
  const good = base('good');
  add({ id: 'malformed-empty', description: 'The empty string.', blob: '' });
  add({ id: 'malformed-4-parts', description: 'Four parts (the tag dropped).', blob: partsOf(good).slice(0, 4).join('.') });
  add({ id: 'malformed-6-parts', description: 'Six parts (an extra empty part).', blob: `${good}.` });
  add({ id: 'malformed-plus-char', description: 'A `+` (base64, not base64url) in the ciphertext part.', blob: withPart(good, 3, `+${part(good, 3).slice(1)}`) });
  add({ id: 'malformed-padding', description: 'The tag padded with `==`.', blob: withPart(good, 4, `${part(good, 4)}==`) });
  add({ id: 'malformed-trailing-newline', description: 'A valid blob followed by a newline.', blob: `${good}\n` });
  {
    let ciphertext = part(good, 3);
    while (ciphertext.length % 4 !== 1) ciphertext += 'A';
    add({ id: 'malformed-part-length-1-mod-4', description: 'The ciphertext part padded with "A" to a length of 1 mod 4 (no byte string encodes to it).', blob: withPart(good, 3, ciphertext) });
  }
  add({ id: 'malformed-encrypted-key', description: 'A non-empty encrypted-key part (dir carries none).', blob: withPart(good, 1, 'AAAA') });
  add({ id: 'malformed-header-not-json', description: 'The header is not JSON.', blob: craft('malformed-header-not-json', { headerText: 'alg=dir' }) });
  add({ id: 'malformed-header-array', description: 'The header is JSON but an array.', blob: craft('malformed-header-array', { headerText: '["dir","A256GCM"]' }) });
  add({ id: 'malformed-header-null', description: 'The header is the JSON `null`.', blob: craft('malformed-header-null', { headerText: 'null' }) });
  add({ id: 'malformed-header-no-kid', description: 'The header has no kid.', blob: craft('malformed-header-no-kid', { header: { kid: undefined } }) });
  add({ id: 'malformed-header-kid-number', description: 'The header kid is a number.', blob: craft('malformed-header-kid-number', { header: { kid: 1 } }) });
  add({ id: 'malformed-header-alg', description: 'alg A256GCMKW instead of dir.', blob: craft('malformed-header-alg', { header: { alg: 'A256GCMKW' } }) });
  add({ id: 'malformed-header-enc', description: 'enc A128GCM instead of A256GCM.', blob: craft('malformed-header-enc', { header: { enc: 'A128GCM' } }) });
  add({ id: 'malformed-header-typ', description: 'typ JWT instead of stasis+jwe.', blob: craft('malformed-header-typ', { header: { typ: 'JWT' } }) });
  add({ id: 'malformed-header-no-typ', description: 'No typ.', blob: craft('malformed-header-no-typ', { header: { typ: undefined } }) });
  add({ id: 'malformed-header-zip', description: '`zip: "DEF"` in the header (compression is refused).', blob: craft('malformed-header-zip', { header: { zip: 'DEF' } }) });
  add({ id: 'malformed-header-crit', description: '`crit` in the header (no critical extensions are understood).', blob: craft('malformed-header-crit', { header: { crit: ['exp'] } }) });
  add({ id: 'malformed-iv-11-bytes', description: 'A valid AES-GCM seal with an 11-byte IV (canonical encoding): A256GCM takes 12.', blob: craft('malformed-iv-11-bytes', { ivBytes: 11 }) });
  add({ id: 'malformed-iv-16-bytes', description: 'A valid AES-GCM seal with a 16-byte IV.', blob: craft('malformed-iv-16-bytes', { ivBytes: 16 }) });
  add({ id: 'malformed-iv-empty', description: 'The IV part is empty.', blob: withPart(good, 2, '') });
  add({ id: 'malformed-tag-12-bytes', description: 'A valid AES-GCM seal with a 12-byte (96-bit) tag: A256GCM takes 16.', blob: craft('malformed-tag-12-bytes', { tagBytes: 12 }) });
  add({ id: 'malformed-tag-empty', description: 'The tag part is empty.', blob: withPart(good, 4, '') });
  add({ id: 'malformed-plaintext-not-json', description: 'The (authenticated) plaintext is not JSON.', blob: craft('malformed-plaintext-not-json', { plaintext: 'not json' }) });
  add({ id: 'malformed-plaintext-array', description: 'The plaintext is a JSON array.', blob: craft('malformed-plaintext-array', { plaintext: '[1,2,3]' }) });
  for (const field of ['v', 'sid', 'gen', 'jti', 'iat', 'exp', 'aud', 'bid', 'schema', 'values']) {
    const p = session(`malformed-missing-${field}`);
    delete p[field];
    add({ id: `malformed-missing-${field}`, description: `The plaintext lacks \`${field}\` (the header keeps its copies).`, blob: craft(`malformed-missing-${field}`, { plaintext: p }) });
  }
  const wrongType = (id: string, description: string, over: Plaintext) =>
    add({ id, description, blob: craft(id, { plaintext: session(id, over) }) });
  wrongType('malformed-version-2', 'v = 2 (this is protocol version 1).', { v: 2 });
  wrongType('malformed-version-string', 'v = "1" (a string).', { v: '1' });
  wrongType('malformed-gen-fraction', 'gen = 3.5.', { gen: 3.5 });
  wrongType('malformed-gen-unsafe', 'gen = 2^53 (not a safe integer).', { gen: 2 ** 53 });
  wrongType('malformed-gen-string', 'gen = "3".', { gen: '3' });
  wrongType('malformed-exp-string', 'exp a string.', { exp: String(EXP) });
  wrongType('malformed-values-array', 'values is an array.', { values: [] });
  wrongType('malformed-values-null', 'values is null.', { values: null });
  wrongType('malformed-inc-number', 'inc is a number.', { inc: 7 });
  wrongType('malformed-bid-null', 'bid is null.', { bid: null });

  // ---- authentication and consistency: tampered ----
  add({ id: 'tampered-ciphertext', description: 'One ciphertext byte flipped.', blob: withPart(good, 3, flipByte(part(good, 3), 5)) });
  add({ id: 'tampered-tag', description: 'One tag byte flipped.', blob: withPart(good, 4, flipByte(part(good, 4), 0)) });
  add({ id: 'tampered-iv', description: 'One IV byte flipped.', blob: withPart(good, 2, flipByte(part(good, 2), 11)) });
  add({ id: 'tampered-ciphertext-truncated', description: 'The last ciphertext byte removed.', blob: withPart(good, 3, b64u(Buffer.from(part(good, 3), 'base64url').subarray(0, -1))) });
  add({ id: 'tampered-ciphertext-empty', description: 'The ciphertext part is empty.', blob: withPart(good, 3, '') });
  {
    // The header re-encoded with gen 4 over the original ciphertext: the AAD changed.
    const header = JSON.parse(Buffer.from(part(good, 0), 'base64url').toString('utf8')) as Record<string, unknown>;
    add({ id: 'tampered-header-edited', description: 'The header re-encoded with gen 4 (the plaintext says 3): the AAD no longer authenticates.', blob: withPart(good, 0, b64u(Buffer.from(JSON.stringify({ ...header, gen: 4 })))) });
  }
  add({ id: 'tampered-wrong-key-bytes', description: 'Sealed with the retired key\'s bytes but labelled with the ring\'s kid.', blob: craft('tampered-wrong-key-bytes', { key: KEY_FOREIGN, header: { kid: KEY_A.kid } }) });
  add({ id: 'tampered-header-sid-mismatch', description: 'Authenticated, but the header sid differs from the plaintext sid.', blob: craft('tampered-header-sid-mismatch', { header: { sid: OTHER_SID } }) });
  add({ id: 'tampered-header-gen-mismatch', description: 'Authenticated, but the header gen (4) differs from the plaintext gen (3).', blob: craft('tampered-header-gen-mismatch', { header: { gen: 4 } }) });
  add({ id: 'tampered-header-exp-mismatch', description: 'Authenticated, but the header exp is a day later than the plaintext exp.', blob: craft('tampered-header-exp-mismatch', { header: { exp: EXP + 86400 } }) });
  add({ id: 'malformed-header-gen-string', description: 'The header gen is the string "3": the header copies are checked before the key.', blob: craft('malformed-header-gen-string', { header: { gen: '3' } }) });
  add({
    id: 'malformed-header-no-sid',
    description: 'The header has no sid copy: malformed, like a header without kid or typ (the page\'s readBlobHeader sees no blob either).',
    blob: craft('malformed-header-no-sid', { header: { sid: undefined } }),
  });
  // Non-canonical encodings: the same bytes, the lowest unused bit of the last character set.
  {
    // A header whose length leaves unused bits: vary gen until it does.
    let gen = 3;
    let blob = '';
    for (; gen < 1000; gen = gen * 10 + 1) {
      blob = craft('tampered-noncanonical-header', { plaintext: session('tampered-noncanonical-header', { gen }) });
      if (part(blob, 0).length % 4 >= 2) break;
    }
    add({ id: 'tampered-noncanonical-header', description: `The header part with an unused bit of its last character set (same bytes; gen ${gen}).`, blob: withPart(blob, 0, nonCanonical(part(blob, 0))) });
  }
  {
    let pad = '';
    let blob = '';
    for (; pad.length < 3; pad += 'x') {
      blob = craft('tampered-noncanonical-ciphertext', { plaintext: session('tampered-noncanonical-ciphertext', { values: { pad: { c: 'json', v: pad } } }) });
      if (part(blob, 3).length % 4 >= 2) break;
    }
    add({ id: 'tampered-noncanonical-ciphertext', description: 'The ciphertext part with an unused bit of its last character set (same bytes).', blob: withPart(blob, 3, nonCanonical(part(blob, 3))) });
  }
  add({ id: 'tampered-noncanonical-tag', description: 'The tag part (22 characters, 4 unused bits) with an unused bit set (same bytes).', blob: withPart(good, 4, nonCanonical(part(good, 4))) });
  {
    const blob = craft('malformed-iv-11-bytes-noncanonical', { ivBytes: 11 });
    add({
      id: 'malformed-iv-11-bytes-noncanonical',
      description: 'An 11-byte IV (as malformed-iv-11-bytes) whose encoding also has an unused bit set: structural defects come first.',
      blob: withPart(blob, 2, nonCanonical(part(blob, 2))),
    });
  }

  // ---- keys ----
  add({ id: 'unknown-key', description: 'Sealed with a key whose kid is not in the ring.', blob: craft('unknown-key', { key: KEY_FOREIGN }) });
  add({ id: 'unknown-key-empty-kid', description: 'kid is the empty string.', blob: craft('unknown-key-empty-kid', { header: { kid: '' } }) });
  {
    const blob = craft('unknown-key-noncanonical-tag', { key: KEY_FOREIGN });
    add({ id: 'unknown-key-noncanonical-tag', description: 'Unknown kid and a non-canonical tag: the key lookup comes first.', blob: withPart(blob, 4, nonCanonical(part(blob, 4))) });
  }
  add({ id: 'malformed-iv-11-bytes-unknown-key', description: 'Unknown kid and an 11-byte IV: structural checks come before the key lookup.', blob: craft('malformed-iv-11-bytes-unknown-key', { key: KEY_FOREIGN, ivBytes: 11 }) });
  add({ id: 'malformed-header-alg-unknown-key', description: 'Wrong alg and an unknown kid: the header check comes first.', blob: craft('malformed-header-alg-unknown-key', { key: KEY_FOREIGN, header: { alg: 'A256GCMKW' } }) });
  add({ id: 'malformed-encrypted-key-unknown-key', description: 'A non-empty encrypted key and an unknown kid.', blob: withPart(craft('malformed-encrypted-key-unknown-key', { key: KEY_FOREIGN }), 1, 'AAAA') });

  // ---- claims ----
  add({ id: 'wrong-audience', description: 'aud names another app.', blob: craft('wrong-audience', { plaintext: session('wrong-audience', { aud: OTHER_AUDIENCE }) }) });
  add({ id: 'wrong-sid', description: 'A valid blob of another sid, presented for this sid.', blob: craft('wrong-sid', { plaintext: session('wrong-sid', { sid: OTHER_SID }) }) });
  add({ id: 'wrong-binding-other-cookie', description: 'Presented with another browser\'s cookie.', blob: base('wrong-binding-other-cookie'), context: { cookie: OTHER_COOKIE } });
  add({ id: 'wrong-binding-no-cookie', description: 'Presented without a cookie.', blob: base('wrong-binding-no-cookie'), context: { cookie: null } });
  add({
    id: 'wrong-binding-empty-cookie',
    description: 'bid is SHA-256 of the empty string and the cookie is empty: an empty cookie counts as none.',
    blob: craft('wrong-binding-empty-cookie', { plaintext: session('wrong-binding-empty-cookie', { bid: bid('') }) }),
    context: { cookie: '' },
  });
  add({ id: 'expired', description: 'exp one second before now.', blob: craft('expired', { plaintext: session('expired', { exp: NOW - 1 }) }) });
  add({ id: 'expired-exp-equals-now', description: 'exp = now exactly.', blob: craft('expired-exp-equals-now', { plaintext: session('expired-exp-equals-now', { exp: NOW }) }) });
  add({ id: 'schema-reset', description: 'Sealed under another schema tag.', blob: craft('schema-reset', { plaintext: session('schema-reset', { schema: OTHER_SCHEMA }) }) });
  add({ id: 'too-large', description: 'The blob is one character over maxBlobBytes.', blob: base('too-large'), context: { maxBlobBytes: base('too-large').length - 1 } });
  add({ id: 'too-large-garbage', description: 'Not a blob at all, but over maxBlobBytes: the size is checked first.', blob: 'x'.repeat(101), context: { maxBlobBytes: 100 } });
  // Order of the claim checks, where two fail at once.
  add({ id: 'order-expired-and-other-cookie', description: 'Expired and presented with another browser\'s cookie.', blob: craft('order-expired-and-other-cookie', { plaintext: session('order-expired-and-other-cookie', { exp: NOW - 1 }) }), context: { cookie: OTHER_COOKIE } });
  add({ id: 'order-expired-and-schema', description: 'Expired and of another schema.', blob: craft('order-expired-and-schema', { plaintext: session('order-expired-and-schema', { exp: NOW - 1, schema: OTHER_SCHEMA }) }) });
  add({ id: 'order-audience-and-expired', description: 'Another app\'s blob, expired.', blob: craft('order-audience-and-expired', { plaintext: session('order-audience-and-expired', { aud: OTHER_AUDIENCE, exp: NOW - 1 }) }) });

  // ---- values (after the claims) ----
  const withValues = (id: string, description: string, values: unknown) =>
    add({ id, description, blob: craft(id, { plaintext: session(id, { values }) }) });
  withValues('values-unknown-codec', 'A value names a codec the server does not have ("msgpack").', { a: { c: 'msgpack', v: 1 } });
  withValues('values-undecodable', 'A value the JSON codec refuses (unknown tag).', { a: { c: 'json', v: { $t: 'Regex', v: 'a+' } } });
  withValues('values-not-stored-form', 'A value that is not { c, v } but a bare string.', { a: 'plain' });
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Running the reference
// ---------------------------------------------------------------------------------------------------------

const codecByName = (name: string): Codec | undefined => (name === 'json' ? jsonCodec : undefined);

async function failure(fn: () => Promise<unknown>): Promise<StasisError | undefined> {
  try {
    await fn();
    return undefined;
  } catch (error) {
    if (error instanceof StasisError) return error;
    throw error;
  }
}

/** What the reference answers to one resume of `blob` for `sid` (envelope, claims, values; no ledger). */
export async function runReference(ring: KeyRing, blob: string, sid: string, context: BlobContext): Promise<BlobExpect> {
  const sealer = new SessionSealer({
    ring,
    audience: context.audience,
    schema: context.schema,
    ttlSeconds: TTL,
    maxBlobBytes: context.maxBlobBytes,
    warnBlobBytes: context.maxBlobBytes,
    logger: silentLogger,
    now: () => context.now * 1000,
  });
  let sealed: Awaited<ReturnType<SessionSealer['verify']>> | undefined;
  const refused = await failure(async () => {
    sealed = await sealer.verify(sid, blob, context.cookie ?? undefined);
  });
  if (refused) {
    const byOpen = await failure(() => open(blob, ring));
    return { outcome: refused.code, stage: byOpen?.code === refused.code ? 'open' : 'verify' };
  }
  const lookup = (name: string) => (context.codecs.includes(name) ? codecByName(name) : undefined);
  const undecodable = await failure(async () => decodeStoredValues(sealed!.values, lookup));
  if (undecodable) return { outcome: undecodable.code, stage: 'values' };
  const header = JSON.parse(Buffer.from(part(blob, 0), 'base64url').toString('utf8')) as unknown;
  return { outcome: 'ok', stage: 'done', header, plaintext: sealed };
}

async function blobCases(ring: KeyRing): Promise<BlobCase[]> {
  const cases: BlobCase[] = [];
  const seen = new Set<string>();
  for (const d of drafts()) {
    if (seen.has(d.id)) throw new Error(`duplicate case id ${d.id}`);
    seen.add(d.id);
    const sid = d.sid ?? SID;
    const context = { ...CONTEXT, ...d.context };
    const expect = await runReference(ring, d.blob, sid, context);
    cases.push({ id: d.id, description: d.description, blob: d.blob, sid, context, expect, ...(d.remark ? { remark: d.remark } : {}) });
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------------------
// Codec cases
// ---------------------------------------------------------------------------------------------------------

/** The registered class the codec vectors use: `class` tag "Money", data [cents (BigInt), currency]. */
export class Money {
  constructor(
    readonly cents: bigint,
    readonly currency: string,
  ) {}
}
class EuroMoney extends Money {}

export const MONEY_CODEC: ClassCodec<Money> = {
  tag: 'Money',
  type: Money,
  toData: (m) => [m.cents, m.currency],
  fromData: (data) => {
    if (!Array.isArray(data) || data.length !== 2 || typeof data[0] !== 'bigint' || typeof data[1] !== 'string' || !/^[A-Z]{3}$/.test(data[1])) {
      throw new Error('Money data must be [cents (BigInt), ISO currency]');
    }
    return new Money(data[0], data[1]);
  },
};

/** The codec every codec vector runs through: the JSON codec with Money registered, maxDepth 200 (the default). */
export const vectorCodec = (): Codec => createJsonCodec({ classes: [MONEY_CODEC] });

/** A value the vectors name: `js` is its JavaScript source (for readers), `make` builds it (for the generator and test). */
export interface ValueSpec {
  id: string;
  description: string;
  js: string;
  make: () => unknown;
}

const nest = (levels: number): unknown => {
  let v: unknown = 0;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
};
const nestText = (levels: number) => `${'['.repeat(levels)}0${']'.repeat(levels)}`;

/** Values that round-trip: encode(make()) is the vector's `encoded`, decode(encoded) equals make(). */
export const ROUND_TRIPS: ValueSpec[] = [
  { id: 'string', description: 'A string is itself.', js: `'héllo ✓ 😀'`, make: () => 'héllo ✓ 😀' },
  { id: 'string-looks-like-tag', description: 'Strings are never interpreted.', js: `'{"$t":"Date","v":1}'`, make: () => '{"$t":"Date","v":1}' },
  { id: 'string-empty', description: 'The empty string.', js: `''`, make: () => '' },
  { id: 'number-integer', description: 'A finite number is itself.', js: '42', make: () => 42 },
  { id: 'number-fraction', description: 'A fraction.', js: '-0.5', make: () => -0.5 },
  { id: 'number-max-safe-plus-one', description: '2^53 is a finite number like any other.', js: '2 ** 53', make: () => 2 ** 53 },
  { id: 'number-tiny', description: 'The smallest subnormal.', js: '5e-324', make: () => 5e-324 },
  { id: 'number-large', description: '1e21.', js: '1e21', make: () => 1e21 },
  { id: 'zero', description: 'Positive zero is itself.', js: '0', make: () => 0 },
  { id: 'true', description: 'A boolean.', js: 'true', make: () => true },
  { id: 'null', description: 'null.', js: 'null', make: () => null },
  { id: 'plain-object', description: 'A plain object: itself, keys in order.', js: `{ b: 1, a: 'x', nested: { list: [1, 2] } }`, make: () => ({ b: 1, a: 'x', nested: { list: [1, 2] } }) },
  { id: 'object-odd-keys', description: 'Any key but __proto__/constructor/prototype, including "" and "v".', js: `{ '': 1, 'odd key': 2, v: 3 }`, make: () => ({ '': 1, 'odd key': 2, v: 3 }) },
  { id: 'array', description: 'A dense array is itself.', js: `[1, 'two', [3]]`, make: () => [1, 'two', [3]] },
  { id: 'array-empty', description: 'An empty array.', js: '[]', make: () => [] },
  { id: 'undef', description: 'undefined.', js: 'undefined', make: () => undefined },
  { id: 'undef-in-object', description: 'A property holding undefined is kept.', js: '{ a: undefined }', make: () => ({ a: undefined }) },
  { id: 'undef-in-array', description: 'An element holding undefined (not a hole).', js: '[undefined, 1]', make: () => [undefined, 1] },
  { id: 'num-nan', description: 'NaN.', js: 'NaN', make: () => NaN },
  { id: 'num-infinity', description: 'Infinity.', js: 'Infinity', make: () => Infinity },
  { id: 'num-minus-infinity', description: '-Infinity.', js: '-Infinity', make: () => -Infinity },
  { id: 'num-minus-zero', description: '-0.', js: '-0', make: () => -0 },
  { id: 'bigint', description: 'A BigInt beyond 2^64.', js: '-12345678901234567890123n', make: () => -12345678901234567890123n },
  { id: 'bigint-zero', description: '0n.', js: '0n', make: () => 0n },
  { id: 'date', description: 'A Date: epoch milliseconds.', js: `new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 6))`, make: () => new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 6)) },
  { id: 'date-before-epoch', description: 'A Date before 1970.', js: `new Date(-1)`, make: () => new Date(-1) },
  { id: 'date-max', description: 'The last valid Date (8.64e15 ms).', js: `new Date(8.64e15)`, make: () => new Date(8.64e15) },
  { id: 'date-invalid', description: 'An invalid Date: payload null.', js: `new Date(NaN)`, make: () => new Date(NaN) },
  { id: 'map', description: 'A Map: [key, value] pairs in insertion order, keys of any type.', js: `new Map([['pen', 2], [1, 'one'], [{ k: 1 }, [true]]])`, make: () => new Map<unknown, unknown>([['pen', 2], [1, 'one'], [{ k: 1 }, [true]]]) },
  {
    id: 'map-equal-object-keys',
    description: 'Two distinct but equal-looking object keys: not duplicates (keys compare by identity, SameValueZero).',
    js: `new Map([[{ a: 1 }, 1], [{ a: 1 }, 2]])`,
    make: () => new Map([[{ a: 1 }, 1], [{ a: 1 }, 2]]),
  },
  { id: 'map-empty', description: 'An empty Map.', js: 'new Map()', make: () => new Map() },
  { id: 'map-nan-key', description: 'NaN as a Map key.', js: `new Map([[NaN, 'n']])`, make: () => new Map([[NaN, 'n']]) },
  { id: 'set', description: 'A Set: members in insertion order.', js: `new Set(['b', 'a', 1])`, make: () => new Set<unknown>(['b', 'a', 1]) },
  { id: 'bytes', description: 'A Uint8Array: padded standard base64.', js: 'new Uint8Array([0, 1, 2, 253, 254, 255, 62, 63])', make: () => new Uint8Array([0, 1, 2, 253, 254, 255, 62, 63]) },
  { id: 'bytes-empty', description: 'An empty Uint8Array.', js: 'new Uint8Array(0)', make: () => new Uint8Array(0) },
  { id: 'bytes-one', description: 'One byte (two padding characters).', js: 'new Uint8Array([255])', make: () => new Uint8Array([255]) },
  { id: 'bytes-two', description: 'Two bytes (one padding character).', js: 'new Uint8Array([255, 254])', make: () => new Uint8Array([255, 254]) },
  { id: 'bytes-subarray', description: 'Only the bytes a view covers are written.', js: 'new Uint8Array([9, 8, 7, 6]).subarray(1, 3)', make: () => new Uint8Array([9, 8, 7, 6]).subarray(1, 3) },
  { id: 'array-buffer', description: 'An ArrayBuffer.', js: 'new Uint8Array([104, 105]).buffer', make: () => new Uint8Array([104, 105]).buffer },
  { id: 'data-view', description: 'A DataView.', js: 'new DataView(new Uint8Array([1, 2, 3]).buffer)', make: () => new DataView(new Uint8Array([1, 2, 3]).buffer) },
  { id: 'sparse', description: 'An array with holes: [length, [[index, value], ...]].', js: `[1, , 3, , ]  // length 4, holes at 1 and 3`, make: () => { const a: unknown[] = new Array(4); a[0] = 1; a[2] = 3; return a; } },
  { id: 'sparse-all-holes', description: 'new Array(3): only holes.', js: 'new Array(3)', make: () => new Array(3) as unknown[] },
  { id: 'sparse-huge', description: 'A huge sparse array stays tiny.', js: 'Object.assign([], { 1000000: "x" })', make: () => { const a: unknown[] = []; a[1_000_000] = 'x'; return a; } },
  { id: 'obj-escape', description: 'A plain object with its own "$t" key is wrapped in obj.', js: `{ $t: 'Date', v: 1 }`, make: () => ({ $t: 'Date', v: 1 }) },
  { id: 'obj-escape-nested', description: 'The escape applies at any depth; the payload\'s values are encoded.', js: `{ list: [{ $t: 'x', when: new Date(0) }] }`, make: () => ({ list: [{ $t: 'x', when: new Date(0) }] }) },
  { id: 'nullobj', description: 'A null-prototype object.', js: `Object.assign(Object.create(null), { a: 1 })`, make: () => Object.assign(Object.create(null) as object, { a: 1 }) },
  { id: 'nullobj-with-tag-key', description: 'A null-prototype object with a "$t" key: nullobj, keys literal.', js: `Object.assign(Object.create(null), { $t: 'undef' })`, make: () => Object.assign(Object.create(null) as object, { $t: 'undef' }) },
  { id: 'class', description: 'A registered class (tag "Money"): [tag, encoded toData()].', js: `new Money(1999n, 'EUR')`, make: () => new Money(1999n, 'EUR') },
  { id: 'class-in-map', description: 'Classes inside other containers.', js: `new Map([['total', new Money(-5n, 'USD')]])`, make: () => new Map([['total', new Money(-5n, 'USD')]]) },
  { id: 'nested-containers', description: 'Tags nest: a Set of Maps of Dates.', js: `new Set([new Map([[new Date(0), new Set([undefined])]])])`, make: () => new Set([new Map([[new Date(0), new Set([undefined])]])]) },
  { id: 'shared-reference', description: 'A shared (non-cyclic) reference is written twice and comes back as two copies.', js: `(() => { const s = { n: 1 }; return [s, s]; })()`, make: () => { const s = { n: 1 }; return [s, s]; } },
  { id: 'depth-200', description: '200 nested arrays: exactly maxDepth.', js: '/* 200 levels */ [[[ … [0] … ]]]', make: () => nest(200) },
];

/** Encoded forms encode never writes but decode accepts; `reencoded` is what encode writes for the decoded value. */
export interface DecodeOnlySpec extends ValueSpec {
  /** The encoded form as JSON text (parsed with JSON.parse). */
  text: string;
}

export const DECODE_ONLY: DecodeOnlySpec[] = [
  { id: 'obj-without-tag-key', description: 'obj wrapping an object that has no "$t" key.', text: '{"$t":"obj","v":{"a":1}}', js: '{ a: 1 }', make: () => ({ a: 1 }) },
  { id: 'sparse-without-holes', description: 'sparse listing every index.', text: '{"$t":"sparse","v":[2,[[0,"a"],[1,"b"]]]}', js: `['a', 'b']`, make: () => ['a', 'b'] },
  { id: 'bigint-minus-zero', description: 'bigint "-0".', text: '{"$t":"bigint","v":"-0"}', js: '0n', make: () => 0n },
  { id: 'bare-minus-zero', description: 'The JSON number -0 (not the num tag).', text: '-0', js: '-0', make: () => -0 },
  { id: 'date-minus-zero', description: 'Date payload -0.', text: '{"$t":"Date","v":-0}', js: 'new Date(0)', make: () => new Date(0) },
  { id: 'number-exponent', description: 'Numbers in any JSON notation.', text: '[1.0,1e2,-0.0e0]', js: '[1, 100, -0]', make: () => [1, 100, -0] },
];

export interface RefusalSpec {
  id: string;
  description: string;
  js: string;
  make: () => unknown;
}

class Widget {
  n = 1;
}
class FakeNode {
  nodeType = 1;
}

export const ENCODE_REFUSALS: RefusalSpec[] = [
  { id: 'function', description: 'A function.', js: '() => 1', make: () => () => 1 },
  { id: 'symbol', description: 'A symbol.', js: `Symbol('s')`, make: () => Symbol('s') },
  { id: 'function-deep', description: 'The path names where: $.items[2].price.', js: `{ items: [0, 1, { price: () => 1 }] }`, make: () => ({ items: [0, 1, { price: () => 1 }] }) },
  { id: 'odd-key-path', description: 'Odd keys are quoted in the path.', js: `{ 'odd key': Symbol() }`, make: () => ({ 'odd key': Symbol() }) },
  { id: 'map-key-path', description: 'Map keys: .entries[i].key.', js: `new Map([[1, 1], [() => 1, 2]])`, make: () => new Map<unknown, unknown>([[1, 1], [() => 1, 2]]) },
  { id: 'set-member-path', description: 'Set members: .values[i].', js: `new Set([1, Symbol()])`, make: () => new Set<unknown>([1, Symbol()]) },
  { id: 'symbol-key', description: 'A symbol-keyed property.', js: `{ [Symbol('k')]: 1 }`, make: () => ({ [Symbol('k')]: 1 }) },
  { id: 'getter', description: 'An accessor property.', js: `{ get a() { return 1; } }`, make: () => ({ get a() { return 1; } }) },
  { id: 'non-enumerable', description: 'A non-enumerable property.', js: `Object.defineProperty({}, 'a', { value: 1, enumerable: false })`, make: () => Object.defineProperty({}, 'a', { value: 1, enumerable: false }) },
  { id: 'key-proto', description: 'An own "__proto__" key.', js: `JSON.parse('{"__proto__":1}')`, make: () => JSON.parse('{"__proto__":1}') as unknown },
  { id: 'key-constructor', description: 'A "constructor" key.', js: `{ constructor: 1 }`, make: () => ({ constructor: 1 }) },
  { id: 'key-prototype', description: 'A "prototype" key.', js: `{ prototype: 1 }`, make: () => ({ prototype: 1 }) },
  { id: 'cycle', description: 'A cycle.', js: `(() => { const a = { self: null }; a.self = a; return a; })()`, make: () => { const a: { self: unknown } = { self: null }; a.self = a; return a; } },
  { id: 'array-named-property', description: 'A named property on an array.', js: `Object.assign([1], { extra: 2 })`, make: () => Object.assign([1], { extra: 2 }) },
  { id: 'unregistered-class', description: 'An instance of a class that is not registered.', js: 'new Widget()', make: () => new Widget() },
  { id: 'subclass-of-registered', description: 'A subclass of a registered class.', js: `new EuroMoney(1n, 'EUR')  // class EuroMoney extends Money`, make: () => new EuroMoney(1n, 'EUR') },
  { id: 'subclass-of-map', description: 'A subclass of Map.', js: 'new (class MyMap extends Map {})()', make: () => new (class MyMap extends Map {})() },
  { id: 'buffer', description: 'Node\'s Buffer (a Uint8Array subclass).', js: `Buffer.from('hi')`, make: () => Buffer.from('hi') },
  { id: 'int16array', description: 'A typed array other than Uint8Array.', js: 'new Int16Array(2)', make: () => new Int16Array(2) },
  { id: 'promise', description: 'A Promise.', js: 'Promise.resolve(1)', make: () => Promise.resolve(1) },
  { id: 'weakmap', description: 'A WeakMap.', js: 'new WeakMap()', make: () => new WeakMap() },
  { id: 'weakset', description: 'A WeakSet.', js: 'new WeakSet()', make: () => new WeakSet() },
  { id: 'weakref', description: 'A WeakRef.', js: 'new WeakRef({})', make: () => new WeakRef({}) },
  { id: 'regexp', description: 'A RegExp.', js: '/a+/g', make: () => /a+/g },
  { id: 'error', description: 'An Error.', js: `new Error('x')`, make: () => new Error('x') },
  { id: 'dom-like', description: 'A non-plain object with a numeric nodeType (a DOM node).', js: 'new (class FakeNode { nodeType = 1 })()', make: () => new FakeNode() },
  { id: 'too-deep', description: '201 nested arrays: one more than maxDepth.', js: '/* 201 levels */ [[[ … [0] … ]]]', make: () => nest(201) },
  { id: 'to-data-throws', description: 'A registered class whose toData throws (here: Money with a cents getter that throws).', js: `Object.setPrototypeOf({ get cents() { throw new Error('boom'); } }, Money.prototype)`, make: () => Object.setPrototypeOf({ get cents(): bigint { throw new Error('boom'); } }, Money.prototype) as unknown },
];

export interface DecodeRefusalSpec {
  id: string;
  description: string;
  text: string;
}

export const DECODE_REFUSALS: DecodeRefusalSpec[] = [
  { id: 'unknown-tag', description: 'An unknown tag.', text: '{"$t":"Regex","v":"a+"}' },
  { id: 'tag-not-string', description: 'A tag that is not a string.', text: '{"$t":1,"v":1}' },
  { id: 'extra-key', description: 'A key beside "$t" and "v".', text: '{"$t":"Date","v":0,"x":1}' },
  { id: 'missing-v', description: 'A tag other than undef without "v".', text: '{"$t":"Date"}' },
  { id: 'undef-with-v', description: 'undef with a "v".', text: '{"$t":"undef","v":null}' },
  { id: 'num-unknown', description: 'num payload not one of the four.', text: '{"$t":"num","v":"nan"}' },
  { id: 'num-finite', description: 'num payload a finite number.', text: '{"$t":"num","v":"1"}' },
  { id: 'num-number', description: 'num payload a JSON number.', text: '{"$t":"num","v":0}' },
  { id: 'bigint-plus', description: 'bigint with a plus sign.', text: '{"$t":"bigint","v":"+1"}' },
  { id: 'bigint-leading-zero', description: 'bigint with a leading zero.', text: '{"$t":"bigint","v":"01"}' },
  { id: 'bigint-fraction', description: 'bigint "1.0".', text: '{"$t":"bigint","v":"1.0"}' },
  { id: 'bigint-empty', description: 'bigint "".', text: '{"$t":"bigint","v":""}' },
  { id: 'bigint-number', description: 'bigint payload a JSON number.', text: '{"$t":"bigint","v":1}' },
  { id: 'date-fraction', description: 'Date payload not an integer.', text: '{"$t":"Date","v":1.5}' },
  { id: 'date-out-of-range', description: 'Date payload past 8.64e15.', text: '{"$t":"Date","v":8640000000000001}' },
  { id: 'date-string', description: 'Date payload an ISO string.', text: '{"$t":"Date","v":"2030-01-01T00:00:00Z"}' },
  { id: 'map-not-array', description: 'Map payload an object.', text: '{"$t":"Map","v":{"a":1}}' },
  { id: 'map-pair-length', description: 'A Map pair of three.', text: '{"$t":"Map","v":[[1,2,3]]}' },
  { id: 'map-duplicate-key', description: 'A duplicate Map key.', text: '{"$t":"Map","v":[[1,"a"],[1,"b"]]}' },
  { id: 'map-duplicate-nan', description: 'NaN twice: keys compare by SameValueZero.', text: '{"$t":"Map","v":[[{"$t":"num","v":"NaN"},1],[{"$t":"num","v":"NaN"},2]]}' },
  { id: 'map-zero-and-minus-zero', description: '0 and -0 as keys: the same key (SameValueZero).', text: '{"$t":"Map","v":[[0,1],[{"$t":"num","v":"-0"},2]]}' },
  { id: 'set-duplicate', description: 'A duplicate Set member.', text: '{"$t":"Set","v":["a","a"]}' },
  { id: 'set-not-array', description: 'Set payload a string.', text: '{"$t":"Set","v":"ab"}' },
  { id: 'bytes-unpadded', description: 'base64 without padding.', text: '{"$t":"bytes","v":"/w"}' },
  { id: 'bytes-unused-bits', description: 'base64 whose unused bits are set ("/x==" for the byte 0xff).', text: '{"$t":"bytes","v":"/x=="}' },
  { id: 'bytes-base64url', description: 'base64url characters instead of standard base64.', text: '{"$t":"bytes","v":"-_8="}' },
  { id: 'bytes-whitespace', description: 'base64 with a line break.', text: '{"$t":"bytes","v":"AAAA\\nAAAA"}' },
  { id: 'bytes-number', description: 'bytes payload a number.', text: '{"$t":"bytes","v":1}' },
  { id: 'array-buffer-bad', description: 'ArrayBuffer with bad base64.', text: '{"$t":"ArrayBuffer","v":"a"}' },
  { id: 'data-view-bad', description: 'DataView with bad base64.', text: '{"$t":"DataView","v":"===="}' },
  { id: 'sparse-not-pair', description: 'sparse payload not [length, pairs].', text: '{"$t":"sparse","v":[3]}' },
  { id: 'sparse-negative-length', description: 'A negative length.', text: '{"$t":"sparse","v":[-1,[]]}' },
  { id: 'sparse-length-too-big', description: 'A length past 2^32 - 1.', text: '{"$t":"sparse","v":[4294967296,[]]}' },
  { id: 'sparse-index-not-ascending', description: 'Indices not ascending.', text: '{"$t":"sparse","v":[5,[[2,"a"],[1,"b"]]]}' },
  { id: 'sparse-duplicate-index', description: 'An index twice.', text: '{"$t":"sparse","v":[5,[[1,"a"],[1,"b"]]]}' },
  { id: 'sparse-index-past-length', description: 'An index not below the length.', text: '{"$t":"sparse","v":[2,[[2,"a"]]]}' },
  { id: 'sparse-index-fraction', description: 'A fractional index.', text: '{"$t":"sparse","v":[5,[[1.5,"a"]]]}' },
  { id: 'obj-not-object', description: 'obj payload an array.', text: '{"$t":"obj","v":[1]}' },
  { id: 'nullobj-null', description: 'nullobj payload null.', text: '{"$t":"nullobj","v":null}' },
  { id: 'class-unknown', description: 'A class tag not registered.', text: '{"$t":"class","v":["Widget",{}]}' },
  { id: 'class-shape', description: 'class payload not [tag, data].', text: '{"$t":"class","v":"Money"}' },
  { id: 'class-from-data-throws', description: 'fromData refuses the data (Money wants [BigInt, currency]).', text: '{"$t":"class","v":["Money",[1999,"EUR"]]}' },
  { id: 'key-proto', description: 'A "__proto__" key in a plain object.', text: '{"__proto__":{"polluted":true}}' },
  { id: 'key-constructor', description: 'A "constructor" key.', text: '{"a":{"constructor":1}}' },
  { id: 'key-prototype-in-obj', description: 'A "prototype" key inside obj.', text: '{"$t":"obj","v":{"$t":1,"prototype":2}}' },
  { id: 'key-proto-in-nullobj', description: 'A "__proto__" key inside nullobj.', text: '{"$t":"nullobj","v":{"__proto__":1}}' },
  { id: 'too-deep', description: '201 nested arrays: one more than maxDepth.', text: nestText(201) },
  { id: 'non-finite-number', description: 'A JSON number that overflows to Infinity (1e400).', text: '1e400' },
  { id: 'nested-path', description: 'A bad value deep inside: the path names it.', text: '{"a":[1,{"$t":"x","v":0}]}' },
];

export interface CodecError {
  code: string;
  /** Where in the value: `$`, `.name`, `["odd key"]`, `[2]`, `.entries[i].key|value`, `.values[i]`. */
  path: string;
}

/**
 * An encoded form as a JSON value when JSON.stringify gives back the very text (the texts are written compact),
 * else as the text itself: -0, 1e400 and exponent notation do not survive a JSON round trip.
 */
function encodedField(text: string): { encoded: unknown } | { encodedText: string } {
  const parsed = JSON.parse(text) as unknown;
  return JSON.stringify(parsed) === text ? { encoded: parsed } : { encodedText: text };
}

function codecError(fn: () => unknown): CodecError {
  try {
    fn();
  } catch (error) {
    if (error instanceof StasisCodecError) return { code: error.code, path: error.path };
    throw error;
  }
  throw new Error('expected a refusal');
}

function codecVectors() {
  const codec = vectorCodec();
  const key = 'vector';
  return {
    warning: 'Generated by scripts/make-vectors.ts from server-stub/codec; do not edit by hand.',
    codec: {
      name: 'json',
      maxDepth: 200,
      classes: [{ tag: 'Money', type: 'class Money { cents: bigint; currency: string }', data: '[cents (BigInt, so itself encoded: {"$t":"bigint","v":…}), currency (3 capital letters)]' }],
    },
    roundTrip: ROUND_TRIPS.map((s) => ({ id: s.id, description: s.description, value: s.js, encoded: codec.encode(s.make(), key) })),
    decodeOnly: DECODE_ONLY.map((s) => ({
      id: s.id,
      description: s.description,
      ...encodedField(s.text),
      value: s.js,
      reencoded: codec.encode(codec.decode(JSON.parse(s.text), key), key),
    })),
    encodeRefusals: ENCODE_REFUSALS.map((s) => ({ id: s.id, description: s.description, value: s.js, error: codecError(() => codec.encode(s.make(), key)) })),
    decodeRefusals: DECODE_REFUSALS.map((s) => ({ id: s.id, description: s.description, ...encodedField(s.text), error: codecError(() => codec.decode(JSON.parse(s.text), key)) })),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------------------

/**
 * JSON with two-space indentation down to the fields of each entry (level 3); anything deeper is written on
 * one line, so a case reads as one field per line and deep values (200 nested arrays) stay short.
 */
function pretty(value: unknown, level = 0): string {
  if (level >= 3 || value === null || typeof value !== 'object') return JSON.stringify(value);
  const pad = '  '.repeat(level + 1);
  const end = '  '.repeat(level);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => pad + pretty(v, level + 1)).join(',\n')}\n${end}]`;
  }
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, v]) => `${pad}${JSON.stringify(k)}: ${pretty(v, level + 1)}`).join(',\n')}\n${end}}`;
}

/** Every vector file, by name, as the text to write. Deterministic. */
export async function makeVectors(): Promise<Record<string, string>> {
  const ring = await parseKeyRing(RING_SPEC);
  for (const cookie of [COOKIE, OTHER_COOKIE, '']) {
    if (bindingHash(cookie) !== bid(cookie)) throw new Error('bid does not match the reference bindingHash');
  }
  const keys = {
    warning: TEST_ONLY,
    ring: RING_SPEC,
    ringFormat: 'STASIS_KEYS: comma- or whitespace-separated kid:secret pairs, secret 32 bytes base64url; the first pair seals, all open.',
    keys: KEYS.map((k) => ({ kid: k.kid, key: k.key, inRing: k.inRing, sealing: k.sealing, note: k.note })),
    audience: AUDIENCE,
    otherAudience: OTHER_AUDIENCE,
    schema: SCHEMA,
    otherSchema: OTHER_SCHEMA,
    sid: SID,
    otherSid: OTHER_SID,
    now: NOW,
    maxBlobBytes: MAX_BLOB_BYTES,
    codecs: CODECS,
    cookieName: 'stasis_bid',
    cookies: [
      { name: 'this browser', value: COOKIE, bid: bid(COOKIE) },
      { name: 'another browser', value: OTHER_COOKIE, bid: bid(OTHER_COOKIE) },
      { name: 'empty', value: '', bid: bid('') },
    ],
    bidRule: 'bid = base64url(SHA-256(UTF-8 bytes of the cookie value)), no padding',
  };
  const blobs = {
    warning: 'Generated by scripts/make-vectors.ts; outcomes observed by running the reference (server-stub). Keys: keys.json (TEST ONLY).',
    cases: await blobCases(ring),
  };
  return {
    'keys.json': `${pretty(keys)}\n`,
    'blobs.json': `${pretty(blobs)}\n`,
    'codec.json': `${pretty(codecVectors())}\n`,
  };
}

async function main(): Promise<void> {
  await mkdir(VECTORS_DIR, { recursive: true });
  for (const [name, text] of Object.entries(await makeVectors())) {
    await writeFile(`${VECTORS_DIR}${name}`, text);
    console.log(`wrote docs/vectors/${name} (${text.length} bytes)`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
