/**
 * nn/fifo-memory.ts: a worked example (N = 3, writes u1…u5 with g = 1 → [u3, u4, u5]); FIFO order after
 * any number of writes; gate 1 ⇒ replacement, gate 0 ⇒ slots unchanged, a gate in between mixes each candidate with
 * the oldest slot; one write of K equals K writes of one (K > N included); learned gate saturation; the read is
 * invariant to slot order; pooling; gradients; errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, ShapeError, Tensor, ValueError, gradcheck, randn } from '../../core/index.js';
import { FifoMemory, type FifoState } from '../../nn/fifo-memory.js';
import { assertClose, assertShape } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';

const C = 4;

/** Candidate u_i: [B, 1, C] filled with i + channel/10 (+ 100·b for sequence b), easy to recognise. */
function candidate(i: number, B = 1): Tensor {
  const data = new Float64Array(B * C);
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) data[b * C + c] = i + c / 10 + 100 * b;
  return new Tensor(data, [B, 1, C]);
}

function memory(N: number, gate: 'learned' | number, extra: { init?: 'zeros' | 'learned'; numHeads?: number; seed?: number } = {}): FifoMemory {
  const { seed = 0, ...options } = extra;
  return new FifoMemory(N, C, { gate, generator: new Generator(seed), dtype: 'float64', ...options });
}

/** Set the learned gate to the constant σ(bias): W_g = 0, b_g = bias. */
function saturate(m: FifoMemory, bias: number): void {
  m.gateProj!.weight.data.fill(0);
  m.gateProj!.bias!.data.fill(bias);
}

test('worked example: N = 3, one slot per write, u1…u5 with g = 1 → [u3, u4, u5]', () => {
  const constant = memory(3, 1);
  const learned = memory(3, 'learned');
  saturate(learned, 50); // σ(50) rounds to 1 in float64
  for (const m of [constant, learned]) {
    let s = m.initial(1);
    for (let i = 1; i <= 5; i++) s = m.write(s, candidate(i));
    assertClose(m.ordered(s).data, [...candidate(3).data, ...candidate(4).data, ...candidate(5).data], { rtol: 0, atol: 0 }, 'ordered');
    assert.is(s.head, 5 % 3);
  }
});

test('FIFO: after k single-slot writes with g = 1 the memory holds the last N candidates in order (older slots: the initial ones)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 1, max: 2 }), fc.boolean(), (N, k, B, learnedInit) => {
      const m = memory(N, 1, { init: learnedInit ? 'learned' : 'zeros' });
      const init = m.ordered(m.initial(B));
      let s = m.initial(B);
      for (let i = 1; i <= k; i++) s = m.write(s, candidate(i, B));
      const got = m.ordered(s);
      assertShape(got.shape, [B, N, C]);
      for (let b = 0; b < B; b++) {
        for (let slot = 0; slot < N; slot++) {
          const i = k - N + 1 + slot; // the candidate expected in this slot (i ≤ 0: an initial slot)
          const want = i >= 1 ? candidate(i, B).data.subarray(b * C, (b + 1) * C) : init.data.subarray((b * N + slot + k) * C, (b * N + slot + k + 1) * C);
          assertClose(got.data.subarray((b * N + slot) * C, (b * N + slot + 1) * C), want, { rtol: 0, atol: 0 }, `N=${N} k=${k} b=${b} slot=${slot}`);
        }
      }
    }),
    fcParams(80),
  );
});

test('gate 0 ⇒ the slots are unchanged (only the oldest-slot pointer moves); gate 1 ⇒ the oldest slot is replaced', () => {
  const g = new Generator(1);
  const start: FifoState = { slots: randn([2, 3, C], { generator: g, dtype: 'float64' }), head: 1 };
  const u = randn([2, 2, C], { generator: g, dtype: 'float64' });
  const keep = memory(3, 0).write(start, u);
  assertClose(keep.slots.data, start.slots.data, { rtol: 0, atol: 0 }, 'gate 0');
  assert.is(keep.head, 0); // (1 + 2) mod 3
  const replace = memory(3, 1).write(start, u);
  // head 1: u[0] lands in physical slot 1, u[1] in slot 2; slot 0 is untouched
  for (let b = 0; b < 2; b++) {
    const row = (t: Tensor, n: number, i: number): Float64Array | Float32Array => t.data.subarray((b * n + i) * C, (b * n + i + 1) * C);
    assertClose(row(replace.slots, 3, 0), row(start.slots, 3, 0), { rtol: 0, atol: 0 }, 'slot 0 kept');
    assertClose(row(replace.slots, 3, 1), row(u, 2, 0), { rtol: 0, atol: 0 }, 'slot 1 ← u0');
    assertClose(row(replace.slots, 3, 2), row(u, 2, 1), { rtol: 0, atol: 0 }, 'slot 2 ← u1');
  }
  // learned gate saturated to 0: unchanged up to σ(−50) ≈ 2e-22
  const learned = memory(3, 'learned');
  saturate(learned, -50);
  assertClose(learned.write(start, u).slots.data, start.slots.data, { rtol: 0, atol: 1e-20 }, 'learned gate → 0');
});

test('a gate in (0, 1) mixes each candidate with the slot it evicts: m = g·u + (1 − g)·m_old', () => {
  const g = new Generator(2);
  const start: FifoState = { slots: randn([1, 4, C], { generator: g, dtype: 'float64' }), head: 3 };
  const u = randn([1, 2, C], { generator: g, dtype: 'float64' });
  const next = memory(4, 0.25).write(start, u);
  // oldest slots are physical 3 then 0
  const want = Float64Array.from(start.slots.data);
  for (const [j, slot] of [[0, 3], [1, 0]] as const) {
    for (let c = 0; c < C; c++) want[slot * C + c] = 0.25 * u.data[j * C + c]! + 0.75 * start.slots.data[slot * C + c]!;
  }
  assertClose(next.slots.data, want, { rtol: 1e-15, atol: 0 }, 'mixed');
  assert.is(next.head, 1);
});

test('one write of K candidates equals K writes of one (learned gate, K > N wraps around)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 3 }), fc.nat(), (N, K, head, seed) => {
      const m = memory(N, 'learned', { seed });
      const g = new Generator(seed);
      const start: FifoState = { slots: randn([2, N, C], { generator: g, dtype: 'float64' }), head: head % N };
      const u = randn([2, K, C], { generator: g, dtype: 'float64' });
      const once = m.write(start, u);
      let step = start;
      for (let j = 0; j < K; j++) step = m.write(step, u.narrow(1, j, 1));
      assert.is(once.head, step.head);
      assertClose(once.slots.data, step.slots.data, { rtol: 1e-14, atol: 1e-15 }, `N=${N} K=${K}`);
    }),
    fcParams(60),
  );
});

test('the read is invariant to the order of the slots (no slot positions)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 2 }), fc.nat(), (N, heads, seed) => {
      const m = memory(N, 'learned', { numHeads: heads * 2, seed });
      const g = new Generator(seed);
      const x = randn([2, 5, C], { generator: g, dtype: 'float64' });
      const slots = randn([2, N, C], { generator: g, dtype: 'float64' });
      const perm = Array.from({ length: N }, (_, i) => i).sort(() => g.random() - 0.5);
      const a = m.read(x, { slots, head: 0 });
      const b = m.read(x, { slots: slots.indexSelect(1, perm), head: (N - 1) % N });
      assertShape(a.shape, [2, 5, C]);
      assertClose(b.data, a.data, { rtol: 1e-12, atol: 1e-14 }, `perm ${perm}`);
    }),
    fcParams(40),
  );
});

test('pooling: one candidate per chunk of poolSize tokens, the last chunk may be short (mean or last token)', () => {
  const h = new Tensor(Float64Array.from({ length: 2 * 7 * C }, (_, i) => i), [2, 7, C]);
  const mean = new FifoMemory(2, C, { poolSize: 3, dtype: 'float64' }).poolCandidates(h);
  const last = new FifoMemory(2, C, { poolSize: 3, pool: 'chunk-last', dtype: 'float64' }).poolCandidates(h);
  assertShape(mean.shape, [2, 3, C]);
  const row = (b: number, t: number): number[] => Array.from(h.data.subarray((b * 7 + t) * C, (b * 7 + t + 1) * C));
  const avg = (rows: number[][]): number[] => rows[0]!.map((_, c) => rows.reduce((s, r) => s + r[c]!, 0) / rows.length);
  for (let b = 0; b < 2; b++) {
    const want = [...avg([row(b, 0), row(b, 1), row(b, 2)]), ...avg([row(b, 3), row(b, 4), row(b, 5)]), ...row(b, 6)];
    assertClose(mean.data.subarray(b * 3 * C, (b + 1) * 3 * C), want, { rtol: 1e-15, atol: 0 }, `mean b=${b}`);
    assertClose(last.data.subarray(b * 3 * C, (b + 1) * 3 * C), [...row(b, 2), ...row(b, 5), ...row(b, 6)], { rtol: 0, atol: 0 }, `last b=${b}`);
  }
});

test('initial memory: zeros, or the learned slots shared by the batch (and trained through write and read)', () => {
  const zero = memory(3, 'learned').initial(2);
  assertShape(zero.slots.shape, [2, 3, C]);
  assert.ok(zero.slots.data.every((v) => v === 0));
  const m = memory(3, 'learned', { init: 'learned' });
  const s = m.initial(2);
  assertClose(s.slots.data.subarray(3 * C), m.init!.data, { rtol: 0, atol: 0 }, 'broadcast');
  const x = randn([2, 2, C], { generator: new Generator(3), dtype: 'float64' });
  m.read(x, m.write(s, randn([2, 1, C], { generator: new Generator(4), dtype: 'float64' }))).sum().backward();
  assert.ok(m.init!.grad !== null && m.init!.grad.data.some((v) => v !== 0), 'init gets a gradient');
});

test('gradients of write and read (gradcheck through the gate, the mix and the slot placement)', () => {
  const m = memory(3, 'learned', { numHeads: 2, seed: 5 });
  const g = new Generator(6);
  const slots = randn([1, 3, C], { generator: g, dtype: 'float64' });
  const u = randn([1, 4, C], { generator: g, dtype: 'float64' });
  const x = randn([1, 2, C], { generator: g, dtype: 'float64' });
  slots.requiresGrad = true;
  u.requiresGrad = true;
  x.requiresGrad = true;
  gradcheck((a, b) => m.write({ slots: a, head: 2 }, b).slots, [slots, u]);
  gradcheck((a, b) => m.read(b, { slots: a, head: 0 }), [slots, x]);
});

test('errors name the op and the argument', () => {
  assert.throws(() => new FifoMemory(0, C), (e: unknown) => e instanceof ValueError && e.arg === 'numSlots');
  assert.throws(() => new FifoMemory(2, C, { gate: 1.5 }), (e: unknown) => e instanceof ValueError && e.arg === 'gate');
  assert.throws(() => new FifoMemory(2, C, { numHeads: 3 }), (e: unknown) => e instanceof ValueError && e.arg === 'numHeads');
  assert.throws(() => new FifoMemory(2, C, { poolSize: 0 }), (e: unknown) => e instanceof ValueError && e.arg === 'poolSize');
  const m = memory(2, 1);
  const s = m.initial(1);
  assert.throws(() => m.write(s, randn([2, 1, C], { dtype: 'float64' })), (e: unknown) => e instanceof ShapeError && /FifoMemory.write: .*differ in batch/.test(e.message));
  assert.throws(() => m.write(s, randn([1, 1, C + 1], { dtype: 'float64' })), (e: unknown) => e instanceof ShapeError && e.arg === 'candidates');
  assert.throws(() => m.write({ slots: s.slots, head: 2 }, candidate(1)), (e: unknown) => e instanceof ValueError && e.arg === 'state');
  assert.throws(() => m.read(randn([1, 2, C], { dtype: 'float64' }), { slots: randn([1, 3, C], { dtype: 'float64' }), head: 0 }), (e: unknown) => e instanceof ShapeError && e.arg === 'state');
  assert.throws(() => m.initial(0), (e: unknown) => e instanceof ValueError && e.arg === 'batch');
});

test.run();
