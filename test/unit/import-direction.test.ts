/**
 * The import-direction check of `npm run lint` (bin/check-imports.js over .dependency-cruiser.mjs):
 * the project's own tree passes it, and a copy of the tree with one planted upward import, folder
 * cycle, impure core module or CLI/dashboard crossing fails it, naming the rule and the import.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error a plain JS script of bin/ (no declarations)
import { importViolations } from '../../bin/check-imports.js';

type Violation = { rule: string; from: string; to: string };
const check = importViolations as (dir?: string) => Promise<Violation[]>;

const root = join(import.meta.dirname, '..', '..');
let copy: string;

/** A copy of src/, dashboard/ and tsconfig.json; `files` are added to it or replace its files. */
function tree(name: string, files: Record<string, string>): string {
  const dir = join(copy, name);
  for (const part of ['src', 'dashboard']) cpSync(join(root, part), join(dir, part), { recursive: true, filter: (p) => !p.includes('node_modules') });
  cpSync(join(root, 'tsconfig.json'), join(dir, 'tsconfig.json'));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

/** One copy of the tree with one violation of each kind planted (a cruise takes seconds). */
const PLANTED: Record<string, string> = {
  // A low layer importing the CLI.
  'src/util/planted.ts': "import { UserError } from '../cli/output.js';\nexport const planted = UserError;\n",
  // workers already import scheduler: scheduler importing workers back closes a folder cycle.
  'src/scheduler/planted.ts': "import { translateError } from '../workers/errors.js';\nexport const planted = translateError;\n",
  // A folder not created yet is held to its layer.
  'src/core/planted.ts':
    "import { Queue } from 'bullmq';\nimport { readFileSync } from 'node:fs';\nimport { inStableOrder } from '../workers/runtime.js';\nexport const planted = [Queue, readFileSync, inStableOrder];\n",
  // The two user interfaces crossing.
  'dashboard/planted.ts': "import { UserError } from '../src/cli/output.js';\nexport const planted = UserError;\n",
  'src/cli/planted.ts': "import { metricsText } from '../../dashboard/metrics.js';\nexport const planted = metricsText;\n",
};

let planted: Violation[];

beforeAll(async () => {
  copy = mkdtempSync(join(tmpdir(), 'vault-loop-imports-'));
  planted = await check(tree('planted', PLANTED));
});
afterAll(() => rmSync(copy, { recursive: true, force: true }));

describe('import direction', () => {
  it('the project tree has no upward import and no cycle', async () => {
    expect(await check(root)).toEqual([]);
  });

  it('fails on a planted upward import (a low layer importing the CLI), and names it', () => {
    expect(planted).toContainEqual({ rule: 'no-upward-import-from-base', from: 'src/util/planted.ts', to: 'src/cli/output.ts' });
  });

  it('fails on a folder cycle between two folders of one layer', () => {
    expect(planted.filter((x) => x.rule === 'no-folder-cycle').map((x) => x.to)).toContainEqual(expect.stringMatching(/^src\/(scheduler|workers) → src\/(workers|scheduler)/));
  });

  it('holds a folder not created yet to its layer: src/core may not import BullMQ, fs or a higher layer', () => {
    const v = planted.filter((x) => x.from === 'src/core/planted.ts');
    expect(v.filter((x) => x.rule === 'core-is-pure').map((x) => x.to).sort()).toEqual(['bullmq', 'fs']);
    expect(v.filter((x) => x.rule === 'no-upward-import-from-core').map((x) => x.to)).toEqual(['src/workers/runtime.ts']);
  });

  it('keeps the dashboard and the CLI apart: the dashboard imports no CLI module, the CLI only the dashboard entry', () => {
    expect(planted).toContainEqual({ rule: 'dashboard-not-cli', from: 'dashboard/planted.ts', to: 'src/cli/output.ts' });
    expect(planted).toContainEqual({ rule: 'cli-starts-dashboard-through-its-entry', from: 'src/cli/planted.ts', to: 'dashboard/metrics.ts' });
  });

  it('the lint script runs the check and exits 1 on a violation, naming the import', () => {
    const r = spawnSync(process.execPath, [join(root, 'bin', 'check-imports.js'), join(copy, 'planted')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no-upward-import-from-base: src/util/planted.ts → src/cli/output.ts');
  });
});
