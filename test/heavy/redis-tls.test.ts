/**
 * TLS: `rediss://` to a real redis-server listening with --tls-port and a certificate made by
 * the test, its CA given by config (VAULT_LOOP_REDIS_CA_FILE). Without the CA the certificate is
 * refused in one line; with it a whole loop runs.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { freshVault, runCli } from '../helpers/pipeline.js';
import { makeCertificates } from '../helpers/redis-servers.js';
import { fileRedisProcesses, proveRun, questionFiles } from './checks.js';

const TLS_PORT = 17040;
const PREFIX = 'vl-heavy-tls';
const { procs, children, clients } = fileRedisProcesses();

describe('Redis over TLS', () => {
  it('rediss:// with the CA file from config runs a whole loop; without it, one line about the certificate', async () => {
    const certs = makeCertificates(mkdtempSync(join(procs.dir, 'certs-')));
    const dir = mkdtempSync(join(procs.dir, 'tls-'));
    // prettier-ignore
    await procs.start(TLS_PORT, ['--port', '0', '--tls-port', String(TLS_PORT), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
      '--tls-cert-file', certs.cert, '--tls-key-file', certs.key, '--tls-ca-cert-file', certs.ca, '--tls-auth-clients', 'no']);
    const url = `rediss://127.0.0.1:${TLS_PORT}`;
    const vault = await freshVault(150, 43);
    const before = questionFiles(vault);
    const args = ['run', '--vault', vault, '--redis', url, '--prefix', PREFIX, '--progress', 'none', '--max-iters', '1', '--max-calls', '10', '--gen-batch-size', '3', '--gen-calls-per-iter', '2', '--judge-chunk-size', '3'];

    const refused = await runCli(args, { VAULT_LOOP_REDIS_TIMEOUT_MS: '5000' }, children);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(new RegExp(`TLS to Redis at ${url}/? failed: .*certificate.*redisCaFile`));
    expect(refused.out.trim().split('\n')).toHaveLength(1);

    const ok = await runCli(args, { VAULT_LOOP_REDIS_CA_FILE: certs.ca }, children);
    expect(ok.code, ok.out).toBe(0);
    const runId = /run (\S+) started/.exec(ok.out)![1]!;
    const client = new Redis({ host: '127.0.0.1', port: TLS_PORT, tls: { ca: readFileSync(certs.ca) } });
    clients.push(client);
    const proof = await proveRun({ vault, runId, redis: client, prefix: PREFIX, before, maxCalls: 10, maxIters: 1 });
    process.stderr.write(`tls: ${proof}\n`);
  });
});
