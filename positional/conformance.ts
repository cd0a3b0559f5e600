/**
 * RoPE conformance: compare what another implementation computed for a config (a "dump") with ropelab's reference
 * for that config (`fromHFConfig` / `ropeFromHFConfig`, transformers' semantics: `modeling_rope_utils.py`,
 * `modeling_llama.py` `apply_rotary_pos_emb`, `modeling_qwen2_vl.py` M-RoPE, `modeling_phi3.py` partial rotary and
 * LongRoPE), and when they differ, say which known porting bug explains the dump.
 *
 * Dump naming convention (HF's own names; every other name is refused, so a misspelt tensor is never left unchecked):
 *   inv_freq        [rotaryDim/2]            the inverse frequencies θ′ (HF's `inv_freq` buffer)
 *   position_ids    [T] or [B, T]            positions; M-RoPE: [3, T] or [3, B, T] (rows t, h, w)
 *   cache_position  [T]                      token indices in the sequence (decoding); with it, the true positions are
 *                                            cache_position (+ rope_deltas on all three rows for M-RoPE) and
 *                                            position_ids, when present, is checked against them
 *   rope_deltas     [] / [1] / [B] / [B, 1]   M-RoPE (Qwen2-VL): the offset of decode positions, default 0
 *   seq_len         [] or [1]                the length whose table a length-dependent rope type (dynamic, longrope)
 *                                            uses; default max position + 1 (what HF's `dynamic_rope_update` takes)
 *   attention_scaling [] or [1]              HF's `attention_scaling`, checked against the config's
 *   cos, sin        [T, rotaryDim] or [B, T, rotaryDim]   HF's table: layout 'half' = cat(φ, φ)·a, 'interleaved' =
 *                                            repeat_interleave(φ, 2)·a; for M-RoPE the table after section selection
 *   q, k            [..., T, headDim]        inputs of the rotation ([B, H, T, headDim] when positions are [B, T])
 *   q_embed, k_embed  same shapes as q, k    after rotation (HF `apply_rotary_pos_emb`); need q, k
 * Positions are 0…T−1 when neither position_ids nor cache_position is given. position_ids, when it is the only
 * source of positions, is taken as given (a wholesale offset of it cannot be seen without cache_position).
 *
 * The math: φ[n, i] = Σ_a pos_a[n]·F[a, i] (1-D RoPE: one axis, F = θ′), cos/sin tables as above, and
 * x_embed = applyRotary(x, φ, {layout, scale: a, rotaryDim}). Error of a tensor: e = max|dump − reference| /
 * max(1, max|reference|); residual = max e over the checked tensors; the dump conforms when residual ≤ tolerance
 * (default 1e-5 + 2⁻²¹·(max |position| + 1): a few float32 ulps of the angle m·θ).
 *
 * Diagnosis: each bug class is a transformation of the reference that a real port makes (below); a class explains the
 * dump when the residual against the transformed reference is ≤ tolerance; the smallest such residual wins; none
 * within tolerance is "no known cause" (ok false, diagnosis null).
 * - pair-layout: tables in the other layout and/or q, k rotated in the other pairing (rotate_half vs interleaved).
 * - low-precision-frequencies: θ′ rounded to bf16 (a model cast to bf16 with its inv_freq buffer) or fp16, or the
 *   angles m·θ′ formed in bf16 (autocast).
 * - attention-factor: a = 1 (missing) or a² (applied twice) when the config's a ≠ 1.
 * - partial-rotary-denominator: θ_i = base^(−2i/head_dim) for i < rotaryDim/2 (exponent over the head, not the
 *   rotated part); for p-RoPE (proportional) the reverse: the exponent over the kept pairs 2k instead of the head.
 * - scaling-regime: the table (and attention factor) of another rope type with the config's parameters: default,
 *   linear, dynamic, yarn, llama3 (low/high_freq_factor 1/4 when absent), longrope.
 * - longrope-switch: the other of LongRoPE's short/long tables (switching at ≥ L, by max_position_embeddings, or by
 *   the token count instead of max position + 1).
 * - mrope-decode-ids: M-RoPE decode positions without rope_deltas (cache_position on all rows).
 * - position-offset: positions ± 1 (in the tables only, or also in position_ids when cache_position is given).
 */
import {
  DTypeError, ShapeError, Tensor, ValueError, asPartOf, describeValue, expectFiniteValues, expectNumber, expectOptions, fmtShape,
} from '../core/index.js';
import { toBFloat16 } from './bf16.js';
import { checkLayout, checkString } from './checks.js';
import { fromHFConfig, HFLongRoPE, ropeFromHFConfig, type HFRoPEConfig, type HFRoPEParameters, type HFRoPESettings } from './hf-config.js';
import { allocateFrequencies, multiAxisAngles, MultiAxisRoPE } from './multi-axis.js';
import { applyRotary, rotaryAngles, type PairLayout } from './rope.js';

const OP = 'verifyRoPEDump';

/** The porting bugs verifyRoPEDump tests, in the order ties are broken. */
export const ROPE_BUG_CLASSES = [
  'pair-layout', 'low-precision-frequencies', 'attention-factor', 'partial-rotary-denominator', 'scaling-regime', 'longrope-switch', 'mrope-decode-ids', 'position-offset',
] as const;
/** One of `ROPE_BUG_CLASSES`: a known kind of RoPE implementation bug `verifyRoPEDump` can recognise. */
export type RoPEBugClass = (typeof ROPE_BUG_CLASSES)[number];

/** The tensor names a dump may hold (see the file header for shapes). */
export const ROPE_DUMP_NAMES = ['inv_freq', 'position_ids', 'cache_position', 'rope_deltas', 'seq_len', 'attention_scaling', 'cos', 'sin', 'q', 'k', 'q_embed', 'k_embed'] as const;

/** Options of `verifyRoPEDump`: `layerType`, `layout`, `tolerance`. */
export interface VerifyRoPEOptions {
  /** Which entry of a per-layer rope dict (as fromHFConfig). */
  layerType?: string;
  /** The pair layout the dump claims (its tables and rotation); default 'half' (HF's rotate_half). */
  layout?: PairLayout;
  /** Largest residual that passes (see the header); default 1e-5 + 2⁻²¹·(max |position| + 1). */
  tolerance?: number;
}

/**
 * One tensor of a dump compared with ropelab's reference: its name, shape, largest error and whether it is within
 * tolerance.
 */
export interface RoPEDumpCheck {
  name: string;
  shape: number[];
  /** max |dump − reference| */
  maxAbsError: number;
  /** max(1, max |reference|): the error is compared with tolerance · scale. */
  scale: number;
  ok: boolean;
}

/**
 * A bug class that explains a failing dump: applying it to ropelab's reference brings the residual within tolerance.
 */
export interface RoPEDiagnosis {
  cause: RoPEBugClass;
  /** The variant of the bug that fits, in words. */
  detail: string;
  /** Residual against ropelab's reference. */
  residualBefore: number;
  /** Residual against the reference with this bug applied (≤ tolerance). */
  residualAfter: number;
}

/** A bug class tried on a failing dump and the residual it leaves (the candidates that did not explain it). */
export interface RoPEVerifyCandidate {
  cause: RoPEBugClass;
  detail: string;
  residual: number;
}

/**
 * What `verifyRoPEDump` returns: whether every check passed, each tensor's check, and for a failing dump the diagnosis
 * and the candidates tried.
 */
export interface RoPEVerifyReport {
  /** Every check within tolerance. */
  ok: boolean;
  ropeType: string;
  tolerance: number;
  /** Residual against the reference: max over checks of maxAbsError / scale. */
  residual: number;
  checks: RoPEDumpCheck[];
  /** The bug that explains a failing dump; null when ok, or when no known cause does ("no known cause"). */
  diagnosis: RoPEDiagnosis | null;
  /** Best variant of each applicable class, smallest residual first (empty when ok). */
  candidates: RoPEVerifyCandidate[];
}

/** How a port computes the tables: the reference, or the reference with one bug. */
interface PortModel {
  invFreq: Float64Array;
  attentionFactor: number;
  tableLayout: PairLayout;
  rotateLayout: PairLayout;
  /** Positions the tables are built at, one row per axis, each [B·T]. */
  positions: Float64Array[];
  /** What position_ids should hold under this model (rows as positions). */
  ids: Float64Array[];
  angleBF16: boolean;
}

/** The dump, checked: shapes resolved against the config. */
interface Dump {
  tensors: Readonly<Record<string, Tensor>>;
  B: number;
  T: number;
  /** Positions per axis from the dump (truth), [B·T] each. */
  truth: Float64Array[];
  /** Where the truth came from. */
  source: 'position_ids' | 'cache_position' | 'default' | 'none';
  cachePosition?: Float64Array;
  ropeDeltas?: Float64Array;
  seqLen?: number;
}

/**
 * Compare a dump of another implementation's RoPE with ropelab's reference for `config` and, when they differ,
 * diagnose the known bug class that explains it. dump: name → Tensor (float32 or float64), named as in the header.
 */
export function verifyRoPEDump(config: HFRoPEConfig, dump: Readonly<Record<string, Tensor>>, options: VerifyRoPEOptions = {}): RoPEVerifyReport {
  const o = expectOptions(OP, 'options', options, ['layerType', 'layout', 'tolerance']);
  const layout = checkLayout(OP, o.layout);
  if (o.layerType !== undefined) checkString(OP, 'layerType', o.layerType);
  if (o.tolerance !== undefined) expectNumber(OP, 'tolerance', o.tolerance, { min: 0 });
  const layerOpt = o.layerType !== undefined ? { layerType: o.layerType } : {};
  const base = asPartOf(OP, () => fromHFConfig(config, layerOpt));
  const encoding = asPartOf(OP, () => ropeFromHFConfig(config, layerOpt));
  const axes = axesOf(encoding, base);
  const d = checkDump(dump, base, axes !== null);
  const maxPos = d.truth.reduce((m, row) => row.reduce((a, v) => Math.max(a, Math.abs(v)), m), 0);
  const tolerance = o.tolerance ?? 1e-5 + 2 ** -21 * (maxPos + 1);
  const ell = d.seqLen ?? (d.source === 'none' ? undefined : d.truth.reduce((m, row) => row.reduce((a, v) => Math.max(a, v), m), -Infinity) + 1);
  const settings = asPartOf(OP, () => fromHFConfig(config, { ...layerOpt, ...(ell !== undefined && ell >= 1 ? { seqLen: Math.floor(ell) } : {}) }));
  const reference: PortModel = {
    invFreq: settings.invFreq, attentionFactor: settings.attentionFactor, tableLayout: layout, rotateLayout: layout, positions: d.truth, ids: d.truth, angleBF16: false,
  };
  const ctx: Context = { d, settings, axes, reference };
  const checks = evaluate(ctx, reference, tolerance);
  const residual = residualOf(checks);
  const ok = checks.every((c) => c.ok);
  if (ok) return { ok, ropeType: settings.ropeType, tolerance, residual, checks, diagnosis: null, candidates: [] };

  const best = new Map<RoPEBugClass, RoPEVerifyCandidate>();
  for (const v of variants(ctx, config, layerOpt, encoding, ell, layout)) {
    const r = residualOf(evaluate(ctx, v.model, tolerance));
    const prev = best.get(v.cause);
    if (prev === undefined || r < prev.residual) best.set(v.cause, { cause: v.cause, detail: v.detail, residual: r });
  }
  const rank = (c: RoPEBugClass): number => ROPE_BUG_CLASSES.indexOf(c);
  const candidates = [...best.values()].sort((a, b) => a.residual - b.residual || rank(a.cause) - rank(b.cause));
  const top = candidates[0];
  const diagnosis = top !== undefined && top.residual <= tolerance ? { cause: top.cause, detail: top.detail, residualBefore: residual, residualAfter: top.residual } : null;
  return { ok, ropeType: settings.ropeType, tolerance, residual, checks, diagnosis, candidates };
}

interface Context {
  d: Dump;
  settings: HFRoPESettings;
  /** M-RoPE: the axis (0 t, 1 h, 2 w) of each pair; null for 1-D RoPE. */
  axes: number[] | null;
  reference: PortModel;
}

/** M-RoPE's pair → axis map, read from the encoding ropeFromHFConfig builds (sections or Qwen3-VL interleaving). */
function axesOf(encoding: unknown, settings: HFRoPESettings): number[] | null {
  if (settings.mropeSection === undefined || !(encoding instanceof MultiAxisRoPE)) return null;
  const F = encoding.freqs;
  const P = F.shape[F.ndim - 1]!;
  return Array.from({ length: P }, (_, j) => [0, 1, 2].find((a) => F.data[a * P + j] !== 0) ?? 0);
}

// ── the dump ──

function checkDump(dump: unknown, s: HFRoPESettings, mrope: boolean): Dump {
  if (typeof dump !== 'object' || dump === null || Array.isArray(dump) || dump instanceof Tensor) {
    throw new DTypeError(OP, `dump must be an object of name → Tensor, got ${describeValue(dump)}`, 'dump');
  }
  const tensors = dump as Readonly<Record<string, unknown>>;
  const known: readonly string[] = ROPE_DUMP_NAMES;
  for (const [name, t] of Object.entries(tensors)) {
    if (!known.includes(name)) {
      throw new ValueError(OP, `dump has an unknown tensor '${name}' (the naming convention: ${ROPE_DUMP_NAMES.join(', ')})`, `dump.${name}`);
    }
    if (!(t instanceof Tensor)) throw new DTypeError(OP, `dump.${name} must be a Tensor, got ${describeValue(t)}`, `dump.${name}`);
    expectFiniteValues(OP, `dump.${name}`, t.data);
  }
  const get = (name: string): Tensor | undefined => tensors[name] as Tensor | undefined;
  const bad = (name: string, want: string): never => {
    throw new ShapeError(OP, `dump.${name}=${fmtShape(get(name)!.shape)} does not fit the convention — expected ${want} (config: head_dim ${s.headDim}, rotary dim ${s.rotaryDim}${mrope ? ', M-RoPE' : ''})`, `dump.${name}`);
  };
  const rd = s.rotaryDim;
  const inv = get('inv_freq');
  if (inv !== undefined && !(inv.ndim === 1 && inv.shape[0] === s.invFreq.length)) bad('inv_freq', `[${s.invFreq.length}]`);
  for (const name of ['seq_len', 'attention_scaling']) {
    const t = get(name);
    if (t !== undefined && t.size !== 1) bad(name, 'a scalar ([] or [1])');
  }
  const seqLenT = get('seq_len');
  const seqLen = seqLenT === undefined ? undefined : seqLenT.data[0]!;
  if (seqLen !== undefined && !(Number.isInteger(seqLen) && seqLen >= 1)) {
    throw new ValueError(OP, `dump.seq_len must be an integer ≥ 1, got ${seqLen}`, 'dump.seq_len');
  }
  for (const name of ['q', 'k']) if (get(`${name}_embed`) !== undefined && get(name) === undefined) bad(`${name}_embed`, `${name} beside it (the input of the rotation)`);
  if (!['inv_freq', 'position_ids', 'attention_scaling', 'cos', 'sin', 'q_embed', 'k_embed'].some((n) => get(n) !== undefined)) {
    throw new ValueError(OP, `dump has nothing to compare — names [${Object.keys(tensors).join(', ')}] (give at least one of inv_freq, position_ids with cache_position, attention_scaling, cos, sin, q_embed, k_embed)`, 'dump');
  }

  // B, T from the positions, else from the tables, else from q/k
  const pid = get('position_ids');
  const cache = get('cache_position');
  let B = 1;
  let T = -1;
  if (pid !== undefined) {
    const lead = mrope ? 1 : 0;
    if (mrope && pid.shape[0] !== 3) bad('position_ids', '[3, T] or [3, B, T] (rows t, h, w) for M-RoPE');
    if (pid.ndim - lead === 1) T = pid.shape[lead]!;
    else if (pid.ndim - lead === 2) [B, T] = [pid.shape[lead]!, pid.shape[lead + 1]!];
    else bad('position_ids', mrope ? '[3, T] or [3, B, T]' : '[T] or [B, T]');
  }
  if (cache !== undefined) {
    if (cache.ndim !== 1 || (T >= 0 && cache.shape[0] !== T)) bad('cache_position', T >= 0 ? `[${T}] (T of position_ids)` : '[T]');
    T = cache.shape[0]!;
  }
  for (const name of ['cos', 'sin']) {
    const t = get(name);
    if (t === undefined) continue;
    if (!((t.ndim === 2 || t.ndim === 3) && t.shape[t.ndim - 1] === rd)) bad(name, `[T, ${rd}] or [B, T, ${rd}]`);
    const tb = t.ndim === 3 ? t.shape[0]! : 1;
    const tt = t.shape[t.ndim - 2]!;
    if (T < 0) [B, T] = [tb, tt];
    else if (tt !== T || tb !== B) bad(name, `[${B === 1 ? '' : `${B}, `}${T}, ${rd}] (B, T of the positions)`);
  }
  for (const name of ['q', 'k']) {
    const x = get(name);
    if (x === undefined) continue;
    if (x.ndim < 2 || x.shape[x.ndim - 1] !== s.headDim) bad(name, `[..., T, ${s.headDim}]`);
    if (T < 0) {
      T = x.shape[x.ndim - 2]!;
      if (x.ndim === 4) B = x.shape[0]!;
    }
    if (x.shape[x.ndim - 2] !== T || (B > 1 && !(x.ndim === 4 && x.shape[0] === B))) bad(name, B > 1 ? `[${B}, H, ${T}, ${s.headDim}]` : `[..., ${T}, ${s.headDim}]`);
    const e = get(`${name}_embed`);
    if (e !== undefined && fmtShape(e.shape) !== fmtShape(x.shape)) bad(`${name}_embed`, `${fmtShape(x.shape)} (the shape of ${name})`);
  }
  const deltasT = get('rope_deltas');
  if (deltasT !== undefined && !(deltasT.size === 1 || (deltasT.size === B && deltasT.shape[0] === B && deltasT.ndim <= 2))) bad('rope_deltas', `[] or [${B}] or [${B}, 1]`);
  if (deltasT !== undefined && !mrope) bad('rope_deltas', 'nothing: rope_deltas is for M-RoPE configs (mrope_section)');

  const A = mrope ? 3 : 1;
  const N = Math.max(T, 0) * B;
  let truth: Float64Array[];
  let source: Dump['source'];
  let cachePosition: Float64Array | undefined;
  let ropeDeltas: Float64Array | undefined;
  if (cache !== undefined) {
    cachePosition = Float64Array.from(cache.data);
    ropeDeltas = deltasT === undefined ? new Float64Array(B) : Float64Array.from({ length: B }, (_, b) => deltasT.data[deltasT.size === 1 ? 0 : b]!);
    truth = Array.from({ length: A }, () => Float64Array.from({ length: N }, (_, n) => cachePosition![n % T]! + ropeDeltas![Math.floor(n / T)]!));
    source = 'cache_position';
  } else if (pid !== undefined) {
    truth = Array.from({ length: A }, (_, a) => Float64Array.from(pid.data.subarray(a * N, (a + 1) * N)));
    source = 'position_ids';
  } else if (T >= 0) {
    truth = Array.from({ length: A }, () => Float64Array.from({ length: N }, (_, n) => n % T));
    source = 'default';
  } else {
    truth = Array.from({ length: A }, () => new Float64Array(0));
    source = 'none';
  }
  return {
    tensors: tensors as Readonly<Record<string, Tensor>>, B, T: Math.max(T, 0), truth, source,
    ...(cachePosition !== undefined ? { cachePosition } : {}), ...(ropeDeltas !== undefined ? { ropeDeltas } : {}), ...(seqLen !== undefined ? { seqLen } : {}),
  };
}

// ── the reference under a model, and the comparison ──

function evaluate(ctx: Context, model: PortModel, tolerance: number): RoPEDumpCheck[] {
  const { d, settings } = ctx;
  const out: RoPEDumpCheck[] = [];
  const compare = (name: string, want: ArrayLike<number>): void => {
    const got = d.tensors[name]!;
    let err = 0;
    let scale = 1;
    for (let i = 0; i < want.length; i++) {
      err = Math.max(err, Math.abs(got.data[i]! - want[i]!));
      scale = Math.max(scale, Math.abs(want[i]!));
    }
    out.push({ name, shape: [...got.shape], maxAbsError: err, scale, ok: err <= tolerance * scale });
  };
  const has = (name: string): boolean => d.tensors[name] !== undefined;
  if (has('inv_freq')) compare('inv_freq', model.invFreq);
  if (has('attention_scaling')) compare('attention_scaling', [model.attentionFactor]);
  if (has('position_ids') && d.source !== 'position_ids') compare('position_ids', concat(model.ids));
  const needAngles = ['cos', 'sin', 'q_embed', 'k_embed'].some(has);
  if (!needAngles) return out;
  const angles = anglesOf(ctx, model); // [N, P]
  const P = settings.invFreq.length;
  const N = d.B * d.T;
  for (const [name, f] of [['cos', Math.cos], ['sin', Math.sin]] as const) {
    if (!has(name)) continue;
    const rd = 2 * P;
    const table = new Float64Array(N * rd);
    for (let n = 0; n < N; n++) {
      for (let j = 0; j < rd; j++) table[n * rd + j] = model.attentionFactor * f(angles.data[n * P + (model.tableLayout === 'half' ? j % P : j >> 1)]!);
    }
    compare(name, table);
  }
  for (const name of ['q', 'k']) {
    if (!has(`${name}_embed`)) continue;
    const x = d.tensors[name]!.cast('float64');
    const phi = d.B === 1 ? angles.reshape([d.T, P]) : angles.reshape([d.B, 1, d.T, P]);
    const y = applyRotary(x, phi, { layout: model.rotateLayout, scale: model.attentionFactor, rotaryDim: settings.rotaryDim });
    compare(`${name}_embed`, y.data);
  }
  return out;
}

/** φ [B·T, P] of a model: rotaryAngles for 1-D RoPE, multiAxisAngles for M-RoPE; rounded to bf16 when the model says so. */
function anglesOf(ctx: Context, model: PortModel): Tensor {
  const N = ctx.d.B * ctx.d.T;
  let phi: Tensor;
  if (ctx.axes === null) {
    phi = rotaryAngles(new Tensor(model.positions[0]!, [N]), model.invFreq);
  } else {
    const pos = new Float64Array(N * 3);
    for (let n = 0; n < N; n++) for (let a = 0; a < 3; a++) pos[3 * n + a] = model.positions[a]![n]!;
    phi = multiAxisAngles(new Tensor(pos, [N, 3]), allocateFrequencies(ctx.axes, model.invFreq, 3));
  }
  return model.angleBF16 ? toBFloat16(phi).cast('float64') : phi;
}

function residualOf(checks: readonly RoPEDumpCheck[]): number {
  return checks.reduce((m, c) => Math.max(m, c.maxAbsError / c.scale), 0);
}

function concat(rows: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(rows.reduce((n, r) => n + r.length, 0));
  let at = 0;
  for (const r of rows) {
    out.set(r, at);
    at += r.length;
  }
  return out;
}

// ── the bug classes ──

interface Variant {
  cause: RoPEBugClass;
  detail: string;
  model: PortModel;
}

function* variants(ctx: Context, config: HFRoPEConfig, layerOpt: { layerType?: string }, encoding: unknown, ell: number | undefined, layout: PairLayout): Generator<Variant> {
  const ref = ctx.reference;
  const s = ctx.settings;
  const other: PairLayout = layout === 'half' ? 'interleaved' : 'half';
  const name = (l: PairLayout): string => (l === 'half' ? "'half' (cat(φ, φ), rotate_half)" : "'interleaved' (repeat_interleave(φ, 2), pairs (2i, 2i+1))");
  const v = (cause: RoPEBugClass, detail: string, change: Partial<PortModel>): Variant => ({ cause, detail, model: { ...ref, ...change } });

  // pair layout
  yield v('pair-layout', `tables and rotation in layout ${name(other)}, where the dump claims ${name(layout)}`, { tableLayout: other, rotateLayout: other });
  yield v('pair-layout', `cos/sin tables in layout ${name(other)}, rotation in ${name(layout)}`, { tableLayout: other });
  yield v('pair-layout', `q/k rotated in ${other} pairs with ${layout} tables`, { rotateLayout: other });

  // low precision
  yield v('low-precision-frequencies', 'inv_freq rounded to bfloat16 (the buffer cast with the model)', { invFreq: s.invFreq.map((x) => toBFloat16(x)) });
  yield v('low-precision-frequencies', 'inv_freq rounded to float16', { invFreq: s.invFreq.map(toFloat16) });
  yield v('low-precision-frequencies', 'angles position·inv_freq formed in bfloat16 (autocast)', { angleBF16: true });

  // attention factor
  if (s.attentionFactor !== 1) {
    yield v('attention-factor', `attention factor missing: 1 instead of ${s.attentionFactor}`, { attentionFactor: 1 });
    yield v('attention-factor', `attention factor applied twice: ${s.attentionFactor ** 2} instead of ${s.attentionFactor}`, { attentionFactor: s.attentionFactor ** 2 });
  }

  // partial-rotary denominator
  if (s.ropeType === 'proportional') {
    const k = s.invFreq.findIndex((x) => x === 0);
    if (k >= 2) {
      // θ_i = θ_0·r^i with r = base^(−2/h); over 2k instead: θ_0·r^(i·h/(2k))
      const r = s.invFreq[1]! / s.invFreq[0]!;
      const inv = s.invFreq.map((x, i) => (i < k ? s.invFreq[0]! * r ** ((i * s.headDim) / (2 * k)) : 0));
      yield v('partial-rotary-denominator', `exponent over the ${2 * k} kept channels instead of head_dim ${s.headDim} (p-RoPE)`, { invFreq: inv });
    }
  } else if (s.rotaryDim < s.headDim) {
    const full = tryOr(() => fromHFConfig({ ...config, partial_rotary_factor: 1 }, { ...layerOpt, ...(ell !== undefined && ell >= 1 ? { seqLen: Math.floor(ell) } : {}) }));
    if (full !== undefined && full.invFreq.length >= s.invFreq.length) {
      yield v('partial-rotary-denominator', `exponent over head_dim ${s.headDim} instead of the rotary dim ${s.rotaryDim}`, { invFreq: full.invFreq.slice(0, s.invFreq.length), attentionFactor: full.attentionFactor });
    }
  }

  // another scaling regime
  // one dict for every layer (a per-layer dict is not swapped)
  const dict = layerOpt.layerType === undefined && (s.ropeDict === null || s.ropeDict === 'rope_scaling' || s.ropeDict === 'rope_parameters') ? s.ropeParameters : undefined;
  if (dict !== undefined) {
    for (const type of ['default', 'linear', 'dynamic', 'yarn', 'llama3', 'longrope'] as const) {
      if (type === s.ropeType) continue;
      const changed: HFRoPEParameters = { ...dict, rope_type: type, type: null, ...(type === 'llama3' ? { low_freq_factor: dict.low_freq_factor ?? 1, high_freq_factor: dict.high_freq_factor ?? 4 } : {}) };
      const alt = tryOr(() => fromHFConfig({ ...config, rope_scaling: changed, rope_parameters: null }, ell !== undefined && ell >= 1 ? { seqLen: Math.floor(ell) } : {}));
      if (alt !== undefined && alt.invFreq.length === s.invFreq.length) {
        yield v('scaling-regime', `the table of rope_type '${type}' instead of '${s.ropeType}'${alt.attentionFactor !== 1 ? ` (attention factor ${alt.attentionFactor})` : ''}`, { invFreq: alt.invFreq, attentionFactor: alt.attentionFactor });
      }
    }
  }

  // LongRoPE's switch
  if (encoding instanceof HFLongRoPE && ell !== undefined) {
    const L = encoding.originalMaxPositions;
    const long = ell > L;
    const maxPositions = s.maxPositionEmbeddings;
    const why = long
      ? `short factors at length ${ell} > original_max_position_embeddings ${L}${maxPositions !== undefined && ell <= maxPositions ? ` (switched by max_position_embeddings ${maxPositions}?)` : ''}${ctx.d.T <= L ? ` (or by the token count ${ctx.d.T} instead of max position + 1)` : ''}`
      : `long factors at length ${ell} ≤ original_max_position_embeddings ${L}${ell === L ? ' (switched with ≥ instead of >)' : ''}`;
    yield v('longrope-switch', why, { invFreq: long ? encoding.shortInvFreq : encoding.longInvFreq });
  }

  // M-RoPE decode ids without rope_deltas
  const { d } = ctx;
  if (ctx.axes !== null && d.cachePosition !== undefined && d.ropeDeltas !== undefined && d.ropeDeltas.some((x) => x !== 0)) {
    const T = d.T;
    const plain = [0, 1, 2].map(() => Float64Array.from({ length: d.B * T }, (_, n) => d.cachePosition![n % T]!));
    yield v('mrope-decode-ids', `decode positions = cache_position without rope_deltas (${[...new Set(d.ropeDeltas)].join(', ')})`, { positions: plain, ids: plain });
  }

  // positions off by one
  if (d.source !== 'none') {
    for (const by of [1, -1]) {
      const shifted = d.truth.map((row) => row.map((x) => x + by));
      const sign = by > 0 ? '+1' : '−1';
      yield v('position-offset', `tables built at positions ${sign}`, { positions: shifted });
      if (d.source === 'cache_position') yield v('position-offset', `position_ids and tables at positions ${sign}`, { positions: shifted, ids: shifted });
    }
  }
}

function tryOr<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined; // a variant the config cannot express is simply not a candidate
  }
}

/** The float16 value nearest to x (round to nearest, ties to even; subnormals below 2⁻¹⁴; overflow to ±∞). */
function toFloat16(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  const ulp = 2 ** (Math.max(e, -14) - 10);
  const q = a / ulp;
  const f = Math.floor(q);
  const r = q - f > 0.5 || (q - f === 0.5 && f % 2 === 1) ? f + 1 : f;
  const y = r * ulp;
  return Math.sign(x) * (y > 65504 ? Infinity : y);
}
