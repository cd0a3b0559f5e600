/**
 * scripts/experiments/mla-spectrum.ts, smoke level: for each variant (MHA, MLA-PreRoPE, MLA-Decoupled) on an
 * untrained tiny model, one checkpoint's diagnostics run against a fresh-model baseline and come out sane — finite,
 * ranks within their bounds, no spikes for one of the baseline's own draws; plus the rank bounds, the
 * persistence rule, the verdict's logic and flag parsing. Importing the script must not run its main.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator, Tensor } from '../../core/index.js';
import { MLALM } from '../../models/index.js';
import {
  VARIANTS, buildModel, checkpointDiagnostics, freshBaselines, latentScales, layerRankBound, modelSpectra, parseFlags, persistence, verdict,
  type LayerSummary, type ModelSizes, type Variant,
} from '../../scripts/experiments/mla-spectrum.js';

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
  test(`${variant}: one checkpoint of an untrained tiny model against a fresh-model baseline, taken the same way`, () => {
    const p = probe();
    const baselines = freshBaselines(variant, sizes, 3, 100, p);
    const model = buildModel(variant, sizes, 101); // one of the baseline's own draws: below its threshold by construction
    const spectra = modelSpectra(model, variant, sizes, p);
    assert.is(spectra.length, 2);
    assert.is(spectra[0]!.layer.p, layerRankBound(variant, sizes));
    assert.is(spectra[0]!.heads.length, 2);
    const layers = checkpointDiagnostics(model, variant, sizes, baselines, 0, p);
    assert.is(layers.length, 2);
    for (const l of layers) {
      assert.is(l.step, 0);
      assert.ok(l.diag.calibrated);
      assert.is(l.diag.spikes, 0, 'a baseline draw has no spike above the threshold (max ratio × 1.25)');
      assert.ok(l.diag.effectiveRank > 1 && l.diag.effectiveRank <= layerRankBound(variant, sizes) + 1e-9);
      assert.ok(Number.isFinite(l.relEffectiveRank) && l.relEffectiveRank > 0.5 && l.relEffectiveRank < 1.5);
      assert.ok(l.diag.stableRank >= 1 && Number.isFinite(l.diag.stableRank));
      assert.is(l.heads.length, 2);
      assert.ok(l.headSpikes >= 0 && l.spikyHeads <= 2);
      assert.ok(l.diag.baselineKsDistance !== null && l.diag.baselineKsDistance >= 0 && l.diag.baselineKsDistance <= 1);
    }
  });
}

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

test('verdict: reproduces only when MHA and PreRoPE spike persistently, Decoupled does not, and Decoupled keeps clearly more rank', () => {
  const row = (variant: Variant, spiky: boolean, effRankChange: number, headEffRankChange = effRankChange): LayerSummary => {
    const p = { onsetStep: spiky ? 10 : null, span: spiky ? 5 : 0, persistent: spiky };
    return {
      variant, layer: 0, layerSpikes: p, headSpikes: p, finalSpikes: spiky ? 2 : 0, finalHeadSpikes: 0, finalOutlierMass: 0,
      effRankChange, stableRankChange: 1, headEffRankChange, finalRelEffRank: effRankChange,
    };
  };
  assert.ok(verdict([row('mha', true, 0.5), row('mla-prerope', true, 0.4), row('mla-decoupled', false, 0.9)]).reproduces);
  const partial = verdict([row('mha', true, 0.5), row('mla-prerope', true, 0.4), row('mla-decoupled', true, 0.9)]);
  assert.not.ok(partial.reproduces);
  assert.not.ok(partial.spikesReproduce);
  assert.ok(partial.rankReproduces);
  assert.match(partial.text, /common to the three/);
  // a few percent more rank is not "broad support"; nor is a layer-level lead the heads contradict
  assert.not.ok(verdict([row('mha', true, 0.5), row('mla-prerope', true, 0.4), row('mla-decoupled', false, 0.55)]).rankReproduces);
  assert.not.ok(verdict([row('mha', true, 0.5), row('mla-prerope', true, 0.4), row('mla-decoupled', false, 0.9, 0.3)]).rankReproduces);
  assert.not.ok(verdict([row('mha', false, 0.5), row('mla-prerope', false, 0.4), row('mla-decoupled', false, 0.3)]).reproduces);
});

test('flags: defaults, overrides, --help, and errors', () => {
  assert.equal(parseFlags([]), { steps: 200, every: 20, seed: 0, lr: 3e-3, rawMaps: false });
  assert.equal(parseFlags(['--steps', '40', '--every', '5', '--seed', '3', '--lr', '5e-4', '--raw-maps']), { steps: 40, every: 5, seed: 3, lr: 5e-4, rawMaps: true });
  assert.is(parseFlags(['--help']), 'help');
  assert.throws(() => parseFlags(['--steps', '0']), /integer ≥ 1/);
  assert.throws(() => parseFlags(['--lr', '-1']), /number > 0/);
  assert.throws(() => parseFlags(['--bogus', '1']), /unknown flag/);
});

test.run();
