/**
 * scripts/experiments/prope-frequency.ts (issue 17, protocol #3, Round and Round / p-RoPE): the recall generator
 * (every QUERY k v has exactly one earlier MARK k v at exactly the requested distance; keys never in the filler; blocks
 * disjoint), the Gemma-regime base (424 for d 32 at L 256; the spec's 370 is that regime rounded to 1 rad), the arms' frequency tables (0.75-reversed
 * drops exactly the pairs 0.75-RoPE keeps fastest), the Part A measurements (chunk norms, the frequency index, head
 * typing, the attention maps against the layer's own forward, the repeated-token probe: NoPE is exactly uniform), the
 * exact Mann–Whitney test against enumeration, recall scoring, the verdict rules, and the --quick run.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator, Tensor, noGrad } from '../../core/index.js';
import { GPT } from '../../models/gpt.js';
import { MultiHeadAttention } from '../../nn/attention.js';
import { ropeInvFreq, pRopeInvFreq, RoPE } from '../../positional/index.js';
import {
  ARMS, CONTROL_THRESHOLD, FULL, GEMMA_CONTEXT_PER_WAVELENGTH, RECALL_BLOCK, RECALL_VOCAB, armEncoding, chunkNorms, classifyHead, frequencyIndex,
  gemmaRegimeBase, judge, layerAttention, mannWhitneyLess, probeOffsetMass, repeatedTokenProbe, reproduction, reversedInvFreq,
  scoreRecall, type Arm, type ArmRun, type HeadReport, type Settings,
} from '../../scripts/experiments/prope-frequency.js';
import { MarkovText, TOY_VOCAB, multiQueryEpisode, type MultiQueryOptions } from '../../scripts/lib/toy-data.js';

/** This experiment's recall episodes: one value digit per block, keys of their own (never in the filler). */
const recall = (o: Omit<MultiQueryOptions, 'values' | 'firstKey'>) => multiQueryEpisode({ ...o, values: 1, firstKey: RECALL_VOCAB.firstKey });
import { fcParams } from '../helpers/fc.js';
import { assertWellFormedSvg } from '../helpers/svg.js';

const text = new MarkovText();

test('multiQueryEpisode with one value and keys of their own (this experiment\'s recall): each QUERY k v has exactly one earlier MARK k v at the requested distance; keys never in the filler; blocks disjoint', () => {
  fc.assert(fc.property(fc.integer({ min: 24, max: 160 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 2 ** 30 }), (length, wanted, at, seed) => {
    const pairs = Math.min(wanted, Math.floor(length / 14)) || 1; // room for every pair however the earlier ones fall
    const longest = length - RECALL_BLOCK - 1;
    const controlled = RECALL_BLOCK + (at % (longest - RECALL_BLOCK + 1));
    const e = recall({ length, pairs, distances: [controlled], generator: new Generator(seed), text });
    const x = e.tokens;
    assert.is(x.length, length);
    assert.is(x[0], TOY_VOCAB.BOS);
    assert.is(e.queries.length, pairs);
    assert.is(e.queries[0]!.distance, controlled, 'the controlled distance as requested');
    assert.is(new Set(e.queries.map((q) => q.key)).size, pairs, 'distinct keys');
    const covered = new Uint8Array(length);
    for (const q of e.queries) {
      assert.is(q.queryPosition - q.markPosition, q.distance);
      assert.ok(q.key >= RECALL_VOCAB.firstKey && q.key < RECALL_VOCAB.size, 'a key token of its own');
      assert.ok(q.values[0] >= TOY_VOCAB.firstDigit && q.values[0] < TOY_VOCAB.firstDigit + TOY_VOCAB.digits, 'a digit value');
      assert.equal(Array.from(x.subarray(q.markPosition, q.markPosition + RECALL_BLOCK)), [TOY_VOCAB.MARK, q.key, q.values[0]]);
      assert.equal(Array.from(x.subarray(q.queryPosition, q.queryPosition + RECALL_BLOCK)), [TOY_VOCAB.QUERY, q.key, q.values[0]]);
      assert.is(q.answerPositions[0]!, q.queryPosition + 2);
      assert.is(x[q.answerPositions[0]!], q.values[0]);
      for (const start of [q.markPosition, q.queryPosition]) {
        for (let i = start; i < start + RECALL_BLOCK; i++) {
          assert.is(covered[i], 0, `blocks overlap at ${i}`);
          covered[i] = 1;
        }
      }
      // the key occurs exactly twice: once marked before the query, once in the query (never in the filler)
      assert.equal(Array.from(x.keys()).filter((i) => x[i] === q.key), [q.markPosition + 1, q.queryPosition + 1]);
    }
    for (let i = 1; i < length; i++) if (covered[i] === 0) assert.ok(x[i]! < TOY_VOCAB.letters, `filler at ${i} is a letter`);
  }), fcParams(200));
});

test('multiQueryEpisode with one value and keys of their own (this experiment\'s recall): drawn distances cover [3, maxDistance]; refusals', () => {
  const g = new Generator(3);
  const seen = new Set<number>();
  for (let i = 0; i < 300; i++) for (const q of recall({ length: 33, pairs: 3, generator: g, text }).queries) seen.add(q.distance);
  for (let d = RECALL_BLOCK; d <= 29; d++) assert.ok(seen.has(d), `distance ${d} drawn`);
  for (const q of recall({ length: 200, pairs: 4, maxDistance: 20, distances: [150], generator: g, text }).queries.slice(1)) assert.ok(q.distance <= 20);
  assert.throws(() => recall({ length: 33, pairs: 1, distances: [30], generator: g, text }), /distances must be integers in \[3, 29\]/);
  assert.throws(() => recall({ length: 33, pairs: 1, distances: [2], generator: g, text }), /distances/);
  assert.throws(() => recall({ length: 33, pairs: 17, generator: g, text }), /pairs 1–16/);
  assert.throws(() => recall({ length: 14, pairs: 2, distances: [9, 9], generator: g, text }), /no room for pair 1/);
});

test('gemmaRegimeBase: 424 for d_head 32 at L = 256 (the spec rounds the regime to 1 rad: 370); the slowest pair turns Gemma-7B\'s 0.88 rad over the context', () => {
  // 0.88 rad exactly gives 424; the spec's 370 is the same regime rounded to 1 rad (370^(−30/32)·256 ≈ 1.00)
  assert.ok(Math.abs(gemmaRegimeBase(32, 256) - 424.5) < 0.5, `${gemmaRegimeBase(32, 256)}`);
  assert.ok(Math.abs(ropeInvFreq(32, 370).at(-1)! * 256 - 1) < 0.01);
  for (const [d, L] of [[16, 64], [32, 256], [8, 32]] as const) {
    const slowest = ropeInvFreq(d, gemmaRegimeBase(d, L)).at(-1)!;
    const gemma = 8192 * Math.pow(10000, -254 / 256);
    assert.ok(Math.abs(slowest * L - gemma) < 1e-9, `d ${d}, L ${L}: ${slowest * L} vs ${gemma}`);
  }
  assert.ok(Math.abs(2 * Math.PI * GEMMA_CONTEXT_PER_WAVELENGTH - 0.88) < 0.01);
  assert.throws(() => gemmaRegimeBase(15, 64), /even integer/);
});

test('arm tables: p-RoPE keeps the fastest pairs, 0.75-reversed the slowest; their dropped pairs are complementary quarters', () => {
  const d = 16;
  const base = 134;
  const rope = ropeInvFreq(d, base);
  const rev = reversedInvFreq(d, 0.75, base);
  const p75 = pRopeInvFreq(d, 0.75, { base });
  assert.equal(Array.from(rev), [0, 0, ...Array.from(rope.subarray(2))]);
  assert.equal(Array.from(p75), [...Array.from(rope.subarray(0, 6)), 0, 0]);
  const invFreqOf = (arm: Arm): number[] => {
    const enc = armEncoding(arm, d, base);
    return enc instanceof RoPE ? Array.from(enc.invFreq) : new Array<number>(d / 2).fill(0);
  };
  assert.equal(invFreqOf('p=1'), Array.from(rope));
  assert.equal(invFreqOf('p=0.75-rev'), Array.from(rev));
  assert.equal(invFreqOf('p=0.25').filter((f) => f > 0).length, 2);
  assert.equal(invFreqOf('p=0.5').filter((f) => f > 0).length, 4);
  assert.equal(invFreqOf('NoPE').filter((f) => f > 0).length, 0);
  assert.is(ARMS.length, 6);
});

test('chunkNorms and frequencyIndex: pair i is channels (i, i + d/2); f̄ is the usage-weighted pair index', () => {
  // one head, d 4 (pairs (0, 2) and (1, 3)), two positions: |(3, 4)| = 5 and |(0, 1)| = 1; then |(0, 0)| and |(6, 8)| = 10
  const x = new Tensor(Float64Array.from([3, 0, 4, 1, 0, 6, 0, 8]), [1, 1, 2, 4]);
  assert.equal(chunkNorms(x), [[2.5, 5.5]]);
  assert.is(frequencyIndex([1, 1, 1, 1], [1, 1, 1, 1]), 1.5, 'uniform → (d/2 − 1)/2');
  assert.is(frequencyIndex([1, 0, 0], [2, 5, 5]), 0);
  assert.is(frequencyIndex([1, 1], [1, 3]), 0.75);
});

test('classifyHead: thresholds 70 % at one offset, 50 % on the matching MARK block; both → both', () => {
  assert.is(classifyHead(0.7, 0.1), 'positional');
  assert.is(classifyHead(0.69, 0.5), 'semantic');
  assert.is(classifyHead(0.9, 0.6), 'both');
  assert.is(classifyHead(0.2, 0.49), 'other');
});

test('mannWhitneyLess: exact one-sided p against enumeration of every split', () => {
  assert.equal(mannWhitneyLess([1, 2, 3], [4, 5, 6]), { u: 0, p: 1 / 20 });
  assert.is(mannWhitneyLess([4, 5, 6], [1, 2, 3]).p, 1);
  fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 2 ** 30 }), (m, n, seed) => {
    const g = new Generator(seed);
    const values = Array.from({ length: m + n }, (_, i) => i + g.random() * 0.5);
    for (let i = values.length - 1; i > 0; i--) {
      const j = g.int(0, i + 1);
      [values[i], values[j]] = [values[j]!, values[i]!];
    }
    const x = values.slice(0, m);
    const y = values.slice(m);
    const { u, p } = mannWhitneyLess(x, y);
    // enumerate which m of the m + n ranks are x's
    let below = 0;
    let total = 0;
    const ranks = Array.from({ length: m + n }, (_, i) => i);
    const choose = (start: number, picked: number[]): void => {
      if (picked.length === m) {
        const rest = ranks.filter((r) => !picked.includes(r));
        let v = 0;
        for (const a of picked) for (const b of rest) if (a > b) v++;
        total++;
        if (v <= u) below++;
        return;
      }
      for (let r = start; r < m + n; r++) choose(r + 1, [...picked, r]);
    };
    choose(0, []);
    assert.ok(Math.abs(p - below / total) < 1e-12, `m ${m}, n ${n}: ${p} vs ${below / total}`);
  }), fcParams(40));
});

const tiny = (positional: 'rope' | 'nope'): GPT => {
  const model = new GPT({ vocabSize: RECALL_VOCAB.size, contextLength: 16, dim: 16, numLayers: 2, numHeads: 2, seed: 5, positional: 'nope' });
  model.setPositional(armEncoding(positional === 'rope' ? 'p=1' : 'NoPE', 8, 40));
  return model;
};

test('layerAttention: its probabilities, applied to v, give each layer\'s own forward; causal rows sum to 1', () => {
  const model = tiny('rope');
  // sharpen the attention (at init the logits are ≈ 0 and any scale would pass)
  for (const block of model.blocks) {
    const attn = block.attn as MultiHeadAttention;
    for (const w of [attn.wq.weight, attn.wk.weight]) for (let i = 0; i < w.data.length; i++) w.data[i] = 30 * w.data[i]!;
  }
  const e = recall({ length: 16, pairs: 2, generator: new Generator(2), text });
  const ids = new Tensor(Float64Array.from(e.tokens), [1, 16]);
  const layers = layerAttention(model, ids);
  noGrad(() => {
    let x = model.wte.forward(ids);
    model.blocks.forEach((block, i) => {
      const { probs, v } = layers[i]!;
      const [, H, T, D] = v.shape as [number, number, number, number];
      for (let h = 0; h < H; h++) {
        for (let t = 0; t < T; t++) {
          let s = 0;
          for (let j = 0; j < T; j++) {
            const p = probs.data[(h * T + t) * T + j]!;
            if (j > t) assert.is(p, 0, 'causal');
            s += p;
          }
          assert.ok(Math.abs(s - 1) < 1e-5);
        }
      }
      const mixed = new Tensor(probs.data, probs.shape).matmul(v).transpose(1, 2).reshape([1, T, H * D]);
      const expected = block.attn.forward(block.norm1.forward(x));
      const got = (block.attn as { wo: { forward(x: Tensor): Tensor } }).wo.forward(mixed);
      for (let k = 0; k < expected.size; k++) assert.ok(Math.abs(expected.data[k]! - got.data[k]!) < 1e-4, `layer ${i}`);
      x = block.forward(x);
    });
  });
});

test('repeated-token probe (Prop. 5.2): NoPE attends uniformly, so its offset −1 mass is exactly mean 1/(t + 1)', () => {
  const T = 12;
  const uniform = Array.from({ length: T - 1 }, (_, i) => 1 / (i + 2)).reduce((a, b) => a + b, 0) / (T - 1);
  assert.ok(Math.abs(probeOffsetMass(tiny('nope'), T) - uniform) < 1e-6);
  assert.equal(Array.from(repeatedTokenProbe(4, 7)), [7, 7, 7, 7]);
});

test('scoreRecall: a next-token predictor scores every query, one that repeats the current token none', () => {
  const T = 40;
  const episodes = Array.from({ length: 5 }, (_, i) => recall({ length: T + 1, pairs: 2, distances: [10 + i], generator: new Generator(i), text }));
  const next = new Int32Array(5 * T);
  const same = new Int32Array(5 * T);
  episodes.forEach((e, b) => {
    for (let t = 0; t < T; t++) {
      next[b * T + t] = e.tokens[t + 1]!;
      same[b * T + t] = e.tokens[t]!;
    }
  });
  const queries = episodes.map((e) => e.queries[0]!);
  assert.is(scoreRecall(next, T, queries), 5);
  assert.is(scoreRecall(same, T, queries), 0);
});

// ── the verdict ──

const settings: Settings = { ...FULL, seeds: 3, evalMultiples: [1, 2], evalDistances: [8, 100] };
const cells = [{ multiple: 1, length: 64, distance: 8 }, { multiple: 2, length: 128, distance: 8 }, { multiple: 2, length: 128, distance: 100 }];
const head = (layer: number, type: HeadReport['type'], fq: number): HeadReport => ({
  layer, head: 0, type, offsetMass: type === 'positional' ? 0.9 : 0.1, offset: 1, markMass: type === 'semantic' ? 0.8 : 0, fq, fv: 3.5, profile: [1, 1, 1, 1, 1, 1, 1, 1],
});
const run = (arm: Arm, seed: number, beyond: number, atTrain = 0.95, textLoss = 2): ArmRun => ({
  arm, seed, textLoss: arm === 'p=0.75-rev' ? textLoss + 0.05 : textLoss, accuracy: [atTrain, atTrain, beyond], beyond, atTrain, nearLong: atTrain, probeMass: arm === 'NoPE' ? 0.3 : 0.95,
  heads: arm === 'p=1' ? [head(0, 'positional', 1 + seed * 0.1), head(1, 'semantic', 5 + seed * 0.1), head(1, 'other', 3)] : [], finalTrainLoss: 1, seconds: 1,
});
const runsWith = (beyond: (arm: Arm, seed: number) => number, atTrain = 0.95): ArmRun[] => [1, 2, 3].flatMap((s) => ARMS.map((a) => run(a, s, beyond(a, s), atTrain)));

test('the verdict: the headline by judgeOrdering (0.75 > 1 beyond T), not reproduced when the control fails; the secondary checks', () => {
  const good = judge(settings, 16, 134, 0.9, cells, runsWith((a, s) => (a === 'p=0.75' ? 0.8 : 0.4) + s * 0.01));
  assert.is(good.verdict, 'reproduced');
  assert.ok(good.control.passed);
  assert.is(good.partA.counts.positional, 3);
  assert.is(good.partA.verdict, 'reproduced', good.partA.reason);
  assert.ok(good.probe.passed);
  assert.is(good.local.verdict, 'reproduced');
  assert.ok(good.textFlat);
  assert.is(judge(settings, 16, 134, 0.9, cells, runsWith((a) => (a === 'p=0.75' ? 0.4 : 0.5))).verdict, 'not reproduced', 'RoPE ahead');
  const weak = judge(settings, 16, 134, 0.9, cells, runsWith((a) => (a === 'p=0.75' ? 0.8 : 0.4), CONTROL_THRESHOLD - 0.01));
  assert.is(weak.verdict, 'not reproduced');
  assert.match(weak.reason, /positive control failed/);
  const halfLearned = runsWith((a) => (a === 'p=0.75' ? 0.8 : 0.4)).map((r) => (r.arm === 'p=0.75' && r.seed === 2 ? { ...r, atTrain: 0.5 } : r));
  assert.is(judge(settings, 16, 134, 0.9, cells, halfLearned).verdict, 'not reproduced', 'the control covers both headline arms');
  const noisy = judge(settings, 16, 134, 0.9, cells, runsWith((a, s) => (a === 'p=0.75' ? 0.5 + 0.2 * s : 0.6)));
  assert.is(noisy.verdict, 'partly', 'in order on average only');
});

test('--quick: the reproduction runs in seconds and returns a well-formed result', async () => {
  let calls = 0;
  let lastDone = 0;
  let lastTotal = 0;
  const res = await reproduction.run({ quick: true, progress: (done, total) => ((calls += 1), (lastDone = done), (lastTotal = total)) });
  assert.is(reproduction.name, 'prope-frequency');
  for (const field of [reproduction.claim, reproduction.setup, reproduction.criterion, reproduction.falsifier]) assert.ok(field.length > 40 && !field.includes('TODO'));
  assert.ok(calls > 0 && lastDone === lastTotal && lastTotal > 0, 'progress reaches its total');
  assert.ok(['reproduced', 'partly', 'not reproduced'].includes(res.verdict));
  assert.ok(res.summary.length > 0 && res.reason.length > 0);
  assert.match(res.table, /\| arm \| text loss @T \|/);
  const data = res.data as { runs: ArmRun[]; cells: unknown[]; settings: Settings };
  assert.is(data.runs.length, ARMS.length * data.settings.seeds);
  for (const r of data.runs) {
    assert.ok(Number.isFinite(r.textLoss) && r.textLoss > 0, 'finite text loss');
    assert.ok(r.accuracy.length === data.cells.length && r.accuracy.every((a) => a >= 0 && a <= 1));
    for (const v of [r.beyond, r.atTrain, r.nearLong, r.probeMass]) assert.ok(Number.isFinite(v) && v >= 0 && v <= 1);
    assert.is(r.heads.length, r.arm === 'p=1' ? data.settings.layers * data.settings.heads : 0);
    for (const h of r.heads) assert.ok(Number.isFinite(h.fq) && Number.isFinite(h.fv) && h.profile.length === data.settings.dim / data.settings.heads / 2);
  }
  assert.ok(res.svg !== null, 'a chart');
  assertWellFormedSvg(res.svg);
  assert.ok(JSON.parse(JSON.stringify(res.data)) !== null, 'the data serialises');
});

test.run();
