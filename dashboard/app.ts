/**
 * The dashboard: an Express 5 app over the run state in Redis and the queues of the catalog.
 *   /                        run overview            /runs/:id            one run (live)
 *   /queues                  Bull Board              /metrics             Prometheus text
 *   /api/runs[/:id[/coverage|/events]]              POST /api/runs/:id/{pause,resume,stop,retry-failed}
 *   POST /api/runs/:id/judge/:jobId/retry
 *   /runs/:id/review         judged drafts to review /runs/:id/visuals/:track/:id.svg   a draft's SVG
 *   GET /api/runs/:id/drafts[?verdict=NEEDS_FIX,PASS]  POST /api/runs/:id/drafts/:draftId/{accept,reject,revise}
 * Auth and the same-origin rule: see auth.ts.
 */
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Queue } from 'bullmq';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Config } from '../src/config/index.js';
import { createQueues, QUEUE_CATALOG, type Queues } from '../src/queues/index.js';
import { retryFailed, retryJudgeJob } from '../src/services/retry-jobs.js';
import { LateWorkKeeper, raiseRunBudget } from '../src/services/late-work.js';
import { bullConnection, createRedis, type RedisClient, type RedisTarget } from '../src/redis/index.js';
import { REVIEW_ACTIONS, reviewDraft, type ReviewAction } from '../src/services/review.js';
import { controlRun, RUN_CONTROL_ACTIONS } from '../src/services/run-control.js';
import { RunStore, type RunState } from '../src/state/run-state.js';
import { InvalidRequestError, NotFoundError, RunNotFoundError, UnsafePathError, VaultLoopError, type ErrorCode } from '../src/errors.js';
import { silentLogger, type Logger } from '../src/util/log.js';
import { authMiddleware, checkBindSecurity, type Credentials, type Role } from './auth.js';
import { boardRouter, BOARD_PATH } from './board.js';
import { coverageGrid, fingerprint, listRuns, runDetail } from './data.js';
import { metricsText } from './metrics.js';
import { RedisHealth, redisGate, redisUnavailable } from './redis-gate.js';
import { isSafeName, parseVerdictFilter, reviewErrorPage, reviewItems, reviewPage, visualFile } from './review.js';
import { notFoundPage, overviewPage, runBody, runPage } from './views.js';

export interface DashboardDeps {
  store: RunStore;
  queues: Queues;
  prefix: string;
  credentials: Credentials;
  log?: Logger;
  /** How often the live view checks a run for changes (ms). */
  liveIntervalMs?: number;
  /** With it, every route answers 503 with the reason while Redis is down (redis-gate.ts). */
  health?: RedisHealth;
}

/** The HTTP status of each error of the family whose message is safe to show; any other error is a 500. */
const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  RUN_NOT_FOUND: 404,
  NOT_FOUND: 404,
  STATE_CONFLICT: 409,
  INVALID_REQUEST: 400,
  UNSAFE_PATH: 400,
};
const shownStatus = (e: unknown): number | null => (e instanceof VaultLoopError ? (STATUS_OF[e.code] ?? null) : null);

type Handler = (req: Request, res: Response) => Promise<void>;
/** Express 5 forwards rejected promises to the error handler; this only keeps the types short. */
const route = (fn: Handler) => (req: Request, res: Response, next: NextFunction) => fn(req, res).catch(next);

const roleOf = (req: Request): Role => req.dashboardRole ?? 'viewer';
const param = (req: Request, name: string): string => String(req.params[name] ?? '');

const isForm = (req: Request): boolean =>
  (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded') || (req.headers.accept ?? '').includes('text/html');

/** The review page has no script and shows model-written text: nothing but its own images and forms may run or load. */
const REVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
/** A served SVG may carry inline styles and nothing else (no script, no fetch). */
const SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'";

/** A browser form wants the run page back; a script wants JSON. */
function reply(req: Request, res: Response, runId: string, body: Record<string, unknown>): void {
  if (isForm(req)) res.redirect(303, `/runs/${encodeURIComponent(runId)}`);
  else res.json(body);
}

export function createDashboardApp(deps: DashboardDeps): express.Express {
  const { store, queues } = deps;
  const log = deps.log ?? silentLogger;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((_req, res, next) => {
    // Pages carry only inline script and style; nothing may load from elsewhere.
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'same-origin');
    res.setHeader('X-Frame-Options', 'DENY');
    next();
  });
  app.use(authMiddleware(deps.credentials));
  if (deps.health) app.use(redisGate(deps.health));

  const mustRun = async (runId: string): Promise<RunState> => {
    const run = await store.get(runId);
    if (!run) throw new RunNotFoundError(`run ${runId} not found`);
    return run;
  };

  app.get(
    '/',
    route(async (req, res) => {
      res.type('html').send(overviewPage(await listRuns(store), roleOf(req), deps.prefix));
    }),
  );

  app.get(
    '/runs/:id',
    route(async (req, res) => {
      const d = await runDetail(store, queues, param(req, 'id'));
      if (!d) {
        res.status(404).type('html').send(notFoundPage(`run ${param(req, 'id')} not found`, roleOf(req)));
        return;
      }
      const grid = coverageGrid(d.run.vault, d.run.runId);
      res.type('html').send(req.query.fragment ? runBody(d, grid, roleOf(req)) : runPage(d, grid, roleOf(req)));
    }),
  );

  app.get(
    '/api/runs',
    route(async (_req, res) => {
      res.json({ runs: await listRuns(store) });
    }),
  );

  app.get(
    '/api/runs/:id',
    route(async (req, res) => {
      const d = await runDetail(store, queues, param(req, 'id'));
      if (!d) throw new RunNotFoundError(`run ${param(req, 'id')} not found`);
      res.json(d);
    }),
  );

  app.get(
    '/api/runs/:id/coverage',
    route(async (req, res) => {
      const run = await mustRun(param(req, 'id'));
      res.json(coverageGrid(run.vault, run.runId));
    }),
  );

  // Server-sent events: the run's fingerprint, sent when it changes (a comment keeps proxies awake).
  app.get(
    '/api/runs/:id/events',
    route(async (req, res) => {
      const runId = param(req, 'id');
      await mustRun(runId);
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
      let last = '';
      let beats = 0;
      let busy = false;
      const tick = async () => {
        if (busy) return;
        busy = true;
        try {
          const d = await runDetail(store, queues, runId);
          const fp = d ? fingerprint(d) : 'gone';
          if (fp !== last) res.write(`data: ${fp}\n\n`);
          else if (++beats % 15 === 0) res.write(': keep-alive\n\n');
          last = fp;
        } catch (e) {
          log.warn({ run: runId, err: (e as Error).message }, 'dashboard: live update failed');
        } finally {
          busy = false;
        }
      };
      await tick();
      const timer = setInterval(() => void tick(), deps.liveIntervalMs ?? 1000);
      req.on('close', () => clearInterval(timer));
    }),
  );

  for (const action of RUN_CONTROL_ACTIONS) {
    app.post(
      `/api/runs/:id/${action}`,
      route(async (req, res) => {
        const runId = param(req, 'id');
        const after = await controlRun(store, runId, action);
        log.info({ run: runId, action }, 'dashboard: run control');
        reply(req, res, runId, { runId, status: after.status });
      }),
    );
  }

  // Retrying may raise the run's budget (`max_calls`, the same choice as `vault-loop retry --max-calls`).
  const retryBody = [express.urlencoded({ extended: false, limit: '4kb' }), express.json({ limit: '4kb' })];
  const raiseBudget = async (runId: string, body: unknown): Promise<void> => {
    const raw = (body as Record<string, unknown> | undefined)?.max_calls;
    if (raw === undefined || raw === '') return;
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidRequestError(`max_calls must be a positive whole number, got ${JSON.stringify(raw)}`);
    const { from, to } = await raiseRunBudget(store, runId, n);
    if (to !== from) log.info({ run: runId, from, to }, 'dashboard: raised the run budget for a retry');
  };

  app.post(
    '/api/runs/:id/retry-failed',
    ...retryBody,
    route(async (req, res) => {
      const runId = param(req, 'id');
      await mustRun(runId);
      await raiseBudget(runId, req.body);
      const retried = await retryFailed(queues, 'judge', runId);
      log.info({ run: runId, retried }, 'dashboard: retried failed judge chunks');
      reply(req, res, runId, { runId, retried });
    }),
  );

  app.post(
    '/api/runs/:id/judge/:jobId/retry',
    ...retryBody,
    route(async (req, res) => {
      const runId = param(req, 'id');
      const jobId = param(req, 'jobId');
      await mustRun(runId);
      await raiseBudget(runId, req.body);
      await retryJudgeJob(queues, runId, jobId);
      log.info({ run: runId, jobId }, 'dashboard: retried a judge chunk');
      reply(req, res, runId, { runId, retried: [jobId] });
    }),
  );

  // ---- review of judged drafts (src/services/review.ts does the work) ----

  app.get(
    '/runs/:id/review',
    route(async (req, res) => {
      const run = await store.get(param(req, 'id'));
      if (!run) {
        res.status(404).type('html').send(notFoundPage(`run ${param(req, 'id')} not found`, roleOf(req)));
        return;
      }
      const includePass = req.query.include === 'pass';
      const items = await reviewItems(store, run, includePass ? ['NEEDS_FIX', 'PASS'] : ['NEEDS_FIX']);
      res.setHeader('Content-Security-Policy', REVIEW_CSP);
      res.type('html').send(reviewPage(run, items, roleOf(req), includePass));
    }),
  );

  app.get(
    '/api/runs/:id/drafts',
    route(async (req, res) => {
      const run = await mustRun(param(req, 'id'));
      const verdicts = parseVerdictFilter(req.query.verdict, ['NEEDS_FIX']);
      if (!verdicts) throw new InvalidRequestError('verdict must be PASS, NEEDS_FIX or DROP (comma-separated for several)');
      res.json({ runId: run.runId, verdicts, drafts: await reviewItems(store, run, verdicts) });
    }),
  );

  // Only visuals/<track>/<id>.svg of the run's own vault, checked lexically and after symlinks.
  app.get(
    '/runs/:id/visuals/:track/:file',
    route(async (req, res) => {
      const run = await mustRun(param(req, 'id'));
      const m = /^(.+)\.svg$/.exec(param(req, 'file'));
      const track = param(req, 'track');
      if (!m || !isSafeName(track) || !isSafeName(m[1]!)) throw new InvalidRequestError('not a visual path: expected /runs/<run>/visuals/<track>/<draft id>.svg');
      let abs: string | null;
      try {
        abs = await visualFile(run.vault, track, m[1]!);
      } catch (e) {
        if (e instanceof UnsafePathError) throw new InvalidRequestError('the visual path leaves the vault');
        throw e;
      }
      if (!abs) throw new NotFoundError(`no rendered visual ${track}/${m[1]}.svg in run ${run.runId}'s vault`);
      res.setHeader('Content-Security-Policy', SVG_CSP);
      res.setHeader('Cache-Control', 'no-store');
      res.type('image/svg+xml').send(await readFile(abs));
    }),
  );

  const reviewBody = [express.urlencoded({ extended: false, limit: '16kb' }), express.json({ limit: '16kb' })];
  for (const action of REVIEW_ACTIONS) {
    app.post(
      `/api/runs/:id/drafts/:draftId/${action}`,
      ...reviewBody,
      route(async (req, res) => {
        const runId = param(req, 'id');
        const draftId = param(req, 'draftId');
        const body = (req.body ?? {}) as Record<string, unknown>;
        const back = `/runs/${encodeURIComponent(runId)}/review${body.include === 'pass' ? '?include=pass' : ''}`;
        try {
          if (!isSafeName(draftId)) throw new InvalidRequestError(`invalid draft id ${JSON.stringify(draftId)}: expected letters, digits, '-' or '_'`);
          const note = typeof body.note === 'string' && body.note.trim() ? body.note.trim().slice(0, 500) : undefined;
          // The person is known by the credential they presented: its role.
          const by = roleOf(req);
          const updated = await reviewDraft(store, runId, draftId, action as ReviewAction, by, note);
          log.info({ run: runId, draft: draftId, action, by }, 'dashboard: draft reviewed');
          if (isForm(req)) res.redirect(303, `${back}#draft-${encodeURIComponent(draftId)}`);
          else res.json({ runId, draft: updated });
        } catch (e) {
          const status = shownStatus(e);
          if (status === null) throw e;
          if (isForm(req)) res.status(status).type('html').send(reviewErrorPage(runId, (e as Error).message, roleOf(req)));
          else res.status(status).json({ error: (e as Error).message });
        }
      }),
    );
  }

  app.get(
    '/metrics',
    route(async (_req, res) => {
      res.type('text/plain; version=0.0.4; charset=utf-8').send(await metricsText(store, queues));
    }),
  );

  // Every queue of the catalog, as the queue objects this app already holds.
  const catalog = QUEUE_CATALOG.map((d) => queues[d.name as keyof Queues] as Queue);
  const operatorBoard = boardRouter(catalog, false);
  const viewerBoard = boardRouter(catalog, true);
  app.use(BOARD_PATH, (req, res, next) => (roleOf(req) === 'operator' ? operatorBoard : viewerBoard)(req, res, next));

  app.use((req, res) => {
    if ((req.headers.accept ?? '').includes('text/html')) res.status(404).type('html').send(notFoundPage(req.path, roleOf(req)));
    else res.status(404).json({ error: 'not found' });
  });

  // One error path: an error of the family with a status says what went wrong; anything else is logged, never shown.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const shown = shownStatus(err);
    const status = shown ?? (typeof (err as { status?: unknown }).status === 'number' && (err as { status: number }).status < 500 ? (err as { status: number }).status : 500);
    const message = shown !== null ? (err as Error).message : status < 500 ? 'bad request' : 'internal error';
    if (res.headersSent) {
      // After a 503 from the Redis gate the handler's own late failure is no news.
      if (status >= 500 && res.statusCode !== 503) log.error({ err, path: req.path }, 'dashboard: request failed');
      res.end();
      return;
    }
    const fail = () => {
      log.error({ err, path: req.path }, 'dashboard: request failed');
      res.status(status).json({ error: message });
    };
    if (status < 500) res.status(status).json({ error: message });
    // A request that failed because Redis went down says so (503 and the reason), never "internal error".
    else if (deps.health) void deps.health.problem(true).then((p) => (p ? redisUnavailable(req, res, p) : fail()), fail);
    else fail();
  });
  return app;
}

export interface StartDashboardOptions {
  /** Where Redis is; its describe and timeoutMs word and bound the 503 answers while it is down. */
  target: Pick<RedisTarget, 'options'> & Partial<Pick<RedisTarget, 'cluster' | 'describe' | 'timeoutMs'>>;
  prefix: string;
  host?: string;
  port?: number;
  token?: string | undefined;
  viewerToken?: string | undefined;
  /** `user:password` basic-auth logins of an operator and a viewer. */
  basicAuth?: string | undefined;
  viewerBasicAuth?: string | undefined;
  log?: Logger;
  liveIntervalMs?: number;
  /**
   * `dashboard --vault`: this process can reach the vault, so it judges and applies the vault's
   * late work (retried judge chunks, late applies) whenever no run holds the vault.
   */
  lateWork?: { vault: string; cfg: Config; target: RedisTarget; intervalMs?: number };
}

export interface RunningDashboard {
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

/** The dashboard options of a loaded config. */
export function dashboardOptionsFromConfig(cfg: Config): Pick<StartDashboardOptions, 'prefix' | 'host' | 'port' | 'token' | 'viewerToken' | 'basicAuth' | 'viewerBasicAuth'> {
  return {
    prefix: cfg.prefix,
    host: cfg.dashboardHost,
    port: cfg.dashboardPort,
    token: cfg.dashboardToken,
    viewerToken: cfg.dashboardViewerToken,
    basicAuth: cfg.dashboardBasicAuth,
    viewerBasicAuth: cfg.dashboardViewerBasicAuth,
  };
}

/** Checks the bind address against the credentials, connects, and listens. */
export async function startDashboard(o: StartDashboardOptions): Promise<RunningDashboard> {
  const host = o.host ?? '127.0.0.1';
  const credentials: Credentials = { token: o.token, viewerToken: o.viewerToken, basicAuth: o.basicAuth, viewerBasicAuth: o.viewerBasicAuth };
  // Before any connection opens: an unsafe address is refused outright.
  checkBindSecurity(host, credentials);
  const log = o.log ?? silentLogger;
  const redis: RedisClient = createRedis(o.target, 'client', (e) => log.warn({ err: e.message }, 'dashboard: redis error'));
  const queues = createQueues({ connection: bullConnection(o.target), prefix: o.prefix });
  const store = new RunStore(redis, o.prefix);
  const health = new RedisHealth(o.target);
  const app = createDashboardApp({ store, queues, prefix: o.prefix, credentials, log, health, ...(o.liveIntervalMs ? { liveIntervalMs: o.liveIntervalMs } : {}) });
  const keeper = o.lateWork ? new LateWorkKeeper({ ...o.lateWork, log, store, queues }) : null;
  const release = async () => {
    // Closing talks to Redis: bounded, so a dashboard whose Redis is down still stops.
    const bound = () => new Promise((r) => setTimeout(r, 2 * health.timeoutMs).unref());
    await Promise.race([keeper?.close().catch(() => {}), bound()]);
    await Promise.race([queues.close().catch(() => {}), bound()]);
    redis.disconnect();
  };
  let server: Server;
  try {
    server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(o.port ?? 3000, host, (err?: Error) => (err ? reject(err) : resolve(s)));
      s.once('error', reject);
    });
  } catch (e) {
    await release();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new DashboardListenError(`dashboard: port ${o.port} on ${host} is already in use (choose another with --port)`);
    if (code === 'EADDRNOTAVAIL') throw new DashboardListenError(`dashboard: ${host} is not an address of this machine`);
    throw e;
  }
  keeper?.start();
  const addr = server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shown}:${addr.port}/`,
    host: addr.address,
    port: addr.port,
    close: async () => {
      // Live views hold their connections open; end them, or close() would wait for them.
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await release();
    },
  };
}

export class DashboardListenError extends Error {
  override readonly name = 'DashboardListenError';
}
