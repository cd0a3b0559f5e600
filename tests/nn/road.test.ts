/**
 * nn/road.ts: RoAd (Liao & Monz, NeurIPS 2024) as PEFT implements it — applyRoAd against PEFT's own outputs
 * (tests/fixtures/road.json: `_apply_road`, `_get_delta_weight`, the unmerged forward and the merged weights, all six
 * cases), the spec's worked example (multiaxis.md §7.5), the algebra (identity at init, norms under road_1 with α = 1,
 * merge ≡ unmerged, unmerge restores), mixed-adapter batches against a per-row loop, float64 gradchecks of x, θ and α,
 * the frozen base, named adapters, wrapWithRoAd, and the refusals. Float64 unless a test says otherwise.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdamW, DTypeError, Generator, ShapeError, Tensor, ValueError, gradcheck, noGrad, randn } from '../../core/index.js';
import { Linear } from '../../nn/linear.js';
import { GPT } from '../../models/index.js';
import { ROAD_BASE, RoAdLinear, applyRoAd, roadMatrix, wrapWithRoAd, type RoAdVariant } from '../../nn/index.js';
import { assertClose } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';
import { assertRefused } from '../helpers/refusal.js';

const VARIANTS: readonly RoAdVariant[] = ['road_1', 'road_2', 'road_4'];
const sizeOf = (variant: RoAdVariant, out: number): number => (variant === 'road_1' ? out / 2 : variant === 'road_2' ? out : 2 * out);
const f64 = (values: ArrayLike<number>, shape: readonly number[], requiresGrad = false): Tensor => new Tensor(Float64Array.from(values), shape, requiresGrad);

/** A float64 Linear with seeded weights (and bias unless `bias` is false). */
function linear(inF: number, out: number, seed: number, bias = true): Linear {
  return new Linear(inF, out, { dtype: 'float64', generator: new Generator(seed), bias });
}

/** A RoAdLinear with random θ, α (PEFT's init_weights=False). */
function randomRoAd(inF: number, out: number, variant: RoAdVariant, groupSize: number, seed: number, bias = true): RoAdLinear {
  return new RoAdLinear(linear(inF, out, seed, bias), { variant, groupSize, initWeights: false, generator: new Generator(seed + 1000) });
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

// ── PEFT's vectors ──────────────────────────────────────────────────────────────────────────────────────────────

interface RoadCase {
  name: string;
  variant: RoAdVariant;
  group_size: number;
  road_theta: number[];
  road_alpha: number[];
  first_col: number[];
  second_col: number[];
  apply_road_on_x: number[][];
  linear_forward: number[][];
  delta_weight_R: number[][];
  merged_weight: number[][];
  merged_bias: number[];
}
const fixture = JSON.parse(readFileSync(join(process.cwd(), 'tests/fixtures/road.json'), 'utf8')) as {
  inputs: { features: number; x: number[][]; W: number[][]; bias: number[]; base_out: number[][] };
  cases: RoadCase[];
};
const FX = fixture.inputs.features;
const fxX = f64(fixture.inputs.x.flat(), [fixture.inputs.x.length, FX]);

/** The fixture's base Linear (W, b) wrapped with the case's θ, α. */
function fixtureLayer(c: RoadCase): RoAdLinear {
  const base = linear(FX, FX, 0);
  base.weight.data.set(fixture.inputs.W.flat());
  base.bias!.data.set(fixture.inputs.bias);
  const layer = new RoAdLinear(base, { variant: c.variant, groupSize: c.group_size });
  const a = layer.getAdapter('default');
  a.theta.data.set(c.road_theta);
  a.alpha.data.set(c.road_alpha);
  return layer;
}

test('PEFT vectors: applyRoAd = _apply_road, roadMatrix = _get_delta_weight (columns included), for all six cases', () => {
  assert.is(fixture.cases.length, 6);
  for (const c of fixture.cases) {
    const options = { variant: c.variant, groupSize: c.group_size, theta: f64(c.road_theta, [c.road_theta.length]), alpha: f64(c.road_alpha, [c.road_alpha.length]) };
    assert.is(c.road_theta.length, sizeOf(c.variant, FX), `${c.name}: param size`);
    assertClose(applyRoAd(fxX, options).data, c.apply_road_on_x.flat(), { atol: 1e-12, rtol: 0 }, `${c.name} apply_road_on_x`);
    const R = roadMatrix({ ...options, outFeatures: FX });
    assertClose(R.data, c.delta_weight_R.flat(), { atol: 1e-12, rtol: 0 }, `${c.name} delta_weight_R`);
    // PEFT's columns are R's diagonal and (with rotate-half's sign) its pair entries
    const g = c.group_size;
    for (let e = 0; e < FX; e++) {
      const first = e % g < g / 2;
      const p = first ? e + g / 2 : e - g / 2;
      assert.ok(Math.abs(R.data[e * FX + e]! - c.first_col[e]!) < 1e-12, `${c.name} first_col[${e}]`);
      assert.ok(Math.abs(R.data[e * FX + p]! - (first ? -1 : 1) * c.second_col[e]!) < 1e-12, `${c.name} second_col[${e}]`);
    }
  }
});

test('PEFT vectors: RoAdLinear unmerged = Linear.forward, merged weight and bias = R W and R b, merged forward agrees', () => {
  for (const c of fixture.cases) {
    const layer = fixtureLayer(c);
    const unmerged = layer.forward(fxX);
    assertClose(unmerged.data, c.linear_forward.flat(), { atol: 1e-12, rtol: 0 }, `${c.name} linear_forward`);
    layer.merge();
    assertClose(layer.weight.data, c.merged_weight.flat(), { atol: 1e-12, rtol: 0 }, `${c.name} merged_weight`);
    assertClose(layer.bias!.data, c.merged_bias, { atol: 1e-12, rtol: 0 }, `${c.name} merged_bias`);
    assertClose(layer.forward(fxX).data, c.linear_forward.flat(), { atol: 1e-12, rtol: 0 }, `${c.name} merged forward`);
  }
});

// ── the spec's worked example (§7.5, §0.4) ──────────────────────────────────────────────────────────────────────

test('worked example: pair (1, 2), θ = π/6, α = 1.5 → (−0.200962, 3.348076); out 8, g 4 → the spec\'s z', () => {
  const pair = applyRoAd(f64([1, 2], [2]), { variant: 'road_1', groupSize: 2, theta: f64([Math.PI / 6], [1]), alpha: f64([1.5], [1]) });
  assertClose(pair.data, [-0.200962, 3.348076], { atol: 5e-7, rtol: 0 }, 'pair');
  const z = applyRoAd(f64([1, 2, 3, 4, 5, 6, 7, 8], [8]), {
    variant: 'road_1', groupSize: 4, theta: f64([0.1, 0.2, 0.3, 0.4], [4]), alpha: f64([1, 2, 0.5, 1.5], [4]),
  });
  assertClose(z.data, [0.695504, 2.330912, 3.084846, 8.63521, 1.35402, 3.616529, 4.082478, 14.557497], { atol: 5e-7, rtol: 0 }, 'z');
  // and ∂z/∂α = R(θ)x, ∂z/∂θ = (−z_b, z_a) for the pair (§0.4): one backward per output
  for (const [k, dAlpha, dTheta] of [[0, -0.133975, -3.348076], [1, 2.232051, -0.200962]] as const) {
    const theta = f64([Math.PI / 6], [1], true);
    const alpha = f64([1.5], [1], true);
    applyRoAd(f64([1, 2], [2]), { variant: 'road_1', groupSize: 2, theta, alpha }).narrow(0, k, 1).sum().backward();
    assertClose([alpha.grad!.data[0]!, theta.grad!.data[0]!], [dAlpha, dTheta], { atol: 5e-7, rtol: 0 }, `∂z_${k}`);
  }
});

// ── the algebra ─────────────────────────────────────────────────────────────────────────────────────────────────

/** A draw of a layer geometry: variant, group size g, groups, in features, leading shape. */
const geometryArb = fc.record({
  variant: fc.constantFrom<RoAdVariant>(...VARIANTS),
  half: fc.integer({ min: 1, max: 4 }),
  groups: fc.integer({ min: 1, max: 3 }),
  inF: fc.integer({ min: 1, max: 5 }),
  lead: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }),
  seed: fc.integer({ min: 0, max: 1 << 20 }),
  bias: fc.boolean(),
});

test('identity at init (θ = 0, α = 1): RoAdLinear equals its base layer exactly, every variant', () => {
  fc.assert(
    fc.property(geometryArb, ({ variant, half, groups, inF, lead, seed, bias }) => {
      const g = 2 * half;
      const layer = new RoAdLinear(linear(inF, g * groups, seed, bias), { variant, groupSize: g });
      const x = randn([...lead, inF], { dtype: 'float64', generator: new Generator(seed) });
      assert.equal(Array.from(layer.forward(x).data), Array.from(layer.base.forward(x).data));
    }),
    fcParams(40),
  );
});

test('merged == unmerged, and unmerge restores W and b (random θ, α; with and without bias)', () => {
  fc.assert(
    fc.property(geometryArb, ({ variant, half, groups, inF, lead, seed, bias }) => {
      const g = 2 * half;
      const layer = randomRoAd(inF, g * groups, variant, g, seed, bias);
      const w0 = Float64Array.from(layer.weight.data);
      const b0 = layer.bias === null ? null : Float64Array.from(layer.bias.data);
      const x = randn([...lead, inF], { dtype: 'float64', generator: new Generator(seed) });
      const unmerged = layer.forward(x);
      layer.merge();
      assert.ok(layer.merged);
      assert.ok(maxAbsDiff(layer.weight.data, w0) > 0, 'merge changed W');
      assertClose(layer.forward(x).data, unmerged.data, { atol: 1e-12, rtol: 1e-12 }, 'merged forward');
      layer.unmerge();
      assert.not.ok(layer.merged);
      assertClose(layer.weight.data, w0, { atol: 1e-10, rtol: 1e-10 }, 'W restored');
      if (b0 !== null) assertClose(layer.bias!.data, b0, { atol: 1e-10, rtol: 1e-10 }, 'b restored');
      assertClose(layer.forward(x).data, unmerged.data, { atol: 1e-10, rtol: 1e-10 }, 'unmerged forward again');
    }),
    fcParams(40),
  );
});

test('unmerge inverts the R that was merged, even if θ, α changed while merged', () => {
  const layer = randomRoAd(3, 8, 'road_4', 4, 5);
  const w0 = Float64Array.from(layer.weight.data);
  layer.merge();
  layer.getAdapter('default').theta.data.fill(0.3);
  layer.unmerge();
  assertClose(layer.weight.data, w0, { atol: 1e-12, rtol: 1e-12 }, 'W restored');
});

test('road_1 with α = 1 preserves every pair\'s norm (so ‖z‖ = ‖h‖); road_1 with θ = 0 scales each pair by its α', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 1 << 20 }), (half, groups, seed) => {
      const g = 2 * half;
      const out = g * groups;
      const gen = new Generator(seed);
      const h = randn([2, out], { dtype: 'float64', generator: gen });
      const theta = randn([out / 2], { dtype: 'float64', generator: gen, std: 2 });
      const ones = f64(new Float64Array(out / 2).fill(1), [out / 2]);
      const z = applyRoAd(h, { variant: 'road_1', groupSize: g, theta, alpha: ones });
      const alpha = randn([out / 2], { dtype: 'float64', generator: gen });
      const scaled = applyRoAd(h, { variant: 'road_1', groupSize: g, theta: f64(new Float64Array(out / 2), [out / 2]), alpha });
      for (let r = 0; r < 2; r++) {
        for (let e = 0; e < out; e++) {
          if (e % g >= g / 2) continue;
          const [a, b] = [r * out + e, r * out + e + g / 2];
          const k = Math.floor(e / g) * (g / 2) + (e % g); // the pair's parameter index
          const n0 = Math.hypot(h.data[a]!, h.data[b]!);
          assert.ok(Math.abs(Math.hypot(z.data[a]!, z.data[b]!) - n0) <= 1e-12 * (1 + n0), `pair (${e}, ${e + g / 2}) norm`);
          assert.ok(Math.abs(scaled.data[a]! - alpha.data[k]! * h.data[a]!) <= 1e-12 && Math.abs(scaled.data[b]! - alpha.data[k]! * h.data[b]!) <= 1e-12, 'θ = 0 scales');
        }
      }
      assert.ok(maxAbsDiff(z.data, h.data) > 0 || theta.data.every((t) => t === 0), 'the rotation moved h');
    }),
    fcParams(40),
  );
});

// ── mixed-adapter batches ───────────────────────────────────────────────────────────────────────────────────────

test('mixed batch == the rows run one by one with their adapter; __base__ rows == the base layer (mixed variants and group sizes)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1 << 20 }),
      fc.array(fc.constantFrom('default', 'two', 'four', ROAD_BASE), { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 1, max: 3 }),
      (seed, names, T) => {
        const layer = randomRoAd(3, 8, 'road_1', 4, seed);
        layer.addAdapter('two', { variant: 'road_2', groupSize: 8, initWeights: false, generator: new Generator(seed + 1) });
        layer.addAdapter('four', { variant: 'road_4', groupSize: 2, initWeights: false, generator: new Generator(seed + 2) });
        const B = names.length;
        const x = randn([B, T, 3], { dtype: 'float64', generator: new Generator(seed) });
        const mixed = layer.forward(x, { adapterNames: names });
        const base = layer.base.forward(x);
        names.forEach((name, r) => {
          const row = x.narrow(0, r, 1);
          let expected: Tensor;
          if (name === ROAD_BASE) expected = base.narrow(0, r, 1);
          else {
            layer.setActiveAdapter(name);
            expected = layer.forward(row);
          }
          assertClose(mixed.narrow(0, r, 1).data, expected.data, { atol: 1e-13, rtol: 1e-13 }, `row ${r} (${name})`);
        });
        layer.setActiveAdapter('default');
      },
    ),
    fcParams(40),
  );
});

test('mixed batch: the batch of one adapter equals forward with it active; gradients reach only the adapters used', () => {
  const layer = randomRoAd(4, 8, 'road_2', 4, 3);
  layer.addAdapter('b', { variant: 'road_1', groupSize: 8, initWeights: false, generator: new Generator(9) });
  layer.addAdapter('unused', { initWeights: false, groupSize: 4, generator: new Generator(10) });
  const x = randn([3, 4], { dtype: 'float64', generator: new Generator(1) });
  assertClose(layer.forward(x, { adapterNames: ['default', 'default', 'default'] }).data, layer.forward(x).data, { atol: 0, rtol: 0 }, 'all default');
  assert.equal(Array.from(layer.forward(x, { adapterNames: [ROAD_BASE, ROAD_BASE, ROAD_BASE] }).data), Array.from(layer.base.forward(x).data));
  const theta = (n: string) => layer.getAdapter(n).theta;
  for (const n of ['b', 'unused']) theta(n).requiresGrad = true; // let gradients reach the inactive adapters if they are used
  layer.forward(x, { adapterNames: ['b', ROAD_BASE, 'default'] }).square().sum().backward();
  assert.ok(theta('default').grad !== null && theta('b').grad !== null, 'used adapters get gradients');
  assert.is(theta('unused').grad, null, 'an unused adapter gets none');
  assert.is(layer.weight.grad, null, 'the frozen base gets none');
});

// ── gradients ───────────────────────────────────────────────────────────────────────────────────────────────────

test('gradcheck (float64): applyRoAd in x, θ and α, every variant', () => {
  for (const variant of VARIANTS) {
    for (const g of [2, 4]) {
      const out = 8;
      const gen = new Generator(g * 7 + variant.length);
      const n = sizeOf(variant, out);
      const x = randn([2, 3, out], { dtype: 'float64', generator: gen });
      const theta = randn([n], { dtype: 'float64', generator: gen });
      const alpha = randn([n], { dtype: 'float64', generator: gen, mean: 1 });
      for (const t of [x, theta, alpha]) t.requiresGrad = true;
      gradcheck((a, th, al) => applyRoAd(a!, { variant, groupSize: g, theta: th!, alpha: al! }), [x, theta, alpha]);
    }
  }
});

test('gradcheck (float64): RoAdLinear in x and the adapter\'s θ, α — single adapter and mixed batch', () => {
  for (const variant of VARIANTS) {
    const layer = randomRoAd(3, 8, variant, 4, 11);
    layer.addAdapter('other', { variant: 'road_2', groupSize: 8, initWeights: false, generator: new Generator(2) });
    const x = randn([3, 2, 3], { dtype: 'float64', generator: new Generator(4) });
    x.requiresGrad = true;
    const { theta, alpha } = layer.getAdapter('default');
    gradcheck((a) => layer.forward(a!), [x]);
    gradcheck(() => layer.forward(x.detach()), [theta, alpha]);
    const other = layer.getAdapter('other');
    other.theta.requiresGrad = true;
    other.alpha.requiresGrad = true;
    gradcheck((a) => layer.forward(a!, { adapterNames: ['other', ROAD_BASE, 'default'] }), [x]);
    gradcheck(() => layer.forward(x.detach(), { adapterNames: ['other', 'default', 'other'] }), [theta, alpha, other.theta, other.alpha]);
  }
});

// ── the frozen base, named adapters ─────────────────────────────────────────────────────────────────────────────

test('the base does not train: no gradient, an optimizer over parameters() leaves W and b, only the active adapter requires grad', () => {
  const layer = randomRoAd(4, 8, 'road_1', 4, 1);
  layer.addAdapter('second', { groupSize: 8 });
  assert.not.ok(layer.weight.requiresGrad);
  assert.not.ok(layer.bias!.requiresGrad);
  assert.ok(layer.getAdapter('default').theta.requiresGrad && layer.getAdapter('default').alpha.requiresGrad);
  assert.not.ok(layer.getAdapter('second').theta.requiresGrad, 'an added adapter is inactive');
  assert.equal(layer.namedParameters().map(([n]) => n), [
    'base.weight', 'base.bias', 'adapters.default.theta', 'adapters.default.alpha', 'adapters.second.theta', 'adapters.second.alpha',
  ]);
  const w0 = Float64Array.from(layer.weight.data);
  const theta0 = Float64Array.from(layer.getAdapter('default').theta.data);
  const opt = new AdamW(layer.parameters(), { lr: 0.1, weightDecay: 0.1 });
  const x = randn([5, 4], { dtype: 'float64', generator: new Generator(2) });
  layer.forward(x).square().sum().backward();
  assert.is(layer.weight.grad, null);
  assert.is(layer.getAdapter('second').theta.grad, null);
  opt.step();
  assert.equal(Array.from(layer.weight.data), Array.from(w0), 'W unchanged');
  assert.ok(maxAbsDiff(layer.getAdapter('default').theta.data, theta0) > 0, 'θ trained');
  layer.setActiveAdapter('second');
  assert.is(layer.activeAdapter, 'second');
  assert.ok(layer.getAdapter('second').theta.requiresGrad && !layer.getAdapter('default').theta.requiresGrad);
});

test('named adapters: the active one is applied, merge folds the active one, adapterNames lists them in order', () => {
  const layer = randomRoAd(3, 8, 'road_1', 8, 6);
  layer.addAdapter('b', { variant: 'road_4', groupSize: 4, initWeights: false, generator: new Generator(3) });
  assert.equal(layer.adapterNames, ['default', 'b']);
  const x = randn([2, 3], { dtype: 'float64', generator: new Generator(8) });
  const yDefault = layer.forward(x);
  layer.setActiveAdapter('b');
  const yB = layer.forward(x);
  assert.ok(maxAbsDiff(yDefault.data, yB.data) > 1e-3, 'the adapters differ');
  const b = layer.getAdapter('b');
  assertClose(yB.data, applyRoAd(layer.base.forward(x), { variant: 'road_4', groupSize: 4, theta: b.theta, alpha: b.alpha }).data, { atol: 0, rtol: 0 }, 'b applied');
  layer.merge();
  assertClose(layer.forward(x).data, yB.data, { atol: 1e-12, rtol: 1e-12 }, 'merged b');
});

test('float32 layers: identity at init is exact, merge/unmerge round-trips within float32 rounding', () => {
  const base = new Linear(6, 8, { generator: new Generator(1) });
  const layer = new RoAdLinear(base, { variant: 'road_2', groupSize: 4 });
  const x = randn([3, 6], { generator: new Generator(2) });
  assert.equal(Array.from(layer.forward(x).data), Array.from(base.forward(x).data));
  const a = layer.getAdapter('default');
  a.theta.data.set(randn([8], { generator: new Generator(3) }).data);
  const w0 = Float32Array.from(layer.weight.data);
  const y = layer.forward(x);
  layer.merge();
  assertClose(layer.forward(x).data, y.data, { atol: 1e-5, rtol: 1e-5 }, 'merged');
  layer.unmerge();
  assertClose(layer.weight.data, w0, { atol: 1e-6, rtol: 1e-6 }, 'restored');
});

// ── wrapping a model ────────────────────────────────────────────────────────────────────────────────────────────

test('wrapWithRoAd: wraps q/k/v/o of every block, the model is unchanged at init, only the adapters train', () => {
  const model = new GPT({ vocabSize: 11, contextLength: 8, dim: 8, numLayers: 2, numHeads: 2, positional: 'rope', seed: 1 });
  const ids = f64([1, 2, 3, 4, 5, 6], [1, 6]);
  const before = noGrad(() => model.forward(ids));
  const wrapped = wrapWithRoAd(model, { select: /attn\.w[qkvo]$/, groupSize: 4 });
  assert.equal(wrapped.map(([n]) => n), ['blocks.0.attn.wq', 'blocks.0.attn.wk', 'blocks.0.attn.wv', 'blocks.0.attn.wo', 'blocks.1.attn.wq', 'blocks.1.attn.wk', 'blocks.1.attn.wv', 'blocks.1.attn.wo']);
  assert.ok(model.blocks[0]!.attn.wq instanceof RoAdLinear);
  assert.equal(Array.from(noGrad(() => model.forward(ids)).data), Array.from(before.data));
  const trainable = model.namedParameters().filter(([, p]) => p.requiresGrad);
  assert.is(trainable.length, 16);
  assert.ok(trainable.every(([n]) => /attn\.w[qkvo]\.adapters\.default\.(theta|alpha)$/.test(n)), trainable.map(([n]) => n).join(', '));
  assert.is(trainable.reduce((s, [, p]) => s + p.size, 0), 8 * 8, 'road_1: out numbers per layer, 8 layers of 8 outputs');
  model.loss(ids, f64([2, 3, 4, 5, 6, 7], [1, 6])).backward();
  assert.ok(model.parameters().every((p) => (p.grad !== null) === p.requiresGrad), 'gradients exactly on the adapters');
});

test('wrapWithRoAd refusals change nothing: no match, a group size that does not divide some target', () => {
  const model = new GPT({ vocabSize: 11, contextLength: 8, dim: 8, numLayers: 1, numHeads: 2, numKVHeads: 1, positional: 'rope', seed: 1 });
  assertRefused(() => wrapWithRoAd(model, { select: /nothing/ }), ValueError, 'wrapWithRoAd', { arg: 'select' });
  // wq has 8 outputs, wk 4 (one KV head of 4): 8 divides wq only
  assertRefused(() => wrapWithRoAd(model, { select: /attn\.w[qk]$/, groupSize: 8 }), ValueError, 'wrapWithRoAd', { arg: 'groupSize', words: ['blocks.0.attn.wk'] });
  assert.ok(model.blocks[0]!.attn.wq instanceof Linear && !(model.blocks[0]!.attn.wq instanceof RoAdLinear), 'wq not wrapped');
  assert.ok(model.parameters().every((p) => p.requiresGrad), 'nothing frozen');
  assertRefused(() => wrapWithRoAd(model, { select: 'wq' as unknown as RegExp }), DTypeError, 'wrapWithRoAd', { arg: 'select' });
});

// ── refusals ────────────────────────────────────────────────────────────────────────────────────────────────────

test('applyRoAd refusals: odd / non-dividing / NaN group size, wrong θ size, dtype mismatch, NaN θ, bad variant', () => {
  const x = randn([2, 8], { dtype: 'float64', generator: new Generator(1) });
  const t = (n: number, v = 0.1) => f64(new Float64Array(n).fill(v), [n]);
  const ok = { variant: 'road_1' as RoAdVariant, groupSize: 4, theta: t(4), alpha: t(4, 1) };
  assert.equal(applyRoAd(x, ok).shape, [2, 8]);
  const op = 'applyRoAd';
  assertRefused(() => applyRoAd(x, { ...ok, groupSize: 3 }), ValueError, op, { arg: 'groupSize', words: ['even'] });
  assertRefused(() => applyRoAd(x, { ...ok, groupSize: 6 }), ValueError, op, { arg: 'groupSize', words: ['divide'] });
  assertRefused(() => applyRoAd(x, { ...ok, groupSize: NaN }), ValueError, op, { arg: 'groupSize' });
  assertRefused(() => applyRoAd(x, { ...ok, groupSize: 0 }), ValueError, op, { arg: 'groupSize' });
  assertRefused(() => applyRoAd(x, { ...ok, theta: t(8) }), ShapeError, op, { arg: 'theta', words: ['[4]'] });
  assertRefused(() => applyRoAd(x, { ...ok, variant: 'road_2' }), ShapeError, op, { arg: 'theta', words: ['[8]'] });
  assertRefused(() => applyRoAd(x, { ...ok, alpha: t(5) }), ShapeError, op, { arg: 'alpha' });
  assertRefused(() => applyRoAd(x, { ...ok, theta: f64([0.1, NaN, 0, 0], [4]) }), ValueError, op, { arg: 'theta', words: ['finite'] });
  assertRefused(() => applyRoAd(x, { ...ok, alpha: f64([1, 1, Infinity, 1], [4]) }), ValueError, op, { arg: 'alpha' });
  assertRefused(() => applyRoAd(x, { ...ok, theta: new Tensor(new Float32Array(4), [4]) }), DTypeError, op, { arg: 'theta' });
  assertRefused(() => applyRoAd(x, { ...ok, variant: 'road_3' as RoAdVariant }), ValueError, op, { arg: 'variant' });
  assertRefused(() => applyRoAd(x, { variant: 'road_1', groupSize: 4, theta: t(4) } as never), DTypeError, op, { arg: 'alpha' });
  assertRefused(() => applyRoAd(new Tensor(new Float64Array([1]), []), ok), ShapeError, op, { arg: 'x' });
  assertRefused(() => roadMatrix({ ...ok, outFeatures: 6 }), ValueError, 'roadMatrix', { arg: 'groupSize' });
});

test('RoAdLinear refusals: bad base/options, duplicate or reserved names, unknown adapter, mixed batch while merged or mis-sized, merge twice', () => {
  const op = 'RoAdLinear';
  assertRefused(() => new RoAdLinear({} as Linear), DTypeError, op, { arg: 'base' });
  assertRefused(() => new RoAdLinear(linear(3, 8, 1), { groupSize: 16 }), ValueError, op, { arg: 'groupSize' });
  assertRefused(() => new RoAdLinear(linear(3, 8, 1), { groupSize: 5 }), ValueError, op, { arg: 'groupSize' });
  assertRefused(() => new RoAdLinear(linear(3, 8, 1), { groupSize: 4, adapterName: ROAD_BASE }), ValueError, op, { arg: 'adapterName' });
  assertRefused(() => new RoAdLinear(linear(3, 8, 1), { groupSize: 4, adapterName: 'a.b' }), ValueError, op, { arg: 'adapterName' });
  assertRefused(() => new RoAdLinear(linear(3, 8, 1), { groupSize: 4, adapterName: 'training' }), ValueError, op, { arg: 'adapterName', words: ['reserved'] });
  assertRefused(() => new RoAdLinear(linear(3, 8, 1), { groupSize: 4, bogus: 1 } as never), ValueError, op);
  const base = linear(3, 8, 1);
  assertRefused(() => new RoAdLinear(base, { groupSize: 3 }), ValueError, op);
  assert.ok(base.weight.requiresGrad, 'a refused wrap leaves the base trainable');

  const layer = randomRoAd(3, 8, 'road_1', 4, 2);
  assertRefused(() => layer.addAdapter('default'), ValueError, 'RoAdLinear.addAdapter', { arg: 'name', words: ['exists'] });
  assertRefused(() => layer.addAdapter('constructor'), ValueError, 'RoAdLinear.addAdapter', { arg: 'name' });
  assertRefused(() => layer.addAdapter('x', { groupSize: 6 }), ValueError, 'RoAdLinear.addAdapter', { arg: 'groupSize' });
  assert.equal(layer.adapterNames, ['default'], 'refused adds add nothing');
  assertRefused(() => layer.setActiveAdapter('nope'), ValueError, 'RoAdLinear.setActiveAdapter', { arg: 'name' });
  assertRefused(() => layer.getAdapter('nope'), ValueError, 'RoAdLinear.getAdapter', { arg: 'name' });

  const fwd = 'RoAdLinear.forward';
  const x = randn([2, 3], { dtype: 'float64', generator: new Generator(1) });
  assertRefused(() => layer.forward(x, { adapterNames: ['default', 'nope'] }), ValueError, fwd, { arg: 'options.adapterNames', words: ['nope'] });
  assertRefused(() => layer.forward(x, { adapterNames: ['default'] }), ShapeError, fwd, { arg: 'options.adapterNames' });
  assertRefused(() => layer.forward(f64([1, 2, 3], [3]), { adapterNames: ['default'] }), ShapeError, fwd, { arg: 'options.adapterNames' });
  assertRefused(() => layer.forward(x, { adapterNames: ['default', 3 as unknown as string] }), DTypeError, fwd);
  assertRefused(() => layer.forward(x, { adapterNames: 'default' as never }), DTypeError, fwd);
  assertRefused(() => layer.forward(randn([2, 4], { dtype: 'float64' })), ShapeError, fwd, { arg: 'x' });
  assertRefused(() => layer.forward(randn([2, 3])), DTypeError, fwd, { arg: 'x' });
  layer.getAdapter('default').alpha.data[1] = NaN;
  assertRefused(() => layer.forward(x), ValueError, fwd, { words: ['alpha'] });
  assertRefused(() => layer.merge(), ValueError, 'RoAdLinear.merge', { words: ['alpha'] });
  assert.not.ok(layer.merged);
  layer.getAdapter('default').alpha.data[1] = 1;

  assertRefused(() => layer.unmerge(), ValueError, 'RoAdLinear.unmerge');
  layer.merge();
  assertRefused(() => layer.forward(x, { adapterNames: ['default', ROAD_BASE] }), ValueError, fwd, { arg: 'options.adapterNames', words: ['merged'] });
  assertRefused(() => layer.merge(), ValueError, 'RoAdLinear.merge', { words: ['already'] });
  assertRefused(() => layer.setActiveAdapter('default'), ValueError, 'RoAdLinear.setActiveAdapter', { words: ['merged'] });
  layer.unmerge();
  assert.equal(layer.forward(x, { adapterNames: ['default', ROAD_BASE] }).shape, [2, 8]);
});

test('merge refuses a singular adapter (α = 0 on a pair) and leaves the weights as they were', () => {
  const layer = randomRoAd(3, 8, 'road_1', 4, 3);
  const w0 = Float64Array.from(layer.weight.data);
  layer.getAdapter('default').alpha.data[2] = 0;
  assertRefused(() => layer.merge(), ValueError, 'RoAdLinear.merge', { words: ['singular'] });
  assert.not.ok(layer.merged);
  assert.equal(Array.from(layer.weight.data), Array.from(w0));
});

test.run();
