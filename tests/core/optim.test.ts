/**
 * Optimizers (core/optim.ts) against independent float64 loops written here from the published update rules
 * (torch.optim.SGD / Adam / AdamW documentation: Sutskever et al. momentum, Kingma & Ba 2015, Loshchilov & Hutter
 * 2019), with parameters whose gradient is null on some steps (they are skipped: no state change, no step count).
 * Also clipGradNorm (torch.nn.utils.clip_grad_norm_) and the warmup-cosine schedule.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Adam, AdamW, DTypeError, SGD, Tensor, ValueError, clipGradNorm, tensor, warmupCosineLr, type Optimizer, type ParamGroup } from '../../core/index.js';
import { assertClose } from '../helpers/close.js';
import { fcParams, valuesArb } from '../helpers/fc.js';

const f64 = (values: readonly number[]): Tensor => tensor(Float64Array.from(values), [values.length], { dtype: 'float64' });
const TOL = { rtol: 1e-12, atol: 1e-12 };

/** Two parameters (sizes 1..4), T steps of gradients (null = no gradient that step) and learning rates. */
interface Run {
  init: number[][];
  grads: (number[] | null)[][]; // grads[t][p]
  lrs: number[];
}
const runArb: fc.Arbitrary<Run> = fc
  .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 7 }))
  .chain(([n0, n1, T]) =>
    fc.record({
      init: fc.tuple(valuesArb(n0), valuesArb(n1)),
      grads: fc.array(fc.tuple(fc.option(valuesArb(n0), { freq: 3 }), fc.option(valuesArb(n1), { freq: 3 })), { minLength: T, maxLength: T }),
      lrs: fc.array(fc.double({ min: 0, max: 0.5, noNaN: true }), { minLength: T, maxLength: T }),
    }),
  );

/** Drive an optimizer through a run (setting lr and .grad before each step); returns the parameters after each step. */
function drive(make: (params: Tensor[]) => Optimizer, run: Run): number[][][] {
  const params = run.init.map((v) => f64(v));
  const opt = make(params);
  return run.grads.map((gs, t) => {
    opt.lr = run.lrs[t]!;
    params.forEach((p, i) => (p.grad = gs[i] === null ? null : f64(gs[i]!)));
    opt.step();
    return params.map((p) => Array.from(p.data));
  });
}

function compare(got: number[][][], want: number[][][]): void {
  got.forEach((step, t) => step.forEach((p, i) => assertClose(p, want[t]![i]!, TOL, `step ${t + 1}, param ${i}`)));
}

// ── SGD ──

interface SGDHyper { momentum: number; dampening: number; nesterov: boolean; weightDecay: number }

/** torch.optim.SGD, per element: g ← g + λθ; b ← g (first step) or μb + (1 − τ)g; g ← nesterov ? g + μb : b; θ ← θ − γg. */
function sgdReference(run: Run, h: SGDHyper): number[][][] {
  const theta = run.init.map((v) => [...v]);
  const buf: (number[] | null)[] = theta.map(() => null);
  return run.grads.map((gs, t) => {
    gs.forEach((gIn, i) => {
      if (gIn === null) return;
      const th = theta[i]!;
      const g = gIn.map((gj, j) => gj + h.weightDecay * th[j]!);
      let d = g;
      if (h.momentum !== 0) {
        const b = buf[i] === null ? [...g] : buf[i]!.map((bj, j) => h.momentum * bj + (1 - h.dampening) * g[j]!);
        buf[i] = b;
        d = h.nesterov ? g.map((gj, j) => gj + h.momentum * b[j]!) : b;
      }
      theta[i] = th.map((x, j) => x - run.lrs[t]! * d[j]!);
    });
    return theta.map((v) => [...v]);
  });
}

test('SGD (plain, momentum, dampening, nesterov, weight decay) matches the published update loop step by step', () => {
  const hyperArb: fc.Arbitrary<SGDHyper> = fc.oneof(
    fc.record({ momentum: fc.constant(0), dampening: fc.constant(0), nesterov: fc.constant(false), weightDecay: fc.constantFrom(0, 0.1) }),
    fc.record({ momentum: fc.double({ min: 0.05, max: 0.99, noNaN: true }), dampening: fc.double({ min: 0, max: 0.9, noNaN: true }), nesterov: fc.constant(false), weightDecay: fc.double({ min: 0, max: 0.5, noNaN: true }) }),
    fc.record({ momentum: fc.double({ min: 0.05, max: 0.99, noNaN: true }), dampening: fc.constant(0), nesterov: fc.constant(true), weightDecay: fc.double({ min: 0, max: 0.5, noNaN: true }) }),
  );
  fc.assert(
    fc.property(runArb, hyperArb, (run, h) => {
      compare(drive((ps) => new SGD(ps, { lr: 0.1, ...h }), run), sgdReference(run, h));
    }),
    fcParams(100),
  );
});

// ── Adam / AdamW ──

interface AdamHyper { b1: number; b2: number; eps: number; weightDecay: number }

/**
 * torch.optim.Adam / AdamW, per element, with t counting this parameter's own steps:
 *   AdamW: θ ← θ − γλθ;  Adam: g ← g + λθ
 *   m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;  θ ← θ − (γ/(1 − β₁ᵗ))·m / (√v/√(1 − β₂ᵗ) + ε)
 */
function adamReference(run: Run, h: AdamHyper, decoupled: boolean): number[][][] {
  const theta = run.init.map((v) => [...v]);
  const m = theta.map((v) => v.map(() => 0));
  const v2 = theta.map((v) => v.map(() => 0));
  const steps = theta.map(() => 0);
  return run.grads.map((gs, t) => {
    const lr = run.lrs[t]!;
    gs.forEach((gIn, i) => {
      if (gIn === null) return;
      const k = ++steps[i]!;
      let th = theta[i]!;
      if (decoupled) th = th.map((x) => x - lr * h.weightDecay * x);
      const g = decoupled ? gIn : gIn.map((gj, j) => gj + h.weightDecay * th[j]!);
      m[i] = m[i]!.map((mj, j) => h.b1 * mj + (1 - h.b1) * g[j]!);
      v2[i] = v2[i]!.map((vj, j) => h.b2 * vj + (1 - h.b2) * g[j]! * g[j]!);
      const stepSize = lr / (1 - h.b1 ** k);
      const root2 = Math.sqrt(1 - h.b2 ** k);
      theta[i] = th.map((x, j) => x - (stepSize * m[i]![j]!) / (Math.sqrt(v2[i]![j]!) / root2 + h.eps));
    });
    return theta.map((v) => [...v]);
  });
}

const adamHyperArb: fc.Arbitrary<AdamHyper> = fc.record({
  b1: fc.double({ min: 0, max: 0.99, noNaN: true }),
  b2: fc.double({ min: 0.5, max: 0.999, noNaN: true }),
  eps: fc.constantFrom(1e-8, 1e-6, 1e-3),
  weightDecay: fc.constantFrom(0, 0.01, 0.3),
});

test('Adam (with L2 weight decay) matches the published update loop, bias correction per parameter', () => {
  fc.assert(
    fc.property(runArb, adamHyperArb, (run, h) => {
      const got = drive((ps) => new Adam(ps, { betas: [h.b1, h.b2], eps: h.eps, weightDecay: h.weightDecay }), run);
      compare(got, adamReference(run, h, false));
    }),
    fcParams(100),
  );
});

test('AdamW (decoupled weight decay) matches the published update loop; its default λ is 0.01', () => {
  fc.assert(
    fc.property(runArb, adamHyperArb, (run, h) => {
      const got = drive((ps) => new AdamW(ps, { betas: [h.b1, h.b2], eps: h.eps, weightDecay: h.weightDecay }), run);
      compare(got, adamReference(run, h, true));
      const dflt = drive((ps) => new AdamW(ps), run);
      compare(dflt, adamReference(run, { b1: 0.9, b2: 0.999, eps: 1e-8, weightDecay: 0.01 }, true));
    }),
    fcParams(60),
  );
});

test('parameter groups: each group steps at lr × its lrScale (the published loops at that rate), whatever lr a schedule sets', () => {
  fc.assert(
    fc.property(runArb, adamHyperArb, fc.double({ min: 0, max: 2, noNaN: true }), fc.double({ min: 0, max: 2, noNaN: true }), (run, h, s0, s1) => {
      const grouped = (make: (groups: ParamGroup[]) => Optimizer): number[][][] =>
        drive((ps) => make([{ params: [ps[0]!], lrScale: s0 }, { params: [ps[1]!], lrScale: s1 }]), run);
      const at = (scale: number): Run => ({ ...run, lrs: run.lrs.map((lr) => lr * scale) });
      const check = (name: string, got: number[][][], want0: number[][][], want1: number[][][]): void =>
        got.forEach((step, t) => {
          assertClose(step[0]!, want0[t]![0]!, TOL, `${name} step ${t + 1}, group 0 (lrScale ${s0})`);
          assertClose(step[1]!, want1[t]![1]!, TOL, `${name} step ${t + 1}, group 1 (lrScale ${s1})`);
        });
      const adam = { betas: [h.b1, h.b2] as [number, number], eps: h.eps, weightDecay: h.weightDecay };
      check('AdamW', grouped((g) => new AdamW(g, adam)), adamReference(at(s0), h, true), adamReference(at(s1), h, true));
      check('Adam', grouped((g) => new Adam(g, adam)), adamReference(at(s0), h, false), adamReference(at(s1), h, false));
      const sgd = { momentum: 0.9, dampening: 0, nesterov: true, weightDecay: h.weightDecay };
      check('SGD', grouped((g) => new SGD(g, { lr: 0, ...sgd })), sgdReference(at(s0), sgd), sgdReference(at(s1), sgd));
    }),
    fcParams(40),
  );
  const [a, b, c] = [f64([1]), f64([2]), f64([3])];
  const opt = new AdamW([{ params: [a, b], lrScale: 0.5 }, { params: [c], lrScale: 2 }]);
  assert.equal(opt.params, [a, b, c], 'one flat parameter list, in group order');
  assert.equal(opt.lrScales, [0.5, 0.5, 2]);
  assert.equal(new SGD([a, b], { lr: 1 }).lrScales, [1, 1], 'plain parameters: every scale 1');
  assert.equal(new SGD([], { lr: 1 }).params, [], 'no parameters');
});

test('Adam\'s first step moves every coordinate with a non-zero gradient by ≈ lr against its sign (m̂/√v̂ = sign g)', () => {
  fc.assert(
    fc.property(valuesArb(4), valuesArb(4).filter((g) => g.every((x) => Math.abs(x) > 1e-2)), (init, g) => {
      const p = f64(init);
      p.grad = f64(g);
      new Adam([p], { lr: 0.01 }).step();
      assertClose(Array.from(p.data), init.map((x, j) => x - 0.01 * Math.sign(g[j]!)), { rtol: 0, atol: 1e-7 }, 'first step');
    }),
    fcParams(30),
  );
});

test('float32 parameters: updates computed in float64 state and stored rounded to float32', () => {
  const init = [0.1, -0.7, 1.3];
  const grads = [[0.5, -0.25, 1], [0.1, 0.2, -0.3], [1, 1, 1]];
  const p = tensor(init, { requiresGrad: true });
  const opt = new SGD([p], { lr: 0.1, momentum: 0.9 });
  const theta = init.map(Math.fround);
  const b = [0, 0, 0];
  grads.forEach((g, t) => {
    p.grad = tensor(g);
    opt.step();
    for (let j = 0; j < 3; j++) {
      b[j] = t === 0 ? Math.fround(g[j]!) : 0.9 * b[j]! + Math.fround(g[j]!);
      theta[j] = Math.fround(theta[j]! - 0.1 * b[j]!);
    }
  });
  assert.is(p.dtype, 'float32');
  assert.equal(Array.from(p.data), theta);
});

test('zeroGrad clears every .grad; step skips parameters without one', () => {
  const a = f64([1, 2]);
  const b = f64([3]);
  a.grad = f64([1, 1]);
  const opt = new SGD(new Set([a, b]), { lr: 0.5 });
  opt.step();
  assert.equal(Array.from(a.data), [0.5, 1.5]);
  assert.equal(Array.from(b.data), [3]);
  opt.zeroGrad();
  assert.is(a.grad, null);
  assert.is(b.grad, null);
  assert.is(opt.params.length, 2);
});

// ── clipGradNorm ──

test('clipGradNorm returns the pre-clip global L2 norm, scales by maxNorm/(norm + 1e-6) when that is < 1, else leaves grads alone', () => {
  const paramsArb = fc.array(fc.integer({ min: 1, max: 4 }).chain((n) => fc.option(valuesArb(n, 5), { freq: 4 })), { minLength: 1, maxLength: 4 });
  fc.assert(
    // maxNorm is drawn relative to the norm so that both regimes (clip, no-op) are common
    fc.property(paramsArb, fc.double({ min: 0.2, max: 3, noNaN: true }), (grads, ratio) => {
      const params = grads.map((g) => {
        const p = f64(g ?? [0]);
        p.grad = g === null ? null : f64(g);
        return p;
      });
      let sq = 0;
      for (const g of grads) for (const x of g ?? []) sq += x * x;
      const norm = Math.sqrt(sq);
      const maxNorm = norm > 0 ? norm * ratio : ratio;
      const got = clipGradNorm(params, maxNorm);
      assertClose([got], [norm], TOL, 'returned norm');
      const coef = maxNorm / (norm + 1e-6);
      grads.forEach((g, i) => {
        if (g === null) return assert.is(params[i]!.grad, null);
        const want = coef < 1 ? g.map((x) => x * coef) : g;
        assertClose(Array.from(params[i]!.grad!.data), want, TOL, `grad ${i}`);
      });
      let after = 0;
      for (const p of params) for (const x of p.grad?.data ?? []) after += x * x;
      after = Math.sqrt(after);
      if (coef < 1) {
        // maxNorm − after = maxNorm·1e-6/(norm + 1e-6): ≈ maxNorm unless the norm itself is ≲ 1e-6
        assert.ok(after <= maxNorm, 'clipped to at most maxNorm');
        assert.ok(maxNorm - after <= 1e-6 * (maxNorm / norm) + 1e-12, `clipped to ≈ maxNorm: ${after} vs ${maxNorm}`);
      } else {
        assert.ok(norm <= maxNorm, 'only norms ≤ maxNorm are left alone');
        assert.is(after, norm, 'no-op below maxNorm');
      }
    }),
    fcParams(100),
  );
});

// ── schedule ──

test('warmupCosineLr: warmup start/end, start of decay, middle, end and past end', () => {
  const o = { maxLr: 0.3, minLr: 0.01, warmupSteps: 10, totalSteps: 110 };
  assertClose([warmupCosineLr(0, o)], [0.3 / 10], TOL, 'step 0 = maxLr/warmupSteps');
  assertClose([warmupCosineLr(9, o)], [0.3], TOL, 'last warmup step = maxLr');
  assertClose([warmupCosineLr(10, o)], [0.3], TOL, 'decay starts at maxLr');
  assertClose([warmupCosineLr(60, o)], [(0.3 + 0.01) / 2], TOL, 'half way through the decay: (max + min)/2');
  assertClose([warmupCosineLr(35, o)], [0.01 + 0.29 * (1 + Math.SQRT1_2) / 2], TOL, 'a quarter: cos(π/4)');
  assert.is(warmupCosineLr(110, o), 0.01);
  assert.is(warmupCosineLr(1000, o), 0.01);
  assertClose([warmupCosineLr(0, { maxLr: 1, warmupSteps: 0, totalSteps: 4 })], [1], TOL, 'no warmup: starts at maxLr');
  assert.is(warmupCosineLr(3, { maxLr: 1, warmupSteps: 0, totalSteps: 4 }) < 0.2, true);
});

test('warmupCosineLr: linear warmup, non-increasing cosine within [minLr, maxLr], point-symmetric about its middle', () => {
  const arb = fc
    .tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 1, max: 60 }), fc.double({ min: 0.01, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }))
    .map(([w, d, maxLr, frac]) => ({ warmupSteps: w, totalSteps: w + d, maxLr, minLr: maxLr * frac }));
  fc.assert(
    fc.property(arb, (o) => {
      const lr = (s: number): number => warmupCosineLr(s, o);
      for (let s = 0; s + 1 < o.warmupSteps; s++) assertClose([lr(s + 1) - lr(s)], [o.maxLr / o.warmupSteps], { rtol: 1e-9, atol: 1e-15 }, `warmup slope at ${s}`);
      for (let s = o.warmupSteps; s < o.totalSteps + 3; s++) {
        assert.ok(lr(s) <= o.maxLr + 1e-15 && lr(s) >= o.minLr - 1e-15, `lr(${s}) = ${lr(s)} in range`);
        assert.ok(lr(s + 1) <= lr(s) + 1e-15, `non-increasing at ${s}`);
      }
      // cos(πp) = −cos(π(1 − p)): lr(warmup + k) + lr(total − k) = maxLr + minLr
      for (let k = 0; k <= o.totalSteps - o.warmupSteps; k++) {
        assertClose([lr(o.warmupSteps + k) + lr(o.totalSteps - k)], [o.maxLr + o.minLr], { rtol: 1e-12, atol: 1e-15 }, `symmetry at ${k}`);
      }
    }),
    fcParams(60),
  );
});

// ── bad options ──

test('bad options → ValueError naming the option', () => {
  const p = [f64([1])];
  const cases: [string, string, () => unknown][] = [
    ['SGD', 'lr', () => new SGD(p, { lr: -0.1 })],
    ['SGD', 'lr', () => new SGD(p, { lr: Number.NaN })],
    ['SGD', 'lr', () => new SGD(p, {} as { lr: number })],
    ['SGD', 'momentum', () => new SGD(p, { lr: 0.1, momentum: -0.5 })],
    ['SGD', 'weightDecay', () => new SGD(p, { lr: 0.1, weightDecay: -1 })],
    ['SGD', 'nesterov', () => new SGD(p, { lr: 0.1, nesterov: true })],
    ['SGD', 'nesterov', () => new SGD(p, { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true })],
    ['Adam', 'lr', () => new Adam(p, { lr: -1 })],
    ['Adam', 'betas', () => new Adam(p, { betas: [1, 0.999] })],
    ['Adam', 'betas', () => new Adam(p, { betas: [0.9, -0.1] })],
    ['Adam', 'eps', () => new Adam(p, { eps: -1e-8 })],
    ['Adam', 'weightDecay', () => new Adam(p, { weightDecay: -0.1 })],
    ['AdamW', 'betas', () => new AdamW(p, { betas: [0.9, 1] })],
    ['AdamW', 'weightDecay', () => new AdamW(p, { weightDecay: Number.NaN })],
    ['clipGradNorm', 'maxNorm', () => clipGradNorm(p, 0)],
    ['clipGradNorm', 'maxNorm', () => clipGradNorm(p, Number.NaN)],
    ['warmupCosineLr', 'warmupSteps', () => warmupCosineLr(0, { maxLr: 1, warmupSteps: 5, totalSteps: 4 })],
    ['warmupCosineLr', 'warmupSteps', () => warmupCosineLr(0, { maxLr: 1, warmupSteps: -1, totalSteps: 4 })],
    ['warmupCosineLr', 'totalSteps', () => warmupCosineLr(0, { maxLr: 1, warmupSteps: 0, totalSteps: 0 })],
    ['warmupCosineLr', 'warmupSteps', () => warmupCosineLr(0, { maxLr: 1, warmupSteps: Number.NaN, totalSteps: 4 })],
    ['warmupCosineLr', 'step', () => warmupCosineLr(-1, { maxLr: 1, warmupSteps: 2, totalSteps: 4 })],
    ['AdamW', 'params[0].lrScale', () => new AdamW([{ params: p, lrScale: -1 }])],
    ['SGD', 'params[1].lrScale', () => new SGD([{ params: p, lrScale: 1 }, { params: [f64([2])], lrScale: Number.NaN }], { lr: 0.1 })],
    ['Adam', 'params', () => new Adam([{ params: p, lrScale: 1 }, { params: p, lrScale: 2 }])],
  ];
  for (const [op, arg, make] of cases) {
    assert.throws(make, (e: unknown) => e instanceof ValueError && e.op === op && e.arg === arg && e.message.startsWith(`${op}: `), `${op} ${arg}`);
  }
  const typed = (make: () => unknown, op: string, arg: string): void =>
    assert.throws(make, (e: unknown) => e instanceof DTypeError && e.op === op && e.arg === arg && e.message.startsWith(`${op}: `), `${op} ${arg}`);
  typed(() => new AdamW([{ params: p, lrScale: 1 }, f64([2])] as never), 'AdamW', 'params');
  typed(() => new AdamW([{ params: p } as never]), 'AdamW', 'params[0].lrScale');
  typed(() => new SGD([{ params: null as never, lrScale: 1 }], { lr: 1 }), 'SGD', 'params');
});

test.run();
