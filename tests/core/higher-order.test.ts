/**
 * Second derivatives (createGraph, composable grad), in-place writes after recording (storage versions), and an
 * atomic backward: the autograd promises of the trust issue.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  add, attention, AutogradError, cos, crossEntropy, div, exp, gelu, grad, gradcheck, layerNorm, log, logSoftmax, matmul, max,
  mean, mseLoss, mul, noGrad, pow, randn, relu, rsqrt, sigmoid, silu, sin, softmax, softplus, sqrt, square, sub, sum, tanh,
  tensor, Tensor, valueAndGrad, Generator, clamp, where, gt, reshape, permute, expand, slice, flip, pad, tril, concat, gather,
  indexSelect, scatterAdd, SGD, dropout, clipGradNorm, enableGrad, record, DTypeError, ShapeError,
} from '../../core/index.js';
import { assertClose } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';

const F64 = { atol: 1e-7, rtol: 1e-6 };
const f64 = (values: number[], shape: number[], requiresGrad = false): Tensor => tensor(values, shape, { dtype: 'float64', requiresGrad });

// ── composable grad ──

test('grad(grad(f)) is the second derivative (it returned zeros before createGraph)', () => {
  const f = (x: Tensor): Tensor => mul(pow(x, 3), sin(x)); // scalar → scalar
  for (const v of [0.5, -1.25, 2]) {
    const x = f64([v], []);
    const [d2] = grad(grad(f))(x);
    const second = 6 * v * Math.sin(v) + 6 * v * v * Math.cos(v) - v ** 3 * Math.sin(v);
    assertClose(d2!.data, [second], F64, `d²/dx² x³ sin x at ${v}`);
    const [d3] = grad(grad(grad(f)))(x);
    const third = 6 * Math.sin(v) + 18 * v * Math.cos(v) - 9 * v * v * Math.sin(v) - v ** 3 * Math.cos(v);
    assertClose(d3!.data, [third], F64, `d³/dx³ x³ sin x at ${v}`);
  }
  // vectors: the gradient of Σ ∂f/∂xᵢ is the diagonal of the Hessian for an elementwise f
  const xs = f64([0.5, -1.25, 2], [3]);
  const [diag] = grad((t: Tensor) => sum(grad((u: Tensor) => sum(pow(u, 3)))(t)[0]!))(xs);
  assertClose(diag!.data, [3, -7.5, 12], F64, 'd²/dx² Σx³');
});

test('second derivatives of every unary op match the closed form', () => {
  const x = f64([0.3, 0.9, 1.7, 2.4], [4]);
  const cases: Array<[string, (t: Tensor) => Tensor, (v: number) => number]> = [
    ['exp', exp, Math.exp],
    ['log', log, (v) => -1 / (v * v)],
    ['sqrt', sqrt, (v) => -0.25 * v ** -1.5],
    ['rsqrt', rsqrt, (v) => 0.75 * v ** -2.5],
    ['sin', sin, (v) => -Math.sin(v)],
    ['cos', cos, (v) => -Math.cos(v)],
    ['tanh', tanh, (v) => -2 * Math.tanh(v) * (1 - Math.tanh(v) ** 2)],
    ['sigmoid', sigmoid, (v) => { const s = 1 / (1 + Math.exp(-v)); return s * (1 - s) * (1 - 2 * s); }],
    ['square', square, () => 2],
    ['softplus', softplus, (v) => { const s = 1 / (1 + Math.exp(-v)); return s * (1 - s); }],
    ['gelu', gelu, (v) => { const phi = Math.exp(-v * v / 2) / Math.sqrt(2 * Math.PI); return 2 * phi - v * v * phi; }],
  ];
  for (const [name, op, second] of cases) {
    const [d2] = grad((t: Tensor) => sum(grad((u: Tensor) => sum(op(u)))(t)[0]!))(x);
    assertClose(d2!.data, Array.from(x.data, second), F64, `${name}''`);
  }
});

test('the gradient of every differentiable op is itself gradchecked (createGraph through the rule)', () => {
  const g = new Generator(11);
  const unary: Array<[string, (t: Tensor) => Tensor]> = [
    ['exp', exp], ['tanh', tanh], ['sigmoid', sigmoid], ['silu', silu], ['softplus', softplus], ['gelu', gelu],
    ['gelu tanh', (t) => gelu(t, 'tanh')], ['sin', sin], ['cos', cos], ['square', square], ['relu', relu],
    ['clamp', (t) => clamp(t, -0.5, 0.5)], ['softmax', (t) => softmax(t, -1)], ['logSoftmax', (t) => logSoftmax(t, 0)],
    ['max', (t) => max(t, 1, true)], ['mean', (t) => mean(t, 0)], ['where', (t) => where(gt(t, 0), square(t), exp(t))],
  ];
  for (const [name, op] of unary) {
    const x = randn([3, 4], { dtype: 'float64', generator: g, requiresGrad: true });
    const w = noGrad(() => op(x.detach())).shape.length === 0 ? f64([1.3], []) : randn(noGrad(() => op(x.detach())).shape as number[], { dtype: 'float64', generator: g });
    const gradOf = (t: Tensor): Tensor => grad((u: Tensor) => sum(mul(op(u), w)))(t)[0]!;
    assert.ok(gradcheck(gradOf, [x]), `∇ of ${name} is differentiable`);
  }
  const binary: Array<[string, (a: Tensor, b: Tensor) => Tensor]> = [
    ['add', add], ['sub', sub], ['mul', mul], ['div', div], ['pow', (a, b) => pow(square(a), b)],
    ['matmul', (a, b) => matmul(a, reshape(b, [4, 3]))], ['matmul shared b', (a, b) => matmul(reshape(a, [2, 2, 3]), reshape(b, [3, 4]))],
    ['mseLoss', (a, b) => mseLoss(a, b)],
  ];
  for (const [name, op] of binary) {
    const a = randn([3, 4], { dtype: 'float64', generator: g, requiresGrad: true });
    const b = randn([3, 4], { dtype: 'float64', generator: g, requiresGrad: true });
    const w = randn(noGrad(() => op(a.detach(), b.detach())).shape as number[], { dtype: 'float64', generator: g });
    const gradOf = (p: Tensor, q: Tensor): Tensor[] => grad((u: Tensor, v: Tensor) => sum(mul(op(u, v), w)))(p, q);
    assert.ok(gradcheck(gradOf, [a, b]), `∇ of ${name} is differentiable`);
  }
  const logits = randn([4, 5], { dtype: 'float64', generator: g, requiresGrad: true });
  for (const options of [{}, { labelSmoothing: 0.2 }, { reduction: 'sum' as const }, { reduction: 'none' as const, ignoreIndex: 1 }]) {
    const gradOf = (t: Tensor): Tensor => grad((u: Tensor) => sum(mul(crossEntropy(u, [0, 1, 4, 2], options), 1.5)))(t)[0]!;
    assert.ok(gradcheck(gradOf, [logits]), `∇ of crossEntropy ${JSON.stringify(options)} is differentiable`);
  }
});

test('movement ops are differentiable twice (their rules are the adjoint movements)', () => {
  const g = new Generator(12);
  const ops: Array<[string, (t: Tensor) => Tensor]> = [
    ['permute', (t) => permute(t, [1, 0])], ['reshape', (t) => reshape(t, [12])], ['expand', (t) => expand(reshape(t, [1, 3, 4]), [2, 3, 4])],
    ['slice', (t) => slice(t, [[1, 3], [0, 4, 2]])], ['flip', (t) => flip(t, 1)], ['pad', (t) => pad(t, [[1, 0], [2, 1]], 0.5)],
    ['tril', (t) => tril(t)], ['concat', (t) => concat([t, square(t)], 1)], ['gather', (t) => gather(t, 1, tensor([[0, 0, 3], [1, 2, 2], [3, 3, 0]]))],
    ['indexSelect', (t) => indexSelect(t, 0, [2, 0, 2])], ['scatterAdd', (t) => scatterAdd(t, 1, tensor([[0, 1], [2, 2], [3, 0]]), mul(t, t))],
  ];
  for (const [name, op] of ops) {
    const x = randn([3, 4], { dtype: 'float64', generator: g, requiresGrad: true });
    const w = randn(noGrad(() => op(x.detach())).shape as number[], { dtype: 'float64', generator: g });
    // the op sits between two nonlinearities, so its rule is on the second-order path
    const gradOf = (t: Tensor): Tensor => grad((u: Tensor) => sum(mul(square(op(tanh(u))), w)))(t)[0]!;
    assert.ok(gradcheck(gradOf, [x]), `∇ of ${name} is differentiable`);
  }
});

test('Hessian-vector products of an MLP match finite differences of its gradient (float64)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1000 }), fc.constantFrom<'mse' | 'ce'>('mse', 'ce'), (seed, lossKind) => {
      const g = new Generator(seed);
      const x = randn([5, 3], { dtype: 'float64', generator: g });
      const y = randn([5, 2], { dtype: 'float64', generator: g });
      const labels = [0, 1, 1, 0, 1];
      const params = [[3, 4], [4], [4, 2], [2]].map((s) => randn(s, { dtype: 'float64', generator: g, std: 0.7 }));
      const v = params.map((p) => randn(p.shape as number[], { dtype: 'float64', generator: g }));
      const loss = (w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor): Tensor => {
        const out = add(matmul(gelu(add(matmul(x, w1), b1)), w2), b2);
        return lossKind === 'mse' ? mseLoss(tanh(out), y) : crossEntropy(out, labels);
      };
      const gradient = grad(loss);
      const hvp = grad((...ps: Tensor[]) => gradient(...ps).map((gi, i) => sum(mul(gi, v[i]!))).reduce((s, t) => add(s, t)))(...params);
      const eps = 1e-5;
      const shifted = (sign: number) => gradient(...params.map((p, i) => add(p, mul(v[i]!, sign * eps))));
      const plus = shifted(1);
      const minus = shifted(-1);
      params.forEach((_, i) => {
        const fd = Array.from(plus[i]!.data, (pv, k) => (pv - minus[i]!.data[k]!) / (2 * eps));
        assertClose(hvp[i]!.data, fd, { atol: 1e-6, rtol: 1e-5 }, `Hv for parameter ${i}`);
      });
    }),
    fcParams(12),
  );
});

test('backward({ createGraph }) leaves a differentiable .grad, and a second backward adds the Hessian term', () => {
  const x = f64([1, 2], [2], true);
  sum(pow(x, 3)).backward(undefined, { createGraph: true }); // x.grad = 3x²
  assertClose(x.grad!.data, [3, 12], F64, 'first derivative');
  assert.ok(x.grad!.requiresGrad, '.grad is part of a graph');
  const g1 = x.grad!;
  x.grad = null;
  sum(g1).backward(); // d/dx Σ 3x² = 6x
  assertClose(x.grad!.data, [6, 12], F64, 'second derivative through .grad');
});

test('differentiating a fused kernel twice throws an AutogradError naming the op (never a silent zero)', () => {
  const g = new Generator(3);
  const x = randn([2, 4], { dtype: 'float64', generator: g, requiresGrad: true });
  const throwsNaming = (fn: () => unknown, op: string) =>
    assert.throws(fn, (e: unknown) => e instanceof AutogradError && e.message.startsWith('grad:') && e.message.includes(op), op);
  const secondOrder = (f: (t: Tensor) => Tensor) => grad((t: Tensor) => sum(square(grad(f)(t)[0]!)));
  throwsNaming(() => secondOrder((t) => sum(square(layerNorm(t))))(x), 'layerNorm');
  const q = randn([1, 1, 3, 4], { dtype: 'float64', generator: g, requiresGrad: true });
  throwsNaming(() => secondOrder((t) => sum(square(attention(t, t, t))))(q), 'attention');
  // first order through the same ops still works inside a createGraph pass when the second pass avoids them
  const [d] = grad((t: Tensor) => sum(layerNorm(t)))(x);
  assert.is(d!.shape.join(), '2,4');
});

// ── in-place writes after recording ──

test('writing a saved tensor in place before backward → AutogradError, and no .grad is written', () => {
  const w = f64([1, 2, 3], [3], true);
  const x = f64([4, 5, 6], [3], true);
  const loss = sum(mul(w, x)); // mul saves w and x
  w.data.set([7, 8, 9]);
  w.markModified();
  assert.throws(() => loss.backward(), (e: unknown) => e instanceof AutogradError && /modified in place/.test(e.message) && e.message.startsWith('Tensor.backward:'));
  assert.is(w.grad, null, 'w.grad untouched');
  assert.is(x.grad, null, 'x.grad untouched');
  assert.is(w.version, 1);
});

test('opt.step() between forward and backward → AutogradError (the step wrote the weights the graph saved)', () => {
  const w = f64([0.5, -0.5], [2], true);
  const x = f64([1, 2], [2]);
  const opt = new SGD([w], { lr: 0.1 });
  const first = sum(square(mul(w, x)));
  first.backward();
  const stale = sum(square(mul(w, x))); // recorded with w at version 0
  opt.step();
  assert.throws(() => stale.backward(), (e: unknown) => e instanceof AutogradError && /modified in place/.test(e.message));
  const fresh = sum(square(mul(w, x))); // the forward pass run again after the step is fine
  opt.zeroGrad();
  fresh.backward();
  assertClose(w.grad!.data, Array.from(w.data, (wv, i) => 2 * wv * x.data[i]! ** 2), F64, 'gradient at the new weights');
});

test('dropout draws from the default generator when none is given, and checks its arguments', () => {
  const x = f64(Array.from({ length: 64 }, () => 1), [64]);
  const a = dropout(x, 0.5);
  const b = dropout(x, 0.5);
  assert.not.equal(Array.from(a.data), Array.from(b.data), 'two calls draw different masks');
  assert.throws(() => dropout(x, 1), (e: unknown) => e instanceof Error && e.message.startsWith('dropout: p must be'));
  assert.throws(() => dropout(x, 0.5, { generator: 3 as unknown as Generator }), (e: unknown) => e instanceof Error && e.message.startsWith('dropout: generator'));
});

test('a rule that reads no saved values (add) still runs after an in-place write: no false refusal', () => {
  const w = f64([1, 2, 3], [3], true);
  const loss = sum(add(w, 1));
  w.markModified();
  loss.backward();
  assertClose(w.grad!.data, [1, 1, 1], F64, 'd/dw Σ(w + 1)');
});

test('views share a version: writing through detach() is seen by the graph', () => {
  const w = f64([0.5, 1.5], [2], true);
  const loss = sum(exp(w)); // exp saves its output and input
  w.detach().markModified();
  assert.throws(() => loss.backward(), (e: unknown) => e instanceof AutogradError);
});

// ── atomic backward ──

test('backward through a freed graph → AutogradError, and nothing is written to any .grad', () => {
  const x = f64([1, 2], [2], true);
  const w = f64([3, 4], [2], true);
  const y = mul(x, x);
  sum(y).backward(); // frees y's node
  const before = Array.from(x.grad!.data);
  const z = sum(mul(y, w)); // w is reached first in reverse order, y's freed rule later
  assert.throws(() => z.backward(), (e: unknown) => e instanceof AutogradError && /second time/.test(e.message) && e.message.startsWith('Tensor.backward:'));
  assert.equal(Array.from(x.grad!.data), before, 'x.grad unchanged');
  assert.is(w.grad, null, 'w.grad not written');
});

test('valueAndGrad value and grads; grad refuses a non-function and a non-scalar result with typed errors', () => {
  const { value, grads } = valueAndGrad((a: Tensor) => sum(square(a)))(f64([1, 2], [2]));
  assert.is(value.item(), 5);
  assertClose(grads[0]!.data, [2, 4], F64, 'grad');
  assert.throws(() => grad(null as unknown as (x: Tensor) => Tensor), (e: unknown) => e instanceof Error && e.message.startsWith('grad: fn must be a function'));
  assert.throws(() => grad((a: Tensor) => a)(f64([1, 2], [2])), (e: unknown) => e instanceof Error && e.message.startsWith('grad: fn must return a single-element'));
  assert.throws(() => grad((a: Tensor) => sum(a))('x' as unknown as Tensor), (e: unknown) => e instanceof Error && e.message.startsWith('grad: inputs[0] must be a Tensor'));
});

// ── crossEntropy with masked logits ──

test('crossEntropy with a −∞ logit gives the log-softmax value and a finite gradient (was NaN)', () => {
  const logits = f64([0, -Infinity, 1], [1, 3], true);
  const loss = crossEntropy(logits, [0]);
  assertClose([loss.item()], [Math.log(1 + Math.E)], { atol: 1e-12 }, 'loss'); // 1.3133
  loss.backward();
  const p0 = 1 / (1 + Math.E);
  assertClose(logits.grad!.data, [p0 - 1, 0, 1 - p0], { atol: 1e-12 }, 'grad');
  // with smoothing, the target puts mass on a class of probability 0: the loss is +∞, not NaN
  assert.is(crossEntropy(f64([0, -Infinity, 1], [1, 3]), [0], { labelSmoothing: 0.1 }).item(), Infinity);
  assertClose([crossEntropy(tensor([[0, -Infinity, 1]]), [2]).item()], [Math.log(1 + Math.E) - 1], { atol: 1e-6 }, 'float32 loss');
});

test('toString prints NaN and ±∞ (JSON printed them as null)', () => {
  const s = tensor([NaN, Infinity, -Infinity, 1]).toString();
  assert.ok(s.startsWith('Tensor([NaN,Infinity,-Infinity,1]'), s);
});

// ── review fixes ──

test('createGraph gives every leaf its own .grad (two leaves of one add shared a buffer, and clipGradNorm scaled it twice)', () => {
  const x = f64([1, 1], [2], true);
  const y = f64([1, 1], [2], true);
  sum(add(x, y)).backward(undefined, { createGraph: true });
  assert.ok(x.grad !== y.grad, 'distinct tensors');
  assert.ok(x.grad!.data !== y.grad!.data, 'distinct buffers');
  clipGradNorm([x, y], 1); // total norm 2 → each grad scaled by 1/2 once
  assertClose(x.grad!.data, [0.5, 0.5], F64, 'x.grad');
  assertClose(y.grad!.data, [0.5, 0.5], F64, 'y.grad');
  const seed = f64([3], []);
  const leaf = f64([2], [], true);
  leaf.backward(seed, { createGraph: true });
  assert.ok(leaf.grad !== seed, 'a leaf root does not take the caller\'s seed tensor as its .grad');
});

test('grad of a non-leaf whose own graph was freed: the walk stops at grad\'s inputs (it was refused as a second backward)', () => {
  const w = f64([1.5, -2], [2], true);
  const y = mul(w, 2);
  sum(y).backward(); // frees y's node
  const [g] = enableGrad(() => grad((z: Tensor) => sum(mul(z, z)))(y));
  assertClose(g!.data, [6, -8], F64, 'd/dz Σz² = 2z');
  // a captured tensor whose graph was freed is not on any path to grad's input: its rules are neither run nor refused
  const [h] = grad((z: Tensor) => sum(mul(z, y)))(f64([1, 1], [2]));
  assertClose(h!.data, Array.from(y.data), F64, 'd/dz Σ z·y = y');
});

test('crossEntropy under createGraph: an ignored, fully masked row gets gradient 0, not NaN', () => {
  const logits = f64([0.5, -1, 2, -Infinity, -Infinity, -Infinity], [2, 3], true);
  crossEntropy(logits, [2, -100]).backward(undefined, { createGraph: true });
  assert.ok(Array.from(logits.grad!.data).every(Number.isFinite), `finite: ${Array.from(logits.grad!.data)}`);
  assertClose(Array.from(logits.grad!.data).slice(3), [0, 0, 0], F64, 'ignored row');
});

test('a second derivative through a fused kernel is refused before any rule runs: the graph is not freed by the refusal', () => {
  const x = randn([2, 4], { dtype: 'float64', generator: new Generator(5), requiresGrad: true });
  sum(square(layerNorm(x))).backward(undefined, { createGraph: true });
  const s = sum(square(x.grad!));
  const refused = (e: unknown) => e instanceof AutogradError && /cannot differentiate layerNorm twice/.test(e.message) && e.message.startsWith('Tensor.backward:');
  assert.throws(() => s.backward(), refused);
  assert.throws(() => s.backward(), refused); // the same refusal, not "a second time — freed"
});

test('optimizer.step refuses a gradient of the wrong shape even when its size matches', () => {
  const w = f64([1, 2, 3, 4, 5, 6], [2, 3], true);
  w.grad = f64([1, 1, 1, 1, 1, 1], [3, 2]);
  assert.throws(() => new SGD([w], { lr: 0.1 }).step(), (e: unknown) => e instanceof ShapeError && e.message.startsWith('SGD.step:'));
  assert.equal(Array.from(w.data), [1, 2, 3, 4, 5, 6], 'nothing written');
});

test('record (the public entry for ops outside core) checks its arguments and options', () => {
  const x = f64([1], [1], true);
  const out = () => f64([2], [1]);
  const isDType = (e: unknown) => e instanceof DTypeError && e.message.startsWith('record:');
  assert.throws(() => record('myOp', out(), [x], () => [null], { saved: 'x' as unknown as Tensor[] }), isDType);
  assert.throws(() => record('myOp', out(), [x, 3 as unknown as Tensor], () => [null, null]), isDType);
  assert.throws(() => record('myOp', out(), [x], () => [null], { differentiableBackward: 1 as unknown as boolean }), isDType);
  assert.ok(record('myOp', out(), [x], (g) => [g]).requiresGrad);
});

test.run();
