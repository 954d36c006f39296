#!/usr/bin/env node
// Runs the CLI from the TypeScript sources through tsx, so `npm ci` is the only set-up step.
// VAULT_LOOP_DIST=1 runs the compiled copy from `npm run build` instead (dist/).
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (process.env.VAULT_LOOP_DIST === '1') {
  await import(pathToFileURL(join(root, 'dist', 'src', 'cli', 'main.js')).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
}
