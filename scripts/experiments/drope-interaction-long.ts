/**
 * Issue 17, DRoPE protocol B run 4× longer (the run drope-interaction's examination names: "the same protocol with
 * ≥ 1000 steps") — DRoPE (Zhao et al., arXiv 2503.15029, 2025; positional/drope.ts).
 *
 * drope-interaction trained 300 steps and its positive control failed (the RPE upper bound at 72.6 %, not 85 %), with
 * every arm still learning at the end. This is the same task, arms, model, evaluation and criterion with 1200 steps
 * (the warm-up and cosine stretched to them).
 *
 * Usage: node scripts/run.mjs scripts/experiments/drope-interaction-long.ts [--quick] [--json] [--help]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { setNumThreads } from '../../core/index.js';
import { isEntryPoint } from '../lib/entry.js';
import { readFlags } from '../lib/flags.js';
import type { Reproduction } from '../lib/reproduction.js';
import { CLAIM, DEFAULT_FLAGS, QUICK_FLAGS, chart, formatResults, reproduction as protocolB, reproductionResult, runExperiment, setupOf, verdictOf, type Flags } from './drope-interaction.js';

export const INTERACTION_LONG: Flags = { ...DEFAULT_FLAGS, steps: 1200 };

export const reproduction: Reproduction = {
  name: 'drope-interaction-long',
  paper: `${protocolB.paper}, protocol B with ${INTERACTION_LONG.steps} steps`,
  claim: CLAIM,
  setup: setupOf(INTERACTION_LONG),
  criterion: protocolB.criterion.replace(/^Stated before the run: /, `Stated before the run (2026-12-08), drope-interaction\u2019s rule unchanged, after ${INTERACTION_LONG.steps} steps: `),
  falsifier: protocolB.falsifier,
  minutes: 18,
  async run({ quick, progress }) {
    setNumThreads(1);
    return reproductionResult(runExperiment(quick ? QUICK_FLAGS : INTERACTION_LONG, progress));
  },
};

const HELP = `usage: node scripts/run.mjs scripts/experiments/drope-interaction-long.ts [--quick] [--json]

DRoPE protocol B (interaction modelling) with ${INTERACTION_LONG.steps} steps instead of ${DEFAULT_FLAGS.steps}: scene-centric, RoPE-2D + absolute heading,
DRoPE-RoPE and the O(N²) RPE model, 3 seeds. Writes out/drope-interaction-long.svg.

  --quick   tiny sizes, seconds (every code path; the numbers mean nothing)
  --json    print the results as JSON
  --help    this text`;

function main(): void {
  const flags = readFlags<{ quick: boolean; json: boolean }>('drope-interaction-long', HELP, { quick: false, json: false }, {
    values: {},
    switches: { quick: (f) => (f.quick = true), json: (f) => (f.json = true) },
  });
  setNumThreads(1);
  const log = (line: string): void => (flags.json ? console.error(line) : console.log(line));
  const res = runExperiment(flags.quick ? QUICK_FLAGS : INTERACTION_LONG, () => {}, log);
  const { verdict, reason } = verdictOf(res);
  log(`\n${formatResults(res)}\n\nverdict: ${verdict} — ${reason}`);
  mkdirSync('out', { recursive: true });
  writeFileSync('out/drope-interaction-long.svg', chart(res));
  log(`\nwrote out/drope-interaction-long.svg; ${res.seconds.toFixed(0)} s in all`);
  if (flags.json) console.log(JSON.stringify({ ...res, verdict, reason }));
}

if (isEntryPoint(import.meta.url, 'drope-interaction-long')) main();
