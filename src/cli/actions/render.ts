import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../config/index.js';
import { renderVault } from '../../visuals/index.js';
import { UserError } from '../output.js';

export interface RenderFlags {
  vault?: string;
  force?: boolean;
  id?: string;
  allowPythonVisuals?: boolean;
  dryRun?: boolean;
  timeoutMs?: string;
}

export async function render(flags: RenderFlags): Promise<void> {
  const cfg = loadConfig({ flags: { vault: flags.vault, allowPythonVisuals: flags.allowPythonVisuals || undefined } });
  if (!cfg.vault) throw new UserError('render: --vault DIR is required (or set "vault" in vault-loop.config.yaml or VAULT_LOOP_VAULT)');
  if (!existsSync(join(cfg.vault, 'questions'))) throw new UserError(`render: ${cfg.vault}: expected a vault folder holding questions/`);
  let timeoutMs: number | undefined;
  if (flags.timeoutMs !== undefined) {
    timeoutMs = Number(flags.timeoutMs);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 100) throw new UserError(`render: --timeout-ms: expected an integer ≥ 100, got ${JSON.stringify(flags.timeoutMs)}`);
  }
  const report = await renderVault({
    vault: cfg.vault,
    force: Boolean(flags.force),
    id: flags.id,
    allowPython: cfg.allowPythonVisuals,
    dryRun: Boolean(flags.dryRun),
    timeoutMs,
  });
  if (flags.id !== undefined && report.items.length === 0) throw new UserError(`render: no question with id ${JSON.stringify(flags.id)} has a visual`);
  for (const item of report.items) {
    const where = item.output ?? item.question;
    if (item.status === 'error') process.stderr.write(`error ${item.id} (${where}): ${item.reason}\n`);
    else if (item.status === 'would-render') process.stdout.write(`would render ${where} (${item.reason})\n`);
    else if (item.status === 'skipped' && item.reason !== 'up to date') process.stderr.write(`note ${item.id}: skipped, ${item.reason}\n`);
    for (const w of item.warnings) process.stderr.write(`warning ${item.id}: ${w}\n`);
  }
  const dry = flags.dryRun ? ' (dry run: nothing written)' : '';
  process.stdout.write(`rendered=${report.rendered} skipped=${report.skipped} errors=${report.errors}${dry}\n`);
  if (report.errors > 0) process.exitCode = 1;
}
