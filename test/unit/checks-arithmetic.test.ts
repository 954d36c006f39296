import { describe, expect, it } from 'vitest';
import { loadVault } from '../../src/corpus/loader.js';
import { arithmeticStatements, checkArithmetic, repairArithmetic } from '../../src/checks/index.js';
import { fixtureVaultDir, synthetic1kDir } from '../helpers/fixtures.js';

const napkin = (calcs: string[]): string =>
  ['**Assumptions & Constraints:**', '- Given.', '', '**Calculations:**', ...calcs.map((c) => `- ${c}`), '', '**Conclusion & Interpretation:**', '- **Result: x (Y-Bound)**.'].join('\n');

describe('checkArithmetic', () => {
  it('accepts the forms napkin math uses', () => {
    for (const line of [
      'Time: 61 GB / 2.0 TB/s = 30.5 ms.',
      'Context: $128,000 \\times 131,072 \\text{ bytes} \\approx 16.77 \\text{ GB}$.',
      'Transfer time: 80 Mb / 2 Mbps = 40 seconds.',
      'KV per token: $2 \\times 32 \\times 8 \\times 128 \\times 2 = 131,072 \\text{ bytes}$.',
      'Work: 3x3 x 100 x 100 = 90,000 MACs.',
      'Split: 1,000 ÷ 8 = 125; then 125 · 4 = 500.',
      'Share: 1,024 × 35% = 358.4 nodes.',
      'Sum: 16GB (weights) + 16.77GB (KV cache) = $\\approx 33\\text{GB}$.',
      'Cost: 22.4 * $2.50 = $56.',
      'Convert: 10 MB = 80 Megabits (Mb).',
      'Rate: 470 μJ/s / 61 μJ/inference = 7.70 inferences/sec.',
      'Roofline: 6 * 13e9 * 512e6 = 3.99e19 FLOPs.',
      'Sum: 201M + 4.29B = ~4.49B MACs.',
      'Bubble: (8 - 1) / (16 + 8 - 1) = 7 / 23 = 0.304.',
    ]) {
      const r = checkArithmetic(napkin([line]));
      expect(r, line).toMatchObject({ status: 'passed', failures: [] });
      expect(r.checked, line).toBeGreaterThan(0);
    }
  });

  it('fails a wrong result, naming the statement and the computed value', () => {
    const r = checkArithmetic(napkin(['Time: 61 GB / 2.0 TB/s = 45 ms.', 'Work: 2 × 32 = 70.']));
    expect(r.status).toBe('failed');
    expect(r.checked).toBe(2);
    expect(r.failures).toHaveLength(2);
    expect(r.failures[0]).toContain('61 GB / 2.0 TB/s = 45 ms');
    expect(r.failures[0]).toContain('30.5');
  });

  it('allows unit factors (10^3k, bits/bytes, 1024) but not other factors', () => {
    expect(checkArithmetic('- 800 MB / 100,000 MB/s = 8 ms').status).toBe('passed');
    expect(checkArithmetic('- 32,768 tokens * 128 KiB/token = 4.00 GiB = 4.29 GB').status).toBe('passed');
    expect(checkArithmetic('- 800 MB / 100,000 MB/s = 12 ms').status).toBe('failed');
    expect(checkArithmetic('- 7 * 3 = 2.8').status).toBe('failed');
  });

  it('has a configurable relative tolerance, and respects the stated precision', () => {
    expect(checkArithmetic('- 1.5 × 3 = 4.6').status).toBe('failed');
    expect(checkArithmetic('- 1.5 × 3 = 4.6', { relTol: 0.05 }).status).toBe('passed');
    // 2.147 stated as ~2.1: within the rounding of the stated digits.
    expect(checkArithmetic('- 4096 * 32 * 32 * 128 * 2 * 2 = ~2.1 GB').status).toBe('passed');
  });

  it('skips what it cannot read and reports not-run when nothing was checkable', () => {
    expect(checkArithmetic('- Wait Time = 200ms.\n- Total ρ = 1.00.\n- Lending Pool = 1,000 - Total Guaranteed.')).toEqual({ status: 'not-run', checked: 0, failures: [], problems: [] });
    // Definitions and prose beside a real calculation: only the calculation counts.
    const r = checkArithmetic('- 0.5B draft: K=5 round time = 5 * 9.8 + 137 = 186 ms.\n- Target: 14 GB read at 102 GB/s = 137 ms/token.');
    expect(r).toEqual({ status: 'passed', checked: 1, failures: [], problems: [] });
    expect(checkArithmetic('')).toEqual({ status: 'not-run', checked: 0, failures: [], problems: [] });
  });

  it('repairs a wrong stated value in its own unit', () => {
    const bad = napkin(['Time: 61 GB / 2.0 TB/s = 45 ms.', 'Rate: 1000 ms / 30.5 ms = 32.8.']);
    const fixed = repairArithmetic(bad);
    expect(fixed).toContain('= 30.5 ms.');
    expect(checkArithmetic(fixed).status).toBe('passed');
  });

  it('re-checks every question of the fixture vault and synthetic-1k', async () => {
    const tally = async (dir: string) => {
      const { files } = await loadVault(dir);
      const counts = { passed: 0, failed: 0, 'not-run': 0 };
      const failed: string[] = [];
      for (const f of files) {
        const nm = (f.doc?.details as Record<string, unknown> | undefined)?.napkin_math;
        if (typeof nm !== 'string') continue;
        const r = checkArithmetic(nm);
        counts[r.status]++;
        if (r.status === 'failed') failed.push(`${f.relPath}: ${r.failures.join('; ')}`);
      }
      return { counts, failed };
    };
    // Every statement of the fixture vault was written to be checkable and right (the bad files have none).
    const own = await tally(fixtureVaultDir());
    expect(own.failed).toEqual([]);
    expect(own.counts).toEqual({ passed: 32, failed: 0, 'not-run': 0 });
    const synth = await tally(synthetic1kDir());
    expect(synth.counts).toEqual({ passed: 1000, failed: 0, 'not-run': 0 });
    const statements = arithmeticStatements('- Time: 61 GB / 2.0 TB/s = 30.5 ms.');
    expect(statements[0]).toMatchObject({ ok: true, computed: 30.5, stated: 30.5 });
  });
});
