/**
 * gradcheck with PyTorch's contract (torch/autograd/gradcheck.py): in float64, for every differentiable
 * (output, input) pair, the Jacobian built from backward with one-hot upstream gradients must match central
 * differences (f(x + ε) − f(x − ε)) / 2ε elementwise within atol + rtol·|numerical|. Backward must also be
 * reentrant (same result twice) and linear in the upstream gradient (zero in, zero out).
 */
import { noGrad } from './autograd.js';
import { describeValue, expectNumber, expectOptions } from './args.js';
import { DTypeError, GradcheckError, ShapeError, ValueError } from './errors.js';
import { fmtShape, shapesEqual, stridesOf, type Shape } from './shape.js';
import { Tensor } from './tensor.js';

/** Options of `gradcheck`: `eps`, `atol`, `rtol`. */
export interface GradcheckOptions {
  /** Finite-difference step. Default 1e-6. */
  eps?: number;
  /** Absolute tolerance. Default 1e-5. */
  atol?: number;
  /** Relative tolerance (times |numerical|). Default 1e-3. */
  rtol?: number;
}

type Outputs = Tensor | readonly Tensor[];

/** Throws `GradcheckError` naming the output, input and element at fault; returns true when every pair agrees. */
export function gradcheck(fn: (...inputs: Tensor[]) => Outputs, inputs: readonly Tensor[], options?: GradcheckOptions): true {
  const op = 'gradcheck';
  if (typeof fn !== 'function') throw new DTypeError(op, `fn must be a function of the inputs, got ${describeValue(fn)}`, 'fn');
  if (!Array.isArray(inputs)) throw new DTypeError(op, `inputs must be an array of Tensors, got ${describeValue(inputs)}`, 'inputs');
  const opts = expectOptions(op, 'options', options, ['eps', 'atol', 'rtol']);
  const eps = opts.eps === undefined ? 1e-6 : expectNumber(op, 'eps', opts.eps, { above: 0 });
  const atol = opts.atol === undefined ? 1e-5 : expectNumber(op, 'atol', opts.atol, { min: 0 });
  const rtol = opts.rtol === undefined ? 1e-3 : expectNumber(op, 'rtol', opts.rtol, { min: 0 });
  inputs.forEach((x: unknown, i) => {
    if (!(x instanceof Tensor)) throw new DTypeError(op, `inputs[${i}] must be a Tensor, got ${describeValue(x)}`, `inputs[${i}]`);
    if (x.requiresGrad && x.dtype !== 'float64') {
      throw new DTypeError('gradcheck', `inputs[${i}] is ${x.dtype}; finite differences need float64 (cast it)`, `inputs[${i}]`);
    }
  });
  const checked = inputs.map((_, i) => i).filter((i) => inputs[i]!.requiresGrad);
  if (checked.length === 0) throw new ValueError('gradcheck', 'no input has requiresGrad (nothing to check)', 'inputs');

  const run = (xs: readonly Tensor[]): Tensor[] => {
    const out: unknown = fn(...xs);
    if (out instanceof Tensor) return [out];
    if (!Array.isArray(out) || out.length === 0 || !out.every((o) => o instanceof Tensor)) {
      throw new DTypeError(op, `fn must return a Tensor or a non-empty array of Tensors, got ${describeValue(out)}`, 'fn');
    }
    return [...(out as Tensor[])];
  };

  // numerical Jacobians: numeric[j][o] is [input size × output size], perturbing inputs in place (fn may reach a leaf
  // by closure, so the tensor itself is perturbed). Each element is restored to its exact bits before the next, and
  // no graph is recorded meanwhile, so the storage version is left as it was: a graph saved before gradcheck stays valid.
  const base = noGrad(() => run(inputs.map((x) => x.detach())));
  const numeric = checked.map((j) => {
    const x = inputs[j]!;
    const cols = base.map((o) => new Float64Array(x.size * o.size));
    for (let e = 0; e < x.size; e++) {
      const orig = x.data[e]!;
      // outputs are copied before the next perturbation: a view (reshape, identity) shares the input's buffer
      x.data[e] = orig + eps;
      const plus = noGrad(() => run(inputs.map((t) => t.detach()))).map(snapshot);
      x.data[e] = orig - eps;
      const minus = noGrad(() => run(inputs.map((t) => t.detach()))).map(snapshot);
      x.data[e] = orig;
      plus.forEach((p, o) => {
        if (!shapesEqual(p.shape, base[o]!.shape)) {
          throw new ShapeError('gradcheck', `output ${o} changed shape from ${fmtShape(base[o]!.shape)} to ${fmtShape(p.shape)} when inputs[${j}] was perturbed`);
        }
        const col = cols[o]!;
        const size = base[o]!.size;
        for (let k = 0; k < size; k++) col[e * size + k] = (p.data[k]! - minus[o]!.data[k]!) / (2 * eps);
      });
    }
    return cols;
  });

  // analytical Jacobians, one backward per output element through one retained graph. Leaf inputs are used
  // themselves, so fn may also reach them by closure (a module's parameters); their .grad is restored after.
  const leaves = inputs.map((x) => (x.gradNode === null ? x : new Tensor(x.data, x.shape, x.requiresGrad)));
  const savedGrads = leaves.map((x) => x.grad);
  try {
    compareAnalytical(run(leaves), leaves, inputs, checked, numeric, atol, rtol);
  } finally {
    leaves.forEach((x, i) => (x.grad = savedGrads[i]!));
  }
  return true;
}

/** Backward with one-hot seeds through each output; every entry must match numeric[c][o] (see gradcheck). */
function compareAnalytical(
  outs: readonly Tensor[],
  leaves: readonly Tensor[],
  inputs: readonly Tensor[],
  checked: readonly number[],
  numeric: readonly Float64Array[][],
  atol: number,
  rtol: number,
): void {
  outs.forEach((out, o) => {
    if (!out.requiresGrad) {
      numeric.forEach((cols, c) => {
        const bad = cols[o]!.findIndex((v) => Math.abs(v) > atol);
        if (bad >= 0) {
          throw failure(o, checked[c]!, Math.floor(bad / out.size), bad % out.size, inputs, outs, cols[o]![bad]!, 0, 'output does not require grad but depends on the input');
        }
      });
      return;
    }
    for (let k = 0; k < out.size; k++) {
      const seed = new Tensor(new Float64Array(out.size), out.shape);
      seed.data[k] = 1;
      const grads = backwardOnce(out, seed, leaves);
      checked.forEach((j, c) => {
        const gj = grads[j];
        const x = inputs[j]!;
        for (let e = 0; e < x.size; e++) {
          const analytical = gj === null ? 0 : gj.data[e]!;
          const numerical = numeric[c]![o]![e * out.size + k]!;
          if (!(Math.abs(analytical - numerical) <= atol + rtol * Math.abs(numerical))) {
            throw failure(o, j, e, k, inputs, outs, numerical, analytical, 'Jacobian mismatch');
          }
        }
      });
      if (k === 0) {
        const again = backwardOnce(out, seed, leaves);
        checked.forEach((j) => {
          const [a, b] = [grads[j], again[j]];
          if (a !== null && b !== null && a!.data.some((v, e) => v !== b!.data[e])) {
            throw new GradcheckError(`backward is not reentrant: two runs for output ${o} gave different gradients for input ${j}`, { inputIndex: j, outputIndex: o, element: 0 });
          }
        });
        const zero = backwardOnce(out, new Tensor(new Float64Array(out.size), out.shape), leaves);
        checked.forEach((j) => {
          const z = zero[j];
          if (z !== null && z !== undefined && z.data.some((v) => v !== 0)) {
            throw new GradcheckError(`backward is not linear in the upstream gradient: a zero grad for output ${o} gave a non-zero gradient for input ${j}`, { inputIndex: j, outputIndex: o, element: 0 });
          }
        });
      }
    }
  });
}

function snapshot(t: Tensor): Tensor {
  return new Tensor(t.data.slice(), t.shape);
}

function backwardOnce(out: Tensor, seed: Tensor, leaves: readonly Tensor[]): (Tensor | null)[] {
  for (const x of leaves) x.grad = null;
  out.backward(seed, { retainGraph: true });
  return leaves.map((x) => (x.grad === null ? null : x.grad));
}

function unravel(i: number, shape: Shape): string {
  const strides = stridesOf(shape);
  return `[${strides.map((s, d) => Math.floor(i / s) % shape[d]!).join(',')}]`;
}

function failure(o: number, j: number, e: number, k: number, inputs: readonly Tensor[], outs: readonly Tensor[], numerical: number, analytical: number, what: string): GradcheckError {
  const x = inputs[j]!;
  const out = outs[o]!;
  return new GradcheckError(
    `${what} for output ${o}${fmtShape(out.shape)} element ${unravel(k, out.shape)} with respect to input ${j}${fmtShape(x.shape)} element ${unravel(e, x.shape)} — numerical ${numerical}, analytical ${analytical}`,
    { inputIndex: j, outputIndex: o, element: e },
  );
}
