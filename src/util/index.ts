export { createRng, mulberry32, seedFrom, type Rng } from './random.js';
export { createLogger, silentLogger, type Logger } from './log.js';
