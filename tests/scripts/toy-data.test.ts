/**
 * The reproduction experiments' shared toy data (scripts/lib/toy-data.ts) and statistics (scripts/lib/stats.ts):
 * a retrieval episode puts MARK k exactly `distance` before QUERY k with the same three digits, distractors carry other
 * keys and never overlap; the Markov text's per-token log-likelihood converges to its entropy rate −Σ p ln p; the
 * ordering criterion on known inputs.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator } from '../../core/index.js';
import { VERDICT_RANK, judgeOrdering, meanRange, summarize, weakestVerdict } from '../../scripts/lib/stats.js';
import { MarkovText, RETRIEVAL_BLOCK, TOY_VOCAB, retrievalEpisode } from '../../scripts/lib/toy-data.js';
import { fcParams } from '../helpers/fc.js';

const text = new MarkovText();

test('a retrieval episode has MARK k v at exactly the requested distance before QUERY k v, and the key nowhere else after a MARK', () => {
  fc.assert(fc.property(fc.integer({ min: 12, max: 200 }), fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 2 ** 30 }), (length, at, distractors, seed) => {
    const distance = RETRIEVAL_BLOCK + (at % (length - 2 * RETRIEVAL_BLOCK));
    const e = retrievalEpisode({ length, distance, distractors: Math.min(distractors, Math.floor((length - 2 * RETRIEVAL_BLOCK - 1) / (2 * RETRIEVAL_BLOCK))), generator: new Generator(seed), text });
    const x = e.tokens;
    assert.is(x.length, length);
    assert.is(x[0], TOY_VOCAB.BOS);
    assert.is(e.queryPosition - e.markPosition, distance, 'distance exactly as requested');
    assert.equal([x[e.queryPosition], x[e.queryPosition + 1]], [TOY_VOCAB.QUERY, e.key]);
    assert.equal([x[e.markPosition], x[e.markPosition + 1]], [TOY_VOCAB.MARK, e.key]);
    assert.equal(Array.from(x.subarray(e.markPosition + 2, e.markPosition + 5)), e.values, 'the marked values');
    assert.equal(e.answerPositions.map((p) => x[p]), e.values, 'the answer closes the sequence');
    assert.is(e.answerPositions[2], length - 1);
    assert.ok(e.values.every((v) => v >= TOY_VOCAB.firstDigit && v < TOY_VOCAB.firstDigit + TOY_VOCAB.digits), 'values are digits');
    const marks = Array.from(x.keys()).filter((i) => x[i] === TOY_VOCAB.MARK);
    assert.is(marks.filter((i) => x[i + 1] === e.key).length, 1, 'one block carries the key');
    const usedKeys = marks.map((i) => x[i + 1]!);
    assert.is(new Set(usedKeys).size, usedKeys.length, 'distractors carry distinct other keys');
    marks.forEach((i, j) => j === 0 || assert.ok(i - marks[j - 1]! >= RETRIEVAL_BLOCK, 'blocks never overlap'));
    for (let i = 1; i < e.queryPosition; i++) {
      const inBlock = marks.some((m) => i >= m && i < m + RETRIEVAL_BLOCK);
      if (!inBlock) assert.ok(x[i]! < TOY_VOCAB.letters, `filler at ${i} is a letter`);
    }
  }), fcParams(200));
});

test('retrievalEpisode refuses a distance that overlaps the query or leaves no room for BOS', () => {
  const g = new Generator(1);
  assert.throws(() => retrievalEpisode({ length: 20, distance: RETRIEVAL_BLOCK - 1, generator: g }), /distance must be ≥ 5/);
  assert.throws(() => retrievalEpisode({ length: 20, distance: 15, generator: g }), /at most 14/);
  assert.ok(retrievalEpisode({ length: 20, distance: 14, generator: g }).markPosition === 1, 'the longest distance puts MARK right after BOS');
  assert.throws(() => retrievalEpisode({ length: 20, distance: 6, distractors: 5, generator: g }), /no room/);
});

test("the Markov text's per-token log-likelihood converges to its entropy rate −Σ p ln p = 0.898 nats", () => {
  assert.ok(Math.abs(text.entropyRate - -(0.6 * Math.log(0.6) + 0.3 * Math.log(0.3) + 0.1 * Math.log(0.1))) < 1e-15);
  const n = 200_000;
  const x = text.sample(n, new Generator(7));
  const perToken = -text.logLikelihood(x) / (n - 2);
  // per-token surprisal has standard deviation ≈ 0.6 nats, so the mean of 2·10⁵ is within ≈ 0.0014 (1σ)
  assert.ok(Math.abs(perToken - text.entropyRate) < 0.006, `empirical ${perToken} vs ${text.entropyRate}`);
  const uniform = Int32Array.from(x, (_, i) => (i * 7) % TOY_VOCAB.letters);
  assert.is(text.logLikelihood(uniform), -Infinity, 'a sequence the chain cannot make has likelihood 0');
  const counts = new Map<number, number>();
  for (let t = 2; t < n; t++) if (x[t - 2] === 3 && x[t - 1] === 5) counts.set(x[t]!, (counts.get(x[t]!) ?? 0) + 1);
  assert.is(counts.size, 3, 'a context has exactly three successors');
  assert.ok(new Set(text.successors.subarray((3 * 48 + 5) * 3, (3 * 48 + 5) * 3 + 3)).size === 3, 'distinct successors in the table');
  assert.equal(Array.from(new MarkovText().successors.subarray(0, 30)), Array.from(text.successors.subarray(0, 30)), 'the table is fixed by its seed');
  assert.not.equal(Array.from(new MarkovText({ tableSeed: 1 }).successors.subarray(0, 30)), Array.from(text.successors.subarray(0, 30)));
});

test('summarize, meanRange and judgeOrdering on known inputs', () => {
  assert.equal(summarize([1, 3, 2]), { n: 3, mean: 2, min: 1, max: 3, range: 2 });
  assert.throws(() => summarize([]), /non-empty/);
  assert.throws(() => summarize([1, NaN]), /finite/);
  assert.is(meanRange([1, 3, 2.5]), '2.167 (1.000–3.000)');
  assert.is(meanRange([0.5, 0.25], (v) => `${100 * v} %`), '37.5 % (25 %–50 %)');
  assert.throws(() => meanRange([]), /summarize: values must be a non-empty list/);
  // losses: A < B < C in every seed with gaps 1.0 and 1.0 ≫ 2 × range 0.2
  const clear = judgeOrdering({ A: [1, 1.1, 1.2], B: [2, 2.1, 2.2], C: [3, 3.05, 3.1] }, ['A', 'B', 'C'], 'lower');
  assert.is(clear.verdict, 'reproduced', clear.reason);
  assert.equal(clear.seedsInOrder, [true, true, true]);
  assert.ok(Math.abs(clear.gaps[0]!.gap - 1) < 1e-12 && Math.abs(clear.gaps[0]!.margin - 0.4) < 1e-12);
  // accuracies, higher is better: the ordering holds per seed but the gap (0.05) is under twice the range (0.2)
  const narrow = judgeOrdering({ A: [0.9, 0.8, 1.0], B: [0.85, 0.75, 0.95] }, ['A', 'B'], 'higher');
  assert.is(narrow.verdict, 'partly');
  assert.match(narrow.reason, /not more than twice the seed range/);
  // the means in order, one seed out of order
  const seedOff = judgeOrdering({ A: [1, 1, 3], B: [5, 5, 2] }, ['A', 'B'], 'lower');
  assert.is(seedOff.verdict, 'partly');
  assert.equal(seedOff.seedsInOrder, [true, true, false]);
  assert.match(seedOff.reason, /seed 2 breaks/);
  const wrong = judgeOrdering({ A: [2, 2, 2], B: [1, 1, 1] }, ['A', 'B'], 'lower');
  assert.is(wrong.verdict, 'not reproduced');
  assert.match(wrong.reason, /not in the predicted order/);
  assert.is(judgeOrdering({ A: [2, 2, 2], B: [1, 1, 1] }, ['A', 'B'], 'higher').verdict, 'reproduced', 'direction matters');
  assert.is(judgeOrdering({ A: [1, 1], B: [1, 1] }, ['A', 'B'], 'lower').verdict, 'not reproduced', 'a tie is not an ordering');
  assert.throws(() => judgeOrdering({ A: [1, 2] }, ['A', 'B'], 'lower'), /no values: B/);
  assert.throws(() => judgeOrdering({ A: [1, 2], B: [1] }, ['A', 'B'], 'lower'), /one value per seed/);
});

test('weakestVerdict: the weakest of any number of verdicts, in any order; none is refused', () => {
  assert.is(weakestVerdict('reproduced'), 'reproduced');
  assert.is(weakestVerdict('reproduced', 'partly'), 'partly');
  assert.is(weakestVerdict('partly', 'reproduced', 'not reproduced', 'partly'), 'not reproduced');
  assert.is(weakestVerdict('not reproduced', 'reproduced'), 'not reproduced');
  assert.ok(VERDICT_RANK['not reproduced'] < VERDICT_RANK.partly && VERDICT_RANK.partly < VERDICT_RANK.reproduced);
  assert.throws(() => weakestVerdict(), /weakestVerdict: give at least one verdict/);
});

test.run();
