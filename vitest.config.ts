import { defineConfig } from 'vitest/config';

// Unit tests only; the e2e suite runs under Playwright (playwright.config.ts).
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    environment: 'node',
    testTimeout: 20_000,
  },
});
