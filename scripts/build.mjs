#!/usr/bin/env node
// npm run build (and npm pack / npm publish, through prepack): tsc compiles every source module to its own ES
// module in dist/, with its .d.ts and a source map (sources inlined). One file per module, not one bundle per entry,
// so that a bundler keeps only the modules an import reaches (package.json: "sideEffects": false).
// The `ropelab/testing` entry (testing/: fast-check arbitraries and property checkers; fast-check is its optional
// peer) is compiled with the library into dist/testing/, through a temporary tsconfig (in .cache/) that
// extends tsconfig.build.json with the testing/ folder.
// Usage: node scripts/build.mjs [--outdir DIR]   (default dist; the package tests build into a temporary folder)
// The default build also writes the RoPE playground page (docs/playground/: index.html + the esbuild bundle of
// main.ts, ropelab from source) to out/playground/ — not into dist/, so the package does not ship it.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
const root = fileURLToPath(new URL('..', import.meta.url));
const base = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8'));
mkdirSync(join(root, '.cache'), { recursive: true });
const tmp = mkdtempSync(join(root, '.cache', 'build-')); // inside the checkout, so that node_modules/@types is found
const config = join(tmp, 'tsconfig.json');
// paths in a tsconfig resolve against its own folder: the temporary one names the sources absolutely
writeFileSync(config, JSON.stringify({ extends: join(root, 'tsconfig.build.json'), include: [...base.include, 'testing'].map((p) => join(root, p)) }));
try {
  execFileSync(process.execPath, [tsc, '-p', config, '--outDir', outdir, '--noEmitOnError'], { stdio: 'inherit' });
} catch {
  console.error('build: tsc failed (its errors are above)');
  process.exit(1);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
console.log(`built ${outdir}/: one ES module, .d.ts and source map per source file`);

if (args.length === 0) {
  const { build } = await import('esbuild');
  const page = 'out/playground';
  mkdirSync(page, { recursive: true });
  try {
    await build({ entryPoints: ['docs/playground/main.ts'], outfile: `${page}/playground.js`, bundle: true, platform: 'browser', format: 'esm', target: 'es2022', logLevel: 'error' });
  } catch {
    console.error('build: the playground bundle failed (esbuild errors above)');
    process.exit(1);
  }
  copyFileSync('docs/playground/index.html', `${page}/index.html`);
  console.log(`built ${page}/: the RoPE playground (index.html + playground.js; npm run playground serves it from source)`);
}
