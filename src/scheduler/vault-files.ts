/** The vault's files on disk, by vault-relative path (never outside the vault): the core's VaultFilesPort. */
import { existsSync, mkdirSync } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { VaultFilesPort } from '../core/ports.js';
import { atomicWrite, safeVaultPath } from '../corpus/writer.js';

const absent = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === 'ENOENT';

export function diskVaultFiles(vault: string): VaultFilesPort {
  return {
    read: async (relPath) => {
      try {
        return await readFile(safeVaultPath(vault, relPath));
      } catch (e) {
        if (absent(e)) return null;
        throw e;
      }
    },
    write: async (relPath, text) => {
      const abs = safeVaultPath(vault, relPath);
      mkdirSync(dirname(abs), { recursive: true });
      await atomicWrite(abs, text);
    },
    exists: (relPath) => existsSync(safeVaultPath(vault, relPath)),
    remove: async (relPath) => {
      try {
        await unlink(safeVaultPath(vault, relPath));
      } catch (e) {
        if (!absent(e)) throw e;
      }
    },
  };
}
