/**
 * A `ws` message as text, whatever the socket's `binaryType`: 'nodebuffer' (the default) gives a Buffer,
 * 'arraybuffer' an ArrayBuffer, 'fragments' the frame's Buffers. (`data.toString()` is right for the first only:
 * an app that sets binaryType on its own socket would otherwise hand Stasis "[object ArrayBuffer]".)
 */
export function messageText(data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Buffer.isBuffer(data)) return data.toString();
  if (Array.isArray(data)) return Buffer.concat(data).toString();
  return Buffer.from(data).toString();
}

/** A `ws` message's size in bytes, whatever its form (see messageText). */
export function messageBytes(data: Buffer | ArrayBuffer | Buffer[]): number {
  if (Array.isArray(data)) return data.reduce((sum, part) => sum + part.length, 0);
  return data.byteLength;
}
