#!/usr/bin/env node
// Compile every tests/**/*.test.ts with esbuild into a per-run folder under .cache/, then run them all with uvu
// in one process (a private folder per run, so concurrent runs never clobber each other).
// Usage: node scripts/test.mjs [pattern]   (pattern filters test files by path, as a regular expression)
// FC_SEED=<n> replays fast-check properties with another seed (the default is fixed).
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = process.cwd();
const outdir = join(root, '.cache', `tests-${process.pid}`);
const pattern = process.argv[2] ? new RegExp(process.argv[2]) : null;

function findTests(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return findTests(p);
    return e.name.endsWith('.test.ts') ? [p] : [];
  });
}

const entries = findTests(join(root, 'tests')).filter((p) => !pattern || pattern.test(relative(root, p)));
if (entries.length === 0) {
  console.error(`no test files${pattern ? ` match ${pattern}` : ''}`);
  process.exit(1);
}
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: entries,
  outdir,
  outbase: join(root, 'tests'),
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node18',
  packages: 'external',
  sourcemap: 'inline',
  logLevel: 'error',
});

// uvu runs every compiled file in one process and prints Total/Passed/Skipped; we add the plain closing line.
const uvu = join(root, 'node_modules/uvu/bin.js');
const child = spawn(process.execPath, ['--enable-source-maps', uvu, relative(root, outdir), '\\.test\\.mjs$'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
child.stdout.on('data', (chunk) => {
  out += chunk;
  process.stdout.write(chunk);
});
child.on('close', (code) => {
  const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
  const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  const skipped = Number(/Skipped:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  console.log(`\n${passed} passed, ${total - passed} failed, ${skipped} skipped`); // uvu's Total excludes skipped tests
  rmSync(outdir, { recursive: true, force: true });
  process.exit(code ?? 1);
});
