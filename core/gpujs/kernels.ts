/**
 * gpu.js kernels (gpu.js 2.24.1, https://github.com/gpujs/gpu.js, src/gpu.js): the products and the attention
 * softmax of core/backend.ts's kernel table written as gpu.js kernel functions, which gpu.js compiles for one mode —
 * plain JS ('cpu'), WebAssembly ('webasm'), WebGL/WebGL2 shaders, WebGPU, or headless-gl — and runs one thread per
 * output element. One `GpuJsKernels` holds one gpu.js instance (one mode) and its compiled kernels:
 *
 *   gemm:      C[i,j] (+)= Σ_k A[i·sa0 + k·sa1] · B[k·sb0 + j·sb1]       (strides encode transA / transB)
 *   scores:    S[i,j] = scale · Σ_t q[i,t] k[j,t]  where key j is visible from query i (causal / window), else 0
 *   rowLse:    L[i] = m_i + log Σ_{j visible} exp(S[i,j] − m_i),  m_i = max_{j visible} S[i,j]
 *   probs:     P[i,j] = exp(S[i,j] − L[i]) where visible, else 0          (softmax over visible keys)
 *   unary:     y[i] = exp / sigmoid / silu / geluTanh (x[i])
 *   softmax:   m_r = max_k x[r,k];  z_r = Σ_k exp(x[r,k] − m_r);  y[r,k] = exp(x[r,k] − m_r) / z_r   (rowMax, rowSum, softmaxProbs)
 *   rotate:    y_a = x_a·c − x_b·s,  y_b = x_a·s + x_b·c,  c = cScale·cos φ, s = sScale·sin φ   (RoFormer eq. 34;
 *              pair (a, b) = (i, i + P) 'half' or (2i, 2i + 1) 'interleaved'; channels ≥ 2P copied)
 *
 * Shapes: gemm A is [M,K] ([K,M] transposed), B is [K,N] ([N,K] transposed), C is [M,N]; attention q: [Tq, d],
 * k: [Tk, d], v: [Tk, dv], S and P: [Tq, Tk]; softmax x, y: [rows, n]; rotate x, y: [outer, T, D], c and s:
 * [outerA·T, P] (float32 tables: cScale·cos and sScale·sin, rounded once from float64). gpu.js computes in float32 (precision 'single'), so these kernels take
 * float32 buffers only and decline float64 calls (core/backend.ts then runs the JS kernel).
 *
 * Resources: each kernel is compiled once per instance (dynamic output and arguments, so one compile serves every
 * shape) and kept until `dispose`, which destroys the kernels and the gpu.js instance (its GL context and textures
 * in the graphical modes). Outputs are read back as arrays (no pipeline textures outlive a call).
 */
import type { TypedArray } from '../dtype.js';
import type { AttentionHead, RotaryLayout, UnaryKernelName } from '../backend.js';

/** The gpu.js modes `setBackend('gpujs', { mode })` accepts; 'gpu' lets gpu.js pick (GL where it works, else webasm). */
export const GPUJS_MODES = ['gpu', 'cpu', 'webasm', 'webgl', 'webgl2', 'webgpu', 'headlessgl'] as const;
export type GpuJsMode = (typeof GPUJS_MODES)[number];

/** A compiled gpu.js kernel, as far as this backend uses it (typed here: ropelab type-checks without gpu.js). */
export interface GpuJsKernel {
  (...args: unknown[]): unknown;
  setOutput(output: number[]): void;
  destroy?(removeCanvasReferences?: boolean): void;
  /** The backend kernel gpu.js built for the first call (CPUKernel, WebAssemblyKernel, WebGL2Kernel, …). */
  readonly kernel?: object | null;
}

export interface GpuJsInstance {
  readonly mode?: string;
  createKernel(fn: (...args: never[]) => number, settings: Record<string, unknown>): GpuJsKernel;
  destroy(): unknown;
}

/** The module gpu.js exports (its CommonJS `module.exports`, or an ESM namespace whose default is it). */
export interface GpuJsModule {
  GPU: new (settings: { mode: string }) => GpuJsInstance;
}

/** Longest loop a GL kernel unrolls to (gpu.js needs a bound when a loop runs to an argument). */
const LOOP_MAX = 1 << 16;

const KERNEL_SETTINGS = { dynamicOutput: true, dynamicArguments: true, precision: 'single', loopMaxIterations: LOOP_MAX, output: [1] } as const;

/*
 * Kernel functions: gpu.js parses their source, so they use only its subset (numbers, Math, this.thread) and no
 * closures; `this` is gpu.js's kernel context.
 */
interface Thread {
  thread: { x: number };
}

function gemmKernel(this: Thread, a: Float32Array, b: Float32Array, K: number, N: number, sa0: number, sa1: number, sb0: number, sb1: number): number {
  const i = Math.floor(this.thread.x / N);
  const j = this.thread.x - i * N;
  let s = 0;
  for (let t = 0; t < K; t++) s += a[i * sa0 + t * sa1]! * b[t * sb0 + j * sb1]!;
  return s;
}

function scoresKernel(this: Thread, q: Float32Array, k: Float32Array, d: number, Tk: number, shift: number, lo: number, hi: number, scale: number): number {
  const i = Math.floor(this.thread.x / Tk);
  const j = this.thread.x - i * Tk;
  const pos = i + shift;
  let s = 0;
  if (j >= pos + lo && j <= pos + hi) {
    for (let t = 0; t < d; t++) s += q[i * d + t]! * k[j * d + t]!;
  }
  return s * scale;
}

function rowLseKernel(this: Thread, S: Float32Array, Tk: number, shift: number, lo: number, hi: number): number {
  const i = this.thread.x;
  const pos = i + shift;
  const first = Math.max(0, pos + lo);
  const last = Math.min(Tk - 1, pos + hi);
  let m = -3.0e38;
  for (let j = 0; j < Tk; j++) {
    if (j >= first && j <= last) m = Math.max(m, S[i * Tk + j]!);
  }
  let z = 0;
  // a second loop variable name: gpu.js's cpu mode declares loop variables once per kernel function
  for (let jj = 0; jj < Tk; jj++) {
    if (jj >= first && jj <= last) z += Math.exp(S[i * Tk + jj]! - m);
  }
  let lse = 3.0e38; // a row that sees no key: every probability is exp(−huge) = 0
  if (z > 0) lse = m + Math.log(z);
  return lse;
}

function probsKernel(this: Thread, S: Float32Array, L: Float32Array, Tk: number, shift: number, lo: number, hi: number): number {
  const i = Math.floor(this.thread.x / Tk);
  const j = this.thread.x - i * Tk;
  const pos = i + shift;
  let p = 0;
  if (j >= pos + lo && j <= pos + hi) p = Math.exp(S[this.thread.x]! - L[i]!);
  return p;
}

function rowMaxKernel(this: Thread, x: Float32Array, n: number): number {
  const r = this.thread.x;
  let m = x[r * n]!;
  for (let k = 1; k < n; k++) m = Math.max(m, x[r * n + k]!);
  return m;
}

function rowSumKernel(this: Thread, x: Float32Array, M: Float32Array, n: number): number {
  const r = this.thread.x;
  let z = 0;
  for (let k = 0; k < n; k++) z += Math.exp(x[r * n + k]! - M[r]!);
  return z;
}

function softmaxProbsKernel(this: Thread, x: Float32Array, M: Float32Array, Z: Float32Array, n: number): number {
  const r = Math.floor(this.thread.x / n);
  return Math.exp(x[this.thread.x]! - M[r]!) / Z[r]!;
}

/**
 * One output channel of the rotation: row = (o, t) of x [outer, T, D], channel k; its angle row is aRow[o]·T + t of
 * the float32 tables c, s [·, P] (already scaled). half = 1 for the 'half' layout, 0 for 'interleaved'.
 */
function rotateKernel(this: Thread, x: Float32Array, c: Float32Array, s: Float32Array, aRow: Float32Array, T: number, D: number, P: number, half: number): number {
  const row = Math.floor(this.thread.x / D);
  const k = this.thread.x - row * D;
  const o = Math.floor(row / T);
  const t = row - o * T;
  const base = row * D;
  let y = x[this.thread.x]!;
  if (k < 2 * P) {
    let i = k;
    let second = 0; // 1 for the pair's b channel
    let ia = base + k;
    let ib = base + k + P;
    if (half > 0.5) {
      if (k >= P) {
        i = k - P;
        second = 1;
        ia = base + i;
        ib = base + k;
      }
    } else {
      i = Math.floor(k / 2);
      second = k - 2 * i;
      ia = base + 2 * i;
      ib = ia + 1;
    }
    const j = (aRow[o]! * T + t) * P + i;
    const cj = c[j]!;
    const sj = s[j]!;
    if (second > 0.5) y = x[ia]! * sj + x[ib]! * cj;
    else y = x[ia]! * cj - x[ib]! * sj;
  }
  return y;
}

function expKernel(this: Thread, x: Float32Array): number {
  return Math.exp(x[this.thread.x]!);
}
function sigmoidKernel(this: Thread, x: Float32Array): number {
  return 1 / (1 + Math.exp(-x[this.thread.x]!));
}
function siluKernel(this: Thread, x: Float32Array): number {
  const v = x[this.thread.x]!;
  return v / (1 + Math.exp(-v));
}
function geluTanhKernel(this: Thread, x: Float32Array): number {
  const v = x[this.thread.x]!;
  const u = 0.7978845608028654 * (v + 0.044715 * v * v * v);
  // ½(1 + tanh u) = e^{2u}/(e^{2u} + 1): no cancellation for u ≪ 0; u clamped so e^{2u} stays finite in float32
  const e = Math.exp(2 * Math.min(Math.max(u, -40), 20));
  return v * (e / (e + 1));
}

const KERNEL_FUNCTIONS = {
  gemm: gemmKernel,
  scores: scoresKernel,
  rowLse: rowLseKernel,
  probs: probsKernel,
  rowMax: rowMaxKernel,
  rowSum: rowSumKernel,
  softmaxProbs: softmaxProbsKernel,
  rotate: rotateKernel,
  exp: expKernel,
  sigmoid: sigmoidKernel,
  silu: siluKernel,
  geluTanh: geluTanhKernel,
} as const;
type KernelName = keyof typeof KERNEL_FUNCTIONS;

const isF32 = (x: TypedArray): x is Float32Array => x instanceof Float32Array;

/** A contiguous view of `length` numbers from `offset` (no copy). */
const view = (x: Float32Array, offset: number, length: number): Float32Array => (offset === 0 && length === x.length ? x : x.subarray(offset, offset + length));

/** One gpu.js instance in one mode, its compiled kernels, and counts of the kernel calls it took (by gpu.js class). */
export class GpuJsKernels {
  readonly mode: GpuJsMode;
  private gpu: GpuJsInstance | null;
  private readonly compiled = new Map<KernelName, GpuJsKernel>();
  /** Kernel calls run, by the gpu.js kernel class that ran them ('CPUKernel', 'WebAssemblyKernel', …). */
  readonly runs = new Map<string, number>();
  /** Kernel calls run, by kernel ('gemm', 'scores', 'rowLse', 'probs', 'exp', …). */
  readonly calls = new Map<string, number>();

  /** Throws (gpu.js's own error) when gpu.js cannot run `mode` here. */
  constructor(gpujs: GpuJsModule, mode: GpuJsMode) {
    this.mode = mode;
    this.gpu = new gpujs.GPU({ mode });
  }

  /** The gpu.js kernel class of the last compiled kernel, or null before the first call. */
  kernelClass(): string | null {
    for (const k of this.compiled.values()) if (k.kernel) return k.kernel.constructor.name;
    return null;
  }

  private run(name: KernelName, length: number, args: unknown[]): Float32Array {
    if (this.gpu === null) throw new Error(`gpu.js kernels of mode '${this.mode}' were disposed`);
    let k = this.compiled.get(name);
    if (k === undefined) {
      k = this.gpu.createKernel(KERNEL_FUNCTIONS[name] as (...args: never[]) => number, { ...KERNEL_SETTINGS });
      this.compiled.set(name, k);
    }
    k.setOutput([length]);
    const out = k(...args) as Float32Array;
    const cls = k.kernel?.constructor.name ?? 'unknown';
    this.runs.set(cls, (this.runs.get(cls) ?? 0) + 1);
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
    return out;
  }

  /** The contract of core/backend.ts's GemmKernel, float32 only (false for any other dtype, having written nothing). */
  gemm(M: number, N: number, K: number, a: TypedArray, aOff: number, transA: boolean, b: TypedArray, bOff: number, transB: boolean, c: TypedArray, cOff: number, accumulate: boolean): boolean {
    if (!isF32(a) || !isF32(b) || !isF32(c) || M === 0 || N === 0 || K === 0) return false;
    const [sa0, sa1] = transA ? [1, M] : [K, 1];
    const [sb0, sb1] = transB ? [1, K] : [N, 1];
    const out = this.run('gemm', M * N, [view(a, aOff, M * K), view(b, bOff, K * N), K, N, sa0, sa1, sb0, sb1]);
    if (!accumulate) c.set(out.length === M * N ? out : out.subarray(0, M * N), cOff);
    else for (let i = 0; i < M * N; i++) c[cOff + i] += out[i]!;
    return true;
  }

  /**
   * Why this mode's kernels cannot serve ropelab's synchronous kernel table, or null: one tiny kernel is run and must
   * hand back a Float32Array at once (gpu.js's webgpu mode answers otherwise, e.g. with a pending result).
   */
  readbackProblem(): string | null {
    try {
      const out: unknown = this.run('exp', 1, [Float32Array.of(0)]);
      return out instanceof Float32Array ? null : `its kernels return ${out === null ? 'null' : typeof out === 'object' ? (out as object).constructor?.name ?? 'an object' : typeof out}, not a Float32Array read back at once`;
    } catch (e) {
      return `its first kernel failed: ${e instanceof Error ? e.message : String(e)}`;
    }
  }

  /** y = name(x) elementwise, float32 only. */
  unary(name: UnaryKernelName, x: TypedArray, out: TypedArray): boolean {
    if (!isF32(x) || !isF32(out) || out.length === 0) return false;
    out.set(this.run(name, out.length, [x]).subarray(0, out.length));
    return true;
  }

  /**
   * core/backend.ts's `softmax` contract, float32 only: three kernels (row max, row sum of exp(x − m), probabilities).
   * Declines (false, nothing written) other dtypes, empty input and any non-finite value (the JS kernel's −∞ / NaN
   * semantics stay there).
   */
  softmax(x: TypedArray, out: TypedArray, rows: number, n: number): boolean {
    if (!isF32(x) || !isF32(out) || rows === 0 || n === 0) return false;
    const len = rows * n;
    for (let i = 0; i < len; i++) if (!Number.isFinite(x[i]!)) return false;
    const xs = view(x, 0, len);
    const M = this.run('rowMax', rows, [xs, n]);
    const Z = this.run('rowSum', rows, [xs, M, n]);
    out.set(this.run('softmaxProbs', len, [xs, M, Z, n]).subarray(0, len));
    return true;
  }

  /**
   * core/backend.ts's RotateKernel contract, float32 x and out only: c = cScale·cos and s = sScale·sin are rounded
   * once to float32 tables (the rows the call uses), then one gpu.js thread computes each output channel.
   */
  rotate(layout: RotaryLayout, x: TypedArray, out: TypedArray, cos: Float64Array, sin: Float64Array, cScale: number, sScale: number, outer: number, T: number, D: number, P: number, angleOuter: Int32Array | null): boolean {
    const len = outer * T * D;
    if (!isF32(x) || !isF32(out) || len === 0) return false;
    // the angle rows the call reads: outerA·T·P entries (angleOuter's largest row + 1, or one block when shared)
    let rowsA = 1;
    if (angleOuter !== null) for (let o = 0; o < outer; o++) rowsA = Math.max(rowsA, angleOuter[o]! + 1);
    const nA = Math.max(1, rowsA * T * P);
    const c = new Float32Array(nA);
    const s = new Float32Array(nA);
    for (let j = 0; j < rowsA * T * P; j++) {
      c[j] = cos[j]! * cScale;
      s[j] = sin[j]! * sScale;
    }
    const aRow = new Float32Array(outer);
    if (angleOuter !== null) aRow.set(angleOuter.subarray(0, outer));
    out.set(this.run('rotate', len, [view(x, 0, len), c, s, aRow, T, D, P, layout === 'half' ? 1 : 0]).subarray(0, len));
    return true;
  }

  /**
   * Softmax probabilities of one attention matrix, P[i,j] = softmax_j(scale · q_i·k_j) over the keys query i can
   * see (causal / window, as core/ops/attention.ts), as a dense [Tq, Tk] float32 matrix (0 where hidden).
   */
  attentionProbs(head: AttentionHead): Float32Array {
    const { Tq, Tk, d, causal, window, scale } = head;
    const q = view(head.q as Float32Array, head.qOff, Tq * d);
    const k = view(head.k as Float32Array, head.kOff, Tk * d);
    // key j is visible from query i when pos + lo ≤ j ≤ pos + hi, pos = i + Tk − Tq (big numbers stand for ±∞)
    const lo = Number.isFinite(window) ? 1 - window : -(Tk + Tq + 1);
    const hi = causal ? 0 : Number.isFinite(window) ? window - 1 : Tk + Tq + 1;
    const shift = Tk - Tq;
    const S = this.run('scores', Tq * Tk, [q, k, d, Tk, shift, lo, hi, scale]);
    const L = this.run('rowLse', Tq, [S, Tk, shift, lo, hi]);
    return this.run('probs', Tq * Tk, [S, L, Tk, shift, lo, hi]);
  }

  /**
   * The attentionForward contract of core/backend.ts for one matrix, float32: P (dense, from attentionProbs) is
   * copied into the block layout at pOff, and out = P·v runs on the gemm kernel.
   */
  attentionForward(head: AttentionHead, P: TypedArray, pOff: number, out: TypedArray, oOff: number): boolean {
    if (!isF32(head.q) || !isF32(head.k) || !isF32(head.v) || !isF32(P) || !isF32(out) || head.d === 0 || head.Tq === 0) return false;
    const { Tq, Tk, dv } = head;
    if (Tk === 0 || dv === 0) return false;
    const dense = this.attentionProbs(head);
    for (const blk of head.blocks) {
      const width = blk.c1 - blk.c0;
      for (let i = blk.i0; i < blk.i1; i++) {
        P.set(dense.subarray(i * Tk + blk.c0, i * Tk + blk.c1), pOff + blk.pOffset + (i - blk.i0) * width);
      }
    }
    return this.gemm(Tq, dv, Tk, dense, 0, false, head.v, head.vOff, false, out, oOff, false);
  }

  /** Destroys every compiled kernel and the gpu.js instance (GL context, textures); later calls throw. */
  dispose(): void {
    for (const k of this.compiled.values()) k.destroy?.(true);
    this.compiled.clear();
    this.gpu?.destroy();
    this.gpu = null;
  }

  get disposed(): boolean {
    return this.gpu === null;
  }
}
