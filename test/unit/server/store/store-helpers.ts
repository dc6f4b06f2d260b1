/** Shared helpers of the store tests (not a test file itself). */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../../../server-stub/logger.js';
import type { SessionStore, StoredBlob } from '../../../../server-stub/store/session-store.js';

/** A manual clock in ms; starts well away from 0 so "time since 0" never matters by accident. */
export class Clock {
  constructor(public ms = 1_700_000_000_000) {}
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** A stored blob that expires `ttlSeconds` after `nowMs` (exp in whole seconds, as in the blob header). */
export function blobOf(over: Partial<StoredBlob> = {}, nowMs = Date.now(), ttlSeconds = 3600): StoredBlob {
  return { blob: `blob-${randomBytes(6).toString('hex')}`, gen: 1, exp: Math.floor(nowMs / 1000) + ttlSeconds, ...over };
}

export const randomSid = (): string => randomBytes(12).toString('base64url');
export const randomPrefix = (label: string): string => `test-${label}-${randomBytes(6).toString('hex')}:`;

export interface CapturedLine {
  level: 'info' | 'warn' | 'error';
  message: string;
}

/** A Logger that keeps every line. */
export function capturingLogger(): Logger & { lines: CapturedLine[]; at(level: CapturedLine['level']): string[] } {
  const lines: CapturedLine[] = [];
  return {
    lines,
    info: (message) => void lines.push({ level: 'info', message }),
    warn: (message) => void lines.push({ level: 'warn', message }),
    error: (message) => void lines.push({ level: 'error', message }),
    at: (level) => lines.filter((line) => line.level === level).map((line) => line.message),
  };
}

/**
 * A store that can be switched between working (an inner Map, no expiry), failing (every method rejects)
 * and hanging (every method never settles). Counts the calls that reached it.
 */
export class SwitchableStore implements SessionStore {
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  calls = 0;
  readonly entries = new Map<string, StoredBlob>();

  constructor(readonly name = 'flaky') {}

  async #enter(): Promise<void> {
    this.calls++;
    if (this.mode === 'fail') throw new Error(`${this.name} is down`);
    if (this.mode === 'hang') await new Promise<never>(() => undefined);
  }

  async put(sid: string, entry: StoredBlob): Promise<void> {
    await this.#enter();
    this.entries.set(sid, { ...entry });
  }

  async take(sid: string): Promise<StoredBlob | undefined> {
    await this.#enter();
    const entry = this.entries.get(sid);
    this.entries.delete(sid);
    return entry;
  }

  async peek(sid: string): Promise<StoredBlob | undefined> {
    await this.#enter();
    return this.entries.get(sid);
  }

  async delete(sid: string): Promise<void> {
    await this.#enter();
    this.entries.delete(sid);
  }
}

/** A store whose every method throws synchronously (not even a rejected promise). */
export function throwingStore(name = 'broken'): SessionStore {
  const fail = (): never => {
    throw new Error(`${name}: not implemented`);
  };
  return { name, put: fail, take: fail, peek: fail, delete: fail };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * RedisStore does not queue commands while it connects (enableOfflineQueue: false), so a fresh store fails
 * its first commands: wait until one answers.
 */
export async function waitUntilAnswers(store: SessionStore, deadlineMs = 5_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      await store.peek('readiness-probe');
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(20);
    }
  }
}

/**
 * Settles `promise` or reports `hung` after `ms` (a generous guard against hangs, not a speed assertion).
 * The outcome is either { ok: true, value }, { ok: false, error } or 'hung'.
 */
export async function settleOrHang<T>(
  promise: Promise<T>,
  ms: number,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown } | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
      guard,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export { sleep };
