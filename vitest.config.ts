import { configDefaults, defineConfig } from 'vitest/config';

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
    // Two cores: Redis-backed and process-spawning tests share the machine.
    maxWorkers: 2,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
