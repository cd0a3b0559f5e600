/**
 * Seeded randomness (core/random.ts) and the random factories (rand, randn, randint in core/creation.ts).
 * The bit stream is pinned against an independent BigInt re-implementation of xoshiro128** (Blackman & Vigna,
 * https://prng.di.unimi.it/xoshiro128starstar.c) seeded by splitmix32 (golden-ratio counter, murmur3 fmix32 finaliser,
 * the scheme core/random.ts documents). Statistical bounds are stated per test: 5 standard errors unless said.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { DTypeError, Generator, ValueError, defaultGenerator, manualSeed, rand, randint, randn, type Tensor } from '../../core/index.js';
import { fcParams, shapeArb } from '../helpers/fc.js';
import { sizeOfShape } from '../helpers/oracle.js';

// ── independent reference, on BigInt so that no 32-bit JS trick is shared with the implementation ──

const M32 = 0xffffffffn;
const rotl = (x: bigint, k: bigint): bigint => ((x << k) | (x >> (32n - k))) & M32;

/** xoshiro128** on an explicit state s[0..3]; returns the next output and advances s. */
function xoshiroNext(s: bigint[]): bigint {
  const result = (rotl((s[1]! * 5n) & M32, 7n) * 9n) & M32;
  const t = (s[1]! << 9n) & M32;
  s[2] = s[2]! ^ s[0]!;
  s[3] = s[3]! ^ s[1]!;
  s[1] = s[1]! ^ s[2]!;
  s[0] = s[0]! ^ s[3]!;
  s[2] = s[2]! ^ t;
  s[3] = rotl(s[3]!, 11n);
  return result;
}

/** splitmix32 as documented in core/random.ts: x += 0x9e3779b9, then fmix32(x). */
function splitmix32State(seed32: bigint): bigint[] {
  let x = seed32 & M32;
  const out: bigint[] = [];
  for (let i = 0; i < 4; i++) {
    x = (x + 0x9e3779b9n) & M32;
    let z = x;
    z = ((z ^ (z >> 16n)) * 0x85ebca6bn) & M32;
    z = ((z ^ (z >> 13n)) * 0xc2b2ae35n) & M32;
    out.push(z ^ (z >> 16n));
  }
  return out;
}

/** The 32-bit seed word: low 32 bits of the integer seed XOR the bits above (seed = hi·2³² + lo, 0 ≤ seed < 2⁵³). */
function seedWord(seed: number): bigint {
  const big = BigInt(Math.trunc(seed));
  return (big & M32) ^ ((big >> 32n) & M32);
}

test('the reference xoshiro128** reproduces the published stream from state [1,2,3,4]', () => {
  // computed by hand from the C reference: 1st = rotl(2·5, 7)·9, 2nd: s[1] became 0, 3rd = rotl(1029·5, 7)·9
  const s = [1n, 2n, 3n, 4n];
  assert.equal([xoshiroNext(s), xoshiroNext(s), xoshiroNext(s)], [11520n, 0n, 5927040n]);
});

test('new Generator(42).nextUint32() matches the independent xoshiro128** + splitmix32 (first 1000 values)', () => {
  const g = new Generator(42);
  const s = splitmix32State(42n);
  for (let i = 0; i < 1000; i++) assert.is(g.nextUint32(), Number(xoshiroNext(s)), `value ${i}`);
});

test('nextUint32 matches the reference for any seed in [0, 2⁵³), and random() is (u₁≫5·2²⁶ + u₂≫6)/2⁵³', () => {
  fc.assert(
    fc.property(fc.oneof(fc.nat(), fc.integer({ min: 0, max: 0xffffffff }), fc.maxSafeNat()), (seed) => {
      const g = new Generator(seed);
      const s = splitmix32State(seedWord(seed));
      for (let i = 0; i < 8; i++) assert.is(g.nextUint32(), Number(xoshiroNext(s)));
      for (let i = 0; i < 8; i++) {
        const hi = xoshiroNext(s) >> 5n;
        const lo = xoshiroNext(s) >> 6n;
        assert.is(g.random(), Number((hi << 26n) | lo) / 2 ** 53);
      }
    }),
    fcParams(60),
  );
});

// ── reproducibility ──

test('same seed → identical random(), normal(), int() streams; distinct 32-bit seeds → different streams', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), (s1, s2) => {
      const draw = (g: Generator): number[] => [g.random(), g.normal(), g.normal(), g.normal(), g.int(-5, 7), g.random(), g.nextUint32()];
      assert.equal(draw(new Generator(s1)), draw(new Generator(s1)));
      // for seeds < 2³² the first output is a bijection of the seed (fmix32 and odd multiplies are invertible)
      if (s1 !== s2) assert.is.not(new Generator(s1).nextUint32(), new Generator(s2).nextUint32());
    }),
    fcParams(60),
  );
});

test('fork(): reproducible from the parent\'s seed and state, and not the parent\'s own continuation', () => {
  fc.assert(
    fc.property(fc.nat(), fc.nat(5), (seed, skip) => {
      const a = new Generator(seed);
      const b = new Generator(seed);
      for (let i = 0; i < skip; i++) {
        a.random();
        b.random();
      }
      const fa = a.fork();
      const fb = b.fork();
      const sa = Array.from({ length: 6 }, () => fa.nextUint32());
      assert.equal(sa, Array.from({ length: 6 }, () => fb.nextUint32()));
      assert.equal(a.nextUint32(), b.nextUint32(), 'parents stay in step');
      const parentNext = Array.from({ length: 6 }, () => a.nextUint32());
      assert.not.equal(sa, parentNext);
    }),
    fcParams(40),
  );
});

// ── statistics (seeded, so each run is fixed; bounds are stated so that a wrong distribution fails) ──

const N = 100_000;

test('random(): in [0,1), mean 1/2 and variance 1/12 within 5 standard errors on 1e5 draws, deciles ±5σ', () => {
  for (const seed of [1, 2, 3]) {
    const g = new Generator(seed);
    let s = 0;
    let s2 = 0;
    const bins = new Array<number>(10).fill(0);
    for (let i = 0; i < N; i++) {
      const u = g.random();
      assert.ok(u >= 0 && u < 1, `draw ${u} outside [0, 1)`);
      s += u;
      s2 += u * u;
      bins[Math.floor(u * 10)]!++;
    }
    const mean = s / N;
    const variance = s2 / N - mean * mean;
    // se(mean) = √(1/12 / N); se(variance) = √((1/80 − 1/144)/N) = √(1/180 / N)
    assert.ok(Math.abs(mean - 0.5) < 5 * Math.sqrt(1 / 12 / N), `seed ${seed}: mean ${mean}`);
    assert.ok(Math.abs(variance - 1 / 12) < 5 * Math.sqrt(1 / 180 / N), `seed ${seed}: variance ${variance}`);
    // each decile count is Binomial(N, 0.1): sd √(N·0.09)
    for (const c of bins) assert.ok(Math.abs(c - N / 10) < 5 * Math.sqrt(N * 0.09), `seed ${seed}: decile count ${c}`);
  }
});

test('normal(): mean 0, std 1, P(|z| < 1) = 0.6827 within 5σ on 1e5 draws; consecutive draws uncorrelated', () => {
  for (const seed of [1, 2, 3]) {
    const g = new Generator(seed);
    const z = Float64Array.from({ length: N }, () => g.normal());
    let s = 0;
    let s2 = 0;
    let inside = 0;
    let lag = 0;
    for (let i = 0; i < N; i++) {
      s += z[i]!;
      s2 += z[i]! * z[i]!;
      if (Math.abs(z[i]!) < 1) inside++;
      if (i > 0) lag += z[i]! * z[i - 1]!;
    }
    const mean = s / N;
    const std = Math.sqrt(s2 / N - mean * mean);
    const p = 0.6826894921370859; // erf(1/√2)
    assert.ok(Math.abs(mean) < 5 / Math.sqrt(N), `seed ${seed}: mean ${mean}`);
    assert.ok(Math.abs(std - 1) < 5 * Math.sqrt(1 / (2 * N)), `seed ${seed}: std ${std}`); // se(std) ≈ 1/√(2N)
    assert.ok(Math.abs(inside / N - p) < 5 * Math.sqrt((p * (1 - p)) / N), `seed ${seed}: P(|z|<1) ${inside / N}`);
    // both values of each Box–Muller pair are independent N(0,1): lag-1 correlation has se 1/√N
    assert.ok(Math.abs(lag / (N - 1)) < 5 / Math.sqrt(N), `seed ${seed}: lag-1 correlation ${lag / (N - 1)}`);
  }
});

test('int(low, high): integers in [low, high), every value hit with frequency 1/(high−low) within 5σ', () => {
  const g = new Generator(7);
  const low = -3;
  const high = 5;
  const counts = new Map<number, number>();
  for (let i = 0; i < N; i++) {
    const k = g.int(low, high);
    assert.ok(Number.isInteger(k) && k >= low && k < high, `int ${k}`);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const p = 1 / (high - low);
  assert.is(counts.size, high - low);
  for (const [k, c] of counts) assert.ok(Math.abs(c / N - p) < 5 * Math.sqrt((p * (1 - p)) / N), `value ${k}: ${c}`);
});

// ── factories ──

test('rand/randn/randint: the same new Generator(seed) gives the same tensor; values are the generator\'s draws', () => {
  fc.assert(
    fc.property(shapeArb(4, 4), fc.nat(), fc.double({ min: -3, max: 3, noNaN: true }), fc.double({ min: 0.1, max: 3, noNaN: true }), (shape, seed, mean, std) => {
      const n = sizeOfShape(shape);
      const ref = new Generator(seed);
      const [low, high] = [mean, mean + std];
      const u = rand(shape, { generator: new Generator(seed), dtype: 'float64', low, high });
      assert.equal([...u.shape], shape);
      assert.equal(Array.from(u.data), Array.from({ length: n }, () => low + (high - low) * ref.random()));
      const ref2 = new Generator(seed);
      const z = randn(shape, { generator: new Generator(seed), dtype: 'float64', mean, std });
      assert.equal(Array.from(z.data), Array.from({ length: n }, () => mean + std * ref2.normal()));
      const a = randn(shape, { generator: new Generator(seed) });
      const b = randn(shape, { generator: new Generator(seed) });
      assert.is(a.dtype, 'float32');
      assert.equal(Array.from(a.data), Array.from(b.data));
      const ia = randint(-2, 9, shape, { generator: new Generator(seed) });
      const ib = randint(-2, 9, shape, { generator: new Generator(seed) });
      assert.equal(Array.from(ia.data), Array.from(ib.data));
    }),
    fcParams(40),
  );
});

test('random factories without a generator draw from the default generator: it advances, manualSeed restarts it, never Math.random', () => {
  const original = Math.random;
  Math.random = () => {
    throw new Error('Math.random must not be used');
  };
  try {
    const arr = (t: Tensor): number[] => Array.from(t.data);
    // two calls in a row differ (each draw advances the one default stream) …
    manualSeed(5);
    const [r1, r2] = [arr(rand([6])), arr(rand([6]))];
    assert.not.equal(r1, r2, 'rand twice without a generator must not repeat');
    const [n1, n2] = [arr(randn([6])), arr(randn([6]))];
    assert.not.equal(n1, n2, 'randn twice without a generator must not repeat');
    const [i1, i2] = [arr(randint(0, 1000, [6])), arr(randint(0, 1000, [6]))];
    assert.not.equal(i1, i2, 'randint twice without a generator must not repeat');
    // … and are exactly the draws of one Generator(5) in call order
    const g = new Generator(5);
    assert.equal([r1, r2], [arr(rand([6], { generator: g })), arr(rand([6], { generator: g }))]);
    assert.equal([n1, n2], [arr(randn([6], { generator: g })), arr(randn([6], { generator: g }))]);
    assert.equal([i1, i2], [arr(randint(0, 1000, [6], { generator: g })), arr(randint(0, 1000, [6], { generator: g }))]);
    // manualSeed restarts the same object that defaultGenerator() returns
    const d = defaultGenerator();
    assert.is(manualSeed(5), d);
    assert.is(defaultGenerator(), d);
    assert.is(d.seed, 5);
    assert.equal(arr(rand([6])), r1, 'after manualSeed(5) the stream starts over');
    manualSeed(6);
    assert.not.equal(arr(rand([6])), r1, 'another seed, another stream');
    // an explicit generator leaves the default stream where it was
    manualSeed(5);
    rand([3], { generator: new Generator(1) });
    assert.equal(arr(rand([6])), r1);
  } finally {
    Math.random = original;
  }
});

test('Generator(seed), generator.manualSeed(seed) and manualSeed(seed) refuse non-integer seeds with a typed error', () => {
  const bad: [unknown, typeof DTypeError | typeof ValueError][] = [
    [Number.NaN, ValueError], [Infinity, ValueError], [-Infinity, ValueError], [1.5, ValueError], [2 ** 53, ValueError],
    ['3', DTypeError], [null, DTypeError], [{}, DTypeError], [3n, DTypeError],
  ];
  for (const [seed, Err] of bad) {
    const is = (op: string) => (e: unknown) => e instanceof Err && (e as ValueError).arg === 'seed' && (e as Error).message.startsWith(`${op}: seed`);
    assert.throws(() => new Generator(seed as number), is('Generator'), `Generator(${String(seed)})`);
    assert.throws(() => manualSeed(seed as number), is('manualSeed'), `manualSeed(${String(seed)})`);
    assert.throws(() => new Generator(1).manualSeed(seed as number), is('Generator.manualSeed'), `g.manualSeed(${String(seed)})`);
  }
  const before = defaultGenerator().seed;
  assert.throws(() => manualSeed(Number.NaN));
  assert.is(defaultGenerator().seed, before, 'a refused seed leaves the default generator alone');
  // the limits themselves, negatives and the default are accepted
  for (const seed of [0, -1, 2 ** 53 - 1, -(2 ** 53 - 1)]) assert.is(new Generator(seed).seed, seed);
  assert.is(new Generator().seed, 0);
  // reseeding an existing generator restarts its stream, spare normal included
  const g = new Generator(9);
  const first = [g.normal(), g.random()];
  g.normal(); // leaves a spare normal behind
  assert.equal([g.manualSeed(9).normal(), g.random()], first);
});

test('Generator.int refuses non-integer, reversed and too-wide bounds; randint draws what int() draws', () => {
  const g = new Generator(3);
  const bad: [unknown, unknown, typeof DTypeError | typeof ValueError, string][] = [
    [Number.NaN, 3, ValueError, 'low'], [0, Infinity, ValueError, 'high'], [0.5, 3, ValueError, 'low'], ['0', 3, DTypeError, 'low'],
    [0, null, DTypeError, 'high'], [3, 3, ValueError, 'high'], [4, 2, ValueError, 'high'], [-(2 ** 52), 2 ** 52, ValueError, 'high'],
  ];
  for (const [low, high, Err, arg] of bad) {
    assert.throws(
      () => g.int(low as number, high as number),
      (e: unknown) => e instanceof Err && (e as ValueError).arg === arg && (e as Error).message.startsWith('Generator.int: '),
      `int(${String(low)}, ${String(high)})`,
    );
  }
  const a = new Generator(11);
  const fromInt = Array.from({ length: 20 }, () => a.int(-3, 9));
  assert.equal(Array.from(randint(-3, 9, [20], { generator: new Generator(11), dtype: 'float64' }).data), fromInt);
});

test('randint: integers within [low, high) of the requested shape; bad bounds → ValueError', () => {
  fc.assert(
    fc.property(shapeArb(4, 4), fc.integer({ min: -50, max: 50 }), fc.integer({ min: 1, max: 20 }), fc.nat(), (shape, low, width, seed) => {
      const t = randint(low, low + width, shape, { generator: new Generator(seed), dtype: 'float64' });
      assert.equal([...t.shape], shape);
      for (const v of t.data) assert.ok(Number.isInteger(v) && v >= low && v < low + width, `randint value ${v}`);
    }),
    fcParams(60),
  );
  for (const [lo, hi] of [[3, 3], [4, 2], [0.5, 3], [0, 2.5]] as const) {
    assert.throws(() => randint(lo, hi, [2]), (e: unknown) => e instanceof ValueError && e.op === 'randint');
  }
});

test.run();
