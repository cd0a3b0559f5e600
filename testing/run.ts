/**
 * The machinery every checker in ropelab/testing shares: run a property with fast-check (`fc.check`, shrinking
 * on), turn the smallest failing case into a counterexample in words, and call the implementation under test
 * (a PositionalEncoding, or the user's own function of q, k and their positions) with its answer checked.
 *
 * A checker never throws because the implementation is wrong: it returns a `PropertyResult`. It throws a typed
 * error (DTypeError, ValueError, ShapeError) only when its own arguments are wrong.
 */
import fc from 'fast-check';
import { DTypeError, Tensor, describeValue, expectInteger, expectNumber, expectOptions } from '../core/index.js';
import { PositionalEncoding, type EncodedQK } from '../positional/index.js';

/**
 * The user's rotation: q [B, H, Tq, d] and k [B, Hkv, Tk, d] with their positions (qPositions [Tq] or [Tq, axes],
 * kPositions likewise) → rotated q and k of the same shapes, and optionally a multiplier on the logits.
 */
export type QKFunction = (q: Tensor, k: Tensor, qPositions: Tensor, kPositions: Tensor) => EncodedQK;

/** What a checker tests: a ropelab PositionalEncoding (its encodeQK), or the user's own QKFunction. */
export type RoPESubject = PositionalEncoding | QKFunction;

/** Settings every checker takes. */
export interface CheckOptions {
  /** Random cases to try before passing; default 100. */
  numRuns?: number;
  /** fast-check seed; default a fresh one (the result reports it, so a failure can be replayed). */
  seed?: number;
}

/** The smallest failing case that fast-check's shrinking found, described for a person. */
export interface Counterexample {
  /** One or two sentences: which positions, which shift, what was expected and what came out. */
  summary: string;
  /** The numbers behind the summary (positions, shift, inputs, outputs, difference, tolerance). */
  values: Readonly<Record<string, unknown>>;
}

/** What a checker returns: passed, or the shrunk counterexample. `message` is ready to print. */
export interface PropertyResult {
  property: string;
  pass: boolean;
  /** Cases run (on failure: up to and including the first failing one). */
  runs: number;
  seed: number;
  /** How many times fast-check shrank the first failing case. */
  shrinks: number;
  counterexample: Counterexample | null;
  message: string;
}

/** Thrown by `assertProperty` when a result did not pass; its message is the result's. */
export class PropertyFailure extends Error {
  override readonly name = 'PropertyFailure';
  readonly result: PropertyResult;
  constructor(result: PropertyResult) {
    super(result.message);
    this.result = result;
  }
}

/** Throw a PropertyFailure (the counterexample in words) unless the result passed; for use inside a test. */
export function assertProperty(result: PropertyResult): void {
  const op = 'assertProperty';
  if (typeof result !== 'object' || result === null || typeof result.pass !== 'boolean' || typeof result.message !== 'string') {
    throw new DTypeError(op, `result must be what a ropelab/testing checker returns, got ${describeValue(result)}`, 'result');
  }
  if (!result.pass) throw new PropertyFailure(result);
}

/** The options a checker shares, checked under its name: numRuns, seed, plus the checker's own keys. */
export function checkCommon<T extends CheckOptions>(op: string, options: T | undefined, known: readonly string[]): { o: T; numRuns: number; seed: number | undefined } {
  const o = expectOptions(op, 'options', options, ['numRuns', 'seed', ...known]);
  const numRuns = o.numRuns === undefined ? 100 : expectInteger(op, 'options.numRuns', o.numRuns, { min: 1, max: 1_000_000 });
  const seed = o.seed === undefined ? undefined : expectInteger(op, 'options.seed', o.seed);
  return { o, numRuns, seed };
}

/** A subject must be a PositionalEncoding or a function (q, k, qPositions, kPositions) → { q, k }. */
export function checkSubject(op: string, arg: string, subject: unknown): asserts subject is RoPESubject {
  if (!(subject instanceof PositionalEncoding) && typeof subject !== 'function') {
    throw new DTypeError(op, `${arg} must be a PositionalEncoding or a function (q, k, qPositions, kPositions) => { q, k }, got ${describeValue(subject)}`, arg);
  }
}

/** A tolerance option: a finite number ≥ 0 (default `fallback`). */
export function checkTolerance(op: string, value: unknown, fallback: number): number {
  return value === undefined ? fallback : expectNumber(op, 'options.tolerance', value, { min: 0 });
}

/** The implementation under test misbehaved outside the property itself (threw, or answered with wrong shapes). */
class SubjectError extends Error {}

/** Rotated q and k as plain float64 rows, and the logit multiplier. */
export interface Encoded {
  q: Float64Array;
  k: Float64Array;
  logitScale: number;
}

/** Call the subject; its answer must hold Tensors q and k of the input shapes (else a SubjectError, reported as the counterexample). */
export function encodeWith(subject: RoPESubject, q: Tensor, k: Tensor, qPositions: Tensor, kPositions: Tensor): Encoded {
  let out: unknown;
  try {
    out = subject instanceof PositionalEncoding ? subject.encodeQK(q, k, qPositions, kPositions) : subject(q, k, qPositions, kPositions);
  } catch (e) {
    throw new SubjectError(`the function under test threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
  if (typeof out !== 'object' || out === null) throw new SubjectError(`the function under test returned ${describeValue(out)}, not { q, k }`);
  const r = out as Partial<EncodedQK>;
  for (const [name, given, input] of [['q', r.q, q], ['k', r.k, k]] as const) {
    if (!(given instanceof Tensor)) throw new SubjectError(`the function under test returned ${name} = ${describeValue(given)}, not a Tensor`);
    if (given.shape.length !== input.shape.length || given.shape.some((n, i) => n !== input.shape[i])) {
      throw new SubjectError(`the function under test returned ${name} of shape [${given.shape.join(', ')}] for an input of shape [${input.shape.join(', ')}]`);
    }
  }
  const scale = r.logitScale ?? 1;
  if (typeof scale !== 'number') throw new SubjectError(`the function under test returned logitScale = ${describeValue(scale)}, not a number`);
  return { q: Float64Array.from(r.q!.data), k: Float64Array.from(r.k!.data), logitScale: scale };
}

/**
 * Run `check` on cases drawn from `arb` (fast-check shrinks the first failure); `check` returns null when the case
 * passes, else the counterexample. `caseValues` describes a case whose run threw.
 */
export function runProperty<T>(
  property: string,
  arb: fc.Arbitrary<T>,
  check: (c: T) => Counterexample | null,
  caseValues: (c: T) => Record<string, unknown>,
  settings: { numRuns: number; seed: number | undefined },
): PropertyResult {
  const safe = (c: T): Counterexample | null => {
    try {
      return check(c);
    } catch (e) {
      if (e instanceof SubjectError) return { summary: e.message, values: caseValues(c) };
      throw e;
    }
  };
  const details = fc.check(fc.property(arb, (c) => safe(c) === null), { numRuns: settings.numRuns, ...(settings.seed !== undefined ? { seed: settings.seed } : {}) });
  if (!details.failed) {
    return { property, pass: true, runs: details.numRuns, seed: details.seed, shrinks: 0, counterexample: null, message: `${property}: passed ${details.numRuns} random cases (seed ${details.seed}).` };
  }
  const c = details.counterexample![0];
  let ce: Counterexample;
  try {
    ce = safe(c) ?? { summary: 'the case failed once and passed when run again (is the implementation deterministic?)', values: caseValues(c) };
  } catch (e) {
    ce = { summary: `checking the case threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`, values: caseValues(c) };
  }
  const lines = Object.entries(ce.values).map(([key, v]) => `    ${key}: ${formatValue(v)}`);
  const message = [
    `${property}: FAILED (seed ${details.seed}; case ${details.numRuns} failed, shrunk ${details.numShrinks} times to this one):`,
    `  ${ce.summary}`,
    ...lines,
  ].join('\n');
  return { property, pass: false, runs: details.numRuns, seed: details.seed, shrinks: details.numShrinks, counterexample: ce, message };
}

/** A number to 6 significant digits (integers in full); arrays and objects element by element. */
export function formatValue(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) || !Number.isFinite(v) ? String(v) : String(Number(v.toPrecision(6)));
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return `[${Array.from(v as ArrayLike<unknown>, formatValue).join(', ')}]`;
  if (typeof v === 'object' && v !== null) return `{ ${Object.entries(v).map(([k, x]) => `${k}: ${formatValue(x)}`).join(', ')} }`;
  return String(v);
}
