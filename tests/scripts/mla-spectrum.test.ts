/**
 * scripts/experiments/mla-spectrum.ts, smoke level: for each variant (MHA, MLA-PreRoPE, MLA-Decoupled) on an
 * untrained tiny model, one checkpoint's diagnostics against a fresh-model null come out sane (finite, ranks within
 * their bounds, no spike for one of the null's own draws); a spike planted in one layer is found in that layer only
 * (the detector is layer-local and sees what the null does not); the rank bounds, the persistence rule, the late
 * window, the bigram control's cross-entropy on known inputs, the pre-registered verdict rule, flag parsing; and
 * issue 17's `reproduction.run({ quick: true })` end to end. Importing the script must not run its main.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator, Tensor } from '../../core/index.js';
import { GPT, MLALM } from '../../models/index.js';
import { MultiHeadAttention } from '../../nn/index.js';
import {
  DEFAULT_FLAGS, QUICK_FLAGS, VARIANTS, bigramCrossEntropy, buildModel, checkpointDiagnostics, freshBaselines, judgeReproduction, latentScales, lateCheckpoints,
  layerRankBound, modelSpectra, parseFlags, persistence, reproduction,
  type ModelSizes, type SeedSummary, type Variant,
} from '../../scripts/experiments/mla-spectrum.js';
import { assertWellFormedSvg } from '../helpers/svg.js';

const sizes: ModelSizes = { vocabSize: 11, dim: 16, numLayers: 2, numHeads: 2, context: 8 };

function probe(): Tensor {
  const g = new Generator(3);
  return new Tensor(Float64Array.from({ length: 2 * sizes.context }, () => g.int(0, sizes.vocabSize)), [2, sizes.context]);
}

test('rank bounds of a layer G: MHA full, Decoupled dc + dR, PreRoPE dc (dim 16, 2 heads: dn = dR = 4, dc = 8)', () => {
  assert.is(layerRankBound('mha', sizes), 16);
  assert.is(layerRankBound('mla-decoupled', sizes), 12);
  assert.is(layerRankBound('mla-prerope', sizes), 8);
});

for (const variant of VARIANTS) {
  test(`${variant}: one checkpoint of an untrained tiny model against a fresh-model null, taken the same way`, () => {
    const p = probe();
    const baselines = freshBaselines(variant, sizes, 3, 100, p, 0.01);
    assert.is(baselines.layer.spectra, 3 * sizes.numLayers, 'the null pools every layer of every fresh model');
    assert.ok(baselines.edgeRatio.mean > 0 && baselines.edgeRatio.max >= baselines.edgeRatio.mean);
    const model = buildModel(variant, sizes, 101); // one of the null's own draws: below its threshold by construction
    const spectra = modelSpectra(model, variant, sizes, p);
    assert.is(spectra.length, 2);
    assert.is(spectra[0]!.layer.p, layerRankBound(variant, sizes));
    assert.is(spectra[0]!.heads.length, 2);
    const layers = checkpointDiagnostics(model, variant, sizes, baselines, 0, p);
    assert.is(layers.length, 2);
    for (const l of layers) {
      assert.is(l.step, 0);
      assert.ok(l.diag.calibrated);
      assert.is(l.diag.spikes, 0, 'a null draw has no spike above the threshold');
      assert.ok(l.diag.effectiveRank > 1 && l.diag.effectiveRank <= layerRankBound(variant, sizes) + 1e-9);
      assert.ok(Number.isFinite(l.relEffectiveRank) && l.relEffectiveRank > 0.5 && l.relEffectiveRank < 1.5);
      assert.ok(Number.isFinite(l.relStableRank) && l.relStableRank > 0.3 && l.relStableRank < 3);
      assert.ok(l.edgeRatio > 0 && Number.isFinite(l.edgeRatio) && l.edgeRatio <= baselines.edgeRatio.max + 1e-9);
      assert.ok(l.heads.length === 2 && l.headSpikes >= 0 && l.spikyHeads <= 2);
    }
  });
}

test('a rank-1 spike planted in one layer of a fresh MHA model is found in that layer, not the others', () => {
  const deep: ModelSizes = { vocabSize: 11, dim: 32, numLayers: 3, numHeads: 2, context: 8 };
  const baselines = freshBaselines('mha', deep, 6, 200);
  const model = buildModel('mha', deep, 7);
  assert.ok(model instanceof GPT);
  const clean = checkpointDiagnostics(model, 'mha', deep, baselines, 0);
  assert.equal(clean.map((l) => l.diag.spikes), [0, 0, 0]);
  // W_q ← W_q + a·u wᵀ, W_k ← W_k + a·u wᵀ (u over the output rows, w over d_model): G gains a·a·|u|² w wᵀ, rank 1
  const g = new Generator(5);
  const u = Float64Array.from({ length: 32 }, () => g.normal());
  const w = Float64Array.from({ length: 32 }, () => g.normal());
  const attn = model.blocks[1]!.attn;
  assert.ok(attn instanceof MultiHeadAttention);
  for (const weight of [attn.wq.weight, attn.wk.weight]) {
    for (let i = 0; i < 32; i++) for (let j = 0; j < 32; j++) weight.data[i * 32 + j] += 0.05 * u[i]! * w[j]!;
  }
  const planted = checkpointDiagnostics(model, 'mha', deep, baselines, 0);
  assert.equal(planted.map((l) => l.diag.spikes), [0, 1, 0], 'one spike, in layer 1 only');
  assert.ok(planted[1]!.edgeRatio > baselines.edgeRatio.max, 'beyond anything the null shows at its MP edge');
  assert.ok(planted[1]!.relStableRank < clean[1]!.relStableRank / 2, 'the spike collapses the stable rank');
});

test('latentScales: one positive finite 1/rms per MLA layer, ≈ 1/(0.02·√C) at init', () => {
  const model = buildModel('mla-decoupled', sizes, 0);
  assert.ok(model instanceof MLALM);
  const scales = latentScales(model, probe());
  assert.is(scales.length, 2);
  for (const s of scales) assert.ok(s > 0.3 / (0.02 * 4) && s < 3 / (0.02 * 4), `scale ${s}`);
});

test('persistence: the run of checkpoints with spikes that reaches the end, ignoring step 0', () => {
  const steps = [0, 10, 20, 30, 40, 50];
  assert.equal(persistence(steps, [5, 0, 1, 2, 1, 3]), { onsetStep: 20, span: 4, persistent: true });
  assert.equal(persistence(steps, [0, 1, 1, 1, 0, 1]), { onsetStep: 50, span: 1, persistent: false });
  assert.equal(persistence(steps, [0, 1, 1, 1, 1, 0]), { onsetStep: null, span: 0, persistent: false });
});

test('lateCheckpoints: the checkpoints of the last 20 % of training, never step 0', () => {
  assert.equal(lateCheckpoints([0, 25, 50, 75, 100]), [4], 'step ≥ 80');
  assert.equal(lateCheckpoints(Array.from({ length: 21 }, (_, i) => 25 * i)), [16, 17, 18, 19, 20], 'steps 400–500');
  assert.equal(lateCheckpoints([0, 2, 4]), [2]);
  assert.equal(lateCheckpoints([0]), [0], 'only step 0: itself');
});

test('bigramCrossEntropy: ≈ 0 on a deterministic cycle (unigram ln 3); ≈ ln V for i.i.d. uniform text', () => {
  const cycle = Int32Array.from({ length: 3000 }, (_, i) => i % 3);
  const c = bigramCrossEntropy(cycle, cycle.subarray(0, 300), 3);
  assert.ok(c.bigram < 0.01, `cycle bigram ${c.bigram}`);
  assert.ok(Math.abs(c.unigram - Math.log(3)) < 0.01, `cycle unigram ${c.unigram}`);
  const g = new Generator(1);
  const iid = Int32Array.from({ length: 200000 }, () => g.int(0, 8));
  const r = bigramCrossEntropy(iid.subarray(0, 150000), iid.subarray(150000), 8);
  assert.ok(Math.abs(r.bigram - Math.log(8)) < 0.01 && Math.abs(r.unigram - Math.log(8)) < 0.01, `iid ${r.bigram} ${r.unigram}`);
});

test('the verdict: Decoupled below both others in every seed by a wide margin → reproduced; control, rank and ordering failures', () => {
  const run = (variant: Variant, seed: number, lateSpikes: number, rank: number, valLoss = 2): SeedSummary => ({
    variant, seed, lateSpikes, layerLateSpikes: [lateSpikes], layerOnsets: [null], persistentLayers: 0, lateRelStableRank: rank, finalEdgeRatio: 1,
    finalMpSpikes: 0, initSpikes: 0, spikeCurve: [], rankCurve: [], valLoss, seconds: 0,
  });
  const runs = (dec: number[], mha: number[], pre: number[], rank: { dec: number; other: number } = { dec: 0.9, other: 0.5 }, badLoss = false): SeedSummary[] => [0, 1, 2].flatMap((s) => [
    run('mha', s, mha[s]!, rank.other + 0.01 * s),
    run('mla-prerope', s, pre[s]!, rank.other - 0.01 * s),
    run('mla-decoupled', s, dec[s]!, rank.dec + 0.01 * s, badLoss && s === 1 ? 2.6 : 2),
  ]);
  const ok = judgeReproduction({ runs: runs([0, 0.2, 0], [6, 7, 6.5], [5, 5.5, 6]), bigram: 2.5 });
  assert.is(ok.verdict, 'reproduced');
  assert.ok(ok.controlPassed);
  assert.is(judgeReproduction({ runs: runs([0, 0.2, 0], [6, 7, 6.5], [5, 5.5, 6], undefined, true), bigram: 2.5 }).verdict, 'not reproduced', 'control failed');
  assert.match(judgeReproduction({ runs: runs([0, 0.2, 0], [6, 7, 6.5], [5, 5.5, 6], undefined, true), bigram: 2.5 }).reason, /positive control failed/);
  assert.is(judgeReproduction({ runs: runs([0, 0.2, 0], [6, 7, 6.5], [5, 5.5, 6], { dec: 0.3, other: 0.8 }), bigram: 2.5 }).verdict, 'partly', 'rank contradicted');
  assert.is(judgeReproduction({ runs: runs([6, 6, 7], [6, 7, 6.5], [5, 5.5, 6]), bigram: 2.5 }).verdict, 'not reproduced', 'Decoupled as spiky');
  assert.is(judgeReproduction({ runs: runs([0, 0.2, 0], [6, 7, 6.5], [0.1, 5.5, 6]), bigram: 2.5 }).verdict, 'partly', 'one seed of PreRoPE out of order');
  assert.is(judgeReproduction({ runs: runs([0, 0, 0], [0, 0, 0], [0, 0, 0]), bigram: 2.5 }).verdict, 'not reproduced', 'no spikes anywhere: no ordering');
});

test('flags: defaults, overrides, --quick, --help, and errors', () => {
  assert.equal(parseFlags([]), DEFAULT_FLAGS);
  assert.equal(parseFlags(['--steps', '40', '--every', '5', '--seed', '3', '--lr', '5e-4', '--raw-maps']), { ...DEFAULT_FLAGS, steps: 40, every: 5, seed: 3, lr: 5e-4, rawMaps: true });
  assert.equal(parseFlags(['--quick', '--seeds', '2', '--json']), { ...QUICK_FLAGS, seeds: 2, json: true });
  assert.is(parseFlags(['--help']), 'help');
  assert.throws(() => parseFlags(['--steps', '0']), /integer ≥ 1/);
  assert.throws(() => parseFlags(['--lr', '-1']), /number > 0/);
  assert.throws(() => parseFlags(['--bogus', '1']), /unknown flag/);
  assert.throws(() => parseFlags(['--dim', '24', '--heads', '4']), /multiple of 4/);
});

test('reproduction: --quick runs end to end and returns a well-formed result', async () => {
  assert.is(reproduction.name, 'mla-spectrum');
  for (const field of ['paper', 'claim', 'setup', 'criterion', 'falsifier'] as const) assert.ok(reproduction[field].length > 20, field);
  let last = [0, 0];
  const r = await reproduction.run({ quick: true, progress: (done, total) => (last = [done, total]) });
  assert.equal(last, [3 * 3 * QUICK_FLAGS.steps, 3 * 3 * QUICK_FLAGS.steps]);
  assert.ok(['reproduced', 'partly', 'not reproduced'].includes(r.verdict));
  assert.ok(r.summary.length > 0 && r.reason.length > 0);
  assert.match(r.table, /\| MLA-Decoupled \|/);
  assert.match(r.table, /verdict: /);
  assertWellFormedSvg(r.svg!);
  const data = r.data as { runs: SeedSummary[]; nulls: Array<{ threshold: number }>; bigram: number; checkpoints: unknown[] };
  assert.is(data.runs.length, 9);
  for (const s of data.runs) {
    for (const x of [s.lateSpikes, s.lateRelStableRank, s.finalEdgeRatio, s.valLoss]) assert.ok(Number.isFinite(x), `${s.variant} seed ${s.seed}`);
    assert.is(s.layerLateSpikes.length, QUICK_FLAGS.layers);
    assert.is(s.spikeCurve.length, QUICK_FLAGS.steps / QUICK_FLAGS.every + 1);
  }
  assert.is(data.nulls.length, 3);
  assert.ok(data.nulls.every((n) => n.threshold > 1));
  assert.ok(data.bigram > 0 && data.bigram < Math.log(100));
  assert.is(data.checkpoints.length, 9 * (QUICK_FLAGS.steps / QUICK_FLAGS.every + 1) * QUICK_FLAGS.layers);
  assert.not.throws(() => JSON.stringify(r.data));
});

test.run();
