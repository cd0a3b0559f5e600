/** ropelab: the package root re-exports every folder's public surface. */
export * from './core/index.js';
