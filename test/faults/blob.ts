/**
 * Reads what a blob holds, with the fleet's key ring: the oracle for "what did the client acknowledge".
 * Written against docs/protocol.md (JWE compact, dir + A256GCM, header ASCII as AAD) with node:crypto rather
 * than importing server-stub/envelope, so a server bug in sealing or opening cannot hide itself here.
 */
import { createDecipheriv } from 'node:crypto';

/** A demo cart as product id → quantity (only quantities > 0). */
export type Cart = Readonly<Record<string, number>>;

export interface BlobContents {
  sid: string;
  gen: number;
  exp: number;
  /** The ledger's one-time id: names the blob in the report. */
  jti: string;
  /** The live session object it was sealed from (a checkpoint shares it with its live session). */
  inc: string | undefined;
  cart: Cart;
}

/** `kid:secret[,kid:secret…]` (STASIS_KEYS) → a function that opens blobs sealed with any of those keys. */
export function blobOpener(keySpec: string): (blob: string) => BlobContents {
  const keys = new Map<string, Buffer>();
  for (const entry of keySpec.split(/[\s,]+/).filter(Boolean)) {
    const colon = entry.indexOf(':');
    keys.set(entry.slice(0, colon), Buffer.from(entry.slice(colon + 1), 'base64url'));
  }
  return (blob) => {
    const [header, encryptedKey, iv, ciphertext, tag] = blob.split('.');
    if (header === undefined || encryptedKey !== '' || !iv || ciphertext === undefined || !tag) throw new Error('not a JWE compact blob');
    const { kid } = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { kid: string };
    const key = keys.get(kid);
    if (!key) throw new Error(`blob sealed with unknown kid ${kid}`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: 16 });
    decipher.setAAD(Buffer.from(header, 'ascii'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    const plain = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    const sealed = JSON.parse(plain) as { sid: string; gen: number; exp: number; jti: string; inc?: string; values: Record<string, { v: unknown }> };
    return { sid: sealed.sid, gen: sealed.gen, exp: sealed.exp, jti: sealed.jti, inc: sealed.inc, cart: cartFromValue(sealed.values['checkout.cart']?.v) };
  };
}

/** The demo persists its cart as a Map; the JSON codec writes it as `{ $t: 'Map', v: [[id, qty], …] }`. */
function cartFromValue(value: unknown): Cart {
  const encoded = value as { $t?: unknown; v?: unknown } | undefined;
  if (!encoded || encoded.$t !== 'Map' || !Array.isArray(encoded.v)) throw new Error(`unexpected cart encoding: ${JSON.stringify(value)}`);
  const cart: Record<string, number> = {};
  for (const [id, qty] of encoded.v as Array<[string, number]>) if (qty > 0) cart[id] = qty;
  return cart;
}

/** The cart a demo view shows (`view.cart` lines). */
export function cartFromView(lines: ReadonlyArray<{ id: string; qty: number }>): Cart {
  const cart: Record<string, number> = {};
  for (const line of lines) if (line.qty > 0) cart[line.id] = line.qty;
  return cart;
}

export function sameCart(a: Cart, b: Cart): boolean {
  return cartText(a) === cartText(b);
}

export function cartText(cart: Cart): string {
  const entries = Object.entries(cart).filter(([, qty]) => qty > 0).sort(([x], [y]) => x.localeCompare(y));
  return entries.length ? entries.map(([id, qty]) => `${id}×${qty}`).join(',') : '(empty)';
}

export function isEmptyCart(cart: Cart): boolean {
  return Object.values(cart).every((qty) => qty <= 0);
}
