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
// glibc gives freed memory back to the kernel (large buffers are mapped per allocation, the heap's free top is trimmed),
// and every page of it then costs a fault (~10–15 µs) when touched again. A training loop frees and reallocates the
// same sizes every step, so our scripts keep freed memory mapped: the T = 512 LM step of `npm run bench:memory` paid
// 1 000–12 000 faults per step without this, 0–3 with it. A GLIBC_TUNABLES of your own is left as it is; other
// platforms ignore it.
const env = { ...process.env };
if (process.platform === 'linux' && env.GLIBC_TUNABLES === undefined) {
  env.GLIBC_TUNABLES = 'glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=18446744073709551615';
}
const result = spawnSync(process.execPath, ['--enable-source-maps', outfile, ...args], { stdio: 'inherit', cwd: process.cwd(), env });
rmSync(outdir, { recursive: true, force: true });
process.exit(result.status ?? 1);
