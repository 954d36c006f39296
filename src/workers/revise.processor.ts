/** The revise: a batch of NEEDS_FIX drafts → revised drafts; the logic is src/core/revise-batch.ts, pure of BullMQ. */
export * from '../core/revise-batch.js';
