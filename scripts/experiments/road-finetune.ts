/**
 * Issue 14 item 1 — RoAd (Liao & Monz, NeurIPS 2024; PEFT's port, nn/road.ts) adapting the frozen reference model
 * (scripts/lib/reference-model.ts: RoPE GPT, 4 layers, dim 128, 4 query / 2 KV heads of 32) to a shifted task: the
 * same corpus read backwards (every character sequence reversed: the same vocabulary and character frequencies, other
 * conditional statistics). Three arms, the same batches for each:
 *   none   the reference model as it is
 *   road   RoAd adapters on q, k, v and o of every block (wrapWithRoAd, /attn\.w[qkvo]$/), everything else frozen
 *   full   every parameter trained (full fine-tuning)
 * Reported per arm: trainable parameters, val loss on the reversed text (fixed windows of the held-out split), val loss
 * on the original text (what the adaptation costs the old task; RoAd keeps the base weights, so its base task is one
 * `setActiveAdapter`/'__base__' away and this column shows the adapted model as is), training wall time.
 *
 * Usage: node scripts/run.mjs scripts/experiments/road-finetune.ts [--steps N] [--batch B] [--context T] [--val N]
 *          [--lr-road X] [--lr-full X] [--variant road_1|road_2|road_4] [--group-size G] [--json] [--help]
 */
import { AdamW, Generator, noGrad, type Tensor } from '../../core/index.js';
import type { GPT } from '../../models/index.js';
import { train } from '../../nn/index.js';
import { wrapWithRoAd, type RoAdVariant } from '../../nn/index.js';
import { loadCorpus, sampleBatch } from '../lib/corpus.js';
import { isEntryPoint } from '../lib/entry.js';
import { FlagError, choiceFlag, integerFlag, numberFlag, parseFlags as parseScriptFlags, readFlags, type FlagSpec } from '../lib/flags.js';
import { loadReferenceModel } from '../lib/reference-model.js';

export type Arm = 'none' | 'road' | 'full';

export interface ArmResult {
  arm: Arm;
  trainable: number;
  /** Val loss on the reversed text after training (nats/char). */
  shifted: number;
  /** Val loss on the original text after training. */
  original: number;
  /** Training wall time in seconds (0 for 'none'). */
  seconds: number;
  /** Training loss of the first and last step (NaN for 'none'). */
  firstLoss: number;
  lastLoss: number;
}

export interface Results {
  arms: ArmResult[];
  totalParameters: number;
  settings: Flags;
  seconds: number;
}

export interface Flags {
  steps: number;
  batch: number;
  context: number;
  val: number;
  lrRoad: number;
  lrFull: number;
  variant: RoAdVariant;
  groupSize: number;
  json: boolean;
}

export const DEFAULT_FLAGS: Flags = { steps: 120, batch: 8, context: 128, val: 32, lrRoad: 5e-3, lrFull: 1e-3, variant: 'road_1', groupSize: 32, json: false };

const HELP = `usage: node scripts/run.mjs scripts/experiments/road-finetune.ts [flags]

RoAd on q/k/v/o of the frozen reference model vs full fine-tuning vs no adaptation, on the corpus read backwards:
trainable parameters, val loss (reversed and original text), wall time.

  --steps N         AdamW steps per trained arm (default 120)
  --batch B         windows per step (default 8)
  --context T       characters per window, for training and validation (default 128, at most 512)
  --val N           validation windows (default 32)
  --lr-road X       RoAd learning rate, constant (default 5e-3)
  --lr-full X       full fine-tuning learning rate, constant (default 1e-3)
  --variant V       road_1, road_2 or road_4 (default road_1)
  --group-size G    RoAd group size (default 32; divides 64, the K/V projections' outputs)
  --json            print the results as JSON
  --help            this text`;

const FLAG_SPEC: FlagSpec<Flags> & { check: (f: Flags) => void } = {
  values: {
    steps: (f, v) => (f.steps = integerFlag(v, 0)),
    batch: (f, v) => (f.batch = integerFlag(v, 1)),
    context: (f, v) => (f.context = Math.min(512, integerFlag(v, 2))),
    val: (f, v) => (f.val = integerFlag(v, 1)),
    'lr-road': (f, v) => (f.lrRoad = numberFlag(v, { above: 0 })),
    'lr-full': (f, v) => (f.lrFull = numberFlag(v, { above: 0 })),
    variant: (f, v) => (f.variant = choiceFlag(v, ['road_1', 'road_2', 'road_4'] as const)),
    'group-size': (f, v) => (f.groupSize = integerFlag(v, 2)),
  },
  switches: { json: (f) => (f.json = true) },
  check: (f) => {
    if (f.groupSize % 2 !== 0 || 64 % f.groupSize !== 0) throw new FlagError(`road-finetune: --group-size must be even and divide 64 (the K/V projections' outputs), got ${f.groupSize}`);
  },
};

export function parseFlags(argv: readonly string[]): Flags | 'help' {
  return parseScriptFlags<Flags>('road-finetune', argv, DEFAULT_FLAGS, FLAG_SPEC);
}

/** The text read backwards, as ids. */
export function reversed(ids: Int32Array): Int32Array {
  return Int32Array.from(ids).reverse();
}

/** Mean loss over `windows` fixed windows of T + 1 ids (seed 11, batches of 4). */
export function valLoss(model: GPT, ids: Int32Array, windows: number, T: number): number {
  const g = new Generator(11);
  let total = 0;
  let batches = 0;
  for (let i = 0; i < windows; i += 4) {
    const { x, y } = sampleBatch(ids, Math.min(4, windows - i), T, g);
    total += noGrad(() => model.loss(x, y).item());
    batches++;
  }
  return total / batches;
}

/** The whole experiment; `load` gives a fresh reference model per arm; `log` gets progress lines. */
export function runExperiment(load: () => GPT, corpus: { train: Int32Array; val: Int32Array }, flags: Flags, log: (s: string) => void = () => {}): Results {
  const started = performance.now();
  const trainIds = reversed(corpus.train);
  const shiftedVal = reversed(corpus.val);
  const T = flags.context;
  const arms: ArmResult[] = [];
  let totalParameters = 0;
  for (const arm of ['none', 'road', 'full'] as const) {
    const model = load();
    totalParameters = model.numParameters();
    if (arm === 'road') wrapWithRoAd(model, { select: /attn\.w[qkvo]$/, variant: flags.variant, groupSize: flags.groupSize });
    const params = model.parameters().filter((p) => p.requiresGrad);
    const trainable = arm === 'none' ? 0 : params.reduce((n, p) => n + p.size, 0);
    let seconds = 0;
    let firstLoss = NaN;
    let lastLoss = NaN;
    if (arm !== 'none' && flags.steps > 0) {
      const g = new Generator(17); // the same batches for both trained arms
      const t0 = performance.now();
      const losses: number[] = [];
      train(model, () => {
        const { x, y } = sampleBatch(trainIds, flags.batch, T, g);
        const loss: Tensor = model.loss(x, y);
        losses.push(loss.item());
        return loss;
      }, { steps: flags.steps, optimizer: new AdamW(params, { lr: arm === 'road' ? flags.lrRoad : flags.lrFull, weightDecay: 0 }), clipGradNorm: 1, output: null });
      seconds = (performance.now() - t0) / 1000;
      [firstLoss, lastLoss] = [losses[0]!, losses.at(-1)!];
    }
    const result: ArmResult = { arm, trainable, shifted: valLoss(model, shiftedVal, flags.val, T), original: valLoss(model, corpus.val, flags.val, T), seconds, firstLoss, lastLoss };
    arms.push(result);
    log(`${arm}: ${trainable} trainable, reversed-text val ${result.shifted.toFixed(4)}, original-text val ${result.original.toFixed(4)}, ${seconds.toFixed(1)} s`);
  }
  return { arms, totalParameters, settings: flags, seconds: (performance.now() - started) / 1000 };
}

/** The markdown table and the settings line. */
export function formatResults(res: Results): string {
  const none = res.arms.find((a) => a.arm === 'none')!;
  const s = res.settings;
  const lines = [
    '| arm | trainable params | % of model | val loss, reversed text | vs none | val loss, original text | train loss first → last | train time (s) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...res.arms.map((a) =>
      `| ${a.arm === 'road' ? `road (${s.variant}, g ${s.groupSize}, q/k/v/o)` : a.arm === 'full' ? 'full fine-tuning' : 'none (frozen reference)'} | ${a.trainable} | ${(100 * a.trainable / res.totalParameters).toFixed(3)}% | ${a.shifted.toFixed(4)} | ${(a.shifted - none.shifted >= 0 ? '+' : '')}${(a.shifted - none.shifted).toFixed(4)} | ${a.original.toFixed(4)} | ${Number.isNaN(a.firstLoss) ? '—' : `${a.firstLoss.toFixed(3)} → ${a.lastLoss.toFixed(3)}`} | ${a.seconds.toFixed(1)} |`),
    '',
    `${s.steps} AdamW steps × ${s.batch} windows of ${s.context} characters of the corpus read backwards (same batches for both trained arms), constant lr (road ${s.lrRoad}, full ${s.lrFull}), clip 1; val: ${s.val} fixed windows of ${s.context} from the held-out 10%; model ${res.totalParameters} parameters; ${res.seconds.toFixed(0)} s in all`,
  ];
  return lines.join('\n');
}

function main(): void {
  const flags = readFlags('road-finetune', HELP, DEFAULT_FLAGS, FLAG_SPEC);
  const log = (s: string): void => {
    if (!flags.json) console.log(s);
  };
  log(`node scripts/run.mjs scripts/experiments/road-finetune.ts ${process.argv.slice(2).join(' ')}`.trim());
  const corpus = loadCorpus();
  const res = runExperiment(() => loadReferenceModel().model, corpus, flags, log);
  log(`\n${formatResults(res)}`);
  if (flags.json) console.log(JSON.stringify(res));
}

if (isEntryPoint(import.meta.url, 'road-finetune')) main();
