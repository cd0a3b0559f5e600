/**
 * scripts/experiments/roformer-mlm.ts (issue 17, RoFormer): BERT's masking (what is scored, what the input shows, the
 * 15 % / 80-10-10 rates); the Bayes floor's forward–backward against brute-force enumeration of every sequence the
 * chain allows; the position-averaged unigram against enumeration; gap closure and steps-to-level; the bug check's
 * premise (without positions the encoder cannot tell masked positions apart); the `--quick` reproduction end to end
 * (well-formed result, finite numbers, the SVG well-formed); flags. Importing the script must not run its main.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator, Tensor } from '../../core/index.js';
import {
  ARMS, BERT_MASKING, DEFAULT_FLAGS, FirstOrderMarkovText, IGNORE, MASK, MLMEncoder, QUICK_FLAGS, bayesPosteriors, baselines, checkFlags, gapClosure, makeMLMBatch, parseFlags,
  positionAveragedUnigram, reproduction, stepsTo, type Masking,
} from '../../scripts/experiments/roformer-mlm.js';
import { MarkovText, TOY_VOCAB } from '../../scripts/lib/toy-data.js';
import { fcParams } from '../helpers/fc.js';
import { assertWellFormedSvg } from '../helpers/svg.js';

const text = new MarkovText();
const firstOrder = new FirstOrderMarkovText();
const L = TOY_VOCAB.letters;

test('makeMLMBatch: only selected positions are scored, unselected inputs are the clean letters, selected ones MASK / a letter; rates 15 % and 80/10/10', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 30 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 2, max: 40 }), (seed, B, T) => {
    const b = makeMLMBatch(text, B, T, new Generator(seed));
    assert.equal(b.input.shape, [B, T]);
    for (let s = 0; s < B; s++) assert.ok(Number.isFinite(text.logLikelihood(b.tokens.subarray(s * T, (s + 1) * T))), 'the clean text is the chain');
    for (let i = 0; i < B * T; i++) {
      const x = b.tokens[i]!;
      const o = b.input.data[i]!;
      if (b.target[i] === IGNORE) assert.is(o, x, 'an unscored position shows its letter');
      else {
        assert.is(b.target[i], x, 'a scored position targets its clean letter');
        assert.ok(o === MASK || (Number.isInteger(o) && o >= 0 && o < L), 'MASK or a letter');
      }
    }
  }), fcParams(100));
  const b = makeMLMBatch(text, 200, 100, new Generator(3));
  let selected = 0;
  let masked = 0;
  let same = 0;
  for (let i = 0; i < b.target.length; i++) {
    if (b.target[i] === IGNORE) continue;
    selected++;
    if (b.input.data[i] === MASK) masked++;
    else if (b.input.data[i] === b.tokens[i]) same++;
  }
  const n = b.target.length;
  assert.ok(Math.abs(selected / n - 0.15) < 4 * Math.sqrt((0.15 * 0.85) / n), `selected ${selected / n}`);
  assert.ok(Math.abs(masked / selected - 0.8) < 4 * Math.sqrt((0.8 * 0.2) / selected), `masked ${masked / selected}`);
  const pSame = 0.1 + 0.1 / L; // kept, or a random letter that happens to be the same
  assert.ok(Math.abs(same / selected - pSame) < 4 * Math.sqrt((pSame * (1 - pSame)) / selected), `shown as itself ${same / selected}`);
});

/**
 * P(x_t | o, t selected) by enumerating every letter sequence the chain gives nonzero probability (x_0, x_1 uniform,
 * then 3 successors each), with BERT's observation channel written out again here: a position is selected with
 * probability s; selected → MASK (m), a uniform letter (r), itself (k); not selected → itself.
 */
function bruteForcePosterior(text: MarkovText, observed: number[], t: number, m: Masking): Float64Array {
  const T = observed.length;
  const k = text.probs.length;
  const channel = (o: number, x: number, selectedOnly: boolean): number => {
    const sel = (o === MASK ? m.select * m.mask : 0) + (o === x ? m.select * m.keep : 0) + (o !== MASK ? (m.select * m.random) / L : 0);
    return selectedOnly ? sel : sel + (o === x ? 1 - m.select : 0);
  };
  const post = new Float64Array(L);
  const seq = new Array<number>(T).fill(0);
  const walk = (pos: number, weight: number): void => {
    if (pos === T) {
      post[seq[t]!]! += weight;
      return;
    }
    const w = (x: number, p: number): void => {
      seq[pos] = x;
      walk(pos + 1, weight * p * channel(observed[pos]!, x, pos === t));
    };
    if (pos < 2) for (let x = 0; x < L; x++) w(x, 1 / L);
    else for (let j = 0; j < k; j++) w(text.successors[(seq[pos - 2]! * L + seq[pos - 1]!) * k + j]!, text.probs[j]!);
  };
  walk(0, 1);
  const z = post.reduce((a, b) => a + b, 0);
  return post.map((v) => v / z);
}

test('bayesPosteriors equals brute-force enumeration over every sequence the chain allows (T = 2…5, masks, random and kept letters; both orders)', () => {
  const g = new Generator(11);
  const cases: Array<[MarkovText, number]> = [[firstOrder, 4], [text, 2], [text, 3], [text, 4], [text, 5]];
  for (const [chain, T] of cases) {
    for (let trial = 0; trial < (T === 5 ? 2 : 4); trial++) {
      const clean = Array.from(chain.sample(T, g));
      // a mix of every kind of observation: MASK, the letter itself, a wrong letter
      const observed = clean.map((x, i) => ((i + trial) % 3 === 0 ? MASK : (i + trial) % 3 === 1 ? x : (x + 1 + g.int(0, L - 1)) % L));
      const fast = bayesPosteriors(chain, observed);
      for (let t = 0; t < T; t++) {
        const slow = bruteForcePosterior(chain, observed, t, BERT_MASKING);
        for (let x = 0; x < L; x++) assert.ok(Math.abs(fast[t * L + x]! - slow[x]!) < 1e-10, `T=${T} t=${t} x=${x}: ${fast[t * L + x]} vs ${slow[x]}`);
      }
    }
  }
});

test('FirstOrderMarkovText: the next letter depends on the previous letter alone (same table row for every a), 3 successors, G1\'s entropy rate', () => {
  const k = firstOrder.probs.length;
  for (let b = 0; b < L; b++) {
    const row = Array.from(firstOrder.successors.subarray(b * k, (b + 1) * k));
    assert.equal(row, Array.from(text.successors.subarray(b * k, (b + 1) * k)), 'the row of context (0, b) of G1');
    assert.is(new Set(row).size, k, 'distinct successors');
    for (let a = 1; a < L; a++) assert.equal(Array.from(firstOrder.successors.subarray((a * L + b) * k, (a * L + b + 1) * k)), row, `context (${a}, ${b})`);
  }
  assert.ok(Math.abs(firstOrder.entropyRate - text.entropyRate) < 1e-15);
  const x = firstOrder.sample(20000, new Generator(8));
  assert.ok(Math.abs(-firstOrder.logLikelihood(x) / (x.length - 2) - firstOrder.entropyRate) < 0.03, 'per-token log-likelihood near the entropy rate');
  // empirically: the letter after b takes only b's 3 successors, whatever came before b
  for (let t = 2; t < x.length; t++) assert.ok(Array.from(firstOrder.successors.subarray(x[t - 1]! * k, (x[t - 1]! + 1) * k)).includes(x[t]!));
});

test('the Bayes floor is below the own-token and unigram baselines, and the unigram is the position-averaged marginal (enumerated)', () => {
  for (const T of [1, 2, 3, 4]) {
    const exact = new Float64Array(L);
    const k = text.probs.length;
    for (let t = 0; t < Math.min(T, 2); t++) for (let x = 0; x < L; x++) exact[x]! += 1 / L;
    if (T >= 3) {
      const pair = new Float64Array(L * L).fill(1 / (L * L));
      for (let step = 2; step < T; step++) {
        const next = new Float64Array(L * L);
        for (let a = 0; a < L; a++) for (let b = 0; b < L; b++) for (let j = 0; j < k; j++) next[b * L + text.successors[(a * L + b) * k + j]!]! += pair[a * L + b]! * text.probs[j]!;
        pair.set(next);
        for (let b = 0; b < L; b++) for (let c = 0; c < L; c++) exact[c]! += next[b * L + c]!;
      }
    }
    const uni = positionAveragedUnigram(text, T);
    assert.ok(Math.abs(uni.reduce((a, b) => a + b, 0) - 1) < 1e-12, 'sums to 1');
    for (let x = 0; x < L; x++) assert.ok(Math.abs(uni[x]! - exact[x]! / T) < 1e-12);
  }
  const g = new Generator(5);
  const batches = [makeMLMBatch(text, 8, 24, g), makeMLMBatch(text, 8, 24, g)];
  const b = baselines(text, batches);
  assert.ok(b.count > 0);
  assert.ok(b.bayes < b.self && b.self < b.unigram, `${b.bayes} < ${b.self} < ${b.unigram}`);
  assert.ok(b.unigram > 3.5 && b.unigram < Math.log(L) + 0.2, `unigram CE ${b.unigram} near ln 48`);
});

test('gap closure and steps to a level (interpolated between evaluations; null when never reached)', () => {
  const base = { unigram: 4, bayes: 1 };
  assert.is(gapClosure(4, base), 0);
  assert.is(gapClosure(1, base), 1);
  assert.ok(Math.abs(gapClosure(1.3, base) - 0.9) < 1e-12);
  assert.is(stepsTo([[0, 0], [10, 0.5], [20, 1]], 0.9), 18);
  assert.is(stepsTo([[0, 0.95], [10, 1]], 0.9), 0);
  assert.is(stepsTo([[0, 0], [10, 0.9]], 0.9), 10);
  assert.is(stepsTo([[0, 0], [10, 0.5], [20, 0.89]], 0.9), null);
});

test('bug check premise: without positions the encoder gives every MASK of a sequence the same logits; RoPE and learned APE do not', () => {
  const shape = { vocab: TOY_VOCAB.size, length: 16, dim: 16, layers: 2, heads: 2, base: 10000 };
  const ids = new Tensor(Float64Array.from([3, MASK, 7, 9, MASK, 1, 2, MASK, 5, 5, 6, 8, 0, MASK, 4, 2]), [1, 16]);
  const masks = [1, 4, 7, 13];
  for (const arm of ARMS) {
    const logits = new MLMEncoder(shape, arm, 2).forward(ids);
    const V = shape.vocab;
    const row = (i: number): number[] => Array.from(logits.data.subarray(i * V, (i + 1) * V));
    const spread = Math.max(...masks.slice(1).map((i) => Math.max(...row(i).map((v, c) => Math.abs(v - row(masks[0]!)[c]!)))));
    // at init (weights N(0, 0.02)) RoPE's attention is nearly uniform: its rows differ by ~5e-5, NoPE's by exactly 0
    if (arm === 'nope') assert.ok(spread < 1e-6, `nope: MASK rows differ by ${spread}`);
    else assert.ok(spread > 1e-5, `${arm}: MASK rows should differ, spread ${spread}`);
  }
});

test('every arm starts from the same token embedding and block weights', () => {
  const shape = { vocab: TOY_VOCAB.size, length: 8, dim: 16, layers: 1, heads: 2, base: 10000 };
  const [a, b] = [new MLMEncoder(shape, 'rope', 4), new MLMEncoder(shape, 'learned', 4)];
  assert.equal(Array.from(a.wte.weight.data), Array.from(b.wte.weight.data));
  assert.equal(Array.from(a.blocks[0]!.attn.wq.weight.data), Array.from(b.blocks[0]!.attn.wq.weight.data));
});

test('reproduction --quick: a well-formed result in seconds (fields, finite numbers, progress, the SVG well-formed)', async () => {
  const seen: Array<[number, number]> = [];
  const r = await reproduction.run({ quick: true, progress: (done, total) => seen.push([done, total]) });
  assert.is(reproduction.name, 'roformer-mlm');
  assert.ok(['reproduced', 'partly', 'not reproduced'].includes(r.verdict));
  for (const field of [r.summary, r.reason, r.table, reproduction.claim, reproduction.setup, reproduction.criterion, reproduction.falsifier]) assert.ok(field.length > 20);
  assert.match(r.table, /\| RoPE \|/);
  assert.match(r.table, /\| learned APE \|/);
  assert.match(r.table, /\| NoPE \|/);
  assert.not.match(r.summary, /NaN/);
  assertWellFormedSvg(r.svg!);
  const total = ARMS.length * QUICK_FLAGS.seeds * QUICK_FLAGS.steps;
  assert.equal(seen.at(-1), [total, total], 'progress ends at the total');
  const data = r.data as { runs: Array<{ finalCE: number; curve: Array<[number, number]> }>; baselines: { unigram: number; bayes: number } };
  assert.is(data.runs.length, ARMS.length * QUICK_FLAGS.seeds);
  for (const run of data.runs) {
    assert.ok(Number.isFinite(run.finalCE));
    assert.is(run.curve.length, 1 + QUICK_FLAGS.steps / QUICK_FLAGS.evalEvery);
  }
  assert.ok(data.baselines.bayes < data.baselines.unigram);
  assert.ok(JSON.parse(JSON.stringify(r.data)) !== null, 'the data serialises');
});

test('flags: defaults, --quick, overrides, the head-dim rule, --help, errors', () => {
  assert.equal(parseFlags([]), DEFAULT_FLAGS);
  assert.equal(parseFlags(['--quick']), QUICK_FLAGS);
  assert.equal(parseFlags(['--quick', '--seeds', '4']), { ...QUICK_FLAGS, seeds: 4 });
  assert.equal(parseFlags(['--eval-every', '10', '--json']), { ...DEFAULT_FLAGS, evalEvery: 10, json: true });
  assert.is(parseFlags(['--help']), 'help');
  assert.is(checkFlags(DEFAULT_FLAGS), null);
  assert.match(checkFlags({ ...DEFAULT_FLAGS, dim: 12, heads: 4 }) ?? '', /even/);
  assert.throws(() => parseFlags(['--seeds', '0']), /integer ≥ 1/);
  assert.throws(() => parseFlags(['--bogus', '1']), /unknown flag/);
});

test.run();
