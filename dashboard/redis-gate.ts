/**
 * The dashboard with Redis down. Every page, the JSON API, /metrics, Bull Board and the run
 * controls need Redis; when it is down they answer 503 with the one line the CLI gives for the same
 * fault ("Redis at URL did not answer within N s", "… is not a Redis server", "… refused the
 * connection"), found by the CLI's own probe (src/redis probeRedis), never a hang:
 *   - before a request is handled, the last verdict on Redis (at most FRESH_MS old, else a new probe
 *     bounded by the command timeout) decides: down → 503 at once;
 *   - a request still unanswered after one command timeout (Redis went down while it ran: BullMQ's
 *     connections wait for a reconnect rather than fail) gets a fresh probe, and 503 if Redis is down;
 *   - a request that failed (500) while Redis is down answers 503 with the reason instead.
 * Nothing is cached beyond FRESH_MS: the dashboard recovers by itself once Redis answers again.
 */
import type { NextFunction, Request, Response } from 'express';
import { DEFAULT_REDIS_TIMEOUT_MS, probeRedis, RedisUnavailableError, type RedisTarget } from '../src/redis/index.js';
import { esc } from './charts.js';
import { layout } from './views.js';

/** How long one verdict on Redis serves later requests. */
const FRESH_MS = 1000;

type GateTarget = Pick<RedisTarget, 'options'> & Partial<Pick<RedisTarget, 'cluster' | 'describe' | 'timeoutMs'>>;

/** A human name of a target that came without one (tests pass bare options). */
function describeTarget(t: GateTarget): string {
  if (t.describe) return t.describe;
  const o = t.options;
  if (o.path) return `unix://${o.path}`;
  const node = t.cluster?.nodes[0];
  return `redis://${node?.host ?? o.host ?? '127.0.0.1'}:${node?.port ?? o.port ?? 6379}`;
}

export class RedisHealth {
  readonly timeoutMs: number;
  readonly describe: string;
  #verdict: { at: number; problem: string | null } | null = null;
  #probing: Promise<string | null> | null = null;

  constructor(readonly target: GateTarget) {
    this.timeoutMs = target.timeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS;
    this.describe = describeTarget(target);
  }

  /** Null when Redis answers; else the one line saying why not. `fresh`: probe now (one probe at a time is shared). */
  async problem(fresh = false): Promise<string | null> {
    const v = this.#verdict;
    if (!fresh && v && Date.now() - v.at < FRESH_MS) return v.problem;
    this.#probing ??= this.#probe().finally(() => (this.#probing = null));
    return await this.#probing;
  }

  async #probe(): Promise<string | null> {
    // A cluster target keeps its seed nodes apart from the options: probe the first seed.
    const node = this.target.cluster?.nodes[0];
    const options = node ? { ...this.target.options, host: node.host, port: node.port } : this.target.options;
    let problem: string | null = null;
    try {
      await probeRedis(options, this.describe, this.timeoutMs);
    } catch (e) {
      problem = e instanceof RedisUnavailableError ? e.message : `Redis at ${this.describe} is not usable: ${String((e as Error).message).split('\n')[0]}`;
    }
    this.#verdict = { at: Date.now(), problem };
    return problem;
  }
}

/** The 503 answer: a page for a browser, JSON for everything else. */
export function redisUnavailable(req: Request, res: Response, problem: string): void {
  if (res.headersSent) return;
  res.status(503).setHeader('Retry-After', '5');
  res.setHeader('Cache-Control', 'no-store');
  if ((req.headers.accept ?? '').includes('text/html')) {
    res.type('html').send(layout('Redis unavailable', `<h1>Redis is unavailable</h1><p>${esc(problem)}</p><p class="muted">This page works again by itself once Redis answers.</p>`, { role: req.dashboardRole ?? 'viewer' }));
  } else res.json({ error: problem });
}

/** The middleware in front of every route: see the top of this file. */
export function redisGate(health: RedisHealth): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    health.problem().then((problem) => {
      if (problem) {
        redisUnavailable(req, res, problem);
        return;
      }
      const timer = setTimeout(() => {
        if (res.headersSent) return;
        void health.problem(true).then((p) => p && redisUnavailable(req, res, p));
      }, health.timeoutMs);
      timer.unref();
      res.once('close', () => clearTimeout(timer));
      next();
    }, next);
  };
}
