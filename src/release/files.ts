/** Vault-relative path checks for paths read from run records. */
import { UnsafePathError } from '../errors.js';
import { safeVaultPath } from '../corpus/writer.js';

/**
 * Resolves a vault-relative path taken from a record (forward slashes). Stricter than
 * safeVaultPath: a record has no business holding `..` segments, backslashes or a drive letter at all.
 */
export function resolveInVault(vaultDir: string, relPath: string): string {
  if (
    relPath === '' ||
    relPath.includes('\\') ||
    relPath.includes('\0') ||
    relPath.startsWith('/') ||
    /^[a-zA-Z]:/.test(relPath) ||
    relPath.split('/').some((s) => s === '..')
  ) {
    throw new UnsafePathError(`path ${JSON.stringify(relPath)} is not a safe vault-relative path`);
  }
  return safeVaultPath(vaultDir, relPath);
}
