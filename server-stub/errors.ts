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

/** A mistake in how the app uses the server library (duplicate key, bad option). Thrown, never sent. */
export class StasisConfigError extends Error {
  override readonly name = 'StasisConfigError';
}
