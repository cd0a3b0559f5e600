#!/usr/bin/env node
// Compile every tests/**/*.test.ts with esbuild into a per-run folder under .cache/, then run them all with uvu
// in one process (a private folder per run, so concurrent runs never clobber each other).
// Usage: node scripts/test.mjs [pattern] [--backend NAME] [--wasm-too]
//   pattern        filters test files by path, as a regular expression
//   --backend NAME runs the files under core's backend NAME, default 'js' (node preloads tests/core/backend-setup.ts,
//                  which calls setBackend before any test file loads; ROPELAB_BACKEND=NAME in the environment does
//                  the same)
//   --wasm-too     after the run, runs WASM_SUITE again under 'wasm' when this engine has WebAssembly SIMD (one
//                  line says it ran or why not); the closing line sums both runs
// tests/browser/ (the browser suite: the same tests in headless Chromium, see tests/browser/harness.ts) runs in a
// second uvu process alongside the main run (Chromium works on the other core) with its output printed after the main
// run's; the closing line sums both. Without Chromium it prints one line and is skipped, except in CI (CI=1, set by
// .ci/run), where it fails.
// FC_SEED=<n> replays fast-check properties with another seed (the default is fixed).
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = process.cwd();
const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  args.splice(i, 1);
  return true;
};
const backendAt = args.indexOf('--backend');
const backend = backendAt >= 0 ? args.splice(backendAt, 2)[1] : process.env.ROPELAB_BACKEND || undefined;
if (backendAt >= 0 && !backend) {
  console.error('--backend needs a name');
  process.exit(2);
}
const wasmToo = flag('--wasm-too') === true;
const pattern = args[0] ? new RegExp(args[0]) : null;

/**
 * Files that run a second time under 'wasm' with --wasm-too: the products, attention, layers and a model, all
 * compared with tolerances that allow float32 sums.
 */
const WASM_SUITE = /^tests\/(core\/(matmul|higher-order|attention|buffer-pool)|nn\/(attention|layers|mla|path-attention)|models\/gpt)\.test\.ts$/;

/** Why WebAssembly SIMD128 is missing here, or null: validates the probe of core/wasm/features.ts (v128.const). */
function wasmSimdMissing() {
  if (typeof WebAssembly !== 'object') return 'this engine has no WebAssembly';
  const probe = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7b, 3, 2, 1, 0, 10, 22, 1, 20, 0, 0xfd, 0x0c, ...new Array(16).fill(0), 0x0b];
  return WebAssembly.validate(new Uint8Array(probe)) ? null : 'this engine has WebAssembly but not its SIMD128 extension';
}

/** The browser suite: its own process, started alongside the main run, always under the default 'js' pin. */
const BROWSER_SUITE = /^tests\/browser\//;

function findTests(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return findTests(p);
    return e.name.endsWith('.test.ts') ? [p] : [];
  });
}

/** The test files whose path (relative to the root) matches `match` (null: all) and `keep`. */
function selectTests(match, keep = () => true) {
  return findTests(join(root, 'tests')).filter((p) => (!match || match.test(relative(root, p))) && keep(relative(root, p)));
}

/**
 * Builds and runs `entries` under `backendName` (undefined: the default); resolves to uvu's counts. With `buffer`,
 * uvu's output is kept in `output` instead of printed as it comes.
 */
async function runSuite(entries, backendName, tag, buffer = false) {
  const outdir = join(root, '.cache', `tests-${process.pid}-${tag}`);
  rmSync(outdir, { recursive: true, force: true });
  // the setup module is one more entry, so it shares the bundle's chunks (one core/ module instance with the tests)
  // and node preloads it with --import before uvu loads any test file
  const setup = join(root, 'tests/core/backend-setup.ts');
  await build({
    entryPoints: backendName ? [...entries, setup] : entries,
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
  const env = backendName ? { ...process.env, ROPELAB_BACKEND: backendName } : process.env;
  const preload = backendName ? ['--import', pathToFileURL(join(outdir, 'core/backend-setup.mjs')).href] : [];
  const child = spawn(process.execPath, ['--enable-source-maps', ...preload, uvu, relative(root, outdir), '\\.test\\.mjs$'], { cwd: root, env, stdio: ['ignore', 'pipe', buffer ? 'pipe' : 'inherit'] });
  let out = '';
  let output = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
    if (buffer) output += chunk;
    else process.stdout.write(chunk);
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const code = await new Promise((resolve) => child.on('close', resolve));
  rmSync(outdir, { recursive: true, force: true });
  const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
  const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  const skipped = Number(/Skipped:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  // a run that crashed before uvu's summary counts as one failure, so the closing line never reads "0 failed"
  return { passed, failed: total - passed + (code !== 0 && total === passed ? 1 : 0), skipped, code: code ?? 1, output };
}

const mainEntries = selectTests(pattern, (p) => !BROWSER_SUITE.test(p));
const browserEntries = selectTests(pattern, (p) => BROWSER_SUITE.test(p));
if (mainEntries.length + browserEntries.length === 0) {
  console.error(`no test files${pattern ? ` match ${pattern}` : ''}`);
  process.exit(1);
}
const t0 = performance.now();
// the browser suite starts first and runs alongside (its page pins its own backends; here 'js' like the main run)
const browserRun = browserEntries.length > 0 ? runSuite(browserEntries, 'js', 'browser', true).then((r) => ({ ...r, seconds: (performance.now() - t0) / 1000 })) : null;
// the main run pins the JS reference kernels (the default would be the fastest backend, chosen by calibration)
const runs = mainEntries.length > 0 ? [await runSuite(mainEntries, backend ?? 'js', 'main')] : [];
if (wasmToo) {
  const missing = wasmSimdMissing();
  if (missing !== null) console.log(`\nwasm backend run skipped: ${missing}`);
  else {
    console.log(`\nwasm backend run: ${WASM_SUITE.source} under setBackend('wasm')`);
    runs.push(await runSuite(selectTests(WASM_SUITE), 'wasm', 'wasm'));
  }
}
if (browserRun !== null) {
  const r = await browserRun;
  const skippedLine = /^browser suite skipped: .*$/m.exec(r.output.replace(/\x1b\[[0-9;]*m/g, ''));
  if (skippedLine !== null && r.passed + r.failed + r.skipped === 0) console.log(`\n${skippedLine[0]}`); // no Chromium, not CI: one line
  else {
    console.log(`\nbrowser suite (tests/browser/, headless Chromium; ran alongside, ${r.seconds.toFixed(1)} s):`);
    process.stdout.write(r.output);
  }
  runs.push(r);
}
const sum = (key) => runs.reduce((n, r) => n + r[key], 0);
console.log(`\n${sum('passed')} passed, ${sum('failed')} failed, ${sum('skipped')} skipped`); // uvu's Total excludes skipped tests
// a failure uvu counts but exits 0 on (a before hook that throws ends its suite with "(0 / n)" and code 0) still fails
process.exit(runs.find((r) => r.code !== 0)?.code ?? (sum('failed') > 0 ? 1 : 0));
