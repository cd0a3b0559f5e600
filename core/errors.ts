/**
 * Typed errors. Every message follows one format:
 *   `op: what is wrong — arg=[shape] (rule)`
 * e.g. `add: cannot broadcast a=[2,3] with b=[4,3] — dim -2 is 2 vs 4 (sizes must match or be 1)`.
 */
/**
 * What every typed error carries besides its message: the op the user called and, when one argument is at fault, its
 * name.
 */
export interface ErrorInfo {
  /** The public op that rejected its input. */
  readonly op: string;
  /** The argument at fault, as named in the op's signature (if one argument is). */
  readonly arg?: string;
}

/** One typed error class on a built-in base (so `instanceof RangeError` / `TypeError` still hold). */
function opErrorClass(Base: RangeErrorConstructor | TypeErrorConstructor, name: string) {
  const OpError = class extends (Base as new (message: string) => Error) implements ErrorInfo {
    readonly op: string;
    readonly arg?: string;
    constructor(op: string, message: string, arg?: string) {
      super(`${op}: ${message}`);
      this.name = name;
      this.op = op;
      if (arg !== undefined) this.arg = arg;
    }
  };
  Object.defineProperty(OpError, 'name', { value: name });
  return OpError;
}

/** A shape is wrong: cannot broadcast, reshape, multiply, concatenate, … */
export const ShapeError = opErrorClass(RangeError, 'ShapeError');
export type ShapeError = InstanceType<typeof ShapeError>;

/** A dtype is wrong or two dtypes do not agree. */
export const DTypeError = opErrorClass(TypeError, 'DTypeError');
export type DTypeError = InstanceType<typeof DTypeError>;

/** An axis (dim) index is out of range or repeated. */
export const AxisError = opErrorClass(RangeError, 'AxisError');
export type AxisError = InstanceType<typeof AxisError>;

/** A value argument is invalid (a probability outside [0, 1), a negative count, a non-integer index, …). */
export const ValueError = opErrorClass(RangeError, 'ValueError');
export type ValueError = InstanceType<typeof ValueError>;

/** An index lies outside the axis it indexes. */
export const IndexError = opErrorClass(RangeError, 'IndexError');
export type IndexError = InstanceType<typeof IndexError>;

/**
 * The autograd graph cannot answer: backward through a freed graph, a saved tensor modified in place after it was
 * recorded, or a second derivative through an op whose backward is not itself differentiable.
 */
export class AutogradError extends Error implements ErrorInfo {
  override readonly name = 'AutogradError';
  readonly op: string;
  readonly arg?: string;
  constructor(op: string, message: string, arg?: string) {
    super(`${op}: ${message}`);
    this.op = op;
    if (arg !== undefined) this.arg = arg;
  }
}

/** The analytical and numerical Jacobians disagree (see `gradcheck`). */
export class GradcheckError extends Error implements ErrorInfo {
  override readonly name = 'GradcheckError';
  readonly op = 'gradcheck';
  /** Index of the input whose Jacobian failed, and the flat element and output at fault. */
  readonly inputIndex: number;
  readonly outputIndex: number;
  readonly element: number;
  constructor(message: string, at: { inputIndex: number; outputIndex: number; element: number }) {
    super(`gradcheck: ${message}`);
    this.inputIndex = at.inputIndex;
    this.outputIndex = at.outputIndex;
    this.element = at.element;
  }
}
