/**
 * Seeded randomness. `new Generator(seed)` yields the same stream on every platform: xoshiro128** (Blackman &
 * Vigna, 2018) on 32-bit integer arithmetic, seeded through splitmix32. Nothing in ropelab draws from
 * Math.random: a random op draws from the Generator it is given, or else from the one process-wide default
 * generator (`defaultGenerator()`, seeded 0 at start and reseeded by `manualSeed(n)`), which advances with every
 * draw as torch's default generator does.
 */
import { expectInteger } from './args.js';
import { ValueError } from './errors.js';

/** Seeds are integers of magnitude < 2⁵³ (so every seed is exact in a double). */
function checkSeed(op: string, seed: unknown): number {
  return expectInteger(op, 'seed', seed, { min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
}

/** `low` and `high` bound uniform integers in [low, high): safe integers, low < high, width < 2⁵³. */
export function checkIntRange(op: string, low: unknown, high: unknown): void {
  const lo = expectInteger(op, 'low', low, { min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
  const hi = expectInteger(op, 'high', high, { min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
  if (hi <= lo || !Number.isSafeInteger(hi - lo)) {
    throw new ValueError(op, `need integers low < high (with high − low < 2⁵³), got low=${lo}, high=${hi}`, 'high');
  }
}

/**
 * A seeded random stream (xoshiro128**, seeded through splitmix32) that gives the same numbers on every platform; pass
 * one to random ops and initializers to make them reproducible.
 */
export class Generator {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spareNormal: number | null = null;
  private seedValue = 0;

  /** `new Generator(42)`: the stream for seed 42 (an integer, |seed| < 2⁵³; default 0). */
  constructor(seed: number = 0) {
    this.reset('Generator', seed);
  }

  /** The seed this generator was constructed or last reseeded with. */
  get seed(): number {
    return this.seedValue;
  }

  /** Restart this generator's stream from `seed` (as torch.Generator.manual_seed); returns this. */
  manualSeed(seed: number): this {
    this.reset('Generator.manualSeed', seed);
    return this;
  }

  private reset(op: string, seed: unknown): void {
    const s = checkSeed(op, seed);
    this.seedValue = s;
    this.spareNormal = null;
    let x = (Math.trunc(s) ^ Math.trunc(s / 0x100000000)) >>> 0;
    const next = (): number => {
      // splitmix32: z = mix(x += golden ratio)
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  random(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Standard normal draw (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.random();
    const v = this.random();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Uniform integer in [low, high): integers with low < high and high − low < 2⁵³. */
  int(low: number, high: number): number {
    checkIntRange('Generator.int', low, high);
    return low + Math.floor(this.random() * (high - low));
  }

  /** An independent generator whose seed is drawn from this one (for splitting streams between modules). */
  fork(): Generator {
    return new Generator(this.nextUint32() * 0x100000 + (this.nextUint32() >>> 12));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The process-wide generator that random ops use when they are given none (made on first use). */
let defaultGen: Generator | null = null;

/**
 * The generator that `randn`, `rand`, `randint` (and other random ops) draw from when no `generator` option is
 * given. It starts from seed 0 in every process and advances with each draw; `manualSeed(n)` restarts it.
 */
export function defaultGenerator(): Generator {
  return (defaultGen ??= new Generator(0));
}

/**
 * Reseed the default generator (as `torch.manual_seed`): after `manualSeed(7)`, the same sequence of random calls
 * without a generator gives the same numbers. `seed` is an integer with |seed| < 2⁵³. Returns the default generator.
 */
export function manualSeed(seed: number): Generator {
  checkSeed('manualSeed', seed);
  return defaultGenerator().manualSeed(seed);
}
