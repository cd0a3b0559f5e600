/**
 * A small training loop: schedule → forward → zero grads → backward → clip → step, with a finite-loss guard,
 * periodic evaluation and a progress line (rewritten in place on a terminal, plain lines otherwise).
 * Nothing here imports a Node module: the default output is `globalThis.process?.stdout`, absent in a browser.
 */
import {
  DTypeError, Module, Optimizer, Tensor, ValueError, clipGradNorm, describeValue, expectInteger, expectNumber, noGrad,
  expectFunction, expectRequiredOptions,
} from '../core/index.js';
import { optionalFunction } from './checks.js';

/** Progress after a step. `step` counts completed steps (1…steps); the schedule and lossFn see 0-based steps. */
export interface TrainProgress {
  step: number;
  steps: number;
  /** This step's training loss. */
  loss: number;
  /** The learning rate this step used. */
  lr: number;
  /** Moving average over recent steps (evaluation time excluded); 0 when tokensPerStep is not given. */
  tokensPerSecond: number;
  /** Estimated seconds left, evaluations included. */
  etaSeconds: number;
  /** The most recent evaluation, if any has run. */
  valLoss?: number;
  /**
   * The step (completed steps) at which valLoss was measured; the progress line names it when it is not this step,
   * so an older evaluation is never shown as if it were current (`val 2.4100 (step 26)`).
   */
  valStep?: number;
}

/** Where progress goes: a TTY gets one line rewritten in place, anything else gets plain lines. */
export interface ProgressOutput {
  isTTY?: boolean;
  write(s: string): void;
  /** Terminal width: the TTY line is cut to fit. */
  columns?: number;
}

/**
 * Options of `train`: `steps`, `optimizer`, `clipGradNorm`, `schedule`, `tokensPerStep`, `evaluate`, `evalEvery`,
 * `logEvery`, `output`, `onStep`.
 */
export interface TrainOptions {
  steps: number;
  optimizer: Optimizer;
  /** Global-norm gradient clipping (default none). */
  clipGradNorm?: number;
  /** Learning-rate schedule: lr at step (0-based); sets optimizer.lr before each step. */
  schedule?: (step: number) => number;
  /** Tokens processed per step, for the tokens/s figure. */
  tokensPerStep?: number; // an integer ≥ 0
  /**
   * Evaluate (e.g. validation loss) every evalEvery steps and at the end. Runs under noGrad; when `train` was given
   * a Module, the module is in eval mode during the call and back in its previous mode after.
   */
  evaluate?: () => number;
  /** Default: only at the end. */
  evalEvery?: number;
  /** Plain-line logging interval when not a TTY (default max(1, round(steps/20))); a step that evaluates is logged too. */
  logEvery?: number;
  /** Default `process.stdout` where it exists (Node), else silent; null = silent. */
  output?: ProgressOutput | null;
  onStep?: (p: TrainProgress) => void;
}

/** What `train` returns: the loss of every step, the evaluations and the wall-clock seconds. */
export interface TrainResult {
  /** Training loss of every step. */
  losses: number[];
  /** Evaluations, at the count of steps completed when each ran. */
  valLosses: Array<{ step: number; loss: number }>;
  /** Wall-clock seconds of the whole run. */
  seconds: number;
}

const now = (): number => globalThis.performance?.now?.() ?? Date.now();

/** Weight of the newest step in the step-time moving average (bias-corrected, so early figures are not skewed). */
const EMA_ALPHA = 0.1;
/** On a TTY the line is redrawn at most this often (plus the last step and every evaluation). */
const TTY_REDRAW_MS = 50;

/**
 * Run `options.steps` optimizer steps. Per step (0-based `step`): optimizer.lr ← schedule(step); loss ← lossFn(step);
 * gradients zeroed (the optimizer's and `params`'); loss.backward(); gradients clipped to global norm
 * `clipGradNorm`; optimizer.step(). Throws a ValueError naming the step if the loss or the gradient norm is not
 * finite, before any parameter is updated with it.
 */
export function train(params: Module | readonly Tensor[], lossFn: (step: number) => Tensor, options: TrainOptions): TrainResult {
  validate(params, lossFn, options);
  const { steps, optimizer, schedule, evaluate, onStep } = options;
  const module = params instanceof Module ? params : null;
  const paramList: readonly Tensor[] = module !== null ? module.parameters() : params as readonly Tensor[];
  const maxNorm = options.clipGradNorm;
  const tokensPerStep = options.tokensPerStep ?? 0;
  const evalEvery = options.evalEvery ?? Infinity;
  const logEvery = options.logEvery ?? Math.max(1, Math.round(steps / 20));
  const output = options.output === undefined ? defaultOutput() : options.output;
  const tty = output?.isTTY === true;

  const losses: number[] = [];
  const valLosses: Array<{ step: number; loss: number }> = [];
  const start = now();
  let emaStep = 0; // bias-corrected EMA of seconds per training step
  let emaWeight = 0;
  let evalSeconds = 0;
  let evals = 0;
  let lastDraw = -Infinity;
  let lineOpen = false; // a TTY line is on screen without its newline

  const runEval = (done: number): number => {
    const t0 = now();
    const wasTraining = module?.training ?? false;
    module?.eval();
    let v: number;
    try {
      const result: unknown = noGrad(() => evaluate!());
      if (typeof result !== 'number') throw new DTypeError('train', `evaluate() returned ${describeValue(result)}, not a number`, 'evaluate');
      v = result;
    } finally {
      if (module !== null) module.train(wasTraining);
    }
    evalSeconds += (now() - t0) / 1000;
    evals++;
    valLosses.push({ step: done, loss: v });
    return v;
  };

  try {
    for (let step = 0; step < steps; step++) {
      const t0 = now();
      if (schedule !== undefined) {
        const lr: unknown = schedule(step);
        if (typeof lr !== 'number' || !(lr >= 0) || !Number.isFinite(lr)) throw new ValueError('train', `schedule(${step}) returned lr=${lr} (need a finite lr ≥ 0)`, 'schedule');
        optimizer.lr = lr;
      }
      const lr = optimizer.lr;
      const lossTensor: unknown = lossFn(step);
      if (!(lossTensor instanceof Tensor)) throw new DTypeError('train', `lossFn(${step}) returned ${describeValue(lossTensor)}, not a Tensor`, 'lossFn');
      if (lossTensor.size !== 1) throw new ValueError('train', `lossFn(${step}) returned a Tensor [${lossTensor.shape.join(',')}], not a one-element loss`, 'lossFn');
      const loss = lossTensor.item();
      if (!Number.isFinite(loss)) {
        throw new ValueError('train', `loss is ${loss} at step ${step} (0-based, of ${steps}) — stopped before updating (lower the lr, clip gradients, or check the inputs)`, 'loss');
      }
      optimizer.zeroGrad();
      for (const p of paramList) p.grad = null;
      lossTensor.backward();
      const norm = maxNorm !== undefined ? clipGradNorm(paramList, maxNorm) : gradNorm(paramList);
      if (!Number.isFinite(norm)) {
        throw new ValueError('train', `gradient norm is ${norm} at step ${step} (0-based, of ${steps}) with a finite loss ${loss} — stopped before updating`, 'loss');
      }
      optimizer.step();
      losses.push(loss);
      const stepSeconds = (now() - t0) / 1000;
      emaStep = EMA_ALPHA * stepSeconds + (1 - EMA_ALPHA) * emaStep;
      emaWeight = EMA_ALPHA + (1 - EMA_ALPHA) * emaWeight;

      const done = step + 1;
      const last = done === steps;
      let evaluated = false;
      if (evaluate !== undefined && (done % evalEvery === 0 || last)) {
        runEval(done);
        evaluated = true;
      }

      const secondsPerStep = emaStep / emaWeight;
      const remaining = steps - done;
      // evaluations still to come: the multiples of evalEvery after this step, and the final one if not a multiple
      const evalsLeft = evaluate === undefined || last ? 0 : Math.floor(steps / evalEvery) - Math.floor(done / evalEvery) + (steps % evalEvery === 0 ? 0 : 1);
      const progress: TrainProgress = {
        step: done,
        steps,
        loss,
        lr,
        tokensPerSecond: tokensPerStep > 0 && secondsPerStep > 0 ? tokensPerStep / secondsPerStep : 0,
        etaSeconds: remaining * secondsPerStep + evalsLeft * (evals > 0 ? evalSeconds / evals : 0),
      };
      if (valLosses.length > 0) {
        const latest = valLosses[valLosses.length - 1]!;
        progress.valLoss = latest.loss;
        progress.valStep = latest.step;
      }

      if (output != null) {
        if (tty) {
          const t = now();
          if (last || evaluated || done === 1 || t - lastDraw >= TTY_REDRAW_MS) {
            lastDraw = t;
            let line = progressLine(progress, secondsPerStep);
            if (output.columns !== undefined && output.columns > 1 && line.length > output.columns - 1) line = line.slice(0, output.columns - 1);
            output.write(`\r${line}\x1b[K${last ? '\n' : ''}`);
            lineOpen = !last;
          }
        } else if (last || evaluated || done % logEvery === 0) {
          output.write(`${progressLine(progress, secondsPerStep)}\n`);
        }
      }
      onStep?.(progress);
    }
  } catch (e) {
    if (lineOpen) output!.write('\n'); // keep the progress line; the error goes below it
    throw e;
  }
  if (steps === 0 && evaluate !== undefined) runEval(0);
  return { losses, valLosses, seconds: (now() - start) / 1000 };
}

/**
 * `step 120/400 │ loss 2.3456 │ val 2.4100 │ lr 3.0e-4 │ 12.3k tok/s │ ETA 0:45` (it/s when tokens are not counted);
 * `val 2.4100 (step 100)` when the evaluation shown ran at an earlier step (valStep ≠ step).
 * `p` is a TrainProgress (step and steps integers ≥ 0, valStep an integer in [0, step], lr finite, tokensPerSecond
 * and etaSeconds finite ≥ 0; loss and valLoss any number: a NaN loss prints as NaN); secondsPerStep, when given,
 * finite ≥ 0.
 */
export function formatProgress(p: TrainProgress, secondsPerStep?: number): string {
  const op = 'formatProgress';
  if (p === null || typeof p !== 'object' || Array.isArray(p)) throw new DTypeError(op, `p must be a TrainProgress object, got ${describeValue(p)}`, 'p');
  expectInteger(op, 'p.step', p.step, { min: 0 });
  expectInteger(op, 'p.steps', p.steps, { min: 0 });
  expectNumber(op, 'p.loss', p.loss, { nonFinite: true });
  if (p.valLoss !== undefined) expectNumber(op, 'p.valLoss', p.valLoss, { nonFinite: true });
  if (p.valStep !== undefined) expectInteger(op, 'p.valStep', p.valStep, { min: 0, max: p.step });
  expectNumber(op, 'p.lr', p.lr);
  expectNumber(op, 'p.tokensPerSecond', p.tokensPerSecond, { min: 0 });
  expectNumber(op, 'p.etaSeconds', p.etaSeconds, { min: 0 });
  if (secondsPerStep !== undefined) expectNumber(op, 'secondsPerStep', secondsPerStep, { min: 0 });
  return progressLine(p, secondsPerStep);
}

/** formatProgress without the checks: train's own progress, built from checked numbers, once per logged step. */
function progressLine(p: TrainProgress, secondsPerStep: number | undefined): string {
  const parts = [`step ${p.step}/${p.steps}`, `loss ${p.loss.toFixed(4)}`];
  if (p.valLoss !== undefined) parts.push(`val ${p.valLoss.toFixed(4)}${p.valStep !== undefined && p.valStep !== p.step ? ` (step ${p.valStep})` : ''}`);
  parts.push(`lr ${p.lr.toExponential(1)}`);
  if (p.tokensPerSecond > 0) parts.push(`${si(p.tokensPerSecond)} tok/s`);
  else if (secondsPerStep !== undefined && secondsPerStep > 0) parts.push(`${si(1 / secondsPerStep)} it/s`);
  parts.push(`ETA ${clock(p.etaSeconds)}`);
  return parts.join(' │ ');
}

const TRAIN_OPTIONS = ['steps', 'optimizer', 'clipGradNorm', 'schedule', 'tokensPerStep', 'evaluate', 'evalEvery', 'logEvery', 'output', 'onStep'] as const;

function validate(params: unknown, lossFn: unknown, options: TrainOptions): void {
  const op = 'train';
  if (!(params instanceof Module)) {
    if (!Array.isArray(params)) throw new DTypeError(op, `params must be a Module or an array of Tensors, got ${describeValue(params)}`, 'params');
    params.forEach((p: unknown, i) => {
      if (!(p instanceof Tensor)) throw new DTypeError(op, `params[${i}] must be a Tensor, got ${describeValue(p)}`, 'params');
    });
  }
  expectFunction(op, 'lossFn', lossFn);
  const o = expectRequiredOptions(op, options, TRAIN_OPTIONS, 'with steps and optimizer');
  expectInteger(op, 'steps', o.steps, { min: 0 });
  if (!(o.optimizer instanceof Optimizer)) throw new DTypeError(op, `optimizer must be an Optimizer (SGD, Adam, AdamW), got ${describeValue(o.optimizer)}`, 'optimizer');
  if (o.clipGradNorm !== undefined) expectNumber(op, 'clipGradNorm', o.clipGradNorm, { above: 0 });
  if (o.tokensPerStep !== undefined) expectInteger(op, 'tokensPerStep', o.tokensPerStep, { min: 0 });
  if (o.evalEvery !== undefined) expectInteger(op, 'evalEvery', o.evalEvery, { min: 1 });
  if (o.logEvery !== undefined) expectInteger(op, 'logEvery', o.logEvery, { min: 1 });
  optionalFunction(op, 'schedule', o.schedule);
  optionalFunction(op, 'evaluate', o.evaluate);
  optionalFunction(op, 'onStep', o.onStep);
  if (o.output !== undefined && o.output !== null && (typeof o.output !== 'object' || typeof o.output.write !== 'function')) {
    throw new DTypeError(op, `output must be null or an object with write(s), got ${describeValue(o.output)}`, 'output');
  }
}

function defaultOutput(): ProgressOutput | null {
  const proc = (globalThis as { process?: { stdout?: ProgressOutput } }).process;
  return proc?.stdout ?? null;
}

function gradNorm(params: readonly Tensor[]): number {
  let sq = 0;
  for (const p of params) {
    if (p.grad === null) continue;
    const d = p.grad.data;
    for (let i = 0; i < d.length; i++) sq += d[i]! * d[i]!;
  }
  return Math.sqrt(sq);
}

/** 950 → "950", 12345 → "12.3k", 2.5e6 → "2.50M"; three significant figures. */
function si(x: number): string {
  const units = ['', 'k', 'M', 'G'];
  let u = 0;
  while (x >= 999.5 && u < units.length - 1) {
    x /= 1000;
    u++;
  }
  const digits = x >= 99.95 ? 0 : x >= 9.995 ? 1 : 2;
  return `${x.toFixed(digits)}${units[u]}`;
}

/** Seconds as m:ss or h:mm:ss; "?" when unknown. */
function clock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
