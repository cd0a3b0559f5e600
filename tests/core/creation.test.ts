/**
 * Tensor factories (core/creation.ts) and the Tensor's own read-out methods (toArray, item): nested/flat/typed
 * input, dtypes, zeros/ones/full, arange with torch's length rule ⌈(end − start)/step⌉, linspace, eye.
 * Fixed expectations are the examples of the PyTorch documentation, not outputs of this code.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  DTypeError, ShapeError, Tensor, ValueError,
  arange, eye, fromArray, full, linspace, ones, onesLike, rand, randint, randn, tensor, zeros, zerosLike,
  type DType, type NestedArray,
} from '../../core/index.js';
import { assertClose } from '../helpers/close.js';
import { fcParams, shapeArb, valuesArb } from '../helpers/fc.js';
import { sizeOfShape } from '../helpers/oracle.js';

/** Nested JS arrays of `shape` holding flat[i] in row-major order (a number for rank 0). */
function nest(flat: readonly number[], shape: readonly number[]): NestedArray {
  if (shape.length === 0) return flat[0]!;
  const inner = sizeOfShape(shape.slice(1));
  return Array.from({ length: shape[0]! }, (_, i) => nest(flat.slice(i * inner, (i + 1) * inner), shape.slice(1)));
}

const shapedArb = (maxRank = 4, minDim = 1): fc.Arbitrary<[number[], number[]]> =>
  shapeArb(maxRank, 4, minDim).chain((s) => fc.tuple(fc.constant(s), valuesArb(sizeOfShape(s), 100)));

const dtypeArb = fc.constantFrom<DType>('float32', 'float64');
const cast = (dtype: DType, v: readonly number[]): number[] => (dtype === 'float32' ? v.map(Math.fround) : [...v]);

// ── tensor() ──

test('tensor(nested): shape read from the nesting, data in row-major order, float32 by default', () => {
  fc.assert(
    fc.property(shapedArb(), fc.option(dtypeArb, { nil: undefined }), ([shape, v], dtype) => {
      const t = tensor(nest(v, shape), dtype === undefined ? {} : { dtype });
      assert.equal([...t.shape], shape);
      assert.is(t.dtype, dtype ?? 'float32');
      assert.equal(Array.from(t.data), cast(dtype ?? 'float32', v));
      assert.not.ok(t.requiresGrad);
    }),
    fcParams(80),
  );
});

test('toArray inverts tensor() (float64), and tensor(x.toArray(), x.shape) rebuilds any x, zero-size axes included', () => {
  fc.assert(
    fc.property(shapedArb(4, 0), ([shape, v]) => {
      const x = tensor(Float64Array.from(v), shape);
      const nested = x.toArray();
      assert.equal(nested, nest(v, shape));
      const back = tensor(nested, [...shape], { dtype: 'float64' });
      assert.equal([...back.shape], shape);
      assert.equal(Array.from(back.data), v);
      if (!shape.includes(0)) assert.equal([...tensor(nested, { dtype: 'float64' }).shape], shape, 'shape inferred back');
    }),
    fcParams(80),
  );
});

test('ragged nested arrays → ShapeError naming the path of the first bad row', () => {
  const arb = fc
    .tuple(fc.integer({ min: 2, max: 4 }), shapeArb(3, 4, 1).filter((s) => s.length >= 1))
    .chain(([d0, rest]) => {
      const shape = [d0, ...rest];
      return fc.tuple(
        fc.constant(shape),
        fc.integer({ min: 1, max: shape.length - 1 }).chain((depth) =>
          fc.tuple(fc.constant(depth), fc.integer({ min: 1, max: d0 - 1 }), fc.tuple(...shape.slice(1, depth).map((d) => fc.nat(d - 1)))),
        ),
        fc.boolean(),
      );
    });
  fc.assert(
    fc.property(arb, ([shape, [depth, first, rest], shrink]) => {
      const nested = nest(Array.from({ length: sizeOfShape(shape) }, (_, i) => i), shape) as NestedArray[];
      const path = [first, ...rest];
      let row = nested;
      for (const i of path) row = row[i] as NestedArray[];
      const expectedLen = shape[depth]!;
      if (shrink && row.length > 1) row.pop();
      else row.push(row[0]!);
      const where = `values${path.map((i) => `[${i}]`).join('')}`;
      assert.throws(
        () => tensor(nested),
        (e: unknown) =>
          e instanceof ShapeError && e.op === 'tensor' && e.arg === 'values' &&
          e.message === `tensor: ragged nested array: ${where} has length ${row.length}, expected length ${expectedLen} (all rows must have equal length)`,
      );
    }),
    fcParams(60),
  );
  assert.throws(() => tensor([[1, 2], 3] as NestedArray), (e: unknown) => e instanceof ShapeError && e.message.includes('values[1] has a number, expected length 2'));
  assert.throws(() => tensor([[1, [2]], [3, 4]]), (e: unknown) => e instanceof ShapeError && e.message.includes('values[0][1] is an array, expected a number'));
  assert.throws(() => tensor([1, [2]]), (e: unknown) => e instanceof ShapeError && e.message.includes('values[1] is an array'));
});

test('tensor(flat, shape): flat array reshaped; a size mismatch → ShapeError naming the shape', () => {
  fc.assert(
    fc.property(shapedArb(4, 0), dtypeArb, ([shape, v], dtype) => {
      const t = tensor(v, shape, { dtype, requiresGrad: true });
      assert.equal([...t.shape], shape);
      assert.is(t.dtype, dtype);
      assert.ok(t.requiresGrad);
      assert.equal(Array.from(t.data), cast(dtype, v));
      assert.throws(() => tensor([...v, 1], shape), (e: unknown) => e instanceof ShapeError && e.op === 'tensor' && e.arg === 'shape' && e.message.includes(`[${shape.join(',')}]`));
      assert.equal([...tensor(v).shape], [v.length], 'a flat array without shape is 1-d');
    }),
    fcParams(60),
  );
});

test('tensor(typed array): Float64Array keeps float64, Float32Array float32, dtype overrides; the data is copied', () => {
  fc.assert(
    fc.property(valuesArb(6, 100), (v) => {
      const src64 = Float64Array.from(v);
      const t64 = tensor(src64);
      assert.is(t64.dtype, 'float64');
      assert.equal(Array.from(t64.data), v);
      src64[0] = 12345;
      assert.is(t64.data[0], v[0], 'tensor() copies its input');
      assert.is(tensor(Float32Array.from(v)).dtype, 'float32');
      const down = tensor(Float64Array.from(v), [2, 3], { dtype: 'float32' });
      assert.is(down.dtype, 'float32');
      assert.equal(Array.from(down.data), v.map(Math.fround));
      assert.is(tensor(v, { dtype: 'float64' }).dtype, 'float64');
    }),
    fcParams(30),
  );
  const buf = new Float64Array([1, 2, 3, 4]);
  const shared = fromArray(buf, [2, 2]);
  assert.is(shared.data, buf, 'fromArray wraps without copying');
  assert.throws(() => fromArray(buf, [3]), (e: unknown) => e instanceof ShapeError);
});

test('scalars: tensor(x) has shape [], toArray() is x, item() is x', () => {
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), (x) => {
      const t = tensor(x, { dtype: 'float64' });
      assert.equal([...t.shape], []);
      assert.is(t.size, 1);
      assert.is(t.toArray(), x);
      assert.is(t.item(), x);
      assert.is(tensor(x).item(), Math.fround(x));
    }),
    fcParams(40),
  );
});

test('item(): any one-element tensor (any rank); otherwise ValueError naming the shape', () => {
  fc.assert(
    fc.property(shapedArb(4, 0), ([shape, v]) => {
      const t = tensor(v, shape, { dtype: 'float64' });
      if (t.size === 1) assert.is(t.item(), v[0]);
      else assert.throws(() => t.item(), (e: unknown) => e instanceof ValueError && e.op === 'item' && e.message.includes(`[${shape.join(',')}]`));
    }),
    fcParams(60),
  );
});

// ── constant factories ──

test('zeros/ones/full(/Like): every element is the value, of the shape and dtype asked (float32 by default)', () => {
  fc.assert(
    fc.property(shapeArb(4, 4), fc.option(dtypeArb, { nil: undefined }), fc.double({ noNaN: true, min: -1e3, max: 1e3 }), fc.boolean(), (shape, dtype, value, requiresGrad) => {
      const opts = dtype === undefined ? { requiresGrad } : { dtype, requiresGrad };
      const want = dtype ?? 'float32';
      for (const [t, c] of [[zeros(shape, opts), 0], [ones(shape, opts), 1], [full(shape, value, opts), value]] as const) {
        assert.equal([...t.shape], shape);
        assert.is(t.dtype, want);
        assert.is(t.requiresGrad, requiresGrad);
        assert.ok(t.data.every((x) => x === cast(want, [c])[0]), 'constant');
      }
      const src = rand(shape, { dtype: 'float64' });
      const zl = zerosLike(src);
      const ol = onesLike(src, { dtype: 'float32' });
      assert.equal([...zl.shape], shape);
      assert.is(zl.dtype, 'float64');
      assert.ok(zl.data.every((x) => x === 0));
      assert.is(ol.dtype, 'float32');
      assert.ok(ol.data.every((x) => x === 1));
    }),
    fcParams(60),
  );
});

test('eye(n, m): 1 exactly where row = column', () => {
  fc.assert(
    fc.property(fc.nat(5), fc.option(fc.nat(5), { nil: undefined }), (n, m) => {
      const t = eye(n, m);
      const cols = m ?? n;
      assert.equal([...t.shape], [n, cols]);
      for (let i = 0; i < n; i++) for (let j = 0; j < cols; j++) assert.is(t.data[i * cols + j], i === j ? 1 : 0);
    }),
    fcParams(40),
  );
  assert.equal(eye(3).toArray(), [[1, 0, 0], [0, 1, 0], [0, 0, 1]]); // torch.eye(3)
  assert.throws(() => eye(-1), (e: unknown) => e instanceof ShapeError && e.op === 'eye');
});

// ── arange / linspace ──

test('arange: the PyTorch documentation examples, negative steps, and torch\'s length rule on a rounding case', () => {
  const arr = (t: Tensor): number[] => Array.from(t.data);
  assert.equal(arr(arange(5)), [0, 1, 2, 3, 4]);
  assert.equal(arr(arange(1, 4)), [1, 2, 3]);
  assert.equal(arr(arange(1, 2.5, 0.5)), [1, 1.5, 2]);
  assert.equal(arr(arange(5, 0, -1)), [5, 4, 3, 2, 1]);
  assert.equal(arr(arange(0, -1, -0.25)), [0, -0.25, -0.5, -0.75]);
  assert.equal(arr(arange(3, 3)), [], 'start = end is empty');
  assert.is(arange(0, 1, 0.1, { dtype: 'float64' }).size, 10);
  // (1.3 − 1)/0.1 = 3.0000000000000004 in binary64 ⇒ ⌈·⌉ = 4 elements, as torch.arange(1, 1.3, 0.1) gives
  assert.is(arange(1, 1.3, 0.1, { dtype: 'float64' }).size, 4);
  assert.is(arange(5).dtype, 'float32');
});

test('arange(start, end, step): length ⌈(end − start)/step⌉ and values start + i·step, for steps of either sign', () => {
  const arb = fc
    .tuple(
      fc.double({ min: -20, max: 20, noNaN: true }),
      fc.double({ min: 0.05, max: 4, noNaN: true }),
      fc.boolean(),
      fc.double({ min: 0, max: 40, noNaN: true }),
      dtypeArb,
    );
  fc.assert(
    fc.property(arb, ([start, mag, negative, span, dtype]) => {
      const step = negative ? -mag : mag;
      const end = start + (negative ? -span : span);
      const t = arange(start, end, step, { dtype });
      const n = Math.ceil((end - start) / step);
      assert.equal([...t.shape], [n]);
      assert.is(t.dtype, dtype);
      assertClose(t.data, cast(dtype, Array.from({ length: n }, (_, i) => start + i * step)), { rtol: 0, atol: 0 }, 'arange');
    }),
    fcParams(80),
  );
});

test('arange: a zero or non-finite step, non-finite bounds, or a step pointing away from end → ValueError', () => {
  for (const [s, e, st] of [[0, 5, 0], [0, 5, Number.NaN], [0, 5, Infinity], [0, Infinity, 1], [Number.NaN, 3, 1], [0, 5, -1], [5, 0, 1], [0, -1, 0.5]] as const) {
    assert.throws(() => arange(s, e, st), (err: unknown) => err instanceof ValueError && err.op === 'arange', `arange(${s}, ${e}, ${st})`);
  }
  assert.throws(() => arange(-3), (err: unknown) => err instanceof ValueError, 'arange(-3): end < start with step 1');
});

test('linspace: the PyTorch documentation examples', () => {
  const arr = (t: Tensor): number[] => Array.from(t.data);
  assert.equal(arr(linspace(3, 10, 5, { dtype: 'float64' })), [3, 4.75, 6.5, 8.25, 10]);
  assert.equal(arr(linspace(-10, 10, 5)), [-10, -5, 0, 5, 10]);
  assert.equal(arr(linspace(-10, 10, 1)), [-10]);
  assert.equal(arr(linspace(0, 1, 0)), []);
});

test('linspace(start, end, steps): steps values, first = start, last = end exactly, evenly spaced', () => {
  fc.assert(
    fc.property(fc.double({ min: -50, max: 50, noNaN: true }), fc.double({ min: -50, max: 50, noNaN: true }), fc.integer({ min: 2, max: 30 }), (start, end, steps) => {
      const t = linspace(start, end, steps, { dtype: 'float64' });
      assert.equal([...t.shape], [steps]);
      assert.is(t.data[0], start);
      assert.is(t.data[steps - 1], end);
      const delta = (end - start) / (steps - 1);
      // spacing within a few ulps of the larger endpoint
      const tol = 8 * Number.EPSILON * Math.max(Math.abs(start), Math.abs(end), 1);
      for (let i = 1; i < steps; i++) assert.ok(Math.abs(t.data[i]! - t.data[i - 1]! - delta) <= tol, `gap ${i}`);
    }),
    fcParams(60),
  );
  for (const bad of [-1, 2.5, Number.NaN]) assert.throws(() => linspace(0, 1, bad), (e: unknown) => e instanceof ValueError && e.op === 'linspace');
});

// ── dtypes ──

test('an unknown dtype → DTypeError from the factory that was called', () => {
  const bad = { dtype: 'float16' as unknown as DType };
  const cases: [string, () => Tensor][] = [
    ['tensor', () => tensor([1, 2], bad)],
    ['full', () => full([2], 3, bad)],
    ['zeros', () => zeros([2], bad)],
    ['ones', () => ones([2], bad)],
    ['arange', () => arange(0, 3, 1, bad)],
    ['linspace', () => linspace(0, 1, 3, bad)],
    ['eye', () => eye(2, 2, bad)],
    ['rand', () => rand([2], bad)],
    ['randn', () => randn([2], bad)],
    ['randint', () => randint(0, 3, [2], bad)],
  ];
  for (const [op, make] of cases) {
    assert.throws(make, (e: unknown) => e instanceof DTypeError && e.op === op && e.arg === 'dtype' && e.message.includes('float16'), op);
  }
});

test.run();
