/**
 * gather / indexSelect / scatterAdd (core/ops/indexing.ts) with torch semantics, against oracles written from the
 * torch docs' definitions (tests/helpers/oracle-movement.ts): for axis 1,
 *   gather:      out[i][j][k] = x[i][index[i][j][k]][k]
 *   indexSelect: out[i][j][k] = x[i][index[j]][k]
 *   scatterAdd:  out = x; out[i][index[i][j][k]][k] += src[i][j][k]
 * Indices are drawn from a small range so that repeats are common (gradients must accumulate over them).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { AxisError, IndexError, ShapeError, gather, gradcheck, indexSelect, scatterAdd, tensor, type DType, type Tensor } from '../../core/index.js';
import { assertClose, assertShape } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';
import { ravel, sizeOfShape, unravel } from '../helpers/oracle.js';
import {
  axisAlias, denseShapeArb, expectThrows, fmt, naiveGather, naiveIndexSelect, naiveScatterAdd, sampleArb, type Naive, type Sample,
} from '../helpers/oracle-movement.js';

/** gather and indexSelect copy values: exact. scatterAdd sums: float64 is summed in the oracle's order, float32 rounds each add. */
const EXACT = { rtol: 0, atol: 0 };
const SUM_TOL: Record<DType, { rtol: number; atol: number }> = { float64: { rtol: 1e-12, atol: 1e-12 }, float32: { rtol: 1e-5, atol: 1e-5 } };
/** gradcheck tolerances: these ops are linear in x and src. */
const GC = { eps: 1e-6, atol: 1e-7, rtol: 1e-6 };

const dtypeArb = fc.constantFrom<DType>('float32', 'float64');
const mk = (s: Sample, dtype: DType = 'float64', requiresGrad = false): Tensor => tensor(s.values, s.shape, { dtype, requiresGrad });

function assertMatches(out: Tensor, expected: Naive, tol: { rtol: number; atol: number }, label: string): void {
  assertShape(out.shape, expected.shape, `${label} shape`);
  assertClose(out.data, expected.data, tol, label);
}

interface IndexCase {
  x: Sample;
  axis: number;
  neg: boolean;
  indexShape: number[];
  index: number[];
}

/**
 * x (no empty axes), an axis, and an index of x's rank: at most x's size off the axis, any size (0..4) on it,
 * values in [0, x.shape[axis]).
 */
const indexCaseArb = (maxRank: number, maxDim: number): fc.Arbitrary<IndexCase> =>
  sampleArb(denseShapeArb(maxRank, maxDim, false).filter((s) => s.length >= 1)).chain((x) =>
    fc
      .tuple(fc.nat(x.shape.length - 1), fc.boolean())
      .chain(([axis, neg]) =>
        fc
          .tuple(...x.shape.map((d, i) => (i === axis ? fc.nat(4) : fc.integer({ min: 1, max: d }))))
          .chain((indexShape) =>
            fc
              .array(fc.nat(x.shape[axis]! - 1), { minLength: sizeOfShape(indexShape), maxLength: sizeOfShape(indexShape) })
              .map((index) => ({ x, axis, neg, indexShape, index })),
          ),
      ),
  );

const indexTensor = (c: { index: number[]; indexShape: number[] }): Tensor => tensor(c.index, c.indexShape, { dtype: 'float32' });

// ── gather ──

test('gather: out[…] = x[… with the axis coordinate replaced by index[…]] (any axis, negative too)', () => {
  fc.assert(
    fc.property(indexCaseArb(5, 4), dtypeArb, (c, dtype) => {
      const x = mk(c.x, dtype);
      const out = gather(x, axisAlias(c.axis, c.x.shape.length, c.neg), indexTensor(c));
      assertMatches(out, naiveGather(x.data, c.x.shape, c.axis, c.index, c.indexShape), EXACT, `gather axis ${c.axis} ${fmt(c.x.shape)} by ${fmt(c.indexShape)}`);
      assert.is(out.dtype, dtype);
    }),
    fcParams(100),
  );
});

test('gather: gradcheck, with repeated indices (gradients accumulate)', () => {
  fc.assert(
    fc.property(indexCaseArb(3, 3), fc.boolean(), (c, allSame) => {
      // allSame: every index points at one entry, the most repeated case
      const index = allSame ? c.index.map(() => c.index[0] ?? 0) : c.index;
      gradcheck((a) => gather(a!, c.axis, tensor(index, c.indexShape)), [mk(c.x, 'float64', true)], GC);
    }),
    fcParams(40),
  );
});

test('gather: out-of-range, negative or non-integer indices throw IndexError; misfit index shapes throw ShapeError; bad axis AxisError', () => {
  fc.assert(
    fc.property(indexCaseArb(4, 3).filter((c) => c.index.length > 0), fc.nat(), fc.nat(2), fc.constantFrom('high', 'negative', 'fraction'), (c, at, k, kind) => {
      const x = mk(c.x);
      const n = c.x.shape[c.axis]!;
      const bad = [...c.index];
      const p = at % bad.length;
      bad[p] = kind === 'high' ? n + k : kind === 'negative' ? -1 - k : bad[p]! + 0.5;
      expectThrows(() => gather(x, c.axis, tensor(bad, c.indexShape)), IndexError, ['index', `${bad[p]}`], `gather ${kind} index`);
      // one axis off the gather axis is larger in index than in x
      const r = c.x.shape.length;
      if (r >= 2) {
        const d = (c.axis + 1 + (at % (r - 1))) % r;
        const shape = [...c.indexShape];
        shape[d] = c.x.shape[d]! + 1;
        const idx = tensor(new Float32Array(sizeOfShape(shape)), shape);
        expectThrows(() => gather(x, c.axis, idx), ShapeError, [fmt(shape), fmt(c.x.shape)], 'gather index larger off the axis');
      }
      const wrongRank = [...c.indexShape, 1];
      expectThrows(() => gather(x, c.axis, tensor(new Float32Array(sizeOfShape(wrongRank)), wrongRank)), ShapeError, [fmt(wrongRank), fmt(c.x.shape)], 'gather index rank');
      expectThrows(() => gather(x, r, indexTensor(c)), AxisError, [`${r} out of range`], 'gather axis');
    }),
    fcParams(60),
  );
});

test('gather, indexSelect, scatterAdd: a 1-D index may be a Tensor, an Int32Array or a number[] alike', () => {
  fc.assert(
    fc.property(indexCaseArb(1, 4), (c) => {
      const x = mk(c.x);
      const forms = [tensor(c.index, c.indexShape), Int32Array.from(c.index), c.index] as const;
      const expected = naiveGather(x.data, c.x.shape, 0, c.index, c.indexShape);
      const src = tensor(c.index.map((v) => v + 0.25), c.indexShape, { dtype: 'float64' });
      const added = naiveScatterAdd(x.data, c.x.shape, 0, c.index, c.indexShape, src.data, c.indexShape);
      for (const form of forms) {
        assertMatches(gather(x, 0, form), expected, EXACT, 'gather');
        assertMatches(indexSelect(x, 0, form), expected, EXACT, 'indexSelect');
        assertMatches(scatterAdd(x, 0, form, src), added, SUM_TOL.float64, 'scatterAdd');
      }
    }),
    fcParams(40),
  );
});

// ── indexSelect ──

interface SelectCase {
  x: Sample;
  axis: number;
  neg: boolean;
  index: number[];
}

const selectCaseArb = (maxRank: number, maxDim: number): fc.Arbitrary<SelectCase> =>
  sampleArb(denseShapeArb(maxRank, maxDim, false).filter((s) => s.length >= 1)).chain((x) =>
    fc.tuple(fc.nat(x.shape.length - 1), fc.boolean()).chain(([axis, neg]) =>
      fc.array(fc.nat(x.shape[axis]! - 1), { maxLength: 5 }).map((index) => ({ x, axis, neg, index })),
    ),
  );

test('indexSelect: out[…, j, …] = x[…, index[j], …] on the axis (rows may repeat, index may be empty)', () => {
  fc.assert(
    fc.property(selectCaseArb(5, 4), dtypeArb, (c, dtype) => {
      const x = mk(c.x, dtype);
      const out = indexSelect(x, axisAlias(c.axis, c.x.shape.length, c.neg), c.index);
      assertMatches(out, naiveIndexSelect(x.data, c.x.shape, c.axis, c.index), EXACT, `indexSelect axis ${c.axis} [${c.index}]`);
    }),
    fcParams(100),
  );
});

test('indexSelect: gradcheck with repeated indices; IndexError / ShapeError / AxisError on bad input', () => {
  fc.assert(
    fc.property(selectCaseArb(3, 3), fc.nat(3), (c, k) => {
      const repeated = [...c.index, ...c.index.slice(0, 2)];
      gradcheck((a) => indexSelect(a!, c.axis, repeated), [mk(c.x, 'float64', true)], GC);
      const x = mk(c.x);
      const n = c.x.shape[c.axis]!;
      expectThrows(() => indexSelect(x, c.axis, [...c.index, n + k]), IndexError, [`${n + k}`], 'indexSelect too high');
      expectThrows(() => indexSelect(x, c.axis, [-1 - k, ...c.index]), IndexError, [`${-1 - k}`], 'indexSelect negative');
      expectThrows(() => indexSelect(x, c.axis, [0.5]), IndexError, ['0.5'], 'indexSelect non-integer');
      const twoD = tensor([0, 0], [1, 2]);
      expectThrows(() => indexSelect(x, c.axis, twoD), ShapeError, ['[1,2]'], 'indexSelect 2-D index');
      const r = c.x.shape.length;
      expectThrows(() => indexSelect(x, -r - 1, c.index), AxisError, [`${-r - 1} out of range`], 'indexSelect axis');
    }),
    fcParams(40),
  );
});

// ── scatterAdd ──

interface ScatterCase extends IndexCase {
  src: Sample;
}

/** An index case plus src: at least index's size on every axis (the scatter axis included). */
const scatterCaseArb = (maxRank: number, maxDim: number): fc.Arbitrary<ScatterCase> =>
  indexCaseArb(maxRank, maxDim).chain((c) =>
    sampleArb(fc.tuple(...c.indexShape.map((d) => fc.integer({ min: d, max: d + 1 })))).map((src) => ({ ...c, src })),
  );

test('scatterAdd: out = x, then out[… index[…] …] += src[…]; dtype promoted', () => {
  fc.assert(
    fc.property(scatterCaseArb(5, 4), dtypeArb, dtypeArb, (c, dx, ds) => {
      const x = mk(c.x, dx);
      const src = mk(c.src, ds);
      const out = scatterAdd(x, axisAlias(c.axis, c.x.shape.length, c.neg), indexTensor(c), src);
      const dtype = dx === 'float64' || ds === 'float64' ? 'float64' : 'float32';
      assert.is(out.dtype, dtype, 'scatterAdd dtype');
      const expected = naiveScatterAdd(x.data, c.x.shape, c.axis, c.index, c.indexShape, src.data, c.src.shape);
      assertMatches(out, expected, SUM_TOL[dtype], `scatterAdd axis ${c.axis} ${fmt(c.x.shape)} index ${fmt(c.indexShape)} src ${fmt(c.src.shape)}`);
      assert.ok(x.data.every((v, i) => v === c.x.values[i] || (dx === 'float32' && v === Math.fround(c.x.values[i]!))), 'x is not modified');
    }),
    fcParams(100),
  );
});

test('scatterAdd: gradcheck with respect to both x and src, repeated indices included', () => {
  fc.assert(
    fc.property(scatterCaseArb(3, 3), fc.boolean(), (c, allSame) => {
      const index = tensor(allSame ? c.index.map(() => c.index[0] ?? 0) : c.index, c.indexShape);
      gradcheck((a, s) => scatterAdd(a!, c.axis, index, s!), [mk(c.x, 'float64', true), mk(c.src, 'float64', true)], GC);
    }),
    fcParams(40),
  );
});

test('scatterAdd: mixed dtypes — x gets the upstream gradient and src its gather at the index, each in its own dtype', () => {
  fc.assert(
    fc.property(scatterCaseArb(4, 3), dtypeArb, dtypeArb, (c, dx, ds) => {
      const x = mk(c.x, dx, true);
      const src = mk(c.src, ds, true);
      const out = scatterAdd(x, c.axis, indexTensor(c), src);
      const g = tensor(Array.from({ length: out.size }, (_, i) => (i % 7) - 3), [...out.shape], { dtype: out.dtype });
      out.backward(g);
      assert.is(x.grad!.dtype, dx, 'x grad dtype');
      assert.is(src.grad!.dtype, ds, 'src grad dtype');
      assertClose(x.grad!.data, g.data, EXACT, 'x grad');
      // d out[… index[p] …] / d src[p] = 1: src's gradient is g gathered at index, zero where index does not reach
      const gathered = naiveGather(g.data, c.x.shape, c.axis, c.index, c.indexShape);
      const expected = new Array<number>(src.size).fill(0);
      gathered.data.forEach((v, i) => (expected[ravel(unravel(i, c.indexShape), c.src.shape)] = v));
      assertClose(src.grad!.data, expected, EXACT, 'src grad');
    }),
    fcParams(40),
  );
});

test('scatterAdd: bad indices throw IndexError; an index larger than src (any axis) or than x (off the axis) throws ShapeError naming both', () => {
  fc.assert(
    fc.property(scatterCaseArb(4, 3).filter((c) => c.index.length > 0), fc.nat(), fc.nat(2), (c, at, k) => {
      const x = mk(c.x);
      const src = mk(c.src);
      const n = c.x.shape[c.axis]!;
      const bad = [...c.index];
      bad[at % bad.length] = at % 2 === 0 ? n + k : -1 - k;
      expectThrows(() => scatterAdd(x, c.axis, tensor(bad, c.indexShape), src), IndexError, ['index'], 'scatterAdd index out of range');
      const r = c.x.shape.length;
      // src one short on some axis (the scatter axis included) that index uses in full
      const d = at % r;
      const small = [...c.indexShape];
      small[d] = small[d]! - 1; // ≥ 0: a non-empty index has no empty axis
      const srcSmall = tensor(new Float64Array(sizeOfShape(small)), small, { dtype: 'float64' });
      expectThrows(() => scatterAdd(x, c.axis, indexTensor(c), srcSmall), ShapeError, [fmt(c.indexShape), fmt(small)], `scatterAdd src short on axis ${d}`);
      if (r >= 2) {
        const off = (c.axis + 1) % r;
        const big = [...c.indexShape];
        big[off] = c.x.shape[off]! + 1;
        const idx = tensor(new Float32Array(sizeOfShape(big)), big);
        const bigSrc = tensor(new Float64Array(sizeOfShape(big)), big, { dtype: 'float64' });
        expectThrows(() => scatterAdd(x, c.axis, idx, bigSrc), ShapeError, [fmt(big), fmt(c.x.shape)], 'scatterAdd index larger than x');
      }
    }),
    fcParams(60),
  );
});

test.run();
