/**
 * Record files (run.json, iter_record.json, judge_summary.json, loop_summary.json) are written and
 * read through the one schema of src/domain/records.ts: a value that does not fit is not written,
 * a file that does not fit is not read, and both say the file and the field. A run's stored
 * configuration is read back through src/domain/run-config.ts the same way.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IterRecordSchema, RunJsonSchema, type RunJson } from '../../src/domain/records.js';
import { parseRunConfig } from '../../src/domain/run-config.js';
import { readRecord, writeRecord } from '../../src/scheduler/records.js';
import { runConfig } from '../helpers/core-ports.js';

const dir = mkdtempSync(join(tmpdir(), 'vl-record-files-'));

describe('record files through their schema', () => {
  it('a run.json that fits is written as built (its key order) and read back equal', async () => {
    const path = join(dir, 'run.json');
    const value: RunJson = { run_id: 'r1', started_at: '2026-12-03T10:00:00.000Z', kind: 'loop', seed: 7, stopped_reason: null };
    await writeRecord(RunJsonSchema, path, value);
    expect(Object.keys(JSON.parse(readFileSync(path, 'utf8')) as object)).toEqual(['run_id', 'started_at', 'kind', 'seed', 'stopped_reason']);
    expect(readRecord(RunJsonSchema, path)).toEqual(value);
  });

  it('a value that does not fit is not written, and the error names the file and the field', async () => {
    const path = join(dir, 'bad-run.json');
    const bad = { started_at: '2026-12-03T10:00:00.000Z', kind: 'sideways' } as unknown as RunJson;
    await expect(writeRecord(RunJsonSchema, path, bad)).rejects.toThrow(`${path}: at kind: `);
    expect(readRecord(RunJsonSchema, path)).toBeNull();
  });

  it('a file that does not fit is not read, and the error names the file and the field', () => {
    const path = join(dir, 'iter_record.json');
    writeFileSync(path, JSON.stringify({ iter: 'zero' }));
    expect(() => readRecord(IterRecordSchema, path)).toThrow(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: at iter: .*\\(not read\\)$`));
    writeFileSync(path, '{ not json');
    expect(() => readRecord(IterRecordSchema, path)).toThrow(`${path}: not valid JSON`);
  });
});

describe("a run's stored configuration", () => {
  it('is read back through RunConfigSchema: a stored config comes back equal, a field of the wrong type is named with its run', () => {
    const cfg = runConfig({ maxIters: 3, variantSalt: 'salt' });
    expect(parseRunConfig('run-a', JSON.parse(JSON.stringify(cfg)))).toEqual(cfg);
    expect(() => parseRunConfig('run-a', { ...cfg, maxCalls: '40' })).toThrow(/^run run-a: stored configuration at maxCalls: /);
    expect(() => parseRunConfig('run-a', { ...cfg, strategy: 'greedy' })).toThrow(/^run run-a: stored configuration at strategy: /);
  });
});
