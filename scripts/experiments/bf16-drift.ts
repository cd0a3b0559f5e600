/**
 * bf16 drift of RoPE logits with absolute position, with and without AnchorAttention's anchor (Wang et al.,
 * "When Precision Meets Position: BFloat16 Breaks Down RoPE in Long-Context Training", TMLR 2025, §3–4).
 *
 * In exact arithmetic ⟨R(m)q, R(n)k⟩ = qᵀR(n − m)k (RoFormer eq. 16) depends only on the distance. A bf16 kernel
 * rounds the fp32 angle's cos and sin, the inputs, every product and every sum to 8 significant bits, so the logit at
 * a fixed distance Δ moves with the absolute offset m0 of the pair — and the token that matters most is a document's
 * first token, the attention sink, which takes a large share of every query's attention.
 *
 * Design. For each random N(0, 1) pair (q, k) in d = 128 (k plays the document's first token / sink key, q a query
 * Δ tokens later) and each offset m0 at which the document starts in the packed window:
 * - without anchor: the sink sits at absolute position m0, the query at m0 + Δ. Drift = |score_p(q@m0+Δ, k@m0) −
 *   exact(q@Δ, k@0)|: the same distance should give the same logit wherever the document starts.
 * - with anchor: the sink is the shared anchor, always at position 0, whose rotation is exact in every format
 *   (cos 0 = 1, sin 0 = 0, so only the rounding of k itself remains); the query keeps its global position m0 + Δ.
 *   Error = |score_p(q@m0+Δ, k@0) − exact(q@m0+Δ, k@0)|: only the query's rotation contributes rounding.
 * score_p rotates both vectors with `applyRotary(…, { precision: p })` (half layout) and takes the dot product in
 * float64 (an fp32-accumulating matmul would add little). exact is qᵀR(n − m)k with the relative angle carried in
 * double-double, so even the float64 columns measure a real error (from rounding m·θ). The logit is the plain dot
 * product (no 1/√d), whose standard deviation is √d ≈ 11. At m0 = 0 the two constructions coincide.
 *
 * Usage: node scripts/run.mjs scripts/experiments/bf16-drift.ts [--offsets 0,64,…] [--pairs 200] [--delta 16]
 *        [--dim 128] [--base 10000] [--seed 0]. Prints a table and writes out/bf16-drift.svg.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Generator, Tensor } from '../../core/index.js';
import { applyRotary, ropeInvFreq, rotaryAngles, type RotaryPrecision } from '../../positional/rope.js';
import { FlagError, integerFlag, integerListFlag, numberFlag, readFlags } from '../lib/flags.js';
import { lineChart } from '../lib/svg.js';

interface Flags {
  offsets: number[];
  pairs: number;
  delta: number;
  dim: number;
  base: number;
  seed: number;
}

const HELP = `usage: node scripts/run.mjs scripts/experiments/bf16-drift.ts [flags]

Mean |logit drift| of RoPE at a fixed distance as the document's absolute offset grows, for float64, float32 and
bf16 rotation arithmetic, with and without AnchorAttention's anchor. Prints a table, writes out/bf16-drift.svg.

  --offsets a,b,…  absolute offsets m0 (default 0,64,256,1024,4096,16384,65536)
  --pairs N        random N(0,1) q/k pairs (default 200)
  --delta D        query–key distance Δ (default 16)
  --dim d          head dim, all rotated (default 128)
  --base b         RoPE base (default 10000)
  --seed S         seed of the pairs (default 0)
  --help           this text`;

function readCommandLine(): Flags {
  const defaults: Flags = { offsets: [0, 64, 256, 1024, 4096, 16384, 65536], pairs: 200, delta: 16, dim: 128, base: 10000, seed: 0 };
  return readFlags<Flags>('bf16-drift', HELP, defaults, {
    values: {
      offsets: (f, v) => (f.offsets = integerListFlag(v, 0)),
      pairs: (f, v) => (f.pairs = integerFlag(v, 1)),
      delta: (f, v) => (f.delta = numberFlag(v, { atLeast: 0 })),
      dim: (f, v) => (f.dim = integerFlag(v, 2)),
      base: (f, v) => (f.base = numberFlag(v, { above: 1 })),
      seed: (f, v) => (f.seed = integerFlag(v, 0)),
    },
    check: (f) => {
      if (f.dim % 2 !== 0) throw new FlagError(`bf16-drift: --dim must be even, got '${f.dim}'`);
    },
  });
}

const PRECISIONS: readonly RotaryPrecision[] = ['float64', 'float32', 'bf16'];

/** Row-wise dot products of two [N, 1, d] tensors. */
function rowDots(a: Tensor, b: Tensor, d: number): Float64Array {
  const n = a.size / d;
  const out = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let c = 0; c < d; c++) s += a.data[r * d + c]! * b.data[r * d + c]!;
    out[r] = s;
  }
  return out;
}

function meanAbsDiff(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

/**
 * The true logit ⟨R(m)q, R(n)k⟩ = qᵀR(n − m)k (RoFormer eq. 16) for the half layout, per row of [N, 1, d] q and k:
 * Σ_i cos φ_i (q_a k_a + q_b k_b) + sin φ_i (q_b k_a − q_a k_b), φ_i = (n − m)θ_i. The angle is carried exactly as
 * A + B (θ split into 26 + 27 bits, Veltkamp), exact for |n − m| < 2^26, so the result is good to a few ulps of the
 * terms — a reference for float64 too, whose own error comes from rounding m·θ.
 */
function exactScores(q: Tensor, k: Tensor, m: number, n: number, invFreq: Float64Array): Float64Array {
  const P = invFreq.length;
  const d = 2 * P;
  const rows = q.size / d;
  const t = n - m;
  const cos = new Float64Array(P);
  const sin = new Float64Array(P);
  for (let i = 0; i < P; i++) {
    const c = 134217729 * invFreq[i]!; // 2^27 + 1
    const hi = c - (c - invFreq[i]!);
    const A = t * hi; // exact: 26 + 26 bits
    const B = t * (invFreq[i]! - hi); // exact: 27 + 26 bits
    cos[i] = Math.cos(A) * Math.cos(B) - Math.sin(A) * Math.sin(B);
    sin[i] = Math.sin(A) * Math.cos(B) + Math.cos(A) * Math.sin(B);
  }
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let s = 0;
    for (let i = 0; i < P; i++) {
      const qa = q.data[o + i]!;
      const qb = q.data[o + i + P]!;
      const ka = k.data[o + i]!;
      const kb = k.data[o + i + P]!;
      s += cos[i]! * (qa * ka + qb * kb) + sin[i]! * (qb * ka - qa * kb);
    }
    out[r] = s;
  }
  return out;
}

function main(): void {
  const flags = readCommandLine();
  const { pairs: N, dim: d, delta, base } = flags;
  const g = new Generator(flags.seed);
  const draw = (): Tensor => new Tensor(Float64Array.from({ length: N * d }, () => g.normal()), [N, 1, d]);
  const q = draw();
  const k = draw();
  const invFreq = ropeInvFreq(d, base);
  /** q and k rotated to one position each, with one angle row shared by all N pairs. */
  const rotate = (x: Tensor, position: number, precision: RotaryPrecision): Tensor =>
    applyRotary(x, rotaryAngles([position], invFreq), { layout: 'half', precision });
  const score = (mq: number, nk: number, precision: RotaryPrecision): Float64Array => rowDots(rotate(q, mq, precision), rotate(k, nk, precision), d);

  const exactAtDelta = exactScores(q, k, delta, 0, invFreq); // = exact(q@m0+Δ, k@m0) for every m0
  const columns = PRECISIONS.flatMap((p) => [`${p}`, `${p}+anchor`]);
  const table: number[][] = []; // [offset][column]
  for (const m0 of flags.offsets) {
    const row: number[] = [];
    const exactToAnchor = exactScores(q, k, m0 + delta, 0, invFreq);
    for (const p of PRECISIONS) {
      row.push(meanAbsDiff(score(m0 + delta, m0, p), exactAtDelta)); // document starts at m0, no anchor
      row.push(meanAbsDiff(score(m0 + delta, 0, p), exactToAnchor)); // sink = anchor at position 0
    }
    table.push(row);
  }

  let logitStd = 0;
  for (const s of exactAtDelta) logitStd += s * s;
  logitStd = Math.sqrt(logitStd / N);
  console.log(`RoPE logit drift: d=${d}, base=${base}, Δ=${delta}, ${N} N(0,1) pairs (seed ${flags.seed}), half layout; logit rms ${logitStd.toFixed(2)}`);
  console.log('mean |score_p(q@m0+Δ, k@m0) − exact(q@Δ, k@0)| (no anchor) and |score_p(q@m0+Δ, k@0) − exact(q@m0+Δ, k@0)| (+anchor)\n');
  const w = 14;
  console.log(`${'m0'.padStart(7)} │ ${columns.map((c) => c.padStart(w)).join(' │ ')}`);
  console.log(`${'─'.repeat(7)}─┼─${columns.map(() => '─'.repeat(w)).join('─┼─')}`);
  flags.offsets.forEach((m0, i) => console.log(`${String(m0).padStart(7)} │ ${table[i]!.map((v) => v.toExponential(3).padStart(w)).join(' │ ')}`));

  mkdirSync('out', { recursive: true });
  writeFileSync(
    'out/bf16-drift.svg',
    lineChart({
      title: `RoPE logit drift at distance ${delta} vs absolute position (d=${d}, ${N} pairs)`,
      xLabel: 'query position m0 + Δ (log)',
      yLabel: 'mean |logit − exact| (log)',
      logX: true,
      logY: true,
      series: columns.map((name, c) => ({ name, points: flags.offsets.map((m0, i) => [m0 + delta, table[i]![c]!] as [number, number]) })),
    }),
  );
  console.log('\nwrote out/bf16-drift.svg');
}

main();
