/**
 * A small end-to-end run of the library that the browser check (scripts/browser-check.ts) executes both in
 * Chromium and in Node, to compare: a seeded GPT's logits, its weights round-tripped through safetensors bytes,
 * and 20 AdamW steps on a fixed batch.
 */
import { AdamW, Tensor, crossEntropy } from '../../core/index.js';
import { GPT, type GPTConfig } from '../../models/index.js';
import { parseSafetensors, serializeSafetensors } from '../../nn/index.js';

export interface ScenarioResult {
  logits: number[];
  /** Logits of a differently seeded GPT after loading the first one's weights from safetensors bytes. */
  reloadedLogits: number[];
  losses: number[];
}

const CONFIG: GPTConfig = { vocabSize: 11, contextLength: 8, dim: 16, numLayers: 1, numHeads: 2, positional: 'rope', seed: 3 };

export function runScenario(): ScenarioResult {
  const ids = new Tensor(Float64Array.from([1, 4, 2, 9, 0, 7]), [1, 6]);
  const targets = new Tensor(Float64Array.from([4, 2, 9, 0, 7, 1]), [1, 6]);
  const model = new GPT(CONFIG);
  const logits = Array.from(model.forward(ids).data);
  const other = new GPT({ ...CONFIG, seed: CONFIG.seed! + 1 });
  other.loadStateDict(parseSafetensors(serializeSafetensors(model.stateDict(), { config: JSON.stringify(CONFIG) })).tensors);
  const reloadedLogits = Array.from(other.forward(ids).data);
  const opt = new AdamW(model.parameters(), { lr: 1e-2 });
  const losses: number[] = [];
  for (let step = 0; step < 20; step++) {
    opt.zeroGrad();
    const loss = crossEntropy(model.forward(ids), targets);
    loss.backward();
    opt.step();
    losses.push(loss.item());
  }
  return { logits, reloadedLogits, losses };
}
