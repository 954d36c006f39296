/** The queue catalog: one definition per queue, hash-tagged keys, bounded retention, payloads validated at both ends. */
import type { ConnectionOptions } from 'bullmq';
import { QueueEvents, Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { createQueues, generateQueue, jobId, QUEUE_CATALOG, QUEUE_NAMES, STATELESS_QUEUES } from '../../src/queues/index.js';
import { bullPrefix } from '../../src/redis/index.js';
import { parsePayload } from '../../src/workers/errors.js';
import { fileRedis } from '../helpers/redis.js';

const redis = fileRedis('queues');

describe('queue catalog', () => {
  it('lists the seven queues, each with schemas and bounded defaults', () => {
    expect(QUEUE_NAMES).toEqual(['control', 'generate', 'render', 'judge', 'apply', 'revise', 'batch']);
    expect(STATELESS_QUEUES).toEqual(['generate', 'render', 'judge', 'revise', 'batch']);
    for (const q of QUEUE_CATALOG) {
      expect(q.defaults.attempts, q.name).toBeGreaterThan(1);
      // Bounded by a count (a bare `true` would drop the results flows and late retries read at once).
      for (const keep of [q.defaults.removeOnComplete, q.defaults.removeOnFail] as { count?: number; age?: number }[]) {
        expect(keep.count, q.name).toBeGreaterThan(0);
        expect(keep.count, q.name).toBeLessThanOrEqual(5000);
      }
      expect(['exponential', 'fixed'], q.name).toContain((q.defaults.backoff as { type: string }).type);
      expect((q.defaults.backoff as { delay: number }).delay, q.name).toBeGreaterThanOrEqual(1000);
      expect(typeof q.payload.safeParse).toBe('function');
      expect(typeof q.result.safeParse).toBe('function');
    }
  });

  it('job ids are deterministic, without ":" and never all digits', () => {
    expect(jobId('20261125_120000', 'i0', 'c3')).toBe('20261125_120000-i0-c3');
    expect(jobId('a:b', 1)).toBe('a_b-1');
    expect(jobId(123)).toBe('j-123');
  });

  it('keys live under the {prefix} hash tag', async () => {
    const queues = createQueues({ connection: redis.options as ConnectionOptions, prefix: redis.prefix });
    await queues.control.add('plan', { runId: 'r1', iter: 0, step: 'plan' }, { jobId: 'r1-i0-plan' });
    const keys = await redis.client.keys(`${bullPrefix(redis.prefix)}:control:*`);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every((k) => k.startsWith(`{${redis.prefix}}:control:`))).toBe(true);
    // The same id twice is one job.
    await queues.control.add('plan', { runId: 'r1', iter: 0, step: 'plan' }, { jobId: 'r1-i0-plan' });
    expect(await queues.control.count()).toBe(1);
    await queues.close();
  });

  it('a worker refuses a bad payload for good, with a readable reason', async () => {
    const queues = createQueues({ connection: redis.options as ConnectionOptions, prefix: redis.prefix });
    const worker = new Worker(generateQueue.name, async (job) => parsePayload(generateQueue.payload, job), { connection: redis.options as ConnectionOptions, prefix: bullPrefix(redis.prefix) });
    const events = new QueueEvents(generateQueue.name, { connection: redis.options as ConnectionOptions, prefix: bullPrefix(redis.prefix) });
    await events.waitUntilReady();
    const job = await queues.generate.add('cell', { runId: 'r1', iter: 0, cellIndex: -1 } as never, { attempts: 3 });
    await expect(job.waitUntilFinished(events, 10_000)).rejects.toThrow(/invalid generate payload/);
    const failed = await queues.generate.getJob(job.id!);
    expect(failed!.attemptsMade).toBe(1); // unrecoverable: no retries
    expect(failed!.failedReason).toMatch(/cellIndex/);
    await worker.close();
    await events.close();
    await queues.close();
  });
});
