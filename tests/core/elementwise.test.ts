/**
 * Elementwise ops (core/ops/elementwise.ts): forward against naive broadcast loops, backward against naive
 * vector–Jacobian products and gradcheck, error paths, extreme inputs, GELU against an independent Φ, dropout.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  abs, add, cast, clamp, clone, cos, div, dropout, DTypeError, eq, exp, ge, gelu, Generator, gradcheck, gt, le, log, lt,
  maximum, minimum, mul, ne, neg, pow, reciprocal, relu, rsqrt, ShapeError, sigmoid, silu, sin, softplus, sqrt, square,
  sub, tanh, Tensor, ValueError, where, type DType, type GradcheckOptions, type TensorLike,
} from '../../core/index.js';
import { assertClose, assertShape, type Tolerance } from '../helpers/close.js';
import { broadcastablePairArb, fcParams, nonBroadcastablePairArb, shapeArb } from '../helpers/fc.js';
import { naiveBroadcastShape, sizeOfShape } from '../helpers/oracle.js';
import {
  awayFromArb, broadcastShapeN, broadcastTripleArb, doublesArb, dtypeArb, fmt, gridArb, makeTensor, naiveMap, naiveVjp,
  normalCdfSimpson,
} from '../helpers/oracle-elementwise.js';

// ── tolerances ──

/** Forward, float64: op and oracle do the same double arithmetic (or an equivalent formula): a few ulps. */
const F64: Tolerance = { rtol: 1e-14, atol: 0 };
/** Forward, float32: the op rounds a double result once; the oracle rounds its own; ≤ 2 float32 ulps apart. */
const F32_RTOL = 2.5e-7;
/** gradcheck in float64: central differences with ε = 1e-6 are good to ~1e-9 here (values ≤ ~20, smooth domains). */
const GRAD: GradcheckOptions = { eps: 1e-6, atol: 1e-6, rtol: 1e-5 };
/** Backward vs naive VJP: relative to Σ|terms| of each gradient element (1e-12 in float64, 1e-5 if float32 is involved). */
const VJP_RTOL_F64 = 1e-12;
const VJP_RTOL_F32 = 1e-5;
/** …plus, with float32, an absolute 1e-30 for terms that underflow float32 (generated values go down to 1e-300). */
const VJP_ATOL_F32 = 1e-30;

// ── op tables ──

type BinaryOp = (a: TensorLike, b: TensorLike) => Tensor;
type ValuesArb = (n: number) => fc.Arbitrary<number[]>;

interface ArithCase {
  name: string;
  op: BinaryOp;
  f: (x: number, y: number) => number;
  /** [∂f/∂x, ∂f/∂y]; ties of maximum/minimum split the gradient in halves (torch.maximum). */
  partials: (x: number, y: number) => number[];
  /** Values for x and y inside the smooth domain (y away from 0 for div, x > 0 for pow, no ties for max/min). */
  smoothA: ValuesArb;
  smoothB: ValuesArb;
}

const anyValues: ValuesArb = (n) => doublesArb(n, -3, 3);

const ARITH: ArithCase[] = [
  { name: 'add', op: add, f: (x, y) => x + y, partials: () => [1, 1], smoothA: anyValues, smoothB: anyValues },
  { name: 'sub', op: sub, f: (x, y) => x - y, partials: () => [1, -1], smoothA: anyValues, smoothB: anyValues },
  { name: 'mul', op: mul, f: (x, y) => x * y, partials: (x, y) => [y, x], smoothA: anyValues, smoothB: anyValues },
  {
    name: 'div', op: div, f: (x, y) => x / y, partials: (x, y) => [1 / y, -x / (y * y)],
    smoothA: anyValues, smoothB: (n) => awayFromArb(n, 0, 0.5, 3),
  },
  {
    name: 'pow', op: pow, f: (x, y) => Math.pow(x, y), partials: (x, y) => [y * Math.pow(x, y - 1), Math.pow(x, y) * Math.log(x)],
    smoothA: (n) => doublesArb(n, 0.25, 2.5), smoothB: (n) => doublesArb(n, -2, 2),
  },
  {
    name: 'maximum', op: maximum, f: (x, y) => Math.max(x, y), partials: (x, y) => (x > y ? [1, 0] : x < y ? [0, 1] : [0.5, 0.5]),
    smoothA: (n) => gridArb(n, 0.25), smoothB: (n) => gridArb(n, 0.75),
  },
  {
    name: 'minimum', op: minimum, f: (x, y) => Math.min(x, y), partials: (x, y) => (x < y ? [1, 0] : x > y ? [0, 1] : [0.5, 0.5]),
    smoothA: (n) => gridArb(n, 0.25), smoothB: (n) => gridArb(n, 0.75),
  },
];

interface CompareCase {
  name: string;
  op: BinaryOp;
  f: (x: number, y: number) => number;
}

const COMPARE: CompareCase[] = [
  { name: 'eq', op: eq, f: (x, y) => (x === y ? 1 : 0) },
  { name: 'ne', op: ne, f: (x, y) => (x === y ? 0 : 1) },
  { name: 'lt', op: lt, f: (x, y) => (x < y ? 1 : 0) },
  { name: 'le', op: le, f: (x, y) => (x <= y ? 1 : 0) },
  { name: 'gt', op: gt, f: (x, y) => (y < x ? 1 : 0) },
  { name: 'ge', op: ge, f: (x, y) => (y <= x ? 1 : 0) },
];

const BINARY: { name: string; op: BinaryOp; f: (x: number, y: number) => number }[] = [...ARITH, ...COMPARE];

interface UnaryCase {
  name: string;
  op: (x: Tensor) => Tensor;
  /** An independent scalar reference (another formula where one exists). */
  ref: (x: number) => number;
  /** Forward tolerance in float64 against `ref`. */
  tol: Tolerance;
  /** Values inside the op's smooth domain (for gradcheck), away from kinks and poles. */
  smooth: ValuesArb;
}

const positive: ValuesArb = (n) => doublesArb(n, 0.2, 3);
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

const UNARY: UnaryCase[] = [
  { name: 'neg', op: neg, ref: (x) => 0 - x, tol: F64, smooth: anyValues },
  { name: 'exp', op: exp, ref: (x) => Math.E ** x, tol: F64, smooth: anyValues },
  { name: 'log', op: log, ref: (x) => Math.log2(x) * Math.LN2, tol: { rtol: 1e-14, atol: 1e-16 }, smooth: positive },
  { name: 'sqrt', op: sqrt, ref: (x) => x ** 0.5, tol: F64, smooth: positive },
  { name: 'rsqrt', op: rsqrt, ref: (x) => 1 / Math.sqrt(x), tol: F64, smooth: positive },
  { name: 'reciprocal', op: reciprocal, ref: (x) => 1 / x, tol: F64, smooth: (n) => awayFromArb(n, 0, 0.3, 3) },
  { name: 'abs', op: abs, ref: (x) => (x < 0 ? -x : x), tol: F64, smooth: (n) => awayFromArb(n, 0, 0.01, 3) },
  { name: 'sin', op: sin, ref: (x) => Math.cos(x - Math.PI / 2), tol: { rtol: 1e-14, atol: 1e-15 }, smooth: anyValues },
  { name: 'cos', op: cos, ref: (x) => Math.sin(x + Math.PI / 2), tol: { rtol: 1e-14, atol: 1e-15 }, smooth: anyValues },
  { name: 'tanh', op: tanh, ref: (x) => Math.expm1(2 * x) / (Math.expm1(2 * x) + 2), tol: { rtol: 1e-14, atol: 1e-300 }, smooth: anyValues },
  { name: 'sigmoid', op: sigmoid, ref: (x) => 1 / (1 + Math.exp(-x)), tol: F64, smooth: anyValues },
  { name: 'relu', op: relu, ref: (x) => Math.max(x, 0), tol: F64, smooth: (n) => awayFromArb(n, 0, 0.01, 3) },
  { name: 'gelu', op: (x) => gelu(x), ref: (x) => x * normalCdfSimpson(x), tol: { rtol: 0, atol: 1e-9 }, smooth: anyValues },
  {
    // ½x(1 + tanh u) with 1 + tanh u = 2e^{u}/(e^{u} + e^{−u}), written through e^{−|u|} so that no cancellation occurs
    // where tanh u ≈ −1 (½x(1 + Math.tanh(u)) itself loses ~4e-14 relative there)
    name: 'gelu(tanh)', op: (x) => gelu(x, 'tanh'),
    ref: (x) => {
      const u = SQRT_2_OVER_PI * (x + 0.044715 * x ** 3);
      const e = Math.exp(-2 * Math.abs(u));
      return u >= 0 ? x / (1 + e) : (x * e) / (1 + e);
    },
    tol: { rtol: 1e-14, atol: 1e-300 }, smooth: anyValues,
  },
  { name: 'silu', op: silu, ref: (x) => x / (1 + Math.exp(-x)), tol: F64, smooth: anyValues },
  { name: 'softplus', op: softplus, ref: (x) => Math.log(1 + Math.exp(x)), tol: { rtol: 1e-14, atol: 1e-16 }, smooth: anyValues },
  { name: 'square', op: square, ref: (x) => x * x, tol: F64, smooth: anyValues },
];

// ── small helpers ──


function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

function expectedDType(...ds: DType[]): DType {
  return ds.includes('float64') ? 'float64' : 'float32';
}

/** Round to the storage of dtype. */
function store(v: number, dtype: DType): number {
  return dtype === 'float32' ? Math.fround(v) : v;
}

/** Forward check: float64 within `tol`, float32 within F32_RTOL of the rounded reference (plus tol.atol). */
function assertForward(out: Tensor, expected: readonly number[], tol: Tolerance, label: string): void {
  if (out.dtype === 'float64') assertClose(out.data, expected, tol, label);
  else assertClose(out.data, expected.map(Math.fround), { rtol: F32_RTOL, atol: tol.atol ?? 0 }, label);
}

/** |got − expected| ≤ rtol·Σ|terms| + atol for every gradient element. */
function assertVjp(got: ArrayLike<number>, expected: readonly number[], scales: readonly number[], rtol: number, atol: number, label: string): void {
  assert.is(got.length, expected.length, `${label}: length`);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(got[i]! - expected[i]!);
    if (!(err <= rtol * scales[i]! + atol)) {
      assert.unreachable(`${label}: element ${i} is ${got[i]}, expected ${expected[i]} (scale ${scales[i]}, rtol ${rtol})`);
    }
  }
}

/** Shapes of rank ≤ maxRank, sizes ≤ maxDim: mostly non-empty, sometimes with size-0 dims (shapeArb's own mix is ~½ empty). */
function someShapeArb(maxRank: number, maxDim: number): fc.Arbitrary<number[]> {
  return fc.oneof({ arbitrary: shapeArb(maxRank, maxDim, 1), weight: 4 }, { arbitrary: shapeArb(maxRank, maxDim, 0), weight: 1 });
}

/** Values with the odd special: ±0, ±1, 2 and NaN among doubles in [−3, 3]. */
const specialValuesArb: ValuesArb = (n) =>
  fc.array(
    fc.oneof(
      { arbitrary: fc.double({ min: -3, max: 3, noNaN: true }), weight: 6 },
      { arbitrary: fc.constantFrom(0, -0, 1, -1, 2, Number.NaN), weight: 1 },
    ),
    { minLength: n, maxLength: n },
  );

interface PairInput {
  sa: number[];
  sb: number[];
  va: number[];
  vb: number[];
  da: DType;
  db: DType;
}

function pairArb(maxRank: number, maxDim: number, valuesA: ValuesArb, valuesB: ValuesArb = valuesA): fc.Arbitrary<PairInput> {
  return broadcastablePairArb(maxRank, maxDim).chain(([sa, sb]) =>
    fc.record({
      sa: fc.constant(sa),
      sb: fc.constant(sb),
      va: valuesA(sizeOfShape(sa)),
      vb: valuesB(sizeOfShape(sb)),
      da: dtypeArb,
      db: dtypeArb,
    }),
  );
}

// ── binary ops: forward ──

test('binary ops: forward equals the naive broadcast loop; shape is the naive broadcast shape; float32+float64 → float64', () => {
  fc.assert(
    fc.property(pairArb(5, 4, specialValuesArb), ({ sa, sb, va, vb, da, db }) => {
      const a = makeTensor(sa, va, da);
      const b = makeTensor(sb, vb, db);
      const shape = naiveBroadcastShape(sa, sb)!;
      for (const { name, op, f } of BINARY) {
        const out = op(a, b);
        const label = `${name}(${fmt(sa)} ${da}, ${fmt(sb)} ${db})`;
        assertShape(out.shape, shape, label);
        assert.is(out.dtype, expectedDType(da, db), `${label}: dtype`);
        assertForward(out, naiveMap(f, a, b).data, F64, label);
      }
    }),
    fcParams(100),
  );
});

test('binary ops: a number operand, on either side, takes the tensor dtype and broadcasts as rank 0', () => {
  fc.assert(
    fc.property(
      someShapeArb(5, 4).chain((s) => fc.tuple(fc.constant(s), specialValuesArb(sizeOfShape(s)), dtypeArb, fc.double({ min: -3, max: 3, noNaN: true }))),
      ([s, v, dtype, c]) => {
        const t = makeTensor(s, v, dtype);
        const scalar = { data: [store(c, dtype)], shape: [] };
        for (const { name, op, f } of BINARY) {
          const right = op(t, c);
          const left = op(c, t);
          assertShape(right.shape, s, `${name}(t, ${c})`);
          assertShape(left.shape, s, `${name}(${c}, t)`);
          assert.is(right.dtype, dtype, `${name}(t, number): dtype`);
          assert.is(left.dtype, dtype, `${name}(number, t): dtype`);
          assertForward(right, naiveMap(f, t, scalar).data, F64, `${name}(t ${dtype}, ${c})`);
          assertForward(left, naiveMap(f, scalar, t).data, F64, `${name}(${c}, t ${dtype})`);
        }
      },
    ),
    fcParams(80),
  );
});

test('binary ops: size-0 dims broadcast like NumPy (0 against 1 gives 0)', () => {
  const arb = broadcastablePairArb(4, 3)
    .filter(([sa, sb]) => Math.min(sa.length, sb.length) > 0)
    .chain(([sa, sb]) => fc.tuple(fc.constant(sa), fc.constant(sb), fc.integer({ min: 1, max: Math.min(sa.length, sb.length) }), fc.boolean()));
  fc.assert(
    fc.property(arb, ([sa0, sb0, k, zeroInA]) => {
      // put a 0 at dim −k of one side; the other side must then be 0 or 1 there
      const sa = [...sa0];
      const sb = [...sb0];
      const [p, q] = zeroInA ? [sa, sb] : [sb, sa];
      p[p.length - k] = 0;
      if (q[q.length - k] !== 1) q[q.length - k] = 0;
      const expected = broadcastShapeN(sa, sb)!;
      for (const { name, op } of BINARY) {
        const out = op(makeTensor(sa, new Array<number>(sizeOfShape(sa)).fill(1)), makeTensor(sb, new Array<number>(sizeOfShape(sb)).fill(2)));
        assertShape(out.shape, expected, `${name}(${fmt(sa)}, ${fmt(sb)})`);
        assert.is(out.size, 0, `${name}: size`);
      }
    }),
    fcParams(40),
  );
});

test('binary ops: any non-broadcastable pair throws ShapeError naming the op and both shapes, in either order', () => {
  fc.assert(
    fc.property(nonBroadcastablePairArb(5, 4), dtypeArb, dtypeArb, ([sa, sb], da, db) => {
      const a = makeTensor(sa, new Array<number>(sizeOfShape(sa)).fill(0), da);
      const b = makeTensor(sb, new Array<number>(sizeOfShape(sb)).fill(0), db);
      for (const { name, op } of BINARY) {
        for (const [x, y] of [[a, b], [b, a]] as const) {
          const e = errorOf(() => op(x, y));
          assert.instance(e, ShapeError, `${name}(${fmt(x.shape)}, ${fmt(y.shape)}) must throw ShapeError`);
          const err = e as ShapeError;
          assert.is(err.op, name);
          assert.ok(err.message.startsWith(`${name}: `), err.message);
          assert.ok(err.message.includes(fmt(x.shape)) && err.message.includes(fmt(y.shape)), `message names both shapes: ${err.message}`);
        }
      }
    }),
    fcParams(40),
  );
});

test('binary ops: operands that are neither Tensor nor number throw DTypeError', () => {
  const t = makeTensor([2], [1, 2]);
  for (const { name, op } of BINARY) {
    const bad = '3' as unknown as TensorLike;
    assert.instance(errorOf(() => op(t, bad)), DTypeError, `${name}(t, '3')`);
    assert.instance(errorOf(() => op(bad, t)), DTypeError, `${name}('3', t)`);
  }
});

// ── binary ops: backward ──

test('binary ops: backward equals the naive vector–Jacobian product (broadcasting, mixed dtypes, max/min ties split ½–½)', () => {
  const cases: { c: ArithCase; a: ValuesArb; b: ValuesArb }[] = ARITH.map((c) =>
    c.name === 'maximum' || c.name === 'minimum'
      ? { c, a: (n: number) => gridArb(n, 0, 1), b: (n: number) => gridArb(n, 0, 1) } // coarse grid: many ties
      : { c, a: c.smoothA, b: c.smoothB },
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: cases.length - 1 }).chain((k) =>
        fc.tuple(fc.constant(k), pairArb(4, 4, cases[k]!.a, cases[k]!.b), fc.integer({ min: 1, max: 1000 })),
      ),
      ([k, { sa, sb, va, vb, da, db }, seed]) => {
        const { c } = cases[k]!;
        const a = makeTensor(sa, va, da, true);
        const b = makeTensor(sb, vb, db, true);
        const out = c.op(a, b);
        assert.ok(out.requiresGrad, `${c.name}: output requires grad`);
        const g = new Generator(seed);
        const seedGrad = makeTensor(out.shape, Array.from({ length: out.size }, () => g.normal()), out.dtype);
        out.backward(seedGrad);
        const { grads, scales } = naiveVjp(c.partials, seedGrad.data, a, b);
        const f64 = da === 'float64' && db === 'float64';
        const [rtol, atol] = f64 ? [VJP_RTOL_F64, 1e-300] : [VJP_RTOL_F32, VJP_ATOL_F32];
        for (const [x, name, j] of [[a, 'a', 0], [b, 'b', 1]] as const) {
          const label = `${c.name}(${fmt(sa)} ${da}, ${fmt(sb)} ${db}) grad ${name}`;
          assert.ok(x.grad !== null, `${label}: missing`);
          assertShape(x.grad!.shape, x.shape, label);
          assert.is(x.grad!.dtype, x.dtype, `${label}: dtype`);
          assertVjp(x.grad!.data, grads[j]!, scales[j]!, rtol, atol, label);
        }
      },
    ),
    fcParams(150),
  );
});

test('binary ops: gradcheck (float64) on broadcast shapes, with number operands, and with the same tensor twice', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: ARITH.length - 1 }).chain((k) => {
        const c = ARITH[k]!;
        return fc.tuple(fc.constant(k), pairArb(3, 3, c.smoothA, c.smoothB), c.smoothA(1), c.smoothB(1));
      }),
      ([k, { sa, sb, va, vb }, [ca], [cb]]) => {
        const { name, op } = ARITH[k]!;
        const a = makeTensor(sa, va, 'float64', true);
        const b = makeTensor(sb, vb, 'float64', true);
        const label = `${name} a=${fmt(sa)} b=${fmt(sb)}`;
        const run = (what: string, fn: () => true): void => {
          const e = errorOf(fn);
          if (e !== undefined) assert.unreachable(`${label} ${what}: ${String(e)}`);
        };
        run('op(a, b)', () => gradcheck((p, q) => op(p!, q!), [a, b], GRAD));
        run(`op(a, ${cb})`, () => gradcheck((p) => op(p!, cb!), [a], GRAD));
        run(`op(${ca}, b)`, () => gradcheck((q) => op(ca!, q!), [b], GRAD));
        // the same tensor on both sides: both gradients accumulate (maximum(x, x): ½ + ½ = 1)
        // (x/x needs x away from 0: b's domain; x^x needs x > 0: a's domain)
        const self = name === 'div' ? makeTensor(sb, vb, 'float64', true) : makeTensor(sa, va, 'float64', true);
        run('op(a, a)', () => gradcheck((p) => op(p!, p!), [self], GRAD));
      },
    ),
    fcParams(100),
  );
});

test('pow: gradient at the conventions 0⁰ = 1 and 0^y = 0 (y > 0) is finite, as torch', () => {
  // d/dx x⁰ = 0 everywhere (x⁰ ≡ 1, 0⁰ = 1); d/dy 0^y = 0 for y > 0 (0^y ≡ 0 there)
  fc.assert(
    fc.property(doublesArb(4, -2, 2), doublesArb(4, 0.1, 3), (xs, ys) => {
      const x = makeTensor([2, 4], [0, 0, 0, 0, ...xs], 'float64', true);
      const out = pow(x, 0);
      out.backward(makeTensor(out.shape, new Array<number>(8).fill(1), 'float64'));
      assertClose(x.grad!.data, new Array<number>(8).fill(0), { atol: 0 }, 'd/dx pow(x, 0)');
      const y = makeTensor([4], ys, 'float64', true);
      const out2 = pow(0, y);
      out2.backward(makeTensor([4], [1, 1, 1, 1], 'float64'));
      assertClose(y.grad!.data, [0, 0, 0, 0], { atol: 0 }, 'd/dy pow(0, y), y > 0');
    }),
    fcParams(20),
  );
});

// ── comparisons ──

test('comparisons: values are 0/1 (NaN compares false, −0 = 0), dtype promotes, output never requires grad', () => {
  const smallValues: ValuesArb = (n) => fc.array(fc.constantFrom(-1, -0, 0, 0.5, 1, Number.NaN), { minLength: n, maxLength: n });
  fc.assert(
    fc.property(pairArb(4, 3, smallValues), ({ sa, sb, va, vb, da, db }) => {
      const a = makeTensor(sa, va, da, true);
      const b = makeTensor(sb, vb, db, true);
      for (const { name, op, f } of COMPARE) {
        const out = op(a, b);
        assert.is(out.requiresGrad, false, `${name}: requiresGrad`);
        assert.is(out.gradNode, null, `${name}: no graph node`);
        assert.ok(out.data.every((v) => v === 0 || v === 1), `${name}: 0/1 values`);
        assert.equal(Array.from(out.data), naiveMap(f, a, b).data, `${name}(${fmt(sa)}, ${fmt(sb)})`);
      }
    }),
    fcParams(50),
  );
});

test('comparisons: used as a mask they are constants for autograd: d/dx [x·(x > c)] = (x > c)', () => {
  fc.assert(
    fc.property(
      someShapeArb(4, 3).chain((s) => fc.tuple(fc.constant(s), gridArb(sizeOfShape(s), 0.5), fc.integer({ min: -3, max: 3 }))),
      ([s, v, c]) => {
        const x = makeTensor(s, v, 'float64', true);
        const out = mul(x, gt(x, c));
        out.backward(makeTensor(s, new Array<number>(x.size).fill(1), 'float64'));
        assert.equal(Array.from(x.grad!.data), v.map((xi) => (xi > c ? 1 : 0)));
      },
    ),
    fcParams(30),
  );
});

// ── where ──

test('where: 3-way broadcasting forward equals the naive loop (a where cond ≠ 0, NaN counts as ≠ 0)', () => {
  const condValues: ValuesArb = (n) => fc.array(fc.constantFrom(0, -0, 1, -2, 0.5, Number.NaN), { minLength: n, maxLength: n });
  fc.assert(
    fc.property(
      broadcastTripleArb(5, 3).chain(([sc, sa, sb]) =>
        fc.tuple(fc.constant([sc, sa, sb]), condValues(sizeOfShape(sc)), specialValuesArb(sizeOfShape(sa)), specialValuesArb(sizeOfShape(sb)), dtypeArb, dtypeArb, dtypeArb),
      ),
      ([[sc, sa, sb], vc, va, vb, dc, da, db]) => {
        const cond = makeTensor(sc, vc, dc);
        const a = makeTensor(sa, va, da);
        const b = makeTensor(sb, vb, db);
        const out = where(cond, a, b);
        const label = `where(${fmt(sc)}, ${fmt(sa)}, ${fmt(sb)})`;
        assertShape(out.shape, broadcastShapeN(sc, sa, sb)!, label);
        assert.is(out.dtype, expectedDType(da, db), `${label}: dtype`);
        assertForward(out, naiveMap((c, x, y) => (c === 0 ? y : x), cond, a, b).data, { atol: 0, rtol: 0 }, label);
        // number operands take the other operand's dtype
        const withNumber = where(cond, a, 7.25);
        assert.is(withNumber.dtype, da);
        assertForward(withNumber, naiveMap((c, x) => (c === 0 ? 7.25 : x), cond, a).data, { atol: 0, rtol: 0 }, `${label} b=7.25`);
      },
    ),
    fcParams(80),
  );
});

test('where: gradients go to a and b only (gradcheck, float64, 3-way broadcast); cond gets none', () => {
  fc.assert(
    fc.property(
      broadcastTripleArb(3, 3).chain(([sc, sa, sb]) =>
        fc.tuple(
          fc.constant([sc, sa, sb]),
          fc.array(fc.constantFrom(0, 1), { minLength: sizeOfShape(sc), maxLength: sizeOfShape(sc) }),
          anyValues(sizeOfShape(sa)),
          anyValues(sizeOfShape(sb)),
        ),
      ),
      ([[sc, sa, sb], vc, va, vb]) => {
        const cond = makeTensor(sc, vc, 'float64', true);
        const a = makeTensor(sa, va, 'float64', true);
        const b = makeTensor(sb, vb, 'float64', true);
        const label = `where(${fmt(sc)}, ${fmt(sa)}, ${fmt(sb)})`;
        const e = errorOf(() => {
          gradcheck((p, q) => where(cond.detach(), p!, q!), [a, b], GRAD);
          gradcheck((p) => where(cond.detach(), p!, -1.5), [a], GRAD);
          gradcheck((q) => where(cond.detach(), 2, q!), [b], GRAD);
        });
        if (e !== undefined) assert.unreachable(`${label}: ${String(e)}`);
        const out = where(cond, a, b);
        out.backward(makeTensor(out.shape, new Array<number>(out.size).fill(1), 'float64'));
        assert.is(cond.grad, null, `${label}: cond must get no gradient`);
        // naive: grad a collects the outputs where cond ≠ 0, grad b the others
        const ones = new Array<number>(out.size).fill(1);
        const { grads } = naiveVjp((c) => [0, c === 0 ? 0 : 1, c === 0 ? 1 : 0], ones, cond, a, b);
        assertClose(a.grad!.data, grads[1]!, { atol: 0 }, `${label} grad a`);
        assertClose(b.grad!.data, grads[2]!, { atol: 0 }, `${label} grad b`);
      },
    ),
    fcParams(50),
  );
});

test('where: non-broadcastable operands throw ShapeError naming both shapes; cond must be a Tensor', () => {
  fc.assert(
    fc.property(nonBroadcastablePairArb(5, 4), ([s1, s2]) => {
      const t1 = makeTensor(s1, new Array<number>(sizeOfShape(s1)).fill(1));
      const t2 = makeTensor(s2, new Array<number>(sizeOfShape(s2)).fill(1));
      const scalar = makeTensor([], [1]);
      for (const [label, fn] of [
        ['cond vs a', () => where(t1, t2, scalar)],
        ['cond vs b', () => where(t1, scalar, t2)],
        ['a vs b', () => where(scalar, t1, t2)],
      ] as const) {
        const e = errorOf(fn);
        assert.instance(e, ShapeError, `where ${label} ${fmt(s1)} ${fmt(s2)}`);
        const msg = (e as ShapeError).message;
        assert.ok(msg.startsWith('where: ') && msg.includes(fmt(s1)) && msg.includes(fmt(s2)), `where ${label}: ${msg}`);
      }
    }),
    fcParams(40),
  );
  assert.instance(errorOf(() => where(1 as unknown as Tensor, 1, 2)), DTypeError);
});

// ── unary ops ──

test('unary ops: forward equals an independent scalar reference, any shape (size 0, rank 0), both dtypes, NaN propagates', () => {
  fc.assert(
    fc.property(someShapeArb(5, 4).chain((s) => fc.tuple(fc.constant(s), specialValuesArb(sizeOfShape(s)), dtypeArb)), ([s, v, dtype]) => {
      const x = makeTensor(s, v, dtype);
      for (const { name, op, ref, tol } of UNARY) {
        const out = op(x);
        const label = `${name}(${fmt(s)} ${dtype})`;
        assertShape(out.shape, s, label);
        assert.is(out.dtype, dtype, `${label}: dtype`);
        assert.ok(out.data !== x.data, `${label}: a new buffer`);
        assertForward(out, Array.from(x.data, ref), tol, label);
      }
    }),
    fcParams(100),
  );
});

test('unary ops: gradcheck (float64) inside each smooth domain, away from kinks and poles', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: UNARY.length - 1 }).chain((k) =>
        fc.tuple(fc.constant(k), shapeArb(4, 3, 1).chain((s) => fc.tuple(fc.constant(s), UNARY[k]!.smooth(sizeOfShape(s))))),
      ),
      ([k, [s, v]]) => {
        const { name, op } = UNARY[k]!;
        const e = errorOf(() => gradcheck((p) => op(p!), [makeTensor(s, v, 'float64', true)], GRAD));
        if (e !== undefined) assert.unreachable(`${name} ${fmt(s)}: ${String(e)}`);
      },
    ),
    fcParams(150),
  );
});

test('unary ops: inputs that are not tensors throw DTypeError', () => {
  for (const { name, op } of UNARY) {
    assert.instance(errorOf(() => op(2 as unknown as Tensor)), DTypeError, name);
    assert.instance(errorOf(() => op(null as unknown as Tensor)), DTypeError, name);
  }
});

test('sigmoid, softplus, silu, gelu, tanh: stable on [−1000, 1000] and at ±700 (no NaN/Inf where the math is finite)', () => {
  const big: ValuesArb = (n) =>
    fc.array(fc.oneof(fc.double({ min: -1000, max: 1000, noNaN: true }), fc.constantFrom(700, -700, 709.5, -745.5, 1000, -1000)), { minLength: n, maxLength: n });
  const ops: [string, (x: Tensor) => Tensor][] = [
    ['sigmoid', sigmoid], ['softplus', softplus], ['silu', silu], ['gelu', (x) => gelu(x)], ['gelu(tanh)', (x) => gelu(x, 'tanh')], ['tanh', tanh],
  ];
  fc.assert(
    fc.property(someShapeArb(3, 4).chain((s) => fc.tuple(fc.constant(s), big(sizeOfShape(s)), dtypeArb)), ([s, v, dtype]) => {
      for (const [name, op] of ops) {
        const x = makeTensor(s, v, dtype, true);
        const out = op(x);
        assert.ok(out.data.every(Number.isFinite), `${name}(${dtype}) forward finite: ${Array.from(out.data)}`);
        out.backward(makeTensor(s, new Array<number>(x.size).fill(1), dtype));
        assert.ok(x.grad!.data.every(Number.isFinite), `${name}(${dtype}) gradient finite: ${Array.from(x.grad!.data)}`);
        if (name === 'sigmoid') assert.ok(out.data.every((y) => y >= 0 && y <= 1), 'sigmoid in [0, 1]');
        if (name === 'softplus') {
          // max(x, 0) ≤ softplus(x) ≤ max(x, 0) + ln 2
          out.data.forEach((y, i) => {
            const m = Math.max(x.data[i]!, 0);
            assert.ok(y >= m && y <= store(m + Math.LN2, dtype) + 1e-6, `softplus(${x.data[i]}) = ${y}`);
          });
        }
      }
    }),
    fcParams(40),
  );
  const x = makeTensor([4], [700, -700, 0, -745], 'float64');
  // σ(−700) = e^{−700}/(1 + e^{−700}) = e^{−700} to double precision; ln(1 + e^{−700}) likewise
  assertClose(sigmoid(x).data, [1, Math.exp(-700), 0.5, Math.exp(-745)], { rtol: 1e-12, atol: 0 }, 'sigmoid at ±700');
  assertClose(softplus(x).data, [700, Math.exp(-700), Math.LN2, Math.exp(-745)], { rtol: 1e-12, atol: 0 }, 'softplus at ±700');
});

// ── GELU ──

/** x·Φ(x) to 50 digits (mpmath: x * ncdf(x), mp.dps = 50), rounded to double. */
const GELU_REFERENCE: [number, number][] = [
  [-5, -1.4332578593959695e-6], [-3, -0.0040496940948902835], [-2, -0.04550026389635842], [-1, -0.15865525393145705],
  [-0.5, -0.15426876936299344], [-0.1, -0.0460172162722971], [0, 0], [0.1, 0.0539827837277029], [0.5, 0.34573123063700656],
  [1, 0.8413447460685429], [1.5, 1.399789198096713], [2, 1.9544997361036416], [3, 2.99595030590511], [5, 4.999998566742141],
];

test("gelu('none'): matches high-precision x·Φ(x) values and Simpson's rule on a grid", () => {
  const x = makeTensor([GELU_REFERENCE.length], GELU_REFERENCE.map(([v]) => v), 'float64');
  assertClose(gelu(x).data, GELU_REFERENCE.map(([, y]) => y), { rtol: 1e-14, atol: 1e-16 }, 'gelu vs mpmath');
  // Simpson with 4000 panels on [0, x], |x| ≤ 6: error ≤ (|x|/180)·h⁴·max|φ⁗| ≈ 2e-13
  const grid = Array.from({ length: 1201 }, (_, i) => -6 + i * 0.01);
  const y = gelu(makeTensor([grid.length], grid, 'float64'));
  assertClose(y.data, grid.map((v) => v * normalCdfSimpson(v, 4000)), { rtol: 0, atol: 1e-12 }, 'gelu vs Simpson');
  // float32: the same values rounded
  const y32 = gelu(makeTensor([GELU_REFERENCE.length], GELU_REFERENCE.map(([v]) => v), 'float32'));
  assertClose(y32.data, GELU_REFERENCE.map(([, v]) => Math.fround(v)), { rtol: F32_RTOL, atol: 1e-12 }, 'gelu float32');
});

test("gelu('tanh') backward (σ(2u) read back as y/x) equals the closed-form derivative, at 0, tiny, large and negative x", () => {
  const xs = [0, 1e-300, -1e-35, 1e-30, -1e-20, 1e-8, -0.3, 0.7, -2.5, 3, -6, 9, -11, 12, -40, 50, -700, 700];
  const derivative = (v: number): number => {
    const u = SQRT_2_OVER_PI * (v + 0.044715 * v ** 3);
    const s = u >= 0 ? 1 / (1 + Math.exp(-2 * u)) : Math.exp(2 * u) / (1 + Math.exp(2 * u));
    return s + 2 * v * s * (1 - s) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v);
  };
  for (const [dtype, tol] of [['float64', { rtol: 1e-12, atol: 1e-300 }], ['float32', { rtol: 2e-6, atol: 1e-30 }]] as const) {
    const x = makeTensor([xs.length], xs, dtype, true);
    gelu(x, 'tanh').backward(makeTensor([xs.length], xs.map(() => 1), dtype));
    assertClose(x.grad!.data, xs.map((v) => derivative(store(v, dtype))), tol, `gelu(tanh) derivative, ${dtype}`);
  }
});

test("gelu('tanh'): within 5e-4 of the erf form and actually different from it; unknown approximation throws ValueError", () => {
  // the tanh approximation's worst error is 4.73e-4 near x = −2.70 (mpmath, step 1e-3 on [−8, 8])
  const grid = Array.from({ length: 1601 }, (_, i) => -8 + i * 0.01);
  const x = makeTensor([grid.length], grid, 'float64');
  const exact = gelu(x, 'none').data;
  const approx = gelu(x, 'tanh').data;
  let worst = 0;
  for (let i = 0; i < grid.length; i++) worst = Math.max(worst, Math.abs(exact[i]! - approx[i]!));
  assert.ok(worst <= 5e-4 && worst >= 4e-4, `max |tanh − erf| = ${worst}`);
  for (const bad of ['sigmoid', 'exact', '']) {
    const e = errorOf(() => gelu(x, bad as 'none'));
    assert.instance(e, ValueError, `gelu approximate='${bad}'`);
    assert.ok((e as ValueError).message.startsWith('gelu: '));
  }
});

// ── clamp ──

test('clamp: equals min(max(x, lo), hi) (one-sided too, NaN propagates); gradient 1 strictly inside, 0 outside; lo > hi throws', () => {
  fc.assert(
    fc.property(
      someShapeArb(5, 4).chain((s) =>
        fc.tuple(fc.constant(s), specialValuesArb(sizeOfShape(s)), dtypeArb, fc.double({ min: -3, max: 3, noNaN: true }), fc.double({ min: 0, max: 3, noNaN: true })),
      ),
      ([s, v, dtype, lo, width]) => {
        const hi = lo + width;
        const x = makeTensor(s, v, dtype);
        const [l, h] = [store(lo, dtype), store(hi, dtype)];
        assertForward(clamp(x, lo, hi), Array.from(x.data, (xi) => Math.min(Math.max(xi, l), h)), F64, `clamp(${lo}, ${hi})`);
        assertForward(clamp(x, lo), Array.from(x.data, (xi) => Math.max(xi, l)), F64, `clamp(${lo})`);
        assertForward(clamp(x, undefined, hi), Array.from(x.data, (xi) => Math.min(xi, h)), F64, `clamp(-, ${hi})`);
        if (hi > lo) {
          const e = errorOf(() => clamp(x, hi, lo));
          assert.instance(e, ValueError, `clamp(${hi}, ${lo})`);
          assert.ok((e as ValueError).message.startsWith('clamp: '));
        }
      },
    ),
    fcParams(40),
  );
  // gradcheck with values on the grid (n + ½)/8, bounds on the grid n/2: at least 1/16 away from either bound
  fc.assert(
    fc.property(
      shapeArb(3, 3, 1).chain((s) => fc.tuple(fc.constant(s), gridArb(sizeOfShape(s), 0.5), fc.integer({ min: -4, max: 4 }), fc.integer({ min: 0, max: 6 }))),
      ([s, v, lo2, w2]) => {
        const [lo, hi] = [lo2 / 2, (lo2 + w2) / 2];
        const e = errorOf(() => gradcheck((p) => clamp(p!, lo, hi), [makeTensor(s, v, 'float64', true)], GRAD));
        if (e !== undefined) assert.unreachable(`clamp(${lo}, ${hi}) ${fmt(s)}: ${String(e)}`);
      },
    ),
    fcParams(30),
  );
});

// ── cast, clone ──

test('cast: converts values and dtype (same dtype keeps values); the gradient comes back in the input dtype', () => {
  fc.assert(
    fc.property(someShapeArb(4, 4).chain((s) => fc.tuple(fc.constant(s), specialValuesArb(sizeOfShape(s)), dtypeArb, dtypeArb, fc.integer())), ([s, v, from, to, seed]) => {
      const x = makeTensor(s, v, from, true);
      const y = cast(x, to);
      assert.is(y.dtype, to);
      assertShape(y.shape, s);
      assertClose(y.data, Array.from(x.data, (xi) => store(xi, to)), { rtol: 0, atol: 0 }, `cast ${from}→${to}`);
      const g = new Generator(seed);
      const seedGrad = makeTensor(s, Array.from({ length: x.size }, () => g.normal()), to);
      y.backward(seedGrad);
      assert.is(x.grad!.dtype, from, 'grad dtype');
      assertClose(x.grad!.data, Array.from(seedGrad.data, (gi) => store(gi, from)), { rtol: 0, atol: 0 }, `cast grad ${to}→${from}`);
    }),
    fcParams(40),
  );
  assert.instance(errorOf(() => cast(makeTensor([1], [1]), 'int32' as DType)), DTypeError);
  assert.instance(errorOf(() => cast(1 as unknown as Tensor, 'float64')), DTypeError);
});

test('clone: same values, shape and dtype in a new buffer (writes do not alias); gradient is the identity', () => {
  fc.assert(
    fc.property(shapeArb(4, 4, 1).chain((s) => fc.tuple(fc.constant(s), anyValues(sizeOfShape(s)), dtypeArb)), ([s, v, dtype]) => {
      const x = makeTensor(s, v, dtype);
      const y = clone(x);
      assert.is(y.dtype, dtype);
      assertShape(y.shape, s);
      assert.equal(Array.from(y.data), Array.from(x.data));
      y.data[0] = 1234;
      assert.is(x.data[0], store(v[0]!, dtype), 'the original is untouched');
      const e = errorOf(() => gradcheck((p) => clone(p!), [makeTensor(s, v, 'float64', true)], GRAD));
      if (e !== undefined) assert.unreachable(String(e));
    }),
    fcParams(30),
  );
});

// ── dropout ──

test('dropout: the same Generator seed gives the same mask; every element is 0 or x/(1−p); gradient is the mask', () => {
  fc.assert(
    fc.property(
      shapeArb(4, 4, 1).chain((s) => fc.tuple(fc.constant(s), awayFromArb(sizeOfShape(s), 0, 0.1, 3), dtypeArb)),
      fc.double({ min: 0.05, max: 0.95, noNaN: true }),
      fc.integer({ min: 0, max: 2 ** 31 }),
      ([s, v, dtype], p, seed) => {
        const x = makeTensor(s, v, dtype, true);
        const a = dropout(x, p, { generator: new Generator(seed) });
        const b = dropout(x, p, { generator: new Generator(seed) });
        assert.equal(Array.from(a.data), Array.from(b.data), 'same seed, same output');
        assertShape(a.shape, s);
        assert.is(a.dtype, dtype);
        const scale = 1 / (1 - p);
        a.data.forEach((y, i) => {
          if (y === 0) return;
          assertClose([y], [x.data[i]! * scale], { rtol: dtype === 'float32' ? 4 * F32_RTOL : 1e-15, atol: 0 }, `kept element ${i} (p=${p})`);
        });
        a.backward(makeTensor(s, new Array<number>(x.size).fill(1), dtype));
        // d out/dx is 0 where dropped and 1/(1−p) where kept
        assertClose(x.grad!.data, Array.from(a.data, (y, i) => y / x.data[i]!), { rtol: dtype === 'float32' ? 4 * F32_RTOL : 1e-15, atol: 0 }, 'gradient = mask');
        const e = errorOf(() => gradcheck((q) => dropout(q!, p, { generator: new Generator(seed) }), [makeTensor(s, v, 'float64', true)], GRAD));
        if (e !== undefined) assert.unreachable(`dropout p=${p}: ${String(e)}`);
      },
    ),
    fcParams(40),
  );
});

test('dropout: on 50 000 ones the fraction of zeros is within 5σ of p and the mean within 5σ of 1; seeds differ → masks differ', () => {
  const n = 50_000;
  const x = makeTensor([n], new Array<number>(n).fill(1), 'float32');
  fc.assert(
    fc.property(fc.double({ min: 0.01, max: 0.95, noNaN: true }), fc.integer({ min: 0, max: 2 ** 31 }), (p, seed) => {
      const y = dropout(x, p, { generator: new Generator(seed) });
      let zeros = 0;
      let sum = 0;
      for (const v of y.data) {
        if (v === 0) zeros++;
        sum += v;
      }
      // zeros ~ Binomial(n, p): sd √(p(1−p)/n) of the fraction; each output has mean 1, variance p/(1−p)
      const fracSd = Math.sqrt((p * (1 - p)) / n);
      assert.ok(Math.abs(zeros / n - p) <= 5 * fracSd, `zero fraction ${zeros / n} vs p=${p} (5σ = ${5 * fracSd})`);
      const meanSd = Math.sqrt(p / (1 - p) / n);
      assert.ok(Math.abs(sum / n - 1) <= 5 * meanSd + 1e-6, `mean ${sum / n} vs 1 (5σ = ${5 * meanSd})`);
      const other = dropout(x, p, { generator: new Generator(seed + 1) });
      assert.ok(other.data.some((v, i) => v !== y.data[i]), 'another seed gives another mask');
    }),
    fcParams(15),
  );
});

test('dropout: training:false and p = 0 are the identity; p outside [0, 1) throws ValueError', () => {
  fc.assert(
    fc.property(
      someShapeArb(4, 4).chain((s) => fc.tuple(fc.constant(s), anyValues(sizeOfShape(s)), dtypeArb)),
      fc.double({ min: 0, max: 0.99, noNaN: true }),
      fc.oneof(fc.double({ max: -Number.MIN_VALUE }), fc.double({ min: 1 }), fc.constantFrom(1, -0.5, Number.NaN, Number.POSITIVE_INFINITY)),
      ([s, v, dtype], p, badP) => {
        const x = makeTensor(s, v, dtype);
        assert.equal(Array.from(dropout(x, p, { generator: new Generator(1), training: false }).data), Array.from(x.data), 'training: false');
        assert.equal(Array.from(dropout(x, 0, { generator: new Generator(1) }).data), Array.from(x.data), 'p = 0');
        const e = errorOf(() => dropout(x, badP, { generator: new Generator(1) }));
        assert.instance(e, ValueError, `p=${badP}`);
        assert.ok((e as ValueError).message.startsWith('dropout: '));
      },
    ),
    fcParams(40),
  );
});

// ── Tensor methods ──

test('Tensor methods are the functions', () => {
  fc.assert(
    fc.property(pairArb(3, 3, anyValues), ({ sa, sb, va, vb, da, db }) => {
      const a = makeTensor(sa, va, da);
      const b = makeTensor(sb, vb, db);
      const pairs: [string, Tensor, Tensor][] = [
        ['add', a.add(b), add(a, b)], ['sub', a.sub(b), sub(a, b)], ['mul', a.mul(b), mul(a, b)], ['div', a.div(b), div(a, b)],
        ['pow', a.pow(b), pow(a, b)], ['maximum', a.maximum(b), maximum(a, b)], ['minimum', a.minimum(b), minimum(a, b)],
        ['eq', a.eq(b), eq(a, b)], ['ne', a.ne(b), ne(a, b)], ['lt', a.lt(b), lt(a, b)], ['le', a.le(b), le(a, b)],
        ['gt', a.gt(b), gt(a, b)], ['ge', a.ge(b), ge(a, b)],
        ['exp', a.exp(), exp(a)], ['gelu', a.gelu('tanh'), gelu(a, 'tanh')], ['clamp', a.clamp(-1, 1), clamp(a, -1, 1)],
        ['square', a.square(), square(a)], ['cast', a.cast('float64'), cast(a, 'float64')],
      ];
      for (const [name, m, f] of pairs) {
        assertShape(m.shape, f.shape, name);
        assert.equal(Array.from(m.data), Array.from(f.data), name);
      }
    }),
    fcParams(20),
  );
});

test.run();
