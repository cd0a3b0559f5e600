/**
 * The page's module (examples/browser/index.html loads it as ./main.js; serve.ts bundles it with esbuild). ropelab
 * needs nothing from Node, so the same imports work in a page.
 *
 * 1. The long-term decay of RoPE (Su et al. 2021, §3.4.3): the score of a query and key made of ones, rotated to
 *    positions 0 and n, shrinks (with ripples) as n grows; YaRN ×4 stretches the slow pairs, so it decays later.
 * 2. A 1-layer GPT learns a line of text in 60 steps; the page yields between steps so the loss updates as it goes.
 */
import { AdamW, GPT, RoPE, Tensor, generate, matmul, ones, tensor, yarnAttentionFactor, yarnInvFreq } from '../../index.js';

/** What the page leaves on `window.ropelabExample` for whoever drives it (the smoke test reads it). */
interface ExampleReport {
  scores: Array<{ distance: number; rope: number; yarn: number }>;
  losses: number[];
  sample: string;
  done: boolean;
}
const report: ExampleReport = { scores: [], losses: [], sample: '', done: false };
(globalThis as unknown as { ropelabExample: ExampleReport }).ropelabExample = report;

// 1. ⟨R(0)·q, R(n)·k⟩ / headDim for q = k = ones [batch 1, heads 1, seq 1, headDim]
const headDim = 64;
const yarnOptions = { dim: headDim, factor: 4, originalMaxPositions: 512 };
const encodings = { rope: new RoPE(headDim), yarn: new RoPE(headDim, { invFreq: yarnInvFreq(yarnOptions), attentionFactor: yarnAttentionFactor(yarnOptions) }) };
const q = ones([1, 1, 1, headDim], { dtype: 'float64' });
const score = (encoding: RoPE, n: number): number => {
  const rotated = encoding.encodeQK(q, q, tensor([0]), tensor([n]));
  return matmul(rotated.q, rotated.k.transpose(2, 3)).item() / headDim;
};
for (const distance of [0, 1, 4, 16, 64, 256, 1024, 4096]) {
  const row = { distance, rope: score(encodings.rope, distance), yarn: score(encodings.yarn, distance) };
  report.scores.push(row);
  document.getElementById('scores')!.insertAdjacentHTML('beforeend', `<tr><td>${distance}</td><td>${row.rope.toFixed(3)}</td><td>${row.yarn.toFixed(3)}</td></tr>`);
}

// 2. Train on one line of text: inputs are its characters, targets the characters one to the right.
const text = 'It was the best of times, it was the worst of times.';
const vocab = [...new Set(text)].sort();
const idsOf = (s: string): number[] => Array.from(s, (c) => vocab.indexOf(c));
const all = idsOf(text);
const x = new Tensor(Float32Array.from(all.slice(0, -1)), [1, all.length - 1]);
const y = new Tensor(Float32Array.from(all.slice(1)), [1, all.length - 1]);
const model = new GPT({ vocabSize: vocab.length, contextLength: 64, dim: 32, numLayers: 1, numHeads: 2, positional: 'rope', seed: 0 });
const optimizer = new AdamW(model.parameters(), { lr: 1e-2 });
const status = document.getElementById('status')!;
for (let step = 0; step < 60; step++) {
  const loss = model.loss(x, y);
  optimizer.zeroGrad();
  loss.backward();
  optimizer.step();
  report.losses.push(loss.item());
  status.textContent = `step ${step + 1}/60: loss ${loss.item().toFixed(3)} nats/char`;
  await new Promise((resolve) => setTimeout(resolve, 0)); // let the page repaint
}
report.sample = 'It was ' + generate(model, idsOf('It was '), { maxNewTokens: 40, temperature: 0 }).map((i) => vocab[i]).join('');
document.getElementById('sample')!.textContent = `greedy sample after training:\n${report.sample}`;
report.done = true;
