/** The blobs the server itself seals: their compact form and header (no key needed), and with the test keys their plaintext. */
import { describe, outcomeOf } from '../http.js';
import { b64url, fromB64url, isCanonical, joinBlob, openBlob, readHeader, splitBlob } from '../jwe.js';
import type { Context, Group } from '../types.js';
import { needsApp, sessionBlob } from './support.js';

const FORMAT = 'Blob format';

export const blobGroup: Group = {
  name: 'blob',
  requirements: [
    {
      id: 'BLOB-COMPACT',
      level: 'MUST',
      title: "the server's blobs are five canonical base64url parts: header, empty encrypted key, 12-byte IV, ciphertext, 16-byte tag",
      section: 'rule 6',
    },
    {
      id: 'BLOB-HEADER',
      level: 'MUST',
      title: 'their header is `{ alg: "dir", enc: "A256GCM", typ: "stasis+jwe", kid, sid, gen, exp }` (integers, no zip or crit)',
      section: 'rule 5',
    },
    {
      id: 'BLOB-AUTH',
      level: 'MUST',
      title: 'a blob with one ciphertext character or one header field changed answers `tampered`',
      section: 'rule 6',
    },
    { id: 'BLOB-UNKNOWN-KID', level: 'MUST', title: 'a blob whose header names a kid the server does not hold answers `unknown-key`', section: 'rule 6' },
    {
      id: 'BLOB-PLAINTEXT',
      level: 'MUST',
      title: '(--test-keys) the plaintext has v 1, sid, gen ≥ 1, a non-empty jti, integer iat and exp, aud, bid, schema, values, equal to the header copies',
      section: 'rule 7',
    },
    {
      id: 'BLOB-CODEC-JSON',
      level: 'MUST',
      title: '(--test-keys) values are `{ c, v }` and the default codec is named `"json"`',
      section: 'rule 8',
    },
    { id: 'BLOB-SEALING-KEY', level: 'SHOULD', title: '(--test-keys) blobs are sealed with the first key of the ring', section: 'rule 11'},
    { id: 'BLOB-JTI-UNIQUE', level: 'SHOULD', title: 'every blob has its own jti of at least 128 bits (22 base64url characters)', section: FORMAT },
  ],
  async run(ctx) {
    if (!needsApp(ctx, this.requirements.map((r) => r.id))) return;
    const cookie = ctx.cookie();
    const sid = ctx.sid();
    const value = { blob: 'check', n: 1, list: ['a', 'b'] };
    const sealed = await sessionBlob(ctx, sid, cookie, value);
    if (typeof sealed === 'string') {
      for (const r of this.requirements) ctx.check(r.id, false, sealed);
      return;
    }
    const other = await sessionBlob(ctx, ctx.sid(), cookie, 'second');
    shape(ctx, sealed.blob, sid, sealed.gen);
    plaintext(ctx, sealed.blob, value, typeof other === 'string' ? undefined : other.blob);
    await alterations(ctx, sealed.blob, sid, cookie);
  },
};

function shape(ctx: Context, blob: string, sid: string, gen: number): void {
  const parts = splitBlob(blob);
  const all = parts ? [parts.header, parts.encryptedKey, parts.iv, parts.ciphertext, parts.tag] : [];
  ctx.check(
    'BLOB-COMPACT',
    parts !== undefined && all.every(isCanonical) && parts.encryptedKey === '' && fromB64url(parts.iv).length === 12 && fromB64url(parts.tag).length === 16,
    parts
      ? `part lengths ${all.map((p) => p.length).join('.')}, canonical ${all.map((p) => (isCanonical(p) ? 'y' : 'n')).join('')}, iv ${fromB64url(parts.iv).length} B, tag ${fromB64url(parts.tag).length} B`
      : `not five parts: ${blob.slice(0, 60)}`,
  );
  const h = readHeader(blob);
  ctx.check(
    'BLOB-HEADER',
    h !== undefined &&
      h.alg === 'dir' &&
      h.enc === 'A256GCM' &&
      h.typ === 'stasis+jwe' &&
      typeof h.kid === 'string' &&
      h.sid === sid &&
      h.gen === gen &&
      Number.isSafeInteger(h.exp) &&
      !('zip' in h) &&
      !('crit' in h),
    JSON.stringify(h) ?? 'header not readable',
  );
}

function plaintext(ctx: Context, blob: string, value: unknown, other: string | undefined): void {
  const vectors = ctx.facts.vectors;
  if (!vectors) {
    for (const id of ['BLOB-PLAINTEXT', 'BLOB-CODEC-JSON', 'BLOB-SEALING-KEY', 'BLOB-JTI-UNIQUE']) {
      ctx.skip(id, `${ctx.facts.vectorsProblem ?? 'needs --test-keys'} (the plaintext is encrypted)`);
    }
    return;
  }
  const opened = openBlob(blob, vectors.byKid);
  if (typeof opened === 'string' || !opened.plaintext) {
    const why = typeof opened === 'string' ? opened : `plaintext is not a JSON object: ${opened.plaintextText.slice(0, 80)}`;
    for (const id of ['BLOB-PLAINTEXT', 'BLOB-CODEC-JSON', 'BLOB-JTI-UNIQUE']) ctx.check(id, false, why);
    return;
  }
  const p = opened.plaintext;
  const h = opened.header;
  const int = (x: unknown) => Number.isSafeInteger(x);
  const values = p.values as Record<string, unknown> | null;
  const problems = [
    p.v !== 1 && 'v',
    p.sid !== h.sid && 'sid',
    !(int(p.gen) && (p.gen as number) >= 1 && p.gen === h.gen) && 'gen',
    !(typeof p.jti === 'string' && p.jti !== '') && 'jti',
    !int(p.iat) && 'iat',
    !(int(p.exp) && p.exp === h.exp && (p.exp as number) > (p.iat as number)) && 'exp',
    p.aud !== vectors.audience && 'aud',
    typeof p.bid !== 'string' && 'bid',
    p.schema !== vectors.schema && 'schema',
    !(typeof values === 'object' && values !== null && !Array.isArray(values)) && 'values',
    !(p.inc === undefined || typeof p.inc === 'string') && 'inc',
  ].filter(Boolean);
  ctx.check('BLOB-PLAINTEXT', problems.length === 0, `${problems.length ? `wrong: ${problems.join(', ')}; ` : ''}${opened.plaintextText.slice(0, 160)}`);
  const entries = values && typeof values === 'object' ? Object.entries(values) : [];
  const stored = entries.map(([, entry]) => entry as { c?: unknown; v?: unknown });
  ctx.check(
    'BLOB-CODEC-JSON',
    stored.length > 0 && stored.every((e) => e && e.c === 'json' && 'v' in e) && stored.some((e) => JSON.stringify(e.v) === JSON.stringify(value)),
    `values ${JSON.stringify(values).slice(0, 140)}`,
  );
  ctx.check('BLOB-SEALING-KEY', h.kid === vectors.sealing.kid, `kid ${String(h.kid)}; the ring's first key: ${vectors.sealing.kid}`);
  const second = other ? openBlob(other, vectors.byKid) : 'no second blob';
  const otherJti = typeof second === 'string' ? undefined : second.plaintext?.jti;
  ctx.check(
    'BLOB-JTI-UNIQUE',
    typeof p.jti === 'string' && p.jti.length >= 22 && typeof otherJti === 'string' && otherJti !== p.jti,
    `jti ${String(p.jti)} and ${String(otherJti)}`,
  );
}

async function alterations(ctx: Context, blob: string, sid: string, cookie: string): Promise<void> {
  const parts = splitBlob(blob)!;
  const middle = Math.floor(parts.ciphertext.length / 2);
  const flipped = parts.ciphertext[middle] === 'A' ? 'B' : 'A';
  const altered = joinBlob({ ...parts, ciphertext: parts.ciphertext.slice(0, middle) + flipped + parts.ciphertext.slice(middle + 1) });
  const tampered = await ctx.http.stasis('resume', { sid, blob: altered }, { cookie });
  ctx.check('BLOB-AUTH', outcomeOf(tampered) === 'tampered', `one ciphertext character changed: ${describe(tampered)}`);
  const header = readHeader(blob) ?? {};
  const edited = joinBlob({ ...parts, header: b64url(Buffer.from(JSON.stringify({ ...header, exp: Number(header.exp) + 86_400 }))) });
  const headerEdit = await ctx.http.stasis('resume', { sid, blob: edited }, { cookie });
  ctx.check('BLOB-AUTH', outcomeOf(headerEdit) === 'tampered', `header exp a day later: ${describe(headerEdit)}`);
  const foreign = joinBlob({ ...parts, header: b64url(Buffer.from(JSON.stringify({ ...header, kid: 'conformance-unknown-kid' }))) });
  const unknown = await ctx.http.stasis('resume', { sid, blob: foreign }, { cookie });
  ctx.check('BLOB-UNKNOWN-KID', outcomeOf(unknown) === 'unknown-key', `kid "conformance-unknown-kid": ${describe(unknown)}`);
  // The untouched blob still resumes: nothing above used it up.
  await ctx.http.stasis('resume', { sid, blob }, { cookie });
}
