/**
 * Issue 17, reproduction #10 — DRoPE (Zhao et al., "DRoPE: Directional Rotary Position Embedding for Efficient Agent
 * Interaction Modeling", arXiv 2503.15029, 2025; positional/drope.ts), toy protocol B of
 * ../shared/specs/reproductions.md §11: interaction modelling, DRoPE-RoPE vs RPE vs scene-centric. Does attention that
 * sees relative displacement (2-D RoPE) and relative heading (DRoPE) at O(N) memory model an agent-interaction rule
 * better than a scene-centric transformer, and nearly as well as an O(N²) relative-position-encoding (RPE) model?
 *
 * Task. A scene holds `--agents` agents. In the scene's own frame, positions are uniform in a SIDE × SIDE square and
 * headings follow a two-way road: with probability ROAD_SHARE an agent drives along the road axis ρ (uniform) in either
 * direction, ψ = ρ + {0 or π} + ROAD_SIGMA·ε (ε ~ N(0, 1)), else ψ is uniform; then the whole scene is rotated by a
 * uniform angle φ and translated by t uniform in [−SHIFT, SHIFT]²: p ← R(φ)p + t, ψ ← ψ + φ (mod 2π). Label per agent i:
 * the number (classes 0, 1, 2, 3+) of agents j ≠ i with
 *   within      |p_j − p_i| < RADIUS,
 *   in front    (R(−ψ_i)(p_j − p_i))_x > 0 (positive x in agent i's own frame),
 *   oncoming    d(ψ_j − ψ_i, π) < ONCOMING, with d the circular distance |wrap(ψ_j − ψ_i − π)|.
 * Every condition is a function of relative position and heading in agent i's frame, so the label is invariant to
 * rotating and translating the whole scene (property-tested).
 *
 * Arms (per-agent token features [1, x/SHIFT, y/SHIFT, cos ψ, sin ψ] with the entries an arm does not see set to 0; the
 * heading features give an agent its frame, which "in front" needs — relative encodings alone give Δψ and the
 * displacement in the scene frame, never the displacement in the agent's frame):
 *   scene      scene-centric: absolute (x, y, cos ψ, sin ψ) features, no positional encoding;
 *   rope2d     2-D RoPE on (x, y) at POS_SCALE (positional/drope.ts dimSplit with headingPairs 0: the x/y pairs of the
 *              DRoPE-RoPE arm, the heading pairs pass through) + absolute (cos ψ, sin ψ) features;
 *   drope      DRoPE-RoPE (positional/drope.ts, mode 'dimSplit'): half of each head's pairs 2-D RoPE on (x, y) at
 *              POS_SCALE, half DRoPE on ψ (frequency 1) + (cos ψ, sin ψ) features;
 *   rpe        RPE upper bound (query-centric, built here): per pair (i, j) the features
 *              r_ij = [R(−ψ_i)(p_j − p_i) / RPE_SCALE, cos Δψ, sin Δψ] (Δψ = ψ_j − ψ_i) → MLP (4 → hidden → H + H·D) →
 *              per-head bias b_ij and value offset u_ij:  s_ij = q_i·k_j/√D + b_ij,  a = softmax_j(s),
 *              o_i = Σ_j a_ij (v_j + u_ij)  (scores [B, H, N, N] + offsets [B, H, N, N, D]: O(N²·d_rpe) memory);
 *              no absolute feature (only the constant).
 * Model: `--layers` pre-norm blocks (nn/block.ts: MultiHeadAttention, non-causal, + GELU MLP; the RPE arm runs the
 * same block's weights through RPEAttention below), dim `--dim`, `--heads` heads, per-agent 4-way classifier; AdamW with
 * warmup + cosine, `--steps` steps of `--batch` fresh scenes. Seed i: the same init of every shared weight and the same
 * batches in every arm.
 *
 * Measured: accuracy on `--eval` fresh scenes (and on a quarter of them every tenth of the run); the majority-class
 * share of the eval labels; analytic peak attention-side memory per layer and scene (numbers), RoPE arms O(N·d) vs
 * RPE O(N²·d_rpe) (`attentionMemory`).
 *
 * Pre-registered criterion (stated before the full run): DRoPE-RoPE > scene-centric (judgeOrdering, 'higher': every seed
 * in order, mean gap beyond twice the larger seed range) — the verdict; secondary (reported): DRoPE-RoPE "close" to RPE,
 * i.e. RPE's mean − DRoPE-RoPE's mean ≤ CLOSE (3 points); positive control: RPE ≥ CONTROL_THRESHOLD (85 %) accuracy in
 * every seed (else 'not reproduced: positive control failed').
 *
 * Changes from the spec (§11 B), and why: the square is 50 m, not 100 m, and 80 % of the headings follow a two-way road — with
 * 16 agents uniform in 100 m and uniform headings 86 % of the labels are 0 and 1 % are 2+ (majority-class accuracy 86 %),
 * so accuracy could not separate the arms; here the shares are ≈ 45 / 31 / 16 / 8 % and each of the three conditions
 * matters. The oncoming window is the circular distance |wrap(Δψ − π)| < 0.6 (the literal |wrap(Δψ) − π| misses the
 * side wrap(Δψ) ∈ [−π, −π + 0.6)). The rotary arms also get (cos ψ, sin ψ) features: relative encodings never give an
 * agent its own frame, which "in front" needs. RoPE-2D is DRoPE's dimSplit with headingPairs 0 (the same x/y pairs and
 * ladder as the DRoPE-RoPE arm, the heading pairs pass through), so the two differ in the heading pairs alone. d_head 16
 * (4 pairs on x, y: per-axis frequencies 1 and 0.1 at 1/5 m, base 100 — wavelengths 31 m and 314 m, against the 20 m
 * radius and ≤ 71 m separations), 300 steps × 32 scenes (sized for the 8-minute budget on one pinned core).
 *
 * Usage: node scripts/run.mjs scripts/experiments/drope-interaction.ts [--quick] [--seeds N] [--steps N] [--batch B]
 *          [--lr X] [--dim C] [--layers L] [--heads H] [--agents N] [--eval N] [--base b] [--rpe-hidden h] [--json] [--help]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import {
  AdamW, Generator, Module, Tensor, argmax, crossEntropy, noGrad, setNumThreads, warmupCosineLr, type DType,
} from '../../core/index.js';
import { Block, LayerNorm, Linear, MultiHeadAttention, train } from '../../nn/index.js';
import { DRoPE, NoPE, type PositionalEncoding } from '../../positional/index.js';
import { FlagError, integerFlag, numberFlag, parseFlags as parseScriptFlags, readFlags, type FlagSpec } from '../lib/flags.js';
import { isEntryPoint } from '../lib/entry.js';
import type { Reproduction, ReproductionResult } from '../lib/reproduction.js';
import { judgeOrdering, summarize, type ArmSummary, type OrderingJudgement } from '../lib/stats.js';
import { lineChart, PALETTE } from '../lib/svg.js';
import { wrapAngle } from './drope-heading.js';

const TWO_PI = 2 * Math.PI;

// ── the task ──────────────────────────────────────────────────────────────────────────────────────────────────────

/** Side of the square (m) the positions are drawn in, in the scene's own frame. */
export const SIDE = 50;
/** "Within": distance below this (m). */
export const RADIUS = 20;
/** "Oncoming": circular distance of ψ_j − ψ_i from π below this (rad). */
export const ONCOMING = 0.6;
/** Share of agents on the two-way road, and the spread of their heading around the road axis (rad). */
export const ROAD_SHARE = 0.8;
export const ROAD_SIGMA = 0.3;
/** The whole scene's translation: uniform in [−SHIFT, SHIFT]² (m); also the scale of the absolute x, y features. */
export const SHIFT = 50;
/** RoPE on positions at scale 1/5 m: the rotary position of an agent is (x / POS_SCALE, y / POS_SCALE). */
export const POS_SCALE = 5;
/** The RPE arm's pairwise displacement is divided by this (m) before its MLP. */
export const RPE_SCALE = 20;
/** Label classes: 0, 1, 2, 3 or more interacting agents. */
export const CLASSES = 4;

export interface InteractionScenes {
  /** Scenes B and agents per scene N. */
  B: number;
  N: number;
  /** Positions (m) and headings ψ ∈ [0, 2π) after the whole-scene rotation and translation: flat [B·N]. */
  x: Float64Array;
  y: Float64Array;
  heading: Float64Array;
  /** min(count, 3) of interacting agents (interactionCount), flat [B·N]. */
  label: Int32Array;
}

/** Whether agent j (at xj, yj, heading ψj) is within RADIUS, in front of, and oncoming to agent i. */
export function interacts(xi: number, yi: number, ψi: number, xj: number, yj: number, ψj: number): boolean {
  const dx = xj - xi;
  const dy = yj - yi;
  if (dx * dx + dy * dy >= RADIUS * RADIUS) return false;
  if (Math.cos(ψi) * dx + Math.sin(ψi) * dy <= 0) return false; // x in agent i's frame: R(−ψi)(p_j − p_i)
  return Math.abs(wrapAngle(ψj - ψi - Math.PI)) < ONCOMING;
}

/** Number of agents j ≠ i of one scene (arrays of length N) that interact with agent i. */
export function interactionCount(x: ArrayLike<number>, y: ArrayLike<number>, heading: ArrayLike<number>, i: number): number {
  let count = 0;
  for (let j = 0; j < x.length; j++) {
    if (j !== i && interacts(x[i]!, y[i]!, heading[i]!, x[j]!, y[j]!, heading[j]!)) count++;
  }
  return count;
}

/** Labels min(interactionCount, 3) of every agent of B scenes stored flat [B·N]. */
export function labelScenes(B: number, N: number, x: Float64Array, y: Float64Array, heading: Float64Array): Int32Array {
  const label = new Int32Array(B * N);
  for (let b = 0; b < B; b++) {
    const s = b * N;
    const [xs, ys, hs] = [x.subarray(s, s + N), y.subarray(s, s + N), heading.subarray(s, s + N)];
    for (let i = 0; i < N; i++) label[s + i] = Math.min(CLASSES - 1, interactionCount(xs, ys, hs, i));
  }
  return label;
}

/** B scenes of N agents (the generator in the header), labelled. */
export function makeInteractionScenes(B: number, N: number, g: Generator): InteractionScenes {
  if (!Number.isInteger(B) || B < 1) throw new RangeError(`makeInteractionScenes: B must be an integer ≥ 1, got ${B}`);
  if (!Number.isInteger(N) || N < 1) throw new RangeError(`makeInteractionScenes: N must be an integer ≥ 1, got ${N}`);
  const total = B * N;
  const x = new Float64Array(total);
  const y = new Float64Array(total);
  const heading = new Float64Array(total);
  for (let b = 0; b < B; b++) {
    const road = g.random() * TWO_PI;
    const φ = g.random() * TWO_PI;
    const [c, s] = [Math.cos(φ), Math.sin(φ)];
    const tx = (2 * g.random() - 1) * SHIFT;
    const ty = (2 * g.random() - 1) * SHIFT;
    for (let i = 0; i < N; i++) {
      const u = (g.random() - 0.5) * SIDE;
      const v = (g.random() - 0.5) * SIDE;
      const ψ = g.random() < ROAD_SHARE ? road + (g.random() < 0.5 ? 0 : Math.PI) + ROAD_SIGMA * g.normal() : g.random() * TWO_PI;
      x[b * N + i] = c * u - s * v + tx;
      y[b * N + i] = s * u + c * v + ty;
      heading[b * N + i] = ψ + φ - TWO_PI * Math.floor((ψ + φ) / TWO_PI);
    }
  }
  return { B, N, x, y, heading, label: labelScenes(B, N, x, y, heading) };
}

// ── the RPE layer ─────────────────────────────────────────────────────────────────────────────────────────────────

/** Pairwise RPE input features per scene pair (i, j). */
export const RPE_FEATURES = 4;

/** Pairwise features r_ij = [R(−ψ_i)(p_j − p_i) / RPE_SCALE, cos Δψ, sin Δψ], Δψ = ψ_j − ψ_i: [B, N, N, 4] in `dtype`. */
export function pairFeatures(s: InteractionScenes, dtype: DType = 'float32'): Tensor {
  const { B, N } = s;
  const out = dtype === 'float64' ? new Float64Array(B * N * N * RPE_FEATURES) : new Float32Array(B * N * N * RPE_FEATURES);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < N; i++) {
      const a = b * N + i;
      const [c, sn] = [Math.cos(s.heading[a]!), Math.sin(s.heading[a]!)];
      for (let j = 0; j < N; j++) {
        const o = ((b * N + i) * N + j) * RPE_FEATURES;
        const dx = s.x[b * N + j]! - s.x[a]!;
        const dy = s.y[b * N + j]! - s.y[a]!;
        const dψ = s.heading[b * N + j]! - s.heading[a]!;
        out[o] = (c * dx + sn * dy) / RPE_SCALE;
        out[o + 1] = (-sn * dx + c * dy) / RPE_SCALE;
        out[o + 2] = Math.cos(dψ);
        out[o + 3] = Math.sin(dψ);
      }
    }
  }
  return new Tensor(out, [B, N, N, RPE_FEATURES]);
}

/**
 * RPE self-attention over agents, run on a MultiHeadAttention's projections (wq, wk, wv, wo) plus a pairwise MLP
 * (fc1: 4 → hidden, GELU, fc2: hidden → H + H·D):
 *   [b | u] = fc2(gelu(fc1(r)))          r [B, N, N, 4] → b [B, H, N, N], u [B, H, N, N, D]
 *   s = q kᵀ / √D + b,  a = softmax(s),  o = a v + Σ_j a_ij u_ij,  out = wo(o)        x [B, N, C] → [B, N, C]
 * Composed of differentiable core ops (autograd: no custom backward).
 */
export class RPEAttention extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(readonly attn: MultiHeadAttention, readonly hidden: number, g: Generator, dtype: DType = 'float32') {
    super();
    this.fc1 = new Linear(RPE_FEATURES, hidden, { generator: g, dtype });
    this.fc2 = new Linear(hidden, attn.numHeads * (1 + attn.headDim), { generator: g, dtype });
  }

  /** x [B, N, C], pair features r [B, N, N, 4] → [B, N, C]. */
  forward(x: Tensor, r: Tensor): Tensor {
    const [B, N] = x.shape as [number, number, number];
    const { numHeads: H, headDim: D } = this.attn;
    const q = this.attn.wq.forward(x).reshape([B, N, H, D]).transpose(1, 2); // [B, H, N, D]
    const k = this.attn.wk.forward(x).reshape([B, N, H, D]).transpose(1, 2);
    const v = this.attn.wv.forward(x).reshape([B, N, H, D]).transpose(1, 2);
    const pair = this.fc2.forward(this.fc1.forward(r).gelu('tanh')); // [B, N, N, H + H·D]
    const bias = pair.narrow(3, 0, H).permute([0, 3, 1, 2]); // [B, H, N, N]
    const offset = pair.narrow(3, H, H * D).reshape([B, N, N, H, D]).permute([0, 3, 1, 2, 4]); // [B, H, N, N, D]
    const a = q.matmul(k.transpose(2, 3)).mul(1 / Math.sqrt(D)).add(bias).softmax(-1); // [B, H, N, N]
    const o = a.matmul(v).add(a.unsqueeze(3).matmul(offset).reshape([B, H, N, D])); // [B, H, N, D]
    return this.attn.wo.forward(o.transpose(1, 2).reshape([B, N, H * D]));
  }
}

// ── the model ─────────────────────────────────────────────────────────────────────────────────────────────────────

export type Arm = 'scene' | 'rope2d' | 'drope' | 'rpe';
export const ARMS: readonly Arm[] = ['scene', 'rope2d', 'drope', 'rpe'];
export const ARM_LABELS: Record<Arm, string> = {
  scene: 'scene-centric (abs x, y, ψ)',
  rope2d: 'RoPE-2D(x, y) + abs ψ',
  drope: 'DRoPE-RoPE + abs ψ',
  rpe: 'RPE (O(N²) upper bound)',
};

export interface ModelShape {
  dim: number;
  layers: number;
  heads: number;
  /** Base of the per-axis position ladder (DRoPE's `base`). */
  base: number;
  /** RPE pairwise MLP width. */
  rpeHidden: number;
}

/** Token features: [1, x/SHIFT, y/SHIFT, cos ψ, sin ψ]. */
export const FEATURES = 5;

/** Which token features an arm sees: [constant, x, y, cos ψ, sin ψ]. */
export const ARM_FEATURES: Record<Arm, readonly boolean[]> = {
  scene: [true, true, true, true, true],
  rope2d: [true, false, false, true, true],
  drope: [true, false, false, true, true],
  rpe: [true, false, false, false, false],
};

/**
 * The positional encoding of an arm (no parameters; shared by the layers): DRoPE dimSplit with positionPairs =
 * 2·⌊P/4⌋ on (x, y) and headingPairs = the rest (drope) or 0 (rope2d: those pairs pass through); NoPE otherwise.
 */
export function armEncoding(arm: Arm, headDim: number, base: number): PositionalEncoding {
  const P = headDim / 2;
  const positionPairs = 2 * Math.floor(P / 4);
  if (arm === 'drope') return new DRoPE({ mode: 'dimSplit', headDim, base, positionPairs, headingPairs: P - positionPairs });
  if (arm === 'rope2d') return new DRoPE({ mode: 'dimSplit', headDim, base, positionPairs, headingPairs: 0 });
  return new NoPE();
}

/** Feature linear → blocks (positions via the arm) → norm → 4 logits per agent. */
export class InteractionModel extends Module {
  readonly features: Linear;
  readonly blocks: Block[];
  readonly rpe: RPEAttention[];
  readonly norm: LayerNorm;
  readonly head: Linear;

  /** The shared weights come from `seed` alone, whatever the arm; the RPE MLPs from a fork drawn after them. */
  constructor(readonly shape: ModelShape, readonly arm: Arm, seed: number, dtype: DType = 'float32') {
    super();
    const g = new Generator(seed);
    const positional = armEncoding(arm, shape.dim / shape.heads, shape.base);
    this.features = new Linear(FEATURES, shape.dim, { generator: g, dtype });
    this.blocks = Array.from({ length: shape.layers }, () => new Block(shape.dim, { numHeads: shape.heads, positional, generator: g, dtype }));
    this.norm = new LayerNorm(shape.dim, { dtype });
    this.head = new Linear(shape.dim, CLASSES, { generator: g, dtype });
    const gr = g.fork();
    // Block builds a MultiHeadAttention (only eliteKVConvert swaps it, never done here)
    this.rpe = arm === 'rpe' ? this.blocks.map((b) => new RPEAttention(b.attn as MultiHeadAttention, shape.rpeHidden, gr, dtype)) : [];
  }

  /** Token features [B, N, 5] with the entries the arm does not see at 0. */
  tokenFeatures(s: InteractionScenes): Tensor {
    const dtype = this.features.weight.dtype;
    const feats = dtype === 'float64' ? new Float64Array(s.B * s.N * FEATURES) : new Float32Array(s.B * s.N * FEATURES);
    const sees = ARM_FEATURES[this.arm];
    for (let i = 0; i < s.B * s.N; i++) {
      const all = [1, s.x[i]! / SHIFT, s.y[i]! / SHIFT, Math.cos(s.heading[i]!), Math.sin(s.heading[i]!)];
      for (let f = 0; f < FEATURES; f++) feats[i * FEATURES + f] = sees[f] ? all[f]! : 0;
    }
    return new Tensor(feats, [s.B, s.N, FEATURES]);
  }

  /** Rotary positions: agents (x/POS_SCALE, y/POS_SCALE, ψ) [B, N, 3] for the rotary arms, else undefined. */
  positions(s: InteractionScenes): Tensor | undefined {
    if (this.arm !== 'drope' && this.arm !== 'rope2d') return undefined;
    const agents = new Float64Array(s.B * s.N * 3);
    for (let i = 0; i < s.B * s.N; i++) {
      agents[3 * i] = s.x[i]! / POS_SCALE;
      agents[3 * i + 1] = s.y[i]! / POS_SCALE;
      agents[3 * i + 2] = s.heading[i]!;
    }
    return new Tensor(agents, [s.B, s.N, 3]);
  }

  /** Scenes → logits [B·N, 4]. */
  forward(s: InteractionScenes): Tensor {
    let x = this.features.forward(this.tokenFeatures(s));
    if (this.arm === 'rpe') {
      const r = pairFeatures(s, this.features.weight.dtype);
      this.blocks.forEach((block, l) => {
        const h = x.add(this.rpe[l]!.forward(block.norm1.forward(x), r));
        x = h.add(block.mlp.forward(block.norm2.forward(h)));
      });
    } else {
      const positions = this.positions(s);
      for (const block of this.blocks) x = block.forward(x, positions === undefined ? { causal: false } : { causal: false, positions });
    }
    return this.head.forward(this.norm.forward(x)).reshape([-1, CLASSES]);
  }
}

/** Accuracy (argmax vs label) over `scenes`. */
export function accuracy(model: InteractionModel, scenes: readonly InteractionScenes[]): number {
  return noGrad(() => {
    let hit = 0;
    let n = 0;
    for (const s of scenes) {
      const pred = argmax(model.forward(s), -1).data;
      for (let i = 0; i < s.label.length; i++) if (pred[i] === s.label[i]) hit++;
      n += s.label.length;
    }
    return hit / n;
  });
}

/**
 * Analytic peak attention-side memory of one layer for one scene of N agents (numbers held at once, forward), what
 * the arm adds on top of plain attention (q, k, v [N·C] each and the scores [H·N²], common to every arm):
 *   rotary arms: the angle table [N, P] and the rotated q, k [2·N·C]           → O(N·d);
 *   rpe: pair features [N², 4], MLP hidden before and after GELU [2·N²·h], bias + offsets [N²·(H + H·D)] → O(N²·d_rpe);
 *   scene: 0.
 */
export function attentionMemory(arm: Arm, N: number, shape: { dim: number; heads: number; rpeHidden: number }): { extra: number; common: number; order: string } {
  const D = shape.dim / shape.heads;
  const common = 3 * N * shape.dim + shape.heads * N * N;
  if (arm === 'rpe') return { extra: N * N * (RPE_FEATURES + 2 * shape.rpeHidden + shape.heads * (1 + D)), common, order: 'O(N²·d_rpe)' };
  if (arm === 'scene') return { extra: 0, common, order: '0' };
  return { extra: N * (D / 2) + 2 * N * shape.dim, common, order: 'O(N·d)' };
}

// ── the experiment ────────────────────────────────────────────────────────────────────────────────────────────────

export interface Flags {
  seeds: number;
  steps: number;
  batch: number;
  lr: number;
  dim: number;
  layers: number;
  heads: number;
  agents: number;
  eval: number;
  base: number;
  rpeHidden: number;
  json: boolean;
}

export const DEFAULT_FLAGS: Flags = { seeds: 3, steps: 300, batch: 32, lr: 3e-3, dim: 64, layers: 2, heads: 4, agents: 16, eval: 512, base: 100, rpeHidden: 32, json: false };
/** The smoke test's sizes: every code path in a few seconds (numbers are not evidence). */
export const QUICK_FLAGS: Flags = { seeds: 3, steps: 3, batch: 2, lr: 3e-3, dim: 16, layers: 1, heads: 2, agents: 6, eval: 8, base: 100, rpeHidden: 4, json: false };

const HELP = `usage: node scripts/run.mjs scripts/experiments/drope-interaction.ts [flags]

DRoPE toy protocol B (interaction modelling): scenes of agents on a two-way road, randomly rotated and translated;
label per agent = number (0, 1, 2, 3+) of agents within ${RADIUS} m, in front and oncoming. Scene-centric vs
RoPE-2D(x, y) + heading features vs DRoPE-RoPE vs an O(N²) RPE upper bound; accuracy, 3 seeds.

  --quick          the smoke test's sizes (seconds; flags after it override them)
  --seeds N        seeds per arm (default 3)
  --steps N        AdamW steps per run (default 300)
  --batch B        scenes per step (default 32)
  --lr X           peak learning rate, warmup then cosine (default 3e-3)
  --dim C          model dim (default 64)
  --layers L       blocks (default 2)
  --heads H        heads (default 4; head dim C/H a multiple of 4)
  --agents N       agents per scene (default 16)
  --eval N         evaluation scenes (default 512)
  --base b         base of the per-axis position ladder at 1/${POS_SCALE} m (default 100)
  --rpe-hidden h   RPE pairwise MLP width (default 32)
  --json           print the results as JSON
  --help           this text`;

const FLAG_SPEC: FlagSpec<Flags> = {
  values: {
    seeds: (f, v) => (f.seeds = integerFlag(v, 1)),
    steps: (f, v) => (f.steps = integerFlag(v, 1)),
    batch: (f, v) => (f.batch = integerFlag(v, 1)),
    lr: (f, v) => (f.lr = numberFlag(v, { above: 0 })),
    dim: (f, v) => (f.dim = integerFlag(v, 4)),
    layers: (f, v) => (f.layers = integerFlag(v, 1)),
    heads: (f, v) => (f.heads = integerFlag(v, 1)),
    agents: (f, v) => (f.agents = integerFlag(v, 2)),
    eval: (f, v) => (f.eval = integerFlag(v, 1)),
    base: (f, v) => (f.base = numberFlag(v, { above: 1 })),
    'rpe-hidden': (f, v) => (f.rpeHidden = integerFlag(v, 1)),
  },
  switches: {
    quick: (f) => Object.assign(f, { ...QUICK_FLAGS, json: f.json }),
    json: (f) => (f.json = true),
  },
};

export function parseFlags(argv: readonly string[]): Flags | 'help' {
  return parseScriptFlags<Flags>('drope-interaction', argv, DEFAULT_FLAGS, FLAG_SPEC);
}

/** Cross-flag rules: the head dim a multiple of 4 (x and y each get ≥ 1 pair, the heading as many). */
export function checkFlags(f: Flags): string | null {
  if (f.dim % f.heads !== 0 || (f.dim / f.heads) % 4 !== 0) return `drope-interaction: --dim / --heads must be a multiple of 4 (got ${f.dim} / ${f.heads})`;
  return null;
}

export interface ArmRun {
  arm: Arm;
  seed: number;
  accuracy: number;
  /** Accuracy on the curve scenes every tenth of the run (step 0 = init). */
  curve: Array<{ step: number; accuracy: number }>;
  finalLoss: number;
  seconds: number;
}

export interface Results {
  flags: Flags;
  runs: ArmRun[];
  summary: Record<Arm, ArmSummary>;
  /** Share of the most frequent label in the eval scenes, and the label shares 0, 1, 2, 3+. */
  majority: number;
  labelShares: number[];
  /** The pre-registered judgement: DRoPE-RoPE > scene-centric. */
  primary: OrderingJudgement;
  /** Secondary: RPE − DRoPE-RoPE mean gap ≤ close. */
  closeness: { gap: number; close: number; isClose: boolean };
  /** Reported, not judged: DRoPE-RoPE vs RoPE-2D + abs ψ (what the heading pairs add). */
  dropeVsRope2d: OrderingJudgement;
  /** RPE ≥ threshold in every seed. */
  control: { threshold: number; values: number[]; passed: boolean };
  /** Per arm, per layer and scene at N = agents and at N = 128. */
  memory: Record<Arm, { extra: number; common: number; order: string; extraAt128: number }>;
  falsifier: { triggered: boolean; why: string };
  seconds: number;
}

const EVAL_SEED = 77713;
export const CONTROL_THRESHOLD = 0.85;
export const CLOSE = 0.03;

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;

/** Evaluation scenes (fixed by EVAL_SEED, in chunks of 128) and the quarter-size set the curves use. */
export function evaluationScenes(flags: Flags): { evalScenes: InteractionScenes[]; curveScenes: InteractionScenes[] } {
  const g = new Generator(EVAL_SEED);
  const evalScenes = Array.from({ length: Math.ceil(flags.eval / 128) }, (_, i) => makeInteractionScenes(Math.min(128, flags.eval - 128 * i), flags.agents, g));
  const curveScenes = [makeInteractionScenes(Math.max(1, Math.ceil(flags.eval / 4)), flags.agents, new Generator(EVAL_SEED + 1))];
  return { evalScenes, curveScenes };
}

/** Train one arm with one seed (init and batches from the seed alone) and measure it. */
export function trainArm(flags: Flags, arm: Arm, seed: number, scenes: { evalScenes: InteractionScenes[]; curveScenes: InteractionScenes[] }, onStep: (step: number) => void = () => {}): ArmRun {
  const started = performance.now();
  const shape = { dim: flags.dim, layers: flags.layers, heads: flags.heads, base: flags.base, rpeHidden: flags.rpeHidden };
  const model = new InteractionModel(shape, arm, seed);
  const g = new Generator(seed * 7919 + 13); // the same batches in every arm of this seed
  const every = Math.max(1, Math.round(flags.steps / 10));
  const curve: ArmRun['curve'] = [{ step: 0, accuracy: accuracy(model, scenes.curveScenes) }];
  const optimizer = new AdamW(model.parameters(), { lr: flags.lr, weightDecay: 0.01 });
  const warmupSteps = Math.min(flags.steps, Math.max(1, Math.round(flags.steps / 20)));
  const result = train(model, () => {
    const batch = makeInteractionScenes(flags.batch, flags.agents, g);
    return crossEntropy(model.forward(batch), batch.label);
  }, {
    steps: flags.steps, optimizer, clipGradNorm: 1, output: null,
    schedule: (step) => warmupCosineLr(step, { maxLr: flags.lr, warmupSteps, totalSteps: flags.steps, minLr: flags.lr / 10 }),
    onStep: (p) => {
      if (p.step % every === 0 || p.step === flags.steps) curve.push({ step: p.step, accuracy: accuracy(model, scenes.curveScenes) });
      onStep(p.step);
    },
  });
  return { arm, seed, accuracy: accuracy(model, scenes.evalScenes), curve, finalLoss: result.losses.at(-1) ?? NaN, seconds: (performance.now() - started) / 1000 };
}

/** The whole experiment; `progress(done, total)` counts training steps over all arms and seeds. */
export function runExperiment(flags: Flags, progress: (done: number, total: number, note?: string) => void = () => {}, log: (s: string) => void = () => {}): Results {
  const problem = checkFlags(flags);
  if (problem !== null) throw new Error(problem);
  const started = performance.now();
  const scenes = evaluationScenes(flags);
  const runs: ArmRun[] = [];
  const total = flags.seeds * ARMS.length * flags.steps;
  const every = Math.max(1, Math.round(flags.steps / 10));
  let done = 0;
  for (let s = 0; s < flags.seeds; s++) {
    const seed = 1 + s;
    for (const arm of ARMS) {
      const run = trainArm(flags, arm, seed, scenes, (step) => {
        done++;
        if (step % every === 0 || step === flags.steps) progress(done, total, `seed ${seed} ${arm} step ${step}`);
      });
      runs.push(run);
      log(`seed ${seed} ${arm.padEnd(7)} accuracy ${pct(run.accuracy)}  loss ${run.finalLoss.toFixed(3)}  ${run.seconds.toFixed(1)} s`);
    }
  }
  const labels = scenes.evalScenes.flatMap((sc) => Array.from(sc.label));
  return judge(flags, runs, labels, (performance.now() - started) / 1000);
}

/** The statistics, the control, the falsifier: everything decided from the runs by the pre-registered rules. */
export function judge(flags: Flags, runs: readonly ArmRun[], evalLabels: readonly number[], seconds: number): Results {
  const of = (arm: Arm): number[] => runs.filter((r) => r.arm === arm).sort((a, b) => a.seed - b.seed).map((r) => r.accuracy);
  const summary = Object.fromEntries(ARMS.map((arm) => [arm, summarize(of(arm))])) as Record<Arm, ArmSummary>;
  const labelShares = Array.from({ length: CLASSES }, (_, c) => evalLabels.filter((l) => l === c).length / evalLabels.length);
  const primary = judgeOrdering({ drope: of('drope'), scene: of('scene') }, ['drope', 'scene'], 'higher');
  const dropeVsRope2d = judgeOrdering({ drope: of('drope'), rope2d: of('rope2d') }, ['drope', 'rope2d'], 'higher');
  const gap = summary.rpe.mean - summary.drope.mean;
  const controlValues = of('rpe');
  const control = { threshold: CONTROL_THRESHOLD, values: controlValues, passed: controlValues.every((v) => v >= CONTROL_THRESHOLD) };
  const memShape = { dim: flags.dim, heads: flags.heads, rpeHidden: flags.rpeHidden };
  const memory = Object.fromEntries(ARMS.map((arm) => [arm, { ...attentionMemory(arm, flags.agents, memShape), extraAt128: attentionMemory(arm, 128, memShape).extra }])) as Results['memory'];
  // falsifier (spec): DRoPE-RoPE no better than scene-centric — its mean at or below scene-centric's
  const triggered = summary.drope.mean <= summary.scene.mean;
  const why = triggered
    ? `DRoPE-RoPE ${pct(summary.drope.mean)} is no better than scene-centric ${pct(summary.scene.mean)}`
    : `not triggered: DRoPE-RoPE ${pct(summary.drope.mean)} above scene-centric ${pct(summary.scene.mean)} (by ${(100 * (summary.drope.mean - summary.scene.mean)).toFixed(1)} points)`;
  return {
    flags, runs: [...runs], summary, majority: Math.max(...labelShares), labelShares, primary,
    closeness: { gap, close: CLOSE, isClose: gap <= CLOSE }, dropeVsRope2d, control, memory, falsifier: { triggered, why }, seconds,
  };
}

/** Verdict and reason: the positive control first, then the pre-registered ordering. */
export function verdictOf(res: Results): { verdict: ReproductionResult['verdict']; reason: string } {
  if (!res.control.passed) {
    return { verdict: 'not reproduced', reason: `positive control failed: RPE accuracy ${res.control.values.map(pct).join(', ')} — not ≥ ${pct(res.control.threshold)} in every seed, so the toy did not learn the task` };
  }
  return {
    verdict: res.primary.verdict,
    reason: `DRoPE-RoPE > scene-centric: ${res.primary.reason} (gap ${(100 * res.primary.gaps[0]!.gap).toFixed(1)} points, margin ${(100 * res.primary.gaps[0]!.margin).toFixed(1)}); ` +
      `positive control passed (RPE ${res.control.values.map(pct).join(', ')}); DRoPE-RoPE ${res.closeness.isClose ? 'close to' : 'NOT close to'} RPE ` +
      `(RPE − DRoPE-RoPE = ${(100 * res.closeness.gap).toFixed(1)} points, close ≤ ${(100 * res.closeness.close).toFixed(0)})`,
  };
}

const fmtCount = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : `${n}`);

/** The table: per arm, per seed and summarised, memory; then the judgements. */
export function formatResults(res: Results): string {
  const f = res.flags;
  const seeds = [...new Set(res.runs.map((r) => r.seed))].sort((a, b) => a - b);
  const cell = (arm: Arm, seed: number): string => pct(res.runs.find((r) => r.arm === arm && r.seed === seed)!.accuracy);
  const D = f.dim / f.heads;
  return [
    `task: ${f.agents} agents per scene in a ${SIDE} m square (${pct(ROAD_SHARE)} on a two-way road, σ ${ROAD_SIGMA} rad), rotated and shifted ≤ ${SHIFT} m; ` +
      `label = #agents within ${RADIUS} m, in front, oncoming (|Δψ − π| < ${ONCOMING}), 0/1/2/3+: eval shares ${res.labelShares.map(pct).join(' / ')} (majority ${pct(res.majority)})`,
    `model: ${f.layers} blocks, dim ${f.dim}, ${f.heads} heads (d_head ${D}; rotary: ${2 * Math.floor(D / 8)} pairs on x, y at 1/${POS_SCALE} m, base ${f.base}), ` +
      `${f.steps} AdamW steps × ${f.batch} scenes, lr ${f.lr}; RPE MLP 4 → ${f.rpeHidden} → ${f.heads}·(1 + ${D}); eval ${f.eval} scenes`,
    '',
    `| arm | ${seeds.map((s) => `seed ${s}`).join(' | ')} | mean (min–max) | attention-side extra memory / layer / scene: N = ${f.agents} | N = 128 | order |`,
    `|---|${seeds.map(() => '---:').join('|')}|---:|---:|---:|---|`,
    ...ARMS.map((arm) => {
      const s = res.summary[arm];
      const m = res.memory[arm];
      return `| ${ARM_LABELS[arm]} | ${seeds.map((seed) => cell(arm, seed)).join(' | ')} | ${pct(s.mean)} (${pct(s.min)}–${pct(s.max)}) | ${fmtCount(m.extra)} | ${fmtCount(m.extraAt128)} | ${m.order} |`;
    }),
    '',
    `(memory: numbers held beyond plain attention's q, k, v and scores (${fmtCount(res.memory.scene.common)} at N = ${f.agents}), per layer and scene, analytic)`,
    `pre-registered: DRoPE-RoPE > scene-centric — ${res.primary.verdict}: ${res.primary.reason} (gap ${(100 * res.primary.gaps[0]!.gap).toFixed(1)} points, margin ${(100 * res.primary.gaps[0]!.margin).toFixed(1)})`,
    `positive control: RPE ≥ ${pct(res.control.threshold)} in every seed — ${res.control.passed ? 'passed' : 'FAILED'} (${res.control.values.map(pct).join(', ')})`,
    `secondary: DRoPE-RoPE close to RPE (RPE − DRoPE-RoPE ≤ ${(100 * res.closeness.close).toFixed(0)} points) — ${res.closeness.isClose ? 'yes' : 'no'} (${(100 * res.closeness.gap).toFixed(1)} points)`,
    `reported, not judged: DRoPE-RoPE vs RoPE-2D + abs ψ — ${res.dropeVsRope2d.verdict}: ${res.dropeVsRope2d.reason}`,
    `falsifier: ${res.falsifier.triggered ? 'TRIGGERED — ' : ''}${res.falsifier.why}`,
  ].join('\n');
}

/** Accuracy vs step, mean over seeds, one colour per arm; the majority-class share dashed. */
export function chart(res: Results): string {
  const steps = res.runs[0]!.curve.map((c) => c.step);
  const series = ARMS.map((arm, a) => {
    const mine = res.runs.filter((r) => r.arm === arm);
    return { name: ARM_LABELS[arm], points: steps.map((step, i) => [step, 100 * mean(mine.map((r) => r.curve[i]!.accuracy))] as const), color: PALETTE[a]!, dash: '' };
  });
  series.push({ name: 'majority class (eval)', points: [[steps[0]!, 100 * res.majority], [steps.at(-1)!, 100 * res.majority]] as const, color: '#777777', dash: '5 4' });
  return lineChart({ title: 'Interaction count (0/1/2/3+): accuracy vs training step, mean of seeds', xLabel: 'training step', yLabel: 'accuracy (%)', series, width: 900, height: 500 });
}

export const CLAIM = 'DRoPE rotates every 2-D block of its heading part by the heading with the same unit frequency, so q·k depends on the ' +
  'relative heading exactly and periodically; combined with 2-D RoPE on positions (DRoPE-RoPE) it gives relative position + heading ' +
  'at O(N) space instead of the O(N²) of RPE-based query-centric models, with state-of-the-art minADE on Waymo Motion and lower ' +
  'memory/FLOPs than RPE (arXiv 2503.15029 abstract; exact numbers not retrieved).';

export function setupOf(f: Flags): string {
  return `${f.agents} agents on a two-way road in a ${SIDE} m square, scene rotated/shifted; label = #agents within ${RADIUS} m, in front, oncoming ` +
    `(0/1/2/3+); scene-centric vs RoPE-2D + abs ψ vs DRoPE-RoPE (dimSplit, 1/${POS_SCALE} m) vs O(N²) RPE; ${f.layers}-layer d${f.dim} ${f.heads}-head ` +
    `transformer, ${f.steps} steps × ${f.batch} scenes, ${f.seeds} seeds; accuracy on ${f.eval} eval scenes; analytic attention-side memory`;
}

/** What the runner records of a run: the verdict, a one-line summary per arm, the table and the chart. */
export function reproductionResult(res: Results): ReproductionResult {
  const { verdict, reason } = verdictOf(res);
  const arm = (a: Arm): string => `${a} ${pct(res.summary[a].mean)} (${pct(res.summary[a].min)}–${pct(res.summary[a].max)})`;
  return {
    verdict, reason,
    summary: ARMS.map(arm).join('; ') + `; majority class ${pct(res.majority)}; extra memory/layer/scene at N=${res.flags.agents}: rotary ${fmtCount(res.memory.drope.extra)} vs RPE ${fmtCount(res.memory.rpe.extra)}`,
    table: formatResults(res),
    svg: chart(res),
    data: res,
  };
}

/** The runner's entry (scripts/lib/reproduction.ts). */
export const reproduction: Reproduction = {
  name: 'drope-interaction',
  paper: 'Zhao et al., "DRoPE: Directional Rotary Position Embedding for Efficient Agent Interaction Modeling", arXiv 2503.15029, 2025',
  claim: CLAIM,
  setup: setupOf(DEFAULT_FLAGS),
  criterion: 'Stated before the run: DRoPE-RoPE\'s accuracy > scene-centric\'s in every seed, with the mean gap more than twice the larger ' +
    'seed range (judgeOrdering, higher is better) — the verdict. Positive control: the RPE upper bound ≥ 85 % accuracy in every seed ' +
    '(else not reproduced; the majority class is ≈ 45 %). Secondary (reported): DRoPE-RoPE "close" to RPE = RPE\'s mean − DRoPE-RoPE\'s ' +
    'mean ≤ 3 points. Reported, not judged: DRoPE-RoPE vs RoPE-2D + absolute heading; the analytic memory O(N·d) vs O(N²·d_rpe).',
  falsifier: 'DRoPE-RoPE no better than scene-centric (its mean accuracy at or below scene-centric\'s).',
  minutes: 4.5,
  examination: 'The positive control failed at this scale: the RPE upper bound reached 72.6 % (71.9–73.5 %), not 85 %, so the toy did not ' +
    'learn the task well enough to judge the claim (majority class 45.6 %). Every arm was still creeping up at step 300 (mean accuracy ' +
    'over the last tenth of the run: RPE 72.8 → 73.0 %, DRoPE-RoPE 61.9 → 62.2 %, RoPE-2D 56.5 → 56.7 %, scene-centric 53.6 → 54.2 %, ' +
    'with the cosine schedule already at its floor), so a longer schedule would lift them, but whether RPE then reaches 85 % is open; the predicted ordering ' +
    'DRoPE-RoPE > RoPE-2D + abs ψ > scene-centric held in all 3 seeds (gaps 5.4 and 2.4 points; DRoPE-RoPE vs scene-centric 7.9 points ' +
    'against a margin of 11.4 from DRoPE-RoPE\'s seed range 59.8–65.5 %). The full run took 4.5 min on one pinned core, so ≈ 540 steps ' +
    'would fit the 8-minute budget; what would settle it: the same protocol with ≥ 1000 steps (≈ 15 min) — if RPE then passes 85 %, ' +
    'the DRoPE-RoPE vs scene-centric gap and DRoPE-RoPE\'s distance to RPE can be judged. That run is drope-interaction-long (1200 steps): ' +
    'RPE reached 81.7 %, still under 85 %, and DRoPE-RoPE beat scene-centric in every seed by more than the margin (76.0 % against 68.5 %).',
  async run({ quick, progress }): Promise<ReproductionResult> {
    return reproductionResult(runExperiment(quick ? QUICK_FLAGS : DEFAULT_FLAGS, progress));
  },
};

function main(): void {
  const flags = readFlags('drope-interaction', HELP, DEFAULT_FLAGS, {
    ...FLAG_SPEC,
    check: (f) => {
      const problem = checkFlags(f);
      if (problem !== null) throw new FlagError(problem);
    },
  });
  setNumThreads(1);
  const log = (s: string): void => {
    if (!flags.json) console.log(s);
  };
  log(`node scripts/run.mjs scripts/experiments/drope-interaction.ts ${process.argv.slice(2).join(' ')}`.trimEnd());
  const res = runExperiment(flags, () => {}, log);
  const { verdict, reason } = verdictOf(res);
  log(`\n${formatResults(res)}\n\nverdict: ${verdict} — ${reason}`);
  mkdirSync('out', { recursive: true });
  writeFileSync('out/drope-interaction.svg', chart(res));
  log(`\nwrote out/drope-interaction.svg; ${res.seconds.toFixed(0)} s in all`);
  if (flags.json) console.log(JSON.stringify({ ...res, verdict, reason }));
}

if (isEntryPoint(import.meta.url, 'drope-interaction')) main();
