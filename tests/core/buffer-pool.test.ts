/**
 * The engine's scratch pool (core/buffer-pool.ts): buffers come back zeroed and are reused by size; and the ops that
 * pool what they save for backward (the fused attention's P, the norms' x̂, cross-entropy's softmax) give each
 * buffer back only when nothing can read it again. The property: any interleaving of forwards (recorded or not) and
 * backwards (freeing the graph or retaining it) gives every backward the gradients of the same graph computed alone
 * on fresh memory, bit for bit — a buffer handed out while a live graph still reads it would change them. Under the
 * wasm backend (npm test --wasm-too) the float32 attention keeps P in the wasm heap instead of the pool
 * (core/wasm/attention.ts), and the same property covers those blocks.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, Tensor, attention, crossEntropy, getBackend, layerNorm, noGrad, randn, type DType } from '../../core/index.js';
import { bufferPoolStats, clearBufferPool, giveBuffer, takeBuffer } from '../../core/buffer-pool.js';
import { wasmResidentProbabilities } from '../../core/backend.js';
import { fcParams } from '../helpers/fc.js';

test('takeBuffer: a given-back buffer of the same dtype and length is reused, zeroed; other sizes are not', () => {
  clearBufferPool();
  const a = takeBuffer('float32', 40_000, 'test');
  a.fill(7);
  giveBuffer(a);
  assert.is(bufferPoolStats().pooledBytes, 160_000);
  assert.is(takeBuffer('float64', 40_000, 'test') === a, false, 'another dtype');
  assert.is(takeBuffer('float32', 40_001, 'test') === a, false, 'another length');
  const b = takeBuffer('float32', 40_000, 'test');
  assert.is(b, a, 'the same buffer back');
  assert.ok(b.every((x) => x === 0), 'zeroed on reuse');
  assert.is(bufferPoolStats().pooledBytes, 0);
  clearBufferPool();
});

test('giveBuffer: small buffers are left to the allocator; a buffer given twice is handed out once', () => {
  clearBufferPool();
  const small = takeBuffer('float64', 100, 'test');
  giveBuffer(small);
  assert.is(bufferPoolStats().pooledBytes, 0);
  const big = takeBuffer('float64', 20_000, 'test');
  giveBuffer(big);
  giveBuffer(big);
  const first = takeBuffer('float64', 20_000, 'test');
  const second = takeBuffer('float64', 20_000, 'test');
  assert.is(first, big);
  assert.is.not(second, big, 'two callers must never share a buffer');
  clearBufferPool();
});

test('takeBuffer: sizes are checked like allocate (the caller named in the error)', () => {
  assert.throws(() => takeBuffer('float32', -1, 'attention', 'q'), /^attention: .*q/);
  assert.throws(() => takeBuffer('float32', 2 ** 40, 'attention', 'q'), /^attention: /);
});

// ── the ops that pool, under interleaved forwards and backwards ────────────────────────────────────────────────────

type Kind = 'attention64' | 'attention32' | 'layerNorm' | 'crossEntropy';
const KINDS: readonly Kind[] = ['attention64', 'attention32', 'layerNorm', 'crossEntropy'];

/** One graph: its leaves and a scalar loss. Sizes are chosen so every saved buffer is big enough to be pooled. */
function build(kind: Kind, seed: number): { leaves: Tensor[]; loss: Tensor } {
  const g = new Generator(seed);
  const leaf = (shape: number[], dtype: DType): Tensor => {
    const t = randn(shape, { generator: g, dtype });
    t.requiresGrad = true;
    return t;
  };
  if (kind === 'attention64' || kind === 'attention32') {
    const dtype: DType = kind === 'attention64' ? 'float64' : 'float32';
    const T = kind === 'attention64' ? 96 : 128;
    const q = leaf([1, 4, T, 16], dtype);
    const k = leaf([1, 4, T, 16], dtype);
    const v = leaf([1, 4, T, 16], dtype);
    const w = randn([1, 4, T, 16], { generator: g, dtype });
    return { leaves: [q, k, v], loss: attention(q, k, v, { causal: true }).mul(w).sum() };
  }
  if (kind === 'layerNorm') {
    const x = leaf([96, 128], 'float64');
    const weight = leaf([128], 'float64');
    const bias = leaf([128], 'float64');
    const w = randn([96, 128], { generator: g, dtype: 'float64' });
    return { leaves: [x, weight, bias], loss: layerNorm(x, weight, bias).mul(w).sum() };
  }
  const logits = leaf([160, 64], 'float64');
  const targets = Array.from({ length: 160 }, (_, i) => (i * 13 + seed) % 64);
  return { leaves: [logits], loss: crossEntropy(logits, targets) };
}

/** Loss and gradients of one graph, built and differentiated alone on fresh memory. */
function alone(kind: Kind, seed: number): { loss: number; grads: Float64Array[] } {
  clearBufferPool();
  const { leaves, loss } = build(kind, seed);
  loss.backward();
  clearBufferPool();
  return { loss: loss.item(), grads: leaves.map((t) => Float64Array.from(t.grad!.data)) };
}

const commandArb = fc.oneof(
  fc.record({ type: fc.constant('forward' as const), kind: fc.constantFrom(...KINDS), seed: fc.integer({ min: 0, max: 3 }), record: fc.boolean() }),
  fc.record({ type: fc.constant('backward' as const), pick: fc.nat(), retain: fc.boolean() }),
);

test('pooled saved buffers: any interleaving of forwards and backwards gives each graph the gradients it has alone', () => {
  const expected = new Map<string, { loss: number; grads: Float64Array[] }>();
  for (const kind of KINDS) for (let seed = 0; seed <= 3; seed++) expected.set(`${kind}/${seed}`, alone(kind, seed));
  let backwards = 0;
  fc.assert(
    fc.property(fc.array(commandArb, { minLength: 1, maxLength: 14 }), (commands) => {
      clearBufferPool();
      const live: Array<{ key: string; leaves: Tensor[]; loss: Tensor }> = [];
      for (const c of commands) {
        if (c.type === 'forward') {
          const key = `${c.kind}/${c.seed}`;
          if (c.record) live.push({ key, ...build(c.kind, c.seed) });
          else assert.is(noGrad(() => build(c.kind, c.seed).loss.item()), expected.get(key)!.loss, `${key} without grad`);
          continue;
        }
        if (live.length === 0) continue;
        const i = c.pick % live.length;
        const graph = live[i]!;
        for (const t of graph.leaves) t.grad = null;
        graph.loss.backward(undefined, { retainGraph: c.retain });
        backwards++;
        const want = expected.get(graph.key)!;
        graph.leaves.forEach((t, j) => assert.equal(Float64Array.from(t.grad!.data), want.grads[j], `${graph.key} leaf ${j}`));
        if (!c.retain) live.splice(i, 1);
      }
    }),
    fcParams(40),
  );
  assert.ok(backwards > 40, `the commands ran ${backwards} backward passes`);
  assert.ok(bufferPoolStats().hits > 0, 'the pool was used');
  clearBufferPool();
});

test('pooled saved buffers: a graph differentiated twice (retainGraph) keeps its buffer; the second pass frees it', () => {
  clearBufferPool();
  const want = alone('attention32', 1);
  const { leaves, loss } = build('attention32', 1);
  // under wasm P lives in its heap (counted there), else in a pooled buffer
  const inHeap = getBackend() === 'wasm';
  const heapBytes = (): number => (inHeap ? wasmResidentProbabilities().bytes : 0);
  loss.backward(undefined, { retainGraph: true });
  const pooledAfterRetained = bufferPoolStats().pooledBytes;
  const heapAfterRetained = heapBytes();
  if (inHeap) assert.ok(heapAfterRetained > 0, 'P stays in the heap while the graph is retained');
  build('attention32', 2); // another graph's forward: it must not be handed the first graph's P
  const heapBeforeLast = heapBytes();
  for (const t of leaves) t.grad = null;
  loss.backward();
  leaves.forEach((t, j) => assert.equal(Float64Array.from(t.grad!.data), want.grads[j], `leaf ${j}`));
  if (inHeap) assert.ok(heapBytes() < heapBeforeLast, 'P leaves the heap after the last backward');
  else assert.ok(bufferPoolStats().pooledBytes > pooledAfterRetained, 'P comes back after the last backward');
  clearBufferPool();
});

test.run();
