/**
 * positional/rope-vit.ts: RoPE-Axial and RoPE-Mixed (Heo et al., ECCV 2024). Checked against naver-ai/rope-vit's own
 * numbers (tests/fixtures/ropevit.json: `init_t_xy`, `compute_axial_cis`, `init_random_2d_freqs`,
 * `compute_mixed_cis`, `apply_rotary_emb`), an example worked by hand from those functions, and these properties:
 * per-axis translation invariance, norm preservation, Mixed with axis-aligned frequencies = Axial, an unrotated class
 * token, resolution extrapolation by extending the grid; plus gradients w.r.t. the learnable frequencies.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, ShapeError, Tensor, ValueError, concat, gradcheck, matmul, randn, type DType } from '../../core/index.js';
import {
  ROPE_VIT_AXIAL_THETA, ROPE_VIT_MIXED_THETA, RoPEAxial, RoPEMixed, ropeVitAxialAngles, ropeVitAxialFrequencies, ropeVitGrid,
  ropeVitInvFreq, ropeVitMixedAngles, ropeVitMixedFrequencies,
} from '../../positional/rope-vit.js';
import type { PositionalEncoding } from '../../positional/encoding.js';
import { applyRotary } from '../../positional/rope.js';
import { assertClose, assertShape } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';

const f64 = (values: ArrayLike<number>, shape: readonly number[], requiresGrad = false): Tensor =>
  new Tensor(Float64Array.from(values), shape, requiresGrad);
const typed = (values: ArrayLike<number>, shape: readonly number[], dtype: DType): Tensor =>
  new Tensor(dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values), shape);
const flat = (nested: unknown): number[] => (Array.isArray(nested) ? nested.flatMap(flat) : [nested as number]);

/** Scores [B, H, Tq, Tk] = ⟨q', k'⟩ after the encoding. */
function scores(pe: PositionalEncoding, q: Tensor, k: Tensor, qPos: Tensor, kPos: Tensor = qPos): Tensor {
  const { q: qe, k: ke } = pe.encodeQK(q, k, qPos, kPos);
  return matmul(qe, ke, { transposeB: true });
}

/** Positions [N, 2] with (dx, dy) added to every token. */
function shifted(positions: Tensor, dx: number, dy: number): Tensor {
  const out = Float64Array.from(positions.data);
  for (let n = 0; n < out.length; n += 2) {
    out[n] = out[n]! + dx;
    out[n + 1] = out[n + 1]! + dy;
  }
  return new Tensor(out, positions.shape);
}

/** A float64 RoPEMixed with random orientations drawn from `seed`. */
const mixed64 = (heads: number, dim: number, seed: number, prefixTokens = 0): RoPEMixed =>
  new RoPEMixed(heads, dim, { generator: new Generator(seed), dtype: 'float64', prefixTokens });

// ── fixture (naver-ai/rope-vit @ ce85c2e5, PyTorch 1.13, float32 unless named float64) ──

interface MixedCase {
  name: string;
  freqs_per_layer: number[][][][];
  freqs: number[][][];
  cis_float32: unknown;
  cis_float64_same_freqs: unknown;
}
const fixture = JSON.parse(readFileSync(join(process.cwd(), 'tests/fixtures/ropevit.json'), 'utf8')) as {
  grid: { end_x: number; end_y: number; N: number };
  positions: { t_x: number[]; t_y: number[] };
  axial: { theta100: { cis: unknown } };
  mixed: MixedCase[];
  apply: Record<string, unknown> & { q: unknown; k: unknown };
};
const FIX = { W: fixture.grid.end_x, H: fixture.grid.end_y, N: fixture.grid.N, dim: 32, heads: 2 };
const mixedCase = (name: string): MixedCase => fixture.mixed.find((c) => c.name === name)!;

/** cos and sin of angles, interleaved as the fixture's [re, im] pairs. */
function cis(angles: Tensor): Float64Array {
  const out = new Float64Array(2 * angles.size);
  angles.data.forEach((a, i) => {
    out[2 * i] = Math.cos(a);
    out[2 * i + 1] = Math.sin(a);
  });
  return out;
}

/** Layer `layer` of a case's [2, depth, heads·d/2] parameter as freqsX, freqsY [heads, d/2]. */
function layerFreqs(c: MixedCase, layer: number, dtype: DType): { freqsX: Tensor; freqsY: Tensor } {
  const shape = [FIX.heads, FIX.dim / 2];
  return { freqsX: typed(c.freqs[0]![layer]!, shape, dtype), freqsY: typed(c.freqs[1]![layer]!, shape, dtype) };
}

// ── coordinates and frequencies ──

test('ropeVitGrid = init_t_xy: raster order, x = n mod gridW fastest, y = ⌊n / gridW⌋, 0-based (fixture positions)', () => {
  const g = ropeVitGrid(FIX.W, FIX.H);
  assertShape(g.shape, [FIX.N, 2]);
  assert.is(g.dtype, 'float64');
  assert.equal(Array.from(g.data.filter((_, i) => i % 2 === 0)), fixture.positions.t_x);
  assert.equal(Array.from(g.data.filter((_, i) => i % 2 === 1)), fixture.positions.t_y);
  assert.equal(Array.from(ropeVitGrid(3, 2, 'float32').data), [0, 0, 1, 0, 2, 0, 0, 1, 1, 1, 2, 1]);
  for (const [w, h] of [[0, 3], [3, 0], [2.5, 2], [-1, 2]] as const) {
    assert.throws(() => ropeVitGrid(w, h), (e: unknown) => e instanceof ValueError && /gridW|gridH/.test((e as Error).message));
  }
});

test('ropeVitInvFreq: ω_k = θ^(−4k/d), k < d/4 (d = 8, θ = 100 → [1, 0.1]); axial F puts the ladder on x then y', () => {
  assertClose(ropeVitInvFreq(8, 100), [1, 0.1], { rtol: 1e-15, atol: 0 });
  assertClose(ropeVitInvFreq(32, 100), Array.from({ length: 8 }, (_, j) => Math.pow(100, (-4 * j) / 32)), { rtol: 1e-15, atol: 0 });
  assert.equal(Array.from(ropeVitAxialFrequencies(8, 100).data), [1, 0.1, 0, 0, 0, 0, 1, 0.1]);
  for (const d of [6, 2, 0, 10]) assert.throws(() => ropeVitInvFreq(d), (e: unknown) => e instanceof ValueError && /multiple of 4/.test((e as Error).message));
  assert.throws(() => ropeVitInvFreq(8, 0), (e: unknown) => e instanceof ValueError);
  assert.throws(() => new RoPEAxial(6), (e: unknown) => e instanceof ValueError && (e as ValueError).op === 'RoPEAxial');
  assert.is(ROPE_VIT_AXIAL_THETA, 100);
  assert.is(ROPE_VIT_MIXED_THETA, 10);
  assert.is(new RoPEAxial(8).theta, 100);
  assert.is(new RoPEMixed(1, 8).theta, 10);
});

// ── an example worked by hand from `compute_axial_cis` / `init_random_2d_freqs` ──

test('worked example: Axial d = 8, θ = 100, grid 3×2: token 5 (x = 2, y = 1) angles [2, 0.2, 1, 0.1] and rotated q', () => {
  const phi = ropeVitAxialAngles({ dim: 8, gridW: 3, gridH: 2 });
  assertShape(phi.shape, [6, 4]);
  assertClose(phi.data.subarray(20, 24), [2, 0.2, 1, 0.1], { rtol: 1e-15, atol: 0 });
  const q = f64([1, 0, 0, 1, 1, 0, 0, 1], [1, 1, 1, 8]);
  const pos = f64([2, 1], [1, 2]);
  const out = new RoPEAxial(8).rotate(q, pos);
  assertClose(out.data, [-0.416147, 0.909297, -0.198669, 0.980067, 0.540302, 0.841471, -0.099833, 0.995004], { atol: 5e-7, rtol: 0 });
});

test('worked example: score((2,1),(0,0)) = −0.626054 = score((5,4),(3,3)) for random q, k', () => {
  // q, k: numpy.random.default_rng(1), q = normal(size=8) then k = normal(size=8) (re-derived: it
  // reproduces −0.626054 with interleaved pairs and not with rotate-half)
  const q = f64([0.345584192064786, 0.8216181435011584, 0.33043707618338714, -1.303157231604361, 0.9053558666731177, 0.4463745723640113, -0.5369532353602852, 0.5811181041963531], [1, 1, 1, 8]);
  const k = f64([0.36457239618607573, 0.294132496655526, 0.02842224131579679, 0.5467129866124469, -0.7364540870016669, -0.16290994799305278, -0.48211931267997826, 0.5988462126346276], [1, 1, 1, 8]);
  const pe = new RoPEAxial(8);
  const s1 = scores(pe, q, k, f64([2, 1], [1, 2]), f64([0, 0], [1, 2])).item();
  const s2 = scores(pe, q, k, f64([5, 4], [1, 2]), f64([3, 3], [1, 2])).item();
  assertClose([s1], [-0.626054], { atol: 5e-7, rtol: 0 });
  assertClose([s2], [s1], { atol: 1e-14, rtol: 0 });
});

test('worked example: Mixed init d = 8, θ = 10, a = π/6: fx, fy and the angles of (2, 1); a = 0 is Axial with θ = 10', () => {
  const { freqsX, freqsY } = ropeVitMixedFrequencies(1, 8, { orientations: [Math.PI / 6], dtype: 'float64' });
  assertClose(freqsX.data, [0.866025, 0.273861, -0.5, -0.158114], { atol: 5e-7, rtol: 0 });
  assertClose(freqsY.data, [0.5, 0.158114, 0.866025, 0.273861], { atol: 5e-7, rtol: 0 });
  const phi = ropeVitMixedAngles({ freqsX, freqsY, gridW: 3, gridH: 2 });
  assertShape(phi.shape, [1, 6, 4]);
  assertClose(phi.data.subarray(20, 24), [2.232051, 0.705836, -0.133975, -0.042366], { atol: 1e-6, rtol: 0 });
  const flatInit = ropeVitMixedFrequencies(1, 8, { rotate: false, dtype: 'float64' });
  assertClose(flatInit.freqsX.data, [1, 0.316228, 0, 0], { atol: 5e-7, rtol: 0 });
  assertClose(flatInit.freqsY.data, [0, 0, 1, 0.316228], { atol: 5e-7, rtol: 0 });
});

// ── the reference's own numbers ──

test('fixture: axial cis = compute_axial_cis(32, 5, 3, θ = 100), from float64 and float32 angles', () => {
  const expected = flat(fixture.axial.theta100.cis);
  for (const dtype of ['float64', 'float32'] as const) {
    const phi = ropeVitAxialAngles({ dim: FIX.dim, gridW: FIX.W, gridH: FIX.H, dtype });
    assertShape(phi.shape, [FIX.N, FIX.dim / 2]);
    assert.is(phi.dtype, dtype);
    assertClose(cis(phi), expected, { atol: 1e-6, rtol: 0 }, `axial ${dtype}`);
  }
  // the module's table is the same
  assertClose(cis(new RoPEAxial(FIX.dim).angles(FIX.W, FIX.H)), expected, { atol: 1e-6, rtol: 0 }, 'RoPEAxial.angles');
});

test('fixture: mixed cis = compute_mixed_cis for every case and layer (float32 freqs; float64 on the same freqs to 1e-12)', () => {
  for (const c of fixture.mixed) {
    const f32 = flat(c.cis_float32);
    const f64cis = flat(c.cis_float64_same_freqs);
    const depth = c.freqs[0]!.length;
    const per = FIX.heads * FIX.N * FIX.dim; // [heads, N, d/2, 2] per layer
    for (let layer = 0; layer < depth; layer++) {
      const a32 = ropeVitMixedAngles({ ...layerFreqs(c, layer, 'float32'), gridW: FIX.W, gridH: FIX.H });
      assertShape(a32.shape, [FIX.heads, FIX.N, FIX.dim / 2]);
      assert.is(a32.dtype, 'float32');
      assertClose(cis(a32), f32.slice(layer * per, (layer + 1) * per), { atol: 1e-6, rtol: 0 }, `${c.name} layer ${layer} float32`);
      const a64 = ropeVitMixedAngles({ ...layerFreqs(c, layer, 'float64'), gridW: FIX.W, gridH: FIX.H });
      assertClose(cis(a64), f64cis.slice(layer * per, (layer + 1) * per), { atol: 1e-12, rtol: 0 }, `${c.name} layer ${layer} float64`);
    }
  }
});

test('fixture: init_random_2d_freqs — rotate=False values, and the seeded draws are mag-ladders at a_h and a_h + π/2', () => {
  // rotate=False: our init, up to float32 rounding and the reference's float32 cos(π/2) ≈ −4.4e-8 residue
  const flatCase = mixedCase('mixed_rotateFalse_theta10');
  const ours = ropeVitMixedFrequencies(FIX.heads, FIX.dim, { rotate: false, theta: 10, dtype: 'float64' });
  assertClose(ours.freqsX.data, flat(flatCase.freqs_per_layer[0]![0]), { atol: 1e-7, rtol: 1e-7 }, 'freqsX');
  assertClose(ours.freqsY.data, flat(flatCase.freqs_per_layer[0]![1]), { atol: 1e-7, rtol: 1e-7 }, 'freqsY');
  // seed 7: read each head's orientation off its first pair and rebuild the whole head from it
  const seeded = mixedCase('mixed_seed7_rotateTrue_theta10_depth2');
  for (const layer of seeded.freqs_per_layer) {
    const fx = flat(layer[0]);
    const fy = flat(layer[1]);
    const P = FIX.dim / 2;
    const a = Array.from({ length: FIX.heads }, (_, h) => {
      const angle = Math.atan2(fy[h * P]!, fx[h * P]!);
      return angle < 0 ? angle + 2 * Math.PI : angle; // torch.rand·2π ∈ [0, 2π)
    });
    const rebuilt = ropeVitMixedFrequencies(FIX.heads, FIX.dim, { orientations: a, theta: 10, dtype: 'float64' });
    assertClose(rebuilt.freqsX.data, fx, { atol: 2e-7, rtol: 0 }, 'seeded freqsX');
    assertClose(rebuilt.freqsY.data, fy, { atol: 2e-7, rtol: 0 }, 'seeded freqsY');
  }
});

test('fixture: apply_rotary_emb outputs (float32) from RoPEAxial / RoPEMixed.encodeQK on the patch tokens', () => {
  const shape = [1, FIX.heads, FIX.N, FIX.dim];
  const q = typed(flat(fixture.apply.q), shape, 'float32');
  const k = typed(flat(fixture.apply.k), shape, 'float32');
  const grid = ropeVitGrid(FIX.W, FIX.H);
  const expect = (name: string, pe: PositionalEncoding): void => {
    const ref = fixture.apply[name] as { q_out: unknown; k_out: unknown };
    const out = pe.encodeQK(q, k, grid, grid);
    assert.is(out.q.dtype, 'float32');
    assertClose(out.q.data, flat(ref.q_out), { atol: 1e-6, rtol: 0 }, `${name} q`);
    assertClose(out.k.data, flat(ref.k_out), { atol: 1e-6, rtol: 0 }, `${name} k`);
  };
  expect('axial_theta100', new RoPEAxial(FIX.dim, { dtype: 'float32' }));
  expect('axial_theta100', new RoPEAxial(FIX.dim));
  for (const [name, caseName] of [
    ['mixed_rotateFalse_theta10_layer0', 'mixed_rotateFalse_theta10'],
    ['mixed_seed7_rotateTrue_theta10_depth2_layer0', 'mixed_seed7_rotateTrue_theta10_depth2'],
  ] as const) {
    const pe = new RoPEMixed(FIX.heads, FIX.dim);
    pe.loadStateDict(layerFreqs(mixedCase(caseName), 0, 'float32'));
    expect(name, pe);
  }
});

test('fixture + class token: with prefixTokens 1 the cls row passes bit for bit and the patch rows match the reference', () => {
  const D = FIX.dim;
  const q = typed(flat(fixture.apply.q), [1, FIX.heads, FIX.N, D], 'float32');
  const cls = typed(Array.from({ length: FIX.heads * D }, (_, i) => Math.fround(0.1 * i - 1)), [1, FIX.heads, 1, D], 'float32');
  const withCls = concat([cls, q], 2); // [1, H, 1 + N, D]
  const ref = flat((fixture.apply['mixed_seed7_rotateTrue_theta10_depth2_layer0'] as { q_out: unknown }).q_out);
  const pe = new RoPEMixed(FIX.heads, D, { prefixTokens: 1 });
  pe.loadStateDict(layerFreqs(mixedCase('mixed_seed7_rotateTrue_theta10_depth2'), 0, 'float32'));
  const grid = ropeVitGrid(FIX.W, FIX.H);
  const clsRow = f64([Number.NaN, Number.NaN], [1, 2]); // a class-token row in the positions is ignored
  for (const positions of [grid, concat([clsRow, grid], 0)]) {
    const out = pe.rotate(withCls, positions);
    assertShape(out.shape, [1, FIX.heads, FIX.N + 1, D]);
    for (let h = 0; h < FIX.heads; h++) {
      const o = h * (FIX.N + 1) * D;
      assert.equal(Array.from(out.data.subarray(o, o + D)), Array.from(cls.data.subarray(h * D, (h + 1) * D)), 'cls row unchanged');
      assertClose(out.data.subarray(o + D, o + (FIX.N + 1) * D), ref.slice(h * FIX.N * D, (h + 1) * FIX.N * D), { atol: 1e-6, rtol: 0 }, `head ${h} patches`);
    }
  }
});

// ── properties ──

test('per-axis translation invariance: shifting x or y of every token leaves every score unchanged (Axial and Mixed)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 }).map((m) => 4 * m),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 3 }),
      fc.double({ min: -20, max: 20, noNaN: true }),
      fc.integer({ min: 0, max: 1 }),
      fc.integer({ min: 0, max: 1000 }),
      (dim, gw, gh, shift, axis, seed) => {
        const g = new Generator(seed);
        const H = 2;
        const N = gw * gh;
        const q = randn([1, H, N, dim], { generator: g, dtype: 'float64' });
        const k = randn([1, H, N, dim], { generator: g, dtype: 'float64' });
        const grid = ropeVitGrid(gw, gh);
        const moved = axis === 0 ? shifted(grid, shift, 0) : shifted(grid, 0, shift);
        for (const pe of [new RoPEAxial(dim), mixed64(H, dim, seed)]) {
          const before = scores(pe, q, k, grid);
          const after = scores(pe, q, k, moved);
          assertClose(after.data, before.data, { atol: 1e-9, rtol: 1e-9 }, `${pe.name} shift ${shift} on axis ${axis}`);
        }
      },
    ),
    fcParams(30),
  );
  // q and k shifted independently: only the difference of their coordinates matters
  const g = new Generator(5);
  const q = randn([1, 2, 6, 8], { generator: g, dtype: 'float64' });
  const k = randn([1, 2, 6, 8], { generator: g, dtype: 'float64' });
  const grid = ropeVitGrid(3, 2);
  const pe = mixed64(2, 8, 9);
  assertClose(scores(pe, q, k, shifted(grid, 2.5, -1), shifted(grid, 1.5, -3)).data, scores(pe, q, k, shifted(grid, 1, 2), grid).data, { atol: 1e-9, rtol: 1e-9 });
});

test('norm preservation: every rotated row keeps its length (Axial and Mixed, fractional positions)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 1, max: 3 }).map((m) => 4 * m), (seed, dim) => {
      const g = new Generator(seed);
      const x = randn([2, 3, 5, dim], { generator: g, dtype: 'float64' });
      const pos = new Tensor(Float64Array.from({ length: 10 }, () => 30 * g.random() - 10), [5, 2]);
      for (const pe of [new RoPEAxial(dim), mixed64(3, dim, seed)]) {
        const y = pe.rotate(x, pos);
        for (let r = 0; r < x.size / dim; r++) {
          const nx = Math.hypot(...x.data.subarray(r * dim, (r + 1) * dim));
          const ny = Math.hypot(...y.data.subarray(r * dim, (r + 1) * dim));
          assertClose([ny], [nx], { rtol: 1e-12, atol: 0 }, `${pe.name} row ${r}`);
        }
      }
    }),
    fcParams(20),
  );
});

test('axial == mixed with axis-aligned frequencies (rotate: false): same angles for every head, same outputs', () => {
  for (const [dim, theta] of [[8, 10], [16, 100], [32, 50]] as const) {
    const axial = new RoPEAxial(dim, { theta });
    const flatMixed = new RoPEMixed(3, dim, { theta, rotate: false, dtype: 'float64' });
    const a = axial.angles(4, 3);
    const m = flatMixed.angles(4, 3);
    assertShape(m.shape, [3, 12, dim / 2]);
    for (let h = 0; h < 3; h++) assert.equal(Array.from(m.data.subarray(h * a.size, (h + 1) * a.size)), Array.from(a.data), `head ${h}`);
    const x = randn([2, 3, 12, dim], { generator: new Generator(dim), dtype: 'float64' });
    const grid = ropeVitGrid(4, 3);
    assert.equal(Array.from(flatMixed.rotate(x, grid).data), Array.from(axial.rotate(x, grid).data));
  }
});

test('gradcheck: ropeVitMixedAngles w.r.t. freqsX and freqsY (float64)', () => {
  const { freqsX, freqsY } = ropeVitMixedFrequencies(2, 8, { generator: new Generator(3), dtype: 'float64' });
  const fx = new Tensor(freqsX.data, freqsX.shape, true);
  const fy = new Tensor(freqsY.data, freqsY.shape, true);
  assert.ok(gradcheck((a, b) => ropeVitMixedAngles({ freqsX: a!, freqsY: b!, gridW: 3, gridH: 2 }), [fx, fy]));
  // through the rotation: cos/sin of the angles reach the frequencies
  const x = randn([1, 2, 6, 8], { generator: new Generator(4), dtype: 'float64' });
  const rotated = (a: Tensor, b: Tensor): Tensor => applyRotary(x, ropeVitMixedAngles({ freqsX: a, freqsY: b, gridW: 3, gridH: 2 }), { layout: 'interleaved' });
  assert.ok(gradcheck((a, b) => rotated(a!, b!), [fx, fy], { atol: 1e-7, rtol: 1e-5 }));
});

test('gradcheck: RoPEMixed scores (class token + patches) w.r.t. its parameters freqsX, freqsY and q', () => {
  const pe = mixed64(2, 8, 11, 1);
  const g = new Generator(12);
  const q = randn([1, 2, 7, 8], { generator: g, dtype: 'float64' });
  const k = randn([1, 2, 7, 8], { generator: g, dtype: 'float64' });
  const qLeaf = new Tensor(q.data, q.shape, true);
  const grid = ropeVitGrid(3, 2);
  assert.equal(pe.parameters(), [pe.freqsX, pe.freqsY]);
  assert.ok(gradcheck((qq) => scores(pe, qq!, k, grid), [qLeaf, pe.freqsX, pe.freqsY], { atol: 1e-7, rtol: 1e-5 }));
  // a training step's gradient reaches both parameters
  pe.zeroGrad();
  scores(pe, q, k, grid).sum().backward();
  assert.ok(pe.freqsX.grad !== null && pe.freqsX.grad.data.some((v) => v !== 0));
  assert.ok(pe.freqsY.grad !== null && pe.freqsY.grad.data.some((v) => v !== 0));
});

test('class token: prefixTokens rows are unrotated bit for bit (Axial and Mixed, [N, 2] or [T, 2] positions, per image)', () => {
  const g = new Generator(21);
  const D = 8;
  const x = randn([2, 2, 7, D], { generator: g, dtype: 'float32' }); // 1 cls + 3×2 patches
  const grid = ropeVitGrid(3, 2);
  for (const pe of [new RoPEAxial(D, { prefixTokens: 1 }), new RoPEMixed(2, D, { prefixTokens: 1, generator: g })]) {
    const patchesOnly = pe.rotate(x, grid);
    const allRows = pe.rotate(x, concat([f64([7, 7], [1, 2]), grid], 0));
    const perImage = pe.rotate(x, concat([grid.unsqueeze(0), grid.unsqueeze(0)], 0));
    const plain = pe instanceof RoPEMixed ? new RoPEMixed(2, D) : new RoPEAxial(D);
    plain.loadStateDict(pe.stateDict());
    const patches = plain.rotate(x.narrow(2, 1, 6), grid);
    for (const y of [patchesOnly, allRows, perImage]) {
      assert.equal(Array.from(y.narrow(2, 0, 1).data), Array.from(x.narrow(2, 0, 1).data), `${pe.name}: cls rows`);
      assert.equal(Array.from(y.narrow(2, 1, 6).data), Array.from(patches.data), `${pe.name}: patch rows`);
    }
    // positions that fit neither form are refused with the rule
    assert.throws(() => pe.rotate(x, ropeVitGrid(2, 2)), (e: unknown) => e instanceof ShapeError && /6 patch rows or 7 rows/.test((e as Error).message));
  }
  assert.throws(() => new RoPEAxial(D).rotate(x, grid), (e: unknown) => e instanceof ShapeError && /prefixTokens/.test((e as Error).message));
  assert.throws(() => new RoPEAxial(D, { prefixTokens: -1 }), (e: unknown) => e instanceof ValueError);
});

test('resolution extrapolation: a token\'s angles do not change when the grid grows (the integer grid is extended)', () => {
  const pe = mixed64(2, 8, 31);
  const axial = new RoPEAxial(8);
  for (const [[w, h], [W, H]] of [[[3, 2], [5, 4]], [[14, 14], [16, 16]], [[4, 1], [4, 3]]] as const) {
    for (const [small, big] of [[axial.angles(w, h), axial.angles(W, H)], [pe.angles(w, h), pe.angles(W, H)]] as const) {
      const P = 4;
      const heads = small.ndim === 3 ? small.shape[0]! : 1;
      for (let hd = 0; hd < heads; hd++) {
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            const s = ((hd * h * w) + y * w + x) * P; // raster index y·w + x in the small grid …
            const b = ((hd * H * W) + y * W + x) * P; // … and y·W + x in the big one
            assert.equal(Array.from(big.data.subarray(b, b + P)), Array.from(small.data.subarray(s, s + P)), `(${x}, ${y}) ${w}×${h} → ${W}×${H}`);
          }
        }
      }
    }
  }
});

// ── module plumbing ──

test('modules: names, scope, parameters, deterministic init, per-image positions, dtype, and typed errors', () => {
  const axial = new RoPEAxial(16);
  assert.is(axial.name, 'rope-axial');
  assert.is(axial.scope, 'model');
  assert.equal(axial.parameters(), []);
  const m = new RoPEMixed(4, 16, { generator: new Generator(1) });
  assert.is(m.name, 'rope-mixed');
  assert.is(m.scope, 'layer');
  assert.equal(m.namedParameters().map(([n]) => n), ['freqsX', 'freqsY']);
  assertShape(m.freqsX.shape, [4, 8]);
  assert.is(m.freqsX.dtype, 'float32');
  assert.is(m.numParameters(), 64);
  assert.equal(Array.from(new RoPEMixed(4, 16, { generator: new Generator(1) }).freqsX.data), Array.from(m.freqsX.data));
  assert.not.equal(Array.from(new RoPEMixed(4, 16, { generator: new Generator(2) }).freqsX.data), Array.from(m.freqsX.data));
  // every head: |(fx_j, fy_j)| = mag_j, first half along a_h, second half along a_h + π/2, a_h ∈ [0, 2π)
  const init = ropeVitMixedFrequencies(4, 16, { generator: new Generator(1), dtype: 'float64' });
  const mag = ropeVitInvFreq(16, 10);
  init.orientations.forEach((a, h) => {
    assert.ok(a >= 0 && a < 2 * Math.PI);
    for (let j = 0; j < 4; j++) {
      assertClose([init.freqsX.data[h * 8 + j]!, init.freqsY.data[h * 8 + j]!], [mag[j]! * Math.cos(a), mag[j]! * Math.sin(a)], { atol: 1e-15, rtol: 0 });
      assertClose([init.freqsX.data[h * 8 + 4 + j]!, init.freqsY.data[h * 8 + 4 + j]!], [mag[j]! * Math.cos(a + Math.PI / 2), mag[j]! * Math.sin(a + Math.PI / 2)], { atol: 1e-15, rtol: 0 });
    }
  });
  // per-image positions [B, N, 2] give per-image tables
  const pos = new Tensor(Float64Array.from([0, 0, 1, 0, 5, 5, 6, 5]), [2, 2, 2]);
  assertShape(axial.anglesAt(pos).shape, [2, 1, 2, 8]);
  assertShape(m.anglesAt(pos).shape, [2, 4, 2, 8]);
  const q = randn([2, 4, 2, 16], { generator: new Generator(3), dtype: 'float64' });
  const k = randn([2, 4, 2, 16], { generator: new Generator(4), dtype: 'float64' });
  const m64 = mixed64(4, 16, 1);
  const s = scores(m64, q, k, pos);
  const s0 = scores(m64, q.narrow(0, 0, 1), k.narrow(0, 0, 1), pos.narrow(0, 1, 1)); // image 1's positions are image 0's + (5, 5)
  assertClose(s.data.subarray(0, s0.size), s0.data, { atol: 1e-12, rtol: 1e-12 });
  // errors
  assert.throws(() => m.rotate(randn([1, 3, 2, 16], { generator: new Generator(0) }), pos.narrow(0, 0, 1).squeeze(0)), (e: unknown) => e instanceof ShapeError && /4 heads/.test((e as Error).message));
  assert.throws(() => axial.rotate(randn([1, 1, 2, 12], { generator: new Generator(0) }), pos.narrow(0, 0, 1).squeeze(0)), (e: unknown) => e instanceof ShapeError && /\[\.\.\., T, 16\]/.test((e as Error).message));
  assert.throws(() => axial.rotate(randn([1, 1, 2, 16], { generator: new Generator(0) }), f64([0, 1], [2])), (e: unknown) => e instanceof ShapeError && /\[N, 2\]/.test((e as Error).message));
  assert.throws(() => ropeVitMixedAngles({ freqsX: f64([1, 2], [1, 2]), freqsY: f64([1, 2, 3], [1, 3]), gridW: 2, gridH: 2 }), (e: unknown) => e instanceof ShapeError);
  assert.throws(() => ropeVitMixedFrequencies(2, 8, { orientations: [0] }), (e: unknown) => e instanceof ShapeError);
  assert.throws(() => new RoPEMixed(0, 8), (e: unknown) => e instanceof ValueError && (e as ValueError).op === 'RoPEMixed');
});

test.run();
