/**
 * Real redis-server processes for the deployment tests: a 3-master cluster, a primary + replica +
 * three sentinels, a TLS server with a certificate made here. Ports come from the range the heavy
 * Redis tests own (17000-17099); every process started is stopped by `stopAll()`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitFor } from './wait.js';

export class RedisProcesses {
  readonly #children = new Map<number, ChildProcess>();
  readonly dir = mkdtempSync(join(tmpdir(), 'vl-redis-procs-'));

  /** Starts `redis-server` with `args` (a config file first, when given) and waits until it is ready. */
  async start(port: number, args: string[], ready = /ready to accept connections/i): Promise<ChildProcess> {
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#children.set(port, child);
    let out = '';
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`redis-server on ${port} not ready in 30 s:\n${out.slice(-2000)}`)), 30_000);
      const onData = (d: Buffer) => {
        out += d.toString();
        if (ready.test(out)) {
          clearTimeout(timer);
          res();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        rej(new Error(`redis-server on ${port} exited with ${code}:\n${out.slice(-2000)}`));
      });
    });
    return child;
  }

  /** A plain server: `--port P --bind 127.0.0.1`, no persistence, its own folder. */
  async startPlain(port: number, extra: string[] = []): Promise<ChildProcess> {
    const dir = mkdtempSync(join(this.dir, `p${port}-`));
    return await this.start(port, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', ...extra]);
  }

  /** Kills one server (SIGKILL: a crash, not a shutdown) and waits for it to be gone. */
  async kill(port: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#children.get(port);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((res) => {
      child.once('exit', () => res());
      child.kill(signal);
    });
  }

  /** Sends a signal (SIGSTOP: a server that stops answering but keeps its connections). */
  signal(port: number, signal: NodeJS.Signals): void {
    this.#children.get(port)?.kill(signal);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#children.keys()].map((p) => this.kill(p)));
  }
}

/**
 * A 3-master cluster on `ports` (bus ports `busPorts`), slots assigned by `redis-cli --cluster create`.
 * Resolves when every node reports `cluster_state:ok`.
 */
export async function startCluster(procs: RedisProcesses, ports: number[], busPorts: number[]): Promise<void> {
  for (const [i, port] of ports.entries()) {
    await procs.startPlain(port, ['--cluster-enabled', 'yes', '--cluster-port', String(busPorts[i]), '--cluster-config-file', join(procs.dir, `nodes-${port}.conf`), '--cluster-node-timeout', '5000']);
  }
  const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 60_000 });
  if (create.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${create.stdout}\n${create.stderr}`);
  for (const port of ports) await waitFor(async () => /cluster_state:ok/.test(await command(port, ['CLUSTER', 'INFO'])), `cluster node ${port} ok`);
}

/** The port of the cluster node that owns `key`'s slot. */
export async function ownerOf(anyPort: number, key: string): Promise<number> {
  const c = new Redis({ port: anyPort, host: '127.0.0.1', lazyConnect: true });
  try {
    await c.connect();
    const slot = Number(await c.call('CLUSTER', 'KEYSLOT', key));
    const slots = (await c.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
    const range = slots.find(([from, to]) => slot >= from && slot <= to);
    if (!range) throw new Error(`no node owns slot ${slot}`);
    return range[2][1];
  } finally {
    c.disconnect();
  }
}

/** Runs one command on 127.0.0.1:port and returns its reply as text. */
export async function command(port: number, args: string[], extra: Record<string, unknown> = {}): Promise<string> {
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...extra });
  c.on('error', () => {});
  try {
    await c.connect();
    const r = await c.call(args[0]!, ...args.slice(1));
    return typeof r === 'string' ? r : JSON.stringify(r);
  } catch (e) {
    return `ERROR ${(e as Error).message}`;
  } finally {
    c.disconnect();
  }
}

/** A primary, a replica of it and three sentinels watching it as `master`. */
export async function startSentinelSet(procs: RedisProcesses, ports: { primary: number; replica: number; sentinels: number[] }, master = 'vlmaster'): Promise<void> {
  await procs.startPlain(ports.primary, ['--appendonly', 'yes', '--appendfsync', 'always']);
  await procs.startPlain(ports.replica, ['--replicaof', '127.0.0.1', String(ports.primary), '--appendonly', 'yes', '--appendfsync', 'always']);
  await waitFor(async () => /master_link_status:up/.test(await command(ports.replica, ['INFO', 'replication'])), 'replica in sync');
  for (const port of ports.sentinels) {
    const conf = join(procs.dir, `sentinel-${port}.conf`);
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${procs.dir}`,
        `sentinel monitor ${master} 127.0.0.1 ${ports.primary} 2`,
        `sentinel down-after-milliseconds ${master} 2000`,
        `sentinel failover-timeout ${master} 10000`,
        `sentinel parallel-syncs ${master} 1`,
        '',
      ].join('\n'),
    );
    await procs.start(port, [conf, '--sentinel'], /Sentinel ID is|monitor master/i);
  }
  // Every sentinel knows the others and the replica before a failover can be agreed on.
  for (const port of ports.sentinels) {
    await waitFor(async () => {
      const info = await command(port, ['SENTINEL', 'MASTER', master]);
      return /"num-other-sentinels","2"/.test(info) && /"num-slaves","1"/.test(info);
    }, `sentinel ${port} sees the others`);
  }
}

/** A CA and a server certificate for 127.0.0.1 / localhost, made with openssl. */
export function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const run = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=vault-loop test CA', '-keyout', 'ca.key', '-out', 'ca.crt']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr']);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.crt']);
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
}
