/**
 * layerNorm / rmsNorm against a two-pass naive oracle (rank 1..4, with and without weight and bias, float32 and
 * float64); the invariances that define them (shift and positive scale of a row); float32 backward against float64
 * backward rounded once; gradcheck with respect to x, weight and bias; and their shape/value errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ShapeError, Tensor, ValueError, fmtShape, gradcheck, layerNorm, rmsNorm, type DType } from '../../core/index.js';
import { assertClose, assertShape } from '../helpers/close.js';
import { fcParams, valuesArb } from '../helpers/fc.js';
import { sizeOfShape } from '../helpers/oracle.js';
import { makeTensor } from '../helpers/oracle-elementwise.js';
import { assertCloseScaled, dtypeArb, thrown } from '../helpers/oracle-reduce.js';
import { naiveLayerNorm, naiveRmsNorm, rowMeanSquares, rowVariances } from '../helpers/oracle-nn.js';

/**
 * Forward tolerances. The ops compute in float64 and round the output once, so float32 is within half an ulp
 * (2⁻²⁴ relative) of the float64 oracle run on the same float32 inputs; the atol covers float64 reassociation
 * ((x − μ)·r vs (x − μ)/σ) on values of size ≤ 10.
 */
const FWD: Record<DType, { rtol: number; atol: number }> = {
  float32: { rtol: 2 ** -23, atol: 1e-13 },
  float64: { rtol: 1e-14, atol: 1e-13 },
};

interface NormCase {
  shape: number[];
  x: number[];
  w: number[] | null;
  b: number[] | null;
  eps: number;
  dtype: DType;
}

/** Rank 1..maxRank, last axis 1..maxDim (leading axes may be 0), optional weight/bias, a few eps values. */
function normCaseArb(maxRank: number, maxDim: number, dtype: fc.Arbitrary<DType> = dtypeArb): fc.Arbitrary<NormCase> {
  return fc
    .tuple(fc.array(fc.integer({ min: 0, max: maxDim }), { minLength: 0, maxLength: maxRank - 1 }), fc.integer({ min: 1, max: maxDim }))
    .chain(([lead, D]) => {
      const shape = [...lead, D];
      return fc.record({
        shape: fc.constant(shape),
        x: valuesArb(sizeOfShape(shape), 3),
        w: fc.option(valuesArb(D, 2), { nil: null }),
        b: fc.option(valuesArb(D, 2), { nil: null }),
        eps: fc.constantFrom(1e-5, 1e-3, 0.5),
        dtype,
      });
    });
}

const last = (shape: readonly number[]): number => shape[shape.length - 1]!;

test('layerNorm equals the two-pass oracle (rank 1..4, with/without weight and bias, float32/float64); dtype and shape kept', () => {
  fc.assert(
    fc.property(normCaseArb(4, 4), ({ shape, x, w, b, eps, dtype }) => {
      const xt = makeTensor(shape, x, dtype);
      const wt = w && makeTensor([w.length], w, dtype);
      const bt = b && makeTensor([b.length], b, dtype);
      const y = layerNorm(xt, wt, bt, eps);
      assert.is(y.dtype, dtype);
      assertShape(y.shape, shape);
      assertClose(y.data, naiveLayerNorm(xt.data, last(shape), wt?.data ?? null, bt?.data ?? null, eps), FWD[dtype], `layerNorm ${fmtShape(shape)} ${dtype}`);
    }),
    fcParams(150),
  );
});

test('rmsNorm equals the two-pass oracle (rank 1..4, with/without weight, float32/float64); dtype and shape kept', () => {
  fc.assert(
    fc.property(normCaseArb(4, 4), ({ shape, x, w, eps, dtype }) => {
      const xt = makeTensor(shape, x, dtype);
      const wt = w && makeTensor([w.length], w, dtype);
      const y = rmsNorm(xt, wt, eps);
      assert.is(y.dtype, dtype);
      assertShape(y.shape, shape);
      assertClose(y.data, naiveRmsNorm(xt.data, last(shape), wt?.data ?? null, eps), FWD[dtype], `rmsNorm ${fmtShape(shape)} ${dtype}`);
    }),
    fcParams(150),
  );
});

test('default eps: layerNorm uses 1e-5 and rmsNorm 1e-6 (a row of tiny spread tells them apart)', () => {
  const x = makeTensor([4], [1e-3, -1e-3, 2e-3, 0]);
  assertClose(layerNorm(x).data, naiveLayerNorm(x.data, 4, null, null, 1e-5), FWD.float64, 'layerNorm default eps');
  assertClose(rmsNorm(x).data, naiveRmsNorm(x.data, 4, null, 1e-6), FWD.float64, 'rmsNorm default eps');
  // the defaults matter here: another eps moves the output by far more than the tolerance
  assert.ok(Math.abs(layerNorm(x).data[0]! - naiveLayerNorm(x.data, 4, null, null, 1e-6)[0]!) > 1e-3);
});

/**
 * Invariance inputs: float64 rows of spread (biased variance, or mean square for rmsNorm) ≥ 0.05, with a constant
 * per row to add and a positive factor per row. With eps = 0 the invariances are exact in real arithmetic; rounding
 * in x + c and s·x is ≤ 2⁻⁵³·|x + c| ≈ 1e-15, magnified by 1/σ ≤ 4.5 and |w| ≤ 2: atol 1e-12 is far above it.
 */
const INV = { rtol: 0, atol: 1e-12 };

function invarianceArb(): fc.Arbitrary<{ rows: number; D: number; x: number[]; c: number[]; s: number[]; w: number[]; b: number[] }> {
  return fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 2, max: 6 })).chain(([rows, D]) =>
    fc.record({
      rows: fc.constant(rows),
      D: fc.constant(D),
      x: valuesArb(rows * D, 3),
      c: valuesArb(rows, 5),
      s: fc.array(fc.double({ min: 0.2, max: 5, noNaN: true }), { minLength: rows, maxLength: rows }),
      w: valuesArb(D, 2),
      b: valuesArb(D, 2),
    }),
  );
}

const perRow = (x: readonly number[], D: number, f: (v: number, r: number) => number): number[] => x.map((v, i) => f(v, Math.floor(i / D)));

test('layerNorm (eps = 0) is invariant to adding a constant to a row and to scaling a row by a positive factor', () => {
  fc.assert(
    fc.property(invarianceArb(), ({ rows, D, x, c, s, w, b }) => {
      fc.pre(rowVariances(x, D).every((v) => v >= 0.05));
      const wt = makeTensor([D], w);
      const bt = makeTensor([D], b);
      const ln = (v: number[]): Float64Array => layerNorm(makeTensor([rows, D], v), wt, bt, 0).data as Float64Array;
      const base = ln(x);
      assertClose(ln(perRow(x, D, (v, r) => v + c[r]!)), base, INV, 'x + c');
      assertClose(ln(perRow(x, D, (v, r) => v * s[r]!)), base, INV, 's·x');
    }),
    fcParams(100),
  );
});

test('rmsNorm (eps = 0) is invariant to scaling a row by a positive factor, and flips sign with a negative one', () => {
  fc.assert(
    fc.property(invarianceArb(), ({ rows, D, x, s, w }) => {
      fc.pre(rowMeanSquares(x, D).every((m) => m >= 0.05));
      const wt = makeTensor([D], w);
      const rn = (v: number[]): Float64Array => rmsNorm(makeTensor([rows, D], v), wt, 0).data as Float64Array;
      const base = rn(x);
      assertClose(rn(perRow(x, D, (v, r) => v * s[r]!)), base, INV, 's·x');
      assertClose(rn(perRow(x, D, (v, r) => -v * s[r]!)), Array.from(base, (v) => -v), INV, '−s·x');
    }),
    fcParams(100),
  );
});

test('float32 backward equals float64 backward rounded once (dx per element; dw and db summed over many rows)', () => {
  // Inputs and upstream gradient are float32 values, so both runs see the same numbers; float64 sums and one final
  // rounding put every float32 gradient within 2⁻²⁴ relative of the float64 one (atol for values that cancel to ~0).
  fc.assert(
    fc.property(
      fc.tuple(fc.integer({ min: 1, max: 80 }), fc.integer({ min: 1, max: 5 }), fc.boolean()).chain(([rows, D, rms]) =>
        fc.record({ rows: fc.constant(rows), D: fc.constant(D), rms: fc.constant(rms), x: valuesArb(rows * D, 3), g: valuesArb(rows * D, 2), w: valuesArb(D, 2), b: valuesArb(D, 2) }),
      ),
      ({ rows, D, rms, x, g, w, b }) => {
        const grads = (dtype: DType): Float64Array[] => {
          const xt = makeTensor([rows, D], x, 'float32', true);
          const xs = makeTensor([rows, D], Array.from(xt.data), dtype, true);
          const wt = makeTensor([D], Array.from(Float32Array.from(w)), dtype, true);
          const bt = makeTensor([D], Array.from(Float32Array.from(b)), dtype, true);
          const y = rms ? rmsNorm(xs, wt) : layerNorm(xs, wt, bt);
          y.backward(makeTensor([rows, D], Array.from(Float32Array.from(g)), dtype));
          const out = [xs.grad!, wt.grad!, ...(rms ? [] : [bt.grad!])];
          return out.map((t) => Float64Array.from(t.data));
        };
        const g32 = grads('float32');
        const g64 = grads('float64');
        ['dx', 'dw', 'db'].slice(0, g64.length).forEach((name, i) => {
          const scale = g64[i]!.map((v) => Math.abs(v));
          assertCloseScaled(g32[i]!, g64[i]!, scale, 2 ** -24, `${rms ? "rmsNorm" : "layerNorm"} ${name} rows=${rows}`, 1e-30);
        });
      },
    ),
    fcParams(80),
  );
});

test('gradcheck: layerNorm and rmsNorm with respect to x, weight and bias (float64, rows of spread ≥ 0.05)', () => {
  fc.assert(
    fc.property(normCaseArb(3, 4, fc.constant<DType>('float64')), fc.boolean(), ({ shape, x, w, b }, rms) => {
      const D = last(shape);
      fc.pre(sizeOfShape(shape) > 0 && sizeOfShape(shape) <= 24);
      // near-constant rows make 1/σ large and central differences inaccurate (D = 1 is exact: y = b, dy/dx = 0)
      fc.pre(rms ? rowMeanSquares(x, D).every((m) => m >= 0.05) : D === 1 || rowVariances(x, D).every((v) => v >= 0.05));
      const inputs: Tensor[] = [makeTensor(shape, x, 'float64', true)];
      if (w) inputs.push(makeTensor([D], w, 'float64', true));
      if (b && !rms) inputs.push(makeTensor([D], b, 'float64', true));
      const fn = (...ts: Tensor[]): Tensor => {
        const [xt, ...rest] = ts;
        const wt = w ? rest.shift()! : null;
        const bt = b && !rms ? rest.shift()! : null;
        return rms ? rmsNorm(xt!, wt) : layerNorm(xt!, wt, bt);
      };
      assert.ok(gradcheck(fn, inputs, { eps: 1e-6, atol: 1e-5, rtol: 1e-3 }));
    }),
    fcParams(40),
  );
});

test('errors: weight/bias of the wrong size or rank → ShapeError naming both shapes; eps < 0 or NaN → ValueError; a scalar x → ShapeError', () => {
  const x = makeTensor([2, 4], [1, 2, 3, 4, 5, 6, 7, 8]);
  const bad: Array<[string, () => unknown, string]> = [
    ['layerNorm weight [3]', () => layerNorm(x, makeTensor([3], [1, 1, 1])), '[3]'],
    ['layerNorm bias [5]', () => layerNorm(x, null, makeTensor([5], [0, 0, 0, 0, 0])), '[5]'],
    ['layerNorm weight [1,4]', () => layerNorm(x, makeTensor([1, 4], [1, 1, 1, 1])), '[1,4]'],
    ['rmsNorm weight [2]', () => rmsNorm(x, makeTensor([2], [1, 1])), '[2]'],
    ['rmsNorm weight [4,1]', () => rmsNorm(x, makeTensor([4, 1], [1, 1, 1, 1])), '[4,1]'],
  ];
  for (const [label, call, wShape] of bad) {
    const e = thrown(call, label);
    assert.instance(e, ShapeError, label);
    const msg = (e as Error).message;
    assert.ok(msg.includes(wShape) && msg.includes('[2,4]'), `${label}: message names both shapes — ${msg}`);
  }
  for (const eps of [-1e-5, -1, NaN]) {
    assert.instance(thrown(() => layerNorm(x, null, null, eps), `layerNorm eps=${eps}`), ValueError);
    assert.instance(thrown(() => rmsNorm(x, null, eps), `rmsNorm eps=${eps}`), ValueError);
  }
  const scalar = makeTensor([], [1]);
  assert.instance(thrown(() => layerNorm(scalar), 'layerNorm scalar'), ShapeError);
  assert.instance(thrown(() => rmsNorm(scalar), 'rmsNorm scalar'), ShapeError);
});

test.run();
