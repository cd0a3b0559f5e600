/**
 * Parameter initialisers. Each checks its arguments at the entry (so an error names the initialiser the user
 * called, not `rand` or `full`) and draws from the Generator it is given.
 */
import {
  DTypeError, Module, Parameter, describeValue, expectGenerator, expectNumber, expectShape, full, rand, randn,
  expectRequiredOptions, expectSize, optionalDType, type DType, type Generator, type Shape,
} from '../core/index.js';
import { Linear } from './linear.js'; // a cycle (Linear draws with the initialisers above) that is safe: each is used only when called

/** Options of `uniformParameter`: `bound`, `generator`, `dtype`. */
export interface UniformParameterOptions {
  /** Entries are drawn from U(−bound, bound); bound ≥ 0. */
  bound: number;
  generator: Generator;
  /** Default 'float32'. */
  dtype?: DType;
}

/** U(−bound, bound): PyTorch's Linear init uses bound = 1/√fanIn (kaiming_uniform with a = √5). shape: any sizes. */
export function uniformParameter(shape: Shape, options: UniformParameterOptions): Parameter {
  return drawnParameter('uniformParameter', shape, options, 'bound', (spread, generator, dtype) => rand(shape, { low: -spread, high: spread, generator, dtype }));
}

/** Options of `normalParameter`: `std`, `generator`, `dtype`. */
export interface NormalParameterOptions {
  /** Entries are drawn from N(0, std²); std ≥ 0. */
  std: number;
  generator: Generator;
  /** Default 'float32'. */
  dtype?: DType;
}

/** N(0, std²). shape: any sizes. */
export function normalParameter(shape: Shape, options: NormalParameterOptions): Parameter {
  return drawnParameter('normalParameter', shape, options, 'std', (spread, generator, dtype) => randn(shape, { std: spread, generator, dtype }));
}

/** The two random initialisers: check shape, the spread (`bound` or `std`, ≥ 0), generator and dtype, then draw. */
function drawnParameter<K extends 'bound' | 'std'>(
  op: string,
  shape: Shape,
  options: Record<K, number> & { generator: Generator; dtype?: DType },
  spreadKey: K,
  draw: (spread: number, generator: Generator, dtype: DType) => { data: Float32Array | Float64Array },
): Parameter {
  const o = expectRequiredOptions(op, options, [spreadKey, 'generator', 'dtype'], `with ${spreadKey} and generator`);
  expectShape(op, 'shape', shape);
  const spread = expectNumber(op, spreadKey, o[spreadKey], { min: 0, max: Number.MAX_VALUE / 2 });
  expectGenerator(op, 'generator', o.generator);
  return new Parameter(draw(spread, o.generator, optionalDType(op, 'dtype', o.dtype) ?? 'float32').data, shape);
}

/** Every entry `value` (any number, NaN included: it is data). shape: any sizes. */
export function constantParameter(shape: Shape, value: number, dtype: DType = 'float32'): Parameter {
  const op = 'constantParameter';
  expectShape(op, 'shape', shape);
  expectNumber(op, 'value', value, { nonFinite: true });
  const dt = optionalDType(op, 'dtype', dtype);
  return new Parameter(full(shape, value, { dtype: dt }).data, shape);
}

function expectRegExp(op: string, arg: string, x: unknown): asserts x is RegExp {
  if (!(x instanceof RegExp)) throw new DTypeError(op, `${arg} must be a RegExp over dotted parameter names, got ${describeValue(x)}`, arg);
}

/** Options of `gpt2Init`: `numLayers`, `generator`, `select`. */
export interface GPT2InitOptions {
  /** L, the number of residual blocks (≥ 1): residual projections get std 0.02/√(2L). */
  numLayers: number;
  generator: Generator;
  /** Which weight matrices (by dotted parameter name) are drawn; the others keep their values. */
  select: RegExp;
}

/**
 * GPT-2 init (Radford et al. 2019, §2.3) in place: every weight matrix whose dotted name matches `select` is drawn
 * from N(0, 0.02²), in `namedParameters()` order, except the weights of Linears marked `residualProjection` (set by
 * the block that adds their output to the residual stream), drawn from N(0, (0.02/√(2L))²) so that the residual
 * stream's variance does not grow with depth. L = numLayers ≥ 1.
 */
export function gpt2Init(model: Module, options: GPT2InitOptions): void {
  const op = 'gpt2Init';
  if (!(model instanceof Module)) throw new DTypeError(op, `model must be a Module, got ${describeValue(model)}`, 'model');
  const { numLayers, generator, select } = expectRequiredOptions(op, options, ['numLayers', 'generator', 'select'], 'with numLayers, generator and select');
  expectSize(op, 'numLayers', numLayers);
  expectGenerator(op, 'generator', generator);
  expectRegExp(op, 'select', select);
  const residual = new Set<Parameter>();
  const mark = (m: Module): void => {
    if (m instanceof Linear && m.residualProjection) residual.add(m.weight);
    m.children().forEach(mark);
  };
  mark(model);
  const residualStd = 0.02 / Math.sqrt(2 * numLayers);
  for (const [name, p] of model.namedParameters()) {
    if (p.ndim !== 2 || !select.test(name)) continue;
    const std = residual.has(p) ? residualStd : 0.02;
    for (let i = 0; i < p.size; i++) p.data[i] = std * generator.normal();
    p.markModified();
  }
}
