/**
 * Matmul benchmark (square, transposed and batched products): ropelab's `matmul` op on its 'js' backend (scalar
 * kernels) and its 'wasm' backend (SIMD128 kernels emitted at run time, core/wasm/: SGEMM with f32x4, DGEMM with
 * f64x2) on one thread and two ('wasm×2'), against TF.js (cpu backend = plain JS, wasm backend = XNNPACK,
 * single-threaded in Node) in the same process. Not a test; prints tables.
 *
 *   npm run bench:matmul          (after `npm run peers:install`, once)
 *
 * Timings are the median of a few repetitions after warm-up, ropelab and TF.js cpu alternating (see measureAll);
 * TF.js timings include `await result.data()` so its lazy execution is counted. GFLOP/s = 2·N³·batch / time.
 * Ratios are speed ratios: > 1 means ropelab is faster. "tfjs-wasm tuned" writes each product the way XNNPACK runs
 * fast: only unbatched, untransposed 2-D products (a transpose or a batch is materialized or looped first, and timed);
 * for a plain A·B it is the plain product.
 */
import { Generator, matmul, randn, type DType, type MatmulOptions, type Tensor } from '../../core/index.js';
import { readFlags } from '../lib/flags.js';
import { fmt, loadTf, medianMs, onRopelab, pairedMediansMs, printEnvironment, printTable, requirePeers, ropelabVariants, useBackend, type PeerBackend, type RopelabVariant } from './harness.js';
import type { TfCore, TfTensor } from './tfjs-types.js';

const SIZES = [128, 256, 512, 1024] as const;
const DTYPES: readonly DType[] = ['float32', 'float64'];
/** Size used for the transposed variants. */
const TRANSPOSED_N = 512;
/** Batched products: BATCH matrices of BATCHED_N, the same FLOPs as one TRANSPOSED_N product (8 · 256³ = 512³). */
const BATCH = 8;
const BATCHED_N = 256;
const SEED = 1234;

interface Variant {
  label: string;
  transposeA: boolean;
  transposeB: boolean;
}

const PLAIN: Variant = { label: 'A·B', transposeA: false, transposeB: false };
const VARIANTS: readonly Variant[] = [
  PLAIN,
  { label: 'A·Bᵀ', transposeA: false, transposeB: true },
  { label: 'Aᵀ·B', transposeA: true, transposeB: false },
];

/** Repetitions (after warm-up) per size, fewer for big N so the whole run stays within a few minutes. */
function repsFor(n: number): { warmup: number; reps: number } {
  if (n <= 128) return { warmup: 10, reps: 31 };
  if (n <= 256) return { warmup: 4, reps: 11 };
  if (n <= 512) return { warmup: 2, reps: 9 };
  return { warmup: 1, reps: 3 };
}

/** A product: `batch` matrices (batch 0 = one plain matrix) of n × n, b shared by every batch when sharedB. */
interface Shape {
  n: number;
  batch: number;
  sharedB: boolean;
}

const flops = ({ n, batch }: Shape): number => Math.max(batch, 1) * 2 * n ** 3;

function gflops(shape: Shape, ms: number): number {
  return flops(shape) / (ms * 1e6);
}

const dims = ({ n, batch }: Shape, shared = false): number[] => (batch === 0 || shared ? [n, n] : [batch, n, n]);

type Timed = () => unknown | Promise<unknown>;

/** ropelab: one product through the public op, on `which` (a backend and thread count, restored after each call). */
function ropelabProduct(shape: Shape, dtype: DType, variant: Variant, which: RopelabVariant = 'js'): Timed {
  const generator = new Generator(SEED);
  const a: Tensor = randn(dims(shape), { dtype, generator });
  const b: Tensor = randn(dims(shape, shape.sharedB), { dtype, generator });
  const options: MatmulOptions = { transposeA: variant.transposeA, transposeB: variant.transposeB };
  return () => onRopelab(which, () => matmul(a, b, options));
}

/** The ropelab variants this engine runs: 'js', and 'wasm' / 'wasm×2' where it has WebAssembly SIMD (and threads). */
const ROPELAB = ropelabVariants();
const HAS_WASM = ROPELAB.includes('wasm');
const HAS_THREADS = ROPELAB.includes('wasm×2');

/**
 * TF.js: one float32 product on the current backend, including the read-back of the result. `tuned`: only unbatched,
 * untransposed 2-D products (XNNPACK's fast path in tfjs-backend-wasm): transposes materialized, batches looped.
 */
function tfjsProduct(tf: TfCore, shape: Shape, variant: Variant, tuned = false): { run: Timed; dispose: () => void } {
  const a = tf.randomNormal(dims(shape), 0, 1, 'float32', SEED);
  const b = tf.randomNormal(dims(shape, shape.sharedB), 0, 1, 'float32', SEED + 1);
  const { n } = shape;
  const matrix = (x: TfTensor, i: number, transpose: boolean): TfTensor => {
    const m = x.shape.length === 2 ? x : tf.reshape(tf.slice(x, [i, 0, 0], [1, n, n]), [n, n]);
    return transpose ? tf.transpose(m) : m;
  };
  const product = (): TfTensor => {
    if (!tuned) return tf.matMul(a, b, variant.transposeA, variant.transposeB);
    return tf.tidy(() => {
      if (shape.batch === 0) return tf.matMul(matrix(a, 0, variant.transposeA), matrix(b, 0, variant.transposeB));
      const parts = Array.from({ length: shape.batch }, (_, i) => tf.reshape(tf.matMul(matrix(a, i, variant.transposeA), matrix(b, i, variant.transposeB)), [1, n, n]));
      return tf.concat(parts, 0);
    });
  };
  const run = async (): Promise<void> => {
    const c = product();
    await c.data();
    c.dispose();
  };
  return { run, dispose: () => tf.dispose([a, b]) };
}

async function timeRopelab(shape: Shape, dtype: DType, variant: Variant): Promise<number> {
  const { warmup, reps } = repsFor(shape.n);
  return medianMs(ropelabProduct(shape, dtype, variant), reps, warmup);
}

interface Case extends Shape {
  label: string;
  dtype: DType;
  variant: Variant;
}

interface Row extends Case {
  ropelab: number;
  /** ropelab on its wasm backend, one thread (null where the engine has no WebAssembly SIMD). */
  ropelabWasm: number | null;
  /** ropelab on its wasm backend, two threads (null where threads cannot run). */
  ropelabWasm2: number | null;
  tfjs: Record<PeerBackend | 'wasmTuned', number | null>;
}

function timeCell(shape: Shape, ms: number | null): string {
  return ms === null ? 'n/a' : `${fmt(ms)} ms ${fmt(gflops(shape, ms))}`;
}

function ratioCell(ropelabMs: number, otherMs: number | null): string {
  return otherMs === null ? 'n/a' : fmt(otherMs / ropelabMs);
}

function printRows(rows: readonly Row[]): void {
  printTable(
    ['case', 'ropelab js ms GFLOP/s', 'wasm ms GFLOP/s', 'wasm×2 ms GFLOP/s', 'tfjs-cpu ms GFLOP/s', 'tfjs-wasm ms GFLOP/s', 'wasm tuned ms GFLOP/s', 'rl/cpu', 'rlw/rl', 'rlw/wasm', 'rlw2/wasm', 'rlw/tuned', 'rlw2/tuned'],
    rows.map((r) => [
      `${r.label} ${r.n} ${r.dtype === 'float32' ? 'f32' : 'f64'}`,
      timeCell(r, r.ropelab),
      timeCell(r, r.ropelabWasm),
      timeCell(r, r.ropelabWasm2),
      timeCell(r, r.tfjs.cpu),
      timeCell(r, r.tfjs.wasm),
      timeCell(r, r.tfjs.wasmTuned),
      ratioCell(r.ropelab, r.tfjs.cpu),
      r.ropelabWasm === null ? 'n/a' : ratioCell(r.ropelabWasm, r.ropelab),
      r.ropelabWasm === null ? 'n/a' : ratioCell(r.ropelabWasm, r.tfjs.wasm),
      r.ropelabWasm2 === null ? 'n/a' : ratioCell(r.ropelabWasm2, r.tfjs.wasm),
      r.ropelabWasm === null ? 'n/a' : ratioCell(r.ropelabWasm, r.tfjs.wasmTuned),
      r.ropelabWasm2 === null ? 'n/a' : ratioCell(r.ropelabWasm2, r.tfjs.wasmTuned),
    ]),
  );
}

/**
 * Times every case. ropelab js, wasm, wasm×2 and TF.js cpu run in alternation, one product each per round
 * (pairedMediansMs), so all see the same machine (ropelab's wasm memory is shared: growing it detaches nothing). TF.js wasm comes last: initializing the wasm backend grows WebAssembly memory,
 * which detaches an ArrayBuffer and invalidates V8's "no detached buffers" protector for the whole process;
 * from then on every typed-array access in optimized JS carries an extra check (20–30% slower here). The
 * matmul micro-kernel reads a plain array, which that check spares; the last line re-times one case after
 * TF.js wasm ran to show it.
 */
async function measureAll(tf: TfCore, cases: readonly Case[]): Promise<Row[]> {
  const rows: Row[] = [];
  const cpu = await useBackend(tf, 'cpu');
  for (const c of cases) {
    const { warmup, reps } = repsFor(c.n);
    const timed = ROPELAB.map((which) => ropelabProduct(c, c.dtype, c.variant, which));
    const peer = cpu && c.dtype === 'float32' ? tfjsProduct(tf, c, c.variant) : null;
    const ms = await pairedMediansMs(peer ? [...timed, peer.run] : timed, reps, warmup);
    peer?.dispose();
    const of = (which: RopelabVariant): number | null => (ROPELAB.includes(which) ? ms[ROPELAB.indexOf(which)]! : null);
    rows.push({ ...c, ropelab: ms[0]!, ropelabWasm: of('wasm'), ropelabWasm2: of('wasm×2'), tfjs: { cpu: peer ? ms[ms.length - 1]! : null, wasm: null, wasmTuned: null } });
  }
  if (await useBackend(tf, 'wasm')) {
    for (const row of rows) {
      if (row.dtype !== 'float32') continue;
      const { warmup, reps } = repsFor(row.n);
      const peer = tfjsProduct(tf, row, row.variant);
      row.tfjs.wasm = await medianMs(peer.run, reps, warmup);
      peer.dispose();
      const plainProduct = row.batch === 0 && !row.variant.transposeA && !row.variant.transposeB;
      if (plainProduct) row.tfjs.wasmTuned = row.tfjs.wasm; // already the fast path
      else {
        const tuned = tfjsProduct(tf, row, row.variant, true);
        row.tfjs.wasmTuned = await medianMs(tuned.run, reps, warmup);
        tuned.dispose();
      }
    }
  }
  return rows;
}

const HELP = `usage: npm run bench:matmul

Times ropelab's matmul (square, transposed, batched) against TF.js cpu and wasm in one process and prints tables.
Takes no flags but --help; needs the benchmark peers (npm run peers:install).`;

async function main(): Promise<void> {
  readFlags('bench:matmul', HELP, {}, { values: {} });
  requirePeers('bench:matmul');
  printEnvironment('matmul: ropelab js, wasm and wasm×2 (two threads) vs TF.js cpu (plain JS), wasm and wasm tuned (XNNPACK, SIMD, one thread) in one process');
  const tf = await loadTf();
  console.log(`TF.js ${tf.version_core}, float32 only (f64 columns n/a); ratios = other's time / ropelab's time (> 1: ropelab faster); rl = ropelab js, rlw = ropelab wasm, rlw2 = ropelab wasm on two threads${HAS_WASM ? '' : ' (n/a: no WebAssembly SIMD here)'}${HAS_WASM && !HAS_THREADS ? ' (wasm×2 n/a: no threads here)' : ''}`);

  const plain = { batch: 0, sharedB: false };
  const square: Case[] = SIZES.flatMap((n) => DTYPES.map((dtype) => ({ ...plain, label: PLAIN.label, n, dtype, variant: PLAIN })));
  const transposed: Case[] = VARIANTS.flatMap((variant) =>
    DTYPES.map((dtype) => ({ ...plain, label: variant.label, n: TRANSPOSED_N, dtype, variant })),
  );
  const batched: Case[] = [
    ...VARIANTS.map((variant) => ({ label: `${BATCH}× ${variant.label}`, n: BATCHED_N, batch: BATCH, sharedB: false, dtype: 'float32' as const, variant })),
    { label: `${BATCH}× A·shared Bᵀ`, n: BATCHED_N, batch: BATCH, sharedB: true, dtype: 'float32', variant: VARIANTS[1]! },
  ];
  const rows = await measureAll(tf, [...square, ...transposed, ...batched]);
  console.log(`wasm backend: SIMD ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT')}, threads ${tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT')}\n`);
  printRows(rows.slice(0, square.length));
  console.log(`\ntransposed variants at N = ${TRANSPOSED_N}`);
  printRows(rows.slice(square.length, square.length + transposed.length));
  console.log(`\nbatched: ${BATCH} products of ${BATCHED_N}³ (the FLOPs of one ${TRANSPOSED_N}³), float32; "shared B" is one [${BATCHED_N}, ${BATCHED_N}] matrix for every batch, as a Linear layer`);
  printRows(rows.slice(square.length + transposed.length));

  const single = { ...plain, n: TRANSPOSED_N };
  const after = await timeRopelab(single, 'float32', PLAIN);
  console.log(`\nropelab js A·B ${TRANSPOSED_N} f32 re-timed after TF.js wasm ran: ${after.toFixed(2)} ms, ${gflops(single, after).toFixed(2)} GFLOP/s`);
  if (HAS_WASM) {
    // ropelab float64: wasm (DGEMM, f64x2) against js at 512³, alternating in one run (TF.js has no float64)
    const { warmup, reps } = repsFor(TRANSPOSED_N);
    const [js, wasm] = await pairedMediansMs([ropelabProduct(single, 'float64', PLAIN), ropelabProduct(single, 'float64', PLAIN, 'wasm')], reps, warmup);
    console.log(`ropelab wasm vs js, A·B ${TRANSPOSED_N} f64, alternating: ${gflops(single, wasm!).toFixed(2)} vs ${gflops(single, js!).toFixed(2)} GFLOP/s (${(js! / wasm!).toFixed(2)}×)`);
  }
  if (HAS_WASM && tf.getBackend() === 'wasm') {
    // ropelab wasm (one and two threads) against TF.js wasm at 512³ f32, alternating in one run, three times over
    // (issue #12 targets: ≥ 1.0× on one thread, ≥ 1.7× on two)
    const { warmup, reps } = repsFor(TRANSPOSED_N);
    const peer = tfjsProduct(tf, single, PLAIN);
    const ours: RopelabVariant[] = HAS_THREADS ? ['wasm', 'wasm×2'] : ['wasm'];
    const goal: Record<string, number> = { wasm: 1.0, 'wasm×2': 1.7 };
    for (let run = 1; run <= 3; run++) {
      const ms = await pairedMediansMs([...ours.map((which) => ropelabProduct(single, 'float32', PLAIN, which)), peer.run], 2 * reps + 1, warmup);
      const tfw = ms.at(-1)!;
      const cells = ours.map((which, i) => {
        const ratio = tfw / ms[i]!;
        return `${which} ${gflops(single, ms[i]!).toFixed(2)} GFLOP/s, ${ratio.toFixed(2)}× (target ≥ ${goal[which]!.toFixed(1)}×: ${ratio >= goal[which]! ? 'met' : 'MISSED'})`;
      });
      console.log(`run ${run}, A·B ${TRANSPOSED_N} f32 alternating with TF.js wasm (${gflops(single, tfw).toFixed(2)} GFLOP/s): ropelab ${cells.join('; ')}`);
    }
    peer.dispose();
  }
}

await main();
