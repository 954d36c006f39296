/**
 * Temp files of interrupted writes. Every vault file is written as `<file>.<pid>.<hex>.tmp` and
 * renamed (src/corpus/writer.ts `atomicWrite`); a process killed between the two leaves the temp
 * file behind. The corpus host removes them when it starts: it is the vault's only writer, so a
 * temp file whose writer is gone (or that is older than any write takes) is stranded. They never
 * count as questions: every question scan reads `*.yaml` only.
 */
import { readdir, stat, unlink } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** `<name>.<pid>.<8 hex>.tmp`, the name atomicWrite gives its temp file. */
export const TEMP_FILE_RE = /\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/** A temp file older than this is stranded whoever wrote it (a write takes milliseconds). */
export const STRANDED_AFTER_MS = 10 * 60_000;

const alive = (pid: number): boolean => {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** The folders atomicWrite writes to. */
const WRITTEN_DIRS = ['questions', 'visuals', '_validation_results'];

/**
 * Removes stranded temp files under the vault's written folders; returns their vault-relative
 * paths. A temp file of a live process (another command writing right now) is left alone unless
 * it is older than STRANDED_AFTER_MS.
 */
export async function removeStrayTempFiles(vault: string, now = Date.now()): Promise<string[]> {
  const removed: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const abs = join(dir, e.name);
      if (e.isDirectory()) await walk(abs);
      else if (e.isFile()) {
        const m = TEMP_FILE_RE.exec(e.name);
        if (!m) continue;
        const old = await stat(abs).then((s) => now - s.mtimeMs > STRANDED_AFTER_MS, () => false);
        if (alive(Number(m[1])) && !old) continue;
        await unlink(abs).catch(() => undefined);
        removed.push(relative(vault, abs));
      }
    }
  };
  for (const d of WRITTEN_DIRS) await walk(join(vault, d));
  return removed.sort();
}
