/**
 * What one reproduction of a paper's headline claim is (issue 17; protocols in ../shared/specs/reproductions.md): the
 * claim as its source states it, our toy setup in one line, the success criterion written before any run, and a `run`
 * that trains and measures ≥ 3 seeds per arm and returns a verdict by that criterion (scripts/lib/stats.ts:
 * judgeOrdering). `npm run reproduce` (scripts/reproduce.ts) runs them, writes out/<name>.json and out/<name>.svg,
 * prints the table, and writes docs/results.md from what they returned; `--quick` runs each in seconds for the test
 * suite's smoke test (its verdict then means nothing and is not reported as one).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { readFlags } from './flags.js';
import type { Verdict } from './stats.js';

export interface ReproductionRunOptions {
  /** A short run (seconds) that exercises every code path; its numbers are not evidence. */
  quick: boolean;
  /** Reports progress: `done` of `total` units of work (e.g. training steps over all arms and seeds). */
  progress: (done: number, total: number, note?: string) => void;
}

export interface ReproductionResult {
  verdict: Verdict;
  /** Our result in one line of numbers: mean (min–max over seeds) per arm. */
  summary: string;
  /** Why this verdict (judgeOrdering's reason, or the positive control that failed). */
  reason: string;
  /** The full table the runner prints (plain text, one row per arm or condition). */
  table: string;
  /** The chart (scripts/lib/svg.ts), or null when a table says it all. */
  svg: string | null;
  /** Everything measured, written to out/<name>.json. */
  data: unknown;
}

export interface Reproduction {
  /** `npm run reproduce <name>`; out/<name>.json and out/<name>.svg. */
  name: string;
  /** Paper (authors, venue, year). */
  paper: string;
  /** The claim as the source states it, with the source's own numbers. */
  claim: string;
  /** Our toy setup in one line (data, model, steps, seeds, metric). */
  setup: string;
  /** The success criterion, stated before the run (the predicted ordering, the margin, the positive control). */
  criterion: string;
  /** What would count against the claim at this scale. */
  falsifier: string;
  /** Minutes a full run takes on 2 cores (the runner's ETA before the first progress report). */
  minutes: number;
  /**
   * Earlier full runs of this protocol, oldest first, when it was changed and run again: each says when it ran, what
   * it found (its verdict and why), and what was changed before the next run and why. A rerun never hides the run
   * before it: docs/results.md shows this list with the result.
   */
  history?: readonly string[];
  /**
   * Where a claim did not reproduce (or only partly): what examining the result showed — the positive control, the
   * scale, a bug on our side — with its numbers, and what experiment would settle it. Written after looking at the
   * run; it never changes the verdict.
   */
  examination?: string;
  run(options: ReproductionRunOptions): Promise<ReproductionResult>;
}

/**
 * The command line of an experiment script that is one reproduction at fixed settings: `--quick`, `--json`, `--help`.
 * Runs it with a progress line on stderr at most every 30 s, prints its table and verdict, writes out/<name>.svg; with
 * `--json` the table goes to stderr and stdout holds `{ verdict, reason, summary, data }`.
 */
export async function reproductionMain(r: Reproduction, help: string, argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const flags = readFlags<{ quick: boolean; json: boolean }>(r.name, help, { quick: false, json: false }, {
    values: {},
    switches: { quick: (f) => (f.quick = true), json: (f) => (f.json = true) },
  }, argv);
  const log = (line: string): void => (flags.json ? console.error(line) : console.log(line));
  let last = -Infinity;
  const result = await r.run({
    quick: flags.quick,
    progress: (done, total, note) => {
      const now = performance.now();
      if (now - last < 30_000 && done < total) return;
      last = now;
      console.error(`[${r.name}] ${total > 0 ? Math.round((100 * done) / total) : 0}%${note === undefined ? '' : `  ${note}`}`);
    },
  });
  log(`${result.table}\n\n[${r.name}] ${result.verdict}: ${result.reason}`);
  if (result.svg !== null) {
    mkdirSync('out', { recursive: true });
    writeFileSync(`out/${r.name}.svg`, result.svg);
    log(`wrote out/${r.name}.svg`);
  }
  if (flags.json) console.log(JSON.stringify({ verdict: result.verdict, reason: result.reason, summary: result.summary, data: result.data }));
}
