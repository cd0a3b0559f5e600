/**
 * bfloat16 emulation: round a value to the nearest bf16 (8 significant bits), ties to even, on its float32 bit
 * pattern — what a bf16 kernel stores. Used to measure how low precision breaks RoPE's relative property
 * (AnchorAttention, Wang et al. 2025, §3).
 */
import { DTypeError, Tensor, describeValue } from '../core/index.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The bf16 value nearest to x (round-to-nearest-even on the float32 bits), returned as a number. */
export function toBFloat16(x: number): number;
/** Every element rounded to bf16, as a new float32 tensor (no gradient). */
export function toBFloat16(x: Tensor): Tensor;
export function toBFloat16(x: number | Tensor): number | Tensor {
  if (x instanceof Tensor) {
    const out = new Float32Array(x.size);
    for (let i = 0; i < out.length; i++) out[i] = bf16(x.data[i]!);
    return new Tensor(out, x.shape);
  }
  if (typeof x !== 'number') throw new DTypeError('toBFloat16', `x must be a number or a Tensor, got ${describeValue(x)}`, 'x');
  return bf16(x);
}

function bf16(x: number): number {
  f32[0] = x;
  const u = u32[0]!;
  if ((u & 0x7f800000) === 0x7f800000) return (u & 0x007fffff) !== 0 ? NaN : f32[0]!; // NaN stays NaN; ±∞ (incl. float32 overflow) stays ±∞
  u32[0] = ((u + 0x7fff + ((u >>> 16) & 1)) >>> 0) & 0xffff0000; // add half an ulp (plus 1 on odd ties), truncate
  return f32[0]!;
}
