import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { gemmJs } from '../../core/kernels/matmul.js';
import { WasmHeap } from '../../core/wasm/heap.js';
import { sgemmModule, WasmSgemm, MR, NR } from '../../core/wasm/sgemm.js';
import { forceWasmUnavailable } from '../../core/wasm/features.js';
import { backendNames, getBackend, grad, matmul, randn, setBackend, sum, Generator, ValueError, type Tensor } from '../../core/index.js';

const seed = Number(process.env['FC_SEED'] ?? 42);
const SENTINEL = 12345.5;
const U = 2 ** -24; // float32 unit roundoff

interface Case {
  M: number; N: number; K: number;
  transA: boolean; transB: boolean;
  aOff: number; bOff: number; cOff: number;
  accumulate: boolean;
}

function fillRandom(buf: Float32Array | Float64Array, state: number): void {
  let s = state >>> 0;
  for (let i = 0; i < buf.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    buf[i] = s / 2 ** 31 - 1;
  }
}

/** Σ_p |op(A)[i,p]·op(B)[p,j]| + |C0[i,j]|: the scale of float32 summation error of element (i, j). */
function errorScale(t: Case, a: Float32Array, b: Float32Array, c0: Float32Array): Float64Array {
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
 * Runs the wasm SGEMM and the JS gemm on the same random float32 buffers and checks
 *   |wasm − js| ≤ (K + 2)·2⁻²⁴·(Σ_p |a_ip·b_pj| + |c0|)
 * per element: wasm sums K products (and c0) in float32, within γ_{K+1} of the exact value (Higham, "Accuracy and
 * Stability of Numerical Algorithms", 2002, eq. 3.5), and JS sums in float64 and rounds once (≤ 2⁻²⁴ of it). Also
 * checks that nothing outside C's region was written and that the heap is empty after the call.
 */
function check(sgemm: WasmSgemm, heap: WasmHeap, t: Case): void {
  const { M, N, K, aOff, bOff, cOff } = t;
  const a = new Float32Array(aOff + M * K + 3);
  const b = new Float32Array(bOff + K * N + 3);
  const c = new Float32Array(cOff + M * N + 3).fill(SENTINEL);
  fillRandom(a, 1 + M * 7 + K);
  fillRandom(b, 2 + N * 11 + K);
  fillRandom(c.subarray(cOff, cOff + M * N), 3 + M + N);
  const want = c.slice();
  const scale = errorScale(t, a, b, want);
  gemmJs(M, N, K, a, aOff, t.transA, b, bOff, t.transB, want, cOff, t.accumulate);
  assert.ok(sgemm.gemm(M, N, K, a, aOff, t.transA, b, bOff, t.transB, c, cOff, t.accumulate), 'float32 is taken');
  const label = JSON.stringify(t);
  for (let i = 0; i < c.length; i++) {
    const inside = i >= cOff && i < cOff + M * N;
    if (!inside) {
      if (c[i] !== SENTINEL) assert.unreachable(`${label}: c[${i}] = ${c[i]} outside C was written`);
      continue;
    }
    const tol = (K + 2) * U * scale[i - cOff]!;
    const err = Math.abs(c[i]! - want[i]!);
    if (!(err <= tol)) assert.unreachable(`${label}: C[${i - cOff}] = ${c[i]}, js ${want[i]} (|diff| ${err} > ${tol})`);
  }
  assert.is(heap.liveBytes, 0, 'every operand block is freed');
}

const heap = new WasmHeap();
const sgemm = new WasmSgemm(heap);

test('the emitted SGEMM module validates, shared and unshared memory', () => {
  assert.ok(heap.shared, 'Node allows a shared memory');
  assert.ok(WebAssembly.validate(sgemmModule(true)));
  assert.ok(WebAssembly.validate(sgemmModule(false)));
});

test('wasm SGEMM = js gemm to float32 summation error: shapes with edge strips, K across slabs, transposes, offsets, accumulate', () => {
  const dim = fc.oneof(fc.integer({ min: 1, max: 2 * MR + 1 }), fc.integer({ min: 1, max: 3 * NR + 5 }), fc.integer({ min: 1, max: 45 }));
  const depth = fc.oneof(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 600 })); // slabs are 256 deep
  const arb = fc.record({
    M: dim, N: dim, K: depth,
    transA: fc.boolean(), transB: fc.boolean(),
    aOff: fc.integer({ min: 0, max: 5 }), bOff: fc.integer({ min: 0, max: 5 }), cOff: fc.integer({ min: 0, max: 5 }),
    accumulate: fc.boolean(),
  });
  fc.assert(fc.property(arb, (t) => check(sgemm, heap, t)), { seed, numRuns: 150 });
});

test('wasm SGEMM: tall blocks (M past a 128-row block), K = 0, one row or column', () => {
  const base = { transA: false, transB: false, aOff: 1, bOff: 2, cOff: 3, accumulate: false };
  check(sgemm, heap, { ...base, M: 133, N: 19, K: 300, transB: true });
  check(sgemm, heap, { ...base, M: 257, N: 9, K: 7, transA: true, accumulate: true });
  check(sgemm, heap, { ...base, M: 1, N: 17, K: 5 });
  check(sgemm, heap, { ...base, M: 17, N: 1, K: 5, accumulate: true });
  for (const accumulate of [false, true]) {
    const c = new Float32Array([SENTINEL, 3, 4, 5, 6, SENTINEL]);
    assert.ok(sgemm.gemm(2, 2, 0, new Float32Array(0), 0, false, new Float32Array(0), 0, false, c, 1, accumulate));
    assert.equal(Array.from(c), accumulate ? [SENTINEL, 3, 4, 5, 6, SENTINEL] : [SENTINEL, 0, 0, 0, 0, SENTINEL]);
  }
});

test('wasm SGEMM declines float64 and mixed dtypes, writing nothing', () => {
  const f32 = new Float32Array(16).fill(1);
  const f64 = new Float64Array(16).fill(1);
  const c64 = new Float64Array(16).fill(SENTINEL);
  assert.not.ok(sgemm.gemm(4, 4, 4, f64, 0, false, f64, 0, false, c64, 0, false));
  assert.not.ok(sgemm.gemm(4, 4, 4, f32, 0, false, f64, 0, false, f32.slice(), 0, false));
  assert.not.ok(sgemm.gemm(4, 4, 4, f32, 0, false, f32, 0, false, c64, 0, false));
  assert.ok(c64.every((x) => x === SENTINEL));
});

test('an unshared heap runs the same kernel (small product: no growth, which would detach its buffer)', () => {
  const own = new WasmHeap(false);
  assert.not.ok(own.shared);
  const bytes = own.memory.buffer.byteLength;
  check(new WasmSgemm(own), own, { M: 9, N: 13, K: 21, transA: true, transB: false, aOff: 2, bOff: 0, cOff: 1, accumulate: true });
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

test('float64 products on the wasm backend run on js: bit-identical', () => {
  const gen = new Generator(12);
  const a = randn([40, 33], { generator: gen, dtype: 'float64' });
  const b = randn([33, 50], { generator: gen, dtype: 'float64' });
  const want = Array.from(matmul(a, b).data);
  onWasm(() => assert.equal(Array.from(matmul(a, b).data), want));
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
