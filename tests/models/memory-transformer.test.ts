/**
 * models/memory-transformer.ts and nn/memory-block.ts: causality within and across segments; streaming (uneven
 * pieces across segment boundaries) equals the full forward, and streaming greedy generation equals greedy decoding
 * by full forwards; memory carried between calls equals one long call; truncated BPTT cuts gradients at exactly the
 * configured number of segments; the block's combinations; a tiny model learns to recall a token from the previous
 * segment (only the memory can carry it — with gate 0 it cannot) and overfits a fixed batch; errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator, ShapeError, Tensor, ValueError, concat, crossEntropy, noGrad, randn } from '../../core/index.js';
import { MemoryBlock } from '../../nn/memory-block.js';
import { MemoryTransformer, type MemoryTransformerConfig } from '../../models/memory-transformer.js';
import { assertClose } from '../helpers/close.js';
import { randomTokens, trainUntil } from '../helpers/lm.js';

const V = 11;

function tiny(extra: Partial<MemoryTransformerConfig> = {}): MemoryTransformer {
  return new MemoryTransformer({
    vocabSize: V, dim: 16, numLayers: 2, numHeads: 2, segmentLength: 5, chunkSize: 2, memorySlots: 3, seed: 3, ...extra,
  });
}

const ids = (seed: number, B: number, T: number, vocab = V): Tensor => randomTokens(seed, B, T, vocab);

/** Rows [t0, t1) of logits [B, T, V] for sequence b. */
function rows(logits: Tensor, b: number, t0: number, t1: number): Float64Array | Float32Array {
  const [, T, W] = logits.shape as [number, number, number];
  return logits.data.subarray((b * T + t0) * W, (b * T + t1) * W);
}

test('causality: changing token t leaves every earlier logit unchanged (same segment and across segments)', () => {
  for (const combine of ['projection', 'weights'] as const) {
    const model = tiny({ combine, memoryInit: 'learned' }).to('float64');
    const x = ids(1, 2, 17);
    const base = noGrad(() => model.forward(x));
    for (const t of [0, 3, 4, 5, 9, 16]) {
      const y = x.clone();
      y.data[t] = (y.data[t]! + 1) % V;
      y.data[17 + t] = (y.data[17 + t]! + 3) % V;
      const out = noGrad(() => model.forward(y));
      for (let b = 0; b < 2; b++) {
        assertClose(rows(out, b, 0, t), rows(base, b, 0, t), { rtol: 0, atol: 0 }, `${combine}: change at ${t}`);
        assert.ok(rows(out, b, t, t + 1).some((v, i) => v !== rows(base, b, t, t + 1)[i]), `${combine}: logit at ${t} should change`);
      }
    }
  }
});

test('streaming in uneven pieces (crossing segment boundaries) gives the logits of one full forward', () => {
  for (const combine of ['projection', 'weights'] as const) {
    const model = tiny({ combine, segmentLength: 4, chunkSize: 3, memorySlots: 2, norm: 'rms', mlp: 'swiglu' }).to('float64');
    const x = ids(2, 2, 19);
    const full = noGrad(() => model.forward(x));
    const stream = model.newStream(2);
    let t = 0;
    for (const n of [3, 1, 1, 6, 1, 2, 5]) {
      const step = noGrad(() => model.forwardStream(x.narrow(1, t, n), stream));
      for (let b = 0; b < 2; b++) assertClose(rows(step, b, 0, n), rows(full, b, t, t + n), { rtol: 1e-10, atol: 1e-12 }, `${combine} at ${t}`);
      t += n;
    }
    assert.is(stream.filled, 19 % 4);
  }
});

test('streaming generate (greedy) equals greedy decoding by a full forward over everything so far', () => {
  const model = tiny({ segmentLength: 3, chunkSize: 2 }).to('float64');
  const prompt = [1, 4, 2, 7];
  const got = model.generate(prompt, { maxNewTokens: 9, temperature: 0 });
  const seq = [...prompt];
  const want: number[] = [];
  for (let i = 0; i < 9; i++) {
    const logits = noGrad(() => model.forward(new Tensor(Float64Array.from(seq), [1, seq.length])));
    const last = Array.from(logits.data.subarray(logits.size - V));
    const next = last.indexOf(Math.max(...last));
    want.push(next);
    seq.push(next);
  }
  assert.equal(got, want);
  // sampling is reproducible for a generator seed and honours stopToken
  const a = model.generate(prompt, { maxNewTokens: 6, temperature: 1, topK: 5, generator: new Generator(9) });
  const b = model.generate(prompt, { maxNewTokens: 6, temperature: 1, topK: 5, generator: new Generator(9) });
  assert.equal(a, b);
  assert.equal(model.generate(prompt, { maxNewTokens: 9, temperature: 0, stopToken: want[2]! }), want.slice(0, want.indexOf(want[2]!) + 1));
  assert.ok(model.training, 'training mode restored');
});

test('memory carried between calls: forward(seg 0‥1) then forward(seg 2‥3, {memory}) equals one call', () => {
  const model = tiny({ gate: 'learned' }).to('float64');
  const x = ids(4, 2, 20);
  const whole = noGrad(() => model.forward(x));
  const first = noGrad(() => model.forwardWithMemory(x.narrow(1, 0, 10)));
  const second = noGrad(() => model.forward(x.narrow(1, 10, 10), { memory: first.memory }));
  for (let b = 0; b < 2; b++) assertClose(rows(second, b, 0, 10), rows(whole, b, 10, 20), { rtol: 1e-12, atol: 1e-14 }, `b=${b}`);
});

/**
 * Segment s (of 4, length 5) uses only the token ids 2s+1, 2s+2, so the embedding rows of those ids carry
 * exactly the gradient that reaches segment s. The loss is on the last segment only; the head is untied.
 */
function segmentGrads(truncateBPTT: number): number[] {
  const model = tiny({ truncateBPTT, tieEmbeddings: false, numLayers: 1 }).to('float64');
  const g = new Generator(5);
  const T = 20;
  const x = new Tensor(Float64Array.from({ length: 2 * T }, (_, i) => 2 * Math.floor((i % T) / 5) + 1 + g.int(0, 2)), [2, T]);
  const targets = new Tensor(Float64Array.from({ length: 2 * T }, (_, i) => (i % T >= 15 ? g.int(0, V) : -100)), [2, T]);
  crossEntropy(model.forward(x), targets).backward();
  const grad = model.wte.weight.grad!;
  return [0, 1, 2, 3].map((s) => {
    let norm = 0;
    for (let id = 2 * s + 1; id <= 2 * s + 2; id++) for (let c = 0; c < 16; c++) norm += Math.abs(grad.data[id * 16 + c]!);
    return norm;
  });
}

test('truncated BPTT: a loss on the last segment reaches back exactly truncateBPTT segments (earlier gradients exactly 0)', () => {
  const one = segmentGrads(1);
  assert.equal(one.slice(0, 3), [0, 0, 0], `truncate 1: ${one}`);
  assert.ok(one[3]! > 0);
  const two = segmentGrads(2); // segments 2‥3 form the last TBPTT window
  assert.equal(two.slice(0, 2), [0, 0], `truncate 2: ${two}`);
  assert.ok(two[2]! > 0 && two[3]! > 0, `truncate 2: ${two}`);
  const all = segmentGrads(Infinity);
  assert.ok(all.every((v) => v > 0), `full BPTT: ${all}`);
});

test('MemoryBlock: y = x + combine(global, local, memory) + mlp(norm(·)) for both combinations; C ≥ S makes local = global', () => {
  const g = new Generator(7);
  const x = randn([2, 6, 8], { generator: g, dtype: 'float64' });
  for (const combine of ['projection', 'weights'] as const) {
    const block = new MemoryBlock(8, { numHeads: 2, chunkSize: 6, memorySlots: 3, combine, memoryInit: 'learned', generator: new Generator(8), dtype: 'float64' });
    block.local.loadStateDict(block.global.stateDict()); // same weights: with C ≥ S the two paths agree
    const memory = block.memory.write(block.memory.initial(2), randn([2, 2, 8], { generator: g, dtype: 'float64' }));
    const { y, candidates } = block.forward(x, memory);
    const h = block.norm1.forward(x);
    const og = block.global.forward(h);
    const oc = block.local.forward(h);
    assertClose(oc.data, og.data, { rtol: 1e-12, atol: 1e-14 }, `${combine}: local = global`);
    const om = block.memory.read(h, memory);
    let a: Tensor;
    if (combine === 'projection') a = block.mix!.forward(concat([og, oc, om], 2));
    else {
      const alpha = block.pathWeights()!;
      assertClose(alpha.data, [1 / 3, 1 / 3, 1 / 3], { rtol: 1e-15, atol: 0 }, 'α at init');
      a = og.mul(1 / 3).add(oc.mul(1 / 3)).add(om.mul(1 / 3));
    }
    const x1 = x.add(a);
    const want = x1.add(block.mlp.forward(block.norm2.forward(x1)));
    assertClose(y.data, want.data, { rtol: 1e-12, atol: 1e-14 }, combine);
    assert.equal([...candidates.shape], [2, 1, 8]); // one candidate per chunk of 6
  }
});

/**
 * Recall across segments: segment 0 is [v, f, f, f] with v ∈ {0‥3}, segment 1 is [q, q, q, q]; every position of
 * segment 1 must predict v. Segment 1's tokens are the same for every sequence, so only the memory can tell.
 */
function recallBatch(): { x: Tensor; targets: Tensor } {
  const x: number[] = [];
  const t: number[] = [];
  for (let v = 0; v < 4; v++) {
    x.push(v, 4, 4, 4, 5, 5, 5, 5);
    t.push(-100, -100, -100, -100, v, v, v, v);
  }
  return { x: new Tensor(Float64Array.from(x), [4, 8]), targets: new Tensor(Float64Array.from(t), [4, 8]) };
}

function trainRecall(gate: 'learned' | number, steps: number, seed = 1): number {
  const model = new MemoryTransformer({ vocabSize: 6, dim: 16, numLayers: 1, numHeads: 2, segmentLength: 4, chunkSize: 4, memorySlots: 2, gate, seed });
  const { x, targets } = recallBatch();
  return trainUntil(model.parameters(), () => crossEntropy(model.forward(x), targets), { lr: 1e-2, maxSteps: steps }).loss;
}

test('a tiny MemoryTransformer learns to recall a token from the previous segment through its memory', () => {
  // A model this small sometimes settles on a partial-recall plateau (loss ≈ ln4/4 or ≈ 0.82), depending on its
  // initialisation and on rounding (7 of seeds 1–8 converge within 700 steps): the claim is that the memory makes
  // recall learnable, so one of three seeds must get there.
  const losses: number[] = [];
  for (const seed of [1, 2, 3]) {
    losses.push(trainRecall('learned', 800, seed));
    if (losses.at(-1)! < 0.05) break;
  }
  assert.ok(Math.min(...losses) < 0.05, `recall loss per seed ${losses.join(', ')}`);
  // gate 0: nothing is ever written, segment 1 cannot see v, the loss cannot go below ln 4
  const blind = trainRecall(0, 40);
  assert.ok(blind > Math.log(4) - 1e-3, `gate-0 loss ${blind}`);
});

test('a tiny MemoryTransformer overfits a fixed batch of random tokens over 3 segments', () => {
  const model = tiny({ numLayers: 1, segmentLength: 4, chunkSize: 2 });
  const x = ids(9, 2, 13); // no repeated token pair at a segment start (e.g. [6, 6] → two targets would tie)
  const [inp, tgt] = [x.narrow(1, 0, 12), x.narrow(1, 1, 12)];
  const { loss, steps } = trainUntil(model.parameters(), () => model.loss(inp, tgt), { lr: 1e-2, maxSteps: 400 });
  assert.ok(loss < 0.05, `loss ${loss} after ${steps} steps`);
});

test('errors name the op and the argument', () => {
  const throwsArg = (fn: () => unknown, arg: string, type: new (...a: never[]) => Error = ValueError): void =>
    assert.throws(fn, (e: unknown) => e instanceof type && (e as ValueError).arg === arg && /^MemoryTransformer(\.\w+)?: /.test((e as Error).message));
  throwsArg(() => tiny({ segmentLength: 0 }), 'segmentLength');
  throwsArg(() => tiny({ truncateBPTT: 0 }), 'truncateBPTT');
  throwsArg(() => tiny({ dim: 15 }), 'numHeads');
  const model = tiny();
  throwsArg(() => model.forward(new Tensor(new Float64Array(3), [3])), 'ids', ShapeError);
  throwsArg(() => model.forward(ids(1, 1, 4), { memory: [] }), 'memory');
  throwsArg(() => model.generate([], { maxNewTokens: 1, temperature: 0 }), 'prompt');
  throwsArg(() => model.generate([1], { maxNewTokens: 2 }), 'generator');
  throwsArg(() => model.generate([1], { maxNewTokens: -1, temperature: 0 }), 'maxNewTokens');
});

test.run();
