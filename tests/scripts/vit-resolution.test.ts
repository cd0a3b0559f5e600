/**
 * scripts/experiments/vit-resolution.ts: the continuous-shape generator's invariants the protocol relies on (rendering
 * at 2R and box-averaging 2 × 2 *is* rendering at R — objects scale with the image; every shape's ink inside its disc;
 * test objects whole, cropped training objects still half in view; the same test scenes at every size when objects
 * scale, 16-px objects when they do not; the 8 shapes distinct), the verdict rule on known inputs, the pipeline at
 * tiny settings (both tasks), `reproduction.run({ quick: true })` end to end, and flag parsing. Importing the script
 * must not run its main.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import { Generator } from '../../core/index.js';
import {
  DEFAULT_FLAGS, GEOMETRY, HALF_WIDTH, MIN_VISIBLE, QUICK_FLAGS, SHAPES, TEST_SCALE, TRAIN_SCALE, VARIANTS, chart, checkFlags, deltaHigh,
  evalSizesOf, formatJudgement, formatResults, judgeReproduction, makeEvalScenes, makeEvalSets, parseFlags, renderScene, renderScenes,
  reproduction, runExperiment, sampleTestScene, sampleTrainScene, visibleFraction, type Flags, type Results, type Run, type Scene,
} from '../../scripts/experiments/vit-resolution.js';
import { assertWellFormedSvg } from '../helpers/svg.js';

/** 2 × 2 box average of an [2R, 2R] image → [R, R]. */
function halve(img: Float32Array, R2: number): Float32Array {
  const R = R2 / 2;
  const out = new Float32Array(R * R);
  for (let i = 0; i < R; i++) {
    for (let j = 0; j < R; j++) {
      out[i * R + j] = (img[2 * i * R2 + 2 * j]! + img[2 * i * R2 + 2 * j + 1]! + img[(2 * i + 1) * R2 + 2 * j]! + img[(2 * i + 1) * R2 + 2 * j + 1]!) / 4;
    }
  }
  return out;
}

const maxAbsDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

test('resizing: a scene rendered at 2R (k = 4 samples per pixel) and box-averaged 2 × 2 equals the scene rendered at R with k = 8', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 1e6 }), fc.constantFrom(8, 12, 16), fc.boolean(), (seed, R, training) => {
    const g = new Generator(seed);
    const scene = training ? sampleTrainScene(g, 8) : sampleTestScene(g, 8);
    const small = renderScene(scene, R, 8);
    const big = halve(renderScene(scene, 2 * R, 4), 2 * R);
    assert.ok(maxAbsDiff(small, big) < 1e-6, `seed ${seed} R ${R}: max diff ${maxAbsDiff(small, big)}`);
    assert.ok(small.some((v) => v > 0.1), 'the scene has ink');
  }), { numRuns: 40 });
});

test('geometry: every shape\'s ink lies within its disc (radius 0.5 in object units)', () => {
  assert.is(GEOMETRY.length, SHAPES.length);
  for (const [k, geo] of GEOMETRY.entries()) {
    assert.ok(geo.segments.length > 0 || geo.ring !== null, `${SHAPES[k]} has strokes`);
    for (let i = 0; i < geo.segments.length; i += 2) {
      assert.ok(Math.hypot(geo.segments[i]!, geo.segments[i + 1]!) + HALF_WIDTH <= 0.5 + 1e-12, `${SHAPES[k]} vertex ${i / 2}`);
    }
    if (geo.ring !== null) assert.ok(geo.ring + HALF_WIDTH <= 0.5);
  }
  // rendered: a centred object of size 1 at any angle leaves a one-pixel border free (its disc touches the edges only)
  for (let shape = 0; shape < SHAPES.length; shape++) {
    const img = renderScene({ shape, cx: 0.5, cy: 0.5, size: 0.9, angle: 0.26, bright: 1, dots: [] }, 32);
    for (let j = 0; j < 32; j++) for (const i of [0, 31]) assert.is(img[i * 32 + j], 0, `${SHAPES[shape]}: border pixel ${i},${j}`);
  }
});

test('scenes: test objects whole (disc inside the image, size in TEST_SCALE), training objects in TRAIN_SCALE with ≥ half the skeleton in view, some cropped', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 1e6 }), (seed) => {
    const g = new Generator(seed);
    const t = sampleTestScene(g, 8);
    assert.ok(t.size >= TEST_SCALE[0] && t.size <= TEST_SCALE[1]);
    assert.ok(t.cx - t.size / 2 >= 0 && t.cx + t.size / 2 <= 1 && t.cy - t.size / 2 >= 0 && t.cy + t.size / 2 <= 1, 'disc inside');
    assert.is(visibleFraction(t), 1);
    const s = sampleTrainScene(g, 8);
    assert.ok(s.size >= TRAIN_SCALE[0] && s.size <= TRAIN_SCALE[1]);
    assert.ok(visibleFraction(s) >= MIN_VISIBLE, `train scene seed ${seed}: ${visibleFraction(s)} in view`);
    if (s.size <= 1) assert.is(visibleFraction(s), 1, 'a training object no larger than the image is whole');
    assert.ok(s.dots.length >= 1 && s.dots.length <= 2);
  }), { numRuns: 200 });
  const g = new Generator(3);
  const sizes = Array.from({ length: 400 }, () => sampleTrainScene(g, 8).size);
  const cropped = sizes.filter((s) => s > 1).length / sizes.length;
  assert.ok(cropped > 0.2 && cropped < 0.6, `log-uniform in [0.35, 1.8]: ~36% larger than the image, got ${cropped}`);
  const labels = new Set(Array.from({ length: 200 }, () => sampleTrainScene(g, 5).shape));
  assert.equal([...labels].sort(), [0, 1, 2, 3, 4], '--classes 5 draws the first 5 shapes');
});

test('the 8 shapes render differently at the same pose, and renderScenes labels each image with its shape', () => {
  const imgs = SHAPES.map((_, shape) => renderScene({ shape, cx: 0.5, cy: 0.5, size: 0.8, angle: 0.1, bright: 1, dots: [] }, 24));
  for (let a = 0; a < imgs.length; a++) {
    for (let b = a + 1; b < imgs.length; b++) {
      const diff = imgs[a]!.reduce((s, v, i) => s + Math.abs(v - imgs[b]![i]!), 0) / imgs[a]!.length;
      assert.ok(diff > 0.04, `${SHAPES[a]} vs ${SHAPES[b]}: mean |Δ| ${diff}`);
    }
  }
  const g = new Generator(1);
  const scenes: Scene[] = Array.from({ length: 5 }, () => sampleTestScene(g, 8));
  const set = renderScenes(scenes, 16, 0, g);
  assert.equal(set.images.shape, [5, 1, 16, 16]);
  assert.equal([...set.labels], scenes.map((s) => s.shape));
  assert.equal([...set.images.data.subarray(0, 256)], [...renderScene(scenes[0]!, 16)], 'noise 0: the render itself');
});

test('test sets: objects relative → the same scenes at every size; pixel → objects keep their 16-px size', () => {
  const f: Flags = { ...DEFAULT_FLAGS, evalImages: 20 };
  const rel = makeEvalScenes(f);
  assert.equal(evalSizesOf(f), [12, 16, 24, 32, 48]);
  assert.ok(rel.every((list) => list === rel[0]), 'one list of scenes, rendered at every size');
  const px = makeEvalScenes({ ...f, objects: 'pixel' });
  evalSizesOf(f).forEach((R, i) => {
    for (const s of px[i]!) {
      const pixels = s.size * R;
      assert.ok(pixels >= TEST_SCALE[0] * Math.min(R, 16) - 1e-9 && pixels <= TEST_SCALE[1] * Math.min(R, 16) + 1e-9, `R ${R}: object ${pixels} px`);
    }
  });
  const sets = makeEvalSets(f);
  assert.equal(sets.map((s) => s.images.shape), evalSizesOf(f).map((R) => [20, 1, R, R]));
  assert.ok(sets.every((s) => [...s.labels].join() === [...sets[0]!.labels].join()), 'same labels at every size');
  const bars = makeEvalSets({ ...f, task: 'bars' });
  assert.equal(bars.map((s) => s.size), [16, 24, 32, 48]);
});

/** Results with one Run per (variant, seed) from acc rows over sizes [12, 16, 24, 32, 48]. */
function fake(rows: Partial<Record<string, number[][]>>): Results {
  const runs: Run[] = Object.entries(rows).flatMap(([variant, perSeed]) => perSeed!.map((acc, seed) => ({ variant: variant as Run['variant'], seed, acc, finalLoss: 1, seconds: 1 })));
  return { task: 'shapes', objects: 'relative', sizes: [12, 16, 24, 32, 48], chance: 0.125, runs, parameters: {}, seconds: 1 };
}
/** acc at 16 and at 32/48 (both equal) for one seed. */
const at = (a16: number, hi: number): number[] => [a16 - 0.1, a16, (a16 + hi) / 2, hi, hi];

test('the verdict: Δ_hi ordering by judgeOrdering, the positive control at 16 px, and the falsifier', () => {
  const good = fake({
    'rope-mixed': [at(0.8, 0.78), at(0.82, 0.8), at(0.79, 0.78)],
    'rope-axial': [at(0.8, 0.7), at(0.8, 0.71), at(0.81, 0.7)],
    absolute: [at(0.8, 0.55), at(0.79, 0.55), at(0.8, 0.56)],
    none: [at(0.6, 0.6), at(0.6, 0.6), at(0.6, 0.6)],
  });
  assert.ok(Math.abs(deltaHigh(good, good.runs[0]!) - -0.02) < 1e-12);
  const j = judgeReproduction(good);
  assert.is(j.verdict, 'reproduced', j.reason);
  assert.ok(j.control.passed);
  assert.not.ok(j.falsifier.triggered);
  assert.match(formatJudgement(j), /verdict: reproduced/);

  const weak = judgeReproduction({ ...good, runs: good.runs.map((r) => ({ ...r, acc: r.variant === 'none' ? r.acc : r.acc.map((a, i) => (i === 1 ? (r.seed === 2 ? 0.45 : a) : a)) })) });
  assert.is(weak.verdict, 'not reproduced');
  assert.match(weak.reason, /positive control failed/);

  const falsified = judgeReproduction(fake({
    'rope-mixed': [at(0.6, 0.58), at(0.6, 0.58), at(0.6, 0.58)],
    'rope-axial': [at(0.8, 0.7), at(0.8, 0.71), at(0.81, 0.7)],
    absolute: [at(0.9, 0.6), at(0.9, 0.59), at(0.9, 0.5)],
  }));
  assert.is(falsified.claim.verdict, 'reproduced', 'Δ_hi in order …');
  assert.equal(falsified.falsifier.seeds, [0, 1]);
  assert.is(falsified.verdict, 'not reproduced', '… but APE-interp ≥ mixed at R ≥ 32 in 2 of 3 seeds');
  assert.match(falsified.reason, /falsifier met/);

  const partly = judgeReproduction(fake({
    'rope-mixed': [at(0.8, 0.78), at(0.8, 0.68), at(0.8, 0.78)],
    'rope-axial': [at(0.8, 0.7), at(0.8, 0.71), at(0.8, 0.7)],
    absolute: [at(0.8, 0.55), at(0.8, 0.55), at(0.8, 0.56)],
  }));
  assert.is(partly.verdict, 'partly', 'seed 1 has axial above mixed');
  assert.throws(() => judgeReproduction(fake({ 'rope-mixed': [at(0.8, 0.8)], absolute: [at(0.8, 0.8)] })), /missing rope-axial/);
});

test('the pipeline at tiny settings (shapes and bars): every variant × seed, accuracies in [0, 1], the tables and the chart', () => {
  const f: Flags = { ...QUICK_FLAGS, seeds: 2 };
  const res = runExperiment(f);
  assert.is(res.runs.length, 2 * VARIANTS.length);
  assert.equal(res.sizes, [12, 16, 24, 32, 48]);
  for (const r of res.runs) assert.ok(r.acc.length === 5 && r.acc.every((a) => a >= 0 && a <= 1) && Number.isFinite(r.finalLoss), `${r.variant} seed ${r.seed}`);
  const table = formatResults(res, f);
  for (const label of ['APE-interp', 'RoPE-Axial θ=100', 'RoPE-Mixed θ=10', 'NoPE', 'Δ_hi']) assert.ok(table.includes(label), label);
  assertWellFormedSvg(chart(res));
  const bars = runExperiment({ ...f, task: 'bars', seeds: 1, variants: ['absolute', 'none'], bars: 'solid' });
  assert.equal(bars.sizes, [16, 24, 32, 48]);
  assert.is(bars.objects, 'pixel');
  assert.not.match(formatResults(bars, { ...f, task: 'bars' }), /12px/);
  assertWellFormedSvg(chart(bars));
});

test('reproduction --quick: a well-formed result in seconds (fields, finite numbers, progress to the total, the SVG well-formed)', async () => {
  const seen: Array<[number, number]> = [];
  const r = await reproduction.run({ quick: true, progress: (done, total) => seen.push([done, total]) });
  assert.is(reproduction.name, 'vit-resolution');
  assert.ok(['reproduced', 'partly', 'not reproduced'].includes(r.verdict));
  for (const field of [r.summary, r.reason, r.table, reproduction.claim, reproduction.setup, reproduction.criterion, reproduction.falsifier]) assert.ok(field.length > 20);
  assert.match(reproduction.claim, /80\.9 → 81\.8/);
  assert.match(r.table, /positive control/);
  assertWellFormedSvg(r.svg!);
  const total = QUICK_FLAGS.seeds * VARIANTS.length * QUICK_FLAGS.steps;
  assert.equal(seen.at(-1), [total, total]);
  assert.ok(seen.every(([d], i) => i === 0 || d >= seen[i - 1]![0]), 'progress never goes back');
  const data = r.data as Results;
  assert.is(data.runs.length, QUICK_FLAGS.seeds * VARIANTS.length);
  assert.ok(data.runs.every((x) => x.acc.every(Number.isFinite)));
});

test('flags: defaults, --quick, overrides, cross-flag rules, --help, and errors', () => {
  assert.equal(parseFlags([]), DEFAULT_FLAGS);
  assert.equal(parseFlags(['--quick', '--steps', '5']), { ...QUICK_FLAGS, steps: 5 });
  assert.equal(parseFlags(['--json', '--quick']), { ...QUICK_FLAGS, json: true });
  assert.equal(parseFlags(['--task', 'bars', '--objects', 'relative', '--bars', 'solid', '--seed', '4', '--variants', 'none,absolute', '--eval-images', '9']),
    { ...DEFAULT_FLAGS, task: 'bars', objects: 'relative', bars: 'solid', seed: 4, variants: ['none', 'absolute'], evalImages: 9 });
  assert.is(parseFlags(['--help']), 'help');
  assert.is(checkFlags(DEFAULT_FLAGS), null);
  assert.match(checkFlags({ ...DEFAULT_FLAGS, classes: 9 }) ?? '', /≤ 8/);
  assert.is(checkFlags({ ...DEFAULT_FLAGS, classes: 9, task: 'bars' }), null);
  assert.match(checkFlags({ ...DEFAULT_FLAGS, dim: 24, heads: 4 }) ?? '', /multiple of 4/);
  assert.match(checkFlags({ ...DEFAULT_FLAGS, variants: ['none', 'none'] }) ?? '', /twice/);
  assert.throws(() => parseFlags(['--objects', 'huge']), /--objects must be one of pixel, relative, got 'huge'/);
  assert.throws(() => parseFlags(['--seeds', '0']), /integer ≥ 1/);
  assert.throws(() => parseFlags(['--variants', 'rope']), /unknown: rope/);
});

test.run();
