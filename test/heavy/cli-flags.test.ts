/**
 * `vault-loop run` flags, from the command line to the run's records: every flag lands in
 * run.json's stored configuration (with its hash and seed), the judge summary carries the
 * original's fields, and with no Redis at all (nothing answers, no `redis-server` on PATH) the CLI
 * says how to get one and exits non-zero, leaving the vault as it was.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configHash } from '../../src/host/corpus-host.js';
import { readJson, runDir } from '../../src/scheduler/records.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { FakeLlmServer } from '../helpers/fake-llm/index.js';
import { freshVault, offlineAnswerer, readRecords, runCli, runToEnd, startCli, testConfig, vaultSnapshot } from '../helpers/pipeline.js';
import { fileRedis } from '../helpers/redis.js';

const redis = fileRedis('cli-flags');

interface RunJson {
  run_id: string;
  config: Record<string, unknown>;
  config_hash: string;
  seed: number;
  kind: string;
  prompts: Record<string, string>;
  generator: { provider: string; model: string };
}

describe('vault-loop run flags', () => {
  it('every planning, budget and provider flag lands in run.json, with the configuration hash and the seed', async () => {
    const vault = await freshVault(300, 61);
    // prettier-ignore
    const flags = [
      '--max-iters', '2', '--max-calls', '33', '--gen-batch-size', '4', '--gen-calls-per-iter', '3', '--judge-chunk-size', '6',
      '--gap-threshold', '0.25', '--max-drop-rate', '0.45', '--visual-each-iter', '--strategy', 'reference', '--seed', '7',
      '--variant-salt', 'flags-salt', '--offline-latency', '5', '--offline-defect-rate', '0.2', '--offline-defect-kinds', 'form,near-copy',
      '--allow-python-visuals', '--revise', '--max-revisions', '2', '--batch-window', '150', '--temperature', '0.9', '--judge-temperature', '0.1',
    ];
    const r = await runCli(['run', '--vault', vault, '--dry-run', '--workers', '3', '--progress', 'none', '--json', ...flags, '--redis', redis.url, '--prefix', redis.prefix]);
    expect(r.code, r.out).toBe(0);
    const runId = (JSON.parse(r.out.slice(r.out.indexOf('{\n'))) as { run_id: string }).run_id;
    const runJson = readJson<RunJson>(join(runDir(vault, runId), 'run.json'))!;
    expect(runJson.config).toMatchObject({
      maxIters: 2,
      maxCalls: 33,
      genBatchSize: 4,
      genCallsPerIter: 3,
      judgeChunkSize: 6,
      gapThreshold: 0.25,
      maxDropRate: 0.45,
      visualEachIter: true,
      strategy: 'reference',
      seed: 7,
      variantSalt: 'flags-salt',
      offlineLatencyMs: 5,
      offlineDefectRate: 0.2,
      offlineDefectKinds: ['form', 'near-copy'],
      allowPythonVisuals: true,
      revise: true,
      maxRevisions: 2,
      batchWindowMs: 150,
      temperature: 0.9,
      judgeTemperature: 0.1,
      dryRun: true,
    });
    expect(runJson.seed).toBe(7);
    expect(runJson.kind).toBe('loop');
    expect(runJson.config_hash).toBe(configHash(runJson.config));
    expect(runJson.config_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(runJson.prompts).length).toBeGreaterThan(0);
    for (const h of Object.values(runJson.prompts)) expect(h).toMatch(/^[0-9a-f]{64}$/);
    // The reference strategy planned this run, and the dry run spent nothing.
    const rec = readRecords(vault, runId);
    expect(rec.summary.calls_used_total).toBe(0);
    expect(rec.iters.length).toBeGreaterThan(0);
    for (const it of rec.iters) expect((readJson<{ strategy: string }>(join(it.dir, 'report.json')) ?? { strategy: '' }).strategy).toBe('reference');
  }, 120_000);

  it("judge_summary.json, iter_record.json and loop_summary.json carry the original's fields; every key of the run is under the {prefix} hash tag", async () => {
    const vault = await freshVault(300, 62);
    const { runId, state, host } = await runToEnd(redis, testConfig(redis, vault, { maxIters: 1, maxCalls: 20, offlineDefectRate: 0.5, offlineDefectKinds: ['form', 'wrong-arithmetic'] }));
    await host.close();
    expect(state.status).toBe('completed');
    const judge = readRecords(vault, runId).iters[0]!.judge!;
    expect(judge.model).toMatch(/^offline/);
    expect(judge.n_judged).toBe(judge.verdicts.PASS + judge.verdicts.NEEDS_FIX + judge.verdicts.DROP);
    expect(judge.n_judged).toBeGreaterThan(0);
    expect(judge.pass_rate).toBe(Number((judge.verdicts.PASS / judge.n_judged).toFixed(4)));
    expect(judge.drop_rate).toBe(Number((judge.verdicts.DROP / judge.n_judged).toFixed(4)));
    expect(new Date(judge.generated_at).toISOString()).toBe(judge.generated_at);
    expect(judge.details).toHaveLength(judge.n_judged);
    const rec = readRecords(vault, runId);
    const it0 = rec.iters[0]!.record!;
    expect(it0.pass_rate).toBe(judge.pass_rate);
    expect(it0.drop_rate).toBe(judge.drop_rate);
    expect(it0.generated).toBe(judge.n_items);
    expect(new Date(rec.summary.generated_at).toISOString()).toBe(rec.summary.generated_at);
    expect(rec.summary.history).toEqual([it0]);
    // Redis Cluster keeps one run on one slot: every key this run wrote carries the hash tag.
    const keys = (await redis.client.keys(`*${redis.prefix}*`)).sort();
    expect(keys.length).toBeGreaterThan(10);
    expect(keys.filter((k) => !k.startsWith(`{${redis.prefix}}:`))).toEqual([]);
  }, 120_000);
});

describe('run --workers N, worker --concurrency N', () => {
  it('set how many judge chunks a process works on at once (counted in flight on the judge server)', async () => {
    /** `workers`: `run --workers N`; or `{ concurrency }`: `run --no-workers` beside `vault-loop worker --concurrency N`. */
    const maxInFlight = async (workers: number | { concurrency: number }): Promise<number> => {
      const vault = await freshVault(300, 64);
      const offline = await offlineAnswerer(64);
      let inFlight = 0;
      let max = 0;
      const server = await FakeLlmServer.start({
        protocol: 'openai',
        apiKey: 'sk-workers',
        answer: async (req) => {
          max = Math.max(max, ++inFlight);
          await new Promise((r) => setTimeout(r, 400));
          inFlight--;
          return await offline(req);
        },
      });
      const conn = ['--redis', redis.url, '--prefix', redis.prefix];
      const env = { OPENAI_API_KEY: 'sk-workers' };
      const worker = typeof workers === 'number' ? undefined : startCli(['worker', '--queues', 'generate,judge,render', '--concurrency', String(workers.concurrency), ...conn], env);
      try {
        // prettier-ignore
        const r = await runCli(['run', '--vault', vault, ...(typeof workers === 'number' ? ['--workers', String(workers)] : ['--no-workers']), '--max-iters', '1', '--max-calls', '40', '--gen-batch-size', '5', '--gen-calls-per-iter', '2',
          '--judge-chunk-size', '2', '--judge-provider', 'openai', '--judge-model', 'judge-model', '--judge-base-url', server.baseUrl, '--progress', 'none',
          ...conn], env);
        expect(r.code, r.out).toBe(0);
        expect(server.requests.length).toBeGreaterThanOrEqual(4);
        return max;
      } finally {
        worker?.child.kill('SIGTERM');
        await worker?.exit;
        await server.close();
      }
    };
    expect(await maxInFlight(1)).toBe(1);
    const three = await maxInFlight(3);
    expect(three).toBeGreaterThanOrEqual(2);
    expect(three).toBeLessThanOrEqual(3);
    // The same bound for a separate worker process: `worker --concurrency 1`.
    expect(await maxInFlight({ concurrency: 1 })).toBe(1);
  }, 240_000);
});

describe('no Redis anywhere', () => {
  it('with nothing answering and no redis-server on PATH, run says how to get one, exits 1, and the vault is unchanged', async () => {
    const unshare = spawnSync('sh', ['-c', 'command -v unshare'], { encoding: 'utf8' }).stdout.trim();
    const probe = spawnSync(unshare || 'unshare', ['-n', 'true']);
    if (probe.status !== 0) throw new Error(`this test needs \`unshare -n\` (a network namespace) to hide 127.0.0.1:6379; it failed: ${String(probe.stderr)}`);
    const vault = await freshVault(300, 63);
    const before = vaultSnapshot(vault);
    // A PATH with node alone: no redis-server to embed.
    const bin = mkdtempSync(join(tmpdir(), 'vl-nopath-'));
    symlinkSync(process.execPath, join(bin, 'node'));
    const env: NodeJS.ProcessEnv = { PATH: bin, HOME: process.env.HOME ?? '/tmp', VAULT_LOOP_LOG_LEVEL: 'warn' };
    const child = spawn(unshare, ['-n', join(bin, 'node'), join(PROJECT_ROOT, 'bin', 'vault-loop.js'), 'run', '--vault', vault, '--max-iters', '1', '--progress', 'none'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
    expect(code, out).toBe(1);
    expect(out).toContain('No Redis is reachable and `redis-server` is not on PATH.');
    expect(out).toContain('REDIS_URL');
    expect(out).toContain('apt-get install redis-server');
    expect(out).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/); // no stack trace
    expect(vaultSnapshot(vault)).toBe(before);
  }, 120_000);
});
