/** Robustness table for core/: one entry per runtime export (see harness.ts for what each argument kind gets). */
import {
  Generator, Module, Optimizer, Parameter, Tensor, abs, add, exp, mul, sum, zeros,
} from '../../../core/index.js';
import { A, cls, exempt, fn, method, opt, type ArgSpec, type Entry } from '../harness.js';
import { ints, sym, t, t64, vals } from './fixtures.js';

const X = A.tensor('x');
const tensorOpts: ArgSpec = A.options('options', { dtype: A.enum('dtype'), requiresGrad: A.bool('requiresGrad') });
const randomOpts = (extra: Record<string, ArgSpec> = {}): ArgSpec =>
  A.options('options', { dtype: A.enum('dtype'), requiresGrad: A.bool('requiresGrad'), generator: A.object('generator'), ...extra });
const axes = A.int('axis', { optional: true, alsoArray: true });
const keepDim = A.bool('keepDim', { optional: true });

/** Binary elementwise ops: (a, b) with broadcasting, numbers allowed. */
const binary = (name: string): Entry => fn(name, () => [t(2, 3), t(3)], [A.tensorLike('a'), A.tensorLike('b')]);
/** Unary elementwise ops on values kept in their domain (log/sqrt/rsqrt/reciprocal get positive inputs). */
const unary = (name: string, positive = false): Entry => fn(name, () => [positive ? abs(t(2, 3)).add(0.5) : t(2, 3)], [X]);
const reduce = (name: string): Entry => fn(name, () => [t(2, 3), 1, false], [X, axes, keepDim]);
const params = (): Parameter[] => [new Parameter(new Float32Array([0.5, -0.5]), [2])];
const withGrads = () => {
  const ps = params();
  for (const p of ps) p.grad = new Tensor(new Float32Array([0.1, 0.2]), [2]);
  return ps;
};

/** A module with one parameter, for Module's own methods. */
class TinyModule extends Module {
  w = new Parameter(new Float32Array([1, 2, 3, 4]), [2, 2]);
}
/** The smallest optimizer: plain gradient descent through Optimizer's constructor and step(). */
class TinyOptimizer extends Optimizer {
  constructor(ps: Iterable<Tensor>, lr: number) {
    super('Optimizer', ps, lr);
  }
  protected update(p: Tensor, g: Float32Array | Float64Array): void {
    for (let i = 0; i < p.data.length; i++) p.data[i]! -= this.lr * g[i]!;
  }
}

const ERROR_CLASS = 'an error class: constructed with (op, message), not an op that validates inputs';
const ARG_CHECK = 'an argument-check helper: it throws on bad input by design, with the op name its caller passes';

export const coreEntries: readonly Entry[] = [
  exempt('AutogradError', ERROR_CLASS),
  exempt('AxisError', ERROR_CLASS),
  exempt('DTypeError', ERROR_CLASS),
  exempt('GradcheckError', ERROR_CLASS),
  exempt('IndexError', ERROR_CLASS),
  exempt('ShapeError', ERROR_CLASS),
  exempt('ValueError', ERROR_CLASS),
  exempt('MAX_TENSOR_ELEMENTS', 'a constant number'),
  exempt('expectAllocatable', ARG_CHECK),
  exempt('expectBoolean', ARG_CHECK),
  exempt('expectFiniteValues', ARG_CHECK),
  exempt('expectFunction', ARG_CHECK),
  exempt('expectGenerator', ARG_CHECK),
  exempt('expectInteger', ARG_CHECK),
  exempt('expectNumber', ARG_CHECK),
  exempt('expectOneOf', ARG_CHECK),
  exempt('expectOptions', ARG_CHECK),
  exempt('expectPositions', ARG_CHECK),
  exempt('expectRequiredOptions', ARG_CHECK),
  exempt('expectShape', ARG_CHECK),
  exempt('expectSize', ARG_CHECK),
  exempt('expectTensor', ARG_CHECK),
  exempt('expectTensorLike', ARG_CHECK),
  // argument checks named optional*: judged as functions (coverage exempts only expect*); op and arg are any text the
  // caller passes (the message starts with op), the value is what is checked, the fallback is not a user input
  fn('optionalDType', () => ['optionalDType', 'dtype', 'float64'], [A.any('op'), A.any('arg'), A.enum('x', { optional: true })]),
  fn('optionalGenerator', () => ['optionalGenerator', 'generator', new Generator(1)], [A.any('op'), A.any('arg'), A.object('x', { optional: true })]),
  fn('describeValue', () => [t(2)], [A.any('x')]),

  // shapes
  fn('broadcastShapes', () => [[2, 3], [3]], [A.shape('a'), A.shape('b')]),
  fn('asPartOf', () => ['myOp', () => 1], [A.string('op'), A.fn('call')]),
  fn('fmtShape', () => [[2, 3]], [A.object('shape')]), // formats any array of numbers (error messages show bad shapes), refuses the rest
  fn('sizeOf', () => [[2, 3]], [A.shape('shape')]),
  fn('stridesOf', () => [[2, 3]], [A.shape('shape')]),

  // tensors and factories
  cls('Tensor', () => [new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3], true], [A.bytes('data'), A.shape('shape'), opt(A.bool('requiresGrad'))], [
    method('backward', () => [new Tensor(new Float32Array(6).fill(1), [2, 3]), {}], [A.tensor('grad', { optional: true }), A.options('options', { retainGraph: A.bool('retainGraph') })]),
    method('toArray', () => [], []),
    method('toString', () => [], []),
    // The op methods are aliases of the exported functions: their messages may name the function.
    method('reshape', () => [[3, 2]], [A.shape('shape', { inferOk: true })], { aliasOf: 'reshape' }),
    method('add', () => [t(3)], [A.tensorLike('other')], { aliasOf: 'add' }),
    method('sum', () => [1, false], [axes, keepDim], { aliasOf: 'sum' }),
  ]),
  fn('tensor', () => [[[1, 2], [3, 4]], [2, 2], {}], [A.object('values'), A.shape('shape', { optional: true }), tensorOpts]),
  fn('fromArray', () => [new Float32Array([1, 2, 3, 4]), [2, 2], {}], [A.bytes('data'), A.shape('shape'), A.options('options', { requiresGrad: A.bool('requiresGrad') })]),
  fn('full', () => [[2, 3], 1.5, {}], [A.shape('shape'), A.data('value'), tensorOpts]),
  fn('zeros', () => [[2, 3], {}], [A.shape('shape'), tensorOpts]),
  fn('ones', () => [[2, 3], {}], [A.shape('shape'), tensorOpts]),
  fn('zerosLike', () => [t(2, 3), {}], [X, tensorOpts]),
  fn('onesLike', () => [t(2, 3), {}], [X, tensorOpts]),
  fn('arange', () => [0, 5, 1, {}], [A.real('start'), A.real('end', { optional: true }), A.real('step', { optional: true }), tensorOpts]),
  fn('linspace', () => [0, 1, 5, {}], [A.real('start'), A.real('end'), A.size('steps'), tensorOpts]),
  fn('eye', () => [3, 4, {}], [A.size('n'), A.size('m', { optional: true }), tensorOpts]),
  fn('rand', () => [[2, 3], { generator: new Generator(1), low: 0, high: 1 }], [A.shape('shape'), randomOpts({ low: A.real('low'), high: A.real('high') })]),
  fn('randn', () => [[2, 3], { generator: new Generator(1), mean: 0, std: 1 }], [A.shape('shape'), randomOpts({ mean: A.real('mean'), std: A.real('std') })]),
  fn('randint', () => [0, 10, [2, 3], { generator: new Generator(1) }], [A.int('low'), A.int('high'), A.shape('shape'), randomOpts()]),
  cls('Generator', () => [7], [opt(A.int('seed'))], [
    method('int', () => [0, 10], [A.int('low'), A.int('high')]),
    method('random', () => [], []),
    method('normal', () => [], []),
    method('fork', () => [], []),
  ]),

  fn('manualSeed', () => [7], [A.int('seed')]),
  fn('defaultGenerator', () => [], []),

  // autograd
  fn('noGrad', () => [() => add(t(2), 1)], [A.fn('fn')]),
  fn('enableGrad', () => [() => add(t(2), 1)], [A.fn('fn')]),
  fn('isGradEnabled', () => [], []),
  fn('record', () => {
    const x = t64([2], true);
    return ['myOp', t64([2]), [x], (g: Tensor) => [g]];
  }, [A.string('op'), A.tensor('out'), A.tensors('inputs'), A.fn('backward')]),
  fn('defineOp', () => [{ name: 'double', forward: (x: Tensor) => ({ output: mul(x, 2), saved: null }), backward: (g: Tensor) => [mul(g, 2)] }], [
    A.options('definition', { name: A.string('name', { required: true }), forward: A.fn('forward', { required: true }), backward: A.fn('backward', { required: true }) }, { optional: false }),
  ]),
  fn('grad', () => [(x: Tensor) => sum(mul(x, x))], [A.fn('fn')]),
  fn('valueAndGrad', () => [(x: Tensor) => sum(mul(x, x))], [A.fn('fn')]),
  fn('specialize', () => [(x: number) => x + 1], [A.fn('loop')]),
  fn('gradcheck', () => [(x: Tensor) => exp(x), [t64([3], true)], { eps: 1e-6, atol: 1e-5, rtol: 1e-3 }], [
    A.fn('fn'), A.tensors('inputs'), A.options('options', { eps: A.real('eps'), atol: A.real('atol'), rtol: A.real('rtol') }),
  ]),

  // elementwise
  ...['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'].map((n) => binary(n)),
  fn('pow', () => [abs(t(2, 3)).add(0.5), t(3)], [A.tensorLike('a'), A.tensorLike('b')]),
  ...['neg', 'exp', 'abs', 'sin', 'cos', 'tanh', 'square', 'relu', 'sigmoid', 'silu', 'softplus'].map((n) => unary(n)),
  ...['log', 'sqrt', 'rsqrt', 'reciprocal'].map((n) => unary(n, true)),
  fn('where', () => [vals([1, 0, 1]), t(3), t(3)], [A.tensor('cond'), A.tensorLike('a'), A.tensorLike('b')]),
  fn('gelu', () => [t(2, 3), 'tanh'], [X, A.enum('approximate', { optional: true })]),
  fn('clamp', () => [t(2, 3), -0.5, 0.5], [X, A.data('min', { optional: true }), A.data('max', { optional: true })]),
  fn('cast', () => [t(2, 3), 'float64'], [X, A.enum('dtype')]),
  fn('clone', () => [t(2, 3)], [X]),
  fn('dropout', () => [t(2, 3), 0.5, { generator: new Generator(3), training: true }], [
    X, A.real('p'), A.options('options', { generator: A.object('generator'), training: A.bool('training') }), // no generator: the default one
  ]),

  // reductions, softmax
  ...['sum', 'mean', 'max', 'min', 'logsumexp'].map(reduce),
  fn('variance', () => [t(2, 3), 1, { keepDim: false, correction: 1 }], [X, axes, A.options('options', { keepDim: A.bool('keepDim'), correction: A.real('correction') })]),
  fn('argmax', () => [t(2, 3), 1, false], [X, A.axis('axis', { optional: true }), keepDim]),
  fn('argmin', () => [t(2, 3), 1, false], [X, A.axis('axis', { optional: true }), keepDim]),
  fn('softmax', () => [t(2, 3), -1], [X, A.axis('axis', { optional: true })]),
  fn('cumsum', () => [t(2, 3), 1, { reverse: false }], [X, A.axis('axis'), A.options('options', { reverse: A.bool('reverse') })]),
  fn('logSoftmax', () => [t(2, 3), -1], [X, A.axis('axis', { optional: true })]),

  // linear algebra
  fn('matmul', () => [t(2, 3), t(3, 4), {}], [A.tensor('a'), A.tensor('b'), A.options('options', { transposeA: A.bool('transposeA'), transposeB: A.bool('transposeB') })]),
  fn('setBackend', () => ['js'], [A.enum('name'), A.options('options', { mode: A.enum('mode') })]),
  fn('getBackendOptions', () => [], []),
  exempt('backendKernels', 'a read-only view of the kernel table (an object, not a function): nothing takes arguments'),
  fn('releaseBackend', () => ['gpujs'], [A.enum('name')]),
  fn('prepareBackend', () => ['js'], [A.enum('name'), A.options('options', { importModule: A.fn('importModule') })]),
  fn('getBackend', () => [], []),
  fn('backendNames', () => [], []),
  fn('setNumThreads', () => [1], [A.int('n')]),
  fn('getNumThreads', () => [], []),
  fn('symmetricEigenvalues', () => [sym(3), { symmetryTolerance: 1e-9 }], [A.tensor('a'), A.options('options', { symmetryTolerance: A.real('symmetryTolerance') })]),
  fn('unitLowerInverse', () => [t(3, 3)], [A.tensor('a')]),
  fn('qr', () => [t64([4, 3]), { mode: 'reduced' }], [A.tensor('a'), A.options('options', { mode: A.enum('mode') })]),
  fn('cholesky', () => [sym(3), { symmetryTolerance: 1e-9 }], [A.tensor('a'), A.options('options', { symmetryTolerance: A.real('symmetryTolerance') })]),
  fn('svd', () => [t64([4, 3])], [A.tensor('a')]),
  fn('kmeans', () => [t64([6, 2]), 2, { generator: new Generator(1), maxIter: 5, tol: 1e-6 }], [
    A.tensor('x'), A.size('k', { work: true }),
    A.options('options', { generator: A.object('generator'), maxIter: A.size('maxIter', { work: true }), tol: A.real('tol') }),
  ]),

  // movement
  fn('reshape', () => [t(2, 3), [3, 2]], [X, A.shape('shape', { inferOk: true })]),
  fn('flatten', () => [t(2, 3, 2), 0, 1], [X, A.axis('startAxis', { optional: true }), A.axis('endAxis', { optional: true })]),
  fn('permute', () => [t(2, 3), [1, 0]], [X, A.ints('dims')]),
  fn('transpose', () => [t(2, 3), 0, 1], [X, A.axis('a'), A.axis('b')]),
  fn('expand', () => [t(1, 3), [2, 3]], [X, A.ints('shape')]), // any number of −1 keep their sizes, as torch: integers, not a plain shape
  fn('squeeze', () => [t(2, 1, 3), 1], [X, A.axis('axis', { optional: true, alsoArray: true })]),
  fn('unsqueeze', () => [t(2, 3), 0], [X, A.axis('axis')]),
  fn('slice', () => [t(4, 3), [[0, 2], null]], [X, A.object('ranges')]),
  fn('narrow', () => [t(4, 3), 0, 1, 2], [X, A.axis('axis'), A.size('start'), A.size('length')]),
  fn('flip', () => [t(2, 3), 1], [X, A.axis('axes', { alsoArray: true, optional: true })]), // no axes: every axis, as NumPy
  fn('pad', () => [t(2, 3), [[0, 0], [1, 1]], 0], [X, A.object('pads'), A.data('value', { optional: true })]),
  fn('tril', () => [t(3, 3), 0], [X, A.int('k', { optional: true })]),
  fn('triu', () => [t(3, 3), 0], [X, A.int('k', { optional: true })]),
  fn('concat', () => [[t(2, 3), t(1, 3)], 0], [A.tensors('xs'), A.axis('axis', { optional: true })]),
  fn('stack', () => [[t(2, 3), t(2, 3)], 0], [A.tensors('xs'), A.axis('axis', { optional: true })]),
  fn('split', () => [t(4, 3), 2, 0], [X, A.size('sizes', { alsoArray: true }), A.axis('axis', { optional: true })]),

  // indexing
  fn('gather', () => [t(2, 3), 1, ints([0, 2, 1, 1], [2, 2])], [X, A.axis('axis'), A.configTensor('index', { arrayOk: true })]),
  fn('indexSelect', () => [t(4, 3), 0, ints([3, 0])], [X, A.axis('axis'), A.configTensor('index', { arrayOk: true })]),
  fn('scatterAdd', () => [t(2, 3), 1, ints([0, 2, 1, 1], [2, 2]), t(2, 2)], [X, A.axis('axis'), A.configTensor('index', { arrayOk: true }), A.tensor('src')]),

  // norms, attention, losses
  fn('layerNorm', () => [t(2, 4), t(4), t(4), 1e-5], [X, A.tensor('weight', { optional: true, nullable: true }), A.tensor('bias', { optional: true, nullable: true }), A.real('eps', { optional: true })]),
  fn('rmsNorm', () => [t(2, 4), t(4), 1e-5], [X, A.tensor('weight', { optional: true, nullable: true }), A.real('eps', { optional: true })]),
  fn('attention', () => [t(1, 3, 4), t(1, 3, 4), t(1, 3, 4), { causal: true }], [
    A.tensor('q'), A.tensor('k'), A.tensor('v'),
    A.options('options', { mask: A.tensor('mask', { nullable: true }), causal: A.bool('causal'), window: A.size('window', { infinityOk: true }), scale: A.real('scale') }), // window ∞: unbounded
  ]),
  fn('crossEntropy', () => [t(3, 4), ints([0, 3, 1]), { reduction: 'mean' }], [
    A.tensor('logits'), A.configTensor('targets', { arrayOk: true }),
    A.options('options', { ignoreIndex: A.int('ignoreIndex'), labelSmoothing: A.real('labelSmoothing'), reduction: A.enum('reduction') }),
  ]),
  fn('mseLoss', () => [t(2, 3), t64([2, 3]).cast('float32'), { reduction: 'mean' }], [A.tensor('a'), A.tensor('b'), A.options('options', { reduction: A.enum('reduction') })]),

  // modules and optimizers
  cls('Parameter', () => [new Float32Array([1, 2]), [2]], [A.bytes('data'), A.shape('shape')]),
  cls('Module', () => [], [], [
    method('loadStateDict', () => [{ w: zeros([2, 2]) }, { strict: true }], [A.object('state'), A.options('options', { strict: A.bool('strict') })]),
    method('to', () => ['float64'], [A.enum('dtype')]),
    method('train', () => [true], [A.bool('mode', { optional: true })]),
    method('namedParameters', () => ['m.'], [A.string('prefix', { optional: true })]),
    method('stateDict', () => [], []),
  ], TinyModule),
  cls('Optimizer', () => [withGrads(), 0.1], [A.object('params'), A.real('lr')], [method('step', () => [], []), method('zeroGrad', () => [], [])], TinyOptimizer),
  cls('SGD', () => [withGrads(), { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0 }], [
    A.object('params'),
    A.options('options', { lr: A.real('lr', { required: true }), momentum: A.real('momentum'), dampening: A.real('dampening'), nesterov: A.bool('nesterov'), weightDecay: A.real('weightDecay') }, { optional: false }),
  ], [method('step', () => [], [])]),
  cls('Adam', () => [withGrads(), { lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 }], [
    A.object('params'), A.options('options', { lr: A.real('lr'), betas: A.reals('betas'), eps: A.real('eps'), weightDecay: A.real('weightDecay') }),
  ], [method('step', () => [], [])]),
  cls('AdamW', () => [withGrads(), { lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 }], [
    A.object('params'), A.options('options', { lr: A.real('lr'), betas: A.reals('betas'), eps: A.real('eps'), weightDecay: A.real('weightDecay') }),
  ], [method('step', () => [], [])]),
  fn('clipGradNorm', () => [withGrads(), 1], [A.object('params'), A.real('maxNorm')]),
  fn('warmupCosineLr', () => [5, { maxLr: 1e-3, warmupSteps: 2, totalSteps: 10, minLr: 0 }], [
    A.int('step'),
    A.options('options', { maxLr: A.real('maxLr', { required: true }), warmupSteps: A.size('warmupSteps', { required: true }), totalSteps: A.size('totalSteps', { required: true }), minLr: A.real('minLr') }, { optional: false }),
  ]),
];

