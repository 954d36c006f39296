/** CLI output helpers: the only place (with the commands) that writes to stdout/stderr directly. */
// errors.ts, not config/index.ts: this module is loaded for every command, `--help` included.
import { ConfigError, VaultLoopError, type ErrorCode } from '../errors.js';

/** Errors whose message is already a complete, user-facing sentence (no stack trace printed). */
export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** Errors of the family whose message is a complete sentence for the person at the terminal. */
const SENTENCE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['VAULT_LOCKED', 'REDIS_UNAVAILABLE', 'CORPUS_FILE', 'BUDGET_EXHAUSTED', 'RUN_NOT_FOUND', 'NOT_FOUND', 'STATE_CONFLICT', 'INVALID_REQUEST']);

export function reportFatal(e: unknown): number {
  if (e instanceof UserError) {
    process.stderr.write(`vault-loop: ${e.message}\n`);
    return e.exitCode;
  }
  if (e instanceof ConfigError) {
    process.stderr.write(`${e.message}\n`);
    return 1;
  }
  if (e instanceof VaultLoopError && SENTENCE_CODES.has(e.code)) {
    process.stderr.write(`vault-loop: ${e.message}\n`);
    return 1;
  }
  const err = e as Error;
  process.stderr.write(`vault-loop: unexpected error: ${err?.message ?? String(e)}\n`);
  if (process.env.VAULT_LOOP_DEBUG === '1' && err?.stack) process.stderr.write(`${err.stack}\n`);
  return 1;
}

/** Renders rows as an aligned plain-text table. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(cells[0]!), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join('\n');
}
