/**
 * --batch across host crashes, with real processes: `vault-loop run --batch` against the fake batch
 * APIs (served from this process) is SIGKILLed (its whole process group) twice and restarted with
 * --resume each time: first while its generate batch is being submitted (the provider accepted it,
 * its answer never reached the host, so no batch id was recorded), then while its judge batch is
 * in flight (id recorded, the provider still working). The fake keeps every batch in progress
 * until the test lets it end. Afterwards: no batch, input file or request was submitted twice,
 * every draft was judged once, the budget was never exceeded (sampled throughout), and the run
 * ended completed.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPromptBlock } from '../../src/llm/prompts.js';
import { BatchStore, type BatchRecord } from '../../src/scheduler/batches.js';
import { RunStore } from '../../src/state/run-state.js';
import { FakeBatchServer, type BatchProtocol } from '../helpers/fake-llm/index.js';
import { freshVault, offlineAnswerer, spawnCli } from '../helpers/pipeline.js';
import { isJudge } from '../helpers/provider-runs.js';
import { useTestRedis, type TestRedis } from '../helpers/redis.js';
import { collect, exited, proveRun, questionFiles, sleep, until } from './checks.js';

let redis: TestRedis;
const children: ChildProcess[] = [];
const servers: FakeBatchServer[] = [];
beforeAll(async () => {
  redis = await useTestRedis('batch-host-restart');
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) killGroup(c);
  await Promise.all(children.map(exited));
  for (const s of servers) await s.close();
  await redis?.cleanup();
});

const MAX_CALLS = 12;
const KEY = 'batch-restart-key';
const MODEL = { openai: 'gpt-4.1-mini', anthropic: 'claude-haiku-4-5' } as const;
const KEY_ENV = { openai: 'OPENAI_API_KEY', anthropic: 'ANTHROPIC_API_KEY' } as const;

/** SIGKILL to the host and everything it started. */
function killGroup(c: ChildProcess): void {
  try {
    process.kill(-c.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

const isGenerateBatch = (s: FakeBatchServer, id: string): boolean => JSON.stringify(s.batches.find((b) => b.id === id)?.items[0]?.body ?? '').includes('<cells>');

describe('--batch: a host killed with a batch in flight and restarted', () => {
  it.each(['openai', 'anthropic'] as const)('%s: nothing submitted twice, every draft judged once, the budget held, the run completed', async (protocol: BatchProtocol) => {
    const seed = protocol === 'openai' ? 41 : 42;
    const vault = await freshVault(300, seed);
    const before = questionFiles(vault);
    const server = await FakeBatchServer.start({ protocol, apiKey: KEY, answer: await offlineAnswerer(seed) });
    servers.push(server);
    // Every batch stays in progress until released; the first create is accepted but never answered.
    server.held = true;
    server.withholdNext('create');
    const env = { VAULT_LOOP_LOG_LEVEL: 'info', [KEY_ENV[protocol]]: KEY };
    const args = [
      '--vault', vault, '--progress', 'none', '--json', '--redis', redis.url, '--prefix', redis.prefix, '--lock-duration', '1500',
      '--provider', protocol, '--model', MODEL[protocol], '--base-url', server.baseUrl, '--batch', '--batch-poll', '200',
      '--max-iters', '1', '--max-calls', String(MAX_CALLS), '--gen-batch-size', '5', '--gen-calls-per-iter', '4', '--judge-chunk-size', '5',
      '--max-drop-rate', '1', '--seed', '3',
    ];
    const start = (extra: string[]) => {
      const c = spawnCli(['run', ...args, ...extra], env, { group: true });
      children.push(c);
      return { child: c, log: collect(c) };
    };
    let host = start([]);
    const runId = await until('the run id', 90_000, () => /run (\S+) started/.exec(host.log.err())?.[1]);
    const store = new RunStore(redis.client, redis.prefix);
    const batches = new BatchStore(redis.client, store.keys);
    const ofStage = async (stage: BatchRecord['stage']) => (await batches.list(runId)).filter((r) => r.stage === stage);
    // A wait that, when it times out, says where the run was: the host's log, the batch records, the fake's batches.
    const waitFor = async <T>(what: string, ms: number, pred: () => Promise<T | null | undefined | false> | T | null | undefined | false): Promise<T> =>
      await until(what, ms, pred).catch(async (e: Error) => {
        const recs = (await batches.list(runId)).map((r) => ({ name: r.name, status: r.status, parts: r.parts }));
        throw new Error(`${e.message}\nbatch records: ${JSON.stringify(recs)}\nfake batches: ${JSON.stringify(server.batches.map((b) => ({ id: b.id, items: b.items.length, held: b.held })))}\nhost: ${host.log.err().slice(-3000)}`);
      });

    // The budget, sampled all along: calls made plus calls reserved never above the limit.
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const s = await store.get(runId);
        if (s) peak = Math.max(peak, s.callsUsed + s.callsReserved);
        await sleep(50);
      }
    })();

    try {
      // 1. The provider accepted the generate batch; the host never heard back. Kill it there.
      await waitFor('the generate batch accepted', 240_000, () => server.withheld.length === 1);
      const [lost] = await ofStage('generate');
      expect(lost?.status).toBe('reserved');
      expect(lost?.parts.map((x) => [x.submittingAt !== undefined, x.providerId])).toEqual([[true, undefined]]);
      killGroup(host.child);
      await exited(host.child);

      // The restarted host finds the accepted batch at the provider instead of sending it again.
      host = start(['--resume', runId]);
      const adopted = await waitFor('the lost submission adopted', 240_000, async () => (await ofStage('generate'))[0]?.parts[0]?.providerId);
      expect(adopted).toBe(server.batches[0]!.id);
      expect(server.batches.length).toBe(1);

      // 2. Let generation end (later generate batches too); kill the host once its judge batch is in flight.
      // In flight: sent, its id recorded, and the provider reported it in progress at a poll.
      await waitFor('the judge batch in flight', 240_000, async () => {
        for (const b of server.batches) if (isGenerateBatch(server, b.id)) server.release(b.id);
        const judge = await ofStage('judge');
        return judge.length > 0 && judge.every((r) => r.status === 'submitted' && r.parts.every((x) => x.providerId && x.providerStatus === 'in_progress'));
      });
      killGroup(host.child);
      await exited(host.child);

      host = start(['--resume', runId]);
      await waitFor('the resumed host', 120_000, () => host.log.err().includes(`resuming run ${runId}`));
      server.release();
      const code = await Promise.race([exited(host.child), sleep(300_000).then(() => -99)]);
      sampling = false;
      await sampler;
      expect(code, host.log.err().slice(-3000)).toBe(0);

      // Nothing submitted twice: one create per idempotency key, one upload per input file, each request in one batch.
      expect(server.violations).toEqual([]);
      if (protocol === 'openai') {
        expect([...server.createsPerKey().values()].every((n) => n === 1), JSON.stringify([...server.createsPerKey()])).toBe(true);
        expect([...server.uploadsPerName().values()].every((n) => n === 1), JSON.stringify([...server.uploadsPerName()])).toBe(true);
        expect(server.uploads.length).toBe(server.batches.length);
      }
      const sends = server.customIdSends();
      expect([...sends.entries()].filter(([, n]) => n > 1)).toEqual([]);
      const recs = await batches.list(runId);
      expect(recs.every((r) => r.status === 'ended')).toBe(true);
      expect(recs.flatMap((r) => r.parts.map((x) => x.providerId)).sort()).toEqual(server.batches.map((b) => b.id).sort());
      expect(recs.reduce((n, r) => n + r.items.length, 0)).toBe(sends.size);
      // No batch item failed, so no call went live.
      expect(server.live).toEqual([]);

      // Every draft judged once: each draft id in exactly one judge request the provider answered, with one verdict.
      const drafts = await store.drafts(runId);
      const verdicts = await store.verdicts(runId);
      expect(drafts.size).toBeGreaterThan(0);
      const judgedIds = server.answered.filter(isJudge).flatMap((r) => (readPromptBlock(r.prompt ?? '', 'drafts') as { id: string }[]).map((d) => d.id));
      expect(judgedIds.sort()).toEqual([...drafts.keys()].sort());
      expect([...verdicts.keys()].sort()).toEqual([...drafts.keys()].sort());

      // The budget: never above the limit; every call the provider billed counted once; nothing left reserved.
      const run = (await store.get(runId))!;
      expect(run.status, run.stopReason ?? '').toBe('completed');
      expect(peak).toBeLessThanOrEqual(MAX_CALLS);
      expect(run.callsUsed).toBe(server.answered.length);
      expect(run.callsReserved).toBe(0);
      await proveRun({ vault, runId, redis: redis.client, prefix: redis.prefix, before, maxCalls: MAX_CALLS, maxIters: 1 });
    } finally {
      sampling = false;
      await sampler;
      // A host left running by a failed check would serve the next test's batch jobs (same prefix) without its key.
      if (host.child.exitCode === null && host.child.signalCode === null) {
        killGroup(host.child);
        await exited(host.child);
      }
    }
  }, 900_000);
});
