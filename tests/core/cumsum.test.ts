/**
 * core/ops/reduce.ts `cumsum(x, axis, { reverse })`: forward against a naive prefix-sum loop on every axis of random
 * shapes (float64 exactly, float32 to one rounding), its gradient by float64 gradcheck (first and second order, both
 * directions), float64 accumulation, empty axes, and the typed errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { AxisError, DTypeError, Generator, Tensor, ValueError, cumsum, grad, gradcheck, randn, sum, tensor, zeros } from '../../core/index.js';
import { assertClose, assertShape } from '../helpers/close.js';
import { fcParams, shapeArb } from '../helpers/fc.js';
import { assertRefused } from '../helpers/refusal.js';

/** Prefix sums along `axis` by walking multi-indices (independent of the op's [outer, n, inner] view). */
function naiveCumsum(x: ArrayLike<number>, shape: readonly number[], axis: number, reverse: boolean): Float64Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const out = new Float64Array(size);
  for (let flat = 0; flat < size; flat++) {
    const t = Math.floor(flat / strides[axis]!) % shape[axis]!;
    let acc = 0;
    for (let s = 0; s < shape[axis]!; s++) {
      if (reverse ? s >= t : s <= t) acc += x[flat + (s - t) * strides[axis]!]!;
    }
    out[flat] = acc;
  }
  return out;
}

test('cumsum: equals a naive prefix sum on every axis of random shapes, both directions (float64 to rounding)', () => {
  fc.assert(
    fc.property(shapeArb(4, 4, 1), fc.integer({ min: 1, max: 1e6 }), fc.boolean(), (shape, seed, reverse) => {
      const x = randn(shape, { dtype: 'float64', generator: new Generator(seed) });
      for (let axis = -shape.length; axis < shape.length; axis++) {
        const y = cumsum(x, axis, { reverse });
        assertShape(y.shape, shape);
        const ax = axis < 0 ? axis + shape.length : axis;
        assertClose(y.data, naiveCumsum(x.data, shape, ax, reverse), { rtol: 1e-14, atol: 1e-14 }, `[${shape}] axis ${axis} reverse ${reverse}`);
      }
    }),
    fcParams(60),
  );
});

test('cumsum: closed forms; float32 accumulates in float64 and rounds once', () => {
  assert.equal(Array.from(cumsum(tensor([1, 2, 3, 4]), 0).data), [1, 3, 6, 10]);
  assert.equal(Array.from(cumsum(tensor([1, 2, 3, 4]), 0, { reverse: true }).data), [10, 9, 7, 4]);
  assert.equal(Array.from(cumsum(tensor([[1, 2], [3, 4]]), 0).data), [1, 2, 4, 6]);
  assert.equal(Array.from(cumsum(tensor([[1, 2], [3, 4]]), 1).data), [1, 3, 3, 7]);
  // 2²⁴ + 1 + 1 in float32 steps would stay 2²⁴; a float64 accumulator gives 2²⁴ + 2 (representable)
  const y = cumsum(tensor([2 ** 24, 1, 1], { dtype: 'float32' }), 0);
  assert.is(y.dtype, 'float32');
  assert.equal(Array.from(y.data), [2 ** 24, 2 ** 24, 2 ** 24 + 2]);
  assertShape(cumsum(zeros([2, 0, 3]), 1).shape, [2, 0, 3]);
  assertShape(cumsum(zeros([0]), 0).shape, [0]);
});

test('cumsum: gradient by float64 gradcheck on every axis and direction, and second order', () => {
  const g = new Generator(7);
  for (const reverse of [false, true]) {
    for (const axis of [0, 1, -1]) {
      const x = randn([3, 4, 2], { dtype: 'float64', generator: g, requiresGrad: true });
      const r = randn([3, 4, 2], { dtype: 'float64', generator: g });
      assert.ok(gradcheck((t) => sum(cumsum(t!, axis, { reverse }).mul(r)), [x]), `axis ${axis} reverse ${reverse}`);
      assert.ok(gradcheck((t) => sum(cumsum(t!, axis, { reverse }).square()), [x]), `axis ${axis} reverse ${reverse}, square`);
    }
  }
  // second derivative: d²/dx² Σ cumsum(x)² — the backward is itself a cumsum, so createGraph differentiates through it
  const x = randn([5], { dtype: 'float64', generator: g, requiresGrad: true });
  assert.ok(gradcheck((t) => sum(grad((u) => sum(cumsum(u!, 0).square()))(t!)[0]!.mul(tensor([1, -2, 0.5, 3, 1], { dtype: 'float64' }))), [x]), 'second order');
});

test('cumsum: refuses non-tensors, bad axes and bad options under its name', () => {
  assertRefused(() => cumsum(null as unknown as Tensor, 0), DTypeError, 'cumsum', { arg: 'x' });
  assertRefused(() => cumsum([1, 2] as unknown as Tensor, 0), DTypeError, 'cumsum', { arg: 'x' });
  assertRefused(() => cumsum(zeros([2, 3]), 2), AxisError, 'cumsum', { arg: 'axis' });
  assertRefused(() => cumsum(zeros([2, 3]), 0.5), AxisError, 'cumsum', { arg: 'axis' });
  assertRefused(() => cumsum(zeros([2, 3]), undefined as unknown as number), DTypeError, 'cumsum', { arg: 'axis' });
  assertRefused(() => cumsum(tensor(1), 0), AxisError, 'cumsum', { arg: 'axis', words: ['scalar'] });
  assertRefused(() => cumsum(zeros([2]), 0, { reverse: 'yes' as unknown as boolean }), DTypeError, 'cumsum', { arg: 'options.reverse' });
  assertRefused(() => cumsum(zeros([2]), 0, { exclusive: true } as unknown as { reverse: boolean }), ValueError, 'cumsum', { words: ['exclusive'] });
});

test.run();
