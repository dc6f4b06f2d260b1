import { defineConfig } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS } from './test/e2e/support/cdp-browser.js';

// The e2e suites start their own server processes and browsers (see test/e2e/support, test/engines); nothing
// else runs first. Chromium: tests that need a tab to really hide drive it over raw CDP, the others use
// Playwright's page API. Firefox and WebKit: Debian's builds, which Playwright cannot drive, through the
// drivers in test/engines/drivers (WebDriver BiDi, classic WebDriver); Playwright is only the test runner there.
export default defineConfig({
  timeout: 60_000,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: 'test-results',
  projects: [
    {
      name: 'chromium',
      testDir: 'test/e2e',
      use: {
        launchOptions: { executablePath: CHROMIUM, args: CHROMIUM_ARGS.filter((arg) => arg !== '--headless') },
        headless: true,
      },
    },
    // Each engine runs the engine suite and its own driver's spec.
    { name: 'firefox', testDir: 'test/engines', testIgnore: /webkit-driver\.spec\.ts$/ },
    { name: 'webkit', testDir: 'test/engines', testIgnore: /firefox-driver\.spec\.ts$/ },
  ],
});
