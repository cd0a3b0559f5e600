/**
 * Issue 17, protocol #11 (../shared/specs/reproductions.md §12) — PaTH attention (Yang, Shen, Wen, Tan, Mishra, Ren,
 * Panda, Kim; "PaTH Attention: Position Encoding via Accumulating Householder Transformations", arXiv 2505.16381, 2025;
 * fla-org/flash-linear-attention `fla/layers/path_attn.py`; here nn/path-attention.ts and models/path-lm.ts) on two
 * state-tracking toys, each with its own pre-registered ordering; the reproduction's verdict combines the two.
 *
 * A. Flip-flop language modelling (Liu et al. 2023, arXiv 2306.00946). A sequence of `--ff-pairs` instruction/bit pairs:
 *    the first instruction is `w`, the last is `r`, the ones between are `i` with probability p and `w` / `r` with
 *    (1 − p)/2 each; the bit after `w` or `i` is uniform, the bit after `r` is the bit of the latest `w` (the only
 *    deterministic token, and the only one scored). Train FFL(0.8); evaluate the read-error rate (wrong argmax over
 *    the scored bits) on fresh sets at p = 0.8 (in distribution), 0.98 (sparse: reads far from their write) and 0.1
 *    (dense: many writes in between). Arms: RoPE (base 1e4), PaTH (no other position signal), NoPE.
 *    Predicted: sparse + dense read-error rate PaTH < RoPE (judgeOrdering, lower is better).
 *
 * B. S5 "shell game". 5 cups; the first token is the ball's cup, then transposition tokens (a b) (one of the 10 pairs);
 *    the label at every position is the ball's cup after the transpositions so far. Training sequences hold 32
 *    transpositions and every position 1…32 is scored — by causality the prediction at position n is exactly the
 *    prediction for a game of n moves, so this is "n uniform in [1, 32]" with no padding. Test: games of 128 moves,
 *    accuracy at n ∈ {32, 64, 128} (mean over the 8 positions ending at n, to cut the noise). Arms: RoPE with 1 and
 *    2 layers, PaTH with 1 and 2 layers. Predicted: accuracy at n = 128, PaTH-1-layer > RoPE-2-layer.
 *
 * Every arm is the same decoder (pre-norm, RMSNorm, SwiGLU, tied embeddings): GPT with positional 'rope' / 'nope', or
 * PaTHLM; per seed i every arm sees the same batches in the same order and is initialised from seed i. The naive
 * recurrence vs UT-form check the spec asks for is tests/nn/path-attention.test.ts ('direct == blockwise … ==
 * recurrent to 1e-10': the explicit product of Householder matrices per (i, j), the blockwise UT/WY form for every
 * chunk size, and the key-cache recurrence K ← K − β (K w) wᵀ agree on random inputs).
 *
 * Usage: node scripts/run.mjs scripts/experiments/path-state.ts [--quick] [--seeds N] [--json] [--help]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { AdamW, Generator, Tensor, argmax, crossEntropy, noGrad, setNumThreads } from '../../core/index.js';
import { GPT } from '../../models/gpt.js';
import { PaTHLM } from '../../models/path-lm.js';
import { train } from '../../nn/index.js';
import { integerFlag, parseFlags as parseScriptFlags, readFlags, type FlagSpec } from '../lib/flags.js';
import { isEntryPoint } from '../lib/entry.js';
import type { Reproduction, ReproductionResult, ReproductionRunOptions } from '../lib/reproduction.js';
import { judgeOrdering, summarize, type OrderingJudgement, type Verdict } from '../lib/stats.js';
import { lineChart } from '../lib/svg.js';

// ── A. flip-flop data ─────────────────────────────────────────────────────────────────────────────────────────────

/** Flip-flop vocabulary: the bits 0 and 1, and the instructions write, ignore, read. */
export const FF = { ZERO: 0, ONE: 1, W: 2, I: 3, R: 4, size: 5 } as const;

export interface FlipFlopBatch {
  /** Token ids [B, 2·pairs]: instruction, bit, instruction, bit, … */
  ids: Tensor;
  /** Flat [B·2·pairs]: at the position of every `r`, the bit that follows it (the latest written bit); −100 elsewhere. */
  targets: Int32Array;
  /** Number of scored reads. */
  reads: number;
}

export const IGNORE = -100;

/**
 * B sequences of FFL(p): first instruction w, last r, the ones between i with probability p, else w or r (½ each);
 * the bit after w or i uniform, after r the latest written bit.
 */
export function flipFlopBatch(B: number, pairs: number, p: number, g: Generator): FlipFlopBatch {
  if (pairs < 2) throw new RangeError(`flipFlopBatch: pairs must be ≥ 2 (a write and a read), got ${pairs}`);
  const T = 2 * pairs;
  const ids = new Float64Array(B * T);
  const targets = new Int32Array(B * T).fill(IGNORE);
  let reads = 0;
  for (let b = 0; b < B; b++) {
    let memory = -1;
    for (let k = 0; k < pairs; k++) {
      let op: number;
      if (k === 0) op = FF.W;
      else if (k === pairs - 1) op = FF.R;
      else {
        const u = g.random();
        op = u < p ? FF.I : u < p + (1 - p) / 2 ? FF.W : FF.R;
      }
      const bit = op === FF.R ? memory : g.random() < 0.5 ? FF.ZERO : FF.ONE;
      if (op === FF.W) memory = bit;
      ids[b * T + 2 * k] = op;
      ids[b * T + 2 * k + 1] = bit;
      if (op === FF.R) {
        targets[b * T + 2 * k] = bit; // the logits at the `r` predict the next token, the bit
        reads++;
      }
    }
  }
  return { ids: new Tensor(ids, [B, T]), targets, reads };
}

// ── B. shell-game data ────────────────────────────────────────────────────────────────────────────────────────────

export const CUPS = 5;
/** The 10 transpositions (a b), a < b, as token ids CUPS + index. */
export const TRANSPOSITIONS: ReadonlyArray<readonly [number, number]> = (() => {
  const out: Array<[number, number]> = [];
  for (let a = 0; a < CUPS; a++) for (let b = a + 1; b < CUPS; b++) out.push([a, b]);
  return out;
})();
export const SHELL_VOCAB = CUPS + TRANSPOSITIONS.length;

export interface ShellBatch {
  /** [B, 1 + moves]: the ball's start cup, then transposition tokens. */
  ids: Tensor;
  /** Flat [B·(1 + moves)]: the ball's cup after the moves so far (position n = after n moves); position 0 is −100. */
  targets: Int32Array;
}

/** B games of `moves` uniformly drawn transpositions from a uniform start cup. */
export function shellBatch(B: number, moves: number, g: Generator): ShellBatch {
  const T = 1 + moves;
  const ids = new Float64Array(B * T);
  const targets = new Int32Array(B * T).fill(IGNORE);
  for (let b = 0; b < B; b++) {
    let ball = Math.floor(g.random() * CUPS);
    ids[b * T] = ball;
    for (let n = 1; n < T; n++) {
      const t = Math.floor(g.random() * TRANSPOSITIONS.length);
      const [x, y] = TRANSPOSITIONS[t]!;
      if (ball === x) ball = y;
      else if (ball === y) ball = x;
      ids[b * T + n] = CUPS + t;
      targets[b * T + n] = ball;
    }
  }
  return { ids: new Tensor(ids, [B, T]), targets };
}

// ── models ────────────────────────────────────────────────────────────────────────────────────────────────────────

export type Mixer = 'rope' | 'nope' | 'path';

export interface ModelShape {
  dim: number;
  layers: number;
  heads: number;
}

export type ArmModel = GPT | PaTHLM;

/** The decoder of every arm: pre-norm, RMSNorm, SwiGLU, tied embeddings; GPT ('rope', 'nope') or PaTHLM ('path'). */
export function buildModel(mixer: Mixer, shape: ModelShape, vocabSize: number, context: number, seed: number, chunkSize: number): ArmModel {
  const common = { vocabSize, dim: shape.dim, numLayers: shape.layers, numHeads: shape.heads, mlp: 'swiglu', norm: 'rms', seed } as const;
  return mixer === 'path'
    ? new PaTHLM({ ...common, chunkSize, lowRankW: Math.min(32, shape.dim) })
    : new GPT({ ...common, contextLength: context, positional: mixer, ropeBase: 10000 });
}

/** Linear warm-up over the first 5 % of the steps, then cosine decay to 10 % of lr. */
export function schedule(lr: number, steps: number): (step: number) => number {
  const warm = Math.max(1, Math.round(0.05 * steps));
  return (s) => (s < warm ? (lr * (s + 1)) / warm : lr * (0.1 + 0.45 * (1 + Math.cos((Math.PI * (s - warm)) / Math.max(1, steps - warm)))));
}

/** Train `model` on batches from `next` (logits [B, T, V] vs flat targets, −100 ignored). Returns the loss curve. */
export function fit(model: ArmModel, next: (step: number) => { ids: Tensor; targets: Int32Array }, steps: number, lr: number): number[] {
  if (steps === 0) return [];
  const opt = new AdamW(model.parameters(), { lr, weightDecay: 0.01 });
  const res = train(model, (step) => {
    const batch = next(step);
    const logits = model.forward(batch.ids);
    return crossEntropy(logits.reshape([-1, logits.shape[2]!]), batch.targets, { ignoreIndex: IGNORE });
  }, { steps, optimizer: opt, clipGradNorm: 1, schedule: schedule(lr, steps), output: null });
  return res.losses;
}

/** Predicted class (argmax over the vocabulary) at every position: flat [B·T]. */
export function predict(model: ArmModel, ids: Tensor): Int32Array {
  return noGrad(() => {
    const logits = model.forward(ids);
    return Int32Array.from(argmax(logits.reshape([-1, logits.shape[2]!]), -1).data);
  });
}

// ── the experiment ────────────────────────────────────────────────────────────────────────────────────────────────

export interface Settings {
  seeds: number;
  /** A: instruction/bit pairs per training and evaluation sequence (T = 2·pairs). */
  ffPairs: number;
  ffSteps: number;
  ffBatch: number;
  ffEval: number;
  ffShape: ModelShape;
  /** B: moves per training game; test games have shellTest moves. */
  shellTrain: number;
  shellTest: number;
  shellSteps: number;
  shellBatch: number;
  shellEval: number;
  shellShape: Omit<ModelShape, 'layers'>;
  /** Accuracy at n is the mean over positions n − window + 1 … n. */
  window: number;
  lr: number;
  chunkSize: number;
}

export const FULL: Settings = {
  seeds: 3,
  ffPairs: 32, ffSteps: 1200, ffBatch: 16, ffEval: 500, ffShape: { dim: 32, layers: 2, heads: 2 },
  shellTrain: 32, shellTest: 128, shellSteps: 400, shellBatch: 32, shellEval: 256, shellShape: { dim: 32, heads: 2 },
  window: 8, lr: 3e-3, chunkSize: 64,
};

export const QUICK: Settings = {
  seeds: 3,
  ffPairs: 8, ffSteps: 2, ffBatch: 2, ffEval: 4, ffShape: { dim: 8, layers: 1, heads: 2 },
  shellTrain: 8, shellTest: 16, shellSteps: 2, shellBatch: 2, shellEval: 4, shellShape: { dim: 8, heads: 2 },
  window: 2, lr: 3e-3, chunkSize: 8,
};

export const FF_SETS = [
  { name: 'ID', p: 0.8 },
  { name: 'sparse', p: 0.98 },
  { name: 'dense', p: 0.1 },
] as const;
export const FF_ARMS = ['PaTH', 'RoPE', 'NoPE'] as const;
export const SHELL_ARMS = ['PaTH-1L', 'PaTH-2L', 'RoPE-1L', 'RoPE-2L'] as const;
export const SHELL_NS = (s: Settings): number[] => [s.shellTrain, s.shellTrain * 2, s.shellTest].filter((n, i, a) => n <= s.shellTest && a.indexOf(n) === i);

const EVAL_SEED = 777_001;

export interface FlipFlopRun {
  arm: (typeof FF_ARMS)[number];
  seed: number;
  /** Read-error rate per eval set (ID, sparse, dense), and the fraction of sequences with any read error. */
  errors: Record<string, number>;
  sequenceErrors: Record<string, number>;
  /** [step, training loss] (smoothed over windows of 10 % of the steps). */
  curve: Array<[number, number]>;
  seconds: number;
}

export interface ShellRun {
  arm: (typeof SHELL_ARMS)[number];
  seed: number;
  /** Accuracy at every position 1…shellTest (index n − 1). */
  byPosition: number[];
  /** Accuracy at each n of SHELL_NS (window mean). */
  at: Record<string, number>;
  seconds: number;
}

/** Read-error rate and sequence-error rate of `model` on `batches`. */
export function flipFlopErrors(model: ArmModel, batches: readonly FlipFlopBatch[]): { reads: number; sequences: number } {
  let wrong = 0;
  let reads = 0;
  let badSeq = 0;
  let seqs = 0;
  for (const batch of batches) {
    const pred = predict(model, batch.ids);
    const [B, T] = batch.ids.shape as [number, number];
    for (let b = 0; b < B; b++) {
      let bad = false;
      for (let t = 0; t < T; t++) {
        const y = batch.targets[b * T + t]!;
        if (y === IGNORE) continue;
        reads++;
        if (pred[b * T + t] !== y) {
          wrong++;
          bad = true;
        }
      }
      seqs++;
      if (bad) badSeq++;
    }
  }
  return { reads: wrong / reads, sequences: badSeq / seqs };
}

/** Accuracy at every position 1…moves of `batches` (all of one length). */
export function shellAccuracy(model: ArmModel, batches: readonly ShellBatch[]): number[] {
  const T = batches[0]!.ids.shape[1]!;
  const hit = new Float64Array(T);
  let n = 0;
  for (const batch of batches) {
    const pred = predict(model, batch.ids);
    const B = batch.ids.shape[0]!;
    for (let b = 0; b < B; b++) for (let t = 1; t < T; t++) if (pred[b * T + t] === batch.targets[b * T + t]) hit[t]! += 1;
    n += B;
  }
  return Array.from(hit.subarray(1), (h) => h / n);
}

const batchesOf = <Tb>(total: number, size: number, make: (B: number) => Tb): Tb[] =>
  Array.from({ length: Math.ceil(total / size) }, (_, i) => make(Math.min(size, total - size * i)));

export interface Results {
  settings: Settings;
  flipFlop: FlipFlopRun[];
  shell: ShellRun[];
  seconds: number;
}

export type Part = 'both' | 'flip-flop' | 'shell';

/**
 * The protocols (both, or one: `part`) for `seeds` (default 1…s.seeds), every arm; several processes can share a
 * machine's cores by running parts and seeds apart, their Results merged by concatenating flipFlop and shell.
 * `progress` gets (steps done, steps in all, note).
 */
export function runAll(
  s: Settings, progress: ReproductionRunOptions['progress'] = () => {}, log: (line: string) => void = () => {}, part: Part = 'both',
  seeds: readonly number[] = Array.from({ length: s.seeds }, (_, i) => i + 1),
): Results {
  const started = performance.now();
  const doFF = part !== 'shell';
  const doShell = part !== 'flip-flop';
  const total = seeds.length * ((doFF ? FF_ARMS.length * s.ffSteps : 0) + (doShell ? SHELL_ARMS.length * s.shellSteps : 0));
  let done = 0;
  // one generator per eval set, so that each set is the same whatever the others hold
  const ffEvalSets = FF_SETS.map((set, i) => {
    const g = new Generator(EVAL_SEED + i);
    return batchesOf(s.ffEval, 50, (B) => flipFlopBatch(B, s.ffPairs, set.p, g));
  });
  const shellG = new Generator(EVAL_SEED + 10);
  const shellEval = batchesOf(s.shellEval, 32, (B) => shellBatch(B, s.shellTest, shellG));
  const flipFlop: FlipFlopRun[] = [];
  const shell: ShellRun[] = [];
  for (const seed of seeds) {
    for (const arm of doFF ? FF_ARMS : []) {
      const t0 = performance.now();
      const model = buildModel(arm === 'PaTH' ? 'path' : arm === 'RoPE' ? 'rope' : 'nope', s.ffShape, FF.size, 2 * s.ffPairs, seed, s.chunkSize);
      const g = new Generator(1000 + seed);
      const losses = fit(model, () => {
        progress(++done, total, `flip-flop ${arm} seed ${seed}`);
        return flipFlopBatch(s.ffBatch, s.ffPairs, 0.8, g);
      }, s.ffSteps, s.lr);
      const errors: Record<string, number> = {};
      const sequenceErrors: Record<string, number> = {};
      FF_SETS.forEach((set, i) => {
        const e = flipFlopErrors(model, ffEvalSets[i]!);
        errors[set.name] = e.reads;
        sequenceErrors[set.name] = e.sequences;
      });
      const run: FlipFlopRun = { arm, seed, errors, sequenceErrors, curve: smooth(losses), seconds: (performance.now() - t0) / 1000 };
      flipFlop.push(run);
      log(`flip-flop ${arm.padEnd(4)} seed ${seed}: read errors ${FF_SETS.map((x) => `${x.name} ${pct(errors[x.name]!)}`).join(', ')} (${run.seconds.toFixed(0)} s)`);
    }
    for (const arm of doShell ? SHELL_ARMS : []) {
      const t0 = performance.now();
      const layers = arm.endsWith('1L') ? 1 : 2;
      const model = buildModel(arm.startsWith('PaTH') ? 'path' : 'rope', { ...s.shellShape, layers }, SHELL_VOCAB, 1 + s.shellTest, seed, s.chunkSize);
      const g = new Generator(2000 + seed);
      fit(model, () => {
        progress(++done, total, `shell game ${arm} seed ${seed}`);
        return shellBatch(s.shellBatch, s.shellTrain, g);
      }, s.shellSteps, s.lr);
      const byPosition = shellAccuracy(model, shellEval);
      const at = Object.fromEntries(SHELL_NS(s).map((n) => [String(n), windowMean(byPosition, n, s.window)]));
      const run: ShellRun = { arm, seed, byPosition, at, seconds: (performance.now() - t0) / 1000 };
      shell.push(run);
      log(`shell game ${arm.padEnd(7)} seed ${seed}: accuracy ${Object.entries(at).map(([n, a]) => `n=${n} ${pct(a)}`).join(', ')} (${run.seconds.toFixed(0)} s)`);
    }
  }
  return { settings: s, flipFlop, shell, seconds: (performance.now() - started) / 1000 };
}

/** Mean of byPosition over positions n − window + 1 … n (byPosition[k] is position k + 1). */
export function windowMean(byPosition: readonly number[], n: number, window: number): number {
  const lo = Math.max(1, n - window + 1);
  let sum = 0;
  for (let m = lo; m <= n; m++) sum += byPosition[m - 1]!;
  return sum / (n - lo + 1);
}

/** Training loss averaged over 10 windows: [last step of the window, mean loss]. */
function smooth(losses: readonly number[]): Array<[number, number]> {
  const k = Math.max(1, Math.ceil(losses.length / 10));
  const out: Array<[number, number]> = [];
  for (let i = 0; i < losses.length; i += k) {
    const part = losses.slice(i, i + k);
    out.push([i + part.length, part.reduce((a, b) => a + b, 0) / part.length]);
  }
  return out;
}

const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;

// ── the verdict ───────────────────────────────────────────────────────────────────────────────────────────────────

/** Per seed: the mean of the sparse and dense read-error rates (the judged flip-flop metric). */
export const hardError = (r: FlipFlopRun): number => (r.errors.sparse! + r.errors.dense!) / 2;

export const ID_ERROR_MAX = 0.05;
export const SHELL_ID_MIN = 0.9;
export const SHELL_SHORT = 4;

export interface Judgement {
  verdict: Verdict;
  reason: string;
  flipFlop: { judgement: OrderingJudgement; control: boolean; controlNote: string; verdict: Verdict };
  shell: { judgement: OrderingJudgement; control: boolean; controlNote: string; verdict: Verdict; briefControl: boolean };
}

/**
 * The pre-registered rule (see `criterion`): each protocol is judged by judgeOrdering on its own metric and gated by
 * its positive control (a failed control makes that protocol 'not reproduced'); the reproduction is 'reproduced' only
 * if both are, 'not reproduced' if both are not, and 'partly' otherwise.
 */
export function judge(res: Results): Judgement {
  const { settings: s } = res;
  const ffArm = (arm: string): FlipFlopRun[] => res.flipFlop.filter((r) => r.arm === arm).sort((a, b) => a.seed - b.seed);
  const shArm = (arm: string): ShellRun[] => res.shell.filter((r) => r.arm === arm).sort((a, b) => a.seed - b.seed);
  const ffJ = judgeOrdering({ PaTH: ffArm('PaTH').map(hardError), RoPE: ffArm('RoPE').map(hardError) }, ['PaTH', 'RoPE'], 'lower');
  const ffFailed = (['PaTH', 'RoPE'] as const).flatMap((arm) => ffArm(arm).filter((r) => !(r.errors.ID! < ID_ERROR_MAX)).map((r) => `${arm} seed ${r.seed} ID error ${pct(r.errors.ID!)}`));
  const ffControl = ffFailed.length === 0;
  const nTest = String(s.shellTest);
  const nTrain = String(s.shellTrain);
  const shJ = judgeOrdering({ 'PaTH-1L': shArm('PaTH-1L').map((r) => r.at[nTest]!), 'RoPE-2L': shArm('RoPE-2L').map((r) => r.at[nTest]!) }, ['PaTH-1L', 'RoPE-2L'], 'higher');
  const short = (r: ShellRun): number => windowMean(r.byPosition, SHELL_SHORT, SHELL_SHORT);
  const shFailed = [
    ...shArm('PaTH-1L').filter((r) => !(r.at[nTrain]! > SHELL_ID_MIN)).map((r) => `PaTH-1L seed ${r.seed} at n = ${nTrain}: ${pct(r.at[nTrain]!)}`),
    ...shArm('RoPE-2L').filter((r) => !(short(r) > SHELL_ID_MIN)).map((r) => `RoPE-2L seed ${r.seed} at n ≤ ${SHELL_SHORT}: ${pct(short(r))}`),
  ];
  const shControl = shFailed.length === 0;
  const briefControl = res.shell.every((r) => r.at[nTrain]! > SHELL_ID_MIN);
  const gate = (j: OrderingJudgement, ok: boolean): Verdict => (ok ? j.verdict : 'not reproduced');
  const ffV = gate(ffJ, ffControl);
  const shV = gate(shJ, shControl);
  const verdict: Verdict = ffV === 'reproduced' && shV === 'reproduced' ? 'reproduced' : ffV === 'not reproduced' && shV === 'not reproduced' ? 'not reproduced' : 'partly';
  const part = (name: string, v: Verdict, j: OrderingJudgement, ok: boolean, failed: string[]): string =>
    `${name}: ${v}${ok ? ` — ${j.reason}` : ` — positive control failed (${failed.join('; ')})`}`;
  return {
    verdict,
    reason: `${part('flip-flop (sparse+dense read error, PaTH < RoPE)', ffV, ffJ, ffControl, ffFailed)}; ${part(`shell game (accuracy at n = ${nTest}, PaTH-1L > RoPE-2L)`, shV, shJ, shControl, shFailed)}`,
    flipFlop: { judgement: ffJ, control: ffControl, controlNote: ffControl ? 'PaTH and RoPE below 5 % ID read error in every seed' : ffFailed.join('; '), verdict: ffV },
    shell: { judgement: shJ, control: shControl, controlNote: shControl ? `PaTH-1L above 90 % at n = ${nTrain} and RoPE-2L above 90 % at n ≤ ${SHELL_SHORT} in every seed` : shFailed.join('; '), verdict: shV, briefControl },
  };
}

const cell = (xs: readonly number[], f: (v: number) => string): string => {
  const m = summarize(xs);
  return `${f(m.mean)} (${f(m.min)}–${f(m.max)})`;
};
const pct2 = (v: number): string => `${(100 * v).toFixed(v !== 0 && v < 0.001 ? 3 : v < 0.1 ? 2 : 1)}%`;

/** The tables: flip-flop read-error rates per arm and set; shell-game accuracy per arm and n; mean (min–max) over seeds. */
export function formatTable(res: Results): string {
  const s = res.settings;
  const ns = SHELL_NS(s);
  const ff = FF_ARMS.map((arm) => {
    const runs = res.flipFlop.filter((r) => r.arm === arm);
    return `| ${arm} | ${FF_SETS.map((set) => cell(runs.map((r) => r.errors[set.name]!), pct2)).join(' | ')} | ${cell(runs.map(hardError), pct2)} | ${cell(runs.map((r) => r.sequenceErrors.sparse!), pct2)} |`;
  });
  const sh = SHELL_ARMS.map((arm) => {
    const runs = res.shell.filter((r) => r.arm === arm);
    return `| ${arm} | ${cell(runs.map((r) => windowMean(r.byPosition, SHELL_SHORT, SHELL_SHORT)), pct)} | ${ns.map((n) => cell(runs.map((r) => r.at[String(n)]!), pct)).join(' | ')} |`;
  });
  return [
    `A. flip-flop LM, T = ${2 * s.ffPairs} (${s.ffPairs} pairs), ${s.ffSteps} steps × ${s.ffBatch} FFL(0.8) sequences, ${s.ffShape.layers} layers d ${s.ffShape.dim} ${s.ffShape.heads} heads; ${s.ffEval} eval sequences per set; read-error rate, mean (min–max) over ${s.seeds} seeds`,
    '',
    `| arm | ID p=0.8 | sparse p=0.98 | dense p=0.1 | (sparse+dense)/2 (judged) | sequences with an error, sparse |`,
    '|---|---:|---:|---:|---:|---:|',
    ...ff,
    '',
    `B. S5 shell game, trained on n ≤ ${s.shellTrain} (${s.shellSteps} steps × ${s.shellBatch} games), d ${s.shellShape.dim} ${s.shellShape.heads} heads; ${s.shellEval} test games of ${s.shellTest} moves; accuracy at n (mean over positions n−${s.window - 1}…n), mean (min–max) over ${s.seeds} seeds; chance 20 %`,
    '',
    `| arm | n ≤ ${SHELL_SHORT} | ${ns.map((n) => `n = ${n}`).join(' | ')} |`,
    `|---|---:|${ns.map(() => '---:').join('|')}|`,
    ...sh,
  ].join('\n');
}

/** Two panels side by side: flip-flop read error vs the ignore probability p; shell-game accuracy vs moves n. */
export function chart(res: Results): string {
  const s = res.settings;
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const ff = lineChart({
    title: 'A. Flip-flop: read errors vs ignore probability (mean over seeds)',
    xLabel: 'ignore probability p (0.8 = training)', yLabel: 'read-error rate (%)',
    series: FF_ARMS.map((arm) => ({
      name: arm,
      points: [...FF_SETS].sort((a, b) => a.p - b.p).map((set) => [set.p, 100 * mean(res.flipFlop.filter((r) => r.arm === arm).map((r) => r.errors[set.name]!))] as const),
    })),
  });
  const curve = (arm: string): Array<readonly [number, number]> => {
    const runs = res.shell.filter((r) => r.arm === arm);
    return runs[0]!.byPosition.map((_, i) => [i + 1, 100 * mean(runs.map((r) => r.byPosition[i]!))] as const);
  };
  const sh = lineChart({
    title: `B. Shell game (S5): accuracy vs moves, trained n ≤ ${s.shellTrain}`,
    xLabel: 'moves n', yLabel: 'accuracy at n (%)', markers: false,
    series: [
      ...SHELL_ARMS.map((arm) => ({ name: arm, points: curve(arm) })),
      { name: 'chance (20 %)', points: [[1, 20], [s.shellTest, 20]] as const, color: '#999999', dash: '2 2' },
      { name: `training length (n = ${s.shellTrain})`, points: [[s.shellTrain, 0], [s.shellTrain, 100]] as const, color: '#999999', dash: '6 3' },
    ],
  });
  const inner = (svg: string, x: number): string => svg.replace(/^<svg /, `<svg x="${x}" y="0" `);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="1280" height="400" viewBox="0 0 1280 400">${inner(ff, 0)}${inner(sh, 640)}</svg>`;
}

export const reproduction: Reproduction = {
  name: 'path-state',
  paper: 'Yang, Shen, Wen, Tan, Mishra, Ren, Panda, Kim — PaTH Attention: Position Encoding via Accumulating Householder Transformations (arXiv 2505.16381, 2025)',
  claim:
    'PaTH (data-dependent Householder transforms H_t = I − β_t w_t w_tᵀ accumulated between key and query, in place of RoPE) ' +
    'solves flip-flop language modelling where RoPE shows sporadic read errors — RoPE 6.9 % / 40.3 % / 0.01 % vs PaTH 0 / 0.0001 / 0 ' +
    '(the three flip-flop test sets as the paper labels them) — and one PaTH layer can track NC¹-complete state (S5 word problems), ' +
    'which RoPE transformers (TC⁰) cannot at growing length; the paper\'s A5/S5 numbers were not retrieved.',
  setup:
    `A: flip-flop LM T = ${2 * FULL.ffPairs}, FFL(0.8) training, ${FULL.ffSteps} steps × ${FULL.ffBatch}, ${FULL.ffShape.layers} layers d ${FULL.ffShape.dim}, RoPE (base 1e4) / PaTH / NoPE, eval ${FULL.ffEval} sequences each at ID p=0.8, sparse p=0.98, dense p=0.1; ` +
    `B: S5 shell game (transposition tokens), train n ≤ ${FULL.shellTrain} (${FULL.shellSteps} steps × ${FULL.shellBatch}), test to n = ${FULL.shellTest}, RoPE 1/2 layers vs PaTH 1/2 layers, d ${FULL.shellShape.dim}; ${FULL.seeds} seeds per arm, shared data order and init seed. ` +
    'Scaled down from the spec (§12: flip-flop T = 192, d 64; shell game d 64, batch 64, 1500 steps) to fit the CPU budget.',
  criterion:
    'Two judged orderings, each by judgeOrdering (predicted order in every seed, and the mean gap beyond twice the larger seed range): ' +
    '(A) flip-flop read-error rate averaged over the sparse and dense sets, PaTH < RoPE (lower is better); ' +
    '(B) shell-game accuracy at n = 128 (mean over positions 121–128), PaTH-1L > RoPE-2L (higher is better). ' +
    'Positive controls, per protocol, failing one makes that protocol \'not reproduced\': (A) PaTH and RoPE below 5 % read error in distribution in every seed ' +
    '(NoPE is a reference arm, reported only); (B) PaTH-1L above 90 % at n = 32 (the task is learnable in the budget) and RoPE-2L above 90 % on short games ' +
    '(n ≤ 4: it trained; its accuracy at n = 32 is not gated, because a fixed-depth RoPE model failing to track S5 as n grows is the claimed effect itself); ' +
    'the brief\'s stricter control (every arm above 90 % at n = 32) is reported. Combined verdict: reproduced only if both protocols are; not reproduced if neither is; partly otherwise.',
  falsifier:
    '(A) PaTH\'s sparse+dense read-error rate ≥ RoPE\'s (evidence against); RoPE ≈ 0 on every set in every seed means the glitches are too rare to see at this scale. ' +
    '(B) RoPE-2L ≥ 95 % at n = 128 (the spec\'s falsifier), or PaTH-1L no better than RoPE-2L at n = 128 with its control passed.',
  minutes: 45,
  history: [
    '2026-12-07, flip-flop 400 steps (3 seeds; 30 min on a heavily loaded machine; its setup line wrongly said T = 128 — it was 64): not reproduced — both positive controls failed. Flip-flop: RoPE\'s in-distribution read error was 28.8 % and 29.4 % in two seeds (control: < 5 %), sparse+dense error PaTH 0.028 % vs RoPE 26.2 % vs NoPE 34.7 %; shell game: every arm near chance (PaTH-1L 17.9–19.2 % at n = 32, RoPE-2L 17.2–29.3 % on n ≤ 4). Changed before this rerun: flip-flop trains the spec\'s 1200 steps instead of 400 (a one-seed pilot at 1200 steps: RoPE 0.00 / 0.00 / 0.17 % read error ID / sparse / dense, PaTH 0 / 0 / 0; RoPE had not learned the task at 400). The shell game is unchanged: pilots with 1500 steps and with a length curriculum did not learn it either (see the examination).',
  ],
  examination:
    'Flip-flop, rerun at the spec\'s 1200 steps: PaTH learned the task in every seed (read error 0.00 % ID and sparse, ≤ 0.14 % dense) ' +
    'and does so early (training loss < 0.01 by step ~120 in a pilot), while RoPE learned it in two seeds — with 0.00 % error on all three ' +
    'sets — and not in the third (29.0 % ID), which fails the pre-registered control. So at this scale PaTH learns flip-flop faster and more ' +
    'reliably than RoPE, but the paper\'s actual claim, RoPE\'s sporadic read errors once it has learned the task, did not appear: at ' +
    'T = 64 a converged RoPE makes no glitches (the spec\'s own caveat that the glitch tail may be too rare at toy scale). Settling it needs ' +
    'the spec\'s T = 192 (or 512), d 64 and thousands of evaluation sequences; one 1200-step PaTH run took 6–8.5 minutes on a shared core, so ' +
    'that did not fit this session. Shell game (unchanged, and deterministic: the rerun gave the first run\'s numbers exactly): no arm ' +
    'learned it. Pilots (.cache diagnostics, seed 1): trained on 32-move games, PaTH-1L\'s loss stays at ln 5 = 1.609 (uniform over the cups) ' +
    'for 1500 steps — the short-game signal is 1/32 of the loss; on games of ≤ 4 moves both learn (600 steps: RoPE-2L 82 %, PaTH-1L 68 % at ' +
    'n ≤ 4), so the pipeline is sound; with a length curriculum from 4 to 32 moves over 900 of 1500 steps PaTH-1L reaches 80 % at n ≤ 4 but ' +
    '17.6 % at n = 32 (chance 20 %): it did not find the one-reflection-per-move solution the theorem guarantees exists. Settling it: the ' +
    'spec\'s budget (d 64, batch 64, 1500 steps) and longer, or several PaTH layers, with a length curriculum.',
  async run(options: ReproductionRunOptions): Promise<ReproductionResult> {
    setNumThreads(1);
    const res = runAll(options.quick ? QUICK : FULL, options.progress);
    return resultOf(res);
  },
};

/** The runner's result from the measurements. */
export function resultOf(res: Results): ReproductionResult {
  const j = judge(res);
  const nTest = String(res.settings.shellTest);
  const ffm = (arm: string): string => cell(res.flipFlop.filter((r) => r.arm === arm).map(hardError), pct2);
  const shm = (arm: string): string => cell(res.shell.filter((r) => r.arm === arm).map((r) => r.at[nTest]!), pct);
  return {
    verdict: j.verdict,
    summary: `flip-flop sparse+dense read error: ${FF_ARMS.map((a) => `${a} ${ffm(a)}`).join(', ')}; shell game accuracy at n = ${nTest}: ${SHELL_ARMS.map((a) => `${a} ${shm(a)}`).join(', ')}`,
    reason: j.reason,
    table: `${formatTable(res)}\n\ncontrols: A ${j.flipFlop.control ? 'passed' : 'FAILED'} (${j.flipFlop.controlNote}); B ${j.shell.control ? 'passed' : 'FAILED'} (${j.shell.controlNote}); brief's control, every shell arm > 90 % at n = ${res.settings.shellTrain}: ${j.shell.briefControl ? 'passed' : 'not passed'}\nverdict: ${j.verdict} — ${j.reason}`,
    svg: chart(res),
    data: { ...res, judgement: j },
  };
}

// ── command line ──────────────────────────────────────────────────────────────────────────────────────────────────

interface Flags {
  quick: boolean;
  seeds: number;
  json: boolean;
}

const HELP = `usage: node scripts/run.mjs scripts/experiments/path-state.ts [flags]

PaTH attention vs RoPE (and NoPE) on two state-tracking toys (../shared/specs/reproductions.md §12): the flip-flop
language (read-error rates in distribution, sparse and dense) and the S5 shell game (accuracy vs moves beyond the
training length). Writes out/path-state.svg and out/path-state.json.

  --quick     a few steps of every arm and seed (seconds; the numbers mean nothing)
  --seeds N   seeds per arm (default 3)
  --json      print the result as JSON
  --help      this text`;

const FLAG_SPEC: FlagSpec<Flags> = {
  values: { seeds: (f, v) => (f.seeds = integerFlag(v, 1)) },
  switches: { quick: (f) => (f.quick = true), json: (f) => (f.json = true) },
};

export function parseFlags(argv: readonly string[]): Flags | 'help' {
  return parseScriptFlags<Flags>('path-state', argv, { quick: false, seeds: 3, json: false }, FLAG_SPEC);
}

function main(): void {
  const flags = readFlags('path-state', HELP, { quick: false, seeds: 3, json: false }, FLAG_SPEC);
  setNumThreads(1);
  const log = (line: string): void => {
    if (!flags.json) console.log(line);
  };
  log(`node scripts/run.mjs scripts/experiments/path-state.ts ${process.argv.slice(2).join(' ')}`.trimEnd());
  const res = runAll({ ...(flags.quick ? QUICK : FULL), seeds: flags.seeds }, () => {}, log);
  const out = resultOf(res);
  mkdirSync('out', { recursive: true });
  writeFileSync('out/path-state.svg', out.svg!);
  writeFileSync('out/path-state.json', JSON.stringify(out.data));
  log(`\n${out.table}\n\nwrote out/path-state.svg, out/path-state.json; ${res.seconds.toFixed(0)} s in all`);
  if (flags.json) console.log(JSON.stringify({ verdict: out.verdict, summary: out.summary, reason: out.reason, ...res }));
}

if (isEntryPoint(import.meta.url, 'path-state')) main();
