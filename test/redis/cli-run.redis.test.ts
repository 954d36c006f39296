/**
 * The CLI around a run, one whole run through it: live progress and the summary table, the judge
 * flags reaching the run, clear errors for unknown runs and bad flags. Ctrl-C then `--resume`,
 * status / pause / resume / stop / retry from another terminal, `--dashboard` and the demo are
 * whole runs each: test/heavy/cli-run-control.test.ts.
 */
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fileRedis } from '../helpers/redis.js';
import { join } from 'node:path';
import { readJson, runDir } from '../../src/scheduler/records.js';
import { freshVault, runCli } from '../helpers/pipeline.js';

const children: ChildProcess[] = [];
const redis = fileRedis('cli', { children });
const cli = (args: string[]) => runCli(args, {}, children);

const conn = () => ['--redis', redis.url, '--prefix', redis.prefix];
const small = ['--gen-batch-size', '4', '--gen-calls-per-iter', '2', '--judge-chunk-size', '4', '--batch-window', '50'];

describe('vault-loop run (CLI)', () => {
  it('shows progress lines, prints the summary table, exits 0', async () => {
    const vault = await freshVault(300, 31);
    const r = await cli(['run', '--vault', vault, '--max-iters', '2', '--max-calls', '30', '--progress', 'plain', ...small, ...conn()]);
    expect(r.code, r.out).toBe(0);
    // Iterations are numbered from 0 as the records number them; a running run shows its bare phase.
    expect(r.out).toMatch(/\d\d:\d\d:\d\d iter 0 \(max 2\) {2}[a-z-]+ {2}calls \d+\/30/);
    // Not a terminal: laid out for 80 columns (short headers, explained below the table).
    expect(r.out).toMatch(/iter\s+top cell\s+prio\s+plan\s+gen\s+PASS\s+NF\s+drop/);
    expect(r.out).toContain('NF = NEEDS_FIX,');
    expect(r.out.split('\n').filter((l) => l.length > 80 && !/^\d\d:\d\d:\d\d /.test(l))).toEqual([]);
    expect(r.out).toContain('stopped: max iterations reached');
    expect(r.out).toMatch(/records[^:\n]*:\s+\S*coverage_loop/);
  });

  it('--judge-provider/--judge-model/--judge-base-url/--judge-temperature reach the run; the judge being the generator is warned about', async () => {
    const vault = await freshVault(300, 33);
    const keys = { OPENAI_API_KEY: 'sk-x', ANTHROPIC_API_KEY: 'sk-y' };
    const dry = ['--dry-run', '--max-iters', '1', '--progress', 'none', '--json', ...conn()];
    // prettier-ignore
    const apart = await runCli(['run', '--vault', vault, '--provider', 'openai', '--model', 'gen-m', '--judge-provider', 'anthropic', '--judge-model', 'judge-m',
      '--judge-base-url', 'http://127.0.0.1:9/judge', '--judge-temperature', '0.3', ...dry], keys, children);
    expect(apart.code, apart.out).toBe(0);
    expect(apart.out).not.toContain('warning: the judge is the generator');
    const runId = (JSON.parse(apart.out.slice(apart.out.indexOf('{\n'))) as { run_id: string }).run_id;
    const runJson = readJson<{ generator: unknown; judge: unknown; config: Record<string, unknown> }>(join(runDir(vault, runId), 'run.json'))!;
    expect(runJson.generator).toEqual({ provider: 'openai', model: 'gen-m' });
    expect(runJson.judge).toEqual({ provider: 'anthropic', model: 'judge-m' });
    expect(runJson.config).toMatchObject({ judgeProvider: 'anthropic', judgeModel: 'judge-m', judgeBaseUrl: 'http://127.0.0.1:9/judge', judgeTemperature: 0.3 });
    const same = await runCli(['run', '--vault', vault, '--provider', 'openai', '--model', 'gen-m', ...dry], keys, children);
    expect(same.code, same.out).toBe(0);
    expect(same.out).toContain('vault-loop: warning: the judge is the generator (openai gen-m): models tend to rate their own drafts higher; consider --judge-provider/--judge-model');
  });

  it('unknown runs and bad flags get one clear line and a non-zero exit', async () => {
    const r = await cli(['pause', 'no-such-run', ...conn()]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('run no-such-run is not known to Redis');
    const bad = await cli(['run', '--vault', '/nonexistent/vault', ...conn()]);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('vault folder /nonexistent/vault does not exist');
    const flag = await cli(['run', '--vault', '.', '--max-calls', 'lots']);
    expect(flag.code).not.toBe(0);
    expect(flag.out).toContain('--max-calls expects a whole number, got "lots"');
  });
});
