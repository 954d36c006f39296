/**
 * Where a question's visual files live: `visuals/<track>/<id>.{dot,py,svg}` (SEED-SPEC §2.1).
 * Ids and tracks come from YAML that a model may have written, so both are checked as names
 * before they become paths (stricter than the corpus writer's segment check: no leading dot either),
 * and the result goes through the writer's safeVaultPath containment check.
 */
import { isAbsolute, relative, resolve } from 'node:path';
import { safeVaultPath } from '../corpus/writer.js';
import { UnsafePathError } from '../errors.js';

export interface VisualPaths {
  dot: string;
  py: string;
  svg: string;
}

/** A file or folder name we accept from data: letters, digits, `_ . -`, not starting with a dot, no `..`. */
const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Throws UnsafePathError unless `name` is a plain name (no `..`, `/`, `\`, NUL, leading dot). */
export function assertSafeName(name: unknown, what: string): asserts name is string {
  if (typeof name !== 'string' || !SAFE_NAME.test(name) || name.includes('..')) {
    throw new UnsafePathError(`${what} ${JSON.stringify(name)} is not a safe name (letters, digits, "_", ".", "-"; no "..", "/" or "\\")`);
  }
}

/** Throws UnsafePathError unless `target` is inside `root` (used on realpaths, to refuse links that leave the vault). */
export function assertInside(root: string, target: string): void {
  const rel = relative(resolve(root), resolve(target));
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw new UnsafePathError(`path ${target} is outside ${root}`);
}

/** The dot, py and svg paths of one question's visual, absolute, under `<vault>/visuals/<track>/`. */
export function visualPaths(vaultDir: string, track: string, id: string): VisualPaths {
  assertSafeName(track, 'track');
  assertSafeName(id, 'id');
  const at = (ext: string) => safeVaultPath(vaultDir, 'visuals', track, `${id}.${ext}`);
  return { dot: at('dot'), py: at('py'), svg: at('svg') };
}

/** A bare file name from YAML (`visual.path`, `visual.source`) resolved under `visuals/<track>/`. */
export function visualFile(vaultDir: string, track: string, file: string): string {
  assertSafeName(track, 'track');
  assertSafeName(file, 'visual file');
  return safeVaultPath(vaultDir, 'visuals', track, file);
}
