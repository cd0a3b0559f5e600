/**
 * Smoke test of scripts/experiments/freeflux.ts at tiny settings (its main does not run on import): scenes render
 * what the prompt says and the detector reads them back (colour, place, shape; nothing spurious); the prompt tokens;
 * the injection hook's mixing of source and target keys/values; PSNR on a region; and the whole pipeline (train,
 * probe, edit, pictures) on a tiny model in seconds.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator, Tensor } from '../../core/index.js';
import {
  MODEL, PAD, PLACES, SIZE, TEXT_LENGTH, analyse, detect, drawScene, editCases, heatmapSvg, imagesSvg, injectionHook, makeBatch, outside,
  placeTokens, promptOf, psnr, renderScene, scaledManipulations, scorePrompts, tokenOf, trainModel,
} from '../../scripts/experiments/freeflux.js';
import { assertWellFormedSvg } from '../helpers/svg.js';
import { judgeProbe, reproduction, rmsOfPsnr, spearman, type ProbeSeedRun } from '../../scripts/experiments/freeflux.js';

test('scenes: the detector finds every drawn object in its quadrant with its shape, and nothing elsewhere', () => {
  const g = new Generator(1);
  const scenes = Array.from({ length: 200 }, (_, i) => drawScene(g, 1 + (i % 2)));
  const images = new Tensor(Float32Array.from(scenes.flatMap((s) => Array.from(renderScene(s)))), [200, 3, SIZE, SIZE]);
  const score = scorePrompts(images, scenes.map((s) => s.objects));
  assert.equal(score, { found: 1, shapeRight: 1, exact: 1, spurious: 0 });
  // a blank (background only) image has nothing; a wrong colour is not found
  const blank = renderScene({ background: [-1, -1, -1], objects: [] });
  assert.ok(PLACES.every((p) => !detect(blank, 0, 'red', p).present));
  const one = scenes[0]!;
  const other = (['red', 'green', 'blue', 'yellow'] as const).find((c) => c !== one.objects[0]!.colour)!;
  assert.not.ok(detect(renderScene(one), 0, other, one.objects[0]!.place).present);
});

test('prompts: six tokens [colour, shape, place] × 2, PAD for a missing second object', () => {
  const p = promptOf([{ colour: 'red', shape: 'square', place: 'top-left' }]);
  assert.equal(p, [tokenOf.colour('red'), tokenOf.shape('square'), tokenOf.place('top-left'), PAD, PAD, PAD]);
  const b = makeBatch(5, new Generator(2));
  assert.equal(b.images.shape, [5, 3, SIZE, SIZE]);
  assert.equal(b.text.shape, [5, TEXT_LENGTH]);
  const ids = new Set(Array.from(b.text.data));
  assert.ok([...ids].every((v) => Number.isInteger(v) && v >= 0 && v <= 10));
  assert.equal(placeTokens('bottom-right', 4), [10, 11, 14, 15]);
  assert.equal(placeTokens('top-left', 2), [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27]);
  assert.equal(scaledManipulations(4), ['none', [0.625, 0.625], [0, 1.25], [4, 0]]);
  const cases = editCases(20, 3);
  assert.ok(cases.every((c) => c.source.place !== c.added.place && c.source.colour !== c.added.colour));
});

test('injectionHook: target image keys/values become the source\'s except on the kept tokens; text and sources untouched', () => {
  const [n, H, L, N, d] = [2, 1, 2, 4, 1];
  const S = L + N;
  const k = new Tensor(Float32Array.from({ length: 2 * n * H * S * d }, (_, i) => i), [2 * n, H, S, d]);
  const hook = injectionHook(L, N, [[1], [0, 3]]);
  const { k: out, v } = hook.keysValues!(k, k);
  const at = (t: Tensor, b: number, s: number): number => t.data[b * S + s]!;
  for (let b = 0; b < n; b++) for (let s = 0; s < S; s++) assert.is(at(out, b, s), at(k, b, s), 'sources unchanged');
  const kept = [[0, 1, L + 1], [0, 1, L, L + 3]];
  for (let i = 0; i < n; i++) {
    for (let s = 0; s < S; s++) assert.is(at(out, n + i, s), kept[i]!.includes(s) ? at(k, n + i, s) : at(k, i, s), `target ${i} token ${s}`);
  }
  assert.equal(Array.from(v.data), Array.from(out.data));
});

test('psnr: +∞ when equal, 10·log10(4/MSE) otherwise, on the region asked', () => {
  const a = new Float32Array(3 * SIZE * SIZE);
  const b = a.slice();
  assert.is(psnr(a, 0, b, 0), Infinity);
  b[5 * SIZE + 12] = 1; // channel 0, pixel (12, 5): top-right quadrant
  assert.ok(Math.abs(psnr(a, 0, b, 0) - 10 * Math.log10(4 / (1 / (3 * SIZE * SIZE)))) < 1e-9);
  assert.is(psnr(a, 0, b, 0, outside('top-right')), Infinity);
  assert.ok(Number.isFinite(psnr(a, 0, b, 0, outside('top-left'))));
});

test('pipeline at tiny settings: train 2 steps, probe, edit, pictures', () => {
  const { model, losses } = trainModel({ ...MODEL, dim: 24, numHeads: 4, doubleBlocks: 1, singleBlocks: 1, axesDim: [2, 2, 2] }, { steps: 2, batch: 2, lr: 1e-3, seed: 0 }, null);
  assert.is(losses.length, 2);
  assert.ok(losses.every(Number.isFinite));
  const a = analyse(model, { steps: 2, batch: 2, lr: 1e-3, seed: 0, dim: 24, sampleSteps: 1, probePrompts: 1, editCases: 2, editLayers: 1, evalPrompts: 2 });
  assert.equal(a.probe.layers, [0, 1]);
  assert.is(a.probe.psnr[0]!.length, 4);
  assert.equal([...a.probe.ranking].sort(), [0, 1]);
  assert.equal(a.edit.map((r) => r.name), ['regenerate (no injection)', 'position-dependent layers', 'position-independent layers', 'all layers']);
  assert.ok(a.edit.every((r) => Number.isFinite(r.preserved) && r.added >= 0 && r.added <= 1));
  assert.ok(['MET', 'NOT MET'].includes(a.met.verdict));
  const svg = heatmapSvg(a.probeResult, ['a', 'b', 'c', 'd'], ['l0', 'l1']);
  assert.ok(svg.startsWith('<svg') && svg.includes('l1') && svg.endsWith('</svg>'));
  assert.ok(imagesSvg([{ label: 'x', images: a.source }], 't').includes('<rect'));
});


test('spearman: ±1 for monotone, known value for a permutation, ties averaged', () => {
  assert.is(spearman([0, 1, 2, 3, 4, 5], [1, 2, 5, 7, 8, 20]), 1);
  assert.is(spearman([0, 1, 2, 3, 4, 5], [9, 7, 5, 3, 2, 1]), -1);
  // one adjacent swap of 6: 1 − 6·2/(6·35)
  assert.ok(Math.abs(spearman([0, 1, 2, 3, 4, 5], [1, 3, 2, 4, 5, 6]) - (1 - 12 / 210)) < 1e-12);
  assert.ok(Math.abs(spearman([0, 1, 2, 3], [1, 2, 2, 3]) - Math.sqrt(0.9)) < 1e-12, 'a tie in the middle: ranks 0, 1.5, 1.5, 3');
  assert.is(spearman([0, 1, 2], [4, 4, 4]), 0);
});

test('rmsOfPsnr: RMS change of a PSNR at range 2', () => {
  assert.ok(Math.abs(rmsOfPsnr(10 * Math.log10(4 / 0.01)) - 0.1) < 1e-12);
  assert.is(rmsOfPsnr(Infinity), 0);
});

test('judgeProbe: non-monotone and heterogeneous in every seed → reproduced; a monotone seed or a failed control → not', () => {
  const run = (seed: number, sensitivity: number[], found = 0.9): ProbeSeedRun => ({
    seed, finalLoss: 0.1, found, psnr: [], sensitivity, spearman: spearman([0, 1, 2, 3, 4, 5], sensitivity), spread: Math.max(...sensitivity) / Math.min(...sensitivity),
  });
  const bumpy = [1, 2, 3].map((s) => run(s, [0.1, 0.5, 0.05, 0.4, 0.1, 0.3 + s / 1000]));
  assert.is(judgeProbe(bumpy).verdict, 'reproduced');
  assert.is(judgeProbe([1, 2, 3].map((s) => run(s, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6 + s / 1000]))).verdict, 'not reproduced');
  assert.is(judgeProbe([1, 2, 3].map((s) => run(s, [0.6 + s / 1000, 0.5, 0.4, 0.3, 0.2, 0.1]))).verdict, 'not reproduced', 'monotone falling is monotone too');
  const blind = judgeProbe([1, 2, 3].map((s) => run(s, [0.1, 0.5, 0.05, 0.4, 0.1, 0.3], 0.2)));
  assert.is(blind.verdict, 'not reproduced');
  assert.match(blind.reason, /positive control failed/);
});

test('reproduction --quick: a well-formed result (fields, finite numbers, a sensitivity per layer, the SVG)', async () => {
  const r = await reproduction.run({ quick: true, progress: () => {} });
  assert.is(reproduction.name, 'freeflux');
  for (const field of [r.summary, r.reason, r.table, reproduction.claim, reproduction.setup, reproduction.criterion, reproduction.falsifier]) assert.ok(field.length > 20);
  const data = r.data as { runs: ProbeSeedRun[] };
  assert.is(data.runs.length, 3);
  for (const run of data.runs) {
    assert.is(run.sensitivity.length, 2);
    assert.ok(run.sensitivity.every((v) => Number.isFinite(v) && v >= 0) && Math.abs(run.spearman) <= 1 && run.found >= 0 && run.found <= 1);
  }
  assert.match(r.table, /positive control/);
  assertWellFormedSvg(r.svg!);
});

test.run();
