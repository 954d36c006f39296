/**
 * The repository's own fixture vault (test/fixtures/vault, described in test/fixtures/README.md)
 * holds what the suite needs of the vault's shape: every track, level and zone, every status, MCQ
 * items, a chain, dot and matplotlib visuals, files that end early, broken YAML, an empty file,
 * off-enum values, a taxonomy and a release policy. A fixture edit that drops one of them fails here
 * first, not as a puzzling gap in some other test.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LEVELS, STATUSES, TRACKS, ZONES } from '../../src/domain/taxonomy.js';
import { parseYaml } from '../../src/util/yaml.js';
import { fixtureVaultDir } from '../helpers/fixtures.js';

const vault = fixtureVaultDir();
const files = (readdirSync(join(vault, 'questions'), { recursive: true }) as string[]).filter((f) => f.endsWith('.yaml')).sort();
const text = (f: string): string => readFileSync(join(vault, 'questions', f), 'utf8');
type Doc = Record<string, unknown> & { details?: Record<string, unknown>; visual?: Record<string, unknown>; chains?: unknown[] };
const parsed = new Map<string, Doc | null | 'broken'>();
for (const f of files) {
  try {
    parsed.set(f, (parseYaml(text(f)) as Doc | null) ?? null);
  } catch {
    parsed.set(f, 'broken');
  }
}
const docs = [...parsed.values()].filter((d): d is Doc => d !== null && d !== 'broken');
const values = (key: string): Set<unknown> => new Set(docs.map((d) => d[key]));

describe('the fixture vault', () => {
  it('has every track, level and zone, and every status', () => {
    for (const [key, all] of [['track', TRACKS], ['level', LEVELS], ['zone', ZONES], ['status', STATUSES]] as const) {
      const seen = values(key);
      expect(all.filter((v) => !seen.has(v)), `${key} values missing`).toEqual([]);
    }
  });

  it('has MCQ items, a chain of three, and dot and matplotlib visuals with their sources', () => {
    expect(docs.filter((d) => Array.isArray(d.details?.options) && Number.isInteger(d.details?.correct_index)).length).toBeGreaterThanOrEqual(3);
    const chains = new Map<string, number>();
    for (const d of docs) for (const c of d.chains ?? []) chains.set((c as { id: string }).id, (chains.get((c as { id: string }).id) ?? 0) + 1);
    expect(Math.max(...chains.values())).toBeGreaterThanOrEqual(3);
    const sources = docs.filter((d) => d.visual).map((d) => join(vault, 'visuals', String(d.track), String(d.id)));
    expect(sources.some((s) => existsSync(`${s}.dot`))).toBe(true);
    expect(sources.some((s) => existsSync(`${s}.py`))).toBe(true);
  });

  it('has files that end early, broken YAML, an empty file and off-enum values', () => {
    expect(files.filter((f) => text(f).length > 0 && !text(f).endsWith('\n')).length).toBeGreaterThanOrEqual(2);
    expect([...parsed.values()]).toContain('broken');
    expect(files.some((f) => text(f) === '')).toBe(true);
    expect(docs.some((d) => !(LEVELS as readonly unknown[]).includes(d.level) && !(ZONES as readonly unknown[]).includes(d.zone))).toBe(true);
  });

  it('has a taxonomy and a release policy', () => {
    expect(parseYaml(readFileSync(join(vault, 'schema', 'taxonomy_data.yaml'), 'utf8'))).toBeTruthy();
    expect(parseYaml(readFileSync(join(vault, 'release-policy.yaml'), 'utf8'))).toBeTruthy();
  });
});
