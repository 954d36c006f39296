import { defineConfig } from 'vitest/config';

/**
 * The sample suite (`npm run test:sample`): the behaviour the unit suite checks on the repository's
 * own fixtures, checked again on the original's real vault sample. It reads VAULT_SAMPLE_DIR, else
 * ../shared/fixtures/vault-sample; without it the run fails at once with one clear message.
 */
export default defineConfig({
  test: {
    include: ['test/sample/**/*.test.ts'],
    // The sample check first: without the sample nothing else is worth starting. Then the CLI build.
    globalSetup: ['test/sample/require-sample.ts', 'test/helpers/build-cli.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
  },
});
