import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { open, seal, type SealedSession } from '../../../server-stub/envelope/envelope.js';
import { generateKeySpec, parseKeyRing, type KeyRing } from '../../../server-stub/envelope/key-ring.js';
import { StasisConfigError } from '../../../server-stub/errors.js';
import { PROTOCOL_VERSION } from '../../../src/protocol/index.js';
import { newSid } from './helpers.js';

const secret = (bytes = 32) => randomBytes(bytes).toString('base64url');

async function refuses(spec: string | undefined, message: RegExp): Promise<StasisConfigError> {
  const error = await parseKeyRing(spec).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StasisConfigError);
  expect((error as Error).message).toMatch(message);
  return error as StasisConfigError;
}

const sample: SealedSession = {
  v: PROTOCOL_VERSION,
  sid: newSid(),
  gen: 1,
  jti: 'j',
  iat: 1,
  exp: 2,
  aud: 'a',
  bid: 'b',
  schema: '1',
  values: {},
};

/** True when `a` and `b` hold the same key material: what one seals, the other opens. */
async function sameKey(a: KeyRing, b: KeyRing): Promise<boolean> {
  return open(await seal(sample, a), b).then(
    () => true,
    () => false,
  );
}

describe('parseKeyRing', () => {
  it('parses two keys; the first seals and both open', async () => {
    const ring = await parseKeyRing(`2026-11:${secret()},2026-10:${secret()}`);
    expect(ring.kids).toEqual(['2026-11', '2026-10']);
    expect(ring.current.kid).toBe('2026-11');
    expect(ring.find('2026-10')?.kid).toBe('2026-10');
    expect(ring.find('2026-11')).toBe(ring.current);
    expect(ring.find('2026-09')).toBeUndefined();
    expect(ring.current.key.type).toBe('secret');
    expect(ring.current.key.symmetricKeySize).toBe(32);
  });

  it('accepts commas, spaces, newlines and tabs as separators, and surrounding whitespace', async () => {
    const a = `a:${secret()}`;
    const b = `b.v2_x-y:${secret()}`;
    const c = `C9:${secret()}`;
    for (const spec of [`${a},${b},${c}`, `${a} ${b}\n${c}`, `  ${a},\n\t${b} ,, ${c}\n`]) {
      expect((await parseKeyRing(spec)).kids).toEqual(['a', 'b.v2_x-y', 'C9']);
    }
  });

  it('accepts standard base64 with padding for the same bytes as base64url', async () => {
    let bytes = randomBytes(32);
    // Make sure the standard form really uses + or / so the translation is exercised.
    while (!/[+/]/.test(bytes.toString('base64'))) bytes = randomBytes(32);
    const url = await parseKeyRing(`k:${bytes.toString('base64url')}`);
    const std = await parseKeyRing(`k:${bytes.toString('base64')}`);
    expect(bytes.toString('base64')).toMatch(/=$/);
    expect(await sameKey(url, std)).toBe(true);
    expect(await sameKey(url, await parseKeyRing(`k:${secret()}`))).toBe(false);
  });

  it('refuses an empty or missing spec, naming the variable and how to generate a key', async () => {
    for (const spec of [undefined, '', '   ', '\n\t']) await refuses(spec, /STASIS_KEYS is empty/);
    await expect(parseKeyRing('', 'MY_KEYS')).rejects.toThrow(StasisConfigError);
    await expect(parseKeyRing('', 'MY_KEYS')).rejects.toThrow(/MY_KEYS is empty/);
    await refuses(',, ,', /at least one key/);
  });

  it('refuses an entry without kid:secret form, without echoing the secret', async () => {
    const s = secret();
    const error = await refuses(s, /not of the form kid:secret/);
    expect(error.message).not.toContain(s);
    await refuses(`:${secret()}`, /not of the form kid:secret/);
    await refuses(`k1:${secret()},${secret()}`, /not of the form kid:secret/);
  });

  it('refuses key ids with other characters or over 64 characters', async () => {
    for (const kid of ['k/1', 'k@1', 'ключ', 'k+1', 'x'.repeat(65)]) await refuses(`${kid}:${secret()}`, /may only use letters/);
    expect((await parseKeyRing(`${'x'.repeat(64)}:${secret()}`)).current.kid).toHaveLength(64);
  });

  it('refuses a duplicate key id', async () => {
    await refuses(`k1:${secret()},k2:${secret()},k1:${secret()}`, /"k1" appears twice/);
  });

  it('refuses keys that are not exactly 256 bits', async () => {
    await refuses(`k1:${secret(16)}`, /"k1" is 128 bits; A256GCM needs exactly 256 bits/);
    await refuses(`k1:${secret(31)}`, /248 bits/);
    await refuses(`k1:${secret(33)}`, /264 bits/);
    await refuses(`k1:${secret(64)}`, /512 bits/);
  });

  it('refuses a secret that is not base64, without echoing it', async () => {
    const bad = `${secret().slice(0, 40)}$%!`;
    const error = await refuses(`k1:${bad}`, /"k1" is 0 bits/);
    expect(error.message).not.toContain(bad);
    await refuses('k1:', /"k1" is 0 bits/);
    await refuses(`k1:${secret()}:extra`, /"k1" is 0 bits/);
    await refuses(`k1:=${secret()}`, /"k1" is 0 bits/);
  });

  it('the error of a later key names that key, so the operator can find it', async () => {
    await refuses(`good:${secret()},bad:${secret(16)}`, /"bad" is 128 bits/);
  });
});

describe('generateKeySpec', () => {
  it('produces a spec that parses, with the given or a dev kid, and fresh key material each time', async () => {
    const spec = generateKeySpec('k-test');
    expect(spec).toMatch(/^k-test:[A-Za-z0-9_-]{43}$/);
    const ring = await parseKeyRing(spec);
    expect(ring.kids).toEqual(['k-test']);

    const dev = generateKeySpec();
    expect(dev).toMatch(/^dev-[a-z0-9]+:[A-Za-z0-9_-]{43}$/);
    expect((await parseKeyRing(dev)).current.kid).toMatch(/^dev-/);

    const other = await parseKeyRing(generateKeySpec('k-test'));
    expect(await sameKey(ring, ring)).toBe(true);
    expect(await sameKey(ring, other)).toBe(false);
  });

  it('two generated specs join into a ring', async () => {
    const ring = await parseKeyRing(`${generateKeySpec('new')},${generateKeySpec('old')}`);
    expect(ring.kids).toEqual(['new', 'old']);
  });
});
