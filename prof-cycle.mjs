// bench/peers/servers/stasis.ts
import { createServer } from "node:http";

// bench/bench-app.ts
import { randomBytes } from "node:crypto";
function payloadOf(bytes2) {
  return randomBytes(Math.ceil(bytes2 * 3 / 4)).toString("base64url").slice(0, bytes2);
}
var app = (session) => {
  const payload = session.persist("bench.payload", "");
  const view = () => session.send({ type: "state", bytes: payload.get().length, gen: session.gen });
  return {
    onConnect: view,
    onMessage(message2) {
      const m = message2;
      if (m.type === "fill" && typeof m.bytes === "number" && m.bytes >= 0 && m.bytes <= 8 * 1024 * 1024) {
        payload.set(payloadOf(m.bytes));
        view();
      }
    }
  };
};
var bench_app_default = app;

// src/protocol/index.ts
var PROTOCOL_VERSION = 1;
var DEFAULT_ENDPOINT = "/stasis";
var FAILOVER_ROUTE = "/debug/failover";
var ROUTES = {
  hibernate: "/hibernate",
  resume: "/resume",
  health: "/health",
  live: "/live",
  metrics: "/metrics",
  failover: FAILOVER_ROUTE
};
var PAGE_ASSETS = ["stasis.js", "stasis-sw.js", "stasis-fallback.mjs", "stasis-live.mjs", "stasis-banner.css"];
var FAILOVER_KINDS = ["disconnect", "restart", "move"];
var OUTCOMES = [
  "ok",
  "schema-reset",
  "expired",
  "tampered",
  "unknown-key",
  "replayed",
  "wrong-binding",
  "too-large",
  "malformed",
  "unavailable",
  "no-session",
  "unserializable",
  "stale",
  "forbidden-origin",
  "rate-limited",
  "misconfigured"
];
function isOutcome(value) {
  return typeof value === "string" && OUTCOMES.includes(value);
}
var HTTP_STATUS = {
  ok: 200,
  "schema-reset": 409,
  expired: 410,
  tampered: 400,
  "unknown-key": 400,
  replayed: 409,
  "wrong-binding": 403,
  "too-large": 413,
  malformed: 400,
  unavailable: 503,
  "no-session": 404,
  unserializable: 500,
  stale: 409,
  "forbidden-origin": 403,
  "rate-limited": 429,
  misconfigured: 500
};
var SID_PATTERN = /^[A-Za-z0-9_-]{22,64}$/;
function isSid(value) {
  return typeof value === "string" && SID_PATTERN.test(value);
}
var BLOB_CHARS = /^[A-Za-z0-9_.-]*$/;
function encodeResumeRequest(request2) {
  const { blob, ...rest } = request2;
  if (typeof blob !== "string" || !BLOB_CHARS.test(blob)) return JSON.stringify(request2);
  const head = JSON.stringify(rest);
  return `${head.slice(0, -1)}${head.length > 2 ? "," : ""}"blob":"${blob}"}`;
}
var PROOF_TYPE = "stasis-proof+jwt";
var PROOF_MAX_SKEW_SECONDS = 120;
var BLOB_TYPE = "stasis+jwe";
var CLOSE_CODES = {
  /** The session was hibernated; resume before reconnecting. */
  hibernated: 4001,
  /** A newer connection or a resume replaced this one. */
  superseded: 4002,
  /** The session is being hibernated right now; wait for the SDK's `ready` before reconnecting. */
  resumeFirst: 4003,
  /** The query had no valid sid. */
  badSession: 4004,
  /** This browser already has the maximum number of live sessions. */
  tooManySessions: 4005,
  /** The server is draining (shutting down): the blob was pushed just before; resume on any instance. */
  draining: 4007,
  /** The session had no app event for the idle timeout: the blob was pushed just before; resume on return. */
  idle: 4008,
  /**
   * The page sent more messages than the server holds (64) while it was still attaching the session: reconnect
   * as after any drop (and send less before the session is attached).
   */
  tooManyEarlyMessages: 4009,
  /**
   * A resume on the live channel was refused (its answer message came first, with the outcome); the reason is
   * `stasis:<outcome>`. Also when no LiveResume came first, or not within the server's body timeout.
   */
  resumeRefused: 4010
};
var LIVE_RESUME_PARAM = "resume";
var LIVE_RESUME_MESSAGE = "stasis:resume";
var LIVE_RESUME_ANSWER = "stasis:resumed";
function isLiveResumeAnswer(data) {
  const m = data;
  return typeof m === "object" && m !== null && m.type === LIVE_RESUME_ANSWER && isOutcome(m.outcome);
}
var WRONG_BINDING_REASON = "stasis:wrong-binding";
var CLOSE_REASONS = {
  hibernated: "stasis:hibernated",
  superseded: "stasis:superseded",
  draining: "stasis:draining",
  idle: "stasis:idle",
  expired: "stasis:expired",
  closed: "stasis:closed",
  retained: "stasis:retained",
  noSession: "stasis:no-session",
  wrongBinding: WRONG_BINDING_REASON,
  unavailable: "stasis:unavailable",
  badSid: "stasis:bad-sid",
  tooManySessions: "stasis:too-many-sessions",
  serverFull: "stasis:server-full",
  tooManyEarlyMessages: "stasis:too-many-early-messages",
  moved: "stasis:moved",
  dropped: "stasis:dropped"
};
var PUSH_MESSAGE = "stasis:hibernated";

// server-stub/errors.ts
var StasisError = class extends Error {
  constructor(code, message2) {
    super(message2);
    this.code = code;
  }
  code;
  name = "StasisError";
};
var StasisCapacityError = class extends StasisError {
  name = "StasisCapacityError";
  constructor(limit) {
    super("unavailable", `This server holds its maximum of ${limit} live sessions; try again shortly.`);
  }
};
var StasisCodecError = class extends StasisError {
  constructor(code, key, path, problem) {
    super(code, `${key}${path ? ` at ${path}` : ""}: ${problem}`);
    this.key = key;
    this.path = path;
  }
  key;
  path;
  name = "StasisCodecError";
};
var StasisConfigError = class extends Error {
  name = "StasisConfigError";
  code;
  /** The option concerned (`ttlSeconds`), when there is one. */
  option;
  /** The environment variable the refused value came from, or that would supply the missing one (`STASIS_TTL_SECONDS`). */
  env;
  constructor(message2, { code = "invalid-option", option, env } = {}) {
    super(message2);
    this.code = code;
    this.option = option;
    this.env = env;
  }
};

// server-stub/random.ts
import { randomFillSync } from "node:crypto";
var POOL_BYTES = 4096;
var pool = Buffer.allocUnsafeSlow(POOL_BYTES);
var offset = POOL_BYTES;
function take(bytes2) {
  if (bytes2 > POOL_BYTES) throw new RangeError(`at most ${POOL_BYTES} random bytes at a time`);
  if (offset + bytes2 > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const at = offset;
  offset += bytes2;
  return at;
}
function randomId(bytes2) {
  const at = take(bytes2);
  return pool.toString("base64url", at, at + bytes2);
}
function randomBuffer(bytes2) {
  const at = take(bytes2);
  return Buffer.from(pool.subarray(at, at + bytes2));
}

// server-stub/transport/binding-cookie.ts
function readBindingCookie(req, name) {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{22,128}$/.test(value) ? value : void 0;
    }
  }
  return void 0;
}
function newBindingSecret() {
  return randomId(24);
}
function bindingCookieHeader(req, name, secret, trustProxy = false) {
  const forwardedTls = trustProxy && String(req.headers["x-forwarded-proto"] ?? "").split(",")[0]?.trim() === "https";
  const secure = req.socket.encrypted || forwardedTls ? "; Secure" : "";
  return `${name}=${secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age=34560000${secure}`;
}
function clientAddress(req, trustProxy) {
  const forwarded = trustProxy ? String(req.headers["x-forwarded-for"] ?? "").split(",").at(-1)?.trim() : "";
  return forwarded || req.socket?.remoteAddress || "?";
}

// server-stub/channel/connection.ts
function closeFor(error) {
  if (error instanceof StasisError && error.code === "rate-limited") return { code: CLOSE_CODES.tooManySessions, reason: CLOSE_REASONS.tooManySessions };
  if (error instanceof StasisCapacityError) return { code: 1013, reason: CLOSE_REASONS.serverFull };
  if (error instanceof StasisError && error.code === "unavailable") return { code: 1012, reason: CLOSE_REASONS.draining };
  if (error instanceof StasisError && error.code === "malformed") return { code: CLOSE_CODES.badSession, reason: CLOSE_REASONS.badSid };
  return { code: CLOSE_CODES.resumeFirst, reason: `stasis:${error instanceof StasisError ? error.code : "unavailable"}` };
}
var issued = /* @__PURE__ */ new WeakMap();
function issueBinding(request2, cookieName) {
  const existing = readBindingCookie(request2, cookieName);
  if (existing) return { secret: existing, fresh: false };
  let secret = issued.get(request2);
  if (!secret) issued.set(request2, secret = newBindingSecret());
  return { secret, fresh: true };
}
function bindingOf(request2, cookieName) {
  return readBindingCookie(request2, cookieName) ?? issued.get(request2);
}
function bindingSetCookie(request2, config) {
  const binding = issueBinding(request2, config.cookieName);
  return binding.fresh ? bindingCookieHeader(request2, config.cookieName, binding.secret, config.trustProxy) : void 0;
}
var warnedUnbound = false;
async function connectChannel(manager, config, { sid, request: request2, socket }, logger) {
  if (!isSid(sid)) throw new StasisError("malformed", "sid must be a base64url string of 22-64 characters (Stasis.sid).");
  const channel = {
    send: (text2) => socket.send(text2),
    close: (code, reason) => socket.close(code, reason),
    terminate: () => socket.terminate ? socket.terminate() : socket.close(1011, CLOSE_REASONS.dropped),
    ...socket.closed ? { whenClosed: socket.closed } : {}
  };
  const binding = bindingOf(request2, config.cookieName);
  const firstVisit = readBindingCookie(request2, config.cookieName) === void 0;
  const address = firstVisit ? clientAddress(request2, config.trustProxy) : void 0;
  if (!binding && !warnedUnbound) {
    warnedUnbound = true;
    logger?.warn(
      "A live channel connected without the binding cookie: a blob pushed to it (drain, idle, checkpoint) before its first hibernate cannot resume. Send stasis.bindingCookie(request) with your handshake answer (the adapters do)."
    );
  }
  const session = await manager.connect(sid, channel, binding, address);
  let closed = false;
  return {
    sid,
    session,
    app: session.app,
    message: (message2) => closed ? Promise.resolve() : manager.deliver(session, message2),
    touch: () => manager.touch(session),
    close: () => {
      if (closed) return;
      closed = true;
      manager.disconnect(session, channel);
    }
  };
}

// server-stub/codec/json-codec.ts
var TAG = "$t";
var FORBIDDEN_KEYS = /* @__PURE__ */ new Set(["__proto__", "constructor", "prototype"]);
var SPECIAL_NUMBERS = /* @__PURE__ */ new Set(["NaN", "Infinity", "-Infinity", "-0"]);
var BIGINT = /^-?(?:0|[1-9]\d*)$/;
var BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
var INDEX = /^(?:0|[1-9]\d*)$/;
var IDENT = /^[A-Za-z_$][\w$]*$/;
var MAX_DATE_MS = 864e13;
var MAX_ARRAY_LENGTH = 2 ** 32 - 1;
var child = (path, key) => IDENT.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
var isPlain = (v) => {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};
function className(v) {
  const name = Object.getPrototypeOf(v)?.constructor?.name;
  return typeof name === "string" && name !== "" ? name : "(anonymous)";
}
var message = (e) => e instanceof Error ? e.message : String(e);
function dataEntries(obj, path, fail) {
  const isArray = Array.isArray(obj);
  const out = [];
  for (const k of Reflect.ownKeys(obj)) {
    if (typeof k === "symbol") throw fail(path, `symbol-keyed property ${String(k)} cannot be persisted; use a string key`);
    if (isArray && k === "length") continue;
    const at = child(path, k);
    const d = Object.getOwnPropertyDescriptor(obj, k);
    if (!("value" in d)) throw fail(at, "getter/setter properties cannot be persisted; store the plain value instead");
    if (!d.enumerable) throw fail(at, "non-enumerable properties cannot be persisted; make it a normal property or drop it");
    if (FORBIDDEN_KEYS.has(k)) throw fail(at, `the key "${k}" is refused because it can reach prototypes; rename it`);
    if (isArray && !(INDEX.test(k) && Number(k) < obj.length)) {
      throw fail(at, "arrays may only hold elements, not named properties; use an object");
    }
    out.push([k, d.value]);
  }
  return out;
}
function refusal(v) {
  const proto = Object.getPrototypeOf(v);
  const plain = proto === Object.prototype || proto === null || proto === Array.prototype;
  const o = v;
  if (!plain && (typeof o.nodeType === "number" || o.window === v)) {
    return "DOM nodes and windows cannot be persisted; persist the data they show (ids, text, form values) instead";
  }
  if (v instanceof Promise) return "a Promise cannot be persisted; await it and persist the result";
  if (v instanceof WeakMap || v instanceof WeakSet || v instanceof WeakRef) {
    return `${className(v)} cannot be persisted because its contents cannot be listed; use a Map or Set`;
  }
  if (v instanceof RegExp) return "a RegExp cannot be persisted; persist its source and flags as strings";
  if (v instanceof Error) return `${className(v)} objects cannot be persisted; persist the message or a status instead`;
  if (ArrayBuffer.isView(v) && proto !== Uint8Array.prototype && proto !== DataView.prototype) {
    return `${className(v)} is not supported (only Uint8Array, ArrayBuffer and DataView are); copy the bytes into a Uint8Array`;
  }
  return void 0;
}
var base64 = (v) => (ArrayBuffer.isView(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : Buffer.from(v)).toString("base64");
function createJsonCodec(options = {}) {
  const maxDepth = options.maxDepth ?? 200;
  if (!Number.isInteger(maxDepth) || maxDepth < 1) throw new StasisConfigError(`maxDepth must be a positive integer, got ${maxDepth}`);
  const byTag = /* @__PURE__ */ new Map();
  const byProto = /* @__PURE__ */ new Map();
  for (const c2 of options.classes ?? []) {
    if (typeof c2.tag !== "string" || c2.tag === "" || byTag.has(c2.tag)) {
      throw new StasisConfigError(`class tag ${JSON.stringify(c2.tag)} is empty or registered twice`);
    }
    if (byProto.has(c2.type.prototype)) throw new StasisConfigError(`class ${c2.type.name} is registered twice`);
    byTag.set(c2.tag, c2);
    byProto.set(c2.type.prototype, c2);
  }
  function encode(value, key) {
    const fail = (path, problem) => new StasisCodecError("unserializable", key, path, problem);
    const open2 = /* @__PURE__ */ new Map();
    const write = (v, path, depth) => {
      switch (typeof v) {
        case "undefined":
          return { [TAG]: "undef" };
        case "boolean":
        case "string":
          return v;
        case "number":
          return Number.isFinite(v) && !Object.is(v, -0) ? v : { [TAG]: "num", v: Object.is(v, -0) ? "-0" : String(v) };
        case "bigint":
          return { [TAG]: "bigint", v: v.toString() };
        case "symbol":
          throw fail(path, "symbols cannot be persisted; store a string instead");
        case "function":
          throw fail(path, "function values cannot be persisted; persist the data it works on instead");
        case "object":
          break;
      }
      if (v === null || typeof v !== "object") return null;
      const at = open2.get(v);
      if (at !== void 0) throw fail(path, `cycle: this is the object at ${at} again; store an id instead of the back-reference`);
      if (depth >= maxDepth) throw fail(path, `value is nested deeper than maxDepth (${maxDepth})`);
      open2.set(v, path);
      try {
        return writeObject(v, path, depth + 1);
      } finally {
        open2.delete(v);
      }
    };
    const writeObject = (v, path, d) => {
      const proto = Object.getPrototypeOf(v);
      const cls = byProto.get(proto);
      if (cls) {
        let data;
        try {
          data = cls.toData(v);
        } catch (e) {
          throw e instanceof StasisCodecError ? e : fail(path, `toData of class tag "${cls.tag}" threw: ${message(e)}`);
        }
        return { [TAG]: "class", v: [cls.tag, write(data, path, d)] };
      }
      const problem = refusal(v);
      if (problem) throw fail(path, problem);
      switch (proto) {
        case Array.prototype: {
          const entries = dataEntries(v, path, fail);
          const items = entries.map(([i, x]) => [Number(i), write(x, `${path}[${i}]`, d)]);
          const length = v.length;
          return items.length === length ? items.map(([, x]) => x) : { [TAG]: "sparse", v: [length, items] };
        }
        case Object.prototype:
        case null: {
          const out = {};
          for (const [k, x] of dataEntries(v, path, fail)) out[k] = write(x, child(path, k), d);
          if (proto === null) return { [TAG]: "nullobj", v: out };
          return Object.hasOwn(out, TAG) ? { [TAG]: "obj", v: out } : out;
        }
        case Date.prototype: {
          const t = v.getTime();
          return { [TAG]: "Date", v: Number.isNaN(t) ? null : t };
        }
        case Map.prototype:
          return { [TAG]: "Map", v: [...v].map(([k, x], i) => [write(k, `${path}.entries[${i}].key`, d), write(x, `${path}.entries[${i}].value`, d)]) };
        case Set.prototype:
          return { [TAG]: "Set", v: [...v].map((x, i) => write(x, `${path}.values[${i}]`, d)) };
        // Only the bytes a view covers are written; decode gives each value its own exactly-sized buffer.
        case Uint8Array.prototype:
          return { [TAG]: "bytes", v: base64(v) };
        case DataView.prototype:
          return { [TAG]: "DataView", v: base64(v) };
        case ArrayBuffer.prototype:
          return { [TAG]: "ArrayBuffer", v: base64(v) };
      }
      throw fail(path, `instance of class ${className(v)} is not registered; register it with a ClassCodec tag`);
    };
    return write(value, "$", 0);
  }
  function decode(encoded, key) {
    const fail = (path, problem) => new StasisCodecError("malformed", key, path, problem);
    const items = (arr, path) => {
      const entries = dataEntries(arr, path, fail);
      if (entries.length !== arr.length) throw fail(path, "array has holes");
      return entries.map(([, x]) => x);
    };
    const pairs = (v, path, what) => {
      if (!Array.isArray(v)) throw fail(path, `expected ${what}`);
      return items(v, path).map((p) => {
        if (!Array.isArray(p) || p.length !== 2) throw fail(path, `expected ${what}`);
        return items(p, path);
      });
    };
    const bytes2 = (v, path) => {
      if (typeof v === "string" && BASE64.test(v)) {
        const b = Buffer.from(v, "base64");
        if (b.toString("base64") === v) return new Uint8Array(b);
      }
      throw fail(path, "bad base64 payload");
    };
    const object = (entries, path, d, nullProto) => {
      const out = nullProto ? /* @__PURE__ */ Object.create(null) : {};
      for (const [k, x] of entries) out[k] = read(x, child(path, k), d);
      return out;
    };
    const read = (x, path, depth) => {
      if (x === null || typeof x === "boolean" || typeof x === "string") return x;
      if (typeof x === "number" && Number.isFinite(x)) return x;
      if (typeof x !== "object") throw fail(path, `unexpected ${typeof x} ${String(x)}; expected encoded JSON data`);
      if (!Array.isArray(x) && !isPlain(x)) throw fail(path, `unexpected instance of ${className(x)}; expected encoded JSON data`);
      const deeper = () => {
        if (depth >= maxDepth) throw fail(path, `value is nested deeper than maxDepth (${maxDepth})`);
        return depth + 1;
      };
      if (Array.isArray(x)) {
        const d2 = deeper();
        return items(x, path).map((e, i) => read(e, `${path}[${i}]`, d2));
      }
      const entries = dataEntries(x, path, fail);
      if (!entries.some(([k]) => k === TAG)) return object(entries, path, deeper(), false);
      const fields = new Map(entries);
      const tag = fields.get(TAG);
      const v = fields.get("v");
      if (typeof tag !== "string") throw fail(path, "tag must be a string");
      if (entries.some(([k]) => k !== TAG && k !== "v") || fields.has("v") === (tag === "undef")) {
        throw fail(path, `tagged value "${tag}" must have exactly the keys "$t"${tag === "undef" ? "" : ' and "v"'}`);
      }
      const shape = (expected) => fail(path, `"${tag}" payload must be ${expected}`);
      switch (tag) {
        case "undef":
          return void 0;
        case "num":
          if (typeof v === "string" && SPECIAL_NUMBERS.has(v)) return v === "-0" ? -0 : Number(v);
          throw shape('one of "NaN", "Infinity", "-Infinity", "-0"');
        case "bigint":
          if (typeof v === "string" && BIGINT.test(v)) return BigInt(v);
          throw shape("a decimal integer string");
      }
      const d = deeper();
      switch (tag) {
        case "Date":
          if (v === null) return /* @__PURE__ */ new Date(NaN);
          if (typeof v === "number" && Number.isInteger(v) && Math.abs(v) <= MAX_DATE_MS) return new Date(v);
          throw shape("integer milliseconds within the Date range, or null");
        case "Map": {
          const map = /* @__PURE__ */ new Map();
          pairs(v, path, "an array of [key, value] pairs").forEach(([k, x2], i) => map.set(read(k, `${path}.entries[${i}].key`, d), read(x2, `${path}.entries[${i}].value`, d)));
          if (map.size !== v.length) throw fail(path, "Map has duplicate keys");
          return map;
        }
        case "Set": {
          if (!Array.isArray(v)) throw shape("an array");
          const set = new Set(items(v, path).map((x2, i) => read(x2, `${path}.values[${i}]`, d)));
          if (set.size !== v.length) throw fail(path, "Set has duplicate members");
          return set;
        }
        case "bytes":
          return bytes2(v, path);
        case "ArrayBuffer":
          return bytes2(v, path).buffer;
        case "DataView":
          return new DataView(bytes2(v, path).buffer);
        case "sparse": {
          const [length, present] = Array.isArray(v) && v.length === 2 ? items(v, path) : [];
          if (typeof length !== "number" || !Number.isInteger(length) || length < 0 || length > MAX_ARRAY_LENGTH) {
            throw shape("[length, [[index, value], ...]]");
          }
          const arr = new Array(length);
          let last = -1;
          for (const [i, x2] of pairs(present, path, "[index, value] pairs")) {
            if (typeof i !== "number" || !Number.isInteger(i) || i <= last || i >= length) {
              throw shape("pairs with ascending integer indices below the length");
            }
            arr[i] = read(x2, `${path}[${i}]`, d);
            last = i;
          }
          return arr;
        }
        case "obj":
        case "nullobj":
          if (typeof v !== "object" || v === null || Array.isArray(v) || !isPlain(v)) throw shape("an object");
          return object(dataEntries(v, path, fail), path, d, tag === "nullobj");
        case "class": {
          const [name, data] = Array.isArray(v) && v.length === 2 ? items(v, path) : [];
          if (typeof name !== "string") throw shape("[class tag, data]");
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
    return read(encoded, "$", 0);
  }
  return { name: "json", encode, decode };
}
var jsonCodec = createJsonCodec();

// server-stub/config-rules.ts
var Refused = class {
  constructor(detail) {
    this.detail = detail;
  }
  detail;
};
var TIMER_MS = 2 ** 31 - 1;
var TIMER_SECONDS = Math.floor(TIMER_MS / 1e3);
var isFunction = (value) => typeof value === "function";
var isObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);
var hasMethods = (value, ...names) => isObject(value) && names.every((name) => isFunction(value[name]));
var list = (text2) => text2.split(",").map((item) => item.trim()).filter(Boolean);
var when = (ok, value) => ok ? value : new Refused();
var decimal = (text2) => /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(text2) ? Number(text2) : text2;
function int(env, max = Number.MAX_SAFE_INTEGER) {
  return {
    env,
    expect: max > 2 ** 32 ? "an integer \u2265 1" : `an integer from 1 to ${max}`,
    fromEnv: decimal,
    check: (value) => when(typeof value === "number" && Number.isSafeInteger(value) && value >= 1 && value <= max, value)
  };
}
function text(env, { expect = "a non-empty string", pattern = /./, secret = false } = {}) {
  return { env, expect, secret, check: (value) => when(typeof value === "string" && pattern.test(value), value) };
}
function bool(env) {
  return {
    env,
    expect: "a boolean (environment: 1, true, yes or 0, false, no)",
    fromEnv: (value) => /^(1|true|yes)$/i.test(value) ? true : /^(0|false|no)$/i.test(value) ? false : value,
    check: (value) => when(typeof value === "boolean", value)
  };
}
function arrayOf(env, expect, item) {
  return {
    ...env ? { env, fromEnv: list, emptyIsValue: true } : {},
    expect,
    check(value) {
      if (!Array.isArray(value)) return new Refused();
      const items = [];
      for (const entry of value) {
        const checked = item(entry);
        if (checked instanceof Refused) return checked;
        if (checked !== void 0) items.push(checked);
      }
      return items;
    }
  };
}
var RULES = {
  app: { expect: "a function (session) => handlers", check: (value) => when(isFunction(value), value) },
  keys: {
    expect: 'a key ring spec "kid:secret,\u2026" or a KeyRing',
    secret: true,
    check: (value) => when(typeof value === "string" && value !== "" || isObject(value) && isObject(value.current) && isFunction(value.find), value)
  },
  audience: text("STASIS_AUDIENCE"),
  schema: text("STASIS_SCHEMA"),
  ttlSeconds: int("STASIS_TTL_SECONDS"),
  maxBlobBytes: int("STASIS_MAX_BLOB_BYTES", Number.MAX_SAFE_INTEGER - 1024),
  warnBlobBytes: int("STASIS_WARN_BLOB_BYTES"),
  retentionSeconds: int("STASIS_RETENTION_SECONDS", TIMER_SECONDS),
  basePath: {
    env: "STASIS_BASE_PATH",
    expect: 'a path starting with "/", without spaces, "?" or "#"',
    check(value) {
      const path = typeof value === "string" ? value.replace(/\/+$/, "") : "";
      return when(/^\/[^\s?#]*$/.test(path), path);
    }
  },
  cookieName: text("STASIS_COOKIE", { expect: 'a cookie name of letters, digits, "_" and "-"', pattern: /^[A-Za-z0-9_-]+$/ }),
  // Blank entries are skipped, as in the comma-separated variable.
  allowedOrigins: arrayOf(
    "STASIS_ALLOWED_ORIGINS",
    "an array of origins scheme://host[:port]",
    (value) => typeof value !== "string" ? new Refused() : value.trim() ? origin(value.trim()) : void 0
  ),
  trustProxy: bool("STASIS_TRUST_PROXY"),
  resumeFailuresPerMinute: int("STASIS_RESUME_FAILURES_PER_MINUTE"),
  maxSessionsPerBrowser: int("STASIS_MAX_SESSIONS_PER_BROWSER"),
  maxLiveSessions: int("STASIS_MAX_LIVE_SESSIONS"),
  maxSessionsPerAddress: int("STASIS_MAX_SESSIONS_PER_ADDRESS"),
  lookupPatienceSeconds: int("STASIS_LOOKUP_PATIENCE_SECONDS", TIMER_SECONDS),
  drainTimeoutMs: int("STASIS_DRAIN_TIMEOUT_MS", TIMER_MS),
  bodyTimeoutMs: int("STASIS_BODY_TIMEOUT_MS", TIMER_MS),
  assets: {
    expect: "a directory path or false",
    check: (value) => when(value === false || typeof value === "string" && value !== "", value)
  },
  idleSeconds: int("STASIS_IDLE_SECONDS"),
  metricsToken: text("STASIS_METRICS_TOKEN", { secret: true }),
  redisUrl: {
    env: "STASIS_REDIS_URL",
    expect: "a redis:// or rediss:// URL with a host",
    secret: true,
    check(value) {
      const url = typeof value === "string" && URL.canParse(value) ? new URL(value) : void 0;
      return when(!!url && (url.protocol === "redis:" || url.protocol === "rediss:") && url.hostname !== "", value);
    }
  },
  redisCluster: {
    env: "STASIS_REDIS_CLUSTER",
    expect: "a non-empty array of node URLs redis[s]://[user:password@]host[:port] (environment: comma-separated)",
    fromEnv: list,
    secret: true,
    check: clusterNodes
  },
  // Braces would make part of the prefix a Redis Cluster hash tag and put every key in one slot.
  redisPrefix: text("STASIS_REDIS_PREFIX", { expect: 'a non-empty string without "{" or "}"', pattern: /^[^{}]+$/ }),
  stores: arrayOf(
    "STASIS_STORES",
    'an array of "memory", "redis" or SessionStore objects',
    (value) => value === "memory" || value === "redis" || hasMethods(value, "put", "take", "peek", "delete") && typeof value.name === "string" ? value : new Refused()
  ),
  memoryStoreMaxEntries: int("STASIS_MEMORY_STORE_MAX_ENTRIES"),
  memoryStoreMaxBytes: int("STASIS_MEMORY_STORE_MAX_BYTES"),
  storeTimeoutMs: int("STASIS_STORE_TIMEOUT_MS", TIMER_MS),
  breakerFailures: int("STASIS_BREAKER_FAILURES"),
  breakerOpenSeconds: int("STASIS_BREAKER_OPEN_SECONDS"),
  handoverTimeoutMs: int("STASIS_HANDOVER_TIMEOUT_MS", TIMER_MS),
  checkpointSeconds: int("STASIS_CHECKPOINT_SECONDS", TIMER_SECONDS),
  bailoutFraction: {
    env: "STASIS_BAILOUT_FRACTION",
    expect: "a number > 0 and \u2264 1",
    fromEnv: decimal,
    check: (value) => when(typeof value === "number" && value > 0 && value <= 1, value)
  },
  bailoutMinResumes: int("STASIS_BAILOUT_MIN_RESUMES"),
  bailoutWindowSeconds: int("STASIS_BAILOUT_WINDOW_SECONDS"),
  codecs: arrayOf(
    void 0,
    "an array of codecs { name, encode, decode }",
    (value) => hasMethods(value, "encode", "decode") && typeof value.name === "string" ? value : new Refused()
  ),
  ledger: { expect: "a Ledger { consume, release, fresh }", check: (value) => when(hasMethods(value, "consume", "release", "fresh"), value) },
  logger: {
    expect: "a Logger { info, warn, error, debug? }",
    check: (value) => when(hasMethods(value, "info", "warn", "error") && ["undefined", "function"].includes(typeof value.debug), value)
  },
  now: { expect: "a function returning ms since the epoch", check: (value) => when(isFunction(value), value) }
};
function readOptions(options, env) {
  if (!isObject(options)) throw new StasisConfigError(`The server options must be an object (got ${show(options)}).`);
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(RULES, key)) {
      const near = closest(key);
      throw new StasisConfigError(`Unknown option "${key}"${near ? ` (did you mean "${near}"?)` : ""}.`, { code: "unknown-option", option: key });
    }
  }
  const values = {};
  const fromEnv = /* @__PURE__ */ new Set();
  for (const name of Object.keys(RULES)) {
    const rule = RULES[name];
    const given = options[name];
    const raw = rule.env === void 0 ? void 0 : env[rule.env];
    const source = given !== void 0 ? "code" : raw !== void 0 && (raw !== "" || rule.emptyIsValue) ? "env" : void 0;
    if (!source) continue;
    const value = source === "code" ? given : rule.fromEnv ? rule.fromEnv(raw) : raw;
    const checked = rule.check(value);
    if (checked instanceof Refused) throw refusal2(name, rule, source === "code" ? show(given, rule.secret) : show(raw, rule.secret), source === "env", checked.detail);
    values[name] = checked;
    if (source === "env") fromEnv.add(name);
  }
  if (values.redisUrl !== void 0 && values.redisCluster !== void 0) {
    const where = (name) => fromEnv.has(name) ? `from ${RULES[name].env}` : "in code";
    throw new StasisConfigError(
      `redisUrl (${where("redisUrl")}) and redisCluster (${where("redisCluster")}) are both set: give one Redis server or one Redis Cluster.`,
      { code: "invalid-option", option: "redisCluster", ...fromEnv.has("redisCluster") ? { env: RULES.redisCluster.env } : {} }
    );
  }
  return values;
}
function refusal2(option, rule, shown, fromEnv, detail) {
  const env = fromEnv ? rule.env : void 0;
  const message2 = detail ? `${option}: ${detail}${env ? ` (from ${env})` : ""}.` : `${option} must be ${rule.expect} (got ${shown}${env ? ` from ${env}` : ""})`;
  return new StasisConfigError(message2, { code: "invalid-option", option, ...env ? { env } : {} });
}
function show(value, secret = false) {
  if (typeof value === "string") return secret ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) {
    const items = `[${value.map((item) => show(item, secret)).join(", ")}]`;
    return items.length > 80 ? `an array of ${value.length}` : items;
  }
  return isObject(value) ? "an object" : String(value);
}
function closest(key) {
  let best;
  for (const name of Object.keys(RULES)) {
    const d = distance(key.toLowerCase(), name.toLowerCase());
    if (!best || d < best.distance) best = { name, distance: d };
  }
  return best && best.distance <= Math.max(2, Math.floor(key.length / 3)) ? best.name : void 0;
}
function distance(a, b) {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}
function clusterNodes(value) {
  if (!Array.isArray(value) || value.length === 0) return new Refused();
  const urls = [];
  for (const [i, item] of value.entries()) {
    const url = typeof item === "string" && URL.canParse(item) ? new URL(item) : void 0;
    const plain = url && (url.protocol === "redis:" || url.protocol === "rediss:") && url.hostname !== "" && ["", "/", "/0"].includes(url.pathname) && !url.search && !url.hash;
    if (!plain) return new Refused(`node ${i + 1} must be a redis:// or rediss:// URL with a host, and no database but 0`);
    urls.push(url);
  }
  const [first] = urls;
  if (urls.some((url) => url.protocol !== first.protocol || url.username !== first.username || url.password !== first.password)) {
    return new Refused("every node must have the same scheme (redis:// or rediss://) and the same credentials");
  }
  return [...value];
}
function origin(value) {
  const url = URL.canParse(value) ? new URL(value) : void 0;
  const plain = url && (url.protocol === "https:" || url.protocol === "http:") && url.pathname === "/" && !url.search && !url.hash && !url.username && !url.password && !/^[a-z]+:\/\/[^/]*\/./i.test(value) && !/[?#]/.test(value);
  return plain ? url.origin : new Refused(`"${value}" must be scheme://host[:port], no path, query or credentials`);
}

// server-stub/config.ts
var DEFAULTS = {
  audience: "stasis-app",
  schema: "1",
  ttlSeconds: 7 * 24 * 3600,
  maxBlobBytes: 5 * 1024 * 1024,
  warnBlobBytes: 1024 * 1024,
  retentionSeconds: 180,
  basePath: DEFAULT_ENDPOINT,
  cookieName: "stasis_bid",
  resumeFailuresPerMinute: 20,
  maxSessionsPerBrowser: 32,
  maxLiveSessions: 2e4,
  maxSessionsPerAddress: 256,
  lookupPatienceSeconds: 30,
  drainTimeoutMs: 1e4,
  bodyTimeoutMs: 15e3,
  redisPrefix: "stasis:",
  memoryStoreMaxEntries: 1e4,
  memoryStoreMaxBytes: 64 * 1024 * 1024,
  storeTimeoutMs: 500,
  breakerFailures: 5,
  breakerOpenSeconds: 10,
  handoverTimeoutMs: 3e3,
  bailoutFraction: 0.5,
  bailoutMinResumes: 20,
  bailoutWindowSeconds: 60
};
function resolveConfig(options, env = process.env) {
  const o = readOptions(options, env);
  const d = DEFAULTS;
  const maxBlobBytes = o.maxBlobBytes ?? d.maxBlobBytes;
  const storeTimeoutMs = o.storeTimeoutMs ?? d.storeTimeoutMs;
  const config = {
    audience: o.audience ?? d.audience,
    schema: o.schema ?? d.schema,
    ttlSeconds: o.ttlSeconds ?? d.ttlSeconds,
    maxBlobBytes,
    warnBlobBytes: o.warnBlobBytes ?? d.warnBlobBytes,
    // A resume body is the blob plus a sid and JSON punctuation.
    maxBodyBytes: maxBlobBytes + 1024,
    bodyTimeoutMs: o.bodyTimeoutMs ?? d.bodyTimeoutMs,
    retentionMs: 1e3 * (o.retentionSeconds ?? d.retentionSeconds),
    basePath: o.basePath ?? d.basePath,
    cookieName: o.cookieName ?? d.cookieName,
    allowedOrigins: o.allowedOrigins ?? [],
    trustProxy: o.trustProxy ?? false,
    resumeFailuresPerMinute: o.resumeFailuresPerMinute ?? d.resumeFailuresPerMinute,
    maxSessionsPerBrowser: o.maxSessionsPerBrowser ?? d.maxSessionsPerBrowser,
    maxLiveSessions: o.maxLiveSessions ?? d.maxLiveSessions,
    maxSessionsPerAddress: o.maxSessionsPerAddress ?? d.maxSessionsPerAddress,
    lookupPatienceMs: 1e3 * (o.lookupPatienceSeconds ?? d.lookupPatienceSeconds),
    drainTimeoutMs: o.drainTimeoutMs ?? d.drainTimeoutMs,
    idleMs: 1e3 * (o.idleSeconds ?? 0),
    metricsToken: o.metricsToken,
    redisUrl: o.redisUrl,
    ...o.redisCluster ? { redisCluster: o.redisCluster } : {},
    redisPrefix: o.redisPrefix ?? d.redisPrefix,
    stores: o.stores ?? (o.redisUrl || o.redisCluster ? ["memory", "redis"] : ["memory"]),
    memoryStore: { maxEntries: o.memoryStoreMaxEntries ?? d.memoryStoreMaxEntries, maxBytes: o.memoryStoreMaxBytes ?? d.memoryStoreMaxBytes },
    storeTimeoutMs,
    breaker: { failureThreshold: o.breakerFailures ?? d.breakerFailures, openMs: 1e3 * (o.breakerOpenSeconds ?? d.breakerOpenSeconds), timeoutMs: storeTimeoutMs },
    handoverTimeoutMs: o.handoverTimeoutMs ?? d.handoverTimeoutMs,
    checkpointMs: 1e3 * (o.checkpointSeconds ?? 0),
    bailout: {
      fraction: o.bailoutFraction ?? d.bailoutFraction,
      minResumes: o.bailoutMinResumes ?? d.bailoutMinResumes,
      windowMs: 1e3 * (o.bailoutWindowSeconds ?? d.bailoutWindowSeconds)
    }
  };
  if (config.stores.includes("redis") && !config.redisUrl && !config.redisCluster) {
    throw new StasisConfigError('The "redis" store needs STASIS_REDIS_URL or STASIS_REDIS_CLUSTER (or the redisUrl or redisCluster option).', {
      code: "missing-option",
      option: "redisUrl",
      env: "STASIS_REDIS_URL"
    });
  }
  if (env.NODE_ENV === "production" && !config.metricsToken) {
    throw new StasisConfigError("NODE_ENV=production: set STASIS_METRICS_TOKEN (or the metricsToken option) to protect /metrics.", {
      code: "missing-option",
      option: "metricsToken",
      env: "STASIS_METRICS_TOKEN"
    });
  }
  return config;
}

// server-stub/envelope/key-ring.ts
import { createSecretKey, randomBytes as randomBytes2 } from "node:crypto";
var KID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
async function parseKeyRing(spec, source = "STASIS_KEYS") {
  if (!spec || !spec.trim()) {
    throw new StasisConfigError(
      `${source} is empty: hibernation needs a key ring. Set ${source}="kid:<32 random bytes, base64url>" (generate one with: node -e "console.log('k1:'+require('crypto').randomBytes(32).toString('base64url'))").`
    );
  }
  const entries = spec.split(/[\s,]+/).filter(Boolean);
  const keys = [];
  for (const [index, entry] of entries.entries()) {
    const colon = entry.indexOf(":");
    if (colon <= 0) throw new StasisConfigError(`${source}: entry ${index + 1} is not of the form kid:secret.`);
    const kid = entry.slice(0, colon);
    if (!KID_PATTERN.test(kid)) {
      throw new StasisConfigError(`${source}: key id "${kid}" may only use letters, digits, '.', '_' and '-' (1-64).`);
    }
    if (keys.some((k) => k.kid === kid)) throw new StasisConfigError(`${source}: key id "${kid}" appears twice.`);
    const bytes2 = decodeSecret(entry.slice(colon + 1));
    if (bytes2.length !== 32) {
      throw new StasisConfigError(
        `${source}: key "${kid}" is ${bytes2.length * 8} bits; A256GCM needs exactly 256 bits (32 bytes, base64url).`
      );
    }
    keys.push({ kid, key: importAesKey(bytes2) });
  }
  return createKeyRing(keys);
}
function createKeyRing(keys) {
  const [current] = keys;
  if (!current) throw new StasisConfigError("A key ring needs at least one key.");
  const byId = new Map(keys.map((k) => [k.kid, k]));
  return { current, find: (kid) => byId.get(kid), kids: keys.map((k) => k.kid) };
}
function importAesKey(bytes2) {
  if (bytes2.length !== 32) throw new StasisConfigError(`An A256GCM key is 32 bytes, not ${bytes2.length}.`);
  return createSecretKey(bytes2);
}
function generateKeySpec(kid = `dev-${Date.now().toString(36)}`) {
  return `${kid}:${randomBytes2(32).toString("base64url")}`;
}
function decodeSecret(text2) {
  if (!/^[A-Za-z0-9+/_-]+=*$/.test(text2)) return new Uint8Array(0);
  return new Uint8Array(Buffer.from(text2.replace(/\+/g, "-").replace(/\//g, "_"), "base64url"));
}

// server-stub/ledger.ts
var LEDGER_LEASE_MS = 1e4;
var MEMORY_LEDGER_MAX_ENTRIES = 2e5;
var MemoryLedger = class {
  constructor(now = Date.now, leaseMs = LEDGER_LEASE_MS, maxEntries = MEMORY_LEDGER_MAX_ENTRIES) {
    this.now = now;
    this.leaseMs = leaseMs;
    this.maxEntries = maxEntries;
  }
  now;
  leaseMs;
  maxEntries;
  #consumed = /* @__PURE__ */ new Map();
  #newest = /* @__PURE__ */ new Map();
  #nextPurge = 0;
  async consume(claim) {
    this.#purgeExpired();
    const now = this.now();
    const held = this.#consumed.get(claim.jti);
    const newest = this.#newest.get(claim.sid);
    const newestGen = newest && newest.until > now ? newest.gen : void 0;
    if (held) {
      if (held.verdict === "stale") return "stale";
      if (held.bid !== claim.bid || held.verdict !== "ok") return "replayed";
      if (held.leaseUntil > now) return "busy";
      if (newestGen !== void 0 && newestGen > claim.gen) return "replayed";
      Object.assign(held, { attempt: claim.attempt, leaseUntil: now + this.leaseMs });
      return "retried";
    }
    const entry = { verdict: "ok", bid: claim.bid, attempt: claim.attempt, leaseUntil: now + this.leaseMs, expiresAtMs: claim.expiresAtMs };
    remember(this.#consumed, claim.jti, entry, this.maxEntries);
    if (newestGen !== void 0 && newestGen >= claim.gen) {
      entry.verdict = "stale";
      return "stale";
    }
    this.#newest.delete(claim.sid);
    remember(this.#newest, claim.sid, { gen: claim.gen, until: Math.max(claim.expiresAtMs, newest?.until ?? 0) }, this.maxEntries);
    return "ok";
  }
  async release(claim) {
    if (this.#consumed.get(claim.jti)?.attempt !== claim.attempt) return;
    this.#consumed.delete(claim.jti);
    const newest = this.#newest.get(claim.sid);
    if (newest?.gen === claim.gen) newest.gen = claim.gen - 1;
  }
  async settle(claim) {
    const held = this.#consumed.get(claim.jti);
    if (held?.verdict === "ok") held.verdict = "settled";
  }
  async fresh(sid) {
    const newest = this.#newest.get(sid);
    return newest && newest.until > this.now() ? newest.gen + 1 : 1;
  }
  get size() {
    return this.#consumed.size;
  }
  #purgeExpired() {
    const now = this.now();
    if (now < this.#nextPurge) return;
    this.#nextPurge = now + 6e4;
    for (const [jti, entry] of this.#consumed) if (entry.expiresAtMs <= now) this.#consumed.delete(jti);
    for (const [sid, entry] of this.#newest) if (entry.until <= now) this.#newest.delete(sid);
  }
};
function remember(map, key, value, max) {
  while (map.size >= max) map.delete(map.keys().next().value);
  map.set(key, value);
}

// server-stub/logger.ts
var consoleLogger = {
  // STASIS_DEBUG=1 prints every session step, with a millisecond clock, to trace a fleet.
  debug: (m) => process.env.STASIS_DEBUG === "1" && console.log(`[stasis] ${(/* @__PURE__ */ new Date()).toISOString().slice(11, 23)} ${m}`),
  info: (m) => console.log(`[stasis] ${m}`),
  warn: (m) => console.warn(`[stasis] ${m}`),
  error: (m) => console.error(`[stasis] ${m}`)
};
var silentLogger = { info() {
}, warn() {
}, error() {
} };

// server-stub/metrics.ts
var BREAKER_VALUE = { closed: 0, "half-open": 1, open: 2 };
var BLOB_BUCKETS = [1024, 10 * 1024, 100 * 1024, 1024 * 1024, 5 * 1024 * 1024];
var Metrics = class {
  #hibernations = /* @__PURE__ */ new Map();
  #resumes = /* @__PURE__ */ new Map();
  #aborted = /* @__PURE__ */ new Map();
  #blobBuckets = BLOB_BUCKETS.map(() => 0);
  #blobCount = 0;
  #blobSum = 0;
  #lastDrainSeconds;
  #retired = /* @__PURE__ */ new Map();
  #recovered = /* @__PURE__ */ new Map();
  #handovers = /* @__PURE__ */ new Map();
  #storeOps = /* @__PURE__ */ new Map();
  #breakers = /* @__PURE__ */ new Map();
  #breakerOpened = /* @__PURE__ */ new Map();
  #storm = false;
  #storms = 0;
  /** A blob was sealed for a page: `reason` is request (the page asked), drain, idle or checkpoint. */
  hibernation(reason, outcome, blobBytes) {
    const key = `${reason}|${outcome}`;
    this.#hibernations.set(key, (this.#hibernations.get(key) ?? 0) + 1);
    if (blobBytes === void 0) return;
    this.#blobCount++;
    this.#blobSum += blobBytes;
    BLOB_BUCKETS.forEach((le, i) => {
      if (blobBytes <= le) this.#blobBuckets[i]++;
    });
  }
  resume(outcome) {
    this.#resumes.set(outcome, (this.#resumes.get(outcome) ?? 0) + 1);
  }
  /**
   * A request whose client went away before its body ended (closed or reset the connection), by route
   * (`resume`, `hibernate`, `failover`). Not a resume or hibernation outcome: nothing was attempted.
   */
  aborted(route) {
    bump(this.#aborted, route);
  }
  drained(seconds) {
    this.#lastDrainSeconds = seconds;
  }
  checkpoint(outcome, blobBytes) {
    this.hibernation("checkpoint", outcome, blobBytes);
  }
  /** A session whose channel dropped, at the end of its retention window: stored, dropped (no store) or lost. */
  retired(result) {
    bump(this.#retired, result);
  }
  /** A session restored from another instance (`fleet`) or the server stores (`store`). */
  recovered(from, outcome) {
    bump(this.#recovered, `${from}|${outcome}`);
  }
  /** A handover asked of another instance: `gone` when it no longer listens (it died). */
  handover(purpose, outcome) {
    bump(this.#handovers, `${purpose}|${outcome}`);
  }
  /** StoreObserver: one store operation. */
  operation(store, operation, result) {
    bump(this.#storeOps, `${store}|${operation}|${result}`);
  }
  /** StoreObserver: a store's circuit breaker changed state. */
  breaker(store, state) {
    this.#breakers.set(store, state);
    if (state === "open") bump(this.#breakerOpened, store);
  }
  /** The bail-out storm guard turned on (true) or off. */
  storm(active) {
    this.#storm = active;
    if (active) this.#storms++;
  }
  /** `evictions`: entries each bounded store pushed out so far (from the stores themselves). */
  render(gauges) {
    const lines = [
      "# HELP stasis_live_sessions Sessions held in memory.",
      "# TYPE stasis_live_sessions gauge",
      `stasis_live_sessions ${gauges.live}`,
      "# HELP stasis_hibernated_sessions Blobs handed out by this process, neither resumed nor expired.",
      "# TYPE stasis_hibernated_sessions gauge",
      `stasis_hibernated_sessions ${gauges.hibernated}`,
      "# HELP stasis_draining 1 while the process drains.",
      "# TYPE stasis_draining gauge",
      `stasis_draining ${gauges.draining ? 1 : 0}`,
      "# HELP stasis_hibernations_total Hibernations by reason and outcome code.",
      "# TYPE stasis_hibernations_total counter",
      ...[...this.#hibernations].map(([key, n]) => {
        const [reason, outcome] = key.split("|");
        return `stasis_hibernations_total{reason="${reason}",outcome="${outcome}"} ${n}`;
      }),
      "# HELP stasis_resumes_total Resumes by outcome code.",
      "# TYPE stasis_resumes_total counter",
      ...[...this.#resumes].map(([outcome, n]) => `stasis_resumes_total{outcome="${outcome}"} ${n}`),
      "# HELP stasis_aborted_requests_total Requests whose client closed or reset the connection before the body ended, by route (not counted as resumes or hibernations).",
      "# TYPE stasis_aborted_requests_total counter",
      ...labelled(this.#aborted, "stasis_aborted_requests_total", ["route"]),
      "# HELP stasis_blob_bytes Size of the blobs handed out.",
      "# TYPE stasis_blob_bytes histogram",
      ...BLOB_BUCKETS.map((le, i) => `stasis_blob_bytes_bucket{le="${le}"} ${this.#blobBuckets[i]}`),
      `stasis_blob_bytes_bucket{le="+Inf"} ${this.#blobCount}`,
      `stasis_blob_bytes_sum ${this.#blobSum}`,
      `stasis_blob_bytes_count ${this.#blobCount}`
    ];
    lines.push(
      "# HELP stasis_retired_sessions_total Sessions whose channel dropped, at the end of the retention window: stored, dropped (no store configured) or lost (every store failed).",
      "# TYPE stasis_retired_sessions_total counter",
      ...labelled(this.#retired, "stasis_retired_sessions_total", ["result"]),
      "# HELP stasis_recovered_sessions_total Sessions restored from another instance (fleet) or the server stores (store), by outcome.",
      "# TYPE stasis_recovered_sessions_total counter",
      ...labelled(this.#recovered, "stasis_recovered_sessions_total", ["from", "outcome"]),
      "# HELP stasis_handovers_total Sessions asked of the instance holding them, by purpose and outcome (gone: it had died).",
      "# TYPE stasis_handovers_total counter",
      ...labelled(this.#handovers, "stasis_handovers_total", ["purpose", "outcome"]),
      "# HELP stasis_store_operations_total Server store operations by store, operation and result.",
      "# TYPE stasis_store_operations_total counter",
      ...labelled(this.#storeOps, "stasis_store_operations_total", ["store", "operation", "result"]),
      "# HELP stasis_store_breaker_state Circuit breaker of each store: 0 closed, 1 half-open, 2 open.",
      "# TYPE stasis_store_breaker_state gauge",
      ...[...this.#breakers].map(([store, state]) => `stasis_store_breaker_state{store="${store}",state="${state}"} ${BREAKER_VALUE[state]}`),
      "# HELP stasis_store_breaker_opened_total Times each store breaker opened.",
      "# TYPE stasis_store_breaker_opened_total counter",
      ...labelled(this.#breakerOpened, "stasis_store_breaker_opened_total", ["store"]),
      "# HELP stasis_store_evictions_total Entries a bounded store (memory) pushed out to stay within its limits.",
      "# TYPE stasis_store_evictions_total counter",
      ...Object.entries(gauges.evictions ?? {}).map(([store, n]) => `stasis_store_evictions_total{store="${store}"} ${n}`),
      "# HELP stasis_bailout_storm 1 while failed resumes start fresh quietly (bail-out storm guard).",
      "# TYPE stasis_bailout_storm gauge",
      `stasis_bailout_storm ${this.#storm ? 1 : 0}`,
      "# HELP stasis_bailout_storms_total Times the bail-out storm guard turned on.",
      "# TYPE stasis_bailout_storms_total counter",
      `stasis_bailout_storms_total ${this.#storms}`
    );
    if (this.#lastDrainSeconds !== void 0) {
      lines.push(
        "# HELP stasis_drain_duration_seconds How long the last drain took.",
        "# TYPE stasis_drain_duration_seconds gauge",
        `stasis_drain_duration_seconds ${this.#lastDrainSeconds}`
      );
    }
    return `${lines.join("\n")}
`;
  }
};
function bump(map, key) {
  map.set(key, (map.get(key) ?? 0) + 1);
}
function labelled(map, name, labels) {
  return [...map].map(([key, n]) => {
    const values = key.split("|");
    return `${name}{${labels.map((label, i) => `${label}="${values[i]}"`).join(",")}} ${n}`;
  });
}

// server-stub/redis/redis-client.ts
import { createRequire } from "node:module";
var DEFAULT_PREFIX = "stasis:";
function keyPrefix(prefix) {
  const value = prefix ?? DEFAULT_PREFIX;
  if (/[{}]/.test(value)) {
    throw new StasisConfigError(`The Redis prefix must not contain "{" or "}" (got ${JSON.stringify(value)}): Stasis puts its own Redis Cluster hash tags in its keys.`, {
      code: "invalid-option",
      option: "redisPrefix"
    });
  }
  return value;
}
var retryStrategy = (times) => Math.min(100 * 2 ** Math.min(times, 5), 2e3);
function connectRedis(options, role, { shardedSubscribers = false } = {}) {
  const { Cluster, Redis } = loadIoredis(options);
  const common = {
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? 500,
    connectTimeout: 2e3,
    connectionName: `stasis-${role}`
  };
  let client2;
  if (options.cluster) {
    const { nodes, auth, tls } = clusterNodes2(options.cluster);
    client2 = new Cluster(nodes, {
      enableOfflineQueue: false,
      clusterRetryStrategy: retryStrategy,
      // Every read goes to the master: the ledger and owner records must be read where they were written.
      scaleReads: "master",
      slotsRefreshTimeout: 2e3,
      shardedSubscribers,
      // Behind TLS the certificates name hosts, not addresses: keep the seed hostnames as given.
      ...tls ? { dnsLookup: (address, callback) => callback(null, address) } : {},
      redisOptions: { ...common, ...auth, ...tls ? { tls: {} } : {} },
      lazyConnect: false
    });
  } else {
    client2 = new Redis(options.url, { ...common, enableOfflineQueue: false, retryStrategy, lazyConnect: false });
  }
  client2.on("error", () => void 0);
  return client2;
}
function loadIoredis(options) {
  try {
    return createRequire(import.meta.url)("ioredis");
  } catch (error) {
    if (error?.code !== "MODULE_NOT_FOUND") throw error;
    const cluster = options.cluster !== void 0;
    throw new StasisConfigError(
      `${cluster ? "A Redis Cluster" : "Redis"} is configured, but the optional dependency ioredis is not installed: npm install ioredis`,
      { code: "missing-dependency", option: cluster ? "redisCluster" : "redisUrl", env: cluster ? "STASIS_REDIS_CLUSTER" : "STASIS_REDIS_URL" }
    );
  }
}
function clusterNodes2(urls) {
  if (urls.length === 0) throw new StasisConfigError("A Redis Cluster needs at least one node URL.", { code: "invalid-option", option: "redisCluster" });
  const parsed = urls.map((url) => new URL(url));
  const first = parsed[0];
  return {
    nodes: parsed.map((url) => ({ host: url.hostname.replace(/^\[(.*)\]$/, "$1"), port: Number(url.port || 6379) })),
    auth: {
      ...first.username ? { username: decodeURIComponent(first.username) } : {},
      ...first.password ? { password: decodeURIComponent(first.password) } : {}
    },
    tls: first.protocol === "rediss:"
  };
}
function whenReady(client2, timeoutMs) {
  if (client2.status === "ready") return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client2.off("ready", onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    client2.once("ready", onReady);
  });
}
function isUnknownCommand(error) {
  return /unknown command/i.test(error?.message ?? "");
}

// server-stub/redis/redis-fleet.ts
import { randomBytes as randomBytes3 } from "node:crypto";
var DISOWN = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
var RECLAIM = `local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;
var CLUSTER_RECLAIM_CONCURRENCY = 64;
var RedisFleet = class {
  /** `client`: a command connection to share, of the same kind (`url` or `cluster`); the fleet still opens its own subscriber connection. */
  constructor(options) {
    this.options = options;
    this.#prefix = keyPrefix(options.prefix);
    this.#cluster = !!options.cluster;
    this.#owned = !options.client;
    this.#redis = options.client ?? connectRedis(options, "fleet");
    this.#subscriber = connectRedis(options, "fleet-sub", { shardedSubscribers: this.#cluster });
    this.#subscriber.on("message", (_channel, text2) => void this.#onMessage(text2));
    this.#subscriber.on("smessage", (_channel, text2) => void this.#onMessage(text2));
    let subscribed;
    const first = new Promise((resolve) => subscribed = resolve);
    let done = false;
    let retry;
    const subscribe = () => {
      if (this.#closed || this.#cluster && done) return;
      clearTimeout(retry);
      void this.#subscribe().then(
        () => {
          done = true;
          subscribed();
        },
        (error) => {
          options.logger?.warn(`fleet: could not subscribe (${error.message}); trying again on the next reconnect`);
          if (this.#cluster && !this.#closed) retry = setTimeout(subscribe, 1e3).unref();
        }
      );
    };
    this.#subscriber.on("ready", subscribe);
    if (this.#subscriber.status === "ready") subscribe();
    this.#ready = Promise.race([first, new Promise((resolve) => setTimeout(resolve, 5e3).unref())]);
  }
  options;
  instanceId = randomBytes3(9).toString("base64url");
  shared = true;
  #redis;
  #subscriber;
  #prefix;
  #cluster;
  /** Cluster only: whether sharded pub/sub works (undefined until the first SSUBSCRIBE or SPUBLISH says). */
  #sharded;
  #closed = false;
  #pending = /* @__PURE__ */ new Map();
  #handler;
  #undelivered;
  #ready;
  #owned;
  /** Resolves once this instance listens for handover requests (or the first attempt failed). */
  ready() {
    return this.#ready;
  }
  /** Serving handover requests needs the subscriber connection; without it other instances find us gone. */
  get listening() {
    return this.#subscriber.status === "ready";
  }
  async own(sid) {
    await this.#redis.set(this.#ownerKey(sid), this.instanceId, "PX", this.options.ownerTtlMs);
  }
  #epoch;
  #directoryLostAt = 0;
  get directoryLostAt() {
    return this.#directoryLostAt;
  }
  async directoryLost() {
    const key = `${this.#prefix}fleet:epoch`;
    let epoch = await this.#redis.get(key);
    if (epoch === null) {
      await this.#redis.set(key, randomBytes3(9).toString("base64url"), "NX");
      epoch = await this.#redis.get(key) ?? "";
    }
    const lost = this.#epoch !== void 0 && epoch !== this.#epoch;
    this.#epoch = epoch;
    if (lost) this.#directoryLostAt = Date.now();
    return lost;
  }
  async reclaim(sids) {
    if (this.#cluster) return this.#reclaimEach(sids);
    const moved = [];
    for (let i = 0; i < sids.length; i += 500) {
      const batch = sids.slice(i, i + 500);
      const pipeline = this.#redis.pipeline();
      for (const sid of batch) pipeline.eval(RECLAIM, 1, this.#ownerKey(sid), this.instanceId, this.options.ownerTtlMs);
      const results = await pipeline.exec() ?? [];
      results.forEach(([error, kept], j) => {
        if (error) throw error;
        if (kept === 0) moved.push(batch[j]);
      });
    }
    return moved;
  }
  /**
   * On a Redis Cluster the owner records of many sids live on every master, and a pipeline must stay on one:
   * one EVAL per sid (each goes to its key's master), a bounded number in flight.
   */
  async #reclaimEach(sids) {
    const kept = new Array(sids.length);
    let next = 0;
    const worker = async () => {
      while (next < sids.length) {
        const i = next++;
        kept[i] = await this.#redis.eval(RECLAIM, 1, this.#ownerKey(sids[i]), this.instanceId, this.options.ownerTtlMs);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CLUSTER_RECLAIM_CONCURRENCY, sids.length) }, worker));
    return sids.filter((_, i) => kept[i] === 0);
  }
  async disown(sid) {
    await this.#redis.eval(DISOWN, 1, this.#ownerKey(sid), this.instanceId);
  }
  async owner(sid) {
    return await this.#redis.get(this.#ownerKey(sid)) ?? void 0;
  }
  async handover(owner, request2) {
    const id = randomBytes3(9).toString("base64url");
    const timeoutMs = this.options.handoverTimeoutMs ?? 3e3;
    let timer;
    const answered = new Promise((resolve, reject) => {
      this.#pending.set(id, resolve);
      timer = setTimeout(
        () => reject(new StasisError("unavailable", `Instance ${owner} did not hand session over within ${timeoutMs} ms.`)),
        timeoutMs
      );
    });
    answered.catch(() => void 0);
    try {
      const envelope = { kind: "request", id, from: this.instanceId, request: request2 };
      const receivers = await this.#publish(owner, JSON.stringify(envelope));
      if (receivers === 0) {
        await this.#redis.eval(DISOWN, 1, this.#ownerKey(request2.sid), owner).catch(() => void 0);
        return void 0;
      }
      return await answered;
    } finally {
      clearTimeout(timer);
      this.#pending.delete(id);
    }
  }
  serve(handler, undelivered) {
    this.#handler = handler;
    this.#undelivered = undelivered;
  }
  async close() {
    this.#closed = true;
    this.#subscriber.disconnect();
    if (this.#owned) this.#redis.disconnect();
  }
  async #onMessage(text2) {
    let envelope;
    try {
      envelope = JSON.parse(text2);
    } catch {
      return;
    }
    if (envelope.kind === "reply") {
      const waiting = this.#pending.get(envelope.id);
      if (waiting) waiting(envelope.reply);
      else if (envelope.reply.outcome === "ok") this.#undelivered?.(envelope.reply);
      return;
    }
    if (envelope.kind !== "request" || !this.#handler) return;
    let reply;
    try {
      reply = await this.#handler(envelope.request);
    } catch (error) {
      reply = error instanceof StasisError ? { outcome: error.code, message: error.message } : { outcome: "unavailable", message: "Handover failed." };
      if (!(error instanceof StasisError)) this.options.logger?.error(`fleet: handover failed: ${error?.stack ?? String(error)}`);
    }
    const answer = { kind: "reply", id: envelope.id, reply };
    const delivered = await this.#publish(envelope.from, JSON.stringify(answer)).catch((error) => {
      this.options.logger?.warn(`fleet: could not answer a handover (${error.message}); keeping the session in the stores`);
      return 0;
    });
    if (!delivered && reply.outcome === "ok") this.#undelivered?.(reply);
  }
  /** Listens on this instance's channel: a sharded one on a Redis Cluster that has them, else a classic one. */
  async #subscribe() {
    const channel = this.#channel(this.instanceId);
    if (this.#cluster && this.#sharded !== false) {
      try {
        await this.#subscriber.ssubscribe(channel);
        this.#sharded = true;
        return;
      } catch (error) {
        if (!isUnknownCommand(error)) throw error;
        this.#classicInCluster();
      }
    }
    await this.#subscriber.subscribe(channel);
  }
  /**
   * Sends on `instance`'s channel. Resolves with how many listeners got the message, or undefined when the
   * count says nothing: a classic PUBLISH in a cluster counts only the node that took it.
   */
  async #publish(instance, text2) {
    const channel = this.#channel(instance);
    if (!this.#cluster) return this.#redis.publish(channel, text2);
    if (this.#sharded !== false) {
      try {
        return Number(await this.#redis.spublish(channel, text2));
      } catch (error) {
        if (!isUnknownCommand(error)) throw error;
        this.#classicInCluster();
      }
    }
    const receivers = await this.#redis.publish(channel, text2);
    return receivers > 0 ? receivers : void 0;
  }
  #classicInCluster() {
    if (this.#sharded === false) return;
    this.#sharded = false;
    this.options.logger?.warn(
      "fleet: this Redis Cluster has no sharded pub/sub (SSUBSCRIBE/SPUBLISH, Redis 7); using classic pub/sub, so a handover to an instance that died waits out the handover timeout"
    );
  }
  #ownerKey(sid) {
    return `${this.#prefix}owner:${sid}`;
  }
  // A single key each: a Redis Cluster keeps an owner record and a (sharded) channel on the master of its slot.
  #channel(instance) {
    return `${this.#prefix}fleet:${instance}`;
  }
};

// server-stub/redis/redis-ledger.ts
var CONSUME = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gen = tonumber(ARGV[2])
local newest = tonumber(redis.call('GET', KEYS[2]))
local held = redis.call('GET', KEYS[1])
if held then
  local verdict, bid, _, lease = string.match(held, '^(%a+)|([^|]*)|([^|]*)|(%d+)$')
  if verdict == 'stale' then return 'stale' end
  if not verdict or bid ~= ARGV[3] or verdict ~= 'ok' then return 'replayed' end
  if tonumber(lease) > now then return 'busy' end
  if newest and newest > gen then return 'replayed' end
  redis.call('SET', KEYS[1], 'ok|' .. ARGV[3] .. '|' .. ARGV[4] .. '|' .. (now + tonumber(ARGV[5])), 'KEEPTTL')
  return 'retried'
end
if newest and newest >= gen then
  redis.call('SET', KEYS[1], 'stale|' .. ARGV[3] .. '|' .. ARGV[4] .. '|0', 'PX', ARGV[1])
  return 'stale'
end
redis.call('SET', KEYS[1], 'ok|' .. ARGV[3] .. '|' .. ARGV[4] .. '|' .. (now + tonumber(ARGV[5])), 'PX', ARGV[1])
local ttl = redis.call('PTTL', KEYS[2])
if ttl > tonumber(ARGV[1]) then redis.call('SET', KEYS[2], ARGV[2], 'KEEPTTL') else redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[1]) end
return 'ok'`;
var RELEASE = `
local held = redis.call('GET', KEYS[1])
if not held or not string.find(held, '|' .. ARGV[2] .. '|', 1, true) then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('SET', KEYS[2], tostring(tonumber(ARGV[1]) - 1), 'KEEPTTL') end
return 1`;
var SETTLE = `
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, 3) == 'ok|' then redis.call('SET', KEYS[1], 'settled' .. string.sub(held, 3), 'KEEPTTL') end
return 1`;
var BIND = `
local held = redis.call('GET', KEYS[1])
if held then
  if held == ARGV[1] then return 1 end
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;
var VERDICTS = /* @__PURE__ */ new Set(["ok", "replayed", "stale", "busy", "retried"]);
var RedisLedger = class {
  /** `leaseMs`: see LEDGER_LEASE_MS (tests shorten it). */
  constructor(options, now = Date.now) {
    this.now = now;
    this.#leaseMs = options.leaseMs ?? LEDGER_LEASE_MS;
    this.#prefix = keyPrefix(options.prefix);
    this.#owned = !("client" in options);
    this.#redis = "client" in options ? options.client : connectRedis(options, "ledger");
  }
  now;
  #redis;
  #prefix;
  #owned;
  #leaseMs;
  async consume(claim) {
    const ttlMs = Math.max(1e3, Math.ceil(claim.expiresAtMs - this.now()));
    if (await this.#redis.eval(BIND, 1, this.#bindKey(claim), claim.sid, ttlMs) !== 1) return "replayed";
    const verdict = await this.#redis.eval(CONSUME, 2, this.#jtiKey(claim), this.#genKey(claim), ttlMs, claim.gen, claim.bid, claim.attempt, this.#leaseMs);
    if (typeof verdict !== "string" || !VERDICTS.has(verdict)) throw new Error(`ledger script answered ${String(verdict)}`);
    return verdict;
  }
  async release(claim) {
    await this.#redis.eval(RELEASE, 2, this.#jtiKey(claim), this.#genKey(claim), claim.gen, claim.attempt);
  }
  async settle(claim) {
    await this.#redis.eval(SETTLE, 1, this.#jtiKey(claim));
  }
  async fresh(sid) {
    const newest = Number(await this.#redis.get(this.#genKey({ sid })) ?? 0);
    return Number.isSafeInteger(newest) && newest > 0 ? newest + 1 : 1;
  }
  async close() {
    if (this.#owned) this.#redis.disconnect();
  }
  #bindKey(claim) {
    return `${this.#prefix}jti:${claim.jti}`;
  }
  // The two keys of a claim start with the same `{prefix}{sid}` (the prefix has no braces), so Redis Cluster
  // hashes both by the same tag, whatever the sid holds.
  #jtiKey(claim) {
    return `${this.#prefix}{${claim.sid}}:jti:${claim.jti}`;
  }
  #genKey(claim) {
    return `${this.#prefix}{${claim.sid}}:gen`;
  }
};

// server-stub/redis/redis-store.ts
var RedisStore = class {
  constructor(options, now = Date.now) {
    this.now = now;
    this.#prefix = `${keyPrefix(options.prefix)}store:`;
    this.#owned = !("client" in options);
    this.#redis = "client" in options ? options.client : connectRedis(options, "store");
  }
  now;
  name = "redis";
  #redis;
  #prefix;
  #owned;
  async put(sid, entry) {
    const ttlMs = entry.exp * 1e3 - this.now();
    if (ttlMs <= 0) {
      await this.#redis.del(this.#prefix + sid);
      return;
    }
    await this.#redis.set(this.#prefix + sid, JSON.stringify({ blob: entry.blob, gen: entry.gen, exp: entry.exp }), "PX", Math.ceil(ttlMs));
  }
  async take(sid) {
    return parse(await this.#redis.getdel(this.#prefix + sid));
  }
  async peek(sid) {
    return parse(await this.#redis.get(this.#prefix + sid));
  }
  async delete(sid) {
    await this.#redis.del(this.#prefix + sid);
  }
  async close() {
    if (this.#owned) this.#redis.disconnect();
  }
};
function parse(text2) {
  if (!text2) return void 0;
  try {
    const value = JSON.parse(text2);
    if (typeof value.blob === "string" && Number.isSafeInteger(value.gen) && typeof value.exp === "number") {
      return { blob: value.blob, gen: value.gen, exp: value.exp };
    }
  } catch {
  }
  return void 0;
}

// server-stub/store/session-store.ts
function entryBytes(sid, entry) {
  return sid.length + entry.blob.length + 16;
}

// server-stub/store/memory-store.ts
var MEMORY_STORE_DEFAULTS = { maxEntries: 1e4, maxBytes: 64 * 1024 * 1024 };
var MemoryStore = class {
  name = "memory";
  local = true;
  // A Map iterates in insertion order: re-inserting on use makes the first key the least recently used.
  #entries = /* @__PURE__ */ new Map();
  #maxEntries;
  #maxBytes;
  #now;
  #bytes = 0;
  /** Entries pushed out by the bounds (for metrics). */
  evicted = 0;
  constructor(options = {}) {
    this.#maxEntries = options.maxEntries ?? MEMORY_STORE_DEFAULTS.maxEntries;
    this.#maxBytes = options.maxBytes ?? MEMORY_STORE_DEFAULTS.maxBytes;
    this.#now = options.now ?? Date.now;
  }
  get size() {
    return this.#entries.size;
  }
  get bytes() {
    return this.#bytes;
  }
  async put(sid, entry) {
    this.#drop(sid);
    const bytes2 = entryBytes(sid, entry);
    if (bytes2 > this.#maxBytes || this.#maxEntries < 1) {
      this.evicted++;
      return;
    }
    this.#entries.set(sid, { blob: entry.blob, gen: entry.gen, exp: entry.exp });
    this.#bytes += bytes2;
    for (const [oldest] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break;
      this.#drop(oldest);
      this.evicted++;
    }
  }
  async take(sid) {
    const entry = this.#live(sid);
    if (entry) this.#drop(sid);
    return entry;
  }
  async peek(sid) {
    const entry = this.#live(sid);
    if (entry) {
      this.#entries.delete(sid);
      this.#entries.set(sid, entry);
    }
    return entry;
  }
  holds(sid) {
    return this.#entries.has(sid);
  }
  async delete(sid) {
    this.#drop(sid);
  }
  #live(sid) {
    const entry = this.#entries.get(sid);
    if (entry && entry.exp * 1e3 <= this.#now()) {
      this.#drop(sid);
      return void 0;
    }
    return entry;
  }
  #drop(sid) {
    const entry = this.#entries.get(sid);
    if (!entry) return;
    this.#entries.delete(sid);
    this.#bytes -= entryBytes(sid, entry);
  }
};

// server-stub/store/circuit-breaker.ts
var BREAKER_DEFAULTS = { failureThreshold: 5, openMs: 1e4, timeoutMs: 500 };
var CircuitBreaker = class {
  constructor(name, options = {}) {
    this.name = name;
    this.#threshold = options.failureThreshold ?? BREAKER_DEFAULTS.failureThreshold;
    this.#openMs = options.openMs ?? BREAKER_DEFAULTS.openMs;
    this.timeoutMs = options.timeoutMs ?? BREAKER_DEFAULTS.timeoutMs;
    this.#now = options.now ?? Date.now;
    this.#onChange = options.onChange;
  }
  name;
  #threshold;
  #openMs;
  timeoutMs;
  #now;
  #onChange;
  #state = "closed";
  #failures = 0;
  #openedAt = 0;
  #probing = false;
  get state() {
    if (this.#state === "open" && !this.#probing && this.#now() - this.#openedAt >= this.#openMs) return "half-open";
    return this.#state;
  }
  /** Runs `call` under the breaker; throws StasisError `unavailable` when open, on timeout or on failure. */
  async run(call) {
    const probe = this.#admit();
    let timer;
    try {
      const result = await Promise.race([
        call(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${this.timeoutMs} ms`)), this.timeoutMs);
        })
      ]);
      this.#succeeded();
      return result;
    } catch (error) {
      this.#failed(probe);
      throw new StasisError("unavailable", `Store "${this.name}" failed: ${error?.message ?? error}`);
    } finally {
      clearTimeout(timer);
    }
  }
  /** Lets a call through or throws; returns true when the call is the half-open probe. */
  #admit() {
    if (this.#state === "closed") return false;
    if (!this.#probing && this.#now() - this.#openedAt >= this.#openMs) {
      this.#probing = true;
      this.#set("half-open");
      return true;
    }
    throw new StasisError("unavailable", `Store "${this.name}" is unavailable (circuit open).`);
  }
  #succeeded() {
    this.#failures = 0;
    this.#probing = false;
    if (this.#state !== "closed") this.#set("closed");
  }
  #failed(probe) {
    this.#failures++;
    if (probe) this.#probing = false;
    if (probe || this.#state === "closed" && this.#failures >= this.#threshold) {
      this.#openedAt = this.#now();
      this.#set("open");
    }
  }
  #set(state) {
    if (this.#state === state) return;
    this.#state = state;
    this.#onChange?.(state);
  }
};

// server-stub/store/store-chain.ts
var StoreChain = class {
  constructor(stores, breaker = {}, observer, logger) {
    this.observer = observer;
    this.#links = stores.map((store) => ({
      store,
      breaker: new CircuitBreaker(store.name, {
        ...breaker,
        onChange: (state) => {
          observer?.breaker(store.name, state);
          if (state === "open") logger?.error(`store ${store.name}: circuit ${state}`);
          else logger?.info(`store ${store.name}: circuit ${state}`);
        }
      })
    }));
    for (const { store } of this.#links) observer?.breaker(store.name, "closed");
  }
  observer;
  #links;
  get names() {
    return this.#links.map(({ store }) => store.name);
  }
  get isEmpty() {
    return this.#links.length === 0;
  }
  breakerStates() {
    return Object.fromEntries(this.#links.map(({ store, breaker }) => [store.name, breaker.state]));
  }
  /** Evictions by store, for the stores that bound themselves. */
  evictions() {
    return Object.fromEntries(this.#links.flatMap(({ store }) => store.evicted === void 0 ? [] : [[store.name, store.evicted]]));
  }
  /** True when some store outlives this process (not only memory). */
  get outlivesProcess() {
    return this.#links.some(({ store }) => !store.local);
  }
  /**
   * Keeps the blob in every store that answers; fails only when none took it. `skipLocal`: only the stores
   * that outlive this process (a draining process has no use for its own memory).
   */
  async put(sid, entry, options = {}) {
    const links = options.skipLocal ? this.#links.filter(({ store }) => !store.local) : this.#links;
    const results = await Promise.all(links.map((link) => this.#call(link, "put", () => link.store.put(sid, entry))));
    const stored = links.filter((_, i) => results[i].ok).map(({ store }) => store.name);
    if (!stored.length) throw this.#unavailable(results);
    return stored;
  }
  /**
   * Removes and returns the newest blob kept for `sid`. Undefined when no store has one; throws
   * `unavailable` when nothing was found and some store could not be asked.
   */
  async take(sid) {
    const results = await Promise.all(this.#links.map((link) => this.#call(link, "take", () => link.store.take(sid))));
    return this.#newest(results);
  }
  #newest(results) {
    let newest;
    for (const result of results) {
      const entry = result.ok ? result.value : void 0;
      if (entry && (!newest || entry.gen > newest.gen || entry.gen === newest.gen && entry.exp > newest.exp)) newest = entry;
    }
    if (!newest && results.some((result) => !result.ok)) throw this.#unavailable(results);
    return newest;
  }
  /** The newest blob kept for `sid`, without removing it; throws `unavailable` like `take`. */
  async peek(sid) {
    if (this.#holdNothing(sid)) {
      for (const { store } of this.#links) this.observer?.operation(store.name, "peek", "ok");
      return void 0;
    }
    const results = await Promise.all(this.#links.map((link) => this.#call(link, "peek", () => link.store.peek(sid))));
    return this.#newest(results);
  }
  /** True when every store answers at once that it keeps nothing for `sid` (and no breaker would refuse). */
  #holdNothing(sid) {
    return this.#links.every(({ store, breaker }) => store.holds !== void 0 && breaker.state === "closed" && !store.holds(sid));
  }
  async delete(sid) {
    await Promise.all(this.#links.map((link) => this.#call(link, "delete", () => link.store.delete(sid))));
  }
  async close() {
    await Promise.all(this.#links.map(({ store }) => store.close?.().catch(() => void 0) ?? Promise.resolve()));
  }
  async #call(link, operation, call) {
    try {
      const value = await link.breaker.run(call);
      this.observer?.operation(link.store.name, operation, "ok");
      return { ok: true, value };
    } catch (error) {
      this.observer?.operation(link.store.name, operation, "error");
      return { ok: false, error };
    }
  }
  #unavailable(results) {
    const reasons = results.flatMap((r) => r.ok ? [] : [r.error?.message ?? "failed"]);
    return new StasisError("unavailable", `No session store answered: ${reasons.join("; ") || "no store configured"}`);
  }
};

// src/concurrency/keyed-queue.ts
var KeyedQueue = class {
  /** Per key, the last task queued, settled either way (never rejects). */
  #tails = /* @__PURE__ */ new Map();
  run(key, task) {
    const before = this.#tails.get(key) ?? Promise.resolve();
    const result = before.then(() => task());
    const tail = result.then(
      () => void 0,
      () => void 0
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }
  /** Resolves once no task of any key is queued or running (tasks queued meanwhile are waited for too). */
  async idle() {
    while (this.#tails.size > 0) await Promise.all(this.#tails.values());
  }
  /** Keys with a task queued or running. */
  get size() {
    return this.#tails.size;
  }
};

// server-stub/fleet/fleet.ts
var LocalFleet = class {
  instanceId = "local";
  shared = false;
  async own() {
  }
  async reclaim() {
    return [];
  }
  async directoryLost() {
    return false;
  }
  directoryLostAt = 0;
  async disown() {
  }
  async owner() {
    return void 0;
  }
  async handover() {
    return void 0;
  }
  serve() {
  }
  async close() {
  }
};

// server-stub/session/declaration-sites.ts
var MAX_KEYS = 2e3;
var DeclarationSites = class {
  #first = /* @__PURE__ */ new Map();
  /** Each location kept once, as its own small string (a slice of a stack would pin the whole stack). */
  #locations = /* @__PURE__ */ new Map();
  /** Remembers where `key` is declared, the first time this app declares it: from the code that called `caller`. */
  declared(key, caller) {
    if (caller === void 0 || this.#first.has(key) || this.#first.size >= MAX_KEYS) return;
    this.#first.set(key, this.here(caller));
  }
  /** Where the app first declared `key`, if known. */
  first(key) {
    return this.#first.get(key);
  }
  /** Where the code that called `caller` is now (file:line:column, relative to the working directory). */
  here(caller) {
    if (caller === void 0) return void 0;
    const holder = {};
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 1;
    try {
      Error.captureStackTrace(holder, caller);
    } finally {
      Error.stackTraceLimit = limit;
    }
    const frame = holder.stack?.split("\n")[1] ?? "";
    const location = /\(?((?:file:\/\/)?[^\s()]+:\d+:\d+)\)?\s*$/.exec(frame)?.[1];
    if (!location) return void 0;
    let site = this.#locations.get(location);
    if (site === void 0) {
      site = Buffer.from(location.replace(/^file:\/\//, "").replace(`${process.cwd()}/`, "")).toString();
      if (this.#locations.size < MAX_KEYS) this.#locations.set(Buffer.from(location).toString(), site);
    }
    return site;
  }
};

// server-stub/session/session-sealer.ts
import { createHash, timingSafeEqual } from "node:crypto";

// server-stub/envelope/envelope.ts
import { isAscii } from "node:buffer";
import { createCipheriv, createDecipheriv } from "node:crypto";
var IV_BYTES = 12;
var TAG_BYTES = 16;
var ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
var EMPTY = Buffer.alloc(0);
function decodePart(part) {
  const length = part.length;
  if (length % 4 === 1) return void 0;
  if (Buffer.byteLength(part, "utf8") !== length || part.includes("+") || part.includes("/")) return void 0;
  const bytes2 = Buffer.from(part, "base64url");
  return bytes2.length === Math.floor(length * 3 / 4) ? bytes2 : void 0;
}
function isCanonical(part) {
  const rest = part.length % 4;
  if (rest === 0) return true;
  if (rest === 1) return false;
  const last = ALPHABET.indexOf(part[part.length - 1]);
  return (last & (rest === 2 ? 15 : 3)) === 0;
}
async function seal(session, ring) {
  const { kid, key } = ring.current;
  const header = {
    alg: "dir",
    enc: "A256GCM",
    kid,
    typ: BLOB_TYPE,
    sid: session.sid,
    gen: session.gen,
    exp: session.exp
  };
  const encodedHeader = Buffer.from(JSON.stringify(header)).toString("base64url");
  const iv = randomBuffer(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(encodedHeader, "latin1"));
  const json = JSON.stringify(session);
  const ciphertext = whole(cipher.update(json, asciiOnly(json) ? "latin1" : "utf8"), cipher.final());
  const tag = cipher.getAuthTag();
  return `${encodedHeader}..${iv.toString("base64url")}.${ciphertext.toString("base64url")}.${tag.toString("base64url")}`;
}
function asciiOnly(text2) {
  return Buffer.byteLength(text2, "utf8") === text2.length;
}
function asText(bytes2) {
  return isAscii(bytes2) ? bytes2.toString("latin1") : bytes2.toString("utf8");
}
function whole(head, rest) {
  return rest.length === 0 ? head : Buffer.concat([head, rest]);
}
async function open(blob, ring) {
  const parts = typeof blob === "string" ? blob.split(".", 6) : [];
  const bytes2 = [];
  for (const part of parts.length === 5 ? parts : []) {
    const decoded = part === "" ? EMPTY : decodePart(part);
    if (!decoded) break;
    bytes2.push(decoded);
  }
  if (bytes2.length !== 5) throw new StasisError("malformed", "The blob is not a JWE compact string (five base64url parts).");
  const [encodedHeader, encryptedKey] = parts;
  const [headerBytes, , iv, ciphertext, tag] = bytes2;
  const header = readHeader(headerBytes);
  if (encryptedKey !== "") throw new StasisError("malformed", "A dir JWE carries no encrypted key.");
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
    throw new StasisError("malformed", "The blob has an IV or tag of the wrong length for A256GCM.");
  }
  const entry = ring.find(header.kid);
  if (!entry) throw new StasisError("unknown-key", `The blob was sealed with key "${header.kid}", which this server does not hold.`);
  if (!parts.every(isCanonical)) throw new StasisError("tampered", "The blob is not in canonical base64url: it was altered.");
  let plaintext;
  try {
    const decipher = createDecipheriv("aes-256-gcm", entry.key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(encodedHeader, "latin1"));
    decipher.setAuthTag(tag);
    plaintext = asText(whole(decipher.update(ciphertext), decipher.final()));
  } catch {
    throw new StasisError("tampered", "The blob failed authentication: it was altered or sealed with another key.");
  }
  const session = parsePlaintext(plaintext);
  if (header.sid !== session.sid || header.gen !== session.gen || header.exp !== session.exp) {
    throw new StasisError("tampered", "The blob header does not match its contents.");
  }
  return session;
}
function readHeader(decoded) {
  let header;
  try {
    header = JSON.parse(decoded.toString("utf8"));
  } catch {
    throw new StasisError("malformed", "The blob header is not readable.");
  }
  if (typeof header !== "object" || header === null || header.alg !== "dir" || header.enc !== "A256GCM" || header.typ !== BLOB_TYPE || typeof header.kid !== "string" || // The copies of sid, gen and exp a page reads without the key (docs/protocol.md, "Blob format").
  typeof header.sid !== "string" || !Number.isSafeInteger(header.gen) || !Number.isSafeInteger(header.exp) || "zip" in header || "crit" in header) {
    throw new StasisError("malformed", "The blob header is not a Stasis header (alg dir, enc A256GCM, typ stasis+jwe, kid, sid, gen, exp; no zip or crit).");
  }
  return header;
}
function parsePlaintext(text2) {
  let value;
  try {
    value = JSON.parse(text2);
  } catch {
    throw new StasisError("malformed", "The blob contents are not JSON.");
  }
  const s = value;
  const valid = s !== null && typeof s === "object" && s.v === PROTOCOL_VERSION && typeof s.sid === "string" && Number.isSafeInteger(s.gen) && s.gen >= 1 && typeof s.jti === "string" && s.jti !== "" && Number.isSafeInteger(s.iat) && Number.isSafeInteger(s.exp) && typeof s.aud === "string" && typeof s.bid === "string" && typeof s.schema === "string" && typeof s.values === "object" && s.values !== null && !Array.isArray(s.values) && (s.inc === void 0 || typeof s.inc === "string") && (s.kbt === void 0 || typeof s.kbt === "string" && s.kbt !== "");
  if (!valid) throw new StasisError("malformed", "The blob contents lack a required field or have the wrong version.");
  return s;
}

// server-stub/session/session-sealer.ts
var SessionSealer = class {
  constructor(options) {
    this.options = options;
  }
  options;
  /** Encodes and encrypts a session into a blob without touching the live pool (seal, checkpoint, retire). */
  async seal(session, bid, values = session.state.encodeAll()) {
    const { sid } = session;
    const iat = Math.floor(this.options.now() / 1e3);
    const sealed = {
      v: PROTOCOL_VERSION,
      sid,
      gen: session.gen,
      jti: randomId(16),
      iat,
      exp: iat + this.options.ttlSeconds,
      aud: this.options.audience,
      bid,
      schema: this.options.schema,
      values,
      inc: session.incarnation,
      ...session.kbt ? { kbt: session.kbt } : {}
    };
    let blob;
    try {
      blob = await seal(sealed, this.options.ring);
    } catch (error) {
      if (error instanceof StasisCodecError) throw new StasisError("unserializable", error.message);
      throw error;
    }
    if (blob.length > this.options.maxBlobBytes) {
      throw new StasisError(
        "too-large",
        `The session's blob is ${blob.length} bytes, over the ${this.options.maxBlobBytes}-byte limit; it stays live. Persist less (inputs, not outputs).`
      );
    }
    if (blob.length > this.options.warnBlobBytes) {
      this.options.logger.warn(`session ${short(sid)}: blob of ${blob.length} bytes is over the warning size ${this.options.warnBlobBytes}.`);
    }
    return { ok: { outcome: "ok", sid, gen: session.gen, exp: sealed.exp, blob }, sealed };
  }
  /**
   * Opens a blob and checks its claims against this request; throws StasisError. Decodes nothing.
   * The browser binding: a blob with `kbt` needs a valid proof by that key (`proof`); a blob without one, the
   * binding cookie (`binding`). `serverHeld`: a copy the server kept (stores, another instance), not one the
   * request presented: the browser's cookie is accepted for it too, as for the live channel that asks for it.
   */
  async verify(sid, blob, binding, proof, serverHeld = false) {
    if (blob.length > this.options.maxBlobBytes) throw new StasisError("too-large", "The blob is over the size limit.");
    const sealed = await open(blob, this.options.ring);
    if (sealed.aud !== this.options.audience) {
      throw new StasisError("wrong-binding", `The blob belongs to app "${sealed.aud}", not "${this.options.audience}".`);
    }
    if (sealed.sid !== sid) throw new StasisError("wrong-binding", "The blob belongs to another session.");
    const cookieMatches = !!binding && sameSecret(bindingHash(binding), sealed.bid);
    if (sealed.kbt !== void 0) {
      const keyMatches = proof !== void 0 && "kbt" in proof && sameSecret(proof.kbt, sealed.kbt);
      if (!keyMatches && !(serverHeld && cookieMatches)) {
        const why = proof === void 0 ? "no proof came with it" : "problem" in proof ? proof.problem : "the proof's key is another one";
        throw new StasisError("wrong-binding", `The blob was issued to another browser (it is bound to a key, and ${why}).`);
      }
    } else if (!cookieMatches) {
      throw new StasisError("wrong-binding", "The blob was issued to another browser.");
    }
    if (sealed.exp * 1e3 <= this.options.now()) throw new StasisError("expired", "The blob has expired.");
    if (sealed.schema !== this.options.schema) {
      throw new StasisError(
        "schema-reset",
        `The blob has schema "${sealed.schema}"; this server runs "${this.options.schema}". Starting fresh.`
      );
    }
    return sealed;
  }
};
var lastSecret;
var lastHash = "";
function bindingHash(secret) {
  if (secret !== lastSecret) {
    lastHash = createHash("sha256").update(secret).digest("base64url");
    lastSecret = secret;
  }
  return lastHash;
}
function sameSecret(a, b) {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
function short(sid) {
  return sid.slice(0, 6);
}

// server-stub/session/manager-context.ts
var ManagerContext = class {
  constructor(options) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.metrics = options.metrics ?? new Metrics();
    this.fleet = options.fleet ?? new LocalFleet();
    this.sealer = new SessionSealer({ ...options, now: this.now });
  }
  options;
  now;
  metrics;
  fleet;
  sealer;
  /** Where the app declares its persisted keys, captured once per key (for duplicate-key errors). */
  sites = new DeclarationSites();
  debug(sid, message2) {
    this.options.logger.debug?.(`session ${short2(sid)}: ${message2}`);
  }
};
function short2(sid) {
  return sid.slice(0, 6);
}

// server-stub/session/handover.ts
var Handover = class {
  #ctx;
  #pool;
  constructor(ctx, pool2) {
    this.#ctx = ctx;
    this.#pool = pool2;
  }
  /**
   * Asks the instance holding `sid` live (if another one does) to seal it and hand the blob over. With `blob`
   * (a resume), the owner hands over only a live copy at least as new as that blob.
   */
  async takeOver(sid, bid, blob) {
    const fleet = this.#ctx.fleet;
    if (!fleet.shared) return void 0;
    let owner;
    try {
      owner = await fleet.owner(sid);
    } catch (error) {
      throw new StasisError("unavailable", `The fleet directory is unavailable: ${error.message}`);
    }
    if (!owner || owner === fleet.instanceId) return void 0;
    const reply = await this.askOwner(owner, {
      sid,
      purpose: "takeover",
      bid,
      ...blob ? { gen: blob.gen, ...blob.inc ? { incarnation: blob.inc } : {} } : {}
    });
    this.#ctx.debug(sid, `takeover from ${owner}: ${reply ? reply.outcome : "gone"}${reply?.outcome === "ok" ? ` gen ${reply.gen}` : ""}`);
    if (reply?.outcome === "wrong-binding") throw new StasisError("wrong-binding", reply.message);
    return reply?.outcome === "ok" ? reply.blob : void 0;
  }
  /** Another instance asks for a session this one holds live. */
  async serve(request2) {
    const session = this.#pool.get(request2.sid);
    this.#ctx.debug(request2.sid, `handover asked (${request2.purpose}): ${session ? `live at gen ${session.gen}${session.sealing ? ", sealing" : ""}` : "not here"}`);
    if (!session || session.sealing || this.#pool.draining) return { outcome: "no-session", message: "Not live on this instance." };
    if (request2.purpose === "probe") return { outcome: "no-session", message: "Live here; it stays.", kept: session.gen };
    if (request2.purpose === "takeover") {
      if (session.browser && session.browser !== request2.bid) {
        return { outcome: "wrong-binding", message: "The session belongs to another browser." };
      }
      const checkpointOfThis = request2.incarnation !== void 0 && request2.incarnation === session.incarnation;
      if (request2.gen !== void 0 && !checkpointOfThis) {
        if (request2.gen < session.gen) return { outcome: "no-session", message: "The copy live here is newer; it stays.", kept: session.gen };
        this.#pool.drop(session, "superseded", CLOSE_CODES.superseded);
        return { outcome: "no-session", message: "The copy live here was not newer; it was dropped." };
      }
      return this.#pool.seal(session, session.browser ?? request2.bid, CLOSE_CODES.superseded, "superseded");
    }
    if (session.browser && session.browser !== request2.bid) {
      return { outcome: "wrong-binding", message: "The session belongs to another browser." };
    }
    if (request2.kbt) session.kbt = request2.kbt;
    return this.#pool.seal(session, request2.bid, request2.keepChannels ? void 0 : CLOSE_CODES.hibernated, "hibernated");
  }
  /** Asks another instance for a session; a reply that never comes counts as `timeout` and fails the caller. */
  async askOwner(owner, request2) {
    let reply;
    try {
      reply = await this.#ctx.fleet.handover(owner, request2);
    } catch (error) {
      this.#ctx.metrics.handover(request2.purpose, "timeout");
      this.#ctx.debug(request2.sid, `${request2.purpose}: asked ${owner}: ${error.message}`);
      throw error;
    }
    this.#ctx.metrics.handover(request2.purpose, reply ? reply.outcome : "gone");
    return reply;
  }
  /** A session sealed for another instance that never got it: keep it in the stores, where a reconnect looks. */
  async keepUndelivered(sealed) {
    const { stores, logger } = this.#ctx.options;
    try {
      if (!stores || stores.isEmpty) throw new Error("no store configured");
      await stores.put(sealed.sid, { blob: sealed.blob, gen: sealed.gen, exp: sealed.exp });
      logger.warn(`session ${short2(sealed.sid)}: a handover was not delivered; kept in the stores`);
    } catch (error) {
      this.#ctx.metrics.retired("lost");
      logger.error(`session ${short2(sealed.sid)}: LOST: a handover was not delivered and ${error.message}`);
    }
  }
  /** False when the fleet says another instance took this session over: the copy here is stale. */
  async stillOurs(session) {
    const fleet = this.#ctx.fleet;
    if (!fleet.shared) return true;
    try {
      const owner = await fleet.owner(session.sid);
      return owner === void 0 || owner === fleet.instanceId;
    } catch {
      return true;
    }
  }
  /**
   * Whether a session newer than this blob is live: here, or on the instance recorded as its owner (asked, so
   * a record left by a dead instance does not count).
   */
  async restoredFromIsLive(sealed) {
    const local = this.#pool.get(sealed.sid);
    if (local && !local.sealing && local.gen > sealed.gen) return true;
    const fleet = this.#ctx.fleet;
    if (!fleet.shared) return false;
    let owner;
    try {
      owner = await fleet.owner(sealed.sid);
    } catch (error) {
      throw new StasisError("unavailable", `The fleet directory is unavailable: ${error.message}`);
    }
    if (!owner || owner === fleet.instanceId) return false;
    const reply = await this.askOwner(owner, { sid: sealed.sid, purpose: "probe", bid: sealed.bid });
    return reply !== void 0 && "kept" in reply && reply.kept !== void 0 && reply.kept > sealed.gen;
  }
};

// server-stub/session/live-pool.ts
var HIBERNATED_INDEX_MAX = 1e4;
var LivePool = class {
  #live = /* @__PURE__ */ new Map();
  /** Blobs handed out and not yet resumed, by sid: for metrics and reports only, never for decisions. */
  #hibernated = /* @__PURE__ */ new Map();
  /** Live sids per browser binding, for the per-browser cap. */
  #byBrowser = /* @__PURE__ */ new Map();
  /** Live sids started by connections without a binding cookie, per client address, for the per-address cap. */
  #byAddress = /* @__PURE__ */ new Map();
  #nextPrune = 0;
  #draining = false;
  #ctx;
  /** A session left the pool (sealed, released or dropped). */
  #onLeave;
  constructor(ctx, onLeave) {
    this.#ctx = ctx;
    this.#onLeave = onLeave;
  }
  get(sid) {
    return this.#live.get(sid);
  }
  /** The live sessions now (a copy: the pool may change while the caller walks it). */
  sessions() {
    return [...this.#live.values()];
  }
  get size() {
    return this.#live.size;
  }
  /** Live sessions of one browser, not counting `except`. */
  heldBy(browser, except) {
    const sids = this.#byBrowser.get(browser);
    if (!sids) return 0;
    return except !== void 0 && sids.has(except) ? sids.size - 1 : sids.size;
  }
  /** Live sessions started without a binding cookie from one client address. */
  startedFrom(address) {
    return this.#byAddress.get(address)?.size ?? 0;
  }
  /** Set once a drain began: from then on no session is added and nothing is sealed for another instance. */
  get draining() {
    return this.#draining;
  }
  startDraining() {
    this.#draining = true;
  }
  /**
   * Puts a session in the live pool and records this instance as its owner. `mustOwn`: a failed record throws
   * `unavailable` (the caller undoes the add); otherwise it is logged and left to the reclaim sweep.
   */
  async add(session, mustOwn) {
    this.#live.set(session.sid, session);
    if (session.browser) addTo(this.#byBrowser, session.browser, session.sid);
    if (session.address) addTo(this.#byAddress, session.address, session.sid);
    const fleet = this.#ctx.fleet;
    if (!fleet.shared) return;
    try {
      await fleet.own(session.sid);
    } catch (error) {
      const message2 = `the fleet directory is unavailable: ${error.message}`;
      if (mustOwn) throw new StasisError("unavailable", `Other instances could not be told where the session lives (${message2}).`);
      this.#ctx.options.logger.warn(`session ${short2(session.sid)}: ${message2}; it will be recorded when it answers again`);
    }
  }
  /**
   * Seals a live session and frees it: the blob is handed to `beforeClose` (a push) and returned, then the
   * channels close with `closeCode` (undefined: they are only detached). Throws StasisError.
   */
  async seal(session, bid, closeCode, reason, beforeClose) {
    const { sid } = session;
    session.sealing = true;
    try {
      const { ok } = await this.#ctx.sealer.seal(session, bid);
      if (this.#live.get(sid) !== session || session.ended) {
        throw new StasisError("no-session", "The session was replaced while it was being hibernated.");
      }
      beforeClose?.(ok);
      this.release(session, reason, closeCode, ok);
      return ok;
    } catch (error) {
      session.sealing = false;
      throw error;
    }
  }
  /** Takes a session out of the live pool after its blob went somewhere (page, store, another instance). */
  release(session, reason, closeCode, ok) {
    this.#settle(session);
    this.#remove(session);
    this.#onLeave(session.sid);
    session.end(reason, closeCode);
    this.#hibernated.delete(session.sid);
    if (this.#hibernated.size >= HIBERNATED_INDEX_MAX) this.#hibernated.delete(this.#hibernated.keys().next().value);
    this.#hibernated.set(session.sid, { gen: ok.gen, exp: ok.exp });
    this.prune();
  }
  /** Ends a live copy without sealing it (another instance or a newer blob took the session over). */
  drop(session, reason, closeCode) {
    if (reason === "superseded") this.#settle(session);
    this.#remove(session);
    this.#onLeave(session.sid);
    session.end(reason, closeCode);
  }
  /**
   * Re-records the owner of every live session here where Redis lost it (restart without persistence,
   * FLUSHALL), so a page's next request on another instance finds it; drops copies another instance holds now.
   */
  /**
   * Looks at the shared marker of the owner records (one GET) and, when Redis lost them since the last look,
   * writes this instance's records again (in the background). Redis away: nothing to learn, nothing done.
   */
  async watchDirectory() {
    const lost = await this.#ctx.fleet.directoryLost().catch(() => false);
    if (lost) void this.reclaimOwnership();
    return lost;
  }
  async reclaimOwnership() {
    if (!this.#ctx.fleet.shared || this.#draining) return;
    const sids = [...this.#live.values()].filter((s) => !s.sealing).map((s) => s.sid);
    if (!sids.length) return;
    let moved;
    try {
      moved = await this.#ctx.fleet.reclaim(sids);
    } catch {
      return;
    }
    for (const sid of moved) {
      const session = this.#live.get(sid);
      if (session && !session.sealing) this.drop(session, "superseded", CLOSE_CODES.superseded);
    }
  }
  /** A session with this sid went live again: its handed-out blob is no longer the one to report. */
  forgetHibernated(sid) {
    this.#hibernated.delete(sid);
  }
  report(sid) {
    const session = this.#live.get(sid);
    if (session) return { sid, state: "live", gen: session.gen, channels: session.channels.size };
    const hibernated = this.#hibernatedEntry(sid);
    if (hibernated) return { sid, state: "hibernated", gen: hibernated.gen };
    return { sid, state: "unknown" };
  }
  get hibernatedCount() {
    this.prune(true);
    return this.#hibernated.size;
  }
  /** Drops bookkeeping for blobs that have expired anyway (at most once a minute unless forced). */
  prune(force = false) {
    const now = this.#ctx.now();
    if (!force && now < this.#nextPrune) return;
    this.#nextPrune = now + 6e4;
    for (const [sid, entry] of this.#hibernated) if (entry.exp * 1e3 <= now) this.#hibernated.delete(sid);
  }
  /** Ends every live session (process shutdown). */
  closeAll() {
    for (const session of this.#live.values()) session.end("closed", 1001);
    this.#live.clear();
    this.#byBrowser.clear();
    this.#byAddress.clear();
  }
  #remove(session) {
    if (this.#live.get(session.sid) === session) {
      this.#live.delete(session.sid);
      if (this.#ctx.fleet.shared) void this.#ctx.fleet.disown(session.sid).catch(() => void 0);
    }
    if (session.browser) removeFrom(this.#byBrowser, session.browser, session.sid);
    if (session.address) removeFrom(this.#byAddress, session.address, session.sid);
  }
  /** The session left: the blob it was restored from may no longer restore it again (see Ledger.settle). */
  #settle(session) {
    const claim = session.restoredFrom;
    session.restoredFrom = void 0;
    if (claim) void this.#ctx.options.ledger.settle(claim).catch(() => void 0);
  }
  #hibernatedEntry(sid) {
    const entry = this.#hibernated.get(sid);
    if (entry && entry.exp * 1e3 <= this.#ctx.now()) {
      this.#hibernated.delete(sid);
      return void 0;
    }
    return entry;
  }
};
function addTo(index, key, sid) {
  let sids = index.get(key);
  if (!sids) index.set(key, sids = /* @__PURE__ */ new Set());
  sids.add(sid);
}
function removeFrom(index, key, sid) {
  const sids = index.get(key);
  sids?.delete(sid);
  if (sids?.size === 0) index.delete(key);
}

// server-stub/session/retention.ts
var Retention = class {
  #timers = /* @__PURE__ */ new Map();
  #ctx;
  #pool;
  #handover;
  constructor(ctx, pool2, handover) {
    this.#ctx = ctx;
    this.#pool = pool2;
    this.#handover = handover;
  }
  /**
   * Abrupt disconnect: a session left with no channel stays live for the retention window, so a page that
   * comes back (a network blip, a reload) finds it. Then it is sealed into the server stores, if any, and
   * freed; a later connect or resume of the sid finds it there, on any instance sharing the store.
   */
  start(session, delayMs = this.#ctx.options.retentionMs) {
    this.cancel(session.sid);
    const timer = setTimeout(() => {
      this.#timers.delete(session.sid);
      void this.retire(session);
    }, delayMs);
    timer.unref();
    this.#timers.set(session.sid, timer);
  }
  cancel(sid) {
    const timer = this.#timers.get(sid);
    if (timer) clearTimeout(timer);
    this.#timers.delete(sid);
  }
  /** Cancels every timer (process shutdown). */
  clear() {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
  /** Moves a session without channels into the stores; true when it is kept there. */
  async retire(session) {
    const { sid } = session;
    const { options, metrics } = this.#ctx;
    if (this.#pool.get(sid) !== session || session.channels.size > 0 || session.sealing) return false;
    const stores = options.stores;
    if (!stores || stores.isEmpty || !session.browser || !await this.#handover.stillOurs(session)) {
      this.#pool.drop(session, "expired", 1001);
      metrics.retired("dropped");
      options.logger.info(`session ${short2(sid)}: no channel for ${options.retentionMs} ms, dropped.`);
      return false;
    }
    session.sealing = true;
    try {
      const { ok } = await this.#ctx.sealer.seal(session, session.browser);
      const kept = await stores.put(sid, { blob: ok.blob, gen: ok.gen, exp: ok.exp });
      if (this.#pool.get(sid) !== session || session.ended) return false;
      this.#pool.release(session, "retained", 1001, ok);
      metrics.retired("stored");
      options.logger.info(
        `session ${short2(sid)}: ${this.#pool.draining ? "draining" : `no channel for ${options.retentionMs} ms`}, kept in ${kept.join(" + ")}.`
      );
      return true;
    } catch (error) {
      session.sealing = false;
      if (this.#pool.get(sid) !== session) return false;
      const attempts = ++session.retireAttempts;
      const hopeless = this.#pool.draining || error instanceof StasisError && (error.code === "too-large" || error.code === "unserializable");
      if (attempts < 3 && !hopeless) {
        options.logger.warn(`session ${short2(sid)}: could not be stored (${error.message}); retrying`);
        this.start(session, Math.min(options.retentionMs, 3e4));
        return false;
      }
      this.#pool.drop(session, "expired", 1001);
      metrics.retired("lost");
      options.logger.error(`session ${short2(sid)}: LOST after ${attempts} attempts to store it: ${error.message}`);
      return false;
    }
  }
};

// server-stub/session/session.ts
var NO_HANDLERS = Object.freeze({});
var Session = class {
  constructor(sid, gen, restored, state, browser) {
    this.sid = sid;
    this.gen = gen;
    this.restored = restored;
    this.state = state;
    this.browser = browser;
  }
  sid;
  gen;
  restored;
  state;
  browser;
  channels = /* @__PURE__ */ new Set();
  /** Made when the app first reads `signal`: a session whose app never does costs no controller. */
  #abort;
  #ended;
  handlers = NO_HANDLERS;
  /** What the app factory returned (the handlers, and whatever else it chose to expose). */
  app;
  /** Set while a hibernate is sealing this session; a second hibernate then finds nothing to do. */
  sealing = false;
  /** Set by the manager (with its clock) on every channel event; the idle policy reads it. */
  lastActivity = 0;
  /** Random id of this live object, sealed into its blobs: a checkpoint of it is never newer than it. */
  incarnation = randomId(9);
  /**
   * Thumbprint of the binding key a verified proof showed for this session (its hibernate, or the resume it
   * came from): sealed into every blob of it, the ones the server pushes too.
   */
  kbt;
  /** Digest of the values of the last checkpoint pushed, so an unchanged session is not pushed again. */
  checkpointDigest;
  /** Failed attempts to move this session into the server store after its channel dropped. */
  retireAttempts = 0;
  /** Client address of a session started by a connection without a binding cookie (the per-address cap). */
  address;
  /** The ledger claim of the blob this session was restored from: settled when the session leaves. */
  restoredFrom;
  get signal() {
    if (!this.#abort) {
      this.#abort = new AbortController();
      if (this.#ended !== void 0) this.#abort.abort(this.#ended);
    }
    return this.#abort.signal;
  }
  /** True once the session ended (what `signal.aborted` says, without making a signal for it). */
  get ended() {
    return this.#ended !== void 0;
  }
  persist(key, initial, options) {
    return this.state.define(key, initial, options, this.persist);
  }
  persistFields(key, target, fields, options) {
    return this.state.defineFields(key, target, fields, options, this.persistFields);
  }
  send(message2) {
    const text2 = JSON.stringify(message2);
    for (const channel of this.channels) channel.send(text2);
  }
  /**
   * Ends the session: aborts app work and closes every channel with the reason's close code, or, with
   * `closeCode` undefined, only detaches them (their messages are ignored from now on).
   */
  end(reason, closeCode) {
    if (this.#ended !== void 0) return;
    this.#ended = reason;
    this.#abort?.abort(reason);
    if (closeCode !== void 0) for (const channel of this.channels) channel.close(closeCode, CLOSE_REASONS[reason]);
    this.channels.clear();
  }
};

// server-stub/session/state-registry.ts
var KEY_PATTERN = /^[A-Za-z0-9._:/-]{1,128}$/;
var StateRegistry = class {
  constructor(codecs, defaultCodec, restored = /* @__PURE__ */ new Map(), sites = new DeclarationSites()) {
    this.codecs = codecs;
    this.defaultCodec = defaultCodec;
    this.#restored = restored;
    this.#sites = sites;
  }
  codecs;
  defaultCodec;
  #cells = /* @__PURE__ */ new Map();
  #restored;
  #sites;
  /**
   * Declares one persisted value ("component" state: owned by one part of the UI). `caller` is the function the
   * app called (Session.persist): the code calling it is the place a duplicate-key error names.
   */
  define(key, initial, options = {}, caller) {
    this.#checkKey(key, caller);
    const codec = this.#resolveCodec(key, options.codec);
    const restored = this.#restored.get(key);
    let value;
    if (restored && restored.codec === codec.name) {
      value = restored.value;
      this.#restored.delete(key);
    } else {
      value = typeof initial === "function" ? initial() : initial;
      codec.encode(value, key);
    }
    this.#cells.set(key, { codec, get: () => value });
    return {
      key,
      get: () => value,
      set: (next) => {
        codec.encode(next, key);
        value = next;
      },
      update(fn) {
        this.set(fn(value));
        return value;
      }
    };
  }
  /**
   * Declares chosen fields of a session-wide object ("service" state): on hibernate those fields are
   * sealed; on resume they are assigned back onto `target` before this returns. Other fields are left
   * to the object (recompute them). Returns `target`.
   */
  defineFields(key, target, fields, options = {}, caller) {
    this.#checkKey(key, caller);
    if (!fields.length || new Set(fields).size !== fields.length) {
      throw new StasisConfigError(`persistFields("${key}") needs a non-empty list of distinct field names.`);
    }
    const codec = this.#resolveCodec(key, options.codec);
    const pick = () => Object.fromEntries(fields.map((field) => [field, target[field]]));
    const restored = this.#restored.get(key);
    if (restored && restored.codec === codec.name && typeof restored.value === "object" && restored.value !== null) {
      const values = restored.value;
      for (const field of fields) if (Object.hasOwn(values, field)) target[field] = values[field];
      this.#restored.delete(key);
    } else {
      codec.encode(pick(), key);
    }
    this.#cells.set(key, { codec, get: pick });
    return target;
  }
  #checkKey(key, caller) {
    if (typeof key !== "string" || !KEY_PATTERN.test(key)) {
      throw new StasisConfigError(
        `persist(${typeof key === "string" ? JSON.stringify(key) : `<${typeof key}>`}): a key must be a stable string of 1-128 letters, digits or . _ : / - (for example "checkout.cart"; per item: \`cart.item:\${item.id}\`).`
      );
    }
    if (!this.#cells.has(key)) {
      this.#sites.declared(key, caller);
      return;
    }
    const first = this.#sites.first(key);
    const site = this.#sites.here(caller);
    const sameLine = first !== void 0 && first === site;
    throw new StasisConfigError(
      `persist("${key}") was called twice in one session` + (first ? ` (first at ${first}${site && !sameLine ? `, again at ${site}` : ""})` : site ? ` (again at ${site})` : "") + ". " + (sameLine ? "The same line ran twice: a constant key inside code that runs once per item (a factory or a list). " : "Keys must be unique per session. ") + `Give each instance its own key, e.g. persist(\`${key}:\${item.id}\`, ...).`
    );
  }
  /** Encodes every defined value for a blob. Throws StasisCodecError naming the first bad key and path. */
  encodeAll() {
    const out = {};
    for (const [key, cell] of this.#cells) out[key] = { c: cell.codec.name, v: cell.codec.encode(cell.get(), key) };
    return out;
  }
  get keys() {
    return [...this.#cells.keys()];
  }
  #resolveCodec(key, codec) {
    if (codec === void 0) return this.defaultCodec;
    if (typeof codec !== "string") return codec;
    const found = this.codecs(codec);
    if (!found) throw new StasisConfigError(`persist("${key}"): no codec named "${codec}" is registered with the server.`);
    return found;
  }
};
function decodeStoredValues(values, codecs) {
  const out = /* @__PURE__ */ new Map();
  for (const [key, stored] of Object.entries(values)) {
    const { c: c2, v } = stored ?? {};
    const codec = typeof c2 === "string" ? codecs(c2) : void 0;
    if (!codec) throw new StasisError("malformed", `Value "${key}" names codec ${JSON.stringify(c2)}, which is not registered.`);
    try {
      out.set(key, { codec: c2, value: codec.decode(v, key) });
    } catch (error) {
      if (error instanceof StasisCodecError) throw new StasisError("malformed", error.message);
      throw new StasisError("malformed", `Value "${key}" could not be decoded.`);
    }
  }
  return out;
}

// server-stub/session/restorer.ts
var LOOKUP_PATIENCE_MS = 3e4;
var DIRECTORY_SETTLE_MS = 3e3;
var FAILING_LOOKUPS_MAX = 1e4;
var Restorer = class {
  #ctx;
  #pool;
  #handover;
  #retention;
  /** Since when the lookups of a sid have been failing, ms. */
  #failingSince = /* @__PURE__ */ new Map();
  constructor(ctx, pool2, handover, retention) {
    this.#ctx = ctx;
    this.#pool = pool2;
    this.#handover = handover;
    this.#retention = retention;
  }
  /**
   * Verifies a blob and restores its session with gen + 1. All or nothing; throws StasisError.
   * The newest copy wins: a checkpoint of a session still live (here or on another instance) resumes that
   * live session, and a newer blob kept by the server stores (sealed after the channel dropped) is used
   * instead of the page's.
   */
  async resume(sid, blob, binding, proof) {
    const { sealer, metrics } = this.#ctx;
    const sealed = await sealer.verify(sid, blob, binding, proof);
    if (binding === void 0) throw new StasisError("wrong-binding", "No binding cookie to attach the restored session to: pass a new binding secret.");
    const kbt = sealed.kbt ?? (proof && "kbt" in proof ? proof.kbt : void 0);
    let local = this.#pool.get(sid);
    if (local && !local.sealing && !await this.#handover.stillOurs(local)) {
      this.#pool.drop(local, "superseded", CLOSE_CODES.superseded);
      local = void 0;
    }
    if (local && !local.sealing && sealed.inc !== void 0 && local.incarnation === sealed.inc) {
      this.#ctx.debug(sid, `resume: gen ${sealed.gen} is a checkpoint of the session live here (gen ${local.gen})`);
      return { outcome: "ok", sid, gen: local.gen };
    }
    let newest = sealed;
    let newestBlob = blob;
    let source = "page";
    if (!local) {
      const handed = await this.#handover.takeOver(sid, sealed.bid, { gen: sealed.gen, inc: sealed.inc });
      if (handed) {
        newest = await sealer.verify(sid, handed, binding, proof, true);
        newestBlob = handed;
        source = "fleet";
      }
    }
    if (source === "page") {
      const kept = await this.#peekStored(sid, binding, { gen: sealed.gen, exp: sealed.exp }, false, proof).catch((error) => {
        this.#ctx.options.logger.warn(`resume: stores not asked for ${short2(sid)}: ${error.message}`);
        return void 0;
      });
      if (kept) {
        newest = await sealer.verify(sid, kept, binding, proof, true);
        newestBlob = kept;
        source = "store";
      }
    }
    let session;
    try {
      session = await this.#restore(newest, binding, kbt);
    } catch (error) {
      const code = error instanceof StasisError ? error.code : "unavailable";
      this.#ctx.debug(sid, `resume: blob gen ${newest.gen} (${source}) refused: ${error.message}`);
      if (source === "fleet" && code === "unavailable") {
        await this.#handover.keepUndelivered({ outcome: "ok", sid, gen: newest.gen, exp: newest.exp, blob: newestBlob });
      }
      if (source !== "store" || code !== "replayed" && code !== "stale") throw error;
      await this.#removeStored(sid, newestBlob);
      newest = sealed;
      source = "page";
      session = await this.#restore(sealed, binding, kbt);
    }
    if (source === "store") {
      await this.#removeStored(sid, newestBlob);
      metrics.recovered("store", "ok");
    }
    this.#ctx.debug(sid, `resume: ${newest === sealed ? "the page's blob" : "a newer copy"} gen ${newest.gen} \u2192 live at gen ${session.gen}`);
    return { outcome: "ok", sid, gen: session.gen };
  }
  /**
   * A live connect for a sid this instance does not hold: takes the session over from the instance that
   * holds it, else from the server stores. Undefined when neither has it (or what they have cannot resume).
   */
  async recover(sid, binding) {
    if (!binding) return void 0;
    const { logger } = this.#ctx.options;
    let blob;
    let from = "fleet";
    try {
      blob = await this.#handover.takeOver(sid, bindingHash(binding));
      if (!blob) {
        from = "store";
        blob = await this.#peekStored(sid, binding, void 0, true);
      }
    } catch (error) {
      if (error instanceof StasisError && error.code === "wrong-binding") throw error;
      this.#lookupFailed(sid, error);
      return void 0;
    }
    this.#failingSince.delete(sid);
    if (!blob) {
      await this.#pool.watchDirectory();
      const lostAt = this.#ctx.fleet.directoryLostAt;
      if (lostAt > 0 && Date.now() - lostAt < DIRECTORY_SETTLE_MS) this.#lookupFailed(sid, new Error("the owner records were lost and are being written again"));
      return void 0;
    }
    let sealed;
    try {
      sealed = await this.#ctx.sealer.verify(sid, blob, binding, void 0, true);
      const session = await this.#restore(sealed, binding, sealed.kbt);
      if (from === "store") await this.#removeStored(sid, blob);
      this.#ctx.metrics.recovered(from, "ok");
      logger.info(`session ${short2(sid)}: restored from the ${from === "fleet" ? "instance that held it" : "server store"} at gen ${session.gen}`);
      return session;
    } catch (error) {
      const code = error instanceof StasisError ? error.code : "unavailable";
      this.#ctx.metrics.recovered(from, code);
      logger.warn(`connect: session ${short2(sid)} from the ${from} did not restore: ${error.message}`);
      if (from === "store" && (code === "replayed" || code === "stale")) await this.#removeStored(sid, blob);
      if (sealed && code === "unavailable") {
        if (from === "fleet") await this.#handover.keepUndelivered({ outcome: "ok", sid, gen: sealed.gen, exp: sealed.exp, blob });
        throw error;
      }
      if (this.#pool.draining) throw error;
      return void 0;
    }
  }
  /** Generation of a new, empty session: past any earlier one of this sid (see Ledger.fresh). */
  async freshGeneration(sid) {
    try {
      return await this.#ctx.options.ledger.fresh(sid);
    } catch (error) {
      this.#ctx.options.logger.warn(`connect: session ${short2(sid)}: the ledger is unavailable (${error.message}); starting at gen 1`);
      return 1;
    }
  }
  /** Creates a session and runs the app's factory on it; the caller puts it in the live pool. */
  build(sid, gen, restored, browser, wasRestored = true) {
    const { options } = this.#ctx;
    const state = new StateRegistry(options.codecs, options.defaultCodec, restored, this.#ctx.sites);
    const session = new Session(ownCopy(sid), gen, wasRestored, state, browser);
    const app2 = options.app(session);
    session.app = app2;
    session.handlers = typeof app2 === "object" && app2 !== null ? app2 : {};
    for (const key of restored.keys()) {
      options.logger.warn(`session ${short2(sid)}: restored value "${key}" was not defined by the app and is dropped.`);
    }
    return session;
  }
  /** Restores a verified blob: decode, per-browser cap, ledger (once, newest generation), app, live pool. */
  async #restore(sealed, binding, kbt) {
    const { sid } = sealed;
    const { options } = this.#ctx;
    const ledger = options.ledger;
    const restored = decodeStoredValues(sealed.values, options.codecs);
    const browser = bindingHash(binding);
    const cap = options.maxSessionsPerBrowser ?? Infinity;
    const others = this.#pool.heldBy(browser, sid);
    if (others >= cap) throw new StasisError("rate-limited", `This browser already holds ${cap} live sessions; close a tab first.`);
    const total = options.maxLiveSessions ?? Infinity;
    if (this.#pool.size - (this.#pool.get(sid) ? 1 : 0) >= total) throw new StasisCapacityError(total);
    this.#pool.prune();
    const claim = { jti: sealed.jti, sid, gen: sealed.gen, expiresAtMs: sealed.exp * 1e3, bid: browser, attempt: randomId(9) };
    let verdict;
    try {
      verdict = await ledger.consume(claim);
    } catch (error) {
      void ledger.release(claim).catch(() => void 0);
      throw new StasisError("unavailable", `The one-time ledger is unavailable: ${error.message}`);
    }
    if (verdict === "replayed") throw new StasisError("replayed", "This blob was already resumed once.");
    if (verdict === "stale") {
      throw new StasisError("stale", `A newer generation of this session was already resumed; this blob (gen ${sealed.gen}) is older.`);
    }
    if (verdict === "busy" || verdict === "retried") {
      if (await this.#handover.restoredFromIsLive(sealed)) throw new StasisError("replayed", "This blob was already resumed once; its session is live.");
      if (verdict === "busy") throw new StasisError("unavailable", "An earlier attempt with this blob may still be running; try again shortly.");
      this.#ctx.debug(sid, `resume: gen ${sealed.gen} retried; no session restored from it is live, restoring it again`);
    }
    if (this.#pool.draining) {
      await ledger.release(claim).catch(() => void 0);
      throw new StasisError("unavailable", "This server started shutting down; try another instance.");
    }
    let session;
    try {
      session = this.build(sid, sealed.gen + 1, restored, browser);
      session.restoredFrom = claim;
      session.kbt = kbt;
    } catch (error) {
      await ledger.release(claim).catch(() => void 0);
      throw error;
    }
    const previous = this.#pool.get(sid);
    if (previous) this.#pool.drop(previous, "superseded", CLOSE_CODES.superseded);
    this.#pool.forgetHibernated(sid);
    try {
      await this.#pool.add(session, true);
    } catch (error) {
      this.#pool.drop(session, "closed", 1011);
      await ledger.release(claim).catch(() => void 0);
      throw error;
    }
    this.#retention.start(session);
    return session;
  }
  /**
   * The session may exist, live on an instance that did not answer or in a store that could not be read: the
   * connect is refused (`unavailable`) until the lookups of this sid have failed for the lookup patience. Then
   * the page starts fresh rather than waits any longer (availability first).
   */
  #lookupFailed(sid, error) {
    const now = this.#ctx.now();
    let since = this.#failingSince.get(sid);
    if (since === void 0) {
      if (this.#failingSince.size >= FAILING_LOOKUPS_MAX) this.#failingSince.delete(this.#failingSince.keys().next().value);
      this.#failingSince.set(sid, since = now);
    }
    const patience = this.#ctx.options.lookupPatienceMs ?? LOOKUP_PATIENCE_MS;
    if (now - since < patience) {
      this.#ctx.debug(sid, `connect: could not be looked up (${error.message}); refused for now`);
      throw new StasisError("unavailable", `The session could not be looked up (${error.message}); try again.`);
    }
    this.#failingSince.delete(sid);
    this.#ctx.options.logger.warn(`connect: session ${short2(sid)} could not be looked up for ${Math.round((now - since) / 1e3)} s (${error.message}); starting fresh`);
  }
  /**
   * The blob the stores keep for `sid` when it verifies for this browser (and is newer than `than`, if given).
   * Only looks: the copy stays until a restore from it succeeded (`#removeStored`), so a store step whose
   * outcome is unknown (a timeout) can never lose it. With `refuseForeign` another browser's copy is refused
   * (`wrong-binding`) rather than given a rival session.
   */
  async #peekStored(sid, binding, than, refuseForeign = false, proof) {
    const stores = this.#ctx.options.stores;
    if (!stores || stores.isEmpty) return void 0;
    const kept = await stores.peek(sid);
    if (!kept || than && (kept.gen < than.gen || kept.gen === than.gen && kept.exp < than.exp)) return void 0;
    try {
      await this.#ctx.sealer.verify(sid, kept.blob, binding, proof, true);
    } catch (error) {
      this.#ctx.debug(sid, `stores: the kept blob does not verify here (${error.message}); left in place`);
      if (refuseForeign && error instanceof StasisError && error.code === "wrong-binding") throw error;
      return void 0;
    }
    return kept.blob;
  }
  /**
   * Removes a stored copy once it restored (or turned out used up). Best effort: a copy left behind is refused
   * by the ledger later. A newer copy that arrived meanwhile is put back.
   */
  async #removeStored(sid, blob) {
    const stores = this.#ctx.options.stores;
    if (!stores) return;
    try {
      const taken = await stores.take(sid);
      if (taken && taken.blob !== blob) await stores.put(sid, taken);
    } catch (error) {
      this.#ctx.debug(sid, `stores: the restored copy could not be removed (${error.message})`);
    }
  }
};
function ownCopy(text2) {
  return JSON.parse(JSON.stringify(text2));
}

// server-stub/session/server-push.ts
import { createHash as createHash2 } from "node:crypto";
var ServerPush = class {
  #ctx;
  #pool;
  #retention;
  constructor(ctx, pool2, retention) {
    this.#ctx = ctx;
    this.#pool = pool2;
    this.#retention = retention;
  }
  /**
   * Checkpoints: seals every live session whose values changed since its last checkpoint and pushes the blob
   * over its channels, leaving the session live. If this instance then dies without a drain (SIGKILL, a
   * crash), the page hands the newest checkpoint to another instance. Returns how many were pushed.
   */
  async checkpointAll() {
    if (this.#pool.draining) return 0;
    let count = 0;
    for (const session of this.#pool.sessions()) if (await this.checkpoint(session)) count++;
    return count;
  }
  /** Pushes a checkpoint of one live session when its values changed since its last one. */
  async checkpoint(session) {
    if (session.channels.size === 0) return false;
    const ok = await this.sealCheckpoint(session, false);
    if (!ok) return false;
    const message2 = { type: PUSH_MESSAGE, reason: "checkpoint", sid: ok.sid, gen: ok.gen, exp: ok.exp, blob: ok.blob };
    session.send(message2);
    return true;
  }
  /**
   * Seals a checkpoint of a live session and leaves it live. Undefined when the session left meanwhile, when
   * sealing failed (logged and counted), or, unless `always`, when its values did not change since the last one.
   */
  async sealCheckpoint(session, always) {
    if (session.sealing || session.ended) return void 0;
    try {
      const values = session.state.encodeAll();
      const digest = createHash2("sha256").update(JSON.stringify(values)).digest("base64url");
      if (!always && digest === session.checkpointDigest) return void 0;
      const { ok } = await this.#ctx.sealer.seal(session, session.browser ?? "", values);
      if (this.#pool.get(session.sid) !== session || session.sealing || session.ended) return void 0;
      session.checkpointDigest = digest;
      this.#ctx.metrics.checkpoint("ok", ok.blob.length);
      return ok;
    } catch (error) {
      this.#ctx.metrics.checkpoint(error instanceof StasisError ? error.code : "unavailable");
      this.#ctx.options.logger.warn(`checkpoint: session ${short2(session.sid)}: ${error.message}`);
      return void 0;
    }
  }
  /**
   * Server-side idle policy: every session whose last app event (connect or message) is older than the idle
   * timeout is sealed, its blob pushed over its channels, which then close with 4008. Returns how many.
   */
  async hibernateIdle() {
    const idleMs = this.#ctx.options.idleMs ?? 0;
    if (idleMs <= 0 || this.#pool.draining) return 0;
    const cutoff = this.#ctx.now() - idleMs;
    let count = 0;
    for (const session of this.#pool.sessions()) {
      if (session.sealing || session.lastActivity > cutoff || session.channels.size === 0) continue;
      try {
        await this.#push(session, "idle", CLOSE_CODES.idle);
        count++;
      } catch (error) {
        this.#ctx.options.logger.warn(`idle: session ${short2(session.sid)} stays live: ${error.message}`);
      }
    }
    return count;
  }
  /**
   * Drain: seals every live session, pushes each blob over its live channels, closes them with 4007 and
   * waits (at most `timeoutMs`) until the channels have closed, so the blobs are out. From now on the
   * server refuses new sessions, hibernates and resumes with `unavailable`: clients go to another instance.
   */
  async drain(timeoutMs) {
    this.#pool.startDraining();
    const sessions = this.#pool.sessions().filter((s) => !s.sealing);
    const closed = [];
    const kept = [];
    const stores = this.#ctx.options.stores;
    let pushed = 0;
    let failed = 0;
    for (const [i, session] of sessions.entries()) {
      const channels = [...session.channels];
      if (!channels.length) {
        if (await this.#retention.retire(session)) pushed++;
        else failed++;
        continue;
      }
      try {
        const ok = await this.#push(session, "drain", CLOSE_CODES.draining);
        pushed++;
        for (const channel of channels) if (channel.whenClosed) closed.push(channel.whenClosed);
        if (stores?.outlivesProcess) {
          kept.push(stores.put(ok.sid, { blob: ok.blob, gen: ok.gen, exp: ok.exp }, { skipLocal: true }).catch(() => void 0));
        }
      } catch (error) {
        failed++;
        this.#ctx.options.logger.error(`drain: session ${short2(session.sid)} could not be sealed: ${error.message}`);
      }
      if (i % 64 === 63) await new Promise((resolve) => setImmediate(resolve));
    }
    let timer;
    const started = this.#ctx.now();
    const flushed = await Promise.race([
      Promise.all(closed).then(() => true),
      new Promise((resolve) => timer = setTimeout(() => resolve(false), timeoutMs))
    ]);
    clearTimeout(timer);
    await Promise.all(kept);
    this.#ctx.metrics.drained((this.#ctx.now() - started) / 1e3);
    return { sessions: sessions.length, pushed, failed, flushed };
  }
  /**
   * Development only (the failover route refuses it under NODE_ENV=production): does to one live session what
   * a failover would. `restart`: the blob is pushed to the page and the channels close with 4007, as a
   * restarting server does; the page resumes from its blob. `disconnect`: the session is sealed into the server
   * stores and its channels dropped without a close handshake (an instance that died after storing it);
   * `move`: the same with close code 1012 (Service Restart). The page's reconnect restores it from the stores.
   */
  async simulateFailover(sid, kind, binding) {
    const session = this.#pool.get(sid);
    if (!session || session.sealing) throw new StasisError("no-session", "No live session with this id here.");
    const bid = bindingHash(binding);
    if (session.browser && session.browser !== bid) throw new StasisError("wrong-binding", "The session belongs to another browser.");
    if (kind === "restart") return this.#push(session, "drain", CLOSE_CODES.draining);
    const stores = this.#ctx.options.stores;
    if (!stores || stores.isEmpty) throw new StasisError("unavailable", "No server store is configured (STASIS_STORES), so nothing could keep the session.");
    session.sealing = true;
    try {
      const { ok } = await this.#ctx.sealer.seal(session, session.browser ?? bid);
      await stores.put(sid, { blob: ok.blob, gen: ok.gen, exp: ok.exp });
      if (this.#pool.get(sid) !== session || session.ended) throw new StasisError("no-session", "The session was replaced meanwhile.");
      const channels = [...session.channels];
      this.#pool.release(session, "retained", void 0, ok);
      for (const channel of channels) {
        if (kind === "move") channel.close(1012, CLOSE_REASONS.moved);
        else if (channel.terminate) channel.terminate();
        else channel.close(1011, CLOSE_REASONS.dropped);
      }
      this.#ctx.debug(sid, `failover simulated (${kind}) at gen ${ok.gen}`);
      return ok;
    } catch (error) {
      session.sealing = false;
      throw error;
    }
  }
  /** Seals a session, pushes the blob over its channels, then closes them with `closeCode`. */
  async #push(session, reason, closeCode) {
    try {
      const ok = await this.#pool.seal(session, session.browser ?? "", closeCode, reason === "drain" ? "draining" : "idle", (sealed) => {
        const message2 = { type: PUSH_MESSAGE, reason, sid: sealed.sid, gen: sealed.gen, exp: sealed.exp, blob: sealed.blob };
        session.send(message2);
      });
      this.#ctx.metrics.hibernation(reason, "ok", ok.blob.length);
      return ok;
    } catch (error) {
      this.#ctx.metrics.hibernation(reason, error instanceof StasisError ? error.code : "unavailable");
      throw error;
    }
  }
};

// server-stub/session/session-manager.ts
var OWNER_RECLAIM_MS = 3e4;
var DIRECTORY_CHECK_MS = 1e3;
var SessionManager = class {
  constructor(options) {
    this.options = options;
    const ctx = this.#ctx = new ManagerContext(options);
    this.metrics = ctx.metrics;
    this.#pool = new LivePool(ctx, (sid) => this.#retention.cancel(sid));
    this.#handover = new Handover(ctx, this.#pool);
    this.#retention = new Retention(ctx, this.#pool, this.#handover);
    this.#push = new ServerPush(ctx, this.#pool, this.#retention);
    this.#restorer = new Restorer(ctx, this.#pool, this.#handover, this.#retention);
    ctx.fleet.serve(
      (request2) => this.#handover.serve(request2),
      (sealed) => void this.#handover.keepUndelivered(sealed)
    );
    const idleMs = options.idleMs ?? 0;
    if (idleMs > 0) {
      this.#idleSweep = setInterval(() => void this.hibernateIdle(), Math.max(1e3, Math.min(3e4, idleMs / 4)));
      this.#idleSweep.unref();
    }
    if (ctx.fleet.shared) {
      void this.#pool.watchDirectory();
      let lastFull = ctx.now();
      this.#reclaimTimer = setInterval(() => {
        void this.#pool.watchDirectory().then((lost) => {
          if (lost || ctx.now() - lastFull < OWNER_RECLAIM_MS) return;
          lastFull = ctx.now();
          return this.reclaimOwnership();
        });
      }, DIRECTORY_CHECK_MS);
      this.#reclaimTimer.unref();
    }
    const checkpointMs = options.checkpointMs ?? 0;
    if (checkpointMs > 0) {
      this.#checkpointTimer = setInterval(() => void this.checkpointAll(), checkpointMs);
      this.#checkpointTimer.unref();
    }
  }
  options;
  #ctx;
  #pool;
  #handover;
  #retention;
  #push;
  #restorer;
  /** Connects and resumes of one sid run one at a time (each may ask the fleet and the stores first). */
  #busy = new KeyedQueue();
  metrics;
  #idleSweep;
  #checkpointTimer;
  #reclaimTimer;
  /** See ServerPush.checkpointAll. */
  checkpointAll() {
    return this.#push.checkpointAll();
  }
  /** See ServerPush.hibernateIdle. */
  hibernateIdle() {
    return this.#push.hibernateIdle();
  }
  /**
   * Attaches a live channel to the session `sid`. When no session with that id is live here, it is looked
   * for in the fleet (another instance hands it over) and then in the server stores (a session whose channel
   * dropped); only then does a new session (gen 1) start. `binding` is the browser's binding secret;
   * `firstVisitFrom`, the client address of a connection that brought no binding cookie (the per-address cap).
   */
  connect(sid, channel, binding, firstVisitFrom) {
    if (this.#pool.draining) return Promise.reject(new StasisError("unavailable", "This server is shutting down."));
    return this.#busy.run(sid, async () => {
      if (this.#pool.draining) throw new StasisError("unavailable", "This server is shutting down.");
      let session = this.#pool.get(sid);
      if (session?.sealing) throw new StasisError("no-session", "The session is hibernating; resume it first.");
      if (session && !await this.#handover.stillOurs(session)) {
        this.#pool.drop(session, "superseded", CLOSE_CODES.superseded);
        session = void 0;
      }
      const browser = binding === void 0 ? void 0 : bindingHash(binding);
      if (session?.browser && browser && session.browser !== browser) {
        throw new StasisError("wrong-binding", "The session belongs to another browser.");
      }
      if (!session) session = await this.#restorer.recover(sid, binding);
      if (!session) {
        this.#checkNewSessionCaps(browser, firstVisitFrom);
        session = this.#restorer.build(sid, await this.#restorer.freshGeneration(sid), /* @__PURE__ */ new Map(), browser, false);
        session.address = firstVisitFrom;
        await this.#pool.add(session, false);
        this.#pool.forgetHibernated(sid);
        this.#ctx.debug(sid, `connect: new session at gen ${session.gen}`);
      } else {
        this.#ctx.debug(sid, `connect: attached at gen ${session.gen}`);
      }
      if (session.sealing || session.ended) throw new StasisError("no-session", "The session left while this channel connected; resume it first.");
      this.#retention.cancel(sid);
      session.channels.add(channel);
      session.lastActivity = this.#ctx.now();
      const attached = session;
      void this.#safely(attached, () => attached.handlers.onConnect?.());
      if ((this.options.checkpointMs ?? 0) > 0 && attached.restored && attached.checkpointDigest === void 0) {
        void this.#push.checkpoint(attached);
      }
      return attached;
    });
  }
  /** The caps a new, empty session must pass: this instance's, this browser's, and first visits per address. */
  #checkNewSessionCaps(browser, firstVisitFrom) {
    const total = this.options.maxLiveSessions ?? Infinity;
    if (this.#pool.size >= total) throw new StasisCapacityError(total);
    const perBrowser = this.options.maxSessionsPerBrowser ?? Infinity;
    if (browser && this.#pool.heldBy(browser) >= perBrowser) {
      throw new StasisError("rate-limited", `This browser already holds ${perBrowser} live sessions; close a tab first.`);
    }
    const perAddress = this.options.maxSessionsPerAddress ?? Infinity;
    if (firstVisitFrom !== void 0 && this.#pool.startedFrom(firstVisitFrom) >= perAddress) {
      throw new StasisError("rate-limited", `${perAddress} live sessions were started from this address without a binding cookie; try again later.`);
    }
  }
  disconnect(session, channel) {
    session.channels.delete(channel);
    if (session.channels.size === 0 && this.#pool.get(session.sid) === session) this.#retention.start(session);
  }
  /** Activity on a live channel that carries no app message (the idle policy reads it). */
  touch(session) {
    if (!session.sealing && !session.ended) session.lastActivity = this.#ctx.now();
  }
  async deliver(session, message2) {
    if (session.sealing || session.ended) return;
    session.lastActivity = this.#ctx.now();
    await this.#safely(session, () => session.handlers.onMessage?.(message2));
  }
  /** Seals a live session into a blob and frees it. Throws StasisError with a protocol code. */
  /** `kbt`: the thumbprint of a valid proof that came with the request; the blob is bound to that key. */
  async hibernate(sid, binding, options = {}) {
    if (this.#pool.draining) throw new StasisError("unavailable", "This server is shutting down; try another instance.");
    const bid = bindingHash(binding);
    let session = this.#pool.get(sid);
    if (session && !session.sealing && !await this.#handover.stillOurs(session)) {
      this.#pool.drop(session, "superseded", CLOSE_CODES.superseded);
      session = void 0;
    }
    if (session && !session.sealing) {
      if (session.browser && session.browser !== bid) throw new StasisError("wrong-binding", "The session belongs to another browser.");
      if (options.kbt) session.kbt = options.kbt;
      this.#ctx.debug(sid, `hibernate: sealing gen ${session.gen} here${session.kbt ? ", key-bound" : ""}`);
      return this.#pool.seal(session, bid, options.keepChannels ? void 0 : CLOSE_CODES.hibernated, "hibernated");
    }
    const fleet = this.#ctx.fleet;
    const owner = fleet.shared && !session ? await fleet.owner(sid).catch(() => void 0) : void 0;
    if (owner && owner !== fleet.instanceId) {
      const reply = await this.#handover.askOwner(owner, {
        sid,
        purpose: "hibernate",
        bid,
        ...options.keepChannels ? { keepChannels: true } : {},
        ...options.kbt ? { kbt: options.kbt } : {}
      });
      this.#ctx.debug(sid, `hibernate: asked ${owner}: ${reply ? reply.outcome : "gone"}`);
      if (reply?.outcome === "ok") return reply;
      if (reply) throw new StasisError(reply.outcome, reply.message);
    }
    throw new StasisError("no-session", "No live session with this id.");
  }
  /** See ServerPush.simulateFailover (development only). */
  simulateFailover(sid, kind, binding) {
    return this.#push.simulateFailover(sid, kind, binding);
  }
  /**
   * See ServerPush.drain. Connects and resumes already under way finish first (at most `timeoutMs`): one may be
   * holding a session another instance just handed over, which must be drained or stored, not dropped.
   */
  async drain(timeoutMs) {
    this.#pool.startDraining();
    let timer;
    await Promise.race([this.#busy.idle(), new Promise((resolve) => timer = setTimeout(resolve, timeoutMs))]);
    clearTimeout(timer);
    return this.#push.drain(timeoutMs);
  }
  get draining() {
    return this.#pool.draining;
  }
  /** Verifies a blob and restores its session with gen + 1 (see Restorer.resume). Throws StasisError. */
  resume(sid, blob, binding, proof) {
    if (this.#pool.draining) return Promise.reject(new StasisError("unavailable", "This server is shutting down; try another instance."));
    if (blob.length > this.options.maxBlobBytes) return Promise.reject(new StasisError("too-large", "The blob is over the size limit."));
    return this.#busy.run(sid, async () => {
      const ok = await this.#restorer.resume(sid, blob, binding, proof);
      if ((this.options.checkpointMs ?? 0) <= 0) return ok;
      const session = this.#pool.get(sid);
      const checkpoint = session && session.gen === ok.gen ? await this.#push.sealCheckpoint(session, true) : void 0;
      return checkpoint ? { ...ok, checkpoint: checkpoint.blob } : ok;
    });
  }
  /** See LivePool.reclaimOwnership. */
  reclaimOwnership() {
    return this.#pool.reclaimOwnership();
  }
  report(sid) {
    return this.#pool.report(sid);
  }
  /** Evictions of the bounded stores, for the metrics. */
  get storeEvictions() {
    return this.options.stores?.evictions() ?? {};
  }
  get liveCount() {
    return this.#pool.size;
  }
  get hibernatedCount() {
    return this.#pool.hibernatedCount;
  }
  /** Ends every live session (process shutdown). */
  closeAll() {
    clearInterval(this.#idleSweep);
    clearInterval(this.#checkpointTimer);
    clearInterval(this.#reclaimTimer);
    this.#retention.clear();
    this.#pool.closeAll();
  }
  async #safely(session, fn) {
    try {
      await fn();
    } catch (error) {
      this.options.logger.error(`session ${short2(session.sid)}: app handler failed: ${error?.stack ?? String(error)}`);
    }
  }
};

// server-stub/transport/http-endpoints.ts
import { timingSafeEqual as timingSafeEqual2 } from "node:crypto";

// server-stub/transport/origin-policy.ts
function isOriginAllowed(req, allowed, trustProxy = false) {
  const origin2 = req.headers.origin;
  if (origin2 === void 0) return true;
  if (allowed.includes(origin2)) return true;
  const forwarded = trustProxy ? String(req.headers["x-forwarded-host"] ?? "").split(",")[0]?.trim() : "";
  const host = forwarded || req.headers.host;
  if (!host) return false;
  try {
    const page = new URL(origin2);
    return page.host === new URL(`${page.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

// server-stub/transport/proof.ts
import { createHash as createHash3, createPublicKey, verify as verifySignature } from "node:crypto";
var MAX_PROOF_CHARS = 2048;
var B64URL = /^[A-Za-z0-9_-]+$/;
var COORDINATE = /^[A-Za-z0-9_-]{43}$/;
function verifyProof(proof, expected) {
  if (typeof proof !== "string" || proof.length > MAX_PROOF_CHARS) return { problem: "the proof is not a compact JWS" };
  const parts = proof.split(".");
  if (parts.length !== 3 || !parts.every((part) => B64URL.test(part))) return { problem: "the proof is not a compact JWS" };
  const [head, body, signature] = parts;
  const header = parseJson(head);
  const claims = parseJson(body);
  if (!header || !claims) return { problem: "the proof is not a compact JWS" };
  if (header.typ !== PROOF_TYPE || header.alg !== "ES256") return { problem: `the proof is not an ES256 ${PROOF_TYPE}` };
  const jwk = header.jwk;
  if (typeof jwk !== "object" || jwk === null || jwk.kty !== "EC" || jwk.crv !== "P-256" || typeof jwk.x !== "string" || typeof jwk.y !== "string" || !COORDINATE.test(jwk.x) || !COORDINATE.test(jwk.y) || "d" in jwk) {
    return { problem: "the proof's jwk is not a public EC P-256 key" };
  }
  const publicJwk = { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y };
  let valid;
  try {
    const key = createPublicKey({ key: publicJwk, format: "jwk" });
    const raw = Buffer.from(signature, "base64url");
    valid = raw.length === 64 && verifySignature("sha256", Buffer.from(`${head}.${body}`), { key, dsaEncoding: "ieee-p1363" }, raw);
  } catch {
    return { problem: "the proof's jwk is not a point on P-256" };
  }
  if (!valid) return { problem: "the proof's signature does not verify" };
  const htm = expected.htm ?? "POST";
  if (claims.htm !== htm || claims.htu !== expected.htu) return { problem: `the proof was made for another request, not ${htm} ${expected.htu}` };
  if (!Number.isSafeInteger(claims.iat) || Math.abs(claims.iat - expected.nowSeconds) > PROOF_MAX_SKEW_SECONDS) {
    return { problem: `the proof's iat is more than ${PROOF_MAX_SKEW_SECONDS} s from the server's clock` };
  }
  if (typeof claims.jti !== "string" || claims.jti.length < 8 || claims.jti.length > 64) return { problem: "the proof has no jti" };
  if (expected.blob !== void 0 && claims.bh !== blobHash(expected.blob)) return { problem: "the proof was made for another blob (bh)" };
  return { kbt: jwkThumbprint(publicJwk) };
}
function jwkThumbprint(jwk) {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: "EC", x: jwk.x, y: jwk.y });
  return createHash3("sha256").update(canonical).digest("base64url");
}
function blobHash(blob) {
  return createHash3("sha256").update(blob).digest("base64url");
}
function parseJson(part) {
  try {
    const value = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : void 0;
  } catch {
    return void 0;
  }
}

// server-stub/transport/request-body.ts
async function readJsonBody(req, options) {
  const { limit } = options;
  const given = options.parsed?.body ?? req.body;
  if (streamWasRead(req)) return fromParsed(given, limit);
  if (given !== void 0 && !isEmptyObject(given)) return fromParsed(given, limit);
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw new StasisError("too-large", `The request body is over ${limit} bytes.`);
  }
  return parseJson2(await readBody(req, limit, options.timeoutMs));
}
function streamWasRead(req) {
  return req.readableEnded || req.readableDidRead === true || req.complete && !req.readable;
}
function isEmptyObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value) && Object.keys(value).length === 0;
}
function fromParsed(body, limit) {
  if (body === void 0 || body === null || isEmptyObject(body)) {
    throw new StasisError(
      "misconfigured",
      "The request body was read before Stasis saw it and nothing usable was left. Mount Stasis before your body parsers (app.use(stasis.middleware) first), or let them leave JSON on req.body (express.json())."
    );
  }
  if (typeof body === "string" || body instanceof Uint8Array) {
    const size = typeof body === "string" ? Buffer.byteLength(body) : body.byteLength;
    if (size > limit) throw new StasisError("too-large", `The request body is over ${limit} bytes.`);
    return parseJson2(Buffer.from(body).toString("utf8"));
  }
  if (typeof body !== "object" || Array.isArray(body)) throw new StasisError("malformed", "The request body must be a JSON object.");
  if (JSON.stringify(body).length > limit) throw new StasisError("too-large", `The request body is over ${limit} bytes.`);
  return body;
}
function parseJson2(text2) {
  let value;
  try {
    value = JSON.parse(text2);
  } catch {
    throw new StasisError("malformed", "The request body is not JSON.");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new StasisError("malformed", "The request body must be a JSON object.");
  }
  return value;
}
var BodyTimeoutError = class extends StasisError {
  name = "BodyTimeoutError";
  constructor(timeoutMs) {
    super("unavailable", `The request body did not arrive within ${timeoutMs} ms; try again.`);
  }
};
var RequestAbortedError = class extends StasisError {
  constructor(received, declared, how) {
    super("unavailable", "The request was aborted before its body ended.");
    this.received = received;
    this.declared = declared;
    this.how = how;
  }
  received;
  declared;
  how;
  name = "RequestAbortedError";
};
function readBody(req, limit, timeoutMs) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    const declared = Number(req.headers["content-length"]);
    const aborted = (how) => new RequestAbortedError(size, Number.isFinite(declared) ? declared : void 0, how);
    if (req.destroyed) return reject(aborted("close"));
    let settled = false;
    const settle = (fn) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(() => settle(() => reject(new BodyTimeoutError(timeoutMs))), timeoutMs);
    timer.unref();
    req.on("data", (chunk) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        settle(() => reject(new StasisError("too-large", `The request body is over ${limit} bytes.`)));
      } else {
        chunks.push(chunk);
      }
    });
    req.on("end", () => settle(() => resolve(Buffer.concat(chunks).toString("utf8"))));
    req.on("error", (error) => settle(() => reject(aborted(error.code ?? error.message))));
    req.on("close", () => settle(() => reject(aborted("close"))));
  });
}

// server-stub/transport/failover-endpoint.ts
async function failoverEndpoint(manager, cookieName, body, req) {
  if (process.env.NODE_ENV === "production") {
    req.resume();
    return {
      status: 403,
      answer: { ok: false, code: "disabled-in-production", message: "Failover simulation is a development tool; it is off under NODE_ENV=production." }
    };
  }
  try {
    const { sid, kind } = await body();
    if (!isSid(sid)) throw new StasisError("malformed", "sid must be a session id.");
    if (!FAILOVER_KINDS.includes(kind)) throw new StasisError("malformed", `kind must be one of ${FAILOVER_KINDS.join(", ")}.`);
    const binding = readBindingCookie(req, cookieName);
    if (!binding) throw new StasisError("wrong-binding", "No binding cookie: the session cannot be told apart from another browser\u2019s.");
    const ok = await manager.simulateFailover(sid, kind, binding);
    return { status: 200, answer: { ok: true, kind, sid, gen: ok.gen } };
  } catch (error) {
    const code = error instanceof StasisError && ["no-session", "wrong-binding", "malformed"].includes(error.code) ? error.code : "unavailable";
    const status = code === "no-session" ? 404 : code === "wrong-binding" ? 403 : code === "malformed" ? 400 : 503;
    return { status, answer: { ok: false, code, message: error.message } };
  }
}

// server-stub/transport/page-assets.ts
import { createReadStream, existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
var SERVED = new Map(
  PAGE_ASSETS.flatMap(
    (name) => name.endsWith(".css") ? [[name, "text/css; charset=utf-8"]] : [
      [name, "text/javascript; charset=utf-8"],
      [`${name}.map`, "application/json; charset=utf-8"]
    ]
  )
);
function defaultAssetsDir() {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    for (const candidate of [dir, join(dir, "dist")]) if (existsSync(join(candidate, "stasis-sw.js"))) return candidate;
    dir = dirname(dir);
  }
  return void 0;
}
function createAssetHandler(dir) {
  return async function serveAsset(name, req, res) {
    const type = SERVED.get(name);
    if (!type || !dir || req.method !== "GET" && req.method !== "HEAD") return false;
    const file = join(dir, name);
    const info = await stat(file).catch(() => void 0);
    if (!info?.isFile()) return false;
    const etag = `"${info.size.toString(36)}-${Math.floor(info.mtimeMs).toString(36)}"`;
    const headers = {
      "Content-Type": type,
      "Cache-Control": "no-cache",
      ETag: etag,
      "X-Content-Type-Options": "nosniff",
      ...name === "stasis-sw.js" ? { "Service-Worker-Allowed": "/" } : {}
    };
    if (req.headers["if-none-match"] === etag) {
      res.writeHead(304, headers).end();
      return true;
    }
    res.writeHead(200, { ...headers, "Content-Length": info.size });
    if (req.method === "HEAD") res.end();
    else createReadStream(file).pipe(res);
    return true;
  };
}

// server-stub/transport/http-endpoints.ts
var startedAt = Date.now();
var ABORT_ROUTES = /* @__PURE__ */ new Map([
  [ROUTES.hibernate, "hibernate"],
  [ROUTES.resume, "resume"],
  [ROUTES.failover, "failover"]
]);
function createHttpHandler(manager, config, logger, resumeGate, options = {}) {
  const now = options.now ?? Date.now;
  const base = config.basePath;
  const serveAsset = createAssetHandler(options.assetsDir);
  return async function handle(req, res, parsed) {
    let aborted;
    const readJson = () => readJsonBody(req, { limit: config.maxBodyBytes, timeoutMs: config.bodyTimeoutMs, ...parsed ? { parsed } : {} }).catch(
      (error) => {
        if (error instanceof RequestAbortedError) aborted = error;
        throw error;
      }
    );
    const checkPost = (route2) => {
      if (req.method !== "POST") {
        res.setHeader("Allow", "POST");
        throw new StasisError("malformed", `${route2} takes POST.`);
      }
      if (!isOriginAllowed(req, config.allowedOrigins, config.trustProxy)) {
        req.resume();
        throw new StasisError("forbidden-origin", `Origin ${req.headers.origin} may not call Stasis here.`);
      }
    };
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== base && !url.pathname.startsWith(`${base}/`)) return false;
    const route = url.pathname.slice(base.length);
    const reply = (status, body) => {
      if (send(res, status, body)) return;
      const outcome = body?.outcome;
      logger.debug?.(`${req.method} ${url.pathname}: client gone, answer not delivered (${status}${typeof outcome === "string" ? ` ${outcome}` : ""})`);
    };
    try {
      if (route === ROUTES.health && (req.method === "GET" || req.method === "HEAD")) {
        const sid = url.searchParams.get("sid");
        const body = {
          ok: true,
          version: PROTOCOL_VERSION,
          live: manager.liveCount,
          hibernated: manager.hibernatedCount,
          uptimeSeconds: Math.round((Date.now() - startedAt) / 1e3),
          draining: manager.draining,
          ...isSid(sid) ? { session: manager.report(sid) } : {}
        };
        reply(manager.draining ? 503 : 200, body);
      } else if (route === ROUTES.metrics && req.method === "GET") {
        if (!metricsAllowed(req, config.metricsToken)) {
          reply(401, failure("malformed", "The metrics need `Authorization: Bearer <STASIS_METRICS_TOKEN>`."));
          return true;
        }
        const text2 = manager.metrics.render({
          live: manager.liveCount,
          hibernated: manager.hibernatedCount,
          draining: manager.draining,
          evictions: manager.storeEvictions
        });
        res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8", "Cache-Control": "no-store" });
        res.end(text2);
      } else if (route === ROUTES.hibernate || route === ROUTES.resume) {
        checkPost(route);
        if (route === ROUTES.hibernate) {
          const body = await readJson();
          if (!isSid(body.sid)) throw new StasisError("malformed", "sid must be a base64url string of 22-64 characters.");
          const existing = readBindingCookie(req, config.cookieName);
          const binding = existing ?? newBindingSecret();
          const proof = body.proof === void 0 ? void 0 : verifyProof(body.proof, { htu: url.pathname, nowSeconds: Math.floor(now() / 1e3) });
          if (proof && "problem" in proof) logger.debug?.(`hibernate ${String(body.sid).slice(0, 6)}: proof not used: ${proof.problem}`);
          const kbt = proof && "kbt" in proof ? proof.kbt : void 0;
          const answer = await manager.hibernate(body.sid, binding, { keepChannels: body.keepChannels === true, ...kbt ? { kbt } : {} });
          manager.metrics.hibernation("request", "ok", answer.blob.length);
          if (!existing) res.setHeader("Set-Cookie", bindingCookieHeader(req, config.cookieName, binding, config.trustProxy));
          reply(200, answer);
        } else {
          const verdict = await resumeGate.resume({
            read: readJson,
            cookie: readBindingCookie(req, config.cookieName),
            issueBinding: newBindingSecret,
            address: clientAddress(req, config.trustProxy),
            htm: "POST",
            htu: url.pathname
          });
          if (verdict.status === HTTP_STATUS["rate-limited"]) req.resume();
          if (verdict.retryAfter !== void 0) res.setHeader("Retry-After", String(verdict.retryAfter));
          if (verdict.issued) res.setHeader("Set-Cookie", bindingCookieHeader(req, config.cookieName, verdict.issued, config.trustProxy));
          reply(verdict.status, verdict.answer);
        }
      } else if (route === ROUTES.failover) {
        checkPost(route);
        const { status, answer } = await failoverEndpoint(manager, config.cookieName, readJson, req);
        if (aborted) throw aborted;
        reply(status, answer);
      } else if (route === ROUTES.health || route === ROUTES.metrics) {
        res.setHeader("Allow", route === ROUTES.health ? "GET, HEAD" : "GET");
        throw new StasisError("malformed", `${route} takes ${route === ROUTES.health ? "GET or HEAD" : "GET"}.`);
      } else if (route === ROUTES.live && req.headers.upgrade) {
        reply(404, failure("malformed", `No live channel is served at ${url.pathname} on this server.`));
      } else if (route === ROUTES.live && req.method !== "GET" && req.method !== "HEAD") {
        res.setHeader("Allow", "GET");
        throw new StasisError("malformed", `${route} takes a GET with Upgrade: websocket.`);
      } else if (route === ROUTES.live) {
        req.resume();
        res.setHeader("Upgrade", "websocket");
        reply(426, failure("malformed", `${url.pathname} is a WebSocket endpoint: connect with an Upgrade: websocket request.`));
      } else if (!await serveAsset(route.slice(1), req, res)) {
        reply(404, failure("malformed", `No Stasis endpoint at ${url.pathname}.`));
      }
    } catch (error) {
      if (error instanceof RequestAbortedError) {
        manager.metrics.aborted(ABORT_ROUTES.get(route) ?? "other");
        const of = error.declared === void 0 ? "" : ` of ${error.declared}`;
        logger.debug?.(`${req.method} ${url.pathname}: client aborted the request body (${error.received}${of} bytes received, ${error.how})`);
        if (!res.destroyed) res.destroy();
        return true;
      }
      if (route === ROUTES.hibernate && req.method === "POST") {
        manager.metrics.hibernation("request", error instanceof StasisError ? error.code : "unavailable");
      }
      if (error instanceof BodyTimeoutError) {
        res.setHeader("Connection", "close");
        reply(408, failure(error.code, error.message));
        res.once("finish", () => req.destroy());
      } else if (error instanceof StasisError) {
        if (error.code === "misconfigured") logger.error(`${req.method} ${url.pathname}: ${error.message}`);
        reply(HTTP_STATUS[error.code], failure(error.code, error.message));
      } else {
        logger.error(`${req.method} ${url.pathname} failed: ${error?.stack ?? String(error)}`);
        reply(HTTP_STATUS.unavailable, failure("unavailable", "The server could not handle the request; try again."));
      }
    }
    return true;
  };
}
function failure(outcome, message2) {
  return { outcome, message: message2 };
}
function send(res, status, body) {
  if (res.destroyed || res.socket?.destroyed === true) return false;
  if (res.headersSent) return true;
  const text2 = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text2),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff"
  });
  res.end(text2);
  return true;
}
function metricsAllowed(req, token) {
  if (!token) return true;
  const given = Buffer.from(String(req.headers.authorization ?? ""));
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual2(given, expected);
}

// server-stub/transport/message-text.ts
function messageText(data) {
  if (Buffer.isBuffer(data)) return data.toString();
  if (Array.isArray(data)) return Buffer.concat(data).toString();
  return Buffer.from(data).toString();
}
function messageBytes(data) {
  if (Array.isArray(data)) return data.reduce((sum, part) => sum + part.length, 0);
  return data.byteLength;
}

// server-stub/transport/live-socket.ts
var MAX_MESSAGE_BYTES = 256 * 1024;
var HEARTBEAT_MS = 3e4;
var MAX_EARLY_MESSAGES = 64;
function createLiveSocket(manager, config, logger, resumeGate, Server) {
  const path = `${config.basePath}${ROUTES.live}`;
  const wss = Server ? new Server({ noServer: true, maxPayload: MAX_MESSAGE_BYTES }) : void 0;
  const resumeWss = Server ? new Server({ noServer: true, maxPayload: Math.max(MAX_MESSAGE_BYTES, config.maxBodyBytes) }) : void 0;
  let heartbeat;
  if (wss && resumeWss) {
    const alive = /* @__PURE__ */ new WeakSet();
    heartbeat = setInterval(() => {
      for (const socket of [...wss.clients, ...resumeWss.clients]) {
        if (!alive.has(socket)) {
          socket.terminate();
          continue;
        }
        alive.delete(socket);
        socket.ping();
      }
    }, HEARTBEAT_MS);
    heartbeat.unref();
    for (const server2 of [wss, resumeWss]) {
      server2.on("headers", (headers, req) => {
        const cookie = bindingSetCookie(req, config);
        if (cookie) headers.push(`Set-Cookie: ${cookie}`);
      });
      server2.on("connection", (socket, req) => {
        alive.add(socket);
        socket.on("pong", () => alive.add(socket));
        serve(socket, req, () => alive.add(socket), server2 === resumeWss);
      });
    }
  }
  function serve(socket, req, onActivity, resuming) {
    const sid = new URL(req.url ?? "/", "http://localhost").searchParams.get("sid");
    const closed = new Promise((resolve) => socket.once("close", () => resolve()));
    const early = [];
    let connection;
    let gone = false;
    let shut = false;
    let takeResume;
    const shutWith = (code, reason) => {
      shut = true;
      early.length = 0;
      socket.close(code, reason);
    };
    let chain = Promise.resolve();
    const deliver = (attached, message2) => {
      chain = chain.then(() => attached.message(message2)).catch((error) => logger.error(`live message failed: ${error?.stack ?? String(error)}`));
    };
    socket.on("message", (data, isBinary) => {
      onActivity();
      if (takeResume) return takeResume(data, isBinary);
      if (shut) return;
      if (resuming && messageBytes(data) > MAX_MESSAGE_BYTES) return shutWith(1009);
      let message2;
      try {
        if (isBinary) throw new Error("binary");
        message2 = JSON.parse(messageText(data));
      } catch {
        if (socket.readyState === socket.OPEN) {
          socket.send(JSON.stringify({ type: "stasis:error", code: "malformed", message: "Messages must be JSON text." }));
        }
        return;
      }
      if (connection) deliver(connection, message2);
      else if (early.length < MAX_EARLY_MESSAGES) early.push(message2);
      else shutWith(CLOSE_CODES.tooManyEarlyMessages, CLOSE_REASONS.tooManyEarlyMessages);
    });
    socket.on("close", () => {
      gone = true;
      connection?.close();
    });
    socket.on("error", () => socket.terminate());
    const attach = () => connectChannel(manager, config, {
      sid,
      request: req,
      socket: {
        send: (text2) => socket.readyState === socket.OPEN && socket.send(text2),
        close: (code, reason) => socket.close(code, reason),
        terminate: () => socket.terminate(),
        closed
      }
    }).then(
      (attached) => {
        if (gone || shut) return attached.close();
        connection = attached;
        for (const message2 of early.splice(0)) deliver(attached, message2);
      },
      (error) => {
        if (shut) return;
        if (!(error instanceof StasisError)) logger.error(`live connect failed: ${error?.stack ?? String(error)}`);
        const { code, reason } = closeFor(error);
        socket.close(code, reason);
      }
    );
    if (!resuming) return void attach();
    let timer;
    const request2 = new Promise((resolve, reject) => {
      takeResume = (data, isBinary) => {
        stopWaiting();
        const body = resumeRequest(data, isBinary, sid);
        if (body instanceof StasisError) reject(body);
        else resolve(body);
      };
      timer = setTimeout(() => {
        stopWaiting();
        reject(new StasisError("malformed", `No ${LIVE_RESUME_MESSAGE} message came within ${config.bodyTimeoutMs} ms.`));
      }, config.bodyTimeoutMs);
      void closed.then(() => {
        if (!takeResume) return;
        stopWaiting();
        reject(new RequestAbortedError(0, void 0, "close"));
      });
    });
    request2.catch(() => {
    });
    function stopWaiting() {
      takeResume = void 0;
      clearTimeout(timer);
    }
    const answer = (reply) => socket.readyState === socket.OPEN && socket.send(JSON.stringify(reply));
    resumeGate.resume({
      read: () => request2,
      cookie: readBindingCookie(req, config.cookieName),
      // The secret the 101 already carried as Set-Cookie (the `headers` event above issued it).
      issueBinding: () => issueBinding(req, config.cookieName).secret,
      address: clientAddress(req, config.trustProxy),
      htm: "GET",
      htu: path
    }).then(
      ({ answer: verdict }) => {
        stopWaiting();
        if (gone || shut) return;
        answer({ type: LIVE_RESUME_ANSWER, ...verdict });
        if (verdict.outcome === "ok") void attach();
        else shutWith(CLOSE_CODES.resumeRefused, `stasis:${verdict.outcome}`);
      },
      (error) => {
        stopWaiting();
        if (error instanceof RequestAbortedError || gone || shut) return;
        logger.error(`live resume failed: ${error?.stack ?? String(error)}`);
        answer({ type: LIVE_RESUME_ANSWER, outcome: "unavailable", message: "The server could not handle the resume; try again." });
        shutWith(CLOSE_CODES.resumeRefused, "stasis:unavailable");
      }
    );
  }
  let warned = false;
  return {
    path,
    /** Handles an HTTP upgrade for the live path; false (the socket untouched) for any other path. */
    handleUpgrade: (req, socket, head) => {
      if (new URL(req.url ?? "/", "http://localhost").pathname !== path) return false;
      if (!isOriginAllowed(req, config.allowedOrigins, config.trustProxy)) {
        socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return true;
      }
      if (!wss || !resumeWss) {
        if (!warned) logger.error(`${path}: the built-in live channel needs the "ws" package (npm install ws), or bring your own channel.`);
        warned = true;
        socket.end("HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return true;
      }
      const server2 = new URL(req.url ?? "/", "http://localhost").searchParams.get(LIVE_RESUME_PARAM) === "1" ? resumeWss : wss;
      server2.handleUpgrade(req, socket, head, (ws) => server2.emit("connection", ws, req));
      return true;
    },
    close() {
      clearInterval(heartbeat);
      for (const server2 of [wss, resumeWss]) {
        if (!server2) continue;
        for (const socket of server2.clients) socket.terminate();
        server2.close();
      }
    }
  };
}
function resumeRequest(data, isBinary, sid) {
  let message2;
  try {
    message2 = isBinary ? void 0 : JSON.parse(messageText(data));
  } catch {
  }
  const request2 = message2;
  if (typeof request2 !== "object" || request2 === null || Array.isArray(request2) || request2.type !== LIVE_RESUME_MESSAGE) {
    return new StasisError("malformed", `The first message with ${LIVE_RESUME_PARAM}=1 must be a JSON ${LIVE_RESUME_MESSAGE} message.`);
  }
  if (request2.sid !== sid) return new StasisError("malformed", `The ${LIVE_RESUME_MESSAGE} message names another sid than the socket's query.`);
  return request2;
}

// server-stub/bailout-guard.ts
var BAILOUTS = /* @__PURE__ */ new Set(["expired", "tampered", "unknown-key", "wrong-binding", "malformed", "schema-reset", "too-large"]);
var MIN_SLOTS = 16;
var BailoutGuard = class {
  constructor(options) {
    this.options = options;
    this.#now = options.now ?? Date.now;
  }
  options;
  // The window, coalesced by clock reading: a ring of slots (time, resumes, failures) in arrival order, plus
  // running totals. record() adds to the newest slot (or opens one) and drops expired slots from the oldest
  // end, so it costs O(1) amortised, and the ring holds at most one slot per distinct clock reading in the
  // window (60 000 for a 60 s window on a millisecond clock), however many resumes arrive.
  #at = new Float64Array(MIN_SLOTS);
  #resumesAt = new Uint32Array(MIN_SLOTS);
  #failuresAt = new Uint32Array(MIN_SLOTS);
  /** Index of the oldest slot, and how many slots are in use. */
  #head = 0;
  #slots = 0;
  #resumes = 0;
  #failures = 0;
  #active = false;
  #lastLog = -Infinity;
  #now;
  get active() {
    return this.#active;
  }
  /** The ring's size: slots in use and allocated (for tests; bounded by the distinct clock readings in the window). */
  get footprint() {
    return { slots: this.#slots, capacity: this.#at.length, resumes: this.#resumes };
  }
  /** Records a resume outcome; returns true when this failure should start the page fresh quietly. */
  record(outcome) {
    const now = this.#now();
    const failed = BAILOUTS.has(outcome);
    if (outcome !== "ok" && !failed) return false;
    this.#push(now, failed);
    const cutoff = now - this.options.windowMs;
    while (this.#slots && this.#at[this.#head] <= cutoff) this.#dropOldest();
    const failures = this.#failures;
    const resumes = this.#resumes;
    const storm = resumes >= this.options.minResumes && failures / resumes > this.options.fraction;
    if (storm !== this.#active) {
      this.#active = storm;
      this.options.metrics?.storm(storm);
      if (!storm) {
        this.#lastLog = -Infinity;
        this.options.logger.warn("bail-out storm over: failed resumes show their error again.");
      }
    }
    if (storm && now - this.#lastLog >= 1e4) {
      this.#lastLog = now;
      this.options.logger.error(
        `BAIL-OUT STORM: ${failures} of the last ${resumes} resumes failed (last: ${outcome}). Pages now start fresh without an error. Check the key ring (STASIS_KEYS) and the last deploy.`
      );
    }
    return storm && failed;
  }
  /** Adds one resume at `at`: to the newest slot when it has the same time, else to a new slot. */
  #push(at, failed) {
    const capacity = this.#at.length;
    let newest = (this.#head + this.#slots - 1) % capacity;
    if (!this.#slots || this.#at[newest] !== at) {
      if (this.#slots === capacity) this.#resize(capacity * 2);
      newest = (this.#head + this.#slots) % this.#at.length;
      this.#at[newest] = at;
      this.#resumesAt[newest] = 0;
      this.#failuresAt[newest] = 0;
      this.#slots++;
    }
    this.#resumesAt[newest]++;
    this.#resumes++;
    if (failed) {
      this.#failuresAt[newest]++;
      this.#failures++;
    }
  }
  #dropOldest() {
    this.#resumes -= this.#resumesAt[this.#head];
    this.#failures -= this.#failuresAt[this.#head];
    this.#head = (this.#head + 1) % this.#at.length;
    this.#slots--;
    if (this.#at.length > MIN_SLOTS && this.#slots <= this.#at.length / 4) this.#resize(this.#at.length / 2);
  }
  /** Moves the slots in use, oldest first, into rings of `capacity` (at least the slots in use). */
  #resize(capacity) {
    const at = new Float64Array(capacity);
    const resumes = new Uint32Array(capacity);
    const failures = new Uint32Array(capacity);
    for (let i = 0; i < this.#slots; i++) {
      const from = (this.#head + i) % this.#at.length;
      at[i] = this.#at[from];
      resumes[i] = this.#resumesAt[from];
      failures[i] = this.#failuresAt[from];
    }
    this.#at = at;
    this.#resumesAt = resumes;
    this.#failuresAt = failures;
    this.#head = 0;
  }
};

// server-stub/rate-limiter.ts
var FailureRateLimiter = class {
  constructor(limit, windowMs, now = Date.now, maxClients = 1e5) {
    this.limit = limit;
    this.windowMs = windowMs;
    this.now = now;
    this.maxClients = maxClients;
  }
  limit;
  windowMs;
  now;
  maxClients;
  #failures = /* @__PURE__ */ new Map();
  /** Seconds until `client` may try again; 0 when it may try now. */
  retryAfterSeconds(client2) {
    const times = this.#recent(client2);
    if (times.length < this.limit) return 0;
    return Math.max(1, Math.ceil((times[0] + this.windowMs - this.now()) / 1e3));
  }
  recordFailure(client2) {
    const times = this.#recent(client2);
    times.push(this.now());
    this.#failures.delete(client2);
    this.#failures.set(client2, times);
    if (this.#failures.size > this.maxClients) this.#failures.delete(this.#failures.keys().next().value);
  }
  #recent(client2) {
    const times = this.#failures.get(client2) ?? [];
    const cutoff = this.now() - this.windowMs;
    while (times.length && times[0] <= cutoff) times.shift();
    if (!times.length) this.#failures.delete(client2);
    return times;
  }
};

// server-stub/transport/resume-gate.ts
var SESSION_CAP_RETRY_SECONDS = 5;
var SUSPICIOUS = /* @__PURE__ */ new Set(["tampered", "unknown-key", "wrong-binding", "malformed"]);
function createResumeGate(manager, config, logger, now = Date.now) {
  const bailout = new BailoutGuard({ ...config.bailout, logger, metrics: manager.metrics, now });
  const failuresByBrowser = new FailureRateLimiter(config.resumeFailuresPerMinute, 6e4, now);
  const failuresByAddress = new FailureRateLimiter(config.resumeFailuresPerMinute * 5, 6e4, now);
  const limited = (wait) => {
    manager.metrics.resume("rate-limited");
    const answer = { outcome: "rate-limited", message: `Too many failed resumes; try again in ${wait} s.`, retryAfterSeconds: wait };
    return { answer, status: HTTP_STATUS["rate-limited"], retryAfter: wait };
  };
  return {
    async resume(attempt) {
      const { cookie, address, htm, htu } = attempt;
      let browser = cookie ? bindingHash(cookie) : void 0;
      const wait = Math.max(failuresByAddress.retryAfterSeconds(address), browser ? failuresByBrowser.retryAfterSeconds(browser) : 0);
      if (wait > 0) return limited(wait);
      try {
        const body = await attempt.read();
        if (!isSid(body.sid)) throw new StasisError("malformed", "sid must be a base64url string of 22-64 characters.");
        if (typeof body.blob !== "string") throw new StasisError("malformed", "blob must be a string.");
        const proof = body.proof === void 0 ? void 0 : verifyProof(body.proof, { htm, htu, nowSeconds: Math.floor(now() / 1e3), blob: body.blob });
        if (proof && "kbt" in proof) {
          browser = `key:${proof.kbt}`;
          const keyWait = failuresByBrowser.retryAfterSeconds(browser);
          if (keyWait > 0) return limited(keyWait);
        }
        const issued2 = !cookie && proof && "kbt" in proof ? attempt.issueBinding() : void 0;
        const answer = await manager.resume(body.sid, body.blob, cookie ?? issued2, proof);
        manager.metrics.resume("ok");
        bailout.record("ok");
        return { answer, status: HTTP_STATUS.ok, ...issued2 ? { issued: issued2 } : {} };
      } catch (error) {
        if (error instanceof RequestAbortedError) throw error;
        manager.metrics.resume(error instanceof StasisError ? error.code : "unavailable");
        if (error instanceof BodyTimeoutError) throw error;
        if (!(error instanceof StasisError)) {
          logger.error(`resume (${htm} ${htu}) failed: ${error?.stack ?? String(error)}`);
          return refusal3("unavailable", "The server could not handle the request; try again.");
        }
        const quiet = bailout.record(error.code);
        if (SUSPICIOUS.has(error.code)) {
          failuresByAddress.recordFailure(address);
          if (browser) failuresByBrowser.recordFailure(browser);
        }
        if (quiet) return { ...refusal3(error.code, error.message), answer: { outcome: error.code, message: error.message, quiet: true } };
        if (error.code === "rate-limited") {
          const answer = { outcome: error.code, message: error.message, retryAfterSeconds: SESSION_CAP_RETRY_SECONDS };
          return { answer, status: HTTP_STATUS["rate-limited"], retryAfter: SESSION_CAP_RETRY_SECONDS };
        }
        if (error.code === "misconfigured") logger.error(`resume (${htm} ${htu}): ${error.message}`);
        return refusal3(error.code, error.message);
      }
    }
  };
}
function refusal3(outcome, message2) {
  return { answer: { outcome, message: message2 }, status: HTTP_STATUS[outcome] };
}

// server-stub/transport/upgrade-router.ts
var routed = /* @__PURE__ */ new WeakMap();
function routeUpgrades(server2, handle) {
  let handlers = routed.get(server2);
  if (!handlers) {
    const own2 = handlers = /* @__PURE__ */ new Set();
    routed.set(server2, own2);
    const emit = server2.emit;
    server2.emit = function(event, ...args) {
      if (event === "upgrade" && own2.size) {
        const [req, socket, head] = args;
        for (const take2 of own2) if (take2(req, socket, head)) return true;
        if (server2.listenerCount("upgrade") <= 1) {
          socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
          return true;
        }
      }
      return emit.apply(this, [event, ...args]);
    };
  }
  const own = handlers;
  own.add(handle);
  if (!server2.listeners("upgrade").includes(keepUpgradesOn)) server2.on("upgrade", keepUpgradesOn);
  return () => {
    own.delete(handle);
    if (!own.size) server2.off("upgrade", keepUpgradesOn);
  };
}
function keepUpgradesOn() {
}

// server-stub/index.ts
async function createStasisServer(options) {
  const config = resolveConfig(options);
  const logger = options.logger ?? consoleLogger;
  const ring = typeof options.keys === "object" ? options.keys : await parseKeyRing(options.keys ?? process.env.STASIS_KEYS);
  const codecs = /* @__PURE__ */ new Map([[jsonCodec.name, jsonCodec]]);
  for (const codec of options.codecs ?? []) codecs.set(codec.name, codec);
  const metrics = new Metrics();
  const where = { prefix: config.redisPrefix, commandTimeoutMs: config.storeTimeoutMs };
  const redisOptions = config.redisCluster ? { ...where, cluster: config.redisCluster } : config.redisUrl ? { ...where, url: config.redisUrl } : void 0;
  const client2 = redisOptions ? connectRedis(redisOptions, "server") : void 0;
  const redis = client2 ? { client: client2, prefix: config.redisPrefix } : void 0;
  if (client2 && !await whenReady(client2, 5e3)) {
    const target = config.redisCluster ? `Redis Cluster ${config.redisCluster.map(redactUrl).join(", ")}` : `Redis at ${redactUrl(config.redisUrl)}`;
    logger.error(`${target} is not reachable yet; resumes answer "unavailable" until it is.`);
  }
  const ledger = options.ledger ?? (redis ? new RedisLedger(redis, options.now) : new MemoryLedger(options.now));
  const fleet = redisOptions ? new RedisFleet({ ...redisOptions, client: client2, ownerTtlMs: config.ttlSeconds * 1e3, handoverTimeoutMs: config.handoverTimeoutMs, logger }) : void 0;
  const stores = new StoreChain(
    config.stores.map(
      (store) => store === "memory" ? new MemoryStore({ ...config.memoryStore, ...options.now ? { now: options.now } : {} }) : store === "redis" ? new RedisStore(redis, options.now) : store
    ),
    config.breaker,
    metrics,
    logger
  );
  await fleet?.ready();
  const sessions = new SessionManager({
    ring,
    app: options.app ?? (() => void 0),
    audience: config.audience,
    schema: config.schema,
    ttlSeconds: config.ttlSeconds,
    maxBlobBytes: config.maxBlobBytes,
    warnBlobBytes: config.warnBlobBytes,
    retentionMs: config.retentionMs,
    maxSessionsPerBrowser: config.maxSessionsPerBrowser,
    maxLiveSessions: config.maxLiveSessions,
    maxSessionsPerAddress: config.maxSessionsPerAddress,
    lookupPatienceMs: config.lookupPatienceMs,
    idleMs: config.idleMs,
    metrics,
    ledger,
    stores,
    ...fleet ? { fleet } : {},
    checkpointMs: config.checkpointMs,
    codecs: (name) => codecs.get(name),
    defaultCodec: jsonCodec,
    logger,
    ...options.now ? { now: options.now } : {}
  });
  const assetsDir = options.assets === false ? void 0 : options.assets ?? defaultAssetsDir();
  const resumeGate = createResumeGate(sessions, config, logger, options.now);
  const handle = createHttpHandler(sessions, config, logger, resumeGate, { ...options.now ? { now: options.now } : {}, assetsDir });
  const live2 = createLiveSocket(sessions, config, logger, resumeGate, await loadWebSocketServer());
  return {
    config,
    sessions,
    handle,
    middleware(req, res, next) {
      handle(req, res).then((handled) => handled || next(), next);
    },
    handleUpgrade: live2.handleUpgrade,
    attach: (server2) => routeUpgrades(server2, live2.handleUpgrade),
    connectChannel: (channel) => connectChannel(sessions, config, channel, logger),
    bindingCookie: (request2) => bindingSetCookie(request2, config),
    drain(timeoutMs = config.drainTimeoutMs) {
      return sessions.drain(timeoutMs);
    },
    async close() {
      live2.close();
      sessions.closeAll();
      await Promise.all([stores.close(), fleet?.close(), options.ledger ? void 0 : ledger.close?.()]);
      client2?.disconnect();
    }
  };
}
async function loadWebSocketServer() {
  try {
    const ws = await import("ws");
    return ws.WebSocketServer ?? ws.default?.WebSocketServer;
  } catch {
    return void 0;
  }
}
function redactUrl(url) {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}

// bench/peers/servers/peer-server.ts
import { once } from "node:events";
async function listenLoopback(server2) {
  server2.listen(0, "127.0.0.1");
  await once(server2, "listening");
  const address = server2.address();
  if (!address || typeof address === "string") throw new Error("the bench server has no TCP address");
  return address.port;
}
async function closeServer(server2) {
  const closed = once(server2, "close");
  server2.close();
  server2.closeAllConnections();
  await closed;
}

// bench/peers/servers/stasis.ts
async function startStasisServer() {
  const stasis = await createStasisServer({
    app: bench_app_default,
    keys: generateKeySpec("bench"),
    logger: silentLogger,
    assets: false,
    maxBlobBytes: 8 << 20,
    warnBlobBytes: 8 << 20,
    // Every bench client is a browser of its own, all from 127.0.0.1: the per-address cap on cookie-less
    // connects (256 live) would refuse the memory run's clients, as it would a large NAT's users.
    maxSessionsPerAddress: 1e6
  });
  const http = createServer((req, res) => {
    stasis.handle(req, res).then(
      (handled) => {
        if (!handled) res.writeHead(404).end();
      },
      () => res.writeHead(500).end()
    );
  });
  http.keepAliveTimeout = 10 * 6e4;
  const detach = stasis.attach(http);
  const port = await listenLoopback(http);
  return {
    port,
    async counts() {
      return { live: stasis.sessions.liveCount, paused: stasis.sessions.hibernatedCount, pausedCap: HIBERNATED_INDEX_MAX };
    },
    async close() {
      detach();
      await stasis.close();
      await closeServer(http);
    }
  };
}

// bench/peers/clients/stasis.ts
import { randomBytes as randomBytes4 } from "node:crypto";
import { Agent, request } from "node:http";

// bench/peers/clients/json-socket.ts
import { WebSocket } from "ws";
var TIMEOUT_MS = 15e3;
var JsonSocket = class _JsonSocket {
  /** Settles when the socket has closed, with the close frame's code and reason. */
  closed;
  /** `name=value` of the cookie the upgrade's answer set (only the one named in `open`). */
  setCookie;
  #ws;
  #messages = [];
  #close;
  #wake;
  constructor(url, headers, cookieName) {
    const ws = new WebSocket(url, { headers, handshakeTimeout: TIMEOUT_MS });
    this.#ws = ws;
    if (cookieName) {
      ws.on("upgrade", (response) => {
        const header = [].concat(response.headers["set-cookie"] ?? []).find((c2) => c2.startsWith(`${cookieName}=`));
        this.setCookie = header?.split(";")[0];
      });
    }
    ws.on("message", (data) => {
      this.#messages.push(JSON.parse(data.toString()));
      this.#wake?.();
    });
    this.closed = new Promise((resolve) => {
      ws.on("close", (code, reason) => {
        this.#close = { code, reason: reason.toString() };
        this.#wake?.();
        resolve(this.#close);
      });
    });
    ws.on("error", () => {
    });
  }
  /** Starts the upgrade; messages are read with `next()`, which also reports a failed upgrade (as a close). */
  static open(url, options = {}) {
    return new _JsonSocket(url, options.cookie ? { Cookie: options.cookie } : {}, options.cookieName);
  }
  /** The next message; rejects if the socket closes first or nothing comes within 15 s. */
  async next() {
    const deadline = Date.now() + TIMEOUT_MS;
    for (; ; ) {
      if (this.#messages.length > 0) return this.#messages.shift();
      if (this.#close) throw new Error(`the socket closed (${this.#close.code} ${this.#close.reason}) before the next message`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${TIMEOUT_MS} ms`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = void 0;
    }
  }
  /** The next app view (`{ type: 'state' }`), skipping any other message. */
  async nextView() {
    for (; ; ) {
      const message2 = await this.next();
      if (message2?.type === "state") return message2;
    }
  }
  send(message2) {
    this.#ws.send(JSON.stringify(message2));
  }
  /** Sends `text` as soon as the upgrade is through (a page's first message, sent from its `open` event). */
  sendOnOpen(text2) {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(text2);
    else this.#ws.once("open", () => this.#ws.send(text2));
  }
  /** Waits for the server's close (rejects after 15 s). */
  async whenClosed() {
    let timer;
    const timeout = new Promise((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`the server did not close the socket within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
  /** A close handshake from this side; resolves once the socket has closed. */
  async close() {
    if (!this.#close) this.#ws.close(1e3);
    return this.whenClosed();
  }
  /** Drops the connection without a close handshake. */
  terminate() {
    this.#ws.terminate();
  }
};

// bench/peers/clients/stasis.ts
var BASE_PATH = "/stasis";
var COOKIE = "stasis_bid";
var TIMEOUT_MS2 = 15e3;
var resumeStasis = async (client2, blob) => {
  const answer = await client2.post(ROUTES.resume, { sid: client2.sid, blob });
  if (answer.body.outcome !== "ok") throw new Error(`stasis: resume answered ${answer.status} ${JSON.stringify(answer.body)}`);
  return client2.connect();
};
var resumeStasisLive = (client2, blob) => client2.connect(blob);
function stasisClients(base, resume = resumeStasis) {
  const agent = new Agent({ keepAlive: true });
  return {
    create: () => new StasisClient(base, agent, resume),
    close: () => agent.destroy()
  };
}
var StasisClient = class {
  constructor(base, agent, resumeWith) {
    this.base = base;
    this.agent = agent;
    this.resumeWith = resumeWith;
  }
  base;
  agent;
  resumeWith;
  sid = randomBytes4(16).toString("base64url");
  /** `stasis_bid=…`, from the first live upgrade (or an answer that set it). */
  cookie;
  #socket;
  #blob;
  async open(bytes2) {
    await this.connect();
    this.#socket.send({ type: "fill", bytes: bytes2 });
    const view = await this.#socket.nextView();
    if (view.bytes !== bytes2) throw new Error(`stasis: filled ${view.bytes} bytes, not ${bytes2}`);
  }
  async pause() {
    const answer = await this.post(ROUTES.hibernate, { sid: this.sid });
    if (answer.body.outcome !== "ok" || typeof answer.body.blob !== "string") {
      throw new Error(`stasis: hibernate answered ${answer.status} ${JSON.stringify(answer.body)}`);
    }
    this.#blob = answer.body.blob;
    const close = await this.#socket.whenClosed();
    if (close.code !== CLOSE_CODES.hibernated) throw new Error(`stasis: the live channel closed with ${close.code}, not ${CLOSE_CODES.hibernated}`);
    this.#socket = void 0;
  }
  resume() {
    const blob = this.#blob;
    this.#blob = void 0;
    return this.resumeWith(this, blob);
  }
  close() {
    this.#socket?.terminate();
    this.#socket = void 0;
  }
  /** Opens the live channel (resuming `blob` in its first message, if given) and resolves with the app's first message. */
  async connect(blob) {
    const resume = blob === void 0 ? "" : `&${LIVE_RESUME_PARAM}=1`;
    const url = `${this.base.replace(/^http/, "ws")}${BASE_PATH}${ROUTES.live}?sid=${this.sid}${resume}`;
    const socket = JsonSocket.open(url, { ...this.cookie ? { cookie: this.cookie } : {}, cookieName: COOKIE });
    this.#socket = socket;
    if (blob !== void 0) {
      socket.sendOnOpen(encodeResumeRequest({ type: LIVE_RESUME_MESSAGE, sid: this.sid, blob }));
      const answer = await socket.next();
      if (!isLiveResumeAnswer(answer) || answer.outcome !== "ok") throw new Error(`stasis: the live resume answered ${JSON.stringify(answer)}`);
    }
    const view = await socket.nextView();
    this.cookie ??= socket.setCookie;
    return view;
  }
  /** A JSON POST to `{base}/stasis{route}` with the binding cookie. */
  post(route, body) {
    const text2 = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.base}${BASE_PATH}${route}`,
        {
          method: "POST",
          agent: this.agent,
          timeout: TIMEOUT_MS2,
          headers: {
            "Content-Type": "application/json",
            "Content-Length": Buffer.byteLength(text2),
            ...this.cookie ? { Cookie: this.cookie } : {}
          }
        },
        (res) => {
          const chunks = [];
          res.on("data", (chunk) => chunks.push(chunk));
          res.on("end", () => {
            const set = (res.headers["set-cookie"] ?? []).find((c2) => c2.startsWith(`${COOKIE}=`));
            this.cookie ??= set?.split(";")[0];
            try {
              resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) });
            } catch (error) {
              reject(error instanceof Error ? error : new Error(String(error)));
            }
          });
          res.on("error", reject);
        }
      );
      req.on("timeout", () => req.destroy(new Error(`stasis: ${route} did not answer within ${TIMEOUT_MS2} ms`)));
      req.on("error", reject);
      req.end(text2);
    });
  }
};

// ../../tmp/prof/cycle.ts
var bytes = Number(process.argv[2] ?? 1e5);
var live = process.argv[3] === "live";
var server = await startStasisServer();
var clients = stasisClients(`http://127.0.0.1:${server.port}`, live ? resumeStasisLive : void 0);
var client = clients.create();
await client.open(bytes);
for (let i = 0; i < 50; i++) {
  await client.pause();
  await client.resume();
}
var t0 = process.cpuUsage();
var w0 = performance.now();
var N = 300;
for (let i = 0; i < N; i++) {
  await client.pause();
  await client.resume();
}
var c = process.cpuUsage(t0);
console.log(`${bytes} B ${live ? "live" : "http"}: ${((performance.now() - w0) / N).toFixed(2)} ms wall, ${((c.user + c.system) / 1e3 / N).toFixed(2)} ms CPU (client+server) per cycle`);
client.close();
clients.close();
await server.close();
