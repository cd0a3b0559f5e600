/**
 * V-NIAH-D in miniature: M-RoPE, VideoRoPE, VRoPE and HoPE (Qwen2-VL §2.1; Wei et al. 2025; Liu et al. 2025; Li et al. 2025) compared on a synthetic
 * needle-in-a-video-haystack task with periodic distractors. Each scheme drives the same tiny transformer, trained
 * with the same budget, data and seed, then evaluated at the training number of frames F and at 2F and 4F.
 *
 * The task (drawn in code from a seed; no files). A "video" of F frames, each frame an H'×W' grid of LLM tokens
 * (default 2×2, already merged: spatialMergeSize 1), then one text token, the question. Token ids:
 * - haystack colours 0…C−1 (C = 8): every cell not set below gets a uniform random colour;
 * - KEY, the needle's marker ("the ball"), and VALUE_0 … VALUE_{K−1} (K = 16), what the question asks about;
 * - QUERY: the question, last token; the model answers from its vector.
 * The needle is frame n (uniform over 0…F−1: every depth) holding KEY with VALUE_y beside it (same row, another
 * column: "what is next to the ball?"); the label is y. Distractors — V-NIAH-D's edited copies of the needle scene,
 * whose answer differs — sit periodically at every frame n ± P, n ± 2P, … of the video (P = 3 by default), each a
 * KEY with another VALUE, in one of two arrangements the needle rule excludes (half each):
 * - 'column':   same frame, one above the other (same column): differs from the needle in (Δh, Δw) only;
 * - 'temporal': beside each other as in the needle, but split across frames d and d+1 (either order): Δt = ±1.
 * The needle's and the distractors' values in a sequence are all different (while D + 1 ≤ K; beyond that, balanced),
 * so counting tokens gives nothing away: a position-blind model (a bag of tokens) can at best guess among the D + 1
 * values present, accuracy E[1/(D+1)], printed as "position-blind". Beating it takes relative positions inside a
 * frame (same row) and across frames (same frame); a two-layer model can let each VALUE (or KEY) look for a KEY
 * (VALUE) beside it in its own frame, then let QUERY fetch the marked VALUE by content from any distance.
 * --rule frame is a purely temporal variant: KEY and VALUE anywhere in one frame, every distractor split across
 * two adjacent frames. (A diagonal needle rule was tried first: in 400–1000 steps neither VideoRoPE nor M-RoPE left
 * the plateau.)
 *
 * Why V-NIAH-D-like: as in VideoRoPE's V-NIAH-D (Wei et al., ICML 2025), one needle frame at a random depth of
 * a haystack of frames, the question after the video, and distractors that resemble the needle and answer
 * differently, at fixed frame offsets from the needle ("periodic distractors"; the reference code inserts one at
 * ±200 frames, here one every P frames, so their density stays fixed as the haystack grows). Longer haystacks keep
 * the frame-local problem the same and put the needle further from the question (at position ids never seen in
 * training) among more distractors: there a scheme's temporal frequencies — M-RoPE's fast t pairs, VideoRoPE's slow
 * ones, HoPE's zero ones, VRoPE's no temporal axis — decide whether attention to the right frame survives.
 *
 * Positions, from one segment list [{type:'video', grid:[F, H', W']}, {type:'text', length:1}] with
 * spatialMergeSize 1 (the grid already counts LLM tokens); frame τ, row r, column c; the video starts at 0:
 * - mrope     (Qwen2-VL `get_rope_index`, `mropePositions`): (t, h, w) = (τ, r, c); the question at max(F, H', W') on all three
 *             rows. Pairs: the s_t fastest read t, the next s_h read h, the s_w slowest read w.
 * - videorope (VideoRoPE, `videoRopePositions`, δ = 2): t = 2τ, h = t + r − ⌊(H'−1)/2⌋,
 *             w = t + c − ⌊(W'−1)/2⌋ (diagonal layout); the question at 2(F−1) + 1. Pairs: the fast ones
 *             alternate h, w; the s_t slowest read t.
 * - vrope     (VRoPE, `vropePositions`): four axes c0…c3 = b + {r+c, r+(W'−1−c), (H'−1−r)+c,
 *             (H'−1−r)+(W'−1−c)}, b = τ(H'+W'−1); the question at F(H'+W'−1). Pair k reads c_{k mod 4}; no t axis.
 * - hope      (HoPE, `hopePositions`): VideoRoPE's layout with spacing γ drawn per sequence from
 *             {0.5, 0.75, 1, 1.25, 1.5} in training (dynamic temporal scaling) and γ = 0.75 at evaluation
 *             (HOPE_VNIAH_SCALE, the reference's V-NIAH value). Pairs: h/w as VideoRoPE; the s_t slowest unrotated.
 * - nope, rope (optional controls, not run by default): no positions; 1-D RoPE on the flat token index 0…L−1
 *             (VideoRoPE's `vanilla_rope` baseline).
 * Head dim 16 (8 pairs); sections [s_t, s_h, s_w] = [2, 3, 3] (Qwen2-VL's [16, 24, 24] scaled to the head).
 * Base θ = 1000 for every scheme: the 8-pair ladder ω = 1, .42, .18, .075, .032, .013, .0056, .0024 has periods
 * 6 … 2600 positions, over a decade above the largest position ids evaluated (24–96 at 4F = 32 frames), as
 * Qwen2-VL's θ = 1e6 ladder (periods 6 … 5·10⁶) sits above its contexts; with θ = 1e6 on 8 pairs, half of them
 * would hardly turn at all here (try --base 1e6). Who gets what: M-RoPE t {1, .42}, h {.18, .075, .032},
 * w {.013, .0056, .0024}; VideoRoPE and HoPE h {1, .18, .032}, w {.42, .075, .013}, t {.0056, .0024} (HoPE: 0);
 * VRoPE c0 {1, .032}, c1 {.42, .013}, c2 {.18, .0056}, c3 {.075, .0024}.
 * Two consequences of the layouts for this task: HoPE never rotates by t, so one frame later is the (h, w) offset
 * (γ, γ) — at γ = 1 the same as one row down and one column across within a frame; and VRoPE's four axes give a
 * side-by-side and an above/below neighbour the same |Δ| = 1 on every axis, told apart only by the signs.
 *
 * Model (one per scheme, identical apart from the encoding, one instance shared by both layers): token embedding
 * (dim 32) → 2 pre-norm Blocks (2 heads of 16, MLP 64, non-causal attention, positions passed explicitly) →
 * LayerNorm of the QUERY token's vector → Linear to K classes. AdamW (lr 3e-3, 30 warmup steps, cosine to 3e-4,
 * clip 1), 2000 steps of 8 fresh sequences (the same stream for every scheme); evaluation on fixed held-out sets.
 * The budget is small: a model first reaches the position-blind plateau (fetch any VALUE) and leaves it when it
 * finds the frame-local binding, at a step that depends on the scheme and the seed — at this budget the table
 * measures how soon each scheme gets there as much as how it extrapolates (more --steps separate the two; in
 * trials, the same 16k sequences in steps of 8 left the plateau more often than in steps of 16 or 32).
 *
 * Usage: node scripts/run.mjs scripts/experiments/video-needle.ts [--steps 2000] [--frames 8] [--seed 0]
 *        [--methods mrope,videorope,vrope,hope] [--batch 8] [--period 3] [--base 1000] [--lr 3e-3] [--help]
 * Prints a scheme × frames accuracy table (with chance and the position-blind ceiling) and which distractor kinds
 * the wrong answers came from; writes out/video-needle.svg. The parts (task, positions, model, training) are
 * exported for tests/scripts/video-needle.test.ts; main runs only when this file is the entry point.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { AdamW, Generator, Module, Tensor, crossEntropy, noGrad, stack, warmupCosineLr } from '../../core/index.js';
import { Block, Embedding, LayerNorm, Linear, train } from '../../nn/index.js';
import {
  HOPE_VNIAH_SCALE, HoPE, MRoPE, NoPE, RoPE, VRoPE, VideoRoPE, mropePositions, hopePositions, mropePositionsTensor,
  videoRopePositions, vropePositions, type MRoPESegment, type PositionalEncoding,
} from '../../positional/index.js';
import { choiceFlag, integerFlag, listFlag, numberFlag, readFlags } from '../lib/flags.js';
import { isEntryPoint } from '../lib/entry.js';
import { lineChart } from '../lib/svg.js';

// ── the task ──

export const METHODS = ['mrope', 'videorope', 'vrope', 'hope', 'nope', 'rope'] as const;
export type Method = (typeof METHODS)[number];
export const DEFAULT_METHODS: readonly Method[] = ['mrope', 'videorope', 'vrope', 'hope'];

export interface TaskConfig {
  /** Frame grid in LLM tokens (after any merge). */
  frameH: number;
  frameW: number;
  /** P: a distractor every P frames before and after the needle. */
  period: number;
  /** C: haystack colours. */
  colours: number;
  /** K: answer classes (VALUE tokens). */
  values: number;
  /**
   * What makes the needle: 'row' — KEY and VALUE side by side (same frame, same row), distractors 'column' or
   * 'temporal'; 'frame' — KEY and VALUE anywhere in one frame, distractors 'temporal' only.
   */
  rule: NeedleRule;
}

export type NeedleRule = 'row' | 'frame';
export const NEEDLE_RULES: readonly NeedleRule[] = ['row', 'frame'];

export const DEFAULT_TASK: Readonly<TaskConfig> = { frameH: 2, frameW: 2, period: 3, colours: 8, values: 16, rule: 'row' };

/** Token ids of the task's vocabulary: colours 0…C−1, then KEY, VALUE_0…VALUE_{K−1}, QUERY. */
export function vocabulary(task: TaskConfig): { key: number; value: (y: number) => number; query: number; size: number } {
  const key = task.colours;
  return { key, value: (y) => key + 1 + y, query: key + 1 + task.values, size: key + 2 + task.values };
}

/** 'column': KEY and VALUE one above the other in one frame; 'temporal': side by side but in adjacent frames. */
export type DistractorKind = 'column' | 'temporal';
export const DISTRACTOR_KINDS: readonly DistractorKind[] = ['column', 'temporal'];

export interface Distractor {
  kind: DistractorKind;
  /** Frame and cell (r·W' + c) of the distractor's KEY and of its VALUE; the frames differ only for 'temporal'. */
  keyFrame: number;
  keyCell: number;
  valueFrame: number;
  valueCell: number;
  value: number;
}

export interface NeedleBatch {
  frames: number;
  /** Sequence length L = frames·H'·W' + 1. */
  length: number;
  /** [n, L] token ids (float32 storage): frame τ, cell (r, c) at τ·H'W' + r·W' + c; QUERY at L − 1. */
  tokens: Tensor;
  /** [n] the needle's VALUE class. */
  labels: Int32Array;
  /** The needle's frame and the cells of its KEY and VALUE (same row, different columns). */
  needleFrame: Int32Array;
  needleKeyCell: Int32Array;
  needleValueCell: Int32Array;
  distractors: Distractor[][];
}

/** Index of frame τ, cell k in the flat token sequence. */
export const tokenIndex = (task: TaskConfig, frame: number, cell: number): number => frame * task.frameH * task.frameW + cell;

export function checkTask(task: TaskConfig): void {
  const { frameH, frameW, period, colours, values } = task;
  for (const [name, v, min] of [['frameH', frameH, 2], ['frameW', frameW, 2], ['period', period, 2], ['colours', colours, 1], ['values', values, 2]] as const) {
    if (!Number.isInteger(v) || v < min) throw new Error(`video-needle: ${name} must be an integer ≥ ${min}, got ${v}`);
  }
  if (!NEEDLE_RULES.includes(task.rule)) throw new Error(`video-needle: rule must be ${NEEDLE_RULES.join(' or ')}, got ${String(task.rule)}`);
}

/** A uniform integer in [0, n) other than `not`. */
function other(n: number, not: number, g: Generator): number {
  const v = g.int(0, n - 1);
  return v >= not ? v + 1 : v;
}

/** A cell in the same row as `cell`, another column (a side-by-side neighbour in 2×2). */
function besideCell(task: TaskConfig, cell: number, g: Generator): number {
  const W = task.frameW;
  return Math.floor(cell / W) * W + other(W, cell % W, g);
}

/** A cell in the same column as `cell`, another row. */
function aboveBelowCell(task: TaskConfig, cell: number, g: Generator): number {
  const W = task.frameW;
  return other(task.frameH, Math.floor(cell / W), g) * W + (cell % W);
}

/** `count` values, all distinct while count ≤ K (else each used ⌊count/K⌋ or ⌈count/K⌉ times), shuffled. */
function drawValues(count: number, K: number, g: Generator): number[] {
  const shuffle = (a: number[]): number[] => {
    for (let i = a.length - 1; i > 0; i--) {
      const j = g.int(0, i + 1);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  };
  const out: number[] = [];
  while (out.length < count) out.push(...shuffle(Array.from({ length: K }, (_, i) => i)).slice(0, count - out.length));
  return shuffle(out);
}

/**
 * n sequences of `frames` frames (see the header): the needle (KEY and VALUE side by side in frame n, n uniform),
 * a distractor at every frame n ± kP (k ≥ 1) inside the video, random colours elsewhere, QUERY last.
 */
export function makeBatch(n: number, frames: number, task: TaskConfig, g: Generator): NeedleBatch {
  checkTask(task);
  if (!Number.isInteger(frames) || frames < 1) throw new Error(`video-needle: frames must be a positive integer, got ${frames}`);
  const { frameW: W, period: P } = task;
  const cells = task.frameH * W;
  const L = frames * cells + 1;
  const vocab = vocabulary(task);
  const data = new Float32Array(n * L);
  const labels = new Int32Array(n);
  const needleFrame = new Int32Array(n);
  const needleKeyCell = new Int32Array(n);
  const needleValueCell = new Int32Array(n);
  const distractors: Distractor[][] = [];
  for (let b = 0; b < n; b++) {
    const seq = data.subarray(b * L, (b + 1) * L);
    for (let i = 0; i < L - 1; i++) seq[i] = g.int(0, task.colours);
    seq[L - 1] = vocab.query;
    const nf = g.int(0, frames);
    const at: number[] = [];
    // n ± P, n ± 2P, … in order; under 'frame' only 'temporal' distractors exist, and they need frame d + 1
    for (let d = nf % P; d < (task.rule === 'frame' ? frames - 1 : frames); d += P) if (d !== nf) at.push(d);
    const vals = drawValues(at.length + 1, task.values, g);
    const keyCell = g.int(0, cells);
    const valueCell = task.rule === 'row' ? besideCell(task, keyCell, g) : other(cells, keyCell, g);
    seq[tokenIndex(task, nf, keyCell)] = vocab.key;
    seq[tokenIndex(task, nf, valueCell)] = vocab.value(vals[0]!);
    labels[b] = vals[0]!;
    needleFrame[b] = nf;
    needleKeyCell[b] = keyCell;
    needleValueCell[b] = valueCell;
    distractors.push(at.map((d, i) => {
      // 'temporal' spans frames d and d + 1, always free: distractors are P ≥ 2 apart and d + 1 ≠ n (P divides n − d)
      const kind: DistractorKind = task.rule === 'frame' || (d + 1 < frames && g.random() < 0.5) ? 'temporal' : 'column';
      const kc = g.int(0, cells);
      const value = vals[i + 1]!;
      let dist: Distractor;
      if (kind === 'temporal') {
        const keyFirst = g.random() < 0.5; // KEY in d and VALUE in d + 1, or the other way round
        dist = { kind, keyFrame: keyFirst ? d : d + 1, keyCell: kc, valueFrame: keyFirst ? d + 1 : d, valueCell: task.rule === 'row' ? besideCell(task, kc, g) : g.int(0, cells), value };
      } else {
        dist = { kind, keyFrame: d, keyCell: kc, valueFrame: d, valueCell: aboveBelowCell(task, kc, g), value };
      }
      seq[tokenIndex(task, dist.keyFrame, dist.keyCell)] = vocab.key;
      seq[tokenIndex(task, dist.valueFrame, dist.valueCell)] = vocab.value(value);
      return dist;
    }));
  }
  return { frames, length: L, tokens: new Tensor(data, [n, L]), labels, needleFrame, needleKeyCell, needleValueCell, distractors };
}

/** Accuracy of the best position-blind guess: the mean over sequences of 1/(distinct values present). */
export function positionBlindAccuracy(batch: NeedleBatch): number {
  let s = 0;
  batch.distractors.forEach((list, b) => {
    s += 1 / new Set([batch.labels[b]!, ...list.map((d) => d.value)]).size;
  });
  return s / batch.distractors.length;
}

// ── positions and encodings ──

/** The segment list every method's builder reads: the video (grid in LLM tokens), then the question. */
export function segments(frames: number, task: TaskConfig): MRoPESegment[] {
  return [{ type: 'video', grid: [frames, task.frameH, task.frameW] }, { type: 'text', length: 1 }];
}

/** [s_t, s_h, s_w] = pairs · [1/4, 3/8, 3/8] (Qwen2-VL's [16, 24, 24] scaled to the head). */
export function sectionFor(headDim: number): [number, number, number] {
  const pairs = headDim / 2;
  const t = Math.max(1, Math.round(pairs / 4));
  const h = Math.ceil((pairs - t) / 2);
  return [t, h, pairs - t - h];
}

export function makeEncoding(method: Method, headDim: number, base: number): PositionalEncoding {
  const section = sectionFor(headDim);
  switch (method) {
    case 'mrope': return new MRoPE(headDim, section, { base });
    case 'videorope': return new VideoRoPE(headDim, section, { base });
    case 'vrope': return new VRoPE(headDim, { base });
    case 'hope': return new HoPE(headDim, section, { base });
    case 'nope': return new NoPE();
    case 'rope': return new RoPE(headDim, { base });
  }
}

export interface PositionOptions {
  /** HoPE only: draw γ per sequence with this generator (training); otherwise γ = HOPE_VNIAH_SCALE. */
  hopeGenerator?: Generator;
  /** Sequences in the batch (HoPE training positions are per sequence: [batch, L, 3]). */
  batch?: number;
}

/** Positions of a `frames`-frame sequence for `method`: [L], [L, 3], [L, 4], or [batch, L, 3] (HoPE training). */
export function positionsFor(method: Method, frames: number, task: TaskConfig, options: PositionOptions = {}): Tensor {
  const segs = segments(frames, task);
  const merge = { spatialMergeSize: 1 };
  switch (method) {
    case 'mrope': return mropePositionsTensor(mropePositions(segs, merge).ids);
    case 'videorope': return mropePositionsTensor(videoRopePositions(segs, { ...merge, temporalSpacing: 2 }).ids);
    case 'vrope': return vropePositions(segs, merge).positions;
    case 'hope': {
      const g = options.hopeGenerator;
      if (g === undefined) return mropePositionsTensor(hopePositions(segs, { ...merge, temporalScale: HOPE_VNIAH_SCALE }).ids);
      const per = Array.from({ length: options.batch ?? 1 }, () => mropePositionsTensor(hopePositions(segs, { ...merge, temporalScale: { generator: g } }).ids));
      return stack(per, 0);
    }
    case 'nope':
    case 'rope': {
      const L = frames * task.frameH * task.frameW + 1;
      return new Tensor(Float64Array.from({ length: L }, (_, i) => i), [L]);
    }
  }
}

// ── the model ──

export interface ModelConfig {
  dim: number;
  heads: number;
  /** MLP hidden width. */
  hidden: number;
  layers: number;
  base: number;
  seed: number;
}

export const DEFAULT_MODEL: Readonly<ModelConfig> = { dim: 32, heads: 2, hidden: 64, layers: 2, base: 1000, seed: 0 };

/** Embedding → Blocks (non-causal, the method's encoding) → LayerNorm → QUERY token → Linear to K classes. */
export class NeedleModel extends Module {
  readonly embed: Embedding;
  readonly blocks: Block[];
  readonly norm: LayerNorm;
  readonly head: Linear;

  constructor(readonly method: Method, task: TaskConfig, config: ModelConfig = DEFAULT_MODEL) {
    super();
    const { dim, heads, hidden, layers } = config;
    const g = new Generator(config.seed);
    const headDim = dim / heads;
    const positional = makeEncoding(method, headDim, config.base); // one instance: its angle table is shared by every layer
    this.embed = new Embedding(vocabulary(task).size, dim, { generator: g, std: 0.5 });
    this.blocks = Array.from({ length: layers }, () => new Block(dim, { numHeads: heads, hidden, positional, generator: g }));
    this.norm = new LayerNorm(dim);
    this.head = new Linear(dim, task.values, { generator: g });
  }

  /** tokens [B, L] → logits [B, K], read at the last (QUERY) token. */
  forward(tokens: Tensor, positions: Tensor): Tensor {
    const [B, L] = tokens.shape as [number, number];
    let x = this.embed.forward(tokens); // [B, L, C]
    for (const block of this.blocks) x = block.forward(x, { positions, causal: false });
    const q = this.norm.forward(x.narrow(1, L - 1, 1)).reshape([B, x.shape[2]!]);
    return this.head.forward(q);
  }

  loss(batch: NeedleBatch, positions: Tensor): Tensor {
    return crossEntropy(this.forward(batch.tokens, positions), batch.labels);
  }
}

/** The training-time positions of a batch (HoPE draws γ per sequence from `hopeGenerator`). */
export function trainingPositions(method: Method, batch: NeedleBatch, task: TaskConfig, hopeGenerator: Generator): Tensor {
  return positionsFor(method, batch.frames, task, method === 'hope' ? { hopeGenerator, batch: batch.labels.length } : {});
}

export interface Evaluation {
  accuracy: number;
  /** Fraction of sequences answered with the value of a distractor of each kind. */
  picked: Record<DistractorKind, number>;
}

/** Accuracy on a fixed set (evaluation positions, batches of 64), and which distractors the wrong answers came from. */
export function evaluate(model: NeedleModel, set: NeedleBatch, task: TaskConfig): Evaluation {
  const positions = positionsFor(model.method, set.frames, task);
  const n = set.labels.length;
  let correct = 0;
  const picked: Record<DistractorKind, number> = { column: 0, temporal: 0 };
  for (let start = 0; start < n; start += 64) {
    const m = Math.min(64, n - start);
    const pred = noGrad(() => model.forward(set.tokens.narrow(0, start, m), positions)).argmax(-1);
    for (let i = 0; i < m; i++) {
      const y = pred.data[i]!;
      if (y === set.labels[start + i]) correct++;
      else {
        const hit = set.distractors[start + i]!.find((d) => d.value === y);
        if (hit !== undefined) picked[hit.kind]++;
      }
    }
  }
  return { accuracy: correct / n, picked: { column: picked.column / n, temporal: picked.temporal / n } };
}

// ── the experiment ──

interface Flags {
  steps: number;
  frames: number;
  seed: number;
  methods: Method[];
  batch: number;
  evalSeqs: number;
  period: number;
  base: number;
  lr: number;
  rule: NeedleRule;
}

const HELP = `usage: node scripts/run.mjs scripts/experiments/video-needle.ts [flags]

V-NIAH-D in miniature. A video of F frames of 2×2 tokens with random colours; in one frame at a random depth, the
needle: a KEY token with a VALUE token beside it (same row). Every P frames before and after it, a distractor: KEY
with another VALUE above/below it (same frame), or beside it but in the adjacent frame. A question token at the end
asks for the needle's VALUE (16 classes). Trains one tiny transformer (dim 32, 2 blocks, 2 heads, non-causal) per
positional scheme at F frames, evaluates accuracy at F, 2F and 4F frames. Prints a table, writes out/video-needle.svg.
Defaults take about 3 minutes (164 s measured on 2 shared cores; training is single-threaded).

  --steps N          AdamW steps per method (default 2000)
  --frames F         training frames per video (default 8; evaluation at F, 2F, 4F)
  --seed S           seed for weights, training and evaluation data (default 0)
  --methods a,b      schemes to compare (default ${DEFAULT_METHODS.join(',')};
                     also nope = no positions, rope = 1-D RoPE on the flat token index)
  --batch B          sequences per step (default 8)
  --eval-seqs N      held-out sequences per haystack length (default 256)
  --period P         frames between periodic distractors, ≥ 2 (default ${DEFAULT_TASK.period})
  --rule R           'row': the needle's VALUE is beside its KEY, distractors above/below or across frames;
                     'frame': anywhere in the KEY's frame, distractors across adjacent frames (default ${DEFAULT_TASK.rule})
  --base θ           RoPE base for every scheme (default ${DEFAULT_MODEL.base})
  --lr η             peak AdamW learning rate (default 3e-3)
  --help             this text`;

function readCommandLine(): Flags {
  const defaults: Flags = {
    steps: 2000, frames: 8, seed: 0, methods: [...DEFAULT_METHODS], batch: 8, evalSeqs: 256, period: DEFAULT_TASK.period, base: DEFAULT_MODEL.base, lr: 3e-3, rule: DEFAULT_TASK.rule,
  };
  return readFlags<Flags>('video-needle', HELP, defaults, {
    values: {
      steps: (f, v) => (f.steps = integerFlag(v, 0)),
      frames: (f, v) => (f.frames = integerFlag(v, 1)),
      seed: (f, v) => (f.seed = integerFlag(v, 0)),
      methods: (f, v) => (f.methods = listFlag(v, METHODS)),
      batch: (f, v) => (f.batch = integerFlag(v, 1)),
      'eval-seqs': (f, v) => (f.evalSeqs = integerFlag(v, 1)),
      period: (f, v) => (f.period = integerFlag(v, 2)),
      base: (f, v) => (f.base = numberFlag(v, { above: 1 })),
      lr: (f, v) => (f.lr = numberFlag(v, { above: 0 })),
      rule: (f, v) => (f.rule = choiceFlag(v, NEEDLE_RULES)),
    },
  });
}

/** One model's training run: returns the model and its training losses. */
export function trainMethod(
  method: Method, task: TaskConfig, options: { steps: number; frames: number; batch: number; seed: number; base: number; lr?: number; output?: null },
): { model: NeedleModel; losses: number[]; seconds: number } {
  const model = new NeedleModel(method, task, { ...DEFAULT_MODEL, base: options.base, seed: options.seed });
  const data = new Generator(options.seed + 1); // the same training sequences for every method
  const hopeGen = new Generator(options.seed + 2); // HoPE's γ draws, apart from the data stream
  const maxLr = options.lr ?? 3e-3;
  const optimizer = new AdamW(model.parameters(), { lr: maxLr, weightDecay: 0.01 });
  const result = train(model, () => {
    const batch = makeBatch(options.batch, options.frames, task, data);
    return model.loss(batch, trainingPositions(method, batch, task, hopeGen));
  }, {
    steps: options.steps,
    optimizer,
    clipGradNorm: 1,
    schedule: (step) => warmupCosineLr(step, { maxLr, warmupSteps: Math.min(30, options.steps), totalSteps: Math.max(1, options.steps), minLr: maxLr / 10 }),
    logEvery: Math.max(1, Math.round(options.steps / 5)),
    ...(options.output === null ? { output: null } : {}),
  });
  model.eval();
  return { model, losses: result.losses, seconds: result.seconds };
}

function main(): void {
  const flags = readCommandLine();
  const task: TaskConfig = { ...DEFAULT_TASK, period: flags.period, rule: flags.rule };
  const lengths = [flags.frames, 2 * flags.frames, 4 * flags.frames];
  const cells = task.frameH * task.frameW;
  console.log(
    `video needle (V-NIAH-D-like): ${task.frameH}×${task.frameW}-token frames, needle (rule '${task.rule}') at a random frame, ` +
      `a distractor every ${task.period} frames, ` +
      `${task.values} answer classes; trained at ${flags.frames} frames (${flags.frames * cells + 1} tokens), evaluated at ${lengths.join('/')} frames`,
  );
  console.log(`${flags.steps} steps × batch ${flags.batch} per method, ${flags.evalSeqs} held-out sequences per length, base ${flags.base}, seed ${flags.seed}\n`);
  const evalSets = lengths.map((F) => makeBatch(flags.evalSeqs, F, task, new Generator(flags.seed * 7919 + 1000 + F)));

  const rows: Array<{ name: Method; evals: Evaluation[]; seconds: number }> = [];
  const t0 = performance.now();
  for (const method of flags.methods) {
    console.log(`[${method}] ${new NeedleModel(method, task).numParameters()} parameters`);
    const { model, losses, seconds } = trainMethod(method, task, flags);
    const evals = evalSets.map((set) => evaluate(model, set, task));
    const last = losses.slice(-20);
    const trained = last.length === 0 ? 'not trained (--steps 0)' : `train loss ${(last.reduce((a, b) => a + b, 0) / last.length).toFixed(3)}`;
    console.log(`[${method}] ${trained} (${seconds.toFixed(1)} s); accuracy ${evals.map((e) => e.accuracy.toFixed(3)).join(' / ')}\n`);
    rows.push({ name: method, evals, seconds });
  }

  const chance = 1 / task.values;
  const blind = evalSets.map(positionBlindAccuracy);
  const w = 9;
  const line = `─────────────────┼─${lengths.map(() => '─'.repeat(w)).join('─┼─')}─┼`;
  console.log(`accuracy by haystack length (trained at ${flags.frames} frames; ${flags.evalSeqs} held-out sequences each):`);
  console.log(` method          │ ${lengths.map((F) => `${F} fr${F === flags.frames ? '*' : ' '}`.padStart(w)).join(' │ ')} │ train s`);
  console.log(`${line}────────`);
  for (const r of rows) console.log(` ${r.name.padEnd(15)} │ ${r.evals.map((e) => e.accuracy.toFixed(3).padStart(w)).join(' │ ')} │ ${r.seconds.toFixed(0).padStart(7)}`);
  console.log(` ${'position-blind'.padEnd(15)} │ ${blind.map((a) => a.toFixed(3).padStart(w)).join(' │ ')} │`);
  console.log(` ${'chance (1/K)'.padEnd(15)} │ ${lengths.map(() => chance.toFixed(3).padStart(w)).join(' │ ')} │`);
  console.log(`(* training length; position-blind = best guess among the values present, E[1/(1+distractors)])\n`);
  console.log('wrong answers that were a distractor\'s value, column / temporal (fraction of sequences):');
  for (const r of rows) {
    console.log(` ${r.name.padEnd(15)} │ ${r.evals.map((e) => `${e.picked.column.toFixed(2)} / ${e.picked.temporal.toFixed(2)}`.padStart(w + 2)).join(' │ ')}`);
  }
  console.log(`(total ${((performance.now() - t0) / 1000).toFixed(0)} s)`);

  mkdirSync('out', { recursive: true });
  writeFileSync('out/video-needle.svg', lineChart({
    title: `Video needle among periodic distractors (trained at ${flags.frames} frames)`,
    xLabel: 'frames in the video',
    yLabel: 'accuracy',
    series: [
      ...rows.map((r) => ({ name: r.name, points: r.evals.map((e, i) => [lengths[i]!, e.accuracy] as [number, number]) })),
      { name: 'position-blind', points: blind.map((a, i) => [lengths[i]!, a] as [number, number]) },
      { name: 'chance', points: [[lengths[0]!, chance], [lengths[lengths.length - 1]!, chance]] },
    ],
  }));
  console.log('wrote out/video-needle.svg');
}

if (isEntryPoint(import.meta.url, 'video-needle')) main();
