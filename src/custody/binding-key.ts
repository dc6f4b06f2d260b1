/**
 * The browser's binding key (docs/protocol.md, "Key binding"): a non-extractable ECDSA P-256 key pair, made
 * once per profile and kept as CryptoKey objects in the vault's IndexedDB, committed with strict durability
 * before the first blob that depends on it. Hibernate and resume requests carry a proof signed with it, so a
 * blob resumes in the browser that holds the key even when a kill lost the binding cookie (Chromium writes
 * cookies to disk only every ~30 s; the key is on disk before the blob is). Lives in the custodian (service
 * worker bundle, page fallback), not in the page bundle.
 */
import { PROOF_TYPE, type ProofClaims } from '../protocol/index.js';

/** What the vault keeps: the key pair and its public JWK (exported once, when it was made). */
export interface StoredBindingKey {
  id: typeof BINDING_KEY_ID;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: { kty: 'EC'; crv: 'P-256'; x: string; y: string };
  createdAt: number;
}
export const BINDING_KEY_ID = 'binding';

/** Where the key lives: the vault (IndexedDB). A store without one (memory) means cookie-only binding. */
export interface BindingKeyStore {
  getBindingKey(): Promise<StoredBindingKey | undefined>;
  /**
   * Stores `key` durably (strict) unless a key is already stored (another context made one first): resolves
   * with the key kept. Rejects where CryptoKey objects cannot be stored (DataCloneError).
   */
  addBindingKey(key: StoredBindingKey): Promise<StoredBindingKey>;
}

export class BindingKey {
  #key: Promise<StoredBindingKey | undefined> | undefined;
  /** Why proofs are off in this context, once known (no WebCrypto, no storage for keys). */
  #off: string | undefined;

  constructor(
    private readonly store: BindingKeyStore,
    /** null: no WebCrypto here (an insecure context): no proofs. */
    private readonly subtle: SubtleCrypto | null = globalThis.crypto?.subtle ?? null,
    private readonly now: () => number = Date.now,
  ) {}

  get unavailableReason(): string | undefined {
    return this.#off;
  }

  /**
   * A proof for a request to `url` (`POST`, or `GET` for the live channel's upgrade; on resume, over `blob`);
   * undefined where this context cannot keep a key (the request then goes without one: cookie-only binding).
   * Makes and stores the key on first use.
   */
  async prove(url: string, blob?: string, htm: ProofClaims['htm'] = 'POST'): Promise<string | undefined> {
    const subtle = this.subtle;
    if (!subtle) return undefined;
    const key = await this.#ensure();
    if (!key) return undefined;
    const claims: ProofClaims = {
      htm,
      htu: new URL(url).pathname,
      iat: Math.floor(this.now() / 1000),
      jti: base64url(globalThis.crypto.getRandomValues(new Uint8Array(16))),
      ...(blob === undefined ? {} : { bh: base64url(new Uint8Array(await subtle.digest('SHA-256', ascii(blob)))) }),
    };
    const input = `${encodeJson({ typ: PROOF_TYPE, alg: 'ES256', jwk: key.jwk })}.${encodeJson(claims)}`;
    // WebCrypto's ECDSA signature is already r || s (IEEE P1363), which is what JWS ES256 wants.
    const signature = await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, ascii(input));
    return `${input}.${base64url(new Uint8Array(signature))}`;
  }

  /** Loads or makes the key ahead of the first proof; never rejects. */
  async warm(): Promise<void> {
    if (this.subtle) await this.#ensure();
  }

  #ensure(): Promise<StoredBindingKey | undefined> {
    const making = (this.#key ??= this.#load().then(
      (key) => key,
      (error: unknown) => {
        // Storage trouble may pass (a closed connection); a context that cannot store keys at all stays off.
        this.#off = describe(error);
        const name = (error as { name?: string })?.name;
        if (name !== 'DataCloneError' && name !== 'NotSupportedError') this.#key = undefined;
        return undefined;
      },
    ));
    return making;
  }

  async #load(): Promise<StoredBindingKey | undefined> {
    const kept = await this.store.getBindingKey();
    if (kept) return kept;
    const subtle = this.subtle!;
    const pair = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    const { x, y } = await subtle.exportKey('jwk', pair.publicKey); // public keys export even when the pair does not
    if (typeof x !== 'string' || typeof y !== 'string') throw new Error('the public key did not export as a JWK');
    return this.store.addBindingKey({
      id: BINDING_KEY_ID,
      privateKey: pair.privateKey,
      publicKey: pair.publicKey,
      jwk: { kty: 'EC', crv: 'P-256', x, y },
      createdAt: this.now(),
    });
  }
}

function ascii(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(text);
}

function encodeJson(value: unknown): string {
  return base64url(ascii(JSON.stringify(value)));
}

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
