import type { Codec, Encoded } from '../codec/json-codec.js';
import { StasisCodecError, StasisConfigError, StasisError } from '../errors.js';
import { DeclarationSites, type Caller } from './declaration-sites.js';

/** A persisted value: the app reads and writes it; Stasis seals it on hibernate and restores it on resume. */
export interface Persisted<T> {
  readonly key: string;
  get(): T;
  /** Replaces the value. Throws StasisCodecError at once when the codec cannot write it. */
  set(value: T): void;
  /** `set(fn(get()))`, returning the new value. */
  update(fn: (value: T) => T): T;
}

export interface PersistOptions<T> {
  /** A codec, or the name of one registered with the server. Default: the strict JSON codec. */
  codec?: Codec<T> | string;
}

/** How a value travels inside a blob: the codec's name and its output. */
export interface StoredValue {
  c: string;
  v: Encoded;
}

export type CodecLookup = (name: string) => Codec | undefined;

const KEY_PATTERN = /^[A-Za-z0-9._:/-]{1,128}$/;

/**
 * The opt-in registry of one session. Only values defined here are persisted ("persist inputs,
 * recompute outputs"). Values from a resumed blob are decoded before the app runs and handed out by
 * `define`, so restored state is in place before the first render.
 */
export class StateRegistry {
  readonly #cells = new Map<string, { codec: Codec; get(): unknown }>();
  readonly #restored: Map<string, { codec: string; value: unknown }>;
  readonly #sites: DeclarationSites;

  constructor(
    private readonly codecs: CodecLookup,
    private readonly defaultCodec: Codec,
    restored: Map<string, { codec: string; value: unknown }> = new Map(),
    /** Where the app declares its keys: shared by every session of one app (the manager's). */
    sites: DeclarationSites = new DeclarationSites(),
  ) {
    this.#restored = restored;
    this.#sites = sites;
  }

  /**
   * Declares one persisted value ("component" state: owned by one part of the UI). `caller` is the function the
   * app called (Session.persist): the code calling it is the place a duplicate-key error names.
   */
  define<T>(key: string, initial: T | (() => T), options: PersistOptions<T> = {}, caller?: Caller): Persisted<T> {
    this.#checkKey(key, caller);
    const codec = this.#resolveCodec(key, options.codec);
    const restored = this.#restored.get(key);
    let value: T;
    if (restored && restored.codec === codec.name) {
      value = restored.value as T;
      this.#restored.delete(key);
    } else {
      value = typeof initial === 'function' ? (initial as () => T)() : initial;
      codec.encode(value, key); // refuse unsupported values on the first write, naming the key
    }
    this.#cells.set(key, { codec, get: () => value });
    return {
      key,
      get: () => value,
      set: (next: T) => {
        codec.encode(next, key);
        value = next;
      },
      update(fn) {
        this.set(fn(value));
        return value;
      },
    };
  }

  /**
   * Declares chosen fields of a session-wide object ("service" state): on hibernate those fields are
   * sealed; on resume they are assigned back onto `target` before this returns. Other fields are left
   * to the object (recompute them). Returns `target`.
   */
  defineFields<T extends object, K extends keyof T & string>(
    key: string,
    target: T,
    fields: readonly K[],
    options: PersistOptions<Pick<T, K>> = {},
    caller?: Caller,
  ): T {
    this.#checkKey(key, caller);
    if (!fields.length || new Set(fields).size !== fields.length) {
      throw new StasisConfigError(`persistFields("${key}") needs a non-empty list of distinct field names.`);
    }
    const codec = this.#resolveCodec(key, options.codec);
    const pick = () => Object.fromEntries(fields.map((field) => [field, target[field]])) as Pick<T, K>;
    const restored = this.#restored.get(key);
    if (restored && restored.codec === codec.name && typeof restored.value === 'object' && restored.value !== null) {
      const values = restored.value as Partial<Pick<T, K>>;
      for (const field of fields) if (Object.hasOwn(values, field)) target[field] = values[field] as T[K];
      this.#restored.delete(key);
    } else {
      codec.encode(pick(), key);
    }
    this.#cells.set(key, { codec, get: pick });
    return target;
  }

  #checkKey(key: string, caller: Caller | undefined): void {
    if (typeof key !== 'string' || !KEY_PATTERN.test(key)) {
      throw new StasisConfigError(
        `persist(${typeof key === 'string' ? JSON.stringify(key) : `<${typeof key}>`}): a key must be a stable string of 1-128 letters, digits or . _ : / - ` +
          `(for example "checkout.cart"; per item: \`cart.item:\${item.id}\`).`,
      );
    }
    if (!this.#cells.has(key)) {
      this.#sites.declared(key, caller); // once per key and app: nothing is captured when a session is rebuilt
      return;
    }
    const first = this.#sites.first(key);
    const site = this.#sites.here(caller);
    const sameLine = first !== undefined && first === site;
    throw new StasisConfigError(
      `persist("${key}") was called twice in one session` +
        (first ? ` (first at ${first}${site && !sameLine ? `, again at ${site}` : ''})` : site ? ` (again at ${site})` : '') +
        '. ' +
        (sameLine
          ? 'The same line ran twice: a constant key inside code that runs once per item (a factory or a list). '
          : 'Keys must be unique per session. ') +
        `Give each instance its own key, e.g. persist(\`${key}:\${item.id}\`, ...).`,
    );
  }

  /** Encodes every defined value for a blob. Throws StasisCodecError naming the first bad key and path. */
  encodeAll(): Record<string, StoredValue> {
    const out: Record<string, StoredValue> = {};
    for (const [key, cell] of this.#cells) out[key] = { c: cell.codec.name, v: cell.codec.encode(cell.get(), key) };
    return out;
  }

  get keys(): string[] {
    return [...this.#cells.keys()];
  }

  #resolveCodec<T>(key: string, codec: Codec<T> | string | undefined): Codec {
    if (codec === undefined) return this.defaultCodec;
    if (typeof codec !== 'string') return codec;
    const found = this.codecs(codec);
    if (!found) throw new StasisConfigError(`persist("${key}"): no codec named "${codec}" is registered with the server.`);
    return found;
  }
}

/**
 * Decodes every value of a blob before anything is restored: all or nothing. A value whose codec the
 * server does not know, or that fails to decode, fails the whole resume with `malformed`.
 */
export function decodeStoredValues(
  values: Record<string, unknown>,
  codecs: CodecLookup,
): Map<string, { codec: string; value: unknown }> {
  const out = new Map<string, { codec: string; value: unknown }>();
  for (const [key, stored] of Object.entries(values)) {
    const { c, v } = (stored ?? {}) as Partial<StoredValue>;
    const codec = typeof c === 'string' ? codecs(c) : undefined;
    if (!codec) throw new StasisError('malformed', `Value "${key}" names codec ${JSON.stringify(c)}, which is not registered.`);
    try {
      out.set(key, { codec: c as string, value: codec.decode(v, key) });
    } catch (error) {
      if (error instanceof StasisCodecError) throw new StasisError('malformed', error.message);
      throw new StasisError('malformed', `Value "${key}" could not be decoded.`);
    }
  }
  return out;
}
