import { randomFillSync } from 'node:crypto';

/**
 * Random bytes for the per-blob and per-session ids (jti, IV, incarnation, ledger attempt, binding secrets),
 * taken from a pool filled by the CSPRNG 4 KiB at a time, as node:crypto's randomUUID does. Every
 * `randomBytes` call is a trip into OpenSSL that costs 1–6 µs whatever its size (more than AES-GCM of a
 * kilobyte on a slow VM); here one call serves about 200 ids. Every byte is handed out once, then the pool
 * is refilled; nothing is derived from another value.
 */
const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafeSlow(POOL_BYTES);
let offset = POOL_BYTES;

function take(bytes: number): number {
  if (bytes > POOL_BYTES) throw new RangeError(`at most ${POOL_BYTES} random bytes at a time`);
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const at = offset;
  offset += bytes;
  return at;
}

/** `bytes` random bytes as base64url (no padding): an id. */
export function randomId(bytes: number): string {
  const at = take(bytes);
  return pool.toString('base64url', at, at + bytes);
}

/** `bytes` random bytes in a Buffer of their own (a copy: the pool's memory is handed out again later). */
export function randomBuffer(bytes: number): Buffer {
  const at = take(bytes);
  return Buffer.from(pool.subarray(at, at + bytes));
}
