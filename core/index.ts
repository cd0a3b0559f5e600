/** Public surface of core/: tensors, ops, autograd, gradcheck, randomness and optimizers. */
export type { DType, TypedArray } from './dtype.js';
export { AutogradError, AxisError, DTypeError, GradcheckError, IndexError, ShapeError, ValueError, type ErrorInfo } from './errors.js';
export {
  asPartOf, describeValue, expectAllocatable, expectBoolean, expectFunction, expectGenerator, expectFiniteValues, expectInteger, expectNumber, expectOneOf, expectOptions,
  expectPositions, expectRequiredOptions, expectShape, expectSize, expectTensor, expectTensorLike, MAX_TENSOR_ELEMENTS, optionalDType, optionalGenerator,
  type NumberRule,
} from './args.js';
export { broadcastShapes, checkedFmtShape as fmtShape, checkedSizeOf as sizeOf, checkedStridesOf as stridesOf, type Shape } from './shape.js';
export { defaultGenerator, Generator, manualSeed } from './random.js';
export { Tensor, type NestedArray, type TensorLike } from './tensor.js';
export {
  arange, eye, fromArray, full, linspace, ones, onesLike, rand, randint, randn, tensor, zeros, zerosLike,
  type RandomOptions, type TensorOptions,
} from './creation.js';
export { enableGrad, isGradEnabled, noGrad, record, type BackwardFn, type BackwardOptions, type GradNode, type RecordOptions } from './autograd.js';
export { defineOp, grad, valueAndGrad, type CustomOpDefinition } from './custom-op.js';
export { gradcheck, type GradcheckOptions } from './gradcheck.js';
export { specialize } from './kernels/elementwise.js';
export {
  abs, add, cast, clamp, clone, cos, div, dropout, eq, exp, ge, gelu, gt, le, log, lt, maximum, minimum, mul, ne, neg,
  pow, reciprocal, relu, rsqrt, sigmoid, silu, sin, softplus, sqrt, square, sub, tanh, where,
  type DropoutOptions, type GeluApproximation,
} from './ops/elementwise.js';
export { argmax, argmin, cumsum, logsumexp, max, mean, min, sum, variance, type Axes, type CumsumOptions, type VarOptions } from './ops/reduce.js';
export { logSoftmax, softmax } from './ops/softmax.js';
export { matmul, type MatmulOptions } from './ops/matmul.js';
export { backendNames, getBackend, getBackendOptions, getNumThreads, prepareBackend, releaseBackend, setBackend, setNumThreads } from './backend.js';
export type { BackendOptions, PrepareOptions } from './backend.js';
export { backendKernels, type RotateKernel, type RotaryLayout } from './backend.js';
export {
  concat, expand, flatten, flip, narrow, pad, permute, reshape, slice, split, squeeze, stack, transpose, tril, triu, unsqueeze,
  type SliceRange,
} from './ops/movement.js';
export { gather, indexSelect, scatterAdd, type IndexLike } from './ops/indexing.js';
export { layerNorm, rmsNorm } from './ops/norm.js';
export { attention, type AttentionOptions } from './ops/attention.js';
export { unitLowerInverse } from './ops/triangular.js';
export { crossEntropy, mseLoss, type CrossEntropyOptions, type Reduction } from './ops/loss.js';
export { cholesky, kmeans, qr, svd, symmetricEigenvalues, type CholeskyOptions, type KMeansOptions, type KMeansResult, type QR, type QROptions, type SVD, type SymmetricEigenOptions } from './linalg.js';
export { Module, Parameter, type LoadStateDictOptions, type LoadStateDictResult } from './module.js';
export { Adam, AdamW, clipGradNorm, Optimizer, SGD, warmupCosineLr, type AdamOptions, type OptimizerParams, type ParamGroup, type SGDOptions, type WarmupCosineOptions } from './optim.js';
