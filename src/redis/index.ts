/**
 * Redis discovery and connections, made in one place.
 * Order: an explicit URL (--redis / REDIS_URL); else 127.0.0.1:6379 if it answers; else an
 * embedded `redis-server` from PATH on a unix socket (AOF on, so a restarted run resumes);
 * else one clear message saying how to get one.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { createRequire } from 'node:module';
import type * as Bull from 'bullmq';
import type { RedisOptions as BullRedisOptions } from 'bullmq';
import { RedisUnavailableError } from '../errors.js';

export const DEFAULT_LOCAL_URL = 'redis://127.0.0.1:6379';
/** How long a Redis may take to accept a connection or answer one command (config redisTimeoutMs). */
export const DEFAULT_REDIS_TIMEOUT_MS = 10_000;

/** Cluster seed nodes carried in connection options, so BullMQ's connections become `Cluster`s too. */
const CLUSTER_SEEDS = 'vaultLoopClusterSeeds';

export interface RedisTarget {
  /**
   * ioredis options that reach the server: host/port or path; `sentinels` + `name` for Sentinel;
   * for a cluster, the options of each node connection (the seeds are in `cluster`).
   */
  options: RedisOptions;
  /** Present when the server is a cluster node: every connection is an ioredis `Cluster`. */
  cluster?: { nodes: { host: string; port: number }[] };
  /** A human description: URL (password hidden) or socket path. */
  describe: string;
  /** Present when we started the server ourselves. */
  embedded?: EmbeddedRedis;
  /** Connect and command timeout of every connection, in ms. */
  timeoutMs?: number;
  /** What the probe found wrong but not fatal (an eviction policy other than noeviction), one line each. */
  warnings?: string[];
}

/** A connection to a single server, a Sentinel-managed primary, or a cluster. */
export type RedisClient = Redis | Cluster;

export { RedisUnavailableError };

/** TLS and timeout settings that come from config rather than from the URL. */
export interface RedisConnectSettings {
  /** PEM file of the CA that signed the server's certificate (config redisCaFile). */
  caFile?: string;
  timeoutMs?: number;
}

function tlsOptions(settings: RedisConnectSettings, servername: string | undefined): NonNullable<RedisOptions['tls']> {
  let ca: Buffer | undefined;
  if (settings.caFile) {
    try {
      ca = readFileSync(settings.caFile);
    } catch (e) {
      throw new RedisUnavailableError(`cannot read the Redis CA file ${settings.caFile} (config redisCaFile): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  return { ...(ca ? { ca } : {}), ...(servername && isIP(servername) === 0 ? { servername } : {}) };
}

/**
 * ioredis options for a URL: `redis://`, `rediss://` (TLS), `unix://` / `redis+unix://`, or
 * `redis+sentinel://[user:pass@]host:port,host:port/masterName[/db]` (`rediss+sentinel://` for TLS
 * to the sentinels and the primary).
 */
export function optionsFromUrl(url: string, settings: RedisConnectSettings = {}): RedisOptions {
  const sentinel = /^(rediss?)\+sentinel:\/\/(?:([^@/]*)@)?([^/]+)\/([^/?#]+)(?:\/(\d+))?\/?$/.exec(url);
  if (sentinel) {
    const [, scheme, auth, hosts, name, db] = sentinel;
    const sentinels = hosts!.split(',').map((h) => {
      const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(h.trim());
      if (!m) throw new RedisUnavailableError(`bad sentinel address "${h}" in ${redactUrl(url)} (expected host:port)`);
      return { host: m[1]!, port: m[2] ? Number(m[2]) : 26379 };
    });
    const [user, pass] = auth ? auth.split(':').map(decodeURIComponent) : [];
    const tls = scheme === 'rediss' ? tlsOptions(settings, undefined) : undefined;
    return {
      sentinels,
      name: decodeURIComponent(name!),
      ...(user ? { username: user } : {}),
      ...(pass ? { password: pass, sentinelPassword: pass } : {}),
      ...(db !== undefined ? { db: Number(db) } : {}),
      ...(tls ? { tls, sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
    };
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RedisUnavailableError(`"${redactUrl(url)}" is not a Redis URL (expected redis://host:6379, rediss://, unix:///path or redis+sentinel://host:26379,host:26379/mastername)`);
  }
  if (u.protocol === 'unix:' || u.protocol === 'redis+unix:') {
    return { path: decodeURIComponent(u.pathname) };
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new RedisUnavailableError(`unsupported Redis URL scheme "${u.protocol}" (use redis://, rediss://, unix:// or redis+sentinel://)`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
  const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  return {
    host,
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db !== undefined && Number.isInteger(db) ? { db } : {}),
    ...(u.protocol === 'rediss:' ? { tls: tlsOptions(settings, host) } : {}),
  };
}

/** What a probe of a Redis target found. */
export interface RedisProbe {
  cluster: boolean;
  version: string;
  /** INFO's maxmemory_policy (null when the server does not say). */
  evictionPolicy: string | null;
}

/**
 * Connects once, bounded by `timeoutMs` for the connection and for the one INFO command, and
 * tells a Redis (single or cluster node) from a server that never answers, refuses, or speaks
 * another protocol. Throws RedisUnavailableError with one line saying which.
 */
export async function probeRedis(options: RedisOptions, describe: string, timeoutMs = DEFAULT_REDIS_TIMEOUT_MS): Promise<RedisProbe> {
  const seconds = Math.round(timeoutMs / 100) / 10;
  const client = new Redis({
    ...options,
    lazyConnect: true,
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: true,
    retryStrategy: () => null,
    sentinelRetryStrategy: () => null,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
  });
  // The command itself only learns "Connection is closed."; the cause arrives as an error event.
  let protocolError: Error | undefined;
  let firstError: Error | undefined;
  client.on('error', (e: Error) => {
    firstError ??= e;
    if (isProtocolError(e)) protocolError ??= e;
  });
  // A hard bound on the whole probe: a sentinel lookup or a TLS handshake can stall outside both timeouts.
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error('Command timed out')), timeoutMs * 2 + 1000);
  });
  try {
    const info = await Promise.race([
      (async () => {
        await client.connect();
        return await client.info();
      })(),
      bound,
    ]);
    if (typeof info !== 'string' || !/^redis_version:/m.test(info)) throw new RedisUnavailableError(`${describe} is not a Redis server (its answer to INFO has no redis_version)`);
    return { cluster: /^cluster_enabled:1\s*$/m.test(info), version: /^redis_version:(\S+)/m.exec(info)?.[1] ?? '?', evictionPolicy: /^maxmemory_policy:(\S+)/m.exec(info)?.[1] ?? null };
  } catch (e) {
    if (e instanceof RedisUnavailableError) throw e;
    const cause = /Connection is closed/.test((e as Error).message) && firstError ? firstError : (e as Error);
    // A server that answers in another protocol and hangs up at once may close before the parser
    // has complained: ask it once more, by hand, and look at the first byte of its answer.
    if (!protocolError && /Connection is closed|ECONNRESET|EPIPE/.test(cause.message) && options.host && !options.tls && (await answersNonResp(options.host, options.port ?? 6379, timeoutMs))) {
      throw new RedisUnavailableError(`${describe} is not a Redis server (it answered in another protocol)`);
    }
    throw explainConnectError(cause, describe, seconds, protocolError);
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

/** Sends PING over a plain socket: true when the first byte back is no RESP type marker. */
async function answersNonResp(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return await new Promise<boolean>((res) => {
    const sock = connect({ host, port });
    const done = (v: boolean) => {
      sock.destroy();
      res(v);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d: Buffer) => done(!'+-:$*_,#!=(%~>|'.includes(String.fromCharCode(d[0] ?? 43))));
    sock.once('close', () => done(false));
  });
}

const isProtocolError = (e: Error): boolean => /Unknown RESP type|Protocol error|ReplyParser|Expected|invalid.*(bulk|multibulk)/i.test(e.message) || e.name === 'ParserError';

/** One line for why a connection failed: no answer, not Redis, refused, TLS, auth. */
export function explainConnectError(e: Error, describe: string, seconds: number, protocolError?: Error): RedisUnavailableError {
  const msg = e.message ?? String(e);
  const code = (e as NodeJS.ErrnoException).code;
  if (protocolError || isProtocolError(e)) return new RedisUnavailableError(`${describe} is not a Redis server (it answered in another protocol)`);
  if (/timed out|ETIMEDOUT/i.test(msg) || code === 'ETIMEDOUT') return new RedisUnavailableError(`Redis at ${describe} did not answer within ${seconds} s`);
  if (/WRONGPASS|NOAUTH|invalid password|invalid username/i.test(msg)) return new RedisUnavailableError(`Redis at ${describe} refused the login: ${msg.split('\n')[0]} (check the user and password in the URL)`);
  if (/certificate|SSL|TLS|self.signed|wrong version number/i.test(msg) || /^ERR_TLS|^ERR_SSL|CERT/.test(code ?? '')) {
    return new RedisUnavailableError(`TLS to Redis at ${describe} failed: ${msg.split('\n')[0]} (config redisCaFile names the CA that signed the server's certificate)`);
  }
  if (/All sentinels are unreachable|sentinel/i.test(msg)) return new RedisUnavailableError(`Redis Sentinel at ${describe}: ${msg.split('\n')[0]}`);
  if (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(msg)) return new RedisUnavailableError(`Redis at ${describe} refused the connection (nothing listens there)`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || /ENOTFOUND|EAI_AGAIN/.test(msg)) return new RedisUnavailableError(`Redis at ${describe}: host not found`);
  if (/Connection is closed|ECONNRESET|EPIPE/.test(msg)) return new RedisUnavailableError(`Redis at ${describe} closed the connection without answering (is it a Redis server? does it want TLS: rediss://?)`);
  return new RedisUnavailableError(`Redis at ${describe} is not usable: ${msg.split('\n')[0]}`);
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

/**
 * Node's child_process, loaded when a server is to be started: a command that only connects
 * (`status`) starts without it.
 */
const childProcess = (): typeof import('node:child_process') => createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');

export function redisServerOnPath(): boolean {
  const r = childProcess().spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
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
    const child = childProcess().spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
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
 * keeps its socket and AOF (the vault's `.vault-loop/redis`). An explicit URL is probed (bounded
 * by `timeoutMs`): a server that never answers or is not Redis fails here with one line, and a
 * cluster node turns the target into a cluster one.
 */
export async function resolveRedis(opts: { url?: string; embeddedDir?: string; localUrl?: string } & RedisConnectSettings): Promise<RedisTarget> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS;
  if (opts.url) {
    const options = optionsFromUrl(opts.url, opts);
    const describe = redactUrl(opts.url);
    const probe = await probeRedis(options, describe, timeoutMs);
    const warnings = probe.evictionPolicy && probe.evictionPolicy !== 'noeviction' ? [evictionWarning(describe, probe.evictionPolicy)] : [];
    if (probe.cluster) {
      if (options.db) throw new RedisUnavailableError(`${describe} is a Redis Cluster node: a cluster has only database 0 (drop the /${options.db} from the URL)`);
      const { host, port, ...nodeOptions } = options;
      return { options: nodeOptions, cluster: { nodes: [{ host: host ?? '127.0.0.1', port: port ?? 6379 }] }, describe: `${describe} (cluster)`, timeoutMs, warnings };
    }
    return { options, describe, timeoutMs, warnings };
  }
  const localUrl = opts.localUrl ?? DEFAULT_LOCAL_URL;
  const local = optionsFromUrl(localUrl);
  if (await pingRedis(local)) return { options: local, describe: localUrl, timeoutMs };
  if (!opts.embeddedDir) throw new RedisUnavailableError(noRedisMessage());
  const embedded = await EmbeddedRedis.start({ dir: opts.embeddedDir, mode: 'socket' });
  return { options: embedded.options, describe: embedded.describe, embedded, timeoutMs };
}

/** Eviction would drop BullMQ's jobs and the run state: said once, at connect, with the fix. */
export const evictionWarning = (describe: string, policy: string): string =>
  `${describe} has maxmemory-policy ${policy}: set it to noeviction (CONFIG SET maxmemory-policy noeviction, or the parameter group of a managed Redis), or queued jobs and run state may be evicted under memory pressure`;

export function redactUrl(url: string): string {
  // Sentinel URLs hold several hosts, which URL cannot parse: hide the password by hand.
  const hidden = url.replace(/^([a-z+]+:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
  if (hidden !== url || /\+sentinel:/i.test(url)) return hidden;
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * Timeouts of every connection. A BullMQ blocking read waits up to 10 s by design, so the command
 * timeout of BullMQ's connections leaves room for it; a plain client's commands get `timeoutMs`.
 */
function timeoutOptions(target: Pick<RedisTarget, 'timeoutMs'>, role: 'worker' | 'client'): RedisOptions {
  const t = target.timeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS;
  return { connectTimeout: t, commandTimeout: role === 'worker' ? t + 15_000 : t };
}

/** Reconnect backoff shared by every connection. */
const retryStrategy = (times: number): number => Math.min(times * 200, 2000);

function clusterOptions(redisOptions: RedisOptions): ClusterOptions {
  return {
    redisOptions,
    clusterRetryStrategy: retryStrategy,
    // Slots move on failover or resharding; a MOVED reply makes the client follow and refresh.
    slotsRefreshTimeout: redisOptions.connectTimeout ?? DEFAULT_REDIS_TIMEOUT_MS,
    enableOfflineQueue: true,
    ...(redisOptions.tls ? { dnsLookup: (address: string, cb: (err: Error | null, address: string) => void) => cb(null, address) } : {}),
    ...(redisOptions.maxRetriesPerRequest !== undefined ? { maxRedirections: 16 } : {}),
  };
}

/**
 * A connection for a BullMQ Worker (blocking commands: never give up on a request) or for a
 * producer / plain client (fail fast so the CLI can report a dead Redis). A cluster target gets a
 * `Cluster`; a Sentinel target asks the sentinels for the current primary on every (re)connect.
 */
export function createRedis(target: Pick<RedisTarget, 'options' | 'cluster' | 'timeoutMs'>, role: 'worker' | 'client', onError?: (e: Error) => void): RedisClient {
  const options: RedisOptions = {
    ...target.options,
    ...timeoutOptions(target, role),
    ...(role === 'worker' ? { maxRetriesPerRequest: null } : { maxRetriesPerRequest: 3, enableOfflineQueue: true }),
    retryStrategy,
  };
  const client: RedisClient = target.cluster ? new Cluster(target.cluster.nodes, clusterOptions(options)) : new Redis(options);
  const report = onError ? rateLimited(onError) : undefined;
  client.on('error', (e: Error) => report?.(e));
  return client;
}

/** How often one connection may report the same error: a reconnect loop or a broken server repeats it many times a second. */
export const ERROR_REPORT_INTERVAL_MS = 10_000;

/** `report`, passing each distinct message at most once per interval, with how many were held back. */
export function rateLimited(report: (e: Error) => void, intervalMs = ERROR_REPORT_INTERVAL_MS, now = () => Date.now()): (e: Error) => void {
  const last = new Map<string, { at: number; held: number }>();
  return (e) => {
    const key = e.message;
    const seen = last.get(key);
    const t = now();
    if (seen && t - seen.at < intervalMs) {
      seen.held++;
      return;
    }
    if (last.size > 100) last.clear();
    last.set(key, { at: t, held: 0 });
    report(seen && seen.held > 0 ? new Error(`${e.message} (and ${seen.held} more like it in ${Math.round((t - seen.at) / 1000)} s)`) : e);
  };
}

/**
 * BullMQ's connection options for a target. BullMQ builds its own connections from these (and
 * closes them); for a cluster the seeds travel inside the options and the factory below makes a
 * `Cluster` of them, so Queue, Worker, QueueEvents and FlowProducer all speak cluster.
 */
export function bullConnection(target: Pick<RedisTarget, 'options' | 'cluster' | 'timeoutMs'>): BullRedisOptions {
  installClusterFactory();
  const options: BullRedisOptions = { ...target.options, ...timeoutOptions(target, 'worker'), retryStrategy };
  if (target.cluster) options[CLUSTER_SEEDS] = target.cluster.nodes;
  return options;
}

let factoryInstalled = false;
function installClusterFactory(): void {
  if (factoryInstalled) return;
  factoryInstalled = true;
  // BullMQ is loaded here, when a caller is about to hand it these options, not with this module:
  // a command that only talks to Redis (`status`'s list of runs) then starts without it. bullmq has
  // no "exports" map, so Node's `import 'bullmq'` elsewhere resolves to this same CommonJS module
  // (one RedisConnection class, one factory).
  const { createIORedisClient, RedisConnection } = createRequire(import.meta.url)('bullmq') as typeof Bull;
  RedisConnection.clientFactory = (opts) => {
    const { [CLUSTER_SEEDS]: seeds, url, ...rest } = opts as RedisOptions & { [CLUSTER_SEEDS]?: { host: string; port: number }[]; url?: string };
    if (seeds) return createIORedisClient(new Cluster(seeds, clusterOptions(rest)));
    return createIORedisClient(url ? new Redis(url, rest) : new Redis(rest));
  };
}

/** The BullMQ prefix for a configured key prefix, written as a Redis Cluster hash tag. */
export function bullPrefix(prefix: string): string {
  return `{${prefix}}`;
}

/**
 * Deletes every key matching `pattern` (SCAN + UNLINK, never KEYS or FLUSHALL); returns how many.
 * On a cluster every primary is scanned (SCAN sees one node's keys only).
 */
export async function deleteByPattern(client: RedisClient, pattern: string): Promise<number> {
  const nodes: Redis[] = client instanceof Cluster ? client.nodes('master') : [client];
  let n = 0;
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      // One UNLINK per key: on a cluster, keys of different slots cannot share a command.
      for (const k of keys) n += await node.unlink(k);
    } while (cursor !== '0');
  }
  return n;
}
