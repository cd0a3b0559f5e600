/**
 * matmul at the op level (core/ops/matmul.ts): NumPy semantics (1-D × 1-D dot, 1-D × N-D, N-D × 1-D, broadcast
 * batch dims), the transpose flags, dtype and shape errors, and float64 gradchecks — all against the naive
 * definition in tests/helpers/oracle-movement.ts (a triple loop over broadcast multi-indices, summed in float64).
 * The kernel itself (core/kernels/matmul.ts) has its own tests in matmul-kernel.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { DTypeError, ShapeError, gradcheck, matmul, tensor, transpose, type DType, type Tensor } from '../../core/index.js';
import { assertClose, assertShape } from '../helpers/close.js';
import { broadcastablePairArb, fcParams, nonBroadcastablePairArb } from '../helpers/fc.js';
import { sizeOfShape } from '../helpers/oracle.js';
import { expectThrows, fmt, naiveMatmulNd, naivePermute, valuesFor } from '../helpers/oracle-movement.js';

/**
 * The kernel sums in float64 and rounds once: float64 results differ from the oracle only by summation order
 * (|values| ≤ 3, K ≤ 40), float32 ones by one rounding of the result.
 */
const TOL: Record<DType, { rtol: number; atol: number }> = { float64: { rtol: 1e-12, atol: 1e-12 }, float32: { rtol: 1e-6, atol: 1e-6 } };
/** gradcheck tolerances: matmul is bilinear, central differences are exact up to rounding. */
const GC = { eps: 1e-6, atol: 1e-7, rtol: 1e-6 };

const dtypeArb = fc.constantFrom<DType>('float32', 'float64');

interface Case {
  aShape: number[];
  bShape: number[];
  a: number[];
  b: number[];
}

/** A size that is rarely 0 (1 in 10). */
const dimArb = (max: number, zeros: boolean): fc.Arbitrary<number> =>
  zeros ? fc.oneof({ arbitrary: fc.integer({ min: 1, max }), weight: 9 }, { arbitrary: fc.constant(0), weight: 1 }) : fc.integer({ min: 1, max });

/** Operands that multiply under NumPy rules: each 1-D or [...batch, M, K] / [...batch, K, N], batches broadcasting. */
const caseArb = (maxDim: number, maxBatchRank: number, zeros: boolean): fc.Arbitrary<Case> =>
  fc
    .tuple(dimArb(maxDim, zeros), dimArb(maxDim, zeros), dimArb(maxDim, zeros), broadcastablePairArb(maxBatchRank, 3), fc.boolean(), fc.boolean())
    .map(([M, K, N, [ba, bb], aVec, bVec]) => ({ aShape: aVec ? [K] : [...ba, M, K], bShape: bVec ? [K] : [...bb, K, N] }))
    .chain(({ aShape, bShape }) =>
      fc.tuple(valuesFor(sizeOfShape(aShape)), valuesFor(sizeOfShape(bShape))).map(([a, b]) => ({ aShape, bShape, a, b })),
    );

const mk = (values: number[], shape: number[], dtype: DType = 'float64', requiresGrad = false): Tensor => tensor(values, shape, { dtype, requiresGrad });

/** The stored form of a logical operand for a transpose flag: its last two axes swapped (1-D stays as is). */
function stored(values: number[], shape: number[], flag: boolean): { values: number[]; shape: number[] } {
  if (!flag || shape.length < 2) return { values, shape };
  const r = shape.length;
  const perm = [...Array(r).keys()];
  [perm[r - 2], perm[r - 1]] = [r - 1, r - 2];
  const t = naivePermute(values, shape, perm);
  return { values: t.data, shape: t.shape };
}

test('matmul: NumPy semantics (1-D operands, broadcast batch dims) against the naive triple loop', () => {
  fc.assert(
    fc.property(caseArb(4, 3, true), dtypeArb, (c, dtype) => {
      const [a, b] = [mk(c.a, c.aShape, dtype), mk(c.b, c.bShape, dtype)];
      const out = matmul(a, b);
      const expected = naiveMatmulNd(a.data, c.aShape, b.data, c.bShape);
      assertShape(out.shape, expected.shape, `matmul ${fmt(c.aShape)} @ ${fmt(c.bShape)} shape`);
      assertClose(out.data, expected.data, TOL[dtype], `matmul ${fmt(c.aShape)} @ ${fmt(c.bShape)}`);
      assert.is(out.dtype, dtype);
    }),
    fcParams(150),
  );
});

test('matmul: result shapes as NumPy prints them', () => {
  // [a.shape, b.shape, (np.ones(a) @ np.ones(b)).shape]
  const facts: [number[], number[], number[]][] = [
    [[2, 1, 3, 4], [5, 4, 2], [2, 5, 3, 2]],
    [[3], [3], []],
    [[3], [2, 3, 4], [2, 4]],
    [[2, 3, 4], [4], [2, 3]],
    [[4], [4, 5], [5]],
    [[5, 4], [4], [5]],
    [[1, 2, 3], [7, 3, 1], [7, 2, 1]],
    [[9, 5, 7, 4], [9, 5, 4, 3], [9, 5, 7, 3]],
    [[2, 1, 1, 3], [3, 4], [2, 1, 1, 4]],
    [[3], [1, 1, 3, 2], [1, 1, 2]],
    [[4, 1, 2, 3], [1, 5, 3, 2], [4, 5, 2, 2]],
  ];
  for (const [as, bs, expected] of facts) {
    const [a, b] = [mk(Array.from({ length: sizeOfShape(as) }, (_, i) => (i % 7) - 3), as), mk(Array.from({ length: sizeOfShape(bs) }, (_, i) => (i % 5) - 2), bs)];
    const out = matmul(a, b);
    assertShape(out.shape, expected, `${fmt(as)} @ ${fmt(bs)}`);
    assertClose(out.data, naiveMatmulNd(a.data, as, b.data, bs).data, TOL.float64, `${fmt(as)} @ ${fmt(bs)} values`);
  }
});

test('matmul: two vectors give their dot product, a rank-0 tensor', () => {
  fc.assert(
    fc.property(fc.nat(6).chain((k) => fc.tuple(valuesFor(k), valuesFor(k))), dtypeArb, ([u, v], dtype) => {
      const [a, b] = [mk(u, [u.length], dtype), mk(v, [v.length], dtype)];
      const out = matmul(a, b);
      assertShape(out.shape, [], 'dot shape');
      let dot = 0;
      for (let i = 0; i < u.length; i++) dot += a.data[i]! * b.data[i]!;
      assertClose(out.data, [dtype === 'float32' ? Math.fround(dot) : dot], TOL[dtype], 'dot');
    }),
    fcParams(60),
  );
});

test('matmul: {transposeA, transposeB} read the stored operands transposed — equal to transposing first (no-ops on 1-D)', () => {
  fc.assert(
    fc.property(caseArb(4, 3, true), fc.boolean(), fc.boolean(), dtypeArb, (c, ta, tb, dtype) => {
      const sa = stored(c.a, c.aShape, ta);
      const sb = stored(c.b, c.bShape, tb);
      const [a, b] = [mk(sa.values, sa.shape, dtype), mk(sb.values, sb.shape, dtype)];
      const out = matmul(a, b, { transposeA: ta, transposeB: tb });
      const label = `matmul ${fmt(sa.shape)}${ta ? 'ᵀ' : ''} @ ${fmt(sb.shape)}${tb ? 'ᵀ' : ''}`;
      const expected = naiveMatmulNd(mk(c.a, c.aShape, dtype).data, c.aShape, mk(c.b, c.bShape, dtype).data, c.bShape);
      assertShape(out.shape, expected.shape, `${label} shape`);
      assertClose(out.data, expected.data, TOL[dtype], label);
      const first = matmul(ta && a.ndim >= 2 ? transpose(a, -1, -2) : a, tb && b.ndim >= 2 ? transpose(b, -1, -2) : b);
      assertClose(out.data, first.data, TOL[dtype], `${label} vs transposing first`);
    }),
    fcParams(100),
  );
});

test('matmul: larger products (the blocked kernel path) with broadcast batches and flags', () => {
  const big = fc
    .tuple(fc.integer({ min: 9, max: 20 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 9, max: 20 }), fc.boolean(), fc.boolean(), fc.boolean())
    .chain(([M, K, N, ta, tb, batched]) => {
      const aShape = batched ? [2, 1, M, K] : [M, K];
      const bShape = batched ? [3, K, N] : [K, N];
      return fc
        .tuple(valuesFor(sizeOfShape(aShape)), valuesFor(sizeOfShape(bShape)))
        .map(([a, b]) => ({ c: { aShape, bShape, a, b }, ta, tb }));
    });
  fc.assert(
    fc.property(big, dtypeArb, ({ c, ta, tb }, dtype) => {
      const sa = stored(c.a, c.aShape, ta);
      const sb = stored(c.b, c.bShape, tb);
      const out = matmul(mk(sa.values, sa.shape, dtype), mk(sb.values, sb.shape, dtype), { transposeA: ta, transposeB: tb });
      const expected = naiveMatmulNd(mk(c.a, c.aShape, dtype).data, c.aShape, mk(c.b, c.bShape, dtype).data, c.bShape);
      assertShape(out.shape, expected.shape, 'big matmul shape');
      // |values| ≤ 3, K ≤ 40: float64 sums differ from the oracle's order by a few ulps of 360
      assertClose(out.data, expected.data, dtype === 'float64' ? { rtol: 1e-12, atol: 1e-11 } : TOL.float32, `big matmul ${fmt(c.aShape)} @ ${fmt(c.bShape)}`);
    }),
    fcParams(12),
  );
});

// ── errors ──

test('matmul: differing dtypes throw DTypeError', () => {
  fc.assert(
    fc.property(caseArb(3, 2, true), fc.boolean(), (c, swap) => {
      const [a, b] = [mk(c.a, c.aShape, swap ? 'float64' : 'float32'), mk(c.b, c.bShape, swap ? 'float32' : 'float64')];
      expectThrows(() => matmul(a, b), DTypeError, ['float32', 'float64'], 'matmul dtypes');
    }),
    fcParams(40),
  );
});

test('matmul: an inner-dimension mismatch throws ShapeError naming both shapes as given (1-D and flags too)', () => {
  fc.assert(
    fc.property(caseArb(4, 2, false), fc.integer({ min: 1, max: 3 }), fc.boolean(), fc.boolean(), (c, delta, ta, tb) => {
      // grow b's contraction axis (its first matrix axis, or its only axis)
      const bShape = [...c.bShape];
      bShape[c.bShape.length === 1 ? 0 : c.bShape.length - 2]! += delta;
      const sa = stored(c.a, c.aShape, ta);
      const sbShape = stored(new Array<number>(sizeOfShape(bShape)).fill(0), bShape, tb).shape;
      const [a, b] = [mk(sa.values, sa.shape), mk(new Array<number>(sizeOfShape(sbShape)).fill(0), sbShape)];
      expectThrows(() => matmul(a, b, { transposeA: ta, transposeB: tb }), ShapeError, [fmt(sa.shape), fmt(sbShape)], `matmul ${fmt(sa.shape)} @ ${fmt(sbShape)} (flags ${ta}, ${tb})`);
    }),
    fcParams(60),
  );
});

test('matmul: batch dims that do not broadcast throw ShapeError naming both shapes; rank-0 operands throw ShapeError', () => {
  fc.assert(
    fc.property(nonBroadcastablePairArb(3, 3), fc.integer({ min: 1, max: 3 }), ([ba, bb], k) => {
      const aShape = [...ba, 2, k];
      const bShape = [...bb, k, 2];
      const [a, b] = [mk(new Array<number>(sizeOfShape(aShape)).fill(1), aShape), mk(new Array<number>(sizeOfShape(bShape)).fill(1), bShape)];
      expectThrows(() => matmul(a, b), ShapeError, [fmt(aShape), fmt(bShape)], 'matmul batch');
      expectThrows(() => matmul(mk([1], []), b), ShapeError, [fmt(bShape)], 'matmul rank-0 a');
      expectThrows(() => matmul(a, mk([1], [])), ShapeError, [fmt(aShape)], 'matmul rank-0 b');
    }),
    fcParams(40),
  );
});

// ── gradients ──

test('matmul: gradcheck with broadcast batch dims, 1-D operands and each transpose flag, w.r.t. a, b or both', () => {
  fc.assert(
    fc.property(caseArb(3, 2, false), fc.boolean(), fc.boolean(), fc.constantFrom('both', 'a', 'b'), (c, ta, tb, which) => {
      const sa = stored(c.a, c.aShape, ta);
      const sb = stored(c.b, c.bShape, tb);
      const a = mk(sa.values, sa.shape, 'float64', which !== 'b');
      const b = mk(sb.values, sb.shape, 'float64', which !== 'a');
      gradcheck((x, y) => matmul(x!, y!, { transposeA: ta, transposeB: tb }), [a, b], GC);
    }),
    fcParams(60),
  );
});

test('matmul: a batched a times one matrix b (folded into one product) — forward and gradients, each flag on b', () => {
  const arb = fc
    .tuple(fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }), fc.boolean())
    .chain(([batch, M, K, N, tb]) =>
      fc.tuple(valuesFor(sizeOfShape(batch) * M * K), valuesFor(K * N)).map(([a, b]) => ({ a, aShape: [...batch, M, K], b: stored(b, [K, N], tb), bLogical: b, tb })),
    );
  fc.assert(
    fc.property(arb, ({ a, aShape, b, bLogical, tb }) => {
      const bShape = [aShape[aShape.length - 1]!, bLogical.length / aShape[aShape.length - 1]!];
      const want = naiveMatmulNd(a, aShape, bLogical, bShape);
      const got = matmul(mk(a, aShape), mk(b.values, b.shape), { transposeB: tb });
      assertShape(got.shape, want.shape, `matmul ${fmt(aShape)} @ ${fmt(b.shape)} shape`);
      assertClose(got.data, want.data, TOL.float64, `matmul ${fmt(aShape)} @ ${fmt(b.shape)} transposeB=${tb}`);
      gradcheck((x, y) => matmul(x!, y!, { transposeB: tb }), [mk(a, aShape, 'float64', true), mk(b.values, b.shape, 'float64', true)], GC);
    }),
    fcParams(40),
  );
});

test('matmul: gradcheck on outputs large enough for the blocked kernel, with flags', () => {
  const arb = fc
    .tuple(fc.integer({ min: 12, max: 14 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 12, max: 14 }), fc.boolean(), fc.boolean())
    .chain(([M, K, N, ta, tb]) =>
      fc.tuple(valuesFor(M * K), valuesFor(K * N)).map(([a, b]) => ({ a: stored(a, [M, K], ta), b: stored(b, [K, N], tb), ta, tb })),
    );
  fc.assert(
    fc.property(arb, ({ a, b, ta, tb }) => {
      gradcheck((x, y) => matmul(x!, y!, { transposeA: ta, transposeB: tb }), [mk(a.values, a.shape, 'float64', true), mk(b.values, b.shape, 'float64', true)], GC);
    }),
    fcParams(4),
  );
});

test.run();
