import type { StasisServerOptions } from './config.js';
import { StasisConfigError } from './errors.js';

/**
 * One rule per option, shared by the option given in code and its `STASIS_*` environment variable: the
 * environment text is first turned into the value code would give (a number, a boolean, a list), then both
 * go through the same check. Nothing is coerced: a string where a number belongs is refused.
 */
export interface Rule<T> {
  /** The environment variable that sets the option, if any. */
  readonly env?: string;
  /** What a valid value is, for messages ("an integer ≥ 1"). */
  readonly expect: string;
  /** Environment text → the value code would give. Default: the text itself. */
  readonly fromEnv?: (text: string) => unknown;
  /** Empty environment text is a value (an empty list), not "unset". */
  readonly emptyIsValue?: boolean;
  /** The value may hold a secret: messages never echo it. */
  readonly secret?: boolean;
  /** The value to use (possibly normalised), or why it is refused. */
  check(value: unknown): T | Refused;
}

/** A refused value; `detail` replaces the generic "must be …" message. */
export class Refused {
  constructor(readonly detail?: string) {}
}

type Options = StasisServerOptions<unknown>;
export type OptionValues = { [K in keyof Options]-?: Exclude<Options[K], undefined> };
type Rules = { readonly [K in keyof OptionValues]: Rule<OptionValues[K]> };

/** setTimeout's limit: a longer delay fires at once. */
const TIMER_MS = 2 ** 31 - 1;
const TIMER_SECONDS = Math.floor(TIMER_MS / 1000);

const isFunction = (value: unknown): value is (...args: never[]) => unknown => typeof value === 'function';
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const hasMethods = (value: unknown, ...names: string[]): boolean => isObject(value) && names.every((name) => isFunction(value[name]));
const list = (text: string): string[] => text.split(',').map((item) => item.trim()).filter(Boolean);
const when = <T>(ok: boolean, value: T): T | Refused => (ok ? value : new Refused());

/** Decimal text becomes a number; anything else ("NaN", "0x10", "ten") stays text and fails the number check. */
const decimal = (text: string): unknown => (/^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(text) ? Number(text) : text);

function int(env: string, max = Number.MAX_SAFE_INTEGER): Rule<number> {
  return {
    env,
    expect: max > 2 ** 32 ? 'an integer ≥ 1' : `an integer from 1 to ${max}`,
    fromEnv: decimal,
    check: (value) => when(typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 && value <= max, value as number),
  };
}

function text(env: string, { expect = 'a non-empty string', pattern = /./, secret = false } = {}): Rule<string> {
  return { env, expect, secret, check: (value) => when(typeof value === 'string' && pattern.test(value), value as string) };
}

function bool(env: string): Rule<boolean> {
  return {
    env,
    expect: 'a boolean (environment: 1, true, yes or 0, false, no)',
    fromEnv: (value) => (/^(1|true|yes)$/i.test(value) ? true : /^(0|false|no)$/i.test(value) ? false : value),
    check: (value) => when(typeof value === 'boolean', value as boolean),
  };
}

/** An array whose every item passes `item`; `undefined` from `item` drops that item. In the environment: a comma-separated list. */
function arrayOf<T>(env: string | undefined, expect: string, item: (value: unknown) => T | Refused | undefined): Rule<T[]> {
  return {
    ...(env ? { env, fromEnv: list, emptyIsValue: true } : {}),
    expect,
    check(value) {
      if (!Array.isArray(value)) return new Refused();
      const items: T[] = [];
      for (const entry of value as unknown[]) {
        const checked = item(entry);
        if (checked instanceof Refused) return checked;
        if (checked !== undefined) items.push(checked);
      }
      return items;
    },
  };
}

export const RULES: Rules = {
  app: { expect: 'a function (session) => handlers', check: (value) => when(isFunction(value), value as OptionValues['app']) },
  keys: {
    expect: 'a key ring spec "kid:secret,…" or a KeyRing',
    secret: true,
    check: (value) =>
      when((typeof value === 'string' && value !== '') || (isObject(value) && isObject(value.current) && isFunction(value.find)), value as OptionValues['keys']),
  },
  audience: text('STASIS_AUDIENCE'),
  schema: text('STASIS_SCHEMA'),
  ttlSeconds: int('STASIS_TTL_SECONDS'),
  maxBlobBytes: int('STASIS_MAX_BLOB_BYTES', Number.MAX_SAFE_INTEGER - 1024),
  warnBlobBytes: int('STASIS_WARN_BLOB_BYTES'),
  retentionSeconds: int('STASIS_RETENTION_SECONDS', TIMER_SECONDS),
  basePath: {
    env: 'STASIS_BASE_PATH',
    expect: 'a path starting with "/", without spaces, "?" or "#"',
    check(value) {
      const path = typeof value === 'string' ? value.replace(/\/+$/, '') : '';
      return when(/^\/[^\s?#]*$/.test(path), path);
    },
  },
  cookieName: text('STASIS_COOKIE', { expect: 'a cookie name of letters, digits, "_" and "-"', pattern: /^[A-Za-z0-9_-]+$/ }),
  // Blank entries are skipped, as in the comma-separated variable.
  allowedOrigins: arrayOf('STASIS_ALLOWED_ORIGINS', 'an array of origins scheme://host[:port]', (value) =>
    typeof value !== 'string' ? new Refused() : value.trim() ? origin(value.trim()) : undefined,
  ),
  trustProxy: bool('STASIS_TRUST_PROXY'),
  resumeFailuresPerMinute: int('STASIS_RESUME_FAILURES_PER_MINUTE'),
  maxSessionsPerBrowser: int('STASIS_MAX_SESSIONS_PER_BROWSER'),
  maxLiveSessions: int('STASIS_MAX_LIVE_SESSIONS'),
  maxSessionsPerAddress: int('STASIS_MAX_SESSIONS_PER_ADDRESS'),
  lookupPatienceSeconds: int('STASIS_LOOKUP_PATIENCE_SECONDS', TIMER_SECONDS),
  drainTimeoutMs: int('STASIS_DRAIN_TIMEOUT_MS', TIMER_MS),
  bodyTimeoutMs: int('STASIS_BODY_TIMEOUT_MS', TIMER_MS),
  assets: {
    expect: 'a directory path or false',
    check: (value) => when(value === false || (typeof value === 'string' && value !== ''), value as string | false),
  },
  idleSeconds: int('STASIS_IDLE_SECONDS'),
  metricsToken: text('STASIS_METRICS_TOKEN', { secret: true }),
  redisUrl: {
    env: 'STASIS_REDIS_URL',
    expect: 'a redis:// or rediss:// URL with a host',
    secret: true,
    check(value) {
      const url = typeof value === 'string' && URL.canParse(value) ? new URL(value) : undefined;
      return when(!!url && (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '', value as string);
    },
  },
  redisCluster: {
    env: 'STASIS_REDIS_CLUSTER',
    expect: 'a non-empty array of node URLs redis[s]://[user:password@]host[:port] (environment: comma-separated)',
    fromEnv: list,
    secret: true,
    check: clusterNodes,
  },
  // Braces would make part of the prefix a Redis Cluster hash tag and put every key in one slot.
  redisPrefix: text('STASIS_REDIS_PREFIX', { expect: 'a non-empty string without "{" or "}"', pattern: /^[^{}]+$/ }),
  stores: arrayOf('STASIS_STORES', 'an array of "memory", "redis" or SessionStore objects', (value) =>
    value === 'memory' || value === 'redis' || (hasMethods(value, 'put', 'take', 'peek', 'delete') && typeof (value as { name?: unknown }).name === 'string')
      ? (value as OptionValues['stores'][number])
      : new Refused(),
  ),
  memoryStoreMaxEntries: int('STASIS_MEMORY_STORE_MAX_ENTRIES'),
  memoryStoreMaxBytes: int('STASIS_MEMORY_STORE_MAX_BYTES'),
  storeTimeoutMs: int('STASIS_STORE_TIMEOUT_MS', TIMER_MS),
  breakerFailures: int('STASIS_BREAKER_FAILURES'),
  breakerOpenSeconds: int('STASIS_BREAKER_OPEN_SECONDS'),
  handoverTimeoutMs: int('STASIS_HANDOVER_TIMEOUT_MS', TIMER_MS),
  checkpointSeconds: int('STASIS_CHECKPOINT_SECONDS', TIMER_SECONDS),
  bailoutFraction: {
    env: 'STASIS_BAILOUT_FRACTION',
    expect: 'a number > 0 and ≤ 1',
    fromEnv: decimal,
    check: (value) => when(typeof value === 'number' && value > 0 && value <= 1, value as number),
  },
  bailoutMinResumes: int('STASIS_BAILOUT_MIN_RESUMES'),
  bailoutWindowSeconds: int('STASIS_BAILOUT_WINDOW_SECONDS'),
  codecs: arrayOf(undefined, 'an array of codecs { name, encode, decode }', (value) =>
    hasMethods(value, 'encode', 'decode') && typeof (value as { name?: unknown }).name === 'string'
      ? (value as OptionValues['codecs'][number])
      : new Refused(),
  ),
  ledger: { expect: 'a Ledger { consume, release, fresh }', check: (value) => when(hasMethods(value, 'consume', 'release', 'fresh'), value as OptionValues['ledger']) },
  logger: {
    expect: 'a Logger { info, warn, error, debug? }',
    check: (value) =>
      when(hasMethods(value, 'info', 'warn', 'error') && ['undefined', 'function'].includes(typeof (value as { debug?: unknown }).debug), value as OptionValues['logger']),
  },
  now: { expect: 'a function returning ms since the epoch', check: (value) => when(isFunction(value), value as () => number) },
};

/**
 * Every option, checked once: the value given in code, else its environment variable (empty text is unset,
 * except for lists), else undefined (the caller's default). Unknown keys in code are refused.
 */
export function readOptions(options: Options, env: NodeJS.ProcessEnv): Partial<OptionValues> {
  if (!isObject(options)) throw new StasisConfigError(`The server options must be an object (got ${show(options)}).`);
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(RULES, key)) {
      const near = closest(key);
      throw new StasisConfigError(`Unknown option "${key}"${near ? ` (did you mean "${near}"?)` : ''}.`, { code: 'unknown-option', option: key });
    }
  }
  const values: Partial<Record<keyof OptionValues, unknown>> = {};
  const fromEnv = new Set<keyof OptionValues>();
  for (const name of Object.keys(RULES) as Array<keyof OptionValues>) {
    const rule: Rule<unknown> = RULES[name];
    const given = options[name];
    const raw = rule.env === undefined ? undefined : env[rule.env];
    const source = given !== undefined ? 'code' : raw !== undefined && (raw !== '' || rule.emptyIsValue) ? 'env' : undefined;
    if (!source) continue;
    const value = source === 'code' ? given : rule.fromEnv ? rule.fromEnv(raw!) : raw;
    const checked = rule.check(value);
    if (checked instanceof Refused) throw refusal(name, rule, source === 'code' ? show(given, rule.secret) : show(raw, rule.secret), source === 'env', checked.detail);
    values[name] = checked;
    if (source === 'env') fromEnv.add(name);
  }
  // One Redis or one Redis Cluster: both set (even one in code, one in the environment) is a mistake to fix.
  if (values.redisUrl !== undefined && values.redisCluster !== undefined) {
    const where = (name: 'redisUrl' | 'redisCluster') => (fromEnv.has(name) ? `from ${RULES[name].env}` : 'in code');
    throw new StasisConfigError(
      `redisUrl (${where('redisUrl')}) and redisCluster (${where('redisCluster')}) are both set: give one Redis server or one Redis Cluster.`,
      { code: 'invalid-option', option: 'redisCluster', ...(fromEnv.has('redisCluster') ? { env: RULES.redisCluster.env } : {}) },
    );
  }
  return values as Partial<OptionValues>;
}

function refusal(option: string, rule: Rule<unknown>, shown: string, fromEnv: boolean, detail?: string): StasisConfigError {
  const env = fromEnv ? rule.env : undefined;
  const message = detail
    ? `${option}: ${detail}${env ? ` (from ${env})` : ''}.`
    : `${option} must be ${rule.expect} (got ${shown}${env ? ` from ${env}` : ''})`;
  return new StasisConfigError(message, { code: 'invalid-option', option, ...(env ? { env } : {}) });
}

/** A value as a message shows it; secrets only by their kind. */
function show(value: unknown, secret = false): string {
  if (typeof value === 'string') return secret ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) {
    const items = `[${value.map((item) => show(item, secret)).join(', ')}]`;
    return items.length > 80 ? `an array of ${value.length}` : items;
  }
  return isObject(value) ? 'an object' : String(value);
}

/** The known option nearest to a misspelt one, when it is near enough to be the likely intent. */
function closest(key: string): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of Object.keys(RULES)) {
    const d = distance(key.toLowerCase(), name.toLowerCase());
    if (!best || d < best.distance) best = { name, distance: d };
  }
  return best && best.distance <= Math.max(2, Math.floor(key.length / 3)) ? best.name : undefined;
}

function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/**
 * Seed nodes of a Redis Cluster: redis:// or rediss:// URLs with a host, no database (a cluster has only 0),
 * all with the same scheme and credentials (one set is used for every node the cluster names).
 */
function clusterNodes(value: unknown): string[] | Refused {
  if (!Array.isArray(value) || value.length === 0) return new Refused();
  const urls: URL[] = [];
  for (const [i, item] of (value as unknown[]).entries()) {
    const url = typeof item === 'string' && URL.canParse(item) ? new URL(item) : undefined;
    const plain =
      url &&
      (url.protocol === 'redis:' || url.protocol === 'rediss:') &&
      url.hostname !== '' &&
      ['', '/', '/0'].includes(url.pathname) &&
      !url.search &&
      !url.hash;
    if (!plain) return new Refused(`node ${i + 1} must be a redis:// or rediss:// URL with a host, and no database but 0`);
    urls.push(url);
  }
  const [first] = urls;
  if (urls.some((url) => url.protocol !== first!.protocol || url.username !== first!.username || url.password !== first!.password)) {
    return new Refused('every node must have the same scheme (redis:// or rediss://) and the same credentials');
  }
  return [...(value as string[])];
}

/** An allowed origin, normalised as browsers send it (`https://app.example:8443`); anything else is refused. */
function origin(value: string): string | Refused {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  const plain =
    url &&
    (url.protocol === 'https:' || url.protocol === 'http:') &&
    url.pathname === '/' &&
    !url.search &&
    !url.hash &&
    !url.username &&
    !url.password &&
    !/^[a-z]+:\/\/[^/]*\/./i.test(value) &&
    !/[?#]/.test(value);
  return plain ? url.origin : new Refused(`"${value}" must be scheme://host[:port], no path, query or credentials`);
}
