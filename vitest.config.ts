import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The slowest files (whole runs, the browser, provider runs), started first so that none of them
 * is left running alone at the end. `npm run test:slowest` prints the current
 * ten; vitest's own timing cache, once it has one, orders the rest.
 */
const SLOW_FIRST = [
  'test/redis/budget-judge-reserve.redis.test.ts',
  'test/redis/pipeline-visuals.redis.test.ts',
  'test/redis/pipeline-apply.redis.test.ts',
  'test/redis/pipeline-batching.redis.test.ts',
  'test/redis/batch-mode.redis.test.ts',
  'test/redis/providers-run.redis.test.ts',
  'test/redis/leftover-drafts.redis.test.ts',
  'test/redis/revise.redis.test.ts',
  'test/e2e/dashboard.test.ts',
  'test/redis/cli-run.redis.test.ts',
];

class SlowFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification): number => {
      const i = SLOW_FIRST.indexOf(relative(process.cwd(), f.moduleId).split('\\').join('/'));
      return i < 0 ? SLOW_FIRST.length : i;
    };
    return sorted.map((f, i) => [f, rank(f), i] as const).sort((a, b) => a[1] - b[1] || a[2] - b[2]).map(([f]) => f);
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Heavy tests run on their own (`npm run test:heavy`, vitest.heavy.config.ts); the sample suite
    // needs the real vault sample (`npm run test:sample`, vitest.sample.config.ts).
    exclude: [...configDefaults.exclude, 'test/heavy/**', 'test/sample/**'],
    // Tests spawn the CLI from dist/cli: rebuilt first when a source changed.
    globalSetup: ['test/helpers/build-cli.ts'],
    // Generous: a bound for a hung test, never a speed requirement (the machine may be loaded).
    testTimeout: 180_000,
    hookTimeout: 60_000,
    // Two cores: Redis-backed and process-spawning tests share the machine. (Three files at a time
    // finished sooner on a quiet machine, but under load 9-13 whole CLI runs then took 8-17x their
    // quiet time and two hit the test timeout.)
    maxWorkers: 2,
    sequence: { sequencer: SlowFirst },
  },
});
