/**
 * positional/registry.ts covers what makes sense in a GPT (1-D token positions). The encoding classes it leaves out
 * either need positions a GPT does not have ([T, 2] levels, (x, y) grids, (x, y, heading) agents, searched per-pair
 * factors), or, given 1-D positions, build a table the registry already has: this file pins that second claim, so a
 * change that makes one of them differ on text fails here (and then it deserves a name), and every registered name
 * runs in a 1-layer GPT.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator, Tensor, matmul, noGrad, randn } from '../../core/index.js';
import { GPT } from '../../models/index.js';
import { HoPE, MRoPE, PRoPE, RoPE, VRoPE, VideoRoPE, positionalNames, type PositionalEncoding } from '../../positional/index.js';
import { assertClose } from '../helpers/close.js';

const D = 16; // head dim: 8 pairs
const positions = new Tensor(Float64Array.from([0, 1, 2, 5, 9, 40, 1000]), [7]);

/** Attention logits q·k after the encoding, for 1-D positions, float64. */
function logits(pe: PositionalEncoding): Float64Array | Float32Array {
  const g = new Generator(11);
  const q = randn([1, 2, 7, D], { dtype: 'float64', generator: g });
  const k = randn([1, 2, 7, D], { dtype: 'float64', generator: g });
  return noGrad(() => {
    const e = pe.encodeQK(q, k, positions, positions);
    return matmul(e.q, e.k, { transposeB: true }).mul(e.logitScale ?? 1).data;
  });
}

test('on 1-D positions M-RoPE, VideoRoPE and VRoPE give RoPE\'s logits (same base): text needs no second name', () => {
  const rope = logits(new RoPE(D, { base: 1e6 }));
  for (const pe of [new MRoPE(D, [2, 3, 3], { base: 1e6 }), new VideoRoPE(D, [2, 3, 3], { base: 1e6 }), new VRoPE(D, { base: 1e6 })]) {
    assertClose(logits(pe), rope, { rtol: 1e-9, atol: 1e-9 }, pe.name);
  }
});

test('on 1-D positions HoPE is p-RoPE: its s_t lowest-frequency pairs are position-free (p = (s_h + s_w)/P kept)', () => {
  assertClose(logits(new HoPE(D, [2, 3, 3], { base: 1e6 })), logits(new PRoPE(D, 6 / 8, { base: 1e6 })), { rtol: 1e-9, atol: 1e-9 }, 'hope');
});

test('every registered name runs in a 1-layer GPT forward: logits [B, T, V], finite', () => {
  for (const positional of positionalNames()) {
    const model = new GPT({ vocabSize: 7, contextLength: 8, dim: 16, numLayers: 1, numHeads: 2, positional, seed: 1 });
    const out = model.forward(new Tensor(Float64Array.from([1, 2, 3, 4, 5, 6]), [2, 3]));
    assert.equal(out.shape, [2, 3, 7], positional);
    assert.ok(out.data.every(Number.isFinite), `${positional}: finite logits`);
  }
});

test.run();
