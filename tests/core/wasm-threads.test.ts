import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WasmHeap } from '../../core/wasm/heap.js';
import { WasmGemm, type GemmDType } from '../../core/wasm/gemm.js';
import { ThreadPool, threadsUnavailableReason } from '../../core/wasm/threads.js';
import { Generator, getBackend, getNumThreads, matmul, randn, setBackend, setNumThreads, ValueError } from '../../core/index.js';
import { chooseByTimes, type CalibrationTime } from '../../core/backend.js';
import { gemmBuffers, type GemmCase } from '../helpers/gemm-case.js';
import { assertRefused } from '../helpers/refusal.js';

const seed = Number(process.env['FC_SEED'] ?? 42);

// One heap, a single-thread kernel per dtype, and a threaded kernel per dtype that splits every product (minWork 0),
// so that small fast-check shapes, edge strips included, exercise the split.
const heap = new WasmHeap();
const single: Record<GemmDType, WasmGemm> = { float32: new WasmGemm(heap, 'float32'), float64: new WasmGemm(heap, 'float64') };
const threaded: Record<GemmDType, WasmGemm> = { float32: new WasmGemm(heap, 'float32'), float64: new WasmGemm(heap, 'float64') };
const pool = new ThreadPool(heap, [threaded.float32.module, threaded.float64.module]);
threaded.float32.threads = threaded.float64.threads = { pool, minWork: 0 };

/** The product on `threads` threads, bitwise equal to the same kernel on one. */
function checkSplit(dtype: GemmDType, t: GemmCase, threads: number): void {
  pool.resize(threads);
  const Arr = dtype === 'float32' ? Float32Array : Float64Array;
  const { a, b, c } = gemmBuffers(t, Arr);
  const want = c.slice();
  single[dtype].gemm(t.M, t.N, t.K, a, t.aOff, t.transA, b, t.bOff, t.transB, want, t.cOff, t.accumulate);
  threaded[dtype].gemm(t.M, t.N, t.K, a, t.aOff, t.transA, b, t.bOff, t.transB, c, t.cOff, t.accumulate);
  for (let i = 0; i < c.length; i++) {
    if (!Object.is(c[i], want[i])) assert.unreachable(`${dtype} ${threads} threads ${JSON.stringify(t)}: c[${i}] = ${c[i]}, one thread ${want[i]}`);
  }
  assert.is(heap.liveBytes, 0, 'every operand block is freed');
  assert.ok(pool.started >= threads - 1 && pool.readyCount >= threads - 1, 'a ready worker per extra thread (parked ones stay)');
}

for (const dtype of ['float32', 'float64'] as const) {
  test(`wasm ${dtype} GEMM split over 2 and 3 threads = one thread, bit for bit (disjoint C strips, same sums in the same order)`, () => {
    const dim = fc.integer({ min: 1, max: 70 });
    const arb = fc.record({
      M: dim, N: dim, K: fc.integer({ min: 1, max: 300 }),
      transA: fc.boolean(), transB: fc.boolean(),
      aOff: fc.integer({ min: 0, max: 3 }), bOff: fc.integer({ min: 0, max: 3 }), cOff: fc.integer({ min: 0, max: 3 }),
      accumulate: fc.boolean(),
    });
    fc.assert(fc.property(arb, fc.constantFrom(2, 3), (t, n) => checkSplit(dtype, t, n)), { seed, numRuns: 60 });
  });
}

test('the workers do their strips: with the calling thread idle, only its own strips of C stay unwritten', () => {
  pool.resize(3);
  const { mr, nr } = threaded.float32;
  const Mp = 2 * mr;
  const Np = 6 * nr; // 6 strips: 0–1 for the caller, 2–3 and 4–5 for the two workers
  const K = 3;
  const a = heap.alloc(4 * Mp * K);
  const b = heap.alloc(4 * K * Np);
  const c = heap.alloc(4 * Mp * Np);
  try {
    heap.f32.fill(1, a / 4, a / 4 + Mp * K);
    heap.f32.fill(1, b / 4, b / 4 + K * Np);
    heap.f32.fill(-1, c / 4, c / 4 + Mp * Np);
    pool.run(threaded.float32.module, () => undefined, a, b, c, Mp, Np, K, Np / nr, 0);
    for (let i = 0; i < Mp; i++) {
      for (let j = 0; j < Np; j++) {
        const want = j < 2 * nr ? -1 : K; // the caller's strips untouched, the workers' = Σ_p 1·1
        assert.is(heap.f32[c / 4 + i * Np + j], want, `C[${i}, ${j}]`);
      }
    }
  } finally {
    heap.release(c);
    heap.release(b);
    heap.release(a);
  }
});

test('a worker that fails (an out-of-bounds operand) makes the product throw; the pool then works again', () => {
  pool.resize(2);
  checkSplit('float32', { M: 20, N: 40, K: 10, transA: false, transB: false, aOff: 0, bOff: 0, cOff: 0, accumulate: false }, 2);
  const outside = heap.memory.buffer.byteLength; // every address from here on traps
  const blocked = () => undefined; // the calling thread's part does nothing, so the error can only come from the worker
  assert.throws(() => pool.run(threaded.float32.module, blocked, outside, outside, outside, 4, 40, 10, 5, 0), /wasm worker thread failed/);
  checkSplit('float32', { M: 20, N: 40, K: 10, transA: true, transB: true, aOff: 1, bOff: 2, cOff: 3, accumulate: true }, 2);
});

test('threads need a shared memory: an unshared heap says why', () => {
  assert.is(threadsUnavailableReason(heap), null);
  assert.match(threadsUnavailableReason(new WasmHeap(false)) ?? '', /not shared/);
});

test('setNumThreads / getNumThreads: wasm products on 2 threads equal 1 thread; the JS backend has one thread', () => {
  // the test runner pins 'js' before any test runs (scripts/test.mjs)
  const g = new Generator(5);
  const a = randn([150, 140], { generator: g });
  const b = randn([140, 130], { generator: g }); // 2.7 M multiply-adds: above the threading threshold
  assert.is(getBackend(), 'js');
  assert.is(getNumThreads(), 1);
  assertRefused(() => setNumThreads(2), ValueError, 'setNumThreads', { arg: 'n', words: ["backend 'js'"] });
  assert.is(getNumThreads(), 1, 'a refused call changes nothing');
  setBackend('wasm');
  try {
    setNumThreads(1);
    const one = matmul(a, b);
    setNumThreads(2);
    assert.is(getNumThreads(), 2);
    const two = matmul(a, b);
    assert.ok(one.data.every((x, i) => Object.is(x, two.data[i])), 'bitwise equal');
    for (const bad of [0, 1.5, 65, Number.NaN]) assertRefused(() => setNumThreads(bad), ValueError, 'setNumThreads', { arg: 'n' });
    assert.is(getNumThreads(), 2, 'refused calls leave the setting');
    setBackend('js');
    assert.is(getNumThreads(), 1, 'js runs on one thread whatever the setting');
    setBackend('wasm');
    assert.is(getNumThreads(), 2, 'the setting carries back to wasm');
  } finally {
    setBackend('wasm');
    setNumThreads(1);
    setBackend('js');
  }
});

/**
 * Runs `lines` (TypeScript, `core` bound to core/index.ts and `features` to core/wasm/features.ts) in a fresh
 * process through scripts/run.mjs, which must end within 30 s; returns its stdout, trimmed.
 */
function runInChild(lines: readonly string[]): string {
  const dir = mkdtempSync(join(process.cwd(), '.cache', 'child-'));
  try {
    const entry = join(dir, 'main.ts');
    writeFileSync(entry, [
      `import * as core from ${JSON.stringify(join(process.cwd(), 'core/index.ts'))};`,
      `import * as features from ${JSON.stringify(join(process.cwd(), 'core/wasm/features.ts'))};`,
      'void features;',
      ...lines,
    ].join('\n'));
    const run = spawnSync(process.execPath, ['scripts/run.mjs', entry], { encoding: 'utf8', timeout: 30_000 });
    assert.is(run.error, undefined, `the child ended within 30 s (${String(run.error)})`);
    assert.is(run.status, 0, run.stderr);
    return run.stdout.trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a process that used worker threads exits when its main thread is done (the workers do not hold it open)', () => {
  const out = runInChild([
    "core.setBackend('wasm');",
    'core.setNumThreads(2);',
    'console.log(String(core.matmul(core.ones([200, 200]), core.ones([200, 200])).data[0])); // String: no colour codes',
  ]);
  assert.is(out, '200', 'the product ran');
});

test('chooseByTimes: js unless a backend is faster by the margin (1.25×), each later one against the best so far', () => {
  assert.is(chooseByTimes([{ name: 'js', ms: 10 }, { name: 'wasm', ms: 2 }]), 'wasm');
  assert.is(chooseByTimes([{ name: 'js', ms: 10 }, { name: 'wasm', ms: 8.5 }]), 'js', 'faster, but not by the margin');
  assert.is(chooseByTimes([{ name: 'js', ms: 10 }, { name: 'wasm', ms: 5 }, { name: 'gpujs', ms: 4.5 }]), 'wasm', 'gpujs is not 1.25× faster than wasm');
  assert.is(chooseByTimes([{ name: 'js', ms: 10 }, { name: 'wasm', ms: 5 }, { name: 'gpujs', ms: 3 }]), 'gpujs');
  assert.is(chooseByTimes([{ name: 'js', ms: 1 }]), 'js');
});

test('the default backend is chosen by calibration at first use: the fastest by the margin among the timed backends, js without SIMD', () => {
  // no setBackend: the first product (or getBackend) times each backend's gemm against JS and keeps the fastest
  const chosen = runInChild([
    `import * as backendModule from ${JSON.stringify(join(process.cwd(), 'core/backend.ts'))};`,
    'const first = core.matmul(core.ones([3, 4]), core.ones([4, 5])).data[0];',
    'console.log(JSON.stringify({ first, backend: core.getBackend(), threads: core.getNumThreads(), times: backendModule.defaultCalibrationTimes() }));',
  ]);
  const { first, backend, threads, times } = JSON.parse(chosen) as { first: number; backend: string; threads: number; times: CalibrationTime[] };
  assert.is(first, 4, 'the call that triggered the calibration ran on the chosen backend');
  // which backend wins is a timing (a benchmark's business); that the rule picked it from what it measured is not
  assert.equal(times.map((t) => t.name), ['js', 'wasm'], 'on this engine (SIMD128, Node) js and wasm were timed');
  assert.is(backend, chooseByTimes(times), `the rule's choice from the measured times ${JSON.stringify(times)}`);
  assert.ok(threads >= 1 && threads <= 4, `default threads ${threads}: the machine's cores, at most 4`);
  const withoutSimd = runInChild([
    "features.forceWasmUnavailable('switched off by the test');",
    'console.log(core.getBackend());',
  ]);
  assert.is(withoutSimd, 'js');
});

test.run();
