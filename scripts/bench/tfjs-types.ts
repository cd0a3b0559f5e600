/**
 * The part of TF.js 4.x that the benchmarks use, typed here so that the bench code type-checks without TF.js
 * installed: TF.js is a benchmark peer, not a dependency (`npm run peers:install` adds it; see harness.ts). The
 * signatures follow @tensorflow/tfjs-core 4.22's .d.ts, narrowed to the calls made here; loadTf checks at run time
 * that every function named below exists, so a renamed export fails loudly instead of as `undefined is not a function`.
 */

/** A TF.js tensor (any rank): what the benchmarks read from one. */
export interface TfTensor {
  readonly shape: number[];
  readonly dtype: string;
  /** The values, once every pending op has run (TF.js's default numeric reading: Float32Array for float32). */
  data<D extends 'float32' | 'int32' = 'float32'>(): Promise<TfDataTypeMap[D]>;
  dataSync<D extends 'float32' | 'int32' = 'float32'>(): TfDataTypeMap[D];
  dispose(): void;
}

export interface TfDataTypeMap {
  float32: Float32Array;
  int32: Int32Array;
}

/** A rank-0 tensor: TF.js types it apart, the benchmarks need no more than a tensor. */
export type TfScalar = TfTensor;

export interface TfVariable extends TfTensor {
  readonly name: string;
  assign(value: TfTensor): void;
}

/** `save` of tf.customGrad: keeps tensors for the gradient function. */
export type TfGradSaveFunc = (save: TfTensor[]) => void;

/** Values TF.js copies into a new tensor (tf.tensor also takes a Float64Array and converts it to float32). */
export type TfValues = Float32Array | Int32Array | Uint8Array | number[];

/** A tensor or a number where TF.js broadcasts a scalar. */
export type TfOperand = TfTensor | number;

export interface TfOptimizer {
  applyGradients(gradients: { name: string; tensor: TfTensor }[] | Record<string, TfTensor>): void;
  dispose(): void;
}

/** @tensorflow/tfjs-core, as far as the benchmarks call it. */
export interface TfCore {
  readonly version_core: string;
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  getBackend(): string;
  env(): { getBool(flag: string): boolean };
  engine(): object;
  enableProdMode(): void;

  tensor(values: TfValues | Float64Array, shape?: number[]): TfTensor;
  tensor1d(values: TfValues, dtype?: 'float32' | 'int32'): TfTensor;
  tensor2d(values: TfValues, shape: [number, number]): TfTensor;
  ones(shape: number[]): TfTensor;
  randomNormal(shape: number[], mean?: number, stdDev?: number, dtype?: 'float32' | 'int32', seed?: number): TfTensor;
  variable(initial: TfTensor, trainable?: boolean, name?: string): TfVariable;

  add(a: TfOperand, b: TfOperand): TfTensor;
  sub(a: TfOperand, b: TfOperand): TfTensor;
  mul(a: TfOperand, b: TfOperand): TfTensor;
  div(a: TfOperand, b: TfOperand): TfTensor;
  pow(base: TfOperand, exp: TfOperand): TfTensor;
  neg(x: TfTensor): TfTensor;
  exp(x: TfTensor): TfTensor;
  tanh(x: TfTensor): TfTensor;
  rsqrt(x: TfTensor): TfTensor;
  sum(x: TfTensor, axis?: number | number[], keepDims?: boolean): TfTensor;
  moments(x: TfTensor, axis?: number | number[], keepDims?: boolean): { mean: TfTensor; variance: TfTensor };
  softmax(logits: TfTensor, dim?: number): TfTensor;
  logSoftmax(logits: TfTensor, axis?: number): TfTensor;
  matMul(a: TfTensor, b: TfTensor, transposeA?: boolean, transposeB?: boolean): TfTensor;
  transpose(x: TfTensor, perm?: number[]): TfTensor;
  reshape(x: TfTensor, shape: number[]): TfTensor;
  split(x: TfTensor, numOrSizeSplits: number | number[], axis?: number): TfTensor[];
  concat(tensors: TfTensor[], axis?: number): TfTensor;
  slice(x: TfTensor, begin: number | number[], size?: number | number[]): TfTensor;
  cast(x: TfTensor, dtype: 'float32' | 'int32'): TfTensor;
  oneHot(indices: TfTensor, depth: number): TfTensor;
  readonly linalg: { bandPart(a: TfTensor, numLower: number, numUpper: number): TfTensor };

  tidy<T extends TfTensor | TfTensor[]>(fn: () => T): T;
  dispose(container: TfTensor | TfTensor[]): void;
  customGrad(
    f: (...inputs: (TfTensor | TfGradSaveFunc)[]) => { value: TfTensor; gradFunc: (dy: TfTensor, saved: TfTensor[]) => TfTensor | TfTensor[] },
  ): (...args: TfTensor[]) => TfTensor;
  valueAndGrads(f: (...args: TfTensor[]) => TfTensor): (args: TfTensor[], dy?: TfTensor) => { value: TfTensor; grads: TfTensor[] };
  variableGrads(f: () => TfScalar, varList?: TfVariable[]): { value: TfScalar; grads: Record<string, TfTensor> };
  readonly train: { adam(learningRate?: number, beta1?: number, beta2?: number, epsilon?: number): TfOptimizer };
}

/** The @tensorflow/tfjs umbrella: tfjs-core plus the registered gradients, and every package's version. */
export interface TfUmbrella extends TfCore {
  readonly version: { readonly tfjs: string };
}

/** The functions of TfCore, checked by name when TF.js loads. */
export const TF_CORE_FUNCTIONS = [
  'setBackend', 'ready', 'getBackend', 'env', 'engine', 'enableProdMode', 'tensor', 'tensor1d', 'tensor2d', 'ones',
  'randomNormal', 'variable', 'add', 'sub', 'mul', 'div', 'pow', 'neg', 'exp', 'tanh', 'rsqrt', 'sum', 'moments',
  'softmax', 'logSoftmax', 'matMul', 'transpose', 'reshape', 'split', 'concat', 'slice', 'cast', 'oneHot', 'tidy',
  'dispose', 'customGrad', 'valueAndGrads', 'variableGrads',
] as const satisfies readonly (keyof TfCore)[];
