#!/usr/bin/env node
/**
 * `npm test [-- vitest args]`: the type-check and the suite side by side. Most of the suite waits
 * on Redis, child processes and the browser, so the type-check (tsc, about 30 s of CPU) runs
 * beside it at a lower priority instead of before it. Vitest's output streams as it comes; the
 * type-check's is printed after it. Exits non-zero when either fails.
 */
import { spawn } from 'node:child_process';
import { setPriority } from 'node:os';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

const typecheck = spawn(npm, ['run', '-s', 'typecheck'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
try {
  if (typecheck.pid) setPriority(typecheck.pid, 10);
} catch {
  // Not allowed to lower it: it simply competes with the tests.
}
let typecheckOut = '';
typecheck.stdout.on('data', (d) => (typecheckOut += d));
typecheck.stderr.on('data', (d) => (typecheckOut += d));
const typecheckDone = new Promise((res) => typecheck.once('close', (code, signal) => res(code ?? (signal ? 1 : 0))));

const vitest = spawn(join(root, 'node_modules', '.bin', 'vitest'), ['run', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
const vitestDone = new Promise((res) => vitest.once('close', (code, signal) => res(code ?? (signal ? 1 : 0))));

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    typecheck.kill(sig);
    vitest.kill(sig);
  });
}

const [tests, types] = await Promise.all([vitestDone, typecheckDone]);
if (types !== 0) process.stderr.write(`\nnpm test: the type-check failed (npm run typecheck):\n${typecheckOut}\n`);
else process.stdout.write('npm test: type-check passed\n');
process.exit(tests !== 0 ? tests : types);
