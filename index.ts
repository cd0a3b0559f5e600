/** ropelab: the package root re-exports every folder's public surface. */
export * from './core/index.js';
export * from './positional/index.js';
export * from './nn/index.js';
export * from './models/index.js';
