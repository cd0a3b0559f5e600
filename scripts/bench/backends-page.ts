/**
 * The contenders and cases of `bench:backends` (scripts/bench/backends.ts), and its page side: with `--page`,
 * backends.ts bundles this module with the in-page harness (scripts/lib/browser-page.ts, call mode) and gpu.js's
 * browser build, opens it on a cross-origin isolated page in headless Chromium (so wasm×2 has its Web Worker), and
 * runBackendsPage times every backend and gpu.js mode there, alternating, and returns the medians for Node to
 * print. Node-free: it runs in Node and in the page.
 *
 * gpu.js in a page: GPUJS_BROWSER_BUILD (its browserified UMD build, the `browser` field of its package.json) is
 * bundled as an entry point of its own (esbuild wraps it as an ES module whose default export is gpu.js's exports)
 * and importBundledGpuJs imports it by its route, for prepareBackend('gpujs', { importModule }).
 */
import { attention, Generator, matmul, randn, type Tensor } from '../../core/index.js';
import { pairedMediansMs } from './timing.js';
import {
  backendNames, getBackend, getBackendOptions, getNumThreads, prepareBackend, setBackend, setNumThreads, wasmWorkersReady, type BackendOptions,
} from '../../core/backend.js';

/** gpu.js's browser build, relative to the repository root (present once `npm run peers:install` has run). */
export const GPUJS_BROWSER_BUILD = 'node_modules/gpu.js/dist/gpu-browser.js';

/** For a page whose bundle has GPUJS_BROWSER_BUILD as an entry: imports it by its route (the module, default = gpu.js). */
export function importBundledGpuJs(): Promise<unknown> {
  const route = '/' + GPUJS_BROWSER_BUILD; // its route (chromium.ts entryRoute); a variable: esbuild leaves the import to the page
  return import(route);
}

/** One contender: a backend with its options and thread count. */
export interface Contender {
  readonly label: string;
  readonly backend: string;
  readonly options?: BackendOptions;
  readonly threads: number;
}

/** Node's contenders (gpu.js's Node modes). */
export const CONTENDERS: readonly Contender[] = [
  { label: 'js', backend: 'js', threads: 1 },
  { label: 'wasm', backend: 'wasm', threads: 1 },
  { label: 'wasm×2', backend: 'wasm', threads: 2 },
  { label: 'gpujs cpu', backend: 'gpujs', options: { mode: 'cpu' }, threads: 1 },
  { label: 'gpujs webasm', backend: 'gpujs', options: { mode: 'webasm' }, threads: 1 },
];

/** The page's contenders: Node's, and gpu.js's WebGL2 and WebGPU modes (WebGPU where Chromium gives an adapter). */
export const PAGE_CONTENDERS: readonly Contender[] = [
  ...CONTENDERS,
  { label: 'gpujs webgl2', backend: 'gpujs', options: { mode: 'webgl2' }, threads: 1 },
  { label: 'gpujs webgpu', backend: 'gpujs', options: { mode: 'webgpu' }, threads: 1 },
];

/** Runs fn on contender c, then restores the backend, its options and the threads active before. */
export function on<T>(c: Contender, fn: () => T): T {
  const before = { backend: getBackend(), options: getBackendOptions(), threads: getNumThreads() };
  setBackend(c.backend, c.options);
  setNumThreads(c.threads);
  try {
    return fn();
  } finally {
    setBackend(before.backend, Object.keys(before.options).length > 0 ? before.options : undefined);
    setNumThreads(before.threads);
  }
}

/** Why a contender cannot run here, or null: tries its setting and, when `probe`, a 64³ product on it. */
export function unavailable(c: Contender, probe = false): string | null {
  try {
    on(c, () => probe && matmul(randn([64, 64], { generator: new Generator(0) }), randn([64, 64], { generator: new Generator(1) })));
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

export interface Case {
  readonly label: string;
  readonly flops: number;
  readonly reps: number;
  /** One call of the measured work (inputs made once, outside the timing). */
  readonly make: () => () => Tensor;
}

function matmulCase(n: number, reps: number): Case {
  return {
    label: `matmul ${n}³ f32`,
    flops: 2 * n ** 3,
    reps,
    make: () => {
      const g = new Generator(1);
      const a = randn([n, n], { generator: g });
      const b = randn([n, n], { generator: g });
      return () => matmul(a, b);
    },
  };
}

/** One attention layer's core at a small model's shape: 4 heads, 256 positions, head dim 64, no mask. */
const ATTN = { heads: 4, T: 256, d: 64 } as const;
const attentionCase: Case = {
  label: `attention ${ATTN.heads}×${ATTN.T}×${ATTN.d} f32`,
  flops: 4 * ATTN.heads * ATTN.T ** 2 * ATTN.d,
  reps: 7,
  make: () => {
    const g = new Generator(2);
    const [q, k, v] = [0, 1, 2].map(() => randn([ATTN.heads, ATTN.T, ATTN.d], { generator: g })) as [Tensor, Tensor, Tensor];
    return () => attention(q, k, v);
  },
};

export const CASES: readonly Case[] = [matmulCase(256, 7), matmulCase(512, 3), attentionCase];

/**
 * Per case of CASES, the median ms of each contender that can run (reasons[i] === null; null for the others), all of
 * them alternating in every repetition (pairedMediansMs): the measurement of both the Node and the page bench.
 */
export async function measureCases(contenders: readonly Contender[], reasons: readonly (string | null)[]): Promise<(number | null)[][]> {
  const live = contenders.filter((_, i) => reasons[i] === null);
  const ms: (number | null)[][] = [];
  for (const kase of CASES) {
    const fns = live.map((c) => {
      const run = on(c, kase.make);
      return () => on(c, run);
    });
    const medians = await pairedMediansMs(fns, kase.reps, 1);
    ms.push(contenders.map((c) => (live.includes(c) ? medians[live.indexOf(c)]! : null)));
  }
  return ms;
}

/** What the page measured: per case, the median ms of each of PAGE_CONTENDERS (null where it cannot run). */
export interface PageBenchResult {
  userAgent: string;
  crossOriginIsolated: boolean;
  /** 'gpu.js loaded' or why prepareBackend('gpujs') failed. */
  gpujs: string;
  backends: string[];
  /** Per contender: why it cannot run in this page, or null. */
  reasons: (string | null)[];
  /** ms[case][contender], null for a contender that cannot run. */
  ms: (number | null)[][];
  wallMs: number;
}

/** For the page (backends.ts --page): every contender on every case, alternating within each repetition. */
export async function runBackendsPage(): Promise<PageBenchResult> {
  const t0 = performance.now();
  setBackend('js'); // before anything reads the backend: no default calibration in the page
  let gpujs = 'gpu.js loaded';
  try {
    await prepareBackend('gpujs', { importModule: importBundledGpuJs });
  } catch (e) {
    gpujs = e instanceof Error ? e.message : String(e);
  }
  const reasons = PAGE_CONTENDERS.map((c) => unavailable(c, true));
  // wasm×2: a large product starts the Web Worker, which a page starts asynchronously; wait until it is ready
  const threaded = PAGE_CONTENDERS.find((c, i) => c.threads > 1 && reasons[i] === null);
  if (threaded !== undefined) {
    on(threaded, () => matmul(randn([256, 256], { generator: new Generator(0) }), randn([256, 256], { generator: new Generator(1) })));
    const deadline = performance.now() + 20_000;
    while (wasmWorkersReady() < threaded.threads - 1 && performance.now() < deadline) await new Promise((done) => setTimeout(done, 20));
    if (wasmWorkersReady() < threaded.threads - 1) reasons[PAGE_CONTENDERS.indexOf(threaded)] = 'its Web Worker did not start within 20 s';
  }
  const ms = await measureCases(PAGE_CONTENDERS, reasons);
  return {
    userAgent: navigator.userAgent, crossOriginIsolated: globalThis.crossOriginIsolated === true, gpujs,
    backends: backendNames(), reasons, ms, wallMs: performance.now() - t0,
  };
}
