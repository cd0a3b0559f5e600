/**
 * nn/chunked-attention.ts: chunkedAttention against a naive block-diagonal-causal attention written with loops (any
 * chunk size, T not a multiple of C, batch broadcasting, non-causal chunks, decoding rows with an offset); C ≥ T
 * equals global causal attention; gradients; the ChunkedAttention module (equal to MultiHeadAttention when C ≥ T,
 * block-diagonal dependence, KV-cache decoding equals the full forward); errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, ShapeError, Tensor, ValueError, attention, gradcheck, noGrad, randn, type DType } from '../../core/index.js';
import { ChunkedAttention, chunkedAttention } from '../../nn/chunked-attention.js';
import { KVCache, MultiHeadAttention } from '../../nn/index.js';
import { RoPE } from '../../positional/index.js';
import { assertClose, assertShape } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';

function rand(shape: number[], g: Generator, requiresGrad = false, dtype: DType = 'float64'): Tensor {
  const t = randn(shape, { generator: g, dtype });
  t.requiresGrad = requiresGrad;
  return t;
}

/** Row-major index of `idx` into `shape`, reading broadcast (size-1) axes at 0; idx is right-aligned to shape. */
function at(shape: readonly number[], idx: readonly number[]): number {
  const off = idx.length - shape.length;
  let flat = 0;
  for (let a = 0; a < shape.length; a++) flat = flat * shape[a]! + (shape[a] === 1 ? 0 : idx[a + off]!);
  return flat;
}

/**
 * By the definition: query i at position p = offset + i + Tk − Tq sees key j (position offset + j) when
 * ⌊p/C⌋ = ⌊(offset + j)/C⌋ and (if causal) j ≤ i + Tk − Tq; softmax over the visible keys, 0 if none.
 */
function naiveChunked(q: Tensor, k: Tensor, v: Tensor, C: number, causal: boolean, offset: number, batch: number[]): number[] {
  const [Tq, d] = q.shape.slice(-2) as [number, number];
  const Tk = k.shape[k.ndim - 2]!;
  const dv = v.shape[v.ndim - 1]!;
  const nb = batch.reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let b = 0; b < nb; b++) {
    const bi: number[] = [];
    for (let a = batch.length - 1, r = b; a >= 0; a--) {
      bi.unshift(r % batch[a]!);
      r = Math.floor(r / batch[a]!);
    }
    for (let i = 0; i < Tq; i++) {
      const p = offset + i + Tk - Tq;
      const logits: Array<number | null> = [];
      for (let j = 0; j < Tk; j++) {
        const visible = Math.floor(p / C) === Math.floor((offset + j) / C) && (!causal || offset + j <= p);
        if (!visible) {
          logits.push(null);
          continue;
        }
        let s = 0;
        for (let c = 0; c < d; c++) s += q.data[at(q.shape, [...bi, i, c])]! * k.data[at(k.shape, [...bi, j, c])]!;
        logits.push(s / Math.sqrt(d));
      }
      const seen = logits.filter((s): s is number => s !== null);
      const m = Math.max(...seen);
      const z = seen.reduce((acc, s) => acc + Math.exp(s - m), 0);
      for (let e = 0; e < dv; e++) {
        let acc = 0;
        for (let j = 0; j < Tk; j++) if (logits[j] !== null) acc += (Math.exp(logits[j]! - m) / z) * v.data[at(v.shape, [...bi, j, e])]!;
        out.push(acc);
      }
    }
  }
  return out;
}

const caseArb = fc.record({
  T: fc.integer({ min: 1, max: 19 }),
  C: fc.integer({ min: 1, max: 8 }),
  d: fc.integer({ min: 1, max: 4 }),
  dv: fc.integer({ min: 1, max: 3 }),
  B: fc.integer({ min: 1, max: 2 }),
  H: fc.integer({ min: 1, max: 2 }),
  kvShared: fc.boolean(), // k, v broadcast over heads ([B, 1, T, d])
  causal: fc.boolean(),
  seed: fc.nat(),
});

test('chunkedAttention equals naive block-diagonal attention for any chunk size (T not a multiple of C, causal or not, broadcast k/v)', () => {
  fc.assert(
    fc.property(caseArb, ({ T, C, d, dv, B, H, kvShared, causal, seed }) => {
      const g = new Generator(seed);
      const q = rand([B, H, T, d], g);
      const k = rand([B, kvShared ? 1 : H, T, d], g);
      const v = rand([B, kvShared ? 1 : H, T, dv], g);
      const out = chunkedAttention(q, k, v, C, { causal });
      assertShape(out.shape, [B, H, T, dv]);
      assertClose(out.data, naiveChunked(q, k, v, C, causal, 0, [B, H]), { rtol: 1e-12, atol: 1e-13 }, `T=${T} C=${C} causal=${causal}`);
    }),
    fcParams(150),
  );
});

test('chunk size ≥ sequence length: chunked attention is global causal attention', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 10 }), fc.nat(), (T, extra, seed) => {
      const g = new Generator(seed);
      const [q, k, v] = [rand([2, 3, T, 4], g), rand([2, 3, T, 4], g), rand([2, 3, T, 4], g)];
      const global = attention(q, k, v, { causal: true });
      assertClose(chunkedAttention(q, k, v, T + extra).data, global.data, { rtol: 1e-13, atol: 1e-14 }, `T=${T} C=${T + extra}`);
    }),
    fcParams(40),
  );
});

test('decoding rows (Tq < Tk) with a key offset equal the naive definition and the matching rows of the full pass', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 9 }), fc.boolean(), fc.nat(),
      (Tk, tq, C, offset, causal, seed) => {
        const Tq = Math.min(tq, Tk);
        const g = new Generator(seed);
        const [q, k, v] = [rand([2, Tq, 3], g), rand([2, Tk, 3], g), rand([2, Tk, 2], g)];
        const out = chunkedAttention(q, k, v, C, { causal, offset });
        assertClose(out.data, naiveChunked(q, k, v, C, causal, offset, [2]), { rtol: 1e-12, atol: 1e-13 }, `Tq=${Tq} Tk=${Tk} C=${C} offset=${offset}`);
        if (offset === 0 && causal) {
          // the last Tq rows of the full pass (queries for every key) are the same numbers
          const qFull = rand([2, Tk, 3], new Generator(seed + 1));
          qFull.data.set(q.data.subarray(0, Tq * 3), (Tk - Tq) * 3);
          qFull.data.set(q.data.subarray(Tq * 3), Tk * 3 + (Tk - Tq) * 3);
          const full = chunkedAttention(qFull, k, v, C);
          const rows = [...full.data.subarray((Tk - Tq) * 2, Tk * 2), ...full.data.subarray(Tk * 2 + (Tk - Tq) * 2)];
          assertClose(out.data, rows, { rtol: 1e-13, atol: 1e-14 }, 'rows of the full pass');
        }
      },
    ),
    fcParams(120),
  );
});

test('gradients: gradcheck, and equal to attention with an explicit block-diagonal causal mask', () => {
  const g = new Generator(3);
  for (const [T, C] of [[5, 2], [6, 3], [7, 7], [4, 1]] as const) {
    const [q, k, v] = [rand([2, T, 3], g, true), rand([2, T, 3], g, true), rand([2, T, 2], g, true)];
    gradcheck((a, b, c) => chunkedAttention(a, b, c, C), [q, k, v]);
    const mask = new Float64Array(T * T);
    for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) if (Math.floor(i / C) === Math.floor(j / C)) mask[i * T + j] = 1;
    const w = rand([2, T, 2], g);
    const grads = (f: () => Tensor): number[][] => {
      for (const t of [q, k, v]) t.grad = null;
      f().mul(w).sum().backward();
      return [q, k, v].map((t) => Array.from(t.grad!.data));
    };
    const got = grads(() => chunkedAttention(q, k, v, C));
    const want = grads(() => attention(q, k, v, { mask: new Tensor(mask, [T, T]) }));
    got.forEach((gr, i) => assertClose(gr, want[i]!, { rtol: 1e-11, atol: 1e-13 }, `T=${T} C=${C} grad ${'qkv'[i]}`));
  }
});

test('long sequences: T = 4096, C = 64 runs in chunk-sized pieces (no T×T buffer) and matches attention on a slice', () => {
  const g = new Generator(5);
  const T = 4096;
  const C = 64;
  const [q, k, v] = [rand([1, 2, T, 8], g, false, 'float32'), rand([1, 2, T, 8], g, false, 'float32'), rand([1, 2, T, 8], g, false, 'float32')];
  const out = chunkedAttention(q, k, v, C);
  // chunk 17 alone, by the plain causal op
  const piece = (t: Tensor): Tensor => t.narrow(2, 17 * C, C);
  const ref = attention(piece(q), piece(k), piece(v), { causal: true });
  assertClose(out.narrow(2, 17 * C, C).data, ref.data, { rtol: 1e-6, atol: 1e-7 }, 'chunk 17');
});

function moduleInput(seed: number, B: number, T: number, dim: number): Tensor {
  return randn([B, T, dim], { generator: new Generator(seed), dtype: 'float64' });
}

test('ChunkedAttention with C ≥ T equals MultiHeadAttention (same weights, same RoPE)', () => {
  const rope = new RoPE(4);
  const chunked = new ChunkedAttention(8, 2, 16, { positional: rope, generator: new Generator(1), dtype: 'float64' });
  const mha = new MultiHeadAttention(8, { numHeads: 2, positional: rope, generator: new Generator(2), dtype: 'float64' });
  mha.loadStateDict(chunked.stateDict());
  for (const T of [1, 7, 16]) {
    const x = moduleInput(T, 2, T, 8);
    assertClose(chunked.forward(x).data, mha.forward(x).data, { rtol: 1e-12, atol: 1e-14 }, `T=${T}`);
  }
});

test('ChunkedAttention: an output depends only on earlier-or-equal tokens of its own chunk', () => {
  const m = new ChunkedAttention(8, 2, 4, { generator: new Generator(4), dtype: 'float64' });
  const T = 11;
  const x = moduleInput(9, 1, T, 8);
  const base = noGrad(() => m.forward(x));
  for (const t of [0, 2, 4, 7, 8, 10]) {
    const xp = x.clone();
    for (let c = 0; c < 8; c++) xp.data[t * 8 + c]! += 1.5;
    const out = noGrad(() => m.forward(xp));
    for (let i = 0; i < T; i++) {
      const same = Math.floor(i / 4) !== Math.floor(t / 4) || i < t;
      const a = out.data.subarray(i * 8, (i + 1) * 8);
      const b = base.data.subarray(i * 8, (i + 1) * 8);
      if (same) assertClose(a, b, { rtol: 0, atol: 0 }, `perturb ${t}, row ${i}`);
      else assert.ok(a.some((val, c) => val !== b[c]), `perturb ${t}, row ${i} should change`);
    }
  }
});

test('ChunkedAttention decoding with a KV cache, in uneven steps, equals the full forward', () => {
  const m = new ChunkedAttention(8, 2, 3, { generator: new Generator(6), dtype: 'float64' });
  const x = moduleInput(10, 2, 13, 8);
  const full = noGrad(() => m.forward(x));
  for (const cache of [new KVCache(), new KVCache({ maxLength: 3 })]) {
    let t = 0;
    for (const n of [2, 1, 4, 1, 1, 3, 1]) {
      const step = noGrad(() => m.forward(x.narrow(1, t, n), { cache }));
      for (let b = 0; b < 2; b++) {
        assertClose(step.data.subarray(b * n * 8, (b + 1) * n * 8), full.data.subarray((b * 13 + t) * 8, (b * 13 + t + n) * 8), { rtol: 1e-12, atol: 1e-14 }, `maxLength=${cache.maxLength} at ${t}`);
      }
      t += n;
    }
  }
});

test('errors name the op and the argument', () => {
  const g = new Generator(0);
  const x = rand([4, 2], g);
  assert.throws(() => chunkedAttention(x, x, x, 0), (e: unknown) => e instanceof ValueError && /chunkedAttention: chunkSize must be an integer ≥ 1/.test(e.message));
  assert.throws(() => chunkedAttention(rand([5, 2], g), x, x, 2), (e: unknown) => e instanceof ShapeError && e.arg === 'q');
  assert.throws(() => chunkedAttention(x, x, rand([3, 2], g), 2), (e: unknown) => e instanceof ShapeError && e.arg === 'v');
  assert.throws(() => new ChunkedAttention(6, 4, 2), (e: unknown) => e instanceof ValueError && e.arg === 'numHeads');
  assert.throws(() => new ChunkedAttention(8, 2, 1.5), (e: unknown) => e instanceof ValueError && e.arg === 'chunkSize');
  const m = new ChunkedAttention(8, 2, 4);
  assert.throws(() => m.forward(rand([1, 3, 8], g, false, 'float32'), { cache: new KVCache({ maxLength: 2 }) }), (e: unknown) => e instanceof ValueError && e.arg === 'cache');
  assert.throws(() => m.forward(rand([3, 8], g, false, 'float32')), (e: unknown) => e instanceof ShapeError && e.arg === 'x');
});

test.run();
