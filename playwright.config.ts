import { defineConfig } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS } from './test/e2e/support/cdp-browser.js';

// The e2e suite starts its own server processes and Chromium (see test/e2e/support); nothing else runs first.
// Tests that need a tab to really hide drive Chromium over raw CDP; the others use Playwright's page API.
export default defineConfig({
  testDir: 'test/e2e',
  timeout: 60_000,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    launchOptions: { executablePath: CHROMIUM, args: CHROMIUM_ARGS.filter((arg) => arg !== '--headless') },
    headless: true,
  },
});
