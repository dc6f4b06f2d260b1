import { describe, expect, it, vi } from 'vitest';
import { jsonCodec, type Codec } from '../../../server-stub/codec/json-codec.js';
import { StasisCodecError, StasisError } from '../../../server-stub/errors.js';
import { decodeStoredValues, StateRegistry, type CodecLookup } from '../../../server-stub/session/state-registry.js';
import { configError } from './helpers.js';

/** A second codec that only stores strings, upper-cased on the wire. */
const shoutCodec: Codec<string> = {
  name: 'shout',
  encode(value, key) {
    if (typeof value !== 'string') throw new StasisCodecError('unserializable', key, '$', 'only strings');
    return value.toUpperCase();
  },
  decode(encoded, key) {
    if (typeof encoded !== 'string') throw new StasisCodecError('malformed', key, '$', 'expected a string');
    return encoded.toLowerCase();
  },
};
/** A codec whose decode fails with a plain Error (not a StasisCodecError). */
const brokenCodec: Codec = {
  name: 'broken',
  encode: (v) => v as never,
  decode: () => {
    throw new TypeError('secret internal detail');
  },
};
const codecs = new Map<string, Codec>([
  ['json', jsonCodec],
  ['shout', shoutCodec],
  ['broken', brokenCodec],
]);
const lookup: CodecLookup = (name) => codecs.get(name);
const registry = (restored?: Map<string, { codec: string; value: unknown }>) => new StateRegistry(lookup, jsonCodec, restored);

describe('StateRegistry.define', () => {
  it('returns a persisted value: get, set, update, key', () => {
    const r = registry();
    const count = r.define('counter', 1);
    expect(count.key).toBe('counter');
    expect(count.get()).toBe(1);
    count.set(5);
    expect(count.get()).toBe(5);
    expect(count.update((n) => n * 2)).toBe(10);
    expect(count.get()).toBe(10);
    expect(r.keys).toEqual(['counter']);
  });

  it('calls a lazy initial value once', () => {
    const init = vi.fn(() => new Map([['a', 1]]));
    const v = registry().define('lazy', init);
    expect(init).toHaveBeenCalledTimes(1);
    expect(v.get()).toStrictEqual(new Map([['a', 1]]));
  });

  it('refuses a duplicate key with a message showing the per-instance form', () => {
    const r = registry();
    r.define('cart.item', 0);
    const error = configError(() => r.define('cart.item', 1));
    expect(error.message).toContain('persist("cart.item") was called twice');
    expect(error.message).toContain('persist(`cart.item:${item.id}`, ...)');
    // The first definition is untouched.
    expect(r.keys).toEqual(['cart.item']);
  });

  it('refuses invalid keys: empty, spaces, too long, odd characters, non-strings', () => {
    const r = registry();
    for (const key of ['', ' ', 'has space', 'tab\tkey', 'x'.repeat(129), 'ключ', 'a?b', 'a#b', 'a\nb']) {
      const error = configError(() => r.define(key, 1));
      expect(error.message).toContain('a key must be a stable string of 1-128');
      expect(error.message).toContain(JSON.stringify(key));
    }
    for (const key of [42, null, undefined, {}, ['a'], true]) {
      configError(() => r.define(key as string, 1));
    }
    expect(r.keys).toEqual([]);
  });

  // The message must not JSON.stringify a bigint key (that would throw a TypeError instead).
  it('a bigint key is refused with a StasisConfigError', () => {
    configError(() => registry().define(1n as unknown as string, 1));
  });

  it('accepts the documented key alphabet up to 128 characters', () => {
    const r = registry();
    for (const key of ['a', 'checkout.cart', 'cart.item:42', 'a/b-c_d.e:f', 'x'.repeat(128)]) r.define(key, 1);
    expect(r.keys).toHaveLength(5);
  });

  it('refuses an initial value the codec cannot write, naming the key', () => {
    const r = registry();
    const cases: unknown[] = [Symbol('s'), new WeakMap(), { el: () => 1 }, Promise.resolve(1), new (class Foo {})()];
    for (const [i, value] of cases.entries()) {
      let caught: unknown;
      try {
        r.define(`bad.${i}`, () => value);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(StasisCodecError);
      expect((caught as StasisCodecError).code).toBe('unserializable');
      expect((caught as StasisCodecError).key).toBe(`bad.${i}`);
      expect((caught as Error).message).toContain(`bad.${i}`);
    }
    // A refused define leaves nothing behind: the key can be defined properly afterwards.
    expect(r.keys).toEqual([]);
    expect(r.define('bad.0', 'ok').get()).toBe('ok');
  });

  it('set() refuses unsupported values at once and keeps the previous value', () => {
    const r = registry();
    const v = r.define<unknown>('v', { a: 1 });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [() => 1, cyclic, new WeakSet(), /re/, new Error('x')]) {
      expect(() => v.set(bad)).toThrow(StasisCodecError);
    }
    expect(() => v.update(() => Symbol('x'))).toThrow(StasisCodecError);
    expect(v.get()).toStrictEqual({ a: 1 });
    try {
      v.set({ nested: { fn: () => 1 } });
    } catch (error) {
      expect(error).toMatchObject({ code: 'unserializable', key: 'v', path: '$.nested.fn' });
    }
  });

  it('uses a codec given by object or by name, and refuses an unknown codec name', () => {
    const r = registry();
    const loud = r.define('loud', 'hi', { codec: 'shout' });
    const direct = r.define('direct', 'yo', { codec: shoutCodec });
    expect(r.encodeAll()).toStrictEqual({ loud: { c: 'shout', v: 'HI' }, direct: { c: 'shout', v: 'YO' } });
    expect(() => loud.set(5 as unknown as string)).toThrow(StasisCodecError);
    expect(direct.get()).toBe('yo');
    const error = configError(() => r.define('x', 1, { codec: 'nope' }));
    expect(error.message).toContain('no codec named "nope"');
  });

  it('hands restored values back from define without calling the initial factory', () => {
    const stamp = new Date(1_700_000_000_000);
    const restored = new Map<string, { codec: string; value: unknown }>([
      ['cart', { codec: 'json', value: new Map([['pen', 2]]) }],
      ['when', { codec: 'json', value: stamp }],
      ['loud', { codec: 'shout', value: 'hi' }],
    ]);
    const r = registry(restored);
    const init = vi.fn(() => new Map<string, number>());
    expect(r.define('cart', init).get()).toStrictEqual(new Map([['pen', 2]]));
    expect(init).not.toHaveBeenCalled();
    expect(r.define('when', () => new Date(0)).get()).toBe(stamp);
    expect(r.define('loud', 'initial', { codec: 'shout' }).get()).toBe('hi');
    // Handed-back entries are removed from the restored map: what is left was never defined.
    expect(restored.size).toBe(0);
  });

  it('a restored value written by another codec is not handed to a define with a different codec', () => {
    const restored = new Map([['note', { codec: 'shout', value: 'from blob' }]]);
    const r = registry(restored);
    expect(r.define('note', 'initial').get()).toBe('initial');
  });

  it('encodeAll writes every value with its codec name and fails naming the first bad key', () => {
    const r = registry();
    const cart = r.define('cart', () => new Map<string, unknown>([['pen', 1]]));
    r.define('n', 7n);
    expect(r.encodeAll()).toStrictEqual({
      cart: { c: 'json', v: { $t: 'Map', v: [['pen', 1]] } },
      n: { c: 'json', v: { $t: 'bigint', v: '7' } },
    });
    cart.get().set('bad', Symbol('s'));
    try {
      r.encodeAll();
      expect.unreachable('encodeAll should refuse');
    } catch (error) {
      expect(error).toMatchObject({ code: 'unserializable', key: 'cart', path: '$.entries[1].value' });
    }
  });
});

describe('decodeStoredValues', () => {
  it('decodes what encodeAll wrote (through JSON text)', () => {
    const r = registry();
    r.define('cart', () => new Map([['pen', 2]]));
    r.define('when', () => new Date(5));
    r.define('loud', 'hey', { codec: 'shout' });
    const values = JSON.parse(JSON.stringify(r.encodeAll())) as Record<string, unknown>;
    const decoded = decodeStoredValues(values, lookup);
    expect(decoded).toStrictEqual(
      new Map<string, { codec: string; value: unknown }>([
        ['cart', { codec: 'json', value: new Map([['pen', 2]]) }],
        ['when', { codec: 'json', value: new Date(5) }],
        ['loud', { codec: 'shout', value: 'hey' }],
      ]),
    );
    // And a fresh registry hands them back.
    const again = registry(decoded);
    expect(again.define('cart', () => new Map()).get()).toStrictEqual(new Map([['pen', 2]]));
  });

  const malformed = (values: Record<string, unknown>) => {
    let caught: unknown;
    try {
      decodeStoredValues(values, lookup);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(StasisError);
    expect((caught as StasisError).code).toBe('malformed');
    return caught as StasisError;
  };

  it('an unknown codec name → malformed naming the value', () => {
    expect(malformed({ cart: { c: 'msgpack', v: 1 } }).message).toContain('"cart"');
    expect(malformed({ cart: { c: 'msgpack', v: 1 } }).message).toContain('msgpack');
    malformed({ cart: { v: 1 } });
    malformed({ cart: { c: 5, v: 1 } });
    malformed({ cart: null });
    malformed({ cart: 'json' });
    // JSON.parse makes "__proto__" an own key, as it would be in a blob.
    expect(malformed(JSON.parse('{"__proto__": {"c": "nope", "v": 1}}') as Record<string, unknown>).message).toContain('__proto__');
  });

  it('a payload the codec refuses → malformed with the codec message', () => {
    expect(malformed({ cart: { c: 'json', v: { $t: 'Nope', v: 1 } } }).message).toContain('unknown tag "Nope"');
    malformed({ cart: { c: 'json', v: { $t: 'Map', v: [[1, 2], [1, 3]] } } });
    malformed({ n: { c: 'json', v: { $t: 'bigint', v: '1.5' } } });
    malformed({ loud: { c: 'shout', v: 3 } });
  });

  it('a codec failing with a plain error → malformed without leaking its message', () => {
    const error = malformed({ x: { c: 'broken', v: 1 } });
    expect(error.message).toBe('Value "x" could not be decoded.');
    expect(error.message).not.toContain('secret internal detail');
  });

  it('is all or nothing: one bad value fails the whole decode', () => {
    malformed({ good: { c: 'json', v: 1 }, bad: { c: 'json', v: { $t: 'Date', v: 'yesterday' } }, later: { c: 'json', v: 2 } });
  });

  it('an empty values object decodes to an empty map', () => {
    expect(decodeStoredValues({}, lookup).size).toBe(0);
  });
});
