/**
 * Module: the unit of model composition, in the manner of torch.nn.Module. Parameters and submodules are found
 * by walking the module's own properties in declaration order: a `Parameter` is a parameter, a `Module` is a
 * child, an array of modules is a list of children named `name.0`, `name.1`, …; so `namedParameters()` gives
 * dotted, stable names (`blocks.0.attn.wq.weight`) that checkpoints use.
 *
 * Why it lives in core/ and not in nn/: positional/ sits below nn/ (core ← positional ← nn ← models), and its
 * encodings are Modules — `PositionalEncoding`, the base of every encoding, extends Module so that learnable ones
 * (LearnedAbsolute's table, PSC's projections) hold Parameters — so the class must be in the one layer positional/
 * may import. Outside core/ it is imported one
 * way, from core/index.ts (nn/ and models/ included); tests/layering.test.ts enforces that.
 */
import { describeValue, expectBoolean, expectOptions, expectShape, expectTensor } from './args.js';
import { DTYPES, isDType, type DType, type TypedArray } from './dtype.js';
import { DTypeError, ShapeError, ValueError } from './errors.js';
import { fmtShape, type Shape } from './shape.js';
import { Tensor } from './tensor.js';

/** A trainable tensor: requiresGrad from birth, found by Module.parameters(). */
export class Parameter extends Tensor {
  /** Wrap `data` (a Float32Array or Float64Array, not copied) as a parameter of `shape`. */
  constructor(data: TypedArray, shape: Shape) {
    if (!(data instanceof Float32Array) && !(data instanceof Float64Array)) {
      throw new DTypeError('Parameter', `data must be a Float32Array or a Float64Array, got ${describeValue(data)}`, 'data');
    }
    const n = expectShape('Parameter', 'shape', shape);
    if (n !== data.length) throw new ShapeError('Parameter', `data has ${data.length} elements but shape=${fmtShape(shape)} needs ${n}`, 'shape');
    super(data, shape, true);
  }

  /** A parameter holding a copy of t's values. */
  static from(t: Tensor): Parameter {
    expectTensor('Parameter.from', 't', t);
    return new Parameter(t.data.slice(), t.shape);
  }
}

/** Options of `Module.loadStateDict`: `strict`. */
export interface LoadStateDictOptions {
  /** Require exactly the module's parameter names (default true). Non-strict loads what matches and reports the rest. */
  strict?: boolean;
}

/**
 * What a non-strict `Module.loadStateDict` reports: parameters the dict lacked (`missing`) and dict entries that name
 * no parameter (`unexpected`).
 */
export interface LoadStateDictResult {
  missing: string[];
  unexpected: string[];
}

/**
 * The base of every layer and model: finds its parameters and children by walking its own fields, switches train/eval,
 * and saves and loads state dicts by dotted parameter names.
 */
export abstract class Module {
  /** Training mode (dropout active, caches off); switch with train()/eval(). */
  training = true;

  /** Direct children with their attribute names, in declaration order. */
  namedChildren(): Array<[string, Module]> {
    const out: Array<[string, Module]> = [];
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof Module) out.push([key, value]);
      else if (Array.isArray(value) && value.length > 0 && value.every((v) => v instanceof Module)) {
        value.forEach((m: Module, i) => out.push([`${key}.${i}`, m]));
      }
    }
    return out;
  }

  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** All parameters with dotted names: own parameters first, then each child's, depth first. */
  namedParameters(prefix = ''): Array<[string, Parameter]> {
    if (typeof prefix !== 'string') throw new DTypeError('Module.namedParameters', `prefix must be a string, got ${describeValue(prefix)}`, 'prefix');
    const out: Array<[string, Parameter]> = [];
    const seen = new Set<Parameter>();
    const walk = (m: Module, path: string): void => {
      for (const [key, value] of Object.entries(m)) {
        if (value instanceof Parameter && !seen.has(value)) {
          seen.add(value);
          out.push([path + key, value]);
        }
      }
      for (const [name, child] of m.namedChildren()) walk(child, `${path}${name}.`);
    };
    walk(this, prefix === '' ? '' : `${prefix}.`);
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Number of scalar parameters. */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  train(mode = true): this {
    expectBoolean('Module.train', 'mode', mode);
    this.training = mode;
    for (const child of this.children()) child.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /** Parameters by dotted name (the tensors themselves, not copies). */
  stateDict(): Record<string, Tensor> {
    return Object.fromEntries(this.namedParameters());
  }

  /**
   * Copy values into the parameters in place (optimizers keep working). Validates every name, type, shape and data
   * length before writing anything, so a failed load never leaves a half-loaded model; then writes every matching
   * parameter and marks it modified (graphs recorded before the load refuse to backpropagate). dtypes convert on copy.
   */
  loadStateDict(state: Readonly<Record<string, Tensor>>, options?: LoadStateDictOptions): LoadStateDictResult {
    const op = 'Module.loadStateDict';
    if (state === null || typeof state !== 'object' || Array.isArray(state) || state instanceof Tensor || ArrayBuffer.isView(state)) {
      throw new DTypeError(op, `state must be an object of Tensors by parameter name, got ${describeValue(state)}`, 'state');
    }
    const opts = expectOptions(op, 'options', options, ['strict']);
    const strict = opts.strict === undefined ? true : expectBoolean(op, 'options.strict', opts.strict);
    const own = new Map(this.namedParameters());
    const missing = [...own.keys()].filter((k) => !Object.hasOwn(state, k));
    const unexpected = Object.keys(state).filter((k) => !own.has(k));
    if (strict && (missing.length > 0 || unexpected.length > 0)) {
      throw new ValueError(
        'loadStateDict',
        `names do not match — missing: [${missing.join(', ')}], unexpected: [${unexpected.join(', ')}] (pass { strict: false } to load the overlap)`,
        'state',
      );
    }
    // every check first: nothing is written unless every entry that would be loaded is valid
    const writes: Array<[Parameter, TypedArray]> = [];
    for (const [name, p] of own) {
      if (!Object.hasOwn(state, name)) continue;
      const src: unknown = state[name];
      if (!(src instanceof Tensor)) throw new DTypeError(op, `state['${name}'] must be a Tensor, got ${describeValue(src)}`, name);
      if (src.shape.length !== p.shape.length || src.shape.some((d, i) => d !== p.shape[i])) {
        throw new ShapeError(op, `${name}=${fmtShape(src.shape)} does not match the parameter's ${fmtShape(p.shape)}`, name);
      }
      const data: unknown = src.data;
      if (!(data instanceof Float32Array) && !(data instanceof Float64Array)) {
        throw new DTypeError(op, `state['${name}'].data must be a Float32Array or a Float64Array, got ${describeValue(data)}`, name);
      }
      if (data.length !== p.size) {
        throw new ShapeError(op, `state['${name}'] holds ${data.length} values but its shape ${fmtShape(src.shape)} needs ${p.size}`, name);
      }
      writes.push([p, data]);
    }
    for (const [p, data] of writes) {
      p.data.set(data);
      p.markModified();
    }
    return { missing, unexpected };
  }

  /** Convert every parameter to `dtype` (new Parameter objects, tied weights stay tied; build optimizers after). */
  to(dtype: DType): this {
    if (!isDType(dtype)) {
      throw new DTypeError('Module.to', `dtype must be one of ${DTYPES.map((d) => `'${d}'`).join(', ')}, got ${typeof dtype === 'string' ? `'${dtype}'` : describeValue(dtype)}`, 'dtype');
    }
    const converted = new Map<Parameter, Parameter>();
    const convert = (m: Module): void => {
      for (const [key, value] of Object.entries(m)) {
        if (!(value instanceof Parameter) || value.dtype === dtype) continue;
        let p = converted.get(value);
        if (p === undefined) {
          p = new Parameter(dtype === 'float64' ? Float64Array.from(value.data) : Float32Array.from(value.data), value.shape);
          converted.set(value, p);
        }
        (m as unknown as Record<string, unknown>)[key] = p;
      }
      for (const child of m.children()) convert(child);
    };
    convert(this);
    return this;
  }
}
