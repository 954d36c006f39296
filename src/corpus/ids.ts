/**
 * Question ids: `<track>-NNNN`, zero-padded to 4 digits, increasing per track. The original minted
 * the next id from a flat scan of questions/<track>/*.yaml, which after the move to the nested
 * layout found nothing and restarted at 0001 (SEED-SPEC §11.3). This scan looks at every depth.
 */
import fg from 'fast-glob';
import { TRACKS, type Track } from './taxonomy.js';

const ID_RE = /^(cloud|edge|mobile|tinyml|global)-(\d+)$/;

/** Splits `<track>-<digits>` into its parts, or null for any other shape. */
export function parseId(id: string): { track: Track; n: number } | null {
  const m = ID_RE.exec(id);
  if (!m) return null;
  return { track: m[1] as Track, n: Number.parseInt(m[2]!, 10) };
}

/** `%04d`: `cloud-0007`, `cloud-12345` past 9999. */
export function formatId(track: Track, n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`formatId: expected a non-negative integer; found ${n}`);
  return `${track}-${String(n).padStart(4, '0')}`;
}

/**
 * The highest N of every file named `<track>-N.yaml` anywhere under questions/ (nested or flat), per
 * track; 0 for a track with none. A file misfiled under another track's folder still counts for the
 * track its name carries, since minting its id again would collide. File names, not contents: the
 * loader's rule makes the file name equal to the id, and this runs without parsing any file.
 */
export async function scanMaxIds(vaultDir: string): Promise<Record<Track, number>> {
  const max = Object.fromEntries(TRACKS.map((t) => [t, 0])) as Record<Track, number>;
  const files = await fg('questions/**/*.yaml', { cwd: vaultDir, onlyFiles: true, followSymbolicLinks: false });
  for (const f of files) {
    const parsed = parseId(f.slice(f.lastIndexOf('/') + 1, -'.yaml'.length));
    if (parsed && parsed.n > max[parsed.track]) max[parsed.track] = parsed.n;
  }
  return max;
}
