/**
 * "Base of RoPE Bounds Context Length" (Men, Xu, Wang, Zhang, Lin, Han, Chen; NeurIPS 2024, arXiv 2405.14591; our
 * reading and the computed tables: docs/notes/base-bound.md). A query should
 * prefer a similar key to a random one at every distance m ≤ L; under RoPE that preference is proportional to the
 * long-term decay B_{m,θ} = Σ_i cos(m·θ_i), so a base b supports context L iff m0(b) > L, where m0(b) is the first
 * integer m ≥ 0 with B_{m,θ(b)} < 0. The feasible set {b : m0(b) > L} has islands below its final region, so the
 * minimal base is defined by a grid scan (first-hit upward, or robust downward), never by bisection.
 *
 * Numerics. Every sign decision is made by the canonical float64 sum `longTermDecay(m, θ)` = Σ Math.cos(m·θ_i) (pair
 * order), so the results are exactly those of the plain O(m0·d/2) loop; B can be ~0 at the crossing, and only that
 * sum decides. The scans use a fast *lower bound* of B to skip positions: pairs with θ_i > 0.035 are evaluated per
 * position by the Chebyshev recurrence cos((m+1)θ) = 2cosθ·cos(mθ) − cos((m−1)θ), re-seeded every 256 positions from
 * a (cos, sin) rotation that is itself re-seeded from exact Math.cos/Math.sin at every chunk (≤ 4096 positions);
 * slower pairs contribute their minimum of cos over blocks of W = 2^k positions with W·θ_i ≤ 0.3 (block endpoints by
 * the Chebyshev recurrence with step W·θ_i; −1 when the block may hold an odd multiple of π), and where that bound
 * minus one per fast pair is already positive the fast pairs are not evaluated at all. A position is accepted without
 * the exact sum only if its bound is ≥ ε = 1e-6 + (d/2)·m_max·θ_max·4.5e-16; the recurrences stay within 1.5e-11 of
 * Math.cos(m·θ_i) per pair for m ≤ 2^17 (2e-9 at m ≈ 2^24, where the rounding of m·θ_i itself dominates), so every
 * position whose B is anywhere near its sign change is decided by the exact sum.
 */
import { ValueError, expectInteger, expectNumber, expectOneOf, expectOptions } from '../core/index.js';
import { checkBase, checkContextLength, checkInvFreq, checkRotaryDim } from './checks.js';
import { ropeInvFreq } from './rope.js';

/** B_{m,θ} = Σ_i cos(m·θ_i) (Men et al. 2024, the long-term decay B_{m,θ}); float64, pairs in order. */
export function longTermDecay(m: number, invFreq: ArrayLike<number>): number {
  expectNumber('longTermDecay', 'm', m); // B is defined for finite distances
  return decayAt(m, checkInvFreq('longTermDecay', 'invFreq', invFreq));
}

/** B_{m,θ} for a checked table. */
export function decayAt(m: number, invFreq: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < invFreq.length; i++) s += Math.cos(m * invFreq[i]!);
  return s;
}

/** Options of `firstNegativeDistance`: `limit`. */
export interface FirstNegativeOptions {
  /** Largest distance examined; default 2^24. Returns Infinity when B ≥ 0 on all of [0, limit]. */
  limit?: number;
}

/** m0(b) = min{m ∈ ℤ, m ≥ 0 : Σ_i cos(m·b^(−2i/d)) < 0} (Men et al. 2024); Infinity if none ≤ limit. */
export function firstNegativeDistance(base: number, dim: number, options: FirstNegativeOptions = {}): number {
  const op = 'firstNegativeDistance';
  checkBase(op, 'base', base);
  checkRotaryDim(op, 'dim', dim);
  const o = expectOptions(op, 'options', options, ['limit']);
  const limit = o.limit === undefined ? 2 ** 24 : expectInteger(op, 'limit', o.limit, { min: 0 }); // the largest distance scanned
  const scanner = new DecayScanner(dim / 2);
  scanner.setInvFreq(ropeInvFreq(dim, base));
  const m = scanner.firstNegative(0, limit);
  return m < 0 ? Infinity : m;
}

/** How the minimal base is read off the log grid (docs/notes/base-bound.md: why a grid scan, and why two). */
export type BaseBoundMethod = 'first-hit' | 'robust';

/** Options of `minimalBase`: `method`, `start`, `top`, `ratio`. */
export interface MinimalBaseOptions {
  /** 'first-hit' (default): scan b_k = start·ratio^k upward, return the first b with m0(b) > L.
   *  'robust': scan b_k = top/ratio^k downward, return the lowest b such that every grid point at or above it is feasible. */
  method?: BaseBoundMethod;
  /** Lowest base of the first-hit grid; default 1e3. */
  start?: number;
  /** Highest base: the robust grid's first point (must be feasible) and the first-hit scan's upper limit; default 1e10. */
  top?: number;
  /** Grid ratio ρ > 1; default 1.002 for first-hit, 1.005 for robust. */
  ratio?: number;
}

/**
 * Minimal RoPE base for context L (Men et al. 2024: b must give m0(b) > L) on a log grid: first-hit
 * b = start·ρ^k with the smallest k such that m0(b) > L; robust b = top/ρ^(k*−1) where k* is the first k (going down)
 * with m0(top/ρ^k) ≤ L. Returns the grid point itself (not rounded).
 */
export function minimalBase(contextLength: number, dim: number, options: MinimalBaseOptions = {}): number {
  const op = 'minimalBase';
  checkContextLength(op, 'contextLength', contextLength); // B must stay ≥ 0 for every distance m ≤ L
  checkRotaryDim(op, 'dim', dim);
  const o = expectOptions(op, 'options', options, ['method', 'start', 'top', 'ratio']);
  const method = o.method === undefined ? 'first-hit' : expectOneOf<BaseBoundMethod>(op, 'method', o.method, ['first-hit', 'robust']);
  const ratio = o.ratio === undefined ? (method === 'first-hit' ? 1.002 : 1.005) : expectNumber(op, 'ratio', o.ratio, { above: 1 }); // b_k = start·ratio^k
  const top = o.top === undefined ? 1e10 : checkBase(op, 'top', o.top);
  const scanner = new DecayScanner(dim / 2);
  if (method === 'robust') return robustScan(scanner, contextLength, dim, top, ratio);
  const start = o.start === undefined ? 1e3 : checkBase(op, 'start', o.start);
  if (!(start <= top)) throw new ValueError(op, `start is above top — start=${start}, top=${top} (the upward scan runs from start to top)`, 'start');
  return firstHitScan(scanner, contextLength, dim, start, top, ratio);
}

// ── grid scans ────────────────────────────────────────────────────────────────────────────────────────────────

/** Witnesses kept by the upward scan: distances that were negative at recent grid points. */
const MAX_WITNESSES = 6;
/** When the witnesses fail, the upward scan first searches from this far below the last negative found. */
const RESCAN_BACK = 2048;

/**
 * Upward scan. A grid point is infeasible iff some m ≤ L has B_m < 0; any such m is as good as m0 itself, so each
 * grid point first tries a few recent witnesses (B moves continuously with b); when they all fail it scans [0, L]
 * for a negative, starting a little below the last one found. A grid point is declared feasible only after all of
 * [0, L] was scanned, so the answer is the same as computing m0 at every grid point.
 */
function firstHitScan(scanner: DecayScanner, L: number, dim: number, start: number, top: number, ratio: number): number {
  const witnesses: number[] = [];
  let lastFound = 0;
  for (let k = 0; ; k++) {
    const b = start * Math.pow(ratio, k);
    if (b > top * (1 + 1e-12)) {
      throw new ValueError('minimalBase', `no feasible base up to top — contextLength=${L}, top=${top} (raise top: m0(b) ≤ L on the whole grid)`, 'top');
    }
    const theta = ropeInvFreq(dim, b);
    scanner.setInvFreq(theta);
    let hit = -1;
    for (let w = 0; w < witnesses.length; w++) {
      if (scanner.exactDecay(witnesses[w]!) < 0) {
        hit = w;
        break;
      }
    }
    if (hit >= 0) {
      if (hit > 0) witnesses.unshift(witnesses.splice(hit, 1)[0]!); // most useful witness first
      continue;
    }
    // m0 mostly grows with b: look for a negative from a little below the last one found, then below that
    const from = Math.max(0, lastFound - RESCAN_BACK);
    let found = scanner.firstNegative(from, L);
    if (found < 0 && from > 0) found = scanner.firstNegative(0, from - 1);
    if (found < 0) return b;
    lastFound = found;
    // new witnesses: the negative found and the deepest one just after it (it survives a larger change of b)
    const deepest = scanner.deepestNegative(found, Math.min(L, found + 32));
    witnesses.unshift(found);
    if (deepest !== found) witnesses.unshift(deepest);
    witnesses.length = Math.min(witnesses.length, MAX_WITNESSES);
  }
}

/** Downward scan from a feasible top: every grid point above the answer is verified over all of [0, L]. */
function robustScan(scanner: DecayScanner, L: number, dim: number, top: number, ratio: number): number {
  let lowestFeasible = NaN;
  for (let k = 0; ; k++) {
    const b = top / Math.pow(ratio, k);
    if (!(b > 1)) return lowestFeasible; // every grid point above 1 supports L
    scanner.setInvFreq(ropeInvFreq(dim, b));
    if (scanner.firstNegative(0, L) >= 0) {
      if (k === 0) {
        throw new ValueError('minimalBase', `top is not feasible — top=${top}, contextLength=${L} (the robust scan starts from a base with m0(top) > L)`, 'top');
      }
      return lowestFeasible;
    }
    lowestFeasible = b;
  }
}

// ── the scanner: exact decisions, fast lower bound ─────────────────────────────────────────────────────────────

/** Pairs with θ_i > FAST_THETA are evaluated at every position; slower pairs are bounded on blocks with W·θ_i ≤ BLOCK_ANGLE. */
const FAST_THETA = 0.035;
const BLOCK_ANGLE = 0.3;
const MIN_CHUNK_LOG = 6;
const MAX_CHUNK_LOG = 12;
const MAX_CHUNK = 1 << MAX_CHUNK_LOG;
/** Fast pairs are skipped on sub-blocks of SUB positions where the slow bound alone exceeds (number of fast pairs). */
const SUB_LOG = 8;
const SUB = 1 << SUB_LOG;

class DecayScanner {
  readonly pairs: number;
  private theta: Float64Array;
  private thetaMax = 0;
  /** Fast pairs, padded with zero state to a multiple of four: 2cosθ, cosθ, sinθ, rotation by SUB·θ, state (cos, sin) of mθ. */
  private fastCount = 0;
  private readonly fTheta: Float64Array;
  private readonly fK: Float64Array;
  private readonly fCos: Float64Array;
  private readonly fSin: Float64Array;
  private readonly fRotC: Float64Array;
  private readonly fRotS: Float64Array;
  private readonly stC: Float64Array;
  private readonly stS: Float64Array;
  /** Slow pairs: θ and block level k (W = 2^k, W·θ ≤ BLOCK_ANGLE). */
  private slowCount = 0;
  private readonly sTheta: Float64Array;
  private readonly sLevel: Int32Array;
  private readonly acc = new Float64Array(MAX_CHUNK);
  /** Heap of block bounds: level k, block j at index (C >> k) + j; the leaves (level 0) are acc. */
  private readonly heap = new Float64Array(MAX_CHUNK);

  constructor(pairs: number) {
    this.pairs = pairs;
    this.theta = new Float64Array(pairs);
    const padded = 4 * Math.ceil(pairs / 4) + 4;
    this.fTheta = new Float64Array(padded);
    this.fK = new Float64Array(padded);
    this.fCos = new Float64Array(padded);
    this.fSin = new Float64Array(padded);
    this.fRotC = new Float64Array(padded);
    this.fRotS = new Float64Array(padded);
    this.stC = new Float64Array(padded);
    this.stS = new Float64Array(padded);
    this.sTheta = new Float64Array(pairs);
    this.sLevel = new Int32Array(pairs);
  }

  setInvFreq(invFreq: Float64Array): void {
    this.theta = invFreq;
    this.fastCount = 0;
    this.slowCount = 0;
    this.thetaMax = 0;
    for (let i = 0; i < invFreq.length; i++) {
      const t = invFreq[i]!;
      if (t > this.thetaMax) this.thetaMax = t;
      if (t > FAST_THETA) {
        const f = this.fastCount++;
        this.fTheta[f] = t;
        this.fK[f] = 2 * Math.cos(t);
        this.fCos[f] = Math.cos(t);
        this.fSin[f] = Math.sin(t);
        this.fRotC[f] = Math.cos(SUB * t);
        this.fRotS[f] = Math.sin(SUB * t);
      } else {
        this.sTheta[this.slowCount] = t;
        this.sLevel[this.slowCount++] = t > 0 ? Math.min(30, Math.max(1, Math.floor(Math.log2(BLOCK_ANGLE / t)))) : 30; // ≥ 3 here
      }
    }
    this.stC.fill(0);
    this.stS.fill(0); // padding lanes stay at cos = 0, which the recurrence keeps at 0
  }

  /** The canonical B_m (same sum as longTermDecay). */
  exactDecay(m: number): number {
    const th = this.theta;
    let s = 0;
    for (let i = 0; i < th.length; i++) s += Math.cos(m * th[i]!);
    return s;
  }

  /** Distance in [from, to] with the most negative exact B (from when none is lower). */
  deepestNegative(from: number, to: number): number {
    let best = from;
    let bestValue = this.exactDecay(from);
    for (let m = from + 1; m <= to; m++) {
      const v = this.exactDecay(m);
      if (v < bestValue) {
        best = m;
        bestValue = v;
      }
    }
    return best;
  }

  /** First m in [from, to] with exact B_m < 0, or −1. */
  firstNegative(from: number, to: number): number {
    // accept a position without the exact sum only if its lower bound clears recurrence drift and angle rounding
    const eps = 1e-6 + this.pairs * (to + MAX_CHUNK) * this.thetaMax * 4.5e-16;
    const acc = this.acc;
    let s = from;
    let logC = MIN_CHUNK_LOG;
    while (s <= to) {
      const n = Math.min(1 << logC, to - s + 1);
      this.lowerBound(s, logC, n, eps);
      for (let j = 0; j < n; j++) {
        if (acc[j]! < eps && this.exactDecay(s + j) < 0) return s + j;
      }
      s += n;
      if (logC < MAX_CHUNK_LOG) logC++;
    }
    return -1;
  }

  /**
   * acc[j] ≤ B_{s+j} (up to drift far below eps) for j < n, chunk size C = 2^logC ≥ n; on sub-blocks where the slow
   * pairs' bound minus one per fast pair is already ≥ eps, that bound is left as is.
   */
  private lowerBound(s: number, logC: number, n: number, eps: number): void {
    const acc = this.acc;
    // slow pairs: min of cos over each block of W = 2^k positions, added at heap level k, then pushed to positions
    if (this.slowCount === 0) acc.fill(0, 0, n);
    else {
      const C = 1 << logC;
      const heap = this.heap;
      heap.fill(0, 1, C);
      for (let p = 0; p < this.slowCount; p++) {
        const t = this.sTheta[p]!;
        const k = Math.min(this.sLevel[p]!, logC);
        const W = 1 << k;
        const blocks = (n + W - 1) >> k;
        const step = W * t; // ≤ BLOCK_ANGLE < π
        const twoCos = 2 * Math.cos(step);
        // a block holding an odd multiple of π has both endpoint cosines ≤ −cos(step): bound it by −1
        const nearPi = 1e-9 - Math.cos(step);
        let a = Math.cos(s * t);
        let b = Math.cos((s - W) * t);
        const base = C >> k;
        for (let j = 0; j < blocks; j++) {
          const next = twoCos * a - b; // Chebyshev: cos(x + step) = 2cos(step)cos(x) − cos(x − step)
          const hi = a > next ? a : next;
          heap[base + j] += hi <= nearPi ? -1 : a < next ? a : next;
          b = a;
          a = next;
        }
      }
      const half = C >> 1;
      for (let idx = 2; idx < half + ((n + 1) >> 1); idx++) heap[idx] += heap[idx >> 1]!;
      for (let j = 0; j < n; j++) acc[j] = heap[(C + j) >> 1]!;
    }
    // fast pairs: exact per position, four Chebyshev chains per sweep, on the sub-blocks the slow bound cannot clear
    const fc = this.fastCount;
    if (fc === 0) return;
    const fTheta = this.fTheta;
    const stC = this.stC;
    const stS = this.stS;
    for (let f = 0; f < fc; f++) {
      stC[f] = Math.cos(s * fTheta[f]!);
      stS[f] = Math.sin(s * fTheta[f]!);
    }
    for (let v0 = 0; v0 < n; v0 += SUB) {
      const v1 = Math.min(n, v0 + SUB);
      let lo = Infinity;
      for (let j = v0; j < v1; j++) if (acc[j]! < lo) lo = acc[j]!;
      if (lo - fc < eps) this.addFast(v0, v1);
      if (v1 < n) {
        // advance every fast pair's (cos, sin) by SUB·θ: stable rotation, ≤ 16 steps per exact seed
        const rc = this.fRotC;
        const rs = this.fRotS;
        for (let f = 0; f < fc; f++) {
          const c = stC[f]!;
          const si = stS[f]!;
          stC[f] = c * rc[f]! - si * rs[f]!;
          stS[f] = c * rs[f]! + si * rc[f]!;
        }
      }
    }
  }

  /** acc[j] += Σ_fast cos((s + j)·θ) for j in [v0, v1), the state holding cos/sin at s + v0. */
  private addFast(v0: number, v1: number): void {
    const acc = this.acc;
    const { fK, fCos, fSin, stC, stS } = this;
    for (let g = 0; g < this.fastCount; g += 4) {
      const k0 = fK[g]!;
      const k1 = fK[g + 1]!;
      const k2 = fK[g + 2]!;
      const k3 = fK[g + 3]!;
      // a = cos(mθ), b = cos((m−1)θ) = cos(mθ)cosθ + sin(mθ)sinθ
      let a0 = stC[g]!;
      let a1 = stC[g + 1]!;
      let a2 = stC[g + 2]!;
      let a3 = stC[g + 3]!;
      let b0 = a0 * fCos[g]! + stS[g]! * fSin[g]!;
      let b1 = a1 * fCos[g + 1]! + stS[g + 1]! * fSin[g + 1]!;
      let b2 = a2 * fCos[g + 2]! + stS[g + 2]! * fSin[g + 2]!;
      let b3 = a3 * fCos[g + 3]! + stS[g + 3]! * fSin[g + 3]!;
      for (let j = v0; j < v1; j++) {
        acc[j] += a0 + a1 + (a2 + a3);
        const c0 = k0 * a0 - b0;
        const c1 = k1 * a1 - b1;
        const c2 = k2 * a2 - b2;
        const c3 = k3 * a3 - b3;
        b0 = a0;
        b1 = a1;
        b2 = a2;
        b3 = a3;
        a0 = c0;
        a1 = c1;
        a2 = c2;
        a3 = c3;
      }
    }
  }
}

// ── argument checks ───────────────────────────────────────────────────────────────────────────────────────────


