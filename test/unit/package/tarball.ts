/**
 * The npm tarball, as users get it. `npm test` packs it before the unit tests (scripts/examples.sh); a run of
 * these tests alone packs it here when it is missing or older than the build.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../../..');
const PACK_DIR = resolve(ROOT, '.stasis-tmp/pack');
export const TARBALL = resolve(PACK_DIR, 'stasis.tgz');

export function ensureTarball(): string {
  const built = resolve(ROOT, 'dist/stasis.js');
  if (!existsSync(built)) throw new Error('dist/ is missing: run `npm run build` (npm test does) before these tests.');
  const fresh = existsSync(TARBALL) && statSync(TARBALL).mtimeMs >= statSync(built).mtimeMs && statSync(TARBALL).mtimeMs >= statSync(resolve(ROOT, 'package.json')).mtimeMs;
  if (fresh) return TARBALL;
  mkdirSync(PACK_DIR, { recursive: true });
  const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', PACK_DIR], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop()!;
  renameSync(resolve(PACK_DIR, name), TARBALL);
  return TARBALL;
}

/** Paths inside the tarball (without the leading `package/`) and their sizes. */
export function tarballEntries(tarball: string): { path: string; bytes: number }[] {
  const listing = execFileSync('tar', ['-tvzf', tarball], { encoding: 'utf8' });
  return listing
    .trim()
    .split('\n')
    .map((line) => {
      const fields = line.trim().split(/\s+/);
      return { path: fields[fields.length - 1]!.replace(/^package\//, ''), bytes: Number(fields[2]) };
    });
}
