import { DTypeError, ShapeError, ValueError } from './errors.js';
import { addNew, sumToShape } from './kernels/reduce.js';
import { broadcastsTo, fmtShape, shapesEqual } from './shape.js';
import { Tensor } from './tensor.js';

/** Maps dL/d(output) to one gradient per input (null where an input needs none). */
export type BackwardFn = (grad: Tensor) => ReadonlyArray<Tensor | null>;

/** How a tensor was made: the op, its inputs and the rule that carries gradients back to them. */
export interface GradNode {
  readonly op: string;
  inputs: readonly Tensor[];
  backward: BackwardFn | null; // null once freed by a backward pass without retainGraph
}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Run `fn` without recording a graph (inference, optimizer updates, backward rules). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Run `fn` with graph recording on, even inside `noGrad`. */
export function enableGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = true;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Record that `out` was computed by `op` from `inputs`. Called by every differentiable op right after its forward;
 * `backward` closes over whatever the rule needs. Gradients may come back broadcast (the engine sums them down).
 */
export function record(op: string, out: Tensor, inputs: readonly Tensor[], backward: BackwardFn): Tensor {
  if (!gradEnabled) return out;
  let needed = false;
  for (const x of inputs) needed ||= x.requiresGrad;
  if (!needed) return out;
  out.requiresGrad = true;
  out.gradNode = { op, inputs, backward };
  return out;
}

export interface BackwardOptions {
  /** Keep the graph (and what its rules saved) so that backward can run through it again. */
  retainGraph?: boolean;
}

/**
 * Reverse-mode sweep from `root`: an iterative topological sort (deep graphs cannot overflow the stack), then
 * rules in reverse order, gradients of reused tensors summed, leaf gradients accumulated into `.grad`.
 */
export function runBackward(root: Tensor, seed: Tensor | undefined, options: BackwardOptions = {}): void {
  if (!root.requiresGrad) {
    throw new ValueError('backward', `x=${fmtShape(root.shape)} does not require grad (no input of its graph has requiresGrad)`, 'x');
  }
  let g0: Tensor;
  if (seed === undefined) {
    if (root.size !== 1) {
      throw new ShapeError('backward', `grad can be implied only for a single-element output — x=${fmtShape(root.shape)} (pass grad explicitly)`, 'grad');
    }
    g0 = new Tensor(root.dtype === 'float64' ? new Float64Array([1]) : new Float32Array([1]), root.shape);
  } else {
    if (!shapesEqual(seed.shape, root.shape)) {
      throw new ShapeError('backward', `grad=${fmtShape(seed.shape)} must have the shape of x=${fmtShape(root.shape)} (one upstream gradient per element)`, 'grad');
    }
    g0 = fitGradient(seed, root, 'backward', 'grad');
  }

  const order = topologicalOrder(root);
  const grads = new Map<Tensor, Tensor>([[root, g0]]);
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i]!;
      const g = grads.get(t);
      if (g === undefined) continue;
      grads.delete(t);
      const node = t.gradNode;
      if (node === null) {
        t.grad = t.grad === null ? copyOf(g) : new Tensor(addNew(t.grad.data, g.data), t.shape);
        continue;
      }
      if (t.retainsGrad) t.grad = t.grad === null ? copyOf(g) : new Tensor(addNew(t.grad.data, g.data), t.shape);
      if (node.backward === null) {
        throw new Error(
          `backward: trying to backward through ${node.op} a second time — its saved values were freed (pass { retainGraph: true } to the first backward)`,
        );
      }
      const inputGrads = node.backward(g);
      if (inputGrads.length !== node.inputs.length) {
        throw new ValueError('autograd', `backward of ${node.op} returned ${inputGrads.length} gradients for ${node.inputs.length} inputs (one per input, null where none)`);
      }
      for (let j = 0; j < node.inputs.length; j++) {
        const x = node.inputs[j]!;
        const gx = inputGrads[j];
        if (gx === null || gx === undefined || !x.requiresGrad) continue;
        const fitted = fitGradient(gx, x, node.op, `input ${j}`);
        const acc = grads.get(x);
        grads.set(x, acc === undefined ? fitted : new Tensor(addNew(acc.data, fitted.data), x.shape));
      }
      if (!options.retainGraph) {
        node.backward = null;
        node.inputs = [];
      }
    }
  } finally {
    gradEnabled = prev;
  }
}

/** Tensors that require grad, reachable from root, in topological order (inputs before outputs). */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>([root]);
  const stack: Tensor[] = [root];
  const next: number[] = [0];
  while (stack.length > 0) {
    const top = stack.length - 1;
    const t = stack[top]!;
    const inputs = t.gradNode === null ? [] : t.gradNode.inputs;
    const k = next[top]!;
    if (k < inputs.length) {
      next[top] = k + 1;
      const child = inputs[k]!;
      if (child.requiresGrad && !visited.has(child)) {
        visited.add(child);
        stack.push(child);
        next.push(0);
      }
    } else {
      stack.pop();
      next.pop();
      order.push(t);
    }
  }
  return order;
}

/** The one place where gradients are checked against their input and broadcast axes are summed away. */
function fitGradient(g: Tensor, x: Tensor, op: string, which: string): Tensor {
  let out = g;
  if (!shapesEqual(g.shape, x.shape)) {
    if (!broadcastsTo(x.shape, g.shape)) {
      throw new ShapeError(
        'autograd',
        `gradient for ${which} of ${op} has shape ${fmtShape(g.shape)}, expected ${fmtShape(x.shape)} (a rule must return a gradient shaped like its input, or broadcast from it)`,
        which,
      );
    }
    out = new Tensor(sumToShape(g.data, g.shape, x.shape), x.shape);
  }
  if (out.dtype !== x.dtype) {
    if (op === 'backward') throw new DTypeError('backward', `grad dtype ${g.dtype} differs from x dtype ${x.dtype}`, 'grad');
    out = new Tensor(x.dtype === 'float64' ? Float64Array.from(out.data) : Float32Array.from(out.data), x.shape);
  }
  return out;
}

function copyOf(t: Tensor): Tensor {
  return new Tensor(t.data.slice(), t.shape);
}
