/**
 * messageText: a `ws` message as text whatever the socket's binaryType. The ws adapter reads the app's own
 * socket, whose binaryType the app may have changed: `data.toString()` of an ArrayBuffer is "[object ArrayBuffer]".
 */
import { describe, expect, it } from 'vitest';
import { messageText } from '../../../server-stub/transport/message-text.js';

describe('messageText', () => {
  const text = '{"type":"ping","note":"h\u00e9llo \u2713"}';
  const bytes = Buffer.from(text);

  it("binaryType 'nodebuffer' (the default): a Buffer", () => {
    expect(messageText(bytes)).toBe(text);
  });

  it("binaryType 'arraybuffer': an ArrayBuffer", () => {
    const copy = new Uint8Array(bytes).buffer;
    expect(copy).toBeInstanceOf(ArrayBuffer);
    expect(messageText(copy)).toBe(text);
  });

  it("binaryType 'fragments': the frame's Buffers, even when cut inside a character", () => {
    const cut = bytes.indexOf(0xc3) + 1; // between the two bytes of "é"
    expect(messageText([bytes.subarray(0, cut), bytes.subarray(cut)])).toBe(text);
  });
});
