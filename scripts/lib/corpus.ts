/** The demo corpus (scripts/data/moby-dick.txt) as character ids, and random next-character batches from it. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Tensor, type Generator } from '../../core/index.js';

export interface CharCorpus {
  vocab: string[];
  train: Int32Array;
  val: Int32Array;
}

/** Character vocabulary and the text as ids, split 90/10 into train and validation. Paths resolve from the package root. */
export function loadCorpus(path = resolve('scripts/data/moby-dick.txt')): CharCorpus {
  const text = readFileSync(path, 'utf8');
  const vocab = [...new Set(text)].sort();
  const index = new Map(vocab.map((c, i) => [c, i]));
  const ids = Int32Array.from(text, (c) => index.get(c)!);
  const cut = Math.floor(ids.length * 0.9);
  return { vocab, train: ids.subarray(0, cut), val: ids.subarray(cut) };
}

/** B random windows of T + 1 ids: inputs [B, T] and next-id targets [B, T]. */
export function sampleBatch(data: Int32Array, B: number, T: number, g: Generator): { x: Tensor; y: Tensor } {
  const x = new Float32Array(B * T);
  const y = new Float32Array(B * T);
  for (let b = 0; b < B; b++) {
    const start = g.int(0, data.length - T - 1);
    for (let t = 0; t < T; t++) {
      x[b * T + t] = data[start + t]!;
      y[b * T + t] = data[start + t + 1]!;
    }
  }
  return { x: new Tensor(x, [B, T]), y: new Tensor(y, [B, T]) };
}
