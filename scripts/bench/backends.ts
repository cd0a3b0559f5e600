/**
 * Every ropelab backend in one run: 'js' (scalar kernels), 'wasm' on one thread and two ('wasm×2'), and the gpu.js
 * backend in its Node modes 'cpu' (gpu.js compiles the kernels to plain JS) and 'webasm' (to WebAssembly), on
 * float32 matmul 256³ and 512³ and an attention step (fused scaled dot-product attention, forward). Not a test;
 * prints a table.
 *
 *   npm run bench:backends              (gpu.js: npm run peers:install once; without it the gpujs rows say n/a)
 *   npm run bench:backends -- --page    the same in headless Chromium (scripts/lib/chromium.ts), on a cross-origin
 *                                       isolated page, plus gpu.js's 'webgl2' and 'webgpu' modes (backends-page.ts)
 *
 * The contenders alternate within each repetition (pairedMediansMs; in the page its node-free twin), each pinned to
 * its backend, mode and thread count for its call. GFLOP/s = 2·M·N·K / time for a product; for attention
 * 4·heads·T²·d (q·kᵀ and P·v, dense, no mask), the softmax not counted. Ratios are speeds relative to js (> 1:
 * faster than js).
 */
import { existsSync } from 'node:fs';
import { backendNames, prepareBackend } from '../../core/backend.js';
import { GPUJS_VERSION } from '../../core/gpujs/backend.js';
import { readFlags } from '../lib/flags.js';
import { isEntryPoint } from '../lib/entry.js';
import { chromiumMissing, openBrowserPages } from '../lib/chromium.js';
import { fmt, printEnvironment, printTable } from './harness.js';
import { CASES, CONTENDERS, GPUJS_BROWSER_BUILD, PAGE_CONTENDERS, measureCases, unavailable, type Contender, type PageBenchResult } from './backends-page.js';

export { CASES, CONTENDERS, type Contender } from './backends-page.js';

const HELP = `npm run bench:backends [-- --page] [-- --help]

Times js, wasm, wasm×2 (two threads), gpujs cpu and gpujs webasm on float32 matmul 256³ and 512³ and an attention
step, alternating in one process, and prints GFLOP/s and speed ratios vs js.
  --page   run it in headless Chromium instead (Debian's /usr/bin/chromium, or $CHROMIUM), on a cross-origin
           isolated page, adding gpujs webgl2 and gpujs webgpu (n/a where Chromium gives no adapter)`;

/** The table: per case, each contender's GFLOP/s (median ms) and speed vs js; 'n/a' where ms is null. */
function printResults(contenders: readonly Contender[], ms: readonly (readonly (number | null)[])[]): void {
  const js = contenders.findIndex((c) => c.label === 'js');
  const rows = CASES.map((kase, k) => [kase.label, ...contenders.map((_, i) => {
    const t = ms[k]![i];
    if (t === null || t === undefined) return 'n/a';
    return `${fmt(kase.flops / (t * 1e6))} (${fmt(t, 1)} ms) ${fmt(ms[k]![js]! / t)}×`;
  })]);
  console.log('GFLOP/s (median ms); ratio = speed vs js (> 1: faster than js)\n');
  printTable(['case', ...contenders.map((c) => c.label)], rows);
}

async function inNode(): Promise<void> {
  printEnvironment('backends: ropelab js, wasm, wasm×2, gpujs cpu and gpujs webasm, alternating in one process');
  let gpujsNote = `gpu.js ${GPUJS_VERSION}`;
  try {
    await prepareBackend('gpujs');
  } catch (e) {
    gpujsNote = `gpujs n/a — ${e instanceof Error ? e.message : String(e)}`;
  }
  const reasons = CONTENDERS.map((c) => unavailable(c));
  console.log(`${gpujsNote}; backends here: ${backendNames().join(', ')}`);
  CONTENDERS.forEach((c, i) => reasons[i] !== null && console.log(`${c.label}: n/a — ${reasons[i]}`));
  printResults(CONTENDERS, await measureCases(CONTENDERS, reasons));
}

async function inPage(): Promise<void> {
  const missing = chromiumMissing();
  if (missing !== null) {
    console.error(`bench:backends --page: ${missing}`);
    process.exit(2);
  }
  const module = 'scripts/bench/backends-page.ts';
  // gpu.js's browser build as an entry of its own (importBundledGpuJs imports it); absent: the gpujs columns say why
  const hasGpuJs = existsSync(GPUJS_BROWSER_BUILD);
  const t0 = performance.now();
  const pages = await openBrowserPages(hasGpuJs ? [module, GPUJS_BROWSER_BUILD] : [module]);
  try {
    const report = await pages.run({ page: 'isolated', call: { module, export: 'runBackendsPage' }, timeoutMs: 600_000 });
    if (report.error !== '') throw new Error(`bench:backends --page: the page failed: ${report.error}`);
    const r = report.value as PageBenchResult;
    console.log(`backends in headless Chromium ${pages.chromium.version} (${r.userAgent}), cross-origin isolated: ${r.crossOriginIsolated}`);
    console.log(`js, wasm, wasm×2 and gpu.js ${GPUJS_VERSION} in every mode, alternating in one page; page time ${(r.wallMs / 1000).toFixed(1)} s, wall ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    console.log(`gpujs: ${hasGpuJs ? r.gpujs : `n/a — ${GPUJS_BROWSER_BUILD} is absent (npm run peers:install)`}; backends in the page: ${r.backends.join(', ')}`);
    PAGE_CONTENDERS.forEach((c, i) => r.reasons[i] !== null && console.log(`${c.label}: n/a — ${r.reasons[i]!.split('\n')[0]}`));
    printResults(PAGE_CONTENDERS, r.ms);
  } finally {
    await pages.close();
  }
}

async function main(): Promise<void> {
  const { page } = readFlags('bench:backends', HELP, { page: false }, { values: {}, switches: { page: (f) => void (f.page = true) } });
  await (page ? inPage() : inNode());
}

if (isEntryPoint(import.meta.url, 'backends')) await main();
