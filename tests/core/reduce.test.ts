/**
 * Reductions (sum, mean, max, min, var, logsumexp, argmax, argmin) against naive multi-index loops, on shapes of
 * rank 0..5 with size-0 and size-1 dims, every form of the axes argument and keepDim; gradcheck in float64.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  AxisError, Tensor, ValueError, argmax, argmin, gradcheck, logsumexp, max, mean, min, mul, sum, tensor, variance,
  type Axes, type DType, type GradcheckOptions,
} from '../../core/index.js';
import { assertShape } from '../helpers/close.js';
import { broadcastablePairArb, fcParams, shapeArb, valuesArb } from '../helpers/fc.js';
import { naiveBroadcastShape, sizeOfShape } from '../helpers/oracle.js';
import {
  assertCloseScaled, axesArb, badAxisArb, distinctValuesArb, dtypeArb, groupIndex, naiveAxes, naiveGroups, naiveLines,
  naiveLogSumExp, naiveSum, reducedShape, thrown,
} from '../helpers/oracle-reduce.js';

/**
 * Tolerances, relative to the size of the terms behind each element (Σ|x| for sums). float32 rounds each of at
 * most 5 axis passes once (≤ 5·2⁻²⁴ ≈ 3e-7); float64 accumulates ≤ 1024 terms (≲ 1e-13). `abs` covers subnormals.
 */
const TOL: Record<DType, { rel: number; abs: number }> = {
  float32: { rel: 1e-6, abs: 1e-37 },
  float64: { rel: 1e-12, abs: 1e-300 },
};
/** gradcheck tolerances (PyTorch's defaults), stated here so a change in the library's defaults shows up. */
const GC: GradcheckOptions = { eps: 1e-6, atol: 1e-5, rtol: 1e-3 };

interface Case {
  shape: number[];
  values: number[];
  dtype: DType;
  axes: Axes;
  keepDim: boolean;
}

/** A tensor of rank ≤ maxRank with sizes minDim..maxDim, its values, a dtype, an axes argument and keepDim. */
function caseArb(minDim: number, maxRank = 5, maxDim = 4, values: (n: number) => fc.Arbitrary<number[]> = (n) => valuesArb(n)): fc.Arbitrary<Case> {
  return shapeArb(maxRank, maxDim, minDim).chain((shape) =>
    fc.record({ shape: fc.constant(shape), values: values(sizeOfShape(shape)), dtype: dtypeArb, axes: axesArb(shape.length), keepDim: fc.boolean() }),
  );
}

test('sum and mean equal naive loops over any axes (one, several, negative, unsorted, none, all) with keepDim; sum of nothing is 0', () => {
  fc.assert(
    fc.property(caseArb(0), ({ shape, values, dtype, axes, keepDim }) => {
      const x = tensor(values, shape, { dtype });
      const ax = naiveAxes(axes, shape.length);
      const groups = naiveGroups(x.data, shape, ax); // read back from x: float32 values are already rounded
      const scale = groups.map((g) => naiveSum(g.map(Math.abs)));
      const { rel, abs } = TOL[dtype];

      const s = sum(x, axes, keepDim);
      assert.is(s.dtype, dtype, 'sum keeps the dtype');
      assertShape(s.shape, reducedShape(shape, ax, keepDim), 'sum shape');
      assertCloseScaled(s.data, groups.map(naiveSum), scale, rel, 'sum', abs); // an empty group must give exactly 0

      if (groups.some((g) => g.length === 0)) {
        // an output element that averages nothing would be 0/0: refused, not NaN
        assert.throws(() => x.mean(axes, keepDim), (e: unknown) => e instanceof ValueError && e.op === 'mean' && /empty axis/.test(e.message));
        return;
      }
      const m = x.mean(axes, keepDim);
      assert.is(m.dtype, dtype, 'mean keeps the dtype');
      assertShape(m.shape, reducedShape(shape, ax, keepDim), 'mean shape');
      const means = groups.map((g) => naiveSum(g) / g.length);
      assertCloseScaled(m.data, means, scale.map((a, i) => a / groups[i]!.length), rel, 'mean', abs);
    }),
    fcParams(100),
  );
});

/** Values in [-3, 3] with an occasional NaN. */
const withNaNArb = (n: number): fc.Arbitrary<number[]> =>
  fc.array(fc.oneof({ arbitrary: fc.double({ min: -3, max: 3, noNaN: true }), weight: 15 }, { arbitrary: fc.constant(NaN), weight: 1 }), { minLength: n, maxLength: n });

test('max and min equal naive loops exactly (NaN propagates, as torch.amax), and throw ValueError exactly when a reduced axis is empty', () => {
  fc.assert(
    fc.property(caseArb(0, 5, 4, withNaNArb), fc.constantFrom('max' as const, 'min' as const), ({ shape, values, dtype, axes, keepDim }, op) => {
      const x = tensor(values, shape, { dtype });
      const ax = naiveAxes(axes, shape.length);
      const f = op === 'max' ? max : min;
      if (ax.some((a) => shape[a] === 0)) {
        const e = thrown(() => f(x, axes, keepDim), `${op} over an empty axis of [${shape}]`);
        assert.ok(e instanceof ValueError, `${op}: expected ValueError, got ${String(e)}`);
        assert.ok(e.message.startsWith(`${op}: `) && e.message.includes(`x=[${shape.join(',')}]`), `message names op and shape: ${e.message}`);
        return;
      }
      const out = op === 'max' ? x.max(axes, keepDim) : x.min(axes, keepDim);
      assert.is(out.dtype, dtype);
      assertShape(out.shape, reducedShape(shape, ax, keepDim), `${op} shape`);
      const pick = op === 'max' ? (g: number[]) => Math.max(...g) : (g: number[]) => Math.min(...g); // NaN if any is NaN
      const expected = naiveGroups(x.data, shape, ax).map(pick);
      assertCloseScaled(out.data, expected, expected.map(() => 0), 0, op); // a selection: exact
    }),
    fcParams(100),
  );
});

test('var (the .var method) equals the two-pass Σ(x − mean)²/(N − correction); defaults keepDim=false, correction=1', () => {
  const optionsArb = fc.option(fc.record({ keepDim: fc.boolean(), correction: fc.constantFrom(0, 1, 2, 0.5) }, { requiredKeys: [] }), { nil: undefined });
  fc.assert(
    fc.property(caseArb(0), optionsArb, ({ shape, values, dtype, axes }, options) => {
      const x = tensor(values, shape, { dtype });
      const keepDim = options?.keepDim ?? false;
      const correction = options?.correction ?? 1;
      const ax = naiveAxes(axes, shape.length);
      const groups = naiveGroups(x.data, shape, ax);
      if (groups.some((g) => g.length - correction <= 0)) {
        // Σ/0 would be NaN or +∞ out of finite values (torch's answer): refused instead
        assert.throws(() => x.var(axes, options), (e: unknown) => e instanceof ValueError && e.op === 'variance' && /correction/.test(e.message));
        return;
      }
      const out = x.var(axes, options);
      assert.is(out.dtype, dtype);
      assertShape(out.shape, reducedShape(shape, ax, keepDim), 'var shape');
      const { rel, abs } = TOL[dtype];
      groups.forEach((g, i) => {
        const n = g.length;
        const a = out.data[i]!;
        const mu = naiveSum(g) / n;
        const expected = naiveSum(g.map((v) => (v - mu) ** 2)) / (n - correction);
        const scale = (2 * (naiveSum(g.map((v) => v * v)) + n * mu * mu)) / (n - correction); // rounding of mean, x − mean, squares
        assertCloseScaled([a], [expected], [scale], rel, `var element ${i}`, abs);
      });
    }),
    fcParams(100),
  );
});

test('logsumexp equals the naive log Σ exp over any axes with keepDim; an empty axis gives −∞', () => {
  fc.assert(
    fc.property(caseArb(0), ({ shape, values, dtype, axes, keepDim }) => {
      const x = tensor(values, shape, { dtype });
      const ax = naiveAxes(axes, shape.length);
      const out = x.logsumexp(axes, keepDim);
      assert.is(out.dtype, dtype);
      assertShape(out.shape, reducedShape(shape, ax, keepDim), 'logsumexp shape');
      const groups = naiveGroups(x.data, shape, ax);
      // float32 rounds x − m, exp, Σ, log and + m once each (≈ 1e-7 of ≤ |m| + log N); float64 the same at 1e-16
      const scale = groups.map((g) => 1 + Math.max(0, ...g.map(Math.abs)) + Math.log(g.length + 1));
      assertCloseScaled(out.data, groups.map(naiveLogSumExp), scale, dtype === 'float32' ? 1e-6 : 1e-14, 'logsumexp');
    }),
    fcParams(100),
  );
});

test('logsumexp is stable: shifts of ±1000, ±1e5 pass through, −∞ entries drop out, +∞ wins, and x is left untouched', () => {
  const entryArb = fc.oneof(
    { arbitrary: fc.double({ min: -3, max: 3, noNaN: true }), weight: 6 },
    { arbitrary: fc.constant(-Infinity), weight: 3 },
    { arbitrary: fc.constant(Infinity), weight: 1 },
  );
  fc.assert(
    fc.property(
      caseArb(1, 4, 3, (n) => fc.array(entryArb, { minLength: n, maxLength: n })),
      fc.constantFrom(0, 1000, -1000, 1e5, -1e5),
      ({ shape, values, axes, keepDim }, c) => {
        const x = tensor(values.map((v) => v + c), shape, { dtype: 'float64' });
        const before = Array.from(x.data);
        const out = logsumexp(x, axes, keepDim);
        assert.equal(Array.from(x.data), before, 'logsumexp must not write into its input');
        const groups = naiveGroups(values, shape, naiveAxes(axes, shape.length));
        const expected = groups.map((g) => naiveLogSumExp(g) + c); // the oracle never sees c: exp(±1e5) would overflow
        // x + c rounds each entry by ≤ |c|·2⁻⁵³; the result inherits it
        assertCloseScaled(out.data, expected, expected.map(() => 1), 4e-16 * Math.abs(c) + 1e-13, `logsumexp(x + ${c})`);
      },
    ),
    fcParams(80),
  );
});

test('argmax/argmin: first index of the extremum (first NaN if any) along an axis or of the flattened tensor; float64, no grad', () => {
  const valueArb = fc.oneof({ arbitrary: fc.integer({ min: -2, max: 2 }), weight: 12 }, { arbitrary: fc.constant(NaN), weight: 1 }); // ties galore
  const argCase = shapeArb(5, 4, 0).chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      values: fc.array(valueArb, { minLength: sizeOfShape(shape), maxLength: sizeOfShape(shape) }),
      dtype: dtypeArb,
      axis: shape.length === 0 ? fc.constant(undefined) : fc.option(fc.integer({ min: -shape.length, max: shape.length - 1 }), { nil: undefined }),
      keepDim: fc.boolean(),
      op: fc.constantFrom('argmax' as const, 'argmin' as const),
    }),
  );
  fc.assert(
    fc.property(argCase, ({ shape, values, dtype, axis, keepDim, op }) => {
      const x = tensor(values, shape, { dtype, requiresGrad: true });
      const f = op === 'argmax' ? argmax : argmin;
      const ax = axis === undefined ? undefined : naiveAxes(axis, shape.length)[0]!;
      const empty = ax === undefined ? x.size === 0 : shape[ax] === 0;
      if (empty) {
        const e = thrown(() => f(x, axis, keepDim), `${op} over nothing`);
        assert.ok(e instanceof ValueError && e.message.startsWith(`${op}: `), `expected ValueError from ${op}, got ${String(e)}`);
        return;
      }
      const out = op === 'argmax' ? x.argmax(axis, keepDim) : x.argmin(axis, keepDim);
      assert.is(out.dtype, 'float64', 'indices are float64');
      assert.is(out.requiresGrad, false, 'indices carry no gradient');
      assert.is(out.gradNode, null);
      const expectedShape = ax === undefined ? (keepDim ? shape.map(() => 1) : []) : reducedShape(shape, [ax], keepDim);
      assertShape(out.shape, expectedShape, `${op} shape`);
      const lines = ax === undefined ? [Array.from({ length: x.size }, (_, i) => i)] : naiveLines(shape, ax);
      const expected = lines.map((line) => {
        const v = line.map((p) => x.data[p]!);
        const nan = v.findIndex(Number.isNaN);
        if (nan >= 0) return nan;
        return v.indexOf(op === 'argmax' ? Math.max(...v) : Math.min(...v)); // indexOf: the first of the ties
      });
      assert.equal(Array.from(out.data), expected, `${op} indices`);
    }),
    fcParams(100),
  );
});

type Smooth = 'sum' | 'mean' | 'var' | 'logsumexp';
/** The differentiable reductions without kinks; var uses correction 1 when the reduced count allows it. */
function smooth(op: Smooth, x: Tensor, axes: Axes, keepDim: boolean): Tensor {
  if (op === 'sum') return sum(x, axes, keepDim);
  if (op === 'mean') return mean(x, axes, keepDim);
  if (op === 'logsumexp') return logsumexp(x, axes, keepDim);
  const count = naiveAxes(axes, x.ndim).reduce((p, a) => p * x.shape[a]!, 1);
  return variance(x, axes, { keepDim, correction: count >= 2 ? 1 : 0 });
}
const smoothArb = fc.constantFrom<Smooth>('sum', 'mean', 'var', 'logsumexp');

test('gradcheck (float64): sum, mean, var, logsumexp over any axes and keepDim, rank 0..4', () => {
  fc.assert(
    fc.property(caseArb(1, 4, 3, (n) => valuesArb(n, 2)), smoothArb, ({ shape, values, axes, keepDim }, op) => {
      const x = tensor(values, shape, { dtype: 'float64', requiresGrad: true });
      gradcheck((t) => smooth(op, t!, axes, keepDim), [x], GC);
    }),
    fcParams(60),
  );
});

test('gradcheck (float64): sum, mean, var, logsumexp of a broadcast product a·b send gradients back to both shapes', () => {
  const caseArb2 = broadcastablePairArb(4, 3).chain(([a, b]) =>
    fc.record({
      a: fc.constant(a),
      b: fc.constant(b),
      va: valuesArb(sizeOfShape(a), 2),
      vb: valuesArb(sizeOfShape(b), 2),
      axes: axesArb(naiveBroadcastShape(a, b)!.length),
      keepDim: fc.boolean(),
      op: smoothArb,
    }),
  );
  fc.assert(
    fc.property(caseArb2, ({ a, b, va, vb, axes, keepDim, op }) => {
      const ta = tensor(va, a, { dtype: 'float64', requiresGrad: true });
      const tb = tensor(vb, b, { dtype: 'float64', requiresGrad: true });
      gradcheck((p, q) => smooth(op, mul(p!, q!), axes, keepDim), [ta, tb], GC);
    }),
    fcParams(50),
  );
});

test('gradcheck (float64): max and min over any axes on inputs without ties', () => {
  fc.assert(
    fc.property(caseArb(1, 4, 3, (n) => distinctValuesArb(n)), fc.constantFrom(max, min), ({ shape, values, axes, keepDim }, f) => {
      const x = tensor(values, shape, { dtype: 'float64', requiresGrad: true });
      gradcheck((t) => f(t!, axes, keepDim), [x], GC);
    }),
    fcParams(60),
  );
});

test('max/min backward splits the upstream gradient evenly among tied extrema (as torch.amax/amin)', () => {
  fc.assert(
    fc.property(
      caseArb(1, 4, 3, (n) => fc.array(fc.integer({ min: 0, max: 2 }), { minLength: n, maxLength: n })),
      fc.constantFrom('max' as const, 'min' as const),
      fc.integer({ min: 0, max: 1000 }),
      ({ shape, values, dtype, axes, keepDim }, op, salt) => {
        const x = tensor(values, shape, { dtype, requiresGrad: true });
        const out = (op === 'max' ? max : min)(x, axes, keepDim);
        const seed = tensor(Array.from({ length: out.size }, (_, i) => ((i * 7 + salt) % 11) - 5), out.shape, { dtype });
        out.backward(seed);
        const ax = naiveAxes(axes, shape.length);
        const groups = naiveGroups(values, shape, ax);
        const ext = groups.map((g) => (op === 'max' ? Math.max(...g) : Math.min(...g)));
        const ties = groups.map((g, o) => g.filter((v) => v === ext[o]).length);
        const expected = groupIndex(shape, ax).map((o, i) => (values[i] === ext[o] ? seed.data[o]! / ties[o]! : 0));
        assert.is(x.grad!.dtype, dtype);
        assertCloseScaled(x.grad!.data, expected, expected.map(() => 1), dtype === 'float32' ? 1e-6 : 1e-15, `${op} tie gradient`);
      },
    ),
    fcParams(60),
  );
});

test('every reduction throws AxisError naming the op for out-of-range, repeated or fractional axes', () => {
  const ops: [string, (x: Tensor, a: Axes) => Tensor][] = [
    ['sum', (x, a) => sum(x, a)],
    ['mean', (x, a) => mean(x, a)],
    ['max', (x, a) => max(x, a)],
    ['min', (x, a) => min(x, a)],
    ['variance', (x, a) => variance(x, a)],
    ['logsumexp', (x, a) => logsumexp(x, a)],
    ['argmax', (x, a) => argmax(x, typeof a === 'number' ? a : 0.5)],
    ['argmin', (x, a) => argmin(x, typeof a === 'number' ? a : 0.5)],
  ];
  const errCase = shapeArb(5, 3, 1).chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      bad: badAxisArb(shape.length),
      good: fc.integer({ min: 0, max: Math.max(shape.length - 1, 0) }),
      form: fc.constantFrom('single', 'in-list', 'repeated', 'fraction'),
      op: fc.constantFrom(...ops),
      first: fc.boolean(),
    }),
  );
  fc.assert(
    fc.property(errCase, ({ shape, bad, good, form, op: [name, f], first }) => {
      const r = shape.length;
      const x = tensor(new Array<number>(sizeOfShape(shape)).fill(1), shape);
      let axes: Axes = bad;
      let mentions = String(bad);
      if (form === 'fraction') [axes, mentions] = [0.5, '0.5'];
      else if (form === 'in-list' && r > 0) axes = first ? [bad, good] : [good, bad];
      else if (form === 'repeated' && r > 0) [axes, mentions] = [first ? [good, good - r] : [good - r, good], 'repeated'];
      if (name.startsWith('arg') && typeof axes !== 'number') return; // argmax/argmin take one axis
      const e = thrown(() => f(x, axes), `${name}(x=[${shape}], axis ${JSON.stringify(axes)})`);
      assert.ok(e instanceof AxisError, `${name} axis ${JSON.stringify(axes)} on rank ${r}: expected AxisError, got ${String(e)}`);
      assert.is(e.op, name);
      assert.ok(e.message.startsWith(`${name}: `) && e.message.includes(mentions), `message: ${e.message}`);
    }),
    fcParams(100),
  );
});

test.run();
