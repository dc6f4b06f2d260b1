import { StasisCodecError, StasisConfigError } from '../errors.js';

/** What encode produces: survives `JSON.parse(JSON.stringify(x))` unchanged. */
export type Encoded = null | boolean | number | string | Encoded[] | { [k: string]: Encoded };

export interface Codec<T = unknown> {
  readonly name: string;
  /** Throws StasisCodecError('unserializable', key, path, problem) on the first value it cannot write. */
  encode(value: T, key: string): Encoded;
  /** Throws StasisCodecError('malformed', key, path, problem) on anything it does not recognise. */
  decode(encoded: unknown, key: string): T;
}

/** How one app class is written. `toData`'s result is itself encoded, so it may hold Dates, Maps, other classes. */
export interface ClassCodec<T> {
  tag: string;
  type: abstract new (...a: never[]) => T;
  toData(v: T): unknown;
  fromData(data: unknown): T;
}

export interface JsonCodecOptions {
  // One list holds codecs of different classes, and an inline codec's `toData: (m) => …` is typed by it: TypeScript
  // has no existential type, and ClassCodec<unknown> would make every such parameter `unknown`.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
  classes?: ClassCodec<any>[];
  /** Most containers (objects, arrays, Maps, Dates, class instances...) one value may nest. Default 200. */
  maxDepth?: number;
}

/** Marker key: an object holding it is a tagged value `{ "$t": tag, "v": payload }`. */
const TAG = '$t';
// Refused as object keys in both directions, so decode output can never reach a prototype.
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const SPECIAL_NUMBERS = new Set(['NaN', 'Infinity', '-Infinity', '-0']);
const BIGINT = /^-?(?:0|[1-9]\d*)$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const INDEX = /^(?:0|[1-9]\d*)$/;
const IDENT = /^[A-Za-z_$][\w$]*$/;
const MAX_DATE_MS = 8.64e15;
const MAX_ARRAY_LENGTH = 2 ** 32 - 1;

/** Builds (does not throw) the error, so call sites read `throw fail(...)` and TypeScript sees the exit. */
type Fail = (path: string, problem: string) => StasisCodecError;

/** Paths look like `$.cart.items[2]["odd key"]`; Map and Set members are `.entries[i].key|value` and `.values[i]`. */
const child = (path: string, key: string) => (IDENT.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`);

const isPlain = (v: object) => {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

function className(v: object): string {
  const name: unknown = (Object.getPrototypeOf(v) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  return typeof name === 'string' && name !== '' ? name : '(anonymous)';
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Own properties of a plain object or array. Anything JSON would silently lose (symbol keys, accessors,
 * hidden or named array properties) is refused instead, because a session that resumes with less data
 * than it hibernated with is worse than one that refuses to hibernate.
 */
function dataEntries(obj: object, path: string, fail: Fail): [string, unknown][] {
  const isArray = Array.isArray(obj);
  const out: [string, unknown][] = [];
  for (const k of Reflect.ownKeys(obj)) {
    if (typeof k === 'symbol') throw fail(path, `symbol-keyed property ${String(k)} cannot be persisted; use a string key`);
    if (isArray && k === 'length') continue;
    const at = child(path, k);
    const d = Object.getOwnPropertyDescriptor(obj, k)!;
    if (!('value' in d)) throw fail(at, 'getter/setter properties cannot be persisted; store the plain value instead');
    if (!d.enumerable) throw fail(at, 'non-enumerable properties cannot be persisted; make it a normal property or drop it');
    if (FORBIDDEN_KEYS.has(k)) throw fail(at, `the key "${k}" is refused because it can reach prototypes; rename it`);
    if (isArray && !(INDEX.test(k) && Number(k) < (obj as unknown[]).length)) {
      throw fail(at, 'arrays may only hold elements, not named properties; use an object');
    }
    out.push([k, d.value]);
  }
  return out;
}

/** Values refused with a specific hint; everything else non-plain falls through to "unregistered class". */
function refusal(v: object): string | undefined {
  const proto = Object.getPrototypeOf(v) as unknown;
  // Only non-plain objects can be DOM nodes or windows: plain data like { nodeType: 1 } is just data
  // (and its getters are never run here).
  const plain = proto === Object.prototype || proto === null || proto === Array.prototype;
  const o = v as { nodeType?: unknown; window?: unknown };
  if (!plain && (typeof o.nodeType === 'number' || o.window === v)) {
    return 'DOM nodes and windows cannot be persisted; persist the data they show (ids, text, form values) instead';
  }
  if (v instanceof Promise) return 'a Promise cannot be persisted; await it and persist the result';
  if (v instanceof WeakMap || v instanceof WeakSet || v instanceof WeakRef) {
    return `${className(v)} cannot be persisted because its contents cannot be listed; use a Map or Set`;
  }
  if (v instanceof RegExp) return 'a RegExp cannot be persisted; persist its source and flags as strings';
  if (v instanceof Error) return `${className(v)} objects cannot be persisted; persist the message or a status instead`;
  if (ArrayBuffer.isView(v) && proto !== Uint8Array.prototype && proto !== DataView.prototype) {
    return `${className(v)} is not supported (only Uint8Array, ArrayBuffer and DataView are); copy the bytes into a Uint8Array`;
  }
  return undefined;
}

const base64 = (v: ArrayBufferView | ArrayBuffer) =>
  (ArrayBuffer.isView(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : Buffer.from(v)).toString('base64');

export function createJsonCodec(options: JsonCodecOptions = {}): Codec {
  const maxDepth = options.maxDepth ?? 200;
  if (!Number.isInteger(maxDepth) || maxDepth < 1) throw new StasisConfigError(`maxDepth must be a positive integer, got ${maxDepth}`);
  const byTag = new Map<string, ClassCodec<unknown>>();
  const byProto = new Map<unknown, ClassCodec<unknown>>();
  for (const c of options.classes ?? []) {
    if (typeof c.tag !== 'string' || c.tag === '' || byTag.has(c.tag)) {
      throw new StasisConfigError(`class tag ${JSON.stringify(c.tag)} is empty or registered twice`);
    }
    if (byProto.has(c.type.prototype)) throw new StasisConfigError(`class ${c.type.name} is registered twice`);
    byTag.set(c.tag, c);
    byProto.set(c.type.prototype, c);
  }

  function encode(value: unknown, key: string): Encoded {
    const fail: Fail = (path, problem) => new StasisCodecError('unserializable', key, path, problem);
    const open = new Map<object, string>(); // objects being written right now -> their path; meeting one again is a cycle

    const write = (v: unknown, path: string, depth: number): Encoded => {
      switch (typeof v) {
        case 'undefined': return { [TAG]: 'undef' };
        case 'boolean': case 'string': return v;
        case 'number': return Number.isFinite(v) && !Object.is(v, -0) ? v : { [TAG]: 'num', v: Object.is(v, -0) ? '-0' : String(v) };
        case 'bigint': return { [TAG]: 'bigint', v: v.toString() };
        case 'symbol': throw fail(path, 'symbols cannot be persisted; store a string instead');
        case 'function': throw fail(path, 'function values cannot be persisted; persist the data it works on instead');
        case 'object': break; // null, arrays, plain objects and class instances: below
      }
      if (v === null || typeof v !== 'object') return null; // only null is left
      const at = open.get(v);
      if (at !== undefined) throw fail(path, `cycle: this is the object at ${at} again; store an id instead of the back-reference`);
      if (depth >= maxDepth) throw fail(path, `value is nested deeper than maxDepth (${maxDepth})`);
      open.set(v, path);
      try {
        return writeObject(v, path, depth + 1);
      } finally {
        open.delete(v);
      }
    };

    const writeObject = (v: object, path: string, d: number): Encoded => {
      const proto: unknown = Object.getPrototypeOf(v);
      const cls = byProto.get(proto);
      if (cls) {
        let data: unknown;
        try {
          data = cls.toData(v);
        } catch (e) {
          throw e instanceof StasisCodecError ? e : fail(path, `toData of class tag "${cls.tag}" threw: ${message(e)}`);
        }
        return { [TAG]: 'class', v: [cls.tag, write(data, path, d)] };
      }
      const problem = refusal(v);
      if (problem) throw fail(path, problem);
      switch (proto) {
        case Array.prototype: {
          const entries = dataEntries(v, path, fail);
          const items = entries.map(([i, x]) => [Number(i), write(x, `${path}[${i}]`, d)] as [number, Encoded]);
          const length = (v as unknown[]).length;
          // Holes must stay holes; listing only the present indices also keeps `a[1e9] = 1` tiny.
          return items.length === length ? items.map(([, x]) => x) : { [TAG]: 'sparse', v: [length, items] };
        }
        case Object.prototype: case null: {
          const out: { [k: string]: Encoded } = {};
          for (const [k, x] of dataEntries(v, path, fail)) out[k] = write(x, child(path, k), d);
          // A user key equal to the marker would read back as a tag, and a null prototype would be lost: wrap both.
          if (proto === null) return { [TAG]: 'nullobj', v: out };
          return Object.hasOwn(out, TAG) ? { [TAG]: 'obj', v: out } : out;
        }
        case Date.prototype: {
          const t = (v as Date).getTime();
          return { [TAG]: 'Date', v: Number.isNaN(t) ? null : t };
        }
        case Map.prototype:
          return { [TAG]: 'Map', v: [...(v as Map<unknown, unknown>)].map(([k, x], i) =>
            [write(k, `${path}.entries[${i}].key`, d), write(x, `${path}.entries[${i}].value`, d)]) };
        case Set.prototype:
          return { [TAG]: 'Set', v: [...(v as Set<unknown>)].map((x, i) => write(x, `${path}.values[${i}]`, d)) };
        // Only the bytes a view covers are written; decode gives each value its own exactly-sized buffer.
        case Uint8Array.prototype: return { [TAG]: 'bytes', v: base64(v as Uint8Array) };
        case DataView.prototype: return { [TAG]: 'DataView', v: base64(v as DataView) };
        case ArrayBuffer.prototype: return { [TAG]: 'ArrayBuffer', v: base64(v as ArrayBuffer) };
      }
      throw fail(path, `instance of class ${className(v)} is not registered; register it with a ClassCodec tag`);
    };

    return write(value, '$', 0);
  }

  function decode(encoded: unknown, key: string): unknown {
    const fail: Fail = (path, problem) => new StasisCodecError('malformed', key, path, problem);
    /** Elements of a JSON array: holes and odd properties mean it did not come from JSON.parse. */
    const items = (arr: unknown[], path: string): unknown[] => {
      const entries = dataEntries(arr, path, fail);
      if (entries.length !== arr.length) throw fail(path, 'array has holes');
      return entries.map(([, x]) => x);
    };
    const pairs = (v: unknown, path: string, what: string): [unknown, unknown][] => {
      if (!Array.isArray(v)) throw fail(path, `expected ${what}`);
      return items(v, path).map((p) => {
        if (!Array.isArray(p) || p.length !== 2) throw fail(path, `expected ${what}`);
        return items(p, path) as [unknown, unknown];
      });
    };
    const bytes = (v: unknown, path: string): Uint8Array => {
      // Buffer.from accepts garbage silently; demand canonical base64 so one blob has exactly one meaning.
      if (typeof v === 'string' && BASE64.test(v)) {
        const b = Buffer.from(v, 'base64');
        if (b.toString('base64') === v) return new Uint8Array(b); // a copy: Buffer may share a pooled buffer
      }
      throw fail(path, 'bad base64 payload');
    };
    const object = (entries: [string, unknown][], path: string, d: number, nullProto: boolean) => {
      const out: Record<string, unknown> = nullProto ? (Object.create(null) as Record<string, unknown>) : {};
      for (const [k, x] of entries) out[k] = read(x, child(path, k), d);
      return out;
    };

    const read = (x: unknown, path: string, depth: number): unknown => {
      if (x === null || typeof x === 'boolean' || typeof x === 'string') return x;
      if (typeof x === 'number' && Number.isFinite(x)) return x;
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- x is no object here (TypeScript says `{}`): a primitive or a function
      if (typeof x !== 'object') throw fail(path, `unexpected ${typeof x} ${String(x)}; expected encoded JSON data`);
      if (!Array.isArray(x) && !isPlain(x)) throw fail(path, `unexpected instance of ${className(x)}; expected encoded JSON data`);
      const deeper = () => {
        if (depth >= maxDepth) throw fail(path, `value is nested deeper than maxDepth (${maxDepth})`);
        return depth + 1;
      };
      if (Array.isArray(x)) {
        const d = deeper();
        return items(x, path).map((e, i) => read(e, `${path}[${i}]`, d));
      }
      const entries = dataEntries(x, path, fail);
      if (!entries.some(([k]) => k === TAG)) return object(entries, path, deeper(), false);

      const fields = new Map(entries);
      const tag = fields.get(TAG);
      const v = fields.get('v');
      if (typeof tag !== 'string') throw fail(path, 'tag must be a string');
      if (entries.some(([k]) => k !== TAG && k !== 'v') || fields.has('v') === (tag === 'undef')) {
        throw fail(path, `tagged value "${tag}" must have exactly the keys "$t"${tag === 'undef' ? '' : ' and "v"'}`);
      }
      const shape = (expected: string) => fail(path, `"${tag}" payload must be ${expected}`);
      switch (tag) {
        case 'undef': return undefined;
        case 'num':
          if (typeof v === 'string' && SPECIAL_NUMBERS.has(v)) return v === '-0' ? -0 : Number(v);
          throw shape('one of "NaN", "Infinity", "-Infinity", "-0"');
        case 'bigint':
          if (typeof v === 'string' && BIGINT.test(v)) return BigInt(v);
          throw shape('a decimal integer string');
      }
      const d = deeper();
      switch (tag) {
        case 'Date':
          if (v === null) return new Date(NaN);
          if (typeof v === 'number' && Number.isInteger(v) && Math.abs(v) <= MAX_DATE_MS) return new Date(v);
          throw shape('integer milliseconds within the Date range, or null');
        case 'Map': {
          const map = new Map<unknown, unknown>();
          pairs(v, path, 'an array of [key, value] pairs').forEach(([k, x], i) =>
            map.set(read(k, `${path}.entries[${i}].key`, d), read(x, `${path}.entries[${i}].value`, d)));
          if (map.size !== (v as unknown[]).length) throw fail(path, 'Map has duplicate keys');
          return map;
        }
        case 'Set': {
          if (!Array.isArray(v)) throw shape('an array');
          const set = new Set(items(v, path).map((x, i) => read(x, `${path}.values[${i}]`, d)));
          if (set.size !== v.length) throw fail(path, 'Set has duplicate members');
          return set;
        }
        case 'bytes': return bytes(v, path);
        case 'ArrayBuffer': return bytes(v, path).buffer;
        case 'DataView': return new DataView(bytes(v, path).buffer);
        case 'sparse': {
          const [length, present] = Array.isArray(v) && v.length === 2 ? items(v, path) : [];
          if (typeof length !== 'number' || !Number.isInteger(length) || length < 0 || length > MAX_ARRAY_LENGTH) {
            throw shape('[length, [[index, value], ...]]');
          }
          const arr: unknown[] = new Array(length);
          let last = -1;
          for (const [i, x] of pairs(present, path, '[index, value] pairs')) {
            if (typeof i !== 'number' || !Number.isInteger(i) || i <= last || i >= length) {
              throw shape('pairs with ascending integer indices below the length');
            }
            arr[i] = read(x, `${path}[${i}]`, d);
            last = i;
          }
          return arr;
        }
        case 'obj': case 'nullobj':
          // The payload's own keys are user data: never read them as a tag.
          if (typeof v !== 'object' || v === null || Array.isArray(v) || !isPlain(v)) throw shape('an object');
          return object(dataEntries(v, path, fail), path, d, tag === 'nullobj');
        case 'class': {
          const [name, data] = Array.isArray(v) && v.length === 2 ? items(v, path) : [];
          if (typeof name !== 'string') throw shape('[class tag, data]');
          const cls = byTag.get(name);
          if (!cls) throw fail(path, `unknown class tag "${name}" (not registered with this codec)`);
          const value = read(data, path, d);
          try {
            return cls.fromData(value);
          } catch (e) {
            throw fail(path, `fromData of class tag "${name}" threw: ${message(e)}`);
          }
        }
      }
      throw fail(path, `unknown tag "${tag}"`);
    };

    return read(encoded, '$', 0);
  }

  return { name: 'json', encode, decode };
}

export const jsonCodec: Codec = createJsonCodec();
