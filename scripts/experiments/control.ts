/**
 * Issue 14 item 2 — MuseControlLite's rotary condition branch (Tsai et al., ICML 2025; fundwotsai2001/MuseControlLite;
 * nn/rotary-cross-attention.ts) on a toy time-varying control task: does RoPE in the decoupled cross-attention help
 * the output follow a control given at another rate? (The paper: melody accuracy 56.6% without → 61.1% with RoPE.)
 *
 * Task ("melody denoising"). A melody of `--control` frames over `--classes` pitch classes (notes of 1–3 frames) is
 * the control c, Lc = `--control` frames. The output has Lq = rate · Lc steps (`--rate` 2: two output steps per
 * control frame; 0.5: one step per two frames); the target at step i is the pitch class of the control at time
 * i·Lc/Lq, frame ⌊i·Lc/Lq⌋. The backbone sees a corrupted copy of the target (each step kept with probability
 * `--keep`, else replaced by a random pitch class) — the toy's "noisy latent" — and must output the clean sequence.
 *
 * 1. Backbone: a small non-causal transformer (`--layers` pre-norm blocks, dim `--dim`, `--heads` heads, RoPE in its
 *    self-attention, no absolute positions), pretrained for `--pretrain` AdamW steps without the control (it learns to
 *    denoise from the corrupted sequence alone), then frozen.
 * 2. Branch: every block's attention is a DecoupledRotaryAttention (the host's queries, keys/values from the one-hot
 *    control, zero-initialised output projection, so training starts from the pretrained backbone's output). Only the
 *    branches train, `--steps` AdamW steps, in each arm: 'rope' (consistent half-layout RoPE: queries at i·Lc/Lq,
 *    keys and values at j) and 'none' (the same branch, no rotation: it sees which pitch classes the control holds but
 *    not when); `--quirk` adds the reference's museQuirkLayout map as a third arm. Within a seed every arm starts from
 *    the same backbone and the same branch weights and sees the same batches.
 * 3. Control accuracy: the fraction of output steps whose argmax is the target pitch class, on `--eval` fresh
 *    sequences; also on the corrupted steps alone (where the input does not give the answer away). Seeds `--seeds`.
 *
 * Target (issue 14): RoPE ahead of no-RoPE by more than the seed-to-seed spread (min of the RoPE arm above the max of
 * the no-RoPE arm); printed MET / NOT MET. Writes out/control.svg (accuracy vs branch-training step, per arm, mean
 * over seeds); `--json` prints the results as one JSON object instead of tables.
 *
 * Reproduction (issue 17, ../shared/specs/reproductions.md §15d; `reproduction` below, run by `npm run reproduce
 * control`): the spec's sizes (REPRODUCTION_FLAGS: T = 64 output frames, the melody at half the frame rate, Lc = 32,
 * 12 pitch classes; 2000 branch steps), 3 seeds, verdict by scripts/lib/stats.ts judgeOrdering — RoPE branch above
 * no-RoPE branch; the positive control: the RoPE branch at least CONTROL_MIN_GAIN above the frozen backbone alone in
 * every seed (the branch has learned to read the control). The command line's `--spec` starts from those sizes,
 * `--quick` from tiny ones (seconds; numbers mean nothing).
 *
 * Usage: node scripts/run.mjs scripts/experiments/control.ts [--spec | --quick] [--seeds N] [--steps N] [--pretrain N]
 *          [--batch B] [--lr X] [--control Lc] [--rate 2|0.5|…] [--classes K] [--keep P] [--dim C] [--layers L]
 *          [--heads H] [--eval N] [--quirk] [--json] [--help]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { AdamW, Generator, Module, Tensor, argmax, crossEntropy, noGrad } from '../../core/index.js';
import { Embedding, LayerNorm, Linear, MLP, MultiHeadAttention, train } from '../../nn/index.js';
import { DecoupledRotaryAttention } from '../../nn/index.js';
import { RoPE } from '../../positional/index.js';
import { FlagError, integerFlag, numberFlag, parseFlags as parseScriptFlags, readFlags, type FlagSpec } from '../lib/flags.js';
import { isEntryPoint } from '../lib/entry.js';
import type { Reproduction } from '../lib/reproduction.js';
import { judgeOrdering, type OrderingJudgement, type Verdict } from '../lib/stats.js';
import { lineChart } from '../lib/svg.js';

// ── the task ──────────────────────────────────────────────────────────────────────────────────────────────────────

export interface TaskShape {
  /** Lc, control frames. */
  control: number;
  /** Lq / Lc. */
  rate: number;
  /** Pitch classes K. */
  classes: number;
  /** Probability that an output step's input is its target (else a uniformly random class). */
  keep: number;
}

export interface Batch {
  /** Corrupted targets, the backbone's input: ids [B, Lq]. */
  input: Tensor;
  /** Clean targets, flat [B·Lq]: the control's pitch class at frame ⌊i·Lc/Lq⌋. */
  target: Int32Array;
  /** Which steps were corrupted (input ≠ the target's draw), flat [B·Lq]. */
  corrupted: Uint8Array;
  /** One-hot control [B, Lc, K], float32 (the models' dtype). */
  condition: Tensor;
}

/** Output steps Lq = rate · Lc (an integer ≥ 1). */
export const outputLength = (task: TaskShape): number => Math.round(task.rate * task.control);

/** The frame of the control that output step i follows: ⌊i · Lc / Lq⌋ (the branch's query position, floored). */
export const alignedFrame = (i: number, Lq: number, Lc: number): number => Math.floor((i * Lc) / Lq);

/** A batch of B melodies: notes of 1–3 frames, pitch classes uniform (a new note differs from the previous one). */
export function makeBatch(task: TaskShape, B: number, g: Generator): Batch {
  const { control: Lc, classes: K, keep } = task;
  const Lq = outputLength(task);
  const input = new Float64Array(B * Lq);
  const target = new Int32Array(B * Lq);
  const corrupted = new Uint8Array(B * Lq);
  const condition = new Float32Array(B * Lc * K);
  const melody = new Int32Array(Lc);
  for (let b = 0; b < B; b++) {
    let prev = -1;
    for (let j = 0; j < Lc;) {
      let pitch = Math.floor(g.random() * K);
      if (K > 1 && pitch === prev) pitch = (pitch + 1 + Math.floor(g.random() * (K - 1))) % K;
      const length = 1 + Math.floor(g.random() * 3);
      for (let n = 0; n < length && j < Lc; n++, j++) melody[j] = pitch;
      prev = pitch;
    }
    for (let j = 0; j < Lc; j++) condition[(b * Lc + j) * K + melody[j]!] = 1;
    for (let i = 0; i < Lq; i++) {
      const y = melody[alignedFrame(i, Lq, Lc)]!;
      target[b * Lq + i] = y;
      const kept = g.random() < keep;
      input[b * Lq + i] = kept ? y : Math.floor(g.random() * K);
      corrupted[b * Lq + i] = kept ? 0 : 1;
    }
  }
  return { input: new Tensor(input, [B, Lq]), target, corrupted, condition: new Tensor(condition, [B, Lc, K]) };
}

// ── the model ─────────────────────────────────────────────────────────────────────────────────────────────────────

export type Arm = 'rope' | 'none' | 'quirk';

export interface ModelShape {
  dim: number;
  layers: number;
  heads: number;
  classes: number;
}

/** A pre-norm block whose attention carries a condition branch: x + attn(norm(x), c), then x + mlp(norm(x)). */
class ControlBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: DecoupledRotaryAttention;
  readonly norm2: LayerNorm;
  readonly mlp: MLP;

  constructor(dim: number, heads: number, classes: number, arm: Arm, g: Generator, branchSeed: number) {
    super();
    this.norm1 = new LayerNorm(dim);
    const host = new MultiHeadAttention(dim, { numHeads: heads, positional: new RoPE(dim / heads), generator: g });
    this.attn = new DecoupledRotaryAttention(host, { condDim: classes, rope: arm !== 'none', museQuirkLayout: arm === 'quirk', generator: new Generator(branchSeed) });
    this.norm2 = new LayerNorm(dim);
    this.mlp = new MLP(dim, 4 * dim, { generator: g });
  }

  /** x: [B, T, C]; condition [B, Lc, K], or null for the backbone alone (pretraining). */
  forward(x: Tensor, condition: Tensor | null): Tensor {
    const h = this.norm1.forward(x);
    const a = condition === null ? this.attn.host.forward(h, { causal: false }) : this.attn.forward(h, condition, { causal: false });
    const y = x.add(a);
    return y.add(this.mlp.forward(this.norm2.forward(y)));
  }
}

/** Embedding → blocks → norm → head: ids [B, T] → logits [B·T, K]. */
export class ControlModel extends Module {
  readonly embed: Embedding;
  readonly blocks: ControlBlock[];
  readonly norm: LayerNorm;
  readonly head: Linear;

  /** The backbone's weights come from `seed` alone, the branches' from `seed` + 1000 + layer, whatever the arm. */
  constructor(shape: ModelShape, arm: Arm, seed: number) {
    super();
    const g = new Generator(seed);
    this.embed = new Embedding(shape.classes, shape.dim, { generator: g, std: 0.5 });
    this.blocks = Array.from({ length: shape.layers }, (_, l) => new ControlBlock(shape.dim, shape.heads, shape.classes, arm, g, seed + 1000 + l));
    this.norm = new LayerNorm(shape.dim);
    this.head = new Linear(shape.dim, shape.classes, { generator: g });
  }

  forward(ids: Tensor, condition: Tensor | null): Tensor {
    let x = this.embed.forward(ids);
    for (const block of this.blocks) x = block.forward(x, condition);
    const logits = this.head.forward(this.norm.forward(x));
    return logits.reshape([-1, logits.shape[2]!]);
  }

  /** The branches' parameters (wk, wv, wo of every block): the only ones trained in step 2. */
  branchParameters(): Tensor[] {
    return this.blocks.flatMap((b) => b.attn.branch.parameters());
  }

  /** Every parameter outside the branches: the backbone. */
  backboneParameters(): Tensor[] {
    const branch = new Set(this.branchParameters());
    return this.parameters().filter((p) => !branch.has(p));
  }
}

/** Control accuracy on `batches`: all steps, and the corrupted steps alone. */
export function accuracy(model: ControlModel, batches: readonly Batch[], useControl: boolean): { all: number; corrupted: number } {
  return noGrad(() => {
    let hit = 0;
    let n = 0;
    let hitC = 0;
    let nC = 0;
    for (const batch of batches) {
      const pred = argmax(model.forward(batch.input, useControl ? batch.condition : null), -1).data;
      for (let i = 0; i < batch.target.length; i++) {
        const ok = pred[i] === batch.target[i] ? 1 : 0;
        hit += ok;
        n++;
        if (batch.corrupted[i] === 1) {
          hitC += ok;
          nC++;
        }
      }
    }
    return { all: hit / n, corrupted: nC === 0 ? NaN : hitC / nC };
  });
}

// ── the experiment ────────────────────────────────────────────────────────────────────────────────────────────────

export interface Flags extends TaskShape {
  seeds: number;
  steps: number;
  pretrain: number;
  batch: number;
  lr: number;
  dim: number;
  layers: number;
  heads: number;
  eval: number;
  quirk: boolean;
  json: boolean;
}

export const DEFAULT_FLAGS: Flags = {
  seeds: 3, steps: 600, pretrain: 400, batch: 16, lr: 3e-3, control: 16, rate: 2, classes: 8, keep: 0.5,
  dim: 32, layers: 2, heads: 2, eval: 256, quirk: false, json: false,
};

/** The reproduction's settings: the spec's §15d toy (T = 64 output frames, the melody at half rate: Lc = 32; 12 pitch classes). */
export const REPRODUCTION_FLAGS: Flags = { ...DEFAULT_FLAGS, control: 32, rate: 2, classes: 12, steps: 2000 };

/** The positive control: the RoPE branch's control accuracy exceeds the frozen backbone's by at least this, every seed. */
export const CONTROL_MIN_GAIN = 0.1;

/** `--quick`: every code path in a second or two; the numbers mean nothing. */
export const QUICK_FLAGS: Flags = { ...DEFAULT_FLAGS, seeds: 3, steps: 3, pretrain: 2, batch: 2, control: 4, classes: 4, dim: 8, layers: 1, heads: 2, eval: 8 };

export interface ArmRun {
  arm: Arm;
  seed: number;
  /** Control accuracy over all output steps and over the corrupted ones, after branch training. */
  accuracy: number;
  corruptedAccuracy: number;
  /** [branch step, accuracy] during training (every ~10% of the steps, on a quarter of the eval set). */
  curve: Array<[number, number]>;
  finalLoss: number;
}

export interface ArmSummary {
  arm: Arm;
  mean: number;
  min: number;
  max: number;
  corruptedMean: number;
}

export interface Results {
  /** The frozen backbone before any branch: accuracy per seed (all steps). */
  backbone: number[];
  runs: ArmRun[];
  summary: ArmSummary[];
  /** RoPE's min above no-RoPE's max. */
  target: { rope: ArmSummary; none: ArmSummary; margin: number; spread: number; met: boolean };
  settings: { outputLength: number; trainableParameters: number; backboneParameters: number };
  seconds: { total: number };
}

const HELP = `usage: node scripts/run.mjs scripts/experiments/control.ts [flags]

MuseControlLite's rotary condition branch on a toy melody-following task: a frozen (pretrained) backbone denoises a
corrupted pitch sequence; a decoupled cross-attention branch reads the melody at another rate. Control accuracy with
RoPE in the branch vs the same branch without, over seeds.

  --seeds N      seeds (default 3)
  --steps N      branch-training AdamW steps per arm (default 600)
  --pretrain N   backbone pretraining steps, without the control (default 400)
  --batch B      sequences per step (default 16)
  --lr X         AdamW learning rate for both stages (default 3e-3)
  --control Lc   control frames (default 16)
  --rate R       output steps per control frame, Lq = R·Lc (default 2; 0.5 = one step per two frames)
  --classes K    pitch classes (default 8)
  --keep P       probability that an input step is clean (default 0.5)
  --dim C        model dim (default 32)
  --layers L     blocks (default 2)
  --heads H      heads (default 2; head dim C/H must be even)
  --eval N       evaluation sequences (default 256)
  --quirk        also run the reference's museQuirkLayout map as a third arm
  --spec         start from the reproduction's settings (spec §15d: --control 32 --classes 12), 3 seeds
  --quick        start from tiny settings that run in seconds (a smoke test; the numbers mean nothing)
  --json         print the results as JSON
  --help         this text`;

const FLAG_SPEC: FlagSpec<Flags> = {
  values: {
    seeds: (f, v) => (f.seeds = integerFlag(v, 1)),
    steps: (f, v) => (f.steps = integerFlag(v, 0)),
    pretrain: (f, v) => (f.pretrain = integerFlag(v, 0)),
    batch: (f, v) => (f.batch = integerFlag(v, 1)),
    lr: (f, v) => (f.lr = numberFlag(v, { above: 0 })),
    control: (f, v) => (f.control = integerFlag(v, 1)),
    rate: (f, v) => (f.rate = numberFlag(v, { above: 0 })),
    classes: (f, v) => (f.classes = integerFlag(v, 2)),
    keep: (f, v) => (f.keep = Math.min(1, numberFlag(v, { atLeast: 0 }))),
    dim: (f, v) => (f.dim = integerFlag(v, 2)),
    layers: (f, v) => (f.layers = integerFlag(v, 1)),
    heads: (f, v) => (f.heads = integerFlag(v, 1)),
    eval: (f, v) => (f.eval = integerFlag(v, 1)),
  },
  switches: { quirk: (f) => (f.quirk = true), json: (f) => (f.json = true), spec: () => {}, quick: () => {} },
};

/** The settings a command line starts from: --quick → QUICK_FLAGS, --spec → REPRODUCTION_FLAGS, else DEFAULT_FLAGS. */
function startingFlags(argv: readonly string[]): Flags {
  return argv.includes('--quick') ? QUICK_FLAGS : argv.includes('--spec') ? REPRODUCTION_FLAGS : DEFAULT_FLAGS;
}

export function parseFlags(argv: readonly string[]): Flags | 'help' {
  return parseScriptFlags<Flags>('control', argv, startingFlags(argv), FLAG_SPEC);
}

/** Cross-flag rules: an integer Lq ≥ 1 and an even head dim. */
export function checkFlags(f: Flags): string | null {
  const Lq = f.rate * f.control;
  if (!Number.isInteger(Lq) || Lq < 1) return `control: --rate × --control must be a positive integer (got ${f.rate} × ${f.control} = ${Lq})`;
  if (f.dim % f.heads !== 0 || (f.dim / f.heads) % 2 !== 0) return `control: --dim / --heads must be an even integer (got ${f.dim} / ${f.heads})`;
  return null;
}

const EVAL_SEED = 99991;

/**
 * The whole experiment; `log` gets the progress lines, `progress(done, total)` counts optimizer steps (pretraining and
 * every arm's branch training, over all seeds).
 */
export function runExperiment(flags: Flags, log: (s: string) => void = () => {}, progress: (done: number, total: number, note?: string) => void = () => {}): Results {
  const problem = checkFlags(flags);
  if (problem !== null) throw new Error(problem);
  const started = performance.now();
  const shape: ModelShape = { dim: flags.dim, layers: flags.layers, heads: flags.heads, classes: flags.classes };
  const arms: Arm[] = flags.quirk ? ['rope', 'none', 'quirk'] : ['rope', 'none'];
  const evalBatches = ((g) => Array.from({ length: Math.ceil(flags.eval / 64) }, (_, i) => makeBatch(flags, Math.min(64, flags.eval - 64 * i), g)))(new Generator(EVAL_SEED));
  const curveBatches = evalBatches.slice(0, Math.max(1, Math.ceil(evalBatches.length / 4)));
  const backbone: number[] = [];
  const runs: ArmRun[] = [];
  let trainable = 0;
  let frozen = 0;
  const total = flags.seeds * (flags.pretrain + arms.length * flags.steps);
  let done = 0;
  for (let s = 0; s < flags.seeds; s++) {
    const seed = 1 + s;
    // 1. pretrain the backbone without the control, then keep its weights
    const base = new ControlModel(shape, 'rope', seed);
    const pre = new Generator(seed * 7919);
    if (flags.pretrain > 0) {
      train(base.backboneParameters(), () => {
        const batch = makeBatch(flags, flags.batch, pre);
        return crossEntropy(base.forward(batch.input, null), batch.target);
      }, {
        steps: flags.pretrain, optimizer: new AdamW(base.backboneParameters(), { lr: flags.lr, weightDecay: 0 }), clipGradNorm: 1, output: null,
        onStep: (p) => progress(done + p.step, total, `seed ${seed}: backbone`),
      });
      done += flags.pretrain;
    }
    const state = base.stateDict();
    backbone.push(accuracy(base, evalBatches, false).all);
    log(`seed ${seed}: backbone alone (no control) ${(100 * backbone.at(-1)!).toFixed(1)}% after ${flags.pretrain} pretraining steps`);
    // 2. per arm: the same backbone, the same branch init, the same batches; only the branches train
    for (const arm of arms) {
      const model = new ControlModel(shape, arm, seed);
      model.loadStateDict(state);
      for (const p of model.backboneParameters()) p.requiresGrad = false;
      const params = model.branchParameters();
      trainable = params.reduce((n, p) => n + p.size, 0);
      frozen = model.backboneParameters().reduce((n, p) => n + p.size, 0);
      const g = new Generator(seed * 104729);
      const every = Math.max(1, Math.round(flags.steps / 10));
      const curve: Array<[number, number]> = [[0, accuracy(model, curveBatches, true).all]];
      const result = train(params, () => {
        const batch = makeBatch(flags, flags.batch, g);
        return crossEntropy(model.forward(batch.input, batch.condition), batch.target);
      }, {
        steps: flags.steps, optimizer: new AdamW(params, { lr: flags.lr, weightDecay: 0 }), clipGradNorm: 1, output: null,
        onStep: (p) => {
          if (p.step % every === 0 || p.step === flags.steps) curve.push([p.step, accuracy(model, curveBatches, true).all]);
          progress(done + p.step, total, `seed ${seed}: ${arm} branch`);
        },
      });
      done += flags.steps;
      const acc = accuracy(model, evalBatches, true);
      runs.push({ arm, seed, accuracy: acc.all, corruptedAccuracy: acc.corrupted, curve, finalLoss: result.losses.at(-1) ?? NaN });
      log(`  ${arm.padEnd(5)} control accuracy ${(100 * acc.all).toFixed(1)}% (corrupted steps ${(100 * acc.corrupted).toFixed(1)}%), final loss ${(result.losses.at(-1) ?? NaN).toFixed(3)}`);
    }
  }
  const summary = arms.map((arm) => summarize(arm, runs));
  return {
    backbone, runs, summary,
    target: judgeTarget(summary.find((a) => a.arm === 'rope')!, summary.find((a) => a.arm === 'none')!),
    settings: { outputLength: outputLength(flags), trainableParameters: trainable, backboneParameters: frozen },
    seconds: { total: (performance.now() - started) / 1000 },
  };
}

/** Mean and min–max of one arm's accuracy over seeds. */
export function summarize(arm: Arm, runs: readonly ArmRun[]): ArmSummary {
  const mine = runs.filter((r) => r.arm === arm);
  const acc = mine.map((r) => r.accuracy);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { arm, mean: mean(acc), min: Math.min(...acc), max: Math.max(...acc), corruptedMean: mean(mine.map((r) => r.corruptedAccuracy)) };
}

/**
 * The issue's target: RoPE ahead by more than the seed-to-seed spread — every RoPE seed above every no-RoPE seed
 * (margin = min RoPE − max no-RoPE > 0), and the mean gap larger than the wider of the two arms' min–max ranges.
 */
export function judgeTarget(rope: ArmSummary, none: ArmSummary): Results['target'] {
  const margin = rope.min - none.max;
  const spread = Math.max(rope.max - rope.min, none.max - none.min);
  return { rope, none, margin, spread, met: margin > 0 && rope.mean - none.mean > spread };
}

const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;

/** The tables (markdown) and the target line. */
export function formatResults(res: Results, flags: Flags): string {
  const seeds = [...new Set(res.runs.map((r) => r.seed))];
  const arms = res.summary.map((s) => s.arm);
  const cell = (arm: Arm, seed: number): string => {
    const r = res.runs.find((x) => x.arm === arm && x.seed === seed);
    return r === undefined ? '—' : `${pct(r.accuracy)} (${pct(r.corruptedAccuracy)})`;
  };
  const t = res.target;
  return [
    `task: Lc = ${flags.control} control frames, Lq = ${res.settings.outputLength} output steps (rate ${flags.rate}), ${flags.classes} pitch classes, inputs kept with p = ${flags.keep}`,
    `model: ${flags.layers} blocks, dim ${flags.dim}, ${flags.heads} heads; backbone ${res.settings.backboneParameters} parameters (pretrained ${flags.pretrain} steps, frozen), branches ${res.settings.trainableParameters} trainable; ${flags.steps} branch steps × ${flags.batch}, AdamW lr ${flags.lr}`,
    '',
    `| arm | ${seeds.map((s) => `seed ${s}`).join(' | ')} | mean | min–max | corrupted steps (mean) |`,
    `|---|${seeds.map(() => '---:').join('|')}|---:|---|---:|`,
    `| backbone alone | ${res.backbone.map(pct).join(' | ')} | ${pct(res.backbone.reduce((a, b) => a + b, 0) / res.backbone.length)} | — | — |`,
    ...arms.map((arm) => {
      const s = res.summary.find((x) => x.arm === arm)!;
      return `| ${arm === 'rope' ? 'RoPE branch' : arm === 'none' ? 'no-RoPE branch' : 'quirk-layout branch'} | ${seeds.map((seed) => cell(arm, seed)).join(' | ')} | ${pct(s.mean)} | ${pct(s.min)}–${pct(s.max)} | ${pct(s.corruptedMean)} |`;
    }),
    '',
    'cells: control accuracy over all output steps (over the corrupted steps alone)',
    `target (issue 14) — RoPE ahead of no-RoPE by more than the seed-to-seed spread: RoPE ${pct(t.rope.mean)} (${pct(t.rope.min)}–${pct(t.rope.max)}) vs no-RoPE ${pct(t.none.mean)} (${pct(t.none.min)}–${pct(t.none.max)}); gap ${(100 * (t.rope.mean - t.none.mean)).toFixed(1)} points, min–max margin ${(100 * t.margin).toFixed(1)}, spread ${(100 * t.spread).toFixed(1)} — ${t.met ? 'MET' : 'NOT MET'}`,
  ].join('\n');
}

/** Accuracy vs branch-training step, per arm, mean over seeds. */
export function chart(res: Results): string {
  const series = res.summary.map(({ arm }) => {
    const mine = res.runs.filter((r) => r.arm === arm);
    const points = mine[0]!.curve.map(([step], i) => [step, 100 * mine.reduce((a, r) => a + r.curve[i]![1], 0) / mine.length] as const);
    return { name: arm === 'rope' ? 'RoPE branch' : arm === 'none' ? 'no-RoPE branch' : 'quirk-layout branch', points };
  });
  const steps = series[0]!.points.map(([s]) => s);
  const base = 100 * res.backbone.reduce((a, b) => a + b, 0) / res.backbone.length;
  series.push({ name: 'frozen backbone alone', points: [Math.min(...steps), Math.max(...steps, 1)].map((s) => [s, base] as const) });
  return lineChart({ title: 'Control accuracy: rotary vs plain condition branch (mean over seeds)', xLabel: 'branch-training step', yLabel: 'control accuracy (%)', series });
}

/** The reproduction's verdict (issue 17): judgeOrdering on the final control accuracies, and the positive control. */
export interface ReproductionJudgement {
  verdict: Verdict;
  reason: string;
  /** RoPE branch vs no-RoPE branch (higher is better): the claim. */
  claim: OrderingJudgement;
  /** Per seed: the RoPE branch's accuracy minus the frozen backbone's (the positive control needs ≥ CONTROL_MIN_GAIN in each). */
  controlGains: number[];
  control: boolean;
}

export function judgeReproduction(res: Results): ReproductionJudgement {
  const of = (arm: Arm): number[] => res.runs.filter((r) => r.arm === arm).sort((a, b) => a.seed - b.seed).map((r) => r.accuracy);
  const claim = judgeOrdering({ rope: of('rope'), none: of('none') }, ['rope', 'none'], 'higher');
  const controlGains = of('rope').map((a, i) => a - res.backbone[i]!);
  const control = controlGains.every((g) => g >= CONTROL_MIN_GAIN);
  if (!control) {
    return {
      verdict: 'not reproduced',
      reason: `positive control failed — the RoPE branch is not ${pct(CONTROL_MIN_GAIN)} above the frozen backbone alone in every seed (${controlGains.map((g) => `${(100 * g).toFixed(1)}`).join(', ')} points), so the branch has not learned to read the control; RoPE vs no-RoPE branch: ${claim.verdict} — ${claim.reason}`,
      claim, controlGains, control,
    };
  }
  return { verdict: claim.verdict, reason: `control accuracy, RoPE branch vs no-RoPE branch: ${claim.reason}; positive control (RoPE branch ≥ ${(100 * CONTROL_MIN_GAIN).toFixed(0)} points above the backbone alone in every seed) passed`, claim, controlGains, control };
}

/** The judgement as lines under the table. */
export function formatJudgement(j: ReproductionJudgement): string {
  const gap = (o: OrderingJudgement): string => o.gaps.map((g) => `${g.better} − ${g.worse} = ${(100 * g.gap).toFixed(1)} points (margin ${(100 * g.margin).toFixed(1)}), seeds in order: ${o.seedsInOrder.map((ok) => (ok ? 'yes' : 'no')).join('/')}`).join('; ');
  return [
    `criterion (issue 17) — RoPE branch above no-RoPE branch: ${gap(j.claim)} → ${j.claim.verdict}`,
    `positive control — RoPE branch ≥ ${(100 * CONTROL_MIN_GAIN).toFixed(0)} points above the frozen backbone alone in every seed: ${j.controlGains.map((g) => (100 * g).toFixed(1)).join(' / ')} points → ${j.control ? 'passed' : 'FAILED'}`,
    `verdict: ${j.verdict} — ${j.reason}`,
  ].join('\n');
}

const pctOf = (xs: readonly number[]): string => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return `${pct(mean)} (${pct(Math.min(...xs))}–${pct(Math.max(...xs))})`;
};

export const reproduction: Reproduction = {
  name: 'control',
  paper: 'Tsai, Wu, Lee, Yang, Chen, Cheng, Yang: MuseControlLite: Multifunctional Music Generation with Lightweight Conditioners (ICML 2025; arXiv 2506.18729)',
  claim:
    'A frozen Stable Audio Open DiT gets a decoupled cross-attention branch (new W_k\u2032, W_v\u2032, zero-initialised output) for time-varying conditions; adding RoPE to that decoupled cross-attention raises melody control accuracy from 56.6 % to 61.1 %, with 85M trainable parameters (6.75× fewer than ControlNet\u2019s 572M).',
  setup:
    `Toy melody denoising: a 2-block dim-32 transformer pretrained ${REPRODUCTION_FLAGS.pretrain} steps to denoise a corrupted pitch sequence (T = ${outputLength(REPRODUCTION_FLAGS)} frames, ${REPRODUCTION_FLAGS.classes} classes, half the inputs random), then frozen; a decoupled cross-attention branch per block reads the melody at half rate (Lc = ${REPRODUCTION_FLAGS.control}), trained ${REPRODUCTION_FLAGS.steps} steps, with RoPE on q/k/v vs none; frame-wise control accuracy on ${REPRODUCTION_FLAGS.eval} fresh sequences, ${REPRODUCTION_FLAGS.seeds} seeds (CLI: control.ts --spec).`,
  criterion:
    'Control accuracy (fraction of output frames whose argmax is the melody\u2019s pitch class) after branch training, RoPE branch > no-RoPE branch, judged by judgeOrdering (higher is better): in every seed and with the mean gap above twice the larger seed range → reproduced; means in order only → partly. Seed i shares the backbone, the branch init and the batches across arms. Positive control: the RoPE branch is at least 10 points above the frozen backbone alone in every seed, else the branch has not learned to read the control and the verdict is not reproduced.',
  falsifier: 'The no-RoPE branch matches or beats the RoPE branch (gap within the seed range) while the positive control passes: a branch without positions aligns the melody just as well.',
  minutes: 14,
  history: [
    '2026-12-07, 600 branch steps (3 seeds, 10 min on a heavily loaded machine): not reproduced — RoPE branch 87.7 % (80.2–93.3), no-RoPE branch 67.5 % (67.1–67.7), frozen backbone 64.6 % (64.4–65.0). The claim (RoPE > no-RoPE) held in every seed but its gap, 20.2 points, was under twice the RoPE seed range (26.1): partly. The positive control then required the RoPE branch to beat the backbone by that same margin (judgeOrdering) and failed (23.1 < 26.1). Examined: the RoPE curves were still rising at step 600 (+2.5 to +5 points over the last 120 steps in every seed; no-RoPE flat since step 300), so the seed range measured how far each seed had got, not a stable spread; and a positive control that borrows the claim\u2019s margin tests the seed spread, not whether the branch learned. Changed before the rerun: 2000 branch steps instead of 600; the positive control is now "RoPE branch ≥ 10 points above the backbone alone in every seed". The claim\u2019s rule is unchanged.',
  ],
  async run({ quick, progress }) {
    const flags = quick ? QUICK_FLAGS : REPRODUCTION_FLAGS;
    const res = runExperiment(flags, () => {}, progress);
    const j = judgeReproduction(res);
    const of = (arm: Arm): number[] => res.runs.filter((r) => r.arm === arm).map((r) => r.accuracy);
    return {
      verdict: j.verdict,
      summary: `control accuracy: RoPE branch ${pctOf(of('rope'))}, no-RoPE branch ${pctOf(of('none'))}, frozen backbone alone ${pctOf(res.backbone)}`,
      reason: j.reason,
      table: `${formatResults(res, flags)}\n${formatJudgement(j)}`,
      svg: chart(res),
      data: { flags, ...res, judgement: j },
    };
  },
};

function main(): void {
  const argv = process.argv.slice(2);
  const flags = readFlags('control', HELP, startingFlags(argv), {
    ...FLAG_SPEC,
    check: (f) => {
      const problem = checkFlags(f);
      if (problem !== null) throw new FlagError(problem);
    },
  }, argv);
  const log = (s: string): void => {
    if (!flags.json) console.log(s);
  };
  log(`node scripts/run.mjs scripts/experiments/control.ts ${argv.join(' ')}`.trimEnd());
  const res = runExperiment(flags, log);
  const judgement = judgeReproduction(res);
  log(`\n${formatResults(res, flags)}\n${formatJudgement(judgement)}`);
  mkdirSync('out', { recursive: true });
  writeFileSync('out/control.svg', chart(res));
  log(`\nwrote out/control.svg; ${res.seconds.total.toFixed(0)} s in all`);
  if (flags.json) console.log(JSON.stringify({ flags, ...res, judgement }));
}

if (isEntryPoint(import.meta.url, 'control')) main();
