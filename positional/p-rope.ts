/**
 * p-RoPE ("Round and Round We Go! What makes Rotary Positional Encodings useful?", Barbero et al., ICLR 2025):
 * keep the highest-frequency fraction p of RoPE's pairs with their original frequencies and turn the rest into
 * NoPE channels (frequency 0, so their rotation is the identity). 1-RoPE is RoPE, 0-RoPE is NoPE. The table is
 * HF's "proportional" RoPE (`_compute_proportional_rope_parameters` in transformers' modeling_rope_utils.py),
 * and the rotation is rope.ts's `applyRotary`, through `RoPE`.
 */
import { expectNumber, expectOptions } from '../core/index.js';
import { checkBase, checkLayout, checkRotaryDim, checkScale } from './checks.js';
import { RoPE, type PairLayout } from './rope.js';

/** Options of `pRopeInvFreq`: `base` and `factor`, p-RoPE's fraction of rotating pairs. */
export interface PRoPEInvFreqOptions {
  /** RoPE base θ; default 10000. */
  base?: number;
  /** Every frequency is divided by it afterwards (HF's `factor`, i.e. linear interpolation); default 1. */
  factor?: number;
}

/**
 * θ_i = base^(−2i/h) for i < k = ⌊p·h/2⌋, θ_i = 0 for k ≤ i < h/2, all divided by factor (Barbero et al. 2025 §5;
 * HF proportional RoPE). The exponent keeps the full head dim h (unlike partial rotary, which recompresses the
 * ladder over fewer channels), and the table always has h/2 entries. k is computed as HF's
 * `int(p * h // 2)` = ⌊(p·h)/2⌋. Values are float64 and, for the kept pairs, bit-identical to `ropeInvFreq(h, base)`.
 */
export function pRopeInvFreq(headDim: number, p: number, options: PRoPEInvFreqOptions = {}): Float64Array {
  return pRopeTable('pRopeInvFreq', headDim, p, options);
}

/** pRopeInvFreq with `op` naming the public entry in errors. */
function pRopeTable(op: string, headDim: number, p: number, options: PRoPEInvFreqOptions & { layout?: PairLayout }): Float64Array {
  const o = expectOptions(op, 'options', options, ['base', 'factor', 'layout']);
  checkRotaryDim(op, 'headDim', headDim);
  expectNumber(op, 'p', p, { min: 0, max: 1 });
  const base = o.base === undefined ? 10000 : checkBase(op, 'base', o.base);
  const factor = o.factor === undefined ? 1 : checkScale(op, 'factor', o.factor);
  const kept = Math.floor((p * headDim) / 2);
  const out = new Float64Array(headDim / 2); // the dropped tail stays 0
  // same expression as ropeInvFreq, so p = 1 reproduces RoPE bit for bit; x / 1 is exact
  for (let i = 0; i < kept; i++) out[i] = 1 / Math.pow(base, (2 * i) / headDim) / factor;
  return out;
}

/** Options of `PRoPE`: those of `pRopeInvFreq` it extends, plus `layout`, the pair layout. */
export interface PRoPEOptions extends PRoPEInvFreqOptions {
  layout?: PairLayout;
}

/**
 * RoPE with the p-RoPE table: rotates q and k by the kept frequencies; the dropped pairs carry no position.
 * With the 'half' layout the dropped pairs are channels (i, i + h/2) for i ≥ k (as in HF); with 'interleaved',
 * channels (2i, 2i + 1).
 */
export class PRoPE extends RoPE {
  override readonly name: string;
  /** Number of pairs that still rotate (⌊p·h/2⌋). */
  readonly keptPairs: number;

  constructor(headDim: number, readonly p: number, options: PRoPEOptions = {}) {
    const invFreq = pRopeTable('PRoPE', headDim, p, options);
    super(headDim, { invFreq, layout: checkLayout('PRoPE', options?.layout) });
    this.keptPairs = Math.floor((p * headDim) / 2);
    this.name = `p-rope-${p}`;
  }

  protected override opName(): string {
    return 'PRoPE';
  }
}
