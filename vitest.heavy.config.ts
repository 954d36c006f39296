import { defineConfig } from 'vitest/config';

/**
 * Heavy tests (`npm run test:heavy`): chaos, Redis faults, provider faults through whole runs,
 * stateless worker processes, `run` flags and run control through the real CLI, revise through
 * every entry point, the dashboard's pages in the browser, provider settings in whole runs, each
 * bad input file alone, the embedded redis-server with no network. They spawn CLI processes,
 * browsers and redis-servers and kill them, so they run one file at a time with long, bounded
 * timeouts. `npm test` keeps one fast whole-run representative of each (cli-run, revise,
 * e2e/dashboard, providers-run, pipeline-*); CI runs this suite after it. The README's Testing
 * section lists which suite holds what.
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
