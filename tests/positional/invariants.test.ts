/**
 * The invariants that define the 1-D family, checked for every encoding in the registry at once:
 * scores depend only on relative position (shifting every position by s changes no logit), and encodeQK never
 * changes a vector's length except by the encoding's own attention factor. Dynamic NTK breaks the first on purpose
 * once positions pass the trained length (its frequencies follow the longest position seen): stated and tested.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator, ShapeError, Tensor, ValueError, matmul, noGrad, randn } from '../../core/index.js';
import {
  DynamicNTKRoPE, LearnedAbsolute, NoPE, PRoPE, PSCRoPE, RoPE, createPositional, llama3InvFreq, ntkInvFreq, pRopeInvFreq, piInvFreq, positionalNames,
  ropeInvFreq, yarnAttentionFactor, yarnInvFreq, type PositionalEncoding,
} from '../../positional/index.js';
import { assertProperty, checkNormPreservation, checkRelativePositionInvariance } from '../../testing/index.js';
import { FC_SEED } from '../helpers/fc.js';

const HEAD_DIM = 8;
const HEADS = 2;
const CONTEXT = 32;

/** Encodings whose whole effect is a position-dependent rotation of q and k (learned/NoPE add or do nothing). */
function rotating(name: string): boolean {
  return !['nope', 'learned'].includes(name);
}

function build(name: string, seed: number): PositionalEncoding {
  const pe = createPositional(name, { headDim: HEAD_DIM, modelDim: HEAD_DIM * HEADS, contextLength: CONTEXT, generator: new Generator(seed), dtype: 'float64' });
  // make PSC's zero-initialised gate non-trivial so that the property says something about it
  for (const p of pe.parameters()) for (let i = 0; i < p.size; i++) if (p.data[i] === 0) p.data[i] = 0.3 * Math.sin(7 * i + seed);
  return pe;
}

const positions = (start: number, T: number): Tensor => new Tensor(Float64Array.from({ length: T }, (_, i) => start + i), [T]);

for (const name of positionalNames().filter(rotating)) {
  test(`${name}: shifting every position by s leaves every attention logit unchanged (ropelab/testing's checker)`, () => {
    // dynamic NTK keeps its trained frequencies only while every position stays below the trained length
    const maxPosition = name === 'dynamic-ntk' ? CONTEXT - 1 : 3500;
    for (const seed of [1, 2]) {
      assertProperty(checkRelativePositionInvariance(build(name, seed), { headDim: HEAD_DIM, heads: HEADS, maxTokens: 6, maxPosition, tolerance: 1e-10, numRuns: 15, seed: FC_SEED + seed }));
    }
  });

  test(`${name}: encodeQK scales every vector's length by one constant at every position (a scaled rotation)`, () => {
    // unperturbed: PSC's gate is the identity at init (U = 0), so psc-rope is its base rotation here
    const pe = createPositional(name, { headDim: HEAD_DIM, modelDim: HEAD_DIM * HEADS, contextLength: CONTEXT, generator: new Generator(3), dtype: 'float64' });
    const result = checkNormPreservation(pe, { headDim: HEAD_DIM, heads: HEADS, maxTokens: 5, maxPosition: name === 'dynamic-ntk' ? CONTEXT - 1 : 3500, tolerance: 1e-12, numRuns: 20, seed: FC_SEED });
    assertProperty(result);
  });
}

test('nope: q and k pass through untouched and nothing is added to the residual stream', () => {
  const pe = createPositional('nope', { headDim: HEAD_DIM, modelDim: HEAD_DIM * HEADS, contextLength: CONTEXT });
  const q = randn([1, HEADS, 3, HEAD_DIM], { dtype: 'float64', generator: new Generator(1) });
  const k = randn([1, HEADS, 3, HEAD_DIM], { dtype: 'float64', generator: new Generator(2) });
  const e = pe.encodeQK(q, k, positions(5, 3), positions(9, 3));
  assert.ok(e.q === q && e.k === k && e.logitScale === undefined, 'identity on q and k');
  assert.is(pe.inputEmbedding(positions(0, 3), HEAD_DIM * HEADS), null);
});

test('learned: absolute, not relative — the embedding of position p is row p of the table, so a shift changes it', () => {
  const pe = build('learned', 4) as LearnedAbsolute;
  const dim = HEAD_DIM * HEADS;
  const at = (start: number): Tensor => pe.inputEmbedding(positions(start, 3), dim);
  const e0 = at(0);
  for (let t = 0; t < 3; t++) assert.equal(Array.from(e0.data.subarray(t * dim, (t + 1) * dim)), Array.from(pe.weight.data.subarray(t * dim, (t + 1) * dim)), `row ${t}`);
  const e5 = at(5);
  assert.ok(e5.data.some((v, i) => v !== e0.data[i]), 'shifting the positions changes the embeddings');
  assert.equal(Array.from(e5.data.subarray(0, dim)), Array.from(pe.weight.data.subarray(5 * dim, 6 * dim)), 'position 5 reads row 5');
  // attention logits themselves are untouched: the position enters through the residual stream only
  const q = randn([1, HEADS, 3, HEAD_DIM], { dtype: 'float64', generator: new Generator(6) });
  const e = pe.encodeQK(q, q, positions(0, 3), positions(0, 3));
  assert.ok(e.q === q && e.k === q);
});

test("LearnedAbsolute: beyond 'clamp' reuses the last row; 'error' (default) refuses; bad positions are refused", () => {
  const clamp = new LearnedAbsolute(4, 3, { beyond: 'clamp', dtype: 'float64' });
  const e = clamp.inputEmbedding(new Tensor(Float64Array.from([2, 3, 4, 100]), [4]), 3);
  const row = (r: number): number[] => Array.from(clamp.weight.data.subarray(r * 3, (r + 1) * 3));
  assert.equal(Array.from(e.data.subarray(0, 3)), row(2));
  for (const t of [1, 2, 3]) assert.equal(Array.from(e.data.subarray(t * 3, (t + 1) * 3)), row(3), `position ${[3, 4, 100][t - 1]} → last row`);
  assert.equal(clamp.inputEmbedding(new Tensor(Float64Array.from([1, 9, 0, 4]), [2, 2]), 3).shape, [2, 2, 3]);
  const strict = new LearnedAbsolute(4, 3, { dtype: 'float64' });
  assert.is(strict.beyond, 'error');
  assert.throws(() => strict.inputEmbedding(new Tensor(Float64Array.from([0, 4]), [2]), 3), (err: unknown) => err instanceof ValueError && /^LearnedAbsolute: position 4 ≥ maxPositions=4/.test(err.message));
  for (const bad of [-1, 0.5, Number.NaN, Infinity]) {
    for (const pe of [clamp, strict]) {
      assert.throws(() => pe.inputEmbedding(new Tensor(Float64Array.from([0, bad]), [2]), 3), (err: unknown) => err instanceof ValueError && /^LearnedAbsolute: positions\[1\]/.test(err.message), String(bad));
    }
  }
  assert.throws(() => strict.inputEmbedding(new Tensor(Float64Array.from([0]), [1]), 5), (err: unknown) => err instanceof ShapeError && /^LearnedAbsolute: model dim 5/.test(err.message));
  assert.throws(() => new LearnedAbsolute(4, 3, { beyond: 'wrap' as never }), (err: unknown) => err instanceof ValueError && /^LearnedAbsolute: beyond/.test(err.message));
});

// ── the registry: each name builds the table its method defines ──

const SPEC = { headDim: HEAD_DIM, modelDim: HEAD_DIM * HEADS, contextLength: CONTEXT, base: 500, scalingFactor: 3 };

/** What each registered name must build, checked against the direct functions. */
const PINS: Record<string, (pe: PositionalEncoding) => void> = {
  nope: (pe) => assert.instance(pe, NoPE),
  learned: (pe) => {
    assert.instance(pe, LearnedAbsolute);
    const l = pe as LearnedAbsolute;
    assert.equal([l.maxPositions, l.dim, l.beyond], [CONTEXT, HEAD_DIM * HEADS, 'clamp']);
  },
  rope: (pe) => ropeTable(pe, ropeInvFreq(HEAD_DIM, 500), 1),
  pi: (pe) => ropeTable(pe, piInvFreq({ dim: HEAD_DIM, base: 500, factor: 3 }), 1),
  ntk: (pe) => ropeTable(pe, ntkInvFreq({ dim: HEAD_DIM, base: 500, factor: 3 }), 1),
  'dynamic-ntk': (pe) => {
    assert.instance(pe, DynamicNTKRoPE);
    const d = pe as DynamicNTKRoPE;
    assert.equal([d.factor, d.maxPositions, d.base], [3, CONTEXT, 500]);
    assert.equal(Array.from(d.invFreq), Array.from(ropeInvFreq(HEAD_DIM, 500)), 'plain RoPE within the trained context');
  },
  yarn: (pe) => {
    const o = { dim: HEAD_DIM, base: 500, factor: 3, originalMaxPositions: CONTEXT };
    assert.ok(yarnAttentionFactor(o) > 1);
    ropeTable(pe, yarnInvFreq(o), yarnAttentionFactor(o));
  },
  llama3: (pe) => ropeTable(pe, llama3InvFreq({ dim: HEAD_DIM, base: 500, factor: 3, originalMaxPositions: CONTEXT }), 1),
  'p-rope-0.25': (pe) => pRope(pe, 0.25),
  'p-rope-0.5': (pe) => pRope(pe, 0.5),
  'p-rope-0.75': (pe) => pRope(pe, 0.75),
  'psc-rope': (pe) => {
    assert.instance(pe, PSCRoPE);
    const p = pe as PSCRoPE;
    assert.is(p.scope, 'layer');
    assert.equal([p.qPhase.numHeads, p.kPhase.numHeads, p.qPhase.headDim], [HEADS, HEADS, HEAD_DIM]);
    ropeTable(p.base, ropeInvFreq(HEAD_DIM, 500), 1);
  },
};

function ropeTable(pe: PositionalEncoding, invFreq: Float64Array, attentionFactor: number): void {
  assert.ok(pe instanceof RoPE && !(pe instanceof PRoPE), `${pe.name} is a plain RoPE with its own table`);
  const r = pe as RoPE;
  assert.equal(Array.from(r.invFreq), Array.from(invFreq), `${pe.name} invFreq`);
  assert.is(r.attentionFactor, attentionFactor, `${pe.name} attention factor`);
  assert.equal([r.headDim, r.rotaryDim, r.layout], [HEAD_DIM, HEAD_DIM, 'half']);
}

function pRope(pe: PositionalEncoding, p: number): void {
  assert.instance(pe, PRoPE);
  assert.is((pe as PRoPE).p, p);
  assert.equal(Array.from((pe as PRoPE).invFreq), Array.from(pRopeInvFreq(HEAD_DIM, p, { base: 500 })));
}

test('registry: every name builds the table of its method (compared with the direct functions)', () => {
  for (const name of positionalNames()) {
    const pin = PINS[name];
    assert.ok(pin !== undefined, `registry name '${name}' has no pinned table in this test`);
    pin(createPositional(name, SPEC));
  }
});

test('dynamic-ntk deliberately breaks shift invariance past the trained length (its frequencies grow with it)', () => {
  const g = new Generator(5);
  const pe = build('dynamic-ntk', 5);
  const q = randn([1, HEADS, 4, HEAD_DIM], { dtype: 'float64', generator: g });
  const logits = (start: number): Float64Array | Float32Array => noGrad(() => {
    const e = pe.encodeQK(q, q, positions(start, 4), positions(start, 4));
    return matmul(e.q, e.k, { transposeB: true }).data;
  });
  const near = logits(0);
  const far = logits(10 * CONTEXT);
  assert.ok(near.some((v, i) => Math.abs(v - far[i]!) > 1e-3), 'logits move once the table is rescaled');
});

test.run();
