import { defineConfig } from '@playwright/test';

// The e2e suite starts its own server processes and Chromium (see test/e2e/support); nothing else runs first.
export default defineConfig({
  testDir: 'test/e2e',
  timeout: 60_000,
  workers: 1,
  retries: 0,
  reporter: process.env.CI ? [['list']] : [['list']],
  outputDir: 'test-results',
});
