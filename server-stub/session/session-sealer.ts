import { createHash, timingSafeEqual } from 'node:crypto';
import { PROTOCOL_VERSION, type HibernateOk } from '../../src/protocol/index.js';
import { open, seal, type SealedSession } from '../envelope/envelope.js';
import type { KeyRing } from '../envelope/key-ring.js';
import { StasisCodecError, StasisError } from '../errors.js';
import type { ProofResult } from '../transport/proof.js';
import type { Logger } from '../logger.js';
import { randomId } from '../random.js';
import type { Session } from './session.js';

export interface SealerOptions {
  ring: KeyRing;
  audience: string;
  schema: string;
  ttlSeconds: number;
  maxBlobBytes: number;
  warnBlobBytes: number;
  logger: Logger;
  now: () => number;
}

/**
 * Turns a live session into a blob and a blob back into verified claims: the envelope plus the claim rules
 * (audience, sid, browser binding, expiry, schema). No live-pool or ledger state: the manager decides.
 */
export class SessionSealer {
  constructor(private readonly options: SealerOptions) {}

  /** Encodes and encrypts a session into a blob without touching the live pool (seal, checkpoint, retire). */
  async seal(session: Session, bid: string, values = session.state.encodeAll()): Promise<{ ok: HibernateOk; sealed: SealedSession }> {
    const { sid } = session;
    const iat = Math.floor(this.options.now() / 1000);
    const sealed: SealedSession = {
      v: PROTOCOL_VERSION,
      sid,
      gen: session.gen,
      jti: randomId(16),
      iat,
      exp: iat + this.options.ttlSeconds,
      aud: this.options.audience,
      bid,
      schema: this.options.schema,
      values,
      inc: session.incarnation,
      ...(session.kbt ? { kbt: session.kbt } : {}),
    };
    let blob: string;
    try {
      blob = await seal(sealed, this.options.ring);
    } catch (error) {
      if (error instanceof StasisCodecError) throw new StasisError('unserializable', error.message);
      throw error;
    }
    if (blob.length > this.options.maxBlobBytes) {
      throw new StasisError(
        'too-large',
        `The session's blob is ${blob.length} bytes, over the ${this.options.maxBlobBytes}-byte limit; it stays live. Persist less (inputs, not outputs).`,
      );
    }
    if (blob.length > this.options.warnBlobBytes) {
      this.options.logger.warn(`session ${short(sid)}: blob of ${blob.length} bytes is over the warning size ${this.options.warnBlobBytes}.`);
    }
    return { ok: { outcome: 'ok', sid, gen: session.gen, exp: sealed.exp, blob }, sealed };
  }

  /**
   * Opens a blob and checks its claims against this request; throws StasisError. Decodes nothing.
   * The browser binding: a blob with `kbt` needs a valid proof by that key (`proof`); a blob without one, the
   * binding cookie (`binding`). `serverHeld`: a copy the server kept (stores, another instance), not one the
   * request presented: the browser's cookie is accepted for it too, as for the live channel that asks for it.
   */
  async verify(sid: string, blob: string, binding: string | undefined, proof?: ProofResult, serverHeld = false): Promise<SealedSession> {
    if (blob.length > this.options.maxBlobBytes) throw new StasisError('too-large', 'The blob is over the size limit.');
    const sealed = await open(blob, this.options.ring);
    if (sealed.aud !== this.options.audience) {
      throw new StasisError('wrong-binding', `The blob belongs to app "${sealed.aud}", not "${this.options.audience}".`);
    }
    if (sealed.sid !== sid) throw new StasisError('wrong-binding', 'The blob belongs to another session.');
    const cookieMatches = !!binding && sameSecret(bindingHash(binding), sealed.bid); // an empty cookie is none
    if (sealed.kbt !== undefined) {
      const keyMatches = proof !== undefined && 'kbt' in proof && sameSecret(proof.kbt, sealed.kbt);
      if (!keyMatches && !(serverHeld && cookieMatches)) {
        const why = proof === undefined ? 'no proof came with it' : 'problem' in proof ? proof.problem : "the proof's key is another one";
        throw new StasisError('wrong-binding', `The blob was issued to another browser (it is bound to a key, and ${why}).`);
      }
    } else if (!cookieMatches) {
      throw new StasisError('wrong-binding', 'The blob was issued to another browser.');
    }
    if (sealed.exp * 1000 <= this.options.now()) throw new StasisError('expired', 'The blob has expired.');
    if (sealed.schema !== this.options.schema) {
      throw new StasisError(
        'schema-reset',
        `The blob has schema "${sealed.schema}"; this server runs "${this.options.schema}". Starting fresh.`,
      );
    }
    return sealed;
  }
}

/** The last secret hashed and its hash: one request hashes its cookie up to three times (limit, verify, restore). */
let lastSecret: string | undefined;
let lastHash = '';

/** The hash of a browser's binding secret, as sealed into its blobs and kept on its live sessions. */
export function bindingHash(secret: string): string {
  if (secret !== lastSecret) {
    lastHash = createHash('sha256').update(secret).digest('base64url');
    lastSecret = secret;
  }
  return lastHash;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function short(sid: string): string {
  return sid.slice(0, 6);
}
