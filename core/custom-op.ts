/**
 * User-defined differentiable ops, in the manner of torch.autograd.Function, and functional gradients.
 *
 * `record` or `defineOp` — two ways to attach a backward rule:
 *   - `record(op, out, inputs, backward, { saved, differentiableBackward })` (core/autograd.ts) is how the library's
 *     own ops do it: the op computes `out` with whatever loops it likes, then records the rule right after. Use it
 *     inside ropelab for an op with a hand-written rule (`applyRotary` in positional/rope.ts; core's own ops call its
 *     unchecked twin `recordOp`, since they build every argument themselves): it lets the op say which tensors the rule reads (`saved`, checked against later in-place writes;
 *     `[]` for rules that read no values) and whether the rule is itself built from differentiable ops
 *     (`differentiableBackward`, so second derivatives flow through it).
 *   - `defineOp({ name, forward, backward })` (this file) is for users' custom ops: forward runs without a graph and
 *     returns { output, saved }, every input is checked to be a Tensor under `name`, and the output is always a fresh
 *     node. Its rule is taken to read every input and the output (their in-place writes are refused), and to be
 *     non-differentiable unless `differentiableBackward` says so. Inside the library prefer `record`, which can say
 *     exactly what the rule reads; a fused kernel whose forward and backward share state may still use `defineOp`
 *     (nn/path-attention.ts's block softmax).
 */
import { describeValue, expectBoolean, expectFunction, expectOptions, expectTensor } from './args.js';
import { enableGrad, gradientsOf, isGradEnabled, noGrad, recordOp } from './autograd.js';
import { DTypeError, ShapeError } from './errors.js';
import { fmtShape } from './shape.js';
import { Tensor } from './tensor.js';

/** An op defined by its forward and backward functions, for `defineOp`; `S` is what forward saves for backward. */
export interface CustomOpDefinition<S> {
  /** Shown in error messages and gradient-shape checks. */
  name: string;
  /** Compute the output from the inputs (no graph is recorded here) and whatever backward needs. */
  forward(...inputs: Tensor[]): { output: Tensor; saved: S };
  /** One gradient per input (null where none): dL/d(input) given dL/d(output) and what forward saved. */
  backward(grad: Tensor, saved: S, needsInputGrad: readonly boolean[]): ReadonlyArray<Tensor | null>;
  /**
   * Set when `backward` computes only with Tensor ops (no writes to `.data`): then a `createGraph` backward records
   * it and second derivatives flow through. Default false: differentiating the op twice throws an AutogradError.
   */
  differentiableBackward?: boolean;
}

/**
 * Turn a forward/backward pair into a differentiable op. Check it with `gradcheck`.
 *
 *   const cube = defineOp({ name: 'cube', forward: (x) => ({ output: x.mul(x).mul(x), saved: x }),
 *                           backward: (g, x) => [g.mul(x.square()).mul(3)] });
 */
export function defineOp<S>(definition: CustomOpDefinition<S>): (...inputs: Tensor[]) => Tensor {
  if (definition === undefined) throw new DTypeError('defineOp', 'definition must be an object { name, forward, backward }, got undefined', 'definition');
  expectOptions('defineOp', 'definition', definition, ['name', 'forward', 'backward', 'differentiableBackward']);
  if (typeof definition.name !== 'string' || definition.name === '') {
    throw new DTypeError('defineOp', `definition.name must be a non-empty string, got ${describeValue(definition.name)}`, 'definition.name');
  }
  for (const key of ['forward', 'backward'] as const) {
    if (typeof definition[key] !== 'function') throw new DTypeError('defineOp', `definition.${key} must be a function, got ${describeValue(definition[key])}`, `definition.${key}`);
  }
  const differentiableBackward = expectBoolean('defineOp', 'definition.differentiableBackward', definition.differentiableBackward ?? false);
  return (...inputs: Tensor[]): Tensor => {
    inputs.forEach((x, i) => expectTensor(definition.name, `input ${i}`, x));
    const { output, saved } = noGrad(() => definition.forward(...inputs));
    if (!(output instanceof Tensor)) throw new DTypeError(definition.name, 'forward must return { output: Tensor, saved }', 'forward');
    const result = new Tensor(output.data, output.shape); // a fresh node, even if forward returned an input
    const needs = inputs.map((x) => x.requiresGrad);
    return recordOp(definition.name, result, inputs, (g) => definition.backward(g, saved, needs), { differentiableBackward });
  };
}

/**
 * The gradients of a scalar-valued fn with respect to each of its inputs: grad(fn)(x, y) → [dfdx, dfdy].
 * Composable: inside another `grad` the gradients are recorded, so `grad((x) => grad(f)(x)[0]!)` (or simply
 * `grad(grad(f))` for a one-input f) gives second derivatives — through every op whose backward is built from
 * differentiable ops; a fused kernel's backward throws an AutogradError naming the op.
 */
export function grad(fn: (...inputs: Tensor[]) => Tensor | readonly Tensor[]): (...inputs: Tensor[]) => Tensor[] {
  expectFunction('grad', 'fn', fn);
  return (...inputs: Tensor[]) => gradAndValue('grad', fn, inputs).grads;
}

/** The value of a scalar-valued fn together with its gradients (composable as `grad` is). */
export function valueAndGrad(fn: (...inputs: Tensor[]) => Tensor | readonly Tensor[]): (...inputs: Tensor[]) => { value: Tensor; grads: Tensor[] } {
  expectFunction('valueAndGrad', 'fn', fn);
  return (...inputs: Tensor[]) => gradAndValue('valueAndGrad', fn, inputs);
}

/**
 * Each input becomes a fresh leaf — or, when an enclosing `grad` is differentiating it, an identity of it, so the
 * gradients computed here (with `createGraph`) stay connected to the enclosing computation.
 */
function gradAndValue(op: string, fn: (...inputs: Tensor[]) => Tensor | readonly Tensor[], inputs: readonly Tensor[]): { value: Tensor; grads: Tensor[] } {
  inputs.forEach((x, i) => expectTensor(op, `inputs[${i}]`, x));
  const nested = isGradEnabled() && inputs.some((x) => x.requiresGrad);
  const leaves = inputs.map((x) =>
    nested && x.requiresGrad ? recordOp('grad input', new Tensor(x.data, x.shape), [x], (g) => [g], { saved: [], differentiableBackward: true }) : new Tensor(x.data, x.shape, true),
  );
  const returned = enableGrad(() => fn(...leaves));
  const value = Array.isArray(returned) && returned.length === 1 ? returned[0] : returned;
  if (!(value instanceof Tensor) || value.size !== 1) {
    const got = value instanceof Tensor ? fmtShape(value.shape) : describeValue(value);
    throw new ShapeError(op, `fn must return a single-element tensor, got ${got} (reduce it, e.g. with sum)`, 'fn');
  }
  const found = value.requiresGrad ? gradientsOf(op, value, leaves, { createGraph: nested }) : leaves.map(() => null);
  const grads = leaves.map((x, i) => found[i] ?? new Tensor(x.data.slice().fill(0), x.shape));
  return { value: nested ? value : value.detach(), grads };
}
