/**
 * applyRotary throughput on x [1, 32, 4096, 128] (batch, heads, seq, head dim) with a shared angle table
 * [4096, 64], against copying that many float32 values in the same run: a plain JS loop (the bound for a scalar JS
 * kernel), TypedArray.set (native memcpy), and a naive hand-written rotate-half loop into a preallocated buffer.
 *
 *   node scripts/run.mjs scripts/bench/rope.ts [--reps N] [--one-heap]
 *
 * Two tables. Every forward and backward allocates a fresh output (64 MB in float32), and glibc serves blocks that
 * large with a fresh mmap, so each call first page-faults its output in; in the 2-core dev VM that costs ~11 µs a
 * page, ~185 ms per 64 MB, far more than the rotation (the "fresh Float32Array" rows show it). The first table runs in
 * this process as is; the second in a child process with MALLOC_MMAP_MAX_=0 and a high MALLOC_TRIM_THRESHOLD_, so
 * that freed buffers are reused as in a long-running process with a warm heap, and the rows time the kernels.
 * --one-heap prints only the first table.
 *
 * Rows, for both layouts and both dtypes:
 *   forward cold   a fresh angles tensor each call, so cos/sin are computed (the trig cache misses)
 *   forward warm   the same angles tensor each call (cached cos/sin, as for k after q and for later layers)
 *   backward x     the op's backward rule alone (∂L/∂x), with a fixed upstream gradient
 *   backward x, φ  the same with angles requiring grad: ∂L/∂x and ∂L/∂φ (summed over the 32 heads, in the pass)
 * Every forward and backward allocates its output, as in use; the copy baselines write into a preallocated buffer.
 * Times are medians after two warm-up calls, each row's reps alternating with reps of the copy loop; "vs copy" =
 * that copy-loop time / row time (1.00 = as fast as the copy loop).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Generator, Tensor, backendNames, getBackend, randn, type DType } from '../../core/index.js';
import { applyRotary, ropeInvFreq, rotaryAngles, type PairLayout } from '../../positional/rope.js';
import { integerFlag, readFlags } from '../lib/flags.js';
import { fmt, printEnvironment, printTable } from './harness.js';

const SHAPE: readonly number[] = [1, 32, 4096, 128];
const T = SHAPE[2]!;
const D = SHAPE[3]!;
const P = D / 2;
const N = SHAPE.reduce((a, b) => a * b, 1);
const CHILD_ENV = 'ROPELAB_BENCH_WARM_HEAP';
const HELP = `usage: npm run bench:rope [-- --reps N] [-- --one-heap]

applyRotary throughput on x [1, 32, 4096, 128] against copy loops, in this process and then in a child with a warm heap.

  --reps N     timed repetitions per row (default 7)
  --one-heap   only the first table (no child process)
  --help       this text`;
const FLAGS = readFlags('bench:rope', HELP, { reps: 7, oneHeap: false }, {
  values: { reps: (f, v) => (f.reps = integerFlag(v, 1)) },
  switches: { 'one-heap': (f) => (f.oneHeap = true) },
});
const REPS = FLAGS.reps;

function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').trim().split(' ').slice(0, 3).join(' ');
  } catch {
    return 'n/a';
  }
}

/**
 * dst[i] = src[i]: the plain-loop baseline, a function taking its arrays as arguments as a library kernel does
 * (a closure over constant arrays can be specialised by V8 to ~2× faster, depending on when it tiers up).
 */
function copyLoop(src: Float32Array, dst: Float32Array): void {
  const n = src.length;
  for (let i = 0; i < n; i++) dst[i] = src[i]!;
}

/** out = rotate_half rotation of x by cos/sin [T, P] (float64 tables), rows of D: the naive reference kernel. */
function handRotateHalf(x: Float32Array, out: Float32Array, cos: Float64Array, sin: Float64Array): void {
  const rows = x.length / D;
  for (let r = 0; r < rows; r++) {
    const t = r % T;
    for (let i = 0; i < P; i++) {
      const c = cos[t * P + i]!;
      const s = sin[t * P + i]!;
      const a = x[r * D + i]!;
      const b = x[r * D + i + P]!;
      out[r * D + i] = a * c - b * s;
      out[r * D + i + P] = a * s + b * c;
    }
  }
}

interface Row {
  label: string;
  ms: number;
  /** The plain-loop copy, timed alternately with this row's reps. */
  copyMs: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Median times of `fn` and of the copy loop, run alternately (copy, fn, copy, fn, …) after warm-up, so that both
 * see the same machine: on a shared 2-core VM the speed of the same loop drifts by up to 2× within a minute.
 */
function paired(label: string, fn: () => unknown, copy: () => void, warmup = 2): Row {
  for (let i = 0; i < warmup; i++) fn();
  copy();
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < REPS; i++) {
    let t0 = performance.now();
    copy();
    a.push(performance.now() - t0);
    t0 = performance.now();
    fn();
    b.push(performance.now() - t0);
  }
  return { label, ms: median(b), copyMs: median(a) };
}

async function main(): Promise<void> {
  const warmHeap = process.env[CHILD_ENV] === '1';
  if (!warmHeap) printEnvironment(`applyRotary on x [${SHAPE.join(', ')}] (${N} elements), angles [${T}, ${P}]; median of ${REPS} reps`);
  // the rotation has no wasm kernel yet: whichever backend is active, these rows run the JS kernels
  if (!warmHeap) console.log(`ropelab backend: ${getBackend()} (available: ${backendNames().join(', ')}; the rotation runs on JS under every backend)\n`);
  console.log(warmHeap ? '── warm heap (MALLOC_MMAP_MAX_=0: freed buffers are reused) ──' : '── this process (default malloc: every 64 MB output is a fresh mmap) ──');
  console.log(`load average before: ${loadAverage()}\n`);

  const src = new Float32Array(N).map((_, i) => Math.sin(i));
  const dst = new Float32Array(N);
  const copy = (): void => copyLoop(src, dst);
  for (let i = 0; i < 3; i++) copy();
  const angles0 = rotaryAngles(Float64Array.from({ length: T }, (_, i) => i), ropeInvFreq(D));
  const cos = new Float64Array(angles0.size);
  const sin = new Float64Array(angles0.size);
  const trig = (): void => {
    for (let i = 0; i < angles0.size; i++) {
      cos[i] = Math.cos(angles0.data[i]!);
      sin[i] = Math.sin(angles0.data[i]!);
    }
  };
  trig();
  const dst2 = new Float32Array(N);
  const rows: Row[] = [
    paired('copy: plain JS loop (f32)', () => copyLoop(src, dst2), copy),
    paired('copy: TypedArray.set (memcpy)', () => dst2.set(src), copy),
    paired('fresh Float32Array(N) + set', () => new Float32Array(N).set(src), copy),
    paired('hand rotate-half loop (f32, prealloc)', () => handRotateHalf(src, dst2, cos, sin), copy),
    paired(`cos+sin of the [${T}, ${P}] table`, trig, copy),
  ];

  const g = new Generator(0);
  for (const dtype of ['float32', 'float64'] as DType[]) {
    const x = randn([...SHAPE], { dtype, generator: g });
    const xg = new Tensor(x.data, x.shape, true);
    const up = randn([...SHAPE], { dtype, generator: g });
    for (const layout of ['half', 'interleaved'] as PairLayout[]) {
      const tag = `${layout} ${dtype === 'float32' ? 'f32' : 'f64'}`;
      const angles = angles0;
      rows.push(paired(`${tag} forward cold`, () => applyRotary(x, new Tensor(angles.data, angles.shape), { layout }), copy));
      rows.push(paired(`${tag} forward warm`, () => applyRotary(x, angles, { layout }), copy));
      const y = applyRotary(xg, angles, { layout });
      rows.push(paired(`${tag} backward x`, () => y.gradNode!.backward!(up), copy));
      const learnable = new Tensor(angles.data, angles.shape, true);
      const y2 = applyRotary(xg, learnable, { layout });
      rows.push(paired(`${tag} backward x, φ`, () => y2.gradNode!.backward!(up), copy));
    }
  }

  printTable(
    ['case', 'ms', 'Melem/s', 'copy ms', 'vs copy'],
    rows.map((r) => [r.label, fmt(r.ms), fmt(N / r.ms / 1e3, 0), fmt(r.copyMs), fmt(r.copyMs / r.ms)]),
  );
  console.log(`load average after: ${loadAverage()}`);
  console.log('copy ms = the plain-loop copy timed alternately with that row; vs copy = copy ms / ms (forward target ≥ 0.50).\n');
}

await main();
if (process.env[CHILD_ENV] !== '1' && !FLAGS.oneHeap) {
  const env = { ...process.env, [CHILD_ENV]: '1', MALLOC_MMAP_MAX_: '0', MALLOC_TRIM_THRESHOLD_: String(2 ** 34) };
  spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], { stdio: 'inherit', env });
}
