/** The one script tag stays small: dist/stasis.js at most 8 KiB min+gzip (README's promise; types cost nothing). */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect, it } from 'vitest';
import { ROOT } from './tarball.js';

export const PAGE_BUNDLE_BUDGET_BYTES = 8192;

it(`dist/stasis.js is at most ${PAGE_BUNDLE_BUDGET_BYTES} bytes min+gzip (size printed)`, () => {
  const bytes = gzipSync(readFileSync(resolve(ROOT, 'dist/stasis.js')), { level: 9 }).length;
  console.log(`[package] dist/stasis.js: ${bytes} B min+gzip (budget ${PAGE_BUNDLE_BUDGET_BYTES})`);
  expect(bytes).toBeLessThanOrEqual(PAGE_BUNDLE_BUDGET_BYTES);
});
