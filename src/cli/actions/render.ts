import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, trustedSettingLines } from '../../config/index.js';
import { vaultFoldersProblem } from '../../corpus/loader.js';
import { withVaultLock } from '../../state/lock.js';
import { renderVault } from '../../visuals/index.js';
import { UserError } from '../output.js';

export interface RenderFlags {
  vault?: string;
  force?: boolean;
  id?: string;
  allowPythonVisuals?: boolean;
  dryRun?: boolean;
  timeoutMs?: string;
  trustVaultConfig?: boolean;
}

export async function render(flags: RenderFlags): Promise<void> {
  const cfg = loadConfig({ flags: { vault: flags.vault, allowPythonVisuals: flags.allowPythonVisuals || undefined }, trustVaultConfig: flags.trustVaultConfig === true });
  for (const l of trustedSettingLines(cfg)) process.stderr.write(`vault-loop: ${l}\n`);
  if (!cfg.vault) throw new UserError('render: --vault DIR is required (or set "vault" in vault-loop.config.yaml or VAULT_LOOP_VAULT)');
  if (!existsSync(join(cfg.vault, 'questions'))) throw new UserError(`render: ${cfg.vault}: expected a vault folder holding questions/`);
  const outside = vaultFoldersProblem(cfg.vault);
  if (outside) throw new UserError(`render: ${outside}`);
  let timeoutMs: number | undefined;
  if (flags.timeoutMs !== undefined) {
    timeoutMs = Number(flags.timeoutMs);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 100) throw new UserError(`render: --timeout-ms: expected an integer ≥ 100, got ${JSON.stringify(flags.timeoutMs)}`);
  }
  const vault = cfg.vault;
  const run = () => renderVault({ vault, force: Boolean(flags.force), id: flags.id, allowPython: cfg.allowPythonVisuals, sandbox: cfg.pythonSandbox, dryRun: Boolean(flags.dryRun), timeoutMs });
  const report = flags.dryRun ? await run() : await withVaultLock(vault, 'render', run);
  if (flags.id !== undefined && report.items.length === 0) throw new UserError(`render: no question with id ${JSON.stringify(flags.id)} has a visual`);
  for (const item of report.items) {
    const where = item.output ?? item.question;
    if (item.status === 'error') process.stderr.write(`error ${item.id} (${where}): ${item.reason}\n`);
    else if (item.status === 'would-render') process.stdout.write(`would render ${where} (${item.reason})\n`);
    else if (item.status === 'skipped' && item.reason !== 'up to date') process.stderr.write(`note ${item.id}: skipped, ${item.reason}\n`);
    for (const w of item.warnings) process.stderr.write(`warning ${item.id}: ${w}\n`);
  }
  if (flags.dryRun) {
    const names = report.items.filter((i) => i.status === 'would-render').map((i) => i.output ?? i.question);
    process.stdout.write(`would render ${names.length}${names.length ? `: ${names.join(', ')}` : ''}; skipped=${report.skipped} errors=${report.errors} (dry run: nothing written)\n`);
  } else process.stdout.write(`rendered=${report.rendered} skipped=${report.skipped} errors=${report.errors}\n`);
  if (report.errors > 0) process.exitCode = 1;
}
