/**
 * Issue 17, DRoPE protocol A with unbounded heading differences (ours: the run drope-heading's examination names) —
 * DRoPE (Zhao et al., arXiv 2503.15029, 2025; positional/drope.ts).
 *
 * drope-heading draws headings in [0, 2π), so the raw difference ψ_partner − ψ_self lies in (−2π, 2π). Over that
 * bounded range the wrapped class is an ordinary function of the raw difference, and RoPE without its unit-frequency
 * pair (θ_0 = 1, the ladder's only 2π-periodic frequency) learned it given 5× the steps (95–97 % wrap-around accuracy
 * after 2000 steps in a diagnostic). The paper's claim is about periodicity: with headings accumulated over `turns`
 * turns (uniform in [0, 2π·turns)), the raw difference spans many periods, and a set of frequencies none of which
 * divides 2π cannot separate the wrapped classes over the whole range, however long it trains; the unit pair (RoPE's
 * θ_0, or every DRoPE pair) still can. Same task, model, evaluation and verdict rule as drope-heading
 * (scripts/experiments/drope-heading.ts), with 8 turns and 2000 steps, and the three arms the verdict reads.
 *
 * Usage: node scripts/run.mjs scripts/experiments/drope-turns.ts [--quick] [--json] [--help]
 */
import { setNumThreads } from '../../core/index.js';
import { isEntryPoint } from '../lib/entry.js';
import { reproductionMain, type Reproduction } from '../lib/reproduction.js';
import { CLAIM, DEFAULT_FLAGS, QUICK_FLAGS, reproduction as protocolA, reproductionResult, runExperiment, type Flags } from './drope-heading.js';

export const TURNS_FLAGS: Flags = { ...DEFAULT_FLAGS, turns: 8, steps: 2000, arms: ['rope', 'rope-no-k0', 'drope'] };
export const TURNS_QUICK: Flags = { ...QUICK_FLAGS, turns: 8, arms: ['rope', 'rope-no-k0', 'drope'] };

/** The share of agents whose raw heading difference exceeds π for headings uniform in [0, 2π·turns): (1 − 1/(2·turns))². */
export function wrapShare(turns: number): number {
  return (1 - 1 / (2 * turns)) ** 2;
}

const F = TURNS_FLAGS;

export const reproduction: Reproduction = {
  name: 'drope-turns',
  paper: `${protocolA.paper}, protocol A with headings over ${F.turns} turns (ours)`,
  claim: CLAIM,
  setup:
    `drope-heading's task with headings uniform in [0, ${F.turns}·2π) (the raw difference spans ${2 * F.turns} periods; ${(100 * wrapShare(F.turns)).toFixed(0)} % of agents ` +
    `have |raw Δψ| > π); heading via RoPE on ψ, RoPE without the θ = 1 pair, or DRoPE; ${F.layers}-layer d${F.dim} ${F.heads}-head transformer, ` +
    `${F.steps} steps × ${F.batch} scenes (5× drope-heading's), ${F.seeds} seeds; accuracy overall and on the wrap-around subset, ${F.eval} eval scenes`,
  criterion:
    'Stated before the run (2026-12-08), drope-heading\'s rule unchanged: on the wrap-around subset, DRoPE\'s accuracy > RoPE-without-k0\'s in ' +
    'every seed, the mean gap more than twice the larger seed range (judgeOrdering, higher is better). Positive control: DRoPE ≥ 90 % ' +
    'overall accuracy in every seed (else not reproduced). Predicted beyond the rule: RoPE-without-k0 near chance (25 %) on the wrap-around ' +
    'subset after 2000 steps, where over one turn it reached 95–97 %; RoPE with its unit pair learns the task by concentrating q/k norm in pair k = 0.',
  falsifier: protocolA.falsifier,
  minutes: 25,
  async run({ quick, progress }) {
    setNumThreads(1);
    return reproductionResult(runExperiment(quick ? TURNS_QUICK : TURNS_FLAGS, progress));
  },
};

const HELP = `usage: node scripts/run.mjs scripts/experiments/drope-turns.ts [--quick] [--json]

DRoPE protocol A with headings accumulated over ${F.turns} turns: RoPE on ψ, RoPE without the unit-frequency pair and
DRoPE, ${F.steps} steps, 3 seeds; accuracy overall and on the wrap-around subset. Writes out/drope-turns.svg.

  --quick   tiny sizes, seconds (every code path; the numbers mean nothing)
  --json    print the results as JSON
  --help    this text`;

if (isEntryPoint(import.meta.url, 'drope-turns')) await reproductionMain(reproduction, HELP);
