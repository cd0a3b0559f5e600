/**
 * npm run bench:memory — the page-fault tax of a steady training loop (issue 12 item 4), measured, not assumed.
 *
 * Fresh memory costs a minor page fault per 4 KiB on first touch. A training step allocates the same buffers every
 * step; whether they are fresh pages again depends on two things this bench separates:
 *   - the engine's own scratch (the fused attention's saved probabilities, the norms' x̂, cross-entropy's softmax)
 *     is pooled in core/buffer-pool.ts and handed back when the backward has run — always on;
 *   - the process allocator: glibc maps large buffers per allocation and trims the free top of its heap, so memory
 *     freed by one step is faulted in again by the next. scripts/run.mjs (every `npm run` script) sets
 *     GLIBC_TUNABLES so that freed memory stays mapped; the "glibc default" rows run without it.
 *
 * Each configuration runs in its own child process (the allocator's settings are read at process start), one AdamW
 * step of a GPT after another (dim 128, 4 heads, RoPE, batch 8), wasm kernels on one thread, alternating the two
 * allocator settings round by round. Per step: minor faults from process.resourceUsage() and wall time; the first
 * steps (warm-up) are dropped, medians over the rest.
 *
 * A second table (issue 12 item 2, no copy per call) times where the wasm attention keeps its saved probabilities P:
 * in the wasm heap, computed and read back in place, or in a JS buffer, copied out after the forward and in before
 * the backward (core/wasm/attention.ts; the heap's limit set to 0). One child with freed memory kept, the two
 * alternating step by step.
 *
 *   npm run bench:memory                 # T = 128 and 512, 2 rounds of 30 steps
 *   npm run bench:memory -- --rounds 3 --steps 40
 */
import { spawnSync } from 'node:child_process';
import { AdamW, Tensor, getBackend, setBackend, setNumThreads } from '../../core/index.js';
import { wasmResidentProbabilities } from '../../core/backend.js';
import { GPT } from '../../models/index.js';
import { integerFlag, integerListFlag, readFlags } from '../lib/flags.js';
import { fmt, median, printEnvironment, printTable } from './harness.js';

/** What one child measured: per step after warm-up, minor faults and milliseconds. */
interface ChildResult {
  backend: string;
  tunables: string | null;
  faults: number[];
  ms: number[];
}

const WARMUP = 5;

/** A GPT training step at context T (batch 8, wasm, one thread): call it to run one step. */
function trainingStep(T: number): () => void {
  setBackend('wasm');
  setNumThreads(1);
  const B = 8;
  const vocab = 65;
  const gpt = new GPT({ vocabSize: vocab, contextLength: T, dim: 128, numLayers: 2, numHeads: 4, positional: 'rope', seed: 1 });
  const opt = new AdamW(gpt.parameters(), { lr: 1e-3, weightDecay: 0.01 });
  const ids = new Tensor(Float64Array.from({ length: B * T }, (_, i) => (i * 7) % vocab), [B, T]);
  const targets = new Tensor(Float64Array.from({ length: B * T }, (_, i) => (i * 11 + 3) % vocab), [B, T]);
  return () => {
    opt.zeroGrad();
    const loss = gpt.loss(ids, targets);
    loss.backward();
    opt.step();
    loss.item();
  };
}

/** Runs `step` and returns its minor faults and milliseconds. */
function measured(step: () => void): { faults: number; ms: number } {
  const f0 = process.resourceUsage().minorPageFault;
  const t0 = performance.now();
  step();
  return { ms: performance.now() - t0, faults: process.resourceUsage().minorPageFault - f0 };
}

/** The child: `steps` training steps at context T, printing a ChildResult as JSON. */
function child(T: number, steps: number): void {
  const step = trainingStep(T);
  const faults: number[] = [];
  const ms: number[] = [];
  for (let s = 0; s < WARMUP + steps; s++) {
    const m = measured(step);
    if (s < WARMUP) continue;
    ms.push(m.ms);
    faults.push(m.faults);
  }
  const result: ChildResult = { backend: getBackend(), tunables: process.env.GLIBC_TUNABLES ?? null, faults, ms };
  console.log(JSON.stringify(result));
}

/** Where the saved probabilities live: the wasm heap's default limit, or 0 (every P in a JS buffer, copied). */
const SAVED_P = ['wasm heap', 'JS buffer (copied)'] as const;

/** The saved-P child: steps alternating P in the heap and P copied, printing one ChildResult per placement. */
function childSavedP(T: number, steps: number): void {
  const step = trainingStep(T);
  const heapLimit = wasmResidentProbabilities().limit;
  const limits = [heapLimit, 0];
  const results = SAVED_P.map((): ChildResult => ({ backend: getBackend(), tunables: process.env.GLIBC_TUNABLES ?? null, faults: [], ms: [] }));
  for (let s = 0; s < WARMUP + steps; s++) {
    limits.forEach((limit, i) => {
      wasmResidentProbabilities(limit);
      const m = measured(step);
      if (s < WARMUP) return;
      results[i]!.ms.push(m.ms);
      results[i]!.faults.push(m.faults);
    });
  }
  console.log(JSON.stringify(results));
}

interface Flags {
  contexts: number[];
  rounds: number;
  steps: number;
}

const HELP = `usage: npm run bench:memory -- [flags]

Minor page faults and time per training step, with glibc's default allocator settings and with freed memory kept
mapped (what scripts/run.mjs sets), each in its own child process, alternating.

  --contexts T,…  sequence lengths (default 128,512)
  --rounds N      alternating rounds per configuration (default 2)
  --steps N       measured steps per child after ${WARMUP} warm-up steps (default 30)
  --help          this text`;

function main(): void {
  if (process.argv[2] === '--child') {
    child(Number(process.argv[3]), Number(process.argv[4]));
    return;
  }
  if (process.argv[2] === '--child-saved-p') {
    childSavedP(Number(process.argv[3]), Number(process.argv[4]));
    return;
  }
  const flags = readFlags<Flags>('bench:memory', HELP, { contexts: [128, 512], rounds: 2, steps: 30 }, {
    values: {
      contexts: (f, v) => (f.contexts = integerListFlag(v, 1)),
      rounds: (f, v) => (f.rounds = integerFlag(v, 1)),
      steps: (f, v) => (f.steps = integerFlag(v, 1)),
    },
  });
  const kept = process.env.GLIBC_TUNABLES;
  if (process.platform !== 'linux' || kept === undefined) {
    console.log('bench:memory compares glibc allocator settings: run it on Linux through `npm run bench:memory` (scripts/run.mjs sets them)');
    return;
  }
  printEnvironment('bench:memory — minor page faults and ms per training step (GPT 2 layers, dim 128, 4 heads, RoPE, batch 8; wasm, 1 thread)');
  const settings = [
    { name: 'glibc default', env: (() => { const e = { ...process.env }; delete e.GLIBC_TUNABLES; return e; })() },
    { name: 'freed memory kept', env: { ...process.env } },
  ];
  const rows: string[][] = [];
  /** Runs this script as a child with `args` and the environment `env`, and returns the JSON it printed last. */
  const runChild = (args: string[], env: NodeJS.ProcessEnv, what: string): unknown => {
    const out = spawnSync(process.execPath, [process.argv[1]!, ...args], { env, encoding: 'utf8' });
    if (out.status !== 0) throw new Error(`bench:memory: child (${what}) failed:\n${out.stderr}`);
    return JSON.parse(out.stdout.trim().split('\n').at(-1)!);
  };
  const summary = (faults: number[], ms: number[]): string[] => {
    const mean = faults.reduce((a, b) => a + b, 0) / faults.length;
    return [fmt(median(faults), 0), fmt(mean, 0), fmt(Math.max(...faults), 0), fmt(median(ms), 1)];
  };
  for (const T of flags.contexts) {
    const runs = settings.map(() => ({ faults: [] as number[], ms: [] as number[] }));
    for (let round = 0; round < flags.rounds; round++) {
      settings.forEach((setting, i) => {
        const result = runChild(['--child', String(T), String(flags.steps)], setting.env, `T=${T}, ${setting.name}`) as ChildResult;
        runs[i]!.faults.push(...result.faults);
        runs[i]!.ms.push(...result.ms);
      });
    }
    const base = median(runs[0]!.ms);
    settings.forEach((setting, i) => {
      const { faults, ms } = runs[i]!;
      rows.push([`T=${T}`, setting.name, ...summary(faults, ms), `${fmt(base / median(ms))}×`]);
    });
  }
  printTable(['case', 'allocator', 'faults/step median', 'mean', 'max', 'ms/step median', 'speed vs default'], rows);
  console.log(`freed memory kept: GLIBC_TUNABLES=${kept}`);
  console.log(`${flags.rounds} rounds × ${flags.steps} steps per configuration, alternating; the engine's scratch pool (core/buffer-pool.ts) is on in both`);

  console.log('\nwhere the wasm attention saves P (issue 12 item 2): in the wasm heap, or in a JS buffer copied out and back in');
  const savedRows: string[][] = [];
  for (const T of flags.contexts) {
    const runs = SAVED_P.map(() => ({ faults: [] as number[], ms: [] as number[] }));
    for (let round = 0; round < flags.rounds; round++) {
      const results = runChild(['--child-saved-p', String(T), String(flags.steps)], process.env, `T=${T}, saved P`) as ChildResult[];
      results.forEach((r, i) => {
        runs[i]!.faults.push(...r.faults);
        runs[i]!.ms.push(...r.ms);
      });
    }
    const copied = median(runs[1]!.ms);
    SAVED_P.forEach((where, i) => savedRows.push([`T=${T}`, where, ...summary(runs[i]!.faults, runs[i]!.ms), `${fmt(copied / median(runs[i]!.ms))}×`]));
  }
  printTable(['case', 'saved P', 'faults/step median', 'mean', 'max', 'ms/step median', 'speed vs copied'], savedRows);
  console.log(`${flags.rounds} child processes × ${flags.steps} steps per placement, alternating step by step; freed memory kept`);
}

main();
