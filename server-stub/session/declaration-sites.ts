/** A function on the stack whose caller is the place to report (Session.persist, Session.persistFields). */
export type Caller = (...args: never[]) => unknown;

/** Keys whose first declaration is remembered, per app; past it new keys get none (their errors name no "first at"). */
const MAX_KEYS = 2000;

/**
 * Where an app declares its persisted keys (file:line:column), for the error a duplicate key gets. A site is
 * captured the first time the app declares a key, not on every session rebuilt from a blob: capturing and
 * formatting a stack costs more than a whole resume of a small session. One instance per app (the session
 * manager's); the "first at" of an error is where the app first declared that key, the "again at" is captured
 * when the duplicate happens.
 */
export class DeclarationSites {
  readonly #first = new Map<string, string | undefined>();
  /** Each location kept once, as its own small string (a slice of a stack would pin the whole stack). */
  readonly #locations = new Map<string, string>();

  /** Remembers where `key` is declared, the first time this app declares it: from the code that called `caller`. */
  declared(key: string, caller: Caller | undefined): void {
    if (caller === undefined || this.#first.has(key) || this.#first.size >= MAX_KEYS) return;
    this.#first.set(key, this.here(caller));
  }

  /** Where the app first declared `key`, if known. */
  first(key: string): string | undefined {
    return this.#first.get(key);
  }

  /** Where the code that called `caller` is now (file:line:column, relative to the working directory). */
  here(caller: Caller | undefined): string | undefined {
    if (caller === undefined) return undefined;
    const holder: { stack?: string } = {};
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 1; // the caller's frame only: the frames above it are skipped
    try {
      Error.captureStackTrace(holder, caller);
    } finally {
      Error.stackTraceLimit = limit;
    }
    const frame = holder.stack?.split('\n')[1] ?? '';
    const location = /\(?((?:file:\/\/)?[^\s()]+:\d+:\d+)\)?\s*$/.exec(frame)?.[1];
    if (!location) return undefined;
    let site = this.#locations.get(location);
    if (site === undefined) {
      site = Buffer.from(location.replace(/^file:\/\//, '').replace(`${process.cwd()}/`, '')).toString();
      if (this.#locations.size < MAX_KEYS) this.#locations.set(Buffer.from(location).toString(), site);
    }
    return site;
  }
}
