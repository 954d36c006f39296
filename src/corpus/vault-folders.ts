/** The vault's own folders, checked before anything is read: Node built-ins only (the CLI's `status` loads this). */
import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';

/** The vault folders vault-loop reads and writes; each must really lie inside the vault. */
export const VAULT_FOLDERS = ['questions', 'visuals'] as const;

/**
 * Why the vault cannot be used, or null: `questions/` or `visuals/` is a symlink (or a path
 * through one) whose real path leaves the vault. Checked before anything is read or any provider
 * call is spent, since every write there would be refused.
 */
export function vaultFoldersProblem(vaultDir: string): string | null {
  let root: string;
  try {
    root = realpathSync(vaultDir);
  } catch (e) {
    return `${vaultDir}: ${(e as Error).message}`;
  }
  for (const name of VAULT_FOLDERS) {
    const abs = join(vaultDir, name);
    let real: string;
    try {
      real = realpathSync(abs);
    } catch {
      continue; // absent (visuals/ is optional) or broken: the commands say so themselves
    }
    const rel = relative(root, real);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
      return `${abs} resolves to ${real}, outside the vault ${root}; vault-loop reads and writes only inside the vault (make ${name}/ a real folder of the vault)`;
    }
    if (!statSync(real).isDirectory()) return `${abs} is not a folder`;
  }
  return null;
}
