/**
 * RoAd — 2D rotary adaptation (Liao & Monz, "3-in-1: 2D Rotary Adaptation for Efficient Finetuning, Efficient
 * Batching and Composability", NeurIPS 2024; arXiv 2409.00119). Reference code: huggingface/peft @ 5d602fd,
 * src/peft/tuners/road/{config,layer,model}.py (`_prepare_cols`, `_apply_road`, `_get_delta_weight`, `Linear.forward`,
 * `_mixed_batch_forward`, `merge`, `unmerge`); the authors' repo BaohaoLiao/road holds only a README.
 *
 * A frozen linear layer h = W x + b is followed by a block-diagonal matrix R of 2×2 "scaled rotation" blocks, learned:
 *  - pairing: the out features are cut into groups of g (groupSize, even, dividing out); inside a group, element i
 *    pairs with i + g/2. With a = G·g + i, b = a + g/2 (i < g/2), p(a) = b and p(b) = a.
 *  - z = h ⊙ C + rot(h) ⊙ S,  rot(h)[a] = −h[b],  rot(h)[b] = h[a]   (per pair: z_a = C_a h_a − S_a h_b,
 *    z_b = S_b h_a + C_b h_b; computed in one fused pass as z[e] = h[e]·C[e] + h[p(e)]·S'[e], S'[a] = −S[a], S'[b] = S[b],
 *    forward and backward in `roadKernel`; C and S' come from θ, α by composed, differentiable ops)
 *  - road_1: θ, α ∈ R^{out/2}, one per pair (group G's g/2 values serve both halves): C = α cos θ, S = α sin θ on both
 *    elements, so (z_a, z_b) = α R(θ) (h_a, h_b)
 *  - road_2: θ, α ∈ R^{out}, one per element: C_e = α_e cos θ_e, S_e = α_e sin θ_e
 *  - road_4: θ, α ∈ R^{2·out}, per group [g first-column values ‖ g second-column values]: C_e = α¹_e cos θ¹_e,
 *    S_e = α²_e sin θ²_e
 *  - init θ = 0, α = 1 (R = I, the adapted layer starts as the base layer); `initWeights: false` draws θ ~ N(0, 0.5²),
 *    α ~ N(1, 0.5²) (PEFT's test init).
 *  - merge: W ← R W, b ← R b (R applied to W's columns block by block, never as a dense matrix); unmerge applies each
 *    block's exact inverse (1/det)[[C_b, S_a], [−S_b, C_a]], det = C_a C_b + S_a S_b, of the R that was merged.
 *  - mixed-adapter batch: row r of x uses adapter names[r] ('__base__' = none): C and S' are gathered per row from a
 *    table [adapters + 1, out], so the whole batch is one base matmul and element-wise work (no per-row matmul).
 *
 * Where the code is followed over the paper: the pairing (i, i + g/2) inside groups is PEFT's (the paper's own
 * convention is unverified); merged adapters forbid mixed batches (PEFT raises). Differences from PEFT, for safety:
 * merge refuses a non-finite result or a singular block (PEFT's safe_merge checks finiteness only, and its unmerge
 * inverts a dense float32 R); unmerge inverts the R saved at merge time, so parameters changed while merged do not
 * corrupt the restored weight; merging twice or unmerging an unmerged layer throws instead of warning; a mixed batch
 * with an adapter name this layer lacks throws (PEFT checks names at the model level). PEFT's model also refuses mixed
 * batches in training mode; this layer does not (its mixed forward is differentiable).
 *
 * Frozen weights: ropelab has no freeze flag on Module, so the base Linear's weight and bias get `requiresGrad = false`
 * (PyTorch's requires_grad_(False)): autograd gives them no gradient and optimizers skip parameters without one, even
 * when handed `model.parameters()`. They stay in `parameters()` and `stateDict()` (as `base.weight`), so checkpoints keep
 * them. Only the active adapter's θ and α require grad. `Module.to(dtype)` makes new Parameters that require grad, so
 * wrap after converting.
 *
 * Shapes: x [..., out] for applyRoAd; x [..., in] → [..., out] for RoAdLinear, with x [B, ...] for mixed batches.
 */
import {
  DTypeError, Generator, Module, Parameter, ShapeError, Tensor, ValueError, concat, defaultGenerator, describeValue, expectFiniteValues,
  expectInteger, expectOneOf, expectOptions, expectRequiredOptions, expectTensor, fmtShape, noGrad, ones, optionalGenerator, randn, record,
  zeros, type DType,
} from '../core/index.js';
import { expectFeatures, expectModule, optionalBoolean } from './checks.js';
import { Linear } from './linear.js';

/**
 * RoAd's variants (Liao et al. 2024), by how many angles θ and scales α the adapter learns: 'road_1' one per
 * output pair, 'road_2' one per output element, 'road_4' two per output element (see the file header).
 */
export type RoAdVariant = 'road_1' | 'road_2' | 'road_4';
const VARIANTS: readonly RoAdVariant[] = ['road_1', 'road_2', 'road_4'];

/** The name that selects no adapter in a mixed batch (PEFT's). */
export const ROAD_BASE = '__base__';

/** Length of θ and of α for `variant` on `out` features: out/2, out, 2·out. */
function paramSize(variant: RoAdVariant, out: number): number {
  return variant === 'road_1' ? out / 2 : variant === 'road_2' ? out : 2 * out;
}

/** groupSize: an even integer ≥ 2 dividing `out` (PEFT's config and update_layer rules). */
function expectGroupSize(op: string, arg: string, x: unknown, out: number): number {
  const g = expectInteger(op, arg, x, { min: 2 });
  if (g % 2 !== 0) throw new ValueError(op, `${arg} must be even (pairs are (i, i + ${arg}/2) inside each group), got ${g}`, arg);
  if (out % g !== 0) throw new ValueError(op, `${arg}=${g} must divide the ${out} output features`, arg);
  return g;
}

/** θ or α: a 1-D tensor of `size` finite values of `dtype`. */
function expectAdapterTensor(op: string, arg: string, x: unknown, size: number, variant: RoAdVariant, dtype: DType): asserts x is Tensor {
  expectTensor(op, arg, x);
  if (x.ndim !== 1 || x.shape[0] !== size) {
    throw new ShapeError(op, `${arg}=${fmtShape(x.shape)} must be [${size}] for ${variant} (${variant === 'road_1' ? 'out/2' : variant === 'road_2' ? 'out' : '2·out'})`, arg);
  }
  if (x.dtype !== dtype) throw new DTypeError(op, `${arg} is ${x.dtype} but x is ${dtype} (cast one)`, arg);
  expectFiniteValues(op, arg, x.data);
}

// ── the element-wise transform ───────────────────────────────────────────────────────────────────────────────────

/** ±1 per element: −1 on the first half of each group (rot(h)[a] = −h[b]), +1 on the second. */
function halfSigns(out: number, g: number, dtype: DType): Tensor {
  const s = dtype === 'float64' ? new Float64Array(out) : new Float32Array(out);
  for (let e = 0; e < out; e++) s[e] = e % g < g / 2 ? -1 : 1;
  return new Tensor(s, [out]);
}

/**
 * The per-element columns of R: c = C (diagonal) and s = S' (the signed off-diagonal, R[e][p(e)] = s[e]), each [out],
 * differentiable in θ and α (composed ops; PEFT's `_prepare_cols` with the sign of rotate-half folded in).
 */
function columns(variant: RoAdVariant, g: number, theta: Tensor, alpha: Tensor, out: number): { c: Tensor; s: Tensor } {
  let c: Tensor;
  let s: Tensor;
  if (variant === 'road_4') {
    const th = theta.reshape([out / g, 2, g]);
    const al = alpha.reshape([out / g, 2, g]);
    c = al.narrow(1, 0, 1).mul(th.narrow(1, 0, 1).cos()).reshape([out]);
    s = al.narrow(1, 1, 1).mul(th.narrow(1, 1, 1).sin()).reshape([out]);
  } else {
    c = alpha.mul(theta.cos());
    s = alpha.mul(theta.sin());
    if (variant === 'road_1') {
      // group G's g/2 values serve both of its halves
      const both = (t: Tensor): Tensor => t.reshape([out / g, 1, g / 2]).expand([out / g, 2, g / 2]).reshape([out]);
      c = both(c);
      s = both(s);
    }
  }
  return { c, s: s.mul(halfSigns(out, g, theta.dtype)) };
}

/**
 * The transform itself, one fused pass (forward and backward here): z[e] = h[e]·c[k][e] + h[p(e)]·s[k][e] for every
 * vector h [out] of x, where k is the table row of the vector's batch row (`rows[b]` for x [B, ..., out]; table row 0
 * for every vector when `rows` is null) and p pairs inside groups of `groups[k]`. c, s: [K, out] tables of R's columns.
 * Backward: ∂h[e] = ĝ[e]·c[k][e] + ĝ[p(e)]·s[k][p(e)], ∂c[k][e] = Σ ĝ[e]·h[e], ∂s[k][e] = Σ ĝ[e]·h[p(e)] (sums over
 * the vectors that use row k). Differentiable once (a createGraph backward through it is refused by autograd).
 */
function roadKernel(x: Tensor, c: Tensor, s: Tensor, rows: readonly number[] | null, groups: readonly number[]): Tensor {
  const out = x.shape[x.ndim - 1]!;
  const batch = rows === null ? 1 : rows.length;
  const perBatch = batch === 0 || out === 0 ? 0 : x.size / batch / out; // vectors per batch row
  const h = x.data;
  const cd = c.data;
  const sd = s.data;
  const z = x.dtype === 'float64' ? new Float64Array(x.size) : new Float32Array(x.size);
  for (let r = 0; r < batch; r++) {
    const k = rows === null ? 0 : rows[r]!;
    const half = groups[k]! / 2;
    const ko = k * out;
    for (let v = 0; v < perBatch; v++) {
      const base = (r * perBatch + v) * out;
      for (let g0 = 0; g0 < out; g0 += 2 * half) {
        for (let i = g0; i < g0 + half; i++) {
          const ha = h[base + i]!;
          const hb = h[base + i + half]!;
          z[base + i] = ha * cd[ko + i]! + hb * sd[ko + i]!;
          z[base + i + half] = hb * cd[ko + i + half]! + ha * sd[ko + i + half]!;
        }
      }
    }
  }
  return record('applyRoAd', new Tensor(z, x.shape as number[]), [x, c, s], (grad) => {
    const gz = grad.data;
    const gh = x.requiresGrad ? (x.dtype === 'float64' ? new Float64Array(x.size) : new Float32Array(x.size)) : null;
    const wantCS = c.requiresGrad || s.requiresGrad;
    const gc = new Float64Array(wantCS ? c.size : 0);
    const gs = new Float64Array(wantCS ? s.size : 0);
    for (let r = 0; r < batch; r++) {
      const k = rows === null ? 0 : rows[r]!;
      const half = groups[k]! / 2;
      const ko = k * out;
      for (let v = 0; v < perBatch; v++) {
        const base = (r * perBatch + v) * out;
        for (let g0 = 0; g0 < out; g0 += 2 * half) {
          for (let i = g0; i < g0 + half; i++) {
            const a = base + i;
            const b = a + half;
            const ga = gz[a]!;
            const gb = gz[b]!;
            if (gh !== null) {
              gh[a] = ga * cd[ko + i]! + gb * sd[ko + i + half]!;
              gh[b] = gb * cd[ko + i + half]! + ga * sd[ko + i]!;
            }
            if (wantCS) {
              const ha = h[a]!;
              const hb = h[b]!;
              gc[ko + i] += ga * ha;
              gc[ko + i + half] += gb * hb;
              gs[ko + i] += ga * hb;
              gs[ko + i + half] += gb * ha;
            }
          }
        }
      }
    }
    const as = (d: Float64Array, like: Tensor): Tensor | null => (!wantCS ? null : new Tensor(like.dtype === 'float64' ? d : Float32Array.from(d), like.shape as number[]));
    return [gh === null ? null : new Tensor(gh, x.shape as number[]), as(gc, c), as(gs, s)];
  });
}

/** Options of `applyRoAd` and `roadMatrix`: `variant`, `groupSize`, `theta`, `alpha`. */
export interface ApplyRoAdOptions {
  variant: RoAdVariant;
  /** g: even, divides out; element i of a group pairs with i + g/2. */
  groupSize: number;
  /** Angles, [out/2] (road_1), [out] (road_2) or [2·out] (road_4); x's dtype, finite. */
  theta: Tensor;
  /** Scales, the same shape as theta. */
  alpha: Tensor;
}

/**
 * z = h ⊙ C + rot(h) ⊙ S: the RoAd transform of a base layer's output h = x [..., out] (PEFT's `_apply_road`).
 * Differentiable in x, theta and alpha (composed ops).
 */
export function applyRoAd(x: Tensor, options: ApplyRoAdOptions): Tensor {
  const op = 'applyRoAd';
  expectTensor(op, 'x', x);
  if (x.ndim < 1) throw new ShapeError(op, `x=${fmtShape(x.shape)} must have a feature axis ([..., out])`, 'x');
  const out = x.shape[x.ndim - 1]!;
  const o = expectRequiredOptions(op, options, ['variant', 'groupSize', 'theta', 'alpha'], 'with variant, groupSize, theta and alpha');
  const variant = expectOneOf(op, 'variant', o.variant, VARIANTS);
  const g = expectGroupSize(op, 'groupSize', o.groupSize, out);
  const n = paramSize(variant, out);
  expectAdapterTensor(op, 'theta', o.theta, n, variant, x.dtype);
  expectAdapterTensor(op, 'alpha', o.alpha, n, variant, x.dtype);
  const { c, s } = columns(variant, g, o.theta, o.alpha, out);
  return roadKernel(x, c.reshape([1, out]), s.reshape([1, out]), null, [g]);
}

/** R's columns in float64 data, not recorded: c[e] = R[e][e], s[e] = R[e][p(e)]. */
function columnData(variant: RoAdVariant, g: number, theta: Tensor, alpha: Tensor, out: number): { c: Float64Array; s: Float64Array } {
  return noGrad(() => {
    const { c, s } = columns(variant, g, theta.cast('float64'), alpha.cast('float64'), out);
    return { c: c.data as Float64Array, s: s.data as Float64Array };
  });
}

/**
 * The dense R [out, out] of an adapter (PEFT's `_get_delta_weight`): R[e][e] = C_e, R[a][b] = −S_a, R[b][a] = S_b, so
 * applyRoAd(h) = h Rᵀ. For inspection and checkpoint interop; not differentiable (RoAdLinear.merge never builds it).
 */
export function roadMatrix(options: ApplyRoAdOptions & { outFeatures: number }): Tensor {
  const op = 'roadMatrix';
  const o = expectRequiredOptions(op, options, ['variant', 'groupSize', 'theta', 'alpha', 'outFeatures'], 'with variant, groupSize, theta, alpha and outFeatures');
  const out = expectInteger(op, 'outFeatures', o.outFeatures, { min: 2 });
  if (out * out > 2 ** 26) throw new ValueError(op, `outFeatures=${out} gives a dense [${out}, ${out}] matrix, too large to be useful (at most 8192)`, 'outFeatures');
  const variant = expectOneOf(op, 'variant', o.variant, VARIANTS);
  const g = expectGroupSize(op, 'groupSize', o.groupSize, out);
  expectTensor(op, 'theta', o.theta);
  const n = paramSize(variant, out);
  expectAdapterTensor(op, 'theta', o.theta, n, variant, o.theta.dtype);
  expectAdapterTensor(op, 'alpha', o.alpha, n, variant, o.theta.dtype);
  const { c, s } = columnData(variant, g, o.theta, o.alpha, out);
  const r = zeros([out, out], { dtype: o.theta.dtype });
  for (let e = 0; e < out; e++) {
    r.data[e * out + e] = c[e]!;
    r.data[e * out + partner(e, g)] = s[e]!;
  }
  return r;
}

/** p(e): the element paired with e inside its group of g. */
function partner(e: number, g: number): number {
  return e % g < g / 2 ? e + g / 2 : e - g / 2;
}

/** rows' := R rows for a row-major [out, cols] buffer (cols = 1 for a bias), R given by its columns; float64 result. */
function applyBlocks(src: ArrayLike<number>, cols: number, g: number, c: Float64Array, s: Float64Array): Float64Array {
  const dst = new Float64Array(src.length);
  for (let e = 0; e < c.length; e++) {
    const p = partner(e, g);
    const ce = c[e]!;
    const se = s[e]!;
    for (let j = 0; j < cols; j++) dst[e * cols + j] = ce * src[e * cols + j]! + se * src[p * cols + j]!;
  }
  return dst;
}

/** An adapter name: letters, digits, '_' or '-' (it becomes part of dotted parameter names), not '__base__' nor a Module property. */
function checkNameSyntax(op: string, arg: string, name: unknown): string {
  if (typeof name !== 'string') throw new DTypeError(op, `${arg} must be a string, got ${describeValue(name)}`, arg);
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new ValueError(op, `${arg} '${name}' must be letters, digits, '_' or '-' (it becomes part of dotted parameter names)`, arg);
  if (name === ROAD_BASE) throw new ValueError(op, `${arg} '${ROAD_BASE}' is reserved (it selects the base layer in mixed batches)`, arg);
  if (name === 'training' || name in Module.prototype) throw new ValueError(op, `${arg} '${name}' is reserved (a property of Module)`, arg);
  return name;
}

/** An adapter's options, checked against a layer of `out` outputs (nothing drawn, nothing changed). */
function parseAdapterOptions(op: string, o: RoAdAdapterOptions, out: number): { variant: RoAdVariant; g: number; init: boolean; gen: Generator } {
  const variant = o.variant === undefined ? 'road_1' : expectOneOf(op, 'variant', o.variant, VARIANTS);
  const g = expectGroupSize(op, 'groupSize', o.groupSize === undefined ? 64 : o.groupSize, out);
  const init = optionalBoolean(op, 'initWeights', o.initWeights) ?? true;
  const gen = optionalGenerator(op, 'generator', o.generator, defaultGenerator);
  return { variant, g, init, gen };
}

// ── the adapter layer ────────────────────────────────────────────────────────────────────────────────────────────

/** One named adapter's parameters (read-only view: the tensors themselves). */
export interface RoAdAdapterState {
  readonly variant: RoAdVariant;
  readonly groupSize: number;
  readonly theta: Parameter;
  readonly alpha: Parameter;
}

class RoAdAdapter extends Module implements RoAdAdapterState {
  theta: Parameter;
  alpha: Parameter;
  constructor(readonly variant: RoAdVariant, readonly groupSize: number, out: number, init: boolean, g: Generator, dtype: DType) {
    super();
    const n = paramSize(variant, out);
    this.theta = new Parameter(init ? zeros([n], { dtype }).data : randn([n], { std: 0.5, generator: g, dtype }).data, [n]);
    this.alpha = new Parameter(init ? ones([n], { dtype }).data : randn([n], { mean: 1, std: 0.5, generator: g, dtype }).data, [n]);
  }
}

/** The adapters by name: own enumerable properties, so parameter names read `adapters.<name>.theta`. */
class RoAdAdapters extends Module {}

/** Options of one RoAd adapter: `variant`, `groupSize`, `initWeights`, `generator`. */
export interface RoAdAdapterOptions {
  /** Default 'road_1'. */
  variant?: RoAdVariant;
  /** Default 64 (PEFT's); even, dividing the base layer's outFeatures. */
  groupSize?: number;
  /** true (default): θ = 0, α = 1, the identity. false: θ ~ N(0, 0.5²), α ~ N(1, 0.5²) (for tests). */
  initWeights?: boolean;
  /** For initWeights false (default: the global generator). */
  generator?: Generator;
}

/** Options of `RoAdLinear`: `adapterName`. */
export interface RoAdLinearOptions extends RoAdAdapterOptions {
  /** The first adapter's name, made active (default 'default', as PEFT). */
  adapterName?: string;
}

/** Options of a `RoAdLinear` call: `adapterNames`. */
export interface RoAdForwardOptions {
  /** One adapter name per row of x's first axis ('__base__' = the base layer alone): a mixed-adapter batch. */
  adapterNames?: readonly string[];
}

const ADAPTER_OPTIONS = ['variant', 'groupSize', 'initWeights', 'generator'] as const;

/**
 * A frozen Linear followed by RoAd adapters (PEFT's road.Linear): `forward(x)` = applyRoAd(base(x)) with the active
 * adapter, or per-row adapters with `{ adapterNames }`. It has Linear's public surface (weight, bias, inFeatures,
 * outFeatures, residualProjection are the base's), so it can stand where a Linear stands.
 */
export class RoAdLinear extends Module {
  /** The wrapped layer; its weight and bias never require grad. */
  readonly base: Linear;
  readonly adapters: RoAdAdapters;
  private active: string;
  /** The adapter folded into the base weights, and the R columns that were applied (unmerge inverts exactly these). */
  private mergedState: { name: string; c: Float64Array; s: Float64Array; g: number } | null = null;

  constructor(base: Linear, options: RoAdLinearOptions = {}) {
    super();
    const op = 'RoAdLinear';
    if (!(base instanceof Linear)) throw new DTypeError(op, `base must be a Linear, got ${describeValue(base)}`, 'base');
    const o = expectOptions(op, 'options', options, ['adapterName', ...ADAPTER_OPTIONS]);
    const name = o.adapterName === undefined ? 'default' : o.adapterName;
    this.base = base;
    this.adapters = new RoAdAdapters();
    this.checkNewName(op, 'adapterName', name);
    const adapter = this.makeAdapter(op, o);
    for (const p of [base.weight, base.bias]) if (p !== null) p.requiresGrad = false;
    Object.defineProperty(this.adapters, name, { value: adapter, enumerable: true, configurable: true, writable: false });
    this.active = name;
    this.syncRequiresGrad();
  }

  get inFeatures(): number {
    return this.base.inFeatures;
  }
  get outFeatures(): number {
    return this.base.outFeatures;
  }
  get weight(): Parameter {
    return this.base.weight;
  }
  get bias(): Parameter | null {
    return this.base.bias;
  }
  get residualProjection(): boolean {
    return this.base.residualProjection;
  }
  set residualProjection(value: boolean) {
    this.base.residualProjection = value;
  }

  /** The adapters' names, in the order they were added. */
  get adapterNames(): string[] {
    return Object.keys(this.adapters).filter((k) => this.adapterOf(k) !== undefined);
  }
  get activeAdapter(): string {
    return this.active;
  }
  /** Whether an adapter is folded into the base weight (then forward is the base layer's). */
  get merged(): boolean {
    return this.mergedState !== null;
  }
  /** The adapter `name` (its variant, group size and the θ, α parameters themselves). */
  getAdapter(name: string): RoAdAdapterState {
    return this.expectAdapter('RoAdLinear.getAdapter', 'name', name);
  }

  /** Add an adapter (inactive; its parameters do not require grad until setActiveAdapter makes it the active one). */
  addAdapter(name: string, options: RoAdAdapterOptions = {}): void {
    const op = 'RoAdLinear.addAdapter';
    this.checkNewName(op, 'name', name);
    const adapter = this.makeAdapter(op, expectOptions(op, 'options', options, ADAPTER_OPTIONS));
    Object.defineProperty(this.adapters, name, { value: adapter, enumerable: true, configurable: true, writable: false });
    this.syncRequiresGrad();
  }

  /** Make `name` the adapter that forward applies and that trains (refused while merged: unmerge first). */
  setActiveAdapter(name: string): void {
    const op = 'RoAdLinear.setActiveAdapter';
    this.expectAdapter(op, 'name', name);
    if (this.mergedState !== null) throw new ValueError(op, `adapter '${this.mergedState.name}' is merged; call unmerge() before switching adapters`, 'name');
    this.active = name;
    this.syncRequiresGrad();
  }

  /**
   * x [..., in] → [..., out]. Without options: the active adapter on the base output (the base output alone while
   * merged, since the adapter is then inside the weights). With `adapterNames` (length x.shape[0]): row r uses adapter
   * adapterNames[r], '__base__' none, all rows in one base matmul and one element-wise pass; refused while merged.
   */
  forward(x: Tensor, options: RoAdForwardOptions = {}): Tensor {
    const op = 'RoAdLinear.forward';
    expectFeatures(op, 'x', x, this.inFeatures, this.weight.dtype);
    const o = expectOptions(op, 'options', options, ['adapterNames']);
    if (o.adapterNames === undefined) {
      if (this.mergedState !== null) return this.base.forward(x);
      const a = this.adapterOf(this.active)!;
      expectFiniteValues(op, `adapters.${this.active}.theta`, a.theta.data);
      expectFiniteValues(op, `adapters.${this.active}.alpha`, a.alpha.data);
      const out = this.outFeatures;
      const { c, s } = columns(a.variant, a.groupSize, a.theta, a.alpha, out);
      return roadKernel(this.base.forward(x), c.reshape([1, out]), s.reshape([1, out]), null, [a.groupSize]);
    }
    const names = this.expectRowNames(op, o.adapterNames, x);
    if (this.mergedState !== null) {
      throw new ValueError(op, `adapterNames cannot be used while adapter '${this.mergedState.name}' is merged (call unmerge() first)`, 'options.adapterNames');
    }
    return this.mixedForward(x, names);
  }

  /** Fold the active adapter into the base weight and bias: W ← R W, b ← R b (refused if already merged). */
  merge(): void {
    const op = 'RoAdLinear.merge';
    if (this.mergedState !== null) throw new ValueError(op, `adapter '${this.mergedState.name}' is already merged (call unmerge() first)`, 'this');
    const a = this.adapterOf(this.active)!;
    const out = this.outFeatures;
    const g = a.groupSize;
    expectFiniteValues(op, `adapters.${this.active}.theta`, a.theta.data);
    expectFiniteValues(op, `adapters.${this.active}.alpha`, a.alpha.data);
    const { c, s } = columnData(a.variant, g, a.theta, a.alpha, out);
    for (let e = 0; e < out; e++) {
      const p = partner(e, g);
      if (p < e) continue;
      const det = c[e]! * c[p]! - s[e]! * s[p]!;
      if (!(Math.abs(det) > 1e-300) || !Number.isFinite(1 / det)) {
        throw new ValueError(op, `adapter '${this.active}' is singular at pair (${e}, ${p}) (det ${det}): merging could not be undone`, 'this');
      }
    }
    const w = applyBlocks(this.weight.data, this.inFeatures, g, c, s);
    const b = this.bias === null ? null : applyBlocks(this.bias.data, 1, g, c, s);
    expectFiniteValues(op, 'merged weight', w);
    if (b !== null) expectFiniteValues(op, 'merged bias', b);
    this.write(w, b);
    this.mergedState = { name: this.active, c, s, g };
  }

  /** Undo merge(): W ← R⁻¹ W, b ← R⁻¹ b with the R that was merged (refused if nothing is merged). */
  unmerge(): void {
    const op = 'RoAdLinear.unmerge';
    const m = this.mergedState;
    if (m === null) throw new ValueError(op, 'no adapter is merged', 'this');
    const ci = new Float64Array(m.c.length);
    const si = new Float64Array(m.s.length);
    for (let e = 0; e < m.c.length; e++) {
      const p = partner(e, m.g);
      const det = m.c[e]! * m.c[p]! - m.s[e]! * m.s[p]!;
      ci[e] = m.c[p]! / det;
      si[e] = -m.s[e]! / det;
    }
    const w = applyBlocks(this.weight.data, this.inFeatures, m.g, ci, si);
    const b = this.bias === null ? null : applyBlocks(this.bias.data, 1, m.g, ci, si);
    this.write(w, b);
    this.mergedState = null;
  }

  // ── internals ──

  private adapterOf(name: string): RoAdAdapter | undefined {
    if (!Object.hasOwn(this.adapters, name)) return undefined;
    const a: unknown = (this.adapters as unknown as Record<string, unknown>)[name];
    return a instanceof RoAdAdapter ? a : undefined;
  }

  private expectAdapter(op: string, arg: string, name: unknown): RoAdAdapter {
    if (typeof name !== 'string') throw new DTypeError(op, `${arg} must be an adapter name (a string), got ${describeValue(name)}`, arg);
    const a = this.adapterOf(name);
    if (a === undefined) throw new ValueError(op, `${arg} '${name}' is not an adapter of this layer (adapters: ${this.adapterNames.join(', ')})`, arg);
    return a;
  }

  private checkNewName(op: string, arg: string, name: unknown): string {
    const n = checkNameSyntax(op, arg, name);
    if (this.adapterOf(n) !== undefined) throw new ValueError(op, `${arg} '${n}' already exists`, arg);
    return n;
  }

  private makeAdapter(op: string, o: RoAdAdapterOptions): RoAdAdapter {
    const { variant, g, init, gen } = parseAdapterOptions(op, o, this.outFeatures);
    return new RoAdAdapter(variant, g, this.outFeatures, init, gen, this.weight.dtype);
  }

  /** Only the active adapter's θ, α train; the base never does (PEFT: set_adapter, mark_only_adapters_as_trainable). */
  private syncRequiresGrad(): void {
    for (const name of this.adapterNames) {
      const a = this.adapterOf(name)!;
      a.theta.requiresGrad = name === this.active;
      a.alpha.requiresGrad = name === this.active;
    }
  }

  private write(w: Float64Array, b: Float64Array | null): void {
    this.weight.data.set(w);
    this.weight.markModified();
    if (b !== null && this.bias !== null) {
      this.bias.data.set(b);
      this.bias.markModified();
    }
  }

  private expectRowNames(op: string, names: unknown, x: Tensor): readonly string[] {
    const arg = 'options.adapterNames';
    if (!Array.isArray(names)) throw new DTypeError(op, `${arg} must be an array of adapter names, got ${describeValue(names)}`, arg);
    if (x.ndim < 2) throw new ShapeError(op, `${arg} needs a batch axis: x=${fmtShape(x.shape)} must be [B, ..., ${this.inFeatures}]`, arg);
    if (names.length !== x.shape[0]) throw new ShapeError(op, `${arg} has ${names.length} names but x=${fmtShape(x.shape)} has ${x.shape[0]} rows`, arg);
    names.forEach((n: unknown, i) => {
      if (typeof n !== 'string') throw new DTypeError(op, `${arg}[${i}] must be a string, got ${describeValue(n)}`, arg);
      if (n !== ROAD_BASE && this.adapterOf(n) === undefined) {
        throw new ValueError(op, `${arg}[${i}] '${n}' is not an adapter of this layer (adapters: ${this.adapterNames.join(', ')}, or '${ROAD_BASE}')`, arg);
      }
    });
    for (const n of new Set<string>(names as string[])) {
      if (n === ROAD_BASE) continue;
      const a = this.adapterOf(n)!;
      expectFiniteValues(op, `adapters.${n}.theta`, a.theta.data);
      expectFiniteValues(op, `adapters.${n}.alpha`, a.alpha.data);
    }
    return names as string[];
  }

  /** z[e] = h[e]·C[row][e] + h[p(e)]·S'[row][e], one pass: table row 0 is the identity ('__base__'), row k the k-th adapter used. */
  private mixedForward(x: Tensor, names: readonly string[]): Tensor {
    const h = this.base.forward(x);
    const used = [...new Set(names)].filter((n) => n !== ROAD_BASE);
    if (used.length === 0) return h;
    const out = this.outFeatures;
    const dtype = this.weight.dtype;
    const rowOf = new Map(used.map((n, i) => [n, i + 1]));
    const adapters = used.map((n) => this.adapterOf(n)!);
    const cols = adapters.map((a) => columns(a.variant, a.groupSize, a.theta, a.alpha, out));
    const c = concat([ones([1, out], { dtype }), ...cols.map((col) => col.c.reshape([1, out]))], 0);
    const s = concat([zeros([1, out], { dtype }), ...cols.map((col) => col.s.reshape([1, out]))], 0);
    return roadKernel(h, c, s, names.map((n) => rowOf.get(n) ?? 0), [2, ...adapters.map((a) => a.groupSize)]);
  }
}

// ── wrapping a model ─────────────────────────────────────────────────────────────────────────────────────────────

/** Options of `wrapWithRoAd`: `select`. */
export interface WrapWithRoAdOptions extends RoAdLinearOptions {
  /** Which Linears to wrap, by dotted module name (`blocks.0.attn.wq`): e.g. /attn\.w[qkvo]$/. */
  select: RegExp;
}

/**
 * Put a RoAdLinear around every Linear of `model` whose dotted module name matches `select`, and freeze every other
 * parameter of the model (requiresGrad = false: PEFT's get_peft_model), so that only the adapters train. Checks
 * everything (at least one match, every match's outFeatures divisible by groupSize) before changing anything.
 * Returns the wrapped layers by name.
 */
export function wrapWithRoAd(model: Module, options: WrapWithRoAdOptions): Array<[string, RoAdLinear]> {
  const op = 'wrapWithRoAd';
  expectModule(op, 'model', model);
  const o = expectRequiredOptions(op, options, ['select', 'adapterName', ...ADAPTER_OPTIONS], 'with select');
  if (!(o.select instanceof RegExp)) throw new DTypeError(op, `select must be a RegExp over dotted module names, got ${describeValue(o.select)}`, 'select');
  const targets: Array<{ parent: Module; key: string; name: string; linear: Linear }> = [];
  const walk = (m: Module, path: string): void => {
    for (const [key, value] of Object.entries(m)) {
      if (value instanceof Linear && o.select.test(path + key)) targets.push({ parent: m, key, name: path + key, linear: value });
    }
    for (const [name, child] of m.namedChildren()) if (!(child instanceof RoAdLinear)) walk(child, `${path}${name}.`);
  };
  walk(model, '');
  if (targets.length === 0) throw new ValueError(op, `select ${String(o.select)} matches no Linear of the model`, 'select');
  const { select: _select, ...layerOptions } = o;
  // every check before any change: the name, then the options against every target's outputs
  if (o.adapterName !== undefined) checkNameSyntax(op, 'adapterName', o.adapterName);
  for (const t of targets) {
    try {
      parseAdapterOptions(op, layerOptions, t.linear.outFeatures);
    } catch (e) {
      // name the layer that does not fit (a group size must divide every target's outputs)
      if (e instanceof ValueError && e.arg === 'groupSize') throw new ValueError(op, `${e.message.slice(op.length + 2)} (layer ${t.name})`, 'groupSize');
      throw e;
    }
  }
  const wrapped = targets.map((t) => new RoAdLinear(t.linear, layerOptions));
  for (const p of model.parameters()) p.requiresGrad = false;
  targets.forEach((t, i) => {
    (t.parent as unknown as Record<string, unknown>)[t.key] = wrapped[i];
    const a = wrapped[i]!.getAdapter(wrapped[i]!.activeAdapter);
    a.theta.requiresGrad = true;
    a.alpha.requiresGrad = true;
  });
  return targets.map((t, i) => [t.name, wrapped[i]!]);
}
