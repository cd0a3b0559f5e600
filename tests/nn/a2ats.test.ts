import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, Tensor, ShapeError, ValueError, attention, randn } from '../../core/index.js';
import { applyRotary, ropeInvFreq } from '../../positional/index.js';
import { KVCache, RetrievalKVCache, buildQueryAwareCodebook, encodeKeys, generate, retrievalMask, wropeQuery } from '../../nn/index.js';
import { GPT } from '../../models/index.js';
import { RoPE } from '../../positional/index.js';
import { assertRefused } from '../helpers/refusal.js';

const seed = Number(process.env['FC_SEED'] ?? 42);

/** R(n)·x for one row x [d] at position n. */
function rotateAt(x: Float64Array, n: number, invFreq: Float64Array, layout: 'half' | 'interleaved'): Float64Array {
  const angles = new Tensor(Float64Array.from(invFreq, (f) => n * f), [1, invFreq.length]);
  return applyRotary(new Tensor(x, [1, x.length]), angles, { layout }).data as Float64Array;
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => Array.from(a).reduce((s, x, i) => s + x * b[i]!, 0);

test('WRoPE: ⟨R(W)q, k⟩ = ⟨R(n + W)q, R(n)k⟩ for every position n (pre-RoPE keys score at one fixed distance)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 5000 }), fc.constantFrom('half' as const, 'interleaved' as const),
      fc.integer({ min: 0, max: 1e6 }),
      (pairs, n, W, layout, s) => {
        const d = 2 * pairs;
        const g = new Generator(s);
        const q = randn([1, d], { dtype: 'float64', generator: g });
        const k = randn([1, d], { dtype: 'float64', generator: g });
        const invFreq = ropeInvFreq(d, 500);
        const windowed = dot(wropeQuery(q, invFreq, W, layout).data, k.data);
        const exact = dot(rotateAt(q.data as Float64Array, n + W, invFreq, layout), rotateAt(k.data as Float64Array, n, invFreq, layout));
        assert.ok(Math.abs(windowed - exact) <= 1e-9 * (1 + Math.abs(exact)), `n ${n} W ${W}: ${windowed} vs ${exact}`);
      },
    ),
    { seed, numRuns: 100 },
  );
});

test('query-aware codebook: ‖(k − c)L‖² = (k − c)ᵀH(k − c) with H = L·Lᵀ, and codes are the nearest codewords under H', () => {
  const g = new Generator(3);
  const d = 6;
  // anisotropic queries: H is far from a multiple of I, so the query-aware distance differs from the Euclidean one
  const q = new Tensor(Float64Array.from(randn([200, d], { dtype: 'float64', generator: g }).data, (x, i) => x * (1 + 3 * (i % d))), [200, d]);
  const keys = randn([120, d], { dtype: 'float64', generator: g });
  const cb = buildQueryAwareCodebook(q, keys, { size: 10, generator: new Generator(4) });
  const L = cb.whitening.data;
  const H = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) for (let r = 0; r < d; r++) H[i * d + j] += L[i * d + r]! * L[j * d + r]!;
  // H is the queries' second moment as the reference normalizes it: QᵀQ / √mean((QᵀQ)²) + 1e-6·I
  const qtq = new Float64Array(d * d);
  for (let n = 0; n < 200; n++) for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) qtq[i * d + j] += q.data[n * d + i]! * q.data[n * d + j]!;
  const norm = Math.sqrt(qtq.reduce((acc, x) => acc + x * x, 0) / (d * d));
  for (let i = 0; i < d * d; i++) {
    const want = qtq[i]! / norm + (i % (d + 1) === 0 ? 1e-6 : 0);
    assert.ok(Math.abs(H[i]! - want) <= 1e-12 * (1 + Math.abs(want)), `L·Lᵀ = normalized QᵀQ + 1e-6·I at ${i}: ${H[i]} vs ${want}`);
  }
  const codes = encodeKeys(cb, keys);
  for (let m = 0; m < 120; m++) {
    const distances = Array.from({ length: 10 }, (_, c) => {
      const diff = Array.from({ length: d }, (_, j) => keys.data[m * d + j]! - cb.codebook.data[c * d + j]!);
      let quad = 0;
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) quad += diff[i]! * H[i * d + j]! * diff[j]!;
      let white = 0;
      for (let j = 0; j < d; j++) {
        let s = 0;
        for (let i = 0; i < d; i++) s += diff[i]! * L[i * d + j]!;
        white += s * s;
      }
      assert.ok(Math.abs(quad - white) <= 1e-10 * (1 + quad), `whitening identity: ${quad} vs ${white}`);
      return quad;
    });
    assert.is(codes[m], distances.indexOf(Math.min(...distances)), `key ${m}: code = argmin_c (k − c)ᵀH(k − c)`);
  }
});

test('identity quantizer (one codeword per key): codewords are the keys, and the WRoPE score equals the exact RoPE logit at distance W', () => {
  const g = new Generator(8);
  const d = 8;
  const invFreq = ropeInvFreq(d, 1000);
  const queries = wropeQuery(randn([64, d], { dtype: 'float64', generator: g }), invFreq, 2048, 'half');
  const keys = randn([16, d], { dtype: 'float64', generator: g });
  const cb = buildQueryAwareCodebook(queries, keys, { size: 16, generator: new Generator(1) });
  const codes = encodeKeys(cb, keys);
  const q = randn([1, d], { dtype: 'float64', generator: g });
  const rq = wropeQuery(q, invFreq, 2048, 'half').data;
  for (let m = 0; m < 16; m++) {
    const code = codes[m]!;
    for (let j = 0; j < d; j++) assert.ok(Math.abs(cb.codebook.data[code * d + j]! - keys.data[m * d + j]!) <= 1e-10, `key ${m}'s codeword is the key`);
    const approx = dot(rq, cb.codebook.data.subarray(code * d, (code + 1) * d));
    const key = keys.data.subarray(m * d, (m + 1) * d) as Float64Array;
    const exact = dot(rotateAt(q.data as Float64Array, 3000 + 2048, invFreq, 'half'), rotateAt(key, 3000, invFreq, 'half'));
    assert.ok(Math.abs(approx - exact) <= 1e-9, `key ${m}: ${approx} vs exact logit at distance 2048 ${exact}`);
  }
  assert.equal(new Set(codes).size, 16, 'distinct keys get distinct codes');
});

test('retrievalMask: sinks and the local window always, each query head\'s own top-K, one union per KV head (GQA)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 60 }),
      fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 1e6 }),
      (B, Hkv, G, L, sinks, window, kCount, s) => {
        // topK as a fraction that gives every K from 0 to L (fc.double clusters at 0 and 1, where no selection differs)
        const topK = Math.min(1, (kCount + 0.5) / L);
        const Hq = Hkv * G;
        const scores = randn([B, Hq, L], { dtype: 'float64', generator: new Generator(s) });
        const mask = retrievalMask(scores, Hkv, { topK, localWindow: window, attentionSinks: sinks });
        assert.equal(mask.shape, [B, Hq, 1, L]);
        const K = Math.floor(topK * L);
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < Hq; h++) {
            const row = Array.from(mask.data.subarray((b * Hq + h) * L, (b * Hq + h + 1) * L));
            const group = Math.floor(h / G) * G;
            const first = Array.from(mask.data.subarray((b * Hq + group) * L, (b * Hq + group + 1) * L));
            assert.equal(row, first, 'every query head of a group sees the same tokens');
            for (let t = 0; t < L; t++) if (t < sinks || t >= L - window) assert.is(row[t], 1, `sink/window token ${t} kept`);
            const candidates = Array.from({ length: L }, (_, t) => t).filter((t) => t >= sinks && t < L - window);
            const own = candidates.sort((x, y) => scores.data[(b * Hq + h) * L + y]! - scores.data[(b * Hq + h) * L + x]! || x - y).slice(0, K);
            for (const t of own) assert.is(row[t], 1, `head ${h}'s own top-${K} token ${t} kept`);
            const extra = candidates.filter((t) => row[t] === 1).length;
            assert.ok(extra >= Math.min(K, candidates.length) && extra <= Math.min(G * K, candidates.length), `${extra} retrieved tokens: between K and G·K`);
          }
        }
      },
    ),
    { seed, numRuns: 80 },
  );
});

test('retrievalMask with one query head per KV head and many tied scores: exactly sinks, window and the K best (ties to the earlier token)', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: -2, max: 2 }), { minLength: 1, maxLength: 80 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 80 }), (values, sinks, window, kCount) => {
      const L = values.length;
      const topK = Math.min(1, (kCount + 0.5) / L);
      const mask = retrievalMask(new Tensor(Float64Array.from(values), [1, 1, L]), 1, { topK, localWindow: window, attentionSinks: sinks });
      const candidates = Array.from({ length: L }, (_, t) => t).filter((t) => t >= sinks && t < L - window);
      const chosen = new Set(candidates.sort((x, y) => values[y]! - values[x]! || x - y).slice(0, Math.floor(topK * L)));
      const want = Array.from({ length: L }, (_, t) => (t < sinks || t >= L - window || chosen.has(t) ? 1 : 0));
      assert.equal(Array.from(mask.data), want);
    }),
    { seed, numRuns: 300 },
  );
});

test('retrievalMask: with K covering every candidate the step attends to everything, and attention equals full attention exactly', () => {
  const g = new Generator(5);
  const [B, Hq, Hkv, L, d] = [1, 4, 2, 40, 8];
  const q = randn([B, Hq, 1, d], { dtype: 'float64', generator: g });
  const k = randn([B, Hkv, L, d], { dtype: 'float64', generator: g });
  const v = randn([B, Hkv, L, d], { dtype: 'float64', generator: g });
  const expand = (t: Tensor): Tensor => new Tensor(Float64Array.from({ length: B * Hq * L * d }, (_, i) => {
    const h = Math.floor(i / (L * d)) % Hq;
    return t.data[Math.floor(h / 2) * L * d + (i % (L * d))]!;
  }), [B, Hq, L, d]);
  const scores = randn([B, Hq, L], { dtype: 'float64', generator: g });
  const mask = retrievalMask(scores, Hkv, { topK: 1, localWindow: 4, attentionSinks: 2 });
  assert.ok(mask.data.every((x) => x === 1), 'K = L covers every candidate');
  const full = attention(q, expand(k), expand(v));
  const retrieved = attention(q, expand(k), expand(v), { mask });
  assert.equal(Array.from(retrieved.data), Array.from(full.data));
  // ties: equal scores keep the earliest candidates
  const flat = retrievalMask(new Tensor(new Float64Array(10), [1, 1, 10]), 1, { topK: 0.2, localWindow: 0, attentionSinks: 0 });
  assert.equal(Array.from(flat.data), [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
});

/** One RetrievalKVCache per layer of `gpt`, with codebooks from random data of its head dim (any codebook will do here). */
function retrievalCaches(gpt: GPT, options: { topK: number; localWindow: number; attentionSinks: number }): RetrievalKVCache[] {
  const { numKVHeads = gpt.config.numHeads, numHeads, dim } = gpt.config;
  const d = dim / numHeads;
  return gpt.blocks.map((block, layer) => {
    const rope = block.attn.positional as RoPE;
    const codebooks = Array.from({ length: numKVHeads }, (_, h) => {
      const g = new Generator(100 * layer + h);
      return buildQueryAwareCodebook(randn([32, d], { dtype: 'float64', generator: g }), randn([24, d], { dtype: 'float64', generator: g }), { size: 6, generator: g });
    });
    return new RetrievalKVCache({ codebooks, invFreq: rope.invFreq, layout: rope.layout, wropeDistance: 64, ...options });
  });
}

test('RetrievalKVCache with K covering every token decodes exactly as KVCache (GQA GPT, prefill then one token at a time)', () => {
  const gpt = new GPT({ vocabSize: 13, contextLength: 64, dim: 16, numLayers: 2, numHeads: 4, numKVHeads: 2, positional: 'rope', ropeBase: 100, seed: 3, dtype: 'float64' });
  const ids = Array.from({ length: 30 }, (_, i) => (i * 7 + 3) % 13);
  const decode = (caches: KVCache[]): number[][] => {
    const logits: number[][] = [];
    logits.push(Array.from(gpt.forward(new Tensor(Float64Array.from(ids.slice(0, 10)), [1, 10]), { caches }).data.slice(-13)));
    for (let t = 10; t < ids.length; t++) logits.push(Array.from(gpt.forward(new Tensor(Float64Array.of(ids[t]!), [1, 1]), { caches }).data));
    return logits;
  };
  const plain = decode(gpt.newCaches());
  const all = decode(retrievalCaches(gpt, { topK: 1, localWindow: 2, attentionSinks: 1 }));
  assert.equal(all, plain, 'top-K = every token: the same logits, bit for bit');
  // generate takes the caches as a factory: greedy decoding with retrieval of every token = plain generation
  const prompt = ids.slice(0, 12);
  const wanted = generate(gpt, prompt, { maxNewTokens: 15, temperature: 0 });
  assert.equal(generate(gpt, prompt, { maxNewTokens: 15, temperature: 0, caches: () => retrievalCaches(gpt, { topK: 1, localWindow: 2, attentionSinks: 1 }) }), wanted);
  const few = decode(retrievalCaches(gpt, { topK: 0.1, localWindow: 2, attentionSinks: 1 }));
  assert.equal(few[0], plain[0], 'prefill attends to everything');
  assert.ok(few.slice(5).some((row, i) => row.some((x, j) => x !== plain[i + 5]![j])), 'with few tokens retrieved, later steps attend to fewer tokens');
});

test('retrievalMask over T queries: row t is the one-step selection over the L − T + t + 1 tokens it sees, later tokens 0', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 30 }),
      fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 1e6 }),
      (Hkv, G, T, extra, sinks, window, kCount, s) => {
        const [B, Hq, L] = [2, Hkv * G, T + extra];
        const topK = Math.min(1, (kCount + 0.5) / L); // K from 0 to L over the rows (fc.double clusters at 0 and 1)
        const scores = randn([B, Hq, T, L], { dtype: 'float64', generator: new Generator(s) });
        const options = { topK, localWindow: window, attentionSinks: sinks };
        const mask = retrievalMask(scores, Hkv, options);
        assert.equal(mask.shape, [B, Hq, T, L]);
        for (let t = 0; t < T; t++) {
          const n = L - T + t + 1;
          const prefix = new Tensor(Float64Array.from({ length: B * Hq * n }, (_, i) => scores.data[(Math.floor(i / n) * T + t) * L + (i % n)]!), [B, Hq, n]);
          const step = retrievalMask(prefix, Hkv, options);
          for (let row = 0; row < B * Hq; row++) {
            const got = Array.from(mask.data.subarray((row * T + t) * L, (row * T + t + 1) * L));
            assert.equal(got.slice(0, n), Array.from(step.data.subarray(row * n, (row + 1) * n)), `row ${row}, query ${t}: the one-step selection over its ${n} tokens`);
            assert.ok(got.slice(n).every((x) => x === 0), 'tokens after the query are not selected');
          }
        }
      },
    ),
    { seed, numRuns: 60 },
  );
});

test('RetrievalKVCache.retrieve of one token selects exactly what retrievalMask does on ⟨R(W)q, codeword(k)⟩ (codebooks of 1–5 words: many ties)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 1e6 }),
      (Hkv, G, L, size, sinks, window, kCount, s) => {
        const topK = Math.min(1, (kCount + 0.5) / L); // every K from 0 to L (fc.double clusters at 0 and 1)
        const g = new Generator(s);
        const [B, Hq, d] = [2, Hkv * G, 4];
        const invFreq = ropeInvFreq(d, 100);
        const codebooks = Array.from({ length: Hkv }, () => buildQueryAwareCodebook(randn([8, d], { dtype: 'float64', generator: g }), randn([8, d], { dtype: 'float64', generator: g }), { size, generator: g }));
        const cache = new RetrievalKVCache({ codebooks, invFreq, layout: 'half', wropeDistance: 16, topK, localWindow: window, attentionSinks: sinks });
        const keys = randn([B, Hkv, L, d], { dtype: 'float64', generator: g });
        const q = randn([B, Hq, 1, d], { dtype: 'float64', generator: g });
        if (L > 1) {
          cache.retrieve(randn([B, Hq, L - 1, d], { dtype: 'float64', generator: g }), keys.narrow(2, 0, L - 1));
          cache.append(keys.narrow(2, 0, L - 1), keys.narrow(2, 0, L - 1));
        }
        const mask = cache.retrieve(q, keys.narrow(2, L - 1, 1))!;
        const rotated = wropeQuery(q, invFreq, 16, 'half').data;
        const scores = new Float64Array(B * Hq * L);
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < Hq; h++) {
            const kv = Math.floor(h / G);
            const codes = encodeKeys(codebooks[kv]!, keys.narrow(0, b, 1).narrow(1, kv, 1).reshape([L, d]));
            for (let t = 0; t < L; t++) scores[(b * Hq + h) * L + t] = dot(rotated.subarray((b * Hq + h) * d, (b * Hq + h + 1) * d), codebooks[kv]!.codebook.data.subarray(codes[t]! * d, (codes[t]! + 1) * d));
          }
        }
        const want = retrievalMask(new Tensor(scores, [B, Hq, L]), Hkv, { topK, localWindow: window, attentionSinks: sinks });
        assert.equal(Array.from(mask.data), Array.from(want.data));
      },
    ),
    { seed, numRuns: 150 },
  );
});

test('appendSelected: attention over the gathered tokens equals attention over all tokens with the mask (GQA, heads of a group masked differently)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 1e6 }), (Hkv, G, L, s) => {
      const g = new Generator(s);
      const [B, Hq, d] = [2, Hkv * G, 4];
      const q = randn([B, Hkv, G, 1, d], { dtype: 'float64', generator: g });
      const k = randn([B, Hkv, L, d], { dtype: 'float64', generator: g });
      const v = randn([B, Hkv, L, 3], { dtype: 'float64', generator: g });
      // each query head its own random 0/1 row (the last token always kept, so no row is empty)
      const mask = new Tensor(Float32Array.from({ length: B * Hq * L }, (_, i) => (i % L === L - 1 || g.random() < 0.4 ? 1 : 0)), [B, Hq, 1, L]);
      const cache = new RetrievalKVCache({ codebooks: Array.from({ length: Hkv }, () => buildQueryAwareCodebook(randn([4, d], { dtype: 'float64', generator: g }), randn([2, d], { dtype: 'float64', generator: g }), { size: 1 })), invFreq: ropeInvFreq(d, 100), layout: 'half' });
      if (L > 1) cache.append(k.narrow(2, 0, L - 1), v.narrow(2, 0, L - 1));
      const gathered = cache.appendSelected(k.narrow(2, L - 1, 1), v.narrow(2, L - 1, 1), mask);
      assert.is(cache.length, L, 'the token is cached');
      assert.equal(Array.from(cache.keys!.data), Array.from(k.data), 'the cache holds every key, the new one last');
      const S = gathered.keys.shape[2]!;
      assert.ok(S <= L, 'never more tokens than cached');
      const full = attention(q, k.unsqueeze(2), v.unsqueeze(2), { mask: mask.reshape([B, Hkv, G, 1, L]) });
      const few = attention(q, gathered.keys.unsqueeze(2), gathered.values.unsqueeze(2), { mask: gathered.mask.reshape([B, Hkv, G, 1, S]) });
      full.data.forEach((x, i) => assert.ok(Math.abs(x - few.data[i]!) <= 1e-12, `output ${i}: ${x} vs ${few.data[i]}`));
    }),
    { seed, numRuns: 60 },
  );
});

test('RetrievalKVCache prefill \'retrieval\': one teacher-forced forward gives the logits of decoding every token alone with retrieval', () => {
  const gpt = new GPT({ vocabSize: 13, contextLength: 64, dim: 16, numLayers: 2, numHeads: 4, numKVHeads: 2, positional: 'rope', ropeBase: 100, seed: 5, dtype: 'float64' });
  const ids = Array.from({ length: 40 }, (_, i) => (i * 5 + 1) % 13);
  const options = { topK: 0.15, localWindow: 3, attentionSinks: 2 };
  const steps = retrievalCaches(gpt, options);
  const stepLogits = ids.flatMap((id) => Array.from(gpt.forward(new Tensor(Float64Array.of(id), [1, 1]), { caches: steps }).data));
  const teacher = retrievalCaches(gpt, options).map((c) => new RetrievalKVCache({ codebooks: c.codebooks, invFreq: c.invFreq, layout: c.layout, wropeDistance: 64, ...options, prefill: 'retrieval' }));
  const forced = Array.from(gpt.forward(new Tensor(Float64Array.from(ids), [1, ids.length]), { caches: teacher }).data);
  forced.forEach((x, i) => assert.ok(Math.abs(x - stepLogits[i]!) <= 1e-12 * (1 + Math.abs(x)), `logit ${i}: ${x} vs ${stepLogits[i]}`));
  const exact = Array.from(gpt.forward(new Tensor(Float64Array.from(ids), [1, ids.length])).data);
  assert.ok(exact.some((x, i) => Math.abs(x - forced[i]!) > 1e-6), 'the selection drops tokens: retrieval logits differ from exact attention');
});

test('RetrievalKVCache refuses before changing anything: a codebook count that does not fit the layer, codes out of step', () => {
  const gpt = new GPT({ vocabSize: 13, contextLength: 64, dim: 16, numLayers: 1, numHeads: 4, numKVHeads: 2, positional: 'rope', ropeBase: 100, seed: 3, dtype: 'float64' });
  const [good] = retrievalCaches(gpt, { topK: 0.5, localWindow: 1, attentionSinks: 1 });
  const wrong = new RetrievalKVCache({ codebooks: [good!.codebooks[0]!], invFreq: good!.invFreq, layout: 'half' }); // 1 codebook, 2 KV heads
  const prompt = new Tensor(Float64Array.of(1, 2, 3), [1, 3]);
  assert.throws(() => gpt.forward(prompt, { caches: [wrong] }), (e: unknown) => e instanceof ShapeError && /^GPT\.forward: .*one codebook per KV head/.test((e as Error).message));
  assert.is(wrong.length, 0, 'the refused step cached nothing');
  assert.is(wrong.position, 0);
  // a step appended behind the cache's back leaves its codes out of step: the next retrieve says so
  gpt.forward(prompt, { caches: [good!] });
  good!.append(randn([1, 2, 1, 4], { dtype: 'float64' }), randn([1, 2, 1, 4], { dtype: 'float64' }));
  assertRefused(() => good!.retrieve(randn([1, 4, 1, 4], { dtype: 'float64' }), randn([1, 2, 1, 4], { dtype: 'float64' })), ValueError, 'RetrievalKVCache.retrieve', { arg: 'keys', words: ['before append'] });
});

test('refusals: shapes, sizes, all-zero queries, non-finite keys, a malformed codebook', () => {
  const q = randn([10, 4], { dtype: 'float64', generator: new Generator(1) });
  const k = randn([5, 4], { dtype: 'float64', generator: new Generator(2) });
  assertRefused(() => buildQueryAwareCodebook(q, randn([5, 3]), { size: 2 }), ShapeError, 'buildQueryAwareCodebook', { arg: 'queries' });
  assertRefused(() => buildQueryAwareCodebook(q, k, { size: 6 }), ValueError, 'buildQueryAwareCodebook', { arg: 'size' });
  assertRefused(() => buildQueryAwareCodebook(new Tensor(new Float64Array(40), [10, 4]), k, { size: 2 }), ValueError, 'buildQueryAwareCodebook', { arg: 'queries', words: ['zero'] });
  assertRefused(() => buildQueryAwareCodebook(q, new Tensor(Float64Array.of(NaN, 0, 0, 0), [1, 4]), { size: 1 }), ValueError, 'buildQueryAwareCodebook', { arg: 'keys' });
  const cb = buildQueryAwareCodebook(q, k, { size: 2, generator: new Generator(3) });
  assertRefused(() => encodeKeys(cb, randn([3, 5])), ShapeError, 'encodeKeys', { arg: 'keys' });
  assertRefused(() => encodeKeys({ ...cb, whitening: randn([3, 3]) }, k), ShapeError, 'encodeKeys', { arg: 'codebook' });
  assertRefused(() => wropeQuery(q, ropeInvFreq(6, 100), 8, 'half'), ShapeError, 'wropeQuery', { arg: 'invFreq' });
  assertRefused(() => wropeQuery(q, ropeInvFreq(4, 100), -1, 'half'), ValueError, 'wropeQuery', { arg: 'distance' });
  assertRefused(() => retrievalMask(randn([1, 3, 5]), 2), ShapeError, 'retrievalMask', { arg: 'numKVHeads' });
  assertRefused(() => retrievalMask(randn([3, 5]), 1), ShapeError, 'retrievalMask', { arg: 'scores' });
  assertRefused(() => retrievalMask(randn([1, 1, 5]), 1, { topK: 1.5 }), ValueError, 'retrievalMask');
  assertRefused(() => retrievalMask(randn([1, 1, 6, 5]), 1), ShapeError, 'retrievalMask', { arg: 'scores', words: ['more queries'] });
  const cache = new RetrievalKVCache({ codebooks: [cb], invFreq: ropeInvFreq(4, 100), layout: 'half' });
  assertRefused(() => new RetrievalKVCache({ codebooks: [cb], invFreq: ropeInvFreq(4, 100), layout: 'half', prefill: 'all' as 'exact' }), ValueError, 'RetrievalKVCache', { arg: 'options.prefill' });
  assertRefused(() => cache.appendSelected(randn([1, 1, 1, 4]), randn([1, 1, 1, 4]), randn([1, 1, 2, 1])), ShapeError, 'RetrievalKVCache.appendSelected', { arg: 'mask' });
  assertRefused(() => cache.appendSelected(randn([1, 1, 1, 4]), randn([1, 1, 1, 4]), randn([1, 1, 1, 3])), ShapeError, 'RetrievalKVCache.appendSelected', { arg: 'mask', words: ['L = 1'] });
  assert.is(cache.length, 0, 'a refused step appends nothing');
});

test.run();
