/**
 * nn/path-attention.ts: the three PaTH implementations agree (direct product == blockwise UT/WY for every chunk size
 * == recurrent decoding), they match a float64 port of fla's naive_path_attn on fixed inputs, β = 0 is plain causal
 * attention, β = 2 with a fixed unit w is a reflection, the UT identity and its orientation, the forget gate's
 * placement before the scale, gradcheck through the blockwise path, the layer's cached decoding, and the errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  DTypeError, Generator, ShapeError, Tensor, ValueError, eye, gradcheck, matmul, noGrad, randn, unitLowerInverse, zeros,
} from '../../core/index.js';
import {
  KVCache, PaTHAttention, PaTHCache, ShortConvolution, pathAttention, pathAttentionDirect, pathAttentionRecurrent, scaledDotProductAttention,
  type PaTHAttentionOptions, type PaTHOptions,
} from '../../nn/index.js';
import { assertClose, assertShape } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';

interface Inputs {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  w: Tensor;
  beta: Tensor;
  gate: Tensor;
}

/** Rows of the last axis scaled to unit length (in place). */
function unitRows(t: Tensor): Tensor {
  const d = t.shape[t.ndim - 1]!;
  for (let r = 0; r < t.size; r += d) {
    let s = 0;
    for (let c = 0; c < d; c++) s += t.data[r + c]! ** 2;
    for (let c = 0; c < d; c++) t.data[r + c] /= Math.sqrt(s);
  }
  return t;
}

/** Random float64 inputs: q [B, HQ, T, d], k, w (unit rows) [B, H, T, d], v [B, H, T, dv], β = 2σ(N(0,1)), g = logσ(N(0,1) + 1). */
function randomInputs(seed: number, B: number, HQ: number, H: number, T: number, d: number, dv = d): Inputs {
  const generator = new Generator(seed);
  const r = (shape: number[]): Tensor => randn(shape, { dtype: 'float64', generator });
  return {
    q: r([B, HQ, T, d]),
    k: r([B, H, T, d]),
    v: r([B, H, T, dv]),
    w: unitRows(r([B, H, T, d])),
    beta: r([B, H, T]).sigmoid().mul(2),
    gate: r([B, HQ, T]).add(1).neg().softplus().neg(),
  };
}

const run = (f: typeof pathAttention, x: Inputs, options: PaTHOptions = {}): Tensor => noGrad(() => f(x.q, x.k, x.v, x.w, x.beta, options));

/** The explicit d×d matrix H = I − β w wᵀ (row-major). */
function householder(w: ArrayLike<number>, beta: number): number[] {
  const d = w.length;
  return Array.from({ length: d * d }, (_, e) => (Math.floor(e / d) === e % d ? 1 : 0) - beta * w[Math.floor(e / d)]! * w[e % d]!);
}

function matmulSquare(x: ArrayLike<number>, y: ArrayLike<number>, d: number): number[] {
  const out = new Array<number>(d * d).fill(0);
  for (let i = 0; i < d; i++) for (let k = 0; k < d; k++) for (let j = 0; j < d; j++) out[i * d + j] += x[i * d + k]! * y[k * d + j]!;
  return out;
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

// ── agreement of the three forms ──

test('direct == blockwise (every chunk size dividing T, and non-divisors) == recurrent to 1e-10, with and without a gate', () => {
  const caseArb = fc.record({
    T: fc.integer({ min: 1, max: 16 }),
    d: fc.integer({ min: 1, max: 4 }),
    dv: fc.integer({ min: 1, max: 3 }),
    H: fc.integer({ min: 1, max: 2 }),
    groups: fc.integer({ min: 1, max: 2 }),
    B: fc.integer({ min: 1, max: 2 }),
    gated: fc.boolean(),
    seed: fc.integer({ min: 0, max: 1e6 }),
  });
  fc.assert(
    fc.property(caseArb, ({ T, d, dv, H, groups, B, gated, seed }) => {
      const x = randomInputs(seed, B, H * groups, H, T, d, dv);
      const options: PaTHOptions = gated ? { forgetGate: x.gate } : {};
      const direct = run(pathAttentionDirect, x, options);
      assertShape(direct.shape, [B, H * groups, T, dv]);
      const sizes = [...Array.from({ length: T }, (_, i) => i + 1).filter((c) => T % c === 0), 3, T + 5];
      for (const chunkSize of sizes) {
        assertClose(run(pathAttention, x, { ...options, chunkSize }).data, direct.data, { atol: 1e-10, rtol: 0 }, `blockwise BT=${chunkSize} T=${T}`);
      }
      assertClose(run(pathAttentionRecurrent, x, options).data, direct.data, { atol: 1e-10, rtol: 0 }, `recurrent T=${T}`);
    }),
    fcParams(40),
  );
});

test('matches a float64 numpy port of fla naive_path_attn (T = 7 padded to BT = 4, 2 query heads on 1 kv head)', () => {
  // inputs by formula (t = token, c = channel, h = head); expected outputs from that port, printed to 15 decimals
  const T = 7;
  const D = 4;
  const grid = (heads: number, f: (t: number, c: number, h: number) => number): Tensor =>
    new Tensor(Float64Array.from({ length: heads * T * D }, (_, e) => f(Math.floor(e / D) % T, e % D, Math.floor(e / (T * D)))), [1, heads, T, D]);
  const perToken = (heads: number, f: (t: number, h: number) => number): Tensor =>
    new Tensor(Float64Array.from({ length: heads * T }, (_, e) => f(e % T, Math.floor(e / T))), [1, heads, T]);
  const q = grid(2, (t, c, h) => Math.sin(1 + 0.7 * t + 1.3 * c + 0.5 * h));
  const k = grid(1, (t, c, h) => Math.cos(0.5 + 0.3 * t - 0.9 * c + 0.2 * h));
  const v = grid(1, (t, c, h) => Math.sin(0.2 + 1.1 * t - 0.4 * c * c + h));
  const w = unitRows(grid(1, (t, c, h) => Math.sin(2 + 0.37 * t * t + 0.61 * c + h)));
  const beta = perToken(1, (t, h) => 2 / (1 + Math.exp(-Math.sin(3 * t + 1 + h))));
  const gate = perToken(2, (t, h) => -Math.log1p(Math.exp(-(Math.cos(t + h) + 1))));
  const plain = [
    0.198669330795061, -0.198669330795061, -0.98544972998846, 0.255541102026832, 0.605453500858219, 0.323577167178513, -0.618530527475907,
    -0.276942994833616, 0.604454679429276, 0.430748051143548, -0.341049691321287, -0.398877704288634, 0.402437164858055, 0.355333922435476,
    -0.051114074503629, -0.34346250692481, 0.068311115618783, 0.152081412976659, 0.22687153265104, -0.162579736360569, -0.159988051251216,
    -0.156622588737601, -0.019107184947063, 0.153997707432542, 0.140725721025481, 0.024108045367061, -0.274933394231259, -0.006300575070931,
    0.198669330795061, -0.198669330795061, -0.98544972998846, 0.255541102026832, 0.587195685507789, 0.30013702169318, -0.63499907158607,
    -0.253043352141007, 0.592385662647898, 0.431302237877133, -0.310741037318206, -0.40131661733523, 0.374408016689742, 0.360075192475023,
    0.0281413345577, -0.353051902259586, 0.014184897433372, 0.125756135067081, 0.288845239103004, -0.140778241401376, -0.171463672292007,
    -0.15937034647819, 0.001305672838713, 0.15539995115234, 0.076201319942058, -0.001443440797959, -0.186086339636384, 0.013062915350349,
  ];
  const gated = [
    0.198669330795061, -0.198669330795061, -0.98544972998846, 0.255541102026832, 0.623872807646214, 0.347224642112548, -0.601916318136257,
    -0.301054031254423, 0.622508929622451, 0.478381790427771, -0.261992907882978, -0.450300556933105, 0.319778836873346, 0.350953450527899,
    0.135477517315067, -0.350875256683253, -0.141581200382448, -0.001359370799224, 0.335373060890484, -0.019678405191879, -0.359707732954565,
    -0.364986396738788, -0.075931454167545, 0.36083639628502, 0.056357125766404, -0.09063047202349, -0.367519595005353, 0.111437061082541,
    0.198669330795061, -0.198669330795061, -0.98544972998846, 0.255541102026832, 0.629317087908995, 0.354214236375232, -0.597005578930343,
    -0.308180642543973, 0.630557331252925, 0.527079563719878, -0.156256789839801, -0.504432423317683, 0.287719603298667, 0.374618564098899,
    0.272953018029598, -0.382573113475897, -0.153168590706607, 0.017813733965624, 0.41232072062351, -0.043202964282503, -0.329540123316079,
    -0.3054438034279, 0.004701145290346, 0.297696570181331, -0.023211581669868, -0.101694777459941, -0.205479056991308, 0.11208270659776,
  ];
  const tol = { atol: 1e-12, rtol: 0 };
  for (const f of [pathAttention, pathAttentionDirect, pathAttentionRecurrent]) {
    assertClose(noGrad(() => f(q, k, v, w, beta, { chunkSize: 4 })).data, plain, tol, `${f.name} without gate`);
    assertClose(noGrad(() => f(q, k, v, w, beta, { chunkSize: 4, forgetGate: gate })).data, gated, tol, `${f.name} with gate`);
  }
});

test("a worked case (T = 8, d = 4, BT = 4, β = 2σ(N(0,1))): the forms agree to ~1e−15; reversing the order of H breaks it", () => {
  const x = randomInputs(11, 1, 1, 1, 8, 4);
  const direct = run(pathAttentionDirect, x);
  assert.ok(maxAbsDiff(run(pathAttention, x, { chunkSize: 4 }).data, direct.data) < 1e-14, 'direct vs chunked');
  assert.ok(maxAbsDiff(run(pathAttentionRecurrent, x).data, direct.data) < 1e-14, 'recurrent vs direct');
  // orientation: the first chunk's product H3H2H1H0 (what the scores use) is far from H0H1H2H3
  const W = Array.from({ length: 4 }, (_, t) => Array.from(x.w.data.subarray(t * 4, t * 4 + 4)));
  const [h0, h1, h2, h3] = W.map((w, t) => householder(w, x.beta.data[t]!));
  const ordered = matmulSquare(matmulSquare(matmulSquare(h3!, h2!, 4), h1!, 4), h0!, 4);
  const reversed = matmulSquare(matmulSquare(matmulSquare(h0!, h1!, 4), h2!, 4), h3!, 4);
  assert.ok(maxAbsDiff(ordered, reversed) > 1e-2, 'H3H2H1H0 and H0H1H2H3 differ');
});

// ── special cases ──

test('β = 0 everywhere is plain causal softmax attention (NoPE), for any w', () => {
  for (const [seed, T, chunkSize] of [[1, 9, 4], [2, 16, 8], [3, 5, 64]] as const) {
    const x = randomInputs(seed, 2, 2, 2, T, 4);
    const zero = { ...x, beta: zeros([2, 2, T], { dtype: 'float64' }) };
    const plain = scaledDotProductAttention(x.q, x.k, x.v, { causal: true });
    assertClose(run(pathAttention, zero, { chunkSize }).data, plain.data, { atol: 1e-12, rtol: 0 }, `T=${T}`);
    assertClose(run(pathAttentionRecurrent, zero).data, plain.data, { atol: 1e-12, rtol: 0 }, `recurrent T=${T}`);
  }
});

test('β = 2 with a fixed unit w: H is an orthogonal reflection (HᵀH = I, H² = I), and attention sees k_j reflected (i − j) mod 2 times', () => {
  const g = new Generator(4);
  const d = 4;
  const u = unitRows(randn([d], { dtype: 'float64', generator: g }));
  const H = householder(u.data, 2);
  const Ht = Array.from({ length: d * d }, (_, e) => H[(e % d) * d + Math.floor(e / d)]!);
  const I = Array.from(eye(d, d, { dtype: 'float64' }).data);
  assertClose(matmulSquare(Ht, H, d), I, { atol: 1e-15, rtol: 0 }, 'HᵀH');
  assertClose(matmulSquare(H, H, d), I, { atol: 1e-15, rtol: 0 }, 'H²');
  // for β ∈ (0, 2) the transform never stretches: ‖H x‖ ≤ ‖x‖ (and β = 2 preserves the norm)
  for (const beta of [0.3, 1, 1.7, 2]) {
    const x = Array.from(randn([d], { dtype: 'float64', generator: g }).data);
    const hx = Array.from({ length: d }, (_, i) => x.reduce((s, xj, j) => s + householder(u.data, beta)[i * d + j]! * xj, 0));
    const [nx, nhx] = [Math.hypot(...x), Math.hypot(...hx)];
    assert.ok(beta === 2 ? Math.abs(nhx - nx) < 1e-14 : nhx <= nx + 1e-15, `‖Hx‖ ≤ ‖x‖ at β=${beta}`);
  }
  // attention: q_iᵀ H^{i−j} k_j with H² = I, by the definition per (i, j)
  const T = 7;
  const x = randomInputs(5, 1, 1, 1, T, d, 2);
  const w = new Tensor(Float64Array.from({ length: T * d }, (_, e) => u.data[e % d]!), [1, 1, T, d]);
  const beta = new Tensor(new Float64Array(T).fill(2), [1, 1, T]);
  const expected: number[] = [];
  for (let i = 0; i < T; i++) {
    const logits = Array.from({ length: i + 1 }, (_, j) => {
      const k = Array.from(x.k.data.subarray(j * d, j * d + d));
      const kk = (i - j) % 2 === 0 ? k : k.map((_, r) => k.reduce((s, kc, c) => s + H[r * d + c]! * kc, 0));
      return kk.reduce((s, kc, c) => s + x.q.data[i * d + c]! * kc, 0) / Math.sqrt(d);
    });
    const m = Math.max(...logits);
    const p = logits.map((l) => Math.exp(l - m));
    const z = p.reduce((a, b) => a + b, 0);
    for (let c = 0; c < 2; c++) expected.push(p.reduce((s, pj, j) => s + (pj / z) * x.v.data[j * 2 + c]!, 0));
  }
  for (const chunkSize of [1, 3, 7]) {
    assertClose(noGrad(() => pathAttention(x.q, x.k, x.v, w, beta, { chunkSize })).data, expected, { atol: 1e-12, rtol: 0 }, `BT=${chunkSize}`);
  }
});

test('UT identity: H_b⋯H_a = I − Wᵀ T B W with T = (I + strictLower(B W Wᵀ))⁻¹; the other order H_a⋯H_b differs', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 8 }), fc.integer({ min: 2, max: 5 }), fc.integer({ min: 0, max: 1e6 }), fc.boolean(), (n, d, seed, unit) => {
      const g = new Generator(seed);
      const W = randn([n, d], { dtype: 'float64', generator: g });
      if (unit) unitRows(W);
      const beta = randn([n, 1], { dtype: 'float64', generator: g }).sigmoid().mul(2);
      const BW = W.mul(beta);
      const T = unitLowerInverse(matmul(BW, W, { transposeB: true }));
      const ut = eye(d, d, { dtype: 'float64' }).sub(matmul(matmul(W, T, { transposeA: true }), BW)).data;
      const Hs = Array.from({ length: n }, (_, t) => householder(W.data.subarray(t * d, t * d + d), beta.data[t]!));
      let later = Array.from(eye(d, d, { dtype: 'float64' }).data); // H_b ⋯ H_a: newest on the left
      let earlier = later.slice(); // H_a ⋯ H_b
      for (const H of Hs) {
        later = matmulSquare(H, later, d);
        earlier = matmulSquare(earlier, H, d);
      }
      assertClose(ut, later, { atol: 1e-12, rtol: 1e-12 }, `UT form n=${n} d=${d}`);
      if (maxAbsDiff(later, earlier) > 1e-6) assert.ok(maxAbsDiff(ut, earlier) > 1e-7, 'UT form is not the reversed product');
    }),
    fcParams(60),
  );
});

test('forget gate as fla: G = cumsum(g) is added before the scale, s_ij = scale·(q_iᵀ⋯k_j + G_i − G_j)', () => {
  const T = 6;
  const x = randomInputs(6, 1, 1, 1, T, 3);
  const zeroQ = { ...x, q: zeros([1, 1, T, 3], { dtype: 'float64' }) }; // logits reduce to scale·(G_i − G_j)
  const scale = 0.37;
  const G: number[] = [];
  for (let t = 0, acc = 0; t < T; t++) G.push((acc += x.gate.data[t]!));
  const expected: number[] = [];
  for (let i = 0; i < T; i++) {
    const p = Array.from({ length: i + 1 }, (_, j) => Math.exp(scale * (G[i]! - G[j]!)));
    const z = p.reduce((a, b) => a + b, 0);
    for (let c = 0; c < 3; c++) expected.push(p.reduce((s, pj, j) => s + (pj / z) * x.v.data[j * 3 + c]!, 0));
  }
  for (const f of [pathAttention, pathAttentionDirect, pathAttentionRecurrent]) {
    assertClose(run(f, zeroQ, { scale, forgetGate: x.gate, chunkSize: 4 }).data, expected, { atol: 1e-13, rtol: 0 }, f.name);
  }
  const noGate = run(pathAttention, x);
  assertClose(run(pathAttention, x, { forgetGate: zeros([1, 1, T], { dtype: 'float64' }) }).data, noGate.data, { atol: 1e-15, rtol: 0 }, 'g = 0');
});

// ── gradients ──

test('gradcheck through the blockwise path w.r.t. q, k, v, w, β and the gate (GQA, padding, several chunks)', () => {
  for (const [T, chunkSize, gated] of [[5, 2, true], [6, 3, false], [4, 4, true]] as const) {
    const x = randomInputs(7 + T, 1, 2, 1, T, 3, 2);
    const leaves = [x.q, x.k, x.v, x.w, x.beta, ...(gated ? [x.gate] : [])].map((t) => new Tensor(t.data, t.shape, true));
    const fn = (...a: Tensor[]): Tensor => pathAttention(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, { chunkSize, forgetGate: gated ? a[5]! : null });
    assert.ok(gradcheck(fn, leaves, { atol: 1e-6, rtol: 1e-4 }), `T=${T} BT=${chunkSize}`);
  }
});

test('float32 blockwise stays close to the float64 direct form, and T = 0 gives an empty output', () => {
  const x = randomInputs(8, 1, 2, 2, 40, 8);
  const f32 = noGrad(() => pathAttention(x.q.cast('float32'), x.k.cast('float32'), x.v.cast('float32'), x.w.cast('float32'), x.beta.cast('float32'), { chunkSize: 16 }));
  assert.is(f32.dtype, 'float32');
  assertClose(f32.data, run(pathAttentionDirect, x).data, { atol: 1e-4, rtol: 0 }, 'float32');
  const e = randomInputs(9, 1, 1, 1, 0, 2);
  assertShape(run(pathAttention, e).shape, [1, 1, 0, 2]);
  assertShape(run(pathAttentionDirect, e).shape, [1, 1, 0, 2]);
});

test('bad inputs are refused with the argument named', () => {
  const x = randomInputs(10, 1, 2, 1, 4, 3);
  const throwsWith = (f: () => unknown, type: new (...a: never[]) => Error, arg: string, re: RegExp): void =>
    assert.throws(f, (e: unknown) => e instanceof type && (e as { arg?: string }).arg === arg && re.test((e as Error).message));
  throwsWith(() => pathAttention(x.q, x.k, x.v, x.w, x.beta, { chunkSize: 0 }), ValueError, 'chunkSize', /chunkSize must be an integer ≥ 1/);
  throwsWith(() => pathAttention(x.q, x.k, x.v, x.w.narrow(2, 0, 3), x.beta), ShapeError, 'w', /w=\[1, ?1, ?3, ?3\] does not match/);
  throwsWith(() => pathAttention(x.q, x.k, x.v, x.w, x.beta.narrow(2, 0, 2)), ShapeError, 'beta', /one β per key token/);
  throwsWith(() => pathAttention(x.q.narrow(1, 0, 1), x.k.expand([1, 3, 4, 3]), x.v.expand([1, 3, 4, 3]), x.w.expand([1, 3, 4, 3]), x.beta.expand([1, 3, 4])), ShapeError, 'k', /multiple of key heads/);
  throwsWith(() => pathAttention(x.q, x.k, x.v, x.w, x.beta, { forgetGate: x.gate.narrow(1, 0, 1) }), ShapeError, 'forgetGate', /forgetGate=/);
  throwsWith(() => pathAttention(x.q, x.k.cast('float32'), x.v, x.w, x.beta), DTypeError, 'k', /dtypes differ/);
  throwsWith(() => pathAttentionDirect(x.q.reshape([2, 4, 3]), x.k, x.v, x.w, x.beta), ShapeError, 'q', /must be \[B, heads, T, dim\]/);
  throwsWith(() => pathAttention(x.q, x.k, x.v, x.w, x.beta, { scale: NaN }), ValueError, 'scale', /^pathAttention: scale must be a finite number/);
  const cache = new PaTHCache();
  cache.step(x.q, x.k, x.v, x.w, x.beta, { forgetGate: x.gate });
  throwsWith(() => cache.step(x.q, x.k, x.v, x.w, x.beta), ValueError, 'forgetGate', /forgetGate is missing/);
});

// ── the layer ──

const layer = (extra: Partial<PaTHAttentionOptions> = {}): PaTHAttention =>
  new PaTHAttention(16, { numHeads: 4, generator: new Generator(12), dtype: 'float64', chunkSize: 4, ...extra });

test('PaTHAttention: decoding with a PaTHCache (chunks 5, 1, 3, 1, 2) gives the full blockwise forward, in every configuration', () => {
  const configs: Array<Partial<PaTHAttentionOptions>> = [
    {},
    { numKVHeads: 2, useForgetGate: true, qkNorm: true },
    { numKVHeads: 1, lowRankW: false, shortConv: false, useForgetGate: true },
    { shortConv: 1, lowRankW: 4 },
    { shortConv: 4, chunkSize: 64 },
  ];
  for (const config of configs) {
    const attn = layer(config);
    const x = randn([2, 12, 16], { dtype: 'float64', generator: new Generator(13) });
    const full = noGrad(() => attn.forward(x));
    const cache = new PaTHCache();
    let t = 0;
    for (const n of [5, 1, 3, 1, 2]) {
      const step = noGrad(() => attn.forward(x.narrow(1, t, n), { cache }));
      for (let b = 0; b < 2; b++) {
        assertClose(step.data.subarray(b * n * 16, (b + 1) * n * 16), full.data.subarray((b * 12 + t) * 16, (b * 12 + t + n) * 16), { atol: 1e-12, rtol: 1e-10 }, `${JSON.stringify(config)} at ${t}`);
      }
      t += n;
    }
    assert.is(cache.position, 12);
    assert.is(cache.length, 12);
  }
});

test('PaTHAttention: w rows are unit length, β ∈ (0, 2), every parameter gets a gradient, names are stable', () => {
  const attn = layer({ numKVHeads: 2, useForgetGate: true, qkNorm: true });
  const names = attn.namedParameters().map(([n]) => n);
  assert.equal(names, [
    'wq.weight', 'wk.weight', 'wv.weight', 'wDown.weight', 'wUp.weight', 'wConv.weight', 'betaProj.weight', 'betaProj.bias',
    'gateProj.weight', 'gateProj.bias', 'qNorm.weight', 'kNorm.weight', 'wo.weight',
  ]);
  const x = randn([1, 6, 16], { dtype: 'float64', generator: new Generator(14) });
  attn.forward(x).square().sum().backward();
  for (const [name, p] of attn.namedParameters()) {
    assert.ok(p.grad !== null && p.grad.data.some((v) => v !== 0), `${name} has a non-zero gradient`);
  }
  assert.throws(() => attn.forward(x, { cache: new KVCache() as PaTHCache }), (e: unknown) => e instanceof DTypeError && /^PaTHAttention.forward: cache must be a PaTHCache/.test((e as Error).message));
  assert.throws(() => attn.forward(x.reshape([6, 16])), (e: unknown) => e instanceof ShapeError && (e as ShapeError).arg === 'x');
  assert.throws(() => layer({ numKVHeads: 3 }), (e: unknown) => e instanceof ValueError && /numKVHeads=3 must divide numHeads=4/.test((e as Error).message));
  assert.throws(() => layer({ lowRankW: 0 }), (e: unknown) => e instanceof ValueError && (e as ValueError).arg === 'lowRankW');
});

test('ShortConvolution is y_t = SiLU(Σ_κ W[:, κ] u_{t−K+1+κ}) with zeros before the start, and continues from its state', () => {
  const g = new Generator(17);
  const conv = new ShortConvolution(3, 3, { generator: g, dtype: 'float64' });
  const u = randn([2, 5, 3], { dtype: 'float64', generator: g });
  const { output } = conv.forward(u);
  const silu = (z: number): number => z / (1 + Math.exp(-z));
  const expected = Array.from({ length: u.size }, (_, e) => {
    const [b, t, c] = [Math.floor(e / 15), Math.floor(e / 3) % 5, e % 3];
    let acc = 0;
    for (let kappa = 0; kappa < 3; kappa++) {
      const s = t - 2 + kappa;
      if (s >= 0) acc += conv.weight.data[c * 3 + kappa]! * u.data[(b * 5 + s) * 3 + c]!;
    }
    return silu(acc);
  });
  assertClose(output.data, expected, { atol: 1e-15, rtol: 0 }, 'conv');
  const head = conv.forward(u.narrow(1, 0, 2));
  const tail = conv.forward(u.narrow(1, 2, 3), head.state);
  assertClose(tail.output.data, output.narrow(1, 2, 3).data, { atol: 0, rtol: 0 }, 'continued');
  assert.throws(() => new ShortConvolution(3, 0), (e: unknown) => e instanceof ValueError && (e as ValueError).arg === 'kernel');
  assert.throws(() => conv.forward(u, zeros([2, 1, 3], { dtype: 'float64' })), (e: unknown) => e instanceof ShapeError && (e as ShapeError).arg === 'state');
});

test('a PaTHCache resets, and refuses keys of another shape', () => {
  const x = randomInputs(15, 1, 2, 2, 3, 4);
  const cache = new PaTHCache();
  const first = cache.step(x.q, x.k, x.v, x.w, x.beta);
  cache.reset();
  assert.is(cache.length, 0);
  assertClose(cache.step(x.q, x.k, x.v, x.w, x.beta).data, first.data, { atol: 0, rtol: 0 }, 'after reset');
  const y = randomInputs(16, 1, 2, 2, 1, 3);
  assert.throws(() => cache.step(y.q, y.k, y.v, y.w, y.beta), (e: unknown) => e instanceof ShapeError && /^PaTHCache.step: .*continue cached keys/.test((e as Error).message));
});

test.run();
