/**
 * A test file's dashboard over its own Redis: one operator and one viewer bearer token, started once
 * the file's run is in Redis, closed after the file (before the file's Redis is cleaned).
 */
import { afterAll } from 'vitest';
import { type RunningDashboard, startDashboard } from '../../dashboard/index.js';
import { fileRedis, type TestRedis } from './redis.js';

export interface FileDashboard {
  redis: TestRedis;
  /** Bearer token of the operator (may press the control buttons). */
  operator: string;
  /** Bearer token of the read-only viewer. */
  viewer: string;
  /** Starts the dashboard (loopback, a free port) with both tokens; the same one on a second call. */
  open(): Promise<RunningDashboard>;
}

export function fileDashboard(name: string): FileDashboard {
  const redis = fileRedis(name);
  let dash: Promise<RunningDashboard> | undefined;
  const file: FileDashboard = {
    redis,
    operator: `operator-token-${name}`,
    viewer: `viewer-token-${name}`,
    open: () => (dash ??= startDashboard({ target: { options: redis.options }, prefix: redis.prefix, port: 0, token: file.operator, viewerToken: file.viewer })),
  };
  afterAll(async () => {
    await (await dash?.catch(() => undefined))?.close();
  });
  return file;
}
