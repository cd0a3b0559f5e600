/**
 * nn/mmdit-block.ts: the joint text+image attention with FLUX 3-axis RoPE, the double- and single-stream blocks and
 * the FreeFlux hook. Properties (fast-check, float64): text ids (0, 0, 0) are unrotated (cos ≡ 1, sin ≡ 0); a shift of
 * every image id (queries and keys) keeps image–image scores and changes text–image ones; the hook's key-only shift
 * by Δ gives the image–image scores of a query-only shift by −Δ; 'unrotated' keys are the pre-RoPE keys; one softmax
 * over [text; image] against a naive per-token oracle; adaLN-Zero blocks start as the identity; gradcheck; refusals.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { DTypeError, Generator, ShapeError, Tensor, ValueError, concat, gradcheck, noGrad } from '../../core/index.js';
import { FluxRoPE, fluxPositions, fluxShiftImageIds } from '../../positional/index.js';
import { DoubleStreamBlock, JointAttention, SingleStreamBlock, type JointAttentionHook } from '../../nn/index.js';
import { MMDiT } from '../../models/index.js';
import { assertClose } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';
import { assertRefused } from '../helpers/refusal.js';

const AXES = [2, 4, 4]; // head dim 10
const D = 20; // 2 heads
const rope = new FluxRoPE(AXES, { theta: 100 });

function rand(g: Generator, shape: number[], scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(Float64Array.from({ length: n }, () => scale * g.normal()), shape);
}

/** Every parameter redrawn N(0, 0.3²) (the adaLN-Zero modulations too, so the blocks are not the identity). */
function randomise(m: { parameters(): Tensor[] }, g: Generator): void {
  for (const p of m.parameters()) for (let i = 0; i < p.size; i++) p.data[i] = 0.3 * g.normal();
}

/** Scores [S, S] of head h of rotated q, k [1, H, S, d]. */
function scores(q: Tensor, k: Tensor, h: number): number[][] {
  const [, , S, d] = q.shape as [number, number, number, number];
  const at = (t: Tensor, s: number, c: number): number => t.data[(h * S + s) * d + c]!;
  return Array.from({ length: S }, (_, a) => Array.from({ length: S }, (_, b) => {
    let s = 0;
    for (let c = 0; c < d; c++) s += at(q, a, c) * at(k, b, c);
    return s;
  }));
}

/** The keys a JointAttention call attends with (rotated as the hook says), captured by the hook's keysValues. */
function capturedKeys(attn: JointAttention, img: Tensor, txt: Tensor, ids: Tensor, keys?: JointAttentionHook['keys']): Tensor {
  let k: Tensor | null = null;
  noGrad(() => attn.forward(img, txt, ids, { ...(keys === undefined ? {} : { keys }), keysValues: (kk, vv) => ((k = kk), { k: kk, v: vv }) }));
  return k!;
}

/** The pre-RoPE q (or k) of a JointAttention: [txt; img] streams' projections, per head, qk-normed. */
function preRoPE(attn: JointAttention, img: Tensor, txt: Tensor, which: 'q' | 'k'): Tensor {
  const H = attn.numHeads;
  const split = (x: Tensor): Tensor => x.reshape([x.shape[0]!, x.shape[1]!, H, attn.headDim]).transpose(1, 2);
  return noGrad(() => {
    const t = which === 'q' ? attn.normAddedQ.forward(split(attn.txtQ.forward(txt))) : attn.normAddedK.forward(split(attn.txtK.forward(txt)));
    const i = which === 'q' ? attn.normQ.forward(split(attn.imgQ.forward(img))) : attn.normK.forward(split(attn.imgK.forward(img)));
    return concat([t, i], 2);
  });
}

const grid = fc.record({ L: fc.integer({ min: 1, max: 4 }), gh: fc.integer({ min: 1, max: 3 }), gw: fc.integer({ min: 1, max: 3 }), seed: fc.integer({ min: 0, max: 1e6 }) });
/** A shift with components k/4, k ∈ [−24, 24] (integers scaled: fast-check clusters doubles at the ends). */
const shiftArb = fc.tuple(fc.integer({ min: -24, max: 24 }), fc.integer({ min: -24, max: 24 })).map(([a, b]) => [a / 4, b / 4] as [number, number])
  .filter(([a, b]) => a !== 0 || b !== 0);

test('text ids (0, 0, 0): cos ≡ 1 and sin ≡ 0 on every channel — text rows pass through the RoPE unchanged', () => {
  fc.assert(fc.property(grid, ({ L, gh, gw, seed }) => {
    // the ids the MMDiT builds (fluxPositions), rotated by its own FluxRoPE
    const model = new MMDiT({ imageSize: 2, patchSize: 1, vocabSize: 3, textLength: L, dim: 20, numHeads: 2, doubleBlocks: 1, singleBlocks: 0, axesDim: AXES, ropeTheta: 100 });
    const ids = model.positionIds(gh, gw);
    const phi = model.rope.angles(ids); // [S, P]
    const P = phi.shape[1]!;
    for (let s = 0; s < L; s++) {
      for (let j = 0; j < P; j++) {
        const a = phi.data[s * P + j]!;
        assert.is(Math.cos(a), 1);
        assert.is(Math.sin(a), 0);
      }
    }
    const x = rand(new Generator(seed), [1, 2, L + gh * gw, 10]);
    const r = model.rope.rotate(x, ids);
    for (let h = 0; h < 2; h++) {
      const base = h * (L + gh * gw) * 10;
      assertClose(r.data.subarray(base, base + L * 10), x.data.subarray(base, base + L * 10), { atol: 0, rtol: 0 });
    }
    // and an image row that is not at the origin is rotated (the table is not all zero)
    if (gh * gw > 1) assert.ok(phi.data.subarray((L + gh * gw - 1) * P, (L + gh * gw) * P).some((a) => a !== 0));
  }), fcParams(40));
});

test('shifting every image id (q and k): image–image scores unchanged, text–image scores changed', () => {
  fc.assert(fc.property(grid.filter(({ gh, gw }) => gh * gw >= 2), shiftArb, ({ L, gh, gw, seed }, shift) => {
    const g = new Generator(seed);
    const attn = new JointAttention(D, { numHeads: 2, rope, generator: g, dtype: 'float64' });
    const N = gh * gw;
    const img = rand(g, [1, N, D]);
    const txt = rand(g, [1, L, D]);
    const ids = fluxPositions({ textLength: L, height: gh, width: gw });
    const moved = fluxShiftImageIds(ids, L, shift);
    const q = preRoPE(attn, img, txt, 'q');
    const k0 = capturedKeys(attn, img, txt, ids);
    const k1 = capturedKeys(attn, img, txt, moved); // keys rotated at the moved ids (the block's own path)
    const s0 = scores(rope.rotate(q, ids), k0, 1);
    const s1 = scores(rope.rotate(q, moved), k1, 1);
    let textImageChange = 0;
    for (let a = 0; a < L + N; a++) {
      for (let b = 0; b < L + N; b++) {
        if (a >= L && b >= L) assert.ok(Math.abs(s0[a]![b]! - s1[a]![b]!) < 1e-9, `image–image ${a},${b}: ${s0[a]![b]} vs ${s1[a]![b]}`);
        else if (a < L && b < L) assert.ok(Math.abs(s0[a]![b]! - s1[a]![b]!) < 1e-9, 'text–text');
        else textImageChange = Math.max(textImageChange, Math.abs(s0[a]![b]! - s1[a]![b]!));
      }
    }
    assert.ok(textImageChange > 1e-6, `text–image scores did not change (max ${textImageChange})`);
  }), fcParams(30));
});

test("hook keys [Δh, Δw] (keys only, image ids) ≡ queries shifted by −Δ on image–image scores; text keys stay at 0", () => {
  fc.assert(fc.property(grid, shiftArb, ({ L, gh, gw, seed }, shift) => {
    const g = new Generator(seed);
    const attn = new JointAttention(D, { numHeads: 2, rope, generator: g, dtype: 'float64' });
    const N = gh * gw;
    const img = rand(g, [1, N, D]);
    const txt = rand(g, [1, L, D]);
    const ids = fluxPositions({ textLength: L, height: gh, width: gw });
    const q = preRoPE(attn, img, txt, 'q');
    const kShift = capturedKeys(attn, img, txt, ids, shift);
    const sKey = scores(rope.rotate(q, ids), kShift, 0);
    const sQuery = scores(rope.rotate(q, fluxShiftImageIds(ids, L, [-shift[0], -shift[1]])), capturedKeys(attn, img, txt, ids), 0);
    for (let a = L; a < L + N; a++) for (let b = L; b < L + N; b++) assert.ok(Math.abs(sKey[a]![b]! - sQuery[a]![b]!) < 1e-9, `${a},${b}`);
    // the text keys are the pre-RoPE ones (ids 0, never shifted)
    const k = preRoPE(attn, img, txt, 'k');
    for (let h = 0; h < 2; h++) {
      const base = h * (L + N) * 10;
      assertClose(kShift.data.subarray(base, base + L * 10), k.data.subarray(base, base + L * 10), { atol: 1e-12, rtol: 0 });
    }
  }), fcParams(30));
});

test("hook keys 'unrotated': the attention sees the pre-RoPE keys; the queries are still rotated (output differs from 'rotated')", () => {
  const g = new Generator(3);
  const attn = new JointAttention(D, { numHeads: 2, rope, generator: g, dtype: 'float64' });
  const [L, gh, gw] = [2, 2, 3];
  const img = rand(g, [1, gh * gw, D]);
  const txt = rand(g, [1, L, D]);
  const ids = fluxPositions({ textLength: L, height: gh, width: gw });
  assertClose(capturedKeys(attn, img, txt, ids, 'unrotated').data, preRoPE(attn, img, txt, 'k').data, { atol: 1e-12, rtol: 0 });
  const a = noGrad(() => attn.forward(img, txt, ids));
  const b = noGrad(() => attn.forward(img, txt, ids, { keys: 'unrotated' }));
  const c = noGrad(() => attn.forward(img, txt, ids, { keys: 'rotated' }));
  assertClose(c.img.data, a.img.data, { atol: 0, rtol: 0 });
  assert.ok(b.img.data.some((v, i) => Math.abs(v - a.img.data[i]!) > 1e-6), 'unrotated keys changed nothing');
});

test('JointAttention: one softmax over [text; image] with each stream its own projections — a naive per-token oracle', () => {
  const g = new Generator(5);
  const attn = new JointAttention(D, { numHeads: 2, rope, generator: g, dtype: 'float64' });
  const [L, gh, gw] = [2, 2, 2];
  const N = gh * gw;
  const S = L + N;
  const img = rand(g, [1, N, D]);
  const txt = rand(g, [1, L, D]);
  const ids = fluxPositions({ textLength: L, height: gh, width: gw });
  const out = noGrad(() => attn.forward(img, txt, ids));
  const q = rope.rotate(preRoPE(attn, img, txt, 'q'), ids);
  const k = rope.rotate(preRoPE(attn, img, txt, 'k'), ids);
  const v = noGrad(() => {
    const split = (x: Tensor): Tensor => x.reshape([1, x.shape[1]!, 2, 10]).transpose(1, 2);
    return concat([split(attn.txtV.forward(txt)), split(attn.imgV.forward(img))], 2);
  });
  // o[s] = Σ_t softmax_t(q_s·k_t/√d) v_t per head, then the stream's output projection
  const o = new Float64Array(S * D);
  for (let h = 0; h < 2; h++) {
    const sc = scores(q, k, h);
    for (let s = 0; s < S; s++) {
      const w = sc[s]!.map((x) => Math.exp(x / Math.sqrt(10)));
      const z = w.reduce((a, b) => a + b, 0);
      for (let t = 0; t < S; t++) for (let c = 0; c < 10; c++) o[s * D + h * 10 + c] += (w[t]! / z) * v.data[(h * S + t) * 10 + c]!;
    }
  }
  const proj = (lin: JointAttention['imgOut'], rows: Float64Array): Float64Array => noGrad(() => lin.forward(new Tensor(rows, [1, rows.length / D, D])).data as Float64Array);
  assertClose(out.txt.data, proj(attn.txtOut, o.slice(0, L * D)), { atol: 1e-10, rtol: 1e-10 });
  assertClose(out.img.data, proj(attn.imgOut, o.slice(L * D)), { atol: 1e-10, rtol: 1e-10 });
});

test('adaLN-Zero: fresh double- and single-stream blocks are the identity; after randomising they are not', () => {
  const g = new Generator(7);
  const [L, gh, gw] = [2, 2, 2];
  const ids = fluxPositions({ textLength: L, height: gh, width: gw });
  const img = rand(g, [2, gh * gw, D]);
  const txt = rand(g, [2, L, D]);
  const c = rand(g, [2, D]);
  const dbl = new DoubleStreamBlock(D, { numHeads: 2, rope, mlpRatio: 2, generator: g, dtype: 'float64' });
  const sgl = new SingleStreamBlock(D, { numHeads: 2, rope, mlpRatio: 2, generator: g, dtype: 'float64' });
  const d0 = noGrad(() => dbl.forward(img, txt, c, ids));
  assertClose(d0.img.data, img.data, { atol: 0, rtol: 0 });
  assertClose(d0.txt.data, txt.data, { atol: 0, rtol: 0 });
  const x = rand(g, [2, L + gh * gw, D]);
  assertClose(noGrad(() => sgl.forward(x, c, ids, L)).data, x.data, { atol: 0, rtol: 0 });
  randomise(dbl, g);
  randomise(sgl, g);
  assert.ok(noGrad(() => dbl.forward(img, txt, c, ids)).img.data.some((v, i) => Math.abs(v - img.data[i]!) > 1e-3));
  assert.ok(noGrad(() => sgl.forward(x, c, ids, L)).data.some((v, i) => Math.abs(v - x.data[i]!) > 1e-3));
});

test('single-stream block: the text length only decides which key ids the probe shifts', () => {
  const g = new Generator(8);
  const sgl = new SingleStreamBlock(D, { numHeads: 2, rope, mlpRatio: 1, generator: g, dtype: 'float64' });
  randomise(sgl, g);
  const [L, gh, gw] = [2, 2, 2];
  const ids = fluxPositions({ textLength: L, height: gh, width: gw });
  const x = rand(g, [1, L + 4, D]);
  const c = rand(g, [1, D]);
  const a = noGrad(() => sgl.forward(x, c, ids, L));
  const b = noGrad(() => sgl.forward(x, c, ids, 1));
  assertClose(a.data, b.data, { atol: 0, rtol: 0 }); // unhooked: textLength is unused
  const sa = noGrad(() => sgl.forward(x, c, ids, L, { keys: [1, 0] }));
  const sb = noGrad(() => sgl.forward(x, c, ids, 1, { keys: [1, 0] })); // token 1 (a text token) now shifted too
  assert.ok(sa.data.some((v, i) => Math.abs(v - sb.data[i]!) > 1e-9));
});

test('gradcheck (float64): double-stream and single-stream blocks, every input and a weight of each part', () => {
  const g = new Generator(9);
  const small = new FluxRoPE([2, 2, 2], { theta: 10 });
  const [L, gh, gw] = [1, 1, 2];
  const ids = fluxPositions({ textLength: L, height: gh, width: gw });
  const dbl = new DoubleStreamBlock(6, { numHeads: 1, rope: small, mlpRatio: 1, generator: g, dtype: 'float64' });
  const sgl = new SingleStreamBlock(6, { numHeads: 1, rope: small, mlpRatio: 1, generator: g, dtype: 'float64' });
  randomise(dbl, g);
  randomise(sgl, g);
  const img = rand(g, [1, 2, 6]).detach();
  const txt = rand(g, [1, 1, 6]);
  const c = rand(g, [1, 6]);
  for (const t of [img, txt, c]) t.requiresGrad = true;
  assert.ok(gradcheck((i, t, cc) => {
    const o = dbl.forward(i!, t!, cc!, ids, { keys: [0.5, -1] });
    return [o.img, o.txt];
  }, [img, txt, c, dbl.attn.imgK.weight, dbl.txtMod.weight, dbl.imgMlp.fc1.weight]));
  const x = rand(g, [1, 3, 6]);
  x.requiresGrad = true;
  assert.ok(gradcheck((xx, cc) => sgl.forward(xx!, cc!, ids, L), [x, c, sgl.wq.weight, sgl.mod.weight, sgl.projOut.weight]));
});

test('refusals: typed errors named after the call', () => {
  const g = new Generator(10);
  const opts = { numHeads: 2, rope, generator: g, dtype: 'float64' as const };
  assertRefused(() => new JointAttention(D, { ...opts, numHeads: 3 }), ValueError, 'JointAttention', { arg: 'numHeads' });
  assertRefused(() => new DoubleStreamBlock(16, opts), ShapeError, 'DoubleStreamBlock', { arg: 'rope' });
  assertRefused(() => new SingleStreamBlock(D, { ...opts, rope: {} as FluxRoPE }), DTypeError, 'SingleStreamBlock', { arg: 'rope' });
  assertRefused(() => new SingleStreamBlock(D, { ...opts, mlpRatio: 0 }), ValueError, 'SingleStreamBlock', { arg: 'mlpRatio' });
  const attn = new JointAttention(D, opts);
  const ids = fluxPositions({ textLength: 1, height: 1, width: 2 });
  const img = rand(g, [1, 2, D]);
  const txt = rand(g, [1, 1, D]);
  const f = 'JointAttention.forward';
  assertRefused(() => attn.forward(img, rand(g, [2, 1, D]), ids), ShapeError, f, { arg: 'txt' });
  assertRefused(() => attn.forward(img, txt, fluxPositions({ textLength: 1, height: 1, width: 3 })), ShapeError, f, { arg: 'ids' });
  assertRefused(() => attn.forward(img.cast('float32'), txt, ids), DTypeError, f, { arg: 'img' });
  assertRefused(() => attn.forward(img, txt, new Tensor(Float64Array.from([0, 0, 0, 0, NaN, 0, 0, 0, 1]), [3, 3])), ValueError, f, { arg: 'ids' });
  assertRefused(() => attn.forward(img, txt, ids, { keys: [1] as unknown as [number, number] }), DTypeError, f, { arg: 'keys' });
  assertRefused(() => attn.forward(img, txt, ids, { keys: [1, Infinity] }), ValueError, f);
  assertRefused(() => attn.forward(img, txt, ids, { keys: 'shifted' as 'rotated' }), DTypeError, f, { arg: 'keys' });
  assertRefused(() => attn.forward(img, txt, ids, { other: 1 } as JointAttentionHook), ValueError, f);
  assertRefused(() => attn.forward(img, txt, ids, { keysValues: (k) => ({ k: k.narrow(2, 0, 1), v: k }) }), ShapeError, f, { arg: 'keysValues' });
  assertRefused(() => attn.forward(img, txt, ids, { keysValues: () => null as unknown as { k: Tensor; v: Tensor } }), DTypeError, f, { arg: 'keysValues' });
  const sgl = new SingleStreamBlock(D, opts);
  const x = rand(g, [1, 3, D]);
  assertRefused(() => sgl.forward(x, rand(g, [2, D]), ids, 1), ShapeError, 'SingleStreamBlock.forward', { arg: 'c' });
  assertRefused(() => sgl.forward(x, rand(g, [1, D]), ids, 4), ValueError, 'SingleStreamBlock.forward', { arg: 'textLength' });
  const dbl = new DoubleStreamBlock(D, opts);
  assertRefused(() => dbl.forward(img, txt, rand(g, [1, D]).cast('float32'), ids), DTypeError, 'DoubleStreamBlock.forward', { arg: 'c' });
});

test.run();
