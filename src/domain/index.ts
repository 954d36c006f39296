/**
 * The domain model: one zod schema (and its inferred type) per shape the pipeline passes around
 * or writes down. Nothing here reads a file, a queue or Redis.
 */
export * from './taxonomy.js';
export * from './question.js';
export * from './plan-cell.js';
export * from './generated-item.js';
export * from './draft.js';
export * from './verdict.js';
export * from './run-config.js';
export * from './records.js';
export * from './providers.js';
