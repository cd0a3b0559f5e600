/**
 * Train a tiny character-level GPT on Moby-Dick and sample from it (300 steps: about 10 s on an idle core).
 *
 *   node scripts/run.mjs examples/train-tiny-lm.ts [--steps 300]
 *
 * The model is nanoGPT's (Karpathy, github.com/karpathy/nanoGPT model.py) at toy size: token embedding, 2 blocks of
 * causal self-attention with RoPE and a GELU MLP, a head tied to the embedding. Each step predicts the next character
 * of 16 random windows of 32 characters; a uniform guess over the vocabulary scores ln(vocab) nats per character.
 */
import { readFileSync } from 'node:fs';
import { AdamW, GPT, Generator, Tensor, generate, train, warmupCosineLr } from '../index.js';

const at = process.argv.indexOf('--steps');
const steps = at < 0 ? 300 : Number(process.argv[at + 1]);
if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps must be a positive integer, got '${process.argv[at + 1]}'`);

// The text as character ids; the first 90% trains, the rest measures.
const text = readFileSync('scripts/data/moby-dick.txt', 'utf8');
const vocab = [...new Set(text)].sort();
const ids = Int32Array.from(text, (c) => vocab.indexOf(c));
const cut = Math.floor(ids.length * 0.9);
const [trainIds, valIds] = [ids.subarray(0, cut), ids.subarray(cut)];

// A batch: `batch` random windows; inputs x [batch, context] and next-character targets y [batch, context].
const [batch, context] = [16, 32];
const g = new Generator(0);
function sampleBatch(data: Int32Array, generator: Generator): { x: Tensor; y: Tensor } {
  const x = new Float32Array(batch * context);
  const y = new Float32Array(batch * context);
  for (let b = 0; b < batch; b++) {
    const start = generator.int(0, data.length - context - 1);
    x.set(data.subarray(start, start + context), b * context);
    y.set(data.subarray(start + 1, start + context + 1), b * context);
  }
  return { x: new Tensor(x, [batch, context]), y: new Tensor(y, [batch, context]) };
}

const model = new GPT({ vocabSize: vocab.length, contextLength: context, dim: 48, numLayers: 2, numHeads: 4, positional: 'rope', seed: 0 });
console.log(`${vocab.length} characters, ${model.numParameters()} parameters; uniform guess: ${Math.log(vocab.length).toFixed(3)} nats/char`);

const valBatch = sampleBatch(valIds, new Generator(1)); // one fixed validation batch
const maxLr = 1e-2;
const result = train(model, () => {
  const { x, y } = sampleBatch(trainIds, g);
  return model.loss(x, y);
}, {
  steps,
  optimizer: new AdamW(model.parameters(), { lr: maxLr, weightDecay: 0.01 }),
  schedule: (step) => warmupCosineLr(step, { maxLr, warmupSteps: Math.min(20, steps), totalSteps: steps, minLr: maxLr / 10 }),
  clipGradNorm: 1,
  evaluate: () => model.loss(valBatch.x, valBatch.y).item(),
  logEvery: Math.max(1, Math.round(steps / 5)),
});
const first = result.losses[0]!;
const val = result.valLosses.at(-1)!.loss;
console.log(`train loss ${first.toFixed(3)} → ${result.losses.at(-1)!.toFixed(3)}, validation loss ${val.toFixed(3)} after ${steps} steps (${result.seconds.toFixed(1)} s)`);

// Sample: the model reads its own output back, one character at a time (a KV cache per layer keeps it linear).
const prompt = 'Call me Ishmael. ';
const sampled = generate(model, Array.from(prompt, (c) => vocab.indexOf(c)), { maxNewTokens: 120, temperature: 0.8, topK: 10, generator: new Generator(2) });
console.log(`sample:\n${prompt}${sampled.map((i) => vocab[i]).join('')}`);
