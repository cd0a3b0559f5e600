/**
 * scripts/experiments/base-bound-retrieval.ts (issue 17, protocol #4 A): the multi-query retrieval generator (every
 * QUERY k v1 v2 v3 has exactly one earlier MARK k with the same digits, at exactly the requested distance; blocks
 * never overlap; the filler is G1 text), the bound L_θ against a direct sum of cosines, the effective length and
 * Spearman's ρ on known inputs, the verdict rules, the answer-only targets of the episode rows, and the --quick run
 * (the suite's smoke test) returning a well-formed result.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator } from '../../core/index.js';
import {
  THRESHOLD, answerTargets, boundLength, effectiveLength, judge, reproduction, scoreQueries, spearman, type ArmRun, type Settings,
} from '../../scripts/experiments/base-bound-retrieval.js';
import { MarkovText, RETRIEVAL_BLOCK, TOY_VOCAB, multiQueryEpisode, textDocument } from '../../scripts/lib/toy-data.js';
import { fcParams } from '../helpers/fc.js';
import { assertWellFormedSvg } from '../helpers/svg.js';

const text = new MarkovText();

test('multiQueryEpisode: each QUERY k has exactly one earlier MARK k with its digits, at the requested distance; blocks disjoint; filler is text', () => {
  fc.assert(fc.property(fc.integer({ min: 40, max: 200 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 2 ** 30 }), (length, wanted, at, seed) => {
    const pairs = Math.min(wanted, Math.floor(length / 25)); // room for every pair however the earlier ones fall
    const longest = length - RETRIEVAL_BLOCK - 1;
    const controlled = RETRIEVAL_BLOCK + (at % (longest - RETRIEVAL_BLOCK + 1));
    const e = multiQueryEpisode({ length, pairs, distances: [controlled], generator: new Generator(seed), text });
    const x = e.tokens;
    assert.is(x.length, length);
    assert.is(x[0], TOY_VOCAB.BOS);
    assert.is(e.queries.length, pairs);
    assert.is(e.queries[0]!.distance, controlled, 'the controlled distance as requested');
    assert.is(new Set(e.queries.map((q) => q.key)).size, pairs, 'distinct keys');
    const covered = new Uint8Array(length);
    for (const q of e.queries) {
      assert.is(q.queryPosition - q.markPosition, q.distance, 'distance = position(QUERY) − position(MARK)');
      assert.ok(q.distance >= RETRIEVAL_BLOCK && q.distance <= longest);
      assert.equal(Array.from(x.subarray(q.markPosition, q.markPosition + RETRIEVAL_BLOCK)), [TOY_VOCAB.MARK, q.key, ...q.values]);
      assert.equal(Array.from(x.subarray(q.queryPosition, q.queryPosition + RETRIEVAL_BLOCK)), [TOY_VOCAB.QUERY, q.key, ...q.values]);
      assert.equal(q.answerPositions.map((p) => x[p]), q.values, 'the answer is the marked digits');
      assert.ok(q.values.every((v) => v >= TOY_VOCAB.firstDigit && v < TOY_VOCAB.firstDigit + TOY_VOCAB.digits));
      for (const start of [q.markPosition, q.queryPosition]) {
        for (let i = start; i < start + RETRIEVAL_BLOCK; i++) {
          assert.is(covered[i], 0, `blocks overlap at ${i}`);
          covered[i] = 1;
        }
      }
      // the lookup is unambiguous: before the query, exactly one MARK carries this key
      const marks = Array.from(x.subarray(0, q.queryPosition).keys()).filter((i) => x[i] === TOY_VOCAB.MARK && x[i + 1] === q.key);
      assert.equal(marks, [q.markPosition]);
    }
    assert.is(x.filter((t) => t === TOY_VOCAB.MARK).length, pairs);
    assert.is(x.filter((t) => t === TOY_VOCAB.QUERY).length, pairs);
    for (let i = 1; i < length; i++) if (covered[i] === 0) assert.ok(x[i]! < TOY_VOCAB.letters, `filler at ${i} is a letter`);
  }), fcParams(200));
});

test('multiQueryEpisode: drawn distances cover [5, maxDistance] (every distance is trained), and a controlled distance without room throws', () => {
  const g = new Generator(3);
  const seen = new Set<number>();
  for (let i = 0; i < 400; i++) for (const q of multiQueryEpisode({ length: 41, pairs: 2, generator: g, text }).queries) seen.add(q.distance);
  // a tight fit (always placeable: 2 pairs in 30 positions), where a drawn distance often has no room and is redrawn
  for (let i = 0; i < 1000; i++) assert.is(multiQueryEpisode({ length: 31, pairs: 2, generator: g, text }).queries.length, 2, 'a tight fit still places every pair');
  for (let d = RETRIEVAL_BLOCK; d <= 35; d++) assert.ok(seen.has(d), `distance ${d} drawn`);
  assert.throws(() => multiQueryEpisode({ length: 41, pairs: 1, distances: [36], generator: g, text }), /distances must be integers in \[5, 35\]/);
  assert.throws(() => multiQueryEpisode({ length: 41, pairs: 1, distances: [4], generator: g, text }), /distances/);
  assert.throws(() => multiQueryEpisode({ length: 41, pairs: 0, generator: g, text }), /pairs 1–16/);
  assert.throws(() => multiQueryEpisode({ length: 20, pairs: 2, distances: [14, 14], generator: g, text }), /no room for pair 1/);
  const t = textDocument(30, new Generator(1), text);
  assert.is(t[0], TOY_VOCAB.BOS);
  assert.ok(Array.from(t.subarray(1)).every((v) => v < TOY_VOCAB.letters));
  assert.ok(Number.isFinite(text.logLikelihood(t.subarray(1))), 'the text is the chain');
});

test('scoreQueries: a predictor of the next token scores every query, one that repeats the current token none; a wrong third digit is only not exact', () => {
  const T = 40;
  const episodes = Array.from({ length: 6 }, (_, i) => multiQueryEpisode({ length: T + 1, pairs: 2, distances: [10 + i], generator: new Generator(i), text }));
  const queries = episodes.map((e) => e.queries[0]!);
  const next = new Int32Array(episodes.length * T);
  const same = new Int32Array(episodes.length * T);
  episodes.forEach((e, b) => {
    for (let t = 0; t < T; t++) {
      next[b * T + t] = e.tokens[t + 1]!;
      same[b * T + t] = e.tokens[t]!;
    }
  });
  assert.equal(scoreQueries(next, T, queries), { first: 6, exact: 6 });
  assert.equal(scoreQueries(same, T, queries), { first: 0, exact: 0 }, 'the key after QUERY is a letter, never the digit');
  next[queries[0]!.answerPositions[2] - 1] = queries[0]!.values[2] === TOY_VOCAB.firstDigit ? TOY_VOCAB.firstDigit + 1 : TOY_VOCAB.firstDigit;
  assert.equal(scoreQueries(next, T, queries), { first: 6, exact: 5 });
});

test('answerTargets: the episode rows are scored on their answer digits only, each target the digit the next position holds', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), (seed, pairs, rows) => {
      const T = 64; // the run's context and at most its pairs: there is always room
      const g = new Generator(seed);
      const episodes = Array.from({ length: rows }, () => multiQueryEpisode({ length: T + 1, pairs, generator: g, text, firstKey: TOY_VOCAB.size }));
      const { ids, targets } = answerTargets(episodes, T);
      assert.equal(ids.shape, [rows, T]);
      const want = new Int32Array(rows * T).fill(-1);
      episodes.forEach((e, b) => {
        for (const q of e.queries) q.answerPositions.forEach((p, j) => (want[b * T + p - 1] = q.values[j]!));
        for (let t = 0; t < T; t++) assert.is(ids.data[b * T + t], e.tokens[t], 'inputs are the episode');
      });
      assert.equal(targets, want);
      assert.is(targets.filter((x) => x >= 0).length, rows * pairs * 3, 'three digits per query');
    }),
    fcParams(50),
  );
});

test('boundLength: L_θ is the last m before Σ_i cos(m·b^(−2i/d)) first turns negative', () => {
  for (const [base, d] of [[30, 32], [100, 32], [300, 32], [3000, 32], [500, 16]] as const) {
    const B = (m: number): number => Array.from({ length: d / 2 }, (_, i) => Math.cos(m * base ** (-2 * i / d))).reduce((a, b) => a + b, 0);
    let m0 = 0;
    while (B(m0) >= 0) m0++;
    assert.is(boundLength(base, d), m0 - 1, `base ${base}, d ${d}`);
  }
  assert.is(boundLength(30, 32), 15);
  assert.is(boundLength(3000, 32), 210);
});

test('effectiveLength: first crossing below the threshold, interpolated; the longest distance if none; 0 if the first fails', () => {
  const d = [8, 16, 24, 32];
  assert.is(effectiveLength(d, [1, 1, 1, 0.9]), 32);
  assert.is(effectiveLength(d, [0.5, 1, 1, 1]), 0);
  assert.ok(Math.abs(effectiveLength(d, [1, 0.9, 0.7, 0.9]) - 20) < 1e-9, 'halfway between 16 (0.9) and 24 (0.7)');
  assert.is(effectiveLength(d, [1, 0.8, 0.2, 0.9]), 16, 'exactly at the threshold counts');
  assert.is(THRESHOLD, 0.8);
  assert.throws(() => effectiveLength(d, [1, 1]), /one accuracy per distance/);
});

test('spearman: ±1 for monotone relations, mean ranks for ties, NaN for a constant side', () => {
  assert.is(spearman([1, 2, 3, 4], [10, 20, 30, 400]), 1);
  assert.is(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  // x ranks 1, 2.5, 2.5, 4; y ranks 1..4: ρ = Σ dx·dy / √(Σdx² Σdy²) = 4.5 / √(4.5 · 5)
  assert.ok(Math.abs(spearman([1, 2, 2, 3], [1, 2, 3, 4]) - 4.5 / Math.sqrt(4.5 * 5)) < 1e-12);
  assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])));
});

const settings: Settings = {
  context: 32, dim: 16, layers: 1, heads: 1, bases: [30, 300, 3000], seeds: 3, steps: 1, batch: 2, textRows: 1, lr: 1e-3, pairs: 2,
  evalDistances: [8, 16, 24], evalEpisodes: 1, evalText: 1,
};
const run = (base: number, seed: number, effective: number, textLoss = 1, accuracy = [1, 1, 1]): ArmRun => ({
  base, seed, textLoss, accuracy, exactMatch: accuracy, effectiveLength: effective, finalTrainLoss: 1, seconds: 1,
});
const bounds = settings.bases.map((b) => boundLength(b, 16));

test('the verdict: ordering by judgeOrdering, downgraded when the text loss is not flat, not reproduced when the control fails', () => {
  const good = [1, 2, 3].flatMap((s) => [run(30, s, 8 + s * 0.1), run(300, s, 16 + s * 0.1), run(3000, s, 24 + s * 0.1)]);
  const ok = judge(settings, 16, bounds, 0.9, good);
  assert.is(ok.verdict, 'reproduced');
  assert.ok(ok.control.passed);
  assert.ok(ok.spearman > 0.9);
  const bumpy = good.map((r) => (r.base === 30 ? { ...r, textLoss: 1.2 } : r));
  const notFlat = judge(settings, 16, bounds, 0.9, bumpy);
  assert.is(notFlat.verdict, 'partly');
  assert.not.ok(notFlat.textFlat);
  assert.match(notFlat.reason, /not flat/);
  const weak = good.map((r) => (r.base === 3000 ? { ...r, accuracy: [1, 0.9, 0.7] } : r));
  const failed = judge(settings, 16, bounds, 0.9, weak);
  assert.is(failed.verdict, 'not reproduced');
  assert.match(failed.reason, /positive control failed/);
  const flat = [1, 2, 3].flatMap((s) => [run(30, s, 20), run(300, s, 20), run(3000, s, 20)]);
  assert.is(judge(settings, 16, bounds, 0.9, flat).verdict, 'not reproduced', 'effective length independent of the base');
});

test('--quick: the reproduction runs in seconds and returns a well-formed result', async () => {
  let calls = 0;
  let lastDone = 0;
  let lastTotal = 0;
  const res = await reproduction.run({ quick: true, progress: (done, total) => ((calls += 1), (lastDone = done), (lastTotal = total)) });
  assert.is(reproduction.name, 'base-bound-retrieval');
  for (const field of [reproduction.claim, reproduction.setup, reproduction.criterion, reproduction.falsifier]) assert.ok(field.length > 40 && !field.includes('TODO'));
  assert.ok(calls > 0 && lastDone === lastTotal && lastTotal > 0, 'progress reaches its total');
  assert.ok(['reproduced', 'partly', 'not reproduced'].includes(res.verdict));
  assert.ok(res.summary.length > 0 && res.reason.length > 0);
  assert.match(res.table, /\| base \| L_θ \|/);
  const data = res.data as { runs: ArmRun[]; bounds: number[]; settings: Settings };
  assert.is(data.runs.length, data.settings.bases.length * data.settings.seeds);
  for (const r of data.runs) {
    assert.ok(Number.isFinite(r.textLoss) && r.textLoss > 0, 'finite text loss');
    assert.ok(r.accuracy.length === data.settings.evalDistances.length && r.accuracy.every((a) => a >= 0 && a <= 1));
    assert.ok(Number.isFinite(r.effectiveLength) && r.effectiveLength >= 0);
  }
  assert.ok(data.bounds.every((b) => Number.isInteger(b) && b > 0));
  assert.ok(res.svg !== null, 'a chart');
  assertWellFormedSvg(res.svg);
  assert.ok(JSON.parse(JSON.stringify(res.data)) !== null, 'the data serialises');
});

test.run();
