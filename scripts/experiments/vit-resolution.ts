/**
 * Resolution extrapolation of a small ViT (models/vit.ts) with each 2-D position signal: RoPE-Axial, RoPE-Mixed
 * (Heo et al. 2024, "Rotary Position Embedding for Vision Transformer"), a learned absolute grid (bilinearly resampled
 * at other sizes) and none. Each variant is trained at one resolution and evaluated at larger ones.
 *
 * Data, drawn in code from a seed (no files): one anti-aliased bar per image on a noisy black background. The class is
 * the bar's orientation bucket, K buckets over [0, π) (default K = 8, 22.5° apart), the angle jittered within ±30% of a
 * bucket's width around its centre so neighbouring classes stay separable after rasterisation; size, brightness and
 * position are random, plus N(0, 0.1²) pixel noise. By default (--bars dotted) the bar is three round dots about one
 * patch apart: no 4 × 4 patch shows the orientation, which is a relation between patches, so the model must know
 * where its patches are ('none' sees an unordered set of patches and stays far below the others). With --bars solid a
 * patch sees a piece of stroke whose local slope already gives the orientation, and 'none' does as well as the rest
 * at the training size: the solid task does not need positions.
 *
 * Scale at evaluation (--objects): 'pixel' (default) draws bars of the same pixel size at every resolution, on a
 * larger canvas. Patches then look just as in training and only the positions are new (grid coordinates up to 11 at
 * 48 px vs 3 in training) and the bar is a smaller share of the tokens, which isolates the position signal's
 * extrapolation (the 'none' row measures the effect of the extra background tokens alone). 'relative' scales the bar
 * (length, thickness, spacing, placement) with the image, the usual "train at 224, test at 384" setting: patch contents
 * and the patch distances between dots change too (what bilinear resampling of an absolute table is designed for).
 *
 * Note on RoPE here: the class token is unrotated (as in the reference), so its attention logit to a patch at p is
 * q_clsᵀ R(p) k — absolute in p. Trained on a 4 × 4 grid it has seen only p ∈ [0, 3]², so on larger grids the pooling
 * step meets unseen angles even though patch-to-patch attention is purely relative.
 *
 * Usage: node scripts/run.mjs scripts/experiments/vit-resolution.ts [--steps 300] [--seed 0]
 *        [--variants rope-axial,rope-mixed,absolute,none] [--objects pixel|relative] [--bars dotted|solid]
 *        [--batch 64] [--classes 8] [--eval-images 512] [--help]
 * Prints per-variant training time and a variant × resolution accuracy table; writes out/vit-resolution.svg.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { AdamW, Generator, Tensor, noGrad, warmupCosineLr } from '../../core/index.js';
import { ViT, type ViTPositional } from '../../models/vit.js';
import { train } from '../../nn/index.js';
import { choiceFlag, integerFlag, listFlag, readFlags } from '../lib/flags.js';
import { lineChart } from '../lib/svg.js';

const VARIANTS: readonly ViTPositional[] = ['rope-axial', 'rope-mixed', 'absolute', 'none'];

interface Flags {
  steps: number;
  seed: number;
  variants: ViTPositional[];
  objects: 'pixel' | 'relative';
  bars: 'dotted' | 'solid';
  batch: number;
  classes: number;
  evalImages: number;
}

const TRAIN_SIZE = 16;
const PATCH = 4;
const EVAL_SIZES = [16, 24, 32, 48];

const HELP = `usage: node scripts/run.mjs scripts/experiments/vit-resolution.ts [flags]

Trains one small ViT (dim 32, depth 2, 4 heads, patch ${PATCH}) per position signal on procedurally drawn oriented bars
at ${TRAIN_SIZE}×${TRAIN_SIZE} px, then evaluates classification accuracy at ${EVAL_SIZES.join(', ')} px. Prints a table and
writes out/vit-resolution.svg. Defaults take about 3 minutes on 2 cores.

  --steps N            AdamW steps per variant (default 300)
  --seed S             seed for weights, training images and evaluation images (default 0)
  --variants a,b       position signals (default ${VARIANTS.join(',')})
  --objects MODE       'pixel' (default): bars keep their pixel size on larger images;
                       'relative': bars scale with the image
  --bars STYLE         'dotted' (default): three dots along the bar, about one per patch, so orientation
                       is a relation between patches; 'solid': a stroke (a patch sees its local slope)
  --batch B            images per step (default 64)
  --classes K          orientation buckets over 180° (default 8)
  --eval-images N      evaluation images per resolution (default 512)
  --help               this text`;

function readCommandLine(): Flags {
  const defaults: Flags = { steps: 300, seed: 0, variants: [...VARIANTS], objects: 'pixel', bars: 'dotted', batch: 64, classes: 8, evalImages: 512 };
  return readFlags<Flags>('vit-resolution', HELP, defaults, {
    values: {
      steps: (f, v) => (f.steps = integerFlag(v, 0)),
      seed: (f, v) => (f.seed = integerFlag(v, 0)),
      variants: (f, v) => (f.variants = listFlag(v, VARIANTS)),
      objects: (f, v) => (f.objects = choiceFlag(v, ['pixel', 'relative'] as const)),
      bars: (f, v) => (f.bars = choiceFlag(v, ['dotted', 'solid'] as const)),
      batch: (f, v) => (f.batch = integerFlag(v, 1)),
      classes: (f, v) => (f.classes = integerFlag(v, 2)),
      'eval-images': (f, v) => (f.evalImages = integerFlag(v, 1)),
    },
  });
}

/**
 * n images [n, 1, S, S] of one bar each, with labels [n] (the orientation bucket). Geometry is in pixels at scale 1
 * (the 16-px training canvas) and multiplied by `scale`; the whole bar lies inside the image.
 * - 'dotted': three round dots (radius 0.9–1.3) spaced 4–5.5 apart along the bar, about one per 4-px patch, so no
 *   single patch shows the orientation;
 * - 'solid': one stroke of length 7–11 and thickness 1–1.8.
 * Brightness 0.6–1; coverage ramps over one pixel at the edges (anti-aliasing); then N(0, 0.1²) noise per pixel.
 */
function drawBars(n: number, S: number, scale: number, classes: number, style: 'dotted' | 'solid', g: Generator): { images: Tensor; labels: Float64Array } {
  const data = new Float32Array(n * S * S);
  const labels = new Float64Array(n);
  for (let b = 0; b < n; b++) {
    const k = g.int(0, classes);
    labels[b] = k;
    const theta = ((k + 0.6 * (g.random() - 0.5)) * Math.PI) / classes;
    const [ux, uy] = [Math.cos(theta), Math.sin(theta)];
    const bright = 0.6 + 0.4 * g.random();
    // segments (ax, ay) → (ax + vx, ay + vy) at the origin-centred bar, each with a radius: dots are zero-length segments
    let half: number;
    let radius: number;
    let offsets: number[];
    if (style === 'dotted') {
      const spacing = scale * (4 + 1.5 * g.random());
      radius = scale * (0.9 + 0.4 * g.random());
      offsets = [-spacing, 0, spacing];
      half = spacing;
    } else {
      half = (scale * (7 + 4 * g.random())) / 2;
      radius = (scale * (1 + 0.8 * g.random())) / 2;
      offsets = [];
    }
    const [hx, hy] = [Math.abs(ux) * half + radius + 0.5, Math.abs(uy) * half + radius + 0.5];
    const cx = hx + g.random() * (S - 2 * hx);
    const cy = hy + g.random() * (S - 2 * hy);
    const img = data.subarray(b * S * S, (b + 1) * S * S);
    for (let r = 0; r < S; r++) {
      for (let c = 0; c < S; c++) {
        const [px, py] = [c + 0.5 - cx, r + 0.5 - cy]; // pixel centre relative to the bar's centre
        let d: number;
        if (style === 'solid') {
          const t = Math.min(half, Math.max(-half, px * ux + py * uy)); // nearest point of the segment
          d = Math.hypot(px - t * ux, py - t * uy);
        } else {
          d = Math.min(...offsets.map((o) => Math.hypot(px - o * ux, py - o * uy)));
        }
        const cover = Math.min(1, Math.max(0, radius + 0.5 - d));
        img[r * S + c] = bright * cover + 0.1 * g.normal();
      }
    }
  }
  return { images: new Tensor(data, [n, 1, S, S]), labels };
}

/** Accuracy of the model on a fixed set, in batches of 64. */
function accuracy(model: ViT, set: { images: Tensor; labels: Float64Array }): number {
  const n = set.labels.length;
  let correct = 0;
  for (let start = 0; start < n; start += 64) {
    const m = Math.min(64, n - start);
    const pred = noGrad(() => model.forward(set.images.narrow(0, start, m))).argmax(-1);
    for (let i = 0; i < m; i++) if (pred.data[i] === set.labels[start + i]) correct++;
  }
  return correct / n;
}

function main(): void {
  const flags = readCommandLine();
  const scaleAt = (S: number): number => (flags.objects === 'relative' ? S / TRAIN_SIZE : 1);
  console.log(
    `ViT resolution extrapolation: ${flags.classes} bar orientations, trained at ${TRAIN_SIZE}px (patch ${PATCH}, ${TRAIN_SIZE / PATCH}×${TRAIN_SIZE / PATCH} grid), ` +
      `evaluated at ${EVAL_SIZES.join('/')}px; bars ${flags.objects === 'pixel' ? 'keep their pixel size' : 'scale with the image'}`,
  );
  console.log(`${flags.steps} steps × batch ${flags.batch} per variant, ${flags.evalImages} evaluation images per resolution, seed ${flags.seed}\n`);
  const evalSets = EVAL_SIZES.map((S) => drawBars(flags.evalImages, S, scaleAt(S), flags.classes, flags.bars, new Generator(flags.seed * 7919 + 1000 + S)));

  const rows: Array<{ name: ViTPositional; acc: number[]; seconds: number }> = [];
  const t0 = performance.now();
  for (const positional of flags.variants) {
    const model = new ViT({
      imageSize: TRAIN_SIZE, patchSize: PATCH, channels: 1, numClasses: flags.classes, dim: 32, depth: 2, numHeads: 4, mlpRatio: 2,
      positional, seed: flags.seed,
    });
    const g = new Generator(flags.seed + 1); // the same training images for every variant
    const maxLr = 3e-3;
    const optimizer = new AdamW(model.parameters(), { lr: maxLr, weightDecay: 0.05 });
    console.log(`[${positional}] ${model.numParameters()} parameters`);
    const result = train(model, () => {
      const { images, labels } = drawBars(flags.batch, TRAIN_SIZE, 1, flags.classes, flags.bars, g);
      return model.loss(images, labels);
    }, {
      steps: flags.steps,
      optimizer,
      clipGradNorm: 1,
      schedule: (step) => warmupCosineLr(step, { maxLr, warmupSteps: Math.min(20, flags.steps), totalSteps: flags.steps, minLr: maxLr / 10 }),
      logEvery: Math.max(1, Math.round(flags.steps / 5)),
    });
    model.eval();
    const acc = evalSets.map((set) => accuracy(model, set));
    const last = result.losses.slice(-20);
    const trained = last.length === 0 ? 'not trained (--steps 0)' : `train loss ${(last.reduce((a, b) => a + b, 0) / last.length).toFixed(3)}`;
    console.log(`[${positional}] ${trained} (${result.seconds.toFixed(1)} s); accuracy ${acc.map((a) => a.toFixed(3)).join(' / ')}\n`);
    rows.push({ name: positional, acc, seconds: result.seconds });
  }

  const chance = 1 / flags.classes;
  console.log(`accuracy by evaluation resolution (trained at ${TRAIN_SIZE}px; chance ${chance.toFixed(3)}; ${flags.evalImages} images each):`);
  const head = EVAL_SIZES.map((S) => `${S}px${S === TRAIN_SIZE ? '*' : ''}`.padStart(7));
  console.log(` variant     │ ${head.join(' │ ')}`);
  console.log(`─────────────┼─${EVAL_SIZES.map(() => '─'.repeat(7)).join('─┼─')}`);
  for (const r of rows) console.log(` ${r.name.padEnd(11)} │ ${r.acc.map((a) => a.toFixed(3).padStart(7)).join(' │ ')}`);
  console.log(`(* training resolution; total ${((performance.now() - t0) / 1000).toFixed(0)} s)`);

  mkdirSync('out', { recursive: true });
  writeFileSync('out/vit-resolution.svg', lineChart({
    title: `ViT on oriented bars: accuracy vs resolution (trained at ${TRAIN_SIZE}px, bars ${flags.objects === 'pixel' ? 'fixed size' : 'scaled'})`,
    xLabel: 'evaluation image size (px)',
    yLabel: 'accuracy',
    series: [
      ...rows.map((r) => ({ name: r.name, points: r.acc.map((a, i) => [EVAL_SIZES[i]!, a] as [number, number]) })),
      { name: 'chance', points: [[EVAL_SIZES[0]!, chance], [EVAL_SIZES[EVAL_SIZES.length - 1]!, chance]] },
    ],
  }));
  console.log('wrote out/vit-resolution.svg');
}

main();
