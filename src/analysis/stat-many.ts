/**
 * Many stats in one call, through the optional native addon in native/ (built by `npm ci`'s
 * `prepare` when a C compiler and Node's headers are there; see bin/build.js). Node 20's
 * `fs.statSync` builds a `Stats` object with four `Date`s per file: for the 10,000 files a warm
 * `vault-loop analyze` checks, that costs more than the system calls. The addon returns the four
 * numbers the analyzer keeps, computed as `statSync` computes them (test/unit/stat-many.test.ts).
 * Without the addon (no compiler, Windows, VAULT_LOOP_NATIVE=0) statMany answers undefined and the
 * caller stats file by file.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

type Native = { layout: number; statMany(base: string, paths: readonly string[], from: number, to: number): Float64Array };

/** The answer's layout this module reads (native/stat-many.c's LAYOUT): 4 numbers per path. */
const LAYOUT = 1;

/** Where the build puts the addon: dist/native/, beside dist/cli/ (the bundle) or above src/. */
export const NATIVE_FILE = 'stat-many.node';

let native: Native | null | undefined;
/** Set by useNativeStat (tests): false makes statMany answer undefined, as without the addon. */
let enabled = true;

function load(): Native | null {
  if (process.env.VAULT_LOOP_NATIVE === '0') return null;
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/cli/<chunk>.js → dist/native; src/analysis/stat-many.ts → dist/native
  for (const dir of [join(here, '..', 'native'), join(here, '..', '..', 'dist', 'native')]) {
    const file = join(dir, NATIVE_FILE);
    if (!existsSync(file)) continue;
    try {
      const m = createRequire(import.meta.url)(file) as Partial<Native>;
      if (typeof m.statMany === 'function' && m.layout === LAYOUT) return m as Native;
    } catch {
      // Built for another Node or platform: stat file by file.
    }
  }
  return null;
}

/** Whether statMany has the addon (for tests and the benchmark's report). */
export function hasNativeStat(): boolean {
  return (native ??= load()) !== null;
}

/**
 * `size, mtimeMs, ctimeMs, ino` of `base + paths[i]` for i in [from, to), 4 numbers per path (size
 * -1: could not be stat'ed); undefined when the addon is not available.
 */
export function statMany(base: string, paths: readonly string[], from = 0, to = paths.length): Float64Array | undefined {
  if (!enabled) return undefined;
  native ??= load();
  return native ? native.statMany(base, paths, from, to) : undefined;
}

/** Tests: run the analyzer's file-by-file path in this process (false), or the addon again (true). */
export function useNativeStat(on: boolean): void {
  enabled = on;
}
