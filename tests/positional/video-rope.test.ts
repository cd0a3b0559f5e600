/**
 * VideoRoPE (positional/video-rope.ts) against the reference code (Wiselnn570/VideoRoPE `modeling_videorope.py`): a
 * table worked by hand from `get_t_scale_rope_index` at δ = 2 and δ = 1, a hand-worked case with a leading video
 * (negative ids), a fractional δ, the LTA pair → axis map, text-only ≡ 1-D RoPE bit for bit, the diagonal layout, δ
 * scaling the temporal offsets only, the t-row segment-start rule and delta continuation, per-axis translation
 * invariance and vision–vision scores unchanged by preceding text, validation errors, and cached decoding.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { DTypeError, Generator, Tensor, ValueError, noGrad } from '../../core/index.js';
import { KVCache } from '../../nn/kv-cache.js';
import { MultiHeadAttention } from '../../nn/attention.js';
import { mropePositions, mropeDecodePositions, mropePositionsTensor, mropeTokenCount, type MRoPESegment } from '../../positional/mrope.js';
import { RoPE, ropeInvFreq } from '../../positional/rope.js';
import { VideoRoPE, videoRopeAxisOfPair, videoRopeFrequencies, videoRopePositions } from '../../positional/video-rope.js';
import { assertClose } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';
import { bitEqual, randVec, rowScores, rows } from '../helpers/positional.js';

const segmentArb: fc.Arbitrary<MRoPESegment> = fc.oneof(
  fc.integer({ min: 0, max: 5 }).map((length): MRoPESegment => ({ type: 'text', length })),
  fc.tuple(fc.constantFrom<'image' | 'video'>('image', 'video'), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }))
    .map(([type, t, h, w]): MRoPESegment => ({ type, grid: [t, 2 * h, 2 * w] })),
);
/** δ: integers, dyadic fractions and arbitrary reals. */
const spacingArb = fc.oneof(fc.constantFrom(0.5, 0.75, 1, 1.25, 1.5, 2, 3), fc.double({ min: 0.05, max: 4, noNaN: true }));

// ── worked examples ──

test('videoRopePositions: hand-worked table — [text 2][video T=2, H\'=3, W\'=3][text 2], δ = 2 (default) and δ = 1', () => {
  const segments: MRoPESegment[] = [{ type: 'text', length: 2 }, { type: 'video', grid: [2, 6, 6] }, { type: 'text', length: 2 }];
  const p = videoRopePositions(segments);
  assert.equal(rows(p.ids), [
    [0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 5, 6],
    [0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3, 4, 4, 4, 5, 5, 5, 5, 6],
    [0, 1, 1, 2, 3, 1, 2, 3, 1, 2, 3, 3, 4, 5, 3, 4, 5, 3, 4, 5, 5, 6],
  ]);
  assert.is(p.delta, 7 - 22); // t-row max + 1 − L
  assert.equal([...p.offsets], [0, 2, 20]);
  assert.equal(rows(videoRopePositions(segments, { temporalSpacing: 2, spatialMergeSize: 2 }).ids), rows(p.ids));
  const p1 = videoRopePositions(segments, { temporalSpacing: 1 });
  assert.equal(rows(p1.ids), [
    [0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 5],
    [0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 2, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5],
    [0, 1, 1, 2, 3, 1, 2, 3, 1, 2, 3, 2, 3, 4, 2, 3, 4, 2, 3, 4, 4, 5],
  ]);
  assert.is(p1.delta, 6 - 22);
});

test('videoRopePositions: leading video with even H\' (⌊(H\'−1)/2⌋ centring, negative h), then text, image, text (hand-worked)', () => {
  const p = videoRopePositions([{ type: 'video', grid: [2, 8, 4] }, { type: 'text', length: 2 }, { type: 'image', grid: [1, 6, 6] }, { type: 'text', length: 1 }]);
  assert.equal(rows(p.ids), [
    [0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 6],
    [-1, -1, 0, 0, 1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 4, 4, 4, 4, 5, 5, 5, 6, 6, 6, 6],
    [0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 3, 4, 4, 5, 6, 4, 5, 6, 4, 5, 6, 6],
  ]);
  assert.is(p.delta, 7 - 28);
  // the text after the video starts at t_last + 1 = 3 although the video's h reached 4 (reference: "near last t")
  assert.equal([...p.offsets], [0, 16, 18, 27]);
});

test('videoRopePositions: fractional δ = 0.5 gives fractional ids and delta; decoding continues from them', () => {
  const p = videoRopePositions([{ type: 'text', length: 3 }, { type: 'video', grid: [3, 4, 6] }, { type: 'text', length: 1 }], { temporalSpacing: 0.5 });
  assert.equal(rows(p.ids), [
    [0, 1, 2, 3, 3, 3, 3, 3, 3, 3.5, 3.5, 3.5, 3.5, 3.5, 3.5, 4, 4, 4, 4, 4, 4, 5],
    [0, 1, 2, 3, 3, 3, 4, 4, 4, 3.5, 3.5, 3.5, 4.5, 4.5, 4.5, 4, 4, 4, 5, 5, 5, 5],
    [0, 1, 2, 2, 3, 4, 2, 3, 4, 2.5, 3.5, 4.5, 2.5, 3.5, 4.5, 3, 4, 5, 3, 4, 5, 5],
  ]);
  assert.is(p.delta, -16);
  const q = videoRopePositions([{ type: 'text', length: 3 }, { type: 'video', grid: [2, 2, 2] }], { temporalSpacing: 0.75 });
  assert.equal(rows(q.ids)[0], [0, 1, 2, 3, 3.75]);
  assert.is(q.delta, 4.75 - 5);
  assert.equal(Array.from(mropeDecodePositions(q.delta, 5, 2).data), [4.75, 5.75]);
});

// ── LTA frequency allocation ──

test('videoRopeAxisOfPair: first s_h + s_w pairs alternate h, w from h; the last s_t pairs are t (reference map)', () => {
  assert.is(videoRopeAxisOfPair([16, 24, 24]).join(''), 'hw'.repeat(24) + 't'.repeat(16));
  assert.is(videoRopeAxisOfPair([2, 3, 3]).join(''), 'hwhwhwtt');
  assert.is(videoRopeAxisOfPair([4, 3, 2]).join(''), 'hwhwhtttt'); // odd spatial count: the alternation does not follow s_h/s_w
  assert.is(videoRopeAxisOfPair([0, 1, 1]).join(''), 'hw');
  assert.is(videoRopeAxisOfPair([3, 0, 0]).join(''), 'ttt');
  const counts = { t: 0, h: 0, w: 0 };
  for (const a of videoRopeAxisOfPair([16, 24, 24])) counts[a]++;
  assert.equal(counts, { t: 16, h: 24, w: 24 });
  assert.throws(() => videoRopeAxisOfPair([16, 24]), (e: unknown) => e instanceof ValueError && /^videoRopeAxisOfPair: mropeSection is not three/.test(e.message));
});

test('videoRopeFrequencies: hand-worked tiny head d=16, [2,3,3], θ=1e4 — angles of (t,h,w) = (4,3,5); t gets the 16 lowest ω at d=128', () => {
  const F = videoRopeFrequencies(16, [2, 3, 3], { base: 1e4 });
  assert.equal(F.shape, [3, 8]);
  const omega = ropeInvFreq(16, 1e4);
  assertClose(omega, [1, 0.316228, 0.1, 0.031623, 0.01, 0.003162, 0.001, 0.000316], { rtol: 0, atol: 5e-7 });
  const enc = new VideoRoPE(16, [2, 3, 3], { base: 1e4 });
  assert.is(enc.name, 'video-rope');
  assert.is(enc.axisOfPair.join(''), 'hwhwhwtt');
  const phi = enc.angles(new Tensor(Float64Array.from([4, 3, 5]), [1, 3]));
  assertClose(phi.data, [3, 1.581139, 0.3, 0.158114, 0.03, 0.015811, 0.004, 0.001265], { rtol: 0, atol: 5e-7 });
  // d = 128, θ = 1e6: the t pairs are exactly the 16 smallest frequencies (periods ≈ 1.99e5 … 5.06e6 positions)
  const big = videoRopeFrequencies(128, [16, 24, 24]);
  const w = ropeInvFreq(128, 1e6);
  const tPairs = Array.from({ length: 64 }, (_, j) => j).filter((j) => big.data[j] !== 0);
  assert.equal(tPairs, Array.from({ length: 16 }, (_, i) => 48 + i));
  const sorted = Array.from(w).sort((a, b) => a - b).slice(0, 16);
  assert.equal(tPairs.map((j) => w[j]).sort((a, b) => a - b), sorted);
  assertClose([(2 * Math.PI) / w[48]!, (2 * Math.PI) / w[63]!], [1.99e5, 5.06e6], { rtol: 5e-3, atol: 0 });
  for (let j = 0; j < 64; j++) {
    const axis = j >= 48 ? 0 : j % 2 === 0 ? 1 : 2;
    for (let a = 0; a < 3; a++) assert.is(big.data[a * 64 + j], a === axis ? w[j] : 0, `F[${a},${j}]`);
  }
});

test('section validation: sum = headDim/2 and three non-negative integers (VideoRoPE, videoRopeFrequencies)', () => {
  assert.throws(() => new VideoRoPE(128, [16, 24, 23]), (e: unknown) => e instanceof ValueError && /^VideoRoPE: mropeSection sums to 63 — .*headDim\/2 = 64/.test(e.message));
  assert.throws(() => videoRopeFrequencies(16, [2, 3, 4]), (e: unknown) => e instanceof ValueError && /^videoRopeFrequencies: mropeSection sums to 9/.test(e.message));
  assert.throws(() => videoRopeFrequencies(16, [2, -3, 9]), (e: unknown) => e instanceof ValueError && /three non-negative integers/.test(e.message));
});

// ── reductions and properties ──

test('text-only: ids 0…L−1, delta 0, and VideoRoPE ≡ 1-D rotate-half RoPE bit for bit', () => {
  fc.assert(
    fc.property(
      fc.constantFrom<[number, number, number]>([2, 3, 3], [1, 1, 2], [4, 2, 2], [0, 3, 3], [6, 0, 0]),
      fc.integer({ min: 0, max: 24 }),
      fc.double({ min: 2, max: 1e6, noNaN: true }),
      spacingArb,
      fc.integer({ min: 0, max: 1000 }),
      (section, L, base, spacing, seed) => {
        const d = 2 * (section[0] + section[1] + section[2]);
        const p = videoRopePositions([{ type: 'text', length: L }], { temporalSpacing: spacing });
        for (const row of p.ids) bitEqual(row, Float64Array.from({ length: L }, (_, i) => i), 'ids');
        assert.is(p.delta, 0);
        const x = new Tensor(randVec(new Generator(seed), 2 * L * d), [1, 2, L, d]);
        const ref = new RoPE(d, { base, layout: 'half' }).rotate(x, new Tensor(Float64Array.from({ length: L }, (_, i) => i), [L]));
        const enc = new VideoRoPE(d, section, { base });
        bitEqual(enc.rotate(x, mropePositionsTensor(p.ids)).data, ref.data, 'positions [L, 3]');
      },
    ),
    fcParams(40),
  );
});

test('diagonal layout: each frame\'s centre token has t = h = w; frames step by (δ, δ, δ) at equal (r, c); δ scales only t offsets', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 5 }),
      fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
      spacingArb,
      (prefix, [T, H, W], spacing) => {
        const seg: MRoPESegment[] = [{ type: 'text', length: prefix }, { type: 'video', grid: [T, 2 * H, 2 * W] }];
        const p = videoRopePositions(seg, { temporalSpacing: spacing });
        const one = videoRopePositions(seg, { temporalSpacing: 1 });
        const s = prefix; // the block starts right after the text
        const rc = Math.floor((H - 1) / 2);
        const cc = Math.floor((W - 1) / 2);
        const at = (tau: number, r: number, c: number): number => prefix + (tau * H + r) * W + c;
        for (let tau = 0; tau < T; tau++) {
          const centre = at(tau, rc, cc);
          assert.is(p.ids[1][centre], p.ids[0][centre], 'centre h = t');
          assert.is(p.ids[2][centre], p.ids[0][centre], 'centre w = t');
          for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) {
            const n = at(tau, r, c);
            assert.is(p.ids[0][n], s + spacing * tau); // t = s + δτ
            // spatial offsets do not depend on δ; δ rescales the temporal offset (exact for dyadic δ, else to rounding)
            assertClose([p.ids[1][n]! - p.ids[0][n]!, p.ids[2][n]! - p.ids[0][n]!], [r - rc, c - cc], { rtol: 0, atol: 1e-12 });
            assertClose([p.ids[0][n]! - s], [spacing * (one.ids[0][n]! - s)], { rtol: 1e-14, atol: 1e-12 });
            if (tau > 0) for (let a = 0; a < 3; a++) assertClose([p.ids[a]![n]! - p.ids[a]![at(tau - 1, r, c)]!], [spacing], { rtol: 1e-12, atol: 1e-12 });
          }
        }
      },
    ),
    fcParams(60),
  );
});

test('segment start rule: each segment begins at (previous t-row max) + 1; delta = t-row max + 1 − L; h/w may reach past it', () => {
  let overlapSeen = false;
  fc.assert(
    fc.property(fc.array(segmentArb, { minLength: 1, maxLength: 6 }), spacingArb, (segments, spacing) => {
      const p = videoRopePositions(segments, { temporalSpacing: spacing });
      const L = mropeTokenCount(segments);
      assert.is(p.ids[0].length, L);
      let tMax = -1;
      let anyMax = -Infinity;
      segments.forEach((_, i) => {
        const first = p.offsets[i]!;
        const end = i + 1 < segments.length ? p.offsets[i + 1]! : L;
        if (end > first) {
          assertClose([p.ids[0][first]!], [tMax + 1], { rtol: 1e-15, atol: 1e-13 }, `segment ${i} t`);
          if (tMax + 1 <= anyMax) overlapSeen = true;
        }
        for (let n = first; n < end; n++) {
          tMax = Math.max(tMax, p.ids[0][n]!);
          anyMax = Math.max(anyMax, p.ids[1][n]!, p.ids[2][n]!);
        }
      });
      assert.is(p.delta, L === 0 ? 0 : tMax + 1 - L);
      // dyadic δ: every id is exact, so the rule holds bit for bit
      if (Number.isInteger(spacing * 4)) segments.forEach((_, i) => {
        if (i > 0 && p.offsets[i]! < L && p.offsets[i]! > 0) {
          let before = -1;
          for (let k = 0; k < p.offsets[i]!; k++) before = Math.max(before, p.ids[0][k]!);
          assert.is(p.ids[0][p.offsets[i]!], before + 1);
        }
      });
    }),
    fcParams(100),
  );
  assert.ok(overlapSeen, 'some case has a segment starting at or below an earlier h/w id (the reference intends it)');
});

test('delta continuation: decoding positions c + delta equal the ids a trailing text segment would get', () => {
  fc.assert(
    fc.property(fc.array(segmentArb, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 6 }), spacingArb, (segments, n, spacing) => {
      const p = videoRopePositions(segments, { temporalSpacing: spacing });
      const L = p.ids[0].length;
      fc.pre(L > 0);
      const longer = videoRopePositions([...segments, { type: 'text', length: n }], { temporalSpacing: spacing });
      const decode = mropeDecodePositions(p.delta, L, n).data;
      // c + (s − L) vs s + k: equal up to one rounding of the fractional start
      for (let a = 0; a < 3; a++) assertClose(longer.ids[a].subarray(L), decode, { rtol: 1e-15, atol: 1e-13 }, `row ${a}`);
    }),
    fcParams(100),
  );
});

test('per-axis translation invariance (integer and fractional shifts): every q·k score is unchanged', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1000 }),
      fc.tuple(fc.double({ min: -40, max: 40, noNaN: true }), fc.double({ min: -40, max: 40, noNaN: true }), fc.double({ min: -40, max: 40, noNaN: true })),
      (seed, shift) => {
        const g = new Generator(seed);
        const N = 5;
        const d = 16;
        const enc = new VideoRoPE(d, [2, 3, 3], { base: 100 });
        const pos = Float64Array.from({ length: 3 * N }, () => 0.5 * g.int(-20, 20));
        const moved = pos.map((v, i) => v + shift[i % 3]!);
        const q = randVec(g, N * d);
        const k = randVec(g, N * d);
        assertClose(rowScores(enc, q, k, new Tensor(moved, [N, 3])), rowScores(enc, q, k, new Tensor(pos, [N, 3])), { rtol: 1e-9, atol: 1e-9 });
      },
    ),
    fcParams(40),
  );
});

test('vision–vision scores depend only on (Δt, Δh, Δw): more preceding text leaves them unchanged (any δ)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 6 }),
      fc.integer({ min: 1, max: 30 }),
      fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
      fc.array(segmentArb, { maxLength: 2 }),
      spacingArb,
      fc.integer({ min: 0, max: 1000 }),
      (prefix, extra, [T, H, W], middle, spacing, seed) => {
        const video: MRoPESegment = { type: 'video', grid: [T, 2 * H, 2 * W] };
        const a = videoRopePositions([{ type: 'text', length: prefix }, ...middle, video], { temporalSpacing: spacing });
        const b = videoRopePositions([{ type: 'text', length: prefix + extra }, ...middle, video], { temporalSpacing: spacing });
        const N = T * H * W;
        const take = (p: typeof a): Tensor => mropePositionsTensor(p.ids.map((r) => r.subarray(r.length - N)));
        const g = new Generator(seed);
        const d = 16;
        const q = randVec(g, N * d);
        const k = randVec(g, N * d);
        const enc = new VideoRoPE(d, [2, 3, 3], { base: 100 });
        assertClose(rowScores(enc, q, k, take(b)), rowScores(enc, q, k, take(a)), { rtol: 1e-9, atol: 1e-9 });
      },
    ),
    fcParams(40),
  );
});

test('VideoRoPE and M-RoPE ids agree on text and differ on vision (same segments)', () => {
  const segments: MRoPESegment[] = [{ type: 'text', length: 2 }, { type: 'image', grid: [1, 4, 4] }];
  const v = videoRopePositions(segments, { temporalSpacing: 1 });
  const m = mropePositions(segments);
  for (let a = 0; a < 3; a++) assert.equal(Array.from(v.ids[a].subarray(0, 2)), Array.from(m.ids[a].subarray(0, 2)));
  assert.equal(rows(m.ids).map((r) => r.slice(2)), [[2, 2, 2, 2], [2, 2, 3, 3], [2, 3, 2, 3]]);
  assert.equal(rows(v.ids).map((r) => r.slice(2)), [[2, 2, 2, 2], [2, 2, 3, 3], [2, 3, 2, 3]]); // ⌊(2−1)/2⌋ = 0: no shift
  const w = videoRopePositions([{ type: 'image', grid: [1, 6, 6] }]);
  assert.equal(rows(w.ids), [[0, 0, 0, 0, 0, 0, 0, 0, 0], [-1, -1, -1, 0, 0, 0, 1, 1, 1], [-1, 0, 1, -1, 0, 1, -1, 0, 1]]);
});

test('validation: temporalSpacing finite and ≥ 0; segment errors name videoRopePositions', () => {
  const bad = (segments: unknown, options: object, re: RegExp): void =>
    assert.throws(() => videoRopePositions(segments as MRoPESegment[], options), (e: unknown) => e instanceof ValueError && re.test(e.message));
  bad([{ type: 'text', length: 1 }], { temporalSpacing: -1 }, /^videoRopePositions: temporalSpacing is not a finite number ≥ 0 — temporalSpacing=-1/);
  bad([{ type: 'text', length: 1 }], { temporalSpacing: Number.NaN }, /temporalSpacing/);
  bad([{ type: 'video', grid: [2, 3, 4] }], {}, /^videoRopePositions: segments\[0\]\.grid h, w are not multiples/);
  bad([{ type: 'text', length: 0.5 }], {}, /^videoRopePositions: segments\[0\]\.length/);
  assert.throws(() => videoRopePositions(null as unknown as MRoPESegment[]), (e: unknown) => e instanceof DTypeError && /^videoRopePositions: segments is not an array/.test(e.message));
  // δ = 0 is allowed: every frame shares the block's start on t
  assert.equal(rows(videoRopePositions([{ type: 'video', grid: [2, 2, 2] }, { type: 'text', length: 1 }], { temporalSpacing: 0 }).ids), [[0, 0, 1], [0, 0, 1], [0, 0, 1]]);
});

test('in MultiHeadAttention: prefill with [L, 3] ids (δ = 2), then cached decoding with c + delta, equals one full pass', () => {
  const segments: MRoPESegment[] = [{ type: 'text', length: 2 }, { type: 'video', grid: [3, 2, 4] }, { type: 'text', length: 2 }];
  const extra = 3;
  const full = videoRopePositions([...segments, { type: 'text', length: extra }]);
  const prompt = videoRopePositions(segments);
  const L = prompt.ids[0].length;
  const dim = 16;
  const attn = new MultiHeadAttention(dim, { numHeads: 2, positional: new VideoRoPE(8, [2, 1, 1], { base: 100 }), generator: new Generator(5), dtype: 'float64' });
  const x = new Tensor(randVec(new Generator(6), (L + extra) * dim), [1, L + extra, dim]);
  noGrad(() => {
    const whole = attn.forward(x, { positions: mropePositionsTensor(full.ids) });
    const cache = new KVCache();
    attn.forward(x.narrow(1, 0, L), { positions: mropePositionsTensor(prompt.ids), cache });
    for (let i = 0; i < extra; i++) {
      const step = attn.forward(x.narrow(1, L + i, 1), { positions: mropeDecodePositions(prompt.delta, cache.position, 1), cache });
      assertClose(step.data, whole.data.subarray((L + i) * dim, (L + i + 1) * dim), { rtol: 1e-12, atol: 1e-12 }, `step ${i}`);
    }
  });
});

test.run();
