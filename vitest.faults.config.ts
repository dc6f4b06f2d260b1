import { defineConfig } from 'vitest/config';

// The fault test only (test/faults): a real fleet (redis-server, two servers, nginx) under Redis and instance
// faults for about a minute. Kept out of vitest.config.ts (unit tests) so it runs once, on its own:
//   npx vitest run -c vitest.faults.config.ts
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 60_000,
  },
});
