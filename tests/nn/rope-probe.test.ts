/**
 * nn/rope-probe.ts (FreeFlux's positional-dependency probe): on a structural toy model, the PSNR formula, the
 * hooks (the probed layer only, every step, 'none' → unrotated keys, shifts passed through), the same inputs for every
 * run, and the ranking; on a tiny MMDiT whose layer ignores RoPE (its query projections zero), that layer's PSNR is +∞
 * and it ranks last (position-independent) while the others are finite; refusals.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DTypeError, Generator, ShapeError, Tensor, ValueError, randn } from '../../core/index.js';
import type { JointAttentionHook } from '../../nn/index.js';
import { probeRopeDependency, type RopeProbeModel } from '../../nn/index.js';
import { MMDiT } from '../../models/index.js';
import { assertRefused } from '../helpers/refusal.js';

/**
 * A toy model of 3 layers and 2 steps: the output (4 numbers) is 0 unless a layer is hooked; layer ℓ hooked with
 * 'unrotated' keys adds e_ℓ·(ℓ + 1)·0.1 at each step; with a shift [a, b] it adds (a + b)·0.01 to element 3.
 */
function toy(log: string[]): RopeProbeModel<{ tag: string }> {
  return {
    numAttentionLayers: 3,
    generate(inputs, control) {
      log.push(inputs.tag);
      const out = new Float64Array(4);
      for (let step = 0; step < 2; step++) {
        for (let layer = 0; layer < 3; layer++) {
          const h: JointAttentionHook | undefined = control?.(layer, step);
          if (h === undefined) continue;
          log.push(`L${layer}S${step}:${JSON.stringify(h.keys)}`);
          if (h.keys === 'unrotated') out[layer] += (layer + 1) * 0.1;
          else if (Array.isArray(h.keys)) out[3] += (h.keys[0]! + h.keys[1]!) * 0.01;
        }
      }
      return new Tensor(out, [4]);
    },
  };
}

test('toy model: PSNR = 10·log10(range²/MSE), hooks on the probed layer at every step, same inputs each run, ranking', () => {
  const log: string[] = [];
  const inputs = { tag: 'in' };
  const r = probeRopeDependency(toy(log), inputs, { manipulations: ['none', [1, 2]], range: 2 });
  assert.equal(r.layers, [0, 1, 2]);
  // layer ℓ, 'none': one element moved by 2·(ℓ + 1)·0.1 → MSE = (0.2(ℓ + 1))²/4
  r.layers.forEach((layer, i) => {
    const mse = (0.2 * (layer + 1)) ** 2 / 4;
    assert.ok(Math.abs(r.psnr[i]![0]! - 10 * Math.log10(4 / mse)) < 1e-9, `layer ${layer} none`);
    const mseShift = (2 * 3 * 0.01) ** 2 / 4;
    assert.ok(Math.abs(r.psnr[i]![1]! - 10 * Math.log10(4 / mseShift)) < 1e-9, `layer ${layer} shift`);
    assert.ok(Math.abs(r.score[i]! - (r.psnr[i]![0]! + r.psnr[i]![1]!) / 2) < 1e-12);
  });
  assert.equal(r.ranking, [2, 1, 0], 'the layer whose corruption moves the output most comes first');
  assert.equal(Array.from(r.baseline.data), [0, 0, 0, 0]);
  // 1 baseline + 3 layers × 2 manipulations runs, each with the same inputs; the probed layer hooked at both steps
  assert.is(log.filter((e) => e === 'in').length, 7);
  const hooks = log.filter((e) => e !== 'in');
  assert.is(hooks.length, 12);
  assert.ok(hooks.includes('L1S0:"unrotated"') && hooks.includes('L1S1:"unrotated"') && hooks.includes('L2S1:[1,2]'));
  // layer subset, ties broken by layer order, unchanged output = +∞
  const sub = probeRopeDependency(toy([]), inputs, { layers: [2, 0], manipulations: [[0, 0]] });
  assert.equal(sub.layers, [2, 0]);
  assert.equal(sub.psnr, [[Infinity], [Infinity]]);
  assert.equal(sub.ranking, [2, 0]);
});

test('a tiny MMDiT whose layer ignores RoPE (query projections zero): that layer has PSNR +∞ and ranks position-independent', () => {
  for (const zeroed of [0, 2]) { // a double-stream layer, a single-stream layer
    const m = new MMDiT({
      imageSize: 8, patchSize: 2, channels: 1, vocabSize: 6, textLength: 2, dim: 12, numHeads: 2, doubleBlocks: 2, singleBlocks: 2, mlpRatio: 1,
      ropeTheta: 10, seed: 3, dtype: 'float64',
    });
    const g = new Generator(4);
    for (const p of m.parameters()) for (let i = 0; i < p.size; i++) p.data[i] = 0.4 * g.normal();
    const zero = (t: Tensor | null): void => {
      if (t !== null) t.data.fill(0);
    };
    if (zeroed < 2) {
      const a = m.doubleBlocks[zeroed]!.attn;
      for (const lin of [a.imgQ, a.txtQ]) [lin.weight, lin.bias].forEach(zero);
    } else {
      const s = m.singleBlocks[zeroed - 2]!;
      [s.wq.weight, s.wq.bias].forEach(zero);
    }
    const inputs = { text: new Tensor(Float64Array.from([1, 2, 3, 4]), [2, 2]), noise: randn([2, 1, 8, 8], { generator: new Generator(5), dtype: 'float64' }), steps: 3 };
    const r = probeRopeDependency(m, inputs, { manipulations: ['none', [0.5, 0.5], [0, 1], [4, 0]] });
    r.layers.forEach((layer, i) => {
      if (layer === zeroed) assert.ok(r.psnr[i]!.every((v) => v === Infinity), `zeroed layer ${layer}: ${r.psnr[i]}`);
      else assert.ok(r.psnr[i]!.every((v) => Number.isFinite(v) && v > 0), `layer ${layer}: ${r.psnr[i]}`);
    });
    assert.is(r.ranking[r.ranking.length - 1], zeroed);
    assert.is(r.score[zeroed], Infinity);
  }
});

test('refusals: typed errors named probeRopeDependency', () => {
  const op = 'probeRopeDependency';
  const model = toy([]);
  const inputs = { tag: 'x' };
  assertRefused(() => probeRopeDependency(null as never, inputs), DTypeError, op, { arg: 'model' });
  assertRefused(() => probeRopeDependency({ numAttentionLayers: 0, generate: model.generate }, inputs), ValueError, op);
  assertRefused(() => probeRopeDependency({ numAttentionLayers: 2 } as never, inputs), DTypeError, op);
  assertRefused(() => probeRopeDependency(model, inputs, { layers: [3] }), ValueError, op);
  assertRefused(() => probeRopeDependency(model, inputs, { layers: [1, 1] }), ValueError, op, { arg: 'layers' });
  assertRefused(() => probeRopeDependency(model, inputs, { layers: [] }), ValueError, op, { arg: 'layers' });
  assertRefused(() => probeRopeDependency(model, inputs, { manipulations: ['shift' as 'none'] }), DTypeError, op, { arg: 'manipulations' });
  assertRefused(() => probeRopeDependency(model, inputs, { manipulations: [[1, NaN]] }), ValueError, op);
  assertRefused(() => probeRopeDependency(model, inputs, { range: 0 }), ValueError, op, { arg: 'range' });
  assertRefused(() => probeRopeDependency(model, inputs, { other: 1 } as never), ValueError, op);
  assertRefused(() => probeRopeDependency({ numAttentionLayers: 1, generate: () => 3 as never }, inputs), DTypeError, op, { arg: 'model' });
  let calls = 0;
  const unstable: RopeProbeModel<null> = { numAttentionLayers: 1, generate: () => new Tensor(new Float64Array(++calls), [calls]) };
  assertRefused(() => probeRopeDependency(unstable, null, { manipulations: ['none'] }), ShapeError, op, { arg: 'model' });
  const bad: RopeProbeModel<null> = { numAttentionLayers: 1, generate: () => new Tensor(Float64Array.from([NaN]), [1]) };
  assertRefused(() => probeRopeDependency(bad, null), ValueError, op);
});

test.run();
