import type { FailureCode } from '../src/protocol/index.js';

/**
 * An error with a stable protocol code. The transport turns it into `{ outcome: code, message }`;
 * anything else thrown inside a request becomes `unavailable` with a generic message.
 */
export class StasisError extends Error {
  override readonly name: string = 'StasisError';
  constructor(
    readonly code: FailureCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * This instance holds its maximum of live sessions (`maxLiveSessions`): `unavailable` (the page keeps its blob
 * and retries, maybe on another instance); a live channel closes with 1013 (Try Again Later).
 */
export class StasisCapacityError extends StasisError {
  override readonly name = 'StasisCapacityError';
  constructor(limit: number) {
    super('unavailable', `This server holds its maximum of ${limit} live sessions; try again shortly.`);
  }
}

/** A value the codec cannot write or read. `key` is the registered key, `path` the place inside the value. */
export class StasisCodecError extends StasisError {
  override readonly name = 'StasisCodecError';
  constructor(
    code: 'unserializable' | 'malformed',
    readonly key: string,
    readonly path: string,
    problem: string,
  ) {
    super(code, `${key}${path ? ` at ${path}` : ''}: ${problem}`);
  }
}

/**
 * Stable codes of a StasisConfigError: `invalid-option` (a value breaks its rule; also the code of every other
 * misuse), `unknown-option` (a key createStasisServer does not know, e.g. a typo), `missing-option` (a
 * setting another one needs, or that production needs).
 */
export type StasisConfigErrorCode = 'invalid-option' | 'unknown-option' | 'missing-option' | 'missing-dependency';

/** A mistake in how the app uses the server library (duplicate key, bad option). Thrown, never sent. */
export class StasisConfigError extends Error {
  override readonly name = 'StasisConfigError';
  readonly code: StasisConfigErrorCode;
  /** The option concerned (`ttlSeconds`), when there is one. */
  readonly option: string | undefined;
  /** The environment variable the refused value came from, or that would supply the missing one (`STASIS_TTL_SECONDS`). */
  readonly env: string | undefined;
  constructor(message: string, { code = 'invalid-option', option, env }: { code?: StasisConfigErrorCode; option?: string; env?: string } = {}) {
    super(message);
    this.code = code;
    this.option = option;
    this.env = env;
  }
}
