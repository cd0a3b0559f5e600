/**
 * LoRA (nn/lora.ts; Hu et al. 2022 Eq. 3, PEFT lora.Linear): the wrapped layer starts as the base exactly, equals the
 * dense x(W + γBA)ᵀ + b once B is non-zero, its scale is α/r (α/√r with rsLoRA), the float64 gradients are right,
 * wrapWithLoRA freezes everything but A and B, and refusals change nothing. Float64 unless a test says otherwise.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DTypeError, Generator, ShapeError, Tensor, ValueError, gradcheck, matmul, noGrad, randn } from '../../core/index.js';
import { GPT } from '../../models/index.js';
import { MultiHeadAttention } from '../../nn/attention.js';
import { Linear } from '../../nn/linear.js';
import { LoRALinear, wrapWithLoRA } from '../../nn/lora.js';
import { assertClose } from '../helpers/close.js';
import { assertRefused } from '../helpers/refusal.js';

const linear = (inF: number, outF: number, seed: number): Linear => new Linear(inF, outF, { dtype: 'float64', generator: new Generator(seed) });

/** A LoRA layer with B drawn at random (B = 0 at init would hide A's part of the product). */
function randomLoRA(inF: number, outF: number, rank: number, seed: number, options: { alpha?: number; rsLoRA?: boolean } = {}): LoRALinear {
  const layer = new LoRALinear(linear(inF, outF, seed), { rank, generator: new Generator(seed + 1), ...options });
  layer.loraB.data.set(randn([outF, rank], { dtype: 'float64', generator: new Generator(seed + 2) }).data);
  return layer;
}

test('LoRALinear starts as its base layer exactly (B = 0) and A is drawn from U(±1/√in)', () => {
  const base = linear(6, 5, 1);
  const x = randn([3, 6], { dtype: 'float64', generator: new Generator(9) });
  const y0 = noGrad(() => base.forward(x));
  const layer = new LoRALinear(base, { rank: 2, generator: new Generator(2) });
  assert.equal(Array.from(noGrad(() => layer.forward(x)).data), Array.from(y0.data));
  assert.equal(layer.loraA.shape, [2, 6]);
  assert.equal(layer.loraB.shape, [5, 2]);
  assert.ok(Array.from(layer.loraA.data).every((a) => Math.abs(a) <= 1 / Math.sqrt(6)) && Array.from(layer.loraA.data).some((a) => a !== 0));
  assert.ok(Array.from(layer.loraB.data).every((b) => b === 0));
});

test('LoRALinear.forward = x (W + γ B A)ᵀ + b with γ = α/r, or α/√r with rsLoRA; deltaWeight is γ B A', () => {
  for (const [options, gamma] of [[{}, 8 / 3], [{ alpha: 6 }, 2], [{ alpha: 6, rsLoRA: true }, 6 / Math.sqrt(3)]] as const) {
    const layer = randomLoRA(7, 4, 3, 5, options);
    assert.ok(Math.abs(layer.scale - gamma) < 1e-15, `scale ${layer.scale} vs ${gamma}`);
    const x = randn([2, 3, 7], { dtype: 'float64', generator: new Generator(4) });
    const dense = noGrad(() => matmul(layer.loraB, layer.loraA).mul(gamma).add(layer.weight));
    const expected = noGrad(() => matmul(x, dense, { transposeB: true }).add(layer.bias!));
    assertClose(noGrad(() => layer.forward(x)).data, expected.data, { atol: 1e-12, rtol: 1e-12 }, JSON.stringify(options));
    assertClose(noGrad(() => layer.deltaWeight().add(layer.weight)).data, dense.data, { atol: 1e-12, rtol: 1e-12 }, 'deltaWeight');
  }
});

test('LoRALinear gradients (float64 gradcheck) for x, A and B; the base gets none', () => {
  const layer = randomLoRA(5, 4, 2, 11, { alpha: 3 });
  const x = randn([3, 5], { dtype: 'float64', generator: new Generator(12) });
  x.requiresGrad = true;
  gradcheck((a) => layer.forward(a!), [x]);
  gradcheck(() => layer.forward(x.detach()), [layer.loraA, layer.loraB]);
  layer.forward(x).sum().backward();
  assert.ok(layer.weight.grad === null && layer.bias!.grad === null, 'the base is frozen');
  assert.ok(layer.loraA.grad !== null && layer.loraB.grad !== null);
});

test('wrapWithLoRA: wraps the selected Linears of every block, the model is unchanged at init, only A and B train', () => {
  const model = new GPT({ vocabSize: 11, contextLength: 8, dim: 8, numLayers: 2, numHeads: 2, positional: 'rope', seed: 1 });
  const ids = new Tensor(new Float64Array([1, 2, 3, 4, 5, 6]), [1, 6]);
  const before = noGrad(() => model.forward(ids));
  const wrapped = wrapWithLoRA(model, { select: /attn\.w[kv]$/, rank: 2, generator: new Generator(3) });
  assert.equal(wrapped.map(([n]) => n), ['blocks.0.attn.wk', 'blocks.0.attn.wv', 'blocks.1.attn.wk', 'blocks.1.attn.wv']);
  assert.ok((model.blocks[1]!.attn as MultiHeadAttention).wv instanceof LoRALinear);
  assert.equal(Array.from(noGrad(() => model.forward(ids)).data), Array.from(before.data));
  const trainable = model.namedParameters().filter(([, p]) => p.requiresGrad);
  assert.equal(trainable.map(([n]) => n), wrapped.flatMap(([n]) => [`${n}.loraA`, `${n}.loraB`]));
  assert.is(trainable.reduce((s, [, p]) => s + p.size, 0), 4 * (2 * 8 + 8 * 2));
  assert.ok(model.namedParameters().some(([n]) => n === 'blocks.0.attn.wk.base.weight'), 'the base weight stays in the state');
  model.loss(ids, new Tensor(new Float64Array([2, 3, 4, 5, 6, 7]), [1, 6])).backward();
  assert.ok(model.parameters().every((p) => (p.grad !== null) === p.requiresGrad), 'gradients exactly on the adapters');
});

test('LoRA refusals name the call and the argument, and a refused wrap changes nothing', () => {
  const op = 'LoRALinear';
  assertRefused(() => new LoRALinear({} as Linear, { rank: 1 }), DTypeError, op, { arg: 'base' });
  assertRefused(() => new LoRALinear(linear(3, 8, 1), {} as never), ValueError, op, { arg: 'rank', words: ['required'] });
  assertRefused(() => new LoRALinear(linear(3, 8, 1), { rank: 4 }), ValueError, op, { arg: 'rank' });
  assertRefused(() => new LoRALinear(linear(3, 8, 1), { rank: 1.5 }), ValueError, op, { arg: 'rank' });
  assertRefused(() => new LoRALinear(linear(3, 8, 1), { rank: 1, alpha: NaN }), ValueError, op, { arg: 'alpha' });
  assertRefused(() => new LoRALinear(linear(3, 8, 1), { rank: 1, rsLoRA: 'yes' as never }), DTypeError, op, { arg: 'rsLoRA' });
  assertRefused(() => new LoRALinear(linear(3, 8, 1), { rank: 1, bogus: 1 } as never), ValueError, op);
  const base = linear(3, 8, 1);
  assertRefused(() => new LoRALinear(base, { rank: 9 }), ValueError, op);
  assert.ok(base.weight.requiresGrad, 'a refused wrap leaves the base trainable');
  assertRefused(() => randomLoRA(3, 8, 1, 1).forward(randn([2, 4], { dtype: 'float64' })), ShapeError, 'LoRALinear.forward', { arg: 'x' });

  const model = new GPT({ vocabSize: 11, contextLength: 8, dim: 8, numLayers: 1, numHeads: 2, numKVHeads: 1, positional: 'rope', seed: 1 });
  assertRefused(() => wrapWithLoRA(model, { select: /nothing/, rank: 1 }), ValueError, 'wrapWithLoRA', { arg: 'select' });
  // wq maps 8 → 8, wk 8 → 4 (one KV head of 4): rank 6 fits wq only
  assertRefused(() => wrapWithLoRA(model, { select: /attn\.w[qk]$/, rank: 6 }), ValueError, 'wrapWithLoRA', { arg: 'rank', words: ['blocks.0.attn.wk'] });
  assertRefused(() => wrapWithLoRA(model, { select: 'wq' as unknown as RegExp, rank: 1 }), DTypeError, 'wrapWithLoRA', { arg: 'select' });
  assert.ok(!(model.blocks[0]!.attn.wq instanceof LoRALinear), 'wq not wrapped');
  assert.ok(model.parameters().every((p) => p.requiresGrad), 'nothing frozen');
});

test.run();
