/** The corpus: taxonomy, question files (load, validate, write), ids, the area normalizer and synthetic vaults. */
export * from './taxonomy.js';
export * from './loader.js';
export * from './schema.js';
export * from './areas.js';
export * from './writer.js';
export * from './ids.js';
export * from './validate.js';
export * from './synth.js';
export * from './fix-areas.js';
