/**
 * scripts/experiments/bf16-shift.ts (issue 17, reproduction #5): the probe forward is the trained model (its FP32
 * logits match LlamaForCausalLM.forward), exact arithmetic is shift invariant (D ≈ 0 in float64) while emulated BF16
 * is not, the paper's Eq. 4 bookkeeping (row weights n_i = 1/(T − i), columns sum to D), D_logit over prefixes, the
 * sink mass, the verdict rule (ordering by judgeOrdering, gated by the sink control), and `reproduction.run({ quick })`
 * end to end. Importing the script must not run its main.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator, Tensor, noGrad } from '../../core/index.js';
import { LlamaForCausalLM } from '../../models/llama.js';
import { toBFloat16 } from '../../positional/bf16.js';
import {
  CONDITIONS, QUICK_FLAGS, SINK_THRESHOLD, firstKeyLogitDiscrepancy, judge, parseCommandLine, probeForward, probeWeights, reproduction, shiftDiscrepancy,
  sinkMass, type Condition, type Results, type SeedResult,
} from '../../scripts/experiments/bf16-shift.js';
import { MarkovText, TOY_VOCAB, textDocument } from '../../scripts/lib/toy-data.js';
import { assertWellFormedSvg } from '../helpers/svg.js';

const CONFIG = { vocab_size: 64, hidden_size: 16, intermediate_size: 40, num_hidden_layers: 2, num_attention_heads: 2, rope_theta: 10000, max_position_embeddings: 32, rms_norm_eps: 1e-6, tie_word_embeddings: false };

function model(): LlamaForCausalLM {
  const m = new LlamaForCausalLM(CONFIG, { seed: 3 });
  // larger weights than the N(0, 0.02) init, so attention is far from uniform and rounding shows
  const g = new Generator(5);
  for (const p of m.parameters()) if (p.ndim === 2) for (let i = 0; i < p.size; i++) p.data[i] = 0.3 * g.normal();
  return m;
}

test('textDocument: BOS first, then letters only', () => {
  const s = textDocument(41, new Generator(1), new MarkovText());
  assert.is(s.length, 41);
  assert.is(s[0], TOY_VOCAB.BOS);
  assert.ok([...s.subarray(1)].every((t) => t >= 0 && t < TOY_VOCAB.letters));
});

test('probeForward in FP32 is the trained model: its logits match LlamaForCausalLM.forward', () => {
  const m = model();
  const seq = textDocument(24, new Generator(2), new MarkovText());
  const probe = probeForward(probeWeights(m, 'fp32'), seq, 0, 'fp32', true).logits!;
  const lib = noGrad(() => m.forward(new Tensor(Float64Array.from(seq), [1, seq.length])));
  let worst = 0;
  for (let i = 0; i < lib.size; i++) worst = Math.max(worst, Math.abs(lib.data[i]! - probe[i]!));
  assert.ok(worst < 1e-4, `max |Δlogit| ${worst}`);
});

test('exact arithmetic is shift invariant; FP32 nearly; emulated BF16 is not, by orders of magnitude', () => {
  const m = model();
  const seq = textDocument(32, new Generator(4), new MarkovText());
  const T = seq.length;
  const D = (n: 'fp64' | 'fp32' | 'bf16-r32' | 'bf16-r16'): number => {
    const W = probeWeights(m, n);
    return shiftDiscrepancy(probeForward(W, seq, 500, n).attention, probeForward(W, seq, 16, n).attention, T).D;
  };
  const d64 = D('fp64');
  const d32 = D('fp32');
  const d16 = D('bf16-r32');
  assert.ok(d64 < 1e-9, `fp64 ${d64}`);
  assert.ok(d32 < 1e-4 && d32 > d64, `fp32 ${d32}`);
  assert.ok(d16 > 100 * d32, `bf16 ${d16} vs fp32 ${d32}`);
  assert.ok(D('bf16-r16') > 100 * d32);
});

test('probeWeights casts the weights once to the policy\'s format', () => {
  const m = model();
  const w = probeWeights(m, 'bf16-r32').layers[0]!.wq;
  const raw = m.toHF().weights['model.layers.0.self_attn.q_proj.weight']!.data;
  assert.ok(w.every((v, i) => v === toBFloat16(raw[i]!)));
  assert.ok(w.some((v, i) => v !== raw[i]));
});

test('shiftDiscrepancy: Eq. 4 with row weights n_i = 1/(T − i), columns summing to D', () => {
  const T = 3;
  const a = new Float64Array(2 * T * T); // two maps
  const b = new Float64Array(2 * T * T);
  a[1 * T + 0] = 0.5; // map 0, row 1, key 0: n_1 = 1/2
  a[2 * T + 2] = 0.3; // map 0, row 2, key 2: n_2 = 1
  b[T * T + 2 * T + 0] = 0.2; // map 1, row 2, key 0
  a[0 * T + 1] = 9; // above the diagonal: ignored
  const { D, columns } = shiftDiscrepancy(a, b, T);
  assert.ok(Math.abs(columns[0]! - (0.25 + 0.2)) < 1e-12);
  assert.ok(Math.abs(columns[2]! - 0.3) < 1e-12);
  assert.ok(Math.abs(D - 0.75) < 1e-12);
});

test('firstKeyLogitDiscrepancy: per-row |Δ| summed over maps, mean over the first T rows', () => {
  const a = Float64Array.from([1, 2, 3, 4, 0, 0, 0, 4]); // two maps of T = 4
  const b = new Float64Array(8);
  assert.equal(firstKeyLogitDiscrepancy(a, b, 4, [1, 2, 4]), [1, 1.5, (1 + 2 + 3 + 8) / 4]);
});

test('sinkMass: mean attention on key 0 over rows T/2 … T − 1, per map', () => {
  const T = 4;
  const att = new Float64Array(T * T);
  att[2 * T] = 0.6;
  att[3 * T] = 0.2;
  att[1 * T] = 1; // row 1 is before T/2: not counted
  assert.ok(Math.abs(sinkMass(att, T)[0]! - 0.4) < 1e-12);
});

function fakeResults(meanD: Record<Condition, number[]>, sinkMax: number[], share = 0.5): Results {
  const seeds: SeedResult[] = sinkMax.map((m, i) => ({
    seed: i + 1, finalLoss: 1, D: Object.fromEntries(CONDITIONS.map((c) => [c, [meanD[c][i]!]])) as Record<Condition, number[]>,
    meanD: Object.fromEntries(CONDITIONS.map((c) => [c, meanD[c][i]!])) as Record<Condition, number>,
    column0Share: Object.fromEntries(CONDITIONS.map((c) => [c, share])) as Record<Condition, number>,
    columnShares: Object.fromEntries(CONDITIONS.map((c) => [c, [share]])) as Record<Condition, number[]>,
    logitScan: { 'trained-bf16': [1, 2], 'trained-fp32': [0, 0], 'random-bf16': [1, 1] },
    sink: { trained: [0.1, m], random: [0.01, 0.01] }, normRatio: [1, 1],
  }));
  return { flags: { ...QUICK_FLAGS, length: 32, shifts: [0] }, scanLengths: [8, 32], seeds, seconds: 1 };
}

test('judge: the ordering by judgeOrdering, gated by the sink control; secondary claims in the reason', () => {
  const good = { 'trained-bf16': [1e-2, 1.1e-2, 1.2e-2], 'trained-bf16-r16': [1, 1, 1], 'random-bf16': [1e-3, 1.1e-3, 1.2e-3], 'trained-fp32': [1e-7, 1e-7, 2e-7] };
  const ok = judge(fakeResults(good, [0.5, 0.6, 0.7]));
  assert.is(ok.verdict, 'reproduced');
  assert.ok(ok.firstKey.ok && ok.growth.ok);
  const noSink = judge(fakeResults(good, [0.5, 0.2, 0.7]));
  assert.is(noSink.verdict, 'not reproduced');
  assert.match(noSink.reason, /positive control failed.*seed\(s\) 2/);
  assert.ok(SINK_THRESHOLD === 0.3);
  const flat = judge(fakeResults({ ...good, 'random-bf16': [1.1e-2, 1.0e-2, 1.3e-2] }, [0.5, 0.6, 0.7]));
  assert.is(flat.verdict, 'not reproduced', 'random above trained in the mean');
  const uniform = judge(fakeResults(good, [0.5, 0.6, 0.7], 1 / 32));
  assert.not.ok(uniform.firstKey.ok);
  assert.match(uniform.reason, /does NOT dominate/);
});

test('reproduction --quick: a well-formed result in seconds', async () => {
  const seen: Array<[number, number]> = [];
  const r = await reproduction.run({ quick: true, progress: (done, total) => seen.push([done, total]) });
  assert.is(reproduction.name, 'bf16-shift');
  assert.ok(['reproduced', 'partly', 'not reproduced'].includes(r.verdict));
  for (const field of [r.summary, r.reason, r.table, reproduction.claim, reproduction.setup, reproduction.criterion, reproduction.falsifier]) assert.ok(field.length > 20);
  assert.match(r.table, /positive control/);
  assertWellFormedSvg(r.svg!);
  assert.ok(seen.length > 0 && seen.at(-1)![0] === seen.at(-1)![1], 'progress reaches the total');
  assert.ok(seen.every(([d], i) => i === 0 || d >= seen[i - 1]![0]), 'progress never goes back');
  const data = r.data as Results;
  assert.is(data.seeds.length, QUICK_FLAGS.seeds);
  for (const s of data.seeds) for (const c of CONDITIONS) assert.ok(s.D[c].every(Number.isFinite) && s.D[c].length === QUICK_FLAGS.shifts.length);
});

test('command line: --quick, overrides, errors', () => {
  assert.equal(parseCommandLine(['--quick', '--seeds', '2']), { ...QUICK_FLAGS, seeds: 2 });
  assert.is(parseCommandLine(['--sequences', '5', '--json']).sequences, 5);
});

test.run();
