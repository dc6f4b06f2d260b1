/**
 * `decodePart` checks and decodes one part of a blob in one pass of node's base64url decoder, where `open` used
 * to run a regular expression first. It must refuse exactly what `^[A-Za-z0-9_-]*$` plus "length not 1 mod 4"
 * refused, and give the bytes `Buffer.from(part, 'base64url')` gives for everything else: every UTF-16 code
 * unit is tried in every place that matters, then random strings.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePart } from '../../../server-stub/envelope/envelope.js';

const B64URL = /^[A-Za-z0-9_-]*$/;

/** What open accepted before: the regular expression and the length rule. */
function reference(part: string): Buffer | undefined {
  return B64URL.test(part) && part.length % 4 !== 1 ? Buffer.from(part, 'base64url') : undefined;
}

function agrees(part: string): void {
  const got = decodePart(part);
  const want = reference(part);
  if (want === undefined) {
    if (got !== undefined) throw new Error(`accepted ${JSON.stringify(part)}`);
  } else if (got === undefined || !got.equals(want)) {
    throw new Error(`refused or misread ${JSON.stringify(part)}`);
  }
}

/** `c` in place of a few characters of `base`, after it and before it; returns the number of parts tried. */
function tryUnit(base: string, c: string): number {
  const places = new Set([0, 1, base.length >> 1, base.length - 2, base.length - 1].filter((i) => i >= 0 && i < base.length));
  for (const at of places) agrees(base.slice(0, at) + c + base.slice(at + 1));
  agrees(base + c);
  agrees(c + base);
  return places.size + 2;
}

describe('decodePart refuses exactly what the regular expression refused', () => {
  it('every code unit 0–0xFFFF, in place of each character of short parts of every length residue', () => {
    // Lengths 0, 2, 3 mod 4 (1 mod 4 is refused by length alone).
    let tried = 0;
    for (const base of ['QUJD', 'QUI', 'QQ', 'QUJDRA', 'QUJDREU']) {
      for (let unit = 0; unit <= 0xffff; unit++) tried += tryUnit(base, String.fromCharCode(unit));
    }
    expect(tried).toBeGreaterThan(1_500_000);
  });

  it('long parts (node decodes them outside its buffer pool): every Latin-1 unit, and units whose low byte is base64', () => {
    const alphabet = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/='].map((c) => c.charCodeAt(0));
    const units = [...Array.from({ length: 0x300 }, (_, u) => u), ...[0x01, 0x41, 0x7f, 0xd8, 0xdc, 0xff].flatMap((high) => alphabet.map((low) => (high << 8) | low))];
    for (const base of ['QUJD'.repeat(1500), 'QUJD'.repeat(1500).slice(1), 'QUJD'.repeat(1500).slice(2)]) {
      for (const unit of units) tryUnit(base, String.fromCharCode(unit));
    }
  });

  it('the empty part, padding, whitespace, the standard alphabet, and parts of every length', () => {
    for (const part of ['', 'A', 'AA', 'AAA', 'AAAA', 'AAAAA', 'QQ==', 'QQ=', 'QUI=', 'Q Q', 'QU\nJD', '+/+/', 'ab+c', 'ab/c', '-_-_', 'QUJD\u0000']) {
      agrees(part);
    }
    for (let length = 0; length < 64; length++) agrees('Aa0-_'.repeat(13).slice(0, length));
  });

  it('random strings of base64url characters with a few others mixed in', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const unit = fc.oneof(
      { weight: 30, arbitrary: fc.constantFrom(...alphabet) },
      { weight: 1, arbitrary: fc.constantFrom('+', '/', '=', ' ', '.', '\n', '\u00e9', '\u0141', '\ud800', '\u{1F600}') },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
    );
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 200 }), (units) => agrees(units.join(''))),
      { numRuns: 20_000, seed: 0x57a515 },
    );
  });

  it('a sliced or concatenated string reads the same as a flat one', () => {
    const blob = `x.${'QUJD'.repeat(300)}.y`;
    const part = blob.split('.')[1]!;
    expect(decodePart(part)).toStrictEqual(Buffer.from('ABC'.repeat(300)));
    expect(decodePart('QUJD'.repeat(150) + 'QUJD'.repeat(150))).toStrictEqual(Buffer.from('ABC'.repeat(300)));
    expect(decodePart('QUJD'.repeat(150) + '+' + 'QUJ'.repeat(1))).toBeUndefined();
  });
});
