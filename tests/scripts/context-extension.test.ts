/**
 * scripts/experiments/context-extension.ts: the regime-matched base (G4), the Stage-A batches (answer weights exactly
 * on the passkey digits), the passkey grid and PI's k_max, the arms' tables (all equal to the base model at s = 1;
 * dynamic NTK at ℓ = s·L equals static NTK; the by-parts partition G5 predicts at d_head 16), LongRoPE-lite's n̂ rule
 * and its search, dynamic NTK's streaming loss, and the `--quick` run as the runner calls it (well-formed result, finite
 * numbers, an SVG that parses). Importing the script must not run its main.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator, Tensor, arange, noGrad } from '../../core/index.js';
import { GPT } from '../../models/gpt.js';
import { RoPE, invFreqLadder } from '../../positional/rope.js';
import { ntkInvFreq } from '../../positional/ntk.js';
import { yarnPairRegimes } from '../../positional/yarn.js';
import {
  ARMS, LongRoPELite, armEncoding, armInvFreq, dynamicTextLoss, kMax, lambdaGrid, mixedBatch, passkeyDistances,
  passkeyHits, passkeyTrials, reproduction, searchLongRoPE, textLoss, tokenLosses, type ArmSpec, type LongRoPEParams,
} from '../../scripts/experiments/context-extension.js';
import { LLAMA2_CONTEXT_PER_WAVELENGTH, MarkovText, RETRIEVAL_BLOCK, TOY_VOCAB, regimeMatchedBase, textDocument } from '../../scripts/lib/toy-data.js';
import { assertClose } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';
import { assertWellFormedSvg } from '../helpers/svg.js';

const text = new MarkovText();
const spec = (factor: number): ArmSpec => ({ headDim: 16, base: regimeMatchedBase(16, 128), trainLength: 128, factor, alpha: 1, beta: 4 });

test('G4: the matched base puts L/λ_max at LLaMA-2\'s 0.0753 — ≈ 400 for d_head 32 (the spec), ≈ 602 for d_head 16', () => {
  assertClose([LLAMA2_CONTEXT_PER_WAVELENGTH], [4096 / (2 * Math.PI * Math.pow(10000, 126 / 128))], { rtol: 1e-15 });
  assert.ok(Math.abs(regimeMatchedBase(32, 128) - 400) < 10, `${regimeMatchedBase(32, 128)}`);
  assert.ok(Math.abs(regimeMatchedBase(16, 128) - 602) < 1, `${regimeMatchedBase(16, 128)}`);
  fc.assert(fc.property(fc.integer({ min: 2, max: 64 }), fc.integer({ min: 16, max: 8192 }), (half, L) => {
    const d = 2 * half + 2; // ≥ 6
    const b = regimeMatchedBase(d, L);
    const slowest = invFreqLadder(d, b).at(-1)!;
    assertClose([L / ((2 * Math.PI) / slowest)], [LLAMA2_CONTEXT_PER_WAVELENGTH], { rtol: 1e-9 });
  }), fcParams(40));
});

test('mixedBatch: text rows first, then `episodes` passkey rows whose three digit targets (and only those) carry the answer weight', () => {
  fc.assert(fc.property(fc.integer({ min: 2, max: 6 }), fc.integer({ min: 16, max: 96 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 2 ** 30 }), (B, T, e, seed) => {
    const episodes = Math.min(e, B);
    const batch = mixedBatch(B, T, new Generator(seed), text, 5, episodes);
    assert.equal(batch.ids.shape, [B, T]);
    for (let b = 0; b < B; b++) {
      const row = Array.from(batch.ids.data.subarray(b * T, (b + 1) * T));
      const targets = Array.from(batch.targets.subarray(b * T, (b + 1) * T));
      const weights = Array.from(batch.weights.subarray(b * T, (b + 1) * T));
      assert.is(row[0], TOY_VOCAB.BOS);
      for (let t = 0; t + 1 < T; t++) assert.is(targets[t], row[t + 1], 'targets are the next tokens');
      const heavy = weights.flatMap((w, t) => (w === 5 ? [t] : []));
      if (b < B - episodes) {
        assert.equal(heavy, [], 'text rows weigh 1');
        assert.ok(row.slice(1).every((x) => x < TOY_VOCAB.letters), 'text rows are letters');
        continue;
      }
      assert.equal(heavy, [T - 3, T - 2, T - 1], 'the three answer positions');
      const mark = row.indexOf(TOY_VOCAB.MARK);
      const query = row.indexOf(TOY_VOCAB.QUERY);
      assert.is(query, T - 4);
      assert.ok(query - mark >= RETRIEVAL_BLOCK && query - mark <= T - RETRIEVAL_BLOCK, `distance ${query - mark}`);
      assert.equal(heavy.map((t) => targets[t]), row.slice(mark + 2, mark + 5), 'weighted targets are the marked digits');
      assert.is(row[query + 1], row[mark + 1], 'the same key');
    }
  }), fcParams(30));
});

test('passkeyDistances spans [5, T − 5] evenly and every distance fits an episode; kMax follows PI\'s definition', () => {
  assert.equal(passkeyDistances(128, 5), [5, 35, 64, 94, 123]);
  const d = passkeyDistances(512, 16);
  assert.is(d.length, 16);
  assert.is(d[0], RETRIEVAL_BLOCK);
  assert.is(d.at(-1), 512 - RETRIEVAL_BLOCK);
  assert.ok(d.every((x, i) => i === 0 || x > d[i - 1]!), 'increasing');
  const trials = passkeyTrials(64, passkeyDistances(64, 6), 2, new Generator(3), text);
  for (const tr of trials) {
    const x = Array.from(tr.tokens);
    assert.is(x.length, 65);
    assert.is(x.lastIndexOf(TOY_VOCAB.QUERY) - x.indexOf(TOY_VOCAB.MARK), tr.distance);
  }
  assert.is(kMax([10, 20, 30, 40], [1, 0.5, 0.1, 1]), 20, 'stops at the first distance under 20 %');
  assert.is(kMax([10, 20, 30], [0.2, 0.2, 0.2]), 30, '20 % counts as success');
  assert.is(kMax([10, 20], [0, 1]), 0);
});

test('at s = 1 every arm is the base model: the tables equal the RoPE ladder and the logits are identical', () => {
  const s1 = { ...spec(1), headDim: 8, base: regimeMatchedBase(8, 16), trainLength: 16 };
  for (const arm of ARMS.filter((a) => a !== 'longrope-lite')) assertClose(armInvFreq(arm as Exclude<typeof arm, 'longrope-lite'>, s1), invFreqLadder(8, s1.base), { rtol: 1e-12 }, arm);
  const model = new GPT({ vocabSize: 64, contextLength: 16, dim: 16, numLayers: 1, numHeads: 2, positional: 'rope', ropeBase: s1.base, seed: 2 });
  const ids = new Tensor(Float64Array.from({ length: 32 }, (_, i) => (i * 7) % 48), [2, 16]);
  const reference = Array.from(model.forward(ids).data);
  const unit: LongRoPEParams = { lambda: [1, 1, 1, 1], leading: 4, attentionFactor: 1 };
  for (const arm of ARMS) {
    model.setPositional(armEncoding(arm, s1, unit));
    assertClose(Array.from(model.forward(ids).data), reference, { atol: 1e-5, rtol: 1e-5 }, arm);
  }
});

test('dynamic NTK at ℓ = s·L is static NTK at s; the by-parts partition at d_head 16, base 602 is 3 kept / 1 blended / 4 interpolated', () => {
  for (const s of [2, 4]) assertClose(armInvFreq('dynamic-ntk', spec(s)), ntkInvFreq({ dim: 16, base: spec(s).base, factor: s }), { rtol: 1e-12 });
  const regimes = yarnPairRegimes({ dim: 16, base: spec(4).base, factor: 4, originalMaxPositions: 128, betaFast: 4, betaSlow: 1 });
  assert.equal(regimes, ['extrapolated', 'extrapolated', 'extrapolated', 'blended', 'interpolated', 'interpolated', 'interpolated', 'interpolated']);
  const theta = invFreqLadder(16, spec(4).base);
  const pi = armInvFreq('pi', spec(4));
  const parts = armInvFreq('ntk-by-parts', spec(4));
  const llama = armInvFreq('llama3', spec(4));
  for (const i of [0, 1, 2]) assertClose([parts[i]!, llama[i]!], [theta[i]!, theta[i]!], { rtol: 1e-12 }, `pair ${i} kept`);
  for (const i of [4, 5, 6, 7]) assertClose([parts[i]!, llama[i]!], [pi[i]!, pi[i]!], { rtol: 1e-12 }, `pair ${i} interpolated`);
  assert.ok(parts[3]! < theta[3]! && parts[3]! > pi[3]! && llama[3]! < theta[3]! && llama[3]! > pi[3]!, 'pair 3 in between');
  const yarn = armEncoding('yarn', spec(4)) as RoPE;
  assertClose([yarn.attentionFactor], [0.1 * Math.log(4) + 1], { rtol: 1e-12 });
  assertClose(yarn.invFreq, parts, { rtol: 1e-12 });
});

test('LongRoPELite: positions < n̂ rotate by m·θ, later ones by m·θ/λ; with n̂ = 0 it is RoPE with θ/λ and the factor', () => {
  const theta = invFreqLadder(8, 100);
  const params: LongRoPEParams = { lambda: [1, 2, 3, 4], leading: 3, attentionFactor: 1.2 };
  const enc = new LongRoPELite(8, 100, 16, params);
  const a = enc.angles(arange(0, 6, 1, { dtype: 'float64' })).data;
  for (let m = 0; m < 6; m++) {
    for (let i = 0; i < 4; i++) assertClose([a[m * 4 + i]!], [m < 3 ? m * theta[i]! : (m * theta[i]!) / params.lambda[i]!], { rtol: 1e-12 }, `m=${m} i=${i}`);
  }
  const g = new Generator(5);
  const q = new Tensor(Float64Array.from({ length: 2 * 6 * 8 }, () => g.normal()), [1, 2, 6, 8]);
  const pos = arange(0, 6, 1, { dtype: 'float64' });
  const mine = new LongRoPELite(8, 100, 16, { ...params, leading: 0 }).encodeQK(q, q, pos, pos).q;
  const rope = new RoPE(8, { invFreq: theta.map((t, i) => t / params.lambda[i]!), attentionFactor: 1.2 }).encodeQK(q, q, pos, pos).q;
  assertClose(Array.from(mine.data), Array.from(rope.data), { atol: 1e-12 });
});

test('searchLongRoPE keeps λ non-decreasing, never ends worse than its best start, and finds a separable optimum on the grid', () => {
  const s = spec(4);
  const grid = lambdaGrid(4);
  assert.equal(grid, [1, 1.75, 2.5, 3.25, 4, 5]);
  const target = [1, 1, 1.75, 2.5, 4, 4, 5, 5];
  const objective = (p: LongRoPEParams): number => p.lambda.reduce((acc, v, i) => acc + (Math.log(v) - Math.log(target[i]!)) ** 2, 0) + (p.leading === 4 ? 0 : 0.01) + (p.attentionFactor === 1 ? 0.01 : 0);
  const found = searchLongRoPE(s, objective, 2);
  assert.ok(found.params.lambda.every((v, i) => i === 0 || v >= found.params.lambda[i - 1]!), 'monotone');
  assert.equal(found.params.lambda, target);
  assert.is(found.params.leading, 4);
  assert.ok(found.params.attentionFactor > 1, 'Phi-3 factor chosen');
  assert.ok(found.loss < 1e-12, `${found.loss}`);
  const zigzag = [1, 5, 1, 5, 1, 5, 1, 5];
  const constrained = searchLongRoPE(s, (p) => p.lambda.reduce((acc, v, i) => acc + (v - zigzag[i]!) ** 2, 0), 3).params.lambda;
  assert.ok(constrained.every((v, i) => i === 0 || v >= constrained[i - 1]!), `a non-monotone optimum is not taken: [${constrained.join(', ')}]`);
  const once = searchLongRoPE(s, objective, 0);
  const starts = (['pi', 'ntk', 'ntk-by-parts', 'llama3'] as const).map((arm) => objective({ lambda: Array.from(invFreqLadder(16, s.base), (t, i) => t / armInvFreq(arm, s)[i]!), leading: 0, attentionFactor: 1 }));
  assert.ok(once.loss <= Math.min(...starts));
});

test('dynamicTextLoss: at T = L it is the plain loss; beyond L it scores every position once, chunk by chunk', () => {
  const s: ArmSpec = { headDim: 8, base: regimeMatchedBase(8, 16), trainLength: 16, factor: 4, alpha: 1, beta: 4 };
  const model = new GPT({ vocabSize: 64, contextLength: 16, dim: 16, numLayers: 1, numHeads: 2, positional: 'rope', ropeBase: s.base, seed: 3 });
  const g = new Generator(9);
  const short = [textDocument(17, g, text), textDocument(17, g, text)];
  const plain = textLoss(model, short, 16);
  assertClose([dynamicTextLoss(model, short, 16, { ...s, factor: 1 }, 8)], [plain], { rtol: 1e-6 });
  const long = [textDocument(65, g, text), textDocument(65, g, text)];
  let tokens = 0;
  const dyn = dynamicTextLoss(model, long, 64, s, 16, (n) => (tokens += n));
  assert.is(tokens, 2 * (16 + 32 + 48 + 64), 'prefixes 16, 32, 48, 64');
  assert.ok(Number.isFinite(dyn) && dyn > 0);
  // chunk = T − L: the first L positions from the plain model, the rest from one NTK(s = 4) pass
  model.setPositional(new RoPE(8, { base: s.base }));
  const full = noGradLosses(model, long, 64, new RoPE(8, { invFreq: ntkInvFreq({ dim: 8, base: s.base, factor: 4 }) }));
  const first = noGradLosses(model, long.map((x) => x.subarray(0, 17)), 16, new RoPE(8, { base: s.base }));
  let expected = 0;
  for (let b = 0; b < 2; b++) {
    for (let t = 0; t < 16; t++) expected += first[b * 16 + t]!;
    for (let t = 16; t < 64; t++) expected += full[b * 64 + t]!;
  }
  assertClose([dynamicTextLoss(model, long, 64, s, 48)], [expected / 128], { rtol: 1e-6 });
});

/** Per-token losses [B·T] of sequences of T + 1 under `enc`. */
function noGradLosses(model: GPT, seqs: readonly Int32Array[], T: number, enc: RoPE): Float64Array {
  model.setPositional(enc);
  return noGrad(() => tokenLosses(model, seqs, T));
}

test('passkeyHits scores a trial only when all three digits are the argmax at the three answer positions', () => {
  const T = 16;
  const trials = passkeyTrials(T, [5, 8, 10], 1, new Generator(1), text);
  // an oracle "model": at input position T − 3 + j it puts the maximum on digit j of trial `right[b]`'s answer,
  // elsewhere (also at T − 4, one position early) on the next digit, which is never the answer
  const right = [0, 1, 2];
  const wrongDigit = 1; // trial 1 gets its second digit wrong
  const oracle = {
    config: { vocabSize: 64 },
    forward(ids: Tensor): Tensor {
      const B = ids.shape[0]!;
      const out = new Float64Array(B * T * 64);
      for (let b = 0; b < B; b++) {
        const values = trials[right[b]!]!.values;
        for (let t = 0; t < T; t++) {
          const j = t - (T - 3);
          const wrong = TOY_VOCAB.firstDigit + ((values[Math.max(0, Math.min(2, j))]! - TOY_VOCAB.firstDigit + 1) % 10);
          const hit = j >= 0 && !(b === wrongDigit && j === 1);
          out[(b * T + t) * 64 + (hit ? values[j]! : wrong)] = 1;
        }
      }
      return new Tensor(out, [B, T, 64]);
    },
  } as unknown as GPT;
  assert.equal(passkeyHits(oracle, trials, T), [true, false, true]);
  const model = new GPT({ vocabSize: 64, contextLength: T, dim: 16, numLayers: 1, numHeads: 2, positional: 'rope', ropeBase: 100, seed: 4 });
  assert.is(passkeyHits(model, trials, T).length, 3);
});

test('--quick as the runner calls it: every arm at every length, finite numbers, a verdict, an SVG that parses', async () => {
  const seen: number[] = [];
  const res = await reproduction.run({ quick: true, progress: (done, total) => seen.push(done / total) });
  assert.is(reproduction.name, 'context-extension');
  assert.ok(['reproduced', 'partly', 'not reproduced'].includes(res.verdict));
  assert.ok(res.summary.length > 0 && res.reason.length > 0 && res.table.includes('| longrope-lite |'));
  assert.ok(seen.length > 0 && seen.every((f) => f >= 0 && f <= 1), 'progress within [0, 1]');
  assert.ok(seen.every((f, i) => i === 0 || f >= seen[i - 1]!), 'progress never goes back');
  const data = res.data as { runs: Array<{ measures: Record<number, Record<string, { textLoss: number; passkey: number; kMax: number; accuracy: number[] }>> }>; flags: { lengths: number[]; distances: number } };
  assert.is(data.runs.length, 2);
  for (const run of data.runs) {
    for (const T of data.flags.lengths) {
      for (const arm of ARMS) {
        const m = run.measures[T]![arm]!;
        assert.ok(Number.isFinite(m.textLoss) && m.textLoss > 0, `${arm}@${T} text loss`);
        assert.ok(m.passkey >= 0 && m.passkey <= 1 && m.accuracy.length === data.flags.distances && m.kMax >= 0, `${arm}@${T}`);
      }
    }
  }
  assert.ok(res.svg !== null && res.svg.startsWith('<svg'));
  assertWellFormedSvg(res.svg!);
  assert.is((res.svg!.match(/<polyline/g) ?? []).length, ARMS.length, 'one line per arm');
});

test.run();
