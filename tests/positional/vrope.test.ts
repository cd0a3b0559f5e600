/**
 * VRoPE (positional/vrope.ts) against johncaged/VRoPE vrope.py: a table worked by hand from it,
 * the reference's per-pair output (pair k reads c_{k mod 4}), symmetry and mirror of the four coordinates,
 * continuity between video and text tokens (the paper's claim: every segment starts one past the previous one's
 * last id, frames tile the index line without gap or overlap), text-only ≡ 1-D RoPE, translation invariance in
 * (frame, row, column) and in the start offset (VRoPE's coordinates are linear in them), batches, errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, Tensor, ValueError } from '../../core/index.js';
import { RoPE, ropeInvFreq, type PairLayout } from '../../positional/rope.js';
import { VRoPE, vropeFrequencies, vropePairPositions, vropePositions } from '../../positional/vrope.js';
import type { MRoPESegment } from '../../positional/mrope.js';
import { assertClose } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';
import { expectRangeErrors } from '../helpers/positional.js';

const layoutArb = fc.constantFrom<PairLayout>('half', 'interleaved');

/** Grids in these tests count LLM tokens already (no spatial merge). */
const ONE = { spatialMergeSize: 1 };

function randTensor(g: Generator, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(Float64Array.from({ length: n }, () => g.normal()), shape);
}

/** Column a of positions [L, A]. */
function column(positions: Tensor, a: number): number[] {
  const A = positions.shape[1]!;
  return Array.from({ length: positions.shape[0]! }, (_, n) => positions.data[n * A + a]!);
}

function row(positions: Tensor, n: number): number[] {
  const A = positions.shape[1]!;
  return Array.from(positions.data.subarray(n * A, (n + 1) * A));
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** ⟨R(pq) q, R(pk) k⟩ for single vectors q, k [d] at coordinate rows pq, pk [4]. */
function score(enc: VRoPE, q: Tensor, k: Tensor, pq: number[], pk: number[]): number {
  const d = q.size;
  const rq = enc.rotate(q.reshape([1, d]), new Tensor(Float64Array.from(pq), [1, pq.length]));
  const rk = enc.rotate(k.reshape([1, d]), new Tensor(Float64Array.from(pk), [1, pk.length]));
  return dot(rq.data, rk.data);
}

test('vropePositions: hand-worked table — text(3), video T=2 H′=2 W′=3, text(2)', () => {
  const { ids, positions, delta, offsets } = vropePositions([
    { type: 'text', length: 3 },
    { type: 'video', grid: [2, 2, 3] },
    { type: 'text', length: 2 },
  ], ONE);
  assert.equal(positions.shape, [17, 4]);
  const text = [0, 1, 2];
  const after = [11, 12];
  const table = [
    [3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10],
    [5, 4, 3, 6, 5, 4, 9, 8, 7, 10, 9, 8],
    [4, 5, 6, 3, 4, 5, 8, 9, 10, 7, 8, 9],
    [6, 5, 4, 5, 4, 3, 10, 9, 8, 9, 8, 7],
  ];
  for (let a = 0; a < 4; a++) {
    assert.equal(column(positions, a), [...text, ...table[a]!, ...after], `c${a}`);
    assert.equal(Array.from(ids[a]!), column(positions, a), `ids row ${a}`);
  }
  assert.equal(offsets, [0, 3, 15]);
  for (let n = 3; n < 15; n++) {
    const [c0, c1, c2, c3] = row(positions, n);
    assert.is(c0! + c3!, c1! + c2!);
    assert.is(c0! + c3!, n < 9 ? 9 : 17); // 2·(start + τ·L_f) + H′ + W′ − 2
  }
  assert.is(17 + delta, 13, 'the next token continues at 13');
});

test('vropePositions: grids merge by spatialMergeSize (default 2, as M-RoPE); start offsets every id', () => {
  const merged = vropePositions([{ type: 'image', grid: [1, 4, 6] }], { start: 5 });
  const plain = vropePositions([{ type: 'image', grid: [1, 2, 3] }], ONE);
  assert.equal(merged.positions.shape, [6, 4]);
  assertClose(merged.positions.data, Array.from(plain.positions.data, (v) => v + 5), { rtol: 0, atol: 0 });
  assert.is(6 + merged.delta, 5 + 4); // one frame spans H′+W′−1 = 4 ids
  assert.is(vropePositions([]).delta, 0);
});

test('vropePairPositions / VRoPE angles: column k is c_{k mod 4} and angle = column·θ_k (the reference output)', () => {
  const { positions } = vropePositions([{ type: 'text', length: 2 }, { type: 'video', grid: [2, 3, 2] }], ONE);
  const P = 10;
  const perPair = vropePairPositions(positions, P);
  assert.equal(perPair.shape, [positions.shape[0], P]);
  for (let n = 0; n < positions.shape[0]!; n++) {
    for (let k = 0; k < P; k++) assert.is(perPair.data[n * P + k], positions.data[n * 4 + (k % 4)]);
  }
  const enc = new VRoPE(2 * P, { base: 10000 });
  const theta = ropeInvFreq(2 * P);
  const angles = enc.angles(positions);
  assertClose(angles.data, Array.from(perPair.data, (v, i) => v * theta[i % P]!), { rtol: 1e-15, atol: 0 });
  // default ladder: base 1e6 over the whole head (as ropelab's M-RoPE / VideoRoPE), 'half' layout
  assert.equal(new VRoPE(8).invFreq, ropeInvFreq(8, 1e6));
  assert.is(new VRoPE(8).layout, 'half');
  // F has exactly one non-zero per pair, on axis k mod 4
  const F = vropeFrequencies(theta);
  for (let k = 0; k < P; k++) for (let a = 0; a < 4; a++) assert.is(F.data[a * P + k], a === k % 4 ? theta[k] : 0);
});

/** Random segment lists: text runs 0..3 tokens, images and videos up to 3 × 3 × 3. */
const segmentsArb: fc.Arbitrary<MRoPESegment[]> = fc.array(
  fc.oneof(
    fc.integer({ min: 0, max: 3 }).map((length): MRoPESegment => ({ type: 'text', length })),
    fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }))
      .map(([t, h, w]): MRoPESegment => ({ type: t === 1 ? 'image' : 'video', grid: [t, h, w] })),
  ),
  { minLength: 0, maxLength: 5 },
);

test('vropePositions: symmetry c0+c3 = c1+c2 and mirror (i, j) → (H′−1−i, W′−1−j) swaps (c0,c1,c2,c3) → (c3,c2,c1,c0)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 9 }), (T, H, W, start) => {
      const { positions } = vropePositions([{ type: 'video', grid: [T, H, W] }], { start, spatialMergeSize: 1 });
      const L = H + W - 1;
      for (let tau = 0; tau < T; tau++) {
        for (let i = 0; i < H; i++) {
          for (let j = 0; j < W; j++) {
            const n = tau * H * W + i * W + j;
            const m = tau * H * W + (H - 1 - i) * W + (W - 1 - j);
            const c = row(positions, n);
            assert.is(c[0]! + c[3]!, c[1]! + c[2]!);
            assert.is(c[0]! + c[3]!, 2 * (start + tau * L) + H + W - 2);
            assert.equal(row(positions, m), [c[3], c[2], c[1], c[0]]);
          }
        }
      }
    }),
    fcParams(40),
  );
});

test('vropePositions: continuity — each segment starts one past the last id before it; frames tile [s, s + T·L_f) without gaps or overlap', () => {
  fc.assert(
    fc.property(segmentsArb, fc.integer({ min: 0, max: 6 }), (segments, start) => {
      const { positions, delta, offsets } = vropePositions(segments, { start, spatialMergeSize: 1 });
      let o = 0;
      let expectedStart = start;
      for (const [si, seg] of segments.entries()) {
        assert.is(offsets[si], o);
        const n = seg.type === 'text' ? seg.length : seg.grid[0] * seg.grid[1] * seg.grid[2];
        const ids = Array.from(positions.data.subarray(o * 4, (o + n) * 4));
        o += n;
        if (n === 0) continue;
        // min id = previous segment's max id + 1 (text→video, video→text, video→video)
        assert.is(Math.min(...ids), expectedStart);
        if (seg.type === 'text') {
          expectedStart += seg.length;
          continue;
        }
        const [T, H, W] = seg.grid;
        const span = H + W - 1;
        assert.is(Math.max(...ids), expectedStart + T * span - 1);
        for (let tau = 0; tau < T; tau++) {
          const frame = ids.slice(tau * H * W * 4, (tau + 1) * H * W * 4);
          const lo = expectedStart + tau * span;
          assert.is(Math.min(...frame), lo, 'frame starts where the previous frame ended');
          assert.is(Math.max(...frame), lo + span - 1, 'frame ends before the next begins');
          const used = new Set(frame);
          assert.is(used.size, span, 'every id in the frame span is used');
        }
        expectedStart += T * span;
      }
      assert.is(o + delta, expectedStart, 'decoding continues right after the last id');
    }),
    fcParams(80),
  );
});

test('VRoPE: text-only input ≡ 1-D RoPE (same ladder and layout), from segments and from 1-D positions', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 12 }), layoutArb, fc.integer({ min: 0, max: 1e6 }), (half, T, layout, seed) => {
      const d = 2 * half;
      const g = new Generator(seed);
      const x = randTensor(g, [2, T, d]);
      const vrope = new VRoPE(d, { layout, base: 500 });
      const rope = new RoPE(d, { layout, base: 500 });
      const ar = new Tensor(Float64Array.from({ length: T }, (_, t) => t + 3), [T]);
      const expected = rope.rotate(x, ar).data;
      const { positions } = vropePositions([{ type: 'text', length: T }], { start: 3 });
      assert.is(T + vropePositions([{ type: 'text', length: T }], { start: 3 }).delta, T + 3);
      assertClose(vrope.rotate(x, positions).data, expected, { rtol: 1e-14, atol: 1e-14 }, 'segments');
      assertClose(vrope.rotate(x, ar).data, expected, { rtol: 1e-14, atol: 1e-14 }, '1-D positions');
    }),
    fcParams(40),
  );
});

test('VRoPE: translation invariance — shifting query and key by the same (Δframe, Δrow, Δcol), or the whole video by more text, keeps the score', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e6 }), layoutArb, (seed, layout) => {
      const g = new Generator(seed);
      const [T, H, W] = [g.int(1, 5), g.int(1, 5), g.int(1, 5)];
      const prefix = g.int(0, 4);
      const grid: [number, number, number] = [T, H, W];
      const enc = new VRoPE(16, { layout, base: 100 });
      const a = vropePositions([{ type: 'text', length: prefix }, { type: 'video', grid }], ONE).positions;
      const b = vropePositions([{ type: 'text', length: prefix + g.int(1, 6) }, { type: 'video', grid }], ONE).positions;
      const pick = (n: number): [number, number] => {
        const lo = g.int(0, n);
        return [lo, g.int(0, n)];
      };
      const [t1, t2] = pick(T);
      const [i1, i2] = pick(H);
      const [j1, j2] = pick(W);
      const shift = (p: number, q: number, n: number): number => g.int(-Math.min(p, q), n - Math.max(p, q)); // keeps both inside
      const [dt, di, dj] = [shift(t1, t2, T), shift(i1, i2, H), shift(j1, j2, W)];
      const at = (pos: Tensor, pre: number, t: number, i: number, j: number): number[] => row(pos, pre + t * H * W + i * W + j);
      const q = randTensor(g, [16]);
      const k = randTensor(g, [16]);
      const s0 = score(enc, q, k, at(a, prefix, t1, i1, j1), at(a, prefix, t2, i2, j2));
      const moved = score(enc, q, k, at(a, prefix, t1 + dt, i1 + di, j1 + dj), at(a, prefix, t2 + dt, i2 + di, j2 + dj));
      const bPrefix = b.shape[0]! - T * H * W;
      const later = score(enc, q, k, at(b, bPrefix, t1, i1, j1), at(b, bPrefix, t2, i2, j2));
      assertClose([moved, later], [s0, s0], { rtol: 1e-9, atol: 1e-9 });
    }),
    fcParams(80),
  );
});

test('VRoPE: per-sequence positions [B, T, 4] rotate q [B, H, T, d] row by row', () => {
  const g = new Generator(7);
  const p0 = vropePositions([{ type: 'text', length: 1 }, { type: 'image', grid: [1, 2, 2] }], ONE).positions;
  const p1 = vropePositions([{ type: 'video', grid: [1, 1, 5] }], ONE).positions;
  const batch = new Tensor(Float64Array.from([...p0.data, ...p1.data]), [2, 5, 4]);
  const enc = new VRoPE(8);
  const q = randTensor(g, [2, 3, 5, 8]);
  const out = enc.rotate(q, batch);
  const each = [p0, p1].map((p, b) => enc.rotate(new Tensor(q.data.slice(b * 120, (b + 1) * 120), [3, 5, 8]), p).data);
  assertClose(out.data, [...each[0]!, ...each[1]!], { rtol: 0, atol: 0 });
});

test('vropePositions / VRoPE: typed errors', () => {
  const bad: [() => unknown, RegExp][] = [
    [() => vropePositions([{ type: 'text', length: -1 }]), /length/],
    [() => vropePositions([{ type: 'text', length: 1.5 }]), /length/],
    [() => vropePositions([{ type: 'video', grid: [2, 0, 3] }], ONE), /grid/],
    [() => vropePositions([{ type: 'video', grid: [2, 3, 3] }]), /merge size/],
    [() => vropePositions([{ type: 'audio', length: 2 } as unknown as MRoPESegment]), /unknown type/],
    [() => vropePositions([], { start: Number.NaN }), /start/],
    [() => vropePositions([], { spatialMergeSize: 0 }), /spatialMergeSize/],
    [() => vropePairPositions(new Tensor(new Float64Array(6), [2, 3]), 4), /\[\.\.\., L, 4\]/],
    [() => new VRoPE(8, { rotaryDim: 5 }), /rotaryDim/],
    [() => new VRoPE(8, { invFreq: [1, 2, 3] }), /invFreq/],
  ];
  expectRangeErrors(bad);
  try {
    vropePositions([{ type: 'text', length: -1 }]);
  } catch (e) {
    assert.ok(e instanceof ValueError);
    assert.match((e as Error).message, /^vropePositions: /);
  }
});

test.run();
