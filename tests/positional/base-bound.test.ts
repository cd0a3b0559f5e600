/**
 * The RoPE base bound (Men et al. 2024; docs/notes/base-bound.md): the long-term decay B_m = Σ cos(m·θ_i) and its
 * symmetries, the toy values and existing-base first negatives, the island at L = 131072, the fast scanner
 * against the plain loop, both grid scans against a brute-force scan of every grid point, the computed table for
 * L = 1k…8k (the rows to 128k are checked by `scripts/base-bound.ts --table`), the typed errors, and the analysis
 * helpers (wavelengths, decay curve).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ValueError } from '../../core/index.js';
import { decayCurve, pairWavelengths } from '../../positional/analysis.js';
import { firstNegativeDistance, longTermDecay, minimalBase, type BaseBoundMethod } from '../../positional/base-bound.js';
import { ropeInvFreq } from '../../positional/rope.js';
import { assertClose } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';

/** m0 by definition: the first m ≥ 0 with B_m < 0, Infinity if none up to limit. */
function naiveM0(base: number, dim: number, limit: number): number {
  const theta = ropeInvFreq(dim, base);
  for (let m = 0; m <= limit; m++) if (longTermDecay(m, theta) < 0) return m;
  return Infinity;
}

/** Every grid point evaluated from m = 0 (m0(b) by the definition, no skipping); NaN when the first-hit scan passes top. */
function bruteMinimalBase(L: number, dim: number, method: BaseBoundMethod, start: number, top: number, ratio: number): number {
  if (method === 'first-hit') {
    for (let k = 0; ; k++) {
      const b = start * Math.pow(ratio, k);
      if (b > top * (1 + 1e-12)) return NaN;
      if (naiveM0(b, dim, L) > L) return b;
    }
  }
  let lowest = NaN;
  for (let k = 0; ; k++) {
    const b = top / Math.pow(ratio, k);
    if (!(b > 1) || naiveM0(b, dim, L) <= L) return lowest;
    lowest = b;
  }
}

function throwsValueError(f: () => unknown, arg: string, label: string): void {
  try {
    f();
  } catch (e) {
    assert.instance(e, ValueError, label);
    assert.is((e as ValueError).arg, arg, `${label}: arg`);
    const { op, message } = e as ValueError;
    assert.ok(message.startsWith(`${op}: `) && message.includes(arg), `${label}: message format "${message}" (starts with the call, names ${arg})`);
    return;
  }
  assert.unreachable(`${label}: did not throw`);
}

const logUniform = (lo: number, hi: number): fc.Arbitrary<number> =>
  fc.double({ min: Math.log(lo), max: Math.log(hi), noNaN: true }).map((x) => Math.exp(x));

test('B_0 = d/2, |B_m| ≤ d/2, B is even in m (B_0 = Σ cos 0; |cos| ≤ 1; cos is even)', () => {
  fc.assert(
    fc.property(fc.constantFrom(2, 4, 8, 16, 64, 128), logUniform(1.01, 1e9), fc.integer({ min: -1e6, max: 1e6 }), (dim, base, m) => {
      const theta = ropeInvFreq(dim, base);
      assert.is(longTermDecay(0, theta), dim / 2);
      const b = longTermDecay(m, theta);
      assert.ok(Math.abs(b) <= dim / 2, `|B_${m}| = ${Math.abs(b)} > ${dim / 2}`);
      assert.is(longTermDecay(-m, theta), b);
    }),
    fcParams(100),
  );
});

test('toy d = 8, base 1e4: B_0…B_5 and the first negative at m = 91', () => {
  const theta = ropeInvFreq(8, 1e4);
  assertClose(
    [0, 1, 2, 3, 4, 5].map((m) => longTermDecay(m, theta)),
    [4, 3.5353, 2.5637, 1.9649, 2.2666, 3.16],
    { atol: 5e-5, rtol: 0 },
    'B_m',
  );
  assert.ok(longTermDecay(90, theta) >= 0 && longTermDecay(91, theta) < 0);
  assert.is(firstNegativeDistance(1e4, 8), 91);
});

test('existing bases at d = 128: m0(1e4) = 1707, m0(5e5) = 18438, m0(1e6) = 27115', () => {
  assert.is(firstNegativeDistance(1e4, 128), 1707);
  assert.is(firstNegativeDistance(5e5, 128), 18438);
  assert.is(firstNegativeDistance(1e6, 128), 27115);
  assert.is(naiveM0(1e4, 128, 2000), 1707);
});

test('islands at L = 131072: 4.870e6 is feasible, 0.999× and 1.001× are not (the feasible set is not an interval)', () => {
  const b = 4.87e6;
  assert.ok(firstNegativeDistance(b, 128) > 131072);
  assert.is(firstNegativeDistance(0.999 * b, 128), 97844);
  assert.is(firstNegativeDistance(1.001 * b, 128), 97838);
});

test('firstNegativeDistance equals the plain loop; limit bounds the scan (Infinity beyond it)', () => {
  fc.assert(
    fc.property(fc.constantFrom(2, 4, 8, 16, 32, 64, 128), logUniform(1.01, 3e4), (dim, base) => {
      assert.is(firstNegativeDistance(base, dim, { limit: 4000 }), naiveM0(base, dim, 4000), `base ${base}, dim ${dim}`);
    }),
    fcParams(60),
  );
  assert.is(firstNegativeDistance(1e4, 128, { limit: 1707 }), 1707);
  assert.is(firstNegativeDistance(1e4, 128, { limit: 1706 }), Infinity);
  assert.is(firstNegativeDistance(1e10, 128, { limit: 1 << 20 }), Infinity); // the robust scan's default top is feasible up to 2^20
});

test('both scans equal a brute-force scan of every grid point (islands included)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 400 }),
      fc.constantFrom(4, 8, 16, 32),
      fc.double({ min: 1.005, max: 1.08, noNaN: true }),
      fc.constantFrom<BaseBoundMethod>('first-hit', 'robust'),
      (L, dim, ratio, method) => {
        const start = 2;
        const top = 1e7;
        const want = bruteMinimalBase(L, dim, method, start, top, ratio);
        if (Number.isNaN(want)) throwsValueError(() => minimalBase(L, dim, { method, start, top, ratio }), 'top', 'nothing feasible up to top');
        else assert.is(minimalBase(L, dim, { method, start, top, ratio }), want, `L ${L}, dim ${dim}, ratio ${ratio}, ${method}`);
      },
    ),
    fcParams(40),
  );
});

// computed (docs/notes/base-bound.md), d = 128: [L, first-hit b (ρ = 1.002 from 1e3), m0 at it, robust b (ρ = 1.005 from 1e10)]
const TABLE: ReadonlyArray<readonly [number, number, number, number]> = [
  [1024, 4.3e3, 1077, 6.043e3],
  [2048, 1.161e4, 2051, 2.277e4],
  [4096, 2.697e4, 4189, 5.904e4],
  [8192, 8.39e4, 8592, 3.948e5],
];

test('table L = 1k…8k at d = 128 within 0.5%; m0(b) > L and m0(b/ρ) ≤ L on the grid', () => {
  for (const [L, first, m0First, robust] of TABLE) {
    const bf = minimalBase(L, 128, { method: 'first-hit' });
    const br = minimalBase(L, 128, { method: 'robust' });
    assert.ok(Math.abs(bf / first - 1) < 0.005, `first-hit L=${L}: ${bf} vs ${first}`);
    assert.ok(Math.abs(br / robust - 1) < 0.005, `robust L=${L}: ${br} vs ${robust}`);
    assert.is(firstNegativeDistance(bf, 128), m0First, `m0 at the first-hit base, L=${L}`);
    for (const [b, rho] of [[bf, 1.002], [br, 1.005]] as const) {
      assert.ok(firstNegativeDistance(b, 128) > L, `feasible: L=${L}, b=${b}`);
      assert.ok(firstNegativeDistance(b / rho, 128) <= L, `the grid point below is not: L=${L}, b=${b}`);
    }
    // first-hit returns a grid point 1e3·1.002^k
    const k = Math.round(Math.log(bf / 1e3) / Math.log(1.002));
    assert.is(bf, 1e3 * Math.pow(1.002, k));
  }
});

test('minimalBase edge cases: start already feasible; every grid point above 1 feasible', () => {
  assert.is(minimalBase(1024, 128, { start: 1e6 }), 1e6);
  // B_1 = Σ cos θ_i > 0 for every base, so L = 1 is supported down to the lowest grid point above 1
  const grid = [10, 10 / 1.5, 10 / 1.5 ** 2, 10 / 1.5 ** 3, 10 / 1.5 ** 4, 10 / 1.5 ** 5];
  assert.is(minimalBase(1, 8, { method: 'robust', top: 10, ratio: 1.5 }), grid[5]);
});

test('typed errors name the argument: op: what — arg=… (rule)', () => {
  throwsValueError(() => longTermDecay(Infinity, [1]), 'm', 'm');
  throwsValueError(() => firstNegativeDistance(1, 128), 'base', 'base 1');
  throwsValueError(() => firstNegativeDistance(NaN, 128), 'base', 'base NaN');
  throwsValueError(() => firstNegativeDistance(1e4, 7), 'dim', 'odd dim');
  throwsValueError(() => firstNegativeDistance(1e4, 128, { limit: -1 }), 'limit', 'limit');
  throwsValueError(() => minimalBase(0, 128), 'contextLength', 'L = 0');
  throwsValueError(() => minimalBase(1.5, 128), 'contextLength', 'L = 1.5');
  throwsValueError(() => minimalBase(1024, 0), 'dim', 'dim 0');
  throwsValueError(() => minimalBase(1024, 128, { method: 'bisect' as BaseBoundMethod }), 'method', 'method');
  throwsValueError(() => minimalBase(1024, 128, { ratio: 1 }), 'ratio', 'ratio');
  throwsValueError(() => minimalBase(1024, 128, { start: 1e6, top: 1e5 }), 'start', 'start > top');
  throwsValueError(() => minimalBase(131072, 128, { method: 'robust', top: 1e4 }), 'top', 'infeasible top');
  throwsValueError(() => minimalBase(131072, 128, { top: 1e4 }), 'top', 'nothing feasible up to top');
});

test('pairWavelengths: λ_i = 2π/θ_i, Infinity for θ = 0', () => {
  const theta = ropeInvFreq(128, 5e5);
  const lambda = pairWavelengths(theta);
  assert.is(lambda.length, 64);
  assertClose(lambda, Array.from(theta, (t) => (2 * Math.PI) / t), { rtol: 1e-15, atol: 0 });
  assert.is(lambda[0], 2 * Math.PI);
  assert.equal(Array.from(pairWavelengths([0.5, 0])), [4 * Math.PI, Infinity]);
  throwsValueError(() => pairWavelengths([1, -1]), 'invFreq', 'negative θ');
});

test('decayCurve: endpoints [0, 1] and [max, B_max/(d/2)], increasing integer distances, both spacings', () => {
  const theta = ropeInvFreq(128, 1e4);
  for (const spacing of ['log', 'linear'] as const) {
    for (const [maxDistance, points] of [[4096, 200], [7, 100], [1, 2], [100000, 2]] as const) {
      const curve = decayCurve(theta, { maxDistance, points, spacing });
      assert.ok(curve.length >= 2 && curve.length <= points, `${spacing} ${maxDistance}: ${curve.length} points`);
      assert.equal(curve[0], [0, 1]);
      assert.equal(curve[curve.length - 1], [maxDistance, longTermDecay(maxDistance, theta) / 64]);
      for (let i = 0; i < curve.length; i++) {
        const [m, v] = curve[i]!;
        assert.ok(Number.isInteger(m) && (i === 0 || m > curve[i - 1]![0]));
        assert.is(v, longTermDecay(m, theta) / 64);
      }
    }
  }
  assert.is(decayCurve(theta, { maxDistance: 7, points: 100, spacing: 'linear' }).length, 8); // every distance 0…7 once
  const log = decayCurve(theta, { maxDistance: 1e6, points: 62 }).map(([m]) => m);
  assert.equal(log.slice(0, 3), [0, 1, 2]);
  assert.ok(log.includes(1000), 'a decade boundary on the log grid');
  throwsValueError(() => decayCurve(theta, { maxDistance: 0 }), 'maxDistance', 'maxDistance');
  throwsValueError(() => decayCurve(theta, { maxDistance: 10, points: 1 }), 'points', 'points');
  throwsValueError(() => decayCurve([], { maxDistance: 10 }), 'invFreq', 'empty');
});

test.run();
