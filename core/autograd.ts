import { AutogradError, DTypeError, ShapeError, ValueError } from './errors.js';
import { describeValue, expectBoolean, expectFunction, expectOptions, expectTensor } from './args.js';
import { addNew, sumToShape } from './kernels/reduce.js';
import { broadcastsTo, fmtShape, shapesEqual } from './shape.js';
import { storageVersion, Tensor } from './tensor.js';
import { add, cast, clone } from './ops/elementwise.js';
import { sum } from './ops/reduce.js';
import { reshape } from './ops/movement.js';

/** Maps dL/d(output) to one gradient per input (null where an input needs none). */
export type BackwardFn = (grad: Tensor) => ReadonlyArray<Tensor | null>;

/** How a tensor was made: the op, its inputs and the rule that carries gradients back to them. */
export interface GradNode {
  readonly op: string;
  inputs: readonly Tensor[];
  backward: BackwardFn | null; // null once freed by a backward pass without retainGraph
  /** The tensors the rule reads, with their storage versions when recorded (see `Tensor.markModified`). */
  saved: readonly Tensor[];
  savedVersions: readonly number[];
  /** The rule computes with differentiable ops when grad mode is on, so `createGraph` can differentiate it again. */
  readonly differentiableBackward: boolean;
  /** A fused rule's gradient recorded by `createGraph`: differentiating through it is refused before any rule runs. */
  readonly refusesBackward: boolean;
  /** Called once when the rule and what it saved are freed (engine-private buffers go back to core/buffer-pool.ts). */
  release: (() => void) | null;
}

/** What `record` may be told about a rule beyond its function. */
export interface RecordOptions {
  /**
   * The tensors the rule reads when it runs (default: every input and the output). A backward pass refuses to run
   * the rule if any of them was written in place since (its `version` changed). Pass `[]` for rules that read no
   * values (add, reshape, …).
   */
  saved?: readonly Tensor[];
  /**
   * The rule is built from differentiable ops when grad mode is on (it is during a `createGraph` backward), so its
   * gradients can be differentiated again. Rules without it (fused kernels) make a second derivative through them
   * throw an AutogradError naming the op.
   */
  differentiableBackward?: boolean;
}

/** Core's ops may also say what to do when the rule is freed (not part of the public `record`). */
export interface CoreRecordOptions extends RecordOptions {
  /** Called once when a backward pass without `retainGraph` has run the rule and frees it. */
  release?: () => void;
}

let gradEnabled = true;

/** Whether ops record the autograd graph now: false inside `noGrad`, true otherwise (and inside `enableGrad`). */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Run `fn` without recording a graph (inference, optimizer updates, backward rules). */
export function noGrad<T>(fn: () => T): T {
  expectFunction('noGrad', 'fn', fn);
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
  expectFunction('enableGrad', 'fn', fn);
  const prev = gradEnabled;
  gradEnabled = true;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Record that `out` was computed by `op` from `inputs` — the public entry for ops written outside core (checked once
 * here; core's own ops call `recordOp`). `backward` closes over whatever the rule needs. Gradients may come back
 * broadcast (the engine sums them down).
 */
export function record(op: string, out: Tensor, inputs: readonly Tensor[], backward: BackwardFn, options: RecordOptions = {}): Tensor {
  if (typeof op !== 'string') throw new DTypeError('record', `op must be the op's name, got ${describeValue(op)}`, 'op');
  expectTensor('record', 'out', out);
  if (!Array.isArray(inputs)) throw new DTypeError('record', `inputs must be an array of Tensors, got ${describeValue(inputs)}`, 'inputs');
  inputs.forEach((x, i) => expectTensor('record', `inputs[${i}]`, x));
  expectFunction('record', 'backward', backward);
  const o = expectOptions('record', 'options', options, ['saved', 'differentiableBackward']);
  if (o.saved !== undefined) {
    if (!Array.isArray(o.saved)) throw new DTypeError('record', `options.saved must be an array of Tensors, got ${describeValue(o.saved)}`, 'options.saved');
    o.saved.forEach((x, i) => expectTensor('record', `options.saved[${i}]`, x));
  }
  if (o.differentiableBackward !== undefined) expectBoolean('record', 'options.differentiableBackward', o.differentiableBackward);
  return recordOp(op, out, inputs, backward, o);
}

/** `record` without argument checks: for core's ops, which build every argument themselves (once per op call). */
export function recordOp(op: string, out: Tensor, inputs: readonly Tensor[], backward: BackwardFn, options: CoreRecordOptions = NO_OPTIONS): Tensor {
  if (!gradEnabled) return out;
  let needed = false;
  for (let i = 0; i < inputs.length; i++) needed ||= inputs[i]!.requiresGrad;
  if (!needed) return out;
  const saved = options.saved ?? [...inputs, out];
  out.requiresGrad = true;
  out.gradNode = {
    op,
    inputs,
    backward,
    saved,
    savedVersions: saved.map((t) => storageVersion(t.data)),
    differentiableBackward: options.differentiableBackward ?? false,
    refusesBackward: false,
    release: options.release ?? null,
  };
  return out;
}

const NO_OPTIONS: RecordOptions = Object.freeze({});

/** Options of `Tensor.backward`: `retainGraph`, `createGraph`. */
export interface BackwardOptions {
  /** Keep the graph (and what its rules saved) so that backward can run through it again. Default: createGraph. */
  retainGraph?: boolean;
  /**
   * Record the backward pass itself, so that the gradients it produces can be differentiated again
   * (Hessian-vector products, gradient penalties). Works through elementwise ops, reductions, matmul, movement,
   * softmax and losses; a fused kernel (attention, norms, rotation) throws an AutogradError when differentiated twice.
   */
  createGraph?: boolean;
}

/**
 * `x.backward(grad?, options?)`: accumulate dL/d(leaf) into the `.grad` of every leaf that requires grad.
 * Atomic: if any rule cannot run (freed graph, a saved tensor modified in place), no `.grad` is written.
 */
export function runBackward(root: Tensor, seed: Tensor | undefined, options: BackwardOptions = {}): void {
  const grads = sweep('Tensor.backward', root, seed, options, null);
  for (const [leaf, g] of grads) {
    // a fresh tensor per leaf (never a gradient another leaf or the caller also holds), recorded under createGraph
    leaf.grad = leaf.grad === null ? (options.createGraph ? clone(g) : copyOf(g)) : accumulate(leaf.grad, g, options.createGraph === true);
  }
}

/**
 * Gradients of `root` with respect to `inputs` (as torch.autograd.grad): nothing is written to any `.grad`.
 * An input that `root` does not depend on gets null.
 */
export function gradientsOf(op: string, root: Tensor, inputs: readonly Tensor[], options: BackwardOptions = {}): Array<Tensor | null> {
  const grads = sweep(op, root, undefined, options, new Set(inputs));
  return inputs.map((x) => grads.get(x) ?? null);
}

/**
 * Reverse-mode sweep from `root`: an iterative topological sort (deep graphs cannot overflow the stack), every node
 * checked before any rule runs, then rules in reverse order with gradients of reused tensors summed. Returns the
 * gradients of the leaves (or, when `targets` is given, of those tensors).
 */
function sweep(op: string, root: Tensor, seed: Tensor | undefined, options: BackwardOptions, targets: ReadonlySet<Tensor> | null): Map<Tensor, Tensor> {
  expectTensor(op, 'x', root);
  expectOptions(op, 'options', options, ['retainGraph', 'createGraph']);
  const createGraph = expectBoolean(op, 'createGraph', options.createGraph === undefined ? false : options.createGraph);
  const retainGraph = expectBoolean(op, 'retainGraph', options.retainGraph === undefined ? createGraph : options.retainGraph);
  if (!root.requiresGrad) {
    throw new ValueError(op, `x=${fmtShape(root.shape)} does not require grad (no input of its graph has requiresGrad)`, 'x');
  }
  let g0: Tensor;
  if (seed === undefined) {
    if (root.size !== 1) {
      throw new ShapeError(op, `grad can be implied only for a single-element output — x=${fmtShape(root.shape)} (pass grad explicitly)`, 'grad');
    }
    g0 = new Tensor(root.dtype === 'float64' ? new Float64Array([1]) : new Float32Array([1]), root.shape);
  } else {
    if (!(seed instanceof Tensor)) throw new DTypeError(op, `grad must be a Tensor, got ${describeValue(seed)}`, 'grad');
    if (!shapesEqual(seed.shape, root.shape)) {
      throw new ShapeError(op, `grad=${fmtShape(seed.shape)} must have the shape of x=${fmtShape(root.shape)} (one upstream gradient per element)`, 'grad');
    }
    if (seed.dtype !== root.dtype) throw new DTypeError(op, `grad dtype ${seed.dtype} differs from x dtype ${root.dtype}`, 'grad');
    g0 = seed;
  }

  const order = targets === null ? topologicalOrder(root) : onPathsTo(topologicalOrder(root, targets), targets);
  checkRunnable(op, order);
  const grads = new Map<Tensor, Tensor>([[root, g0]]);
  const result = new Map<Tensor, Tensor>();
  const prev = gradEnabled;
  gradEnabled = createGraph;
  try {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i]!;
      const g = grads.get(t);
      if (g === undefined) continue;
      grads.delete(t);
      const node = t.gradNode;
      if (targets !== null ? targets.has(t) : node === null) {
        const acc = result.get(t);
        result.set(t, acc === undefined ? g : accumulate(acc, g, createGraph));
      }
      if (node === null) continue;
      if (t.retainsGrad && targets === null) t.grad = t.grad === null ? (createGraph ? clone(g) : copyOf(g)) : accumulate(t.grad, g, createGraph);
      let inputGrads = node.backward!(g);
      if (inputGrads.length !== node.inputs.length) {
        throw new ValueError(op, `backward of ${node.op} returned ${inputGrads.length} gradients for ${node.inputs.length} inputs (one per input, null where none)`);
      }
      if (createGraph && !node.differentiableBackward) inputGrads = guardSecondOrder(node, g, inputGrads);
      for (let j = 0; j < node.inputs.length; j++) {
        const x = node.inputs[j]!;
        const gx = inputGrads[j];
        if (gx === null || gx === undefined || !x.requiresGrad) continue;
        const fitted = fitGradient(gx, x, node.op, `input ${j}`, createGraph);
        const acc = grads.get(x);
        grads.set(x, acc === undefined ? fitted : accumulate(acc, fitted, createGraph));
      }
      if (!retainGraph) {
        node.backward = null;
        node.inputs = [];
        node.saved = [];
        const release = node.release;
        node.release = null;
        release?.();
      }
    }
  } finally {
    gradEnabled = prev;
  }
  return result;
}

/** The tensors of `order` from which a target can be reached (only their rules carry gradient to the targets). */
function onPathsTo(order: readonly Tensor[], targets: ReadonlySet<Tensor>): Tensor[] {
  const leads = new Set<Tensor>();
  for (const t of order) {
    if (targets.has(t) || (t.gradNode !== null && t.gradNode.inputs.some((x) => leads.has(x)))) leads.add(t);
  }
  return order.filter((t) => leads.has(t));
}

/** Before any rule runs: every node on the path still has its rule, and nothing it saved was written in place. */
function checkRunnable(op: string, order: readonly Tensor[]): void {
  for (const t of order) {
    const node = t.gradNode;
    if (node === null) continue;
    if (node.refusesBackward) throw new AutogradError(op, secondOrderMessage(node.op.replace(/ \(backward\)$/, '')));
    if (node.backward === null) {
      throw new AutogradError(
        op,
        `trying to backward through ${node.op} a second time — its saved values were freed (pass { retainGraph: true } to the first backward)`,
      );
    }
    for (let k = 0; k < node.saved.length; k++) {
      const s = node.saved[k]!;
      const now = storageVersion(s.data);
      if (now !== node.savedVersions[k]) {
        throw new AutogradError(
          op,
          `a tensor ${fmtShape(s.shape)} that ${node.op} saved for its gradient was modified in place after it was used ` +
            `(version ${node.savedVersions[k]} when recorded, ${now} now) — run the forward pass again after optimizer.step() or other in-place writes`,
        );
      }
    }
  }
}

/**
 * A fused rule's gradients during a `createGraph` pass: correct values, recorded with a rule that refuses to be
 * differentiated again (a silent zero second derivative would be a wrong answer).
 */
function secondOrderMessage(op: string): string {
  return `cannot differentiate ${op} twice — its backward is a fused kernel, not built from differentiable ops ` +
    `(createGraph works through elementwise ops, reductions, matmul, movement, softmax and losses)`;
}

/**
 * A fused rule's gradients during a `createGraph` pass: correct values, recorded as nodes that refuse to be
 * differentiated again (checkRunnable names them before any rule runs: a silent zero second derivative would be a
 * wrong answer).
 */
function guardSecondOrder(node: GradNode, g: Tensor, inputGrads: ReadonlyArray<Tensor | null>): Array<Tensor | null> {
  const sources = [g, ...node.inputs];
  return inputGrads.map((gx) => {
    if (gx === null || gx === undefined) return null;
    const out = recordOp(`${node.op} (backward)`, new Tensor(gx.data, gx.shape), sources, () => {
      throw new AutogradError('backward', secondOrderMessage(node.op)); // unreachable: checkRunnable refuses first
    }, { saved: [] });
    if (out.gradNode !== null) out.gradNode = { ...out.gradNode, refusesBackward: true };
    return out;
  });
}

/**
 * Tensors that require grad, reachable from root, in topological order (inputs before outputs); the walk stops at
 * `stopAt` (the inputs of a functional `grad`: what lies beyond them is the enclosing computation's graph).
 */
function topologicalOrder(root: Tensor, stopAt: ReadonlySet<Tensor> | null = null): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>([root]);
  const stack: Tensor[] = [root];
  const next: number[] = [0];
  while (stack.length > 0) {
    const top = stack.length - 1;
    const t = stack[top]!;
    const inputs = t.gradNode === null || stopAt?.has(t) ? [] : t.gradNode.inputs;
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

/**
 * The one place where gradients are checked against their input and broadcast axes are summed away. Under
 * `createGraph` the sum and the dtype conversion are recorded ops, so the result stays differentiable.
 */
function fitGradient(g: Tensor, x: Tensor, op: string, which: string, createGraph: boolean): Tensor {
  let out = g;
  if (!shapesEqual(g.shape, x.shape)) {
    if (!broadcastsTo(x.shape, g.shape)) {
      throw new ShapeError(
        'autograd',
        `gradient for ${which} of ${op} has shape ${fmtShape(g.shape)}, expected ${fmtShape(x.shape)} (a rule must return a gradient shaped like its input, or broadcast from it)`,
        which,
      );
    }
    out = createGraph ? sumToShapeOp(g, x.shape) : new Tensor(sumToShape(g.data, g.shape, x.shape), x.shape);
  }
  if (out.dtype !== x.dtype) {
    out = createGraph ? cast(out, x.dtype) : new Tensor(x.dtype === 'float64' ? Float64Array.from(out.data) : Float32Array.from(out.data), x.shape);
  }
  return out;
}

/** Sum g [..., broadcast] down to `shape` with recorded ops: leading axes summed away, unit axes summed keeping them. */
function sumToShapeOp(g: Tensor, shape: readonly number[]): Tensor {
  const lead = g.ndim - shape.length;
  const axes: number[] = [];
  for (let d = 0; d < g.ndim; d++) if (d < lead || (shape[d - lead] === 1 && g.shape[d] !== 1)) axes.push(d);
  return reshape(sum(g, axes, true), shape);
}

/** a + b for gradients: a new buffer (never written in place), recorded under `createGraph`. */
function accumulate(a: Tensor, b: Tensor, createGraph: boolean): Tensor {
  return createGraph ? add(a, b) : new Tensor(addNew(a.data, b.data), a.shape);
}

function copyOf(t: Tensor): Tensor {
  return new Tensor(t.data.slice(), t.shape);
}
