/**
 * DRoPE (positional/drope.ts; Zhao et al. 2025; docs/notes/drope.md): angle tables of both integrations (dimSplit,
 * headSplit), the heading properties for both modes (global heading offset, 2π periodicity of one agent's heading, joint and
 * per-axis translation of (x, y)), the contrast test (plain multi-frequency RoPE on headings breaks 2π), norm
 * preservation, the worked example of docs/notes/drope.md, GQA kv tables, gradcheck through encodeQK, and errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, ShapeError, Tensor, ValueError, gradcheck, indexSelect, matmul } from '../../core/index.js';
import { DRoPE, dropeAngles, dropeFrequencies, dropeSplit, type DRoPEOptions } from '../../positional/drope.js';
import { MultiAxisRoPE, allocateFrequencies } from '../../positional/multi-axis.js';
import { ropeInvFreq, type PairLayout } from '../../positional/rope.js';
import type { PositionalEncoding } from '../../positional/encoding.js';
import { assertClose, assertShape } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';

const TWO_PI = 2 * Math.PI;

function randn(g: Generator, shape: number[]): Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  return new Tensor(Float64Array.from({ length: n }, () => g.normal()), shape);
}

/** Agents [N, 3] (or [B, N, 3]) with x, y ∈ [−50, 50] and heading ∈ [−10, 10]. */
function randAgents(g: Generator, lead: number[]): Tensor {
  const n = lead.reduce((p, d) => p * d, 1);
  const data = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) {
    data[3 * i] = (g.random() - 0.5) * 100;
    data[3 * i + 1] = (g.random() - 0.5) * 100;
    data[3 * i + 2] = (g.random() - 0.5) * 20;
  }
  return new Tensor(data, [...lead, 3]);
}

/** A copy of agents with f applied to every (x, y, heading) row, given its flat row index. */
function mapAgents(agents: Tensor, f: (row: number, x: number, y: number, h: number) => [number, number, number]): Tensor {
  const d = Float64Array.from(agents.data);
  for (let r = 0; r < d.length / 3; r++) d.set(f(r, d[3 * r]!, d[3 * r + 1]!, d[3 * r + 2]!), 3 * r);
  return new Tensor(d, agents.shape);
}

/** Attention logits q̃ k̃ᵀ [B, H, Tq, Tk] after the encoding (k heads repeated for GQA). */
function scores(enc: PositionalEncoding, q: Tensor, k: Tensor, qAgents: Tensor, kAgents: Tensor): Tensor {
  const { q: qr, k: kr } = enc.encodeQK(q, k, qAgents, kAgents);
  const G = q.shape[1]! / k.shape[1]!;
  const kFull = G === 1 ? kr : indexSelect(kr, 1, Array.from({ length: q.shape[1]! }, (_, h) => Math.floor(h / G)));
  return matmul(qr, kFull.transpose(-1, -2));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * The regression guard: the same tables, but every heading pair j of a head gets a multi-frequency ladder
 * ω_j = ½·10000^(−2j/P_h) (non-integers) instead of 1 — plain RoPE applied to the heading angle.
 */
function plainRopeOnHeadings(enc: DRoPE): MultiAxisRoPE {
  const F = Float64Array.from(enc.freqs.data);
  const P = enc.split.pairs;
  const heads = enc.freqs.ndim === 3 ? enc.freqs.shape[0]! : 1;
  for (let h = 0; h < heads; h++) {
    const row = h * 3 * P + 2 * P; // heading axis of head h
    const js = Array.from({ length: P }, (_, j) => j).filter((j) => F[row + j] === 1);
    const ladder = js.length > 0 ? ropeInvFreq(2 * js.length) : [];
    js.forEach((j, i) => (F[row + j] = 0.5 * ladder[i]!));
  }
  return new MultiAxisRoPE(new Tensor(F, enc.freqs.shape), { layout: enc.layout });
}

interface Case {
  options: DRoPEOptions;
  H: number;
  B: number;
  Tq: number;
  Tk: number;
  batched: boolean;
  seed: number;
}

const dimSplitExtra = fc.constantFrom<Record<string, number>>({}, { positionPairs: 2, headingPairs: 1 }, { headingPairs: 2 }, { positionPairs: 2 });
const caseArb: fc.Arbitrary<Case> = fc
  .record({
    mode: fc.constantFrom('dimSplit', 'headSplit'),
    layout: fc.constantFrom<PairLayout>('half', 'interleaved'),
    headDim: fc.constantFrom(8, 12, 16),
    H: fc.integer({ min: 2, max: 4 }),
    extra: dimSplitExtra,
    headingHeads: fc.integer({ min: 1, max: 4 }),
    B: fc.integer({ min: 1, max: 2 }),
    Tq: fc.integer({ min: 1, max: 4 }),
    Tk: fc.integer({ min: 1, max: 4 }),
    batched: fc.boolean(),
    seed: fc.integer({ min: 0, max: 1e6 }),
  })
  .map(({ mode, layout, headDim, H, extra, headingHeads, B, Tq, Tk, batched, seed }) => ({
    options:
      mode === 'dimSplit'
        ? { mode: 'dimSplit' as const, headDim, layout, ...extra }
        : { mode: 'headSplit' as const, headDim, layout, numHeads: H, headingHeads: Math.min(headingHeads, H - 1) },
    H, B, Tq, Tk, batched, seed,
  }));

function setup(c: Case): { enc: DRoPE; q: Tensor; k: Tensor; qa: Tensor; ka: Tensor } {
  const g = new Generator(c.seed);
  const d = c.options.headDim;
  return {
    enc: new DRoPE(c.options),
    q: randn(g, [c.B, c.H, c.Tq, d]),
    k: randn(g, [c.B, c.H, c.Tk, d]),
    qa: randAgents(g, c.batched ? [c.B, c.Tq] : [c.Tq]),
    ka: randAgents(g, c.batched ? [c.B, c.Tk] : [c.Tk]),
  };
}

// ── angle tables ──

test('dimSplit table: x pairs x·ω_k, y pairs y·ω_k, heading pairs θ exactly, leftover pairs 0', () => {
  const agents = new Tensor(Float64Array.from([3, -2, 0.7, -1.5, 4, -2.9]), [2, 3]);
  // headDim 16 → P = 8, default positionPairs 2·⌊8/4⌋ = 4 (2 x, 2 y), headingPairs 4; ω = ropeInvFreq(4) = [1, 0.01]
  const a = dropeAngles(agents, { mode: 'dimSplit', headDim: 16 });
  assertShape(a.shape, [2, 8]);
  const w = ropeInvFreq(4);
  assertClose(a.data, [3 * w[0]!, 3 * w[1]!, -2 * w[0]!, -2 * w[1]!, 0.7, 0.7, 0.7, 0.7, -1.5 * w[0]!, -1.5 * w[1]!, 4 * w[0]!, 4 * w[1]!, -2.9, -2.9, -2.9, -2.9], { rtol: 1e-15, atol: 0 });
  for (const j of [4, 5, 6, 7]) assert.ok(Object.is(a.data[j], 0.7), `heading pair ${j} is θ bit for bit`);
  // headDim 8 with positionPairs 2, headingPairs 1: [x, y, θ, 0] (one NoPE pair)
  const b = dropeAngles(agents, { mode: 'dimSplit', headDim: 8, positionPairs: 2, headingPairs: 1 });
  assertClose(b.data, [3, -2, 0.7, 0, -1.5, 4, -2.9, 0], { rtol: 0, atol: 0 });
  // only headingPairs: position gets the rest; base changes only the position ladder (ω = 100^(−2k/4) = [1, 0.1])
  const s = dropeSplit({ mode: 'dimSplit', headDim: 12, headingPairs: 2 });
  assert.equal([s.positionPairs, s.headingPairs], [4, 2]);
  const c = dropeAngles(new Tensor(Float64Array.from([2, 5, 1]), [1, 3]), { mode: 'dimSplit', headDim: 12, headingPairs: 2, base: 100 });
  assertClose(c.data, [2, 2 * 0.1, 5, 5 * 0.1, 1, 1], { rtol: 1e-15, atol: 0 });
  // batched agents [B, N, 3] → [B, N, P]
  assertShape(dropeAngles(new Tensor(new Float64Array(2 * 5 * 3), [2, 5, 3]), { mode: 'dimSplit', headDim: 16 }).shape, [2, 5, 8]);
});

test('headSplit table: position heads all pairs (x | y), heading heads all pairs θ; [H, N, P] / [B, H, N, P]', () => {
  const agents = new Tensor(Float64Array.from([3, -2, 0.7]), [1, 3]);
  const F = dropeFrequencies({ mode: 'headSplit', headDim: 8, numHeads: 4 });
  assertShape(F.shape, [4, 3, 4]);
  const a = dropeAngles(agents, { mode: 'headSplit', headDim: 8, numHeads: 4 }); // headingHeads = 2: heads 2, 3
  assertShape(a.shape, [4, 1, 4]);
  const w = ropeInvFreq(4);
  const pos = [3 * w[0]!, 3 * w[1]!, -2 * w[0]!, -2 * w[1]!];
  assertClose(a.data, [...pos, ...pos, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7], { rtol: 1e-15, atol: 0 });
  const b = dropeAngles(new Tensor(new Float64Array(2 * 5 * 3), [2, 5, 3]), { mode: 'headSplit', headDim: 8, numHeads: 3, headingHeads: 1 });
  assertShape(b.shape, [2, 3, 5, 4]);
  // all heads heading: odd pairs are fine (no x/y split needed)
  assertClose(dropeAngles(agents, { mode: 'headSplit', headDim: 6, numHeads: 2, headingHeads: 2 }).data, new Array(6).fill(0.7), { rtol: 0, atol: 0 });
});

test('DRoPE rotates q and k only (no value rotation, no logit factor); angles broadcast over heads in dimSplit', () => {
  const g = new Generator(5);
  const enc = new DRoPE({ mode: 'dimSplit', headDim: 8 });
  assert.is(enc.name, 'drope');
  assert.is(enc.scope, 'model');
  assert.is(enc.layout, 'interleaved');
  const q = randn(g, [2, 3, 4, 8]);
  const k = randn(g, [2, 1, 5, 8]);
  const out = enc.encodeQK(q, k, randAgents(g, [2, 4]), randAgents(g, [2, 5]));
  assertShape(out.q.shape, [2, 3, 4, 8]);
  assertShape(out.k.shape, [2, 1, 5, 8]);
  assert.is(out.logitScale, undefined);
  assert.is(enc.inputEmbedding(new Tensor(new Float64Array(4), [4]), 8), null);
  assertShape(enc.angles(randAgents(g, [2, 4])).shape, [2, 1, 4, 4]);
  assertShape(enc.angles(randAgents(g, [4])).shape, [4, 4]);
});

// ── heading and translation properties, both modes ──

test('property: adding the same angle to every heading leaves every score unchanged', () => {
  fc.assert(
    fc.property(caseArb, fc.double({ min: -10, max: 10, noNaN: true }), (c, shift) => {
      const { enc, q, k, qa, ka } = setup(c);
      const base = scores(enc, q, k, qa, ka);
      const rot = (a: Tensor): Tensor => mapAgents(a, (_, x, y, h) => [x, y, h + shift]);
      assertClose(scores(enc, q, k, rot(qa), rot(ka)).data, base.data, { rtol: 1e-11, atol: 1e-11 }, `${c.options.mode} shift ${shift}`);
    }),
    fcParams(40),
  );
});

test('property: adding 2πm to one agent\'s heading leaves every score unchanged (float64)', () => {
  fc.assert(
    fc.property(caseArb, fc.integer({ min: -3, max: 3 }).filter((m) => m !== 0), fc.nat(), fc.boolean(), (c, m, pick, onQuery) => {
      const { enc, q, k, qa, ka } = setup(c);
      const base = scores(enc, q, k, qa, ka);
      const target = onQuery ? qa : ka;
      const row = pick % (target.size / 3);
      const moved = mapAgents(target, (r, x, y, h) => [x, y, r === row ? h + TWO_PI * m : h]);
      const s = onQuery ? scores(enc, q, k, moved, ka) : scores(enc, q, k, qa, moved);
      assertClose(s.data, base.data, { rtol: 1e-12, atol: 1e-12 }, `${c.options.mode} 2π·${m}`);
    }),
    fcParams(40),
  );
});

test('property: translating every agent\'s (x, y), jointly or along one axis, leaves every score unchanged', () => {
  fc.assert(
    fc.property(caseArb, fc.double({ min: -100, max: 100, noNaN: true }), fc.double({ min: -100, max: 100, noNaN: true }), fc.constantFrom('x', 'y', 'xy'), (c, tx, ty, axes) => {
      const { enc, q, k, qa, ka } = setup(c);
      const base = scores(enc, q, k, qa, ka);
      const dx = axes === 'y' ? 0 : tx;
      const dy = axes === 'x' ? 0 : ty;
      const move = (a: Tensor): Tensor => mapAgents(a, (_, x, y, h) => [x + dx, y + dy, h]);
      assertClose(scores(enc, q, k, move(qa), move(ka)).data, base.data, { rtol: 1e-10, atol: 1e-10 }, `${c.options.mode} (${dx}, ${dy})`);
    }),
    fcParams(40),
  );
});

test('regression guard: plain multi-frequency RoPE on the heading (ω ∉ ℤ) FAILS the 2π property', () => {
  fc.assert(
    fc.property(caseArb, fc.nat(), (c, pick) => {
      const { enc, q, k, qa, ka } = setup(c);
      const plain = plainRopeOnHeadings(enc);
      const row = pick % (qa.size / 3);
      const moved = mapAgents(qa, (r, x, y, h) => [x, y, r === row ? h + TWO_PI : h]);
      const drift = maxAbsDiff(scores(plain, q, k, moved, ka).data, scores(plain, q, k, qa, ka).data);
      assert.ok(drift > 1e-3, `${c.options.mode}: plain RoPE moved the scores by only ${drift}`);
      // … while DRoPE on the very same inputs does not move
      assert.ok(maxAbsDiff(scores(enc, q, k, moved, ka).data, scores(enc, q, k, qa, ka).data) < 1e-11);
    }),
    fcParams(30),
  );
});

test('property: rotation preserves the norm of every q and k row (layouts, modes, leftover pairs)', () => {
  fc.assert(
    fc.property(caseArb, (c) => {
      const { enc, q, k, qa, ka } = setup(c);
      const out = enc.encodeQK(q, k, qa, ka);
      for (const [x, y] of [[q, out.q], [k, out.k]] as const) {
        const d = x.shape[3]!;
        for (let r = 0; r < x.size / d; r++) {
          let nx = 0;
          let ny = 0;
          for (let i = r * d; i < (r + 1) * d; i++) {
            nx += x.data[i]! ** 2;
            ny += y.data[i]! ** 2;
          }
          assertClose([ny], [nx], { rtol: 1e-13, atol: 1e-13 }, `row ${r}`);
        }
      }
    }),
    fcParams(30),
  );
});

// ── worked example (docs/notes/drope.md) ──

// q, k = numpy.random.default_rng(2).standard_normal((2, 8)) — reproduces every number of the worked example with the interleaved layout
const Q65 = [0.18905338179353307, -0.5227484414807474, -0.41306354339189344, -2.4414673826398556, 1.799707382720902, 1.1441658720372287, -0.32542283686782436, 0.7738065867276614];
const K65 = [0.28121066979764925, -0.5538228364240524, 0.9775674511260357, -0.31055654665915255, -0.3288239040579627, -0.7921467553588982, 0.45495807124085547, -0.09919805171738795];

function pairScore(enc: PositionalEncoding, q: number[], k: number[], hq: number, hk: number): number {
  const d = q.length;
  const at = (h: number): Tensor => new Tensor(Float64Array.from([0, 0, h]), [1, 3]);
  return scores(enc, new Tensor(Float64Array.from(q), [1, 1, 1, d]), new Tensor(Float64Array.from(k), [1, 1, 1, d]), at(hq), at(hk)).item();
}

test('worked example: d = 8 heading block, θ = 0.3 vs 1.2, and the plain-RoPE contrast', () => {
  const enc = new DRoPE({ mode: 'dimSplit', headDim: 8, positionPairs: 0, headingPairs: 4, layout: 'interleaved' });
  for (const [hq, hk] of [[0.3, 1.2], [0.3 + TWO_PI, 1.2], [0.8, 1.7]] as const) {
    assertClose([pairScore(enc, Q65, K65, hq, hk)], [-1.5683600467061902], { rtol: 1e-12, atol: 0 }, `DRoPE s(${hq}, ${hk})`);
  }
  assertClose([pairScore(enc, Q65, K65, 0.3, 1.2)], [-1.56836], { rtol: 0, atol: 5e-7 }, 'six digits');
  // plain RoPE, ω = [1, 0.1, 0.01, 0.001] on the heading axis
  const plain = new MultiAxisRoPE(allocateFrequencies([2, 2, 2, 2], [1, 0.1, 0.01, 0.001], 3), { layout: 'interleaved' });
  assertClose([pairScore(plain, Q65, K65, 0.3, 1.2)], [-1.406341], { rtol: 0, atol: 5e-7 }, 'plain s(0.3, 1.2)');
  assertClose([pairScore(plain, Q65, K65, 0.3 + TWO_PI, 1.2)], [-0.005382], { rtol: 0, atol: 5e-7 }, 'plain s(0.3 + 2π, 1.2) breaks');
  assertClose([pairScore(plain, Q65, K65, 0.8, 1.7)], [-1.406341], { rtol: 0, atol: 5e-7 }, 'plain s(0.8, 1.7)');
  // single pair, q = k = e1: the score is cos(θ_q − θ_k)
  const one = new DRoPE({ mode: 'dimSplit', headDim: 2, positionPairs: 0, headingPairs: 1 });
  const s = pairScore(one, [1, 0], [1, 0], 0.3, 1.2);
  assertClose([s], [Math.cos(0.3 - 1.2)], { rtol: 1e-15, atol: 1e-16 });
  assertClose([s], [0.62161], { rtol: 0, atol: 5e-7 });
});

// ── GQA ──

test('headSplit with GQA: kv head g uses the kind of query heads g·G…; invariances hold', () => {
  const g = new Generator(11);
  const enc = new DRoPE({ mode: 'headSplit', headDim: 8, numHeads: 4, headingHeads: 2 });
  const agents = randAgents(g, [3]);
  const full = enc.angles(agents);
  assertShape(full.shape, [4, 3, 4]);
  assertClose(enc.angles(agents, 2).data, indexSelect(full, 0, [0, 2]).data, { rtol: 0, atol: 0 });
  const q = randn(g, [1, 4, 3, 8]);
  const k = randn(g, [1, 2, 3, 8]);
  const base = scores(enc, q, k, agents, agents);
  const moved = mapAgents(agents, (r, x, y, h) => [x + 7, y - 3, h + 0.4 + (r === 1 ? TWO_PI : 0)]);
  assertClose(scores(enc, q, k, moved, moved).data, base.data, { rtol: 1e-11, atol: 1e-11 });
  assert.throws(() => new DRoPE({ mode: 'headSplit', headDim: 8, numHeads: 4, headingHeads: 1 }).encodeQK(q, k, agents, agents), (e: unknown) => e instanceof ValueError && /kv head would serve both/.test((e as Error).message));
});

// ── gradients ──

test('gradcheck: scores w.r.t. q, k and the agents, through encodeQK (both modes)', () => {
  const g = new Generator(3);
  for (const options of [{ mode: 'dimSplit', headDim: 8, layout: 'half' }, { mode: 'headSplit', headDim: 8, numHeads: 2 }] as DRoPEOptions[]) {
    const enc = new DRoPE(options);
    const q = randn(g, [1, 2, 3, 8]);
    const k = randn(g, [1, 2, 3, 8]);
    const qa = randAgents(g, [3]);
    const ka = randAgents(g, [3]);
    q.requiresGrad = true;
    k.requiresGrad = true;
    qa.requiresGrad = true;
    assert.ok(gradcheck((qq, kk, aa) => scores(enc, qq!, kk!, aa!, ka), [q, k, qa]));
  }
});

// ── errors ──

test('errors: odd / invalid dims, too many heading pairs or heads, heads not dividing, bad agents', () => {
  const throwsWith = (fn: () => unknown, Cls: typeof ValueError | typeof ShapeError, re: RegExp, arg?: string): void => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof Cls, `expected ${Cls.name}, got ${String(e)}`);
      assert.match((e as Error).message, re);
      if (arg !== undefined) assert.is((e as ValueError).arg, arg);
      return;
    }
    assert.unreachable(`expected ${re}`);
  };
  const agents = new Tensor(new Float64Array(6), [2, 3]);
  throwsWith(() => dropeAngles(agents, { mode: 'dimSplit', headDim: 7 }), ValueError, /^dropeAngles: headDim must be even \(channels rotate in pairs\), got 7/, 'headDim');
  throwsWith(() => dropeAngles(agents, { mode: 'dimSplit', headDim: 6 }), ValueError, /too small for the default split/, 'headDim');
  throwsWith(() => dropeAngles(agents, { mode: 'dimSplit', headDim: 8, positionPairs: 3 }), ValueError, /positionPairs must be even/, 'positionPairs');
  throwsWith(() => dropeAngles(agents, { mode: 'dimSplit', headDim: 8, positionPairs: 2, headingPairs: 3 }), ValueError, /too many heading pairs/, 'headingPairs');
  throwsWith(() => dropeAngles(agents, { mode: 'dimSplit', headDim: 8, headingPairs: 5 }), ValueError, /too many heading pairs/, 'headingPairs');
  throwsWith(() => dropeAngles(agents, { mode: 'dimSplit', headDim: 8, headingPairs: 1 }), ValueError, /pairs left for \(x, y\) are odd/, 'headingPairs');
  throwsWith(() => dropeAngles(agents, { mode: 'dimSplit', headDim: 8, base: 1 }), ValueError, /base must be a finite number > 1/, 'base');
  throwsWith(() => dropeAngles(agents, { mode: 'headSplit', headDim: 6, numHeads: 2 }), ValueError, /position heads need an even number of pairs/, 'headDim');
  throwsWith(() => dropeAngles(agents, { mode: 'headSplit', headDim: 8, numHeads: 4, headingHeads: 5 }), ValueError, /headingHeads must be an integer ≥ 0 ≤ 4, got 5/, 'headingHeads');
  throwsWith(() => dropeAngles(agents, { mode: 'headSplit', headDim: 8, numHeads: 1 }), ValueError, /too small for the default headingHeads/, 'numHeads');
  throwsWith(() => dropeAngles(agents, { mode: 'headSplit', headDim: 8, numHeads: 0 }), ValueError, /numHeads must be an integer ≥ 1, got 0/, 'numHeads');
  throwsWith(() => dropeAngles(agents, { mode: 'headSplit', headDim: 8, numHeads: 2, headingPairs: 2 } as unknown as DRoPEOptions), ValueError, /headingPairs is a dimSplit option/, 'headingPairs');
  throwsWith(() => dropeAngles(agents, { mode: 'dimSplit', headDim: 8, numHeads: 2 } as unknown as DRoPEOptions), ValueError, /numHeads is a headSplit option/, 'numHeads');
  throwsWith(() => dropeAngles(agents, { mode: 'polar', headDim: 8 } as unknown as DRoPEOptions), ValueError, /unknown mode — mode='polar'/, 'mode');
  throwsWith(() => dropeAngles(new Tensor(new Float64Array(4), [2, 2]), { mode: 'dimSplit', headDim: 8 }), ShapeError, /agents must be \[N, 3\] or \[B, N, 3\] — agents=\[2,2\]/, 'agents');
  throwsWith(() => new DRoPE({ mode: 'dimSplit', headDim: 8, layout: 'blocks' as PairLayout }), ValueError, /layout must be/, 'layout');

  const g = new Generator(1);
  const head = new DRoPE({ mode: 'headSplit', headDim: 8, numHeads: 4 });
  const a3 = randAgents(g, [3]);
  throwsWith(() => head.encodeQK(randn(g, [1, 3, 3, 8]), randn(g, [1, 3, 3, 8]), a3, a3), ShapeError, /q has 3 heads, the headSplit table 4/, 'q');
  throwsWith(() => head.encodeQK(randn(g, [1, 4, 3, 8]), randn(g, [1, 3, 3, 8]), a3, a3), ShapeError, /kv heads do not divide query heads/, 'k');
  const dim = new DRoPE({ mode: 'dimSplit', headDim: 8 });
  throwsWith(() => dim.encodeQK(randn(g, [1, 2, 3, 8]), randn(g, [1, 2, 3, 8]), randAgents(g, [4]), a3), ShapeError, /one agent per token/, 'positions');
  throwsWith(() => dim.encodeQK(randn(g, [1, 2, 3, 6]), randn(g, [1, 2, 3, 6]), a3, a3), ShapeError, /^DRoPE: q=\[1,2,3,6\] has head dim 6, but this encoding's head dim is 8/, 'q');
  throwsWith(() => dim.encodeQK(randn(g, [2, 3, 8]), randn(g, [2, 3, 8]), a3, a3), ShapeError, /need q \[B, H, Tq, d\]/, 'q');
});

test.run();
