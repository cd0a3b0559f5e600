import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { gemm } from '../../core/kernels/matmul.js';
import { SENTINEL, fillRandom, gemmBuffers, type GemmCase } from '../helpers/gemm-case.js';

const seed = Number(process.env['FC_SEED'] ?? 42);

/** Tolerances relative to Σ_p |op(A)[i,p]·op(B)[p,j]|, the scale of each element's rounding error. */
const F64_RTOL = 1e-12;
const F32_RTOL = 1e-5;

type ArrayCtor = Float32ArrayConstructor | Float64ArrayConstructor;

/** Naive reference: C[i,j] (+)= Σ_p op(A)[i,p]·op(B)[p,j] in float64, plus the error scale Σ_p |products|. */
function naive(t: GemmCase, a: ArrayLike<number>, b: ArrayLike<number>, c0: ArrayLike<number>): { c: Float64Array; scale: Float64Array } {
  const { M, N, K, transA, transB, aOff, bOff, cOff, accumulate } = t;
  const c = new Float64Array(M * N);
  const scale = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = accumulate ? c0[cOff + i * N + j]! : 0;
      let abs = Math.abs(s);
      for (let p = 0; p < K; p++) {
        const x = transA ? a[aOff + p * M + i]! : a[aOff + i * K + p]!;
        const y = transB ? b[bOff + j * K + p]! : b[bOff + p * N + j]!;
        s += x * y;
        abs += Math.abs(x * y);
      }
      c[i * N + j] = s;
      scale[i * N + j] = abs;
    }
  }
  return { c, scale };
}

/** Runs gemm on random buffers for one case and checks it against the naive loop and the sentinels. */
function check(t: GemmCase, Ctor: ArrayCtor, rtol: number): void {
  const { M, N, K, aOff, bOff, cOff } = t;
  const { a, b, c } = gemmBuffers(t, Ctor);
  const c0 = c.slice();
  const want = naive(t, a, b, c0);
  gemm(M, N, K, a, aOff, t.transA, b, bOff, t.transB, c, cOff, t.accumulate);
  const label = JSON.stringify({ ...t, dtype: Ctor.name });
  for (let i = 0; i < M * N; i++) {
    const got = c[cOff + i]!;
    const err = Math.abs(got - want.c[i]!);
    if (!(err <= rtol * want.scale[i]! + Number.MIN_VALUE)) {
      assert.unreachable(`${label}: C[${i}] = ${got}, expected ${want.c[i]} (|diff| ${err}, scale ${want.scale[i]})`);
    }
  }
  for (let i = 0; i < c.length; i++) {
    if (i === cOff) i += M * N;
    if (i < c.length && c[i] !== SENTINEL) assert.unreachable(`${label}: wrote outside C at ${i}`);
  }
}

const dim = fc.integer({ min: 0, max: 40 });
/** Mostly small dims; sometimes one dim up to 600 to cross the MC = 96 and KC = 512 block edges. */
const caseArb: fc.Arbitrary<GemmCase> = fc
  .record({
    M: dim,
    N: dim,
    K: dim,
    big: fc.option(fc.tuple(fc.constantFrom('M', 'N', 'K'), fc.integer({ min: 41, max: 600 })), { freq: 4 }),
    transA: fc.boolean(),
    transB: fc.boolean(),
    aOff: fc.integer({ min: 0, max: 9 }),
    bOff: fc.integer({ min: 0, max: 9 }),
    cOff: fc.integer({ min: 0, max: 9 }),
    accumulate: fc.boolean(),
  })
  .map(({ big, ...t }) => (big ? { ...t, [big[0]]: big[1] } : t));

test('gemm float64 matches a naive triple loop (all transposes, offsets, accumulate)', () => {
  fc.assert(
    fc.property(caseArb, (t) => check(t, Float64Array, F64_RTOL)),
    { seed, numRuns: 300 },
  );
});

test('gemm float32 matches a naive float64 loop within float32 rounding', () => {
  fc.assert(
    fc.property(caseArb, (t) => check(t, Float32Array, F32_RTOL)),
    { seed, numRuns: 150 },
  );
});

test('gemm crosses every block edge: K > KC, M > MC, N > NC, and M > PANEL_ROWS with K > KC', () => {
  const shapes: [number, number, number][] = [
    [100, 66, 260],
    [130, 9, 513],
    [5, 1030, 6],
    [67, 1029, 3],
    [1030, 5, 515],
  ];
  for (const [M, N, K] of shapes) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const accumulate of [false, true]) {
          const t = { M, N, K, transA, transB, aOff: 3, bOff: 1, cOff: 2, accumulate };
          check(t, Float64Array, F64_RTOL);
          check(t, Float32Array, F32_RTOL);
        }
      }
    }
  }
});

test('gemm matrix-vector shapes (M = 1 or N = 1) with every transpose', () => {
  for (const [M, N, K] of [[1, 37, 300], [300, 1, 37], [1, 1, 50], [1, 200, 1], [200, 1, 1], [1, 5, 0]] as const) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const accumulate of [false, true]) {
          check({ M, N, K, transA, transB, aOff: 1, bOff: 2, cOff: 3, accumulate }, Float64Array, F64_RTOL);
        }
      }
    }
  }
});

test('gemm with K = 0 zeroes C, or leaves it unchanged when accumulating', () => {
  for (const Ctor of [Float32Array, Float64Array]) {
    for (const [M, N] of [[3, 5], [40, 40], [1, 7], [7, 1]] as const) {
      const c = new Ctor(M * N).fill(2.5);
      gemm(M, N, 0, new Ctor(0), 0, false, new Ctor(0), 0, false, c, 0, true);
      assert.ok(c.every((x) => x === 2.5), `accumulate ${M}x${N} ${Ctor.name}`);
      gemm(M, N, 0, new Ctor(0), 0, true, new Ctor(0), 0, true, c, 0, false);
      assert.ok(c.every((x) => x === 0), `overwrite ${M}x${N} ${Ctor.name}`);
    }
  }
});

test('gemm float32 sums in float64 and rounds once, across KC slabs', () => {
  for (const [M, N, K] of [[16, 16, 3], [16, 16, 300], [16, 16, 1100], [4, 4, 600], [1, 9, 600], [9, 1, 600]] as const) {
    const a = new Float32Array(M * K).fill(1);
    const b = new Float32Array(K * N).fill(1);
    for (let i = 0; i < M; i++) {
      a[i * K] = 1e8;
      a[i * K + K - 1] = -1e8;
    }
    const c = new Float32Array(M * N);
    gemm(M, N, K, a, 0, false, b, 0, false, c, 0, false);
    assert.ok(c.every((x) => x === K - 2), `${M}x${N}x${K}: got ${c[0]}, expected ${K - 2}`);
  }
});

test('gemm batched small products at stepped offsets', () => {
  const S = 8;
  const batch = 5;
  for (const Ctor of [Float32Array, Float64Array]) {
    const a = new Ctor(batch * S * S);
    const b = new Ctor(batch * S * S);
    fillRandom(a, 7);
    fillRandom(b, 8);
    const c = new Ctor(batch * S * S);
    for (let k = 0; k < batch; k++) gemm(S, S, S, a, k * S * S, false, b, k * S * S, true, c, k * S * S, false);
    for (let k = 0; k < batch; k++) {
      const one = new Ctor(S * S);
      gemm(S, S, S, a.subarray(k * S * S), 0, false, b.subarray(k * S * S), 0, true, one, 0, false);
      assert.equal(Array.from(c.subarray(k * S * S, (k + 1) * S * S)), Array.from(one), `batch ${k} ${Ctor.name}`);
    }
  }
});

test.run();
