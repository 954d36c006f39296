/** The judge: one chunk of drafts → verdicts (pre-judge, then one model call); the logic is src/core/judge-chunk.ts, pure of BullMQ. */
export * from '../core/judge-chunk.js';
