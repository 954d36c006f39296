/**
 * A real Redis for each test file: REDIS_URL, else 127.0.0.1:6379, else a redis-server spawned
 * on a free port. Each file gets its own key prefix; `cleanup()` deletes only that prefix's keys
 * (never FLUSHALL a shared Redis) and closes everything.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { DEFAULT_LOCAL_URL, deleteByPattern, EmbeddedRedis, optionsFromUrl, pingRedis } from '../../src/redis/index.js';

export interface TestRedis {
  options: RedisOptions;
  /** redis:// or unix:// URL for child processes. */
  url: string;
  /** The name the test file gave (made safe for keys). */
  name: string;
  /** Unique per test file; pass as config `prefix`. */
  prefix: string;
  /** A plain client for assertions (closed by cleanup). */
  client: Redis;
  cleanup(): Promise<void>;
}

let shared: Promise<{ options: RedisOptions; url: string; embedded?: EmbeddedRedis }> | undefined;

async function locate(): Promise<{ options: RedisOptions; url: string; embedded?: EmbeddedRedis }> {
  if (process.env.REDIS_URL) return { options: optionsFromUrl(process.env.REDIS_URL), url: process.env.REDIS_URL };
  const local = optionsFromUrl(DEFAULT_LOCAL_URL);
  if (await pingRedis(local)) return { options: local, url: DEFAULT_LOCAL_URL };
  const embedded = await EmbeddedRedis.start({ dir: mkdtempSync(join(tmpdir(), 'vl-test-redis-')), mode: 'tcp', appendOnly: false });
  const port = embedded.options.port!;
  return { options: embedded.options, url: `redis://127.0.0.1:${port}`, embedded };
}

export async function useTestRedis(name: string): Promise<TestRedis> {
  shared ??= locate();
  const { options, url } = await shared;
  const safe = name.replace(/[^A-Za-z0-9_.-]/g, '-');
  const prefix = `vltest-${safe}-${randomBytes(4).toString('hex')}`;
  const client = new Redis({ ...options, maxRetriesPerRequest: 3 });
  return {
    options,
    url,
    name: safe,
    prefix,
    client,
    async cleanup() {
      await deleteByPattern(client, `*${prefix}*`);
      client.disconnect();
    },
  };
}

/**
 * The Redis of a test file (or of a describe block, when called inside one): `const redis =
 * fileRedis('name')` opens it before the first test and deletes its keys after the last. The
 * object is filled in by beforeAll, so read its fields inside tests and hooks only. `children`:
 * processes the tests started, killed first if still running.
 */
export function fileRedis(name: string, opts: { children?: ChildProcess[] } = {}): TestRedis {
  const handle = {} as TestRedis;
  beforeAll(async () => {
    Object.assign(handle, await useTestRedis(name));
  });
  afterAll(async () => {
    for (const c of opts.children ?? []) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await handle.cleanup?.();
  });
  return handle;
}

export { deleteByPattern };
