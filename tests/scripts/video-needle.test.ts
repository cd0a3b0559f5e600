/**
 * Smoke test of scripts/experiments/video-needle.ts, imported as a module (its main must not run): the batch
 * builder's shapes and layout; that each label is the VALUE beside the needle's KEY (or anywhere in its frame, rule
 * 'frame') and that the distractors sit every P frames in the arrangements they claim; the per-method position
 * tensors; and one training step for every method (under 3 s in all).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator } from '../../core/index.js';
import {
  DEFAULT_TASK, METHODS, NeedleModel, evaluate, makeBatch, positionBlindAccuracy, positionsFor, sectionFor, tokenIndex,
  trainMethod, trainingPositions, vocabulary, type TaskConfig,
} from '../../scripts/experiments/video-needle.js';

const task: TaskConfig = { ...DEFAULT_TASK };
const vocab = vocabulary(task);
const W = task.frameW;
const cells = task.frameH * W;
const row = (cell: number): number => Math.floor(cell / W);
const col = (cell: number): number => cell % W;

test('makeBatch: shapes, token ranges, QUERY last', () => {
  const frames = 7;
  const b = makeBatch(5, frames, task, new Generator(1));
  const L = frames * cells + 1;
  assert.is(b.length, L);
  assert.equal(b.tokens.shape, [5, L]);
  assert.is(b.labels.length, 5);
  assert.is(b.distractors.length, 5);
  for (let s = 0; s < 5; s++) {
    assert.is(b.tokens.data[s * L + L - 1], vocab.query);
    for (let i = 0; i < L - 1; i++) {
      const v = b.tokens.data[s * L + i]!;
      assert.ok(Number.isInteger(v) && v >= 0 && v < vocab.query, `token ${v}`);
    }
    assert.ok(b.labels[s]! >= 0 && b.labels[s]! < task.values);
  }
});

test('labels: the VALUE beside the needle KEY; distractors every P frames, arranged as their kind says', () => {
  const frames = 16;
  const n = 64;
  const b = makeBatch(n, frames, task, new Generator(2));
  const L = b.length;
  const kinds = new Set<string>();
  for (let s = 0; s < n; s++) {
    const tok = (frame: number, cell: number): number => b.tokens.data[s * L + tokenIndex(task, frame, cell)]!;
    const nf = b.needleFrame[s]!;
    const [kc, vc] = [b.needleKeyCell[s]!, b.needleValueCell[s]!];
    assert.is(tok(nf, kc), vocab.key);
    assert.is(tok(nf, vc), vocab.value(b.labels[s]!));
    assert.ok(row(kc) === row(vc) && col(kc) !== col(vc), 'needle: same row, another column');
    // a distractor at every frame n ± kP inside the video, nowhere else
    const expected = Array.from({ length: frames }, (_, d) => d).filter((d) => d !== nf && (d - nf) % task.period === 0);
    const list = b.distractors[s]!;
    assert.equal(list.map((d) => Math.min(d.keyFrame, d.valueFrame)), expected);
    const values = [b.labels[s]!, ...list.map((d) => d.value)];
    assert.is(new Set(values).size, values.length, 'values distinct');
    for (const d of list) {
      kinds.add(d.kind);
      assert.is(tok(d.keyFrame, d.keyCell), vocab.key);
      assert.is(tok(d.valueFrame, d.valueCell), vocab.value(d.value));
      if (d.kind === 'column') {
        assert.is(d.keyFrame, d.valueFrame);
        assert.ok(col(d.keyCell) === col(d.valueCell) && row(d.keyCell) !== row(d.valueCell), 'column: same column, another row');
      } else {
        assert.is(Math.abs(d.keyFrame - d.valueFrame), 1);
        assert.ok(row(d.keyCell) === row(d.valueCell) && col(d.keyCell) !== col(d.valueCell), 'temporal: beside, across frames');
      }
    }
    // nothing else carries KEY or a VALUE
    let keys = 0;
    let valueTokens = 0;
    for (let i = 0; i < L - 1; i++) {
      const v = b.tokens.data[s * L + i]!;
      if (v === vocab.key) keys++;
      else if (v > vocab.key) valueTokens++;
    }
    assert.is(keys, list.length + 1);
    assert.is(valueTokens, list.length + 1);
  }
  assert.equal([...kinds].sort(), ['column', 'temporal']);
});

test("rule 'frame': KEY and VALUE share a frame; every distractor is split across adjacent frames", () => {
  const frameTask: TaskConfig = { ...task, rule: 'frame' };
  const frames = 13;
  const b = makeBatch(48, frames, frameTask, new Generator(8));
  const L = b.length;
  for (let s = 0; s < 48; s++) {
    const tok = (frame: number, cell: number): number => b.tokens.data[s * L + tokenIndex(task, frame, cell)]!;
    const nf = b.needleFrame[s]!;
    assert.is(tok(nf, b.needleKeyCell[s]!), vocab.key);
    assert.is(tok(nf, b.needleValueCell[s]!), vocab.value(b.labels[s]!));
    assert.is.not(b.needleKeyCell[s], b.needleValueCell[s]);
    const expected = Array.from({ length: frames - 1 }, (_, d) => d).filter((d) => d !== nf && (d - nf) % task.period === 0);
    const list = b.distractors[s]!;
    assert.equal(list.map((d) => Math.min(d.keyFrame, d.valueFrame)), expected);
    for (const d of list) {
      assert.is(d.kind, 'temporal');
      assert.is(Math.abs(d.keyFrame - d.valueFrame), 1);
      assert.is(tok(d.keyFrame, d.keyCell), vocab.key);
      assert.is(tok(d.valueFrame, d.valueCell), vocab.value(d.value));
    }
  }
});

test('position-blind ceiling: 1 without distractors, 1/(D+1) with them', () => {
  const none = makeBatch(8, 2, task, new Generator(3)); // 2 frames < P: no distractor
  assert.ok(none.distractors.every((d) => d.length === 0));
  assert.is(positionBlindAccuracy(none), 1);
  const some = makeBatch(32, 12, task, new Generator(4));
  const expected = some.distractors.reduce((a, d) => a + 1 / (d.length + 1), 0) / 32;
  assert.ok(Math.abs(positionBlindAccuracy(some) - expected) < 1e-12);
});

test('positions: shape per method, HoPE per sequence while training', () => {
  const frames = 3;
  const L = frames * cells + 1;
  assert.equal(sectionFor(16), [2, 3, 3]);
  assert.equal(positionsFor('mrope', frames, task).shape, [L, 3]);
  assert.equal(positionsFor('videorope', frames, task).shape, [L, 3]);
  assert.equal(positionsFor('hope', frames, task).shape, [L, 3]);
  assert.equal(positionsFor('vrope', frames, task).shape, [L, 4]);
  assert.equal(positionsFor('rope', frames, task).shape, [L]);
  const batch = makeBatch(4, frames, task, new Generator(5));
  assert.equal(trainingPositions('hope', batch, task, new Generator(6)).shape, [4, L, 3]);
  // M-RoPE: frame τ, cell (r, c) at (τ, r, c); the question after max(F, H', W')
  const m = positionsFor('mrope', frames, task).data;
  const at = (i: number): number[] => [m[3 * i]!, m[3 * i + 1]!, m[3 * i + 2]!];
  assert.equal(at(tokenIndex(task, 2, 3)), [2, 1, 1]);
  assert.equal(at(L - 1), [3, 3, 3]);
});

test('one training step runs for every method; logits are [B, K]', () => {
  for (const method of METHODS) {
    const { model, losses } = trainMethod(method, task, { steps: 1, frames: 3, batch: 4, seed: 0, base: 1000, output: null });
    assert.is(losses.length, 1);
    assert.ok(Number.isFinite(losses[0]!), `${method} loss`);
    const batch = makeBatch(2, 3, task, new Generator(7));
    assert.equal(model.forward(batch.tokens, positionsFor(method, 3, task)).shape, [2, task.values]);
    const ev = evaluate(model, batch, task);
    assert.ok(ev.accuracy >= 0 && ev.accuracy <= 1 && ev.picked.column >= 0 && ev.picked.temporal >= 0);
    assert.ok(model instanceof NeedleModel && model.method === method);
  }
});

test.run();
