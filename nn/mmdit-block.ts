/**
 * MMDiT blocks of FLUX.1 (Black Forest Labs 2024; Esser et al., "Scaling Rectified Flow Transformers", ICML 2024 for
 * the MM-DiT design), as written in huggingface/diffusers `models/transformers/transformer_flux.py`
 * (`FluxTransformerBlock`, `FluxSingleTransformerBlock`, `FluxAttnProcessor`), with the hook of FreeFlux (Wei, Zhou,
 * Chen, Pan, ICCV 2025; wtybest/FreeFlux `probing/probing_attn_utils.py`, `editing/add_object/add_object_attn_utils.py`)
 * that corrupts the keys' RoPE or swaps keys/values in one layer.
 *
 * Shape letters: B batch, L text tokens, N image tokens, S = L + N joint sequence ([text; image], text first),
 * D model dim, H heads, d head dim (= Σ axesDim of the FluxRoPE), F MLP hidden width.
 * - joint attention (one softmax over S):  q = [q_txt; q_img], k = [k_txt; k_img], v = [v_txt; v_img], each stream
 *   with its own projections and RMS qk-norm; q ← R(ids) q, k ← R(ids) k (FLUX 3-axis RoPE, text ids 0);
 *   o = softmax(q kᵀ/√d) v; o_txt = W_o^txt o[:L], o_img = W_o^img o[L:]
 * - adaLN-Zero modulation (DiT):  (shift, scale, gate) = chunks of W·silu(c) + b,  c [B, D] the conditioning
 *   (timestep + pooled text); modulate(x) = LN(x)·(1 + scale) + shift, LN without affine, eps 1e-6
 * - double-stream block (FluxTransformerBlock): per stream s ∈ {txt, img}
 *   x_s ← x_s + gate¹_s · attn_s(modulate¹_s(x_s)),  x_s ← x_s + gate²_s · MLP_s(modulate²_s(x_s))
 * - single-stream block (FluxSingleTransformerBlock), x = [txt; img]:  h = modulate(x),
 *   x ← x + gate · W_out [attn(h); gelu_tanh(W_mlp h)]   (parallel attention and MLP, no attention out projection)
 * The modulation weights are zero at init (adaLN-Zero): every block starts as the identity.
 * FreeFlux's probe and edit enter through `JointAttentionHook`: keys unrotated or rotated at shifted image ids
 * (`freeFluxProbe` of positional/flux.ts; queries and values untouched), and/or a function that replaces the
 * rotated keys and the values before the softmax (the add-object edit's key/value injection).
 */
import {
  DTypeError, Generator, Module, ShapeError, Tensor, ValueError, asPartOf, attention, concat, defaultGenerator, describeValue,
  expectFunction, expectNumber, expectOptions, expectPositions, expectSize, expectTensor, fmtShape, optionalDType,
  optionalGenerator, type DType,
} from '../core/index.js';
import { FluxRoPE, freeFluxProbe } from '../positional/index.js';
import { expectSequence, expectWeight } from './checks.js';
import { Linear } from './linear.js';
import { MLP } from './mlp.js';
import { LayerNorm, RMSNorm } from './norm.js';

/** How one attention call rotates its keys: with the queries' ids (default), not at all, or at image ids + (0, Δh, Δw). */
export type KeyRoPE = 'rotated' | 'unrotated' | readonly [number, number];

/** Per-call control of a joint attention layer (FreeFlux's probe and edit). */
export interface JointAttentionHook {
  /**
   * 'unrotated': keys get no RoPE; [Δh, Δw]: keys rotate with every image id shifted by (0, Δh, Δw), text ids staying
   * 0 (FreeFlux's probe); 'rotated' (default): as the queries.
   */
  keys?: KeyRoPE;
  /**
   * Replaces the rotated keys and the values [B, H, S, d] before the softmax (the add-object edit injects the source
   * image's); must return tensors of the same shapes and dtype.
   */
  keysValues?: (k: Tensor, v: Tensor) => { k: Tensor; v: Tensor };
}

/**
 * Options of the MMDiT blocks (`DoubleStreamBlock`, `SingleStreamBlock`, `JointAttention`): `numHeads`, `rope`,
 * `mlpRatio`, `generator`, `dtype`.
 */
export interface MMDiTBlockOptions {
  numHeads: number;
  /** The joint attention's RoPE; its headDim (Σ axesDim) must be dim / numHeads. */
  rope: FluxRoPE;
  /** MLP hidden width = mlpRatio · dim; default 4 (FLUX). */
  mlpRatio?: number;
  generator?: Generator;
  dtype?: DType;
}

/** The checked block options; `op` names the class the user built. */
function blockOptions(op: string, dim: unknown, options: MMDiTBlockOptions | undefined) {
  const D = expectSize(op, 'dim', dim);
  if (options === undefined) throw new DTypeError(op, 'options must be an object { numHeads, rope }', 'options');
  const o = expectOptions(op, 'options', options, ['numHeads', 'rope', 'mlpRatio', 'generator', 'dtype']);
  const H = expectSize(op, 'numHeads', o.numHeads);
  if (D % H !== 0) throw new ValueError(op, `dim=${D} is not divisible by numHeads=${H}`, 'numHeads');
  if (!(o.rope instanceof FluxRoPE)) throw new DTypeError(op, `rope must be a FluxRoPE, got ${describeValue(o.rope)}`, 'rope');
  if (o.rope.headDim !== D / H) throw new ShapeError(op, `rope has headDim=${o.rope.headDim} (Σ axesDim) but dim/numHeads = ${D / H}`, 'rope');
  const ratio = o.mlpRatio === undefined ? 4 : expectNumber(op, 'mlpRatio', o.mlpRatio, { above: 0 });
  const hidden = Math.max(1, Math.round(ratio * D));
  expectWeight(op, 'mlpRatio', hidden, D);
  expectWeight(op, 'dim', 12 * D, D); // the double block's two modulation projections [6D, D]
  const generator = optionalGenerator(op, 'generator', o.generator, defaultGenerator);
  const dtype = optionalDType(op, 'dtype', o.dtype);
  return { D, H, rope: o.rope, hidden, generator, dtype };
}

/** @internal A JointAttentionHook's fields checked under `op` (undefined passes); models check their hooks with it. */
export function expectJointAttentionHook(op: string, arg: string, hook: unknown): JointAttentionHook | undefined {
  if (hook === undefined) return undefined;
  if (hook === null || typeof hook !== 'object' || Array.isArray(hook)) throw new DTypeError(op, `${arg} must be an object { keys?, keysValues? }, got ${describeValue(hook)}`, arg);
  const o = expectOptions(op, arg, hook as JointAttentionHook, ['keys', 'keysValues']);
  const keys: unknown = o.keys;
  if (keys !== undefined && keys !== 'rotated' && keys !== 'unrotated') {
    if (!Array.isArray(keys) || keys.length !== 2) throw new DTypeError(op, `${arg}.keys must be 'rotated', 'unrotated' or a shift [Δh, Δw], got ${describeValue(keys)}`, 'keys');
    keys.forEach((s: unknown, i) => expectNumber(op, `keys[${i}]`, s));
  }
  if (o.keysValues !== undefined) expectFunction(op, 'keysValues', o.keysValues);
  return o;
}

/** ids must be a [S, 3] tensor of finite ids for a sequence of S tokens. */
function checkIds(op: string, ids: unknown, S: number): asserts ids is Tensor {
  expectPositions(op, 'ids', ids);
  if (ids.ndim !== 2 || ids.shape[0] !== S || ids.shape[1] !== 3) {
    throw new ShapeError(op, `ids=${fmtShape(ids.shape)} must be [${S}, 3] (one (axis0, row, col) per token of [text; image])`, 'ids');
  }
}

/** c must be a [B, D] conditioning of the block's dtype. */
function checkConditioning(op: string, c: unknown, B: number, D: number, dtype: DType): asserts c is Tensor {
  expectTensor(op, 'c', c);
  if (c.ndim !== 2 || c.shape[0] !== B || c.shape[1] !== D) throw new ShapeError(op, `c=${fmtShape(c.shape)} must be [${B}, ${D}] (one conditioning vector per image)`, 'c');
  if (c.dtype !== dtype) throw new DTypeError(op, `c is ${c.dtype} but the block's weights are ${dtype}`, 'c');
}

/**
 * softmax(R q (R' k)ᵀ / √d) v over the joint sequence, R the FLUX RoPE at `ids`, R' as the hook says (R by default);
 * q, k, v [B, H, S, d] → [B, H, S, d]. The hook's keysValues sees the rotated keys.
 */
function ropeAttention(op: string, rope: FluxRoPE, q: Tensor, k: Tensor, v: Tensor, ids: Tensor, textLength: number, hook: JointAttentionHook | undefined): Tensor {
  const keys = hook?.keys ?? 'rotated';
  let qr: Tensor;
  let kr: Tensor;
  if (keys === 'rotated') {
    qr = asPartOf(op, () => rope.rotate(q, ids));
    kr = asPartOf(op, () => rope.rotate(k, ids));
  } else {
    ({ q: qr, k: kr } = asPartOf(op, () => freeFluxProbe(rope, q, k, ids, { textLength, keys })));
  }
  let vv = v;
  if (hook?.keysValues !== undefined) {
    const out: unknown = hook.keysValues(kr, v);
    const r = out as { k?: unknown; v?: unknown } | null;
    if (r === null || typeof r !== 'object' || !(r.k instanceof Tensor) || !(r.v instanceof Tensor)) {
      throw new DTypeError(op, `keysValues must return { k: Tensor, v: Tensor }, got ${describeValue(out)}`, 'keysValues');
    }
    for (const [got, want, name] of [[r.k, kr, 'k'], [r.v, v, 'v']] as const) {
      if (got.dtype !== want.dtype || got.shape.length !== want.shape.length || got.shape.some((s, i) => s !== want.shape[i])) {
        throw new ShapeError(op, `keysValues returned ${name}=${fmtShape(got.shape)} ${got.dtype}, expected ${fmtShape(want.shape)} ${want.dtype}`, 'keysValues');
      }
    }
    kr = r.k;
    vv = r.v;
  }
  return attention(qr, kr, vv, { scale: 1 / Math.sqrt(q.shape[3]!) });
}

/** LN(x)·(1 + scale) + shift; x [B, T, D], shift and scale [B, D]. */
function modulate(norm: LayerNorm, x: Tensor, shift: Tensor, scale: Tensor): Tensor {
  return norm.forward(x).mul(scale.add(1).unsqueeze(1)).add(shift.unsqueeze(1));
}

/** The k-th of the D-wide chunks of m [B, n·D]. */
const chunk = (m: Tensor, k: number, D: number): Tensor => m.narrow(1, k * D, D);

/** x [B, T, D] → [B, H, T, d]. */
const heads = (x: Tensor, H: number): Tensor => {
  const [B, T, D] = x.shape as [number, number, number];
  return x.reshape([B, T, H, D / H]).transpose(1, 2);
};

/** [B, H, T, d] → [B, T, H·d]. */
const merge = (x: Tensor): Tensor => {
  const [B, H, T, d] = x.shape as [number, number, number, number];
  return x.transpose(1, 2).reshape([B, T, H * d]);
};

/** A zero-initialised Linear (adaLN-Zero modulation: the block starts as the identity). */
const zeroLinear = (inF: number, outF: number, dtype: DType | undefined): Linear => new Linear(inF, outF, { std: 0, dtype });

/**
 * The joint attention of a double-stream block: text and image streams with their own q/k/v/o projections (with
 * biases) and RMS qk-norms, one attention over [text; image]. txt [B, L, D], img [B, N, D], ids [L + N, 3].
 */
export class JointAttention extends Module {
  readonly numHeads: number;
  readonly headDim: number;
  readonly rope: FluxRoPE;
  readonly imgQ: Linear;
  readonly imgK: Linear;
  readonly imgV: Linear;
  readonly imgOut: Linear;
  readonly txtQ: Linear;
  readonly txtK: Linear;
  readonly txtV: Linear;
  readonly txtOut: Linear;
  readonly normQ: RMSNorm;
  readonly normK: RMSNorm;
  readonly normAddedQ: RMSNorm;
  readonly normAddedK: RMSNorm;

  constructor(readonly dim: number, options: Omit<MMDiTBlockOptions, 'mlpRatio'>) {
    super();
    const { D, H, rope, generator, dtype } = blockOptions('JointAttention', dim, options);
    this.numHeads = H;
    this.headDim = D / H;
    this.rope = rope;
    const lin = (): Linear => new Linear(D, D, { bias: true, generator, dtype });
    [this.imgQ, this.imgK, this.imgV, this.imgOut] = [lin(), lin(), lin(), lin()];
    [this.txtQ, this.txtK, this.txtV, this.txtOut] = [lin(), lin(), lin(), lin()];
    const rms = (): RMSNorm => new RMSNorm(this.headDim, { eps: 1e-6, dtype });
    [this.normQ, this.normK, this.normAddedQ, this.normAddedK] = [rms(), rms(), rms(), rms()];
  }

  /** img [B, N, D], txt [B, L, D], ids [L + N, 3] → { img [B, N, D], txt [B, L, D] }. */
  forward(img: Tensor, txt: Tensor, ids: Tensor, hook?: JointAttentionHook): { img: Tensor; txt: Tensor } {
    const op = 'JointAttention.forward';
    const h = this.checkCall(op, img, txt, ids, hook);
    return this.forwardChecked(op, img, txt, ids, h);
  }

  /** @internal The checks of forward, under `op`; returns the checked hook. */
  checkCall(op: string, img: unknown, txt: unknown, ids: unknown, hook: unknown): JointAttentionHook | undefined {
    const dtype = this.imgQ.weight.dtype;
    expectSequence(op, 'img', img, this.dim, dtype);
    expectSequence(op, 'txt', txt, this.dim, dtype);
    if (txt.shape[0] !== img.shape[0]) throw new ShapeError(op, `txt=${fmtShape(txt.shape)} and img=${fmtShape(img.shape)} differ in batch`, 'txt');
    checkIds(op, ids, txt.shape[1]! + img.shape[1]!);
    return expectJointAttentionHook(op, 'hook', hook);
  }

  /** @internal forward of checked arguments; errors from the hook or the RoPE are reported under `op`. */
  forwardChecked(op: string, img: Tensor, txt: Tensor, ids: Tensor, hook: JointAttentionHook | undefined): { img: Tensor; txt: Tensor } {
    const H = this.numHeads;
    const L = txt.shape[1]!;
    const N = img.shape[1]!;
    const q = concat([this.normAddedQ.forward(heads(this.txtQ.forward(txt), H)), this.normQ.forward(heads(this.imgQ.forward(img), H))], 2); // [B, H, S, d]
    const k = concat([this.normAddedK.forward(heads(this.txtK.forward(txt), H)), this.normK.forward(heads(this.imgK.forward(img), H))], 2); // [B, H, S, d]
    const v = concat([heads(this.txtV.forward(txt), H), heads(this.imgV.forward(img), H)], 2); // [B, H, S, d]
    const o = merge(ropeAttention(op, this.rope, q, k, v, ids, L, hook)); // [B, S, D]
    return { txt: this.txtOut.forward(o.narrow(1, 0, L)), img: this.imgOut.forward(o.narrow(1, L, N)) };
  }
}

/** FLUX's double-stream block (FluxTransformerBlock): adaLN-Zero per stream, joint attention, an MLP per stream. */
export class DoubleStreamBlock extends Module {
  /** W [6D, D] of silu(c) → shift¹, scale¹, gate¹, shift², scale², gate² of each stream (norm1.linear, norm1_context.linear). */
  readonly imgMod: Linear;
  readonly txtMod: Linear;
  readonly imgNorm1: LayerNorm;
  readonly imgNorm2: LayerNorm;
  readonly txtNorm1: LayerNorm;
  readonly txtNorm2: LayerNorm;
  readonly attn: JointAttention;
  readonly imgMlp: MLP;
  readonly txtMlp: MLP;

  constructor(readonly dim: number, options: MMDiTBlockOptions) {
    super();
    const { D, H, rope, hidden, generator, dtype } = blockOptions('DoubleStreamBlock', dim, options);
    this.imgMod = zeroLinear(D, 6 * D, dtype);
    this.txtMod = zeroLinear(D, 6 * D, dtype);
    const ln = (): LayerNorm => new LayerNorm(D, { affine: false, eps: 1e-6, dtype });
    [this.imgNorm1, this.imgNorm2, this.txtNorm1, this.txtNorm2] = [ln(), ln(), ln(), ln()];
    this.attn = new JointAttention(D, { numHeads: H, rope, generator, dtype });
    this.imgMlp = new MLP(D, hidden, { generator, dtype });
    this.txtMlp = new MLP(D, hidden, { generator, dtype });
  }

  /** img [B, N, D], txt [B, L, D], c [B, D], ids [L + N, 3] → { img, txt } of the same shapes. */
  forward(img: Tensor, txt: Tensor, c: Tensor, ids: Tensor, hook?: JointAttentionHook): { img: Tensor; txt: Tensor } {
    const op = 'DoubleStreamBlock.forward';
    const h = this.attn.checkCall(op, img, txt, ids, hook);
    checkConditioning(op, c, img.shape[0]!, this.dim, this.imgMod.weight.dtype);
    return this.forwardChecked(op, img, txt, c, ids, h);
  }

  /** @internal forward of checked arguments (a model checks its inputs once). */
  forwardChecked(op: string, img: Tensor, txt: Tensor, c: Tensor, ids: Tensor, hook: JointAttentionHook | undefined): { img: Tensor; txt: Tensor } {
    const D = this.dim;
    const sc = c.silu();
    const mi = this.imgMod.forward(sc); // [B, 6D]
    const mt = this.txtMod.forward(sc); // [B, 6D]
    const a = this.attn.forwardChecked(
      op, modulate(this.imgNorm1, img, chunk(mi, 0, D), chunk(mi, 1, D)), modulate(this.txtNorm1, txt, chunk(mt, 0, D), chunk(mt, 1, D)), ids, hook,
    );
    let x = img.add(chunk(mi, 2, D).unsqueeze(1).mul(a.img)); // [B, N, D]
    let t = txt.add(chunk(mt, 2, D).unsqueeze(1).mul(a.txt)); // [B, L, D]
    x = x.add(chunk(mi, 5, D).unsqueeze(1).mul(this.imgMlp.forward(modulate(this.imgNorm2, x, chunk(mi, 3, D), chunk(mi, 4, D)))));
    t = t.add(chunk(mt, 5, D).unsqueeze(1).mul(this.txtMlp.forward(modulate(this.txtNorm2, t, chunk(mt, 3, D), chunk(mt, 4, D)))));
    return { img: x, txt: t };
  }
}

/**
 * FLUX's single-stream block (FluxSingleTransformerBlock) over x = [text; image] [B, S, D]: one adaLN-Zero, shared
 * q/k/v projections with RMS qk-norm, attention and MLP in parallel, one output projection of both.
 */
export class SingleStreamBlock extends Module {
  readonly numHeads: number;
  readonly headDim: number;
  readonly rope: FluxRoPE;
  /** W [3D, D]: shift, scale, gate. */
  readonly mod: Linear;
  readonly norm: LayerNorm;
  readonly wq: Linear;
  readonly wk: Linear;
  readonly wv: Linear;
  readonly normQ: RMSNorm;
  readonly normK: RMSNorm;
  readonly projMlp: Linear;
  /** [D, D + F]: the attention output and the MLP activation, concatenated. */
  readonly projOut: Linear;

  constructor(readonly dim: number, options: MMDiTBlockOptions) {
    super();
    const { D, H, rope, hidden, generator, dtype } = blockOptions('SingleStreamBlock', dim, options);
    this.numHeads = H;
    this.headDim = D / H;
    this.rope = rope;
    this.mod = zeroLinear(D, 3 * D, dtype);
    this.norm = new LayerNorm(D, { affine: false, eps: 1e-6, dtype });
    const lin = (): Linear => new Linear(D, D, { bias: true, generator, dtype });
    [this.wq, this.wk, this.wv] = [lin(), lin(), lin()];
    this.normQ = new RMSNorm(this.headDim, { eps: 1e-6, dtype });
    this.normK = new RMSNorm(this.headDim, { eps: 1e-6, dtype });
    this.projMlp = new Linear(D, hidden, { generator, dtype });
    this.projOut = new Linear(D + hidden, D, { generator, dtype });
  }

  /** x [B, L + N, D] (text first), c [B, D], ids [L + N, 3], textLength = L → [B, L + N, D]. */
  forward(x: Tensor, c: Tensor, ids: Tensor, textLength: number, hook?: JointAttentionHook): Tensor {
    const op = 'SingleStreamBlock.forward';
    const dtype = this.wq.weight.dtype;
    expectSequence(op, 'x', x, this.dim, dtype);
    checkConditioning(op, c, x.shape[0]!, this.dim, dtype);
    checkIds(op, ids, x.shape[1]!);
    const L = expectNumber(op, 'textLength', textLength, { integer: true, min: 0, max: x.shape[1]! });
    return this.forwardChecked(op, x, c, ids, L, expectJointAttentionHook(op, 'hook', hook));
  }

  /** @internal forward of checked arguments. */
  forwardChecked(op: string, x: Tensor, c: Tensor, ids: Tensor, textLength: number, hook: JointAttentionHook | undefined): Tensor {
    const D = this.dim;
    const m = this.mod.forward(c.silu()); // [B, 3D]
    const h = modulate(this.norm, x, chunk(m, 0, D), chunk(m, 1, D)); // [B, S, D]
    const H = this.numHeads;
    const q = this.normQ.forward(heads(this.wq.forward(h), H)); // [B, H, S, d]
    const k = this.normK.forward(heads(this.wk.forward(h), H));
    const v = heads(this.wv.forward(h), H);
    const a = merge(ropeAttention(op, this.rope, q, k, v, ids, textLength, hook)); // [B, S, D]
    const mlp = this.projMlp.forward(h).gelu('tanh'); // [B, S, F]
    return x.add(chunk(m, 2, D).unsqueeze(1).mul(this.projOut.forward(concat([a, mlp], 2))));
  }
}
