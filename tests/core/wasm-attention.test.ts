import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { WasmHeap } from '../../core/wasm/heap.js';
import { WasmGemm } from '../../core/wasm/gemm.js';
import { WasmAttention, attentionModule } from '../../core/wasm/attention.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { attention, grad, mul, randn, setBackend, sum, Generator, type Tensor } from '../../core/index.js';
import { wasmResidentProbabilities } from '../../core/backend.js';
import { makeTensor } from '../helpers/oracle-elementwise.js';
import type { AttentionHead } from '../../core/backend.js';

const seed = Number(process.env['FC_SEED'] ?? 42);
const U = 2 ** -24;

const heap = new WasmHeap();
const fused = new WasmAttention(heap, new WasmGemm(heap, 'float32'));

test('the attention module validates, shared and unshared memory', () => {
  assert.ok(WebAssembly.validate(attentionModule(true)));
  assert.ok(WebAssembly.validate(attentionModule(false)));
});

/** A one-block head over q [T, d], k [T, d], v [T, dv] starting at offset 0 (the block plan of a 1-row-block op). */
function headOf(q: Float32Array | Float64Array, k: Float32Array | Float64Array, v: Float32Array | Float64Array, T: number, d: number, dv: number, scale: number, causal: boolean, window = Infinity): AttentionHead {
  return { Tq: T, Tk: T, d, dv, q, qOff: 0, k, kOff: 0, v, vOff: 0, blocks: [{ i0: 0, i1: T, c0: 0, c1: T, pOffset: 0 }], causal, window, scale };
}

test('softmax rows: within 4·2⁻²⁴ of the float64 softmax of the same logits (exact integer scores, v = I so out = P)', () => {
  // integer q, k and a power-of-two scale make every float32 logit exact, so only exp and the normalization round;
  // logits span −48…48 (exp's reduction across many binades), window 7 leaves rows with 1…7 visible keys
  const T = 37;
  const d = 4;
  const g = new Generator(9);
  const ints = (n: number): Float32Array => Float32Array.from({ length: n }, () => Math.floor(g.random() * 13) - 6);
  const q = ints(T * d);
  const k = ints(T * d);
  const eye = new Float32Array(T * T).map((_, i) => (i % (T + 1) === 0 ? 1 : 0));
  for (const [scale, causal, window] of [[0.5, true, Infinity], [0.25, false, 7], [1, true, 3]] as const) {
    const P = new Float32Array(T * T);
    const out = new Float32Array(T * T);
    assert.ok(fused.forward(headOf(q, k, eye, T, d, T, scale, causal, window), P, 0, out, 0));
    for (let i = 0; i < T; i++) {
      const visible = (j: number): boolean => (causal ? j <= i : true) && Math.abs(i - j) < window;
      const logits = Array.from({ length: T }, (_, j) => {
        let s = 0;
        for (let c = 0; c < d; c++) s += q[i * d + c]! * k[j * d + c]!;
        return s * scale;
      });
      const m = Math.max(...logits.filter((_, j) => visible(j)));
      const z = logits.reduce((acc, s, j) => acc + (visible(j) ? Math.exp(s - m) : 0), 0);
      for (let j = 0; j < T; j++) {
        const want = visible(j) ? Math.exp(logits[j]! - m) / z : 0;
        const got = out[i * T + j]!;
        assert.ok(Math.abs(got - want) <= 4 * U * want + 1e-45, `scale ${scale} causal ${causal} window ${window}: P[${i},${j}] = ${got}, float64 ${want}`);
        assert.is(P[i * T + j], got, 'the saved P is the P that multiplied v');
      }
    }
  }
  assert.is(heap.liveBytes, 0, 'every block is freed');
});

test('declines float64 operands and |scale| > 1, writing nothing', () => {
  const T = 4;
  const x32 = new Float32Array(T * 4).fill(0.5);
  const x64 = new Float64Array(T * 4).fill(0.5);
  const P = new Float32Array(T * T).fill(7);
  const out = new Float32Array(T * 4).fill(7);
  assert.not.ok(fused.forward(headOf(x64, x64, x64, T, 4, 4, 0.5, true), P, 0, out, 0));
  assert.not.ok(fused.forward(headOf(x32, x32, x32, T, 4, 4, 1.5, true), P, 0, out, 0));
  assert.not.ok(fused.backward(headOf(x32, x32, x32, T, 4, 4, 2, false), P, 0, out, out, 0, out, out, out));
  assert.ok(P.every((x) => x === 7) && out.every((x) => x === 7));
});

/**
 * max |a − b| over max(max |b|, floor): a tensor's worst difference relative to its size or the terms' size. Differences
 * below float32's smallest normal number (1.2e-38) count as none: a subnormal scale rounds differently on each side.
 */
function relDiff(a: Tensor, b: Tensor, floor: number): number {
  let diff = 0;
  let size = floor;
  for (let i = 0; i < a.size; i++) {
    diff = Math.max(diff, Math.abs(a.data[i]! - b.data[i]!));
    size = Math.max(size, Math.abs(b.data[i]!));
  }
  const beyondSubnormal = Math.max(0, diff - 2 ** -126);
  return size === 0 ? beyondSubnormal : beyondSubnormal / size;
}

const maxAbs = (t: Tensor): number => Array.from(t.data).reduce((m, x) => Math.max(m, Math.abs(x)), 0);

/**
 * Attention calls: shapes across the 32-row blocks, Tq ≤ Tk and Tq > Tk (Tk = Tq + extra when causal, else
 * max(1, Tq + extra − 20)), head dims not multiples of the tiles, k/v shared by every head or not, causal and
 * windowed, the default or a given scale.
 */
const attentionCases = fc.record({
  Tq: fc.integer({ min: 1, max: 70 }),
  extra: fc.integer({ min: 0, max: 40 }),
  d: fc.integer({ min: 1, max: 20 }),
  dv: fc.integer({ min: 1, max: 20 }),
  heads: fc.integer({ min: 1, max: 3 }),
  sharedKV: fc.boolean(),
  causal: fc.boolean(),
  window: fc.oneof(fc.constant(Infinity), fc.integer({ min: 1, max: 12 })),
  scale: fc.oneof(fc.constant(undefined), fc.double({ min: -1, max: 1, noNaN: true })),
  seedValue: fc.integer({ min: 0, max: 1000 }),
});

/** The tensors of one attention case: q [2, heads, Tq, d], k and v ([2, 1 or heads, Tk, …]), a loss weight r like the output, and the options. */
function attentionProblem(c: typeof attentionCases extends fc.Arbitrary<infer T> ? T : never): {
  q: Tensor; k: Tensor; v: Tensor; r: Tensor; Tk: number; options: { causal: boolean; window: number; scale?: number };
} {
  const Tk = c.causal ? c.Tq + c.extra : Math.max(1, c.Tq + c.extra - 20);
  const g = new Generator(c.seedValue);
  const kvHeads = c.sharedKV ? 1 : c.heads;
  return {
    q: randn([2, c.heads, c.Tq, c.d], { generator: g }),
    k: randn([2, kvHeads, Tk, c.d], { generator: g }),
    v: randn([2, kvHeads, Tk, c.dv], { generator: g }),
    r: randn([2, c.heads, c.Tq, c.dv], { generator: g }),
    Tk,
    options: { causal: c.causal, window: c.window, ...(c.scale === undefined ? {} : { scale: c.scale }) },
  };
}

test("setBackend('wasm'): the fused float32 attention = the JS kernel, forward and backward, to float32 rounding", () => {
  // k/v shared by the heads: their gradients gather every head's part
  fc.assert(
    fc.property(attentionCases, (c) => {
      const { Tq, d, dv, heads, sharedKV, causal, window, scale } = c;
      const { q, k, v, r, Tk, options } = attentionProblem(c);
      const run = (): Tensor[] => [
        attention(q, k, v, options),
        ...grad((a: Tensor, b: Tensor, c: Tensor) => sum(mul(attention(a, b, c, options), r)))(q, k, v),
      ];
      setBackend('js');
      const want = run();
      setBackend('wasm');
      let got: Tensor[];
      try {
        got = run();
      } finally {
        setBackend('js');
      }
      // float32 sums of ≤ max(Tk, d, dv, 2·Tq) terms on either side, and exp to a few ulp: (K + 16)·2⁻²⁴ of the scale
      const tol = (Math.max(Tk, d, dv, 2 * Tq) + 16) * U;
      // dq and dk can cancel to ~0 (one visible key: exactly 0 in exact arithmetic), so they are measured against
      // the size of the terms they sum, |scale|·|dO|·|v|·|k or q|, when that is larger than they are
      const effScale = Math.abs(scale ?? 1 / Math.sqrt(d));
      const terms = effScale * maxAbs(r) * maxAbs(v) * Math.max(maxAbs(q), maxAbs(k));
      ['out', 'dq', 'dk', 'dv'].forEach((name, i) => {
        const rel = relDiff(got[i]!, want[i]!, i === 1 || i === 2 ? terms : 0);
        assert.ok(rel <= tol, `${name}: wasm vs js relative difference ${rel} > ${tol} (${JSON.stringify({ Tq, Tk, d, dv, heads, sharedKV, causal, window, scale })})`);
      });
    }),
    { seed, numRuns: 60 },
  );
  assert.is(heap.liveBytes, 0);
});

test('a row that sees no key outputs 0 on the fused kernel too (window past the keys, Tq > Tk)', () => {
  const q = makeTensor([1, 6, 2], Array.from({ length: 12 }, (_, i) => (i % 5) - 2), 'float32');
  const k = makeTensor([1, 2, 2], [1, 0, 0, 1], 'float32');
  const v = makeTensor([1, 2, 3], [1, 2, 3, 4, 5, 6], 'float32');
  setBackend('wasm');
  try {
    // query i sits at key position i − 4: rows 0…2 are more than `window` − 1 = 1 from both keys 0 and 1
    const out = attention(q, k, v, { window: 2 });
    assert.equal(Array.from(out.data.slice(0, 9)), new Array(9).fill(0));
    assert.ok(out.data.slice(9).every((x) => Number.isFinite(x) && x !== 0), 'the later rows see keys');
  } finally {
    setBackend('js');
  }
});

/** Bytes of saved probabilities in the wasm backend's heap (it must be loaded). */
const residentBytes = (): number => wasmResidentProbabilities().bytes;

test('P in the wasm heap: out and gradients bit for bit those of P copied to a JS buffer; the heap holds P only while a backward can read it', () => {
  setBackend('wasm');
  const limit = wasmResidentProbabilities().limit;
  try {
    fc.assert(
      fc.property(attentionCases, (c) => {
        const { q, k, v, r, options } = attentionProblem(c);
        const before = residentBytes();
        // `held`: the bytes of P in the heap between the forward and its backward
        const run = (): { values: Tensor[]; held: number } => {
          let held = -1;
          const grads = grad((a: Tensor, b: Tensor, c: Tensor) => {
            const o = attention(a, b, c, options);
            held = residentBytes() - before;
            return sum(mul(o, r));
          })(q, k, v);
          return { values: [attention(q, k, v, options), ...grads], held };
        };
        wasmResidentProbabilities(limit);
        const inHeap = run();
        // P is in the heap until the backward (empty only when no query sees a key, and then the output is 0)
        assert.ok(inHeap.held > 0 || inHeap.values[0]!.data.every((x) => x === 0), `P (${inHeap.held} bytes) was in the heap until the backward`);
        assert.is(residentBytes(), before, 'the backward freed it, and an unrecorded forward held none');
        wasmResidentProbabilities(0);
        const copied = run();
        assert.is(copied.held, 0, 'limit 0: P in a JS buffer');
        ['out', 'dq', 'dk', 'dv'].forEach((name, i) => assert.equal(inHeap.values[i]!.data, copied.values[i]!.data, name));
      }),
      { seed, numRuns: 40 },
    );
  } finally {
    wasmResidentProbabilities(limit);
    setBackend('js');
  }
});

test('P in the wasm heap: past the limit P goes to a JS buffer (same values); a graph recorded on wasm differentiates after setBackend(js)', () => {
  setBackend('wasm');
  const limit = wasmResidentProbabilities().limit;
  try {
    const g = new Generator(5);
    const leaves = [randn([3, 2, 40, 8], { generator: g }), randn([3, 2, 40, 8], { generator: g }), randn([3, 2, 40, 8], { generator: g })];
    const loss = (a: Tensor, b: Tensor, c: Tensor): Tensor => sum(mul(attention(a, b, c, { causal: true }), a));
    const want = grad(loss)(...(leaves as [Tensor, Tensor, Tensor]));
    // room for one graph's P but not two: the first forward keeps P in the heap, the second gets a JS buffer
    const one = (() => {
      const before = residentBytes();
      for (const t of leaves) t.requiresGrad = true;
      const l = loss(...(leaves as [Tensor, Tensor, Tensor]));
      const bytes = residentBytes() - before;
      l.backward();
      for (const t of leaves) t.grad = null;
      return bytes;
    })();
    assert.ok(one > 0);
    wasmResidentProbabilities(residentBytes() + one);
    const first = loss(...(leaves as [Tensor, Tensor, Tensor]));
    const held = residentBytes();
    const second = loss(...(leaves as [Tensor, Tensor, Tensor]));
    assert.is(residentBytes(), held, 'the second P did not fit: it is in a JS buffer');
    second.backward(); // on wasm, from P in a JS buffer
    leaves.forEach((t, j) => {
      assert.equal(t.grad!.data, want[j]!.data, `leaf ${j}, P in a JS buffer`);
      t.grad = null;
    });
    setBackend('js'); // the first graph's backward still runs on the wasm heap its P lives in: wasm's values, bit for bit
    first.backward();
    leaves.forEach((t, j) => assert.equal(t.grad!.data, want[j]!.data, `leaf ${j}, P in the heap, backward after setBackend('js')`));
    setBackend('wasm');
    assert.is(residentBytes(), held - one, 'both backwards freed what they held');
    for (const t of leaves) t.requiresGrad = false;
  } finally {
    wasmResidentProbabilities(limit);
    setBackend('js');
  }
});

test('P in the wasm heap: a recorded forward that never gets a backward frees its P when the graph is collected', async () => {
  setFlagsFromString('--expose-gc');
  const collect = runInNewContext('gc') as () => void;
  const collectGarbage = async (): Promise<void> => {
    collect();
    await new Promise((done) => setTimeout(done, 10));
  };
  setBackend('wasm');
  try {
    await collectGarbage(); // graphs an earlier test dropped (one may still be freed later: see below)
    const before = residentBytes();
    let mine = 0;
    (() => {
      const g = new Generator(8);
      const [q, k, v] = [0, 1, 2].map(() => randn([4, 4, 256, 8], { generator: g }));
      q!.requiresGrad = true;
      attention(q!, k!, v!, { causal: true }); // recorded, then dropped
      mine = residentBytes() - before;
    })();
    // this graph's P is far larger than anything left over, so the heap can only fall back to `before` if it was freed
    assert.ok(mine > before, `P took ${mine} bytes, more than the ${before} held before`);
    for (let tries = 0; tries < 50 && residentBytes() > before; tries++) await collectGarbage();
    assert.ok(residentBytes() <= before, `the finalizer freed P: ${residentBytes()} bytes left, ${before} before it`);
  } finally {
    setBackend('js');
  }
});

test.run();
