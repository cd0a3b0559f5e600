/**
 * models/mmdit.ts: the tiny FLUX-style MMDiT. Position ids ([text zeros; (0, r, c)]), the FLUX axes scaled to a head,
 * patch/unpatch consistency (at init the blocks are the identity, so a pixel's velocity depends on its own patch only),
 * the rectified-flow loss against its formula, Euler sampling (one step = noise − v), determinism and hooks, a float64
 * gradcheck of forward and backward, the loss decreasing on a tiny run, and refusals.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AdamW, DTypeError, Generator, IndexError, ShapeError, Tensor, ValueError, gradcheck, noGrad, randn } from '../../core/index.js';
import { MMDiT, fluxAxesFor, type MMDiTConfig } from '../../models/index.js';
import { assertClose } from '../helpers/close.js';
import { assertRefused } from '../helpers/refusal.js';

const TINY: MMDiTConfig = {
  imageSize: 4, patchSize: 2, channels: 1, vocabSize: 5, textLength: 2, dim: 6, numHeads: 1, doubleBlocks: 1, singleBlocks: 1,
  mlpRatio: 1, ropeTheta: 10, seed: 1, dtype: 'float64',
};

function randomise(m: MMDiT, seed: number, select: (name: string) => boolean = () => true): void {
  const g = new Generator(seed);
  for (const [name, p] of m.namedParameters()) if (select(name)) for (let i = 0; i < p.size; i++) p.data[i] = 0.3 * g.normal();
}

const ids = (B: number, L: number, values: number[]): Tensor => new Tensor(Float64Array.from({ length: B * L }, (_, i) => values[i % values.length]!), [B, L]);

test('fluxAxesFor: FLUX [16, 56, 56] at 128, scaled: [4, 6, 6] at 16, [4, 10, 10] at 24; refuses odd or tiny heads', () => {
  assert.equal(fluxAxesFor(128), [16, 56, 56]);
  assert.equal(fluxAxesFor(16), [4, 6, 6]);
  assert.equal(fluxAxesFor(24), [4, 10, 10]);
  assert.equal(fluxAxesFor(6), [2, 2, 2]);
  assertRefused(() => fluxAxesFor(7), ValueError, 'fluxAxesFor', { arg: 'headDim' });
  assertRefused(() => fluxAxesFor(4), ValueError, 'fluxAxesFor', { arg: 'headDim' });
});

test('positionIds: L text rows of zeros, then (0, r, c) in raster order; one tensor per grid', () => {
  const m = new MMDiT(TINY);
  const p = m.positionIds(2, 3);
  assert.equal(p.shape, [2 + 6, 3]);
  assert.equal(Array.from(p.data.subarray(0, 6)), [0, 0, 0, 0, 0, 0]);
  assert.equal(Array.from(p.data.subarray(6)), [0, 0, 0, 0, 0, 1, 0, 0, 2, 0, 1, 0, 0, 1, 1, 0, 1, 2]);
  assert.ok(m.positionIds(2, 3) === p);
  assert.is(m.numAttentionLayers, 2);
  assert.equal(m.config.axesDim, [2, 2, 2]);
});

test('patchify/unpatchify: at init (identity blocks) a pixel change moves the velocity of its own patch only', () => {
  const m = new MMDiT({ ...TINY, imageSize: 6, channels: 2 });
  randomise(m, 2, (n) => n.startsWith('projOut') || n.startsWith('modOut'));
  const g = new Generator(3);
  const x = randn([1, 2, 6, 6], { generator: g, dtype: 'float64' });
  const t = new Tensor(Float64Array.from([0.4]), [1]);
  const text = ids(1, 2, [1, 2]);
  const v0 = noGrad(() => m.forward(x, t, text));
  const y = x.clone();
  y.data[1 * 36 + 3 * 6 + 4] += 1; // channel 1, row 3, column 4: patch (1, 2) of the 3 × 3 grid
  const v1 = noGrad(() => m.forward(y, t, text));
  for (let c = 0; c < 2; c++) {
    for (let r = 0; r < 6; r++) {
      for (let col = 0; col < 6; col++) {
        const i = c * 36 + r * 6 + col;
        const inPatch = Math.floor(r / 2) === 1 && Math.floor(col / 2) === 2;
        const changed = Math.abs(v1.data[i]! - v0.data[i]!) > 1e-12;
        assert.is(changed, inPatch, `channel ${c} pixel (${r}, ${col})`);
      }
    }
  }
});

test('loss: mean (v_θ(x_t, t) − (ε − x0))² with x_t = (1 − t)·x0 + t·ε', () => {
  const m = new MMDiT(TINY);
  randomise(m, 4);
  const g = new Generator(5);
  const x0 = randn([2, 1, 4, 4], { generator: g, dtype: 'float64' });
  const noise = randn([2, 1, 4, 4], { generator: g, dtype: 'float64' });
  const t = new Tensor(Float64Array.from([0.25, 0.9]), [2]);
  const text = ids(2, 2, [1, 3, 2, 4]);
  const loss = noGrad(() => m.loss(x0, text, { t, noise })).item();
  const xt = new Tensor(Float64Array.from(x0.data, (v, i) => (1 - t.data[i < 16 ? 0 : 1]!) * v + t.data[i < 16 ? 0 : 1]! * noise.data[i]!), [2, 1, 4, 4]);
  const v = noGrad(() => m.forward(xt, t, text));
  let se = 0;
  for (let i = 0; i < 32; i++) se += (v.data[i]! - (noise.data[i]! - x0.data[i]!)) ** 2;
  assert.ok(Math.abs(loss - se / 32) < 1e-12, `${loss} vs ${se / 32}`);
});

test('generate: one Euler step is noise − v(noise, t = 1); deterministic; hooks reach every layer at every step', () => {
  const m = new MMDiT(TINY);
  randomise(m, 6);
  const noise = randn([2, 1, 4, 4], { generator: new Generator(7), dtype: 'float64' });
  const text = ids(2, 2, [1, 2, 3, 4]);
  const one = m.generate({ text, noise, steps: 1 });
  const v = noGrad(() => m.forward(noise, new Tensor(Float64Array.from([1, 1]), [2]), text));
  assertClose(one.data, Float64Array.from(noise.data, (z, i) => z - v.data[i]!), { atol: 1e-12, rtol: 0 });
  const a = m.generate({ text, noise, steps: 3 });
  assertClose(m.generate({ text, noise, steps: 3 }).data, a.data, { atol: 0, rtol: 0 });
  const seen: string[] = [];
  const b = m.generate({ text, noise, steps: 3 }, (layer, step) => {
    seen.push(`${layer}@${step}`);
    return undefined;
  });
  assert.equal(seen, ['0@0', '1@0', '0@1', '1@1', '0@2', '1@2']);
  assertClose(b.data, a.data, { atol: 0, rtol: 0 });
  const c = m.generate({ text, noise, steps: 3 }, (layer) => (layer === 1 ? { keys: 'unrotated' } : undefined));
  assert.ok(c.data.some((x, i) => Math.abs(x - a.data[i]!) > 1e-9), 'unrotated keys in layer 1 changed nothing');
  assert.ok(!a.requiresGrad);
});

test('gradcheck (float64): the MMDiT loss through patchify, text, timestep, double and single blocks, output', () => {
  const m = new MMDiT(TINY);
  randomise(m, 8);
  const g = new Generator(9);
  const x0 = randn([1, 1, 4, 4], { generator: g, dtype: 'float64' });
  x0.requiresGrad = true;
  const noise = randn([1, 1, 4, 4], { generator: g, dtype: 'float64' });
  const t = new Tensor(Float64Array.from([0.6]), [1]);
  const text = ids(1, 2, [3, 1]);
  const d = m.doubleBlocks[0]!;
  const s = m.singleBlocks[0]!;
  assert.ok(gradcheck((x) => m.loss(x!, text, { t, noise }), [
    x0, m.txtSlot, m.txtEmbed.weight, m.timeIn1.weight, m.poolIn2.weight, d.attn.txtK.weight, d.attn.imgV.weight, d.imgMod.weight,
    d.txtMlp.fc2.weight, s.wq.weight, s.mod.weight, s.projMlp.weight, m.modOut.weight, m.projOut.weight, m.imgIn.weight,
  ]));
});

test('training: the flow-matching loss decreases on a tiny fixed batch', () => {
  const m = new MMDiT({ ...TINY, dtype: 'float32', dim: 12, numHeads: 2 });
  const g = new Generator(10);
  const x0 = randn([4, 1, 4, 4], { generator: g }).tanh();
  const noise = randn([4, 1, 4, 4], { generator: g });
  const t = new Tensor(Float32Array.from([0.2, 0.4, 0.6, 0.8]), [4]);
  const text = ids(4, 2, [1, 2, 3, 4, 2, 1, 4, 3]);
  const opt = new AdamW(m.parameters(), { lr: 1e-2, weightDecay: 0 });
  const losses: number[] = [];
  for (let step = 0; step < 40; step++) {
    opt.zeroGrad();
    const loss = m.loss(x0, text, { t, noise });
    loss.backward();
    opt.step();
    losses.push(loss.item());
  }
  const first = losses.slice(0, 3).reduce((a, b) => a + b, 0) / 3;
  const last = losses.slice(-3).reduce((a, b) => a + b, 0) / 3;
  assert.ok(last < 0.5 * first, `loss ${first.toFixed(4)} → ${last.toFixed(4)}`);
});

test('refusals: config, inputs, hooks — typed errors named after the call', () => {
  assertRefused(() => new MMDiT({ ...TINY, dim: 7, numHeads: 2 }), ValueError, 'MMDiT', { arg: 'dim' });
  assertRefused(() => new MMDiT({ ...TINY, imageSize: 5 }), ValueError, 'MMDiT', { arg: 'imageSize' });
  assertRefused(() => new MMDiT({ ...TINY, axesDim: [2, 2, 4] }), ValueError, 'MMDiT', { arg: 'axesDim' });
  assertRefused(() => new MMDiT({ ...TINY, axesDim: [3, 1, 2] }), ValueError, 'MMDiT', { arg: 'axesDim' });
  assertRefused(() => new MMDiT({ ...TINY, doubleBlocks: 0, singleBlocks: 0 }), ValueError, 'MMDiT', { arg: 'doubleBlocks' });
  assertRefused(() => new MMDiT({ ...TINY, dim: 8, numHeads: 2 }), ValueError, 'MMDiT', { arg: 'numHeads' }); // head dim 4
  assertRefused(() => new MMDiT({ ...TINY, extra: 1 } as MMDiTConfig), ValueError, 'MMDiT');
  const m = new MMDiT(TINY);
  const x = randn([1, 1, 4, 4], { dtype: 'float64' });
  const t = new Tensor(Float64Array.from([0.5]), [1]);
  const text = ids(1, 2, [1, 2]);
  const f = 'MMDiT.forward';
  assertRefused(() => m.forward(randn([1, 2, 4, 4], { dtype: 'float64' }), t, text), ShapeError, f, { arg: 'x' });
  assertRefused(() => m.forward(randn([1, 1, 3, 4], { dtype: 'float64' }), t, text), ShapeError, f, { arg: 'x' });
  assertRefused(() => m.forward(x.cast('float32'), t, text), DTypeError, f, { arg: 'x' });
  assertRefused(() => m.forward(x, t, ids(1, 3, [1])), ShapeError, f, { arg: 'text' });
  assertRefused(() => m.forward(x, t, ids(1, 2, [5])), ValueError, f, { arg: 'text' });
  assertRefused(() => m.forward(x, new Tensor(Float64Array.from([NaN]), [1]), text), ValueError, f, { arg: 't' });
  assertRefused(() => m.forward(x, new Tensor(Float64Array.from([0.5, 0.5]), [2]), text), ShapeError, f, { arg: 't' });
  assertRefused(() => m.forward(x, t, text, { hooks: () => ({ keys: 'none' as 'rotated' }) }), DTypeError, f, { arg: 'keys' });
  assertRefused(() => m.forward(x, t, text, { hooks: () => 3 as never }), DTypeError, f, { arg: 'hooks' });
  assertRefused(() => m.loss(x, text, { noise: randn([1, 1, 4, 2], { dtype: 'float64' }) }), ShapeError, 'MMDiT.loss', { arg: 'noise' });
  assertRefused(() => m.generate({ text, noise: x, steps: 0 }), ValueError, 'MMDiT.generate', { arg: 'steps' });
  assertRefused(() => m.generate({ text, noise: x } as never), DTypeError, 'MMDiT.generate', { arg: 'steps' });
  assertRefused(() => m.generate({ text, noise: x, steps: 1 }, 'all' as never), DTypeError, 'MMDiT.generate', { arg: 'control' });
  assertRefused(() => m.positionIds(0, 2), ValueError, 'MMDiT.positionIds', { arg: 'gh' });
  void IndexError;
});

test.run();
