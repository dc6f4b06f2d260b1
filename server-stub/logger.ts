/** Where the server library reports what it did. Pass `silentLogger` in tests. */
export interface Logger {
  /** Every session step (connect, hibernate, resume, handover, store); optional, noisy. */
  debug?(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const consoleLogger: Logger = {
  // STASIS_DEBUG=1 prints every session step, with a millisecond clock, to trace a fleet.
  debug: (m) => process.env.STASIS_DEBUG === '1' && console.log(`[stasis] ${new Date().toISOString().slice(11, 23)} ${m}`),
  info: (m) => console.log(`[stasis] ${m}`),
  warn: (m) => console.warn(`[stasis] ${m}`),
  error: (m) => console.error(`[stasis] ${m}`),
};

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
