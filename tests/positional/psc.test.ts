/**
 * PSC (positional/psc.ts; Zhu et al. 2024) against WNQzhu/PSC `PSC_code/lora_llama.py` (`Phase`): zero init ⇒ the base method bit for bit (RoPE,
 * PI, a YaRN-like table with attention factor, p-RoPE; float64 and float32; grouped-query keys), c ∈ (0.5, 1.5)
 * for any weights, relative invariance with trained-looking weights, the worked toy, the init (U = 0,
 * D ~ U(−1/h, 1/h)), gradcheck of the gate in x, U and D, gradients reaching the module's parameters, errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { DTypeError, Generator, ShapeError, Tensor, gradcheck, matmul, sum, tensor, type DType } from '../../core/index.js';
import type { PositionalEncoding } from '../../positional/encoding.js';
import { pRopeInvFreq } from '../../positional/p-rope.js';
import { PSC, PSCRoPE, pscCalibrate, pscCoefficient } from '../../positional/psc.js';
import { RoPE, ropeInvFreq } from '../../positional/rope.js';
import { assertClose } from '../helpers/close.js';
import { FC_SEED, fcParams } from '../helpers/fc.js';
import { assertProperty, checkRelativePositionInvariance } from '../../testing/index.js';

function randTensor(g: Generator, shape: number[], dtype: DType = 'float64', std = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = std * g.normal();
  return new Tensor(data, shape);
}

function bitEqual(a: Tensor, b: Tensor, label: string): void {
  assert.is(a.dtype, b.dtype, `${label}: dtype`);
  assert.equal([...a.shape], [...b.shape], `${label}: shape`);
  for (let i = 0; i < a.size; i++) if (!Object.is(a.data[i], b.data[i])) assert.unreachable(`${label}: element ${i} is ${a.data[i]}, expected ${b.data[i]}`);
}

/** A YaRN-like table: the NTK-by-parts blend of θ and θ/s with a linear ramp, plus an attention factor. */
function yarnLike(h: number, s: number): { invFreq: Float64Array; attentionFactor: number } {
  const theta = ropeInvFreq(h);
  const invFreq = theta.map((t, i) => {
    const ramp = Math.min(1, Math.max(0, (i - 2) / Math.max(1, h / 2 - 4))); // (a ramp over at least one pair: h = 8 gave 0/0 = NaN)
    return t * (1 - ramp) + (t / s) * ramp;
  });
  return { invFreq, attentionFactor: 0.1 * Math.log(s) + 1 };
}

function bases(h: number): Array<[string, PositionalEncoding]> {
  const y = yarnLike(h, 8);
  return [
    ['rope', new RoPE(h)],
    ['pi', new RoPE(h, { invFreq: ropeInvFreq(h).map((t) => t / 4) })],
    ['yarn-like', new RoPE(h, { invFreq: y.invFreq, attentionFactor: y.attentionFactor, layout: 'interleaved' })],
    ['p-rope', new RoPE(h, { invFreq: pRopeInvFreq(h, 0.5) })],
  ];
}

test('zero init ⇒ the base method bit for bit (RoPE, PI, YaRN-like, p-RoPE; float64 and float32; GQA keys)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 4, max: 8 }).map((n) => 2 * n), fc.constantFrom<DType>('float64', 'float32'), fc.integer({ min: 0, max: 1 << 30 }), (h, dtype, seed) => {
      const g = new Generator(seed);
      const [B, H, Hkv, T] = [2, 4, 2, 3];
      const q = randTensor(g, [B, H, T, h], dtype);
      const k = randTensor(g, [B, Hkv, T, h], dtype);
      const pos = new Tensor(Float64Array.from({ length: T }, () => g.int(0, 100000)), [T]);
      for (const [label, base] of bases(h)) {
        const psc = new PSCRoPE(base, { numHeads: H, numKVHeads: Hkv, headDim: h, dtype, generator: new Generator(seed) });
        const ours = psc.encodeQK(q, k, pos, pos);
        const ref = base.encodeQK(q, k, pos, pos);
        bitEqual(ours.q, ref.q, `${label} q`);
        bitEqual(ours.k, ref.k, `${label} k`);
        assert.is(ours.logitScale, ref.logitScale);
      }
    }),
    fcParams(25),
  );
});

test('c(x) ∈ [0.5, 1.5] for any weights, strictly inside while the tanh argument is moderate', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.double({ min: 0.01, max: 1e3, noNaN: true }), fc.integer({ min: 0, max: 1 << 30 }), (h, H, std, seed) => {
      const g = new Generator(seed);
      const x = randTensor(g, [1, H, 3, h], 'float64', std);
      const c = pscCoefficient(x, randTensor(g, [H, h, h], 'float64', std), randTensor(g, [H, h, h], 'float64', std));
      for (const v of c.data) assert.ok(v >= 0.5 && v <= 1.5, `c = ${v}`);
      // |SiLU(xU)D| small ⇒ tanh < 1 in float64 ⇒ c strictly inside
      const cs = pscCoefficient(x.mul(1e-3 / std), randTensor(g, [H, h, h], 'float64'), randTensor(g, [H, h, h], 'float64'));
      for (const v of cs.data) assert.ok(v > 0.5 && v < 1.5, `c = ${v}`);
    }),
    fcParams(80),
  );
});

test('worked toy: h = 2, U = D = I, x = (1, −1) → c = 1 + ½·tanh(SiLU(x)) = (1.311856, 0.868680)', () => {
  const I = tensor([1, 0, 0, 1], [1, 2, 2], { dtype: 'float64' });
  const x = tensor([1, -1], [1, 1, 1, 2], { dtype: 'float64' });
  assertClose(pscCoefficient(x, I, I).data, [1.311856, 0.86868], { atol: 1e-6, rtol: 0 }, 'c');
  assertClose(pscCalibrate(x, I, I).data, [1.311856, -0.86868], { atol: 1e-6, rtol: 0 }, "x'");
  // U = 0 → c = 1 exactly
  const zero = tensor([0, 0, 0, 0], [1, 2, 2], { dtype: 'float64' });
  assert.equal(Array.from(pscCoefficient(x, zero, I).data), [1, 1]);
});

test('relative invariance survives trained (non-zero) PSC weights (ropelab/testing\'s checker)', () => {
  for (const seed of [1, 2, 3]) {
    const g = new Generator(seed);
    const [H, h] = [2, 8];
    const enc = new PSCRoPE(new RoPE(h, { invFreq: ropeInvFreq(h).map((t) => t / 4) }), { numHeads: H, headDim: h, dtype: 'float64', generator: g });
    for (const p of enc.parameters()) p.data.set(randTensor(g, [...p.shape], 'float64', 0.5).data);
    assertProperty(checkRelativePositionInvariance(enc, { headDim: h, heads: H, maxTokens: 4, maxPosition: 7000, tolerance: 1e-10, numRuns: 10, seed: FC_SEED + seed }));
  }
});

test('init: U = 0, D ~ U(−1/h, 1/h) (kaiming_uniform a=√5 on (H, h, h): fan-in h·h), shapes and names', () => {
  const h = 16;
  const psc = new PSC(4, h, { generator: new Generator(1), dtype: 'float64' });
  assert.equal([...psc.up.shape], [4, h, h]);
  assert.ok(psc.up.data.every((v) => v === 0));
  const d = Array.from(psc.down.data);
  assert.ok(d.every((v) => v >= -1 / h && v < 1 / h));
  // uniform on ±1/h: mean ≈ 0, variance ≈ (1/h)²/3
  const mean = d.reduce((a, b) => a + b, 0) / d.length;
  const variance = d.reduce((a, b) => a + (b - mean) ** 2, 0) / d.length;
  assert.ok(Math.abs(mean) < 0.05 / h, `mean ${mean}`);
  assert.ok(Math.abs(variance * 3 * h * h - 1) < 0.1, `variance ${variance}`);
  assert.ok(Math.max(...d) > 0.95 / h && Math.min(...d) < -0.95 / h);
  const enc = new PSCRoPE(new RoPE(8), { numHeads: 4, numKVHeads: 2, headDim: 8 });
  assert.is(enc.name, 'psc-rope');
  assert.equal(
    enc.namedParameters().map(([n, p]) => `${n}:${p.shape.join('x')}`).sort(),
    ['kPhase.down:2x8x8', 'kPhase.up:2x8x8', 'qPhase.down:4x8x8', 'qPhase.up:4x8x8'],
  );
  assert.is(enc.qPhase.up.dtype, 'float32');
});

test('gradcheck of x ⊙ (1 + ½·tanh(SiLU(xU)D)) in x, U and D (float64)', () => {
  const g = new Generator(7);
  const x = randTensor(g, [2, 2, 3, 3]);
  const U = randTensor(g, [2, 3, 3], 'float64', 0.7);
  const D = randTensor(g, [2, 3, 3], 'float64', 0.7);
  for (const t of [x, U, D]) t.requiresGrad = true;
  assert.ok(gradcheck((a, b, c) => pscCalibrate(a!, b!, c!), [x, U, D], { atol: 1e-7, rtol: 1e-5 }));
});

test('gradients reach U and D through encodeQK, non-zero for U already at init (the gate can learn)', () => {
  const g = new Generator(11);
  const h = 4;
  const enc = new PSCRoPE(new RoPE(h), { numHeads: 2, headDim: h, dtype: 'float64', generator: g });
  const q = randTensor(g, [1, 2, 3, h]);
  const k = randTensor(g, [1, 2, 3, h]);
  const pos = new Tensor(Float64Array.from([0, 1, 2]), [3]);
  const e = enc.encodeQK(q, k, pos, pos);
  sum(matmul(e.q, e.k, { transposeB: true }).square()).backward();
  for (const [name, p] of enc.namedParameters()) {
    assert.ok(p.grad !== null, `${name} has no gradient`);
    if (name.endsWith('up')) assert.ok(p.grad!.data.some((v) => v !== 0), `${name} gradient is zero`);
  }
});

test('errors: heads or head dim that do not match, dtype mismatch, bad sizes', () => {
  const psc = new PSC(2, 4);
  const shapeCase = (): Tensor => psc.calibrate(new Tensor(new Float32Array(3 * 5 * 4), [1, 3, 5, 4]));
  try {
    shapeCase();
    assert.unreachable('expected ShapeError');
  } catch (e) {
    assert.instance(e, ShapeError);
    assert.match((e as Error).message, /^PSC: x=\[1,3,5,4\] must be \[\.\.\., 2, T, 4\]/);
  }
  try {
    psc.calibrate(new Tensor(new Float64Array(2 * 5 * 4), [1, 2, 5, 4]));
    assert.unreachable('expected DTypeError');
  } catch (e) {
    assert.instance(e, DTypeError);
    assert.match((e as Error).message, /float64 but the PSC weights are float32/);
  }
  assert.throws(() => new PSC(0, 4), /PSC: numHeads must be an integer ≥ 1/);
  assert.throws(() => new PSC(2, 2.5), /PSC: headDim must be an integer ≥ 1/);
});

test.run();
