/** `vault-manifest.json`: the site's view of a release (SEED-SPEC §9). */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AREAS, LEVELS, TOPICS, TRACKS } from '../corpus/taxonomy.js';
import { atomicWrite } from '../corpus/writer.js';
import { nullIfMissing } from '../util/files.js';
import { pyJsonDumps } from './pyjson.js';
import type { ReleaseSet } from './release.js';

export const MANIFEST_FILE = 'vault-manifest.json';

export interface VaultManifest {
  releaseId: string;
  releaseHash: string;
  schemaVersion: string;
  policyVersion: string;
  buildDate: string;
  questionCount: number;
  chainCount: number;
  conceptCount: number;
  trackDistribution: Record<string, number>;
  levelDistribution: Record<string, number>;
  areaCount: number;
  taxonomyVersion: string;
}

/** `%Y-%m-%dT%H:%M:%SZ` in UTC. */
export function buildDateOf(now: Date): string {
  return `${now.toISOString().slice(0, 19)}Z`;
}

/**
 * Counts in taxonomy order (tracks, then levels), then any off-enum value in first-seen order;
 * the original used first-seen order throughout, which only changes the key order.
 */
function distribution(values: unknown[], order: readonly string[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(String(v), (counts.get(String(v)) ?? 0) + 1);
  const out: Record<string, number> = {};
  for (const k of order) if (counts.has(k)) out[k] = counts.get(k)!;
  for (const [k, n] of counts) if (!(k in out)) out[k] = n;
  return out;
}

export function buildManifest(set: ReleaseSet, opts: { releaseId?: string; now?: Date } = {}): VaultManifest {
  const chainIds = new Set<string>();
  for (const m of set.chains.values()) for (const id of m.positions.keys()) chainIds.add(id);
  return {
    releaseId: opts.releaseId ?? 'dev',
    releaseHash: set.releaseHash,
    schemaVersion: '1',
    policyVersion: String(set.policy.policy.policy_version),
    buildDate: buildDateOf(opts.now ?? new Date()),
    questionCount: set.questions.length,
    chainCount: chainIds.size,
    conceptCount: TOPICS.length,
    trackDistribution: distribution(set.questions.map((q) => q.doc.track), TRACKS),
    levelDistribution: distribution(set.questions.map((q) => q.doc.level), LEVELS),
    areaCount: AREAS.length,
    taxonomyVersion: `${TOPICS.length}-topics`,
  };
}

/** Python `json.dumps(manifest, indent=2) + "\n"`, as the original wrote it. */
export function manifestText(m: VaultManifest): string {
  return pyJsonDumps(m, { indent: 2, ensureAscii: true }) + '\n';
}

export async function writeManifest(path: string, m: VaultManifest): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await atomicWrite(path, manifestText(m));
}

/** Fields a stale manifest may differ in; buildDate (and releaseId, unless asked) never make it stale. */
const COMPARED: readonly (keyof VaultManifest)[] = [
  'releaseHash',
  'schemaVersion',
  'policyVersion',
  'questionCount',
  'chainCount',
  'conceptCount',
  'trackDistribution',
  'levelDistribution',
  'areaCount',
  'taxonomyVersion',
];

const sameValue = (a: unknown, b: unknown): boolean =>
  pyJsonDumps(a, { sortKeys: true }) === pyJsonDumps(b, { sortKeys: true });

/** Names of the fields where `stored` disagrees with `fresh` (empty: the manifest is fresh). */
export function staleFields(stored: unknown, fresh: VaultManifest, opts: { compareReleaseId?: boolean } = {}): string[] {
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) return ['(not a JSON object)'];
  const s = stored as Record<string, unknown>;
  const fields = opts.compareReleaseId ? ['releaseId' as const, ...COMPARED] : COMPARED;
  return fields.filter((f) => !sameValue(s[f], fresh[f]));
}

/** The stored manifest, or null when the file does not exist. Throws on unreadable JSON. */
export async function readManifest(path: string): Promise<unknown> {
  const text = await nullIfMissing(readFile(path, 'utf8'));
  return text === null ? null : (JSON.parse(text) as unknown);
}
