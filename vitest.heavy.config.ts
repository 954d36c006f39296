import { defineConfig } from 'vitest/config';

/**
 * Heavy tests (`npm run test:heavy`): chaos, Redis faults, provider faults through whole runs,
 * stateless worker processes, `run` flags through the real CLI, the embedded redis-server with no
 * network. They spawn CLI processes and redis-servers and kill them, so they run one file at a time
 * with long, bounded timeouts. `npm test` keeps a whole-run invariant of each area (cli-run,
 * providers-run, pipeline-*); CI runs this suite after it.
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
