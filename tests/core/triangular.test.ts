/**
 * core/ops/triangular.ts: unitLowerInverse(A) = (I + strictLower(A))⁻¹ against its defining identity on random batches
 * (both products with I + strictLower(A) give I), its structure (unit lower triangular, blind to A's diagonal and
 * upper part), float32, empty and 1×1 matrices, gradcheck of the backward dA = strictLower(−Tᵀ G Tᵀ), and its errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { DTypeError, Generator, ShapeError, Tensor, gradcheck, randn, tensor } from '../../core/index.js';
import { unitLowerInverse } from '../../core/ops/triangular.js';
import { assertClose, assertShape } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';

/** I + strictLower(A) for one n×n matrix at offset off, as a plain row-major array. */
function unitLower(a: ArrayLike<number>, off: number, n: number): number[] {
  return Array.from({ length: n * n }, (_, e) => {
    const [i, j] = [Math.floor(e / n), e % n];
    return i === j ? 1 : j < i ? a[off + e]! : 0;
  });
}

function matmulSquare(x: ArrayLike<number>, y: ArrayLike<number>, n: number): number[] {
  const out = new Array<number>(n * n).fill(0);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) out[i * n + j] += x[i * n + k]! * y[k * n + j]!;
  return out;
}

const identity = (n: number): number[] => Array.from({ length: n * n }, (_, e) => (Math.floor(e / n) === e % n ? 1 : 0));

test('T·(I + strictLower(A)) = (I + strictLower(A))·T = I for random batches, and T is unit lower triangular', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }), fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 1e6 }), (batch, n, seed) => {
      const a = randn([...batch, n, n], { dtype: 'float64', generator: new Generator(seed) });
      const t = unitLowerInverse(a);
      assertShape(t.shape, a.shape);
      for (let off = 0; off < a.size; off += n * n) {
        const l = unitLower(a.data, off, n);
        const tm = Array.from(t.data.subarray(off, off + n * n));
        for (let e = 0; e < n * n; e++) {
          const [i, j] = [Math.floor(e / n), e % n];
          if (j >= i) assert.is(tm[e], i === j ? 1 : 0, `T[${i},${j}] is structurally ${i === j ? 1 : 0}`);
        }
        assertClose(matmulSquare(tm, l, n), identity(n), { atol: 1e-10, rtol: 0 }, 'T·L');
        assertClose(matmulSquare(l, tm, n), identity(n), { atol: 1e-10, rtol: 0 }, 'L·T');
      }
    }),
    fcParams(60),
  );
});

test('only the strictly lower part of A is read', () => {
  const g = new Generator(3);
  const a = randn([2, 5, 5], { dtype: 'float64', generator: g });
  const b = new Tensor(a.data.slice(), a.shape);
  for (let m = 0; m < 2; m++) for (let i = 0; i < 5; i++) for (let j = i; j < 5; j++) b.data[m * 25 + i * 5 + j] = 7 * g.normal();
  assert.equal(Array.from(unitLowerInverse(b).data), Array.from(unitLowerInverse(a).data));
});

test('a worked 3×3: A with a₁₀ = 2, a₂₀ = 3, a₂₁ = 4 gives T rows [1,0,0], [−2,1,0], [5,−4,1]', () => {
  const t = unitLowerInverse(tensor([[9, 9, 9], [2, 9, 9], [3, 4, 9]], { dtype: 'float64' }));
  assert.equal(Array.from(t.data), [1, 0, 0, -2, 1, 0, 5, -4, 1]);
});

test('float32 keeps its dtype and agrees with float64; empty and 1×1 matrices', () => {
  const a = randn([3, 6, 6], { dtype: 'float64', generator: new Generator(5) }).mul(0.5);
  const t32 = unitLowerInverse(a.cast('float32'));
  assert.is(t32.dtype, 'float32');
  assertClose(t32.data, unitLowerInverse(a).data, { rtol: 1e-5, atol: 1e-5 }, 'float32 vs float64');
  assertShape(unitLowerInverse(randn([2, 0, 0])).shape, [2, 0, 0]);
  assert.equal(Array.from(unitLowerInverse(tensor([[[4]], [[-1]]])).data), [1, 1]);
});

test('gradcheck: dA = strictLower(−Tᵀ G Tᵀ), through a downstream product', () => {
  for (const [shape, seed] of [[[4, 4], 1], [[2, 3, 5, 5], 2], [[1, 1], 3]] as const) {
    const g = new Generator(seed);
    const a = randn(shape, { dtype: 'float64', generator: g, requiresGrad: true });
    const r = randn(shape, { dtype: 'float64', generator: g });
    assert.ok(gradcheck((x) => unitLowerInverse(x!).mul(r).sum(), [a]));
    assert.ok(gradcheck((x) => unitLowerInverse(x!.mul(0.3)), [a]), `full Jacobian ${shape}`);
  }
});

test('refuses non-tensors and non-square or rank-1 inputs with the argument named', () => {
  assert.throws(() => unitLowerInverse(null as unknown as Tensor), (e: unknown) => e instanceof DTypeError && /unitLowerInverse: a must be a Tensor/.test((e as Error).message));
  assert.throws(() => unitLowerInverse(randn([3, 4])), (e: unknown) => e instanceof ShapeError && /a=\[3, ?4\] must be a square matrix/.test((e as Error).message));
  assert.throws(() => unitLowerInverse(randn([3])), (e: unknown) => e instanceof ShapeError && (e as ShapeError).arg === 'a');
});

test.run();
