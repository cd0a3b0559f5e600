/**
 * Every ropelab backend in one run: 'js' (scalar kernels), 'wasm' on one thread and two ('wasm×2'), and the gpu.js
 * backend in its Node modes 'cpu' (gpu.js compiles the kernels to plain JS) and 'webasm' (to WebAssembly), on
 * float32 matmul 256³ and 512³ and an attention step (fused scaled dot-product attention, forward). Not a test;
 * prints a table.
 *
 *   npm run bench:backends          (gpu.js: npm run peers:install once; without it the gpujs rows say n/a)
 *
 * The contenders alternate within each repetition (pairedMediansMs), each pinned to its backend, mode and thread
 * count for its call. GFLOP/s = 2·M·N·K / time for a product; for attention 4·heads·T²·d (q·kᵀ and P·v, dense, no
 * mask), the softmax not counted. Ratios are speeds relative to js (> 1: faster than js).
 */
import { attention, Generator, matmul, randn, type Tensor } from '../../core/index.js';
import { backendNames, getBackend, getBackendOptions, getNumThreads, prepareBackend, setBackend, setNumThreads, type BackendOptions } from '../../core/backend.js';
import { GPUJS_VERSION } from '../../core/gpujs/backend.js';
import { readFlags } from '../lib/flags.js';
import { isEntryPoint } from '../lib/entry.js';
import { fmt, pairedMediansMs, printEnvironment, printTable } from './harness.js';

const HELP = `npm run bench:backends [-- --help]

Times js, wasm, wasm×2 (two threads), gpujs cpu and gpujs webasm on float32 matmul 256³ and 512³ and an attention
step, alternating in one process, and prints GFLOP/s and speed ratios vs js. Takes no flags but --help.`;

/** One contender: a backend with its options and thread count. */
export interface Contender {
  readonly label: string;
  readonly backend: string;
  readonly options?: BackendOptions;
  readonly threads: number;
}

export const CONTENDERS: readonly Contender[] = [
  { label: 'js', backend: 'js', threads: 1 },
  { label: 'wasm', backend: 'wasm', threads: 1 },
  { label: 'wasm×2', backend: 'wasm', threads: 2 },
  { label: 'gpujs cpu', backend: 'gpujs', options: { mode: 'cpu' }, threads: 1 },
  { label: 'gpujs webasm', backend: 'gpujs', options: { mode: 'webasm' }, threads: 1 },
];

/** Why a contender cannot run here, or null (tries its setting once, then restores the one before). */
function unavailable(c: Contender): string | null {
  try {
    on(c, () => undefined);
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** Runs fn on contender c, then restores the backend, its options and the threads active before. */
function on<T>(c: Contender, fn: () => T): T {
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

interface Case {
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

async function main(): Promise<void> {
  readFlags('bench:backends', HELP, {}, { values: {} });
  printEnvironment('backends: ropelab js, wasm, wasm×2, gpujs cpu and gpujs webasm, alternating in one process');
  let gpujsNote = `gpu.js ${GPUJS_VERSION}`;
  try {
    await prepareBackend('gpujs');
  } catch (e) {
    gpujsNote = `gpujs n/a — ${e instanceof Error ? e.message : String(e)}`;
  }
  const reasons = CONTENDERS.map(unavailable);
  const live = CONTENDERS.filter((_, i) => reasons[i] === null);
  console.log(`${gpujsNote}; backends here: ${backendNames().join(', ')}`);
  CONTENDERS.forEach((c, i) => reasons[i] !== null && console.log(`${c.label}: n/a — ${reasons[i]}`));
  console.log('GFLOP/s (median ms); ratio = speed vs js (> 1: faster than js)\n');

  const rows: string[][] = [];
  for (const kase of CASES) {
    const fns = live.map((c) => {
      const run = on(c, kase.make);
      return () => on(c, run);
    });
    const ms = await pairedMediansMs(fns, kase.reps, 1);
    const jsMs = ms[live.findIndex((c) => c.label === 'js')]!;
    rows.push([kase.label, ...CONTENDERS.map((c) => {
      const i = live.indexOf(c);
      if (i < 0) return 'n/a';
      return `${fmt(kase.flops / (ms[i]! * 1e6))} (${fmt(ms[i]!, 1)} ms) ${fmt(jsMs / ms[i]!)}×`;
    })]);
  }
  printTable(['case', ...CONTENDERS.map((c) => c.label)], rows);
}

if (isEntryPoint(import.meta.url, 'backends')) await main();
