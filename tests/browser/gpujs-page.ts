/**
 * Runs in the page (tests/browser/gpujs.test.ts calls runGpujsPageChecks through the in-page harness,
 * scripts/lib/browser-page.ts, call mode): the 'gpujs' backend (core/gpujs/) in gpu.js's WebGL2 mode against
 * ropelab's JS kernels, on seeded generated shapes. gpu.js is the bundled browser build (importBundledGpuJs) handed
 * to prepareBackend('gpujs', { importModule }). Returns plain data; the Node side asserts on it.
 *
 * Each check reports `worst` = max over elements and cases of |gpujs − js| / tolerance (≤ 1 passes; NaN or a store
 * outside C counts as ∞) and the worst case. Tolerances (float32, U = 2⁻²⁴):
 *   gemm (the kernel):        |Δ| ≤ (K+2)·U·(Σ_p |a_ip·b_pj| + |c0|)   (γ_{K+1}, Higham 2002 eq. 3.5, any order/FMA)
 *   matmul, batched matmul:   |Δ| ≤ (K+2)·U·Σ_p |a_ip·b_pj|
 *   attention (out, dq, dk, dv): |Δ| ≤ 1e-4 (values ≤ 4; as tests/core/gpujs.test.ts)
 *   exp, sigmoid, silu, gelu(tanh): |Δ| ≤ UNARY_ULPS·U·(1 + |x|)·(1 + |y|) — GLSL ES 3.00 §8.2 allows exp
 *     (3 + 2|x|) ulp, where the JS kernel is within 1 ulp; the (1 + |x|) term carries that growth.
 *   softmax (last axis):      |Δ| ≤ (n + 4 + UNARY_ULPS·(1 + |x − m|))·U·p + 2⁻¹²⁶
 *   RoPE rotation:            |Δ| ≤ 4·U·(|x_a| + |x_b|) on rotated channels; copied channels exact
 */
import fc from 'fast-check';
import { attention, exp, gelu, grad, matmul, mul, randn, sigmoid, silu, softmax, sum, Generator, type Tensor } from '../../core/index.js';
import { applyRotary } from '../../positional/index.js';
import { getBackend, kernels, prepareBackend, releaseBackend, setBackend } from '../../core/backend.js';
import { gpujsKernels } from '../../core/gpujs/backend.js';
import type { GpuJsKernels } from '../../core/gpujs/kernels.js';
import { gemmJs } from '../../core/kernels/matmul.js';
import { importBundledGpuJs } from '../../scripts/bench/backends-page.js';
import { SENTINEL, gemmBuffers, type GemmCase } from '../helpers/gemm-case.js';

/** The gpu.js mode under test. */
export const PAGE_MODE = 'webgl2';
const U = 2 ** -24;
/** See the header: exp's GLSL allowance is (3 + 2|x|) ulp; 8 ulp per (1 + |x|) leaves room for the composition. */
const UNARY_ULPS = 8;
const SEED = 15;

/** One comparison with the JS kernels. */
export interface GpujsCheck {
  name: string;
  cases: number;
  /** max |gpujs − js| / tolerance over every element of every case (≤ 1: within tolerance). */
  worst: number;
  worstCase: string;
  /** gpu.js kernel calls this check made, by kernel name ('gemm', 'probs', 'exp', …), and how many it expected. */
  calls: number;
  expectedCalls: number;
}

export interface GpujsPageResult {
  /** prepareBackend, setBackend or a check threw: the message (the rest may be partial). */
  error: string;
  mode: string;
  /** getBackend() while the checks ran on gpu.js. */
  backend: string;
  /** The gpu.js kernel class of the compiled kernels (constructor name), and calls by class. */
  kernelClass: string | null;
  runs: Record<string, number>;
  checks: GpujsCheck[];
  /** After setBackend('js') and releaseBackend('gpujs'): the kernels were disposed and none remain. */
  released: boolean;
  ms: number;
}

const ratio = (diff: number, tol: number): number => (Number.isNaN(diff) ? Infinity : diff / tol);
const count = (m: Map<string, number>, key: string): number => m.get(key) ?? 0;

/** Runs body on gpujs in PAGE_MODE, then back on js (restored even when it throws). */
function onGpuJs<T>(body: (k: GpuJsKernels) => T): T {
  setBackend('gpujs', { mode: PAGE_MODE });
  try {
    return body(gpujsKernels()!);
  } finally {
    setBackend('js');
  }
}

class Worst {
  worst = 0;
  worstCase = '';
  note(r: number, label: string): void {
    if (!(r <= this.worst)) {
      this.worst = Number.isNaN(r) ? Infinity : r;
      this.worstCase = label;
    }
  }
}

function checkGemm(): GpujsCheck {
  const cases = fc.sample(fc.record({
    M: fc.integer({ min: 1, max: 19 }), N: fc.integer({ min: 1, max: 19 }), K: fc.integer({ min: 1, max: 40 }),
    transA: fc.boolean(), transB: fc.boolean(),
    aOff: fc.integer({ min: 0, max: 5 }), bOff: fc.integer({ min: 0, max: 5 }), cOff: fc.integer({ min: 0, max: 5 }),
    accumulate: fc.boolean(),
  }), { seed: SEED, numRuns: 40 }) as GemmCase[];
  const w = new Worst();
  const calls = onGpuJs((k) => {
    const before = count(k.calls, 'gemm');
    for (const t of cases) {
      const { M, N, K, aOff, bOff, cOff } = t;
      const { a, b, c } = gemmBuffers(t, Float32Array);
      const want = Float64Array.from(c);
      const c0 = Float64Array.from(c);
      gemmJs(M, N, K, a, aOff, t.transA, b, bOff, t.transB, want, cOff, t.accumulate);
      const took = kernels.gemm!(M, N, K, a, aOff, t.transA, b, bOff, t.transB, c, cOff, t.accumulate);
      const label = JSON.stringify(t);
      if (!took) w.note(Infinity, `${label}: declined`);
      for (let i = 0; i < c.length; i++) {
        if (i < cOff || i >= cOff + M * N) {
          if (c[i] !== SENTINEL) w.note(Infinity, `${label}: wrote c[${i}] outside C`);
          continue;
        }
        const r = i - cOff;
        const [row, col] = [Math.floor(r / N), r % N];
        let s = t.accumulate ? Math.abs(c0[i]!) : 0;
        for (let p = 0; p < K; p++) s += Math.abs((t.transA ? a[aOff + p * M + row]! : a[aOff + row * K + p]!) * (t.transB ? b[bOff + col * K + p]! : b[bOff + p * N + col]!));
        w.note(ratio(Math.abs(c[i]! - want[i]!), (K + 2) * U * s), label);
      }
    }
    return count(k.calls, 'gemm') - before;
  });
  return { name: 'gemm kernel (transposes, offsets, accumulate)', cases: cases.length, ...w, calls, expectedCalls: cases.length };
}

function checkMatmul(): GpujsCheck {
  const cases = fc.sample(fc.tuple(
    fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 24 }), fc.integer({ min: 0, max: 1000 }),
  ), { seed: SEED + 1, numRuns: 20 });
  const w = new Worst();
  let expectedCalls = 0;
  let calls = 0;
  for (const [batch, M, K, N, s] of cases) {
    const g = new Generator(s);
    const lead = batch === 0 ? [] : [batch];
    const a = randn([...lead, M, K], { generator: g });
    const b = randn([...lead, K, N], { generator: g });
    const want = matmul(a, b);
    const got = onGpuJs((k) => {
      const before = count(k.calls, 'gemm');
      const c = matmul(a, b);
      calls += count(k.calls, 'gemm') - before;
      return c;
    });
    expectedCalls += Math.max(batch, 1);
    const label = `a ${JSON.stringify(a.shape)} · b ${JSON.stringify(b.shape)}`;
    if (got.shape.join() !== want.shape.join()) w.note(Infinity, `${label}: shape ${got.shape}`);
    const [ad, bd] = [a.data, b.data];
    for (let i = 0; i < want.size; i++) {
      const m = Math.floor(i / (M * N));
      const [row, col] = [Math.floor((i % (M * N)) / N), i % N];
      let bound = 0;
      for (let p = 0; p < K; p++) bound += Math.abs(ad[m * M * K + row * K + p]! * bd[m * K * N + p * N + col]!);
      w.note(ratio(Math.abs(got.data[i]! - want.data[i]!), (K + 2) * U * bound), label);
    }
  }
  return { name: 'matmul and batched matmul', cases: cases.length, ...w, calls, expectedCalls };
}

function checkAttention(): GpujsCheck {
  const cases = fc.sample(fc.tuple(
    fc.integer({ min: 1, max: 24 }), fc.integer({ min: 0, max: 8 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 6 }),
    fc.boolean(), fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 1000 }),
  ), { seed: SEED + 2, numRuns: 12 });
  const w = new Worst();
  let calls = 0;
  let expectedCalls = 0;
  for (const [Tq, extra, d, dv, causal, win, s] of cases) {
    const Tk = Tq + extra;
    const g = new Generator(s);
    const q = randn([2, Tq, d], { generator: g });
    const k = randn([2, Tk, d], { generator: g });
    const v = randn([2, Tk, dv], { generator: g });
    const options = { causal, window: win === 0 ? Infinity : win };
    const dOut = randn([2, Tq, dv], { generator: new Generator(s + 1) });
    const run = (): Tensor[] => [attention(q, k, v, options), ...grad((qq: Tensor, kk: Tensor, vv: Tensor) => sum(mul(attention(qq, kk, vv, options), dOut)))(q, k, v)];
    const want = run();
    const got = onGpuJs((kern) => {
      const before = count(kern.calls, 'probs');
      const r = run();
      calls += count(kern.calls, 'probs') - before;
      return r;
    });
    expectedCalls += 2 * 2; // one softmax per matrix (batch 2), in the forward and again in grad's forward
    const label = `Tq ${Tq}, Tk ${Tk}, d ${d}, dv ${dv}, ${JSON.stringify(options)}`;
    want.forEach((t, j) => {
      for (let i = 0; i < t.size; i++) w.note(ratio(Math.abs(t.data[i]! - got[j]!.data[i]!), 1e-4), `${label} (${['out', 'dq', 'dk', 'dv'][j]})`);
    });
  }
  return { name: 'attention forward: outputs and gradients', cases: cases.length, ...w, calls, expectedCalls };
}

function checkUnary(): GpujsCheck {
  const x = mul(randn([257], { generator: new Generator(SEED + 3) }), 6);
  const ops: [string, (t: Tensor) => Tensor][] = [['exp', exp], ['sigmoid', sigmoid], ['silu', silu], ['geluTanh', (t) => gelu(t, 'tanh')]];
  const w = new Worst();
  let calls = 0;
  for (const [name, op] of ops) {
    const want = op(x);
    const got = onGpuJs((k) => {
      const before = count(k.calls, name);
      const y = op(x);
      calls += count(k.calls, name) - before;
      return y;
    });
    for (let i = 0; i < want.size; i++) {
      const tol = UNARY_ULPS * U * (1 + Math.abs(x.data[i]!)) * (1 + Math.abs(want.data[i]!));
      w.note(ratio(Math.abs(got.data[i]! - want.data[i]!), tol), `${name}(${x.data[i]}): gpujs ${got.data[i]}, js ${want.data[i]}`);
    }
  }
  return { name: 'exp, sigmoid, silu, gelu(tanh) on 257 values', cases: ops.length, ...w, calls, expectedCalls: ops.length };
}

/** softmax over the last axis: |Δ| ≤ (n + 4 + UNARY_ULPS·(1 + |x − m|))·U·p + 2⁻¹²⁶ (the Node bound, with GLSL's exp). */
function checkSoftmax(): GpujsCheck {
  const cases = fc.sample(fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 1000 })), { seed: SEED + 4, numRuns: 12 });
  const w = new Worst();
  let calls = 0;
  for (const [rows, n, s] of cases) {
    const x = mul(randn([rows, n], { generator: new Generator(s) }), 4);
    const want = softmax(x, -1);
    const got = onGpuJs((k) => {
      const before = count(k.calls, 'softmaxProbs');
      const y = softmax(x, -1);
      calls += count(k.calls, 'softmaxProbs') - before;
      return y;
    });
    for (let r = 0; r < rows; r++) {
      let m = -Infinity;
      for (let j = 0; j < n; j++) m = Math.max(m, x.data[r * n + j]!);
      for (let j = 0; j < n; j++) {
        const i = r * n + j;
        const tol = (n + 4 + UNARY_ULPS * (1 + Math.abs(x.data[i]! - m))) * U * want.data[i]! + 2 ** -126;
        w.note(ratio(Math.abs(got.data[i]! - want.data[i]!), tol), `softmax [${rows}, ${n}] seed ${s} at ${i}: gpujs ${got.data[i]}, js ${want.data[i]}`);
      }
    }
  }
  return { name: 'softmax over the last axis', cases: cases.length, ...w, calls, expectedCalls: cases.length };
}

/** RoPE rotation, both layouts, partial rotary dims: |Δ| ≤ 4·U·|s|·(|x_a| + |x_b|), copied channels exact. */
function checkRotation(): GpujsCheck {
  const cases = fc.sample(fc.tuple(
    fc.constantFrom('half' as const, 'interleaved' as const), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 1000 }),
  ), { seed: SEED + 5, numRuns: 12 });
  const w = new Worst();
  let calls = 0;
  for (const [layout, P, extraPairs, T, s] of cases) {
    const g = new Generator(s);
    const D = 2 * (P + extraPairs); // rotaryDim 2P of D channels: the rest are copied
    const x = randn([2, 3, T, D], { generator: g });
    const angles = mul(randn([T, P], { generator: g, dtype: 'float64' }), 20);
    const options = { layout, rotaryDim: 2 * P };
    const want = applyRotary(x, angles, options);
    const got = onGpuJs((k) => {
      const before = count(k.calls, 'rotate');
      const y = applyRotary(x, angles, options);
      calls += count(k.calls, 'rotate') - before;
      return y;
    });
    const label = `${layout}, x ${JSON.stringify(x.shape)}, rotaryDim ${2 * P}`;
    for (let i = 0; i < x.size; i++) {
      const c = i % D;
      if (c >= 2 * P) {
        w.note(got.data[i] === want.data[i] ? 0 : Infinity, `${label}: copied channel ${c}`);
        continue;
      }
      const partner = layout === 'half' ? (c < P ? i + P : i - P) : c % 2 === 0 ? i + 1 : i - 1;
      const tol = 4 * U * (Math.abs(x.data[i]!) + Math.abs(x.data[partner]!)) + 2 ** -126;
      w.note(ratio(Math.abs(got.data[i]! - want.data[i]!), tol), `${label} at ${i}`);
    }
  }
  return { name: 'RoPE rotation (half and interleaved, partial rotary dims)', cases: cases.length, ...w, calls, expectedCalls: cases.length };
}

/** For the page: prepares gpujs with the bundled gpu.js, runs every check in PAGE_MODE, then releases it. */
export async function runGpujsPageChecks(): Promise<GpujsPageResult> {
  const t0 = performance.now();
  const result: GpujsPageResult = { error: '', mode: PAGE_MODE, backend: '', kernelClass: null, runs: {}, checks: [], released: false, ms: 0 };
  try {
    await prepareBackend('gpujs', { importModule: importBundledGpuJs });
    setBackend('js');
    result.backend = onGpuJs(() => getBackend());
    for (const check of [checkGemm, checkMatmul, checkAttention, checkUnary, checkSoftmax, checkRotation]) result.checks.push(check());
    const k = onGpuJs((kern) => kern);
    result.kernelClass = k.kernelClass();
    result.runs = Object.fromEntries(k.runs);
    releaseBackend('gpujs');
    result.released = k.disposed && gpujsKernels() === null;
  } catch (e) {
    result.error = String((e as Error)?.stack ?? e);
  }
  result.ms = performance.now() - t0;
  return result;
}
