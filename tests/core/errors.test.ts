/**
 * The typed errors of core/errors.ts and the shape helpers of core/shape.ts that raise them: class, name, op, arg,
 * the builtin each extends, and the one message format `op: what is wrong — arg=[shape] (rule)`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  AxisError, DTypeError, Generator, GradcheckError, IndexError, MAX_TENSOR_ELEMENTS, ShapeError, Tensor, ValueError,
  add, asPartOf, broadcastShapes, defaultGenerator, expectPositions, expectRequiredOptions, expectShape, expectSize, fmtShape,
  optionalDType, optionalGenerator, sizeOf, stridesOf, tensor, zeros,
} from '../../core/index.js';
import { broadcastStrides, broadcastsTo, normAxes, normAxis } from '../../core/shape.js';
import { broadcastablePairArb, fcParams, nonBroadcastablePairArb, shapeArb } from '../helpers/fc.js';
import { naiveBroadcastShape, ravel, sizeOfShape, unravel } from '../helpers/oracle.js';

type ErrorCtor = new (op: string, message: string, arg?: string) => Error & { op: string; arg?: string };
const classes: [string, ErrorCtor, ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor][] = [
  ['ShapeError', ShapeError, RangeError],
  ['AxisError', AxisError, RangeError],
  ['IndexError', IndexError, RangeError],
  ['ValueError', ValueError, RangeError],
  ['DTypeError', DTypeError, TypeError],
];

const word = fc.stringMatching(/^[a-z][a-zA-Z0-9]{0,10}$/);

test('each error class has its name, op, arg, builtin parent, and a message that starts with `op: `', () => {
  for (const [name, Ctor, Builtin] of classes) {
    fc.assert(
      fc.property(word, fc.string(), fc.option(word, { nil: undefined }), (op, what, arg) => {
        const e = new Ctor(op, what, arg);
        assert.ok(e instanceof Ctor, `${name} instanceof itself`);
        assert.ok(e instanceof Builtin, `${name} instanceof ${Builtin.name}`);
        assert.ok(e instanceof Error);
        assert.is(e.name, name);
        assert.is(e.op, op);
        assert.is(e.message, `${op}: ${what}`);
        assert.is(e.arg, arg);
        assert.ok(String(e).startsWith(`${name}: ${op}: `), String(e));
        assert.ok(String(e.stack).startsWith(`${name}: ${op}: `), 'stack header names the class');
      }),
      fcParams(30),
    );
  }
  // the classes are distinct: one is never an instance of another
  for (const [a, A] of classes) for (const [b, B] of classes) if (a !== b) assert.not.ok(new A('op', 'm') instanceof B, `${a} is not a ${b}`);
});

test('GradcheckError: op gradcheck, the failing input/output/element as fields, an Error but no RangeError/TypeError', () => {
  fc.assert(
    fc.property(fc.string(), fc.nat(9), fc.nat(9), fc.nat(99), (what, inputIndex, outputIndex, element) => {
      const e = new GradcheckError(what, { inputIndex, outputIndex, element });
      assert.is(e.name, 'GradcheckError');
      assert.is(e.op, 'gradcheck');
      assert.is(e.message, `gradcheck: ${what}`);
      assert.equal([e.inputIndex, e.outputIndex, e.element], [inputIndex, outputIndex, element]);
      assert.ok(e instanceof Error);
      assert.not.ok(e instanceof RangeError);
      assert.not.ok(e instanceof TypeError);
    }),
    fcParams(30),
  );
});

// ── shape.ts ──

test('fmtShape/sizeOf/stridesOf agree with the row-major definitions', () => {
  fc.assert(
    fc.property(shapeArb(5, 4), (shape) => {
      assert.is(fmtShape(shape), `[${shape.join(',')}]`);
      assert.is(sizeOf(shape), sizeOfShape(shape));
      const strides = stridesOf(shape);
      // the flat offset of every multi-index is Σ idx·stride, and equals the naive ravel
      for (let i = 0; i < sizeOfShape(shape); i++) {
        const idx = unravel(i, shape);
        assert.is(idx.reduce((p, v, d) => p + v * strides[d]!, 0), ravel(idx, shape));
      }
    }),
    fcParams(60),
  );
});

test('broadcastShapes equals the naive NumPy rule on broadcastable pairs (both orders); broadcastsTo agrees', () => {
  fc.assert(
    fc.property(broadcastablePairArb(5, 4), ([a, b]) => {
      const expected = naiveBroadcastShape(a, b)!;
      assert.equal(broadcastShapes(a, b), expected);
      assert.equal(broadcastShapes(b, a), expected);
      assert.ok(broadcastsTo(a, expected) && broadcastsTo(b, expected));
      // broadcastStrides: reading through them visits the element broadcastRead would
      const s = broadcastStrides(a, expected);
      for (let i = 0; i < sizeOfShape(expected); i++) {
        const idx = unravel(i, expected);
        const off = idx.length - a.length;
        const own = a.map((d, k) => (d === 1 ? 0 : idx[k + off]!));
        assert.is(idx.reduce((p, v, d) => p + v * s[d]!, 0), ravel(own, a));
      }
    }),
    fcParams(80),
  );
});

test('broadcastShapes on non-broadcastable pairs: ShapeError in the documented format naming the first bad dim from the right', () => {
  fc.assert(
    fc.property(nonBroadcastablePairArb(4, 4), word, ([a, b], op) => {
      assert.is(naiveBroadcastShape(a, b), null);
      assert.not.ok(broadcastsTo(a, b) || broadcastsTo(b, a));
      // the first aligned dim from the right whose sizes differ and are both ≠ 1
      let dim = 1;
      while (dim <= Math.min(a.length, b.length)) {
        const da = a[a.length - dim]!;
        const db = b[b.length - dim]!;
        if (da !== db && da !== 1 && db !== 1) break;
        dim++;
      }
      const da = a[a.length - dim]!;
      const db = b[b.length - dim]!;
      const expected = `${op}: cannot broadcast a=${fmtShape(a)} with b=${fmtShape(b)} — dim -${dim} is ${da} vs ${db} (sizes must match or be 1)`;
      assert.throws(() => broadcastShapes(a, b, op), (e: unknown) => e instanceof ShapeError && e.op === op && e.message === expected);
    }),
    fcParams(60),
  );
});

test('the issue\'s example message, raised by add itself', () => {
  const a = zeros([2, 3]);
  const b = zeros([4, 3]);
  assert.throws(
    () => add(a, b),
    (e: unknown) => e instanceof ShapeError && e.message === 'add: cannot broadcast a=[2,3] with b=[4,3] — dim -2 is 2 vs 4 (sizes must match or be 1)',
  );
});

test('normAxis: accepts -ndim..ndim-1 and maps negatives; AxisError naming the valid range otherwise', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 5 }), fc.integer({ min: -8, max: 8 }), (ndim, axis) => {
      if (axis >= -ndim && axis < ndim) {
        assert.is(normAxis(axis, ndim, 'op'), axis < 0 ? axis + ndim : axis);
      } else {
        const valid = ndim === 0 ? 'none: x is a scalar' : `valid: ${-ndim}..${ndim - 1}`;
        assert.throws(
          () => normAxis(axis, ndim, 'sum', 'axis'),
          (e: unknown) => e instanceof AxisError && e.op === 'sum' && e.arg === 'axis' && e.message.startsWith('sum: ') && e.message.includes(valid),
        );
      }
    }),
    fcParams(80),
  );
  assert.throws(() => normAxis(0.5, 3, 'op'), (e: unknown) => e instanceof AxisError);
});

test('normAxes: sorted, all axes for undefined, AxisError on a repeat', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5 }).chain((n) => fc.tuple(fc.constant(n), fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { maxLength: n }), fc.array(fc.boolean(), { minLength: n, maxLength: n }))), ([n, axes, neg]) => {
      const given = axes.map((a, i) => (neg[i] ? a - n : a));
      assert.equal(normAxes(given, n, 'op'), [...axes].sort((x, y) => x - y));
      assert.equal(normAxes(undefined, n, 'op'), Array.from({ length: n }, (_, i) => i));
      if (axes.length > 0) {
        const repeated = [...given, axes[0]!];
        assert.throws(() => normAxes(repeated, n, 'mean'), (e: unknown) => e instanceof AxisError && e.message.startsWith('mean: ') && e.message.includes('repeated'));
      }
    }),
    fcParams(60),
  );
});

test('expectShape and factories reject non-integer and negative sizes with ShapeError naming the shape', () => {
  for (const bad of [[2, -1], [1.5], [Number.NaN], [2, Infinity]]) {
    assert.throws(() => expectShape('zeros', 'shape', bad), (e: unknown) => e instanceof ShapeError && e.arg === 'shape' && e.message.startsWith('zeros: ') && e.message.includes(fmtShape(bad)));
    assert.throws(() => zeros(bad), (e: unknown) => e instanceof ShapeError && e.op === 'zeros');
  }
  assert.throws(() => tensor([1, 2, 3], [2, 2]), (e: unknown) => e instanceof ShapeError && e.op === 'tensor' && e.arg === 'shape' && e.message.includes('[2,2]'));
});

test('asPartOf re-prefixes a typed error with the call the user made, keeps its class and arg, and passes other errors through', () => {
  const inner = () => add(zeros([2]), zeros([3]));
  assert.throws(
    () => asPartOf('Layer.forward', inner),
    (e: unknown) => e instanceof ShapeError && e.message.startsWith('Layer.forward: add: cannot broadcast') && e.op === 'Layer.forward',
  );
  const plain = new Error('not ours');
  assert.throws(() => asPartOf('Layer.forward', () => { throw plain; }), (e: unknown) => e === plain);
  assert.is(asPartOf('Layer.forward', () => 7), 7);
  assert.throws(() => asPartOf('', () => 1), (e: unknown) => e instanceof DTypeError && e.message.startsWith('asPartOf: op'));
  assert.throws(() => asPartOf('x', null as unknown as () => number), (e: unknown) => e instanceof DTypeError && e.message.startsWith('asPartOf: call'));
});

// ── the argument checks nn/ and positional/ share (core/args.ts): one copy each ──

/** `call` throws a `Ctor` for `arg` whose message is exactly `Op: ${rest}`. */
function refusedWith(call: () => unknown, Ctor: ErrorCtor, arg: string, rest: string): void {
  assert.throws(call, (e: unknown) => {
    if (!(e instanceof Ctor)) throw new Error(`expected ${Ctor.name}, got ${String(e)}`);
    assert.is(e.message, `Op: ${rest}`);
    assert.is(e.op, 'Op');
    assert.is(e.arg, arg);
    return true;
  });
}

test('expectPositions: a Tensor with a sequence axis of finite values; refuses a non-Tensor, a 0-d tensor, NaN/±∞', () => {
  const p = tensor([0, 1, 2]);
  assert.not.throws(() => expectPositions('Op', 'positions', p));
  assert.not.throws(() => expectPositions('Op', 'positions', zeros([2, 3])));
  refusedWith(() => expectPositions('Op', 'positions', [0, 1, 2]), DTypeError, 'positions', 'positions must be a Tensor, got an array of length 3');
  refusedWith(() => expectPositions('Op', 'positions', null), DTypeError, 'positions', 'positions must be a Tensor, got null');
  refusedWith(() => expectPositions('Op', 'positions', new Tensor(new Float64Array([4]), [])), ShapeError, 'positions', 'positions=[] must have a sequence axis ([T] or [B, T])');
  refusedWith(() => expectPositions('Op', 'qPositions', tensor([0, Number.NaN])), ValueError, 'qPositions', 'qPositions must hold finite numbers, got NaN at flat index 1');
  refusedWith(() => expectPositions('Op', 'positions', tensor([[0, 1], [2, -Infinity]])), ValueError, 'positions', 'positions must hold finite numbers, got -Infinity at flat index 3');
});

test('expectRequiredOptions: a given options object of known keys; refuses undefined, null, a number, an array (naming what it needs) and unknown keys', () => {
  const o = { a: 1 };
  assert.is(expectRequiredOptions('Op', o, ['a', 'b'], 'with a'), o);
  for (const [bad, shown] of [[undefined, 'undefined'], [null, 'null'], [5, '5'], [[1], 'an array of length 1']] as const) {
    refusedWith(() => expectRequiredOptions('Op', bad as never, ['a'], 'with a'), DTypeError, 'options', `options must be an options object with a, got ${shown}`);
  }
  refusedWith(() => expectRequiredOptions('Op', undefined as never, ['a'], 'with a and b', 'spec'), DTypeError, 'spec', 'spec must be an options object with a and b, got undefined');
  refusedWith(() => expectRequiredOptions('Op', { a: 1, c: 2 } as never, ['a', 'b'], 'with a'), ValueError, 'options.c', "options has an unknown option 'c' (known: a, b)");
  refusedWith(() => expectRequiredOptions('Op', zeros([2]) as never, ['a'], 'with a'), DTypeError, 'options', 'options must be an options object, got Tensor [2] float32');
});

test('optionalDType: float32 or float64, undefined gives the fallback (undefined without one); anything else is refused', () => {
  assert.is(optionalDType('Op', 'dtype', 'float64'), 'float64');
  assert.is(optionalDType('Op', 'dtype', 'float32', 'float64'), 'float32');
  assert.is(optionalDType('Op', 'dtype', undefined), undefined);
  assert.is(optionalDType('Op', 'dtype', undefined, 'float32'), 'float32');
  refusedWith(() => optionalDType('Op', 'dtype', 'float16'), ValueError, 'dtype', "dtype must be one of 'float32', 'float64', got 'float16'");
  refusedWith(() => optionalDType('Op', 'options.dtype', null, 'float32'), ValueError, 'options.dtype', "options.dtype must be one of 'float32', 'float64', got null");
});

test('optionalGenerator: a Generator, undefined gives fallback() (undefined without one); null, numbers and plain objects are refused', () => {
  const g = new Generator(3);
  let calls = 0;
  const fallback = () => (calls++, new Generator(9));
  assert.is(optionalGenerator('Op', 'generator', g), g);
  assert.is(optionalGenerator('Op', 'generator', g, fallback), g);
  assert.is(calls, 0, 'the fallback is not called when a generator is given');
  assert.is(optionalGenerator('Op', 'generator', undefined), undefined);
  assert.ok(optionalGenerator('Op', 'generator', undefined, fallback) instanceof Generator);
  assert.is(calls, 1);
  assert.is(optionalGenerator('Op', 'generator', undefined, defaultGenerator), defaultGenerator());
  refusedWith(() => optionalGenerator('Op', 'generator', 42, fallback), DTypeError, 'generator', 'generator must be a Generator, got 42');
  refusedWith(() => optionalGenerator('Op', 'generator', null), DTypeError, 'generator', 'generator must be a Generator, got null');
  refusedWith(() => optionalGenerator('Op', 'spec.generator', { seed: 1 }), DTypeError, 'spec.generator', 'spec.generator must be a Generator, got an object (Object)');
});

test('expectSize: an integer ≥ min (1 unless given) that one tensor can hold; refuses other types, fractions, NaN, below min, too large', () => {
  assert.is(expectSize('Op', 'n', 3), 3);
  assert.is(expectSize('Op', 'n', 1), 1);
  assert.is(expectSize('Op', 'n', 0, 0), 0);
  assert.is(expectSize('Op', 'n', MAX_TENSOR_ELEMENTS), MAX_TENSOR_ELEMENTS);
  refusedWith(() => expectSize('Op', 'n', '3'), DTypeError, 'n', "n must be an integer ≥ 1, got a string '3'");
  refusedWith(() => expectSize('Op', 'n', 0), ValueError, 'n', 'n must be an integer ≥ 1, got 0');
  refusedWith(() => expectSize('Op', 'n', 2.5), ValueError, 'n', 'n must be an integer ≥ 1, got 2.5');
  refusedWith(() => expectSize('Op', 'n', Number.NaN), ValueError, 'n', 'n must be an integer ≥ 1, got NaN');
  refusedWith(() => expectSize('Op', 'window', -1, 0), ValueError, 'window', 'window must be an integer ≥ 0, got -1');
  refusedWith(() => expectSize('Op', 'n', 2 ** 40), ValueError, 'n', 'n needs 1099511627776 elements, more than one tensor can hold (at most 2³¹ − 1)');
});

test.run();
