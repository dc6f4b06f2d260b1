/** Where the server library reports what it did. Pass `silentLogger` in tests. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const consoleLogger: Logger = {
  info: (m) => console.log(`[stasis] ${m}`),
  warn: (m) => console.warn(`[stasis] ${m}`),
  error: (m) => console.error(`[stasis] ${m}`),
};

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
