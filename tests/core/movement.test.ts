/**
 * Shape ops (core/ops/movement.ts) against naive multi-index oracles (tests/helpers/oracle-movement.ts):
 * forward on arbitrary shapes of rank ≤ 5 with size-1 and size-0 axes, error paths as properties, and float64
 * gradchecks on small shapes. Shape ops only move values, so forward comparisons are exact (tolerance 0).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  AxisError, ShapeError, ValueError, arange, concat, expand, flatten, flip, gradcheck, narrow, pad, permute, reshape, slice,
  split, squeeze, stack, tensor, transpose, tril, triu, unsqueeze, type DType, type SliceRange, type Tensor,
} from '../../core/index.js';
import { assertClose, assertShape } from '../helpers/close.js';
import { fcParams, shapeArb } from '../helpers/fc.js';
import { ravel, sizeOfShape } from '../helpers/oracle.js';
import {
  axisAlias, denseShapeArb, expectThrows, fmt, naiveConcat, naiveExpand, naivePad, naivePermute, naiveTake, naiveTriangle, permutationArb,
  pySliceIndices, sampleArb, tabulate, valuesFor, type Naive, type Sample,
} from '../helpers/oracle-movement.js';

const EXACT = { rtol: 0, atol: 0 };
/** gradcheck tolerances: shape ops are linear, central differences are exact up to rounding. */
const GC = { eps: 1e-6, atol: 1e-7, rtol: 1e-6 };

const dtypeArb = fc.constantFrom<DType>('float32', 'float64');
const mk = (s: Sample, dtype: DType = 'float64', requiresGrad = false): Tensor => tensor(s.values, s.shape, { dtype, requiresGrad });
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

function assertMatches(out: Tensor, expected: Naive, label: string): void {
  assertShape(out.shape, expected.shape, `${label} shape`);
  assertClose(out.data, expected.data, EXACT, label);
}

// ── reshape / flatten ──

/** A valid reshape target for `shape`: its sizes shuffled, adjacent groups merged, 1s inserted, maybe one −1. */
const reshapeCaseArb = (shapes: fc.Arbitrary<number[]>) =>
  sampleArb(shapes).chain((x) =>
    fc
      .tuple(
        permutationArb(x.shape.length),
        fc.array(fc.boolean(), { minLength: x.shape.length, maxLength: x.shape.length }),
        fc.array(fc.nat(5), { maxLength: 2 }),
        fc.option(fc.nat(), { nil: undefined }),
      )
      .map(([perm, merge, ones, unknown]) => {
        const sizes: number[] = [];
        perm.forEach((p, i) => {
          if (merge[i] && sizes.length > 0) sizes[sizes.length - 1]! *= x.shape[p]!;
          else sizes.push(x.shape[p]!);
        });
        for (const at of ones) sizes.splice(Math.min(at, sizes.length), 0, 1);
        const target = [...sizes];
        if (unknown !== undefined && target.length > 0) {
          const u = unknown % target.length;
          if (sizeOfShape(target.filter((_, i) => i !== u)) !== 0) target[u] = -1;
        }
        return { x, target, resolved: sizes };
      }),
  );

test('reshape: same values in row-major order, −1 inferred, buffer shared', () => {
  fc.assert(
    fc.property(reshapeCaseArb(denseShapeArb(5, 4)), dtypeArb, ({ x, target, resolved }, dtype) => {
      const t = mk(x, dtype);
      const out = reshape(t, target);
      assertShape(out.shape, resolved, 'reshape shape');
      assert.ok(out.data === t.data, 'reshape shares the buffer');
      assertClose(out.data, t.data, EXACT, 'reshape values');
    }),
    fcParams(100),
  );
});

test('reshape: a target with another element count throws ShapeError naming both shapes', () => {
  fc.assert(
    fc.property(sampleArb(denseShapeArb(4, 4)), denseShapeArb(4, 4), (x, target) => {
      fc.pre(sizeOfShape(target) !== sizeOfShape(x.shape));
      expectThrows(() => reshape(mk(x), target), ShapeError, [fmt(x.shape), fmt(target)], 'reshape');
    }),
    fcParams(60),
  );
});

test('reshape: an uninferable −1 (no divisor, zero-sized rest, two −1s) throws ShapeError naming both shapes', () => {
  fc.assert(
    fc.property(sampleArb(denseShapeArb(4, 4)), shapeArb(3, 4), fc.nat(3), fc.boolean(), (x, rest, at, twice) => {
      const known = sizeOfShape(rest);
      fc.pre(twice || known === 0 || x.values.length % known !== 0);
      const target = [...rest];
      target.splice(Math.min(at, target.length), 0, -1);
      if (twice) target.push(-1);
      expectThrows(() => reshape(mk(x), target), ShapeError, [fmt(x.shape), fmt(target)], 'reshape −1');
    }),
    fcParams(60),
  );
});

test('flatten: merges startAxis..endAxis (negative aliases too); rank 0 gives [1]; start after end → AxisError', () => {
  fc.assert(
    fc.property(sampleArb(denseShapeArb(5, 4)), fc.nat(), fc.nat(), fc.boolean(), fc.boolean(), (x, p, q, negS, negE) => {
      const r = x.shape.length;
      const t = mk(x);
      if (r === 0) {
        assertShape(flatten(t).shape, [1], 'flatten scalar');
        return;
      }
      const [s, e] = [p % r, q % r].sort((u, v) => u - v) as [number, number];
      const out = flatten(t, axisAlias(s, r, negS), axisAlias(e, r, negE));
      assertShape(out.shape, [...x.shape.slice(0, s), sizeOfShape(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)], 'flatten shape');
      assertClose(out.data, t.data, EXACT, 'flatten values');
      if (s < e) expectThrows(() => flatten(t, e, s), AxisError, [fmt(x.shape)], 'flatten start > end');
      expectThrows(() => flatten(t, r), AxisError, [`${r} out of range`], 'flatten out of range');
    }),
    fcParams(60),
  );
});

test('reshape, flatten: gradcheck', () => {
  fc.assert(
    fc.property(reshapeCaseArb(denseShapeArb(4, 3, false)).filter(({ x }) => x.values.length <= 48), ({ x, target }) => {
      gradcheck((a) => reshape(a!, target), [mk(x, 'float64', true)], GC);
      if (x.shape.length > 0) gradcheck((a) => flatten(a!, 0, -1), [mk(x, 'float64', true)], GC);
    }),
    fcParams(30),
  );
});

// ── permute / transpose ──

const permuteCaseArb = (shapes: fc.Arbitrary<number[]>) =>
  sampleArb(shapes).chain((x) =>
    fc.tuple(fc.constant(x), permutationArb(x.shape.length), fc.array(fc.boolean(), { minLength: x.shape.length, maxLength: x.shape.length })),
  );

test('permute: random permutations of rank ≤ 5 match the multi-index oracle (negative dims too)', () => {
  fc.assert(
    fc.property(permuteCaseArb(denseShapeArb(5, 4)), dtypeArb, ([x, perm, neg], dtype) => {
      const t = mk(x, dtype);
      const dims = perm.map((d, i) => axisAlias(d, perm.length, neg[i]!));
      const out = permute(t, dims);
      assertMatches(out, naivePermute(t.data, x.shape, perm), `permute ${fmt(x.shape)} by [${dims}]`);
      assert.is(out.dtype, dtype);
    }),
    fcParams(100),
  );
});

test('permute: repeated, out-of-range or missing dims throw AxisError', () => {
  fc.assert(
    fc.property(permuteCaseArb(denseShapeArb(5, 4)).filter(([x]) => x.shape.length >= 2), fc.nat(), fc.nat(), ([x, perm], i, j) => {
      const r = perm.length;
      const t = mk(x);
      const repeated = [...perm];
      repeated[i % r] = perm[(i % r + 1 + (j % (r - 1))) % r]!; // copy another entry over one entry
      expectThrows(() => permute(t, repeated), AxisError, [`[${repeated.join(',')}]`], 'permute repeated');
      const outOfRange = [...perm];
      outOfRange[i % r] = j % 2 === 0 ? r + (j % 3) : -r - 1 - (j % 3);
      expectThrows(() => permute(t, outOfRange), AxisError, [`${outOfRange[i % r]} out of range`], 'permute out of range');
      expectThrows(() => permute(t, perm.slice(1)), AxisError, [fmt(x.shape)], 'permute missing dim');
    }),
    fcParams(60),
  );
});

test('transpose: swaps two axes (negative aliases too), as the oracle permutation', () => {
  fc.assert(
    fc.property(sampleArb(denseShapeArb(5, 4).filter((s) => s.length >= 1)), fc.nat(), fc.nat(), fc.boolean(), (x, p, q, neg) => {
      const r = x.shape.length;
      const [a, b] = [p % r, q % r];
      const perm = range(r);
      [perm[a], perm[b]] = [perm[b]!, perm[a]!];
      const t = mk(x);
      assertMatches(transpose(t, axisAlias(a, r, neg), b), naivePermute(t.data, x.shape, perm), `transpose(${a}, ${b})`);
      expectThrows(() => transpose(t, r, 0), AxisError, [`${r} out of range`], 'transpose out of range');
    }),
    fcParams(60),
  );
});

test('permute, transpose: gradcheck', () => {
  fc.assert(
    fc.property(permuteCaseArb(denseShapeArb(4, 3, false)).filter(([x]) => x.values.length <= 48), ([x, perm]) => {
      gradcheck((a) => permute(a!, perm), [mk(x, 'float64', true)], GC);
      if (perm.length >= 2) gradcheck((a) => transpose(a!, 0, -1), [mk(x, 'float64', true)], GC);
    }),
    fcParams(30),
  );
});

// ── expand ──

/** x and a valid expand target: new leading axes, size-1 axes to any size (0 included), −1 keeping a size. */
const expandCaseArb = (shapes: fc.Arbitrary<number[]>) =>
  sampleArb(shapes).chain((x) =>
    fc
      .tuple(fc.array(fc.nat(3), { maxLength: 2 }), fc.tuple(...x.shape.map((d) => (d === 1 ? fc.constantFrom(-1, 0, 1, 2, 3) : fc.constantFrom(-1, d)))))
      .map(([lead, own]) => ({ x, target: [...lead, ...own], resolved: [...lead, ...own.map((d, i) => (d === -1 ? x.shape[i]! : d))] })),
  );

test('expand: new leading axes, size-1 axes broadcast, −1 keeps a size — matches the broadcast oracle', () => {
  fc.assert(
    fc.property(expandCaseArb(denseShapeArb(4, 3)), dtypeArb, ({ x, target, resolved }, dtype) => {
      const t = mk(x, dtype);
      assertMatches(expand(t, target), naiveExpand(t.data, x.shape, resolved), `expand ${fmt(x.shape)} to ${fmt(target)}`);
    }),
    fcParams(100),
  );
});

test('expand: changing a non-1 size, −1 on a new axis, negative sizes or fewer axes throw ShapeError naming both shapes', () => {
  fc.assert(
    fc.property(expandCaseArb(denseShapeArb(4, 3)), fc.nat(), fc.integer({ min: 1, max: 3 }), ({ x, resolved }, i, delta) => {
      const t = mk(x);
      const r = x.shape.length;
      const off = resolved.length - r;
      const big = x.shape.map((d, k) => (d >= 2 ? k : -1)).filter((k) => k >= 0);
      if (big.length > 0) {
        const k = big[i % big.length]!;
        const bad = [...resolved];
        bad[k + off] = x.shape[k]! + delta;
        expectThrows(() => expand(t, bad), ShapeError, [fmt(x.shape), fmt(bad)], 'expand non-1 axis');
      }
      const newAxis = [-1, ...resolved];
      expectThrows(() => expand(t, newAxis), ShapeError, [fmt(x.shape), fmt(newAxis)], 'expand −1 on a new axis');
      const negative = [-1 - delta, ...resolved];
      expectThrows(() => expand(t, negative), ShapeError, [fmt(x.shape), fmt(negative)], 'expand negative size');
      if (r > 0) expectThrows(() => expand(t, x.shape.slice(1)), ShapeError, [fmt(x.shape), fmt(x.shape.slice(1))], 'expand fewer axes');
    }),
    fcParams(60),
  );
});

test('expand: gradcheck (gradients of broadcast axes are summed)', () => {
  fc.assert(
    fc.property(expandCaseArb(denseShapeArb(3, 3, false)).filter(({ resolved }) => sizeOfShape(resolved) <= 64), ({ x, target }) => {
      gradcheck((a) => expand(a!, target), [mk(x, 'float64', true)], GC);
    }),
    fcParams(30),
  );
});

// ── squeeze / unsqueeze ──

test('squeeze: drops all or the chosen size-1 axes; a non-1 axis throws ShapeError; unsqueeze inserts a 1', () => {
  fc.assert(
    fc.property(sampleArb(denseShapeArb(5, 3)), fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }), fc.nat(), fc.boolean(), (x, pick, u, neg) => {
      const r = x.shape.length;
      const t = mk(x);
      const all = squeeze(t);
      assertShape(all.shape, x.shape.filter((d) => d !== 1), 'squeeze()');
      assertClose(all.data, t.data, EXACT, 'squeeze() values');
      const ones = range(r).filter((a) => x.shape[a] === 1 && pick[a]);
      const some = squeeze(t, ones.map((a, k) => axisAlias(a, r, neg && k % 2 === 0)));
      assertShape(some.shape, x.shape.filter((_, a) => !ones.includes(a)), `squeeze([${ones}])`);
      assertClose(some.data, t.data, EXACT, 'squeeze(axes) values');
      const notOne = range(r).filter((a) => x.shape[a] !== 1);
      if (notOne.length > 0) {
        const a = notOne[u % notOne.length]!;
        expectThrows(() => squeeze(t, a), ShapeError, [fmt(x.shape)], 'squeeze non-1 axis');
      }
      const at = (u % (2 * r + 2)) - (r + 1); // −(r+1) … r
      const un = unsqueeze(t, at);
      const pos = at < 0 ? at + r + 1 : at;
      assertShape(un.shape, [...x.shape.slice(0, pos), 1, ...x.shape.slice(pos)], `unsqueeze(${at})`);
      assertClose(un.data, t.data, EXACT, 'unsqueeze values');
      expectThrows(() => unsqueeze(t, r + 1), AxisError, [`${r + 1} out of range`], 'unsqueeze out of range');
      expectThrows(() => squeeze(t, r), AxisError, [`${r} out of range`], 'squeeze out of range');
    }),
    fcParams(80),
  );
});

test('squeeze, unsqueeze: gradcheck', () => {
  fc.assert(
    fc.property(sampleArb(denseShapeArb(4, 3, false)), fc.nat(), (x, u) => {
      const r = x.shape.length;
      gradcheck((a) => squeeze(a!), [mk(x, 'float64', true)], GC);
      gradcheck((a) => unsqueeze(a!, u % (r + 1)), [mk(x, 'float64', true)], GC);
    }),
    fcParams(30),
  );
});

// ── slice / narrow / flip ──

const boundArb = fc.option(fc.integer({ min: -6, max: 6 }), { nil: undefined });
const stepArb = fc.option(fc.constantFrom(-3, -2, -1, 1, 2, 3), { nil: undefined });
type Range3 = [number | undefined, number | undefined, number | undefined];
/** x and per-axis ranges for its leading axes (null = whole axis), bounds often out of range. */
const sliceCaseArb = (shapes: fc.Arbitrary<number[]>): fc.Arbitrary<{ x: Sample; ranges: (Range3 | null)[] }> =>
  sampleArb(shapes).chain((x) =>
      fc
        .array(fc.option(fc.tuple(boundArb, boundArb, stepArb), { nil: null, freq: 5 }), { maxLength: x.shape.length })
        .map((ranges) => ({ x, ranges })),
    );

  const sliceLists = (shape: readonly number[], ranges: readonly (Range3 | null)[]): number[][] =>
    shape.map((n, d) => {
      const r = ranges[d];
      return r === undefined || r === null ? range(n) : pySliceIndices(n, r[0], r[1], r[2]);
    });

  test("slice: Python semantics (negative and out-of-range bounds, negative steps) — the oracle builds Python's index lists", () => {
    fc.assert(
      fc.property(sliceCaseArb(denseShapeArb(5, 4)), dtypeArb, ({ x, ranges }, dtype) => {
        const t = mk(x, dtype);
        const out = slice(t, ranges as SliceRange[]);
        assertMatches(out, naiveTake(t.data, x.shape, sliceLists(x.shape, ranges)), `slice ${fmt(x.shape)} by ${JSON.stringify(ranges)}`);
      }),
      fcParams(150),
    );
  });

  test('slice: agrees with list(range(n))[start:end:step] as printed by CPython', () => {
    // [n, start, end, step, Python's result]
    const facts: [number, number | undefined, number | undefined, number | undefined, number[]][] = [
      [5, undefined, undefined, -2, [4, 2, 0]],
      [5, -100, 100, 3, [0, 3]],
      [5, 10, -10, -1, [4, 3, 2, 1, 0]],
      [4, -1, undefined, -1, [3, 2, 1, 0]],
      [4, 3, 0, -2, [3, 1]],
      [6, -2, 1, -1, [4, 3, 2]],
      [6, 1, -1, 2, [1, 3]],
      [0, undefined, undefined, -1, []],
      [5, 2, 2, 1, []],
      [7, -3, undefined, -3, [4, 1]],
      [7, undefined, -8, -1, [6, 5, 4, 3, 2, 1, 0]],
      [3, -4, 2, undefined, [0, 1]],
    ];
    for (const [n, s, e, st, expected] of facts) {
      const label = `range(${n})[${s ?? ''}:${e ?? ''}:${st ?? ''}]`;
      assert.equal(pySliceIndices(n, s, e, st), expected, `oracle ${label}`);
      assert.equal(Array.from(slice(arange(n, undefined, 1, { dtype: 'float64' }), [[s, e, st]]).data), expected, `slice ${label}`);
    }
  });

  test('slice: step 0 throws ValueError; more ranges than axes throws AxisError', () => {
    fc.assert(
      fc.property(sampleArb(denseShapeArb(4, 3)), boundArb, boundArb, (x, s, e) => {
        const t = mk(x);
        const r = x.shape.length;
        if (r > 0) expectThrows(() => slice(t, [[s, e, 0]]), ValueError, ['step'], 'slice step 0');
        expectThrows(() => slice(t, Array.from({ length: r + 1 }, () => null)), AxisError, [fmt(x.shape)], 'slice too many ranges');
      }),
      fcParams(40),
    );
  });

  test('slice: gradcheck (negative steps, clamped bounds)', () => {
    fc.assert(
      fc.property(sliceCaseArb(denseShapeArb(4, 3, false)).filter(({ x }) => x.values.length <= 48), ({ x, ranges }) => {
        gradcheck((a) => slice(a!, ranges as SliceRange[]), [mk(x, 'float64', true)], GC);
      }),
      fcParams(40),
    );
  });

  const narrowCaseArb = sampleArb(denseShapeArb(4, 3).filter((s) => s.length >= 1)).chain((x) =>
    fc.nat(x.shape.length - 1).chain((axis) => {
      const n = x.shape[axis]!;
      return fc.integer({ min: 0, max: n }).chain((start) =>
        fc.tuple(fc.integer({ min: 0, max: n - start }), fc.boolean()).map(([length, neg]) => ({ x, axis, start, length, neg })),
      );
    }),
  );

test('narrow: `length` entries from `start` (negative start counts from the end); overruns throw ShapeError', () => {
  fc.assert(
    fc.property(narrowCaseArb, ({ x, axis, start, length, neg }) => {
      const t = mk(x);
      const n = x.shape[axis]!;
      const s = neg && start < n ? start - n : start;
      const lists = x.shape.map((d, k) => (k === axis ? range(length).map((i) => start + i) : range(d)));
      assertMatches(narrow(t, axis, s, length), naiveTake(t.data, x.shape, lists), `narrow(${axis}, ${s}, ${length})`);
      expectThrows(() => narrow(t, axis, start, n - start + 1), ShapeError, [fmt(x.shape)], 'narrow overrun');
      gradcheck((a) => narrow(a!, axis, s, length), [mk(x, 'float64', true)], GC);
    }),
    fcParams(60),
  );
});

test('flip: several axes (negative aliases) reverse those coordinates; repeated axes throw AxisError', () => {
  fc.assert(
    fc.property(sampleArb(denseShapeArb(5, 4)), fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }), fc.boolean(), dtypeArb, (x, pick, neg, dtype) => {
      const r = x.shape.length;
      const t = mk(x, dtype);
      const axes = range(r).filter((a) => pick[a]);
      const lists = x.shape.map((n, d) => (axes.includes(d) ? range(n).reverse() : range(n)));
      const given = axes.map((a) => axisAlias(a, r, neg));
      assertMatches(flip(t, given), naiveTake(t.data, x.shape, lists), `flip ${fmt(x.shape)} on [${given}]`);
      if (axes.length > 0) expectThrows(() => flip(t, [axes[0]!, axes[0]! - r]), AxisError, ['repeated'], 'flip repeated axis');
      expectThrows(() => flip(t, r), AxisError, [`${r} out of range`], 'flip out of range');
    }),
    fcParams(80),
  );
});

test('flip: gradcheck', () => {
  fc.assert(
    fc.property(sampleArb(denseShapeArb(4, 3, false)), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), (x, pick) => {
      const axes = range(x.shape.length).filter((a) => pick[a]);
      gradcheck((a) => flip(a!, axes), [mk(x, 'float64', true)], GC);
    }),
    fcParams(30),
  );
});

// ── pad ──

const padCaseArb = (shapes: fc.Arbitrary<number[]>): fc.Arbitrary<{ x: Sample; pads: [number, number][]; value: number }> =>
  sampleArb(shapes).chain((x) =>
      fc
        .tuple(
          fc.array(fc.tuple(fc.nat(2), fc.nat(2)), { maxLength: x.shape.length }),
          fc.oneof(fc.constant(0), fc.double({ min: -5, max: 5, noNaN: true })),
        )
        .map(([pads, value]) => ({ x, pads, value })),
    );

  test('pad: [before, after] pairs on the trailing axes, filled with the constant', () => {
    fc.assert(
      fc.property(padCaseArb(denseShapeArb(5, 3)), dtypeArb, ({ x, pads, value }, dtype) => {
        const t = mk(x, dtype);
        const off = x.shape.length - pads.length;
        const before = x.shape.map((_, i) => (i < off ? 0 : pads[i - off]![0]));
        const after = x.shape.map((_, i) => (i < off ? 0 : pads[i - off]![1]));
        const fill = dtype === 'float32' ? Math.fround(value) : value;
        assertMatches(pad(t, pads, value), naivePad(t.data, x.shape, before, after, fill), `pad ${fmt(x.shape)} by ${JSON.stringify(pads)}`);
      }),
      fcParams(100),
    );
  });

  test('pad: negative pads throw ValueError; more pairs than axes throw ShapeError', () => {
    fc.assert(
      fc.property(sampleArb(denseShapeArb(4, 3)), fc.integer({ min: 1, max: 3 }), (x, k) => {
        const t = mk(x);
        const r = x.shape.length;
        if (r > 0) expectThrows(() => pad(t, [[0, -k]]), ValueError, ['pads'], 'pad negative');
        expectThrows(() => pad(t, Array.from({ length: r + 1 }, (): [number, number] => [1, 1])), ShapeError, [fmt(x.shape)], 'pad too many pairs');
      }),
      fcParams(40),
    );
  });

  test('pad: gradcheck', () => {
    fc.assert(
      fc.property(padCaseArb(denseShapeArb(3, 3, false)), ({ x, pads, value }) => {
        gradcheck((a) => pad(a!, pads, value), [mk(x, 'float64', true)], GC);
      }),
      fcParams(30),
    );
  });

  // ── tril / triu ──

  const triCaseArb = (maxDim: number, zeros: boolean): fc.Arbitrary<{ x: Sample; k: number }> =>
    sampleArb(fc.tuple(denseShapeArb(2, 3, zeros), fc.integer({ min: zeros ? 0 : 1, max: maxDim }), fc.integer({ min: zeros ? 0 : 1, max: maxDim })).map(([b, m, n]) => [...b, m, n])).chain((x) =>
      fc.integer({ min: -5, max: 5 }).map((k) => ({ x, k })),
    );

  test('tril/triu: keep j − i ≤ k / j − i ≥ k on the last two axes of a batch, for k of either sign', () => {
    fc.assert(
      fc.property(triCaseArb(4, true), dtypeArb, ({ x, k }, dtype) => {
        const t = mk(x, dtype);
        assertMatches(tril(t, k), naiveTriangle(t.data, x.shape, (i, j) => j - i <= k), `tril(${k}) ${fmt(x.shape)}`);
        assertMatches(triu(t, k), naiveTriangle(t.data, x.shape, (i, j) => j - i >= k), `triu(${k}) ${fmt(x.shape)}`);
      }),
      fcParams(80),
    );
  });

  test('tril/triu: fewer than two axes throws ShapeError; gradcheck', () => {
    fc.assert(
      fc.property(triCaseArb(3, false), sampleArb(shapeArb(1, 3)), ({ x, k }, v) => {
        gradcheck((a) => tril(a!, k), [mk(x, 'float64', true)], GC);
        gradcheck((a) => triu(a!, k), [mk(x, 'float64', true)], GC);
        expectThrows(() => tril(mk(v)), ShapeError, [fmt(v.shape)], 'tril rank < 2');
        expectThrows(() => triu(mk(v)), ShapeError, [fmt(v.shape)], 'triu rank < 2');
      }),
      fcParams(30),
    );
  });

  // ── concat / stack / split ──

  /** 1–4 pieces that agree off `axis`, each with its own size on it and its own dtype. */
  const concatCaseArb = (maxDim: number): fc.Arbitrary<{ pieces: { s: Sample; dtype: DType }[]; axis: number; neg: boolean }> =>
    fc
      .tuple(fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: 1, maxLength: 4 }), fc.nat(), fc.boolean())
      .chain(([base, a, neg]) => {
        const axis = a % base.length;
        const piece = fc
          .tuple(fc.nat(maxDim), dtypeArb)
          .chain(([n, dtype]) => sampleArb(fc.constant(base.map((d, i) => (i === axis ? n : d)))).map((s) => ({ s, dtype })));
        return fc.array(piece, { minLength: 1, maxLength: 4 }).map((pieces) => ({ pieces, axis, neg }));
      });

  test('concat: any axis, float64 if any piece is float64 (else float32), values as the oracle', () => {
    fc.assert(
      fc.property(concatCaseArb(3), ({ pieces, axis, neg }) => {
        const ts = pieces.map((p) => mk(p.s, p.dtype));
        const out = concat(ts, axisAlias(axis, ts[0]!.ndim, neg));
        assert.is(out.dtype, pieces.some((p) => p.dtype === 'float64') ? 'float64' : 'float32', 'concat dtype');
        assertMatches(out, naiveConcat(ts.map((t) => ({ data: Array.from(t.data), shape: [...t.shape] })), axis), `concat on ${axis}`);
      }),
      fcParams(100),
    );
  });

  test('concat: a piece that differs off the axis (or in rank) throws ShapeError naming xs[i] and both shapes', () => {
    fc.assert(
      fc.property(concatCaseArb(3).filter(({ pieces }) => pieces.length >= 2), fc.nat(), fc.integer({ min: 1, max: 2 }), ({ pieces, axis }, i, delta) => {
        const ts = pieces.map((p) => mk(p.s, p.dtype));
        const r = ts[0]!.ndim;
        const bad = 1 + (i % (ts.length - 1));
        const shape = [...ts[bad]!.shape];
        if (r > 1) shape[(axis + 1) % r] = shape[(axis + 1) % r]! + delta;
        else shape.push(1);
        const wrong = tensor(new Float64Array(sizeOfShape(shape)), shape);
        const xs = ts.map((t, k) => (k === bad ? wrong : t));
        expectThrows(() => concat(xs, axis), ShapeError, [`xs[${bad}]`, fmt(shape), fmt(ts[0]!.shape)], 'concat mismatch');
        expectThrows(() => concat(ts, r), AxisError, [`${r} out of range`], 'concat axis out of range');
      }),
      fcParams(60),
    );
  });

  test('concat: gradcheck with every piece an input', () => {
    fc.assert(
      fc.property(concatCaseArb(2), ({ pieces, axis }) => {
        const ts = pieces.map((p) => mk(p.s, 'float64', true));
        gradcheck((...xs) => concat(xs, axis), ts, GC);
      }),
      fcParams(30),
    );
  });

  test('concat: mixed dtypes — each piece gets its slice of the upstream gradient, in its own dtype', () => {
  fc.assert(
    fc.property(concatCaseArb(3), ({ pieces, axis }) => {
      const ts = pieces.map((p) => mk(p.s, p.dtype, true));
      const out = concat(ts, axis);
      const g = tensor(Array.from({ length: out.size }, (_, i) => i - 3.5), [...out.shape], { dtype: out.dtype });
      out.backward(g);
      let start = 0;
      ts.forEach((t, i) => {
        const lists = out.shape.map((d, k) => (k === axis ? range(t.shape[axis]!).map((j) => start + j) : range(d)));
        assert.is(t.grad!.dtype, t.dtype, `xs[${i}] grad dtype`);
        assertMatches(t.grad!, naiveTake(g.data, out.shape, lists), `xs[${i}] grad`);
        start += t.shape[axis]!;
      });
    }),
    fcParams(40),
  );
});

const stackCaseArb = fc
    .tuple(denseShapeArb(3, 3), fc.integer({ min: 1, max: 4 }), fc.nat(), fc.boolean())
    .chain(([shape, k, a, neg]) =>
      fc.array(sampleArb(fc.constant(shape)), { minLength: k, maxLength: k }).map((xs) => ({ xs, shape, axis: a % (shape.length + 1), neg })),
    );

  test('stack: new axis at any position (negative too): out[…, i, …] = xs[i][…]', () => {
    fc.assert(
      fc.property(stackCaseArb, dtypeArb, ({ xs, shape, axis, neg }, dtype) => {
        const ts = xs.map((x) => mk(x, dtype));
        const out = stack(ts, axisAlias(axis, shape.length + 1, neg));
        const outShape = [...shape.slice(0, axis), xs.length, ...shape.slice(axis)];
        const expected = tabulate(outShape, (idx) => {
          const own = idx.filter((_, d) => d !== axis);
          return ts[idx[axis]!]!.data[ravel(own, shape)]!;
        });
        assertMatches(out, expected, `stack on ${axis}`);
        if (xs.length >= 2) {
          const other = [...shape, 2];
          const xs2 = [...ts];
          xs2[1] = tensor(new Float64Array(sizeOfShape(other)), other);
          expectThrows(() => stack(xs2, axis), ShapeError, ['xs[1]', fmt(other), fmt(shape)], 'stack unequal shapes');
        }
        gradcheck((...ys) => stack(ys, axis), xs.map((x) => mk(x, 'float64', true)), GC);
      }),
      fcParams(40),
    );
  });

  /** x, an axis, and a split of that axis into sections (zero-sized ones included). */
  const splitCaseArb = sampleArb(denseShapeArb(4, 4).filter((s) => s.length >= 1)).chain((x) =>
    fc.nat(x.shape.length - 1).chain((axis) =>
      fc
        .tuple(fc.integer({ min: 1, max: 5 }), fc.array(fc.nat(x.shape[axis]!), { maxLength: 3 }))
        .map(([chunk, cuts]) => {
          const bounds = [0, ...cuts.sort((p, q) => p - q), x.shape[axis]!];
          return { x, axis, chunk, sections: bounds.slice(1).map((b, i) => b - bounds[i]!) };
        }),
    ),
  );

test('split: by chunk size and by sections, each piece the oracle sub-range; the pieces concat back to x', () => {
  fc.assert(
    fc.property(splitCaseArb, ({ x, axis, chunk, sections }) => {
      const t = mk(x);
      const n = x.shape[axis]!;
      const check = (pieces: Tensor[], sizes: number[], label: string): void => {
        assert.is(pieces.length, sizes.length, `${label}: number of pieces`);
        let start = 0;
        pieces.forEach((p, i) => {
          const lists = x.shape.map((d, k) => (k === axis ? range(sizes[i]!).map((j) => start + j) : range(d)));
          assertMatches(p, naiveTake(t.data, x.shape, lists), `${label} piece ${i}`);
          start += sizes[i]!;
        });
        assertClose(concat(pieces, axis).data, t.data, EXACT, `${label}: concat of the pieces`);
      };
      // chunks of `chunk`, the last one shorter; an empty axis gives one empty chunk (as torch)
      const chunkSizes = n === 0 ? [0] : range(Math.ceil(n / chunk)).map((i) => Math.min(chunk, n - i * chunk));
      check(split(t, chunk, axis), chunkSizes, `split(${chunk}, ${axis})`);
      check(split(t, sections, axis), sections, `split([${sections}], ${axis})`);
      const wrong = [...sections, 1];
      expectThrows(() => split(t, wrong, axis), ShapeError, [fmt(x.shape)], 'split sections not summing to the axis');
      expectThrows(() => split(t, 0, axis), ValueError, ['chunk'], 'split chunk 0');
    }),
    fcParams(80),
  );
});

test('split: gradients flow back to the source through every piece (gradcheck on all pieces at once)', () => {
  fc.assert(
    fc.property(splitCaseArb.filter(({ x }) => x.values.length <= 48), ({ x, axis, chunk, sections }) => {
      gradcheck((a) => split(a!, chunk, axis), [mk(x, 'float64', true)], GC);
      gradcheck((a) => split(a!, sections, axis), [mk(x, 'float64', true)], GC);
    }),
    fcParams(30),
  );
});

test('split: backward through a weighted use of two pieces accumulates into the source gradient', () => {
  fc.assert(
    fc.property(splitCaseArb.filter(({ x, sections }) => sections.length >= 2 && x.values.length <= 64), valuesFor(64), ({ x, axis, sections }, w) => {
      const t = mk(x, 'float64', true);
      const [p, q] = split(t, sections, axis) as [Tensor, Tensor];
      const wp = tensor(w.slice(0, p.size), [...p.shape], { dtype: 'float64' });
      const wq = tensor(w.slice(0, q.size), [...q.shape], { dtype: 'float64' });
      p.mul(wp).sum().add(q.mul(wq).sum()).backward();
      // dL/dx is wp on the first section, wq on the second, zero elsewhere
      const expected = tabulate(x.shape, (idx) => {
        const c = idx[axis]!;
        const own = [...idx];
        if (c < sections[0]!) return wp.data[ravel(own, p.shape)]!;
        own[axis] = c - sections[0]!;
        if (c - sections[0]! < sections[1]!) return wq.data[ravel(own, q.shape)]!;
        return 0;
      });
      assertClose(t.grad!.data, expected.data, EXACT, 'split grad');
    }),
    fcParams(40),
  );
});

test.run();
