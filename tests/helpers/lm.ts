/** Helpers shared by the language-model tests: token batches, training to a loss, greedy decoding by full forwards. */
import * as assert from 'uvu/assert';
import { AdamW, Generator, Tensor, noGrad } from '../../core/index.js';
import { assertClose } from './close.js';

/** [B, T] uniform random token ids in [0, V), seeded. */
export function randomTokens(seed: number, B: number, T: number, V: number): Tensor {
  const g = new Generator(seed);
  return new Tensor(Float64Array.from({ length: B * T }, () => g.int(0, V)), [B, T]);
}

/** AdamW (no weight decay) on `lossFn` until the loss drops below `target` or maxSteps pass; returns the last loss and steps. */
export function trainUntil(
  params: Iterable<Tensor>,
  lossFn: () => Tensor,
  options: { lr: number; maxSteps: number; target?: number },
): { loss: number; steps: number } {
  const { lr, maxSteps, target = 0.05 } = options;
  const opt = new AdamW(params, { lr, weightDecay: 0 });
  let loss = Infinity;
  let steps = 0;
  for (; steps < maxSteps && loss >= target; steps++) {
    const l = lossFn();
    opt.zeroGrad();
    l.backward();
    opt.step();
    loss = l.item();
  }
  return { loss, steps };
}

/** The greedy continuation of `prompt` computed the slow way: a full forward per new token, argmax of the last row. */
export function greedyByFullForward(model: { forward(ids: Tensor): Tensor }, prompt: readonly number[], newTokens: number, vocab: number): number[] {
  const seq = [...prompt];
  for (let i = 0; i < newTokens; i++) {
    const logits = noGrad(() => model.forward(new Tensor(Float64Array.from(seq), [1, seq.length])));
    const last = Array.from(logits.data.subarray(logits.size - vocab));
    seq.push(last.indexOf(Math.max(...last)));
  }
  return seq.slice(prompt.length);
}

/** Feeding ids [B, T] in `chunks` through caches gives the logits of one full forward (rtol 1e-10). */
export function assertCachedDecodingMatches<C>(
  model: { forward(ids: Tensor, options?: { caches?: readonly C[] }): Tensor; newCaches(): C[] },
  ids: Tensor,
  chunks: readonly number[],
  vocab: number,
  label: string,
): void {
  const [B, T] = ids.shape as [number, number];
  const full = noGrad(() => model.forward(ids));
  const caches = model.newCaches();
  let t = 0;
  for (const n of chunks) {
    const step = noGrad(() => model.forward(ids.narrow(1, t, n), { caches }));
    for (let b = 0; b < B; b++) {
      assertClose(step.data.subarray(b * n * vocab, (b + 1) * n * vocab), full.data.subarray((b * T + t) * vocab, (b * T + t + n) * vocab), { rtol: 1e-10, atol: 1e-12 }, `${label} at ${t}`);
    }
    t += n;
  }
  assert.is(t, T, 'chunks cover the sequence');
}
