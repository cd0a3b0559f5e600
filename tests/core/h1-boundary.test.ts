/**
 * Issue #10, the core boundary: every factory, movement, indexing and linalg function, the optimizers, Module and
 * gradcheck refuse a bad argument (null, a string, NaN/±∞, a bad shape, a bad options object, an oversized
 * allocation) at the call the user made, with one of ropelab's typed errors whose message starts with that
 * function's name and whose `arg` names the argument — never a JS engine TypeError/RangeError, NaNs, or a half-done
 * write. Also: optimizer steps and loadStateDict bump the version of every parameter they write.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertRefused } from '../helpers/refusal.js';
import {
  Adam, AdamW, AxisError, DTypeError, Generator, IndexError, Module, Parameter, SGD, ShapeError, Tensor, ValueError, arange,
  clipGradNorm, concat, expand, eye, flatten, flip, fromArray, full, gather, gradcheck, indexSelect, linspace, mul,
  narrow, ones, onesLike, pad, permute, rand, randint, randn, reshape, scatterAdd, slice, split, squeeze, stack, sum,
  symmetricEigenvalues, tensor, transpose, tril, triu, unsqueeze, warmupCosineLr, zeros, zerosLike,
} from '../../core/index.js';
import { allocate } from '../../core/dtype.js';

type ErrorClass = abstract new (...args: never[]) => Error;

/** `make()` is refused with `Err` named `op` (and `arg`, when given). */
const refuses = (make: () => unknown, Err: ErrorClass, op: string, arg?: string, label?: string): void =>
  assertRefused(make, Err, op, { ...(arg === undefined ? {} : { arg }), ...(label === undefined ? {} : { label }) });

const f32 = (values: number[], shape = [values.length]): Tensor => tensor(values, shape);
const f64 = (values: number[], shape = [values.length]): Tensor => tensor(values, shape, { dtype: 'float64' });
const any = <T>(x: unknown): T => x as T;

// ── factories ──

test('tensor: strings, mixed arrays, holes, ragged arrays, Tensors and bad shape/options arguments are refused', () => {
  refuses(() => tensor(any('abc')), DTypeError, 'tensor', 'values', "tensor('abc')");
  refuses(() => tensor(any(null)), DTypeError, 'tensor', 'values', 'tensor(null)');
  refuses(() => tensor(any({ length: 2 })), DTypeError, 'tensor', 'values', 'tensor(array-like object)');
  refuses(() => tensor(any(new BigInt64Array(2))), DTypeError, 'tensor', 'values', 'tensor(BigInt64Array)');
  refuses(() => tensor(any(f32([1, 2]))), DTypeError, 'tensor', 'values', 'tensor(Tensor)');
  refuses(() => tensor(any([1, 'a'])), DTypeError, 'tensor', 'values', "tensor([1, 'a'])");
  refuses(() => tensor(any([[1, 2], [3, null]])), DTypeError, 'tensor', 'values', 'tensor([[1,2],[3,null]])');
  // eslint-disable-next-line no-sparse-arrays
  refuses(() => tensor(any([1, , 3])), DTypeError, 'tensor', 'values', 'tensor([1, , 3])');
  refuses(() => tensor([[1, 2], [3]]), ShapeError, 'tensor', 'values', 'ragged rows');
  refuses(() => tensor([[1, 2], 3]), ShapeError, 'tensor', 'values', 'a number among rows');
  refuses(() => tensor([1, [2, 3]]), ShapeError, 'tensor', 'values', 'a row among numbers');
  refuses(() => tensor([1, 2], any(null)), DTypeError, 'tensor', 'shape', 'tensor(v, null)');
  refuses(() => tensor([1, 2], any(2)), DTypeError, 'tensor', 'shape', 'tensor(v, 2)');
  refuses(() => tensor([1, 2], { dtype: 'float64' }, {}), DTypeError, 'tensor', 'shape', 'options twice');
  refuses(() => tensor([1, 2], [2], any(5)), DTypeError, 'tensor', 'options', 'tensor(v, shape, 5)');
  refuses(() => tensor([1, 2], [2], any({ dtyp: 'float64' })), ValueError, 'tensor', 'options.dtyp', 'misspelt option');
  refuses(() => tensor([1, 2], [2], any({ requiresGrad: 'yes' })), DTypeError, 'tensor', 'options.requiresGrad');
  // NaN and ±∞ are data, not errors
  assert.ok(Number.isNaN(tensor(Number.NaN).item()));
  assert.equal(Array.from(tensor([Infinity, -Infinity]).data), [Infinity, -Infinity]);
  assert.equal(tensor(Int32Array.from([1, -2])).toArray(), [1, -2]);
});

test('every factory refuses negative and fractional sizes even when the product matches, and oversized shapes', () => {
  const bad = [[-1, -2], [0.5, 4], [2, Number.NaN], any<number[]>(['2'])];
  for (const shape of bad) {
    const label = `[${shape.map(String)}]`;
    refuses(() => tensor([1, 2], shape), ShapeError, 'tensor', 'shape', `tensor ${label}`);
    refuses(() => fromArray(new Float32Array(2), shape), ShapeError, 'fromArray', 'shape', `fromArray ${label}`);
    refuses(() => zeros(shape), ShapeError, 'zeros', 'shape', `zeros ${label}`);
    refuses(() => ones(shape), ShapeError, 'ones', 'shape', `ones ${label}`);
    refuses(() => full(shape, 3), ShapeError, 'full', 'shape', `full ${label}`);
    refuses(() => rand(shape), ShapeError, 'rand', 'shape', `rand ${label}`);
    refuses(() => randn(shape), ShapeError, 'randn', 'shape', `randn ${label}`);
    refuses(() => randint(0, 3, shape), ShapeError, 'randint', 'shape', `randint ${label}`);
  }
  for (const shape of [null, 3, 'abc']) refuses(() => zeros(any(shape)), DTypeError, 'zeros', 'shape', `zeros(${String(shape)})`);
  // more elements than one typed array holds: a ValueError from the factory, not the engine's RangeError
  refuses(() => zeros([2 ** 20, 2 ** 20]), ValueError, 'zeros', 'shape');
  refuses(() => ones([2 ** 16, 2 ** 16]), ValueError, 'ones', 'shape');
  refuses(() => full([2 ** 31], 1), ValueError, 'full', 'shape');
  refuses(() => randn([2 ** 16, 2 ** 16]), ValueError, 'randn', 'shape');
  refuses(() => arange(0, 1e12), ValueError, 'arange', 'end');
  refuses(() => arange(0, 1, 1e-12), ValueError, 'arange', 'end');
  refuses(() => linspace(0, 1, 2 ** 32), ValueError, 'linspace', 'steps');
  refuses(() => eye(2 ** 17), ValueError, 'eye', 'n');
  // an empty tensor with a huge axis holds 0 elements: valid, as in NumPy
  assert.equal([...zeros([2 ** 40, 0]).shape], [2 ** 40, 0]);
  assert.equal([...tensor([], [0, 2 ** 40]).shape], [0, 2 ** 40]);
});

test('fromArray: only Float32Array/Float64Array, options checked', () => {
  refuses(() => fromArray(any(Int32Array.from([1, 2])), [2]), DTypeError, 'fromArray', 'data');
  refuses(() => fromArray(any([1, 2]), [2]), DTypeError, 'fromArray', 'data');
  refuses(() => fromArray(any(null), [2]), DTypeError, 'fromArray', 'data');
  refuses(() => fromArray(new Float32Array(3), [2]), ShapeError, 'fromArray', 'shape');
  refuses(() => fromArray(new Float32Array(2), [2], any(null)), DTypeError, 'fromArray', 'options');
  refuses(() => fromArray(new Float32Array(2), [2], any({ requiresGrad: 1 })), DTypeError, 'fromArray', 'options.requiresGrad');
  const data = new Float64Array([1, 2]);
  const t = fromArray(data, [2, 1]);
  assert.ok(t.data === data && t.dtype === 'float64');
});

test('random factories: NaN/∞/negative std, reversed or NaN bounds, bad randint bounds and non-Generator generators', () => {
  for (const std of [Number.NaN, -1, Infinity]) refuses(() => randn([2], { std }), ValueError, 'randn', 'options.std', `std ${std}`);
  refuses(() => randn([2], any({ std: '1' })), DTypeError, 'randn', 'options.std');
  refuses(() => randn([2], { mean: Number.NaN }), ValueError, 'randn', 'options.mean');
  refuses(() => rand([2], { low: 1, high: 0 }), ValueError, 'rand', 'options.high');
  refuses(() => rand([2], { low: Number.NaN }), ValueError, 'rand', 'options.low');
  refuses(() => rand([2], { high: Infinity }), ValueError, 'rand', 'options.high');
  refuses(() => rand([2], { low: -1.5e308, high: 1.5e308 }), ValueError, 'rand', 'options.high', 'width overflows');
  refuses(() => randint(Number.NaN, 3, [2]), ValueError, 'randint', 'low');
  refuses(() => randint(0, any('3'), [2]), DTypeError, 'randint', 'high');
  refuses(() => randint(0, 2 ** 60, [2]), ValueError, 'randint', 'high');
  refuses(() => randint(-(2 ** 52), 2 ** 52, [2]), ValueError, 'randint', 'high', 'width ≥ 2⁵³');
  for (const [op, make] of [
    ['rand', (o: unknown) => rand([2], any(o))],
    ['randn', (o: unknown) => randn([2], any(o))],
    ['randint', (o: unknown) => randint(0, 3, [2], any(o))],
  ] as const) {
    refuses(() => make({ generator: 7 }), DTypeError, op, 'options.generator');
    refuses(() => make({ generator: { random: () => 0.5 } }), DTypeError, op, 'options.generator');
    refuses(() => make(null), DTypeError, op, 'options');
    refuses(() => make(0.5), DTypeError, op, 'options');
    refuses(() => make({ seed: 3 }), ValueError, op, 'options.seed');
  }
  // valid edge cases still work: low = high gives that constant; std 0 gives the mean
  assert.equal(Array.from(rand([3], { low: 2, high: 2 }).data), [2, 2, 2]);
  assert.equal(Array.from(randn([2], { mean: 5, std: 0, generator: new Generator(1) }).data), [5, 5]);
});

test('arange, linspace, eye, full, zerosLike: non-finite, wrong-typed and out-of-range arguments', () => {
  for (const [args, arg] of [
    [[Number.NaN], 'start'], [[0, Number.NaN], 'end'], [[0, Infinity], 'end'], [[0, 3, Number.NaN], 'step'],
    [[0, 3, Infinity], 'step'], [[0, 3, 0], 'step'], [[0, 3, -1], 'step'],
  ] as const) refuses(() => arange(...(args as unknown as [number, number?, number?])), ValueError, 'arange', arg, `arange(${args.join(', ')})`);
  refuses(() => arange(any(null)), DTypeError, 'arange', 'start');
  refuses(() => arange(0, any('5')), DTypeError, 'arange', 'end');
  refuses(() => arange(0, 3, 1, any(null)), DTypeError, 'arange', 'options');
  refuses(() => linspace(0, Number.NaN, 3), ValueError, 'linspace', 'end');
  refuses(() => linspace(Infinity, 1, 3), ValueError, 'linspace', 'start');
  refuses(() => linspace(0, 1, any('3')), DTypeError, 'linspace', 'steps');
  refuses(() => linspace(0, 1, 1.5), ValueError, 'linspace', 'steps');
  for (const n of [-1, 1.5, Number.NaN, Infinity]) refuses(() => eye(n), ShapeError, 'eye', 'n', `eye(${n})`);
  refuses(() => eye(2, -1), ShapeError, 'eye', 'm');
  refuses(() => eye(any('2')), DTypeError, 'eye', 'n');
  refuses(() => eye(2, any({ dtype: 'float64' })), DTypeError, 'eye', 'm');
  refuses(() => full([2], any('1')), DTypeError, 'full', 'value');
  refuses(() => full([2], any(null)), DTypeError, 'full', 'value');
  refuses(() => zerosLike(any(null)), DTypeError, 'zerosLike', 'x');
  refuses(() => onesLike(any([1, 2])), DTypeError, 'onesLike', 'x');
  refuses(() => zerosLike(f32([1]), any(3)), DTypeError, 'zerosLike', 'options');
  for (const dtype of ['float16', 'int32', 'Float32', 3, null]) {
    refuses(() => zeros([2], { dtype: any(dtype) }), DTypeError, 'zeros', 'dtype', `dtype ${String(dtype)}`);
    refuses(() => linspace(0, 1, 2, { dtype: any(dtype) }), DTypeError, 'linspace', 'dtype', `linspace dtype ${String(dtype)}`);
  }
  // valid: full with NaN/−∞ is data; linspace with endpoints near ±max does not overflow to NaN
  assert.equal(Array.from(full([2], -Infinity).data), [-Infinity, -Infinity]);
  assert.equal(Array.from(linspace(-1e308, 1e308, 3, { dtype: 'float64' }).data), [-1e308, 0, 1e308]);
  const wide = linspace(-1.5e308, 1.5e308, 21, { dtype: 'float64' }).data;
  assert.ok(wide.every(Number.isFinite) && wide[10] === 0, `wide linspace ${Array.from(wide)}`);
});

test('allocate refuses lengths that are negative, fractional or larger than one tensor, naming the op that asked', () => {
  refuses(() => allocate('float32', 2 ** 32, 'matmul', 'out'), ValueError, 'matmul', 'out');
  refuses(() => allocate('float64', -1, 'softmax', 'x'), ValueError, 'softmax', 'x');
  refuses(() => allocate('float32', 1.5), ValueError, 'allocate', 'length');
  refuses(() => allocate('float32', Number.NaN), ValueError, 'allocate', 'length');
  assert.is(allocate('float64', 3).length, 3);
  assert.is(allocate('float32', 0).length, 0);
});

// ── movement and indexing ──

test('movement ops: null, non-Tensor, non-array, non-number and NaN arguments → typed errors from the op called', () => {
  const x = f32([1, 2, 3, 4, 5, 6], [2, 3]);
  const cases: [string, string, ErrorClass, () => unknown][] = [
    ['reshape', 'x', DTypeError, () => reshape(any(null), [6])],
    ['reshape', 'shape', DTypeError, () => reshape(x, any(null))],
    ['reshape', 'shape', DTypeError, () => reshape(x, any(6))],
    ['reshape', 'shape', ShapeError, () => reshape(x, any(['6']))],
    ['flatten', 'startAxis', DTypeError, () => flatten(x, any(null))],
    ['flatten', 'endAxis', AxisError, () => flatten(x, 0, Number.NaN)],
    ['permute', 'x', DTypeError, () => permute(any([[1]]), [0, 1])],
    ['permute', 'dims', DTypeError, () => permute(x, any(null))],
    ['permute', 'dims', DTypeError, () => permute(x, any([0, '1']))],
    ['transpose', 'a', DTypeError, () => transpose(x, any(null), 0)],
    ['transpose', 'b', AxisError, () => transpose(x, 0, Number.NaN)],
    ['expand', 'shape', DTypeError, () => expand(x, any(null))],
    ['expand', 'shape', ShapeError, () => expand(x, any([2, Number.NaN]))],
    ['expand', 'shape', ValueError, () => expand(ones([1, 1]), [2 ** 20, 2 ** 20])],
    ['squeeze', 'axis', DTypeError, () => squeeze(x, any('0'))],
    ['squeeze', 'axis', DTypeError, () => squeeze(x, any(null))],
    ['unsqueeze', 'axis', DTypeError, () => unsqueeze(x, any(undefined))],
    ['slice', 'x', DTypeError, () => slice(any(undefined), [])],
    ['slice', 'ranges', DTypeError, () => slice(x, any(null))],
    ['slice', 'ranges', DTypeError, () => slice(x, any([1]))],
    ['slice', 'ranges', DTypeError, () => slice(x, any([['0', 1]]))],
    ['slice', 'ranges', DTypeError, () => slice(x, any([[0, 1, 1, 1]]))],
    ['slice', 'ranges', ValueError, () => slice(x, [[Number.NaN, 1]])],
    ['narrow', 'start', DTypeError, () => narrow(x, 0, any(null), 1)],
    ['narrow', 'length', DTypeError, () => narrow(x, 0, 0, any('1'))],
    ['narrow', 'start', ShapeError, () => narrow(x, 0, Number.NaN, 1)],
    ['flip', 'axis', DTypeError, () => flip(x, any(null))],
    ['tril', 'k', DTypeError, () => tril(x, any(null))],
    ['triu', 'k', ValueError, () => triu(x, Number.NaN)],
    ['tril', 'x', DTypeError, () => tril(any('x'))],
    ['pad', 'pads', DTypeError, () => pad(x, any(null))],
    ['pad', 'pads', DTypeError, () => pad(x, any([null]))],
    ['pad', 'pads', DTypeError, () => pad(x, any([[1]]))],
    ['pad', 'pads', ValueError, () => pad(x, [[0, Number.NaN]])],
    ['pad', 'pads', ValueError, () => pad(x, [[0, 2 ** 31]])],
    ['pad', 'value', DTypeError, () => pad(x, [[1, 1]], any('0'))],
    ['split', 'sizes', DTypeError, () => split(x, any(null))],
    ['split', 'sizes', DTypeError, () => split(x, any('1'))],
    ['split', 'sizes', ValueError, () => split(x, Number.NaN)],
    ['split', 'axis', DTypeError, () => split(x, 1, any(null))],
    ['concat', 'xs', DTypeError, () => concat(any(null))],
    ['concat', 'xs', DTypeError, () => concat(any(x))],
    ['concat', 'xs[1]', DTypeError, () => concat([x, any(null)])],
    ['concat', 'axis', DTypeError, () => concat([x, x], any('0'))],
    ['stack', 'xs', DTypeError, () => stack(any(undefined))],
    ['stack', 'xs[0]', DTypeError, () => stack([any(1)])],
  ];
  for (const [op, arg, Err, make] of cases) refuses(make, Err, op, arg);
  // valid calls are unchanged
  assert.equal(pad(f32([1]), [[1, 0]], -Infinity).toArray(), [-Infinity, 1]);
  assert.equal(slice(x, [null, [1, 3]]).toArray(), [[2, 3], [5, 6]]);
});

test('gather, indexSelect, scatterAdd: null tensors, non-array indices and non-number index entries', () => {
  const x = f32([1, 2, 3, 4], [2, 2]);
  const cases: [string, string, ErrorClass, () => unknown][] = [
    ['gather', 'x', DTypeError, () => gather(any(null), 0, [0])],
    ['gather', 'axis', DTypeError, () => gather(x, any(null), [[0]] as never)],
    ['gather', 'index', DTypeError, () => gather(x, 0, any(null))],
    ['gather', 'index', DTypeError, () => gather(x, 0, any('01'))],
    ['indexSelect', 'x', DTypeError, () => indexSelect(any(undefined), 0, [0])],
    ['indexSelect', 'index', DTypeError, () => indexSelect(x, 0, any(['0']))],
    ['indexSelect', 'index', IndexError, () => indexSelect(x, 0, [Number.NaN])],
    ['scatterAdd', 'x', DTypeError, () => scatterAdd(any(null), 0, [0], f32([1]))],
    ['scatterAdd', 'src', DTypeError, () => scatterAdd(x, 0, f32([0, 0], [1, 2]), any(null))],
    ['scatterAdd', 'src', DTypeError, () => scatterAdd(x, 0, f32([0, 0], [1, 2]), any([[1, 2]]))],
  ];
  for (const [op, arg, Err, make] of cases) refuses(make, Err, op, arg);
});

test('symmetricEigenvalues: a non-Tensor, bad options and a non-finite or non-number tolerance', () => {
  refuses(() => symmetricEigenvalues(any(null)), DTypeError, 'symmetricEigenvalues', 'a');
  refuses(() => symmetricEigenvalues(any([[1, 0], [0, 1]])), DTypeError, 'symmetricEigenvalues', 'a');
  refuses(() => symmetricEigenvalues(eye(2), any(null)), DTypeError, 'symmetricEigenvalues', 'options');
  refuses(() => symmetricEigenvalues(eye(2), any({ tol: 1 })), ValueError, 'symmetricEigenvalues', 'options.tol');
  refuses(() => symmetricEigenvalues(eye(2), any({ symmetryTolerance: '1' })), DTypeError, 'symmetricEigenvalues', 'symmetryTolerance');
  for (const tol of [-Infinity, Infinity, Number.NaN, -1]) {
    refuses(() => symmetricEigenvalues(eye(2), { symmetryTolerance: tol }), ValueError, 'symmetricEigenvalues', 'symmetryTolerance', `tolerance ${tol}`);
  }
  assert.equal(Array.from(symmetricEigenvalues(f64([2, 1, 1, 2], [2, 2]), { symmetryTolerance: 0 })), [1, 3]);
});

// ── optimizers ──

test('optimizers refuse missing or bad options, non-Tensor and repeated params at construction', () => {
  const w = f64([1, 2]);
  const cases: [string, string, ErrorClass, () => unknown][] = [
    ['SGD', 'options', ValueError, () => new SGD([w], any(undefined))],
    ['SGD', 'options', DTypeError, () => new SGD([w], any(null))],
    ['SGD', 'options', DTypeError, () => new SGD([w], any(0.1))],
    ['SGD', 'options.lrate', ValueError, () => new SGD([w], any({ lrate: 0.1 }))],
    ['SGD', 'lr', ValueError, () => new SGD([w], { lr: Number.NaN })],
    ['SGD', 'lr', ValueError, () => new SGD([w], { lr: Infinity })],
    ['SGD', 'lr', DTypeError, () => new SGD([w], any({ lr: '0.1' }))],
    ['SGD', 'dampening', ValueError, () => new SGD([w], { lr: 0.1, momentum: 0.9, dampening: Number.NaN })],
    ['SGD', 'momentum', ValueError, () => new SGD([w], { lr: 0.1, momentum: Number.NaN })],
    ['SGD', 'nesterov', DTypeError, () => new SGD([w], any({ lr: 0.1, momentum: 0.9, nesterov: 1 }))],
    ['SGD', 'weightDecay', ValueError, () => new SGD([w], { lr: 0.1, weightDecay: Number.NaN })],
    ['SGD', 'params', DTypeError, () => new SGD(any(null), { lr: 0.1 })],
    ['SGD', 'params', DTypeError, () => new SGD(any(w), { lr: 0.1 })],
    ['SGD', 'params', DTypeError, () => new SGD(any('ab'), { lr: 0.1 })],
    ['SGD', 'params', DTypeError, () => new SGD(any([w, [1, 2]]), { lr: 0.1 })],
    ['SGD', 'params', ValueError, () => new SGD([w, w], { lr: 0.1 })],
    ['Adam', 'lr', ValueError, () => new Adam([w], { lr: Number.NaN })],
    ['Adam', 'betas', DTypeError, () => new Adam([w], any({ betas: [0.9] }))],
    ['Adam', 'betas', DTypeError, () => new Adam([w], any({ betas: 0.9 }))],
    ['Adam', 'betas', DTypeError, () => new Adam([w], any({ betas: [0.9, '0.99'] }))],
    ['Adam', 'betas', ValueError, () => new Adam([w], { betas: [0.9, Number.NaN] })],
    ['Adam', 'betas', ValueError, () => new Adam([w], { betas: [-0.1, 0.9] })],
    ['Adam', 'eps', ValueError, () => new Adam([w], { eps: 0 })],
    ['Adam', 'eps', ValueError, () => new Adam([w], { eps: -1e-8 })],
    ['Adam', 'eps', ValueError, () => new Adam([w], { eps: Number.NaN })],
    ['Adam', 'weightDecay', ValueError, () => new Adam([w], { weightDecay: Infinity })],
    ['Adam', 'options', DTypeError, () => new Adam([w], any(null))],
    ['Adam', 'params', DTypeError, () => new Adam(any(undefined))],
    ['AdamW', 'options', DTypeError, () => new AdamW([w], any(null))],
    ['AdamW', 'options', DTypeError, () => new AdamW([w], any(3))],
    ['AdamW', 'options.beta1', ValueError, () => new AdamW([w], any({ beta1: 0.9 }))],
    ['AdamW', 'eps', ValueError, () => new AdamW([w], { eps: 0 })],
    ['AdamW', 'betas', ValueError, () => new AdamW([w], { betas: [0.9, 1] })],
  ];
  for (const [op, arg, Err, make] of cases) refuses(make, Err, op, arg);
  // a learning rate assigned later (schedules) is checked too
  const opt = new SGD([w], { lr: 0.1 });
  refuses(() => (opt.lr = Number.NaN), ValueError, 'SGD.lr', 'lr');
  refuses(() => (opt.lr = -1), ValueError, 'SGD.lr', 'lr');
  assert.is(opt.lr, 0.1);
  opt.lr = 0.05;
  assert.is(opt.lr, 0.05);
});

test('clipGradNorm and warmupCosineLr refuse bad arguments', () => {
  const w = f64([3, 4]);
  w.grad = f64([3, 4]);
  refuses(() => clipGradNorm([w], Number.NaN), ValueError, 'clipGradNorm', 'maxNorm');
  refuses(() => clipGradNorm([w], Infinity), ValueError, 'clipGradNorm', 'maxNorm');
  refuses(() => clipGradNorm([w], -1), ValueError, 'clipGradNorm', 'maxNorm');
  refuses(() => clipGradNorm([w], any('1')), DTypeError, 'clipGradNorm', 'maxNorm');
  refuses(() => clipGradNorm(any(null), 1), DTypeError, 'clipGradNorm', 'params');
  refuses(() => clipGradNorm(any([null]), 1), DTypeError, 'clipGradNorm', 'params');
  assert.equal(Array.from(w.grad.data), [3, 4], 'refused calls scale nothing');
  const o = { maxLr: 1, warmupSteps: 2, totalSteps: 10 };
  refuses(() => warmupCosineLr(1.5, o), ValueError, 'warmupCosineLr', 'step');
  refuses(() => warmupCosineLr(Number.NaN, o), ValueError, 'warmupCosineLr', 'step');
  refuses(() => warmupCosineLr(any('1'), o), DTypeError, 'warmupCosineLr', 'step');
  refuses(() => warmupCosineLr(0, any(undefined)), ValueError, 'warmupCosineLr', 'options');
  refuses(() => warmupCosineLr(0, any(null)), DTypeError, 'warmupCosineLr', 'options');
  refuses(() => warmupCosineLr(0, { ...o, maxLr: Number.NaN }), ValueError, 'warmupCosineLr', 'maxLr');
  refuses(() => warmupCosineLr(0, any({ ...o, maxLr: undefined })), DTypeError, 'warmupCosineLr', 'maxLr');
  refuses(() => warmupCosineLr(0, { ...o, minLr: Number.NaN }), ValueError, 'warmupCosineLr', 'minLr');
  refuses(() => warmupCosineLr(0, { ...o, totalSteps: 2.5 }), ValueError, 'warmupCosineLr', 'totalSteps');
  refuses(() => warmupCosineLr(0, { ...o, totalSteps: Infinity }), ValueError, 'warmupCosineLr', 'totalSteps');
  refuses(() => warmupCosineLr(0, any({ ...o, warmup: 3 })), ValueError, 'warmupCosineLr', 'options.warmup');
  assert.is(warmupCosineLr(1, o), 1);
});

test('optimizer steps mark every written parameter modified; a grad of the wrong size is refused before any write', () => {
  for (const make of [
    (ps: Tensor[]) => new SGD(ps, { lr: 0.1, momentum: 0.9 }),
    (ps: Tensor[]) => new Adam(ps, { lr: 0.1 }),
    (ps: Tensor[]) => new AdamW(ps, { lr: 0.1 }),
  ]) {
    const a = new Parameter(new Float64Array([1, 2]), [2]);
    const b = new Parameter(new Float64Array([3]), [1]);
    const c = new Parameter(new Float64Array([5]), [1]); // no grad: not written, not bumped
    const opt = make([a, b, c]);
    a.grad = f64([1, 1]);
    b.grad = f64([1]);
    const [va, vb, vc] = [a.version, b.version, c.version];
    opt.step();
    assert.is(a.version, va + 1, `${opt.constructor.name}: a bumped`);
    assert.is(b.version, vb + 1, `${opt.constructor.name}: b bumped`);
    assert.is(c.version, vc, `${opt.constructor.name}: c untouched`);
    // a gradient with the wrong number of values: refused, and a (listed first) keeps its values
    const before = Array.from(a.data);
    b.grad = f64([1, 2, 3]);
    refuses(() => opt.step(), ShapeError, `${opt.constructor.name}.step`, 'params');
    assert.equal(Array.from(a.data), before);
    b.grad = any({ data: new Float64Array(1) });
    refuses(() => opt.step(), DTypeError, `${opt.constructor.name}.step`, 'params');
  }
  // clipGradNorm scales the grads in place: they are marked modified, and left alone when no clipping happens
  const w = f64([0, 0]);
  w.grad = f64([3, 4]);
  const v = w.grad.version;
  clipGradNorm([w], 10);
  assert.is(w.grad.version, v, 'no clip, no write');
  clipGradNorm([w], 1);
  assert.is(w.grad.version, v + 1, 'clipped in place');
});

// ── Module ──

class Two extends Module {
  a = new Parameter(new Float32Array([1, 2, 3]), [3]);
  b = new Parameter(new Float32Array([4, 5, 6, 7]), [2, 2]);
}

/** A Tensor of `shape` whose data has been swapped for `data` afterwards (a malformed checkpoint value). */
function corrupt(shape: number[], data: unknown): Tensor {
  const t = zeros(shape);
  Object.defineProperty(t, 'data', { value: data });
  return t;
}

test('loadStateDict: one bad entry leaves every parameter unchanged; a good load marks each parameter modified', () => {
  const good = (): Record<string, Tensor> => ({ a: f32([10, 20, 30]), b: f32([40, 50, 60, 70], [2, 2]) });
  const bad: [string, Record<string, unknown>, ErrorClass, string][] = [
    ['shorter data', { ...good(), b: corrupt([2, 2], new Float32Array(2)) }, ShapeError, 'b'],
    ['longer data', { ...good(), b: corrupt([2, 2], new Float32Array(9)) }, ShapeError, 'b'],
    ['Int32Array data', { ...good(), b: corrupt([2, 2], new Int32Array(4)) }, DTypeError, 'b'],
    ['plain array data', { ...good(), b: corrupt([2, 2], [1, 2, 3, 4]) }, DTypeError, 'b'],
    ['not a Tensor', { ...good(), b: [[1, 2], [3, 4]] }, DTypeError, 'b'],
    ['null value', { ...good(), b: null }, DTypeError, 'b'],
    ['wrong shape', { ...good(), b: f32([1, 2, 3, 4]) }, ShapeError, 'b'],
  ];
  for (const [what, state, Err, arg] of bad) {
    const m = new Two();
    const [va, vb] = [m.a.version, m.b.version];
    refuses(() => m.loadStateDict(any(state)), Err, 'Module.loadStateDict', arg, what);
    assert.equal(Array.from(m.a.data), [1, 2, 3], `${what}: a unchanged`);
    assert.equal(Array.from(m.b.data), [4, 5, 6, 7], `${what}: b unchanged`);
    assert.equal([m.a.version, m.b.version], [va, vb], `${what}: nothing marked modified`);
    refuses(() => m.loadStateDict(any(state), { strict: false }), Err, 'Module.loadStateDict', arg, `${what} (non-strict)`);
    assert.equal(Array.from(m.a.data), [1, 2, 3], `${what} (non-strict): a unchanged`);
  }
  const m = new Two();
  refuses(() => m.loadStateDict(any(null)), DTypeError, 'Module.loadStateDict', 'state');
  refuses(() => m.loadStateDict(any([good().a])), DTypeError, 'Module.loadStateDict', 'state');
  refuses(() => m.loadStateDict(good(), any(null)), DTypeError, 'Module.loadStateDict', 'options');
  refuses(() => m.loadStateDict(good(), any({ strict: 'no' })), DTypeError, 'Module.loadStateDict', 'options.strict');
  refuses(() => m.loadStateDict(good(), any({ strcit: false })), ValueError, 'Module.loadStateDict', 'options.strcit');
  const [va, vb] = [m.a.version, m.b.version];
  assert.equal(m.loadStateDict(good()), { missing: [], unexpected: [] });
  assert.equal(Array.from(m.a.data), [10, 20, 30]);
  assert.equal(Array.from(m.b.data), [40, 50, 60, 70]);
  assert.equal([m.a.version, m.b.version], [va + 1, vb + 1]);
  // non-strict: only the loaded parameter is bumped
  const n = new Two();
  const vn = n.b.version;
  assert.equal(n.loadStateDict({ a: f64([7, 8, 9]) }, { strict: false }), { missing: ['b'], unexpected: [] });
  assert.equal(Array.from(n.a.data), [7, 8, 9]);
  assert.is(n.b.version, vn);
});

test('Parameter, Module.to, Module.train and namedParameters check their arguments', () => {
  refuses(() => new Parameter(any([1, 2]), [2]), DTypeError, 'Parameter', 'data');
  refuses(() => new Parameter(new Float32Array(2), [-1, -2]), ShapeError, 'Parameter', 'shape');
  refuses(() => new Parameter(new Float32Array(2), [3]), ShapeError, 'Parameter', 'shape');
  refuses(() => Parameter.from(any(null)), DTypeError, 'Parameter.from', 't');
  const m = new Two();
  refuses(() => m.to(any('float16')), DTypeError, 'Module.to', 'dtype');
  assert.is(m.a.dtype, 'float32', 'a refused to() converts nothing');
  refuses(() => m.train(any('yes')), DTypeError, 'Module.train', 'mode');
  refuses(() => m.namedParameters(any(3)), DTypeError, 'Module.namedParameters', 'prefix');
  assert.is(m.to('float64').a.dtype, 'float64');
});

// ── gradcheck ──

test('gradcheck: eps 0/NaN/negative, bad atol/rtol, a non-function, bad inputs and bad outputs → typed errors', () => {
  const x = f64([0.5, -1.5]);
  x.requiresGrad = true;
  const f = (t: Tensor): Tensor => sum(mul(t, t));
  for (const eps of [0, Number.NaN, -1e-6, Infinity]) refuses(() => gradcheck(f, [x], { eps }), ValueError, 'gradcheck', 'eps', `eps ${eps}`);
  refuses(() => gradcheck(f, [x], any({ eps: '1e-6' })), DTypeError, 'gradcheck', 'eps');
  for (const atol of [-1, Number.NaN]) refuses(() => gradcheck(f, [x], { atol }), ValueError, 'gradcheck', 'atol', `atol ${atol}`);
  for (const rtol of [-1, Number.NaN, Infinity]) refuses(() => gradcheck(f, [x], { rtol }), ValueError, 'gradcheck', 'rtol', `rtol ${rtol}`);
  refuses(() => gradcheck(f, [x], any(null)), DTypeError, 'gradcheck', 'options');
  refuses(() => gradcheck(f, [x], any({ epsilon: 1 })), ValueError, 'gradcheck', 'options.epsilon');
  refuses(() => gradcheck(any(null), [x]), DTypeError, 'gradcheck', 'fn');
  refuses(() => gradcheck(f, any(null)), DTypeError, 'gradcheck', 'inputs');
  refuses(() => gradcheck(f, any(x)), DTypeError, 'gradcheck', 'inputs');
  refuses(() => gradcheck(f, any([null])), DTypeError, 'gradcheck', 'inputs[0]');
  refuses(() => gradcheck(any(() => 3), [x]), DTypeError, 'gradcheck', 'fn');
  refuses(() => gradcheck(any(() => [f(x), 'y']), [x]), DTypeError, 'gradcheck', 'fn');
  refuses(() => gradcheck(any(() => []), [x]), DTypeError, 'gradcheck', 'fn');
  assert.equal(Array.from(x.data), [0.5, -1.5], 'inputs restored');
  assert.is(gradcheck(f, [x], { eps: 1e-6, atol: 1e-7, rtol: 0 }), true);
});

test.run();
