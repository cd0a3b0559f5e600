/**
 * positional/rope.ts: the one rotation op `applyRotary` (both pair layouts, partial rotary, attention factor,
 * broadcast angle tables, gradients for x and the angles), `rotaryAngles`, `ropeInvFreq` (the angle cache is tested
 * in angle-cache.test.ts). Checked against the algebra of rotations (RoFormer §3), a worked example computed by hand
 * from RoFormer eq. 13–15, and HF Llama / DeepSeek-V2 outputs (tests/fixtures/rope_apply.json). Everything is float64
 * unless a test says otherwise.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, ShapeError, Tensor, ValueError, gradcheck, matmul, randn } from '../../core/index.js';
import { RoPE, applyRotary, ropeInvFreq, rotaryAngles, type PairLayout } from '../../positional/rope.js';
import { assertProperty, checkLayoutEquivalence, checkNormPreservation, checkRelativePositionInvariance, halfLayoutPermutation } from '../../testing/index.js';
import { assertClose } from '../helpers/close.js';
import { FC_SEED, fcParams } from '../helpers/fc.js';

const FC_RUNS = (numRuns: number): { numRuns: number; seed: number } => ({ numRuns, seed: FC_SEED });

const LAYOUTS: readonly PairLayout[] = ['half', 'interleaved'];

const f64 = (values: ArrayLike<number>, shape: readonly number[], requiresGrad = false): Tensor =>
  new Tensor(Float64Array.from(values), shape, requiresGrad);

/** R(m)x for a single vector x [d] at position m (angles m·θ, θ = ropeInvFreq(d)). */
function rot(x: ArrayLike<number>, m: number, layout: PairLayout, base = 10000): Float64Array {
  const d = x.length;
  const y = applyRotary(f64(x, [1, d]), rotaryAngles([m], ropeInvFreq(d, base)), { layout });
  return y.data as Float64Array;
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};
const norm = (a: ArrayLike<number>): number => Math.hypot(...Array.from(a));

const evenDim = fc.integer({ min: 1, max: 8 }).map((p) => 2 * p);
const vec = (d: number): fc.Arbitrary<number[]> => fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: d, maxLength: d });

// ── inverse frequencies and angles ──

test('ropeInvFreq(d, base)[i] = base^(−2i/d): 1 at i = 0, decreasing; odd or non-positive d and base ≤ 1 are ValueErrors', () => {
  fc.assert(
    fc.property(evenDim, fc.double({ min: 1.5, max: 1e6, noNaN: true }), (d, base) => {
      const f = ropeInvFreq(d, base);
      assert.is(f.length, d / 2);
      assert.is(f[0], 1);
      for (let i = 0; i < d / 2; i++) assertClose([f[i]!], [Math.pow(base, (-2 * i) / d)], { rtol: 1e-15, atol: 0 }, `θ_${i}`);
      for (let i = 1; i < d / 2; i++) assert.ok(f[i]! < f[i - 1]!);
    }),
    fcParams(40),
  );
  assertClose(ropeInvFreq(8), [1, 0.1, 0.01, 0.001], { rtol: 1e-15, atol: 0 });
  for (const d of [0, 3, -2, 2.5]) assert.throws(() => ropeInvFreq(d), (e: unknown) => e instanceof ValueError);
  assert.throws(() => ropeInvFreq(8, 1), (e: unknown) => e instanceof ValueError);
});

test('rotaryAngles: φ[..., m, i] = positions[m]·θ_i for [T] and [B, T] positions, float64 by default', () => {
  const a = rotaryAngles(f64([0, 1.5, -2], [3]), [1, 0.5]);
  assert.equal([...a.shape], [3, 2]);
  assert.is(a.dtype, 'float64');
  assert.equal(Array.from(a.data), [0, 0, 1.5, 0.75, -2, -1]);
  const b = rotaryAngles(f64([1, 2, 3, 4], [2, 2]), [2], { dtype: 'float32' });
  assert.equal([...b.shape], [2, 2, 1]);
  assert.is(b.dtype, 'float32');
  assert.equal(Array.from(b.data), [2, 4, 6, 8]);
});

// ── a worked example, computed by hand from RoFormer eq. 13–15 ──

test('worked example, d = 8, base 1e4: R(1)[1..8] in both layouts, and the 82.788324 / 83.500140 dot products', () => {
  const x = [1, 2, 3, 4, 5, 6, 7, 8];
  const tol = { rtol: 0, atol: 5e-7 }; // the example is written to 6 decimals
  assertClose(rot(x, 1, 'interleaved'), [-1.14264, 1.922076, 2.585679, 4.279517, 4.939751, 6.049699, 6.991997, 8.006996], tol, 'interleaved');
  assertClose(rot(x, 1, 'half'), [-3.667053, 1.391008, 2.929851, 3.991998, 3.542983, 6.169692, 7.02965, 8.003996], tol, 'half');
  const q = x;
  const k = [8, 7, 6, 5, 4, 3, 2, 1];
  const half = (m: number, n: number): number => dot(rot(q, m, 'half'), rot(k, n, 'half'));
  assertClose([half(7, 3), half(104, 100), half(4, 0)], [82.788324, 82.788324, 82.788324], tol, 'half ⟨R(m)q, R(n)k⟩');
  assertClose([dot(rot(q, 7, 'interleaved'), rot(k, 3, 'interleaved'))], [83.50014], tol, 'interleaved ⟨R(7)q, R(3)k⟩');
  // partial rotary, h = 8, factor 0.5: d = 4, θ = [1, 0.01] on channels 0–3 only
  const rope = new RoPE(8, { rotaryDim: 4 });
  assertClose(rope.invFreq, [1, 0.01], { rtol: 1e-15, atol: 0 });
  const y = rope.rotate(f64(x, [1, 8]), f64([1], [1])).data;
  assertClose(y.subarray(0, 4), rot([1, 2, 3, 4], 1, 'half'), { rtol: 0, atol: 0 }, 'rotated part = RoPE of dim 4');
  assert.equal(Array.from(y.subarray(4)), [5, 6, 7, 8]);
});

// ── properties of the rotation ──

test('relative position: ⟨R(m+s)q, R(n+s)k⟩ = ⟨R(m)q, R(n)k⟩ for random q, k, m, n, s (both layouts; ropelab/testing checker)', () => {
  // positions and shifts up to 40000: float64 rounds each angle m·θ by ~|m|·1.1e-16 (θ_0 = 1), hence 1e-11
  for (const d of [2, 6, 16]) {
    for (const layout of LAYOUTS) {
      assertProperty(checkRelativePositionInvariance(new RoPE(d, { layout }), { headDim: d, heads: 2, kvHeads: 1, maxPosition: 40000, tolerance: 1e-11, ...FC_RUNS(20) }));
    }
  }
});

test('‖R(m)x‖ = ‖x‖ (ropelab/testing checker, partial rotary and attention factor too), R(0) = I exactly, and rotating by two angle tables in turn = rotating by their sum', () => {
  for (const layout of LAYOUTS) {
    for (const [d, options] of [[8, {}], [2, {}], [8, { rotaryDim: 4 }], [6, { attentionFactor: 1.3 }]] as const) {
      assertProperty(checkNormPreservation(new RoPE(d, { layout, ...options }), { headDim: d, maxPosition: 100000, tolerance: 1e-14, ...FC_RUNS(20) }));
    }
  }
  fc.assert(
    fc.property(evenDim.chain((d) => fc.tuple(vec(3 * d), vec((3 * d) / 2), vec((3 * d) / 2))), ([xs, a1, a2]) => {
      const d = xs.length / 3;
      const x = f64(xs, [3, d]);
      const A = f64(a1, [3, d / 2]);
      const B = f64(a2, [3, d / 2]);
      const AB = f64(a1.map((v, i) => v + a2[i]!), [3, d / 2]);
      for (const layout of LAYOUTS) {
        const xr = x.data.subarray(0, d);
        assertClose(rot(xr, 0, layout), xr, { rtol: 0, atol: 0 }, `${layout} R(0)x`);
        const twice = applyRotary(applyRotary(x, A, { layout }), B, { layout });
        assertClose(twice.data, applyRotary(x, AB, { layout }).data, { rtol: 1e-13, atol: 1e-13 * norm(xs) }, `${layout} R(B)R(A) = R(A+B)`);
      }
    }),
    fcParams(40),
  );
});

test('the layouts agree up to the channel permutation π: half(x[π]) = interleaved(x)[π], bit for bit (ropelab/testing checker)', () => {
  for (const [d, options] of [[2, {}], [8, {}], [16, {}], [8, { attentionFactor: 1.7 }], [10, { rotaryDim: 6 }]] as const) {
    const subjects = { half: new RoPE(d, { layout: 'half', ...options }), interleaved: new RoPE(d, { layout: 'interleaved', ...options }) };
    assertProperty(checkLayoutEquivalence(subjects, { headDim: d, heads: 2, tolerance: 0, ...('rotaryDim' in options ? { rotaryDim: options.rotaryDim } : {}), ...FC_RUNS(20) }));
  }
  assert.equal(halfLayoutPermutation(8), [0, 2, 4, 6, 1, 3, 5, 7]);
});

test('interleaved = complex multiplication: (x_2i + i·x_2i+1)·e^{iφ_i}', () => {
  fc.assert(
    fc.property(evenDim.chain((d) => fc.tuple(vec(2 * d), vec(d))), ([xs, as]) => {
      const d = xs.length / 2;
      const y = applyRotary(f64(xs, [2, d]), f64(as, [2, d / 2]), { layout: 'interleaved' }).data;
      for (let r = 0; r < 2; r++) {
        for (let i = 0; i < d / 2; i++) {
          const [re, im] = [xs[r * d + 2 * i]!, xs[r * d + 2 * i + 1]!];
          const [wr, wi] = [Math.cos(as[r * (d / 2) + i]!), Math.sin(as[r * (d / 2) + i]!)];
          assertClose([y[r * d + 2 * i]!, y[r * d + 2 * i + 1]!], [re * wr - im * wi, re * wi + im * wr], { rtol: 1e-15, atol: 1e-15 }, `pair ${i}`);
        }
      }
    }),
    fcParams(30),
  );
});

test('partial rotary: channels ≥ rotaryDim are bit-identical to x (−0 and NaN included); rotaryDim = headDim is full RoPE', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 100 }), fc.constantFrom(...LAYOUTS), (P, extra, seed, layout) => {
      const D = 2 * P + extra;
      const g = new Generator(seed);
      const x = randn([2, 3, D], { dtype: 'float64', generator: g });
      x.data[2 * P] = -0;
      x.data[D + 2 * P] = NaN;
      const angles = randn([3, P], { dtype: 'float64', generator: g });
      for (const scale of [1, 1.3]) {
        const y = applyRotary(x, angles, { layout, rotaryDim: 2 * P, scale }).data;
        for (let r = 0; r < 6; r++) for (let c = 2 * P; c < D; c++) assert.ok(Object.is(y[r * D + c], x.data[r * D + c]), `row ${r} channel ${c}`);
      }
    }),
    fcParams(30),
  );
  const g = new Generator(1);
  const x = randn([1, 2, 5, 8], { dtype: 'float64', generator: g });
  const pos = f64([0, 3, 7, 100, 2.5], [5]);
  for (const layout of LAYOUTS) {
    const full = new RoPE(8, { layout }).rotate(x, pos);
    assertClose(new RoPE(8, { layout, rotaryDim: 8 }).rotate(x, pos).data, full.data, { rtol: 0, atol: 0 });
    assertClose(applyRotary(x, rotaryAngles(pos, ropeInvFreq(8)), { layout, rotaryDim: 8 }).data, full.data, { rtol: 0, atol: 0 });
  }
});

test('scale multiplies the rotated channels only', () => {
  const g = new Generator(2);
  const x = randn([2, 4, 7], { dtype: 'float64', generator: g });
  const angles = randn([4, 3], { dtype: 'float64', generator: g });
  for (const layout of LAYOUTS) {
    const plain = applyRotary(x, angles, { layout, rotaryDim: 6 }).data;
    const scaled = applyRotary(x, angles, { layout, scale: 1.2079441541679836, rotaryDim: 6 }).data;
    for (let r = 0; r < 8; r++) {
      for (let c = 0; c < 7; c++) {
        const i = r * 7 + c;
        if (c < 6) assertClose([scaled[i]!], [1.2079441541679836 * plain[i]!], { rtol: 1e-14, atol: 1e-15 }, `${layout} rotated channel ${c}`);
        else assert.is(scaled[i], x.data[i], `${layout} pass-through channel ${c}`);
      }
    }
  }
});

test('broadcast angle tables: [T, P] shared, [H, T, P] per head, [B, 1, T, P] per sequence, [B, H, T, P] — each row uses its own slice', () => {
  const [B, H, T, D] = [2, 3, 4, 6];
  const P = 2;
  const g = new Generator(3);
  const x = randn([B, H, T, D], { dtype: 'float64', generator: g });
  for (const aShape of [[T, P], [1, T, P], [H, T, P], [B, 1, T, P], [B, H, T, P], [1, 1, T, P]]) {
    const angles = randn(aShape, { dtype: 'float64', generator: g });
    const strides = aShape.slice(0, -2).map((_, i, a) => a.slice(i + 1).reduce((p, v) => p * v, 1) * T * P);
    for (const layout of LAYOUTS) {
      const y = applyRotary(x, angles, { layout, rotaryDim: 2 * P }).data;
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < H; h++) {
          // the angle slice this (b, h) reads, by the broadcasting rule
          const coords = [b, h].slice(4 - aShape.length);
          const off = coords.reduce((o, c, i) => o + (aShape[i] === 1 ? 0 : c * strides[i]!), 0);
          const slice = f64(angles.data.subarray(off, off + T * P), [T, P]);
          const xs = f64(x.data.subarray((b * H + h) * T * D, (b * H + h + 1) * T * D), [T, D]);
          assertClose(y.subarray((b * H + h) * T * D, (b * H + h + 1) * T * D), applyRotary(xs, slice, { layout, rotaryDim: 2 * P }).data, { rtol: 0, atol: 0 }, `[${aShape}] b=${b} h=${h}`);
        }
      }
    }
  }
});

// ── gradients ──

test('gradcheck w.r.t. x and angles: both layouts, partial rotary, scale, broadcast tables (∂L/∂φ summed over broadcast axes)', () => {
  const cases: { x: number[]; a: number[]; scale?: number }[] = [
    { x: [3, 4], a: [3, 2] },
    { x: [2, 3, 5], a: [3, 2], scale: 1.3 }, // partial: 4 of 5 channels rotate
    { x: [2, 2, 3, 6], a: [2, 3, 2] }, // per head, partial
    { x: [2, 2, 3, 4], a: [2, 1, 3, 2], scale: 0.7 }, // per sequence
    { x: [1, 2, 2, 4], a: [1, 1, 2, 2] },
  ];
  const g = new Generator(4);
  for (const c of cases) {
    const x = randn(c.x, { dtype: 'float64', generator: g, requiresGrad: true });
    const a = randn(c.a, { dtype: 'float64', generator: g, std: 2, requiresGrad: true });
    const fixed = new Tensor(a.data.slice(), a.shape);
    for (const layout of LAYOUTS) {
      const opts = { layout, rotaryDim: 2 * c.a[c.a.length - 1]!, ...(c.scale !== undefined ? { scale: c.scale } : {}) };
      assert.ok(gradcheck((xi, ai) => applyRotary(xi!, ai!, opts), [x, a]), `${layout} x=[${c.x}] angles=[${c.a}]`);
      assert.ok(gradcheck((xi) => applyRotary(xi!, fixed, opts), [x]), `${layout} x only`);
    }
  }
});

test('backward: ∂L/∂x = s·R(−φ)g (the rotation transposed), and ∂L/∂φ comes back in the angles\' own shape', () => {
  const g = new Generator(5);
  for (const layout of LAYOUTS) {
    const x = randn([2, 3, 4, 6], { dtype: 'float64', generator: g, requiresGrad: true });
    const a = randn([3, 4, 3], { dtype: 'float64', generator: g, requiresGrad: true });
    const up = randn([2, 3, 4, 6], { dtype: 'float64', generator: g });
    applyRotary(x, a, { layout, scale: 1.5 }).backward(up);
    const expected = applyRotary(up, new Tensor(a.data.map((v) => -v), a.shape), { layout, scale: 1.5 });
    assertClose(x.grad!.data, expected.data, { rtol: 1e-14, atol: 1e-14 }, layout);
    assert.equal([...a.grad!.shape], [3, 4, 3]);
  }
});

test('learned frequencies and positions: gradcheck through rotaryAngles(positions, θ) → applyRotary', () => {
  const g = new Generator(6);
  const x = randn([2, 3, 4], { dtype: 'float64', generator: g });
  const theta = new Tensor(Float64Array.from([0.9, 0.05]), [2], true);
  const pos = new Tensor(Float64Array.from([0, 1.5, 4]), [3], true);
  for (const layout of LAYOUTS) {
    assert.ok(gradcheck((p, t) => applyRotary(x, rotaryAngles(p!, t!), { layout }), [pos, theta]), layout);
  }
  // a RoPE with positions that require grad bypasses its cache and stays differentiable
  const rope = new RoPE(4);
  assert.ok(gradcheck((p) => rope.rotate(x, p!), [pos]));
});

// ── HF Llama (rotate_half) and DeepSeek-V2 (complex, interleaved) outputs ──

type Nested = number | Nested[];
interface ApplyCase {
  name: string;
  position_ids: Nested;
  inv_freq: number[];
  attention_scaling?: number;
  cos?: Nested;
  q_embed_float32: Nested;
  k_embed_float32: Nested;
  q_embed_float64_from_given_cos_sin?: Nested;
  k_embed_float64_from_given_cos_sin?: Nested;
  q_embed_float64_from_given_freqs_cis?: Nested;
  k_embed_float64_from_given_freqs_cis?: Nested;
}
const fixture = JSON.parse(readFileSync(join(process.cwd(), 'tests/fixtures/rope_apply.json'), 'utf8')) as {
  inputs: { shape: number[]; q: Nested; k: Nested };
  cases: ApplyCase[];
};
const flat = (v: Nested): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v]);

test('rope_apply.json: every case, half vs HF Llama and interleaved vs DeepSeek-V2, float64 and float32 (README tolerances)', () => {
  assert.is(fixture.cases.length, 5);
  const shape = fixture.inputs.shape; // [2, 3, 6, 16]
  for (const c of fixture.cases) {
    const layout: PairLayout = c.name.startsWith('rotate_half') ? 'half' : 'interleaved';
    const positions = flat(c.position_ids);
    const scale = c.attention_scaling ?? 1;
    // the stored inv_freq are float32 values; the reference forms pos·θ in float32 (fixtures README, "Precision")
    const angles = rotaryAngles(positions, c.inv_freq);
    const atol = c.name.includes('pow3') ? 5e-5 : 1e-6;
    for (const [which, input] of [['q', fixture.inputs.q], ['k', fixture.inputs.k]] as const) {
      const x64 = flat(input);
      const label = `${c.name} ${which}`;
      const expected64 = flat((layout === 'half' ? c[`${which}_embed_float64_from_given_cos_sin`] : c[`${which}_embed_float64_from_given_freqs_cis`])!);
      // DeepSeek's apply_rotary_emb rounds q, k to float32 first
      const xIn = layout === 'half' ? x64 : x64.map(Math.fround);
      const y64 = applyRotary(f64(xIn, shape), angles, { layout, scale });
      assertClose(y64.data, expected64, { rtol: 0, atol: atol * scale }, `${label} float64`);
      const expected32 = flat(c[`${which}_embed_float32`]);
      const x32 = new Tensor(Float32Array.from(x64), shape);
      const y32 = applyRotary(x32, angles, { layout, scale });
      assert.is(y32.dtype, 'float32');
      assertClose(y32.data, expected32, { rtol: 0, atol: atol * scale }, `${label} float32`);
      // emulating the float32 kernel (angle, cos, sin, products and sums rounded) lands within float32 ulps
      const e32 = applyRotary(x32, angles, { layout, scale, precision: 'float32' });
      assertClose(e32.data, expected32, { rtol: 4e-7, atol: 1e-7 }, `${label} float32 emulation`);
    }
  }
});

test('rope_apply.json yarn case: RoPE with the stored inv_freq and attentionFactor reproduces HF (cos/sin include attention_scaling)', () => {
  const c = fixture.cases.find((k) => k.name.includes('yarn'))!;
  assertClose([c.attention_scaling!], [0.1 * Math.log(8) + 1], { rtol: 1e-15, atol: 0 });
  assertClose([flat(c.cos!)[0]!], [Math.cos(3) * c.attention_scaling!], { rtol: 1e-6, atol: 0 }, 'cos at position 3, pair 0 carries the factor');
  const rope = new RoPE(16, { invFreq: c.inv_freq, attentionFactor: c.attention_scaling! });
  const pos = f64(flat(c.position_ids), [6]);
  const q = rope.rotate(f64(flat(fixture.inputs.q), fixture.inputs.shape), pos);
  assertClose(q.data, flat(c.q_embed_float64_from_given_cos_sin!), { rtol: 0, atol: 5e-5 * c.attention_scaling! });
  // and the logit gets attention_factor²
  const plain = new RoPE(16, { invFreq: c.inv_freq }).rotate(f64(flat(fixture.inputs.q), fixture.inputs.shape), pos);
  const k = f64(flat(fixture.inputs.k), fixture.inputs.shape);
  const logit = (qr: Tensor, kr: Tensor): Float64Array => matmul(qr, kr, { transposeB: true }).data as Float64Array;
  assertClose(logit(q, rope.rotate(k, pos)), logit(plain, new RoPE(16, { invFreq: c.inv_freq }).rotate(k, pos)).map((v) => v * c.attention_scaling! ** 2), { rtol: 1e-12, atol: 1e-12 });
});

// ── errors ──

test('errors are typed, name the op and carry both shapes: odd rotaryDim, uncovered sequence, enlarging angles, unknown layout', () => {
  const x = new Tensor(new Float64Array(2 * 3 * 4), [2, 3, 4]);
  const angles = new Tensor(new Float64Array(3 * 2), [3, 2]);
  const expectError = (fn: () => unknown, Cls: typeof ShapeError | typeof ValueError, pieces: string[]): void => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof Cls, `${String(e)} is a ${Cls.name}`);
      assert.is((e as ShapeError).op, 'applyRotary');
      for (const p of pieces) assert.ok((e as Error).message.includes(p), `"${(e as Error).message}" mentions ${p}`);
      return;
    }
    assert.unreachable('no error');
  };
  expectError(() => applyRotary(x, angles, { layout: 'half', rotaryDim: 3 }), ValueError, ['rotaryDim=3', 'x=[2,3,4]', 'angles=[3,2]']);
  expectError(() => applyRotary(x, angles, { layout: 'half', rotaryDim: 2 }), ShapeError, ['rotaryDim=2', 'x=[2,3,4]', 'angles=[3,2]']);
  expectError(() => applyRotary(x, new Tensor(new Float64Array(9), [3, 3]), { layout: 'half' }), ShapeError, ['x=[2,3,4]', 'angles=[3,3]']); // 6 > 4 channels
  expectError(() => applyRotary(x, new Tensor(new Float64Array(4), [2, 2]), { layout: 'half' }), ShapeError, ['cover', 'x=[2,3,4]', 'angles=[2,2]']);
  expectError(() => applyRotary(x, new Tensor(new Float64Array(18), [3, 3, 2]), { layout: 'half' }), ShapeError, ['broadcast', 'x=[2,3,4]', 'angles=[3,3,2]']);
  expectError(() => applyRotary(x, new Tensor(new Float64Array(24), [2, 2, 3, 2]), { layout: 'half' }), ShapeError, ['enlarge', 'x=[2,3,4]', 'angles=[2,2,3,2]']);
  expectError(() => applyRotary(new Tensor(new Float64Array(12), [1, 3, 4]), new Tensor(new Float64Array(12), [2, 3, 2]), { layout: 'half' }), ShapeError, ['enlarge', 'x=[1,3,4]', 'angles=[2,3,2]']);
  expectError(() => applyRotary(new Tensor(new Float64Array(4), [4]), angles, { layout: 'half' }), ShapeError, ['x=[4]']);
  expectError(() => applyRotary(x, angles, { layout: 'complex' as PairLayout }), ValueError, ["'complex'", 'x=[2,3,4]', 'angles=[3,2]']);
  assert.throws(() => new RoPE(8, { rotaryDim: 5 }), (e: unknown) => e instanceof ValueError && e.message.includes('5'));
  assert.throws(() => new RoPE(8, { rotaryDim: 10 }), (e: unknown) => e instanceof ValueError);
  assert.throws(() => new RoPE(8, { invFreq: [1, 2, 3] }), (e: unknown) => e instanceof ShapeError);
});

// ── caches ──

const arange = (offset: number, T: number): Tensor => f64(Array.from({ length: T }, (_, i) => offset + i), [T]);

test('RoPE cache: identical results to an uncached computation for ranges, arbitrary and per-sequence positions', () => {
  const g = new Generator(7);
  for (const layout of LAYOUTS) {
    const rope = new RoPE(8, { layout, rotaryDim: 6, attentionFactor: 1.1 });
    const uncached = (x: Tensor, p: Tensor): Tensor => {
      const a = rotaryAngles(f64(p.data, p.shape), ropeInvFreq(6));
      const table = p.ndim === 2 ? new Tensor(a.data, [p.shape[0]!, 1, p.shape[1]!, 3]) : a;
      return applyRotary(x, new Tensor(table.data.slice(), table.shape), { layout, rotaryDim: 6, scale: 1.1 });
    };
    const x = randn([2, 3, 5, 8], { dtype: 'float64', generator: g });
    const cases = [arange(0, 5), arange(17, 5), f64([4, 1, 9, 2, 2], [5]), f64([0, 1, 2, 3, 4, 10, 11, 12, 13, 14], [2, 5]), f64([0.5, 1.5, 2.5, 3.5, 4.5], [5])];
    for (let rep = 0; rep < 3; rep++) {
      for (const p of cases) {
        const fresh = f64(p.data, p.shape); // a new tensor each forward, as attention makes them
        assertClose(rope.rotate(x, fresh).data, uncached(x, p).data, { rtol: 0, atol: 0 }, `${layout} positions ${Array.from(p.data)}`);
      }
    }
  }
});

test.run();
