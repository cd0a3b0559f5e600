/**
 * Plug a RoPE variant into attention.
 *
 *   node scripts/run.mjs examples/rope-attention.ts
 *
 * A position encoding in ropelab is an object with `encodeQK(q, k, qPositions, kPositions)`: it takes q and k shaped
 * [batch, heads, seq, headDim] and returns them rotated. RoPE (Su et al., RoFormer, 2021) turns channel pair i of the
 * token at position m by the angle m·θ_i with θ_i = base^(−2i/headDim), so the score q_m·k_n depends on m − n only.
 * Attention layers take an encoding as their `positional` option; YaRN and p-RoPE are RoPE with another table θ′.
 */
import {
  Block, Generator, KVCache, MultiHeadAttention, PRoPE, RoPE, arange, concat, matmul, randn, yarnAttentionFactor, yarnInvFreq, type Tensor,
} from '../index.js';

const g = new Generator(0);
const [batch, heads, seq, headDim] = [1, 2, 8, 16];
const maxAbsDiff = (u: Tensor, v: Tensor): number => u.sub(v).abs().max().item();

// 1. RoPE on q/k directly: [batch, heads, seq, headDim], positions [seq].
const rope = new RoPE(headDim); // base 10000, pairs (i, i + headDim/2) as in Llama ('half' layout)
const q = randn([batch, heads, seq, headDim], { dtype: 'float64', generator: g });
const k = randn([batch, heads, seq, headDim], { dtype: 'float64', generator: g });
const scores = (offset: number): Tensor => {
  const positions = arange(offset, offset + seq);
  const rotated = rope.encodeQK(q, k, positions, positions);
  return matmul(rotated.q, rotated.k.transpose(2, 3)); // [batch, heads, seq, seq]
};
console.log(`RoPE: θ_0 = ${rope.invFreq[0]}, θ_${headDim / 2 - 1} = ${rope.invFreq[headDim / 2 - 1]!.toExponential(3)}`);
console.log(`relative positions: max |scores at positions 1000… − scores at 0…| = ${maxAbsDiff(scores(1000), scores(0)).toExponential(2)}`);

// 2. The same encoding inside a multi-head attention layer: x [batch, seq, dim] → [batch, seq, dim].
const dim = heads * headDim;
const attention = new MultiHeadAttention(dim, { numHeads: heads, positional: rope, generator: g });
const x = randn([batch, seq, dim], { generator: g });
const yRope = attention.forward(x); // causal self-attention, positions 0…seq−1
console.log(`MultiHeadAttention with RoPE: x [${x.shape}] → [${yRope.shape}]`);

// 3. Swap in YaRN (Peng et al. 2023): a context 4× the training length L = 4, by NTK-by-parts frequencies and a
//    temperature on the logits. The layer's weights stay; only the encoding changes.
const yarn = { dim: headDim, factor: 4, originalMaxPositions: 4 };
attention.positional = new RoPE(headDim, { invFreq: yarnInvFreq(yarn), attentionFactor: yarnAttentionFactor(yarn) });
console.log(`YaRN (s = 4): attention factor ${yarnAttentionFactor(yarn).toFixed(4)}, output changed by ${maxAbsDiff(attention.forward(x), yRope).toExponential(2)}`);

// 4. Or p-RoPE (Barbero et al. 2025): keep the fastest fraction p of the pairs rotating, the rest carry no position.
//    The change is small here: the pairs it drops are the slowest, which barely turn within 8 tokens.
const pRope = new PRoPE(headDim, 0.75);
attention.positional = pRope;
console.log(`p-RoPE (p = 0.75): ${pRope.keptPairs} of ${headDim / 2} pairs rotate; output changed by ${maxAbsDiff(attention.forward(x), yRope).toExponential(2)}`);

// 5. A whole transformer block (RMSNorm, grouped-query attention, SwiGLU) takes the encoding the same way.
const block = new Block(dim, { numHeads: heads, numKVHeads: 1, norm: 'rms', mlp: 'swiglu', positional: new RoPE(headDim), generator: g });
const full = block.forward(x);
console.log(`Block (GQA, 1 KV head): ${block.numParameters()} parameters, output [${full.shape}]`);

// 6. Decoding with a KV cache: feed one token at a time; each new key is rotated once, at its own position, and
//    cached. The result equals the full forward pass.
const cache = new KVCache();
const steps = Array.from({ length: seq }, (_, t) => block.forward(x.narrow(1, t, 1), { cache }));
console.log(`KV-cache decoding, token by token: max |step-by-step − full| = ${maxAbsDiff(concat(steps, 1), full).toExponential(2)}`);
