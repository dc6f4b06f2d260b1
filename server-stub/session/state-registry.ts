import type { Codec, Encoded } from '../codec/json-codec.js';
import { StasisCodecError, StasisConfigError, StasisError } from '../errors.js';

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

  constructor(
    private readonly codecs: CodecLookup,
    private readonly defaultCodec: Codec,
    restored: Map<string, { codec: string; value: unknown }> = new Map(),
  ) {
    this.#restored = restored;
  }

  define<T>(key: string, initial: T | (() => T), options: PersistOptions<T> = {}): Persisted<T> {
    if (typeof key !== 'string' || !KEY_PATTERN.test(key)) {
      throw new StasisConfigError(
        `persist(${typeof key === 'string' ? JSON.stringify(key) : `<${typeof key}>`}): a key must be a stable string of 1-128 letters, digits or . _ : / - ` +
          `(for example "checkout.cart"; per item: \`cart.item:\${item.id}\`).`,
      );
    }
    if (this.#cells.has(key)) {
      throw new StasisConfigError(
        `persist("${key}") was called twice in one session. Keys must be unique per session; if this runs once ` +
          `per item, include the item's id in the key, e.g. persist(\`${key}:\${id}\`, ...).`,
      );
    }
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
    if (typeof codec !== 'string') return codec as Codec;
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
