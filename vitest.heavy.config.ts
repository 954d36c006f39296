import { defineConfig } from 'vitest/config';

/**
 * Heavy tests (`npm run test:heavy`): chaos and Redis faults. They spawn CLI processes and
 * redis-servers and kill them, so they run one file at a time with long, bounded timeouts.
 */
export default defineConfig({
  test: {
    include: ['test/heavy/**/*.test.ts'],
    globalSetup: ['test/helpers/build-cli.ts'],
    testTimeout: 240_000,
    hookTimeout: 60_000,
    maxWorkers: 1,
    fileParallelism: false,
  },
});
