/**
 * (--test-keys) Blobs sealed at run time with the published test key, each wrong in one way the protocol
 * decides: the header and encoding rules, the plaintext shape, the claims and the expiry boundary.
 */
import { randomBytes } from 'node:crypto';
import { describe, outcomeOf } from '../http.js';
import { joinBlob, nonCanonical, splitBlob } from '../jwe.js';
import { forge, forgeOfLength, type ForgeOptions, type TestVectors } from '../vectors.js';
import type { Context, Group, RequirementSpec } from '../types.js';

const CHECKS = 'Resume checks, in order';
const spec = (id: string, title: string, section: string): RequirementSpec => ({ id, level: 'MUST', title: `(--test-keys) ${title}`, section });

export const forgedGroup: Group = {
  name: 'forged',
  requirements: [
    spec('BLOB-REFUSE-ZIP', 'a header with `zip` answers `malformed`', 'rule 5'),
    spec('BLOB-REFUSE-CRIT', 'a header with `crit` answers `malformed`', 'rule 5'),
    spec('BLOB-HEADER-COPY-TYPES', 'a header without a string sid, or with gen or exp not an integer, answers `malformed`', 'rule 5'),
    spec('BLOB-REFUSE-ENCRYPTED-KEY', 'a non-empty encrypted key part answers `malformed`', 'rule 6'),
    spec('BLOB-REFUSE-NON-BASE64URL', 'a part with a character outside base64url (`+`, `/`, `=` padding) answers `malformed`', 'rule 6'),
    spec('BLOB-IV-TAG-LENGTH', 'an IV of other than 12 bytes or a tag of other than 16 bytes answers `malformed`', 'rule 6'),
    spec(
      'BLOB-STRUCTURE-FIRST',
      'a structural defect is `malformed` whatever else is wrong: an 11-byte IV that is also non-canonical, or under an unknown kid',
      'rule 6',
    ),
    spec('BLOB-NONCANONICAL', 'a part in non-canonical base64url (the same bytes) answers `tampered`', 'rule 6'),
    spec('BLOB-WRONG-KEY', "a ring kid with another key's bytes answers `tampered`; a kid not in the ring `unknown-key`", 'rule 6'),
    spec('BLOB-SECOND-KEY', 'a blob sealed with the second key of the ring resumes', 'rule 11'),
    spec('BLOB-HEADER-COPIES', 'header sid, gen or exp different from the plaintext answers `tampered`', 'rule 7'),
    spec('BLOB-PLAINTEXT-GEN', 'a plaintext gen that is not a safe integer ≥ 1 (0, -1, 1.5, 2^53) answers `malformed`', 'rule 7'),
    spec('BLOB-PLAINTEXT-JTI', 'a plaintext jti that is not a non-empty string answers `malformed`', 'rule 7'),
    spec('BLOB-PLAINTEXT-TIMES', 'a plaintext iat or exp that is not a safe integer answers `malformed`', 'rule 7'),
    spec(
      'BLOB-PLAINTEXT-FIELDS',
      'a plaintext with v ≠ 1, or sid, aud, bid, schema not strings, values not an object of `{ c, v }`, inc not a string, answers `malformed`',
      'rule 7',
    ),
    spec('BLOB-PLAINTEXT-EXTRA', 'unknown extra top-level plaintext fields are ignored (the blob resumes)', 'rule 7'),
    spec('BLOB-CODEC-UNKNOWN', 'a value of a codec the server does not know, or that does not decode, answers `malformed`', 'rule 8'),
    spec('BLOB-EXP-BOUNDARY', 'exp ≤ now (exp = now exactly too, by the server\'s Date) answers `expired`; exp in the future resumes', 'rule 9'),
    spec('BLOB-IAT-NOT-CHECKED', 'iat is never compared with the clock: a blob issued a day in the future resumes', 'rule 9'),
    spec('BLOB-SIZE-LIMIT', 'a valid blob of exactly maxBlobBytes characters resumes; one character more answers `too-large`', 'Resume checks, in order'),
    spec('BLOB-CLAIMS', "another app's (aud) or session's (sid) blob answers `wrong-binding`, another schema `schema-reset`", CHECKS),
  ],
  async run(ctx) {
    const vectors = ctx.facts.vectors;
    if (!vectors) {
      for (const r of this.requirements) ctx.skip(r.id, ctx.facts.vectorsProblem ?? 'needs --test-keys');
      return;
    }
    const now = await ctx.serverNow();
    const send = async (id: string, label: string, expected: string, options: Partial<ForgeOptions>, alter?: (blob: string) => string) => {
      const sid = ctx.sid();
      const cookie = ctx.cookie();
      const sealed = forge(vectors, { sid, cookie, now, ...options });
      const blob = alter ? alter(sealed) : sealed;
      const answer = await ctx.http.stasis('resume', { sid, blob }, { cookie });
      ctx.check(id, outcomeOf(answer) === expected, `${label}: ${describe(answer)}`);
      if (outcomeOf(answer) === 'ok') await ctx.http.stasis('hibernate', { sid }, { cookie });
    };
    await sizeLimit(ctx, vectors, now);
    await header(send);
    await encoding(send, vectors);
    await plaintext(send, vectors, now);
  },
};

type Send = (id: string, label: string, expected: string, options: Partial<ForgeOptions>, alter?: (blob: string) => string) => Promise<void>;

const parts = (blob: string) => splitBlob(blob)!;

async function header(send: Send): Promise<void> {
  await send('BLOB-REFUSE-ZIP', 'zip "DEF" (plaintext not compressed)', 'malformed', { header: { zip: 'DEF' } });
  await send('BLOB-REFUSE-CRIT', 'crit ["exp"]', 'malformed', { header: { crit: ['exp'] } });
  await send('BLOB-HEADER-COPIES', 'header sid of another session', 'tampered', { header: { sid: randomBytes(16).toString('base64url') } });
  await send('BLOB-HEADER-COPIES', 'header gen 2, plaintext gen 1', 'tampered', { gen: 1, header: { gen: 2 } });
  await send('BLOB-HEADER-COPIES', 'plaintext sid of another session, header sid the requested one', 'tampered', { plaintext: { sid: randomBytes(16).toString('base64url') } });
  await send('BLOB-HEADER-COPIES', 'header exp a day later', 'tampered', { header: { exp: Math.floor(Date.now() / 1000) + 90_000 } });
  await send('BLOB-HEADER-COPY-TYPES', 'header without sid', 'malformed', { header: { sid: undefined } });
  await send('BLOB-HEADER-COPY-TYPES', 'header gen "1" (a string)', 'malformed', { gen: 1, header: { gen: '1' } });
  await send('BLOB-HEADER-COPY-TYPES', 'header without exp', 'malformed', { header: { exp: undefined } });
}

async function encoding(send: Send, vectors: TestVectors): Promise<void> {
  await send('BLOB-REFUSE-ENCRYPTED-KEY', 'encrypted key "AAAA"', 'malformed', { encryptedKey: 'AAAA' });
  await send('BLOB-REFUSE-NON-BASE64URL', '"+" in the ciphertext', 'malformed', {}, (b) => {
    const p = parts(b);
    return joinBlob({ ...p, ciphertext: `+${p.ciphertext.slice(1)}` });
  });
  await send('BLOB-REFUSE-NON-BASE64URL', '"=" padding on the tag', 'malformed', {}, (b) => {
    const p = parts(b);
    return joinBlob({ ...p, tag: `${p.tag}==` });
  });
  await send('BLOB-REFUSE-NON-BASE64URL', '"/" in the IV', 'malformed', {}, (b) => {
    const p = parts(b);
    return joinBlob({ ...p, iv: `/${p.iv.slice(1)}` });
  });
  await send('BLOB-IV-TAG-LENGTH', 'IV of 11 bytes', 'malformed', { iv: randomBytes(11) });
  await send('BLOB-IV-TAG-LENGTH', 'IV of 16 bytes', 'malformed', { iv: randomBytes(16) });
  await send('BLOB-IV-TAG-LENGTH', 'tag of 12 bytes', 'malformed', { tagBytes: 12 });
  await send('BLOB-STRUCTURE-FIRST', 'IV of 11 bytes, non-canonical', 'malformed', { iv: randomBytes(11) }, (b) => {
    const p = parts(b);
    return joinBlob({ ...p, iv: nonCanonical(p.iv) });
  });
  await send('BLOB-STRUCTURE-FIRST', 'IV of 11 bytes under an unknown kid', 'malformed', { iv: randomBytes(11), header: { kid: 'conformance-unknown-kid' } });
  await send('BLOB-STRUCTURE-FIRST', 'tag of 12 bytes under an unknown kid', 'malformed', { tagBytes: 12, header: { kid: 'conformance-unknown-kid' } });
  await send('BLOB-STRUCTURE-FIRST', 'encrypted key under an unknown kid', 'malformed', { encryptedKey: 'AAAA', header: { kid: 'conformance-unknown-kid' } });
  for (const name of ['tag', 'ciphertext', 'header'] as const) {
    await send('BLOB-NONCANONICAL', `${name} with an unused bit of its last character set`, 'tampered', {}, (b) => {
      const p = parts(b);
      // Only a part of 2 or 3 characters mod 4 has unused bits (the tag always: 22 characters).
      return p[name].length % 4 >= 2 ? joinBlob({ ...p, [name]: nonCanonical(p[name]) }) : joinBlob({ ...p, tag: nonCanonical(p.tag) });
    });
  }
  const second = vectors.keys.find((k) => k.inRing && !k.sealing);
  const retired = vectors.retired;
  if (retired) {
    await send('BLOB-WRONG-KEY', `the bytes of ${retired.kid} under kid ${vectors.sealing.kid}`, 'tampered', { key: retired, header: { kid: vectors.sealing.kid } });
    await send('BLOB-WRONG-KEY', `sealed with ${retired.kid} (not in the ring)`, 'unknown-key', { key: retired });
  }
  if (second) await send('BLOB-SECOND-KEY', `sealed with ${second.kid}`, 'ok', { key: second });
}

async function plaintext(send: Send, vectors: TestVectors, now: number): Promise<void> {
  for (const gen of [0, -1, 1.5, 2 ** 53]) await send('BLOB-PLAINTEXT-GEN', `gen ${gen}`, 'malformed', { gen });
  for (const jti of ['', 42, undefined]) await send('BLOB-PLAINTEXT-JTI', `jti ${JSON.stringify(jti) ?? 'missing'}`, 'malformed', { plaintext: { jti } });
  await send('BLOB-PLAINTEXT-TIMES', 'iat 1.5 s past a second', 'malformed', { plaintext: { iat: now + 0.5 } });
  await send('BLOB-PLAINTEXT-TIMES', 'exp fractional (header too)', 'malformed', { exp: now + 3600.5 });
  await send('BLOB-PLAINTEXT-TIMES', 'iat "now" (a string)', 'malformed', { plaintext: { iat: String(now) } });
  const fields: Array<[string, Record<string, unknown>]> = [
    ['v 2', { v: 2 }],
    ['no sid (the header keeps its copy)', { sid: undefined }],
    ['aud 7', { aud: 7 }],
    ['bid null', { bid: null }],
    ['schema 7', { schema: 7 }],
    ['values []', { values: [] }],
    ['values { k: "bare" }', { values: { k: 'bare' } }],
    ['values { k: { v: 1 } } (no codec)', { values: { k: { v: 1 } } }],
    ['inc 5', { inc: 5 }],
  ];
  for (const [label, patch] of fields) {
    await send('BLOB-PLAINTEXT-FIELDS', label, 'malformed', { plaintext: patch });
  }
  await send('BLOB-CODEC-UNKNOWN', 'a value of codec "msgpack"', 'malformed', { plaintext: { values: { k: { c: 'msgpack', v: 'AQI' } } } });
  await send('BLOB-CODEC-UNKNOWN', 'a "json" value with an unknown tag', 'malformed', { plaintext: { values: { k: { c: 'json', v: { $t: 'NoSuchTag', v: 1 } } } } });
  await send('BLOB-IAT-NOT-CHECKED', 'iat a day after now', 'ok', { plaintext: { iat: now + 86_400 } });
  await send('BLOB-PLAINTEXT-EXTRA', 'extra members "future" and "note"', 'ok', { plaintext: { future: { x: 1 }, note: 'ignored' } });
  await send('BLOB-CLAIMS', `aud ${vectors.otherAudience}`, 'wrong-binding', { plaintext: { aud: vectors.otherAudience } });
  const otherSid = randomBytes(16).toString('base64url');
  await send('BLOB-CLAIMS', 'a blob of another sid', 'wrong-binding', { plaintext: { sid: otherSid }, header: { sid: otherSid } });
  await send('BLOB-CLAIMS', `schema ${vectors.otherSchema}`, 'schema-reset', { plaintext: { schema: vectors.otherSchema } });
  await send('BLOB-EXP-BOUNDARY', `exp = now (${now}, the server's Date)`, 'expired', { exp: now });
  await send('BLOB-EXP-BOUNDARY', 'exp = now - 1', 'expired', { exp: now - 1 });
  await send('BLOB-EXP-BOUNDARY', 'exp = now + 120', 'ok', { exp: now + 120 });
}

/** The size limit is inclusive: --max-blob-bytes characters pass, one more is `too-large`. */
async function sizeLimit(ctx: Context, vectors: TestVectors, now: number): Promise<void> {
  const max = ctx.options.maxBlobBytes;
  for (const length of [max, max + 1]) {
    const sid = ctx.sid();
    const cookie = ctx.cookie();
    const blob = forgeOfLength(vectors, { sid, cookie, now }, length);
    if (!blob) {
      ctx.check('BLOB-SIZE-LIMIT', false, `could not seal a blob of exactly ${length} characters`);
      continue;
    }
    const answer = await ctx.http.stasis('resume', { sid, blob }, { cookie });
    const expected = length === max ? 'ok' : 'too-large';
    ctx.check('BLOB-SIZE-LIMIT', outcomeOf(answer) === expected, `a valid blob of ${length} characters: ${describe(answer)}`);
    if (outcomeOf(answer) === 'ok') await ctx.http.stasis('hibernate', { sid }, { cookie });
  }
}
