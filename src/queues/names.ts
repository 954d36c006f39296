/**
 * Every queue's name and the process role that consumes it: the one list, with no bullmq or zod
 * behind it, so the CLI's help (`worker --queues`, `retry --queue`) is built without loading them.
 * Each queue file (define.ts) takes its role from here.
 */
export const QUEUE_ROLES = {
  control: 'corpus-host',
  generate: 'stateless',
  render: 'stateless',
  judge: 'stateless',
  apply: 'corpus-host',
  revise: 'stateless',
} as const;

export type QueueName = keyof typeof QUEUE_ROLES;
export type QueueRole = (typeof QUEUE_ROLES)[QueueName];
/** In catalog order (src/queues/index.ts checks that its catalog lists the same names). */
export const QUEUE_NAMES = Object.keys(QUEUE_ROLES) as QueueName[];
export const STATELESS_QUEUES = QUEUE_NAMES.filter((q) => QUEUE_ROLES[q] === 'stateless');
