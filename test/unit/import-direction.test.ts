/**
 * The import-direction check of `npm run lint` (bin/check-imports.js over .dependency-cruiser.mjs):
 * the project's own tree passes it, and a small tree with one planted upward import, folder cycle,
 * impure core module or CLI/dashboard crossing fails it, naming the rule and the import.
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
let planted: string;
let found: Violation[];

/**
 * A small tree under the project's rules (its tsconfig.json, a few stand-in modules where the real
 * ones live) with one violation of each kind planted: a cruise of it takes a fraction of the real
 * tree's, so the real tree is cruised once, by the first test.
 */
const STAND_INS: Record<string, string> = {
  'src/cli/output.ts': 'export class UserError extends Error {}\n',
  'src/workers/errors.ts': 'export const translateError = (e: unknown): unknown => e;\n',
  // workers import scheduler, as in the real tree.
  'src/workers/runtime.ts': "import { ids } from '../scheduler/flows.js';\nexport const startWorkers = ids;\n",
  'src/scheduler/flows.ts': 'export const ids = 1;\n',
  'dashboard/metrics.ts': "export const metricsText = '';\n",
  'dashboard/index.ts': "export { metricsText } from './metrics.js';\n",
};
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

beforeAll(async () => {
  planted = mkdtempSync(join(tmpdir(), 'vault-loop-imports-'));
  cpSync(join(root, 'tsconfig.json'), join(planted, 'tsconfig.json'));
  for (const [rel, text] of Object.entries({ ...STAND_INS, ...PLANTED })) {
    mkdirSync(join(planted, rel, '..'), { recursive: true });
    writeFileSync(join(planted, rel), text);
  }
  found = await check(planted);
});
afterAll(() => rmSync(planted, { recursive: true, force: true }));

describe('import direction', () => {
  it('the project tree has no upward import and no cycle', async () => {
    expect(await check(root)).toEqual([]);
  });

  it('the stand-ins alone break no module rule: each module-level violation comes from a planted file', () => {
    const modules = found.filter((v) => v.rule !== 'no-folder-cycle');
    expect(modules.length).toBeGreaterThan(0);
    for (const v of modules) expect(v.from, `${v.rule}: ${v.from} → ${v.to}`).toMatch(/\/planted\.ts$/);
  });

  it('fails on a planted upward import (a low layer importing the CLI), and names it', () => {
    expect(found).toContainEqual({ rule: 'no-upward-import-from-base', from: 'src/util/planted.ts', to: 'src/cli/output.ts' });
  });

  it('fails on a folder cycle between two folders of one layer', () => {
    expect(found.filter((x) => x.rule === 'no-folder-cycle').map((x) => x.to)).toContainEqual(expect.stringMatching(/^src\/(scheduler|workers) → src\/(workers|scheduler)/));
  });

  it('holds a folder not created yet to its layer: src/core may not import BullMQ, fs or a higher layer', () => {
    const v = found.filter((x) => x.from === 'src/core/planted.ts');
    expect(v.filter((x) => x.rule === 'core-is-pure').map((x) => x.to).sort()).toEqual(['bullmq', 'fs']);
    expect(v.filter((x) => x.rule === 'no-upward-import-from-core').map((x) => x.to)).toEqual(['src/workers/runtime.ts']);
  });

  it('keeps the dashboard and the CLI apart: the dashboard imports no CLI module, the CLI only the dashboard entry', () => {
    expect(found).toContainEqual({ rule: 'dashboard-not-cli', from: 'dashboard/planted.ts', to: 'src/cli/output.ts' });
    expect(found).toContainEqual({ rule: 'cli-starts-dashboard-through-its-entry', from: 'src/cli/planted.ts', to: 'dashboard/metrics.ts' });
  });

  it('the lint script runs the check and exits 1 on a violation, naming the import', () => {
    const r = spawnSync(process.execPath, [join(root, 'bin', 'check-imports.js'), planted], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no-upward-import-from-base: src/util/planted.ts → src/cli/output.ts');
  });
});
