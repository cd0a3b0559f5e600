#!/usr/bin/env node
// Run a TypeScript entry point: esbuild bundles it (packages stay external) into a private folder under .cache/
// (one per run, so that runs at the same time never read each other's half-written bundle), then node runs it and
// the folder is removed. Usage: node scripts/run.mjs scripts/demo.ts [args…]
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { basename, resolve } from 'node:path';

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run.mjs <file.ts> [args…]');
  process.exit(2);
}
const outdir = resolve('.cache', `run-${process.pid}`);
const outfile = resolve(outdir, basename(entry).replace(/\.ts$/, '.mjs'));
try {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'inline',
    logLevel: 'error',
  });
} catch {
  process.exit(2); // esbuild has printed what is wrong (a missing file, a syntax error)
}
const result = spawnSync(process.execPath, ['--enable-source-maps', outfile, ...args], { stdio: 'inherit', cwd: process.cwd() });
rmSync(outdir, { recursive: true, force: true });
process.exit(result.status ?? 1);
