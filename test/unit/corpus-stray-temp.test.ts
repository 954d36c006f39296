/**
 * Temp files of interrupted writes (`<file>.<pid>.<hex>.tmp`, src/corpus/writer.ts) are removed
 * when the corpus host starts, never counted as questions; a live writer's fresh temp file stays.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeStrayTempFiles, STRANDED_AFTER_MS, TEMP_FILE_RE } from '../../src/corpus/stray-temp.js';
import { analyzeVault } from '../../src/analysis/index.js';
import { synthesizeVault } from '../../src/corpus/synth.js';

/** The pid of a process that has ended. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('stray temp files of interrupted writes', () => {
  it('removes a dead writer\'s temp files under questions/, visuals/ and the run records; keeps a live writer\'s fresh one and every real file', async () => {
    const vault = join(mkdtempSync(join(tmpdir(), 'vl-stray-')), 'vault');
    await synthesizeVault({ outDir: vault, questions: 40, seed: 3 });
    const dead = deadPid();
    const before = (await analyzeVault(vault, { strategy: 'balanced', total: 1 })).stats;
    mkdirSync(join(vault, 'questions', 'cloud', 'latency'), { recursive: true });
    mkdirSync(join(vault, 'visuals', 'edge'), { recursive: true });
    mkdirSync(join(vault, '_validation_results', 'coverage_loop', 'R', 'iter_00'), { recursive: true });
    const stranded = [
      `questions/cloud/latency/cloud-9001.yaml.${dead}.0a1b2c3d.tmp`,
      `visuals/edge/edge-9001.svg.${dead}.deadbeef.tmp`,
      `_validation_results/coverage_loop/R/iter_00/iter_record.json.${dead}.01234567.tmp`,
    ];
    for (const f of stranded) writeFileSync(join(vault, f), 'id: cloud-9001\ntrack: cloud\n');
    // A live process's temp file (this one's) is left alone while fresh, removed once old.
    const live = `questions/cloud/latency/cloud-9002.yaml.${process.pid}.89abcdef.tmp`;
    const oldLive = `questions/cloud/latency/cloud-9003.yaml.${process.pid}.fedcba98.tmp`;
    writeFileSync(join(vault, live), 'x');
    writeFileSync(join(vault, oldLive), 'x');
    const past = (Date.now() - STRANDED_AFTER_MS - 60_000) / 1000;
    utimesSync(join(vault, oldLive), past, past);
    // Not a temp file of ours: left alone.
    writeFileSync(join(vault, 'questions', 'cloud', 'notes.tmp'), 'x');

    // Never counted as questions.
    const during = (await analyzeVault(vault, { strategy: 'balanced', total: 1 })).stats;
    expect({ files: during.files, records: during.records, skipped: during.skipped }).toEqual({ files: before.files, records: before.records, skipped: before.skipped });

    const removed = await removeStrayTempFiles(vault);
    expect(removed).toEqual([...stranded, oldLive].sort());
    for (const f of [...stranded, oldLive]) expect(existsSync(join(vault, f)), f).toBe(false);
    expect(existsSync(join(vault, live))).toBe(true);
    expect(existsSync(join(vault, 'questions', 'cloud', 'notes.tmp'))).toBe(true);
    expect(TEMP_FILE_RE.test('cloud-0001.yaml.123.0a1b2c3d.tmp')).toBe(true);
    expect(TEMP_FILE_RE.test('cloud-0001.yaml')).toBe(false);
    // A second start finds nothing left.
    expect(await removeStrayTempFiles(vault)).toEqual([]);
  });
});
