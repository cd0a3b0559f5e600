/**
 * npm run train:reference — trains the reference model that the KV-cache experiments (issue #13) start from, and
 * writes it as safetensors with its config, vocabulary and training record in the header metadata.
 *
 * The model is the demo's RoPE GPT made larger and longer: 4 layers, dim 128, 4 heads of 32 with 2 KV heads (GQA),
 * context 512, on the demo corpus (Moby-Dick, characters). Its RoPE base is matched to the context (reproductions.md
 * G4, the LLaMA-2 regime): the slowest pair's wavelength λ_max = 2π·b^((d−2)/d) is L/0.075, which for d = 32 and
 * L = 512 gives b ≈ 1730 — with base 10 000 the slow pairs never turn within 512 positions and act as NoPE.
 *
 *   npm run train:reference                       # the shipped checkpoint: data/reference/rope-gpt-512.safetensors
 *   npm run train:reference -- --steps 20 --out /tmp/ref.safetensors   # a quick try
 *
 * scripts/lib/reference-model.ts loads the checkpoint (in seconds) for the experiments.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { AdamW, Generator, getBackend, getNumThreads, noGrad, warmupCosineLr } from '../core/index.js';
import { GPT, type GPTConfig } from '../models/index.js';
import { saveSafetensors, train } from '../nn/index.js';
import { loadCorpus, sampleBatch } from './lib/corpus.js';
import { choiceFlag, integerFlag, pathFlag, readFlags } from './lib/flags.js';
import { REFERENCE_CHECKPOINT, REFERENCE_MHA_CHECKPOINT, referenceConfig, referenceValLoss } from './lib/reference-model.js';

interface Flags {
  steps: number;
  batch: number;
  seed: number;
  kvHeads: number;
  out: string;
}

const HELP = `usage: npm run train:reference -- [flags]

Trains the reference RoPE GPT of the KV-cache experiments (4 layers, dim 128, 4 heads, 2 KV heads, context 512,
RoPE base 1730) on the demo corpus and saves it with its config, vocabulary and training record.

  --steps N   AdamW steps (default 1200: about 30 minutes on 2 cores)
  --batch B   sequences of 512 characters per step (default 8)
  --seed S    seed for weights and batches (default 0)
  --kv-heads H  key/value heads: 2 (GQA, the default) or 4 (MHA; EliteKV's paper setting)
  --out FILE  where to write the checkpoint (default ${REFERENCE_CHECKPOINT}, or ${REFERENCE_MHA_CHECKPOINT} with --kv-heads 4)
  --help      this text`;

async function main(): Promise<void> {
  const flags = readFlags<Flags>('train:reference', HELP, { steps: 1200, batch: 8, seed: 0, kvHeads: 2, out: '' }, {
    values: {
      steps: (f, v) => (f.steps = integerFlag(v, 1)),
      batch: (f, v) => (f.batch = integerFlag(v, 1)),
      seed: (f, v) => (f.seed = integerFlag(v, 0)),
      'kv-heads': (f, v) => (f.kvHeads = choiceFlag(v, ['2', '4']) === '4' ? 4 : 2),
      out: (f, v) => (f.out = pathFlag(v)),
    },
  });
  if (flags.out === '') flags.out = flags.kvHeads === 4 ? REFERENCE_MHA_CHECKPOINT : REFERENCE_CHECKPOINT;
  const corpus = loadCorpus();
  const config: GPTConfig = { ...referenceConfig(corpus.vocab.length, flags.kvHeads), seed: flags.seed };
  const model = new GPT(config);
  const T = config.contextLength;
  console.log(`reference model: ${model.numParameters()} parameters, ${JSON.stringify(config)}`);
  console.log(`${flags.steps} steps × ${flags.batch} × ${T} characters on ${getBackend()} (${getNumThreads()} threads)\n`);
  const g = new Generator(flags.seed + 1);
  const peak = 2e-3;
  const result = train(model, () => {
    const { x, y } = sampleBatch(corpus.train, flags.batch, T, g);
    return model.loss(x, y);
  }, {
    steps: flags.steps,
    optimizer: new AdamW(model.parameters(), { lr: peak, weightDecay: 0.1 }),
    clipGradNorm: 1,
    schedule: (step) => warmupCosineLr(step, { maxLr: peak, warmupSteps: Math.min(100, flags.steps), totalSteps: flags.steps, minLr: peak / 10 }),
    tokensPerStep: flags.batch * T,
    evaluate: () => referenceValLoss(model, corpus.val, 8),
    evalEvery: Math.max(1, Math.floor(flags.steps / 6)),
  });
  const valLoss = noGrad(() => referenceValLoss(model, corpus.val, 32));
  const last = result.losses.slice(-20);
  const trainLoss = last.reduce((a, b) => a + b, 0) / last.length;
  mkdirSync(dirname(flags.out), { recursive: true });
  await saveSafetensors(model, flags.out, {
    config: JSON.stringify(config),
    vocab: JSON.stringify(corpus.vocab),
    steps: String(flags.steps),
    tokens: String(flags.steps * flags.batch * T),
    seconds: result.seconds.toFixed(0),
    trainLoss: trainLoss.toFixed(4),
    valLoss: valLoss.toFixed(4),
    trainedWith: `npm run train:reference -- --steps ${flags.steps} --batch ${flags.batch} --seed ${flags.seed}${flags.kvHeads === 4 ? ' --kv-heads 4' : ''} (${getBackend()}, ${getNumThreads()} threads)`,
  });
  console.log(`\ntrain loss ${trainLoss.toFixed(3)}, val loss ${valLoss.toFixed(3)} nats/char (32 windows of ${T}); ${result.seconds.toFixed(0)} s; wrote ${flags.out}`);
}

await main();
