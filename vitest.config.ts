import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Chaos and Redis-fault tests run on their own: `npm run test:heavy` (vitest.heavy.config.ts).
    exclude: [...configDefaults.exclude, 'test/heavy/**'],
    // Tests spawn the CLI from dist/cli: rebuilt first when a source changed.
    globalSetup: ['test/helpers/build-cli.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: Redis-backed and process-spawning tests share the machine.
    maxWorkers: 2,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
