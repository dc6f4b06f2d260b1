/**
 * The Redis Cluster option: `redisCluster` / STASIS_REDIS_CLUSTER (seed node URLs) follows one rule in code and
 * in the environment, excludes `redisUrl`, turns the Redis store on by default, and the key prefix may not
 * hold the braces of a hash tag.
 */
import { describe, expect, it } from 'vitest';
import { resolveConfig, type ResolvedConfig } from '../../../server-stub/config.js';
import { StasisConfigError } from '../../../server-stub/errors.js';
import type { StasisApp } from '../../../server-stub/session/session.js';
import { configError } from './helpers.js';

const app: StasisApp = () => undefined;

function resolve(options: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): ResolvedConfig {
  return resolveConfig({ app, ...options }, env);
}

/** The config, or the refusal's code, option and env: the same for a value in code and as environment text. */
function verdict(fn: () => ResolvedConfig): unknown {
  try {
    return { ok: fn() };
  } catch (error) {
    if (!(error instanceof StasisConfigError)) throw error;
    return { code: error.code, option: error.option };
  }
}

const NODES = ['redis://10.0.0.1:7000', 'redis://10.0.0.2:7000', 'redis://10.0.0.3'];

describe('redisCluster', () => {
  it('takes seed node URLs in code or comma-separated in STASIS_REDIS_CLUSTER; the Redis store is on by default', () => {
    const config = resolve({ redisCluster: NODES });
    expect(config.redisCluster).toStrictEqual(NODES);
    expect(config.redisUrl).toBeUndefined();
    expect(config.stores).toStrictEqual(['memory', 'redis']);
    expect(resolve({}, { STASIS_REDIS_CLUSTER: ` ${NODES.join(' , ')} ,` }).redisCluster).toStrictEqual(NODES);
    expect(resolve({ redisCluster: ['rediss://user:pw@cache.internal:6380', 'rediss://user:pw@[::1]:6381/0'] }).redisCluster).toHaveLength(2);
    expect(resolve({ redisCluster: NODES, stores: ['redis'] }).stores).toStrictEqual(['redis']);
  });

  it('unset (or empty in the environment) leaves it out of the config', () => {
    expect('redisCluster' in resolve({})).toBe(false);
    expect('redisCluster' in resolve({}, { STASIS_REDIS_CLUSTER: '' })).toBe(false);
    expect(resolve({}, { STASIS_REDIS_CLUSTER: '' }).stores).toStrictEqual(['memory']);
  });

  it.each<[string, unknown]>([
    ['an empty list', []],
    ['a string, not a list', 'redis://10.0.0.1:7000'],
    ['a non-string node', [7000]],
    ['another scheme', ['http://10.0.0.1:7000']],
    ['no host', ['redis://']],
    ['not a URL', ['10.0.0.1:7000']],
    ['a database other than 0', ['redis://10.0.0.1:7000/1']],
    ['a query', ['redis://10.0.0.1:7000?db=1']],
    ['mixed schemes', ['redis://10.0.0.1:7000', 'rediss://10.0.0.2:7000']],
    ['mixed credentials', ['redis://:a@10.0.0.1:7000', 'redis://:b@10.0.0.2:7000']],
  ])('refuses %s, in code and in the environment alike', (_, value) => {
    const fromCode = configError(() => resolve({ redisCluster: value }));
    expect(fromCode).toMatchObject({ code: 'invalid-option', option: 'redisCluster', env: undefined });
    if (Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'string')) {
      const text = value.join(',');
      expect(verdict(() => resolve({}, { STASIS_REDIS_CLUSTER: text }))).toStrictEqual(verdict(() => resolve({ redisCluster: value })));
      expect(configError(() => resolve({}, { STASIS_REDIS_CLUSTER: text }))).toMatchObject({ env: 'STASIS_REDIS_CLUSTER' });
    }
  });

  it('never echoes a node URL (it may hold a password)', () => {
    const bad = configError(() => resolve({ redisCluster: ['http://user:hunter2@10.0.0.1:7000'] }));
    expect(bad.message).not.toContain('hunter2');
    expect(bad.message).toBe('redisCluster: node 1 must be a redis:// or rediss:// URL with a host, and no database but 0.');
    const mixed = configError(() => resolve({}, { STASIS_REDIS_CLUSTER: 'redis://:hunter2@a:1,redis://:hunter3@b:1' }));
    expect(mixed.message).not.toMatch(/hunter/);
    expect(mixed.message).toBe('redisCluster: every node must have the same scheme (redis:// or rediss://) and the same credentials (from STASIS_REDIS_CLUSTER).');
    expect(configError(() => resolve({ redisCluster: 'redis://:hunter2@a:1' })).message).toBe(
      'redisCluster must be a non-empty array of node URLs redis[s]://[user:password@]host[:port] (environment: comma-separated) (got a string of 20 characters)',
    );
  });

  it('is exclusive with redisUrl, wherever each comes from: invalid-option naming both', () => {
    const both = configError(() => resolve({ redisUrl: 'redis://10.0.0.9:6379', redisCluster: NODES }));
    expect(both).toMatchObject({ code: 'invalid-option', option: 'redisCluster', env: undefined });
    expect(both.message).toBe('redisUrl (in code) and redisCluster (in code) are both set: give one Redis server or one Redis Cluster.');
    const env = { STASIS_REDIS_URL: 'redis://10.0.0.9:6379', STASIS_REDIS_CLUSTER: NODES.join(',') };
    expect(configError(() => resolve({}, env))).toMatchObject({ code: 'invalid-option', option: 'redisCluster', env: 'STASIS_REDIS_CLUSTER' });
    expect(configError(() => resolve({}, env)).message).toContain('redisUrl (from STASIS_REDIS_URL) and redisCluster (from STASIS_REDIS_CLUSTER)');
    expect(configError(() => resolve({ redisCluster: NODES }, { STASIS_REDIS_URL: 'redis://10.0.0.9:6379' })).message).toContain(
      'redisUrl (from STASIS_REDIS_URL) and redisCluster (in code)',
    );
    expect(configError(() => resolve({ redisUrl: 'redis://10.0.0.9:6379' }, { STASIS_REDIS_CLUSTER: NODES.join(',') }))).toMatchObject({
      option: 'redisCluster',
      env: 'STASIS_REDIS_CLUSTER',
    });
  });

  it('the "redis" store needs one of them', () => {
    const missing = configError(() => resolve({ stores: ['redis'] }));
    expect(missing).toMatchObject({ code: 'missing-option', option: 'redisUrl', env: 'STASIS_REDIS_URL' });
    expect(missing.message).toContain('STASIS_REDIS_CLUSTER');
  });
});

describe('redisPrefix', () => {
  it('refuses "{" and "}" (they would make part of every key a Redis Cluster hash tag), in code and in the environment', () => {
    for (const bad of ['{app}:', 'app{', 'a}b']) {
      expect(configError(() => resolve({ redisPrefix: bad }))).toMatchObject({ code: 'invalid-option', option: 'redisPrefix' });
      expect(configError(() => resolve({}, { STASIS_REDIS_PREFIX: bad }))).toMatchObject({ code: 'invalid-option', option: 'redisPrefix', env: 'STASIS_REDIS_PREFIX' });
    }
    expect(configError(() => resolve({ redisPrefix: '{app}:' })).message).toBe('redisPrefix must be a non-empty string without "{" or "}" (got "{app}:")');
    expect(resolve({ redisPrefix: 'shop:v2:' }).redisPrefix).toBe('shop:v2:');
  });
});
