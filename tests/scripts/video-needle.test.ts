/**
 * Smoke test of scripts/experiments/video-needle.ts, imported as a module (its main must not run): the batch
 * builder's shapes and layout; that each label is the VALUE beside the needle's KEY (or anywhere in its frame, rule
 * 'frame') and that the distractors sit every P frames in the arrangements they claim; the per-method position
 * tensors; and one training step for every method (under 3 s in all).
 * Issue 17 (the reproduction, spec §10): the continuous V-NIAH(-D) generator's invariants (the needle frame and the
 * question carry κ, the label is the needle's attribute, cos(κ, κ′) is exactly the similarity, test distractors sit
 * exactly at needle ± kP, training ones at random other frames, single-cell needles), the positions of every arm,
 * the attention read-out against the attention layer's own output, Spearman on known inputs, the verdict rule, the
 * command line of both modes, and `reproduction.run({ quick: true })` end to end.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, Tensor, noGrad } from '../../core/index.js';
import type { MultiHeadAttention } from '../../nn/index.js';
import {
  DEFAULT_TASK, METHODS, NeedleModel, QUICK_REPRO_CONFIG, REPRO_ARMS, REPRO_CONFIG, VNIAH_MODEL, VNIAH_TASK, VniahModel, evaluate, judgeVniah,
  makeBatch, makeVniahBatch, nearKey, parseCommandLine, positionBlindAccuracy, positionsFor, reproduction, sectionFor, spearman, tokenIndex,
  trainMethod, trainingPositions, vniahInputDim, vniahPositions, vniahTokenIndex, vocabulary, type ArmSeedResult, type Method, type ReproResults,
  type TaskConfig, type VniahTask,
} from '../../scripts/experiments/video-needle.js';
import { assertWellFormedSvg } from '../helpers/svg.js';

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

// ── issue 17: the reproduction ──

const vt: VniahTask = { ...VNIAH_TASK };
const Din = vniahInputDim(vt);
const cellsV = vt.frameH * vt.frameW;

/** Content part, attribute (argmax of the one-hot part, −1 if none) and text flag of token i of sequence b. */
function token(batch: { inputs: Tensor; length: number }, b: number, i: number): { content: number[]; attribute: number; text: boolean } {
  const o = (b * batch.length + i) * Din;
  const d = batch.inputs.data;
  const content = Array.from({ length: vt.content }, (_, j) => d[o + j]!);
  let attribute = -1;
  for (let a = 0; a < vt.attributes; a++) if (d[o + vt.content + a] === 1) attribute = a;
  return { content, attribute, text: d[o + vt.content + vt.attributes + 1] === 1 };
}
const dot = (x: number[], y: number[]): number => x.reduce((a, v, i) => a + v * y[i]!, 0);

test('nearKey: cos(κ, κ′) is exactly the similarity and κ′ is a unit vector (property)', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 2, max: 40 }), (seed, c100, d) => {
    const g = new Generator(seed);
    const k = Float64Array.from({ length: d }, () => g.normal());
    const n = Math.hypot(...k);
    for (let i = 0; i < d; i++) k[i]! /= n;
    const c = c100 / 100;
    const kp = nearKey(k, c, g);
    const cos = k.reduce((a, v, i) => a + v * kp[i]!, 0);
    return Math.abs(cos - c) < 1e-9 && Math.abs(Math.hypot(...kp) - 1) < 1e-9;
  }), { numRuns: 100 });
});

test('makeVniahBatch (noise 0): needle frame and question carry κ, label = needle attribute, distractors κ′ at cos c with another attribute, exactly at needle ± kP (test) or at random other frames (train)', () => {
  const task: VniahTask = { ...vt, noise: 0, period: 5 };
  fc.assert(fc.property(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 1, max: 23 }), fc.constantFrom('train' as const, 'test' as const), (seed, frames, mode) => {
    const b = makeVniahBatch(3, frames, task, { variant: 'distractor', mode }, new Generator(seed));
    assert.is(b.length, task.prefix + frames * cellsV + 1);
    assert.equal(b.inputs.shape, [3, b.length, Din]);
    for (let s = 0; s < 3; s++) {
      const q = token(b, s, b.length - 1);
      assert.ok(q.text && q.attribute === -1, 'question: text, no attribute');
      assert.ok(Math.abs(dot(q.content, q.content) - 1) < 1e-5, 'κ is a unit vector');
      for (let i = 0; i < task.prefix; i++) assert.ok(token(b, s, i).text);
      const nf = b.needleFrame[s]!;
      const ds = b.distractorFrames[s]!;
      if (mode === 'test') {
        assert.equal(ds, Array.from({ length: frames }, (_, d) => d).filter((d) => d !== nf && Math.abs(d - nf) % task.period === 0));
      } else {
        assert.is(ds.length, Math.min(task.trainDistractors, frames - 1));
        assert.ok(!ds.includes(nf) && new Set(ds).size === ds.length);
      }
      for (let f = 0; f < frames; f++) {
        for (let c = 0; c < cellsV; c++) {
          const t = token(b, s, vniahTokenIndex(task, f, c));
          assert.ok(!t.text && t.attribute >= 0, 'a video patch carries an attribute');
          const cos = dot(t.content, q.content);
          if (f === nf) {
            assert.ok(Math.abs(cos - 1) < 1e-5, 'needle patch = κ');
            assert.is(t.attribute, b.labels[s]);
          } else if (ds.includes(f)) {
            assert.ok(Math.abs(cos - task.similarity) < 1e-5, 'distractor patch = κ′');
            assert.is(t.attribute, b.distractorAttributes[s]![ds.indexOf(f)]);
            assert.is.not(t.attribute, b.labels[s]);
          } else {
            assert.ok(cos < 0.99, 'haystack patches are not κ');
          }
        }
      }
    }
    return true;
  }), { numRuns: 25 });
});

test("makeVniahBatch: plain variant has no distractor; needleCells 'one' puts κ and the label on one cell only", () => {
  const task: VniahTask = { ...vt, noise: 0 };
  const plain = makeVniahBatch(8, 40, task, { variant: 'plain', mode: 'test' }, new Generator(3));
  assert.ok(plain.distractorFrames.every((d) => d.length === 0));
  const one = makeVniahBatch(64, 6, task, { variant: 'plain', mode: 'test', needleCells: 'one' }, new Generator(4));
  const seen = new Set<number>();
  for (let s = 0; s < 64; s++) {
    const q = token(one, s, one.length - 1);
    const cell = one.needleCell[s]!;
    seen.add(cell);
    for (let c = 0; c < cellsV; c++) {
      const t = token(one, s, vniahTokenIndex(task, one.needleFrame[s]!, c));
      assert.is(Math.abs(dot(t.content, q.content) - 1) < 1e-5, c === cell, `cell ${c} of the needle frame carries κ iff it is the needle cell`);
    }
  }
  assert.is(seen.size, cellsV, 'every cell is drawn');
});

test('vniahPositions: shapes per arm; M-RoPE question after max(t,h,w); HoPE without DTS steps frames by 1, with DTS per sequence in training', () => {
  const F = 5;
  const L = vt.prefix + F * cellsV + 1;
  for (const arm of REPRO_ARMS) {
    const p = vniahPositions(arm, vt, F);
    assert.equal(p.shape, arm === 'vrope' ? [L, 4] : arm === 'rope' ? [L] : [L, 3], arm);
  }
  const m = vniahPositions('mrope', vt, F).data;
  const row = (d: ArrayLike<number>, i: number): number[] => [d[3 * i]!, d[3 * i + 1]!, d[3 * i + 2]!];
  assert.equal(row(m, 0), [0, 0, 0]);
  assert.equal(row(m, vniahTokenIndex(vt, 2, 3)), [vt.prefix + 2, vt.prefix + 1, vt.prefix + 1]);
  assert.equal(row(m, L - 1), [vt.prefix + F, vt.prefix + F, vt.prefix + F]);
  const nodts = vniahPositions('hope-nodts', vt, F).data;
  assert.is(nodts[3 * vniahTokenIndex(vt, 3, 0)]! - nodts[3 * vniahTokenIndex(vt, 2, 0)]!, 1, 'γ = 1');
  const dts = vniahPositions('hope', vt, F).data;
  assert.is(dts[3 * vniahTokenIndex(vt, 3, 0)]! - dts[3 * vniahTokenIndex(vt, 2, 0)]!, 0.75, 'γ = 0.75 at evaluation');
  const train = vniahPositions('videorope-dts', vt, F, { hopeGenerator: new Generator(1), batch: 16 });
  assert.equal(train.shape, [16, L, 3]);
  const steps = new Set(Array.from({ length: 16 }, (_, b) => train.data[(b * L + vniahTokenIndex(vt, 1, 0)) * 3]! - train.data[(b * L + vniahTokenIndex(vt, 0, 0)) * 3]!));
  assert.ok(steps.size > 1, 'γ drawn per sequence');
});

test('VniahModel.attentionRow: the probabilities reproduce the attention layer\'s own output at that row, and the causal mask', () => {
  for (const arm of ['mrope', 'vrope', 'hope'] as Method[]) {
    const model = new VniahModel(arm, vt, { ...VNIAH_MODEL, seed: 5 });
    const b = makeVniahBatch(2, 4, vt, { variant: 'distractor', mode: 'train' }, new Generator(6));
    const pos = vniahPositions(arm, vt, 4);
    const row = b.length - 3; // a video token: the causal mask must cut the keys after it
    const probs = model.attentionRow(b.inputs, pos, row)[0]!; // layer 0: [B][H][L]
    const block = model.blocks[0]!;
    const attn = block.attn as MultiHeadAttention;
    const { numHeads: H, headDim: D } = attn;
    const [B, L] = [2, b.length];
    noGrad(() => {
      const h = block.norm1.forward(model.input.forward(b.inputs));
      const want = attn.forward(h, { positions: pos, causal: true }).data; // [B, L, C]
      const v = attn.wv.forward(h).data; // [B, L, H·D]
      const mixed = new Float64Array(B * H * D);
      for (let s = 0; s < B; s++) {
        for (let hh = 0; hh < H; hh++) {
          const p = probs[s]![hh]!;
          assert.ok(Math.abs(p.reduce((a, x) => a + x, 0) - 1) < 1e-9, 'sums to 1');
          for (let j = row + 1; j < L; j++) assert.is(p[j], 0, 'no attention to later tokens');
          for (let j = 0; j < L; j++) for (let d = 0; d < D; d++) mixed[(s * H + hh) * D + d]! += p[j]! * v[(s * L + j) * H * D + hh * D + d]!;
        }
      }
      const got = attn.wo.forward(new Tensor(Float32Array.from(mixed), [B, 1, H * D])).data;
      const C = want.length / (B * L);
      for (let s = 0; s < B; s++) for (let c = 0; c < C; c++) assert.ok(Math.abs(got[s * C + c]! - want[(s * L + row) * C + c]!) < 1e-4, `${arm}: output ${s},${c}`);
    });
  }
});

test('spearman: known inputs (monotone, reversed, ties, constant)', () => {
  assert.is(spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  assert.is(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  assert.ok(Math.abs(spearman([0.1, 0.2, 0.3, 0.4], [0, 1, 1, 2]) - Math.sqrt(0.9)) < 1e-12, "r+c of a 2×2 frame: ranks (0,1,2,3) vs (0,1.5,1.5,3)");
  assert.is(spearman([1, 1, 1], [1, 2, 3]), 0);
});

/** Results with the given V-NIAH (training length) and V-NIAH-D (longest length) accuracies per seed. */
function fakeRepro(plain0: Partial<Record<Method, number[]>>, dLast: Partial<Record<Method, number[]>>): ReproResults {
  const arms = Object.keys(dLast) as Method[];
  const runs: ArmSeedResult[] = arms.flatMap((arm) => dLast[arm]!.map((d, i) => ({
    arm, seed: i + 1, accuracy: { plain: [plain0[arm]?.[i] ?? 0.9, 0.8, 0.8], distractor: [0.9, 0.7, d] }, distractorPicked: [0, 0, 0],
    bias: { cellMass: [1, 1, 1, 1], brOverTl: 1.5, spearman: 0.5, lastFramePerToken: 0.01, prefixPerToken: 0.01, perLayer: [] }, cellAccuracy: [0.5, 0.5, 0.5, 0.6], finalLoss: 0, seconds: 0,
  })));
  return { config: { ...REPRO_CONFIG, arms }, runs, seconds: 0 };
}

test('judgeVniah: the weaker of VideoRoPE > M-RoPE and HoPE > M-RoPE at the longest length; not reproduced when the positive control fails', () => {
  const good = judgeVniah(fakeRepro({}, { mrope: [0.3, 0.32, 0.31], videorope: [0.7, 0.72, 0.71], hope: [0.6, 0.62, 0.61], vrope: [0.5, 0.5, 0.5] }));
  assert.is(good.verdict, 'reproduced');
  assert.ok(good.control.passed);
  assert.ok(Object.keys(good.secondary).length >= 6);
  const partly = judgeVniah(fakeRepro({}, { mrope: [0.3, 0.32, 0.31], videorope: [0.7, 0.72, 0.71], hope: [0.6, 0.25, 0.61], vrope: [0.5, 0.5, 0.5] }));
  assert.is(partly.headline.hope.verdict, 'partly');
  assert.is(partly.verdict, 'partly');
  const wrong = judgeVniah(fakeRepro({}, { mrope: [0.8, 0.8, 0.8], videorope: [0.7, 0.72, 0.71], hope: [0.9, 0.92, 0.91], vrope: [0.5, 0.5, 0.5] }));
  assert.is(wrong.verdict, 'not reproduced');
  const untrained = judgeVniah(fakeRepro({ mrope: [0.2, 0.2, 0.2] }, { mrope: [0.3, 0.32, 0.31], videorope: [0.7, 0.72, 0.71], hope: [0.6, 0.62, 0.61], vrope: [0.5, 0.5, 0.5] }));
  assert.is(untrained.verdict, 'not reproduced');
  assert.match(untrained.reason, /positive control failed/);
});

test('command line: the reproduction by default, the legacy experiment with its own flags, not both', () => {
  const d = parseCommandLine([]);
  assert.ok(d !== 'help' && !d.legacy && d.seeds === null && !d.quick);
  const q = parseCommandLine(['--quick', '--seeds', '2', '--steps', '5', '--json']);
  assert.ok(q !== 'help' && !q.legacy && q.quick && q.seeds === 2 && q.steps === 5 && q.stepsGiven && q.json);
  const l = parseCommandLine(['--frames', '4', '--steps', '10']);
  assert.ok(l !== 'help' && l.legacy && l.frames === 4 && l.steps === 10);
  const sw = parseCommandLine(['--legacy']);
  assert.ok(sw !== 'help' && sw.legacy && sw.steps === 2000);
  assert.is(parseCommandLine(['--help']), 'help');
  assert.throws(() => parseCommandLine(['--period', '1']), /video-needle: --period needs an integer ≥ 2, got '1'/);
  assert.throws(() => parseCommandLine(['--quick', '--frames', '4']), /not both/);
  assert.throws(() => parseCommandLine(['--bogus', '1']), /unknown flag/);
});

test('reproduction --quick: a well-formed result in seconds (fields, finite numbers, progress to the total, the SVG well-formed)', async () => {
  const seen: Array<[number, number]> = [];
  const r = await reproduction.run({ quick: true, progress: (done, total) => seen.push([done, total]) });
  assert.is(reproduction.name, 'video-needle');
  assert.ok(['reproduced', 'partly', 'not reproduced'].includes(r.verdict));
  for (const field of [r.summary, r.reason, r.table, reproduction.claim, reproduction.setup, reproduction.criterion, reproduction.falsifier]) assert.ok(field.length > 20);
  assert.match(reproduction.claim, /78\.67 \/ 74\.67 vs VideoRoPE 91\.11 \/ 87\.11/);
  assert.match(r.table, /positive control/);
  assertWellFormedSvg(r.svg!);
  const total = QUICK_REPRO_CONFIG.seeds * QUICK_REPRO_CONFIG.arms.length * QUICK_REPRO_CONFIG.steps;
  assert.equal(seen.at(-1), [total, total]);
  const data = r.data as ReproResults;
  assert.is(data.runs.length, QUICK_REPRO_CONFIG.seeds * QUICK_REPRO_CONFIG.arms.length);
  for (const run of data.runs) {
    for (const v of [...run.accuracy.plain, ...run.accuracy.distractor, run.bias.brOverTl, run.bias.lastFramePerToken, run.finalLoss]) assert.ok(Number.isFinite(v), `${run.arm}: ${v}`);
  }
});

test.run();
