import { describe, it, expect } from 'vitest';
import { createJsonCodec, jsonCodec, type ClassCodec, type Codec } from '../../server-stub/codec/json-codec.js';
import { StasisCodecError, StasisConfigError } from '../../server-stub/errors.js';

const KEY = 'cart';

/** encode -> JSON text -> decode, checking on the way that the encoded form is really JSON-safe. */
function roundTrip<T>(value: T, codec: Codec = jsonCodec): T {
  const encoded = codec.encode(value, KEY);
  const text = JSON.stringify(encoded);
  expect(JSON.parse(text)).toStrictEqual(encoded);
  return codec.decode(JSON.parse(text), KEY) as T;
}

/** Asserts fn throws a StasisCodecError with this code, key and path, and a message matching `problem`. */
function expectCodecError(fn: () => unknown, code: 'unserializable' | 'malformed', path: string, problem?: RegExp) {
  expect(fn).toThrow(StasisCodecError);
  expect(fn).toThrow(expect.objectContaining({ code, key: KEY, path }));
  if (problem) expect(fn).toThrow(problem);
}
const refusesEncode = (value: unknown, path: string, problem?: RegExp, codec: Codec = jsonCodec) =>
  expectCodecError(() => codec.encode(value, KEY), 'unserializable', path, problem);
const refusesDecode = (input: unknown, path: string, problem?: RegExp, codec: Codec = jsonCodec) =>
  expectCodecError(() => codec.decode(input, KEY), 'malformed', path, problem);
const decodeText = (text: string) => jsonCodec.decode(JSON.parse(text), KEY);

function nestArrays(levels: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

class Money {
  constructor(readonly cents: bigint, readonly currency: string) {}
}
class Cart {
  constructor(readonly lines: Map<string, Money>, readonly updated: Date) {}
}
const moneyCodec: ClassCodec<Money> = {
  tag: 'Money',
  type: Money,
  toData: (m) => [m.cents, m.currency],
  fromData: (d) => {
    const [cents, currency] = d as [bigint, string];
    if (typeof cents !== 'bigint') throw new Error('cents must be a bigint');
    return new Money(cents, currency);
  },
};
const cartCodec: ClassCodec<Cart> = {
  tag: 'Cart',
  type: Cart,
  toData: (c) => ({ lines: c.lines, updated: c.updated }),
  fromData: (d) => {
    const { lines, updated } = d as { lines: Map<string, Money>; updated: Date };
    return new Cart(lines, updated);
  },
};
const shopCodec = createJsonCodec({ classes: [moneyCodec, cartCodec] });

describe('json codec round-trips', () => {
  it.each([
    ['null', null],
    ['true', true],
    ['false', false],
    ['zero', 0],
    ['a fraction', 1.5],
    ['a negative', -7],
    ['MAX_SAFE_INTEGER', Number.MAX_SAFE_INTEGER],
    ['MIN_VALUE', Number.MIN_VALUE],
    ['MAX_VALUE', Number.MAX_VALUE],
    ['empty string', ''],
    ['unicode', 'héllo 🌍 中文 \u0000 \n "quoted"'],
    ['a lone surrogate', '\uD800x'],
    ['the marker key as a string', '$t'],
    ['a string that looks like a tagged value', '{"$t":"Date","v":1}'],
  ])('keeps %s', (_, value) => {
    expect(roundTrip(value)).toBe(value);
  });

  it.each([NaN, Infinity, -Infinity, -0])('keeps the special number %s (Object.is)', (value) => {
    expect(Object.is(roundTrip(value), value)).toBe(true);
  });

  it('keeps -0 and NaN inside containers', () => {
    const back = roundTrip({ a: [-0, NaN], b: new Map([[-0, 'x']]) });
    expect(Object.is(back.a[0], -0)).toBe(true);
    expect(back.a[1]).toBeNaN();
  });

  it('keeps undefined at the top level, as a property and as an element', () => {
    expect(roundTrip(undefined)).toBeUndefined();
    const obj = roundTrip({ a: undefined, b: 1 });
    expect('a' in obj).toBe(true);
    expect(obj).toStrictEqual({ a: undefined, b: 1 });
    const arr = roundTrip([undefined, 1, undefined]);
    expect(arr).toHaveLength(3);
    expect(0 in arr).toBe(true);
    expect(arr).toStrictEqual([undefined, 1, undefined]);
  });

  it('keeps holes in sparse arrays as holes', () => {
    // eslint-disable-next-line no-sparse-arrays -- holes are what this test is about
    const back = roundTrip([1, , 3, , undefined]);
    expect(back).toHaveLength(5);
    expect(1 in back).toBe(false);
    expect(3 in back).toBe(false);
    expect(4 in back).toBe(true);
    expect(back[2]).toBe(3);
  });

  it('keeps trailing holes and huge sparse arrays small', () => {
    const trailing: unknown[] = [1];
    trailing.length = 4;
    const back = roundTrip(trailing);
    expect(back).toHaveLength(4);
    expect(Object.keys(back)).toEqual(['0']);

    const huge: string[] = [];
    huge[1_000_000_000] = 'x';
    expect(JSON.stringify(jsonCodec.encode(huge, KEY)).length).toBeLessThan(100);
    const hugeBack = roundTrip(huge);
    expect(hugeBack.length).toBe(1_000_000_001);
    expect(hugeBack[1_000_000_000]).toBe('x');
    expect(Object.keys(hugeBack)).toEqual(['1000000000']);
  });

  it('keeps plain objects, key order and odd keys', () => {
    const value = { b: 1, a: { 'with space': 'x', '': [true], '2': null, 'é': 'ü' } };
    const back = roundTrip(value);
    expect(back).toStrictEqual(value);
    expect(Object.keys(back)).toEqual(['b', 'a']);
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
  });

  it('keeps null-prototype objects null-prototype', () => {
    const value = Object.assign(Object.create(null) as Record<string, unknown>, { x: 1, $t: 'Date' });
    const back = roundTrip(value);
    expect(Object.getPrototypeOf(back)).toBeNull();
    expect({ ...back }).toEqual({ x: 1, $t: 'Date' });
  });

  it('escapes user objects whose keys look like tag markers', () => {
    const lookalikes = [
      { $t: 'Date', v: 1 },
      { $t: 'obj', v: { $t: 'Map', v: [] } },
      { $t: 'undef' },
      { $t: 42 },
      { v: 'only v' },
    ];
    for (const value of lookalikes) {
      const back = roundTrip(value);
      expect(back).toStrictEqual(value);
      expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    }
    expect(jsonCodec.encode({ $t: 'Date', v: 1 }, KEY)).toEqual({ $t: 'obj', v: { $t: 'Date', v: 1 } });
  });

  it('keeps Dates, including an invalid Date', () => {
    for (const d of [new Date(0), new Date('2024-02-29T12:34:56.789Z'), new Date(-8.64e15), new Date(8.64e15)]) {
      const back = roundTrip(d);
      expect(back).toBeInstanceOf(Date);
      expect(back.getTime()).toBe(d.getTime());
    }
    const invalid = roundTrip(new Date(NaN));
    expect(invalid).toBeInstanceOf(Date);
    expect(invalid.getTime()).toBeNaN();
  });

  it('keeps Maps with any keys, in insertion order', () => {
    const objKey = { id: 1 };
    const value = new Map<unknown, unknown>([
      ['z', 1],
      [objKey, 'object key'],
      [2n, 'bigint key'],
      [undefined, null],
      [NaN, 'nan key'],
      ['a', new Map([['inner', [1, 2]]])],
    ]);
    const back = roundTrip(value);
    expect(back).toBeInstanceOf(Map);
    expect([...back.keys()]).toStrictEqual(['z', { id: 1 }, 2n, undefined, NaN, 'a']);
    expect(back).toStrictEqual(value);
    expect(back.get(NaN)).toBe('nan key');
  });

  it('keeps Sets in insertion order', () => {
    const value = new Set<unknown>(['b', 'a', 3, { x: 1 }, undefined, null]);
    const back = roundTrip(value);
    expect(back).toBeInstanceOf(Set);
    expect([...back]).toStrictEqual(['b', 'a', 3, { x: 1 }, undefined, null]);
  });

  it.each([0n, 1n, -1n, -(2n ** 64n) + 1n, 2n ** 300n, -(10n ** 100n)])('keeps the bigint %s', (value) => {
    expect(roundTrip(value)).toBe(value);
  });

  it('keeps Uint8Array, only the bytes of the view', () => {
    const all = new Uint8Array([0, 1, 2, 250, 255, 128, 7]);
    const view = all.subarray(2, 5);
    const back = roundTrip(view);
    expect(Object.getPrototypeOf(back)).toBe(Uint8Array.prototype);
    expect([...back]).toEqual([2, 250, 255]);
    expect(back.buffer.byteLength).toBe(3);
    expect(roundTrip(new Uint8Array(0))).toStrictEqual(new Uint8Array(0));
    expect(jsonCodec.encode(new Uint8Array([104, 105]), KEY)).toEqual({ $t: 'bytes', v: 'aGk=' });
  });

  it('keeps ArrayBuffer and DataView', () => {
    const buffer = new Uint8Array([9, 8, 7, 6, 5]).buffer;
    const ab = roundTrip(buffer);
    expect(ab).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(ab)]).toEqual([9, 8, 7, 6, 5]);

    const dv = roundTrip(new DataView(buffer, 1, 3));
    expect(dv).toBeInstanceOf(DataView);
    expect(dv.byteLength).toBe(3);
    expect([dv.getUint8(0), dv.getUint8(1), dv.getUint8(2)]).toEqual([8, 7, 6]);
  });

  it('keeps nested combinations', () => {
    const value = {
      users: [
        { name: 'ann', seen: new Map([['logins', new Set([new Date(1), new Date(2)])]]) },
        { name: 'bob', seen: new Map<string, Set<Date>>(), tags: new Set(['a', 'b']) },
      ],
      blob: { bytes: new Uint8Array([1, 2, 3]), big: [12345678901234567890n] },
      deep: new Map([[new Set([1]), [{ $t: 'x', when: new Date(5) }, undefined]]]),
    };
    const back = roundTrip(value);
    expect(back).toStrictEqual(value);
    const dates = [...back.users[0]!.seen.get('logins')!];
    expect(dates.map((d) => d instanceof Date && d.getTime())).toEqual([1, 2]);
  });

  it('duplicates shared (non-cyclic) references', () => {
    const shared = { x: 1 };
    const back = roundTrip({ a: shared, b: [shared] });
    expect(back.a).toEqual({ x: 1 });
    expect(back.b[0]).toEqual({ x: 1 });
    expect(back.a).not.toBe(back.b[0]);
  });

  it('allows exactly maxDepth levels of nesting', () => {
    expect(roundTrip(nestArrays(200))).toStrictEqual(nestArrays(200));
    const shallow = createJsonCodec({ maxDepth: 3 });
    expect(roundTrip({ a: new Map([['k', 1]]) }, shallow)).toStrictEqual({ a: new Map([['k', 1]]) });
  });

  it('keeps the encoded size close to plain JSON', () => {
    const data = Array.from({ length: 10_000 }, (_, i) => ({ id: i, name: `item ${i}`, price: i / 4, ok: i % 2 === 0 }));
    const encodedSize = JSON.stringify(jsonCodec.encode(data, KEY)).length;
    expect(encodedSize).toBeLessThan(2 * JSON.stringify(data).length);
    expect(roundTrip(data)).toStrictEqual(data);
  });
});

describe('registered classes', () => {
  it('round-trips an allow-listed class whose data holds a Map, Dates and another class', () => {
    const cart = new Cart(new Map([['apple', new Money(125n, 'EUR')], ['pear', new Money(-3n, 'USD')]]), new Date(1000));
    const back = roundTrip({ cart, list: [cart] }, shopCodec);
    expect(back.cart).toBeInstanceOf(Cart);
    expect(back.cart.lines).toBeInstanceOf(Map);
    expect(back.cart.lines.get('apple')).toBeInstanceOf(Money);
    expect(back.cart.lines.get('pear')).toStrictEqual(new Money(-3n, 'USD'));
    expect(back.cart.updated.getTime()).toBe(1000);
    expect(back.list[0]).toStrictEqual(back.cart);
  });

  it('writes classes under their tag', () => {
    expect(shopCodec.encode(new Money(5n, 'EUR'), KEY)).toEqual({
      $t: 'class',
      v: ['Money', [{ $t: 'bigint', v: '5' }, 'EUR']],
    });
  });

  it('matches the exact constructor: subclasses are not registered', () => {
    class Discount extends Money {}
    refusesEncode({ d: new Discount(1n, 'EUR') }, '$.d', /class Discount is not registered/, shopCodec);
  });

  it('refuses unknown class tags and codecs without the class', () => {
    const encoded = JSON.parse(JSON.stringify(shopCodec.encode({ m: new Money(1n, 'EUR') }, KEY)));
    refusesDecode(encoded, '$.m', /unknown class tag "Money"/);
  });

  it('turns a throwing fromData into malformed, naming the tag', () => {
    refusesDecode({ x: [{ $t: 'class', v: ['Money', ['not a bigint', 'EUR']] }] }, '$.x[0]', /"Money".*cents must be a bigint/, shopCodec);
  });

  it('turns a throwing toData into unserializable, naming the tag', () => {
    class Boom {}
    const codec = createJsonCodec({ classes: [{ tag: 'Boom', type: Boom, toData: () => { throw new Error('nope'); }, fromData: () => new Boom() }] });
    refusesEncode([new Boom()], '$[0]', /"Boom".*nope/, codec);
  });

  it('catches toData that returns the instance itself as a cycle', () => {
    class Self {}
    const codec = createJsonCodec({ classes: [{ tag: 'Self', type: Self, toData: (s: Self) => s, fromData: () => new Self() }] });
    refusesEncode(new Self(), '$', /cycle/, codec);
  });

  it('rejects bad registrations', () => {
    expect(() => createJsonCodec({ classes: [moneyCodec, { ...cartCodec, tag: 'Money' }] })).toThrow(StasisConfigError);
    expect(() => createJsonCodec({ classes: [moneyCodec, { ...moneyCodec, tag: 'Other' }] })).toThrow(StasisConfigError);
    expect(() => createJsonCodec({ classes: [{ ...moneyCodec, tag: '' }] })).toThrow(StasisConfigError);
    expect(() => createJsonCodec({ maxDepth: 0 })).toThrow(StasisConfigError);
  });
});

describe('encode refusals', () => {
  class Foo {
    x = 1;
  }
  class FakeNode {
    get nodeType() {
      return 1;
    }
  }
  class FakeWindow {
    document = {};
    window = this;
  }
  const win = new FakeWindow();
  const getter = { get total() { return 1; } };
  const setterOnly = Object.defineProperty({}, 'x', { set() {}, enumerable: true });
  const hidden = Object.defineProperty({}, 'secret', { value: 1, enumerable: false });
  const named = Object.assign([1, 2], { extra: true });
  const protoKey = JSON.parse('{"__proto__": 1}');

  it.each([
    ['a function', { cart: { onClick: () => 1 } }, '$.cart.onClick', /function values cannot be persisted; persist the data it works on/],
    ['a class constructor', [1, Foo], '$[1]', /function values/],
    ['a symbol value', { s: Symbol('x') }, '$.s', /symbols cannot be persisted/],
    ['a symbol key', { a: { [Symbol('k')]: 1 } }, '$.a', /symbol-keyed property Symbol\(k\)/],
    ['an unregistered class', { items: [0, 0, new Foo()] }, '$.items[2]', /instance of class Foo is not registered; register it with a ClassCodec tag/],
    ['a DOM-like node', { el: new FakeNode() }, '$.el', /DOM nodes/],
    ['a window-like object', { w: win }, '$.w', /windows cannot be persisted/],
    ['a Promise', { p: Promise.resolve(1) }, '$.p', /Promise.*await it/],
    ['a WeakMap', new Map([['k', new WeakMap()]]), '$.entries[0].value', /WeakMap cannot be persisted/],
    ['a WeakSet', new Set([new WeakSet()]), '$.values[0]', /WeakSet cannot be persisted/],
    ['a RegExp', { re: /x/g }, '$.re', /RegExp cannot be persisted; persist its source and flags/],
    ['an Error', { e: new Error('x') }, '$.e', /Error objects cannot be persisted/],
    ['a TypeError', { e: new TypeError('x') }, '$.e', /TypeError objects cannot be persisted/],
    ['a Float64Array', { f: new Float64Array(2) }, '$.f', /Float64Array is not supported.*Uint8Array/],
    ['an Int8Array', { f: new Int8Array(2) }, '$.f', /Int8Array is not supported/],
    ['a Uint8ClampedArray', { f: new Uint8ClampedArray(2) }, '$.f', /Uint8ClampedArray is not supported/],
    ['a Node Buffer', { f: Buffer.from('hi') }, '$.f', /Buffer is not supported.*copy the bytes into a Uint8Array/],
    ['a getter', { o: getter }, '$.o.total', /getter\/setter/],
    ['a setter', { o: setterOnly }, '$.o.x', /getter\/setter/],
    ['a non-enumerable property', { o: hidden }, '$.o.secret', /non-enumerable/],
    ['an array with a named property', { a: named }, '$.a.extra', /arrays may only hold elements/],
    ['a __proto__ own key', { o: protoKey }, '$.o.__proto__', /"__proto__" is refused/],
    ['a constructor key', { o: { constructor: 'x' } }, '$.o.constructor', /"constructor" is refused/],
    ['an odd key path', { 'a b': [{ 'c-d': () => 1 }] }, '$["a b"][0]["c-d"]', /function/],
    ['inside a Map key', new Map([[() => 1, 'v']]), '$.entries[0].key', /function/],
    ['inside a sparse array', Object.assign(new Array(5), { 3: Symbol('s') }), '$[3]', /symbol/],
    ['a symbol at the top level', Symbol('top'), '$', /symbols/],
  ])('refuses %s', (_, value, path, problem) => {
    refusesEncode(value, path, problem);
  });

  it('says "cycle" for cycles through objects, arrays, Maps and Sets', () => {
    const a: Record<string, unknown> = { b: {} };
    (a.b as Record<string, unknown>).back = a;
    refusesEncode(a, '$.b.back', /cycle: this is the object at \$ again/);

    const arr: unknown[] = [1];
    arr.push({ arr });
    refusesEncode({ arr }, '$.arr[1].arr', /cycle.*\$\.arr/);

    const m = new Map<string, unknown>();
    m.set('self', new Set([m]));
    refusesEncode(m, '$.entries[0].value.values[0]', /cycle/);
  });

  it('names the class-data path and registered classes in refusals', () => {
    const cart = new Cart(new Map([['x', new Money(1n, 'EUR')]]), new Date(0));
    (cart.lines as Map<string, unknown>).set('bad', () => 0);
    refusesEncode({ cart }, '$.cart.lines.entries[1].value', /function/, shopCodec);
  });

  it('refuses nesting deeper than maxDepth', () => {
    refusesEncode(nestArrays(201), `$${'[0]'.repeat(200)}`, /deeper than maxDepth \(200\)/);
    const shallow = createJsonCodec({ maxDepth: 2 });
    refusesEncode({ a: { b: {} } }, '$.a.b', /maxDepth \(2\)/, shallow);
    refusesEncode({ a: { b: new Date() } }, '$.a.b', /maxDepth/, shallow);
    expect(shallow.encode({ a: { b: 1n } }, KEY)).toEqual({ a: { b: { $t: 'bigint', v: '1' } } });
  });
});

describe('decode refusals', () => {
  it.each([
    ['an unknown tag', { x: { $t: 'Function', v: 'return 1' } }, '$.x', /unknown tag "Function"/],
    ['a non-string tag', { $t: 1, v: 1 }, '$', /tag must be a string/],
    ['extra keys next to a tag', { $t: 'Date', v: 0, x: 1 }, '$', /exactly the keys/],
    ['a tag without payload', { $t: 'Date' }, '$', /exactly the keys/],
    ['undef with a payload', { $t: 'undef', v: 1 }, '$', /exactly the keys/],
    ['a bad special number', { $t: 'num', v: '1e999' }, '$', /"num" payload/],
    ['a bigint with letters', { $t: 'bigint', v: '12a' }, '$', /"bigint" payload must be a decimal integer/],
    ['a bigint with leading zeros', { $t: 'bigint', v: '012' }, '$', /"bigint"/],
    ['an empty bigint', { $t: 'bigint', v: '' }, '$', /"bigint"/],
    ['a bigint as number', { $t: 'bigint', v: 12 }, '$', /"bigint"/],
    ['a Date string', { $t: 'Date', v: '2024-01-01' }, '$', /"Date" payload/],
    ['a Date out of range', { $t: 'Date', v: 8.64e15 + 1 }, '$', /"Date" payload/],
    ['a fractional Date', { $t: 'Date', v: 1.5 }, '$', /"Date" payload/],
    ['a Map that is not pairs', { $t: 'Map', v: [[1, 2, 3]] }, '$', /\[key, value\] pairs/],
    ['a Map payload object', { $t: 'Map', v: { a: 1 } }, '$', /pairs/],
    ['a Map with duplicate keys', { $t: 'Map', v: [['a', 1], ['a', 2]] }, '$', /duplicate keys/],
    ['a Set payload string', { $t: 'Set', v: 'abc' }, '$', /"Set" payload must be an array/],
    ['a Set with duplicates', { $t: 'Set', v: [1, 1] }, '$', /duplicate members/],
    ['base64 with bad characters', { $t: 'bytes', v: 'ab$=' }, '$', /bad base64/],
    ['base64 without padding', { $t: 'bytes', v: 'aGk' }, '$', /bad base64/],
    ['non-canonical base64', { $t: 'bytes', v: 'aGl=' }, '$', /bad base64/],
    ['base64 as a number', { $t: 'ArrayBuffer', v: 1 }, '$', /bad base64/],
    ['base64url in a DataView', { $t: 'DataView', v: '-_-_' }, '$', /bad base64/],
    ['a sparse array with a bad length', { $t: 'sparse', v: [-1, []] }, '$', /"sparse" payload/],
    ['a sparse array too long', { $t: 'sparse', v: [2 ** 32, []] }, '$', /"sparse" payload/],
    ['a sparse index past the length', { $t: 'sparse', v: [2, [[2, 'x']]] }, '$', /ascending integer indices/],
    ['sparse indices out of order', { $t: 'sparse', v: [5, [[3, 'x'], [1, 'y']]] }, '$', /ascending/],
    ['an escaped object that is an array', { $t: 'obj', v: [1] }, '$', /"obj" payload must be an object/],
    ['a class payload without tag', { $t: 'class', v: [1, {}] }, '$', /"class" payload/],
    ['an unregistered class tag', { a: { $t: 'class', v: ['Evil', {}] } }, '$.a', /unknown class tag "Evil"/],
    ['a raw NaN', { n: NaN }, '$.n', /unexpected number NaN/],
    ['a raw undefined', [undefined], '$[0]', /unexpected undefined/],
    ['a raw function', { f: () => 1 }, '$.f', /unexpected function/],
    ['a raw bigint', { b: 1n }, '$.b', /unexpected bigint/],
    ['a live Date instead of its encoding', { d: new Date() }, '$.d', /unexpected instance of Date/],
    ['an array with holes', { a: [1, , 3] }, '$.a', /holes/], // eslint-disable-line no-sparse-arrays -- holes are what this test is about
    ['an accessor property', { o: { get x() { return 1; } } }, '$.o.x', /getter/],
  ])('refuses %s', (_, input, path, problem) => {
    refusesDecode(input, path, problem);
  });

  it.each([
    ['at the top level', '{"__proto__": {"polluted": 1}}', '$.__proto__'],
    ['nested', '{"a": [{"b": {"__proto__": {"polluted": 1}}}]}', '$.a[0].b.__proto__'],
    ['as constructor.prototype', '{"constructor": {"prototype": {"polluted": 1}}}', '$.constructor'],
    ['as a prototype key', '{"x": {"prototype": {"polluted": 1}}}', '$.x.prototype'],
    ['inside an escaped object', '{"$t": "obj", "v": {"$t": 1, "__proto__": {"polluted": 1}}}', '$.__proto__'],
    ['inside a null-prototype object', '{"$t": "nullobj", "v": {"constructor": {"polluted": 1}}}', '$.constructor'],
    ['inside a Map value', '{"$t": "Map", "v": [["k", {"__proto__": {"polluted": 1}}]]}', '$.entries[0].value.__proto__'],
    ['inside class data', '{"$t": "class", "v": ["Money", {"__proto__": {"polluted": 1}}]}', '$.__proto__'],
    ['as a tagged wrapper key', '{"$t": "Date", "v": 0, "__proto__": {"polluted": 1}}', '$.__proto__'],
  ])('refuses a prototype-polluting key %s and leaves Object.prototype alone', (_, text, path) => {
    refusesDecode(JSON.parse(text), path, /refused because it can reach prototypes/, shopCodec);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
  });

  it('builds objects whose prototype is Object.prototype or null, never user data', () => {
    const back = decodeText('{"a": {"x": 1}, "b": {"$t": "nullobj", "v": {"y": 2}}}') as Record<string, object>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(back.a)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(back.b)).toBeNull();
  });

  it('does not run getters of the input', () => {
    let called = false;
    const input = { a: 1 };
    Object.defineProperty(input, 'b', { get: () => { called = true; return 2; }, enumerable: true });
    refusesDecode(input, '$.b', /getter/);
    expect(called).toBe(false);
  });

  it('never calls anything but the registered fromData', () => {
    const calls: unknown[] = [];
    const codec = createJsonCodec({
      classes: [{ tag: 'Money', type: Money, toData: (m: Money) => String(m.cents), fromData: (d) => (calls.push(d), new Money(BigInt(d as string), 'X')) }],
    });
    expect(codec.decode({ $t: 'class', v: ['Money', '7'] }, KEY)).toStrictEqual(new Money(7n, 'X'));
    expect(calls).toEqual(['7']);
    refusesDecode({ $t: 'class', v: ['toString', 'x'] }, '$', /unknown class tag "toString"/, codec);
    refusesDecode({ $t: 'class', v: ['__proto__', 'x'] }, '$', /unknown class tag/, codec);
    expect(calls).toEqual(['7']);
  });

  it('refuses input nested deeper than maxDepth, counting like encode', () => {
    const deep = JSON.parse('['.repeat(201) + ']'.repeat(201));
    refusesDecode(deep, `$${'[0]'.repeat(200)}`, /deeper than maxDepth \(200\)/);
    expect(jsonCodec.decode(JSON.parse('['.repeat(200) + ']'.repeat(200)), KEY)).toBeInstanceOf(Array);

    const shallow = createJsonCodec({ maxDepth: 2 });
    refusesDecode({ a: { b: { $t: 'Map', v: [] } } }, '$.a.b', /maxDepth \(2\)/, shallow);
    expect(shallow.decode({ a: { $t: 'Map', v: [] } }, KEY)).toStrictEqual({ a: new Map() });
    refusesDecode({ $t: 'Map', v: [['k', { $t: 'Set', v: [{ $t: 'Date', v: 0 }] }]] }, '$.entries[0].value.values[0]', /maxDepth/, shallow);
    // A very deep attack made of Map payloads still stops at the limit instead of overflowing the stack.
    let attack: unknown = 1;
    for (let i = 0; i < 100_000; i++) attack = { $t: 'Map', v: [[attack, 1]] };
    expect(() => jsonCodec.decode(attack, KEY)).toThrow(StasisCodecError);
  });
});
