/** Structured logs (pino, to stderr) with context: { run, iter, queue, jobId, cell }. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = process.env.VAULT_LOOP_LOG_LEVEL ?? 'warn'): Logger {
  return pino({ level, base: { pid: process.pid } }, pino.destination(2));
}

/** A logger that drops everything (tests, pure processors called directly). */
export const silentLogger: Logger = pino({ level: 'silent' });
