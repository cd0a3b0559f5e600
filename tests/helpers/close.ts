/** Comparison helpers whose failures name the worst element, its index and both values. */
import * as assert from 'uvu/assert';

export interface Tolerance {
  rtol?: number;
  atol?: number;
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance = {}, label = 'value'): void {
  const { rtol = 1e-12, atol = 1e-12 } = tol;
  assert.is(actual.length, expected.length, `${label}: length ${actual.length} vs expected ${expected.length}`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (a === e) continue;
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    assert.unreachable(
      `${label}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (|diff| ${Math.abs(actual[worst]! - expected[worst]!)}, rtol ${rtol}, atol ${atol})`,
    );
  }
}

export function assertShape(actual: readonly number[], expected: readonly number[], label = 'shape'): void {
  assert.equal([...actual], [...expected], `${label}: [${actual.join(',')}] vs expected [${expected.join(',')}]`);
}
