#!/usr/bin/env node
// npm run build: esbuild emits ESM bundles (one per public entry, shared code split into chunks), tsc emits .d.ts.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

const entries = ['index.ts', 'core/index.ts', 'nn/index.ts', 'positional/index.ts', 'models/index.ts'];
rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: entries,
  outdir: 'dist',
  outbase: '.',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  sourcemap: true,
  external: ['gpu.js', 'node:*'],
  logLevel: 'warning',
});
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
console.log(`built ${entries.length} entry points into dist/ (ESM + .d.ts)`);
