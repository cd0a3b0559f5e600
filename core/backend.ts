/**
 * Backends: which implementation runs each hot kernel. The scalar JS kernels (core/kernels/) are the reference and
 * always present; a backend supplies faster implementations of some named kernels, and any kernel it lacks (or a
 * call it declines: a dtype it does not handle, work too small to pay for its overhead) runs on JS.
 *
 *   setBackend('wasm');   // WebAssembly SIMD128 kernels emitted at run time (core/wasm/)
 *   getBackend();         // 'wasm'
 *   backendNames();       // ['js', 'wasm'] where this engine has WebAssembly SIMD
 *   await prepareBackend('gpujs');            // imports the optional peer gpu.js (core/gpujs/)
 *   setBackend('gpujs', { mode: 'webasm' });  // gpu.js kernels compiled for one of its modes
 *   releaseBackend('gpujs');                  // frees its kernels and textures; the next setBackend rebuilds them
 *
 * A backend is a name, a check that says why it cannot run here (or null), and a loader that builds its kernels
 * on first use, optionally with threads, options (`configure`) and a release; `registerBackend` adds one. The
 * kernel table `kernels` is what the kernels' callers read on every call: one property load, undefined = run the
 * JS kernel.
 *
 * Asynchronous loading: `load` stays synchronous (setBackend and the kernels are synchronous), so a backend that
 * must import a module first (gpu.js, an optional peer: a dynamic import is the only way to load it lazily, in Node
 * and in a page) does it in `prepare`, which `await prepareBackend(name)` runs once. Until then its `unavailable()`
 * says to prepare it, so setBackend throws that reason and the calibration passes it by.
 *
 * The default is chosen once, at the first kernel call or `getBackend()`: each available backend's gemm is timed
 * against the JS kernel and the fastest by a margin wins (chooseDefault). `setBackend` before that skips it. A backend
 * prepared after that moment never becomes the default.
 */
import { DTypeError, ValueError } from './errors.js';
import { describeValue, expectInteger, expectOneOf, expectOptions } from './args.js';
import type { TypedArray } from './dtype.js';
import { wasmUnavailableReason } from './wasm/features.js';
import { WasmHeap } from './wasm/heap.js';
import { WasmGemm } from './wasm/gemm.js';
import { ThreadPool, availableCores, threadsUnavailableReason } from './wasm/threads.js';
import { WasmAttention } from './wasm/attention.js';
import { WasmUnary } from './wasm/unary.js';
import { gemmJs } from './kernels/matmul.js';
import { gpujsBackend } from './gpujs/backend.js';

/**
 * C[M,N] = op(A)·op(B) (or += when accumulate), the contract of `gemm` in core/kernels/matmul.ts. Returns true
 * when it did the product, false to leave this call to the JS kernel (having written nothing).
 */
export type GemmKernel = (
  M: number, N: number, K: number,
  a: TypedArray, aOff: number, transA: boolean,
  b: TypedArray, bOff: number, transB: boolean,
  c: TypedArray, cOff: number, accumulate: boolean,
) => boolean;

/** Query rows [i0, i1), the key columns [c0, c1) they can see, and the offset of their probabilities in P. */
export interface AttentionBlock {
  readonly i0: number;
  readonly i1: number;
  readonly c0: number;
  readonly c1: number;
  readonly pOffset: number;
}

/**
 * One attention matrix (one batch index) of core/ops/attention.ts: q at qOff ([Tq, d]), k at kOff ([Tk, d]), v at
 * vOff ([Tk, dv]), the block plan, and the visibility rules (no mask: a mask keeps the JS kernel).
 */
export interface AttentionHead {
  readonly Tq: number;
  readonly Tk: number;
  readonly d: number;
  readonly dv: number;
  readonly q: TypedArray;
  readonly qOff: number;
  readonly k: TypedArray;
  readonly kOff: number;
  readonly v: TypedArray;
  readonly vOff: number;
  readonly blocks: readonly AttentionBlock[];
  readonly causal: boolean;
  readonly window: number;
  readonly scale: number;
}

/**
 * Saved attention probabilities that live in a backend's own memory, for `count` matrices (Kernels.attentionResident):
 * the forward leaves P there and the backward reads it there, so P is never copied out or in. Its forward and
 * backward always run (the backend took the call when it returned this object).
 */
export interface ResidentProbabilities {
  /** attentionForward of matrix b (0 ≤ b < count): writes out (Tq × dv at oOff) and keeps the matrix's P. */
  forward(b: number, head: AttentionHead, out: TypedArray, oOff: number): void;
  /** attentionBackward of matrix b from its kept P: adds the gradients into dq, dk, dv (laid out as q, k, v). */
  backward(b: number, head: AttentionHead, o: TypedArray, g: TypedArray, oOff: number, dq: TypedArray, dk: TypedArray, dv: TypedArray): void;
  /** Frees the memory; called when nothing reads P any more. A second call does nothing. */
  release(): void;
}

/** The unary maps a backend may supply (core/ops/elementwise.ts names which op uses which). */
export type UnaryKernelName = 'exp' | 'sigmoid' | 'silu' | 'geluTanh';

/** Which channels form a rotation pair: 'half' pairs (i, i + P), 'interleaved' pairs (2i, 2i + 1) (positional/rope.ts). */
export type RotaryLayout = 'half' | 'interleaved';

/**
 * The forward rotation of positional/rope.ts (`applyRotary` with precision 'float64'), the contract of its JS rotate
 * kernels: x and out are [outer, T, D] (contiguous, the same dtype), cos and sin are [outerA, T, P] tables in
 * float64, and row (o, t) of x uses angle row j0 = (angleOuter[o]·T + t)·P (t·P when angleOuter is null). For each
 * pair i < P, with c = cScale·cos[j0 + i] and s = sScale·sin[j0 + i] (computed in float64) and the pair (a, b) =
 * (i, i + P) for 'half', (2i, 2i + 1) for 'interleaved':
 *   out_a = x_a·c − x_b·s,   out_b = x_a·s + x_b·c
 * and channels [2P, D) are copied. (The backward s·R(−φ)g is the same call with sScale = −scale.) Returns false,
 * having written nothing, to leave the call to the JS kernel.
 */
export type RotateKernel = (
  layout: RotaryLayout, x: TypedArray, out: TypedArray, cos: Float64Array, sin: Float64Array, cScale: number, sScale: number,
  outer: number, T: number, D: number, P: number, angleOuter: Int32Array | null,
) => boolean;

/** The kernels a backend may supply, by name; each returns false (having written nothing) to leave a call to JS. */
export interface Kernels {
  gemm: GemmKernel;
  /** out[i] = name(x[i]) over the whole of out (x has out's length). */
  unary: (name: UnaryKernelName, x: TypedArray, out: TypedArray) => boolean;
  /** Writes the matrix's output (Tq × dv at oOff) and its probabilities (block layout at pOff). */
  attentionForward: (head: AttentionHead, P: TypedArray, pOff: number, out: TypedArray, oOff: number) => boolean;
  /** Adds the matrix's gradients into dq, dk, dv (laid out as q, k, v) from P, the output o and its gradient g (at oOff). */
  attentionBackward: (head: AttentionHead, P: TypedArray, pOff: number, o: TypedArray, g: TypedArray, oOff: number, dq: TypedArray, dk: TypedArray, dv: TypedArray) => boolean;
  /**
   * Room for the probabilities of `count` matrices like `head` in the backend's own memory (no copy of P either way),
   * or null to leave P in a JS buffer for attentionForward/attentionBackward.
   */
  attentionResident: (head: AttentionHead, count: number) => ResidentProbabilities | null;
  /**
   * Softmax over the last axis of `rows` contiguous rows of length n (x and out: rows·n elements, the same dtype):
   *   out[r·n + k] = exp(x[r·n + k] − m_r) / Σ_j exp(x[r·n + j] − m_r),   m_r = max_j x[r·n + j]
   * (core/ops/softmax.ts's forward). Non-finite inputs (−∞ masks, NaN) keep the JS kernel's semantics, so a backend
   * that does not reproduce them returns false for them.
   */
  softmax: (x: TypedArray, out: TypedArray, rows: number, n: number) => boolean;
  /** positional/rope.ts's rotation: see RotateKernel. */
  rotate: RotateKernel;
}

/** Options of `setBackend` for backends that take some (the 'gpujs' backend: its gpu.js mode). */
export interface BackendOptions {
  /** gpujs: 'gpu' (gpu.js picks; the default), 'cpu', 'webasm', 'webgl', 'webgl2', 'webgpu' or 'headlessgl'. */
  readonly mode?: string;
}

/** Options of `prepareBackend`. */
export interface PrepareOptions {
  /**
   * Imports the backend's module instead of the default `import('<module>')` (a page that maps or bundles gpu.js
   * passes `() => import('gpu.js')` or a function that resolves to an already loaded module).
   */
  readonly importModule?: () => Promise<unknown>;
}

export interface BackendDefinition {
  readonly name: string;
  /** Why this backend cannot run in this engine, or null when it can. */
  unavailable(): string | null;
  /**
   * Asynchronous work `load` needs first (a dynamic import), run by `prepareBackend`; rejects with why it failed.
   * Until it resolved, `unavailable()` must say so. Absent: nothing to prepare.
   */
  prepare?(importModule?: () => Promise<unknown>): Promise<void>;
  /** Builds the kernels (compiles modules, allocates memory); called once, on the first `setBackend(name)`. */
  load(): Partial<Kernels>;
  /** The option names `setBackend(name, options)` accepts (absent: none). */
  readonly optionNames?: readonly string[];
  /** Applies setBackend's options (called after `load`); throws why, having changed nothing, when one cannot apply. */
  configure?(options: BackendOptions): void;
  /** The options in effect (for getBackendOptions). */
  options?(): BackendOptions;
  /** Frees what `load` and `configure` built (compiled kernels, GPU textures); `load` is called again on next use. */
  release?(): void;
  /**
   * Why this backend cannot use `n` threads (n ≥ 2) here, or null when it can; absent = it runs on one thread.
   * Called after `load`.
   */
  threadsUnavailable?(n: number): string | null;
  /** Uses up to n threads (the calling one included) from the next kernel call on; called after `load`. */
  setThreads?(n: number): void;
}

/**
 * The active backend's kernels; a missing one means the JS kernel. Read by the kernels' dispatch. Until a backend is
 * chosen (by `setBackend`, or by the calibration at the first kernel call or `getBackend()`), it holds trampolines
 * that choose the default and then run the call on it.
 */
export const kernels: Partial<Kernels> = {
  gemm: (...args) => (chooseDefault(), kernels.gemm?.(...args) ?? false),
  unary: (...args) => (chooseDefault(), kernels.unary?.(...args) ?? false),
  attentionForward: (...args) => (chooseDefault(), kernels.attentionForward?.(...args) ?? false),
  attentionBackward: (...args) => (chooseDefault(), kernels.attentionBackward?.(...args) ?? false),
  attentionResident: (...args) => (chooseDefault(), kernels.attentionResident?.(...args) ?? null),
  softmax: (...args) => (chooseDefault(), kernels.softmax?.(...args) ?? false),
  rotate: (...args) => (chooseDefault(), kernels.rotate?.(...args) ?? false),
};

/**
 * The slots of the kernel table that code outside core/ consults (positional/rope.ts's rotation), read-only: one
 * property load per call, undefined = run the JS kernel. Internal (exported through core/index.ts because
 * positional/ may import only that).
 */
export const backendKernels: Readonly<Pick<Partial<Kernels>, 'rotate'>> = kernels;

const registry = new Map<string, BackendDefinition>();
const loaded = new Map<string, Partial<Kernels>>();
/** The active backend, or null until the default is chosen. */
let active: string | null = null;
/** Threads the kernels may use where the backend can: until `setNumThreads`, the machine's cores, at most 4. */
let numThreads: number | null = null;
/** Most threads `setNumThreads` accepts: more than any machine these kernels target, few enough to catch a typo. */
const MAX_THREADS = 64;
/** Most threads used by default: beyond 4 these products gain little, and a library should not take a big machine. */
const DEFAULT_MAX_THREADS = 4;

/** Adds a backend; its name must be new. Internal: backends live in core/ (or register from an internal module). */
export function registerBackend(backend: BackendDefinition): void {
  if (registry.has(backend.name)) throw new ValueError('registerBackend', `a backend named '${backend.name}' is already registered`, 'backend');
  registry.set(backend.name, backend);
}

/** Names of the backends that can run in this engine, 'js' first (it always can). */
export function backendNames(): string[] {
  return [...registry.values()].filter((b) => b.unavailable() === null).map((b) => b.name);
}

/** Name of the active backend: the one `setBackend` chose, else the default (chosen by calibration on first use). */
export function getBackend(): string {
  return active ?? chooseDefault();
}

/** The options the active backend runs with (`{ mode }` for 'gpujs'; `{}` for backends without options). */
export function getBackendOptions(): BackendOptions {
  return registry.get(getBackend())!.options?.() ?? {};
}

/**
 * Makes `name` the backend for every kernel it supplies (the rest stay on JS), with its `options` (only 'gpujs'
 * takes one: `{ mode }`, see BackendOptions). Throws a ValueError for a name that is not a backend, an option it
 * does not take or cannot apply here (a gpu.js mode this engine lacks), or a backend that cannot run here (no
 * WebAssembly SIMD; gpu.js not installed, or not yet imported by `await prepareBackend('gpujs')`), saying why; the
 * active backend is then unchanged. The first switch to a backend builds its kernels.
 */
export function setBackend(name: string, options?: BackendOptions): void {
  const backend = registry.get(expectOneOf('setBackend', 'name', name, [...registry.keys()]))!;
  if (backend.optionNames === undefined && options !== undefined && Object.keys(expectOptions('setBackend', 'options', options)).length > 0) {
    throw new ValueError('setBackend', `backend '${name}' takes no options, got ${Object.keys(options).join(', ')}`, 'options');
  }
  expectOptions('setBackend', 'options', options, backend.optionNames ?? []);
  if (options?.mode !== undefined && typeof options.mode !== 'string') throw new DTypeError('setBackend', `options.mode must be a string, got ${describeValue(options.mode)}`, 'options.mode');
  const reason = backend.unavailable();
  if (reason !== null) throw new ValueError('setBackend', `backend '${name}' cannot run here: ${reason} (setBackend('js') runs everywhere)`, 'name');
  const table = loadBackend('setBackend', backend);
  if (backend.configure !== undefined) {
    try {
      backend.configure(options ?? {});
    } catch (e) {
      throw new ValueError('setBackend', `backend '${name}': ${e instanceof Error ? e.message : String(e)}`, 'options.mode');
    }
  }
  activate(backend, table);
}

/**
 * Runs the asynchronous preparation a backend needs before `setBackend` (for 'gpujs': imports gpu.js by a dynamic
 * import, once per process); resolves at once for backends that need none, or once prepared. Rejects with a
 * ValueError naming the reason and how to fix it (for gpujs: gpu.js is not installed, and the install command).
 * `options.importModule` replaces the default import (a page that bundles or maps gpu.js).
 */
export async function prepareBackend(name: string, options?: PrepareOptions): Promise<void> {
  const backend = registry.get(expectOneOf('prepareBackend', 'name', name, [...registry.keys()]))!;
  const { importModule } = expectOptions('prepareBackend', 'options', options, ['importModule']);
  if (importModule !== undefined && typeof importModule !== 'function') {
    throw new DTypeError('prepareBackend', `options.importModule must be a function, got ${describeValue(importModule)}`, 'options.importModule');
  }
  if (backend.prepare === undefined) return;
  try {
    await backend.prepare(importModule);
  } catch (e) {
    throw new ValueError('prepareBackend', `backend '${name}' cannot be prepared: ${e instanceof Error ? e.message : String(e)}`, 'name');
  }
}

/**
 * Frees the kernels backend `name` built (for 'gpujs': every compiled gpu.js kernel, its textures and contexts);
 * the next `setBackend(name)` builds them again. Throws a ValueError for the active backend (switch away first:
 * releasing it would leave the kernel table pointing at freed kernels) or an unknown name. Does nothing for a
 * backend that was never loaded.
 */
export function releaseBackend(name: string): void {
  const backend = registry.get(expectOneOf('releaseBackend', 'name', name, [...registry.keys()]))!;
  if (active === name) throw new ValueError('releaseBackend', `backend '${name}' is active — setBackend another one first`, 'name');
  if (!loaded.has(name)) return;
  loaded.delete(name);
  backend.release?.();
}

/** The kernels of `backend`, built on first use; a failure to build is a ValueError of `op`. */
function loadBackend(op: string, backend: BackendDefinition): Partial<Kernels> {
  let table = loaded.get(backend.name);
  if (table === undefined) {
    try {
      table = backend.load();
    } catch (e) {
      throw new ValueError(op, `backend '${backend.name}' failed to load: ${e instanceof Error ? e.message : String(e)}`, 'name');
    }
    loaded.set(backend.name, table);
  }
  return table;
}

function activate(backend: BackendDefinition, table: Partial<Kernels>): void {
  const threads = requestedThreads();
  if (backend.setThreads !== undefined && backend.threadsUnavailable?.(threads) === null) backend.setThreads(threads);
  for (const key of Object.keys(kernels) as (keyof Kernels)[]) delete kernels[key];
  Object.assign(kernels, table);
  active = backend.name;
}

/**
 * The product the calibration times (float32, square, CALIBRATION_SIZE³), and how long: the mean over at least
 * CALIBRATION_RUNS products and CALIBRATION_MIN_MS, at most CALIBRATION_MAX_RUNS products.
 */
const CALIBRATION_SIZE = 96;
const CALIBRATION_RUNS = 3;
const CALIBRATION_MIN_MS = 3;
const CALIBRATION_MAX_RUNS = 200;
/** A backend must be this much faster than the one before it to become the default: noise never flips the choice. */
const CALIBRATION_MARGIN = 1.25;

/** Milliseconds from a monotonic clock where the engine has one (performance.now), else from Date.now. */
function now(): number {
  return globalThis.performance?.now() ?? Date.now();
}

/**
 * Chooses the default backend once: every backend that can run here is loaded and its gemm timed on a 96³ float32
 * product against the JS kernel (30–40 ms in all here, compiling included); the fastest by the margin wins, JS when
 * none does or none loads. Returns its name.
 */
function chooseDefault(): string {
  if (active !== null) return active;
  const { best, times } = measureBackends();
  defaultCalibration = times;
  activate(best.backend, best.table);
  return best.backend.name;
}

let defaultCalibration: readonly CalibrationTime[] | null = null;

/**
 * The times the default's calibration measured in this process (js first), or null before it ran or when setBackend
 * came first. Internal: lets a test check the choice against the rule without timing anything itself.
 */
export function defaultCalibrationTimes(): readonly CalibrationTime[] | null {
  return defaultCalibration;
}

/** The calibration's rule: a backend timed at `ms` replaces the best so far (at `bestMs`) only when faster by the margin. */
function beats(ms: number, bestMs: number): boolean {
  return ms * CALIBRATION_MARGIN < bestMs;
}

/** The backend the calibration rule picks from `times` (js first, then in registry order). Internal: for tests. */
export function chooseByTimes(times: readonly CalibrationTime[]): string {
  let best = times[0]!;
  for (const t of times.slice(1)) if (beats(t.ms, best.ms)) best = t;
  return best.name;
}

/** One backend's calibration: its ms per CALIBRATION_SIZE³ float32 product (JS's kernel where it declines). */
export interface CalibrationTime {
  readonly name: string;
  readonly ms: number;
}

/**
 * Times every backend that can run here as the default's calibration does and returns the times and the backend it
 * would choose, without changing the active backend. Internal: for tests and benches (the calibration itself runs
 * once per process).
 */
export function calibrate(): { choice: string; times: CalibrationTime[] } {
  const { best, times } = measureBackends();
  return { choice: best.backend.name, times };
}

function measureBackends(): { best: { backend: BackendDefinition; table: Partial<Kernels>; ms: number }; times: CalibrationTime[] } {
  const n = CALIBRATION_SIZE;
  const a = new Float32Array(n * n).map((_, i) => ((i * 7919) % 97) / 97 - 0.5);
  const c = new Float32Array(n * n);
  // mean time per product over at least CALIBRATION_RUNS products and CALIBRATION_MIN_MS (a coarse clock needs it)
  const time = (kernel: GemmKernel | undefined): number => {
    kernel?.(n, n, n, a, 0, false, a, 0, true, c, 0, false); // warm-up: a kernel compiled at its first call (gpu.js)
    const start = now();
    let runs = 0;
    let elapsed = 0;
    while (runs < CALIBRATION_RUNS || (elapsed < CALIBRATION_MIN_MS && runs < CALIBRATION_MAX_RUNS)) {
      if (kernel === undefined || !kernel(n, n, n, a, 0, false, a, 0, true, c, 0, false)) gemmJs(n, n, n, a, 0, false, a, 0, true, c, 0, false);
      runs++;
      elapsed = now() - start;
    }
    return elapsed / runs;
  };
  let best: { backend: BackendDefinition; table: Partial<Kernels>; ms: number } = { backend: registry.get('js')!, table: {}, ms: time(undefined) };
  const times: CalibrationTime[] = [{ name: 'js', ms: best.ms }];
  for (const backend of registry.values()) {
    if (backend.name === 'js' || backend.unavailable() !== null) continue;
    let table: Partial<Kernels>;
    try {
      table = loadBackend('getBackend', backend);
    } catch {
      continue; // a backend that cannot load is not a default; setBackend(name) reports why
    }
    const ms = time(table.gemm);
    times.push({ name: backend.name, ms });
    if (beats(ms, best.ms)) best = { backend, table, ms };
  }
  return { best, times };
}

/**
 * Lets the active backend's kernels use up to n threads, the calling one included (default: the machine's cores,
 * at most 4). Products of at least 8M multiply-adds on the wasm backend split by column strips across Node
 * worker_threads or a page's Web Workers (cross-origin isolated pages only), giving the same result as one thread;
 * smaller ones stay on the calling thread. Workers start at the first product that uses them, not here. Throws a
 * ValueError for n not an integer in 1…64, or n > 1 where the active backend cannot run threads (the JS backend
 * never can), saying why; the setting is then unchanged. It carries over to backends activated later.
 */
export function setNumThreads(n: number): void {
  expectInteger('setNumThreads', 'n', n, { min: 1, max: MAX_THREADS });
  const backend = registry.get(getBackend())!;
  if (n > 1) {
    const reason = backend.threadsUnavailable === undefined ? `backend '${backend.name}' runs on one thread` : backend.threadsUnavailable(n);
    if (reason !== null) throw new ValueError('setNumThreads', `n=${n} threads cannot run here: ${reason}`, 'n');
  }
  numThreads = n;
  backend.setThreads?.(n);
}

/** Threads the active backend's kernels may use: the setting (see setNumThreads), or 1 where it cannot use threads. */
export function getNumThreads(): number {
  const backend = registry.get(getBackend())!;
  const n = requestedThreads();
  return backend.setThreads !== undefined && backend.threadsUnavailable?.(n) === null ? n : 1;
}

/** The `setNumThreads` setting, or by default the machine's cores (at most DEFAULT_MAX_THREADS). */
function requestedThreads(): number {
  numThreads ??= Math.max(1, Math.min(DEFAULT_MAX_THREADS, availableCores()));
  return numThreads;
}

/** The scalar reference kernels: they are the fallback of every table, so the JS backend supplies none. */
registerBackend({ name: 'js', unavailable: () => null, load: () => ({}) });

/**
 * Below this many multiply-adds (M·N·K) a product stays on JS: packing and the call cost more than SIMD saves
 * (measured on a 2-core Intel Xeon under Node 20: JS wins at 8³, wasm from 16³ on, 1.3× there and 3.3× at 64³).
 */
const WASM_GEMM_MIN_WORK = 4096;

/**
 * Below this many multiply-adds a product stays on the calling thread. Measured on this 2-core Xeon, Node 20, float32
 * (best of 5, ms for 1 → 2 threads): 128³ 0.13 → 0.15, 192³ 0.37 → 0.35, 256³ 0.84 → 0.69, 1024×64·64×256
 * 0.92 → 0.71, 1024×256·256×256 3.3 → 2.1: waking a worker costs about what a 192³ product takes.
 */
const WASM_THREAD_MIN_WORK = 200 * 200 * 200;

let wasmKernels: { heap: WasmHeap; pool: ThreadPool; fused: WasmAttention } | null = null;

/** Worker threads of the wasm backend ready to take jobs (0 before it loads). Internal: for tests and checks. */
export function wasmWorkersReady(): number {
  return wasmKernels?.pool.readyCount ?? 0;
}

/**
 * The wasm backend's saved attention probabilities: bytes in its heap now, and the limit beyond which P goes to JS
 * buffers; `limit` sets a new one (0: P never lives in the heap). Internal: for tests and benchmarks; the backend
 * must have loaded.
 */
export function wasmResidentProbabilities(limit?: number): { bytes: number; limit: number } {
  if (wasmKernels === null) throw new ValueError('wasmResidentProbabilities', "the wasm backend has not loaded — setBackend('wasm') first");
  if (limit !== undefined) wasmKernels.fused.residentLimit = expectInteger('wasmResidentProbabilities', 'limit', limit, { min: 0 });
  return { bytes: wasmKernels.fused.residentBytes, limit: wasmKernels.fused.residentLimit };
}

/**
 * WebAssembly SIMD128 kernels (core/wasm/): gemm, float32 (f32x4) and float64 (f64x2), on one heap; mixed dtypes,
 * matrix-vector products (M = 1 or N = 1) and small products stay on JS. Threads: core/wasm/threads.ts.
 */
registerBackend({
  name: 'wasm',
  unavailable: wasmUnavailableReason,
  threadsUnavailable: () => threadsUnavailableReason(wasmKernels!.heap),
  setThreads: (n) => wasmKernels!.pool.resize(n),
  load: () => {
    const heap = new WasmHeap();
    const sgemm = new WasmGemm(heap, 'float32');
    const dgemm = new WasmGemm(heap, 'float64');
    const pool = new ThreadPool(heap, [sgemm.module, dgemm.module]);
    sgemm.threads = dgemm.threads = { pool, minWork: WASM_THREAD_MIN_WORK };
    const fused = new WasmAttention(heap, sgemm);
    wasmKernels = { heap, pool, fused };
    const unary = new WasmUnary(heap);
    return {
      unary: (name, x, out) => unary.map(name, x, out),
      attentionForward: (head, P, pOff, out, oOff) => fused.forward(head, P, pOff, out, oOff),
      attentionBackward: (head, P, pOff, o, g, oOff, dq, dk, dv) => fused.backward(head, P, pOff, o, g, oOff, dq, dk, dv),
      attentionResident: (head, count) => fused.resident(head, count),
      gemm: (M, N, K, a, aOff, transA, b, bOff, transB, c, cOff, accumulate) =>
        M > 1 && N > 1 && M * N * K >= WASM_GEMM_MIN_WORK &&
        (sgemm.gemm(M, N, K, a, aOff, transA, b, bOff, transB, c, cOff, accumulate) || dgemm.gemm(M, N, K, a, aOff, transA, b, bOff, transB, c, cOff, accumulate)),
    };
  },
});

/**
 * gpu.js kernels (core/gpujs/): float32 gemm, the attention softmax and P·v, the last-axis softmax, the RoPE rotation
 * and the unary maps, compiled by the optional peer gpu.js for the mode setBackend('gpujs', { mode }) names.
 * Available after `await prepareBackend('gpujs')`; the default only where its gemm measured faster at the calibration.
 */
registerBackend(gpujsBackend);
