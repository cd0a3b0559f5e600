/**
 * exp on f32x4 lanes, emitted into a function body: the one exp of the wasm kernels (softmax, sigmoid, GELU).
 * Cody–Waite reduction x = n·ln 2 + r with |r| ≤ ln 2 / 2 (n = round(x·log₂e), ln 2 split so n·LN2_HI is exact),
 * e^r by its degree-7 Taylor polynomial (first omitted term < 6e-9 relative), then 2ⁿ applied in two halves so that
 * subnormal results (x down to −104) and overflow to +∞ (x above 88.7) come out as float32's own exp would:
 * within a few ulp of Math.exp rounded to float32 (tests/core/wasm-unary.test.ts). NaN stays NaN.
 */
import { type FunctionWriter, V128 } from './writer.js';

const LN2_HI = 0.693359375;
const LN2_LO = -2.12194440e-4;
/** Clamp bounds: below −104, e^x rounds to 0 in float32; above 89 it overflows (n = 128 keeps it +∞). */
const EXP_MIN = -104;
const EXP_MAX = 89;
/** 1/k!, k = 7 … 2, for Horner's rule; the k = 1 and k = 0 steps add 1 twice. */
const COEFFS = [1 / 5040, 1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2];

/** Sixteen bytes of four little-endian float32 or int32 lanes. */
export function lanes(values: readonly number[], kind: 'f32' | 'i32'): number[] {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  values.forEach((x, i) => (kind === 'f32' ? view.setFloat32(4 * i, x, true) : view.setInt32(4 * i, x, true)));
  return Array.from(bytes);
}
export const splat4 = (x: number): number[] => lanes([x, x, x, x], 'f32');
const int4 = (x: number): number[] => lanes([x, x, x, x], 'i32');

/** The v128 scratch locals the emitted exp needs; declare once per function. */
export interface ExpScratch {
  n: number;
  p: number;
  half: number;
}

export function expScratch(f: FunctionWriter): ExpScratch {
  return { n: f.local(V128), p: f.local(V128), half: f.local(V128) };
}

/** Emits local x ← exp(local x), lane-wise. */
export function emitExp(f: FunctionWriter, x: number, s: ExpScratch): void {
  f.localGet(x).v128Const(splat4(EXP_MIN)).f32x4Max().v128Const(splat4(EXP_MAX)).f32x4Min().localSet(x);
  f.localGet(x).v128Const(splat4(Math.LOG2E)).f32x4Mul().f32x4Nearest().localSet(s.n);
  f.localGet(x).localGet(s.n).v128Const(splat4(LN2_HI)).f32x4Mul().f32x4Sub();
  f.localGet(s.n).v128Const(splat4(LN2_LO)).f32x4Mul().f32x4Sub().localSet(x); // x ← r
  f.v128Const(splat4(COEFFS[0]!)).localSet(s.p);
  for (const c of COEFFS.slice(1)) f.localGet(s.p).localGet(x).f32x4Mul().v128Const(splat4(c)).f32x4Add().localSet(s.p);
  for (let k = 0; k < 2; k++) f.localGet(s.p).localGet(x).f32x4Mul().v128Const(splat4(1)).f32x4Add().localSet(s.p);
  // 2ⁿ = 2^(n >> 1) · 2^(n − (n >> 1)), each factor a normal float32 built as (k + 127) << 23
  f.localGet(s.n).i32x4TruncSatF32x4S().localTee(s.n).i32Const(1).i32x4ShrS().localSet(s.half);
  f.localGet(s.p);
  f.localGet(s.half).v128Const(int4(127)).i32x4Add().i32Const(23).i32x4Shl().f32x4Mul();
  f.localGet(s.n).localGet(s.half).i32x4Sub().v128Const(int4(127)).i32x4Add().i32Const(23).i32x4Shl().f32x4Mul();
  f.localSet(x);
}
