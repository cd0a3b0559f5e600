/**
 * bfloat16 emulation (AnchorAttention, Wang et al. 2025, §3): positional/bf16.ts `toBFloat16` — exact values,
 * ties to even, NaN/±∞, overflow at the top, subnormals, and a brute-force nearest-neighbour property on float32 bit
 * patterns — and applyRotary's `precision` option: shifting every position by t leaves ⟨R(m)q, R(n)k⟩ unchanged to
 * < 1e-9 in float64 (positions ≤ 2^20), while bf16 moves it by ≥ 1e-3 (fixed seed) and float32 sits in between.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, Tensor } from '../../core/index.js';
import { toBFloat16 } from '../../positional/bf16.js';
import { applyRotary, ropeInvFreq, rotaryAngles } from '../../positional/index.js';
import { fcParams } from '../helpers/fc.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** The float32 value with bit pattern u. */
const fromBits = (u: number): number => ((u32[0] = u >>> 0), f32[0]!);
/** The float32 bit pattern of x (x rounded to float32 first). */
const bitsOf = (x: number): number => ((f32[0] = x), u32[0]!);
const isNaNPattern = (u: number): boolean => (u & 0x7f800000) === 0x7f800000 && (u & 0x007fffff) !== 0;
const same = (a: number, b: number, label: string): void => assert.ok(Object.is(a, b), `${label}: got ${a}, expected ${b}`);

test('exact bf16 values (float32 patterns with the low 16 bits zero) are unchanged — all 65536 patterns', () => {
  for (let hi = 0; hi < 0x10000; hi++) {
    const u = (hi << 16) >>> 0;
    if (isNaNPattern(u)) continue;
    same(toBFloat16(fromBits(u)), fromBits(u), `pattern 0x${u.toString(16)}`);
  }
  same(toBFloat16(-0), -0, '-0');
  same(toBFloat16(1), 1, '1');
  same(toBFloat16(-2.5), -2.5, '-2.5');
});

test('ties (low half exactly 0x8000) round to the even bf16 neighbour — every high half', () => {
  // explicit cases: 1 + 2^-8 lies halfway between 1 (0x3f80, even) and 1 + 2^-7 (0x3f81, odd)
  same(toBFloat16(fromBits(0x3f808000)), 1, '1 + 2^-8 → 1');
  same(toBFloat16(fromBits(0x3f818000)), 1 + 2 ** -6, '1 + 3·2^-8 → 1 + 2^-6');
  same(toBFloat16(fromBits(0x3f808001)), 1 + 2 ** -7, 'just above the tie rounds up');
  same(toBFloat16(fromBits(0x3f807fff)), 1, 'just below the tie rounds down');
  same(toBFloat16(fromBits(0xbf808000)), -1, '−(1 + 2^-8) → −1');
  for (let hi = 0; hi < 0x10000; hi++) {
    const u = ((hi << 16) | 0x8000) >>> 0;
    if ((u & 0x7f800000) === 0x7f800000) continue; // NaN / ∞ patterns
    const expected = fromBits((((hi & 1) === 0 ? hi : hi + 1) << 16) >>> 0);
    same(toBFloat16(fromBits(u)), expected, `tie 0x${u.toString(16)}`);
  }
});

test('NaN stays NaN (payload only in the low bits too), ±∞ stay, ±0 keep their sign', () => {
  assert.ok(Number.isNaN(toBFloat16(NaN)));
  for (const u of [0x7fc00000, 0x7f800001, 0x7f80ffff, 0xff800001, 0xffffffff, 0x7fffffff]) {
    assert.ok(Number.isNaN(toBFloat16(fromBits(u))), `NaN pattern 0x${u.toString(16)} must not become ∞ or a number`);
  }
  same(toBFloat16(Infinity), Infinity, '+∞');
  same(toBFloat16(-Infinity), -Infinity, '−∞');
  same(toBFloat16(0), 0, '+0');
  same(toBFloat16(-0), -0, '−0');
});

test('overflow at the top: float32 values from the last tie upward round to ±∞, below it to the largest bf16', () => {
  const maxBf16 = fromBits(0x7f7f0000); // 3.3895313892515355e38
  same(toBFloat16(fromBits(0x7f7f7fff)), maxBf16, 'below the last tie');
  same(toBFloat16(fromBits(0x7f7f8000)), Infinity, 'the last tie (0x7f7f is odd) rounds up to ∞');
  same(toBFloat16(fromBits(0x7f7fffff)), Infinity, 'float32 max');
  same(toBFloat16(fromBits(0xff7fffff)), -Infinity, '−float32 max');
  same(toBFloat16(3.4e38), Infinity, '3.4e38');
  const t = toBFloat16(new Tensor(Float64Array.from([1e39, -1e39, 3.39e38]), [3]));
  assert.equal(Array.from(t.data), [Infinity, -Infinity, maxBf16], 'numbers beyond float32 overflow in the tensor path');
  same(toBFloat16(1e39), Infinity, 'and in the number path');
  same(toBFloat16(-1e39), -Infinity, '−1e39');
});

test('subnormals round on their bit pattern; values below float32 range flush to signed zero', () => {
  same(toBFloat16(fromBits(0x00000001)), 0, 'smallest float32 subnormal → 0');
  same(toBFloat16(fromBits(0x80000001)), -0, '−smallest → −0');
  same(toBFloat16(fromBits(0x00008000)), 0, 'tie at the bottom → 0 (even)');
  same(toBFloat16(fromBits(0x00018000)), fromBits(0x00020000), 'tie above an odd subnormal → up');
  same(toBFloat16(fromBits(0x00017fff)), fromBits(0x00010000), 'below a tie → down');
  same(toBFloat16(fromBits(0x00010000)), 2 ** -133, 'smallest bf16 subnormal 2^-133 is exact');
  same(toBFloat16(fromBits(0x007fffff)), 2 ** -126, 'largest float32 subnormal → smallest normal 2^-126');
  same(toBFloat16(1e-50), 0, '1e-50');
  same(toBFloat16(-1e-50), -0, '−1e-50');
});

/** Brute force: of the two bf16 neighbours of float32 pattern u (truncated, next up in magnitude), the nearer; ties → even. */
function nearestBf16(u: number): number {
  const lo = (u & 0xffff0000) >>> 0;
  const hi = (lo + 0x10000) >>> 0;
  const x = fromBits(u);
  const vLo = fromBits(lo);
  // the neighbour above the largest finite bf16 is where 2^128 would be: IEEE rounds to ∞ from halfway on
  const vHi = (hi & 0x7fffffff) === 0x7f800000 ? Math.sign(x) * 2 ** 128 : fromBits(hi);
  const dLo = Math.abs(x - vLo); // exact in float64: the neighbours share the exponent of x (or are 2^k apart)
  const dHi = Math.abs(vHi - x);
  const pick = dLo < dHi || (dLo === dHi && ((lo >>> 16) & 1) === 0) ? lo : hi;
  return fromBits(pick);
}

test('property: the result is a float32 whose low 16 bits are zero and it is the nearest one (ties to even)', () => {
  const finite = fc.integer({ min: 0, max: 0xffffffff }).filter((u) => (u & 0x7f800000) !== 0x7f800000);
  fc.assert(
    fc.property(finite, (u) => {
      const r = toBFloat16(fromBits(u));
      if (Number.isFinite(r)) assert.is(bitsOf(r) & 0xffff, 0, `low bits of 0x${bitsOf(r).toString(16)}`);
      same(r, nearestBf16(u), `0x${u.toString(16)}`);
    }),
    fcParams(5000),
  );
  // near the interesting places: around every power of two and the top of the range
  for (const base of [0x00000000, 0x00800000, 0x3f800000, 0x7f7f0000, 0x80800000]) {
    for (let low = 0; low < 0x20000; low += 0x1fff) {
      const u = (base + low) >>> 0;
      if ((u & 0x7f800000) !== 0x7f800000) same(toBFloat16(fromBits(u)), nearestBf16(u), `0x${u.toString(16)}`);
    }
  }
});

test('rounds on the float32 bit pattern (as an fp32 → bf16 cast): toBFloat16(x) = toBFloat16(fround(x)); tensors elementwise', () => {
  fc.assert(
    fc.property(fc.double({ noNaN: true, min: -3e38, max: 3e38 }), (x) => same(toBFloat16(x), toBFloat16(Math.fround(x)), `x=${x}`)),
    fcParams(2000),
  );
  // double rounding is part of the contract: 1 + 2^-8 + 2^-30 is nearer 1 + 2^-7, but its float32 value is the tie
  same(toBFloat16(1 + 2 ** -8 + 2 ** -30), 1, 'double rounding through float32');
  const g = new Generator(5);
  const x = new Tensor(Float64Array.from({ length: 24 }, () => g.normal() * 100), [2, 3, 4], true);
  const y = toBFloat16(x);
  assert.is(y.dtype, 'float32');
  assert.equal(y.shape, [2, 3, 4]);
  assert.is(y.requiresGrad, false);
  assert.equal(Array.from(y.data), Array.from(x.data, (v) => toBFloat16(v)));
});

/** ⟨R(m)q, R(n)k⟩ per pair of rows of q, k [N, 1, d] under one precision (dot in float64). */
function scores(q: Tensor, k: Tensor, m: number, n: number, invFreq: Float64Array, precision: 'float64' | 'float32' | 'bf16'): Float64Array {
  const rq = applyRotary(q, rotaryAngles([m], invFreq), { layout: 'half', precision });
  const rk = applyRotary(k, rotaryAngles([n], invFreq), { layout: 'half', precision });
  const d = q.shape[2]!;
  const out = new Float64Array(q.shape[0]!);
  for (let r = 0; r < out.length; r++) for (let c = 0; c < d; c++) out[r] = out[r]! + rq.data[r * d + c]! * rk.data[r * d + c]!;
  return out;
}

const gaussian = (g: Generator, N: number, d: number): Tensor => new Tensor(Float64Array.from({ length: N * d }, () => g.normal()), [N, 1, d]);

/** N random unit vectors in d dims, as [N, 1, d]. */
function unitRows(g: Generator, N: number, d: number): Tensor {
  const x = gaussian(g, N, d);
  for (let r = 0; r < N; r++) {
    const row = x.data.subarray(r * d, (r + 1) * d);
    const norm = Math.hypot(...row);
    for (let c = 0; c < d; c++) row[c] = row[c]! / norm;
  }
  return x;
}

test('float64: shifting all positions by t changes ⟨R(m)q, R(n)k⟩ by < 1e-9 (positions ≤ 2^20, d = 128, unit q, k)', () => {
  // Rounding m·θ_i (θ_0 = 1, m ≤ 2^20) costs ≤ 2^-33 rad per angle, so four angles bound the change by
  // ≈ 4.7e-10·‖q‖‖k‖; with unit vectors that is under the absolute 1e-9 asserted here (N(0,1) vectors in d = 128 reach ~1e-9 itself).
  const invFreq = ropeInvFreq(128);
  const P = 2 ** 20;
  fc.assert(
    fc.property(fc.integer({ min: 0, max: P }), fc.integer({ min: 0, max: P }), fc.integer({ min: 0, max: P }), fc.integer(), (m, n, t, seed) => {
      const g = new Generator(seed);
      const [q, k] = [unitRows(g, 4, 128), unitRows(g, 4, 128)];
      const shift = Math.min(t, P - Math.max(m, n));
      const a = scores(q, k, m, n, invFreq, 'float64');
      const b = scores(q, k, m + shift, n + shift, invFreq, 'float64');
      for (let r = 0; r < a.length; r++) assert.ok(Math.abs(a[r]! - b[r]!) < 1e-9, `m=${m} n=${n} t=${shift}: |Δ| = ${Math.abs(a[r]! - b[r]!)}`);
    }),
    fcParams(60),
  );
});

test('bf16 breaks the relative property: mean |change| ≥ 1e-3 for a fixed seed; float32 sits between float64 and bf16', () => {
  const invFreq = ropeInvFreq(128);
  const g = new Generator(2025);
  const N = 64;
  const [q, k] = [gaussian(g, N, 128), gaussian(g, N, 128)];
  const meanChange = (t: number, precision: 'float64' | 'float32' | 'bf16'): number => {
    const a = scores(q, k, 16, 0, invFreq, precision);
    const b = scores(q, k, 16 + t, t, invFreq, precision);
    return a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / N;
  };
  for (const t of [4096, 65536, 2 ** 20 - 16]) {
    const [c64, c32, cbf] = [meanChange(t, 'float64'), meanChange(t, 'float32'), meanChange(t, 'bf16')];
    assert.ok(c64 < 1e-9, `float64 t=${t}: ${c64}`);
    assert.ok(cbf >= 1e-3, `bf16 t=${t}: ${cbf} (bound 1e-3; ~3e-2 expected for logits of std ≈ 11)`);
    assert.ok(c32 > 1e-9 && c32 < cbf, `float32 t=${t}: ${c32} must lie in (float64 bound, bf16 ${cbf})`);
  }
  // the anchor's rotation at position 0 is exact in every format: R(0)x rounds only the input
  const x = gaussian(g, 3, 128);
  const atZero = applyRotary(x, rotaryAngles([0], invFreq), { layout: 'half', precision: 'bf16' });
  assert.equal(Array.from(atZero.data), Array.from(x.data, (v) => toBFloat16(v)));
  const atZero32 = applyRotary(x, rotaryAngles([0], invFreq), { layout: 'interleaved', precision: 'float32' });
  assert.equal(Array.from(atZero32.data), Array.from(x.data, (v) => Math.fround(v)));
});

test.run();
