import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { gemmJs } from '../../core/kernels/matmul.js';
import { WasmHeap } from '../../core/wasm/heap.js';
import { gemmModule, WasmGemm, SGEMM_TILE, DGEMM_TILE, type GemmDType } from '../../core/wasm/gemm.js';
import { forceWasmUnavailable } from '../../core/wasm/features.js';
import { backendNames, getBackend, grad, gradcheck, matmul, randn, setBackend, sum, Generator, ValueError, type Tensor } from '../../core/index.js';
import { SENTINEL, gemmBuffers, type GemmCase } from '../helpers/gemm-case.js';

const seed = Number(process.env['FC_SEED'] ?? 42);
const U = 2 ** -24; // float32 unit roundoff
const U64 = 2 ** -53; // float64 unit roundoff

/** Σ_p |op(A)[i,p]·op(B)[p,j]| + |C0[i,j]|: the scale of float32 summation error of element (i, j). */
function errorScale(t: GemmCase, a: Float32Array | Float64Array, b: Float32Array | Float64Array, c0: Float32Array | Float64Array): Float64Array {
  const { M, N, K, transA, transB, aOff, bOff, cOff, accumulate } = t;
  const scale = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = accumulate ? Math.abs(c0[cOff + i * N + j]!) : 0;
      for (let p = 0; p < K; p++) {
        s += Math.abs((transA ? a[aOff + p * M + i]! : a[aOff + i * K + p]!) * (transB ? b[bOff + j * K + p]! : b[bOff + p * N + j]!));
      }
      scale[i * N + j] = s;
    }
  }
  return scale;
}

/**
 * Runs a wasm GEMM and the JS gemm on the same random buffers of its dtype and checks, per element,
 *   float32: |wasm − js| ≤ (K + 2)·2⁻²⁴·(Σ_p |a_ip·b_pj| + |c0|)
 *   float64: |wasm − js| ≤ 2(K + 2)·2⁻⁵³·(Σ_p |a_ip·b_pj| + |c0|)
 * float32: wasm sums K products (and c0) in float32, within γ_{K+1} of the exact value (Higham, "Accuracy and
 * Stability of Numerical Algorithms", 2002, eq. 3.5), and JS sums in float64 and rounds once (≤ 2⁻²⁴ of it).
 * float64: both sum in float64 in different orders (JS: 3 × 4 tiles over 512-deep slabs, wasm: 256-deep), each within
 * γ_{K+1} of the exact value, so within 2γ_{K+1} of each other. Also checks that nothing outside C's region was
 * written and that the heap is empty after the call.
 */
function check(kernel: WasmGemm, heap: WasmHeap, t: GemmCase): void {
  const { M, N, K, aOff, bOff, cOff } = t;
  const Arr = kernel.dtype === 'float32' ? Float32Array : Float64Array;
  const { a, b, c } = gemmBuffers(t, Arr);
  const want = c.slice();
  const scale = errorScale(t, a, b, want);
  gemmJs(M, N, K, a, aOff, t.transA, b, bOff, t.transB, want, cOff, t.accumulate);
  assert.ok(kernel.gemm(M, N, K, a, aOff, t.transA, b, bOff, t.transB, c, cOff, t.accumulate), `${kernel.dtype} is taken`);
  const unit = kernel.dtype === 'float32' ? U : 2 * U64;
  const label = `${kernel.dtype} ${JSON.stringify(t)}`;
  for (let i = 0; i < c.length; i++) {
    const inside = i >= cOff && i < cOff + M * N;
    if (!inside) {
      if (c[i] !== SENTINEL) assert.unreachable(`${label}: c[${i}] = ${c[i]} outside C was written`);
      continue;
    }
    const tol = (K + 2) * unit * scale[i - cOff]!;
    const err = Math.abs(c[i]! - want[i]!);
    if (!(err <= tol)) assert.unreachable(`${label}: C[${i - cOff}] = ${c[i]}, js ${want[i]} (|diff| ${err} > ${tol})`);
  }
  assert.is(heap.liveBytes, 0, 'every operand block is freed');
}

const heap = new WasmHeap();
const sgemm = new WasmGemm(heap, 'float32');
const dgemm = new WasmGemm(heap, 'float64');
const kernelsByDType: Record<GemmDType, WasmGemm> = { float32: sgemm, float64: dgemm };

test('the emitted SGEMM and DGEMM modules validate, shared and unshared memory', () => {
  assert.ok(heap.shared, 'Node allows a shared memory');
  for (const [dtype, tile] of [['float32', SGEMM_TILE], ['float64', DGEMM_TILE]] as const) {
    assert.ok(WebAssembly.validate(gemmModule(dtype, true, tile.mr, tile.nr)));
    assert.ok(WebAssembly.validate(gemmModule(dtype, false, tile.mr, tile.nr)));
  }
  assert.throws(() => gemmModule('float64', true, 3, 3), /^RangeError: gemmModule: tile 3 × 3 does not fit float64 registers|gemmModule: tile 3 × 3/);
});

for (const dtype of ['float32', 'float64'] as const) {
  const { mr: MR, nr: NR } = dtype === 'float32' ? SGEMM_TILE : DGEMM_TILE;
  const kernel = kernelsByDType[dtype];
  test(`wasm ${dtype} GEMM = js gemm to ${dtype} summation error: shapes with edge strips, K across slabs, transposes, offsets, accumulate`, () => {
  const dim = fc.oneof(fc.integer({ min: 1, max: 2 * MR + 1 }), fc.integer({ min: 1, max: 3 * NR + 5 }), fc.integer({ min: 1, max: 45 }));
  const depth = fc.oneof(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 600 })); // slabs are 256 deep
  const arb = fc.record({
    M: dim, N: dim, K: depth,
    transA: fc.boolean(), transB: fc.boolean(),
    aOff: fc.integer({ min: 0, max: 5 }), bOff: fc.integer({ min: 0, max: 5 }), cOff: fc.integer({ min: 0, max: 5 }),
    accumulate: fc.boolean(),
  });
  fc.assert(fc.property(arb, (t) => check(kernel, heap, t)), { seed, numRuns: 150 });
  });

  test(`wasm ${dtype} GEMM: tall blocks (M past a 128-row block), K = 0, one row or column`, () => {
    const base = { transA: false, transB: false, aOff: 1, bOff: 2, cOff: 3, accumulate: false };
    check(kernel, heap, { ...base, M: 133, N: 19, K: 300, transB: true });
    check(kernel, heap, { ...base, M: 257, N: 9, K: 7, transA: true, accumulate: true });
    check(kernel, heap, { ...base, M: 1, N: 17, K: 5 });
    check(kernel, heap, { ...base, M: 17, N: 1, K: 5, accumulate: true });
    const Arr = dtype === 'float32' ? Float32Array : Float64Array;
    for (const accumulate of [false, true]) {
      const c = new Arr([SENTINEL, 3, 4, 5, 6, SENTINEL]);
      assert.ok(kernel.gemm(2, 2, 0, new Arr(0), 0, false, new Arr(0), 0, false, c, 1, accumulate));
      assert.equal(Array.from(c), accumulate ? [SENTINEL, 3, 4, 5, 6, SENTINEL] : [SENTINEL, 0, 0, 0, 0, SENTINEL]);
    }
  });
}

test('each wasm GEMM declines the other dtype and mixed dtypes, writing nothing', () => {
  const f32 = new Float32Array(16).fill(1);
  const f64 = new Float64Array(16).fill(1);
  const c32 = new Float32Array(16).fill(SENTINEL);
  const c64 = new Float64Array(16).fill(SENTINEL);
  assert.not.ok(sgemm.gemm(4, 4, 4, f64, 0, false, f64, 0, false, c64, 0, false));
  assert.not.ok(sgemm.gemm(4, 4, 4, f32, 0, false, f64, 0, false, c32, 0, false));
  assert.not.ok(sgemm.gemm(4, 4, 4, f32, 0, false, f32, 0, false, c64, 0, false));
  assert.not.ok(dgemm.gemm(4, 4, 4, f32, 0, false, f32, 0, false, c32, 0, false));
  assert.not.ok(dgemm.gemm(4, 4, 4, f64, 0, false, f32, 0, false, c64, 0, false));
  assert.not.ok(dgemm.gemm(4, 4, 4, f64, 0, false, f64, 0, false, c32, 0, false));
  assert.ok(c64.every((x) => x === SENTINEL) && c32.every((x) => x === SENTINEL));
});

test('an unshared heap runs the same kernel (small product: no growth, which would detach its buffer)', () => {
  const own = new WasmHeap(false);
  assert.not.ok(own.shared);
  const bytes = own.memory.buffer.byteLength;
  check(new WasmGemm(own, 'float32'), own, { M: 9, N: 13, K: 21, transA: true, transB: false, aOff: 2, bOff: 0, cOff: 1, accumulate: true });
  check(new WasmGemm(own, 'float64'), own, { M: 9, N: 13, K: 21, transA: false, transB: true, aOff: 1, bOff: 3, cOff: 0, accumulate: true });
  assert.is(own.memory.buffer.byteLength, bytes);
});

test('WasmHeap: first-fit reuse, merging neighbours, lowering the top, growth keeps contents', () => {
  const h = new WasmHeap();
  const x = h.alloc(100); // 128 bytes
  const y = h.alloc(64);
  const z = h.alloc(1);
  assert.is(x % 64, 0);
  assert.is(y, x + 128);
  assert.is(z, y + 64);
  h.release(x);
  h.release(y); // merges with x: a free 192-byte block at x
  assert.is(h.alloc(192), x, 'the merged block is reused whole');
  h.release(x);
  h.release(z); // z was at the top: the top drops to x, everything is free
  assert.is(h.liveBytes, 0);
  assert.is(h.alloc(64), x, 'after everything is freed allocation starts at the bottom again');
  h.f32[x / 4] = 1.5;
  const big = h.alloc(3 * 65536); // grows the memory
  assert.ok(h.memory.buffer.byteLength >= big + 3 * 65536);
  assert.is(h.f32[x / 4], 1.5, 'growth keeps what was stored, and the view is renewed');
  assert.throws(() => h.release(big + 64), /WasmHeap.release: .* is not a live block/);
});

test('WasmHeap.allocRegions: aligned, disjoint regions in one block that one release frees', () => {
  const h = new WasmHeap();
  const [a, b, c] = h.allocRegions([1, 100, 64]);
  assert.equal([a! % 64, b! - a!, c! - b!], [0, 64, 128], 'each region rounded up to 64 bytes, in order');
  assert.is(h.liveBytes, 256);
  h.release(a!);
  assert.is(h.liveBytes, 0, 'the first start frees the whole block');
});

/** Runs body on the wasm backend and always returns to js. */
function onWasm(body: () => void): void {
  setBackend('wasm');
  try {
    body();
  } finally {
    setBackend('js');
  }
}

function assertClose(got: Tensor, want: Tensor, rtol: number, what: string): void {
  assert.equal(got.shape, want.shape, what);
  let worst = 0;
  for (let i = 0; i < got.size; i++) worst = Math.max(worst, Math.abs(got.data[i]! - want.data[i]!) / (Math.abs(want.data[i]!) + 1));
  assert.ok(worst <= rtol, `${what}: worst relative difference ${worst} > ${rtol}`);
}

test("setBackend('wasm') then matmul (the public op) = js, forward and backward, batched and transposed", () => {
  const gen = new Generator(11);
  const a = randn([3, 37, 70], { generator: gen, requiresGrad: true });
  const b = randn([70, 29], { generator: gen, requiresGrad: true });
  const bt = randn([3, 29, 70], { generator: gen, requiresGrad: true });
  const run = (): Tensor[] => {
    const out = matmul(a, bt, { transposeB: true });
    const [ga, gb] = grad((x: Tensor, y: Tensor) => sum(matmul(x, y).square()))(a, b);
    return [out, matmul(a, b), ga!, gb!];
  };
  const want = run();
  let got: Tensor[] = [];
  onWasm(() => {
    assert.is(getBackend(), 'wasm');
    got = run();
  });
  assert.is(getBackend(), 'js');
  // K ≤ 111 here: (K + 2)·2⁻²⁴ relative to Σ|products| ≤ 1e-5; relative to |value| + 1 that is ample for randn data
  ['A·Bᵀ batched', 'A·shared B', 'dA', 'dB'].forEach((what, i) => assertClose(got[i]!, want[i]!, 1e-4, what));
  const differs = got.some((g, i) => g.data.some((x, j) => x !== want[i]!.data[j]));
  assert.ok(differs, 'the wasm kernel ran (float32 sums round differently from the float64 JS sums)');
});

test("setBackend('wasm') then float64 matmul (the public op) = js to float64 summation error, forward and backward", () => {
  const gen = new Generator(12);
  // K = 700 crosses the JS kernel's 512-deep slab (it adds per-slab sums, wasm sums in one run): results differ in
  // the last bits, which shows the wasm kernel ran
  const a = randn([2, 40, 700], { generator: gen, dtype: 'float64', requiresGrad: true });
  const b = randn([700, 50], { generator: gen, dtype: 'float64', requiresGrad: true });
  const run = (): Tensor[] => {
    const [ga, gb] = grad((x: Tensor, y: Tensor) => sum(matmul(x, y).square()))(a, b);
    return [matmul(a, b), matmul(b, a, { transposeA: true, transposeB: true }), ga!, gb!];
  };
  const want = run();
  let got: Tensor[] = [];
  onWasm(() => {
    got = run();
  });
  // K ≤ 700: 2(K + 2)·2⁻⁵³ relative to Σ|products| is < 2e-13; relative to |value| + 1, 1e-11 is ample for randn data
  ['A·B batched', 'Bᵀ·Aᵀ', 'dA', 'dB'].forEach((what, i) => assertClose(got[i]!, want[i]!, 1e-11, what));
  assert.ok(got.every((g) => g.dtype === 'float64'));
  const differs = got.some((g, i) => g.data.some((x, j) => x !== want[i]!.data[j]));
  assert.ok(differs, 'the wasm kernel ran (its float64 sums are ordered differently from the JS slabs)');
});

test("gradcheck of float64 matmul on setBackend('wasm'): plain and both transposes", () => {
  const gen = new Generator(13);
  const a = randn([16, 20], { generator: gen, dtype: 'float64', requiresGrad: true });
  const b = randn([20, 18], { generator: gen, dtype: 'float64', requiresGrad: true });
  const at = randn([20, 16], { generator: gen, dtype: 'float64', requiresGrad: true });
  const bt = randn([18, 20], { generator: gen, dtype: 'float64', requiresGrad: true });
  onWasm(() => {
    assert.ok(gradcheck((x, y) => matmul(x, y), [a, b]));
    assert.ok(gradcheck((x, y) => matmul(x, y, { transposeA: true, transposeB: true }), [at, bt]));
  });
});

test('with WebAssembly SIMD switched off, setBackend refuses wasm naming why, backendNames drops it, js stays', () => {
  assert.ok(backendNames().includes('wasm'));
  forceWasmUnavailable('WebAssembly SIMD is switched off');
  try {
    assert.not.ok(backendNames().includes('wasm'));
    assert.throws(
      () => setBackend('wasm'),
      (e: unknown) => e instanceof ValueError && e.message === "setBackend: backend 'wasm' cannot run here: WebAssembly SIMD is switched off (setBackend('js') runs everywhere)",
    );
    assert.is(getBackend(), 'js');
    const x = randn([20, 20], { generator: new Generator(3) });
    assert.equal(matmul(x, x).shape, [20, 20]);
  } finally {
    forceWasmUnavailable(null);
  }
});

test.run();
