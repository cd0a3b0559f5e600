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
 *   npm run bench:memory                 # T = 128 and 512, 2 rounds of 30 steps
 *   npm run bench:memory -- --rounds 3 --steps 40
 */
import { spawnSync } from 'node:child_process';
import { AdamW, Tensor, getBackend, setBackend, setNumThreads } from '../../core/index.js';
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

/** The child: `steps` training steps at context T, printing a ChildResult as JSON. */
function child(T: number, steps: number): void {
  setBackend('wasm');
  setNumThreads(1);
  const B = 8;
  const vocab = 65;
  const gpt = new GPT({ vocabSize: vocab, contextLength: T, dim: 128, numLayers: 2, numHeads: 4, positional: 'rope', seed: 1 });
  const opt = new AdamW(gpt.parameters(), { lr: 1e-3, weightDecay: 0.01 });
  const ids = new Tensor(Float64Array.from({ length: B * T }, (_, i) => (i * 7) % vocab), [B, T]);
  const targets = new Tensor(Float64Array.from({ length: B * T }, (_, i) => (i * 11 + 3) % vocab), [B, T]);
  const faults: number[] = [];
  const ms: number[] = [];
  for (let s = 0; s < WARMUP + steps; s++) {
    const f0 = process.resourceUsage().minorPageFault;
    const t0 = performance.now();
    opt.zeroGrad();
    const loss = gpt.loss(ids, targets);
    loss.backward();
    opt.step();
    loss.item();
    if (s < WARMUP) continue;
    ms.push(performance.now() - t0);
    faults.push(process.resourceUsage().minorPageFault - f0);
  }
  const result: ChildResult = { backend: getBackend(), tunables: process.env.GLIBC_TUNABLES ?? null, faults, ms };
  console.log(JSON.stringify(result));
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
  for (const T of flags.contexts) {
    const runs = settings.map(() => ({ faults: [] as number[], ms: [] as number[] }));
    for (let round = 0; round < flags.rounds; round++) {
      settings.forEach((setting, i) => {
        const out = spawnSync(process.execPath, [process.argv[1]!, '--child', String(T), String(flags.steps)], { env: setting.env, encoding: 'utf8' });
        if (out.status !== 0) throw new Error(`bench:memory: child (T=${T}, ${setting.name}) failed:\n${out.stderr}`);
        const result = JSON.parse(out.stdout.trim().split('\n').at(-1)!) as ChildResult;
        runs[i]!.faults.push(...result.faults);
        runs[i]!.ms.push(...result.ms);
      });
    }
    const base = median(runs[0]!.ms);
    settings.forEach((setting, i) => {
      const { faults, ms } = runs[i]!;
      const mean = faults.reduce((a, b) => a + b, 0) / faults.length;
      rows.push([`T=${T}`, setting.name, fmt(median(faults), 0), fmt(mean, 0), fmt(Math.max(...faults), 0), fmt(median(ms), 1), `${fmt(base / median(ms))}×`]);
    });
  }
  printTable(['case', 'allocator', 'faults/step median', 'mean', 'max', 'ms/step median', 'speed vs default'], rows);
  console.log(`freed memory kept: GLIBC_TUNABLES=${kept}`);
  console.log(`${flags.rounds} rounds × ${flags.steps} steps per configuration, alternating; the engine's scratch pool (core/buffer-pool.ts) is on in both`);
}

main();
