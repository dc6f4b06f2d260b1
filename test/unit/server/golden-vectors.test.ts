/**
 * The golden vectors of docs/vectors/ (made by scripts/make-vectors.ts) against the reference server:
 * every valid blob opens to exactly its plaintext and every invalid one is refused with exactly its code
 * (envelope, claims, values), jose opens the valid ones too (an independent JWE implementation), the codec
 * vectors hold both ways, and regenerating the files gives them back byte for byte, so the published vectors
 * never drift from the code.
 */
import { readFileSync } from 'node:fs';
import { compactDecrypt } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  DECODE_ONLY,
  DECODE_REFUSALS,
  ENCODE_REFUSALS,
  makeVectors,
  ROUND_TRIPS,
  VECTORS_DIR,
  vectorCodec,
  type BlobCase,
  type CodecError,
} from '../../../scripts/make-vectors.js';
import { jsonCodec } from '../../../server-stub/codec/json-codec.js';
import { open, type SealedSession } from '../../../server-stub/envelope/envelope.js';
import { parseKeyRing, type KeyRing } from '../../../server-stub/envelope/key-ring.js';
import { StasisCodecError, StasisError } from '../../../server-stub/errors.js';
import { silentLogger } from '../../../server-stub/logger.js';
import { bindingHash, SessionSealer } from '../../../server-stub/session/session-sealer.js';
import { decodeStoredValues } from '../../../server-stub/session/state-registry.js';

interface KeysFile {
  ring: string;
  keys: { kid: string; key: string; inRing: boolean; sealing: boolean }[];
  cookies: { value: string; bid: string }[];
}
interface BlobsFile {
  cases: BlobCase[];
}
interface Encoded {
  encoded?: unknown;
  encodedText?: string;
}
interface CodecFile {
  roundTrip: { id: string; encoded: unknown }[];
  decodeOnly: (Encoded & { id: string; reencoded: unknown })[];
  encodeRefusals: { id: string; error: CodecError }[];
  decodeRefusals: (Encoded & { id: string; error: CodecError })[];
}

const read = (name: string) => readFileSync(`${VECTORS_DIR}${name}`, 'utf8');
const keys = JSON.parse(read('keys.json')) as KeysFile;
const blobs = JSON.parse(read('blobs.json')) as BlobsFile;
const codecFile = JSON.parse(read('codec.json')) as CodecFile;

const ringOf = (): Promise<KeyRing> => parseKeyRing(keys.ring);
const keyBytes = (kid: string) => new Uint8Array(Buffer.from(keys.keys.find((k) => k.kid === kid)!.key, 'base64url'));
const encodedOf = (e: Encoded): unknown => (e.encodedText !== undefined ? JSON.parse(e.encodedText) : e.encoded);

/** The code a StasisError thrown (or rejected) by fn carries, or undefined when fn succeeds. */
async function codeOf(fn: () => unknown): Promise<string | undefined> {
  try {
    await fn();
    return undefined;
  } catch (error) {
    if (error instanceof StasisError) return error.code;
    throw error;
  }
}

function codecErrorOf(fn: () => unknown): CodecError {
  try {
    fn();
  } catch (error) {
    if (error instanceof StasisCodecError) return { code: error.code, path: error.path };
    throw error;
  }
  throw new Error('expected the codec to refuse');
}

describe('golden vectors: keys.json', () => {
  it('the ring string and the raw parts are the same ring, and each bid is the SHA-256 of its cookie', async () => {
    const ring = await ringOf();
    const inRing = keys.keys.filter((k) => k.inRing);
    expect(ring.kids).toEqual(inRing.map((k) => k.kid));
    expect(ring.current.kid).toBe(keys.keys.find((k) => k.sealing)!.kid);
    expect(inRing.map((k) => `${k.kid}:${k.key}`).join(',')).toBe(keys.ring);
    for (const k of keys.keys) expect(keyBytes(k.kid)).toHaveLength(32);
    for (const c of keys.cookies) expect(bindingHash(c.value)).toBe(c.bid);
  });
});

describe('golden vectors: blobs.json through the reference server', () => {
  it('covers every outcome open and verify produce', () => {
    const outcomes = new Set(blobs.cases.map((c) => c.expect.outcome));
    for (const code of ['ok', 'malformed', 'tampered', 'unknown-key', 'wrong-binding', 'expired', 'schema-reset', 'too-large']) {
      expect(outcomes, code).toContain(code);
    }
    expect(new Set(blobs.cases.map((c) => c.id)).size).toBe(blobs.cases.length);
  });

  it.each(blobs.cases.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const ring = await ringOf();
    const { context } = c;
    const sealer = new SessionSealer({
      ring,
      audience: context.audience,
      schema: context.schema,
      ttlSeconds: 7 * 24 * 3600,
      maxBlobBytes: context.maxBlobBytes,
      warnBlobBytes: context.maxBlobBytes,
      logger: silentLogger,
      now: () => context.now * 1000,
    });
    let sealed: SealedSession | undefined;
    const refused = await codeOf(async () => {
      sealed = await sealer.verify(c.sid, c.blob, context.cookie ?? undefined);
    });
    const byOpen = await codeOf(() => open(c.blob, ring));
    switch (c.expect.stage) {
      case 'open':
        expect(refused).toBe(c.expect.outcome);
        expect(byOpen).toBe(c.expect.outcome);
        return;
      case 'verify':
        expect(refused).toBe(c.expect.outcome);
        expect(byOpen).not.toBe(c.expect.outcome);
        return;
      case 'values':
      case 'done':
    }
    expect(refused).toBeUndefined();
    const codecs = (name: string) => (context.codecs.includes(name) && name === 'json' ? jsonCodec : undefined);
    const undecodable = await codeOf(() => decodeStoredValues(sealed!.values, codecs));
    if (c.expect.stage === 'values') {
      expect(undecodable).toBe(c.expect.outcome);
      return;
    }
    expect(c.expect.outcome).toBe('ok');
    expect(undecodable).toBeUndefined();
    expect(sealed).toStrictEqual(c.expect.plaintext);
    const header: unknown = JSON.parse(Buffer.from(c.blob.split('.')[0]!, 'base64url').toString('utf8'));
    expect(header).toStrictEqual(c.expect.header);
  });
});

describe('golden vectors: jose opens every valid blob (interop oracle)', () => {
  const valid = blobs.cases.filter((c) => c.expect.outcome === 'ok');
  it.each(valid.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const { kid } = c.expect.header as { kid: string };
    const { plaintext, protectedHeader } = await compactDecrypt(c.blob, keyBytes(kid));
    expect(protectedHeader).toStrictEqual(c.expect.header);
    expect(JSON.parse(new TextDecoder().decode(plaintext))).toStrictEqual(c.expect.plaintext);
  });
});

describe('golden vectors: codec.json through the reference codec', () => {
  const codec = vectorCodec();
  const key = 'vector';

  it('lists exactly the generator\'s cases', () => {
    expect(codecFile.roundTrip.map((v) => v.id)).toEqual(ROUND_TRIPS.map((s) => s.id));
    expect(codecFile.decodeOnly.map((v) => v.id)).toEqual(DECODE_ONLY.map((s) => s.id));
    expect(codecFile.encodeRefusals.map((v) => v.id)).toEqual(ENCODE_REFUSALS.map((s) => s.id));
    expect(codecFile.decodeRefusals.map((v) => v.id)).toEqual(DECODE_REFUSALS.map((s) => s.id));
  });

  it.each(ROUND_TRIPS.map((s) => [s.id, s] as const))('round trip: %s', (id, spec) => {
    const { encoded } = codecFile.roundTrip.find((v) => v.id === id)!;
    expect(codec.encode(spec.make(), key)).toStrictEqual(encoded);
    // What the JSON file holds went through JSON text: decode that, as a server reading a blob does.
    const decoded = codec.decode(JSON.parse(JSON.stringify(encoded)), key);
    expect(decoded).toStrictEqual(spec.make());
    expect(codec.encode(decoded, key)).toStrictEqual(encoded);
  });

  it.each(DECODE_ONLY.map((s) => [s.id, s] as const))('decode only: %s', (id, spec) => {
    const vector = codecFile.decodeOnly.find((v) => v.id === id)!;
    const decoded = codec.decode(encodedOf(vector), key);
    expect(decoded).toStrictEqual(spec.make());
    expect(codec.encode(decoded, key)).toStrictEqual(vector.reencoded);
  });

  it.each(ENCODE_REFUSALS.map((s) => [s.id, s] as const))('encode refuses: %s', (id, spec) => {
    const { error } = codecFile.encodeRefusals.find((v) => v.id === id)!;
    expect(codecErrorOf(() => codec.encode(spec.make(), key))).toStrictEqual(error);
  });

  it.each(codecFile.decodeRefusals.map((v) => [v.id, v] as const))('decode refuses: %s', (_id, vector) => {
    expect(codecErrorOf(() => codec.decode(encodedOf(vector), key))).toStrictEqual(vector.error);
  });
});

describe('golden vectors: the files are what the generator makes', () => {
  it('regenerating gives byte-identical files (run scripts/make-vectors.ts after a deliberate change)', async () => {
    const files = await makeVectors();
    expect(Object.keys(files).sort()).toEqual(['blobs.json', 'codec.json', 'keys.json']);
    for (const [name, text] of Object.entries(files)) expect(read(name), name).toBe(text);
  });
});
