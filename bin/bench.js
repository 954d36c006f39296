#!/usr/bin/env node
// `npm run bench -- <name> [flags]` runs bench/<name>.bench.ts; with no name, every benchmark in turn.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = join(root, 'bench');
const all = readdirSync(benchDir).filter((f) => f.endsWith('.bench.ts')).map((f) => f.replace(/\.bench\.ts$/, '')).sort();
const [name, ...rest] = process.argv.slice(2);
if (name === '--help' || name === '-h') {
  console.log(`usage: npm run bench -- [${all.join('|')}] [flags]\nWith no name, runs every benchmark with its defaults.`);
  process.exit(0);
}
const names = name && !name.startsWith('-') ? [name] : all;
const args = name && !name.startsWith('-') ? rest : process.argv.slice(2);
let failed = 0;
for (const n of names) {
  if (!all.includes(n)) {
    console.error(`bench: no benchmark named "${n}"; known: ${all.join(', ')}`);
    process.exit(2);
  }
  console.log(`\n=== bench ${n} ===`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(benchDir, `${n}.bench.ts`), ...args], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
