import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { checkFiles, failsAt, toSarif, type FileFinding } from '../../checks/files.js';
import { NearDupIndex } from '../../checks/neardup.js';
import { listQuestionFiles, loadQuestionFile } from '../../corpus/loader.js';
import { safeVaultPath } from '../../corpus/writer.js';
import { requireVault } from '../common.js';
import { UserError } from '../output.js';

export interface CheckFlags {
  vault?: string;
  json?: boolean;
  sarif?: boolean;
  failOn: 'error' | 'warning';
}

export async function check(files: string[], flags: CheckFlags, version: string): Promise<void> {
  if (flags.json && flags.sarif) throw new UserError('check: --json and --sarif exclude each other');
  if (!flags.vault && files.length === 0) throw new UserError('check: give question FILES, or --vault DIR to check a whole vault');
  const vault = flags.vault ? requireVault(flags.vault) : null;
  const index = new NearDupIndex();
  const vaultFiles: { path: string; abs: string }[] = [];
  if (vault) {
    for (const rel of await listQuestionFiles(vault)) {
      const f = await loadQuestionFile(vault, rel);
      if (f.doc && typeof f.doc.id === 'string') index.add(f.doc.id, f.doc);
      vaultFiles.push({ path: rel, abs: safeVaultPath(vault, rel) });
    }
  }
  const targets = files.length > 0 ? files.map((f) => ({ path: f, abs: resolve(f) })) : vaultFiles;
  for (const t of targets) if (!existsSync(t.abs)) throw new UserError(`check: ${t.path}: no such file`);
  const { findings, checked } = checkFiles({ files: targets, ...(vault ? { vault: index } : {}) });
  const count = (s: FileFinding['severity']) => findings.filter((f) => f.severity === s).length;
  if (flags.sarif) {
    process.stdout.write(`${JSON.stringify(toSarif(findings, version), null, 2)}\n`);
  } else if (flags.json) {
    process.stdout.write(`${JSON.stringify({ checked, errors: count('error'), warnings: count('warning'), notes: count('note'), findings }, null, 2)}\n`);
  } else {
    for (const f of findings) {
      const where = vault && files.length === 0 ? f.path : relative(process.cwd(), resolve(f.path)) || f.path;
      process.stdout.write(`${where}${f.line !== undefined ? `:${f.line}` : ''}: ${f.severity} [${f.check}, ${f.level}]: ${f.message}\n`);
    }
    process.stdout.write(`checked ${checked} file${checked === 1 ? '' : 's'}: ${count('error')} errors, ${count('warning')} warnings, ${count('note')} notes\n`);
  }
  if (failsAt(findings, flags.failOn)) process.exitCode = 1;
}
