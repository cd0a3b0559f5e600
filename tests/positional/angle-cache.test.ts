/**
 * positional/angle-cache.ts: the one memo of angle tables and cos/sin. For each user — RoPE, the multi-axis family
 * (MRoPE, VideoRoPE, HoPE, VRoPE, FluxRoPE), RoPE-Axial, RoPE-Mixed, applyRotary — a table must never be served
 * for values that changed in place (positions, frequencies) or for another token count T, tables that require grad
 * are never cached, and the memo still saves work: memoComputations() counts the tables and cos/sin passes built.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator, Tensor, matmul, noGrad, randn } from '../../core/index.js';
import { RoPE, applyRotary, ropeInvFreq, rotaryAngles } from '../../positional/rope.js';
import { MultiAxisRoPE, multiAxisAngles } from '../../positional/multi-axis.js';
import { MRoPE, mropePositions, mropePositionsTensor } from '../../positional/mrope.js';
import { VideoRoPE } from '../../positional/video-rope.js';
import { HoPE } from '../../positional/hope.js';
import { VRoPE } from '../../positional/vrope.js';
import { FluxRoPE } from '../../positional/flux.js';
import { RoPEAxial, RoPEMixed, ropeVitGrid } from '../../positional/rope-vit.js';
import { ANGLE_CACHE_LIMIT, memoComputations } from '../../positional/angle-cache.js';
import { bitEqual } from '../helpers/positional.js';

const f64 = (values: ArrayLike<number>, shape: readonly number[], requiresGrad = false): Tensor =>
  new Tensor(Float64Array.from(values), shape, requiresGrad);
const arange = (offset: number, T: number): Tensor => f64(Array.from({ length: T }, (_, i) => offset + i), [T]);
const copy = (t: Tensor): Tensor => new Tensor(t.data.slice(), t.shape);
const rand = (shape: number[], seed: number): Tensor => randn(shape, { dtype: 'float64', generator: new Generator(seed) });
/** Heads x for RoPE(8) at positions [T] ([2, T, 8]) or [B, T] ([B, 1, T, 8]). */
const headsAt = (pos: Tensor, seed: number): Tensor =>
  rand(pos.ndim === 2 ? [pos.shape[0]!, 1, pos.shape[1]!, 8] : [2, pos.shape[0]!, 8], seed);

/** Tables and cos/sin passes computed while `fn` runs. */
function computations(fn: () => void): { tables: number; trig: number } {
  const before = memoComputations();
  fn();
  const after = memoComputations();
  return { tables: after.tables - before.tables, trig: after.trig - before.trig };
}

// ── RoPE ──

test('RoPE: invFreq changed in place is never served from the cache (range-keyed and tensor-keyed positions)', () => {
  for (const pos of [arange(3, 5), f64([5, 1, 3], [3]), f64([0, 1, 2, 7, 8, 9], [2, 3])]) {
    const rope = new RoPE(8);
    rope.angles(pos);
    rope.rotate(headsAt(pos, 1), pos);
    rope.invFreq[1] = 0.25; // e.g. a scaling rule that rescales frequencies in place
    const expected = new RoPE(8, { invFreq: rope.invFreq }).angles(copy(pos));
    bitEqual(expected.data, rotaryAngles(pos, rope.invFreq).data, 'reference table');
    bitEqual(rope.angles(pos).data, expected.data, `angles after invFreq changed, positions ${pos.shape}`);
    const x = headsAt(pos, 2);
    bitEqual(rope.rotate(x, pos).data, applyRotary(x, expected, { layout: 'half' }).data, 'rotate after invFreq changed');
  }
});

test('RoPE: positions mutated in place are re-read — a range turned arbitrary, arbitrary turned a range, per-sequence rows', () => {
  const rope = new RoPE(8);
  const cases: [Tensor, (d: Tensor['data']) => void][] = [
    [arange(3, 4), (d) => (d[1] = 7)],
    [f64([5, 1, 3], [3]), (d) => (d[1] = 2)],
    [f64([5, 1, 3], [3]), (d) => d.set([10, 11, 12])],
    [f64([0, 1, 2, 4, 5, 6], [2, 3]), (d) => (d[4] = 0)],
  ];
  for (const [pos, mutate] of cases) {
    const before = Array.from(pos.data);
    rope.angles(pos);
    rope.encodeQK(headsAt(pos, 3), headsAt(pos, 4), pos, pos);
    mutate(pos.data);
    const want = new RoPE(8).angles(copy(pos));
    bitEqual(rope.angles(pos).data, want.data, `positions [${before}] → [${Array.from(pos.data)}]`);
  }
});

test('RoPE: one table for q, k and every call with the same range; one cos/sin pass; the LRU is bounded', () => {
  const rope = new RoPE(8);
  const g = new Generator(8);
  const q = randn([1, 2, 6, 8], { dtype: 'float64', generator: g });
  const k = randn([1, 2, 6, 8], { dtype: 'float64', generator: g });
  const cold = computations(() => rope.encodeQK(q, k, arange(3, 6), arange(3, 6)));
  assert.equal(cold, { tables: 1, trig: 1 }, 'q and k: one table, one cos/sin pass');
  const warm = computations(() => {
    for (let layer = 0; layer < 4; layer++) rope.encodeQK(q, k, arange(3, 6), arange(3, 6)); // fresh tensors, equal range
  });
  assert.equal(warm, { tables: 0, trig: 0 }, 'four more layers: nothing recomputed');
  const t1 = rope.angles(arange(3, 6));
  assert.ok(rope.angles(arange(3, 6)) === t1, 'a fresh tensor with the same range hits');
  const evicting = computations(() => {
    for (let off = 100; off < 100 + ANGLE_CACHE_LIMIT; off++) rope.angles(arange(off, 6));
  });
  assert.is(evicting.tables, ANGLE_CACHE_LIMIT);
  const again = rope.angles(arange(3, 6));
  assert.ok(again !== t1, 'the first range was evicted');
  bitEqual(again.data, t1.data, 'recomputed table');
});

test('RoPE: positions that require grad get a fresh, differentiable table every call, and tables are never modified', () => {
  const rope = new RoPE(8);
  const pos = f64([0, 1, 2], [3], true);
  const n = computations(() => {
    rope.angles(pos);
    rope.angles(pos);
  });
  assert.is(n.tables, 2);
  const x = rand([3, 8], 5);
  rope.rotate(x, pos).sum().backward();
  assert.ok(pos.grad !== null, 'the table stayed in the graph');
  const t = rope.angles(arange(0, 3));
  const snapshot = t.data.slice();
  const q = randn([1, 2, 3, 8], { dtype: 'float64', generator: new Generator(6), requiresGrad: true });
  const { q: qr, k: kr } = rope.encodeQK(q, q, arange(0, 3), arange(0, 3));
  matmul(qr, kr, { transposeB: true }).sum().backward();
  bitEqual(rope.angles(arange(0, 3)).data, snapshot, 'forward and backward left the cached table as it was');
  assert.not.ok(t.requiresGrad);
});

test('RoPE: the cache does not leak across encodings with other frequencies', () => {
  const a = new RoPE(8);
  const b = new RoPE(8, { base: 500000 });
  a.angles(arange(0, 4));
  bitEqual(b.angles(arange(0, 4)).data, rotaryAngles(arange(0, 4), ropeInvFreq(8, 500000)).data, 'b');
  bitEqual(a.angles(arange(0, 4)).data, rotaryAngles(arange(0, 4), ropeInvFreq(8)).data, 'a');
});

// ── applyRotary's cos/sin ──

test('applyRotary: an angles tensor changed in place is re-read; angles that require grad are never cached', () => {
  const x = rand([2, 3, 4], 9);
  for (const requiresGrad of [false, true]) {
    const angles = randn([3, 2], { dtype: 'float64', generator: new Generator(10), requiresGrad });
    for (const layout of ['half', 'interleaved'] as const) {
      applyRotary(x, angles, { layout });
      for (let i = 0; i < angles.size; i++) angles.data[i]! += 0.5; // as an optimizer step would
      const expected = applyRotary(x, copy(angles), { layout });
      bitEqual(noGrad(() => applyRotary(x, angles, { layout })).data, expected.data, `${layout} requiresGrad=${requiresGrad}`);
    }
  }
  const angles = rand([3, 2], 11);
  assert.equal(computations(() => [0, 1, 2].forEach(() => applyRotary(x, angles, { layout: 'half' }))).trig, 1, 'one cos/sin pass per table');
  const learned = f64(angles.data, [3, 2], true);
  assert.equal(computations(() => [0, 1].forEach(() => applyRotary(x, learned, { layout: 'half' }))).trig, 2, 'learned angles: every call');
});

// ── the multi-axis family ──

const family = (): [string, MultiAxisRoPE, Tensor][] => {
  const mrope = mropePositionsTensor(mropePositions([{ type: 'text', length: 2 }, { type: 'image', grid: [1, 4, 4] }]).ids);
  const grid4 = f64(Array.from({ length: 24 }, (_, i) => (i * 7) % 5), [6, 4]);
  const ids = f64([0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1], [4, 3]);
  return [
    ['MRoPE', new MRoPE(8, [2, 1, 1], { base: 100 }), mrope],
    ['VideoRoPE', new VideoRoPE(16, [2, 3, 3]), copy(mrope)],
    ['HoPE', new HoPE(16, [2, 3, 3]), copy(mrope)],
    ['VRoPE', new VRoPE(8), grid4],
    ['FluxRoPE', new FluxRoPE([4, 8, 8], { theta: 100 }), ids],
    ['MultiAxisRoPE', new MultiAxisRoPE(f64([1, 0.5, 0, 0, 0, 0.25], [2, 3])), f64([0, 0, 1, 0, 0, 1, 1, 1], [4, 2])],
    ['MRoPE, 1-D positions', new MRoPE(8, [2, 1, 1]), arange(5, 3)],
  ];
};
const fresh = (enc: MultiAxisRoPE, pos: Tensor): Tensor => multiAxisAngles(enc.coordinates(copy(pos)), copy(enc.freqs));

test('multi-axis family: positions mutated in place are re-read (angles and rotate)', () => {
  for (const [name, enc, pos] of family()) {
    const first = enc.angles(pos);
    assert.ok(enc.angles(pos) === first, `${name}: a second call hits`);
    bitEqual(first.data, fresh(enc, pos).data, `${name}: first table`);
    pos.data[pos.size - 1] = 42;
    bitEqual(enc.angles(pos).data, fresh(enc, pos).data, `${name}: after positions changed`);
    const x = rand([pos.shape[0]!, enc.rotaryDim], 12);
    const want = applyRotary(x, fresh(enc, pos), { layout: enc.layout, scale: enc.attentionFactor });
    bitEqual(enc.rotate(x, pos).data, want.data, `${name}: rotate after positions changed`);
  }
});

test('multi-axis family: frequencies changed in place are never served from the cache', () => {
  for (const [name, enc, pos] of family()) {
    enc.rotate(rand([pos.shape[0]!, enc.rotaryDim], 13), pos);
    const j = enc.freqs.data.findIndex((f) => f !== 0);
    enc.freqs.data[j] = enc.freqs.data[j]! * 3;
    bitEqual(enc.angles(pos).data, fresh(enc, pos).data, `${name}: after freqs changed`);
  }
});

test('multi-axis family: one table and one cos/sin pass for q, k and every layer; learned F never cached', () => {
  for (const [name, enc, pos] of family()) {
    const q = rand([1, 1, pos.shape[0]!, enc.rotaryDim], 14);
    const n = computations(() => {
      for (let layer = 0; layer < 3; layer++) enc.encodeQK(q, q, pos, pos);
    });
    assert.equal(n, { tables: 1, trig: 1 }, name);
  }
  const F = f64([1, 0.5, 0, 0, 0, 0.25], [2, 3], true);
  const learned = new MultiAxisRoPE(F);
  const pos = f64([0, 0, 1, 0, 0, 1, 1, 1], [4, 2]);
  assert.is(computations(() => [0, 1].forEach(() => learned.angles(pos))).tables, 2);
  learned.rotate(rand([4, 6], 15), pos).sum().backward();
  assert.ok(F.grad !== null, 'F trains through the table');
});

// ── RoPE-ViT ──

test('RoPEAxial: positions mutated in place, T changed and freqs changed are never served from the cache', () => {
  const pos = ropeVitGrid(3, 2); // [6, 2]
  const enc = new RoPEAxial(8, { prefixTokens: 1 });
  const x7 = rand([2, 7, 8], 16);
  const x6 = rand([2, 6, 8], 17);
  const want = (x: Tensor): Tensor => new RoPEAxial(8, { prefixTokens: 1 }).rotate(x, copy(pos));
  bitEqual(enc.rotate(x7, pos).data, want(x7).data, 'T = 7: class token + 6 patches');
  bitEqual(enc.rotate(x6, pos).data, want(x6).data, 'T = 6, same positions tensor: its first row is the ignored prefix');
  bitEqual(enc.rotate(x7, pos).data, want(x7).data, 'back to T = 7');
  pos.data[5] = 9;
  bitEqual(enc.rotate(x7, pos).data, want(x7).data, 'positions changed in place');
  const shared = new RoPEAxial(8);
  const p = ropeVitGrid(2, 2);
  const x = rand([4, 8], 18);
  shared.rotate(x, p);
  shared.freqs.data[0] = 0.5;
  const expected = applyRotary(x, multiAxisAngles(copy(p), copy(shared.freqs)), { layout: 'interleaved' });
  bitEqual(shared.rotate(x, p).data, expected.data, 'freqs changed in place');
});

test('RoPEAxial: one table for q, k and every layer', () => {
  const enc = new RoPEAxial(8, { prefixTokens: 1 });
  const pos = ropeVitGrid(3, 2);
  const q = rand([1, 2, 7, 8], 19);
  assert.equal(computations(() => [0, 1, 2].forEach(() => enc.encodeQK(q, q, pos, pos))), { tables: 1, trig: 1 });
});

test('RoPEMixed: frozen frequencies are cached but re-read after positions, T or frequencies change; trainable ones never cached', () => {
  const make = (): RoPEMixed => {
    const m = new RoPEMixed(2, 8, { dtype: 'float64', prefixTokens: 1 });
    m.freqsX.requiresGrad = false;
    m.freqsY.requiresGrad = false;
    return m;
  };
  const enc = make();
  const pos = ropeVitGrid(3, 2);
  const x7 = rand([1, 2, 7, 8], 20);
  const x6 = rand([1, 2, 6, 8], 21);
  const want = (x: Tensor): Tensor => {
    const ref = make();
    ref.freqsX.data.set(enc.freqsX.data);
    ref.freqsY.data.set(enc.freqsY.data);
    return ref.rotate(x, copy(pos));
  };
  assert.equal(computations(() => [0, 1, 2].forEach(() => enc.encodeQK(x7, x7, pos, pos))), { tables: 1, trig: 1 }, 'frozen: one table');
  bitEqual(enc.rotate(x6, pos).data, want(x6).data, 'T changed');
  pos.data[3] = 5;
  bitEqual(enc.rotate(x7, pos).data, want(x7).data, 'positions changed in place');
  enc.freqsY.data[1] = 0.75;
  bitEqual(enc.rotate(x7, pos).data, want(x7).data, 'freqsY changed in place');
  const trainable = new RoPEMixed(2, 8, { dtype: 'float64' });
  const p = ropeVitGrid(2, 2);
  assert.is(computations(() => [0, 1].forEach(() => trainable.rotate(rand([1, 2, 4, 8], 22), p))).tables, 2, 'trainable: every call');
  trainable.rotate(rand([1, 2, 4, 8], 23), p).sum().backward();
  assert.ok(trainable.freqsX.grad !== null, 'freqsX trains through the table');
});

test.run();
