/**
 * Options are validated once, in resolveConfig (which createStasisServer calls): a value given in code follows
 * the same rule as its STASIS_* environment variable, wrong types are refused rather than coerced, unknown
 * keys are refused, and every refusal is a StasisConfigError with a stable code and the option's name.
 */
import { describe, expect, it } from 'vitest';
import { RULES } from '../../../server-stub/config-rules.js';
import { resolveConfig, type ResolvedConfig, type StasisServerOptions } from '../../../server-stub/config.js';
import { StasisConfigError } from '../../../server-stub/errors.js';
import { createStasisServer, generateKeySpec, jsonCodec, MemoryLedger, MemoryStore, parseKeyRing, silentLogger } from '../../../server-stub/index.js';
import type { StasisApp } from '../../../server-stub/session/session.js';
import { configError } from './helpers.js';

const app: StasisApp = () => undefined;

/** Runs resolveConfig with a clean environment (no NODE_ENV, no STASIS_*) unless one is given. */
function resolve(options: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): ResolvedConfig {
  return resolveConfig({ app, ...options }, env);
}

/** The verdict of one resolveConfig call: the config, or the refusal's code and option. */
function verdict(fn: () => ResolvedConfig): { ok: ResolvedConfig } | { code: string; option: string | undefined } {
  try {
    return { ok: fn() };
  } catch (error) {
    if (!(error instanceof StasisConfigError)) throw error;
    return { code: error.code, option: error.option };
  }
}

const INTEGER_OPTIONS = [
  'ttlSeconds',
  'maxBlobBytes',
  'warnBlobBytes',
  'retentionSeconds',
  'resumeFailuresPerMinute',
  'maxSessionsPerBrowser',
  'maxLiveSessions',
  'maxSessionsPerAddress',
  'lookupPatienceSeconds',
  'drainTimeoutMs',
  'bodyTimeoutMs',
  'idleSeconds',
  'memoryStoreMaxEntries',
  'memoryStoreMaxBytes',
  'storeTimeoutMs',
  'breakerFailures',
  'breakerOpenSeconds',
  'handoverTimeoutMs',
  'checkpointSeconds',
  'bailoutMinResumes',
  'bailoutWindowSeconds',
] as const;

describe('numeric options', () => {
  it.each(INTEGER_OPTIONS)('%s refuses negatives, zero, NaN, ±Infinity, fractions, strings, null and booleans', (option) => {
    for (const bad of [-10, 0, -0.5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, '10', '', null, true, 10n, [10], {}]) {
      const error = configError(() => resolve({ [option]: bad }));
      expect(error.code).toBe('invalid-option');
      expect(error.option).toBe(option);
      expect(error.env).toBeUndefined();
      expect(error.message).toMatch(new RegExp(`^${option} must be an integer (≥ 1|from 1 to \\d+) \\(got .+\\)$`));
    }
    expect(() => resolve({ [option]: 1 })).not.toThrow();
    expect(() => resolve({ [option]: 60 })).not.toThrow();
  });

  it('the message names the option, what was expected and what was given', () => {
    expect(configError(() => resolve({ ttlSeconds: -10 })).message).toBe('ttlSeconds must be an integer ≥ 1 (got -10)');
    expect(configError(() => resolve({ retentionSeconds: Number.NaN })).message).toBe('retentionSeconds must be an integer from 1 to 2147483 (got NaN)');
    expect(configError(() => resolve({ maxBlobBytes: 'big' })).message).toBe('maxBlobBytes must be an integer ≥ 1 (got "big")');
    expect(configError(() => resolve({ warnBlobBytes: '1024' })).message).toBe('warnBlobBytes must be an integer ≥ 1 (got "1024")');
  });

  it('from the environment, the message also names the variable and the error carries it', () => {
    const error = configError(() => resolve({}, { STASIS_TTL_SECONDS: '-10' }));
    expect(error).toMatchObject({ name: 'StasisConfigError', code: 'invalid-option', option: 'ttlSeconds', env: 'STASIS_TTL_SECONDS' });
    expect(error.message).toBe('ttlSeconds must be an integer ≥ 1 (got "-10" from STASIS_TTL_SECONDS)');
    expect(configError(() => resolve({}, { STASIS_MAX_BLOB_BYTES: 'big' })).env).toBe('STASIS_MAX_BLOB_BYTES');
  });

  it('timer options stop at what setTimeout can wait (2^31-1 ms)', () => {
    expect(resolve({ drainTimeoutMs: 2 ** 31 - 1 }).drainTimeoutMs).toBe(2 ** 31 - 1);
    for (const option of ['drainTimeoutMs', 'bodyTimeoutMs', 'storeTimeoutMs', 'handoverTimeoutMs']) {
      expect(configError(() => resolve({ [option]: 2 ** 31 })).option).toBe(option);
    }
    for (const option of ['retentionSeconds', 'checkpointSeconds']) {
      expect(resolve({ [option]: 2_147_483 })).toBeDefined();
      expect(configError(() => resolve({ [option]: 2_147_484 })).option).toBe(option);
    }
  });

  it('bailoutFraction is a number in (0, 1]', () => {
    for (const bad of [0, -0.1, 1.01, Number.NaN, Number.POSITIVE_INFINITY, '0.5', null, true]) {
      const error = configError(() => resolve({ bailoutFraction: bad }));
      expect(error).toMatchObject({ code: 'invalid-option', option: 'bailoutFraction' });
      expect(error.message).toMatch(/^bailoutFraction must be a number > 0 and ≤ 1 \(got .+\)$/);
    }
    expect(resolve({ bailoutFraction: 0.25 }).bailout.fraction).toBe(0.25);
    expect(resolve({ bailoutFraction: 1 }).bailout.fraction).toBe(1);
  });

  it('the body limit stays a number (maxBlobBytes + 1024)', () => {
    expect(resolve({ maxBlobBytes: 1000 }).maxBodyBytes).toBe(2024);
    expect(resolve({}, { STASIS_MAX_BLOB_BYTES: '1000' }).maxBodyBytes).toBe(2024);
  });
});

describe('booleans', () => {
  it('trustProxy refuses strings, numbers and null in code', () => {
    for (const bad of ['true', 'false', 'yes', '1', 1, 0, null, {}]) {
      const error = configError(() => resolve({ trustProxy: bad }));
      expect(error).toMatchObject({ code: 'invalid-option', option: 'trustProxy' });
      expect(error.message).toContain('must be a boolean');
    }
    expect(resolve({ trustProxy: true }).trustProxy).toBe(true);
    expect(resolve({ trustProxy: false }, { STASIS_TRUST_PROXY: '1' }).trustProxy).toBe(false); // the option wins
  });

  it('STASIS_TRUST_PROXY reads 1/true/yes and 0/false/no, and refuses anything else', () => {
    for (const on of ['1', 'true', 'TRUE', 'yes']) expect(resolve({}, { STASIS_TRUST_PROXY: on }).trustProxy).toBe(true);
    for (const off of ['0', 'false', 'No']) expect(resolve({}, { STASIS_TRUST_PROXY: off }).trustProxy).toBe(false);
    expect(resolve({}, { STASIS_TRUST_PROXY: '' }).trustProxy).toBe(false);
    expect(configError(() => resolve({}, { STASIS_TRUST_PROXY: 'banana' }))).toMatchObject({ option: 'trustProxy', env: 'STASIS_TRUST_PROXY' });
  });
});

describe('allowedOrigins', () => {
  it('refuses non-arrays and non-string entries', () => {
    for (const bad of ['https://a.example', { 0: 'https://a.example' }, 42, null, true, [42], [null], ['https://a.example', {}]]) {
      const error = configError(() => resolve({ allowedOrigins: bad }));
      expect(error).toMatchObject({ code: 'invalid-option', option: 'allowedOrigins' });
      expect(error.message).toMatch(/^allowedOrigins must be an array of origins scheme:\/\/host\[:port\] \(got .+\)$/);
    }
  });

  it('refuses origins with a path, query, fragment, credentials or another scheme, naming the entry', () => {
    for (const bad of ['https://a.example/path', 'a.example', 'ftp://a.example', 'https://a.example?x', 'https://a.example#x', 'https://u:p@a.example']) {
      const error = configError(() => resolve({ allowedOrigins: ['https://ok.example', bad] }));
      expect(error).toMatchObject({ code: 'invalid-option', option: 'allowedOrigins' });
      expect(error.message).toBe(`allowedOrigins: "${bad}" must be scheme://host[:port], no path, query or credentials.`);
      expect(configError(() => resolve({}, { STASIS_ALLOWED_ORIGINS: bad })).message).toBe(
        `allowedOrigins: "${bad}" must be scheme://host[:port], no path, query or credentials (from STASIS_ALLOWED_ORIGINS).`,
      );
    }
  });

  it('normalises origins as browsers send them and skips blank entries, in code as in the variable', () => {
    const expected = ['https://a.example', 'http://b.example:8080'];
    expect(resolve({ allowedOrigins: [' https://A.example/', '', 'http://b.example:8080'] }).allowedOrigins).toStrictEqual(expected);
    expect(resolve({}, { STASIS_ALLOWED_ORIGINS: ' https://A.example/ ,, http://b.example:8080' }).allowedOrigins).toStrictEqual(expected);
    expect(resolve({ allowedOrigins: [] }).allowedOrigins).toStrictEqual([]);
  });
});

describe('strings, paths and URLs', () => {
  it.each(['audience', 'schema', 'redisPrefix', 'metricsToken', 'cookieName', 'basePath', 'redisUrl'])('%s refuses non-strings and ""', (option) => {
    for (const bad of ['', 5, null, true, ['x'], {}]) expect(configError(() => resolve({ [option]: bad }))).toMatchObject({ code: 'invalid-option', option });
  });

  it('cookieName is a token; basePath a path; redisUrl a redis:// URL with a host', () => {
    for (const bad of ['a b', 'a;b', 'a=b']) expect(configError(() => resolve({ cookieName: bad })).option).toBe('cookieName');
    for (const bad of ['stasis', '/', '///', '/a b', '/a?b', '/a#b']) expect(configError(() => resolve({ basePath: bad })).option).toBe('basePath');
    for (const bad of ['http://h:6379', 'redis://', 'redis:h', 'not a url']) expect(configError(() => resolve({ redisUrl: bad })).option).toBe('redisUrl');
    expect(resolve({ basePath: '/api/stasis//' }).basePath).toBe('/api/stasis');
    expect(resolve({ cookieName: 'my_bid-2' }).cookieName).toBe('my_bid-2');
    expect(resolve({ redisUrl: 'rediss://:pw@cache.internal:6380/2' }).redisUrl).toBe('rediss://:pw@cache.internal:6380/2');
  });

  it('secrets are never echoed in messages', () => {
    const url = configError(() => resolve({ redisUrl: 'http://user:hunter2@cache:6379' }));
    expect(url.message).not.toContain('hunter2');
    expect(url.message).toBe('redisUrl must be a redis:// or rediss:// URL with a host (got a string of 30 characters)');
    expect(configError(() => resolve({}, { STASIS_REDIS_URL: 'tcp://:hunter2@cache' })).message).not.toContain('hunter2');
    expect(configError(() => resolve({ keys: 42 })).message).toBe('keys must be a key ring spec "kid:secret,…" or a KeyRing (got 42)');
  });
});

describe('objects and functions', () => {
  const store = new MemoryStore();
  it.each<[string, unknown[], unknown]>([
    ['app', [{}, 'app', null, 1], () => undefined],
    ['now', [Date.now(), 'now', null, {}], () => 0],
    ['keys', ['', 42, {}, { current: {} }, null, ['k:x']], generateKeySpec('k')],
    ['assets', [true, '', 0, null, {}], false],
    ['logger', [{}, console.log, { info() {}, warn() {} }, { ...silentLogger, debug: 'yes' }, null], silentLogger],
    ['ledger', [{}, { consume() {}, release() {} }, () => undefined, null], new MemoryLedger()],
    ['codecs', [jsonCodec, {}, [{ name: 'x', encode() {} }], [{ encode() {}, decode() {} }], null], [jsonCodec]],
    ['stores', ['memory', 'memory,redis', ['disk'], [{}], [{ name: 'x', put() {} }], null], ['memory', store]],
  ])('%s is type-checked', (option, bads, good) => {
    for (const bad of bads) {
      const error = configError(() => resolve({ [option]: bad }));
      expect(error).toMatchObject({ code: 'invalid-option', option });
      expect(error.message).toMatch(new RegExp(`^${option} must be .+ \\(got .+\\)$`));
    }
    expect(() => resolve({ [option]: good })).not.toThrow();
  });

  it('a parsed KeyRing is accepted as keys', async () => {
    expect(() => resolve({ keys: 0 })).toThrow(StasisConfigError);
    const ring = await parseKeyRing(generateKeySpec('k'));
    expect(() => resolve({ keys: ring })).not.toThrow();
  });
});

describe('unknown keys', () => {
  it('a typo is refused with unknown-option, naming the closest known option', () => {
    const error = configError(() => resolve({ ttlSecond: 60 }));
    expect(error).toMatchObject({ name: 'StasisConfigError', code: 'unknown-option', option: 'ttlSecond' });
    expect(error.message).toBe('Unknown option "ttlSecond" (did you mean "ttlSeconds"?).');
    expect(configError(() => resolve({ TrustProxy: true })).message).toContain('did you mean "trustProxy"?');
    expect(configError(() => resolve({ alowedOrigin: [] })).message).toContain('did you mean "allowedOrigins"?');
  });

  it('a key near no option gets no suggestion; inherited names are not options', () => {
    expect(configError(() => resolve({ port: 8080 })).message).toBe('Unknown option "port".');
    expect(configError(() => resolve({ toString: () => 'x' })).code).toBe('unknown-option');
    expect(configError(() => resolve({ retentionMs: 1000 })).code).toBe('unknown-option');
  });

  it('known keys set to undefined fall back to the variable, then the default', () => {
    expect(resolve({ ttlSeconds: undefined, logger: undefined }, { STASIS_TTL_SECONDS: '60' }).ttlSeconds).toBe(60);
    expect(resolve({ ttlSeconds: undefined }).ttlSeconds).toBe(7 * 24 * 3600);
  });

  it('options that are not an object are refused', () => {
    for (const bad of [null, 'ttlSeconds=60', [], 42]) {
      expect(configError(() => resolveConfig(bad as never, {})).code).toBe('invalid-option');
    }
  });
});

/**
 * For every rule with an environment variable: the same value as environment text and as a code value, valid
 * and invalid. Both must give the same verdict (the same config, or the same code and option).
 */
const PARITY: Record<string, Array<[env: string, code: unknown]>> = {
  audience: [['shop', 'shop']],
  schema: [['v2', 'v2']],
  ttlSeconds: [['60', 60], ['-10', -10], ['0', 0], ['1.5', 1.5], ['NaN', Number.NaN], ['Infinity', Number.POSITIVE_INFINITY], ['9007199254740993', 2 ** 53 + 2]],
  maxBlobBytes: [['1000', 1000], ['0', 0], ['-1', -1], ['2.5', 2.5]],
  warnBlobBytes: [['1000', 1000], ['-5', -5]],
  retentionSeconds: [['1', 1], ['2147483', 2_147_483], ['2147484', 2_147_484], ['NaN', Number.NaN]],
  basePath: [['/app/stasis/', '/app/stasis/'], ['stasis', 'stasis'], ['/', '/'], ['/a b', '/a b']],
  cookieName: [['bid', 'bid'], ['a b', 'a b']],
  allowedOrigins: [
    ['https://a.example,http://b.example:8080', ['https://a.example', 'http://b.example:8080']],
    ['https://a.example/x', ['https://a.example/x']],
    ['ftp://a.example', ['ftp://a.example']],
  ],
  trustProxy: [['true', true], ['1', true], ['yes', true], ['0', false], ['false', false], ['banana', 'banana'], ['on', 'on']],
  resumeFailuresPerMinute: [['5', 5], ['0', 0]],
  maxSessionsPerBrowser: [['3', 3], ['-3', -3]],
  maxLiveSessions: [['1000', 1000], ['0', 0]],
  maxSessionsPerAddress: [['16', 16], ['1.5', 1.5]],
  lookupPatienceSeconds: [['30', 30], ['-1', -1]],
  drainTimeoutMs: [['3000', 3000], ['2147483648', 2 ** 31], ['1.5', 1.5]],
  bodyTimeoutMs: [['300', 300], ['0', 0]],
  idleSeconds: [['2', 2], ['0', 0], ['-1', -1]],
  metricsToken: [['t0ken', 't0ken']],
  redisUrl: [['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'], ['http://127.0.0.1', 'http://127.0.0.1'], ['redis://', 'redis://']],
  redisCluster: [
    ['redis://10.0.0.1:7000, redis://10.0.0.2:7000', ['redis://10.0.0.1:7000', 'redis://10.0.0.2:7000']],
    ['http://10.0.0.1:7000', ['http://10.0.0.1:7000']],
    ['redis://10.0.0.1:7000/1', ['redis://10.0.0.1:7000/1']],
  ],
  redisPrefix: [['app:', 'app:'], ['{app}:', '{app}:']],
  stores: [['memory', ['memory']], ['', []], ['memory,disk', ['memory', 'disk']], ['redis', ['redis']]],
  memoryStoreMaxEntries: [['10', 10], ['0', 0]],
  memoryStoreMaxBytes: [['1048576', 1_048_576], ['1e3', 1000], ['-1', -1]],
  storeTimeoutMs: [['300', 300], ['0', 0]],
  breakerFailures: [['2', 2], ['2.5', 2.5]],
  breakerOpenSeconds: [['1', 1], ['-1', -1]],
  handoverTimeoutMs: [['1000', 1000], ['2147483648', 2 ** 31]],
  checkpointSeconds: [['1', 1], ['0', 0]],
  bailoutFraction: [['0.5', 0.5], ['1', 1], ['0', 0], ['1.5', 1.5], ['NaN', Number.NaN]],
  bailoutMinResumes: [['4', 4], ['0', 0]],
  bailoutWindowSeconds: [['60', 60], ['-60', -60]],
};

describe('an environment value and the same value in code give the same verdict', () => {
  const withEnv = Object.entries(RULES).filter(([, rule]) => rule.env);

  it('the table covers every rule that has an environment variable', () => {
    expect(Object.keys(PARITY).sort()).toStrictEqual(withEnv.map(([name]) => name).sort());
  });

  it.each(withEnv)('%s', (option, rule) => {
    const cases = PARITY[option]!;
    let refused = 0;
    for (const [text, value] of cases) {
      const fromEnv = verdict(() => resolve({}, { [rule.env!]: text }));
      const fromCode = verdict(() => resolve({ [option]: value }));
      expect(fromEnv, `${rule.env}=${JSON.stringify(text)} vs ${option}: ${String(value)}`).toStrictEqual(fromCode);
      if ('code' in fromCode) refused++;
    }
    // Every rule whose values can be wrong in the environment has at least one refused case above.
    if (!['audience', 'schema', 'metricsToken'].includes(option)) expect(refused).toBeGreaterThan(0);
  });

  it('empty environment text is unset, except for lists (STASIS_STORES= means no store)', () => {
    const env = Object.fromEntries(withEnv.map(([, rule]) => [rule.env!, '']));
    const config = resolve({}, env);
    expect(config).toStrictEqual({ ...resolve({}), stores: [] });
  });
});

describe('the error', () => {
  it('extends Error, is named StasisConfigError, and carries code, option and env', () => {
    const error = configError(() => resolve({ storeTimeoutMs: -1 }));
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('StasisConfigError');
    expect({ code: error.code, option: error.option, env: error.env }).toStrictEqual({ code: 'invalid-option', option: 'storeTimeoutMs', env: undefined });
  });

  it('a setting another one needs is missing-option', () => {
    expect(configError(() => resolve({ stores: ['redis'] }))).toMatchObject({ code: 'missing-option', option: 'redisUrl', env: 'STASIS_REDIS_URL' });
    const production = configError(() => resolve({}, { NODE_ENV: 'production' }));
    expect(production).toMatchObject({ code: 'missing-option', option: 'metricsToken', env: 'STASIS_METRICS_TOKEN' });
    expect(production.message).toMatch(/STASIS_METRICS_TOKEN/);
  });

  it('other throw sites keep working with the default code', () => {
    const error = new StasisConfigError('persist("x") twice');
    expect({ name: error.name, code: error.code, option: error.option, message: error.message }).toStrictEqual({
      name: 'StasisConfigError',
      code: 'invalid-option',
      option: undefined,
      message: 'persist("x") twice',
    });
  });
});

describe('a valid full options object', () => {
  it('passes, every option given, and resolves to what was given', async () => {
    const now = () => 1_700_000_000_000;
    const store = new MemoryStore();
    // Every option but redisCluster, which excludes redisUrl (config-cluster.test.ts).
    const full: Omit<Required<StasisServerOptions>, 'redisCluster'> = {
      app,
      keys: await parseKeyRing(generateKeySpec('full')),
      audience: 'shop',
      schema: 'v3',
      ttlSeconds: 3600,
      maxBlobBytes: 2048,
      warnBlobBytes: 1024,
      retentionSeconds: 30,
      basePath: '/api/stasis/',
      cookieName: 'shop_bid',
      allowedOrigins: ['https://admin.shop.example'],
      trustProxy: true,
      resumeFailuresPerMinute: 10,
      maxSessionsPerBrowser: 4,
      maxLiveSessions: 1000,
      maxSessionsPerAddress: 16,
      lookupPatienceSeconds: 5,
      drainTimeoutMs: 5000,
      bodyTimeoutMs: 2000,
      assets: false,
      idleSeconds: 600,
      metricsToken: 'token',
      redisUrl: 'redis://127.0.0.1:6379/1',
      redisPrefix: 'shop:',
      stores: ['memory', 'redis', store],
      memoryStoreMaxEntries: 100,
      memoryStoreMaxBytes: 1 << 20,
      storeTimeoutMs: 250,
      breakerFailures: 3,
      breakerOpenSeconds: 5,
      handoverTimeoutMs: 1500,
      checkpointSeconds: 30,
      bailoutFraction: 0.75,
      bailoutMinResumes: 10,
      bailoutWindowSeconds: 120,
      codecs: [jsonCodec],
      ledger: new MemoryLedger(now),
      logger: silentLogger,
      now,
    };
    expect(Object.keys(full).sort()).toStrictEqual(Object.keys(RULES).filter((name) => name !== 'redisCluster').sort());
    expect(resolveConfig(full, { NODE_ENV: 'production' })).toStrictEqual({
      audience: 'shop',
      schema: 'v3',
      ttlSeconds: 3600,
      maxBlobBytes: 2048,
      warnBlobBytes: 1024,
      maxBodyBytes: 3072,
      bodyTimeoutMs: 2000,
      retentionMs: 30_000,
      basePath: '/api/stasis',
      cookieName: 'shop_bid',
      allowedOrigins: ['https://admin.shop.example'],
      trustProxy: true,
      resumeFailuresPerMinute: 10,
      maxSessionsPerBrowser: 4,
      maxLiveSessions: 1000,
      maxSessionsPerAddress: 16,
      lookupPatienceMs: 5000,
      drainTimeoutMs: 5000,
      idleMs: 600_000,
      metricsToken: 'token',
      redisUrl: 'redis://127.0.0.1:6379/1',
      redisPrefix: 'shop:',
      stores: ['memory', 'redis', store],
      memoryStore: { maxEntries: 100, maxBytes: 1 << 20 },
      storeTimeoutMs: 250,
      breaker: { failureThreshold: 3, openMs: 5000, timeoutMs: 250 },
      handoverTimeoutMs: 1500,
      checkpointMs: 30_000,
      bailout: { fraction: 0.75, minResumes: 10, windowMs: 120_000 },
    });
  });
});

describe('createStasisServer', () => {
  it('refuses a bad or unknown option before starting anything', async () => {
    const keys = generateKeySpec('c');
    await expect(createStasisServer({ app, keys, logger: silentLogger, maxBlobBytes: 'big' as never })).rejects.toMatchObject({
      name: 'StasisConfigError',
      code: 'invalid-option',
      option: 'maxBlobBytes',
    });
    await expect(createStasisServer({ app, keys, logger: silentLogger, ttlSecond: 60 } as never)).rejects.toMatchObject({
      code: 'unknown-option',
      option: 'ttlSecond',
    });
  });
});
