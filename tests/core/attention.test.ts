/**
 * The fused attention op against a naive softmax(q kᵀ·scale + mask) v written here with per-element loops: random
 * Tq/Tk, causal (bottom-right), sliding window, 0/1 masks broadcast from [Tq,Tk], [1,Tk], [B,1,Tq,Tk] …, batch
 * broadcasting (GQA); rows that see no key; sequence lengths across the 32-row block; causality as a property;
 * gradcheck and a directional-derivative check of backward; and the op's errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  DTypeError, Generator, ShapeError, Tensor, ValueError, attention, expand, fmtShape, gradcheck, randn,
  type AttentionOptions, type DType,
} from '../../core/index.js';
import { assertClose, assertShape } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';
import { broadcastRead, naiveBroadcastShape, sizeOfShape, unravel } from '../helpers/oracle.js';
import { makeTensor } from '../helpers/oracle-elementwise.js';
import { assertCloseScaled, dtypeArb, thrown } from '../helpers/oracle-reduce.js';

interface Arr {
  data: ArrayLike<number>;
  shape: readonly number[];
}

interface NaiveOptions {
  mask?: Arr;
  causal?: boolean;
  window?: number;
  scale?: number;
}

/**
 * softmax(scale · q kᵀ + mask) v by the definition, one output element at a time. Batch axes broadcast (NumPy
 * rules, via broadcastRead); query i sits at key position p = i + Tk − Tq; key j is visible when the mask there is
 * non-zero, j ≤ p if causal, and p − window < j ≤ p (causal) or |p − j| < window (not causal). A row that sees no
 * key outputs 0. Also returns, per output element, the scale of its rounding error: `scale` = Σ_j P_ij·|v_j| (float64:
 * the logits are float64 sums), and `float32Scale` = that · (3 + 2(d + 2)·L_i) in units u = 2⁻²⁴, L_i = max over
 * visible j of scale · Σ_c |q_ic k_jc| (float32: the logits are float32 sums of d products, error ≤ γ_{d+1}·L_i, then
 * scaled and rounded; a logit error δ moves P_ij by a relative 2δ at most; P and O are rounded once each).
 */
function naiveAttention(q: Arr, k: Arr, v: Arr, o: NaiveOptions = {}): { data: number[]; shape: number[]; scale: number[]; float32Scale: number[] } {
  const [Tq, d] = q.shape.slice(-2) as [number, number];
  const Tk = k.shape[k.shape.length - 2]!;
  const dv = v.shape[v.shape.length - 1]!;
  const batch = naiveBroadcastShape(naiveBroadcastShape(q.shape.slice(0, -2), k.shape.slice(0, -2))!, v.shape.slice(0, -2))!;
  const scale = o.scale ?? 1 / Math.sqrt(d);
  const data: number[] = [];
  const errScale: number[] = [];
  const float32Scale: number[] = [];
  for (let b = 0; b < sizeOfShape(batch); b++) {
    const bi = unravel(b, batch);
    for (let i = 0; i < Tq; i++) {
      const p = i + Tk - Tq;
      const logits: Array<number | null> = [];
      let logitMag = 0;
      for (let j = 0; j < Tk; j++) {
        let visible = o.causal ? j <= p : true;
        if (o.window !== undefined) visible &&= o.causal ? p - o.window < j : Math.abs(p - j) < o.window;
        if (o.mask) visible &&= broadcastRead(o.mask.data, o.mask.shape, [...bi, i, j]) !== 0;
        if (!visible) {
          logits.push(null);
          continue;
        }
        let s = 0;
        let sAbs = 0;
        for (let c = 0; c < d; c++) {
          const qk = broadcastRead(q.data, q.shape, [...bi, i, c]) * broadcastRead(k.data, k.shape, [...bi, j, c]);
          s += qk;
          sAbs += Math.abs(qk);
        }
        logits.push(s * scale);
        logitMag = Math.max(logitMag, Math.abs(scale) * sAbs);
      }
      const seen = logits.filter((s): s is number => s !== null);
      const m = Math.max(...seen);
      const z = seen.reduce((acc, s) => acc + Math.exp(s - m), 0);
      const probs = logits.map((s) => (s === null ? 0 : Math.exp(s - m) / z));
      for (let e = 0; e < dv; e++) {
        let acc = 0;
        let mag = 0;
        for (let j = 0; j < Tk; j++) {
          const vj = broadcastRead(v.data, v.shape, [...bi, j, e]);
          acc += probs[j]! * vj;
          mag += probs[j]! * Math.abs(vj);
        }
        data.push(acc);
        errScale.push(mag);
        float32Scale.push(mag * (3 + 2 * (d + 2) * logitMag));
      }
    }
  }
  return { data, shape: [...batch, Tq, dv], scale: errScale, float32Scale };
}

/** float32: u times float32Scale; float64: 1e-13 times Σ P|v| (q kᵀ in float64, a dozen terms of size ≤ 9, then exp). */
const REL: Record<DType, number> = { float32: 2 ** -24, float64: 1e-13 };
const ABS: Record<DType, number> = { float32: 1e-12, float64: 1e-13 };

function checkAgainstNaive(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions, label: string): Tensor {
  const out = attention(q, k, v, opts);
  const ref = naiveAttention(q, k, v, {
    ...(opts.mask ? { mask: opts.mask } : {}),
    ...(opts.causal !== undefined ? { causal: opts.causal } : {}),
    ...(opts.window !== undefined ? { window: opts.window } : {}),
    ...(opts.scale !== undefined ? { scale: opts.scale } : {}),
  });
  assert.is(out.dtype, q.dtype, `${label}: dtype`);
  assertShape(out.shape, ref.shape, `${label}: shape`);
  assertCloseScaled(out.data, ref.data, q.dtype === 'float32' ? ref.float32Scale : ref.scale, REL[q.dtype], label, ABS[q.dtype]);
  return out;
}

function randTensor(shape: readonly number[], g: Generator, dtype: DType = 'float64', requiresGrad = false): Tensor {
  const t = randn(shape, { generator: g, dtype });
  t.requiresGrad = requiresGrad;
  return t;
}

/** A 0/1 mask of `shape` with P(1) = keep. */
function randMask(shape: readonly number[], g: Generator, keep = 0.75): Tensor {
  return makeTensor(shape, Array.from({ length: sizeOfShape(shape) }, () => (g.random() < keep ? 1 : 0)), 'float32');
}

/** A shape that broadcasts into `full` without enlarging it: a suffix of full with some sizes replaced by 1. */
function subShapeArb(full: readonly number[]): fc.Arbitrary<number[]> {
  return fc
    .tuple(fc.integer({ min: 0, max: full.length }), fc.array(fc.boolean(), { minLength: full.length, maxLength: full.length }))
    .map(([drop, ones]) => full.slice(drop).map((dim, i) => (ones[i + drop] ? 1 : dim)));
}

interface Case {
  batch: number[];
  qb: number[];
  kb: number[];
  vb: number[];
  Tq: number;
  Tk: number;
  d: number;
  dv: number;
  causal: boolean;
  window: number | undefined;
  /** Mask shape (batch part, rows Tq or 1, columns Tk or 1), or null for no mask. */
  mask: number[] | null;
  scale: number | undefined;
  dtype: DType;
  seed: number;
}

function caseArb(maxT: number, maxBatch: number, dtype: fc.Arbitrary<DType> = dtypeArb): fc.Arbitrary<Case> {
  return fc
    .record({
      batch: fc.array(fc.integer({ min: 1, max: maxBatch }), { maxLength: 3 }),
      Tq: fc.integer({ min: 1, max: maxT }),
      Tk: fc.integer({ min: 1, max: maxT }),
      d: fc.integer({ min: 1, max: 4 }),
      dv: fc.integer({ min: 1, max: 4 }),
      causal: fc.boolean(),
    })
    .chain(({ batch, Tq, Tk, d, dv, causal }) => {
      const c = causal && Tq <= Tk; // causal needs Tq ≤ Tk
      return fc.record<Omit<Case, 'mask'>>({
        batch: fc.constant(batch),
        qb: subShapeArb(batch),
        kb: subShapeArb(batch),
        vb: subShapeArb(batch),
        Tq: fc.constant(Tq),
        Tk: fc.constant(Tk),
        d: fc.constant(d),
        dv: fc.constant(dv),
        causal: fc.constant(c),
        window: fc.option(fc.integer({ min: 1, max: Tk + 1 }), { nil: undefined }),
        scale: fc.option(fc.double({ min: -1, max: 2, noNaN: true }), { nil: undefined }),
        dtype,
        seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      });
    })
    .chain((c) => {
      // the mask broadcasts into [...batch of q/k/v, Tq, Tk] (it may not enlarge it): [Tq,Tk], [1,Tk], [B,1,Tq,Tk],
      // and now and then [Tq,1] (a whole query row on or off)
      const qkv = naiveBroadcastShape(naiveBroadcastShape(c.qb, c.kb)!, c.vb)!;
      const cols = fc.oneof({ weight: 4, arbitrary: fc.constant(c.Tk) }, { weight: 1, arbitrary: fc.constant(1) });
      const mask = fc.tuple(subShapeArb(qkv), fc.constantFrom(c.Tq, 1), cols).map(([mb, rows, k]) => [...mb, rows, k]);
      return fc.option(mask, { nil: null }).map((m) => ({ ...c, mask: m }));
    });
}

/** Tensors for a case; q/k/v batch shapes broadcast to a shape that is `batch` or a suffix of it. */
function build(c: Case, requiresGrad = false): { q: Tensor; k: Tensor; v: Tensor; opts: AttentionOptions } {
  const g = new Generator(c.seed);
  const q = randTensor([...c.qb, c.Tq, c.d], g, c.dtype, requiresGrad);
  const k = randTensor([...c.kb, c.Tk, c.d], g, c.dtype, requiresGrad);
  const v = randTensor([...c.vb, c.Tk, c.dv], g, c.dtype, requiresGrad);
  const opts: AttentionOptions = { causal: c.causal };
  if (c.window !== undefined) opts.window = c.window;
  if (c.scale !== undefined) opts.scale = c.scale;
  if (c.mask !== null) opts.mask = randMask(c.mask, g);
  return { q, k, v, opts };
}

const describe = (c: Case, opts: AttentionOptions): string =>
  `q=${fmtShape([...c.qb, c.Tq, c.d])} k=${fmtShape([...c.kb, c.Tk, c.d])} v=${fmtShape([...c.vb, c.Tk, c.dv])} causal=${c.causal} window=${c.window} mask=${opts.mask ? fmtShape(opts.mask.shape) : 'none'} scale=${c.scale} ${c.dtype}`;

test('attention equals the naive softmax(q kᵀ·scale + mask) v: random Tq/Tk, causal, window, broadcast masks and batches, scale', () => {
  fc.assert(
    fc.property(caseArb(7, 3), (c) => {
      const { q, k, v, opts } = build(c);
      checkAgainstNaive(q, k, v, opts, describe(c, opts));
    }),
    fcParams(300),
  );
});

test('sequence lengths across the 32-row block (33, 40, 70; Tq < Tk) with causal, window, masks: forward equals the naive one', () => {
  const g = new Generator(7);
  for (const dtype of ['float32', 'float64'] as const) {
    for (const [Tq, Tk] of [[33, 33], [70, 70], [33, 40], [40, 70], [70, 33]] as const) {
      const q = randTensor([2, Tq, 3], g, dtype);
      const k = randTensor([2, Tk, 3], g, dtype);
      const v = randTensor([2, Tk, 2], g, dtype);
      const variants: AttentionOptions[] = [
        {},
        { window: 5 },
        { window: 40 },
        { mask: randMask([Tq, Tk], g, 0.5) },
        { mask: randMask([2, 1, Tk], g, 0.8), window: 9 },
      ];
      if (Tq <= Tk) variants.push({ causal: true }, { causal: true, window: 1 }, { causal: true, window: 33 }, { causal: true, mask: randMask([1, Tk], g, 0.7) });
      for (const opts of variants) checkAgainstNaive(q, k, v, opts, `Tq=${Tq} Tk=${Tk} ${dtype} ${JSON.stringify({ ...opts, mask: opts.mask?.shape })}`);
    }
  }
});

test('GQA broadcasting: q [B,G,H,T,d] with k/v [B,G,1,T,d] equals attention with k/v expanded, gradients summed over H', () => {
  const g = new Generator(11);
  const [B, G, H, T, d] = [2, 2, 3, 35, 4];
  const q = randTensor([B, G, H, T, d], g, 'float64', true);
  const k = randTensor([B, G, 1, T, d], g, 'float64', true);
  const v = randTensor([B, G, 1, T, d], g, 'float64', true);
  const w = randTensor([B, G, H, T, d], g);
  for (const opts of [{ causal: true }, { causal: true, window: 4 }, { mask: randMask([B, 1, 1, T], g) }] as AttentionOptions[]) {
    const label = JSON.stringify({ ...opts, mask: opts.mask?.shape });
    const out = checkAgainstNaive(q, k, v, opts, `GQA ${label}`);
    out.mul(w).sum().backward();
    const grads = [q.grad!, k.grad!, v.grad!];
    for (const t of [q, k, v]) t.grad = null;
    const ke = expand(k, [B, G, H, T, d]);
    const ve = expand(v, [B, G, H, T, d]);
    const ref = attention(q, ke, ve, opts);
    assertClose(out.data, ref.data, { rtol: 0, atol: 0 }, `GQA ${label}: forward vs expanded`);
    ref.mul(w).sum().backward();
    [q, k, v].forEach((t, i) => assertClose(grads[i]!.data, t.grad!.data, { rtol: 1e-12, atol: 1e-12 }, `GQA ${label}: grad ${'qkv'[i]}`));
    for (const t of [q, k, v]) t.grad = null;
  }
});

test('rows that see no key output 0 and get 0 gradient (not NaN); keys nobody sees get 0 gradient', () => {
  const g = new Generator(3);
  const cases: Array<{ label: string; q: number[]; k: number[]; opts: (T: number[]) => AttentionOptions; blind: (b: number, i: number) => boolean }> = [
    {
      label: 'mask row of zeros (row 1 of 4, and row 37 of 40)',
      q: [40, 3],
      k: [40, 3],
      opts: ([Tq, Tk]) => {
        const m = randMask([Tq!, Tk!], g, 1);
        for (const row of [1, 37]) m.data.fill(0, row * Tk!, (row + 1) * Tk!);
        return { mask: m, causal: true };
      },
      blind: (_b, i) => i === 1 || i === 37,
    },
    {
      label: 'non-causal window with Tq > Tk: early queries are out of reach of every key',
      q: [40, 2],
      k: [3, 2],
      opts: () => ({ window: 2 }),
      blind: (_b, i) => i + 3 - 40 <= -2, // |p − j| ≥ 2 for every j ≥ 0
    },
    {
      label: 'padding mask [B,1,1,Tk] all zero for batch 1',
      q: [2, 2, 34, 2],
      k: [2, 1, 34, 2],
      opts: () => {
        const m = randMask([2, 1, 1, 34], g, 1);
        m.data.fill(0, 34);
        return { mask: m };
      },
      blind: (b) => b >= 2, // batch index 1 of B, both heads
    },
  ];
  for (const c of cases) {
    const Tq = c.q[c.q.length - 2]!;
    const Tk = c.k[c.k.length - 2]!;
    const q = randTensor(c.q, g, 'float64', true);
    const k = randTensor(c.k, g, 'float64', true);
    const v = randTensor(c.k, g, 'float64', true);
    const opts = c.opts([Tq, Tk]);
    const out = checkAgainstNaive(q, k, v, opts, c.label);
    out.mul(randTensor(out.shape, g)).sum().backward();
    for (const t of [out, q.grad!, k.grad!, v.grad!]) assert.ok(t.data.every(Number.isFinite), `${c.label}: finite`);
    const d = q.shape[q.ndim - 1]!;
    const nb = q.size / (Tq * d);
    let blindRows = 0;
    for (let b = 0; b < nb; b++) {
      for (let i = 0; i < Tq; i++) {
        if (!c.blind(b, i)) continue;
        blindRows++;
        const row = (b * Tq + i) * d;
        assert.ok(out.data.subarray(row, row + d).every((x) => x === 0), `${c.label}: output row ${b}/${i} is 0`);
        assert.ok(q.grad!.data.subarray(row, row + d).every((x) => x === 0), `${c.label}: dq row ${b}/${i} is 0`);
      }
    }
    assert.ok(blindRows > 0, `${c.label}: the case has blind rows`);
  }
  // keys past every query's window get no gradient
  const q = randTensor([4, 2], g, 'float64', true);
  const k = randTensor([9, 2], g, 'float64', true);
  const v = randTensor([9, 2], g, 'float64', true);
  attention(q, k, v, { causal: true, window: 2 }).sum().backward(); // queries at 5..8 see keys 4..8
  assert.ok(k.grad!.data.subarray(0, 8).every((x) => x === 0) && v.grad!.data.subarray(0, 8).every((x) => x === 0), 'unseen keys 0..3');
  assert.ok(v.grad!.data.subarray(8).some((x) => x !== 0), 'seen keys get gradient');
});

test('causality (property): with shift = Tk − Tq, perturbing k and v at positions > t + shift leaves output rows ≤ t bit-identical', () => {
  fc.assert(
    fc.property(
      fc
        .tuple(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 0, max: 6 }))
        .chain(([Tq, extra]) =>
          fc.record({
            Tq: fc.constant(Tq),
            Tk: fc.constant(Tq + extra),
            t: fc.integer({ min: 0, max: Tq - 1 }),
            d: fc.integer({ min: 1, max: 3 }),
            batch: fc.array(fc.integer({ min: 1, max: 2 }), { maxLength: 2 }),
            window: fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }),
            dtype: dtypeArb,
            seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          }),
        ),
      ({ Tq, Tk, t, d, batch, window, dtype, seed }) => {
        const g = new Generator(seed);
        const q = randTensor([...batch, Tq, d], g, dtype);
        const k = randTensor([...batch, Tk, d], g, dtype);
        const v = randTensor([...batch, Tk, d], g, dtype);
        const opts: AttentionOptions = window === undefined ? { causal: true } : { causal: true, window };
        const before = attention(q, k, v, opts);
        const cut = t + Tk - Tq; // last key position row t may see
        const k2 = new Tensor(k.data.slice(), k.shape);
        const v2 = new Tensor(v.data.slice(), v.shape);
        for (let b = 0; b < sizeOfShape(batch); b++) {
          for (let j = cut + 1; j < Tk; j++) {
            for (let c = 0; c < d; c++) {
              k2.data[(b * Tk + j) * d + c] = 100 * g.normal();
              v2.data[(b * Tk + j) * d + c] = 100 * g.normal();
            }
          }
        }
        const after = attention(q, k2, v2, opts);
        for (let b = 0; b < sizeOfShape(batch); b++) {
          const lo = b * Tq * d;
          const hi = lo + (t + 1) * d;
          for (let i = lo; i < hi; i++) {
            assert.ok(after.data[i] === before.data[i], `batch ${b} element ${i - lo} (rows ≤ ${t}) changed: ${before.data[i]} → ${after.data[i]}`);
          }
        }
      },
    ),
    fcParams(60),
  );
});

test('gradcheck (property): q, k, v under random causal/window/mask/broadcast cases (float64, small)', () => {
  fc.assert(
    fc.property(caseArb(5, 2, fc.constant<DType>('float64')), (c) => {
      const { q, k, v, opts } = build(c, true);
      assert.ok(gradcheck((a, b, e) => attention(a!, b!, e!, opts), [q, k, v], { eps: 1e-6, atol: 1e-6, rtol: 1e-4 }), describe(c, opts));
    }),
    fcParams(40),
  );
});

test('gradcheck: q, k, v across the 32-row block (T ≤ 40, d ≤ 4) for causal, window, mask and GQA broadcast', () => {
  const g = new Generator(5);
  const cases: Array<{ label: string; q: number[]; k: number[]; dv: number; opts: AttentionOptions }> = [
    { label: 'causal Tq=33 Tk=40', q: [33, 2], k: [40, 2], dv: 1, opts: { causal: true } },
    { label: 'causal window=6 T=34', q: [34, 2], k: [34, 2], dv: 2, opts: { causal: true, window: 6 } },
    { label: 'non-causal window=3 T=33', q: [33, 1], k: [33, 1], dv: 2, opts: { window: 3 } },
    { label: 'mask [33,33] and scale 0.7', q: [33, 2], k: [33, 2], dv: 1, opts: { mask: randMask([33, 33], g, 0.6), scale: 0.7 } },
    { label: 'GQA q [2,2,33,1], k/v [1,1,33,1], causal', q: [2, 2, 33, 1], k: [1, 1, 33, 1], dv: 1, opts: { causal: true } },
  ];
  for (const c of cases) {
    const q = randTensor(c.q, g, 'float64', true);
    const k = randTensor(c.k, g, 'float64', true);
    const v = randTensor([...c.k.slice(0, -1), c.dv], g, 'float64', true);
    assert.ok(gradcheck((a, b, e) => attention(a!, b!, e!, c.opts), [q, k, v], { eps: 1e-6, atol: 1e-6, rtol: 1e-4 }), c.label);
  }
});

test('backward at T = 70 (three row blocks): directional derivatives of Σ w ⊙ O match central differences', () => {
  const g = new Generator(9);
  const T = 70;
  for (const opts of [{ causal: true }, { causal: true, window: 20 }, { mask: randMask([2, 1, T], g, 0.7) }] as AttentionOptions[]) {
    const q = randTensor([2, T, 3], g, 'float64', true);
    const k = randTensor([2, T, 3], g, 'float64', true);
    const v = randTensor([2, T, 2], g, 'float64', true);
    const w = randTensor([2, T, 2], g);
    attention(q, k, v, opts).mul(w).sum().backward();
    const loss = (): number => (attention(q.detach(), k.detach(), v.detach(), opts).mul(w).sum().item());
    for (const [t, name] of [[q, 'q'], [k, 'k'], [v, 'v']] as const) {
      const u = randTensor(t.shape, g).data;
      const analytic = Array.from(t.grad!.data).reduce((acc, x, i) => acc + x * u[i]!, 0);
      const h = 1e-6;
      const orig = t.data.slice();
      t.data.forEach((x, i) => (t.data[i] = orig[i]! + h * u[i]!));
      const plus = loss();
      t.data.forEach((x, i) => (t.data[i] = orig[i]! - h * u[i]!));
      const minus = loss();
      t.data.set(orig);
      const numeric = (plus - minus) / (2 * h);
      // central differences: O(h²) truncation plus ~1e-16·|L|/h roundoff; both far below 1e-6 here
      assert.ok(Math.abs(analytic - numeric) <= 1e-6 * (1 + Math.abs(numeric)), `${JSON.stringify({ ...opts, mask: opts.mask?.shape })} d${name}: ${analytic} vs ${numeric}`);
    }
  }
});

test('errors: causal Tq > Tk, head dims, k/v lengths, batch or mask not broadcastable → ShapeError; bad window → ValueError; dtypes → DTypeError', () => {
  const g = new Generator(1);
  const q = randTensor([2, 4, 3], g);
  const k = randTensor([2, 5, 3], g);
  const v = randTensor([2, 5, 2], g);
  const shapeErrors: Array<[string, () => unknown]> = [
    ['causal Tq > Tk', () => attention(randTensor([6, 3], g), randTensor([5, 3], g), randTensor([5, 2], g), { causal: true })],
    ['head dim q 3 vs k 2', () => attention(q, randTensor([2, 5, 2], g), v)],
    ['k and v lengths 5 vs 4', () => attention(q, k, randTensor([2, 4, 2], g))],
    ['batch 2 vs 3', () => attention(q, randTensor([3, 5, 3], g), randTensor([3, 5, 2], g))],
    ['mask [5,5] vs scores [2,4,5]', () => attention(q, k, v, { mask: randMask([5, 5], g) })],
    ['mask [3,1,5] vs scores [2,4,5]', () => attention(q, k, v, { mask: randMask([3, 1, 5], g) })],
    ['mask [2,2,4,5] enlarges scores [2,4,5]', () => attention(q, k, v, { mask: randMask([2, 2, 4, 5], g) })],
    ['q of rank 1', () => attention(randTensor([3], g), k, v)],
  ];
  for (const [label, call] of shapeErrors) assert.instance(thrown(call, label), ShapeError, label);
  for (const window of [0, 0.5, -1, NaN, 2.5]) {
    assert.instance(thrown(() => attention(q, k, v, { window }), `window ${window}`), ValueError, `window ${window}`);
  }
  assert.instance(thrown(() => attention(q, k.cast('float32'), v), 'k float32'), DTypeError);
  assert.instance(thrown(() => attention(q, k, v.cast('float32')), 'v float32'), DTypeError);
  assert.instance(thrown(() => attention(q.cast('float32'), k, v), 'q float32'), DTypeError);
});

test.run();
