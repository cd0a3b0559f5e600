/**
 * applyRotary throughput on x [1, 32, 4096, 128] (batch, heads, seq, head dim) with a shared angle table
 * [4096, 64], against copying that many float32 values in the same run: a plain JS loop (the bound for a scalar JS
 * kernel), TypedArray.set (native memcpy), and a naive hand-written rotate-half loop into a preallocated buffer.
 *
 *   node scripts/run.mjs scripts/bench/rope.ts [--reps N] [--one-heap]
 *
 * Three tables, each from a child process. Every forward and backward allocates a fresh output (64 MB in float32),
 * and glibc by default serves blocks that large with a fresh mmap, so each call first page-faults its output in; in
 * the 2-core dev VM that costs ~11 µs a page, ~185 ms per 64 MB, far more than the rotation (the "fresh Float32Array"
 * rows show it). The first table runs with glibc's defaults; the second with freed memory kept mapped (what
 * scripts/run.mjs sets for every npm script: MALLOC_MMAP_MAX_=0 and a high trim threshold), so that the rows time the
 * kernels; --one-heap prints only the second. The third, in the warm-heap child, times the rotation (half layout,
 * float32, on x [1, 8, 4096, 128]: PEER_SHAPE) forward and forward + backward against TF.js cpu and wasm (a worker
 * thread, its own isolate; see harness.ts), alternating: ropelab js, wasm and wasm×2 (two threads) — the same JS
 * rotation kernel under each, since
 * the wasm backend has none (measured not to pay: the copies in and out would take most of what SIMD saves) — and
 * TF.js written as one would (split, four products, concat; cos/sin [T, D/2] broadcast) and written for XNNPACK's
 * fast path ("tuned": cos/sin expanded to the full shape once, outside the timed calls, so no product broadcasts).
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
import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { Generator, Tensor, backendNames, getBackend, mul, randn, sum, type DType } from '../../core/index.js';
import { applyRotary, ropeInvFreq, rotaryAngles, type PairLayout } from '../../positional/rope.js';
import { integerFlag, readFlags } from '../lib/flags.js';
import {
  PeerWorker, fmt, loadTfUmbrella, median, missingPeers, relErr, onRopelab, pairedMediansMs, printEnvironment, printTable, ropelabVariants, servePeer, useBackend,
  type PeerBackend, type RopelabVariant,
} from './harness.js';
import { tfRope } from './tf-rope.js';
import type { TfTensor, TfUmbrella } from './tfjs-types.js';

const SHAPE: readonly number[] = [1, 32, 4096, 128];
/**
 * The shape of the TF.js comparison: 8 heads instead of 32 (16 MB a tensor). At SHAPE, TF.js wasm's forward + backward
 * aborts: its intermediates and gradients outgrow the memory of tfjs-backend-wasm.
 */
const PEER_SHAPE: readonly number[] = [1, 8, SHAPE[2]!, SHAPE[3]!];
const T = SHAPE[2]!;
const D = SHAPE[3]!;
const P = D / 2;
const N = SHAPE.reduce((a, b) => a * b, 1);
/** The environment variable that makes this script a child: 'default' (glibc's malloc settings) or 'kept'. */
const CHILD_ENV = 'ROPELAB_BENCH_HEAP';
const HELP = `usage: npm run bench:rope [-- --reps N] [-- --one-heap]

applyRotary throughput on x [1, 32, 4096, 128] against copy loops, with glibc's default malloc and with freed memory
kept mapped (one child process each), then against TF.js cpu and wasm (with the benchmark peers installed).

  --reps N     timed repetitions per row (default 7)
  --one-heap   only the freed-memory-kept tables (no default-malloc child)
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

/** The kernel table of one child: copy baselines and every applyRotary row. */
function kernelTable(warmHeap: boolean): void {
  console.log(warmHeap ? '── freed memory kept (MALLOC_MMAP_MAX_=0: freed buffers are reused) ──' : '── glibc default malloc (every 64 MB output is a fresh mmap) ──');
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

// ───────────────────────────── against TF.js ─────────────────────────────

/** workerData.role of the worker thread that runs TF.js. */
const TF_WORKER = 'tfjs-rope';

/** What the main thread asks of the TF.js worker (one reply each, in order). */
type TfRequest =
  | { kind: 'backend'; backend: PeerBackend }
  /** New tensors: x [..., T, D], R (x's shape, the loss weights), cos and sin [T, D/2]; `tuned` expands cos/sin to a half's shape. */
  | { kind: 'data'; shape: number[]; x: Float32Array; r: Float32Array; cos: Float32Array; sin: Float32Array; tuned: boolean }
  /** The rotation of x, read back (and returned when `values`; timed calls leave it in the worker). */
  | { kind: 'forward'; values: boolean }
  /** ∂/∂x of Σ rotation(x) ⊙ R, read back with the loss (and returned when `values`). */
  | { kind: 'forwardBackward'; values: boolean }
  | { kind: 'version' }
  /** Whether the wasm backend has SIMD and threads (known once it has started). */
  | { kind: 'wasmFlags' };

/** Worker side: TF.js (the umbrella, for gradients) serving TfRequests on the data last sent. */
async function serveTfRope(port: MessagePort): Promise<void> {
  const tf: TfUmbrella = await loadTfUmbrella();
  let data: { x: TfTensor; r: TfTensor; cos: TfTensor; sin: TfTensor } | null = null;
  const current = (): NonNullable<typeof data> => {
    if (data === null) throw new Error('no data sent yet');
    return data;
  };
  const loss = (x: TfTensor): TfTensor => tf.sum(tf.mul(tfRope(tf, x, current().cos, current().sin), current().r));
  servePeer<TfRequest>(port, async (req) => {
    switch (req.kind) {
      case 'backend':
        return tf.getBackend() === req.backend || (await useBackend(tf, req.backend));
      case 'data': {
        if (data !== null) tf.dispose([data.x, data.r, data.cos, data.sin]);
        const half = [...req.shape.slice(0, -1), req.shape.at(-1)! / 2];
        const table = (values: Float32Array): TfTensor => {
          const t = tf.tensor(values, [req.shape.at(-2)!, req.shape.at(-1)! / 2]);
          if (!req.tuned) return t;
          const full = tf.tidy(() => tf.mul(tf.ones(half), t));
          t.dispose();
          return full;
        };
        data = { x: tf.tensor(req.x, req.shape), r: tf.tensor(req.r, req.shape), cos: table(req.cos), sin: table(req.sin) };
        return null;
      }
      case 'forward': {
        const out = tf.tidy(() => tfRope(tf, current().x, current().cos, current().sin)); // its intermediates freed, as a TF.js user writes it
        const values = await out.data();
        out.dispose();
        return req.values ? values : null;
      }
      case 'forwardBackward': {
        const { value, grads } = tf.valueAndGrads(loss)([current().x]);
        const g = await grads[0]!.data();
        await value.data();
        tf.dispose([value, ...grads]);
        return req.values ? g : null;
      }
      case 'version':
        return `TF.js ${tf.version.tfjs}`;
      case 'wasmFlags':
        return `wasm SIMD ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT')}, threads ${tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT')}`;
    }
  });
}

/** The TF.js contenders: backend, and whether cos/sin are expanded for XNNPACK's fast path. */
const PEERS: readonly { backend: PeerBackend; tuned: boolean; label: string }[] = [
  { backend: 'cpu', tuned: false, label: 'tfjs-cpu' },
  { backend: 'wasm', tuned: false, label: 'tfjs-wasm' },
  { backend: 'wasm', tuned: true, label: 'tfjs-wasm tuned' },
];

/** The same math (and its gradient) on ropelab and TF.js before any timing: within float32 rounding. */
const CHECK_RTOL = 1e-5;

/**
 * ropelab's applyRotary (half, float32) against TF.js cpu and wasm, forward and forward + backward of
 * Σ rotation(x) ⊙ R, alternating round by round (pairedMediansMs); TF.js reads back its result in every call.
 */
async function peerTable(): Promise<void> {
  const missing = missingPeers();
  if (missing.length > 0) {
    console.log(`── against TF.js: skipped, the benchmark peers are not installed (${missing.join(', ')}; npm run peers:install) ──`);
    return;
  }
  const worker = await PeerWorker.start<TfRequest>(new URL(import.meta.url), TF_WORKER);
  try {
    console.log(`── against TF.js (${await worker.call<string>({ kind: 'version' })}; in a worker thread), freed memory kept ──`);
    const variants = ropelabVariants();
    const g = new Generator(3);
    const problem = (shape: readonly number[]): { x: Tensor; r: Tensor; angles: Tensor; cos: Float32Array; sin: Float32Array } => {
      const [t, d] = shape.slice(-2) as [number, number];
      const angles = rotaryAngles(Float64Array.from({ length: t }, (_, i) => i), ropeInvFreq(d));
      return {
        x: randn([...shape], { generator: g }), r: randn([...shape], { generator: g }), angles,
        cos: Float32Array.from(angles.data, Math.cos), sin: Float32Array.from(angles.data, Math.sin),
      };
    };
    const forward = (p: ReturnType<typeof problem>): Tensor => applyRotary(p.x, p.angles, { layout: 'half' });
    const gradient = (p: ReturnType<typeof problem>): Tensor => {
      const x = new Tensor(p.x.data, p.x.shape, true);
      sum(mul(applyRotary(x, p.angles, { layout: 'half' }), p.r)).backward();
      return x.grad!;
    };
    const send = (p: ReturnType<typeof problem>, tuned: boolean): Promise<unknown> => worker.call({
      kind: 'data', shape: [...p.x.shape], x: p.x.data as Float32Array, r: p.r.data as Float32Array, cos: p.cos, sin: p.sin, tuned,
    });

    // the check: a small case, every peer against ropelab js
    const small = problem([1, 3, 24, 16]);
    const want = { out: forward(small).data, grad: gradient(small).data };
    const checks: string[] = [];
    const usable: (typeof PEERS)[number][] = [];
    for (const peer of PEERS) {
      if (!(await worker.call<boolean>({ kind: 'backend', backend: peer.backend }))) {
        checks.push(`${peer.label} unavailable`);
        continue;
      }
      await send(small, peer.tuned);
      const errOut = relErr(await worker.call<Float32Array>({ kind: 'forward', values: true }), want.out);
      const errGrad = relErr(await worker.call<Float32Array>({ kind: 'forwardBackward', values: true }), want.grad);
      const ok = errOut <= CHECK_RTOL && errGrad <= CHECK_RTOL;
      checks.push(`${peer.label} out ${errOut.toExponential(1)} ∂x ${errGrad.toExponential(1)}${ok ? '' : ' MISMATCH'}`);
      if (ok) usable.push(peer);
      else process.exitCode = 1;
    }
    console.log(`check vs ropelab (rel. err, tol ${CHECK_RTOL}): ${checks.join('; ')}`);
    if (usable.some((p) => p.backend === 'wasm')) console.log(`TF.js ${await worker.call<string>({ kind: 'wasmFlags' })} (one thread in Node)`);

    const big = problem(PEER_SHAPE);
    const reps = Math.min(REPS, 5);
    const cases = [
      { label: 'forward', ours: () => forward(big), theirs: { kind: 'forward', values: false } as const },
      { label: 'forward + backward', ours: () => gradient(big), theirs: { kind: 'forwardBackward', values: false } as const },
    ];
    const rows: string[][] = [];
    const speedRows: string[][] = [];
    for (const c of cases) {
      const ours = new Map<RopelabVariant, number[]>(variants.map((v) => [v, []]));
      const peerMs: number[] = [];
      const speed: string[][] = variants.map(() => []);
      for (const peer of usable) {
        await worker.call({ kind: 'backend', backend: peer.backend });
        await send(big, peer.tuned);
        const ms = await pairedMediansMs([...variants.map((v) => () => onRopelab(v, c.ours)), () => worker.call(c.theirs)], reps, 1);
        const peerTime = ms.at(-1)!;
        peerMs.push(peerTime);
        variants.forEach((v, i) => {
          ours.get(v)!.push(ms[i]!);
          speed[i]!.push(fmt(peerTime / ms[i]!));
        });
      }
      const over = (xs: number[]): number => (xs.length > 0 ? median(xs) : NaN); // no usable peer: no pairing
      rows.push([c.label, ...variants.map((v) => fmt(over(ours.get(v)!))), ...PEERS.map((p) => fmt(peerMs[usable.indexOf(p)] ?? NaN))]);
      variants.forEach((v, i) => speedRows.push([c.label, v, ...PEERS.map((p) => (usable.includes(p) ? speed[i]![usable.indexOf(p)]! : 'n/a'))]));
    }
    console.log(`x [${PEER_SHAPE.join(', ')}] float32, half layout; ropelab's angles table cached (as for k after q), TF.js's cos/sin made before timing`);
    printTable(['case', ...variants.map((v) => `ropelab ${v} ms`), ...PEERS.map((p) => `${p.label} ms`)], rows);
    printTable(['case', 'ropelab', ...PEERS.map((p) => `× ${p.label}`)], speedRows);
    console.log(
      `Each time is a median over ${reps} rounds in which every ropelab variant and one peer alternate; a ropelab column is the median over its\n` +
      'pairings, a speedup = peer ms / ropelab ms from the same rounds (> 1: ropelab faster). js, wasm and wasm×2 run the same JS rotation kernel:\n' +
      'their differences are noise (js runs first in each round, after the peer, and tends to pay for collecting the round before).\n',
    );
  } finally {
    await worker.stop();
  }
}

const role = process.env[CHILD_ENV];
if (!isMainThread && (workerData as { role?: string } | null)?.role === TF_WORKER) await serveTfRope(parentPort!);
else if (role === 'default' || role === 'kept') {
  kernelTable(role === 'kept');
  if (role === 'kept') await peerTable();
} else {
  printEnvironment(`applyRotary on x [${SHAPE.join(', ')}] (${N} elements), angles [${T}, ${P}]; median of ${REPS} reps`);
  console.log(`ropelab backend: ${getBackend()} (available: ${backendNames().join(', ')}; the rotation runs on JS under every backend)\n`);
  const { GLIBC_TUNABLES: _tunables, MALLOC_MMAP_MAX_: _mmapMax, MALLOC_TRIM_THRESHOLD_: _trim, ...glibcDefault } = process.env;
  const children = [
    ...(FLAGS.oneHeap ? [] : [{ ...glibcDefault, [CHILD_ENV]: 'default' }]),
    { ...process.env, [CHILD_ENV]: 'kept', MALLOC_MMAP_MAX_: '0', MALLOC_TRIM_THRESHOLD_: String(2 ** 34) },
  ];
  for (const env of children) {
    const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], { stdio: 'inherit', env });
    if (child.status !== 0) process.exitCode = child.status ?? 1;
  }
}
