#!/usr/bin/env node
// Runs the compiled CLI (dist/cli/, built by `npm run build`, which `npm ci` and `npm install` run
// as the `prepare` script): plain JavaScript, so a start costs little more than Node's own.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli', 'main.js');
if (!existsSync(main)) {
  process.stderr.write(`vault-loop: ${main} is missing: run \`npm run build\` in ${join(dirname(main), '..', '..')} (npm ci runs it)\n`);
  process.exit(1);
}
await import(pathToFileURL(main).href);
