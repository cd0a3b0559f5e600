/**
 * The training loop (nn/train.ts) on a linear regression: the loss falls, the schedule sets lr before each step,
 * clipping bounds the norm the optimizer sees, a non-finite loss or gradient stops with the step named and no update,
 * evaluation runs on its cadence (under noGrad, Module in eval mode), and the progress output is an in-place line
 * on a TTY and plain lines elsewhere.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Generator, Parameter, SGD, Tensor, ValueError, isGradEnabled, matmul, mseLoss, randn, sqrt, warmupCosineLr,
} from '../../core/index.js';
import { Linear } from '../../nn/linear.js';
import { formatProgress, train, type ProgressOutput, type TrainProgress } from '../../nn/train.js';

const N = 32;
const TRUE_W = [1.5, -2, 0.5];
const TRUE_B = 0.3;

/** A regression problem y = X·w* + b* with parameters w [3, 1], b [1] started at zero. */
function regression(): { w: Parameter; b: Parameter; lossFn: () => Tensor } {
  const g = new Generator(11);
  const X = randn([N, 3], { generator: g, dtype: 'float64' });
  const y = new Tensor(new Float64Array(N), [N, 1]);
  for (let i = 0; i < N; i++) y.data[i] = TRUE_B + TRUE_W.reduce((s, wj, j) => s + wj * X.data[i * 3 + j]!, 0);
  const w = new Parameter(new Float64Array(3), [3, 1]);
  const b = new Parameter(new Float64Array(1), [1]);
  return { w, b, lossFn: () => mseLoss(matmul(X, w).add(b), y) };
}

/** Collects writes; isTTY and columns as given. */
function sink(isTTY: boolean, columns?: number): ProgressOutput & { writes: string[] } {
  const writes: string[] = [];
  return { isTTY, ...(columns !== undefined ? { columns } : {}), writes, write: (s: string) => void writes.push(s) };
}

test('a linear regression trains: the loss falls by 100× and the parameters approach the truth', () => {
  const { w, b, lossFn } = regression();
  const result = train([w, b], lossFn, { steps: 200, optimizer: new SGD([w, b], { lr: 0.1 }), output: null });
  assert.is(result.losses.length, 200);
  assert.ok(result.losses.every(Number.isFinite));
  assert.ok(result.losses[199]! < result.losses[0]! / 100, `loss ${result.losses[0]} → ${result.losses[199]}`);
  TRUE_W.forEach((wj, j) => assert.ok(Math.abs(w.data[j]! - wj) < 1e-2, `w[${j}] = ${w.data[j]}`));
  assert.ok(Math.abs(b.data[0]! - TRUE_B) < 1e-2, `b = ${b.data[0]}`);
  assert.ok(result.seconds >= 0);
  assert.equal(result.valLosses, []);
});

test('a Module is accepted in place of a parameter list', () => {
  const lin = new Linear(3, 1, { dtype: 'float64' });
  const x = randn([16, 3], { generator: new Generator(2), dtype: 'float64' });
  const target = new Tensor(new Float64Array(16).fill(1), [16, 1]);
  const result = train(lin, () => mseLoss(lin.forward(x), target), { steps: 100, optimizer: new SGD(lin.parameters(), { lr: 0.1 }), output: null });
  assert.ok(result.losses[99]! < result.losses[0]! / 10, `loss ${result.losses[0]} → ${result.losses[99]}`);
});

test('the schedule sets optimizer.lr before each step (0-based), as seen by lossFn, the update and onStep', () => {
  const { w, b, lossFn } = regression();
  const opt = new SGD([w, b], { lr: 123 });
  const schedule = (s: number): number => warmupCosineLr(s, { maxLr: 0.05, warmupSteps: 5, totalSteps: 20, minLr: 0.001 });
  const seenInLoss: number[] = [];
  const seenInProgress: TrainProgress[] = [];
  train([w, b], (s) => { seenInLoss.push(opt.lr); assert.is(opt.lr, schedule(s)); return lossFn(); }, {
    steps: 20, optimizer: opt, schedule, output: null, onStep: (p) => seenInProgress.push(p),
  });
  const want = Array.from({ length: 20 }, (_, s) => schedule(s));
  assert.equal(seenInLoss, want);
  assert.equal(seenInProgress.map((p) => p.lr), want);
  assert.equal(seenInProgress.map((p) => p.step), Array.from({ length: 20 }, (_, s) => s + 1));
  assert.ok(seenInProgress.every((p) => p.steps === 20 && p.etaSeconds >= 0 && p.tokensPerSecond === 0));
  assert.is(seenInProgress[19]!.etaSeconds, 0);
  assert.throws(() => train([w, b], lossFn, { steps: 3, optimizer: opt, schedule: () => NaN, output: null }), (e: unknown) => e instanceof ValueError && e.arg === 'schedule');
});

test('clipGradNorm bounds the global gradient norm the optimizer sees (and is not vacuous here)', () => {
  class NormRecordingSGD extends SGD {
    norms: number[] = [];
    override step(): void {
      let sq = 0;
      for (const p of this.params) if (p.grad) for (const v of p.grad.data) sq += v * v;
      this.norms.push(Math.sqrt(sq));
      super.step();
    }
  }
  const run = (clip?: number): number[] => {
    const { w, b, lossFn } = regression();
    const opt = new NormRecordingSGD([w, b], { lr: 0.01 });
    train([w, b], lossFn, { steps: 10, optimizer: opt, output: null, ...(clip !== undefined ? { clipGradNorm: clip } : {}) });
    return opt.norms;
  };
  const unclipped = run();
  assert.ok(unclipped.every((n) => n > 0.5), `unclipped norms ${unclipped}`);
  const clipped = run(0.5);
  clipped.forEach((n, i) => assert.ok(n <= 0.5 + 1e-9, `step ${i}: norm ${n} > 0.5`));
  assert.throws(() => run(0), (e: unknown) => e instanceof ValueError && e.arg === 'clipGradNorm');
});

test('a NaN loss stops with a ValueError naming the step, before that step updates anything', () => {
  const { w, b, lossFn } = regression();
  let snapshot: number[] = [];
  const err = (() => {
    try {
      train([w, b], (s) => (s === 3 ? lossFn().mul(NaN) : lossFn()), {
        steps: 10, optimizer: new SGD([w, b], { lr: 0.1 }), output: null, onStep: () => (snapshot = [...w.data, ...b.data]),
      });
    } catch (e) {
      return e;
    }
    return null;
  })();
  assert.ok(err instanceof ValueError, `got ${String(err)}`);
  assert.ok(/loss is NaN at step 3\b/.test((err as ValueError).message), (err as ValueError).message);
  assert.is((err as ValueError).op, 'train');
  assert.equal([...w.data, ...b.data], snapshot, 'parameters as after step 2');
});

test('a non-finite gradient with a finite loss also stops, naming the step', () => {
  const w = new Parameter(new Float64Array([1]), [1]);
  // sqrt at 0: the loss is 0 but d sqrt/dx = +∞
  const lossFn = (s: number): Tensor => (s < 2 ? w.sub(1).square().sum() : sqrt(w.sub(w.detach())).sum());
  assert.throws(
    () => train([w], lossFn, { steps: 5, optimizer: new SGD([w], { lr: 0.1 }), output: null }),
    (e: unknown) => e instanceof ValueError && /gradient norm is (Infinity|NaN) at step 2\b/.test(e.message),
  );
  assert.is(w.data[0], 1);
});

test('TTY output: one line rewritten with \\r and cleared with \\x1b[K, a single newline at the end', () => {
  const { w, b, lossFn } = regression();
  const out = sink(true, 200);
  train([w, b], lossFn, { steps: 30, optimizer: new SGD([w, b], { lr: 0.1 }), output: out, tokensPerStep: 64 });
  const all = out.writes.join('');
  assert.ok(out.writes.length >= 2, `writes: ${out.writes.length}`);
  out.writes.forEach((s, i) => {
    assert.ok(s.startsWith('\r') && s.includes('\x1b[K'), `write ${i}: ${JSON.stringify(s)}`);
    assert.is(s.includes('\n'), i === out.writes.length - 1, `write ${i} newline`);
  });
  assert.is(all.split('\n').length - 1, 1);
  const last = out.writes[out.writes.length - 1]!;
  assert.match(last, /^\rstep 30\/30 │ loss \d+\.\d{4} │ lr 1\.0e-1 │ [\d.]+[kMG]? tok\/s │ ETA 0:00\x1b\[K\n$/);
  assert.match(out.writes[0]!, /^\rstep 1\/30 │/);

  const narrow = sink(true, 24);
  train([w, b], lossFn, { steps: 5, optimizer: new SGD([w, b], { lr: 0.1 }), output: narrow });
  for (const s of narrow.writes) assert.ok(s.replace('\r', '').replace('\x1b[K', '').replace('\n', '').length <= 23, JSON.stringify(s));
});

test('TTY output: an error ends the open progress line before propagating', () => {
  const { w, b, lossFn } = regression();
  const out = sink(true, 200);
  assert.throws(() => train([w, b], (s) => (s === 4 ? lossFn().mul(Infinity) : lossFn()), { steps: 10, optimizer: new SGD([w, b], { lr: 0.1 }), output: out }));
  assert.is(out.writes[out.writes.length - 1], '\n');
});

test('non-TTY output: a plain line every logEvery steps and at the end, no \\r or escape codes', () => {
  const { w, b, lossFn } = regression();
  const out = sink(false);
  train([w, b], lossFn, { steps: 22, logEvery: 5, optimizer: new SGD([w, b], { lr: 0.1 }), output: out, evaluate: () => 1.25, evalEvery: 10 });
  const text = out.writes.join('');
  assert.not.ok(/[\r\x1b]/.test(text), JSON.stringify(text));
  const lines = text.split('\n').filter((l) => l !== '');
  assert.equal(lines.map((l) => /^step (\d+)\/22 │/.exec(l)?.[1]), ['5', '10', '15', '20', '22']);
  assert.ok(out.writes.every((s) => s.endsWith('\n')));
  assert.not.ok(lines[0]!.includes('val'), 'no val before the first evaluation');
  assert.ok(lines[1]!.includes('val 1.2500'), lines[1]);
  assert.ok(/ it\/s │ ETA \d+:\d\d$/.test(lines[4]!), lines[4]); // no tokensPerStep → steps per second

  const dflt = sink(false);
  train([w, b], lossFn, { steps: 40, optimizer: new SGD([w, b], { lr: 0.1 }), output: dflt });
  assert.is(dflt.writes.length, 20, 'default logEvery = steps/20');
});

test('progress never shows an older evaluation as current: each evaluation is logged when it runs, later lines name its step', () => {
  // evalEvery 7 is not a multiple of logEvery 5: evaluations at 7, 14 and 20 (the end), plain lines every 5 steps
  const { w, b, lossFn } = regression();
  const out = sink(false);
  let evals = 0;
  const progress: TrainProgress[] = [];
  train([w, b], lossFn, {
    steps: 20, logEvery: 5, evalEvery: 7, optimizer: new SGD([w, b], { lr: 0.1 }), output: out,
    evaluate: () => ++evals, onStep: (p) => progress.push(p), // the k-th evaluation returns k, so a line shows which it printed
  });
  const lines = out.writes.join('').split('\n').filter((l) => l !== '');
  const val = (l: string): string | undefined => /│ (val [^│]*) │/.exec(l)?.[1];
  assert.equal(lines.map((l) => [/^step (\d+)\/20 │/.exec(l)?.[1], val(l)]), [
    ['5', undefined],
    ['7', 'val 1.0000'], // logged at the step that evaluated, though 7 is not a multiple of logEvery
    ['10', 'val 1.0000 (step 7)'], // an earlier evaluation says when it ran
    ['14', 'val 2.0000'],
    ['15', 'val 2.0000 (step 14)'],
    ['20', 'val 3.0000'],
  ]);
  assert.equal(progress.map((p) => p.valStep), [...Array(6).fill(undefined), ...Array(7).fill(7), ...Array(6).fill(14), 20]);
  assert.is(formatProgress({ ...progress[9]!, tokensPerSecond: 0, etaSeconds: 0 }).includes('│ val 1.0000 (step 7) │'), true);
  assert.is(formatProgress({ ...progress[6]!, tokensPerSecond: 0, etaSeconds: 0 }).includes('│ val 1.0000 │'), true, 'a fresh evaluation has no step note');
  assert.throws(() => formatProgress({ ...progress[9]!, valStep: 11 }), (e: unknown) => e instanceof ValueError && e.arg === 'p.valStep', 'valStep after step');

  const tty = sink(true);
  train([w, b], lossFn, { steps: 20, evalEvery: 7, optimizer: new SGD([w, b], { lr: 0.1 }), output: tty, evaluate: () => 0.5 });
  const drawn = tty.writes.map((s) => s.replace(/^\r/, '').replace(/\x1b\[K\n?$/, ''));
  const at = (step: number): string => drawn.filter((l) => l.startsWith(`step ${step}/20 │`)).at(-1) ?? '';
  assert.ok(at(7).includes('│ val 0.5000 │'), `a TTY redraws at each evaluation: ${at(7)}`);
});

test('evaluate runs every evalEvery steps and at the end, under noGrad, with a Module in eval mode', () => {
  const lin = new Linear(3, 1, { dtype: 'float64' });
  const x = randn([8, 3], { generator: new Generator(4), dtype: 'float64' });
  const target = new Tensor(new Float64Array(8), [8, 1]);
  const calls: Array<{ grad: boolean; training: boolean }> = [];
  const progress: TrainProgress[] = [];
  const evaluate = (): number => {
    calls.push({ grad: isGradEnabled(), training: lin.training });
    return mseLoss(lin.forward(x), target).item();
  };
  const opt = new SGD(lin.parameters(), { lr: 0.05 });
  const r = train(lin, () => mseLoss(lin.forward(x), target), { steps: 10, optimizer: opt, output: null, evaluate, evalEvery: 4, onStep: (p) => progress.push(p) });
  assert.equal(r.valLosses.map((v) => v.step), [4, 8, 10]);
  assert.ok(calls.every((c) => !c.grad && !c.training), JSON.stringify(calls));
  assert.ok(lin.training, 'training mode restored');
  assert.is(progress[2]!.valLoss, undefined);
  assert.is(progress[3]!.valLoss, r.valLosses[0]!.loss);
  assert.is(progress[9]!.valLoss, r.valLosses[2]!.loss);
  assert.ok(r.valLosses[2]!.loss < r.valLosses[0]!.loss);

  const r2 = train(lin, () => mseLoss(lin.forward(x), target), { steps: 10, optimizer: opt, output: null, evaluate, evalEvery: 5 });
  assert.equal(r2.valLosses.map((v) => v.step), [5, 10], 'no second evaluation at the end when the last step is a multiple');
  const r3 = train(lin, () => mseLoss(lin.forward(x), target), { steps: 7, optimizer: opt, output: null, evaluate });
  assert.equal(r3.valLosses.map((v) => v.step), [7], 'without evalEvery: only at the end');
});

test('option errors are ValueErrors naming the option', () => {
  const { w, b, lossFn } = regression();
  const opt = new SGD([w, b], { lr: 0.1 });
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ steps: -1 }, 'steps'],
    [{ steps: 2.5 }, 'steps'],
    [{ steps: 3, evalEvery: 0 }, 'evalEvery'],
    [{ steps: 3, logEvery: 1.5 }, 'logEvery'],
    [{ steps: 3, tokensPerStep: -4 }, 'tokensPerStep'],
  ];
  for (const [o, arg] of cases) {
    assert.throws(() => train([w, b], lossFn, { optimizer: opt, output: null, ...o } as never), (e: unknown) => e instanceof ValueError && e.arg === arg, arg);
  }
});

test.run();
