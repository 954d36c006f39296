#!/usr/bin/env node
/**
 * The import-direction check of `npm run lint`: the layer rules of .dependency-cruiser.mjs (no
 * upward import, no module cycle, a pure src/core and src/domain, the CLI and the dashboard apart)
 * and no folder cycle, over src/ and dashboard/ of a project folder (this one by default, or the
 * folder given as the first argument). Prints each violation as `rule: from → to` and exits 1 when
 * there is one.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise } from 'dependency-cruiser';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import config, { FOLDER_CRUISE_EXCLUDE, FOLDER_RULES } from '../.dependency-cruiser.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * @param {string} baseDir the project folder (holds tsconfig.json, src/ and dashboard/)
 * @returns {Promise<{ rule: string; from: string; to: string }[]>}
 */
export async function importViolations(baseDir = root) {
  const dir = resolve(baseDir);
  const roots = ['src', 'dashboard'].filter((d) => existsSync(join(dir, d)));
  const { forbidden, options } = config;
  // The tsconfig resolves `./x.js` imports to the `./x.ts` sources (NodeNext).
  const tsConfig = extractTSConfig(join(dir, options.tsConfig.fileName));
  const run = async (ruleSet, exclude) => {
    const { output } = await cruise(roots, { ...options, baseDir: dir, exclude: { path: exclude }, validate: true, ruleSet, outputType: 'json' }, {}, { tsConfig });
    const result = typeof output === 'string' ? JSON.parse(output) : output;
    return result.summary.violations.map((v) => ({ rule: v.rule.name, from: v.from, to: v.cycle ? v.cycle.map((c) => (typeof c === 'string' ? c : c.name)).join(' → ') : v.to }));
  };
  const modules = await run({ forbidden }, options.exclude.path);
  const folders = await run({ forbidden: FOLDER_RULES }, `${options.exclude.path}|${FOLDER_CRUISE_EXCLUDE}`);
  return [...modules, ...folders];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const violations = await importViolations(process.argv[2] ?? root);
  for (const v of violations) process.stderr.write(`import direction: ${v.rule}: ${v.from} → ${v.to}\n`);
  if (violations.length > 0) {
    process.stderr.write(`import direction: ${violations.length} violation(s); the layers are in .dependency-cruiser.mjs and docs/ARCHITECTURE.md\n`);
    process.exit(1);
  }
  process.stdout.write('import direction: no upward import, no cycle\n');
}
