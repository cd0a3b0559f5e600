/**
 * Small end-to-end runs of the library that execute both in Chromium and in Node, to compare (tests/browser/ in
 * `npm test`, and scripts/browser-check.ts): runScenario — a seeded GPT's logits, its weights round-tripped through
 * safetensors bytes, and 20 AdamW steps on a fixed batch, under whichever backend is active; runThreadsScenario —
 * the wasm backend's Web Worker threads on a cross-origin isolated page.
 */
import { AdamW, Generator, Tensor, crossEntropy, getBackend, getNumThreads, matmul, randn, setBackend, setNumThreads } from '../../core/index.js';
import { wasmWorkersReady } from '../../core/backend.js';
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

/** What runThreadsScenario reports about the wasm backend's threads. */
export interface ThreadsResult {
  isolated: boolean;
  backend: string;
  threads: number;
  /** Web Workers that started and took the second half of the products. */
  workers: number;
  /** The two-thread product equals the one-thread product bit for bit. */
  identical: boolean;
  /** Best of 5, ms, for one and two threads. */
  ms1: number;
  ms2: number;
  error: string;
}

/**
 * For a page: a 768³ float32 product on the wasm backend on one thread, then on two (the Web Worker starts
 * asynchronously in a page, so it waits — at most 20 s — until the worker is ready before comparing and timing).
 */
export async function runThreadsScenario(): Promise<ThreadsResult> {
  const result: ThreadsResult = { isolated: globalThis.crossOriginIsolated === true, backend: '', threads: 0, workers: 0, identical: false, ms1: NaN, ms2: NaN, error: '' };
  const best = (f: () => void): number => {
    let ms = Infinity;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      f();
      ms = Math.min(ms, performance.now() - t0);
    }
    return ms;
  };
  try {
    setBackend('wasm');
    const g = new Generator(1);
    const a = randn([768, 768], { generator: g, dtype: 'float32' });
    const b = randn([768, 768], { generator: g, dtype: 'float32' });
    setNumThreads(1);
    const one = matmul(a, b);
    setNumThreads(2);
    matmul(a, b);
    const deadline = performance.now() + 20_000;
    while (wasmWorkersReady() < 1 && performance.now() < deadline) await new Promise((done) => setTimeout(done, 20));
    const two = matmul(a, b);
    result.identical = one.data.every((x, i) => Object.is(x, two.data[i]));
    result.backend = getBackend();
    result.threads = getNumThreads();
    result.workers = wasmWorkersReady();
    result.ms2 = best(() => matmul(a, b));
    setNumThreads(1);
    result.ms1 = best(() => matmul(a, b));
  } catch (e) {
    result.error = String((e as Error)?.stack ?? e);
  }
  return result;
}
