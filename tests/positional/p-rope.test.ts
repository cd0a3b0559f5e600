/**
 * p-RoPE (positional/p-rope.ts; Barbero et al. 2025) against HF `_compute_proportional_rope_parameters`: the HF "proportional" table (worked values, the ⌊p·h/2⌋ rule,
 * factor), p = 1 ⇒ RoPE bit for bit, p = 0 ⇒ identity, kept pairs bit-identical to RoPE, dropped pairs contribute
 * position-independent terms to ⟨q̃_m, k̃_n⟩, relative invariance on the whole vector, norm preservation, errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, Tensor, ValueError } from '../../core/index.js';
import { PRoPE, pRopeInvFreq } from '../../positional/p-rope.js';
import { RoPE, ropeInvFreq, type PairLayout } from '../../positional/rope.js';
import { assertClose } from '../helpers/close.js';
import { FC_SEED, fcParams } from '../helpers/fc.js';
import { assertProperty, checkNormPreservation, checkRelativePositionInvariance } from '../../testing/index.js';
import { bitEqual, randVec } from '../helpers/positional.js';

const layoutArb = fc.constantFrom<PairLayout>('half', 'interleaved');
const headDimArb = fc.integer({ min: 1, max: 12 }).map((n) => 2 * n);

/** x [T, d] rotated by `enc` at positions (float64). */
function rotateRows(enc: RoPE, x: Float64Array, positions: number[]): Float64Array {
  const d = x.length / positions.length;
  return enc.rotate(new Tensor(x, [positions.length, d]), new Tensor(Float64Array.from(positions), [positions.length])).data as Float64Array;
}

/** Channels of the pairs i ≥ k for a layout: (i, i + d/2) or (2i, 2i + 1). */
function droppedChannels(d: number, k: number, layout: PairLayout): number[] {
  const out: number[] = [];
  for (let i = k; i < d / 2; i++) out.push(...(layout === 'half' ? [i, i + d / 2] : [2 * i, 2 * i + 1]));
  return out;
}

test('pRopeInvFreq: worked values (base 1e4, h = 8: keep ⌊p·4⌋ of θ = 1, 0.1, 0.01, 0.001) and the partial-rotary contrast', () => {
  assertClose(pRopeInvFreq(8, 0.5), [1, 0.1, 0, 0], { rtol: 1e-15, atol: 0 });
  assertClose(pRopeInvFreq(8, 0.25), [1, 0, 0, 0], { rtol: 1e-15, atol: 0 });
  assertClose(pRopeInvFreq(8, 0.75), [1, 0.1, 0.01, 0], { rtol: 1e-15, atol: 0 });
  assertClose(pRopeInvFreq(8, 1), [1, 0.1, 0.01, 0.001], { rtol: 1e-15, atol: 0 });
  bitEqual(pRopeInvFreq(8, 0), [0, 0, 0, 0], 'p = 0');
  // partial rotary 0.5 recompresses the ladder over 4 channels instead: [1, 0.01]
  assertClose(ropeInvFreq(4), [1, 0.01], { rtol: 1e-15, atol: 0 });
  // HF: rope_angles = int(p * h // 2) = ⌊(p·h)/2⌋
  assert.is(pRopeInvFreq(8, 0.3).filter((v) => v !== 0).length, 1); // ⌊2.4/2⌋ = 1
  assert.is(pRopeInvFreq(10, 0.5).filter((v) => v !== 0).length, 2); // ⌊5/2⌋ = 2
  assert.is(pRopeInvFreq(10, 0.5)[1], 1 / Math.pow(10000, 2 / 10)); // exponent uses the full head dim
  // factor divides every entry (zeros stay 0)
  bitEqual(pRopeInvFreq(8, 0.5, { factor: 4 }), [0.25, 0.1 / 4, 0, 0], 'factor 4');
});

test('pRopeInvFreq: base enters as base^(−2i/h) for the kept pairs', () => {
  const f = pRopeInvFreq(8, 0.75, { base: 16 });
  bitEqual(f, [1, 1 / Math.pow(16, 2 / 8), 1 / Math.pow(16, 4 / 8), 0], 'base 16');
});

test('pRopeInvFreq: the kept prefix is bit-identical to ropeInvFreq(h, base), the rest is 0, length h/2', () => {
  fc.assert(
    fc.property(headDimArb, fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 2, max: 1e6, noNaN: true }), (h, p, base) => {
      const f = pRopeInvFreq(h, p, { base });
      const full = ropeInvFreq(h, base);
      const k = Math.floor((p * h) / 2);
      assert.is(f.length, h / 2);
      for (let i = 0; i < h / 2; i++) assert.ok(Object.is(f[i], i < k ? full[i] : 0), `i=${i}`);
    }),
    fcParams(100),
  );
});

test('p = 1 ⇒ RoPE bit for bit; p = 0 ⇒ the input unchanged (NoPE)', () => {
  fc.assert(
    fc.property(headDimArb, layoutArb, fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 1 << 30 }), (h, layout, T, seed) => {
      const g = new Generator(seed);
      const x = randVec(g, T * h);
      const pos = Array.from({ length: T }, () => g.int(-5000, 5000) + g.random());
      bitEqual(rotateRows(new PRoPE(h, 1, { layout }), x, pos), rotateRows(new RoPE(h, { layout }), x, pos), 'p = 1');
      bitEqual(rotateRows(new PRoPE(h, 0, { layout }), x, pos), x, 'p = 0');
    }),
    fcParams(60),
  );
});

test('kept pairs are bit-identical to full RoPE; dropped pairs pass through and add a position-independent term', () => {
  fc.assert(
    fc.property(headDimArb, fc.double({ min: 0, max: 1, noNaN: true }), layoutArb, fc.integer({ min: 0, max: 1 << 30 }), (h, p, layout, seed) => {
      const g = new Generator(seed);
      const enc = new PRoPE(h, p, { layout });
      const full = new RoPE(h, { layout });
      const q = randVec(g, h);
      const k = randVec(g, h);
      const m = g.int(-10000, 10000);
      const n = g.int(-10000, 10000);
      const dropped = new Set(droppedChannels(h, enc.keptPairs, layout));
      const qp = rotateRows(enc, q, [m]);
      const qf = rotateRows(full, q, [m]);
      const kp = rotateRows(enc, k, [n]);
      for (let c = 0; c < h; c++) {
        if (dropped.has(c)) assert.ok(Object.is(qp[c], q[c]), `dropped channel ${c} changed`);
        else assert.ok(Object.is(qp[c], qf[c]), `kept channel ${c} differs from RoPE`);
      }
      // the dropped channels' share of the logit is Σ q_c k_c whatever m and n are
      let share = 0;
      let plain = 0;
      for (const c of dropped) {
        share += qp[c]! * kp[c]!;
        plain += q[c]! * k[c]!;
      }
      assert.is(share, plain);
    }),
    fcParams(80),
  );
});

test('relative invariance on the whole vector and norm preservation (ropelab/testing\'s checkers)', () => {
  const cases: Array<[number, number, PairLayout]> = [[2, 1, 'half'], [4, 0.5, 'interleaved'], [8, 0.75, 'half'], [8, 0.25, 'interleaved'], [16, 0, 'half'], [16, 0.6, 'half'], [64, 0.75, 'interleaved'], [64, 1, 'half']];
  for (const [h, p, layout] of cases) {
    const enc = new PRoPE(h, p, { layout });
    const options = { headDim: h, maxPosition: 8192, numRuns: 10, seed: FC_SEED + h };
    assertProperty(checkRelativePositionInvariance(enc, { ...options, tolerance: 1e-9 }));
    assertProperty(checkNormPreservation(enc, { ...options, tolerance: 1e-13 }));
  }
});

test('PRoPE in attention: encodeQK on [B, H, T, d] and [B, Hkv, T, d], name and kept pairs', () => {
  const g = new Generator(3);
  const enc = new PRoPE(8, 0.75);
  assert.is(enc.name, 'p-rope-0.75');
  assert.is(enc.keptPairs, 3);
  assert.is(enc.layout, 'half');
  const q = new Tensor(randVec(g, 2 * 4 * 3 * 8), [2, 4, 3, 8]);
  const k = new Tensor(randVec(g, 2 * 1 * 3 * 8), [2, 1, 3, 8]);
  const pos = new Tensor(Float64Array.from([5, 6, 7]), [3]);
  const out = enc.encodeQK(q, k, pos, pos);
  assert.equal(out.q.shape, [2, 4, 3, 8]);
  assert.equal(out.k.shape, [2, 1, 3, 8]);
  // pair 3 = channels (3, 7) untouched in every row
  for (let r = 0; r < 2 * 4 * 3; r++) {
    assert.is(out.q.data[r * 8 + 3], q.data[r * 8 + 3]);
    assert.is(out.q.data[r * 8 + 7], q.data[r * 8 + 7]);
  }
  assert.is(enc.numParameters(), 0);
});

test('errors: p outside [0, 1], odd or non-positive head dim, bad base or factor', () => {
  const cases: Array<[() => unknown, string]> = [
    [() => pRopeInvFreq(8, 1.5), 'p'],
    [() => pRopeInvFreq(8, -0.1), 'p'],
    [() => pRopeInvFreq(8, Number.NaN), 'p'],
    [() => pRopeInvFreq(7, 0.5), 'headDim'],
    [() => pRopeInvFreq(0, 0.5), 'headDim'],
    [() => pRopeInvFreq(8, 0.5, { base: 1 }), 'base'],
    [() => pRopeInvFreq(8, 0.5, { factor: 0 }), 'factor'],
    [() => new PRoPE(8, 2), 'p'],
  ];
  for (const [fn, arg] of cases) {
    const op = fn.toString().includes('new PRoPE') ? 'PRoPE' : 'pRopeInvFreq'; // the error names what was called
    try {
      fn();
      assert.unreachable(`expected a ValueError for ${arg}`);
    } catch (e) {
      assert.instance(e, ValueError);
      assert.is((e as ValueError).op, op);
      assert.is((e as ValueError).arg, arg);
      assert.ok((e as Error).message.startsWith(`${op}: `), (e as Error).message);
    }
  }
});

test.run();
