/**
 * What `npm pack` ships: the page bundles, the server build (ESM and CommonJS), the declarations, README,
 * LICENSE, CHANGELOG and docs; never tests, bench, demo, scripts, CI or stale chunks of earlier builds.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTarball, ROOT, tarballEntries } from './tarball.js';

const ALLOWED = [
  /^package\.json$/,
  /^README\.md$/,
  /^LICENSE$/,
  /^CHANGELOG\.md$/,
  /^docs\/[a-z-]+\.md$/,
  /^docs\/vectors\/([a-z]+\.json|README\.md)$/,
  /^dist\/stasis(\.js|\.mjs|-sw\.js|-fallback\.mjs|-live\.mjs|-banner\.css|-[a-z-]+-[A-Za-z0-9_-]{8}\.mjs)(\.map)?$/,
  /^dist\/worker\.mjs(\.map)?$/,
  /^dist\/(stasis|global)\.d\.ts$/,
  /^dist\/server\/(index|cli|ws|socket-io|fastify|redis|conformance|conformance-app)\.js$/,
  /^dist\/server\/chunks\/[a-z-]+-[A-Za-z0-9_-]{8}\.js$/,
  /^dist\/cjs\/server\/(index|ws|socket-io|fastify|redis)\.cjs$/,
  /^dist\/cjs\/chunks\/[a-z-]+-[A-Za-z0-9_-]{8}\.cjs$/,
  /^dist\/types(-cjs)?\/(src|server-stub|worker)\/[A-Za-z0-9/_-]+\.d\.ts$/,
  /^dist\/types-cjs\/package\.json$/,
];

let entries: { path: string; bytes: number }[] = [];
let tarball = '';

beforeAll(() => {
  tarball = ensureTarball();
  entries = tarballEntries(tarball);
}, 120_000);

describe('the npm tarball', () => {
  it('holds only allow-listed files', () => {
    const outside = entries.map((e) => e.path).filter((path) => !ALLOWED.some((pattern) => pattern.test(path)));
    expect(outside).toEqual([]);
  });

  it('holds every entry point the exports map names, and the LICENSE', () => {
    const paths = new Set(entries.map((e) => e.path));
    const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown>; bin: Record<string, string> };
    const targets: string[] = [];
    const collect = (value: unknown): void => {
      if (typeof value === 'string') targets.push(value);
      else if (value && typeof value === 'object') Object.values(value).forEach(collect);
    };
    collect(pkg.exports);
    collect(pkg.bin);
    const missing = targets.filter((t) => !t.includes('*')).map((t) => t.replace(/^\.\//, '')).filter((t) => !paths.has(t));
    expect(missing).toEqual([]);
    expect(paths.has('LICENSE')).toBe(true);
  });

  it('ships one page chunk per name (no stale chunks of earlier builds) and no test, bench or demo code', () => {
    const chunks = entries.map((e) => e.path).filter((p) => /^dist\/stasis-[a-z-]+-[A-Za-z0-9_-]{8}\.mjs$/.test(p));
    const names = chunks.map((p) => p.replace(/-[A-Za-z0-9_-]{8}\.mjs$/, ''));
    expect(new Set(names).size).toBe(names.length);
    expect(entries.filter((e) => /(^|\/)(test|bench|demo|scripts|\.ci|examples)\//.test(e.path))).toEqual([]);
  });

  it('stays small (size printed)', () => {
    const unpacked = entries.reduce((sum, e) => sum + e.bytes, 0);
    const packed = statSync(tarball).size;
    console.log(`[package] ${entries.length} files, ${(packed / 1024).toFixed(1)} kB packed, ${(unpacked / 1024).toFixed(1)} kB unpacked`);
    // Today ~543 kB and ~1.96 MB (the golden vectors in docs/vectors/ ~37 kB, stasis-conformance ~45 kB of it): a
    // budget that catches a folder slipping in, not a few bytes of growth.
    expect(packed).toBeLessThan(600 * 1024);
    expect(unpacked).toBeLessThan(2200 * 1024);
  });
});
