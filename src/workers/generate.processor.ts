/** The generate: one batch of plan cells → validated drafts; the logic is src/core/generate-batch.ts, pure of BullMQ. */
export * from '../core/generate-batch.js';
