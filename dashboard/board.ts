/**
 * Bull Board at /queues over every queue of the catalog. Two boards share the path: operators get
 * retry, promote and clean; viewers a read-only one. The page template is Bull Board's own, minus
 * its Google Fonts link, so the board works offline (the fonts fall back to the system's).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { Router } from 'express';

export const BOARD_PATH = '/queues';

let offlineViews: string | undefined;

/** A copy of Bull Board's index.ejs without requests to other hosts. */
function offlineViewsDir(): string {
  if (offlineViews) return offlineViews;
  const require = createRequire(import.meta.url);
  const uiDist = join(dirname(require.resolve('@bull-board/ui/package.json')), 'dist');
  const html = readFileSync(join(uiDist, 'index.ejs'), 'utf8').replace(/<link[^>]+href="https?:\/\/[^"]*"[^>]*>\s*/g, '');
  const dir = mkdtempSync(join(tmpdir(), 'vl-board-'));
  writeFileSync(join(dir, 'index.ejs'), html);
  offlineViews = dir;
  return dir;
}

export function boardRouter(queues: Queue[], readOnlyMode: boolean): Router {
  const server = new ExpressAdapter();
  server.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode, allowRetries: !readOnlyMode })),
    serverAdapter: server,
    options: { uiConfig: { boardTitle: readOnlyMode ? 'vault-loop queues (read-only)' : 'vault-loop queues' } },
  });
  server.setViewsPath(offlineViewsDir());
  // Bull Board's own handler adds the stack under NODE_ENV=development; ours never does.
  server.setErrorHandler((error: Error & { statusCode?: number }) => {
    const status = error.statusCode ?? 500;
    return { status: status as 500, body: { error: status < 500 ? error.message.split('\n')[0] : 'internal error' } };
  });
  return server.getRouter() as Router;
}
