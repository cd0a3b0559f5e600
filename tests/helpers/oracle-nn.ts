/**
 * Naive references for the normalisation ops and the nn layers, written from the textbook formulas (two passes
 * per row, explicit loops), independently of core/ops/norm.ts and core/kernels.
 */

/** Number of rows (of length D) in a flat buffer of `size` values. */
function rowsOf(size: number, D: number): number {
  return D === 0 ? 0 : size / D;
}

/**
 * LayerNorm over the last axis, two passes: μ = Σx/D, then σ² = Σ(x − μ)²/D (biased), y = (x − μ)/√(σ² + ε)·w + b.
 * `weight`/`bias` null mean 1 and 0.
 */
export function naiveLayerNorm(
  x: ArrayLike<number>,
  D: number,
  weight: ArrayLike<number> | null,
  bias: ArrayLike<number> | null,
  eps: number,
): number[] {
  const out: number[] = [];
  for (let r = 0; r < rowsOf(x.length, D); r++) {
    const row = Array.from({ length: D }, (_, j) => x[r * D + j]!);
    let mu = 0;
    for (const v of row) mu += v;
    mu /= D;
    let s2 = 0;
    for (const v of row) s2 += (v - mu) * (v - mu);
    const sd = Math.sqrt(s2 / D + eps);
    row.forEach((v, j) => out.push(((v - mu) / sd) * (weight ? weight[j]! : 1) + (bias ? bias[j]! : 0)));
  }
  return out;
}

/** RMSNorm over the last axis: y = x/√(Σx²/D + ε)·w (`weight` null means 1). */
export function naiveRmsNorm(x: ArrayLike<number>, D: number, weight: ArrayLike<number> | null, eps: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rowsOf(x.length, D); r++) {
    let ms = 0;
    for (let j = 0; j < D; j++) ms += x[r * D + j]! * x[r * D + j]!;
    const rms = Math.sqrt(ms / D + eps);
    for (let j = 0; j < D; j++) out.push((x[r * D + j]! / rms) * (weight ? weight[j]! : 1));
  }
  return out;
}

/** Per-row biased variance (two passes), for filtering inputs whose rows are nearly constant. */
export function rowVariances(x: ArrayLike<number>, D: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rowsOf(x.length, D); r++) {
    let mu = 0;
    for (let j = 0; j < D; j++) mu += x[r * D + j]!;
    mu /= D;
    let s2 = 0;
    for (let j = 0; j < D; j++) s2 += (x[r * D + j]! - mu) ** 2;
    out.push(s2 / D);
  }
  return out;
}

/** Per-row mean square Σx²/D. */
export function rowMeanSquares(x: ArrayLike<number>, D: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rowsOf(x.length, D); r++) {
    let ms = 0;
    for (let j = 0; j < D; j++) ms += x[r * D + j]! ** 2;
    out.push(ms / D);
  }
  return out;
}

/**
 * y[r, o] = Σ_i x[r, i]·W[o, i] + b[o] for x [rows, in], W [out, in] (PyTorch's layout), b [out] or null.
 * Also returns Σ|terms| per output, the scale of float32 rounding error.
 */
export function naiveLinear(
  x: ArrayLike<number>,
  W: ArrayLike<number>,
  b: ArrayLike<number> | null,
  inF: number,
  outF: number,
): { data: number[]; scale: number[] } {
  const data: number[] = [];
  const scale: number[] = [];
  for (let r = 0; r < rowsOf(x.length, inF); r++) {
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o]! : 0;
      let a = Math.abs(s);
      for (let i = 0; i < inF; i++) {
        s += x[r * inF + i]! * W[o * inF + i]!;
        a += Math.abs(x[r * inF + i]! * W[o * inF + i]!);
      }
      data.push(s);
      scale.push(a);
    }
  }
  return { data, scale };
}

/** GELU, tanh form: ½x(1 + tanh(√(2/π)(x + 0.044715x³))). */
export function naiveGeluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

/** SiLU: x·σ(x) = x/(1 + e^(−x)). */
export function naiveSilu(x: number): number {
  return x / (1 + Math.exp(-x));
}
