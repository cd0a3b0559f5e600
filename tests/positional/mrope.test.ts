/**
 * M-RoPE (positional/mrope.ts): a hand-worked position table and tiny config (Qwen2-VL §2.1), HF transformers'
 * position ids and rotary outputs (tests/fixtures/mrope.json), text-only ≡ 1-D RoPE bit for bit, delta continuation,
 * the segment-start rule, per-axis translation invariance and vision–vision scores unchanged by preceding text,
 * section and segment validation, and use inside MultiHeadAttention with a KV cache.
 *
 * mrope.json holds ids from two HF commits. ropelab follows the paper's rule (each segment starts at the previous
 * maximum id over all three rows + 1), which is the rule of the legacy `get_rope_index` (3c52b78a). The current code
 * (c49429ed) advances by max(h, w)/merge only: it agrees on `text4_image1x6x4_text3` and `text5_only` and differs on
 * `text1_video3x4x4_text2_image1x2x2_text1`, whose video has t extent 3 > max(h, w)/2 = 2. Deltas: ours is the
 * unclamped max + 1 − L (as the current code); the legacy code stored 0 (clamped).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { DTypeError, Generator, ShapeError, Tensor, ValueError, noGrad } from '../../core/index.js';
import { KVCache } from '../../nn/kv-cache.js';
import { MultiHeadAttention } from '../../nn/attention.js';
import {
  MRoPE, mropePositions, mropeDecodePositions, mropeFrequencies, mropePositionsTensor, mropeTokenCount, type MRoPESegment,
} from '../../positional/mrope.js';
import { RoPE, applyRotary, ropeInvFreq } from '../../positional/rope.js';
import { assertClose } from '../helpers/close.js';
import { FC_SEED, fcParams } from '../helpers/fc.js';
import { assertProperty, checkRelativePositionInvariance } from '../../testing/index.js';
import { bitEqual, randVec, rowScores, rows } from '../helpers/positional.js';

type Nested = number | Nested[];
const flat = (v: Nested): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v]);

/** Random sections [s_t, s_h, s_w] summing to P. */
const sectionArb = (P: number): fc.Arbitrary<[number, number, number]> =>
  fc.tuple(fc.integer({ min: 0, max: P }), fc.integer({ min: 0, max: P })).map(([a, b]) => {
    const [lo, hi] = a <= b ? [a, b] : [b, a];
    return [lo, hi - lo, P - hi];
  });

const segmentArb: fc.Arbitrary<MRoPESegment> = fc.oneof(
  fc.integer({ min: 0, max: 5 }).map((length): MRoPESegment => ({ type: 'text', length })),
  fc.tuple(fc.constantFrom<'image' | 'video'>('image', 'video'), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }))
    .map(([type, t, h, w]): MRoPESegment => ({ type, grid: [t, 2 * h, 2 * w] })),
);

// ── worked examples ──

test('mropePositions: hand-worked table — [text 2][video T=2, H\'=2, W\'=3][text 2], delta = 7 − 16 = −9', () => {
  const p = mropePositions([{ type: 'text', length: 2 }, { type: 'video', grid: [2, 4, 6] }, { type: 'text', length: 2 }], { spatialMergeSize: 2 });
  assert.equal(rows(p.ids), [
    [0, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 5, 6],
    [0, 1, 2, 2, 2, 3, 3, 3, 2, 2, 2, 3, 3, 3, 5, 6],
    [0, 1, 2, 3, 4, 2, 3, 4, 2, 3, 4, 2, 3, 4, 5, 6],
  ]);
  assert.is(p.delta, -9);
  assert.equal([...p.offsets], [0, 2, 14]);
  // trailing text starts at max(w) + 1 = 5; decoding continues at L + delta = 7
  assert.equal(Array.from(mropeDecodePositions(p.delta, 16, 2).data), [7, 8]);
});

test('mropeFrequencies: hand-worked tiny config d=12, [2,2,2], θ=1e4 — angles of (3,1,2), expanded cos; text at 5 → 5·ω', () => {
  const F = mropeFrequencies(12, [2, 2, 2], { base: 1e4 });
  assert.equal(F.shape, [3, 6]);
  const omega = ropeInvFreq(12, 1e4);
  assertClose(omega, [1, 0.215443, 0.046416, 0.01, 0.002154, 0.000464], { rtol: 0, atol: 5e-7 });
  for (let a = 0; a < 3; a++) for (let j = 0; j < 6; j++) assert.is(F.data[a * 6 + j], Math.floor(j / 2) === a ? omega[j] : 0, `F[${a},${j}]`);
  const enc = new MRoPE(12, [2, 2, 2], { base: 1e4 });
  const phi = enc.angles(new Tensor(Float64Array.from([3, 1, 2]), [1, 3]));
  assertClose(phi.data, [3, 0.64633, 0.046416, 0.01, 0.004309, 0.000928], { rtol: 0, atol: 5e-6 });
  const half = Array.from(phi.data, Math.cos);
  assertClose([...half, ...half], [-0.989992, 0.798299, 0.998923, 0.99995, 0.999991, 1.0, -0.989992, 0.798299, 0.998923, 0.99995, 0.999991, 1.0], { rtol: 0, atol: 5e-7 });
  bitEqual(enc.angles(new Tensor(Float64Array.from([5, 5, 5]), [1, 3])).data, omega.map((w) => 5 * w), 'text token at 5');
});

test('mropeFrequencies: [16,24,24] at d=128 — t pairs 0–15, h 16–39, w 40–63; θ default 1e6 (Qwen2-VL\'s rope_theta)', () => {
  const F = mropeFrequencies(128, [16, 24, 24]);
  const omega = ropeInvFreq(128, 1e6);
  const axis = (j: number): number => (j < 16 ? 0 : j < 40 ? 1 : 2);
  for (let a = 0; a < 3; a++) for (let j = 0; j < 64; j++) assert.is(F.data[a * 64 + j], axis(j) === a ? omega[j] : 0);
  assertClose([omega[15]!, omega[16]!, omega[39]!, omega[40]!, omega[63]!], [0.039242, 0.031623, 2.2067e-4, 1.7783e-4, 1.2409e-6], { rtol: 2e-4, atol: 0 });
  const enc = new MRoPE(128, [16, 24, 24]);
  assert.is(enc.name, 'mrope');
  assert.is(enc.layout, 'half');
  assert.equal([...enc.mropeSection], [16, 24, 24]);
});

// ── HF reference vectors ──

interface FixtureCase {
  name: string;
  segments: [string, number | number[]][][];
  position_ids: Nested;
  mrope_position_deltas: Nested;
  legacy_get_rope_index: { commit: string; position_ids: Nested; mrope_position_deltas: Nested; same_position_ids_as_current: boolean };
}
const fixture = JSON.parse(readFileSync(join(process.cwd(), 'tests/fixtures/mrope.json'), 'utf8')) as {
  cases: FixtureCase[];
  apply: {
    head_dim: number; num_heads: number; rope_theta: number; mrope_section: number[]; inv_freq: number[]; uses_position_ids_of: string;
    q: Nested; k: Nested; cos: Nested; sin: Nested; q_embed_float32: Nested; k_embed_float32: Nested;
  };
};

function segmentsOf(c: FixtureCase): MRoPESegment[] {
  return c.segments[0]!.map(([type, v]): MRoPESegment =>
    type === 'text' ? { type: 'text', length: v as number } : { type: type as 'image' | 'video', grid: v as [number, number, number] });
}

/** ids [3, 1, L] nested → three rows. */
const idRows = (v: Nested): number[][] => (v as Nested[]).map((r) => flat(r));

test('mrope.json: ours = the legacy (paper-rule) ids on every case; = current HF ids where the rules agree; deltas', () => {
  assert.is(fixture.cases.length, 3);
  const expectedDelta: Record<string, { ours: number; current: number; legacy: number }> = {
    text4_image1x6x4_text3: { ours: -3, current: -3, legacy: 0 },
    text1_video3x4x4_text2_image1x2x2_text1: { ours: -9, current: -10, legacy: 0 },
    text5_only: { ours: 0, current: 0, legacy: 0 },
  };
  for (const c of fixture.cases) {
    const ours = mropePositions(segmentsOf(c), { spatialMergeSize: 2 });
    const legacy = idRows(c.legacy_get_rope_index.position_ids);
    const current = idRows(c.position_ids);
    assert.equal(rows(ours.ids), legacy, `${c.name}: paper rule = legacy get_rope_index (${c.legacy_get_rope_index.commit.slice(0, 8)})`);
    if (c.legacy_get_rope_index.same_position_ids_as_current) assert.equal(rows(ours.ids), current, `${c.name}: = current HF ids`);
    else assert.not.equal(rows(ours.ids), current, `${c.name}: must differ from current HF ids`);
    const e = expectedDelta[c.name]!;
    assert.is(ours.delta, e.ours, `${c.name}: delta`);
    assert.is(flat(c.mrope_position_deltas)[0], e.current, `${c.name}: current HF delta`);
    assert.is(flat(c.legacy_get_rope_index.mrope_position_deltas)[0], e.legacy, `${c.name}: legacy HF delta (clamped at 0)`);
  }
});

test('mrope.json divergent case, explicitly: after video (3,4,4) the current HF code restarts text at 3, the paper rule at 4', () => {
  const c = fixture.cases.find((k) => k.name === 'text1_video3x4x4_text2_image1x2x2_text1')!;
  const ours = rows(mropePositions(segmentsOf(c)).ids);
  const current = idRows(c.position_ids);
  // tokens 0…12 (text 1 + video 3·2·2) agree; the video's t ids reach 3 = max over all rows
  for (let a = 0; a < 3; a++) assert.equal(ours[a]!.slice(0, 13), current[a]!.slice(0, 13));
  assert.equal(ours[0]!.slice(1, 13), [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
  // the current code advances by max(h, w)/2 = 2, overlapping the video's last t id; the paper rule does not
  assert.equal(current[0]!.slice(13), [3, 4, 5, 6]);
  assert.equal(ours[0]!.slice(13), [4, 5, 6, 7]);
  assert.equal(ours[1]!.slice(13), [4, 5, 6, 7]);
});

test('mrope.json apply: MRoPE(32, [4,6,6], θ=1e4) on the fixture q, k reproduces HF apply_multimodal_rotary_pos_emb', () => {
  const a = fixture.apply;
  const c = fixture.cases.find((k) => k.name === a.uses_position_ids_of)!;
  const ids = mropePositions(segmentsOf(c)).ids; // = current HF ids for this case
  const positions = mropePositionsTensor(ids);
  const L = positions.shape[0]!;
  const D = a.head_dim;
  const shape = [1, a.num_heads, L, D];
  // the section-selected cos table of HF: column col takes axis (chunk index mod 3), chunks [4,6,6,4,6,6]
  const cosAll = flat(a.cos); // [3, 1, L, D]
  const chunkAxis = (col: number): number => {
    const bounds = [4, 10, 16, 20, 26, 32];
    return bounds.findIndex((b) => col < b) % 3;
  };
  const enc = new MRoPE(D, a.mrope_section, { base: a.rope_theta });
  const phi = enc.angles(positions); // [L, 16]
  const ourCos: number[] = [];
  const hfCos: number[] = [];
  for (let n = 0; n < L; n++) for (let col = 0; col < D; col++) {
    ourCos.push(Math.cos(phi.data[n * (D / 2) + (col % (D / 2))]!));
    hfCos.push(cosAll[chunkAxis(col) * L * D + n * D + col]!);
  }
  assertClose(ourCos, hfCos, { rtol: 0, atol: 1e-6 }, 'section-selected cos');
  // float64 rotation of the stored (float32-valued) q, k vs HF's float32 outputs: within float32 rounding
  for (const [which, x, expected] of [['q', a.q, a.q_embed_float32], ['k', a.k, a.k_embed_float32]] as const) {
    const y = enc.rotate(new Tensor(Float64Array.from(flat(x)), shape), positions);
    assertClose(y.data, flat(expected), { rtol: 0, atol: 1e-6 }, `${which} float64`);
    // with HF's float32 inv_freq and a float32 kernel emulation the angles are bit-identical to HF's: a few ulps
    const enc32 = new MRoPE(D, a.mrope_section, { invFreq: a.inv_freq });
    const y32 = applyRotary(new Tensor(Float32Array.from(flat(x)), shape), enc32.angles(positions), { layout: 'half', precision: 'float32' });
    assertClose(y32.data, flat(expected), { rtol: 4e-7, atol: 1e-7 }, `${which} float32 emulation`);
  }
});

// ── reductions and properties ──

test('text-only: ids 0…L−1 on all rows, delta 0, and MRoPE ≡ 1-D rotate-half RoPE bit for bit (any section, base)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 8 }).chain((P) => fc.tuple(fc.constant(P), sectionArb(P))),
      fc.integer({ min: 0, max: 24 }),
      fc.double({ min: 2, max: 1e6, noNaN: true }),
      fc.integer({ min: 0, max: 1000 }),
      ([P, section], L, base, seed) => {
        const d = 2 * P;
        const p = mropePositions([{ type: 'text', length: L }]);
        for (const row of p.ids) bitEqual(row, Float64Array.from({ length: L }, (_, i) => i), 'ids');
        assert.is(p.delta, 0);
        const x = new Tensor(randVec(new Generator(seed), 2 * 3 * L * d), [2, 3, L, d]);
        const ref = new RoPE(d, { base, layout: 'half' }).rotate(x, new Tensor(Float64Array.from({ length: L }, (_, i) => i), [L]));
        const enc = new MRoPE(d, section, { base });
        bitEqual(enc.rotate(x, mropePositionsTensor(p.ids)).data, ref.data, 'positions [L, 3]');
        bitEqual(enc.rotate(x, new Tensor(Float64Array.from(p.ids[0]), [L])).data, ref.data, 'positions [L]');
      },
    ),
    fcParams(40),
  );
});

test('segment start rule: each segment begins at (max id over all rows so far) + 1; delta = max + 1 − L', () => {
  fc.assert(
    fc.property(fc.array(segmentArb, { minLength: 1, maxLength: 6 }), (segments) => {
      const p = mropePositions(segments);
      const L = mropeTokenCount(segments);
      assert.is(p.ids[0].length, L);
      let max = -1;
      segments.forEach((_, i) => {
        const first = p.offsets[i]!;
        const end = i + 1 < segments.length ? p.offsets[i + 1]! : L;
        if (end > first) for (let a = 0; a < 3; a++) assert.is(p.ids[a]![first], max + 1, `segment ${i} row ${a}`);
        for (let n = first; n < end; n++) for (let a = 0; a < 3; a++) max = Math.max(max, p.ids[a]![n]!);
      });
      assert.is(p.delta, L === 0 ? 0 : max + 1 - L);
    }),
    fcParams(100),
  );
});

test('delta continuation: decoding positions c + delta equal the ids a trailing text segment would get', () => {
  fc.assert(
    fc.property(fc.array(segmentArb, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 6 }), (segments, n) => {
      const p = mropePositions(segments);
      const L = p.ids[0].length;
      fc.pre(L > 0);
      const longer = mropePositions([...segments, { type: 'text', length: n }]);
      const decode = mropeDecodePositions(p.delta, L, n).data;
      for (let a = 0; a < 3; a++) bitEqual(longer.ids[a].subarray(L), decode, `row ${a}`);
    }),
    fcParams(100),
  );
});

test('per-axis translation invariance: shifting t, h, w by independent integers leaves every q·k score unchanged (ropelab/testing\'s checker)', () => {
  assertProperty(checkRelativePositionInvariance(new MRoPE(12, [2, 2, 2], { base: 100 }), { headDim: 12, axes: 3, maxTokens: 5, maxPosition: 100, tolerance: 1e-10, numRuns: 40, seed: FC_SEED }));
});

test('vision–vision scores depend only on (Δt, Δh, Δw): more preceding text leaves them unchanged', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 6 }),
      fc.integer({ min: 1, max: 30 }),
      fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
      fc.array(segmentArb, { maxLength: 2 }),
      fc.integer({ min: 0, max: 1000 }),
      (prefix, extra, [T, H, W], middle, seed) => {
        const video: MRoPESegment = { type: 'video', grid: [T, 2 * H, 2 * W] };
        const a = mropePositions([{ type: 'text', length: prefix }, ...middle, video]);
        const b = mropePositions([{ type: 'text', length: prefix + extra }, ...middle, video]);
        const N = T * H * W;
        const take = (p: typeof a): Tensor => mropePositionsTensor(p.ids.map((r) => r.subarray(r.length - N)));
        const g = new Generator(seed);
        const d = 12;
        const q = randVec(g, N * d);
        const k = randVec(g, N * d);
        const enc = new MRoPE(d, [2, 2, 2], { base: 100 });
        assertClose(rowScores(enc, q, k, take(b)), rowScores(enc, q, k, take(a)), { rtol: 1e-10, atol: 1e-10 });
      },
    ),
    fcParams(40),
  );
});

test('fractional and negative positions are accepted (the rotation is linear in them)', () => {
  const enc = new MRoPE(8, [2, 1, 1], { base: 100 });
  const x = new Tensor(Float64Array.from({ length: 8 }, (_, i) => Math.cos(i + 1)), [1, 8]);
  const y = enc.rotate(x, new Tensor(Float64Array.from([0.5, -1.25, 2.75]), [1, 3]));
  const w = ropeInvFreq(8, 100);
  const phi = [0.5 * w[0]!, 0.5 * w[1]!, -1.25 * w[2]!, 2.75 * w[3]!];
  const expected = new Float64Array(8);
  for (let j = 0; j < 4; j++) {
    expected[j] = x.data[j]! * Math.cos(phi[j]!) - x.data[j + 4]! * Math.sin(phi[j]!);
    expected[j + 4] = x.data[j]! * Math.sin(phi[j]!) + x.data[j + 4]! * Math.cos(phi[j]!);
  }
  assertClose(y.data, expected, { rtol: 1e-14, atol: 1e-15 });
});

// ── helpers and errors ──

test('mropePositionsTensor: [3][L] → [L, 3] row-major (token-major), and its shape errors', () => {
  const t = mropePositionsTensor([[0, 1, 2], [10, 11, 12], [20, 21, 22]]);
  assert.equal(t.shape, [3, 3]);
  assert.equal(Array.from(t.data), [0, 10, 20, 1, 11, 21, 2, 12, 22]);
  assert.throws(() => mropePositionsTensor([[0], [1]]), (e: unknown) => e instanceof ShapeError && /three rows/.test(e.message));
  assert.throws(() => mropePositionsTensor([[0, 1], [1], [2, 3]]), (e: unknown) => e instanceof ShapeError);
});

test('section validation: sum(mropeSection) = headDim/2, three non-negative integers, even headDim, invFreq length', () => {
  const msg = (re: RegExp) => (e: unknown): boolean => e instanceof ValueError && re.test(e.message);
  assert.throws(() => mropeFrequencies(128, [16, 24, 23]), msg(/^mropeFrequencies: mropeSection sums to 63 — .*sum must be headDim\/2 = 64/));
  assert.throws(() => new MRoPE(128, [16, 24, 25]), msg(/^MRoPE: mropeSection sums to 65/));
  assert.throws(() => mropeFrequencies(12, [3, 3]), msg(/three non-negative integers/));
  assert.throws(() => mropeFrequencies(12, [3, -1, 4]), msg(/three non-negative integers/));
  assert.throws(() => mropeFrequencies(12, [2.5, 1.5, 2]), msg(/three non-negative integers/));
  assert.throws(() => mropeFrequencies(13, [2, 2, 2]), msg(/^mropeFrequencies: headDim must be even/));
  assert.throws(() => mropeFrequencies(12, [2, 2, 2], { invFreq: [1, 2, 3] }), (e: unknown) => e instanceof ShapeError && /expected 6 \(one per rotated pair\)/.test(e.message));
  // an empty section is allowed (e.g. no temporal pairs)
  assert.equal(mropeFrequencies(4, [0, 1, 1]).shape, [3, 2]);
});

test('segment validation: grid must be positive integers with h, w divisible by the merge size; text lengths ≥ 0', () => {
  const bad = (segments: unknown, re: RegExp, options = {}): void =>
    assert.throws(() => mropePositions(segments as MRoPESegment[], options), (e: unknown) => e instanceof ValueError && re.test(e.message));
  bad([{ type: 'image', grid: [1, 3, 4] }], /^mropePositions: segments\[0\]\.grid h, w are not multiples of the merge size/);
  bad([{ type: 'text', length: 1 }, { type: 'video', grid: [0, 2, 2] }], /segments\[1\]\.grid is not three positive integers/);
  bad([{ type: 'video', grid: [1, 2] }], /three positive integers/);
  bad([{ type: 'text', length: -1 }], /segments\[0\]\.length is not a non-negative integer/);
  bad([{ type: 'audio', length: 3 }], /unknown type — type=audio/);
  bad([{ type: 'text', length: 1 }], /spatialMergeSize is not a positive integer/, { spatialMergeSize: 0 });
  assert.throws(() => mropePositions('text' as unknown as MRoPESegment[]), (e: unknown) => e instanceof DTypeError && /^mropePositions: segments is not an array/.test(e.message));
  // merge size 1: the grid is used as is
  assert.equal(rows(mropePositions([{ type: 'image', grid: [1, 1, 3] }], { spatialMergeSize: 1 }).ids), [[0, 0, 0], [0, 0, 0], [0, 1, 2]]);
  assert.throws(() => mropeDecodePositions(Number.NaN, 0), (e: unknown) => e instanceof ValueError);
  assert.throws(() => mropeDecodePositions(0, 1.5), (e: unknown) => e instanceof ValueError);
});

test('in MultiHeadAttention: prefill with [L, 3] ids, then cached decoding with c + delta, equals one full pass', () => {
  const segments: MRoPESegment[] = [{ type: 'text', length: 3 }, { type: 'video', grid: [2, 4, 2] }, { type: 'text', length: 2 }];
  const extra = 3;
  const full = mropePositions([...segments, { type: 'text', length: extra }]);
  const prompt = mropePositions(segments);
  const L = prompt.ids[0].length;
  const dim = 16;
  const attn = new MultiHeadAttention(dim, { numHeads: 2, positional: new MRoPE(8, [2, 1, 1], { base: 100 }), generator: new Generator(3), dtype: 'float64' });
  const x = new Tensor(randVec(new Generator(4), (L + extra) * dim), [1, L + extra, dim]);
  noGrad(() => {
    const whole = attn.forward(x, { positions: mropePositionsTensor(full.ids) });
    const cache = new KVCache();
    const pre = attn.forward(x.narrow(1, 0, L), { positions: mropePositionsTensor(prompt.ids), cache });
    assertClose(pre.data, whole.data.subarray(0, L * dim), { rtol: 1e-12, atol: 1e-12 }, 'prefill');
    for (let i = 0; i < extra; i++) {
      const step = attn.forward(x.narrow(1, L + i, 1), { positions: mropeDecodePositions(prompt.delta, cache.position, 1), cache });
      assertClose(step.data, whole.data.subarray((L + i) * dim, (L + i + 1) * dim), { rtol: 1e-12, atol: 1e-12 }, `step ${i}`);
    }
  });
});

test.run();
