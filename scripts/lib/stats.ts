/**
 * The statistics every reproduction experiment reports (../shared/specs/reproductions.md §1.2), written before any
 * run: each arm is run with ≥ 3 seeds (paired by index: seed i of every arm shares data order and init seed); we
 * report mean and min–max, and a claim that "arm A beats arm B beats …" is judged by a pre-registered criterion:
 *
 *   reproduced      the predicted ordering holds in every seed, and every consecutive mean gap exceeds twice the
 *                   larger within-arm range (max − min over seeds) of the two arms compared;
 *   partly          the ordering of the means is the predicted one, but not in every seed or not by that margin;
 *   not reproduced  the means are not in the predicted order.
 */

/** Mean and spread of one arm over its seeds. */
export interface ArmSummary {
  n: number;
  mean: number;
  min: number;
  max: number;
  /** max − min: the seed spread the criterion compares gaps with. */
  range: number;
}

export function summarize(values: readonly number[]): ArmSummary {
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) {
    throw new RangeError(`summarize: values must be a non-empty list of finite numbers, got [${values.join(', ')}]`);
  }
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { n: values.length, mean: values.reduce((a, b) => a + b, 0) / values.length, min, max, range: max - min };
}

/** "mean (min–max)" of an arm's per-seed values, each written by `format` (default: 3 decimals); the tables' cell. */
export function meanRange(values: readonly number[], format: (v: number) => string = (v) => v.toFixed(3)): string {
  const { mean, min, max } = summarize(values);
  return `${format(mean)} (${format(min)}–${format(max)})`;
}

export type Verdict = 'reproduced' | 'partly' | 'not reproduced';

/** Each verdict's strength, for picking the weakest of several judgements: not reproduced < partly < reproduced. */
export const VERDICT_RANK: Readonly<Record<Verdict, number>> = { 'not reproduced': 0, partly: 1, reproduced: 2 };

/** The weakest of the verdicts: a claim judged in parts holds only as far as its weakest part. */
export function weakestVerdict(...verdicts: Verdict[]): Verdict {
  if (verdicts.length === 0) throw new RangeError('weakestVerdict: give at least one verdict');
  return verdicts.reduce((w, v) => (VERDICT_RANK[v] < VERDICT_RANK[w] ? v : w));
}

export interface OrderingJudgement {
  verdict: Verdict;
  /** Per seed index: whether that seed's values follow the predicted ordering. */
  seedsInOrder: boolean[];
  /** Per consecutive pair (predicted[i], predicted[i + 1]): mean gap in the predicted direction and the margin it must beat. */
  gaps: Array<{ better: string; worse: string; gap: number; margin: number }>;
  summaries: Record<string, ArmSummary>;
  /** One sentence saying why. */
  reason: string;
}

/**
 * Judge the claim that the arms rank as `predicted` (best first), where `better` says whether lower values (a loss) or
 * higher values (an accuracy) are better. arms: name → one value per seed, every arm with the same seeds (≥ 1).
 */
export function judgeOrdering(arms: Readonly<Record<string, readonly number[]>>, predicted: readonly string[], better: 'lower' | 'higher'): OrderingJudgement {
  if (predicted.length < 2) throw new RangeError(`judgeOrdering: predicted needs at least two arms, got [${predicted.join(', ')}]`);
  const missing = predicted.filter((name) => !Object.hasOwn(arms, name));
  if (missing.length > 0) throw new RangeError(`judgeOrdering: predicted names arms that have no values: ${missing.join(', ')}`);
  if (new Set(predicted).size !== predicted.length) throw new RangeError(`judgeOrdering: predicted lists an arm twice: [${predicted.join(', ')}]`);
  const seeds = arms[predicted[0]!]!.length;
  const uneven = predicted.filter((name) => arms[name]!.length !== seeds);
  if (uneven.length > 0) throw new RangeError(`judgeOrdering: every arm needs one value per seed (${seeds}); ${uneven.join(', ')} differ`);
  const summaries = Object.fromEntries(predicted.map((name) => [name, summarize(arms[name]!)]));
  const sign = better === 'lower' ? 1 : -1; // gap > 0 when the better arm is better
  const ahead = (a: number, b: number): boolean => sign * (b - a) > 0;
  const seedsInOrder = Array.from({ length: seeds }, (_, s) => predicted.every((name, i) => i === 0 || ahead(arms[predicted[i - 1]!]![s]!, arms[name]![s]!)));
  const gaps = predicted.slice(1).map((worse, i) => {
    const b = summaries[predicted[i]!]!;
    const w = summaries[worse]!;
    return { better: predicted[i]!, worse, gap: sign * (w.mean - b.mean), margin: 2 * Math.max(b.range, w.range) };
  });
  const meansInOrder = gaps.every((g) => g.gap > 0);
  const everySeed = seedsInOrder.every(Boolean);
  const wide = gaps.every((g) => g.gap > g.margin);
  const verdict: Verdict = !meansInOrder ? 'not reproduced' : everySeed && wide ? 'reproduced' : 'partly';
  const narrow = gaps.find((g) => g.gap <= g.margin);
  const reason = !meansInOrder
    ? `the means are not in the predicted order (${gaps.filter((g) => g.gap <= 0).map((g) => `${g.better} vs ${g.worse}: gap ${fmt(g.gap)}`).join('; ')})`
    : !everySeed
      ? `the means are in order, but seed${seedsInOrder.filter((ok) => !ok).length > 1 ? 's' : ''} ${seedsInOrder.flatMap((ok, s) => (ok ? [] : [s])).join(', ')} break${seedsInOrder.filter((ok) => !ok).length > 1 ? '' : 's'} the ordering`
      : !wide
        ? `the ordering holds in every seed, but ${narrow!.better} vs ${narrow!.worse} is ahead by ${fmt(narrow!.gap)}, not more than twice the seed range (${fmt(narrow!.margin)})`
        : `the ordering holds in all ${seeds} seeds and every mean gap exceeds twice the seed range`;
  return { verdict, seedsInOrder, gaps, summaries, reason };
}

function fmt(x: number): string {
  return Math.abs(x) >= 0.01 || x === 0 ? x.toFixed(3) : x.toExponential(2);
}
