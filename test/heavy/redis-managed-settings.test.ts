/**
 * The managed-Redis recipe's one setting that matters, `maxmemory-policy noeviction`: against a
 * real redis-server started with an evicting policy (a common managed default), every command
 * says so once on stderr, with the fix, and still works; with noeviction it says nothing.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/pipeline.js';
import { fileRedisProcesses } from './checks.js';

const PORTS = { evicting: 17060, safe: 17061 };
const { procs, children } = fileRedisProcesses();

describe('managed Redis settings', () => {
  it('an evicting maxmemory-policy gets one warning naming noeviction; noeviction gets none', async () => {
    // The later --maxmemory-policy wins: the server runs with volatile-lru.
    await procs.startPlain(PORTS.evicting, ['--maxmemory-policy', 'volatile-lru']);
    await procs.startPlain(PORTS.safe);
    const status = (port: number) => runCli(['status', '--redis', `redis://127.0.0.1:${port}`, '--prefix', 'vl-heavy-managed'], {}, children);
    const evicting = await status(PORTS.evicting);
    expect(evicting.code, evicting.out).toBe(0);
    const warnings = evicting.out.split('\n').filter((l) => l.includes('warning'));
    expect(warnings).toEqual([
      `vault-loop: warning: redis://127.0.0.1:${PORTS.evicting} has maxmemory-policy volatile-lru: set it to noeviction (CONFIG SET maxmemory-policy noeviction, or the parameter group of a managed Redis), or queued jobs and run state may be evicted under memory pressure`,
    ]);
    const safe = await status(PORTS.safe);
    expect(safe.code, safe.out).toBe(0);
    expect(safe.out).not.toContain('warning');
  });
});
