/**
 * scripts/experiments/memory-recall.ts (issue 17, reproductions.md §13): the recall-episode generator's invariants
 * (the target is the value bound to the queried key, its block sits `gap` segments before the query's segment, inside
 * one chunk, one block per chunk, distinct keys, never the last chunk or over BOS; only the value in the block tells
 * the answer), the arms differ only in the gate (same initial weights; gate 0 writes nothing), the verdict rule, and
 * `reproduction.run({ quick: true })` end to end. Importing the script must not run its main.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, noGrad } from '../../core/index.js';
import {
  BLOCK, DEFAULT_FLAGS, QUICK_FLAGS, buildModel, checkFlags, checkTask, formatJudgement, judgeReproduction, makeBatch, parseFlags, recallEpisode,
  reproduction, type ArmRun, type Results, type TaskShape,
} from '../../scripts/experiments/memory-recall.js';
import { MarkovText, TOY_VOCAB } from '../../scripts/lib/toy-data.js';
import { assertWellFormedSvg } from '../helpers/svg.js';

const text = new MarkovText();

test('recallEpisode: one MARK k v block per segment (distinct keys, inside one chunk, not the last), the last chunk asks QUERY k for every key; the target is the bound value', () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 2, max: 4 }), fc.integer({ min: 0, max: 1e6 }),
    (segments, chunkExtra, chunksPerSegment, seed) => {
      const chunk = Math.max(BLOCK + 1, 2 * segments) + chunkExtra;
      const task: TaskShape = { segments, segment: chunk * chunksPerSegment, chunk };
      assert.is(checkTask(task), null);
      const e = recallEpisode(task, new Generator(seed), text);
      const T = segments * task.segment;
      assert.is(e.tokens.length, T);
      assert.is(e.tokens[0], TOY_VOCAB.BOS);
      assert.is(new Set(e.keys).size, segments, 'distinct keys');
      assert.equal([...e.querySegment].sort(), Array.from({ length: segments }, (_, s) => s), 'every segment queried once');
      // every MARK in the stream is one of the blocks, one per segment, in that segment
      const marks = [...e.tokens.keys()].filter((t) => e.tokens[t] === TOY_VOCAB.MARK);
      assert.equal(marks, e.blockStarts);
      e.blockStarts.forEach((m, s) => {
        assert.is(Math.floor(m / task.segment), s, 'block s in segment s');
        assert.is(Math.floor(m / chunk), Math.floor((m + BLOCK - 1) / chunk), 'a block lies inside one chunk');
        assert.ok(m % task.segment < task.segment - chunk, 'never in the segment\'s last chunk');
        assert.ok(m >= 1, 'never over BOS');
        assert.is(e.tokens[m + 1], e.keys[s]);
        assert.is(e.tokens[m + 2], e.values[s]);
        assert.ok(e.values[s]! >= TOY_VOCAB.firstDigit && e.values[s]! < TOY_VOCAB.firstDigit + TOY_VOCAB.digits);
      });
      // queries: QUERY k pairs filling the last 2·segments positions; the key at a query position is bound (by its only block) to the target
      e.queryPositions.forEach((p, j) => {
        assert.is(p, T - 2 * segments + 2 * j + 1);
        assert.is(e.tokens[p - 1], TOY_VOCAB.QUERY);
        const k = e.tokens[p]!;
        assert.is(k, e.keys[e.querySegment[j]!]);
        const bound = marks.filter((m) => e.tokens[m + 1] === k);
        assert.is(bound.length, 1, 'the queried key has exactly one block');
        assert.is(e.tokens[bound[0]! + 2], e.values[e.querySegment[j]!]);
      });
      // the value digits appear only in their blocks (filler is letters, queries carry no value)
      const digits = [...e.tokens].filter((t) => t >= TOY_VOCAB.firstDigit && t < TOY_VOCAB.firstDigit + TOY_VOCAB.digits);
      assert.is(digits.length, segments);
    },
  ), { numRuns: 200 });
});

test('makeBatch: targets are the queried values, gaps = segments − 1 − segment, every gap once per stream; values uniform (chance 1/10)', () => {
  const b = makeBatch(DEFAULT_FLAGS, 400, new Generator(3), text);
  const Q = DEFAULT_FLAGS.segments;
  assert.equal(b.ids.shape, [400, Q * DEFAULT_FLAGS.segment]);
  assert.is(b.targets.length, 400 * Q);
  for (let s = 0; s < 400; s++) assert.equal([...b.gaps.subarray(s * Q, (s + 1) * Q)].sort(), [0, 1, 2, 3]);
  const one = makeBatch(DEFAULT_FLAGS, 1, new Generator(11), text);
  const e = recallEpisode(DEFAULT_FLAGS, new Generator(11), text);
  assert.equal([...one.targets], e.querySegment.map((s) => e.values[s]!));
  assert.equal([...one.gaps], e.querySegment.map((s) => Q - 1 - s));
  const counts = new Array<number>(10).fill(0);
  for (const t of b.targets) counts[t - TOY_VOCAB.firstDigit]!++;
  for (const c of counts) assert.ok(c > 120 && c < 200, `digit counts ${counts.join(', ')}`);
});

test('arms: the same initial weights (gated lacks nothing, the others lack only W_g); gate 0 never changes the memory, gate 1 does', () => {
  const task: TaskShape = { segments: 2, segment: 8, chunk: 4 };
  const shape = { dim: 8, layers: 1, heads: 2, slots: 2 };
  const gated = buildModel(task, shape, 'gated', 5).stateDict();
  for (const arm of ['fifo', 'none'] as const) {
    const other = buildModel(task, shape, arm, 5).stateDict();
    const names = Object.keys(other);
    assert.ok(names.length > 0 && names.every((n) => Object.hasOwn(gated, n)));
    for (const n of names) assert.equal([...other[n]!.data], [...gated[n]!.data], `${arm}: ${n}`);
    assert.ok(Object.keys(gated).filter((n) => !names.includes(n)).every((n) => n.includes('gateProj')), 'only W_g differs');
  }
  const ids = makeBatch(task, 2, new Generator(1), text).ids;
  const none = buildModel(task, shape, 'none', 5);
  const fifo = buildModel(task, shape, 'fifo', 5);
  noGrad(() => {
    const m0 = none.forwardWithMemory(ids).memory[0]!.slots.data;
    assert.ok(m0.every((v) => v === 0), 'no memory: slots stay zero');
    const m1 = fifo.forwardWithMemory(ids).memory[0]!.slots.data;
    assert.ok(m1.some((v) => v !== 0), 'FIFO writes');
  });
});

/** Results with the given per-seed recall at gap 0 and at gaps ≥ 1 (only what judgeReproduction reads). */
function fake(gap0: Record<'gated' | 'fifo' | 'none', number[]>, beyond: Record<'gated' | 'fifo' | 'none', number[]>): Results {
  const runs: ArmRun[] = (['gated', 'fifo', 'none'] as const).flatMap((arm) => beyond[arm].map((b, i) => ({
    arm, seed: i + 1, accuracy: [gap0[arm][i]!, b, b, b], beyond: b, finalLoss: 0, tailLoss: 0, seconds: 0,
  })));
  return { runs, settings: { parameters: { gated: 1, fifo: 1, none: 1 }, tokensPerStream: 128, segmentsInMemory: 2, chance: 0.1 }, seconds: { total: 0 } };
}

test('verdict: memory > no memory for both memories, gated ≥ FIFO, and not reproduced whenever gap-0 recall < 90 % somewhere', () => {
  const ok = { gated: [0.95, 0.97, 0.99], fifo: [0.95, 0.97, 0.99], none: [0.95, 0.97, 0.99] };
  const good = judgeReproduction(fake(ok, { gated: [0.8, 0.82, 0.81], fifo: [0.7, 0.71, 0.72], none: [0.1, 0.11, 0.09] }));
  assert.is(good.verdict, 'reproduced');
  assert.match(formatJudgement(good), /verdict: reproduced/);
  // gated ≈ FIFO (a tie is "≥"): still reproduced
  assert.is(judgeReproduction(fake(ok, { gated: [0.7, 0.72, 0.71], fifo: [0.71, 0.7, 0.72], none: [0.1, 0.11, 0.09] })).verdict, 'reproduced');
  // FIFO clearly beats the gate: not reproduced; slightly ahead: partly
  assert.is(judgeReproduction(fake(ok, { gated: [0.5, 0.51, 0.52], fifo: [0.8, 0.81, 0.82], none: [0.1, 0.11, 0.09] })).verdict, 'not reproduced');
  assert.is(judgeReproduction(fake(ok, { gated: [0.7, 0.75, 0.72], fifo: [0.74, 0.73, 0.76], none: [0.1, 0.11, 0.09] })).verdict, 'partly');
  // a memory at chance: not reproduced
  assert.is(judgeReproduction(fake(ok, { gated: [0.8, 0.82, 0.81], fifo: [0.1, 0.09, 0.1], none: [0.1, 0.11, 0.09] })).verdict, 'not reproduced');
  // positive control fails in one seed of one arm
  const failed = judgeReproduction(fake({ ...ok, none: [0.95, 0.89, 0.99] }, { gated: [0.8, 0.82, 0.81], fifo: [0.7, 0.71, 0.72], none: [0.1, 0.11, 0.09] }));
  assert.is(failed.verdict, 'not reproduced');
  assert.match(failed.reason, /positive control failed/);
  assert.not.ok(failed.control.passed);
});

test('reproduction --quick: a well-formed result in seconds (fields, finite numbers, progress to the total, the SVG well-formed)', async () => {
  const seen: Array<[number, number]> = [];
  const r = await reproduction.run({ quick: true, progress: (done, total) => seen.push([done, total]) });
  assert.is(reproduction.name, 'memory-recall');
  assert.ok(['reproduced', 'partly', 'not reproduced'].includes(r.verdict));
  for (const field of [r.summary, r.reason, r.table, reproduction.claim, reproduction.setup, reproduction.criterion, reproduction.falsifier]) assert.ok(field.length > 20);
  assert.match(r.table, /positive control/);
  assert.match(r.summary, /gated FIFO \d+\.\d%/);
  assertWellFormedSvg(r.svg!);
  const total = QUICK_FLAGS.seeds * 3 * QUICK_FLAGS.steps;
  assert.equal(seen.at(-1), [total, total]);
  const data = r.data as Results;
  assert.is(data.runs.length, 3 * QUICK_FLAGS.seeds);
  assert.ok(data.runs.every((x) => x.accuracy.length === QUICK_FLAGS.segments && x.accuracy.every(Number.isFinite) && Number.isFinite(x.finalLoss)));
});

test('flags: defaults, overrides, cross-flag rules, --help, and errors', () => {
  assert.equal(parseFlags([]), DEFAULT_FLAGS);
  assert.equal(parseFlags(['--quick', '--steps', '5']), { ...QUICK_FLAGS, steps: 5 });
  assert.is(parseFlags(['--help']), 'help');
  assert.is(checkFlags(DEFAULT_FLAGS), null);
  assert.is(checkFlags(QUICK_FLAGS), null);
  assert.match(checkFlags({ ...DEFAULT_FLAGS, segment: 30 }) ?? '', /multiple of --chunk/);
  assert.match(checkFlags({ ...DEFAULT_FLAGS, chunk: 4, segment: 32 }) ?? '', /--chunk must hold/);
  assert.match(checkFlags({ ...DEFAULT_FLAGS, dim: 6, heads: 2 }) ?? '', /even/);
  assert.throws(() => parseFlags(['--seeds', '0']), /integer ≥ 1/);
  assert.throws(() => parseFlags(['--bogus', '1']), /unknown flag/);
});

test.run();
