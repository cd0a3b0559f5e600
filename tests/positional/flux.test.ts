/**
 * FLUX 3-axis RoPE (positional/flux.ts) against diffusers: the per-axis ladders and cos values of an example worked
 * by hand from `get_1d_rotary_pos_embed`, ids with text first and zero, image ids (0, row, col) in raster order, the
 * rotation against an independent transcription of diffusers' cos/sin tables (repeat_interleave, width Σ axes_dim)
 * and `apply_rotary_emb(use_real_unbind_dim=-1)`, and the properties of an additive per-axis RoPE: text tokens
 * unrotated, image–image scores invariant under a shift of every image id on any axis (text–image scores are not:
 * text stays at the origin), key-only shift by Δ ≡ query-only shift by −Δ; the FreeFlux probe; errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, Tensor, ValueError } from '../../core/index.js';
import {
  FLUX_AXES_DIM, FREEFLUX_PROBE_SHIFTS, FluxRoPE, fluxFrequencies, fluxLatentGrid, fluxPositions, fluxShiftImageIds, freeFluxProbe,
} from '../../positional/flux.js';
import { assertClose } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';
import { expectRangeErrors } from '../helpers/positional.js';

function randTensor(g: Generator, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(Float64Array.from({ length: n }, () => g.normal()), shape);
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Score matrix [n, n] of rotated rows qr, kr [n, d]. */
function scores(qr: Tensor, kr: Tensor): number[][] {
  const [n, d] = [qr.shape[0]!, qr.shape[1]!];
  return Array.from({ length: n }, (_, a) => Array.from({ length: n }, (_, b) => dot(qr.data.subarray(a * d, a * d + d), kr.data.subarray(b * d, b * d + d))));
}

/**
 * diffusers, transcribed independently: per axis ω = θ^(−arange(0, d, 2)/d), cos/sin of id·ω each repeated twice
 * (repeat_interleave_real), concatenated over axes; out = x·cos + rot(x)·sin, rot(x)[2i] = −x[2i+1], rot(x)[2i+1] = x[2i].
 */
function diffusersRotate(x: Float64Array, ids: Float64Array, n: number, axesDim: readonly number[], theta: number): Float64Array {
  const D = axesDim.reduce((a, b) => a + b, 0);
  const out = new Float64Array(n * D);
  for (let t = 0; t < n; t++) {
    const cos = new Float64Array(D);
    const sin = new Float64Array(D);
    let off = 0;
    axesDim.forEach((d, a) => {
      for (let c = 0; c < d; c += 2) {
        const phi = ids[t * axesDim.length + a]! * (1 / Math.pow(theta, c / d));
        cos[off + c] = cos[off + c + 1] = Math.cos(phi);
        sin[off + c] = sin[off + c + 1] = Math.sin(phi);
      }
      off += d;
    });
    for (let c = 0; c < D; c++) {
      const rot = c % 2 === 0 ? -x[t * D + c + 1]! : x[t * D + c - 1]!;
      out[t * D + c] = x[t * D + c]! * cos[c]! + rot * sin[c]!;
    }
  }
  return out;
}

test('fluxFrequencies: hand-worked ladders — d = 16 → 8 freqs 1 … 3.162278e−4, d = 56 → 28 freqs 1, 0.719686, 0.517947 … 1.389495e−4', () => {
  const F = fluxFrequencies();
  assert.equal(F.shape, [3, 64]);
  const ladder = Array.from({ length: 64 }, (_, j) => F.data[j]! + F.data[64 + j]! + F.data[128 + j]!);
  assertClose(ladder.slice(0, 8), [1, 0.316228, 0.1, 0.0316228, 0.01, 0.00316228, 0.001, 3.162278e-4], { rtol: 2e-6, atol: 0 });
  assertClose([ladder[8]!, ladder[9]!, ladder[10]!, ladder[35]!], [1, 0.719686, 0.517947, 1.389495e-4], { rtol: 2e-6, atol: 0 });
  assertClose(ladder.slice(36), ladder.slice(8, 36), { rtol: 0, atol: 0 });
  // block structure: pair j belongs to exactly one axis
  for (let j = 0; j < 64; j++) {
    const owner = j < 8 ? 0 : j < 36 ? 1 : 2;
    for (let a = 0; a < 3; a++) assert.ok((F.data[a * 64 + j] !== 0) === (a === owner), `pair ${j} axis ${a}`);
  }
});

test('FluxRoPE: hand-worked cos values — image token (0,3,5): cos[16:22] and cos[72:78], each value twice (interleaved)', () => {
  const rope = new FluxRoPE();
  assert.is(rope.headDim, 128);
  const x = new Tensor(Float64Array.from({ length: 128 }, (_, c) => (c % 2 === 0 ? 1 : 0)), [1, 128]); // every pair (1, 0)
  const y = rope.rotate(x, new Tensor(Float64Array.from([0, 3, 5]), [1, 3])).data;
  const cos = Array.from({ length: 64 }, (_, i) => y[2 * i]!);
  const expanded = cos.flatMap((c) => [c, c]); // diffusers' repeat_interleave table
  assertClose(expanded.slice(16, 22), [-0.989992, -0.989992, -0.554915, -0.554915, 0.016953, 0.016953], { rtol: 0, atol: 5e-7 });
  assertClose(expanded.slice(72, 78), [0.283662, 0.283662, -0.897453, -0.897453, -0.851553, -0.851553], { rtol: 0, atol: 5e-7 });
  assertClose(cos.slice(0, 8), new Array(8).fill(1), { rtol: 0, atol: 0 }); // axis-0 id 0
});

test('fluxPositions: text first with zero ids, then (axis0, row, col) in raster order; fluxLatentGrid(H, W) = (H/16, W/16)', () => {
  const ids = fluxPositions({ textLength: 2, height: 2, width: 3 });
  assert.equal(ids.shape, [8, 3]);
  assert.equal(Array.from(ids.data), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 2, 0, 1, 0, 0, 1, 1, 0, 1, 2]);
  const kontext = fluxPositions({ textLength: 1, height: 1, width: 2, axis0: 1 });
  assert.equal(Array.from(kontext.data), [0, 0, 0, 1, 0, 0, 1, 0, 1]);
  assert.equal(fluxLatentGrid(1024, 1024), [64, 64]);
  assert.equal(fluxLatentGrid(1024, 768), [64, 48]);
  assert.equal(fluxLatentGrid(1000, 1000), [62, 62]);
  assert.equal(fluxPositions({ textLength: 512, height: 64, width: 64 }).shape, [512 + 4096, 3]);
});

test('FluxRoPE ≡ diffusers FluxPosEmbed + apply_rotary_emb (interleaved), any axes_dim and float ids', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 5 }).map((h) => 2 * h), { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 1, max: 6 }),
      fc.constantFrom(10000, 100),
      fc.integer({ min: 0, max: 1e6 }),
      (axesDim, n, theta, seed) => {
        const g = new Generator(seed);
        const D = axesDim.reduce((a, b) => a + b, 0);
        const x = randTensor(g, [n, D]);
        const ids = Float64Array.from({ length: n * axesDim.length }, () => 40 * g.random() - 10);
        const rope = new FluxRoPE(axesDim, { theta });
        const y = rope.rotate(x, new Tensor(ids, [n, axesDim.length])).data;
        assertClose(y, diffusersRotate(x.data as Float64Array, ids, n, axesDim, theta), { rtol: 1e-12, atol: 1e-12 });
      },
    ),
    fcParams(60),
  );
});

test('FLUX: text tokens (ids 0) come out unrotated, bit for bit', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 1e6 }), (textLength, seed) => {
      const g = new Generator(seed);
      const rope = new FluxRoPE();
      const ids = fluxPositions({ textLength, height: 2, width: 2 });
      const x = randTensor(g, [1, 2, ids.shape[0]!, 128]);
      const y = rope.rotate(x, ids).data;
      const N = ids.shape[0]!;
      for (let h = 0; h < 2; h++) {
        for (let t = 0; t < textLength; t++) {
          for (let c = 0; c < 128; c++) assert.is(y[(h * N + t) * 128 + c], x.data[(h * N + t) * 128 + c]);
        }
      }
    }),
    fcParams(20),
  );
});

test('FLUX: shifting every image id on any axis keeps image–image scores; text–image scores change (text stays at 0)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e6 }), (seed) => {
      const g = new Generator(seed);
      const axesDim = [4, 8, 8];
      const rope = new FluxRoPE(axesDim, { theta: 100 });
      const text = 2;
      const ids = fluxPositions({ textLength: text, height: 2 + g.int(0, 3), width: 2 + g.int(0, 3) });
      const n = ids.shape[0]!;
      const shift = [g.int(-3, 4), g.int(-20, 21), g.int(-20, 21)];
      const moved = Float64Array.from(ids.data);
      for (let t = text; t < n; t++) for (let a = 0; a < 3; a++) moved[t * 3 + a] += shift[a]!;
      const movedIds = new Tensor(moved, [n, 3]);
      const q = randTensor(g, [n, 20]);
      const k = randTensor(g, [n, 20]);
      const before = scores(rope.rotate(q, ids), rope.rotate(k, ids));
      const after = scores(rope.rotate(q, movedIds), rope.rotate(k, movedIds));
      const img = (m: number[][]): number[] => m.slice(text).flatMap((r) => r.slice(text));
      assertClose(img(after), img(before), { rtol: 1e-9, atol: 1e-9 }, 'image–image');
      const txt = (m: number[][]): number[] => m.slice(0, text).flatMap((r) => r.slice(text));
      const tt = (m: number[][]): number[] => m.slice(0, text).flatMap((r) => r.slice(0, text));
      assertClose(tt(after), tt(before), { rtol: 0, atol: 0 }, 'text–text');
      if (shift.some((v) => v !== 0)) {
        const change = Math.max(...txt(after).map((v, i) => Math.abs(v - txt(before)[i]!)));
        assert.ok(change > 1e-6, `text–image scores should move with the image ids (max change ${change})`);
      }
    }),
    fcParams(40),
  );
});

test('FLUX / FreeFlux probe: key-only image shift by Δ ≡ query-only shift by −Δ on image–image scores; unrotated keys', () => {
  const g = new Generator(4);
  const rope = new FluxRoPE([4, 8, 8], { theta: 100 });
  const textLength = 3;
  const ids = fluxPositions({ textLength, height: 3, width: 4 });
  const n = ids.shape[0]!;
  const q = randTensor(g, [1, 2, n, 20]);
  const k = randTensor(g, [1, 2, n, 20]);
  const imageScores = (qr: Tensor, kr: Tensor, head: number): number[] => {
    const slice = (t: Tensor): Tensor => new Tensor(t.data.slice(head * n * 20, (head + 1) * n * 20), [n, 20]);
    return scores(slice(qr), slice(kr)).slice(textLength).flatMap((r) => r.slice(textLength));
  };
  for (const shift of FREEFLUX_PROBE_SHIFTS) {
    const probe = freeFluxProbe(rope, q, k, ids, { textLength, keys: shift });
    const neg = fluxShiftImageIds(ids, textLength, [-shift[0], -shift[1]]);
    for (const head of [0, 1]) {
      assertClose(imageScores(probe.q, probe.k, head), imageScores(rope.rotate(q, neg), rope.rotate(k, ids), head), { rtol: 1e-9, atol: 1e-9 });
    }
    // the text keys keep id 0: their rotation is the identity either way
    for (let t = 0; t < textLength; t++) for (let c = 0; c < 20; c++) assert.is(probe.k.data[t * 20 + c], k.data[t * 20 + c]);
  }
  const none = freeFluxProbe(rope, q, k, ids, { textLength, keys: 'unrotated' });
  assert.is(none.k, k);
  assert.equal(none.q.data, rope.rotate(q, ids).data);
  const shifted = fluxShiftImageIds(ids, textLength, [10, -2]);
  assert.equal(Array.from(shifted.data.subarray(0, 9)), new Array(9).fill(0));
  assert.equal(Array.from(shifted.data.subarray(9, 12)), [0, 10, -2]);
});

test('FLUX: typed errors', () => {
  const bad: [() => unknown, RegExp][] = [
    [() => fluxFrequencies([16, 55, 56]), /axesDim/],
    [() => fluxFrequencies([]), /axesDim/],
    [() => fluxFrequencies(FLUX_AXES_DIM, 1), /theta/],
    [() => fluxPositions({ textLength: -1, height: 2, width: 2 }), /textLength/],
    [() => fluxPositions({ textLength: 1, height: 2.5, width: 2 }), /height/],
    [() => fluxLatentGrid(0, 16), /pixelHeight/],
    [() => fluxShiftImageIds(new Tensor(new Float64Array(4), [2, 2]), 0, [1, 1]), /\[n, 3\]/],
    [() => fluxShiftImageIds(fluxPositions({ textLength: 1, height: 1, width: 1 }), 3, [1, 1]), /textLength/],
    [() => new FluxRoPE([4, 8, 8]).rotate(new Tensor(new Float64Array(16), [1, 16]), new Tensor(new Float64Array(3), [1, 3])), /rotaryDim/],
  ];
  expectRangeErrors(bad);
  try {
    fluxFrequencies([3]);
  } catch (e) {
    assert.ok(e instanceof ValueError);
    assert.match((e as Error).message, /^fluxFrequencies: /);
  }
});

test.run();
