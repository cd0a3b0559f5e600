/** User-defined differentiable ops, in the manner of torch.autograd.Function, and functional gradients. */
import { enableGrad, noGrad, record } from './autograd.js';
import { DTypeError, ShapeError } from './errors.js';
import { fmtShape } from './shape.js';
import { Tensor } from './tensor.js';

export interface CustomOpDefinition<S> {
  /** Shown in error messages and gradient-shape checks. */
  name: string;
  /** Compute the output from the inputs (no graph is recorded here) and whatever backward needs. */
  forward(...inputs: Tensor[]): { output: Tensor; saved: S };
  /** One gradient per input (null where none): dL/d(input) given dL/d(output) and what forward saved. */
  backward(grad: Tensor, saved: S, needsInputGrad: readonly boolean[]): ReadonlyArray<Tensor | null>;
}

/**
 * Turn a forward/backward pair into a differentiable op. Check it with `gradcheck`.
 *
 *   const cube = defineOp({ name: 'cube', forward: (x) => ({ output: x.mul(x).mul(x), saved: x }),
 *                           backward: (g, x) => [g.mul(x.square()).mul(3)] });
 */
export function defineOp<S>(definition: CustomOpDefinition<S>): (...inputs: Tensor[]) => Tensor {
  return (...inputs: Tensor[]): Tensor => {
    inputs.forEach((x, i) => {
      if (!(x instanceof Tensor)) throw new DTypeError(definition.name, `input ${i} must be a Tensor, got ${typeof x}`, `input ${i}`);
    });
    const { output, saved } = noGrad(() => definition.forward(...inputs));
    if (!(output instanceof Tensor)) throw new DTypeError(definition.name, 'forward must return { output: Tensor, saved }', 'forward');
    const result = new Tensor(output.data, output.shape); // a fresh node, even if forward returned an input
    const needs = inputs.map((x) => x.requiresGrad);
    return record(definition.name, result, inputs, (g) => definition.backward(g, saved, needs));
  };
}

/** The gradients of a scalar-valued fn with respect to each of its inputs: grad(fn)(x, y) → [dfdx, dfdy]. */
export function grad(fn: (...inputs: Tensor[]) => Tensor): (...inputs: Tensor[]) => Tensor[] {
  return (...inputs: Tensor[]) => valueAndGrad(fn)(...inputs).grads;
}

/** The value of a scalar-valued fn together with its gradients. */
export function valueAndGrad(fn: (...inputs: Tensor[]) => Tensor): (...inputs: Tensor[]) => { value: Tensor; grads: Tensor[] } {
  return (...inputs: Tensor[]) => {
    const leaves = inputs.map((x) => new Tensor(x.data, x.shape, true));
    const value = enableGrad(() => fn(...leaves));
    if (!(value instanceof Tensor) || value.size !== 1) {
      const got = value instanceof Tensor ? fmtShape(value.shape) : typeof value;
      throw new ShapeError('grad', `fn must return a single-element tensor, got ${got} (reduce it, e.g. with sum)`, 'fn');
    }
    if (value.requiresGrad) value.backward();
    const grads = leaves.map((x) => x.grad ?? new Tensor(x.data.slice().fill(0), x.shape));
    return { value: value.detach(), grads };
  };
}
