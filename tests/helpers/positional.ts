/** Small helpers shared by the positional/ tests. */
import * as assert from 'uvu/assert';
import { Tensor, type Generator } from '../../core/index.js';

/** n standard-normal draws. */
export function randVec(g: Generator, n: number): Float64Array {
  return Float64Array.from({ length: n }, () => g.normal());
}

/** Element-for-element identity (Object.is: distinguishes −0 and matches NaN), naming the first difference. */
export function bitEqual(a: ArrayLike<number>, b: ArrayLike<number>, label: string): void {
  assert.is(a.length, b.length, `${label}: length`);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) assert.unreachable(`${label}: element ${i} is ${a[i]}, expected ${b[i]}`);
}

/** Position-id rows as plain arrays (for assert.equal against the spec's tables). */
export const rows = (ids: readonly ArrayLike<number>[]): number[][] => ids.map((r) => Array.from(r));

/** Scores ⟨R(p_i) q_i, R(p_j) k_j⟩ [N, N] for rows q, k [N, d] rotated by `enc` at positions [N, axes]. */
export function rowScores(enc: { rotate(x: Tensor, positions: Tensor): Tensor }, q: Float64Array, k: Float64Array, positions: Tensor): Float64Array {
  const N = positions.shape[0]!;
  const d = q.length / N;
  const rq = enc.rotate(new Tensor(q, [N, d]), positions).data;
  const rk = enc.rotate(new Tensor(k, [N, d]), positions).data;
  const out = new Float64Array(N * N);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += rq[i * d + c]! * rk[j * d + c]!;
      out[i * N + j] = s;
    }
  }
  return out;
}

/** Every call throws a RangeError (our typed errors) whose message matches its pattern. */
export function expectRangeErrors(cases: ReadonlyArray<readonly [() => unknown, RegExp]>): void {
  for (const [fn, msg] of cases) {
    try {
      fn();
      assert.unreachable(`expected an error matching ${msg}`);
    } catch (e) {
      assert.ok(e instanceof RangeError, String(e));
      assert.match((e as Error).message, msg);
    }
  }
}
