/**
 * A blob is one string. Base64url decoders ignore the bits of a part's last character that carry no byte
 * (4 bits when the part ends one byte into a 3-byte group, 2 bits when it ends two bytes in) and a lone
 * trailing character, so without a check up to 16 different strings per part would open as the same blob.
 * `open` refuses every encoding but the canonical one: unused bits set → `tampered`; a length of 1 mod 4
 * (not base64url at all) → `malformed`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { open, seal, type SealedSession } from '../../../server-stub/envelope/envelope.js';
import type { KeyRing } from '../../../server-stub/envelope/key-ring.js';
import { PROTOCOL_VERSION } from '../../../src/protocol/index.js';
import { expectCode, newKey, newSid, parts, ringOf } from './helpers.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const session = (sid: string, note: string): SealedSession => ({
  v: PROTOCOL_VERSION,
  sid,
  gen: 3,
  jti: 'jti-canonical',
  iat: 1_900_000_000,
  exp: 1_900_604_800,
  aud: 'test-app',
  bid: 'binding-hash',
  schema: '1',
  values: { note: { c: 'json', v: note } },
});

/** How many bits of a part's last character carry no byte: 0, 2 or 4. */
const unusedBits = (part: string) => [0, 0, 4, 2][part.length % 4]!;

/** Every other string that decodes to the same bytes as `part` by setting unused bits of its last character. */
function variants(part: string): string[] {
  const bits = unusedBits(part);
  const last = ALPHABET.indexOf(part.at(-1)!);
  const out: string[] = [];
  for (let k = 1; k < 1 << bits; k++) out.push(part.slice(0, -1) + ALPHABET[last ^ k]!);
  return out;
}

const withPart = (blob: string, index: number, value: string) => {
  const p: string[] = parts(blob);
  p[index] = value;
  return p.join('.');
};

let ring: KeyRing;
/** Blobs whose header and ciphertext end 1 byte and 2 bytes into a 3-byte group (4 and 2 unused bits). */
const byResidue = new Map<string, string>();

beforeAll(async () => {
  ring = await ringOf(newKey('k1'));
  // The header's length follows the sid's, the ciphertext's the note's: find each combination.
  for (let sidExtra = 0; sidExtra < 3; sidExtra++) {
    for (let noteLength = 0; noteLength < 3; noteLength++) {
      const blob = await seal(session(newSid() + 'A'.repeat(sidExtra), 'n'.repeat(noteLength)), ring);
      const p = parts(blob);
      byResidue.set(`${p[0].length % 4}/${p[3].length % 4}`, blob);
    }
  }
});

const blobWith = (part: 0 | 3, bits: 2 | 4): string => {
  const rest = bits === 4 ? 2 : 3;
  const found = [...byResidue].find(([key]) => Number(key.split('/')[part === 0 ? 0 : 1]) === rest);
  if (!found) throw new Error(`no blob with part ${part} of length ${rest} mod 4`);
  return found[1];
};

describe('open refuses non-canonical base64url', () => {
  it('every blob seal makes is canonical in every part, and opens', async () => {
    for (const blob of byResidue.values()) {
      for (const part of parts(blob)) expect(Buffer.from(part, 'base64url').toString('base64url')).toBe(part);
      await expect(open(blob, ring)).resolves.toMatchObject({ gen: 3 });
    }
  });

  it('the tag (16 bytes, 22 characters): each of the 15 other last characters → tampered; the original opens', async () => {
    const blob = byResidue.values().next().value!;
    const tag = parts(blob)[4];
    expect(tag).toHaveLength(22);
    expect(unusedBits(tag)).toBe(4);
    const others = variants(tag);
    expect(others).toHaveLength(15);
    for (const other of others) {
      expect(Buffer.from(other, 'base64url')).toStrictEqual(Buffer.from(tag, 'base64url')); // the same bytes
      await expectCode(() => open(withPart(blob, 4, other), ring), 'tampered');
    }
    await expect(open(blob, ring)).resolves.toMatchObject({ gen: 3, jti: 'jti-canonical' });
  });

  for (const bits of [4, 2] as const) {
    it(`the ciphertext ending with ${bits} unused bits: every variant → tampered; the original opens`, async () => {
      const blob = blobWith(3, bits);
      const ciphertext = parts(blob)[3];
      expect(unusedBits(ciphertext)).toBe(bits);
      for (const other of variants(ciphertext)) {
        expect(Buffer.from(other, 'base64url')).toStrictEqual(Buffer.from(ciphertext, 'base64url'));
        await expectCode(() => open(withPart(blob, 3, other), ring), 'tampered');
      }
      await expect(open(blob, ring)).resolves.toMatchObject({ gen: 3 });
    });

    it(`the header ending with ${bits} unused bits: every variant → tampered; the original opens`, async () => {
      const blob = blobWith(0, bits);
      const header = parts(blob)[0];
      expect(unusedBits(header)).toBe(bits);
      for (const other of variants(header)) {
        expect(Buffer.from(other, 'base64url')).toStrictEqual(Buffer.from(header, 'base64url'));
        await expectCode(() => open(withPart(blob, 0, other), ring), 'tampered');
      }
      await expect(open(blob, ring)).resolves.toMatchObject({ gen: 3 });
    });
  }

  it('the iv (12 bytes, 16 characters) has no unused bits; a lone extra character (same bytes) → malformed', async () => {
    const blob = byResidue.values().next().value!;
    const iv = parts(blob)[2];
    expect(iv).toHaveLength(16);
    expect(variants(iv)).toEqual([]);
    for (const extra of ['A', 'Q', '_']) {
      expect(Buffer.from(iv + extra, 'base64url')).toStrictEqual(Buffer.from(iv, 'base64url'));
      await expectCode(() => open(withPart(blob, 2, iv + extra), ring), 'malformed');
    }
    await expect(open(blob, ring)).resolves.toMatchObject({ gen: 3 });
  });

  it('a lone extra character on the ciphertext or the header (length 1 mod 4) → malformed', async () => {
    const checked = new Set<number>();
    for (const blob of byResidue.values()) {
      for (const index of [0, 3] as const) {
        const part = parts(blob)[index];
        if (part.length % 4 !== 0) continue; // only there does one more character leave the bytes unchanged
        expect(Buffer.from(`${part}A`, 'base64url')).toStrictEqual(Buffer.from(part, 'base64url'));
        await expectCode(() => open(withPart(blob, index, `${part}A`), ring), 'malformed');
        checked.add(index);
      }
    }
    expect([...checked].sort()).toEqual([0, 3]);
  });

  it('a non-canonical blob sealed with a key this server does not hold still answers unknown-key', async () => {
    const blob = byResidue.values().next().value!;
    const tag = parts(blob)[4];
    const other = await ringOf(newKey('k2'));
    await expectCode(() => open(withPart(blob, 4, variants(tag)[0]!), other), 'unknown-key');
  });
});
