/**
 * Property tests for the strict JSON codec (server-stub/codec/json-codec.ts, docs/codec.md):
 * round-trips of every supported type composed to a real depth, refusals at random paths (with the exact
 * path the codec must report), forbidden keys on decode, and the maxDepth limit in both directions.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createJsonCodec, type ClassCodec, type Codec, type Encoded } from '../../server-stub/codec/json-codec.js';
import { StasisCodecError } from '../../server-stub/errors.js';

// Fixed seed: reproducible runs (a failure prints its own seed/path for replay anyway).
const SEED = 0x57a515;
const params = (numRuns: number): fc.Parameters<unknown> => ({ numRuns, seed: SEED });

// ---- registered classes ----

/** A registered class with fixed, scalar fields. */
class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}
/** A registered class carrying arbitrary nested data; its data is encoded at the instance's own path. */
class Box {
  constructor(public content: unknown) {}
}
/** Subclass of a registered class: NOT registered (exact-constructor match). */
class SubBox extends Box {}
/** Never registered. */
class Unregistered {
  field = 1;
}

const pointCodec: ClassCodec<Point> = {
  tag: 'Point',
  type: Point,
  toData: (p) => [p.x, p.y],
  fromData: (d) => {
    const [x, y] = d as [number, number];
    return new Point(x, y);
  },
};
const boxCodec: ClassCodec<Box> = {
  tag: 'Box',
  type: Box,
  toData: (b) => b.content,
  fromData: (d) => new Box(d),
};

const codec = createJsonCodec({ classes: [pointCodec, boxCodec] });
const codecWithDepth = (maxDepth: number) => createJsonCodec({ classes: [pointCodec, boxCodec], maxDepth });

const FORBIDDEN_KEYS = ['__proto__', 'constructor', 'prototype'] as const;
const IDENT = /^[A-Za-z_$][\w$]*$/;
/** The codec's path convention (docs/codec.md): `.name` for identifier keys, `["odd key"]` otherwise. */
const prop = (key: string) => (IDENT.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`);

// ---- a strict structural comparer ----

/** Returns undefined when `a` and `b` are the same value with exact types, else where and how they differ. */
function difference(a: unknown, b: unknown, at = '$'): string | undefined {
  if (typeof a !== typeof b) return `${at}: typeof ${typeof a} vs ${typeof b}`;
  if (typeof a === 'number') return Object.is(a, b) ? undefined : `${at}: number ${String(a)} vs ${String(b)}`;
  if (typeof a !== 'object' || a === null || b === null) {
    return a === b ? undefined : `${at}: ${String(a)} vs ${String(b)}`;
  }
  const x = a;
  const y = b as object;
  if (x === y) return undefined;
  if (Object.getPrototypeOf(x) !== Object.getPrototypeOf(y)) return `${at}: different prototypes`;
  if (x instanceof Date) {
    return Object.is(x.getTime(), (y as Date).getTime()) ? undefined : `${at}: Date ${x.getTime()} vs ${(y as Date).getTime()}`;
  }
  if (x instanceof Map) {
    const ex = [...x];
    const ey = [...(y as Map<unknown, unknown>)];
    if (ex.length !== ey.length) return `${at}: Map size ${ex.length} vs ${ey.length}`;
    for (let i = 0; i < ex.length; i++) {
      const d =
        difference(ex[i]![0], ey[i]![0], `${at}.entries[${i}].key`) ?? difference(ex[i]![1], ey[i]![1], `${at}.entries[${i}].value`);
      if (d) return d;
    }
    return undefined;
  }
  if (x instanceof Set) {
    const mx = [...x];
    const my = [...(y as Set<unknown>)];
    if (mx.length !== my.length) return `${at}: Set size ${mx.length} vs ${my.length}`;
    for (let i = 0; i < mx.length; i++) {
      const d = difference(mx[i], my[i], `${at}.values[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (x instanceof ArrayBuffer || ArrayBuffer.isView(x)) {
    const bx = x instanceof ArrayBuffer ? new Uint8Array(x) : new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    const by =
      y instanceof ArrayBuffer
        ? new Uint8Array(y)
        : new Uint8Array((y as ArrayBufferView).buffer, (y as ArrayBufferView).byteOffset, (y as ArrayBufferView).byteLength);
    if (bx.length !== by.length) return `${at}: ${bx.length} bytes vs ${by.length}`;
    for (let i = 0; i < bx.length; i++) if (bx[i] !== by[i]) return `${at}: byte ${i} differs`;
    return undefined;
  }
  // Arrays (holes included: a hole has no own key), plain and null-prototype objects, class instances.
  if (Array.isArray(x) && x.length !== (y as unknown[]).length) return `${at}: length ${x.length} vs ${(y as unknown[]).length}`;
  const kx = Reflect.ownKeys(x);
  const ky = Reflect.ownKeys(y);
  if (kx.length !== ky.length || kx.some((k, i) => k !== ky[i])) {
    return `${at}: own keys [${kx.map(String).join(',')}] vs [${ky.map(String).join(',')}]`;
  }
  for (const k of kx) {
    if (typeof k === 'symbol') return `${at}: symbol key`;
    if (Array.isArray(x) && k === 'length') continue;
    const dx = Object.getOwnPropertyDescriptor(x, k)!;
    const dy = Object.getOwnPropertyDescriptor(y, k)!;
    if (dx.enumerable !== dy.enumerable || 'value' in dx !== 'value' in dy) return `${at}${prop(k)}: descriptor differs`;
    const d = difference(dx.value, dy.value, Array.isArray(x) ? `${at}[${k}]` : `${at}${prop(k)}`);
    if (d) return d;
  }
  return undefined;
}

/** Levels as the codec counts them: every object, array, Map, Set, Date, byte value or class instance. */
function levels(v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0;
  if (v instanceof Date || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return 1;
  let children: unknown[];
  if (v instanceof Map) children = [...v].flat();
  else if (v instanceof Set) children = [...v];
  else if (v instanceof Point) children = [[v.x, v.y]];
  else if (v instanceof Box) children = [v.content];
  else children = Object.values(v);
  return 1 + children.reduce<number>((m, c) => Math.max(m, levels(c)), 0);
}

// The comparer must itself be able to fail, or every round-trip below would pass vacuously.
describe('the strict comparer', () => {
  it('tells apart everything the round-trip must keep', () => {
    const sparse: unknown[] = [1, , 3]; // eslint-disable-line no-sparse-arrays -- holes are what this test is about
    const pairs: [unknown, unknown][] = [
      [0, -0],
      [NaN, 0],
      [1n, 1],
      [undefined, null],
      ['1', 1],
      [sparse, [1, undefined, 3]],
      [[1, 2], [1, 2, 3]],
      [{ a: 1 }, Object.assign(Object.create(null) as object, { a: 1 })],
      [{ a: 1, b: 2 }, { b: 2, a: 1 }],
      [new Date(NaN), new Date(0)],
      [new Date(1), new Date(2)],
      [new Map([[1, 2], [3, 4]]), new Map([[3, 4], [1, 2]])],
      [new Set([1, 2]), new Set([2, 1])],
      [new Uint8Array([1, 2]), new Uint8Array([1, 3])],
      [new Uint8Array([1, 2]), new Uint8Array([1, 2]).buffer],
      [new Uint8Array([1, 2]).buffer, new Uint8Array([1, 2, 0]).buffer],
      [new DataView(new Uint8Array([1]).buffer), new Uint8Array([1])],
      [new Point(1, 2), { x: 1, y: 2 }],
      [new Box(-0), new Box(0)],
      [new Box(1), new SubBox(1)],
      [{ a: { b: [new Map([[{ c: NaN }, 1]])] } }, { a: { b: [new Map([[{ c: 0 }, 1]])] } }],
    ];
    for (const [a, b] of pairs) {
      expect(difference(a, b), String(difference(a, b))).toBeTypeOf('string');
      expect(difference(a, a)).toBeUndefined();
    }
    expect(difference(new Date(NaN), new Date(NaN))).toBeUndefined();
    expect(difference([1, , 3], [1, , 3])).toBeUndefined(); // eslint-disable-line no-sparse-arrays -- holes are what this test is about
    expect(levels([{ a: new Map([[1, new Date()]]) }])).toBe(4);
  });
});

// ---- arbitraries for every supported type ----

/** Keys: full unicode, tag-like, index-like, Object.prototype names. Never the three forbidden keys. */
const keyArb = fc
  .oneof(
    fc.string({ unit: 'binary', maxLength: 8 }),
    fc.string({ unit: 'grapheme-ascii', maxLength: 6 }),
    fc.constantFrom('$t', 'v', '$t ', '$T', 'undef', 'Date', '', '0', '1', '10', '-0', '01', 'length', 'toString', 'hasOwnProperty', '__proto', 'proto__', 'odd key', '"', '\u2028'),
  )
  .filter((k) => !(FORBIDDEN_KEYS as readonly string[]).includes(k));

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const stringArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.string({ unit: fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), loneSurrogate), maxLength: 6 }),
  // Strings that look like tags or encoded values are just strings.
  fc.constantFrom('$t', 'undef', 'NaN', '-0', 'Infinity', '{"$t":"Date","v":1}', '{"$t":"undef"}', '[]', 'null', '__proto__', 'constructor'),
);

const numberArb = fc.oneof(
  fc.double(), // includes NaN, ±Infinity, -0 and subnormals
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 0, Number.MIN_VALUE, -Number.MAX_VALUE, 2 ** 53 + 2),
  fc.integer(),
);

const bytesArb = fc.uint8Array({ maxLength: 24 });
/** A Uint8Array view into a larger buffer: only the covered bytes must survive. */
const viewArb = fc
  .tuple(bytesArb, fc.nat(8), fc.nat(8))
  .map(([b, pre, post]) => {
    const all = new Uint8Array(pre + b.length + post).fill(0xee);
    all.set(b, pre);
    return { all, pre, len: b.length };
  });

const scalarArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  numberArb,
  stringArb,
  fc.bigInt(),
  fc.date(), // noInvalidDate defaults to false: Invalid Dates are generated too
  fc.constant(null).map(() => new Date(NaN)),
  bytesArb,
  viewArb.map(({ all, pre, len }) => all.subarray(pre, pre + len)),
  bytesArb.map((b) => b.slice().buffer),
  viewArb.map(({ all, pre, len }) => new DataView(all.buffer, pre, len)),
  fc.tuple(fc.double(), fc.double()).map(([x, y]) => new Point(x, y)),
);

// Tuned so that about one value in seven nests 6 levels or more (asserted below) and the file stays fast.
const MAX_GEN_DEPTH = 12;
const depthIdentifier = fc.createDepthIdentifier();

const { value: valueArb } = fc.letrec<{ value: unknown; container: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'xlarge', maxDepth: MAX_GEN_DEPTH, depthIdentifier },
    { arbitrary: scalarArb, weight: 2 },
    { arbitrary: tie('container'), weight: 3 },
  ),
  container: fc.oneof(
    fc.array(tie('value'), { maxLength: 4, depthIdentifier }),
    fc.sparseArray(tie('value'), { maxLength: 12, maxNumElements: 4, depthIdentifier }),
    // Huge sparse arrays stay tiny on the wire.
    fc
      .tuple(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.array(fc.tuple(fc.nat(2 ** 32 - 2), tie('value')), { maxLength: 3 }))
      .map(([length, items]) => {
        const a: unknown[] = [];
        a.length = length;
        for (const [i, v] of items) if (i < length) a[i] = v;
        return a;
      }),
    // Plain and null-prototype objects (fc.dictionary makes both).
    fc.dictionary(keyArb, tie('value'), { maxKeys: 4, depthIdentifier }),
    fc.dictionary(keyArb, tie('value'), { maxKeys: 3, depthIdentifier }).map((o) => Object.assign(Object.create(null) as object, o)),
    // User objects that look exactly like tagged values (the escape rule).
    fc.record({ $t: fc.constantFrom('Date', 'undef', 'Map', 'obj', 'class', 'sparse', 'bytes', 'nope'), v: tie('value') }),
    fc.record({ $t: fc.constantFrom('undef', 'num') }),
    fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3, depthIdentifier }).map((entries) => new Map(entries)),
    fc.array(tie('value'), { maxLength: 3, depthIdentifier }).map((members) => new Set(members)),
    tie('value').map((content) => new Box(content)),
  ),
}));

// ---- round-trip ----

describe('round-trip: decode(JSON.parse(JSON.stringify(encode(v)))) is v, with exact types', () => {
  const depths: number[] = [];
  afterAll(() => {
    // The generator really nests: a good share of runs go at least 6 levels deep.
    const deep = depths.filter((d) => d >= 6).length;
    console.log(`[codec.property] round-trip: ${depths.length} values, max depth ${Math.max(...depths)}, ${deep} at depth >= 6`);
  });

  it('holds for random values of every supported type, nested', () => {
    fc.assert(
      fc.property(valueArb, fc.string({ maxLength: 10 }), (value, key) => {
        depths.push(levels(value));
        const encoded = codec.encode(value, key);
        const text = JSON.stringify(encoded);
        const wire = JSON.parse(text) as unknown;
        // The encoded form is JSON data: nothing is lost or changed by the JSON text.
        expect(wire).toStrictEqual(encoded);
        const decoded = codec.decode(wire, key);
        const diff = difference(value, decoded);
        if (diff !== undefined) throw new Error(`round-trip changed the value: ${diff}`);
        // Canonical: the decoded value encodes to exactly the same JSON.
        expect(JSON.stringify(codec.encode(decoded, key))).toBe(text);
      }),
      params(2000),
    );
    expect(depths.length).toBe(2000);
    expect(Math.max(...depths)).toBeGreaterThanOrEqual(6);
    expect(depths.filter((d) => d >= 6).length).toBeGreaterThan(depths.length * 0.05);
  });

  it('decoded byte values own exactly-sized buffers', () => {
    fc.assert(
      fc.property(viewArb, ({ all, pre, len }) => {
        const back = codec.decode(JSON.parse(JSON.stringify(codec.encode([all.subarray(pre, pre + len), new DataView(all.buffer, pre, len)], 'k'))), 'k');
        const [u8, dv] = back as [Uint8Array, DataView];
        expect(u8.byteOffset).toBe(0);
        expect(u8.buffer.byteLength).toBe(len);
        expect(dv.byteOffset).toBe(0);
        expect(dv.buffer.byteLength).toBe(len);
      }),
      params(200),
    );
  });

  it('plain data shaped like a DOM node is just data; only non-plain objects are refused as nodes', () => {
    expect(codec.decode(JSON.parse(JSON.stringify(codec.encode({ nodeType: 1, window: 'w' }, 'k'))), 'k')).toStrictEqual({ nodeType: 1, window: 'w' });
    class Node {
      nodeType = 1;
    }
    expect(() => codec.encode({ el: new Node() }, 'k')).toThrow(expect.objectContaining({ code: 'unserializable', path: '$.el' }));
  });
});

// ---- refusals at random paths ----

interface Refused {
  name: string;
  make(): unknown;
  problem: RegExp;
}

const REFUSED: Refused[] = [
  { name: 'arrow function', make: () => () => 1, problem: /function values cannot be persisted/ },
  { name: 'async function', make: () => async () => 1, problem: /function values cannot be persisted/ },
  { name: 'class constructor', make: () => Point, problem: /function values cannot be persisted/ },
  { name: 'symbol', make: () => Symbol('s'), problem: /symbols cannot be persisted/ },
  { name: 'unregistered class', make: () => new Unregistered(), problem: /instance of class Unregistered is not registered/ },
  { name: 'subclass of a registered class', make: () => new SubBox(1), problem: /instance of class SubBox is not registered/ },
  { name: 'Buffer', make: () => Buffer.from([1, 2]), problem: /Buffer is not supported/ },
  { name: 'WeakMap', make: () => new WeakMap(), problem: /WeakMap cannot be persisted/ },
  { name: 'WeakSet', make: () => new WeakSet(), problem: /WeakSet cannot be persisted/ },
  { name: 'Promise', make: () => Promise.resolve(1), problem: /a Promise cannot be persisted/ },
  { name: 'RegExp', make: () => /x/g, problem: /a RegExp cannot be persisted/ },
  { name: 'Error', make: () => new TypeError('boom'), problem: /TypeError objects cannot be persisted/ },
  { name: 'Int16Array', make: () => new Int16Array(2), problem: /Int16Array is not supported/ },
  // A cycle: a slot object whose `back` property points at itself or at one of its ancestors.
  { name: 'cycle', make: () => ({}), problem: /cycle: this is the object at / },
];

/** One step from a container down to the place that holds the next value, with random valid siblings. */
type Step =
  | { kind: 'prop'; key: string; siblings: Record<string, unknown>; nullProto: boolean }
  | { kind: 'index'; before: unknown[]; after: unknown[] }
  | { kind: 'sparse'; before: unknown[]; gap: number; tail: number }
  | { kind: 'mapKey'; before: [unknown, unknown][]; after: [unknown, unknown][]; value: unknown }
  | { kind: 'mapValue'; before: [unknown, unknown][]; after: [unknown, unknown][] }
  | { kind: 'set'; before: unknown[]; after: unknown[] }
  | { kind: 'box' }
  | { kind: 'tagLike' };

/** Small valid siblings, so the search space stays wide but each run is cheap. */
const siblingArb = fc.oneof(scalarArb, fc.array(scalarArb, { maxLength: 2 }), fc.dictionary(keyArb, scalarArb, { maxKeys: 2 }));
const siblingsArb = fc.array(siblingArb, { maxLength: 2 });
const entriesArb = fc.array(fc.tuple(siblingArb, siblingArb), { maxLength: 2 });

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('prop' as const), key: keyArb, siblings: fc.dictionary(keyArb, siblingArb, { maxKeys: 3 }), nullProto: fc.boolean() }),
  fc.record({ kind: fc.constant('index' as const), before: siblingsArb, after: siblingsArb }),
  fc.record({ kind: fc.constant('sparse' as const), before: siblingsArb, gap: fc.integer({ min: 0, max: 1000 }), tail: fc.nat(5) }),
  fc.record({ kind: fc.constant('mapKey' as const), before: entriesArb, after: entriesArb, value: siblingArb }),
  fc.record({ kind: fc.constant('mapValue' as const), before: entriesArb, after: entriesArb }),
  fc.record({ kind: fc.constant('set' as const), before: siblingsArb, after: siblingsArb }),
  fc.constant({ kind: 'box' as const }),
  fc.constant({ kind: 'tagLike' as const }),
);

/**
 * Puts `inner` at the end of `steps` (outermost step first). Returns the root, the path the codec must
 * report for `inner`, and every container on the way with its path (for cycles).
 */
function embed(steps: Step[], inner: unknown): { root: unknown; path: string; containers: { obj: object; path: string }[] } {
  // Build from the innermost step out; segments are collected and joined outermost first.
  const built: { obj: object; segment: string }[] = [];
  let current = inner;
  for (let s = steps.length - 1; s >= 0; s--) {
    const step = steps[s]!;
    let obj: object;
    let segment: string;
    switch (step.kind) {
      case 'prop': {
        const o: Record<string, unknown> = step.nullProto ? (Object.create(null) as Record<string, unknown>) : {};
        Object.assign(o, step.siblings);
        o[step.key] = current;
        obj = o;
        segment = prop(step.key);
        break;
      }
      case 'index': {
        obj = [...step.before, current, ...step.after];
        segment = `[${step.before.length}]`;
        break;
      }
      case 'sparse': {
        const a: unknown[] = [...step.before];
        a.length += step.gap;
        const i = a.length;
        a.push(current);
        a.length += step.tail;
        obj = a;
        segment = `[${i}]`;
        break;
      }
      case 'mapKey': {
        const m = new Map([...step.before, [current, step.value], ...step.after]);
        obj = m;
        segment = `.entries[${[...m.keys()].indexOf(current)}].key`;
        break;
      }
      case 'mapValue': {
        const marker = { marker: true }; // a unique key, so no sibling overwrites this entry
        const m = new Map<unknown, unknown>([...step.before, [marker, current], ...step.after]);
        obj = m;
        segment = `.entries[${[...m.keys()].indexOf(marker)}].value`;
        break;
      }
      case 'set': {
        const set = new Set([...step.before, current, ...step.after]);
        obj = set;
        segment = `.values[${[...set].indexOf(current)}]`;
        break;
      }
      case 'box': {
        obj = new Box(current); // class data keeps the instance's path
        segment = '';
        break;
      }
      case 'tagLike': {
        obj = { $t: 'Date', v: current }; // escaped as "obj": the user keys stay the path
        segment = '.v';
        break;
      }
    }
    built.unshift({ obj, segment });
    current = obj;
  }
  let path = '$';
  const containers: { obj: object; path: string }[] = [];
  for (const { obj, segment } of built) {
    containers.push({ obj, path });
    path += segment;
  }
  return { root: current, path, containers };
}

describe('encode refusals at random paths', () => {
  const seen = new Map<string, number>();
  afterAll(() => console.log(`[codec.property] refusals: ${[...seen].map(([k, n]) => `${k}=${n}`).join(' ')}`));

  it('any refused thing at any path → StasisCodecError unserializable, with the key and that exact path', () => {
    fc.assert(
      fc.property(
        fc.array(stepArb, { maxLength: 7 }),
        fc.constantFrom(...REFUSED),
        fc.string({ maxLength: 12 }),
        fc.nat(),
        (steps, refused, key, pick) => {
          seen.set(refused.name, (seen.get(refused.name) ?? 0) + 1);
          const thing = refused.make();
          const { root, path, containers } = embed(steps, thing);
          let expectedPath = path;
          let expectedProblem = refused.problem;
          if (refused.name === 'cycle') {
            // Point back at the slot itself or at any container above it.
            const targets = [...containers, { obj: thing as object, path }];
            const target = targets[pick % targets.length]!;
            (thing as { back?: unknown }).back = target.obj;
            expectedPath = `${path}.back`;
            expectedProblem = new RegExp(`cycle: this is the object at ${escapeRegExp(target.path)} again`);
          }
          let error: unknown;
          try {
            codec.encode(root, key);
          } catch (e) {
            error = e;
          }
          expect(error).toBeInstanceOf(StasisCodecError);
          const e = error as StasisCodecError;
          expect({ code: e.code, key: e.key, path: e.path }).toStrictEqual({ code: 'unserializable', key, path: expectedPath });
          expect(e.message).toMatch(expectedProblem);
          expect(e.message.startsWith(`${key} at ${expectedPath}: `)).toBe(true);
        },
      ),
      params(1500),
    );
    for (const r of REFUSED) expect(seen.get(r.name) ?? 0, r.name).toBeGreaterThan(20);
  });

  it('the same paths hold valid values: the embedding alone is never refused', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 7 }), scalarArb, (steps, leaf) => {
        const { root } = embed(steps, leaf);
        const back = codec.decode(JSON.parse(JSON.stringify(codec.encode(root, 'k'))), 'k');
        const diff = difference(root, back);
        if (diff !== undefined) throw new Error(diff);
      }),
      params(500),
    );
  });
});

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---- decode refusals: keys that could reach a prototype ----

/** Every JSON object inside an encoded value (tag objects and payloads included). */
function jsonObjects(v: unknown, out: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (Array.isArray(v)) for (const x of v) jsonObjects(x, out);
  else if (typeof v === 'object' && v !== null) {
    out.push(v as Record<string, unknown>);
    for (const x of Object.values(v)) jsonObjects(x, out);
  }
  return out;
}

/** Every place (container + index/key) in an encoded value, to wrap its node in an object. */
function slots(v: unknown, out: { parent: Record<string, unknown> | unknown[]; at: string | number }[] = []) {
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      out.push({ parent: v, at: i });
      slots(x, out);
    });
  } else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      out.push({ parent: v as Record<string, unknown>, at: k });
      slots(x, out);
    }
  }
  return out;
}

const PAYLOADS: Record<(typeof FORBIDDEN_KEYS)[number], Encoded> = {
  __proto__: { polluted: true, toString: 'x' },
  constructor: { prototype: { polluted: true } },
  prototype: { polluted: true },
};

describe('decode refusals', () => {
  const protoNames = Object.getOwnPropertyNames(Object.prototype).sort();
  const protoToString = Object.getOwnPropertyDescriptor(Object.prototype, 'toString');
  const notPolluted = () => {
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toStrictEqual(protoNames);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(Object.prototype, 'toString')).toStrictEqual(protoToString);
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  };

  it('a __proto__/constructor/prototype key anywhere in a valid encoded value → malformed; Object.prototype untouched', () => {
    let intoExisting = 0;
    let wrapped = 0;
    fc.assert(
      fc.property(valueArb, fc.constantFrom(...FORBIDDEN_KEYS), fc.nat(), fc.boolean(), fc.string({ maxLength: 8 }), (value, bad, pick, wrap, key) => {
        const wire = JSON.parse(JSON.stringify(codec.encode(value, key))) as unknown;
        const objects = jsonObjects(wire);
        const places = slots(wire);
        let text: string;
        let exact = false;
        if (!wrap && objects.length > 0) {
          // Add the key to an object the encoding already has (a data object, a tag object or a payload).
          const target = objects[pick % objects.length]!;
          Object.defineProperty(target, bad, { value: PAYLOADS[bad], enumerable: true, writable: true, configurable: true });
          text = JSON.stringify(wire);
          exact = true;
          intoExisting++;
        } else if (places.length > 0 && pick % (places.length + 1) < places.length) {
          // Replace one node by an object holding the forbidden key next to it.
          const { parent, at } = places[pick % (places.length + 1)]!;
          const holder: Record<string, unknown> = {};
          Object.defineProperty(holder, bad, { value: PAYLOADS[bad], enumerable: true, writable: true, configurable: true });
          holder.x = (parent as Record<string | number, unknown>)[at];
          (parent as Record<string | number, unknown>)[at] = holder;
          text = JSON.stringify(wire);
          wrapped++;
        } else {
          // Wrap the whole value.
          text = `{${JSON.stringify(bad)}:${JSON.stringify(PAYLOADS[bad])},"x":${JSON.stringify(wire)}}`;
          wrapped++;
        }
        expect(text).toContain(`"${bad}":`);
        // What the server sees: JSON.parse makes `__proto__` an own property, never a prototype change.
        const input = JSON.parse(text) as unknown;
        let error: unknown;
        try {
          codec.decode(input, key);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(StasisCodecError);
        const e = error as StasisCodecError;
        expect(e.code).toBe('malformed');
        expect(e.key).toBe(key);
        expect(e.path.startsWith('$')).toBe(true);
        if (exact) {
          // Nothing else is wrong with the value, so the refusal is about this very key.
          expect(e.path.endsWith(`.${bad}`)).toBe(true);
          expect(e.message).toContain(`the key "${bad}" is refused`);
        }
        notPolluted();
      }),
      params(1000),
    );
    expect(intoExisting).toBeGreaterThan(100);
    expect(wrapped).toBeGreaterThan(100);
    notPolluted();
  });
});

// ---- maxDepth ----

type Level = 'array' | 'object' | 'nullobj' | 'sparse' | 'mapKey' | 'mapValue' | 'set' | 'box' | 'tagLike';
const levelArb = fc.constantFrom<Level>('array', 'object', 'nullobj', 'sparse', 'mapKey', 'mapValue', 'set', 'box', 'tagLike');

/** A chain of containers; returns the root and the path of the container at each level. */
function chain(kinds: Level[], leaf: unknown): { root: unknown; paths: string[] } {
  let v = leaf;
  const segments: string[] = [];
  for (let i = kinds.length - 1; i >= 0; i--) {
    switch (kinds[i]!) {
      case 'array': v = [0, v]; segments.unshift('[1]'); break;
      case 'object': v = { 'a b': v }; segments.unshift('["a b"]'); break;
      case 'nullobj': v = Object.assign(Object.create(null) as object, { n: v }); segments.unshift('.n'); break;
      case 'sparse': { const a: unknown[] = []; a[5] = v; v = a; segments.unshift('[5]'); break; }
      case 'mapKey': v = new Map([['x', 1], [v, 2]]); segments.unshift('.entries[1].key'); break;
      case 'mapValue': v = new Map([['x', v]]); segments.unshift('.entries[0].value'); break;
      case 'set': v = new Set(['x', v]); segments.unshift('.values[1]'); break;
      // A Box is one level and its data is written at the same path; a non-object data adds nothing.
      case 'box': v = new Box(v); segments.unshift(''); break;
      case 'tagLike': v = { $t: 'x', v }; segments.unshift('.v'); break;
    }
  }
  const paths: string[] = [];
  let p = '$';
  for (const s of segments) {
    paths.push(p);
    p += s;
  }
  paths.push(p); // the leaf's path
  return { root: v, paths };
}

describe('maxDepth', () => {
  const leafArb = fc.oneof(
    fc.constant({ value: 'leaf', levels: 0 }),
    fc.constant(null).map(() => ({ value: new Date(0), levels: 1 })),
    fc.constant(null).map(() => ({ value: new Uint8Array([1]), levels: 1 })),
    fc.constant(null).map(() => ({ value: new Point(1, 2), levels: 2 })), // instance + its [x, y] data
  );

  it('a value exactly maxDepth levels deep round-trips; one level more is refused by encode and by decode at that level', () => {
    fc.assert(
      fc.property(fc.array(levelArb, { minLength: 0, maxLength: 40 }), leafArb, fc.integer({ min: 1, max: 45 }), (kinds, leaf, maxDepth) => {
        const { root, paths } = chain(kinds, leaf.value);
        const depth = levels(root);
        expect(depth).toBe(kinds.length + leaf.levels);
        const limited = codecWithDepth(maxDepth);
        const roomy = codecWithDepth(100);
        const wire = JSON.parse(JSON.stringify(roomy.encode(root, 'deep'))) as unknown;
        if (depth <= maxDepth) {
          const back = limited.decode(JSON.parse(JSON.stringify(limited.encode(root, 'deep'))), 'deep');
          expect(difference(root, back)).toBeUndefined();
          expect(difference(root, limited.decode(wire, 'deep'))).toBeUndefined();
          return;
        }
        // The first level past the limit is container number maxDepth (0-based) on the chain; for a
        // Point leaf it can also be the Point (at the leaf's path) or its data array (same path).
        const expectedPath = paths[Math.min(maxDepth, kinds.length)]!;
        for (const [fn, code] of [
          [() => limited.encode(root, 'deep'), 'unserializable'],
          [() => limited.decode(wire, 'deep'), 'malformed'],
        ] as const) {
          let error: unknown;
          try {
            fn();
          } catch (e) {
            error = e;
          }
          expect(error).toBeInstanceOf(StasisCodecError);
          const e = error as StasisCodecError;
          expect({ code: e.code, key: e.key, path: e.path }).toStrictEqual({ code, key: 'deep', path: expectedPath });
          expect(e.message).toContain(`nested deeper than maxDepth (${maxDepth})`);
        }
      }),
      params(1000),
    );
  });

  it('the default limit (200) refuses 201 levels on encode and decode, and takes 200', () => {
    const nest = (n: number) => {
      let v: unknown = 1;
      for (let i = 0; i < n; i++) v = i % 2 ? [v] : { k: v };
      return v;
    };
    const defaultCodec: Codec = createJsonCodec();
    expect(() => defaultCodec.encode(nest(200), 'k')).not.toThrow();
    expect(() => defaultCodec.encode(nest(201), 'k')).toThrow(expect.objectContaining({ code: 'unserializable' }));
    // Hand-built JSON 201 levels deep (encode would have refused it).
    expect(() => defaultCodec.decode(JSON.parse('['.repeat(201) + ']'.repeat(201)), 'k')).toThrow(
      expect.objectContaining({ code: 'malformed' }),
    );
    expect(() => defaultCodec.decode(JSON.parse('['.repeat(200) + ']'.repeat(200)), 'k')).not.toThrow();
    // Very deep input (far past the limit) is refused cleanly, not with a stack overflow.
    expect(() => defaultCodec.decode(JSON.parse('['.repeat(5000) + ']'.repeat(5000)), 'k')).toThrow(StasisCodecError);
  });
});
