/**
 * Elementwise, reduction and layout throughput on a [1024, 1024] tensor: ropelab (float32 and float64) against a
 * plain Float32Array copy loop (the bound for a scalar JS kernel) and TF.js cpu / wasm, all in the same run.
 * Run: npm run bench:ops
 */
import { Generator, add, exp, gelu, mul, randn, softmax, sum, tanh, transpose, type DType, type Tensor } from '../../core/index.js';
import { readFlags } from '../lib/flags.js';
import { fmt, loadTf, medianMs, printEnvironment, printTable, requirePeers, useBackend } from './harness.js';
import type { TfCore, TfTensor } from './tfjs-types.js';

const ROWS = 1024;
const COLS = 1024;
const N = ROWS * COLS;
const REPS = 9;


interface OpCase {
  name: string;
  ours: (x: Tensor, y: Tensor, row: Tensor) => Tensor;
  peer: (tf: TfCore, x: TfTensor, y: TfTensor, row: TfTensor) => TfTensor;
}

const CASES: OpCase[] = [
  { name: 'add', ours: (x, y) => add(x, y), peer: (tf, x, y) => tf.add(x, y) },
  { name: 'add row-broadcast', ours: (x, _y, r) => add(x, r), peer: (tf, x, _y, r) => tf.add(x, r) },
  { name: 'mul', ours: (x, y) => mul(x, y), peer: (tf, x, y) => tf.mul(x, y) },
  { name: 'exp', ours: (x) => exp(x), peer: (tf, x) => tf.exp(x) },
  { name: 'tanh', ours: (x) => tanh(x), peer: (tf, x) => tf.tanh(x) },
  { name: 'gelu (tanh form)', ours: (x) => gelu(x, 'tanh'), peer: (tf, x) => geluTanhTf(tf, x) },
  { name: 'sum last axis', ours: (x) => sum(x, -1), peer: (tf, x) => tf.sum(x, -1) },
  { name: 'sum first axis', ours: (x) => sum(x, 0), peer: (tf, x) => tf.sum(x, 0) },
  { name: 'softmax last axis', ours: (x) => softmax(x, -1), peer: (tf, x) => tf.softmax(x, -1) },
  { name: 'transpose', ours: (x) => transpose(x, 0, 1), peer: (tf, x) => tf.transpose(x) },
];

/** TF.js has no gelu op in tfjs-core; compose the tanh form the same way ropelab defines it. */
function geluTanhTf(tf: TfCore, x: TfTensor): TfTensor {
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

const HELP = `usage: npm run bench:ops

Times ropelab's elementwise ops, reductions, softmax and transpose against a copy loop and TF.js cpu and wasm.
Takes no flags but --help; needs the benchmark peers (npm run peers:install).`;

async function main(): Promise<void> {
  readFlags('bench:ops', HELP, {}, { values: {} });
  requirePeers('bench:ops');
  printEnvironment(`ops throughput on [${ROWS}, ${COLS}] (${N} elements); Melem/s, higher is better`);
  const src = new Float32Array(N).map((_, i) => Math.sin(i));
  const dst = new Float32Array(N);
  const copyLoopMs = await medianMs(() => {
    for (let i = 0; i < N; i++) dst[i] = src[i]!;
  }, REPS);
  const setMs = await medianMs(() => dst.set(src), REPS);
  console.log(`baseline: Float32Array copy loop ${fmt(copyLoopMs)} ms (${fmt(N / copyLoopMs / 1e3, 0)} Melem/s), TypedArray.set ${fmt(setMs)} ms\n`);

  const g = new Generator(0);
  const inputs = (dtype: DType): [Tensor, Tensor, Tensor] => [
    randn([ROWS, COLS], { dtype, generator: g }),
    randn([ROWS, COLS], { dtype, generator: g }),
    randn([COLS], { dtype, generator: g }),
  ];
  const f32 = inputs('float32');
  const f64 = inputs('float64');

  // ropelab first: starting TF.js's wasm backend slows typed-array code for the rest of the process (harness.ts).
  // Three untimed passes over every case first: a process's first large allocations fault in fresh pages (~15 µs
  // per 4 KiB on these machines) until the allocator has memory to reuse, and the first row timed would pay that.
  for (let pass = 0; pass < 3; pass++) for (const c of CASES) for (const t of [f32, f64]) c.ours(...t);
  const ours = new Map<string, [number, number]>();
  for (const c of CASES) ours.set(c.name, [await medianMs(() => c.ours(...f32), REPS), await medianMs(() => c.ours(...f64), REPS)]);

  const tf = await loadTf();
  const peerMs = new Map<string, number>();
  for (const backend of ['cpu', 'wasm'] as const) {
    if (!(await useBackend(tf, backend))) continue;
    const x = tf.tensor(f32[0].data, [ROWS, COLS]);
    const y = tf.tensor(f32[1].data, [ROWS, COLS]);
    const r = tf.tensor(f32[2].data, [COLS]);
    for (const c of CASES) {
      peerMs.set(`${backend}:${c.name}`, await medianMs(() => tf.tidy(() => c.peer(tf, x, y, r)).dataSync(), REPS));
    }
    tf.dispose([x, y, r]);
  }

  const rate = (ms: number): string => fmt(N / ms / 1e3, 0);
  const table = CASES.map((c) => {
    const [t32, t64] = ours.get(c.name)!;
    const cpu = peerMs.get(`cpu:${c.name}`) ?? NaN;
    const wasm = peerMs.get(`wasm:${c.name}`) ?? NaN;
    return [c.name, fmt(t32), rate(t32), fmt(copyLoopMs / t32), rate(t64), rate(cpu), rate(wasm), fmt(cpu / t32), fmt(wasm / t32)];
  });
  printTable(['op', 'f32 ms', 'f32 Melem/s', 'vs copy', 'f64 Melem/s', 'tfjs-cpu', 'tfjs-wasm', '× cpu', '× wasm'], table);
  console.log('vs copy = copy-loop time / op time (1.00 = as fast as copying); × cpu, × wasm = TF.js time / ropelab f32 time.');
}

await main();
