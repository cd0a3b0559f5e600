/**
 * The invariants that define the 1-D family, checked for every encoding in the registry at once:
 * scores depend only on relative position (shifting every position by s changes no logit), and encodeQK never
 * changes a vector's length except by the encoding's own attention factor. Dynamic NTK breaks the first on purpose
 * once positions pass the trained length (its frequencies follow the longest position seen): stated and tested.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, Tensor, matmul, noGrad, randn } from '../../core/index.js';
import { createPositional, positionalNames, type PositionalEncoding } from '../../positional/index.js';
import { assertClose } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';

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

for (const name of positionalNames()) {
  test(`${name}: shifting every position by s leaves every attention logit unchanged`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 500 }), fc.integer({ min: 1, max: 3000 }), fc.integer(), (T, start0, shift0, seed) => {
        // dynamic NTK keeps its trained frequencies only while every position stays below the trained length
        const [start, shift] = name === 'dynamic-ntk' ? [start0 % 10, 1 + (shift0 % (CONTEXT - 16))] : [start0, shift0];
        const g = new Generator(seed);
        const pe = build(name, seed);
        const q = randn([1, HEADS, T, HEAD_DIM], { dtype: 'float64', generator: g });
        const k = randn([1, HEADS, T, HEAD_DIM], { dtype: 'float64', generator: g });
        const logits = (p: Tensor): Tensor => noGrad(() => {
          const e = pe.encodeQK(q, k, p, p);
          return matmul(e.q, e.k, { transposeB: true }).mul(e.logitScale ?? 1);
        });
        // float64 angle rounding grows with |position|·θ: tolerance 1e-12 per unit of position
        assertClose(logits(positions(start + shift, T)).data, logits(positions(start, T)).data, { rtol: 1e-9, atol: 1e-12 * (start + shift + T) * 8 }, name);
      }),
      fcParams(rotating(name) ? 25 : 5),
    );
  });

  if (rotating(name)) {
    test(`${name}: encodeQK scales every vector's length by one constant at every position (a scaled rotation)`, () => {
      const g = new Generator(3);
      const pe = build(name, 3);
      if (pe.parameters().length > 0) return; // PSC rescales channels data-dependently on purpose
      const x = randn([1, HEADS, 5, HEAD_DIM], { dtype: 'float64', generator: g });
      const norms = (t: Tensor): number[] => Array.from({ length: t.size / HEAD_DIM }, (_, r) => Math.hypot(...t.data.subarray(r * HEAD_DIM, (r + 1) * HEAD_DIM)));
      const ratios = [0, 7, 1234].flatMap((start) => {
        const q = noGrad(() => pe.encodeQK(x, x, positions(start, 5), positions(start, 5)).q);
        return norms(q).map((n, r) => n / norms(x)[r]!);
      });
      assertClose(ratios, ratios.map(() => ratios[0]!), { rtol: 1e-12, atol: 0 }, `${name} length ratios`);
      assert.ok(ratios[0]! > 0.5 && ratios[0]! < 2, `attention factor ${ratios[0]} is plausible`);
    });
  }
}

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
