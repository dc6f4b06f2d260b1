/** encodeWithBlob (src/protocol): the same JSON value as JSON.stringify, with the blob spliced in unescaped. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeResumeRequest, encodeWithBlob, LIVE_RESUME_MESSAGE } from '../../src/protocol/index.js';

const blob = () => ['eyJhbGciOiJkaXIifQ', '', randomBytes(12).toString('base64url'), randomBytes(3000).toString('base64url'), randomBytes(16).toString('base64url')].join('.');

describe('encodeWithBlob', () => {
  it('parses back to the same value as JSON.stringify would give, for requests, answers and pushes', () => {
    const messages: Array<[object, 'blob' | 'checkpoint']> = [
      [{ sid: 'a'.repeat(22), blob: blob(), proof: 'x.y.z' }, 'blob'],
      [{ type: LIVE_RESUME_MESSAGE, sid: 'b'.repeat(22), blob: blob() }, 'blob'],
      [{ outcome: 'ok', sid: 'c'.repeat(22), gen: 3, exp: 1_800_000_000, blob: blob() }, 'blob'],
      [{ type: 'stasis:resumed', outcome: 'ok', sid: 'd'.repeat(22), gen: 4, checkpoint: blob() }, 'checkpoint'],
      [{ blob: blob() }, 'blob'],
    ];
    for (const [message, key] of messages) {
      for (const sealedHere of [false, true]) {
        const text = encodeWithBlob(message, key, sealedHere);
        expect(JSON.parse(text)).toEqual(message);
        expect(text.endsWith(`"${key}":"${(message as Record<string, string>)[key]}"}`)).toBe(true);
      }
    }
  });

  it('falls back to JSON.stringify, byte for byte, when the value is not blob-shaped (quotes, backslashes, non-ASCII) or absent', () => {
    for (const odd of ['a"b', 'a\\b', 'café', 'line\nbreak', '</script>']) {
      const message = { sid: 'e'.repeat(22), blob: odd };
      expect(encodeWithBlob(message, 'blob')).toBe(JSON.stringify(message));
      expect(encodeResumeRequest(message)).toBe(JSON.stringify(message));
    }
    const answer = { outcome: 'ok', sid: 'f'.repeat(22), gen: 2 };
    expect(encodeWithBlob(answer, 'checkpoint', true)).toBe(JSON.stringify(answer));
    const failure = { outcome: 'replayed', message: 'used "up"' };
    expect(encodeWithBlob(failure, 'blob', true)).toBe(JSON.stringify(failure));
  });
});
