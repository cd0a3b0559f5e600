/**
 * softmax and logSoftmax along any axis against a naive per-line oracle: normalisation, shift invariance, stability
 * with huge and −∞ inputs, float32 vs float64 backward, gradcheck in float64 and AxisError on bad axes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { AxisError, add, gradcheck, logSoftmax, softmax, tensor, type DType, type GradcheckOptions } from '../../core/index.js';
import { assertShape } from '../helpers/close.js';
import { broadcastablePairArb, fcParams, shapeArb, valuesArb } from '../helpers/fc.js';
import { naiveBroadcastShape, sizeOfShape } from '../helpers/oracle.js';
import { assertCloseScaled, badAxisArb, dtypeArb, naiveLines, naiveSum, thrown } from '../helpers/oracle-reduce.js';

/** Absolute tolerances on probabilities (≤ 1) and on log-probabilities per unit of |log p| (a few roundings each). */
const REL: Record<DType, number> = { float32: 1e-6, float64: 1e-14 };
const GC: GradcheckOptions = { eps: 1e-6, atol: 1e-5, rtol: 1e-3 };

/**
 * Naive softmax of one line, with −∞ entries as exact zeros; all −∞ gives NaN (as torch, and as softmax.ts promises).
 * log: the log-softmax instead.
 */
function naiveSoftmaxLine(v: readonly number[], log: boolean): number[] {
  const finite = v.filter((x) => x !== -Infinity);
  if (finite.length === 0) return v.map(() => NaN);
  const m = Math.max(...finite);
  const z = naiveSum(finite.map((x) => Math.exp(x - m)));
  return v.map((x) => (x === -Infinity ? (log ? -Infinity : 0) : log ? x - m - Math.log(z) : Math.exp(x - m) / z));
}

/** softmax / logSoftmax of a whole tensor along `axis` (non-negative), line by line through multi-indices. */
function naiveSoftmax(data: ArrayLike<number>, shape: readonly number[], axis: number, log: boolean): number[] {
  const out = new Array<number>(data.length).fill(NaN);
  for (const line of naiveLines(shape, axis)) {
    const y = naiveSoftmaxLine(line.map((p) => data[p]!), log);
    line.forEach((p, k) => (out[p] = y[k]!));
  }
  return out;
}

interface Case {
  shape: number[];
  values: number[];
  dtype: DType;
  /** undefined: call with the default axis (the last one). */
  axis: number | undefined;
}

function caseArb(minDim: number, maxRank: number, maxDim: number, values: (n: number) => fc.Arbitrary<number[]>, dtype = dtypeArb): fc.Arbitrary<Case> {
  return fc
    .array(fc.integer({ min: minDim, max: maxDim }), { minLength: 1, maxLength: maxRank })
    .chain((shape) =>
      fc.record({
        shape: fc.constant(shape),
        values: values(sizeOfShape(shape)),
        dtype,
        axis: fc.option(fc.integer({ min: -shape.length, max: shape.length - 1 }), { nil: undefined }),
      }),
    );
}

const pos = (axis: number | undefined, rank: number): number => (axis === undefined ? rank - 1 : axis < 0 ? axis + rank : axis);

test('softmax/logSoftmax equal the naive per-line formulas along any axis (default last), lines sum to 1, exp∘logSoftmax = softmax', () => {
  fc.assert(
    fc.property(caseArb(0, 5, 4, (n) => valuesArb(n, 10)), ({ shape, values, dtype, axis }) => {
      const x = tensor(values, shape, { dtype });
      const ax = pos(axis, shape.length);
      const y = axis === undefined ? x.softmax() : softmax(x, axis);
      const ly = axis === undefined ? x.logSoftmax() : logSoftmax(x, axis);
      for (const [t, name] of [[y, 'softmax'], [ly, 'logSoftmax']] as const) {
        assert.is(t.dtype, dtype, `${name} dtype`);
        assertShape(t.shape, shape, `${name} shape`);
      }
      const rel = REL[dtype];
      const p = naiveSoftmax(x.data, shape, ax, false);
      const lp = naiveSoftmax(x.data, shape, ax, true);
      assertCloseScaled(y.data, p, p.map(() => 4), rel, 'softmax');
      assertCloseScaled(ly.data, lp, lp.map((v) => 4 * (1 + Math.abs(v))), rel, 'logSoftmax');
      assertCloseScaled(Array.from(ly.data, Math.exp), y.data, p.map(() => 8), rel, 'exp(logSoftmax) vs softmax');
      for (const line of naiveLines(shape, ax)) {
        if (line.length === 0) continue;
        const total = naiveSum(line.map((q) => y.data[q]!));
        assert.ok(Math.abs(total - 1) <= 4 * line.length * rel, `a softmax line sums to ${total}, not 1`);
        assert.ok(line.every((q) => y.data[q]! >= 0 && y.data[q]! <= 1), 'probabilities lie in [0, 1]');
      }
    }),
    fcParams(100),
  );
});

test('adding a constant along the axis (±1000, ±1e4, per line) changes neither softmax nor logSoftmax (float64)', () => {
  const shiftCase = caseArb(1, 4, 4, (n) => valuesArb(n, 5), fc.constant<DType>('float64')).chain((c) =>
    fc.record({
      c: fc.constant(c),
      shifts: fc.array(fc.constantFrom(1000, -1000, 1e4, -1e4, 0.5, 0), { minLength: sizeOfShape(c.shape), maxLength: sizeOfShape(c.shape) }),
    }),
  );
  fc.assert(
    fc.property(shiftCase, ({ c: { shape, values, axis }, shifts }) => {
      const ax = pos(axis, shape.length);
      const lines = naiveLines(shape, ax);
      const shifted = [...values];
      lines.forEach((line, l) => line.forEach((p) => (shifted[p] = values[p]! + shifts[l]!))); // one constant per line
      const x = tensor(values, shape, { dtype: 'float64' });
      const xs = tensor(shifted, shape, { dtype: 'float64' });
      // x + c rounds by ≤ |x + c|·2⁻⁵³ (1e-12 for 1e4); the results move by about twice that; ×10 slack
      const tol = 1e-15 * Math.max(...shifts.map(Math.abs), 10);
      assertCloseScaled(softmax(xs, ax).data, softmax(x, ax).data, values.map(() => 4), tol, 'softmax(x + c)');
      assertCloseScaled(logSoftmax(xs, ax).data, logSoftmax(x, ax).data, values.map(() => 4), tol, 'logSoftmax(x + c)');
    }),
    fcParams(80),
  );
});

test('huge inputs (±1000, ±1e4, ±3e38) stay finite and exact; rows of all −∞ give NaN, −∞ entries give p = 0 / log p = −∞', () => {
  const entryArb = fc.oneof(
    { arbitrary: fc.double({ min: -5, max: 5, noNaN: true }), weight: 4 },
    { arbitrary: fc.constantFrom(1000, -1000, 999.5, 1e4, -1e4, 3e38, -3e38), weight: 3 },
    { arbitrary: fc.constant(-Infinity), weight: 3 },
  );
  fc.assert(
    fc.property(caseArb(1, 4, 4, (n) => fc.array(entryArb, { minLength: n, maxLength: n })), ({ shape, values, dtype, axis }) => {
      const x = tensor(values, shape, { dtype });
      const ax = pos(axis, shape.length);
      const y = softmax(x, ax);
      const ly = logSoftmax(x, ax);
      const round = dtype === 'float32' ? Math.fround : (v: number) => v; // the exact result, rounded to the output dtype
      const p = naiveSoftmax(x.data, shape, ax, false).map(round);
      const lp = naiveSoftmax(x.data, shape, ax, true).map(round); // −3e38 − 3e38 overflows float32 to −∞, rightly
      const rel = REL[dtype];
      assertCloseScaled(y.data, p, p.map(() => 4), rel, 'softmax');
      assertCloseScaled(ly.data, lp, lp.map((v) => 4 * (1 + Math.abs(v))), rel, 'logSoftmax');
      for (const line of naiveLines(shape, ax)) {
        const allMinusInf = line.every((q) => x.data[q] === -Infinity);
        for (const q of line) {
          if (allMinusInf) assert.ok(Number.isNaN(y.data[q]!) && Number.isNaN(ly.data[q]!), 'an all −∞ line is NaN in both');
          else assert.ok(Number.isFinite(y.data[q]!), `softmax of a line with a finite entry is finite, got ${y.data[q]}`);
        }
      }
    }),
    fcParams(100),
  );
});

test('float32 backward agrees with float64 backward (the fused rules run in the input dtype)', () => {
  fc.assert(
    fc.property(caseArb(1, 4, 4, (n) => valuesArb(n, 4)), fc.boolean(), fc.integer({ min: 0, max: 1000 }), ({ shape, values, axis }, log, salt) => {
      const ax = pos(axis, shape.length);
      const seed = values.map((_, i) => (((i * 37 + salt) % 19) - 9) / 9);
      const grads = (['float32', 'float64'] as const).map((dtype) => {
        const x = tensor(values, shape, { dtype, requiresGrad: true });
        (log ? logSoftmax(x, ax) : softmax(x, ax)).backward(tensor(seed, shape, { dtype }));
        assert.is(x.grad!.dtype, dtype);
        return x.grad!.data;
      });
      const n = shape[ax]!;
      // float32 rounds the inputs (≤ 4·2⁻²⁴ each) and the rule's terms (≤ n of them, each ≤ 1)
      assertCloseScaled(grads[0]!, grads[1]!, values.map(() => 1), 2e-6 * (n + 4), `${log ? 'logSoftmax' : 'softmax'} grad float32 vs float64`);
    }),
    fcParams(60),
  );
});

test('gradcheck (float64): softmax and logSoftmax along any axis, rank 1..4', () => {
  fc.assert(
    fc.property(caseArb(1, 4, 3, (n) => valuesArb(n, 3), fc.constant<DType>('float64')), fc.constantFrom(softmax, logSoftmax), ({ shape, values, axis }, f) => {
      const x = tensor(values, shape, { dtype: 'float64', requiresGrad: true });
      gradcheck((t) => f(t!, axis), [x], GC);
    }),
    fcParams(60),
  );
});

test('gradcheck (float64): softmax and logSoftmax of a broadcast sum a + b send gradients to both shapes', () => {
  const pairCase = broadcastablePairArb(4, 3)
    .filter(([a, b]) => a.length > 0 || b.length > 0)
    .chain(([a, b]) => {
      const rank = naiveBroadcastShape(a, b)!.length;
      return fc.record({
        a: fc.constant(a),
        b: fc.constant(b),
        va: valuesArb(sizeOfShape(a), 2),
        vb: valuesArb(sizeOfShape(b), 2),
        axis: fc.integer({ min: -rank, max: rank - 1 }),
        log: fc.boolean(),
      });
    });
  fc.assert(
    fc.property(pairCase, ({ a, b, va, vb, axis, log }) => {
      const ta = tensor(va, a, { dtype: 'float64', requiresGrad: true });
      const tb = tensor(vb, b, { dtype: 'float64', requiresGrad: true });
      gradcheck((p, q) => (log ? logSoftmax : softmax)(add(p!, q!), axis), [ta, tb], GC);
    }),
    fcParams(50),
  );
});

test('softmax/logSoftmax throw AxisError naming the op for an out-of-range or fractional axis (any axis of a scalar)', () => {
  const errCase = shapeArb(5, 3, 1).chain((shape) =>
    fc.record({ shape: fc.constant(shape), axis: fc.oneof(badAxisArb(shape.length), fc.constant(0.5)), log: fc.boolean() }),
  );
  fc.assert(
    fc.property(errCase, ({ shape, axis, log }) => {
      const op = log ? 'logSoftmax' : 'softmax';
      const x = tensor(new Array<number>(sizeOfShape(shape)).fill(0), shape);
      const e = thrown(() => (log ? logSoftmax : softmax)(x, axis), `${op}(x=[${shape}], ${axis})`);
      assert.ok(e instanceof AxisError, `expected AxisError, got ${String(e)}`);
      assert.ok(e.message.startsWith(`${op}: axis ${axis} out of range for a tensor of rank ${shape.length}`), e.message);
    }),
    fcParams(60),
  );
});

test.run();
