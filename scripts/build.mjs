#!/usr/bin/env node
// npm run build (and npm pack / npm publish, through prepack): tsc compiles every source module to its own ES
// module in dist/, with its .d.ts and a source map (sources inlined). One file per module, not one bundle per entry,
// so that a bundler keeps only the modules an import reaches (package.json: "sideEffects": false).
// Usage: node scripts/build.mjs [--outdir DIR]   (default dist; the package tests build into a temporary folder)
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
let outdir = 'dist';
if (args.length === 2 && args[0] === '--outdir' && args[1] !== '') outdir = args[1];
else if (args.length !== 0) {
  console.error(`build: usage: node scripts/build.mjs [--outdir DIR], got '${args.join(' ')}'`);
  process.exit(2);
}

const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
rmSync(outdir, { recursive: true, force: true });
try {
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', outdir, '--noEmitOnError'], { stdio: 'inherit' });
} catch {
  console.error('build: tsc failed (its errors are above)');
  process.exit(1);
}
console.log(`built ${outdir}/: one ES module, .d.ts and source map per source file`);
