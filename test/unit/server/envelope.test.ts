import { CompactEncrypt, compactDecrypt, decodeProtectedHeader } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { open, seal, type SealedSession } from '../../../server-stub/envelope/envelope.js';
import { createKeyRing, importAesKey, type KeyRing } from '../../../server-stub/envelope/key-ring.js';
import { StasisError } from '../../../server-stub/errors.js';
import { BLOB_TYPE, PROTOCOL_VERSION, readBlobHeader } from '../../../src/protocol/index.js';
import { b64url, expectCode, flipMiddle, newKey, newSid, parts, ringOf, unb64url, type TestKey } from './helpers.js';

const sid = newSid();
const session = (over: Partial<SealedSession> = {}): SealedSession => ({
  v: PROTOCOL_VERSION,
  sid,
  gen: 3,
  jti: 'jti-0123456789abcdef',
  iat: 1_900_000_000,
  exp: 1_900_604_800,
  aud: 'test-app',
  bid: 'binding-hash',
  schema: '7',
  values: { 'cart.items': { c: 'json', v: { $t: 'Map', v: [['pen', 2]] } }, note: { c: 'json', v: 'héllo ✓' } },
  ...over,
});

let k1: TestKey;
let k2: TestKey;
let ring1: KeyRing;
let blob: string;

beforeAll(async () => {
  k1 = newKey('k1');
  k2 = newKey('k2');
  ring1 = await ringOf(k1);
  blob = await seal(session(), ring1);
});

/** Seals arbitrary plaintext under a raw key with a Stasis-looking header (for crafted blobs). */
async function craft(raw: Uint8Array, plaintext: unknown, header: Record<string, unknown> = {}): Promise<string> {
  const s = session();
  return new CompactEncrypt(new TextEncoder().encode(typeof plaintext === 'string' ? plaintext : JSON.stringify(plaintext)))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: 'k1', typ: BLOB_TYPE, sid: s.sid, gen: s.gen, exp: s.exp, ...header })
    .encrypt(raw);
}

describe('seal / open', () => {
  it('round-trips a session exactly', async () => {
    expect(await open(blob, ring1)).toStrictEqual(session());
  });

  it('uses a fresh IV per seal, so two seals of the same session differ but both open', async () => {
    const again = await seal(session(), ring1);
    expect(again).not.toBe(blob);
    expect(parts(again)[2]).not.toBe(parts(blob)[2]);
    expect(await open(again, ring1)).toStrictEqual(session());
  });

  it('produces standard JWE compact that jose opens with the raw key', async () => {
    const p = parts(blob);
    expect(p[1]).toBe(''); // dir: no encrypted key
    expect(Buffer.from(p[2], 'base64url')).toHaveLength(12); // 96-bit GCM IV
    expect(Buffer.from(p[4], 'base64url')).toHaveLength(16); // 128-bit tag
    const { plaintext, protectedHeader } = await compactDecrypt(blob, k1.raw);
    expect(JSON.parse(new TextDecoder().decode(plaintext))).toStrictEqual(session());
    expect(protectedHeader).toStrictEqual(decodeProtectedHeader(blob));
  });

  it('writes the protected header alg dir, enc A256GCM, kid, typ, sid, gen, exp and nothing secret', () => {
    const header = decodeProtectedHeader(blob);
    expect(header).toStrictEqual({
      alg: 'dir',
      enc: 'A256GCM',
      kid: 'k1',
      typ: 'stasis+jwe',
      sid,
      gen: 3,
      exp: 1_900_604_800,
    });
    // The values, binding hash, audience and jti are only in the ciphertext.
    const clear = Buffer.from(parts(blob)[0], 'base64url').toString();
    for (const secret of ['binding-hash', 'jti-0123456789abcdef', 'test-app', 'pen']) expect(clear).not.toContain(secret);
  });

  it('readBlobHeader reads the housekeeping copies without a key', () => {
    expect(readBlobHeader(blob)).toStrictEqual({ sid, gen: 3, exp: 1_900_604_800, kid: 'k1' });
    expect(readBlobHeader('not a blob')).toBeUndefined();
    const fake = (h: Record<string, unknown>) => `${b64url({ typ: BLOB_TYPE, sid, gen: 3, exp: 1, kid: 'k1', ...h })}.x.y.z.w`;
    expect(readBlobHeader(fake({}))).toStrictEqual({ sid, gen: 3, exp: 1, kid: 'k1' });
    expect(readBlobHeader(fake({ gen: '3' }))).toBeUndefined();
    expect(readBlobHeader(fake({ kid: 1 }))).toBeUndefined();
    expect(readBlobHeader(fake({ sid: undefined }))).toBeUndefined();
  });
});

describe('open: tampering with each part', () => {
  const rebuild = (p: string[]) => p.join('.');

  it('header: any change to the authenticated header (same kid) → tampered', async () => {
    const p = parts(blob);
    for (const change of [{ gen: 4 }, { exp: 2_000_000_000 }, { sid: newSid() }, { extra: 1 }]) {
      const header = { ...unb64url(p[0]), ...change };
      await expectCode(() => open(rebuild([b64url(header), ...p.slice(1)]), ring1), 'tampered');
    }
  });

  it('header: changed to a kid the ring does not hold → unknown-key', async () => {
    const p = parts(blob);
    const error = await expectCode(() => open(rebuild([b64url({ ...unb64url(p[0]), kid: 'k9' }), ...p.slice(1)]), ring1), 'unknown-key');
    expect(error.message).toContain('k9');
  });

  it('header: not a Stasis header (alg, enc, typ, kid) → malformed', async () => {
    const p = parts(blob);
    for (const change of [{ alg: 'A256KW' }, { enc: 'A128GCM' }, { typ: 'JWT' }, { kid: 7 }, { kid: undefined }]) {
      const header = { ...unb64url(p[0]), ...change };
      await expectCode(() => open(rebuild([b64url(header), ...p.slice(1)]), ring1), 'malformed');
    }
  });

  it('header: not JSON, or not base64url → malformed', async () => {
    const p = parts(blob);
    await expectCode(() => open(rebuild([Buffer.from('{not json').toString('base64url'), ...p.slice(1)]), ring1), 'malformed');
    await expectCode(() => open(rebuild(['!!!!', ...p.slice(1)]), ring1), 'malformed');
    await expectCode(() => open(rebuild(['', ...p.slice(1)]), ring1), 'malformed');
  });

  it('encrypted key: dir must have none; any value → malformed', async () => {
    const p = parts(blob);
    await expectCode(() => open(rebuild([p[0], 'AAAAAAAAAAAAAAAAAAAAAA', p[2], p[3], p[4]]), ring1), 'malformed');
  });

  it('iv: a flipped middle character → tampered; a wrong length → malformed', async () => {
    const p = parts(blob);
    await expectCode(() => open(rebuild([p[0], p[1], flipMiddle(p[2]), p[3], p[4]]), ring1), 'tampered');
    await expectCode(() => open(rebuild([p[0], p[1], p[2].slice(0, 8), p[3], p[4]]), ring1), 'malformed');
  });

  it('ciphertext: a flipped middle character → tampered', async () => {
    const p = parts(blob);
    await expectCode(() => open(rebuild([p[0], p[1], p[2], flipMiddle(p[3]), p[4]]), ring1), 'tampered');
  });

  it('tag: a flipped middle character → tampered', async () => {
    const p = parts(blob);
    await expectCode(() => open(rebuild([p[0], p[1], p[2], p[3], flipMiddle(p[4])]), ring1), 'tampered');
  });

  it('swapping the ciphertext of another blob under the same key → tampered', async () => {
    const other = parts(await seal(session({ gen: 9 }), ring1));
    const p = parts(blob);
    await expectCode(() => open(rebuild([p[0], p[1], other[2], other[3], other[4]]), ring1), 'tampered');
  });
});

describe('open: structure', () => {
  it('refuses a garbage string, the wrong number of parts and non-strings as malformed', async () => {
    for (const bad of ['', 'garbage', 'a.b.c.d', `${blob}.x`, parts(blob).slice(0, 4).join('.'), '.....']) {
      await expectCode(() => open(bad, ring1), 'malformed');
    }
    await expectCode(() => open(42 as unknown as string, ring1), 'malformed');
    await expectCode(() => open(undefined as unknown as string, ring1), 'malformed');
  });

  it('errors are StasisErrors whose messages never carry the key or plaintext', async () => {
    const p = parts(blob);
    const error = await expectCode(() => open([p[0], p[1], p[2], flipMiddle(p[3]), p[4]].join('.'), ring1), 'tampered');
    expect(error).toBeInstanceOf(StasisError);
    expect(error.name).toBe('StasisError');
    expect(error.message).not.toContain(k1.spec.split(':')[1]);
    expect(error.message).not.toContain('binding-hash');
  });

  it('authenticated but the header copies disagree with the plaintext → tampered', async () => {
    await expectCode(async () => open(await craft(k1.raw, session(), { gen: 2 }), ring1), 'tampered');
    await expectCode(async () => open(await craft(k1.raw, session(), { sid: newSid() }), ring1), 'tampered');
    await expectCode(async () => open(await craft(k1.raw, session(), { exp: 1 }), ring1), 'tampered');
    // Control: the same crafting with agreeing copies opens.
    expect(await open(await craft(k1.raw, session()), ring1)).toStrictEqual(session());
  });

  it('authenticated plaintext that is not JSON, or lacks a field, or has another version → malformed', async () => {
    await expectCode(async () => open(await craft(k1.raw, 'not json'), ring1), 'malformed');
    await expectCode(async () => open(await craft(k1.raw, null), ring1), 'malformed');
    await expectCode(async () => open(await craft(k1.raw, [1, 2]), ring1), 'malformed');
    await expectCode(async () => open(await craft(k1.raw, session({ v: PROTOCOL_VERSION + 1 })), ring1), 'malformed');
    await expectCode(async () => open(await craft(k1.raw, session({ values: [] as never })), ring1), 'malformed');
    await expectCode(async () => open(await craft(k1.raw, session({ gen: 1.5 }), { gen: 1.5 }), ring1), 'malformed');
    const { jti: _jti, ...noJti } = session();
    await expectCode(async () => open(await craft(k1.raw, noJti), ring1), 'malformed');
  });
});

describe('open: keys', () => {
  it('a ring without the kid → unknown-key', async () => {
    await expectCode(async () => open(blob, await ringOf(k2)), 'unknown-key');
  });

  it('a different key under the same kid → tampered', async () => {
    const impostor = newKey('k1');
    await expectCode(async () => open(blob, await ringOf(impostor)), 'tampered');
  });

  it('rotation: a blob sealed with [k1] opens with [k2, k1]; new blobs are sealed with k2', async () => {
    const rotated = await ringOf(k2, k1);
    expect(await open(blob, rotated)).toStrictEqual(session());
    const fresh = await seal(session(), rotated);
    expect(decodeProtectedHeader(fresh).kid).toBe('k2');
    expect(await open(fresh, rotated)).toStrictEqual(session());
    // After k1 is retired, k1 blobs are unknown-key, k2 blobs still open.
    const retired = await ringOf(k2);
    await expectCode(() => open(blob, retired), 'unknown-key');
    expect((await open(fresh, retired)).gen).toBe(3);
    // And a ring that only knows k1 cannot open the k2 blob.
    await expectCode(() => open(fresh, ring1), 'unknown-key');
  });

  it('works with a ring built from imported raw keys (createKeyRing)', async () => {
    const ring = createKeyRing([{ kid: 'k1', key: importAesKey(k1.raw) }]);
    expect(await open(blob, ring)).toStrictEqual(session());
  });
});
