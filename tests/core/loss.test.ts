/**
 * crossEntropy (class axis last) against PyTorch's definition written naively — ignoreIndex, label smoothing, the three
 * reductions, Tensor or number[] targets — its error paths and stability; mseLoss with broadcasting; gradcheck.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  IndexError, ShapeError, Tensor, ValueError, add, crossEntropy, gradcheck, mseLoss, tensor,
  type CrossEntropyOptions, type DType, type GradcheckOptions, type Reduction,
} from '../../core/index.js';
import { assertShape } from '../helpers/close.js';
import { broadcastablePairArb, fcParams, nonBroadcastablePairArb, shapeArb, valuesArb } from '../helpers/fc.js';
import { naiveBinary, naiveBroadcastShape, sizeOfShape } from '../helpers/oracle.js';
import { assertCloseScaled, dtypeArb, naiveSum, thrown } from '../helpers/oracle-reduce.js';

const GC: GradcheckOptions = { eps: 1e-6, atol: 1e-5, rtol: 1e-3 };
/** Relative tolerance on losses: the loss is computed in float64 and rounded once to the logits' dtype. */
const REL: Record<DType, number> = { float32: 1e-6, float64: 1e-13 };

/**
 * PyTorch's cross-entropy, naively: per row, log p_c = x_c − log Σ_j exp x_j and
 * loss = (1 − ε)·(−log p_target) + ε·mean_c(−log p_c); ignored rows give 0 and are left out of the mean.
 */
function naiveCrossEntropy(x: ArrayLike<number>, C: number, targets: readonly number[], ignore: number, eps: number): { losses: number[]; count: number } {
  const losses: number[] = [];
  let count = 0;
  targets.forEach((t, r) => {
    if (t === ignore) {
      losses.push(0);
      return;
    }
    count++;
    const row = Array.from({ length: C }, (_, c) => x[r * C + c]!);
    const logZ = Math.log(naiveSum(row.map(Math.exp))); // inputs are bounded: no shift needed
    const nll = -(row[t]! - logZ);
    const smooth = naiveSum(row.map((v) => -(v - logZ))) / C;
    losses.push((1 - eps) * nll + eps * smooth);
  });
  return { losses, count };
}

interface CECase {
  rowShape: number[];
  C: number;
  logits: number[];
  dtype: DType;
  /** Per row: a class in [0, C), or the ignored value. */
  targets: number[];
  /** undefined: leave ignoreIndex at its default (−100). */
  ignoreIndex: number | undefined;
  labelSmoothing: number | undefined;
  reduction: Reduction | undefined;
  /** How targets are passed: a Tensor of that dtype shaped like the rows, or a flat number[]. */
  targetsAs: DType | 'array';
}

/** Rows of rank 0..3 (sizes 0..3), C in 1..5, logits in [-5, 5], a mix of ignored and real targets. */
function ceCaseArb(maxRowDim = 3, logitDtype: fc.Arbitrary<DType> = dtypeArb): fc.Arbitrary<CECase> {
  return fc
    .record({
      rowShape: shapeArb(3, maxRowDim, 0),
      C: fc.integer({ min: 1, max: 5 }),
      ignoreIndex: fc.option(fc.constantFrom(-100, -1, 0, 2), { nil: undefined }),
    })
    .chain(({ rowShape, C, ignoreIndex }) => {
      const rows = sizeOfShape(rowShape);
      const ignored = ignoreIndex ?? -100;
      const target = fc.oneof({ arbitrary: fc.integer({ min: 0, max: C - 1 }), weight: 4 }, { arbitrary: fc.constant(ignored), weight: 1 });
      return fc.record({
        rowShape: fc.constant(rowShape),
        C: fc.constant(C),
        logits: valuesArb(rows * C, 5),
        dtype: logitDtype,
        targets: fc.array(target, { minLength: rows, maxLength: rows }),
        ignoreIndex: fc.constant(ignoreIndex),
        labelSmoothing: fc.option(fc.oneof(fc.constantFrom(0, 1, 0.1), fc.double({ min: 0, max: 1, noNaN: true })), { nil: undefined }),
        reduction: fc.option(fc.constantFrom<Reduction>('mean', 'sum', 'none'), { nil: undefined }),
        targetsAs: fc.constantFrom<DType | 'array'>('float32', 'float64', 'array'),
      });
    });
}

function ceOptions(c: CECase): CrossEntropyOptions {
  const o: CrossEntropyOptions = {};
  if (c.ignoreIndex !== undefined) o.ignoreIndex = c.ignoreIndex;
  if (c.labelSmoothing !== undefined) o.labelSmoothing = c.labelSmoothing;
  if (c.reduction !== undefined) o.reduction = c.reduction;
  return o;
}

function targetsOf(c: CECase): Tensor | number[] {
  return c.targetsAs === 'array' ? c.targets : tensor(c.targets, c.rowShape, { dtype: c.targetsAs });
}

test('crossEntropy equals (1 − ε)·nll + ε·mean_c(−log p_c) per row, ignored rows excluded from the mean; mean/sum/none', () => {
  fc.assert(
    fc.property(ceCaseArb(), (c) => {
      const x = tensor(c.logits, [...c.rowShape, c.C], { dtype: c.dtype });
      const { losses, count } = naiveCrossEntropy(x.data, c.C, c.targets, c.ignoreIndex ?? -100, c.labelSmoothing ?? 0);
      if ((c.reduction ?? 'mean') === 'mean' && count === 0) {
        // every row ignored: the mean of nothing is refused (torch returns NaN)
        assert.throws(() => crossEntropy(x, targetsOf(c), ceOptions(c)), (e: unknown) => e instanceof ValueError && e.op === 'crossEntropy' && /zero targets/.test(e.message));
        return;
      }
      const out = crossEntropy(x, targetsOf(c), ceOptions(c));
      const scale = losses.map((l) => Math.abs(l) + 1);
      const rel = REL[c.dtype];
      assert.is(out.dtype, c.dtype, 'loss dtype follows the logits');
      const reduction = c.reduction ?? 'mean';
      if (reduction === 'none') {
        assertShape(out.shape, c.rowShape, 'one loss per row');
        assertCloseScaled(out.data, losses, scale, rel, 'crossEntropy none'); // ignored rows are exactly 0
        return;
      }
      assertShape(out.shape, [], 'a reduced loss is a scalar');
      const total = naiveSum(losses);
      const expected = reduction === 'sum' ? total : total / count;
      assertCloseScaled(out.data, [expected], [naiveSum(scale) / (reduction === 'sum' ? 1 : Math.max(count, 1))], rel, `crossEntropy ${reduction}`);
    }),
    fcParams(100),
  );
});

test('crossEntropy is invariant to a per-row shift of the logits (±1000, ±1e4, 1e8): stable, finite, exact', () => {
  const shiftCase = ceCaseArb(3, fc.constant<DType>('float64')).chain((c) =>
    fc.record({ c: fc.constant(c), shifts: fc.array(fc.constantFrom(0, 1000, -1000, 1e4, -1e4, 1e8), { minLength: c.targets.length, maxLength: c.targets.length }) }),
  );
  fc.assert(
    fc.property(shiftCase, ({ c, shifts }) => {
      const shape = [...c.rowShape, c.C];
      fc.pre(!((c.reduction ?? 'mean') === 'mean' && c.targets.every((t) => t === (c.ignoreIndex ?? -100)))); // refused: see the naive-loop test
      const shifted = c.logits.map((v, i) => v + shifts[Math.floor(i / c.C)]!);
      const base = crossEntropy(tensor(c.logits, shape, { dtype: 'float64' }), targetsOf(c), ceOptions(c));
      const out = crossEntropy(tensor(shifted, shape, { dtype: 'float64' }), targetsOf(c), ceOptions(c));
      // x + c rounds by ≤ |c|·2⁻⁵³ per entry; each log p moves by about twice that, ×C rows summed at most ×27
      const tol = 1e-15 * Math.max(...shifts.map(Math.abs), 10) * c.C * Math.max(1, c.targets.length);
      assertCloseScaled(out.data, base.data, base.data.map(() => 1), tol, 'crossEntropy(x + c)');
    }),
    fcParams(80),
  );
});

test('crossEntropy of rows of equal huge logits (±1e20, 3e38, 1e300) is log C per row: log p = (x − m) − log Σ, not x − (m + log Σ)', () => {
  const hugeCase = ceCaseArb(3).chain((c) =>
    fc.record({ c: fc.constant(c), level: c.dtype === 'float32' ? fc.constantFrom(1e20, -1e20, 3e38) : fc.constantFrom(1e20, -1e20, 3e38, 1e300, -1e300) }),
  );
  fc.assert(
    fc.property(hugeCase, ({ c, level }) => {
      const x = tensor(c.logits.map(() => level), [...c.rowShape, c.C], { dtype: c.dtype });
      const out = crossEntropy(x, targetsOf(c), { ...ceOptions(c), reduction: 'none' });
      const ignored = c.ignoreIndex ?? -100;
      const expected = c.targets.map((t) => (t === ignored ? 0 : Math.log(c.C))); // p = 1/C for every class, smoothed or not
      assertCloseScaled(out.data, expected, expected.map(() => 1), REL[c.dtype] * c.C, `crossEntropy at ${level}`);
    }),
    fcParams(40),
  );
});

test('crossEntropy throws IndexError for a target outside [0, C) that is not ignoreIndex (negative, too large, fractional, NaN)', () => {
  const badCase = ceCaseArb(3)
    .filter((c) => c.targets.length > 0)
    .chain((c) => fc.record({ c: fc.constant(c), row: fc.integer({ min: 0, max: c.targets.length - 1 }), bad: fc.constantFrom(-1, -2, c.C, c.C + 3, 0.5, NaN) }))
    .filter(({ c, bad }) => bad !== (c.ignoreIndex ?? -100));
  fc.assert(
    fc.property(badCase, ({ c, row, bad }) => {
      const targets = [...c.targets];
      targets[row] = bad;
      const x = tensor(c.logits, [...c.rowShape, c.C], { dtype: c.dtype });
      const e = thrown(() => crossEntropy(x, c.targetsAs === 'array' ? targets : tensor(targets, c.rowShape, { dtype: c.targetsAs }), ceOptions(c)), `target ${bad}`);
      assert.ok(e instanceof IndexError, `expected IndexError, got ${String(e)}`);
      assert.ok(e.message.startsWith(`crossEntropy: targets[${row}] = ${bad} `) && e.message.includes(`[0, ${c.C})`), e.message);
    }),
    fcParams(80),
  );
});

test('crossEntropy with C = 0 classes: every row must be ignored (else IndexError); then none gives zeros shaped like the rows', () => {
  fc.assert(
    fc.property(shapeArb(3, 3, 0), fc.boolean(), fc.integer({ min: 0, max: 8 }), (rowShape, asArray, pick) => {
      const rows = sizeOfShape(rowShape);
      const x = tensor([], [...rowShape, 0], { dtype: 'float64' });
      const ignoredAll = new Array<number>(rows).fill(-100);
      const as = (t: number[]): Tensor | number[] => (asArray ? t : tensor(t, rowShape));
      const out = crossEntropy(x, as(ignoredAll), { reduction: 'none' });
      assertShape(out.shape, rowShape, 'none over C = 0');
      assert.ok(out.data.every((v) => v === 0), 'ignored rows lose nothing');
      if (rows === 0) return;
      const bad = [...ignoredAll];
      bad[pick % rows] = 0; // class 0 does not exist when C = 0
      const e = thrown(() => crossEntropy(x, as(bad)), 'a class with C = 0');
      assert.ok(e instanceof IndexError && e.message.includes('[0, 0)'), String(e));
    }),
    fcParams(30),
  );
});

test('crossEntropy throws ShapeError naming both shapes when targets do not have one entry per row', () => {
  const mismatch = fc
    .record({ rowShape: shapeArb(3, 3, 0), C: fc.integer({ min: 1, max: 4 }), tShape: shapeArb(4, 3, 0), asArray: fc.boolean() })
    .filter(({ rowShape, tShape, asArray }) => (asArray ? sizeOfShape(tShape) !== sizeOfShape(rowShape) : tShape.join() !== rowShape.join() || tShape.length !== rowShape.length));
  fc.assert(
    fc.property(mismatch, ({ rowShape, C, tShape, asArray }) => {
      const logitShape = [...rowShape, C];
      const x = tensor(new Array<number>(sizeOfShape(logitShape)).fill(0), logitShape);
      const zeros = new Array<number>(sizeOfShape(tShape)).fill(0);
      const e = thrown(() => crossEntropy(x, asArray ? zeros : tensor(zeros, tShape)), `targets [${tShape}] for logits [${logitShape}]`);
      assert.ok(e instanceof ShapeError, `expected ShapeError, got ${String(e)}`);
      const shown = asArray ? `[${zeros.length}]` : `[${tShape.join(',')}]`;
      assert.ok(e.message.startsWith('crossEntropy: ') && e.message.includes(`targets=${shown}`) && e.message.includes(`logits=[${logitShape.join(',')}]`), e.message);
    }),
    fcParams(80),
  );
});

test('crossEntropy and mseLoss reject bad options with ValueError, and rank-0 logits with ShapeError', () => {
  const x = tensor([[0.5, -1, 2]]);
  for (const eps of [-0.1, 1.5, NaN]) {
    const e = thrown(() => crossEntropy(x, [0], { labelSmoothing: eps }), `labelSmoothing ${eps}`);
    assert.ok(e instanceof ValueError && e.message.startsWith('crossEntropy: labelSmoothing'), String(e));
  }
  const bogus = 'avg' as unknown as Reduction;
  const e1 = thrown(() => crossEntropy(x, [0], { reduction: bogus }), 'reduction avg');
  assert.ok(e1 instanceof ValueError && e1.message.includes("'avg'"), String(e1));
  const e2 = thrown(() => mseLoss(x, x, { reduction: bogus }), 'mseLoss reduction avg');
  assert.ok(e2 instanceof ValueError && e2.message.startsWith('mseLoss: '), String(e2));
  const e3 = thrown(() => crossEntropy(tensor(1), []), 'rank-0 logits');
  assert.ok(e3 instanceof ShapeError && e3.message.startsWith('crossEntropy: '), String(e3));
});

test('gradcheck (float64): crossEntropy with and without smoothing and ignored rows, every reduction, Tensor or number[] targets', () => {
  fc.assert(
    fc.property(ceCaseArb(3, fc.constant<DType>('float64')), (c) => {
      const opts = ceOptions(c);
      const ignored = c.ignoreIndex ?? -100;
      if ((c.reduction ?? 'mean') === 'mean' && c.targets.every((t) => t === ignored)) opts.reduction = 'sum'; // the mean of nothing is NaN
      const x = tensor(c.logits.map((v) => v / 2), [...c.rowShape, c.C], { dtype: 'float64', requiresGrad: true });
      gradcheck((t) => crossEntropy(t!, targetsOf(c), opts), [x], GC);
    }),
    fcParams(80),
  );
});

test('gradcheck (float64): crossEntropy of logits a + b built by broadcasting (e.g. a bias over rows)', () => {
  const pairCase = broadcastablePairArb(3, 3)
    .filter(([a, b]) => a.length > 0 || b.length > 0)
    .chain(([a, b]) => {
      const shape = naiveBroadcastShape(a, b)!;
      const rows = sizeOfShape(shape.slice(0, -1));
      return fc.record({
        a: fc.constant(a),
        b: fc.constant(b),
        va: valuesArb(sizeOfShape(a), 2),
        vb: valuesArb(sizeOfShape(b), 2),
        targets: fc.array(fc.integer({ min: 0, max: shape[shape.length - 1]! - 1 }), { minLength: rows, maxLength: rows }),
        labelSmoothing: fc.constantFrom(0, 0.2),
      });
    });
  fc.assert(
    fc.property(pairCase, ({ a, b, va, vb, targets, labelSmoothing }) => {
      const ta = tensor(va, a, { dtype: 'float64', requiresGrad: true });
      const tb = tensor(vb, b, { dtype: 'float64', requiresGrad: true });
      gradcheck((p, q) => crossEntropy(add(p!, q!), targets, { labelSmoothing }), [ta, tb], GC);
    }),
    fcParams(50),
  );
});

interface MseCase {
  a: number[];
  b: number[];
  va: number[];
  vb: number[];
  da: DType;
  db: DType;
  reduction: Reduction | undefined;
}

const mseCaseArb: fc.Arbitrary<MseCase> = broadcastablePairArb(5, 4).chain(([a, b]) =>
  fc.record({
    a: fc.constant(a),
    b: fc.constant(b),
    va: valuesArb(sizeOfShape(a)),
    vb: valuesArb(sizeOfShape(b)),
    da: dtypeArb,
    db: dtypeArb,
    reduction: fc.option(fc.constantFrom<Reduction>('mean', 'sum', 'none'), { nil: undefined }),
  }),
);

test('mseLoss equals the naive broadcast (a − b)² reduced by mean (default), sum or none; float32 + float64 → float64', () => {
  fc.assert(
    fc.property(mseCaseArb, ({ a, b, va, vb, da, db, reduction }) => {
      const ta = tensor(va, a, { dtype: da });
      const tb = tensor(vb, b, { dtype: db });
      if (reduction !== 'none' && reduction !== 'sum' && sizeOfShape(naiveBroadcastShape(a, b)!) === 0) {
        assert.throws(() => mseLoss(ta, tb, reduction === undefined ? {} : { reduction }), (e: unknown) => e instanceof ValueError && e.op === 'mseLoss');
        return;
      }
      const out = reduction === undefined ? mseLoss(ta, tb) : mseLoss(ta, tb, { reduction });
      const dtype: DType = da === 'float64' || db === 'float64' ? 'float64' : 'float32';
      assert.is(out.dtype, dtype, 'promoted dtype');
      const sq = naiveBinary((x, y) => (x - y) ** 2, ta.data, a, tb.data, b);
      const rel = dtype === 'float32' ? 1e-6 : 1e-13; // float32 rounds a − b, the square and ≤ 5 sum passes
      const abs = dtype === 'float32' ? 1e-37 : 1e-300; // squares below float32's normal range flush towards 0
      if (reduction === 'none') {
        assertShape(out.shape, sq.shape, 'mseLoss none keeps the broadcast shape');
        assertCloseScaled(out.data, sq.data, sq.data.map((v) => 4 * v), rel, 'mseLoss none', abs);
        return;
      }
      assertShape(out.shape, [], 'mseLoss reduces to a scalar');
      const total = naiveSum(sq.data);
      const expected = reduction === 'sum' ? total : total / sq.data.length;
      assertCloseScaled(out.data, [expected], [(4 * expected) || 0], rel, `mseLoss ${reduction ?? 'mean'}`, abs);
    }),
    fcParams(100),
  );
});

test('mseLoss throws ShapeError naming mseLoss and both shapes for any non-broadcastable pair', () => {
  fc.assert(
    fc.property(nonBroadcastablePairArb(4, 4), fc.boolean(), ([a, b], swap) => {
      const [p, q] = swap ? [b, a] : [a, b];
      const tp = tensor(new Array<number>(sizeOfShape(p)).fill(0), p);
      const tq = tensor(new Array<number>(sizeOfShape(q)).fill(0), q);
      const e = thrown(() => mseLoss(tp, tq), `mseLoss([${p}], [${q}])`);
      assert.ok(e instanceof ShapeError, `expected ShapeError, got ${String(e)}`);
      assert.ok(e.message.startsWith('mseLoss: ') && e.message.includes(`[${p.join(',')}]`) && e.message.includes(`[${q.join(',')}]`), e.message);
    }),
    fcParams(60),
  );
});

test('gradcheck (float64): mseLoss of broadcastable a, b (both differentiable), every reduction', () => {
  const small = broadcastablePairArb(4, 3).chain(([a, b]) =>
    fc.record({ a: fc.constant(a), b: fc.constant(b), va: valuesArb(sizeOfShape(a), 2), vb: valuesArb(sizeOfShape(b), 2), reduction: fc.constantFrom<Reduction>('mean', 'sum', 'none') }),
  );
  fc.assert(
    fc.property(small, ({ a, b, va, vb, reduction }) => {
      const ta = tensor(va, a, { dtype: 'float64', requiresGrad: true });
      const tb = tensor(vb, b, { dtype: 'float64', requiresGrad: true });
      gradcheck((p, q) => mseLoss(p!, q!, { reduction }), [ta, tb], GC);
    }),
    fcParams(60),
  );
});

test('the mean of nothing is refused, not NaN: mseLoss and crossEntropy name themselves; sum still gives 0', () => {
  const empty = tensor([], [2, 0]);
  assert.throws(() => mseLoss(empty, empty), (e: unknown) => e instanceof ValueError && e.op === 'mseLoss' && /no elements/.test(e.message));
  assert.is(mseLoss(empty, empty, { reduction: 'sum' }).item(), 0);
  const logits = tensor([[1, 2], [3, 4]]);
  assert.throws(() => crossEntropy(logits, [-100, -100]), (e: unknown) => e instanceof ValueError && e.op === 'crossEntropy' && /zero targets/.test(e.message));
  assert.is(crossEntropy(logits, [-100, -100], { reduction: 'sum' }).item(), 0);
});

test.run();
