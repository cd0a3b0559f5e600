/**
 * scripts/experiments/hirope-code.ts (issue 17, HiRoPE): the synthetic-code generator's invariants, checked from the
 * token stream alone (a RECALL −k answer is the name after the DEF k functions back; a CALL's answers are the first
 * two parameters of the named function; plain statements use their own function's parameters; p_hi/p_tok follow the
 * DEFs; the log-probabilities are those of the process), the custom forward (= the GPT's own with plain RoPE logits),
 * ReRoPE as the library's windowed logits vs a naive clipped-distance computation, the verdict rule, and
 * `reproduction.run({ quick: true })` end to end. Importing the script must not run its main.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, Tensor, crossEntropy, noGrad } from '../../core/index.js';
import { GPT } from '../../models/gpt.js';
import { hiropeScores } from '../../positional/hirope.js';
import { invFreqLadder } from '../../positional/rope.js';
import {
  ARMS, CODE_VOCAB, DEFAULT_FLAGS, HEADER, PARAMS, QUICK_FLAGS, armLogits, armScoring, assemble, bayesFloor, codeBatch, codeFile, forwardWithScores,
  gapClosure, measureArm, reproduction, reropeScores, type ArmMeasure, type SeedRun,
} from '../../scripts/experiments/hirope-code.js';
import { assertWellFormedSvg } from '../helpers/svg.js';

const isName = (t: number): boolean => t >= 0 && t < CODE_VOCAB.names;
const isVar = (t: number): boolean => t >= CODE_VOCAB.firstVar && t < CODE_VOCAB.firstVar + CODE_VOCAB.vars;

test('codeFile: every RECALL −k answers the name after the DEF k functions back, every CALL the callee\'s first two parameters (read from the tokens)', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 2, max: 600 }), fc.integer({ min: 1, max: 4 }), (seed, length, maxK) => {
    const f = codeFile(length, new Generator(seed), { maxK });
    const tk = f.tokens;
    assert.is(tk.length, length);
    assert.is(tk[0], CODE_VOCAB.BOS);
    const defs = Array.from(tk).flatMap((t, i) => (t === CODE_VOCAB.DEF ? [i] : []));
    const fnAt = (p: number): number => defs.filter((d) => d <= p).length - 1; // 0-based function index of position p
    let recalls = 0;
    let calls = 0;
    for (let p = 0; p < length; p++) {
      if (tk[p] === CODE_VOCAB.RECALL && p + 2 < length) {
        const k = tk[p + 1]! - CODE_VOCAB.firstK + 1;
        assert.ok(k >= 1 && k <= maxK, `k = ${k}`);
        const c = fnAt(p);
        assert.ok(c - k >= 0, 'k functions exist before');
        assert.is(p, defs[c]! + HEADER, 'RECALL is the first statement');
        assert.is(tk[p + 2], tk[defs[c - k]! + 1], `RECALL −${k} at ${p} answers the name of function ${c - k}`);
        const q = f.queries.find((x) => x.answers[0] === p + 2)!;
        assert.ok(q !== undefined && q.kind === 'recall' && q.back === k && q.sources[0] === defs[c - k]! + 1 && q.distance === p + 1 - (defs[c - k]! + 1));
        recalls++;
      }
      if (tk[p] === CODE_VOCAB.CALL && p + 3 < length) {
        const name = tk[p + 1]!;
        assert.ok(isName(name));
        const callee = defs.filter((d) => d < p && tk[d + 1] === name).at(-1);
        assert.ok(callee !== undefined, 'the callee is defined before the call');
        assert.ok(fnAt(p) - fnAt(callee) <= CODE_VOCAB.names - 1, 'within the last 39 functions');
        assert.equal([tk[p + 2], tk[p + 3]], [tk[callee + 2], tk[callee + 3]], `CALL at ${p} answers the callee's first two parameters`);
        const q = f.queries.find((x) => x.answers[0] === p + 2)!;
        assert.ok(q !== undefined && q.kind === 'call' && q.sources[0] === callee + 2);
        calls++;
      }
    }
    assert.is(f.queries.length, recalls + calls, 'one query per complete RECALL/CALL, none cut off');
  }), { numRuns: 60 });
});

test('codeFile: structure — fresh names, distinct parameters, plain statements over their own parameters, p_hi and p_tok from the DEFs', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 2, max: 1200 }), (seed, length) => {
    const f = codeFile(length, new Generator(seed));
    const tk = f.tokens;
    const defs = Array.from(tk).flatMap((t, i) => (t === CODE_VOCAB.DEF ? [i] : []));
    assert.equal(f.functions.map((x) => x.start), defs.filter((d) => d + 1 < length), 'one function per DEF whose name is in the file');
    const names = defs.filter((d) => d + 1 < length).map((d) => tk[d + 1]!);
    names.forEach((n, j) => {
      assert.ok(isName(n));
      assert.not.ok(names.slice(Math.max(0, j - (CODE_VOCAB.names - 1)), j).includes(n), `name of function ${j} not used by the 39 before it`);
    });
    for (let j = 0; j < defs.length; j++) {
      const d = defs[j]!;
      const end = defs[j + 1] ?? length;
      const params = Array.from(tk.subarray(d + 2, Math.min(d + HEADER, end)));
      assert.ok(params.every(isVar) && new Set(params).size === params.length, 'distinct variables');
      // statements after the header: plain ones are v op v v over this function's parameters
      let p = d + HEADER;
      while (p < end) {
        const t = tk[p]!;
        if (t === CODE_VOCAB.RECALL) p += 3;
        else if (t === CODE_VOCAB.CALL) p += 4;
        else {
          assert.ok(params.length === PARAMS && params.includes(t), `statement at ${p} starts with a parameter`);
          if (p + 1 < end) assert.ok(tk[p + 1]! >= CODE_VOCAB.firstOp && tk[p + 1]! < CODE_VOCAB.firstOp + CODE_VOCAB.ops);
          for (const o of [2, 3]) if (p + o < end) assert.ok(params.includes(tk[p + o]!), `operand at ${p + o}`);
          p += 4;
        }
      }
    }
    for (let t = 0; t < length; t++) {
      const fn = defs.filter((d) => d <= t).length;
      assert.is(f.unit[t], fn, `p_hi at ${t}`);
      assert.is(f.token[t], fn === 0 ? 0 : t - defs[fn - 1]!, `p_tok at ${t}`);
      assert.ok(f.logProb[t]! <= 0 && Number.isFinite(f.logProb[t]!));
    }
  }), { numRuns: 40 });
});

test('codeFile: log-probabilities of the process (first header exact; answers certain; DEF frequency after the minimum = endRate)', () => {
  const f = codeFile(400, new Generator(5));
  assert.is(f.logProb[1], 0, 'DEF after BOS');
  assert.ok(Math.abs(f.logProb[2]! + Math.log(CODE_VOCAB.names)) < 1e-12);
  assert.ok(Math.abs(f.logProb[3]! + Math.log(12)) < 1e-12 && Math.abs(f.logProb[4]! + Math.log(11)) < 1e-12 && Math.abs(f.logProb[5]! + Math.log(10)) < 1e-12);
  for (const q of f.queries) for (const a of q.answers) assert.is(f.logProb[a], 0, 'an answer is determined by the file');
  // the floor equals the mean −ln P of the predicted tokens; P(DEF) where a function may end is endRate
  const files = Array.from({ length: 30 }, (_, i) => codeFile(300, new Generator(100 + i), { endRate: 0.4 }));
  const defs = files.flatMap((x) => Array.from(x.tokens).flatMap((t, i) => (t === CODE_VOCAB.DEF && i > 1 ? [x.logProb[i]!] : [])));
  assert.ok(defs.every((lp) => Math.abs(lp - Math.log(0.4)) < 1e-12));
  const floor = bayesFloor(files);
  const direct = files.reduce((a, x) => a - x.logProb.subarray(1).reduce((s, v) => s + v, 0), 0) / files.reduce((a, x) => a + x.tokens.length - 1, 0);
  assert.ok(Math.abs(floor - direct) < 1e-12 && floor > 0.5 && floor < 3, `floor ${floor}`);
  assert.ok(gapClosure(floor, { bayes: floor, unigram: 3 }) === 1 && gapClosure(3, { bayes: floor, unigram: 3 }) === 0);
});

test('codeBatch: inputs, next-token targets, the answer weights and the levels of the input tokens', () => {
  const g = new Generator(2);
  const files = [codeFile(65, g), codeFile(65, g)];
  const b = codeBatch(files, 64, 4);
  for (let i = 0; i < 2; i++) {
    for (let t = 0; t < 64; t++) {
      assert.is(b.ids.data[i * 64 + t], files[i]!.tokens[t]);
      assert.is(b.targets[i * 64 + t], files[i]!.tokens[t + 1]);
      assert.is(b.levels.unit.data[i * 64 + t], files[i]!.unit[t]);
      assert.is(b.levels.token.data[i * 64 + t], files[i]!.token[t]);
    }
  }
  const answers = files.flatMap((f, i) => f.queries.flatMap((q) => q.answers.map((a) => i * 64 + a - 1)));
  assert.ok(answers.length > 0);
  b.weights.forEach((w, j) => assert.is(w, answers.includes(j) ? 4 : 1));
  assert.throws(() => codeBatch(files, 63), /T \+ 1 = 64/);
});

test('forwardWithScores with plain RoPE logits equals the GPT\'s own forward; HiRoPE with window ∞ is plain RoPE', () => {
  const model = new GPT({ vocabSize: 64, contextLength: 32, dim: 32, numLayers: 2, numHeads: 2, positional: 'rope', ropeBase: 300, seed: 1 });
  model.eval();
  const g = new Generator(9);
  const b = codeBatch([codeFile(41, g), codeFile(41, g)], 40);
  const theta = invFreqLadder(16, 300);
  noGrad(() => {
    const ref = model.forward(b.ids);
    const mine = forwardWithScores(model, b.ids, (q, k) => hiropeScores(q, k, { token: b.levels.token, unit: b.levels.unit }, { invFreq: theta, split: 4, window: Infinity, layout: 'half' }));
    let d = 0;
    for (let i = 0; i < ref.size; i++) d = Math.max(d, Math.abs(ref.data[i]! - mine.data[i]!));
    assert.ok(d < 1e-5, `max |Δ| ${d}`);
  });
});

test('reropeScores: ⟨R(min(m − n, w))·q_m, k_n⟩ for every causal pair (naive per-pair rotation)', () => {
  const g = new Generator(4);
  const [T, d, w] = [12, 8, 5];
  const q = new Tensor(Float64Array.from({ length: T * d }, () => g.normal()), [1, 1, T, d]);
  const k = new Tensor(Float64Array.from({ length: T * d }, () => g.normal()), [1, 1, T, d]);
  const theta = invFreqLadder(d, 50);
  const s = reropeScores(q, k, theta, w, 'half').data;
  const P = d / 2;
  for (let m = 0; m < T; m++) {
    for (let n = 0; n <= m; n++) {
      const rel = Math.min(m - n, w);
      let dot = 0;
      for (let i = 0; i < P; i++) {
        const [a, b] = [q.data[m * d + i]!, q.data[m * d + i + P]!];
        const c = Math.cos(rel * theta[i]!);
        const sn = Math.sin(rel * theta[i]!);
        dot += (a * c - b * sn) * k.data[n * d + i]! + (a * sn + b * c) * k.data[n * d + i + P]!;
      }
      assert.ok(Math.abs(s[m * T + n]! - dot) < 1e-9, `(${m}, ${n}): ${s[m * T + n]} vs ${dot}`);
    }
  }
});

test('measureArm: counts the RECALL queries of the second half split at the window, CALLs likewise; the text loss is the mean CE', () => {
  const model = new GPT({ vocabSize: 64, contextLength: 32, dim: 16, numLayers: 1, numHeads: 2, positional: 'rope', ropeBase: 100, seed: 2 });
  model.eval();
  const g = new Generator(11);
  const T = 96;
  const set = { text: [codeFile(T + 1, g)], queries: [codeFile(T + 1, g), codeFile(T + 1, g), codeFile(T + 1, g)] };
  // the window on a query's own distance, so that the boundary case (distance = window: far) is in the set
  const window = set.queries.flatMap((f) => f.queries.filter((q) => q.kind === 'recall' && q.answers[0]! - 1 >= T / 2))[0]!.distance;
  for (const scoring of [armScoring('origin', { headDim: 8, base: 100, factor: 3, window, split: 2 }), armScoring('hirope', { headDim: 8, base: 100, factor: 3, window, split: 2 })]) {
    const m = measureArm(model, set, T, scoring, window, 'half');
    const late = set.queries.flatMap((f) => f.queries.filter((q) => q.answers[0]! - 1 >= T / 2));
    assert.is(m.counts.recallFar, late.filter((q) => q.kind === 'recall' && q.distance >= window).length);
    assert.is(m.counts.recallNear, late.filter((q) => q.kind === 'recall' && q.distance < window).length);
    assert.is(m.counts.call, late.filter((q) => q.kind === 'call').length);
    assert.ok(m.counts.recallFar + m.counts.recallNear > 0 && m.counts.call > 0);
    for (const v of [m.recallFar, m.recallNear, m.call]) assert.ok(v >= 0 && v <= 1);
    const batch = codeBatch(set.text, T);
    const ce = noGrad(() => crossEntropy(armLogits(model, batch, scoring, 'half').reshape([T, 64]), batch.targets).data[0]!);
    assert.ok(Math.abs(m.textLoss - ce) < 1e-5, `${m.textLoss} vs ${ce}`);
  }
});

/** A measure with the given text loss and far-RECALL accuracy. */
const measure = (textLoss: number, recallFar: number): ArmMeasure => ({
  textLoss, recall: recallFar, recallNear: recallFar, recallFar, call: 0, callFar: 0, counts: { recallNear: 1, recallFar: 1, call: 1 },
});

/** Seed runs at L = 8 and L′ = 16 from per-arm (text loss, far RECALL) at 16 and origin's at 8. */
function runs(at16: Record<string, [number, number][]>, base: [number, number][]): SeedRun[] {
  return base.map((b, s) => ({
    seed: s + 1, trainLoss: [4, 1], sensitivity: {}, seconds: 1,
    measures: {
      8: Object.fromEntries(ARMS.map((arm) => [arm, measure(...b)])) as Record<(typeof ARMS)[number], ArmMeasure>,
      16: Object.fromEntries(ARMS.map((arm) => [arm, measure(...at16[arm]![s]!)])) as Record<(typeof ARMS)[number], ArmMeasure>,
    },
  }));
}

test('assemble: each half judged at the longest L′ behind its own control; one half testable → at most partly', () => {
  const flags = { ...DEFAULT_FLAGS, trainLength: 8, lengths: [8, 16] };
  const floors = { 8: { bayes: 1, unigram: 3 }, 16: { bayes: 1, unigram: 3 } };
  const good = { origin: [[3, 0.5], [3.1, 0.5], [3.2, 0.5]], pi: [[4, 0], [4, 0], [4, 0]], ntk: [[2.5, 0], [2.5, 0], [2.5, 0]], rerope: [[1.5, 0.1], [1.5, 0.1], [1.6, 0.1]], hirope: [[1.5, 0.9], [1.5, 0.9], [1.5, 0.9]] } as Record<string, [number, number][]>;
  const ok = assemble(flags, 100, floors, runs(good, [[1.1, 0.95], [1.2, 0.9], [1.1, 0.85]]), 1);
  assert.is(ok.verdict, 'reproduced', ok.reason);
  // RECALL control fails (0.5 < 0.8 in one seed): the text half alone → partly
  const noRecall = assemble(flags, 100, floors, runs(good, [[1.1, 0.95], [1.2, 0.5], [1.1, 0.85]]), 1);
  assert.is(noRecall.halves.recall.verdict, 'not reproduced');
  assert.is(noRecall.verdict, 'partly');
  assert.match(noRecall.reason, /FAILED/);
  // both controls fail (gap closure (3 − 2)/2 = 50 %)
  assert.is(assemble(flags, 100, floors, runs(good, [[2, 0.1], [2, 0.1], [2, 0.1]]), 1).verdict, 'not reproduced');
  // controls pass but HiRoPE loses to ReRoPE on far RECALL
  const worse = { ...good, hirope: [[1.5, 0.05], [1.5, 0.05], [1.5, 0.05]] } as Record<string, [number, number][]>;
  const w = assemble(flags, 100, floors, runs(worse, [[1.1, 0.95], [1.2, 0.9], [1.1, 0.85]]), 1);
  assert.is(w.halves.text.verdict, 'reproduced');
  assert.is(w.verdict, 'not reproduced');
});

test('reproduction.run({ quick: true }): a well-formed result in seconds (every arm, the sensitivity, the chart)', async () => {
  let calls = 0;
  const res = await reproduction.run({ quick: true, progress: () => calls++ });
  assert.ok(['reproduced', 'partly', 'not reproduced'].includes(res.verdict));
  assert.ok(calls > 0);
  for (const s of [res.summary, res.reason, res.table]) assert.ok(typeof s === 'string' && s.length > 0);
  for (const arm of ARMS) assert.match(res.table, new RegExp(`\\| ${arm} \\|`));
  assert.match(res.table, /HiRoPE sensitivity/);
  assertWellFormedSvg(res.svg!);
  const data = res.data as { runs: SeedRun[] };
  assert.is(data.runs.length, QUICK_FLAGS.seeds);
  for (const r of data.runs) {
    for (const T of QUICK_FLAGS.lengths) for (const arm of ARMS) assert.ok(Number.isFinite(r.measures[T]![arm].textLoss) && r.measures[T]![arm].textLoss > 0);
    assert.ok(Object.keys(r.sensitivity).length > 0);
  }
  assert.ok(reproduction.name === 'hirope-code' && reproduction.claim.includes('297.6') && reproduction.criterion.length > 0 && reproduction.setup.length > 0);
});

test.run();
