/**
 * Redis discovery and connections, made in one place.
 * Order: an explicit URL (--redis / REDIS_URL); else 127.0.0.1:6379 if it answers; else an
 * embedded `redis-server` from PATH on a unix socket (AOF on, so a restarted run resumes);
 * else one clear message saying how to get one.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';

export const DEFAULT_LOCAL_URL = 'redis://127.0.0.1:6379';

export interface RedisTarget {
  /** ioredis options that reach the server (host/port or path). */
  options: RedisOptions;
  /** A human description: URL or socket path. */
  describe: string;
  /** Present when we started the server ourselves. */
  embedded?: EmbeddedRedis;
}

export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
}

export function optionsFromUrl(url: string): RedisOptions {
  const u = new URL(url);
  if (u.protocol === 'unix:' || u.protocol === 'redis+unix:') {
    return { path: decodeURIComponent(u.pathname) };
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new RedisUnavailableError(`unsupported Redis URL scheme "${u.protocol}" (use redis://, rediss:// or unix://)`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db !== undefined && Number.isInteger(db) ? { db } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/** Does something answer PING at these options within `timeoutMs`? */
export async function pingRedis(options: RedisOptions, timeoutMs = 1000): Promise<boolean> {
  // No ready check (INFO): the PING below is the check, and every CLI start that looks for Redis pays it.
  const client = new Redis({ ...options, lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export function redisServerOnPath(): boolean {
  const r = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return r.status === 0;
}

export interface EmbeddedRedisOptions {
  /** Data folder (AOF lives here). */
  dir: string;
  /** Listen on a unix socket in `dir` (default) or on a free TCP port. */
  mode?: 'socket' | 'tcp';
  appendOnly?: boolean;
  /** TCP port to use (mode tcp); default a free one. */
  port?: number;
}

export class EmbeddedRedis {
  readonly #child: ChildProcess;
  readonly options: RedisOptions;
  readonly describe: string;
  readonly args: string[];

  private constructor(child: ChildProcess, options: RedisOptions, describe: string, args: string[]) {
    this.#child = child;
    this.options = options;
    this.describe = describe;
    this.args = args;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  static async start(opts: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
    if (!redisServerOnPath()) throw new RedisUnavailableError(noRedisMessage());
    mkdirSync(opts.dir, { recursive: true });
    const mode = opts.mode ?? 'socket';
    let socketPath = join(opts.dir, 'redis.sock');
    // Unix socket paths are limited to ~107 bytes; fall back to a short temp folder, and leave its
    // path in the data folder so other commands on the same vault find the server.
    if (mode === 'socket' && Buffer.byteLength(socketPath) > 100) {
      socketPath = join(mkdtempSync(join(tmpdir(), 'vl-')), 'redis.sock');
      writeFileSync(join(opts.dir, SOCKET_POINTER), socketPath + '\n');
    }
    const port = mode === 'tcp' ? (opts.port ?? (await freePort())) : 0;
    const args = [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', opts.dir,
      '--appendonly', opts.appendOnly === false ? 'no' : 'yes',
      '--save', '',
      '--maxmemory-policy', 'noeviction',
      '--daemonize', 'no',
    ];
    if (mode === 'socket') args.push('--unixsocket', socketPath, '--unixsocketperm', '700');
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const options: RedisOptions = mode === 'socket' ? { path: socketPath } : { host: '127.0.0.1', port };
    const describe = mode === 'socket' ? `unix://${socketPath} (embedded redis-server, pid ${child.pid})` : `redis://127.0.0.1:${port} (embedded redis-server, pid ${child.pid})`;
    await new Promise<void>((resolveReady, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new RedisUnavailableError(`embedded redis-server did not become ready in 10 s:\n${out.slice(-2000)}`)), 10_000);
      const onData = (d: Buffer) => {
        out += d.toString();
        if (/ready to accept connections/i.test(out)) {
          clearTimeout(timer);
          resolveReady();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new RedisUnavailableError(`embedded redis-server exited with code ${code}:\n${out.slice(-2000)}`));
      });
    });
    child.stdout!.resume();
    child.stderr!.resume();
    return new EmbeddedRedis(child, options, describe, args);
  }

  /** Stops the server (SHUTDOWN NOSAVE semantics are not needed: AOF is fsynced every second). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    await new Promise<void>((res) => {
      this.#child.once('exit', () => res());
      this.#child.kill(signal);
    });
  }
}

/** File in an embedded server's data folder naming its socket when the socket lives elsewhere. */
const SOCKET_POINTER = 'redis.sock.path';

/** The socket an embedded server of data folder `dir` listens on: `dir/redis.sock`, or where its pointer says. */
export function embeddedSocketOf(dir: string): string {
  const pointer = join(dir, SOCKET_POINTER);
  if (existsSync(pointer)) {
    const p = readFileSync(pointer, 'utf8').trim();
    if (p) return p;
  }
  return join(dir, 'redis.sock');
}

export function noRedisMessage(): string {
  return [
    'No Redis is reachable and `redis-server` is not on PATH.',
    'Either set REDIS_URL (or pass --redis redis://host:6379) to a running Redis 6.2+,',
    'or install one: `apt-get install redis-server` (Debian/Ubuntu), `brew install redis` (macOS).',
  ].join('\n');
}

export async function freePort(): Promise<number> {
  return await new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

/**
 * Finds Redis as described at the top of this file. `embeddedDir` is where an embedded server
 * keeps its socket and AOF (the vault's `.vault-loop/redis`).
 */
export async function resolveRedis(opts: { url?: string; embeddedDir?: string; localUrl?: string }): Promise<RedisTarget> {
  if (opts.url) {
    const options = optionsFromUrl(opts.url);
    return { options, describe: redactUrl(opts.url) };
  }
  const localUrl = opts.localUrl ?? DEFAULT_LOCAL_URL;
  const local = optionsFromUrl(localUrl);
  if (await pingRedis(local)) return { options: local, describe: localUrl };
  if (!opts.embeddedDir) throw new RedisUnavailableError(noRedisMessage());
  const embedded = await EmbeddedRedis.start({ dir: opts.embeddedDir, mode: 'socket' });
  return { options: embedded.options, describe: embedded.describe, embedded };
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * A connection for a BullMQ Worker (blocking commands: never give up on a request) or for a
 * producer / plain client (fail fast so the CLI can report a dead Redis).
 */
export function createRedis(target: Pick<RedisTarget, 'options'>, role: 'worker' | 'client', onError?: (e: Error) => void): Redis {
  const client = new Redis({
    ...target.options,
    ...(role === 'worker' ? { maxRetriesPerRequest: null } : { maxRetriesPerRequest: 3, enableOfflineQueue: true }),
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  client.on('error', (e) => onError?.(e));
  return client;
}

/** The BullMQ prefix for a configured key prefix, written as a Redis Cluster hash tag. */
export function bullPrefix(prefix: string): string {
  return `{${prefix}}`;
}

/** Deletes every key matching `pattern` (SCAN + UNLINK, never KEYS or FLUSHALL); returns how many. */
export async function deleteByPattern(client: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) n += await client.unlink(...keys);
  } while (cursor !== '0');
  return n;
}
