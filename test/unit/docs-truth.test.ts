/**
 * The docs say what the code does: the convergence rule in one sentence, the offline model id the
 * same everywhere, the defaults' origin, the cost of a retry after a crash, what `npm test`
 * needs installed, and a heavy test behind each deployment recipe.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { DEFAULT_MODELS, defaultModel } from '../../src/llm/registry.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';

const read = (f: string) => readFileSync(join(PROJECT_ROOT, f), 'utf8').replace(/\s+/g, ' ');
const readme = read('README.md');
const architecture = read('docs/ARCHITECTURE.md');
const providers = read('docs/providers.md');

describe('docs tell the truth', () => {
  it('README and ARCHITECTURE give the convergence rule: two previous iterations, all-DROPped ones no evidence', () => {
    expect(readme).toContain('unchanged over the two previous iterations');
    expect(readme).toContain('an iteration whose top-cell drafts were all DROPped is no evidence');
    expect(architecture).toContain('unchanged over the two previous iterations');
    expect(architecture).toContain('whose top-cell drafts were all DROPped');
  });

  it('the offline model id is the same in the code, the README and docs/providers.md', () => {
    expect(DEFAULT_MODELS.offline).toBe('offline-v1');
    expect(defaultModel('offline')).toBe('offline-v1');
    expect(readme).toContain('| `offline` | none | `offline-v1` |');
    expect(providers).toContain('| `offline` (default) | nothing: deterministic built-in answers | none | `offline-v1` |');
    for (const p of ['openai', 'gemini', 'anthropic'] as const) expect(defaultModel(p)).toBe(DEFAULT_MODELS[p]);
  });

  it("the README says whose defaults these are, and they are the original script's, with the runbook's recipe named", () => {
    const cfg = loadConfig({ env: {}, flags: {} });
    expect([cfg.gapThreshold, cfg.maxDropRate, cfg.visualEachIter]).toEqual([1, 0.3, false]);
    expect(readme).not.toContain("Defaults follow the original loop's latest runbook");
    expect(readme).toContain('`gapThreshold` 1.0, `maxDropRate` 0.3, `visualEachIter` off');
    expect(readme).toContain('--gap-threshold 0.8 --max-drop-rate 0.35 --visual-each-iter');
  });

  it('no doc claims a retry after a crash is free for a call killed in flight', () => {
    for (const doc of [readme, architecture]) {
      expect(doc).not.toMatch(/a retry after a crash costs nothing\./);
      expect(doc).toMatch(/killed in flight (is paid again|is made, and paid, again|reached the provider and is paid again)/);
    }
  });

  it('the README lists python3-matplotlib, which npm test needs', () => {
    expect(readme).toContain('apt-get install python3-matplotlib');
  });

  it('docs/deployment.md names, for each Redis set-up and the supervisor recipe, a heavy test that exists', () => {
    const deployment = read('docs/deployment.md');
    const recipes: [string, RegExp][] = [
      ['Single Redis', /\*\*Single Redis\*\* \(([^)]*)\)/],
      ['Redis Cluster', /\*\*Redis Cluster\*\* \(([^)]*)\)/],
      ['Sentinel', /\*\*Sentinel\*\* \(([^)]*)\)/],
      ['TLS', /\*\*TLS\*\* \(([^)]*)\)/],
      ['Managed Redis', /\*\*Managed Redis\*\* \(([^)]*)\)/],
      ['supervisor', /A systemd unit that restarts a host at once after a crash \(([^)]*)\)/],
    ];
    for (const [name, re] of recipes) {
      const named = [...(re.exec(deployment)?.[1] ?? '').matchAll(/`(test\/heavy\/[\w-]+\.test\.ts)`/g)].map((m) => m[1]!);
      expect(named.length, `${name}: a heavy test named`).toBeGreaterThan(0);
      for (const f of named) expect(existsSync(join(PROJECT_ROOT, f)), `${name}: ${f}`).toBe(true);
    }
  });
});
