/**
 * scripts/experiments/psc-calibration.ts (issue 17, spec §7): the LoRA wrapper (starts as the base layer, float64
 * gradcheck, base frozen), the capacity match (the control's LoRA has exactly LoRA + PSC's trainable parameters), the
 * PSC arm starting as the plain arm, the extension tables (PI θ/s; YaRN keeps the fast pairs and divides the slow
 * ones, temperature 0.1·ln s + 1), G1's first-order entropy (exact for a uniform chain, matches a long sample), the
 * pre-registered verdict rule on made-up runs, and `reproduction.run({ quick: true })` end to end. Importing the
 * script must not run its main.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator, Tensor } from '../../core/index.js';
import { GPT } from '../../models/gpt.js';
import { PSCRoPE } from '../../positional/psc.js';
import { invFreqLadder } from '../../positional/rope.js';
import {
  ARMS, DEFAULT_FLAGS, METHODS, QUICK_FLAGS, addLoRA, assemble, chart, firstOrderEntropy, formatTable, loraParameters, matchedRank,
  methodEncoding, pscParameters, relativeReduction, reproduction, textBatch, type Arm, type Method, type SeedRun,
} from '../../scripts/experiments/psc-calibration.js';
import { MarkovText, TOY_VOCAB } from '../../scripts/lib/toy-data.js';
import { assertWellFormedSvg } from '../helpers/svg.js';

test('the capacity control: LoRA at matchedRank has exactly the trainable parameters of LoRA + PSC (counted on the model)', () => {
  for (const [dim, heads, layers, rank] of [[64, 4, 2, 4], [32, 2, 1, 2], [16, 2, 1, 4]] as const) {
    const config = { vocabSize: TOY_VOCAB.size, contextLength: 16, dim, numLayers: layers, numHeads: heads, positional: 'rope', ropeBase: 100, seed: 1 };
    const headDim = dim / heads;
    const r = matchedRank(layers, dim, heads, rank);
    assert.ok(Number.isInteger(r) && r > rank);
    const withPsc = new GPT(config);
    const small = addLoRA(withPsc, rank, 4, new Generator(1));
    withPsc.setPositional(() => new PSCRoPE(methodEncoding('pi', headDim, 100, 16, 2), { numHeads: heads, headDim }));
    const psc = withPsc.blocks.flatMap((b) => b.attn.positional.parameters());
    const count = (ps: readonly Tensor[]): number => ps.reduce((n, p) => n + p.size, 0);
    assert.is(count(small), loraParameters(layers, dim, rank));
    assert.is(count(psc), pscParameters(layers, heads, headDim));
    const matched = addLoRA(new GPT(config), r, 4, new Generator(1));
    assert.is(count(matched), count(small) + count(psc), `dim ${dim}, ${heads} heads, ${layers} layers, r ${rank} → ${r}`);
    // only the adapters (and the PSC gates) require grad
    const trainable = withPsc.parameters().filter((p) => p.requiresGrad);
    assert.is(count(trainable), count(small) + count(psc));
  }
  assert.is(matchedRank(2, 64, 4, 4), 12, 'the run: r = 4 + PSC ≙ r = 12');
});

test('a fresh LoRA + PSC model computes what the fresh LoRA model computes (PSC\'s U = 0 at init), at the extended length', () => {
  const config = { vocabSize: TOY_VOCAB.size, contextLength: 16, dim: 16, numLayers: 2, numHeads: 2, positional: 'rope', ropeBase: 100, seed: 4 };
  const ids = textBatch(2, 48, new Generator(9), new MarkovText()).ids;
  for (const method of METHODS) {
    const plain = new GPT(config);
    addLoRA(plain, 4, 4, new Generator(2));
    plain.setPositional(methodEncoding(method, 8, 100, 16, 3));
    const psc = new GPT(config);
    addLoRA(psc, 4, 4, new Generator(2));
    psc.setPositional(() => new PSCRoPE(methodEncoding(method, 8, 100, 16, 3), { numHeads: 2, headDim: 8, generator: new Generator(3) }));
    assert.equal([...psc.forward(ids).data], [...plain.forward(ids).data], method);
  }
});

test('methodEncoding: PI divides every θ_i by s; YaRN (α = 1, β = 4) keeps the fast pairs, divides the slow ones, temperature 0.1·ln s + 1', () => {
  const d = 16;
  const b = 273;
  const L = 64;
  const theta = invFreqLadder(d, b);
  for (const s of [2, 4, 8]) {
    const pi = methodEncoding('pi', d, b, L, s);
    assert.ok(pi.invFreq.every((v, i) => Math.abs(v - theta[i]! / s) < 1e-12 * theta[i]!), `PI ×${s}`);
    const yarn = methodEncoding('yarn', d, b, L, s);
    theta.forEach((t, i) => {
      const r = L / ((2 * Math.PI) / t); // rotations of pair i over L
      const v = yarn.invFreq[i]!;
      if (r > 4) assert.ok(Math.abs(v - t) < 1e-12 * t, `YaRN ×${s}: pair ${i} (r = ${r.toFixed(2)}) kept`);
      else if (r < 1) assert.ok(Math.abs(v - t / s) < 1e-12 * t, `YaRN ×${s}: pair ${i} (r = ${r.toFixed(2)}) interpolated`);
      else assert.ok(v < t && v > t / s, `YaRN ×${s}: pair ${i} (r = ${r.toFixed(2)}) blended`);
    });
    assert.ok(Math.abs(yarn.attentionFactor - (0.1 * Math.log(s) + 1)) < 1e-12, `temperature ×${s}`);
    assert.is(pi.attentionFactor, 1);
  }
});

test('firstOrderEntropy: ln 48 for a uniform chain, between the order-2 floor and ln 48 for G1, and the entropy of a long sample', () => {
  const uniform = new MarkovText({ probs: new Array<number>(TOY_VOCAB.letters).fill(1 / TOY_VOCAB.letters) });
  assert.ok(Math.abs(firstOrderEntropy(uniform) - Math.log(TOY_VOCAB.letters)) < 1e-9);
  const text = new MarkovText();
  const h1 = firstOrderEntropy(text);
  assert.ok(h1 > text.entropyRate + 1 && h1 < Math.log(TOY_VOCAB.letters), `H1 = ${h1}`);
  // empirical H(c | b) over 400k transitions of the chain (the estimate's bias ~ (states)/(2n) ≈ 0.01 nats)
  const x = text.sample(400_000, new Generator(11));
  const V = TOY_VOCAB.letters;
  const pairs = new Float64Array(V * V);
  for (let t = 1000; t < x.length; t++) pairs[x[t - 1]! * V + x[t]!]!++;
  const n = x.length - 1000;
  let h = 0;
  for (let bb = 0; bb < V; bb++) {
    let row = 0;
    for (let c = 0; c < V; c++) row += pairs[bb * V + c]!;
    for (let c = 0; c < V; c++) {
      const k = pairs[bb * V + c]!;
      if (k > 0) h -= (k / n) * Math.log(k / row);
    }
  }
  assert.ok(Math.abs(h - h1) < 0.03, `sample ${h.toFixed(4)} vs computed ${h1.toFixed(4)}`);
});

test('relativeReduction: 1 − ppl ratio', () => {
  assert.is(relativeReduction(1, 1), 0);
  assert.ok(Math.abs(relativeReduction(1, 1 + Math.log(2)) - 0.5) < 1e-12);
  assert.ok(relativeReduction(2, 1) < 0);
});

/** Made-up runs: lora+psc = lora − gain(s), lora-matched = lora − matchedGain, small seed jitter. */
function madeUpRuns(gain: (s: number) => number, matchedGain: number, baseContextual = 1.5, zeroShotGap = 1): SeedRun[] {
  return [0, 1, 2].map((i) => {
    const loss = {} as SeedRun['loss'];
    for (const m of METHODS) {
      loss[m] = {};
      for (const s of [2, 4]) {
        const lora = 2 + 0.1 * s + 0.001 * i;
        loss[m][s] = { zeroShot: lora + zeroShotGap, lora, 'lora+psc': lora - gain(s), 'lora-matched': lora - matchedGain };
      }
    }
    return { seed: i + 1, trainLoss: [4, 1.6], baseLoss: 1.6, baseContextual, loss, seconds: 1 };
  });
}

test('the verdict rule: reproduced when PSC wins at every s against both and ρ grows; the controls and each judgement can fail it', () => {
  const flags = { ...DEFAULT_FLAGS, factors: [2, 4] };
  const trainable = Object.fromEntries(ARMS.map((a) => [a, 1])) as Record<Arm, number>;
  const judge = (runs: SeedRun[]) => assemble(flags, runs, 12, trainable, 1);
  const good = judge(madeUpRuns((s) => 0.05 * s, 0.02));
  assert.is(good.verdict, 'reproduced', good.reason);
  assert.is(Object.keys(good.judgements).length, 10);
  assert.ok(good.controls.passed);
  // ρ shrinking with s
  const shrinking = judge(madeUpRuns((s) => 0.4 / s, 0.02));
  assert.is(shrinking.verdict, 'not reproduced');
  assert.match(shrinking.reason, /ρ grows with s/);
  // no gain over the capacity control
  const capacity = judge(madeUpRuns((s) => 0.05 * s, 0.5));
  assert.is(capacity.verdict, 'not reproduced');
  assert.match(capacity.reason, /lora-matched/);
  // control: the base does not beat the first-order entropy
  const unlearned = judge(madeUpRuns((s) => 0.05 * s, 0.02, 3.6));
  assert.is(unlearned.verdict, 'not reproduced');
  assert.match(unlearned.reason, /positive control failed.*first-order entropy/);
  // control: fine-tuning does not beat zero-shot
  const stuck = judge(madeUpRuns((s) => 0.05 * s, 0.02, 1.5, -0.01));
  assert.is(stuck.verdict, 'not reproduced');
  assert.match(stuck.reason, /positive control failed.*lora < zero-shot/);
  const table = formatTable(good);
  for (const m of ['PI', 'YaRN'] as const) assert.match(table, new RegExp(`\\| ${m} \\| 4 \\(256\\) \\|`));
  assertWellFormedSvg(chart(good));
});

test('reproduction.run({ quick: true }) runs every arm in seconds and returns a well-formed result', async () => {
  const seen: number[] = [];
  const started = performance.now();
  const res = await reproduction.run({ quick: true, progress: (done, total) => seen.push(done / total) });
  assert.ok(performance.now() - started < 10_000, 'seconds');
  assert.is(reproduction.name, 'psc-calibration');
  assert.ok(['reproduced', 'partly', 'not reproduced'].includes(res.verdict));
  assert.ok(res.summary.length > 0 && res.reason.length > 0);
  assert.match(res.table, /\| method \| s \(L′\) \| zero-shot \| lora \| lora\+psc \| lora-matched \|/);
  assertWellFormedSvg(res.svg!);
  assert.ok(seen.length > 0 && seen.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= seen[i - 1]!)), 'progress within [0, 1], never back');
  assert.ok(Math.abs(seen.at(-1)! - 1) < 1e-12, 'progress ends at the total');
  const data = res.data as { runs: SeedRun[]; trainable: Record<Arm, number>; flags: typeof QUICK_FLAGS };
  assert.is(data.runs.length, QUICK_FLAGS.seeds);
  for (const r of data.runs) {
    assert.ok(Number.isFinite(r.baseLoss) && Number.isFinite(r.baseContextual));
    for (const m of METHODS as readonly Method[]) {
      for (const s of QUICK_FLAGS.factors) {
        const row = r.loss[m][s]!;
        for (const key of ['zeroShot', ...ARMS] as const) assert.ok(Number.isFinite(row[key]) && row[key] > 0, `${m} ×${s} ${key}`);
      }
    }
  }
  assert.is(data.trainable['lora-matched'], data.trainable['lora+psc'], 'capacity matched');
  assert.ok(data.trainable.lora < data.trainable['lora+psc']);
});

test.run();
