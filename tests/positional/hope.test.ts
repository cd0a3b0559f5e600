/**
 * HoPE (positional/hope.ts) against hrlics/HoPE modeling_hope.py: angles and an index table worked by hand from it,
 * the hybrid slot map, the properties the paper's design implies — t-row independence, identity (position-free)
 * temporal slots, VideoRoPE's index formula with γ and translation invariance, dynamic temporal scaling's support
 * and one draw per vision segment — and text-only input, which is deliberately NOT 1-D RoPE with the full ladder:
 * it equals RoPE whose s_t lowest frequencies are zero (p-RoPE with p = S/P), since HoPE's temporal pairs are NoPE
 * for text too.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, Tensor, ValueError } from '../../core/index.js';
import {
  HOPE_TRAINING_SCALES, HOPE_VNIAH_SCALE, HoPE, hopeAngles, hopeAxisOfPair, hopeFrequencies, hopePositions, hopeTemporalScale,
} from '../../positional/hope.js';
import { PRoPE } from '../../positional/p-rope.js';
import { RoPE, ropeInvFreq, type PairLayout } from '../../positional/rope.js';
import { mropePositionsTensor, type MRoPESegment } from '../../positional/mrope.js';
import { videoRopeAxisOfPair, videoRopePositions } from '../../positional/video-rope.js';
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


function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function randPositions(g: Generator, T: number): Tensor {
  return new Tensor(Float64Array.from({ length: T * 3 }, () => 20 * g.random() - 5), [T, 3]);
}

/** Channels of pair j: (j, j + P) for 'half', (2j, 2j + 1) for 'interleaved'. */
function pairChannels(j: number, P: number, layout: PairLayout): [number, number] {
  return layout === 'half' ? [j, j + P] : [2 * j, 2 * j + 1];
}

test('hopeAngles: hand-worked example — d = 16, sections [2,3,3], θ = 1e4, token (t,h,w) = (4,3,5)', () => {
  const phi = hopeAngles(new Tensor(Float64Array.from([4, 3, 5]), [1, 3]), { headDim: 16, mropeSection: [2, 3, 3], base: 1e4 });
  assert.equal(phi.shape, [1, 8]);
  assertClose(phi.data, [3, 1.581139, 0.3, 0.158114, 0.03, 0.015811, 0, 0], { rtol: 0, atol: 5e-7 });
  assert.is(phi.data[6], 0);
  assert.is(phi.data[7], 0);
  // VideoRoPE's angles for the same token differ only in the temporal slots (t·θ_j there): [.., 0.004, 0.001265]
  const theta = ropeInvFreq(16);
  assertClose([4 * theta[6]!, 4 * theta[7]!], [0.004, 0.001265], { rtol: 3e-4, atol: 0 });
});

test('hopeAxisOfPair: [16,24,24] → 48 spatial pairs alternating h,w from h, then 16 NoPE pairs — VideoRoPE\'s map with t → NoPE', () => {
  const map = hopeAxisOfPair([16, 24, 24]);
  assert.is(map.filter((a) => a === 'h').length, 24);
  assert.is(map.filter((a) => a === 'w').length, 24);
  assert.is(map.filter((a) => a === null).length, 16);
  for (let j = 0; j < 48; j++) assert.is(map[j], j % 2 === 0 ? 'h' : 'w');
  for (let j = 48; j < 64; j++) assert.is(map[j], null);
  assert.equal(hopeAxisOfPair([2, 3, 3]), ['h', 'w', 'h', 'w', 'h', 'w', null, null]);
  for (const section of [[16, 24, 24], [2, 3, 3], [1, 4, 3], [0, 2, 2]]) {
    assert.equal(hopeAxisOfPair(section), videoRopeAxisOfPair(section).map((a) => (a === 't' ? null : a)), `[${section}]`);
  }
  // the t row of F never gets a frequency; the spatial pairs keep the ladder θ_j = 1e6^(−2j/16) (default base)
  const F = hopeFrequencies(16, [2, 3, 3]);
  assert.ok(Array.from(F.data.subarray(0, 8)).every((v) => v === 0));
  const theta = ropeInvFreq(16, 1e6);
  for (let j = 0; j < 8; j++) assert.is(F.data[8 + j]! + F.data[16 + j]!, j < 6 ? theta[j] : 0);
});

test('hopePositions: hand-worked index table — γ = 0.75, [text 2][video T=3 H′=1 W′=3][text 1]', () => {
  const { ids, delta, offsets, temporalScales } = hopePositions(
    [{ type: 'text', length: 2 }, { type: 'video', grid: [3, 1, 3] }, { type: 'text', length: 1 }],
    { temporalScale: HOPE_VNIAH_SCALE, ...ONE },
  );
  assert.equal(Array.from(ids[0]), [0, 1, 2, 2, 2, 2.75, 2.75, 2.75, 3.5, 3.5, 3.5, 4.5]);
  assert.equal(Array.from(ids[1]), [0, 1, 2, 2, 2, 2.75, 2.75, 2.75, 3.5, 3.5, 3.5, 4.5]);
  assert.equal(Array.from(ids[2]), [0, 1, 1, 2, 3, 1.75, 2.75, 3.75, 2.5, 3.5, 4.5, 4.5]);
  assert.equal(offsets, [0, 2, 11]);
  assert.is(12 + delta, 5.5, 'the next token continues at t-row max + 1');
  assert.equal(temporalScales, [0.75]);
});

test('hopePositions: text-only ids are 0…L−1 on every row (the reference falls back to plain positions), delta 0', () => {
  const { ids, delta } = hopePositions([{ type: 'text', length: 4 }, { type: 'text', length: 2 }], { temporalScale: 1 });
  for (let a = 0; a < 3; a++) assert.equal(Array.from(ids[a]!), [0, 1, 2, 3, 4, 5]);
  assert.is(delta, 0);
  assert.is(hopePositions([], { temporalScale: 1 }).delta, 0);
});

const segmentsArb: fc.Arbitrary<MRoPESegment[]> = fc.array(
  fc.oneof(
    fc.integer({ min: 0, max: 3 }).map((length): MRoPESegment => ({ type: 'text', length })),
    fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }))
      .map(([t, h, w]): MRoPESegment => ({ type: 'video', grid: [t, h, w] })),
  ),
  { minLength: 1, maxLength: 5 },
);

test('hopePositions: VideoRoPE index formula with δ = γ — segment start = t-row max + 1, centre token t = h = w, frames step (γ, γ, γ)', () => {
  fc.assert(
    fc.property(segmentsArb, fc.constantFrom(...HOPE_TRAINING_SCALES, 2, 0.3), (segments, gamma) => {
      const result = hopePositions(segments, { temporalScale: gamma, ...ONE });
      const positions = mropePositionsTensor(result.ids);
      // bit-identical to ropelab's VideoRoPE builder with δ = γ (`get_dynamic_rope_index` is VideoRoPE's diagonal
      // layout with spacing γ)
      const video = videoRopePositions(segments, { temporalSpacing: gamma, ...ONE });
      for (let a = 0; a < 3; a++) assert.equal(result.ids[a], video.ids[a]);
      assert.is(result.delta, video.delta);
      assert.equal(result.offsets, video.offsets);
      const at = (n: number): number[] => Array.from(positions.data.subarray(n * 3, n * 3 + 3));
      let o = 0;
      let s = 0;
      for (const seg of segments) {
        if (seg.type === 'text') {
          for (let n = 0; n < seg.length; n++) assertClose(at(o + n), [s + n, s + n, s + n], { rtol: 0, atol: 1e-12 });
          o += seg.length;
          s += seg.length;
          continue;
        }
        const [T, H, W] = seg.grid;
        const [rc, cc] = [Math.floor((H - 1) / 2), Math.floor((W - 1) / 2)];
        for (let tau = 0; tau < T; tau++) {
          for (let r = 0; r < H; r++) {
            for (let c = 0; c < W; c++) {
              const p = at(o + tau * H * W + r * W + c);
              const t = s + gamma * tau;
              assertClose(p, [t, t + r - rc, t + c - cc], { rtol: 0, atol: 1e-12 });
              if (r === rc && c === cc) assert.ok(p[0] === p[1] && p[1] === p[2], 'centre on the diagonal');
              if (tau > 0) {
                const prev = at(o + (tau - 1) * H * W + r * W + c);
                assertClose(p.map((v, i) => v - prev[i]!), [gamma, gamma, gamma], { rtol: 0, atol: 1e-12 });
              }
            }
          }
        }
        o += T * H * W;
        s = s + gamma * (T - 1) + 1; // t-row max + 1
      }
      assert.ok(Math.abs(o + result.delta - s) < 1e-12, 'decoding continues at t-row max + 1');
    }),
    fcParams(80),
  );
});

test('HoPE: t-row independence — any change to the t row leaves q′ and k′ unchanged (bit for bit)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e6 }), layoutArb, fc.integer({ min: 1, max: 8 }), (seed, layout, T) => {
      const g = new Generator(seed);
      const enc = new HoPE(16, [2, 3, 3], { layout });
      const pos = randPositions(g, T);
      const other = Float64Array.from(pos.data);
      for (let n = 0; n < T; n++) other[n * 3] = 1e4 * g.normal();
      const x = randTensor(g, [2, T, 16]);
      assertClose(enc.rotate(x, new Tensor(other, [T, 3])).data, enc.rotate(x, pos).data, { rtol: 0, atol: 0 });
    }),
    fcParams(50),
  );
});

test('HoPE: the temporal pairs are position-free — their channels of q′ equal q for every token, text included', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e6 }), layoutArb, fc.constantFrom<[number, number, number]>([2, 3, 3], [4, 2, 2], [1, 4, 3]), (seed, layout, sections) => {
      const g = new Generator(seed);
      const P = 8;
      const enc = new HoPE(2 * P, sections, { layout });
      const T = g.int(1, 7);
      const x = randTensor(g, [T, 2 * P]);
      const y = enc.rotate(x, randPositions(g, T)).data;
      const yText = enc.rotate(x, new Tensor(Float64Array.from({ length: T }, (_, t) => 3 * t + 1), [T])).data;
      const spatial = P - sections[0];
      for (let n = 0; n < T; n++) {
        for (let j = spatial; j < P; j++) {
          for (const ch of pairChannels(j, P, layout)) {
            assert.is(y[n * 2 * P + ch], x.data[n * 2 * P + ch]);
            assert.is(yText[n * 2 * P + ch], x.data[n * 2 * P + ch]);
          }
        }
      }
    }),
    fcParams(50),
  );
});

test('HoPE: translation invariance — shifting both tokens by the same (Δt, Δh, Δw) keeps every score', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e6 }), layoutArb, (seed, layout) => {
      const g = new Generator(seed);
      const enc = new HoPE(16, [2, 3, 3], { layout, base: 50 });
      const T = g.int(2, 6);
      const pos = randPositions(g, T);
      const shift = [50 * g.normal(), 7 * g.normal(), 7 * g.normal()];
      const moved = new Tensor(Float64Array.from(pos.data, (v, i) => v + shift[i % 3]!), [T, 3]);
      const q = randTensor(g, [T, 16]);
      const k = randTensor(g, [T, 16]);
      const scores = (p: Tensor): number[] => {
        const rq = enc.rotate(q, p).data;
        const rk = enc.rotate(k, p).data;
        const out: number[] = [];
        for (let a = 0; a < T; a++) for (let b = 0; b < T; b++) out.push(dot(rq.subarray(a * 16, a * 16 + 16), rk.subarray(b * 16, b * 16 + 16)));
        return out;
      };
      assertClose(scores(moved), scores(pos), { rtol: 1e-9, atol: 1e-9 });
    }),
    fcParams(50),
  );
});

test('HoPE on text-only input: equals RoPE with the s_t lowest frequencies zeroed (= p-RoPE, p = S/P), not plain 1-D RoPE', () => {
  const g = new Generator(11);
  const T = 9;
  const x = randTensor(g, [1, 2, T, 16]);
  const positions = mropePositionsTensor(hopePositions([{ type: 'text', length: T }], { temporalScale: 1 }).ids);
  const ar = new Tensor(Float64Array.from({ length: T }, (_, t) => t), [T]);
  for (const layout of ['half', 'interleaved'] as const) {
    const hope = new HoPE(16, [2, 3, 3], { layout, base: 1e4 });
    const zeroed = ropeInvFreq(16).map((v, j) => (j < 6 ? v : 0));
    const same = new RoPE(16, { layout, invFreq: zeroed }).rotate(x, ar).data;
    assertClose(hope.rotate(x, positions).data, same, { rtol: 1e-15, atol: 1e-15 }, `${layout}: zeroed ladder`);
    assertClose(hope.rotate(x, ar).data, same, { rtol: 1e-15, atol: 1e-15 }, `${layout}: 1-D positions`);
    assertClose(hope.rotate(x, ar).data, new PRoPE(16, 0.75, { layout }).rotate(x, ar).data, { rtol: 1e-15, atol: 1e-15 }, `${layout}: p-RoPE`);
    // against RoPE with the full ladder: equal at position 0 only (the NoPE pairs would have rotated by t·θ_j)
    const full = new RoPE(16, { layout }).rotate(x, ar).data;
    const rowDiff = (t: number): number => {
      let m = 0;
      for (let h = 0; h < 2; h++) for (let c = 0; c < 16; c++) m = Math.max(m, Math.abs(full[(h * T + t) * 16 + c]! - same[(h * T + t) * 16 + c]!));
      return m;
    };
    assert.is(rowDiff(0), 0);
    for (let t = 1; t < T; t++) assert.ok(rowDiff(t) > 1e-6, `${layout}: position ${t} differs from full RoPE`);
  }
});

test('dynamic temporal scaling: training draws γ ∈ {0.5,…,1.5} once per vision segment from the Generator; inference uses the chosen γ', () => {
  const segments: MRoPESegment[] = [
    { type: 'text', length: 2 }, { type: 'video', grid: [3, 2, 2] }, { type: 'text', length: 1 },
    { type: 'image', grid: [1, 2, 2] }, { type: 'video', grid: [2, 2, 4] },
  ];
  const a = hopePositions(segments, { temporalScale: { generator: new Generator(5) }, ...ONE });
  const twin = new Generator(5);
  const expected = [0, 1, 2].map(() => hopeTemporalScale(twin));
  assert.equal(a.temporalScales, expected, 'k vision segments → k consecutive draws');
  assert.equal(hopePositions(segments, { temporalScale: { generator: new Generator(5) }, ...ONE }).ids, a.ids, 'reproducible');
  // the video's frames step by the drawn γ on the t row
  assert.is(a.ids[0][2 + 4]! - a.ids[0][2]!, expected[0]);
  // support and coverage
  const g = new Generator(1);
  const seen = new Map<number, number>();
  for (let i = 0; i < 2000; i++) {
    const v = hopeTemporalScale(g);
    assert.ok(HOPE_TRAINING_SCALES.includes(v), `draw ${v} outside the set`);
    seen.set(v, (seen.get(v) ?? 0) + 1);
  }
  assert.is(seen.size, 5);
  for (const n of seen.values()) assert.ok(n > 300 && n < 500, `uniform draws: ${n} of 2000`);
  assert.equal(hopePositions(segments, { temporalScale: { generator: new Generator(2), scales: [2] }, ...ONE }).temporalScales, [2, 2, 2]);
  const fixed = hopePositions(segments, { temporalScale: 1.25, ...ONE });
  assert.equal(fixed.temporalScales, [1.25, 1.25, 1.25]);
});

test('HoPE: decoding continues at cache index + delta, right after the t-row max', () => {
  const { ids, delta } = hopePositions([{ type: 'text', length: 3 }, { type: 'video', grid: [4, 2, 2] }], { temporalScale: 0.5, ...ONE });
  const L = ids[0].length;
  const tMax = Math.max(...ids[0]);
  assert.is(L + delta, tMax + 1); // the first decoded token (cache index L)
  assert.ok(Math.max(...ids[1], ...ids[2]) > tMax, 'the last frame\'s h/w ids reach past it, as the reference intends');
});

test('HoPE: spatialMergeSize, batched positions [B, T, 3], and typed errors', () => {
  const merged = hopePositions([{ type: 'video', grid: [2, 4, 4] }], { temporalScale: 1 }); // default merge 2, as M-RoPE
  const plain = hopePositions([{ type: 'video', grid: [2, 2, 2] }], { temporalScale: 1, ...ONE });
  assert.equal(merged.ids, plain.ids);
  const g = new Generator(3);
  const enc = new HoPE(8, [1, 2, 1]);
  const p = new Tensor(Float64Array.from([...randPositions(g, 4).data, ...randPositions(g, 4).data]), [2, 4, 3]);
  const q = randTensor(g, [2, 2, 4, 8]);
  const out = enc.rotate(q, p).data;
  for (let b = 0; b < 2; b++) {
    const one = enc.rotate(new Tensor(q.data.slice(b * 64, (b + 1) * 64), [2, 4, 8]), new Tensor(p.data.slice(b * 12, (b + 1) * 12), [4, 3])).data;
    assertClose(out.subarray(b * 64, (b + 1) * 64), one, { rtol: 0, atol: 0 });
  }
  const bad: [() => unknown, RegExp][] = [
    [() => hopePositions([{ type: 'video', grid: [2, 2, 2] }], { temporalScale: 0 }), /temporalScale/],
    [() => hopePositions([{ type: 'video', grid: [2, 2, 2] }], { temporalScale: -1 }), /temporalScale/],
    [() => hopePositions([], { temporalScale: { generator: new Generator(0), scales: [] } }), /scales/],
    [() => hopePositions([], {} as unknown as { temporalScale: number }), /temporalScale/],
    [() => hopePositions([{ type: 'video', grid: [2, 3, 3] }], { temporalScale: 1 }), /merge size/],
    [() => hopeAxisOfPair([2, 3]), /mropeSection/],
    [() => hopeAxisOfPair([2, -3, 3]), /mropeSection/],
    [() => new HoPE(16, [4, 4, 4]), /mropeSection/],
    [() => hopeAngles(new Tensor(new Float64Array(8), [2, 4]), { headDim: 16, mropeSection: [2, 3, 3] }), /positions/],
    [() => hopeAngles(new Tensor(new Float64Array(3), [1, 3]), { headDim: 16, mropeSection: [2, 3, 3], invFreq: [1, 2] }), /invFreq/],
  ];
  expectRangeErrors(bad);
  try {
    hopePositions([], { temporalScale: 0 });
  } catch (e) {
    assert.ok(e instanceof ValueError);
    assert.match((e as Error).message, /^hopePositions: /);
  }
});

test.run();
