/**
 * The shape every queue file follows: its name, zod payload and result schemas, default job
 * options (attempts, backoff, removal limits that keep Redis memory bounded) and a typed factory.
 */
import { Queue, type ConnectionOptions, type DefaultJobOptions } from 'bullmq';
import type { z } from 'zod';
import { bullPrefix } from '../redis/index.js';
import { QUEUE_ROLES, type QueueName, type QueueRole } from './names.js';

export interface QueueContext {
  connection: ConnectionOptions;
  /** The configured prefix (hash-tagged when used). */
  prefix: string;
}

export interface QueueDef<P extends z.ZodType, R extends z.ZodType, N extends QueueName = QueueName> {
  name: N;
  /** Which process role consumes it (from QUEUE_ROLES). */
  role: QueueRole;
  payload: P;
  result: R;
  defaults: DefaultJobOptions;
  create(ctx: QueueContext): Queue<z.input<P>, z.infer<R>>;
}

export function defineQueue<P extends z.ZodType, R extends z.ZodType, N extends QueueName>(def: Omit<QueueDef<P, R, N>, 'create' | 'role'>): QueueDef<P, R, N> {
  return {
    ...def,
    role: QUEUE_ROLES[def.name],
    create: (ctx) => {
      const queue = new Queue<z.input<P>, z.infer<R>>(def.name, {
        connection: ctx.connection,
        prefix: bullPrefix(ctx.prefix),
        defaultJobOptions: def.defaults,
      });
      // Every Queue gets an error listener (an unhandled 'error' event would crash the process).
      queue.on('error', () => {});
      return queue;
    },
  };
}

/** Job ids: deterministic, no ':' and never all digits (BullMQ reserves those). */
export function jobId(...parts: (string | number)[]): string {
  const id = parts.map((p) => String(p).replace(/[:\s]/g, '_')).join('-');
  if (/^\d+$/.test(id)) return `j-${id}`;
  return id;
}

/** Removal limits: completed jobs go after a day or past the count; failed ones stay longer (retry). */
/** The BullMQ states of a job that has not finished yet. */
export const PENDING_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

export const KEEP_COMPLETED = { age: 24 * 3600, count: 2000 } as const;
export const KEEP_FAILED = { age: 14 * 24 * 3600, count: 5000 } as const;
