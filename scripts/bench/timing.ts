/**
 * Timing for the benchmarks, with no Node imports (a page runs it too): medians of alternating runs, and number
 * formatting. scripts/bench/harness.ts re-exports these beside its Node-only helpers.
 */

/** Median wall time in ms of `fn` over `reps` runs after `warmup` runs. */
export async function medianMs(fn: () => unknown | Promise<unknown>, reps: number, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

export function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Median wall times in ms of several functions run in alternation: after `warmup` rounds, each of `reps` rounds
 * times one call of every function. A machine that speeds up or slows down during the run (a neighbour's load,
 * the scheduler moving the process to a busier core) then shifts all of them alike, so ratios of the medians stay
 * meaningful.
 */
export async function pairedMediansMs(fns: readonly (() => unknown | Promise<unknown>)[], reps: number, warmup = 1): Promise<number[]> {
  for (let i = 0; i < warmup; i++) for (const fn of fns) await fn();
  const times: number[][] = fns.map(() => []);
  for (let i = 0; i < reps; i++) {
    for (let f = 0; f < fns.length; f++) {
      const t0 = performance.now();
      await fns[f]!();
      times[f]!.push(performance.now() - t0);
    }
  }
  return times.map(median);
}

/** x with `digits` decimals, or 'n/a' when not finite. */
export const fmt = (x: number, digits = 2): string => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
