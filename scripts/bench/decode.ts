/**
 * Decoding one token against a long cache: EliteKV's two modes (nn/elitekv.ts) against a plain MHA layer with a
 * KVCache. One attention layer, dim 128, 4 heads of 32 (MHA, the EliteKV paper's setting), RoPE base 1730; EliteKV at
 * a quarter of the plain cache (r = 6 elite pairs per head, latent c = 16: 64 of 256 numbers per token):
 *   plain      MultiHeadAttention + KVCache: the step's query against S cached keys and values
 *   explicit   EliteKVAttention, mode 'explicit': every cached latent is expanded by kvB into keys and values each step
 *   absorbed   EliteKVAttention, mode 'absorbed': kvB folded into the query and the output, the latents scored directly
 *   +mean key  absorbed, with mean keys (option meanKey, ours): the non-elite pairs' mean key rotated to every cached
 *              position and scored against the rotated non-elite query channels each step (no more cache)
 * Each layer's cache is prefilled with S tokens, then one-token steps are timed in alternation (harness.pairedMediansMs;
 * every step appends, so S grows by the repetitions, the same for all three), float32, noGrad, one thread on the
 * backend in use. The step outputs of the two EliteKV modes are checked to agree (max |diff| column).
 *
 *   npm run bench:decode [-- --lengths 1024,4096,16384] [--reps N]
 */
import { Generator, noGrad, randn, setNumThreads } from '../../core/index.js';
import { EliteKVAttention, KVCache, MultiHeadAttention, type LatentKVCache } from '../../nn/index.js';
import { RoPE } from '../../positional/index.js';
import { integerFlag, integerListFlag, readFlags } from '../lib/flags.js';
import { fmt, pairedMediansMs, printEnvironment, printTable } from './harness.js';

const HELP = `usage: npm run bench:decode [-- --lengths 1024,4096,16384] [--reps N]

One decoding step of one attention layer against S cached tokens: plain MHA + KVCache vs EliteKV (25 % cache)
expanding its latents ('explicit') or scoring them directly ('absorbed'), and absorbed with mean keys; alternating
timings.

  --lengths LIST  cached tokens S (default 1024,4096,16384)
  --reps N        timed steps per layer (default 15)
  --help          this text`;
const FLAGS = readFlags('bench:decode', HELP, { lengths: [1024, 4096, 16384], reps: 15 }, {
  values: { lengths: (f, v) => (f.lengths = integerListFlag(v, 1)), reps: (f, v) => (f.reps = integerFlag(v, 1)) },
});

const DIM = 128;
const HEADS = 4;
const HEAD_DIM = 32;
const ELITE_PAIRS = [4, 6, 8, 9, 10, 11]; // r = 6 of 16 pairs per head (any r pairs cost the same)
const RANK = 16;

function eliteLayer(mode: 'explicit' | 'absorbed', meanKey = false): EliteKVAttention {
  return new EliteKVAttention(DIM, {
    numHeads: HEADS, numKVHeads: HEADS, headDim: HEAD_DIM, elitePairs: Array.from({ length: HEADS }, () => ELITE_PAIRS), rank: RANK,
    positional: new RoPE(HEAD_DIM, { base: 1730 }), generator: new Generator(1), mode, meanKey,
  });
}

async function main(): Promise<void> {
  setNumThreads(1);
  printEnvironment(`One decoding step against S cached tokens: one attention layer (dim ${DIM}, ${HEADS} heads of ${HEAD_DIM}); median of ${FLAGS.reps} alternating steps, float32, noGrad, 1 thread`);
  const rows: string[][] = [];
  for (const S of FLAGS.lengths) {
    const plain = new MultiHeadAttention(DIM, { numHeads: HEADS, positional: new RoPE(HEAD_DIM, { base: 1730 }), generator: new Generator(1) });
    const [explicit, absorbed, meanKey] = [eliteLayer('explicit'), eliteLayer('absorbed'), eliteLayer('absorbed', true)];
    const plainCache = new KVCache();
    const [explicitCache, absorbedCache, meanKeyCache]: LatentKVCache[] = [explicit.newCache(), absorbed.newCache(), meanKey.newCache()];
    const prefill = randn([1, S, DIM], { generator: new Generator(2) });
    noGrad(() => {
      plain.forward(prefill, { cache: plainCache });
      explicit.forward(prefill, { cache: explicitCache });
      absorbed.forward(prefill, { cache: absorbedCache });
      meanKey.forward(prefill, { cache: meanKeyCache });
    });
    const x = randn([1, 1, DIM], { generator: new Generator(3) });
    const diff = noGrad(() => explicit.forward(x, { cache: explicitCache }).sub(absorbed.forward(x, { cache: absorbedCache })).abs().max().item());
    noGrad(() => meanKey.forward(x, { cache: meanKeyCache })); // the same length as the others
    const [plainMs, explicitMs, absorbedMs, meanKeyMs] = await pairedMediansMs([
      () => noGrad(() => plain.forward(x, { cache: plainCache })),
      () => noGrad(() => explicit.forward(x, { cache: explicitCache })),
      () => noGrad(() => absorbed.forward(x, { cache: absorbedCache })),
      () => noGrad(() => meanKey.forward(x, { cache: meanKeyCache })),
    ], FLAGS.reps, 2);
    rows.push([String(S), fmt(plainMs!, 2), fmt(explicitMs!, 2), fmt(absorbedMs!, 2), fmt(meanKeyMs!, 2), fmt(explicitMs! / absorbedMs!), fmt(absorbedMs! / plainMs!), fmt(meanKeyMs! / absorbedMs!), diff.toExponential(1)]);
  }
  printTable(['S', 'plain ms', 'explicit ms', 'absorbed ms', '+mean key ms', 'explicit / absorbed', 'absorbed / plain', '+mean key / absorbed', 'max |diff|'], rows);
  console.log(`EliteKV caches ${RANK + 2 * ELITE_PAIRS.length * HEADS} numbers per token against the plain cache's ${2 * HEADS * HEAD_DIM}.`);
  console.log('explicit / absorbed > 1: absorbing kvB saves the per-step expansion of every cached latent; absorbed / plain < 1: EliteKV decodes faster than the cache it replaces; +mean key / absorbed: what scoring the rotated mean keys adds to a step.');
}

await main();
