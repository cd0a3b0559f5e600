/**
 * The split forward = checkCall + forwardChecked (blocks and models check once, then run on norm(x)) skips no check:
 * forwardChecked takes only the proof that this layer's checkCall issued (nn/checked-call.ts), once, for an input of
 * the checked shape and dtype, and runs with the checked option values. A made-up proof, a reused one, one from
 * another layer, or a different x is refused under the name the caller gave.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DTypeError, Generator, ShapeError, Tensor, randn } from '../../core/index.js';
import { ChunkedAttention, KVCache, MultiHeadAttention, MultiHeadLatentAttention } from '../../nn/index.js';
import { assertRefused } from '../helpers/refusal.js';

const g = new Generator(3);
const x = (): Tensor => randn([1, 4, 8], { generator: g });

type Split = {
  checkCall(op: string, x: unknown, options: unknown): unknown;
  forwardChecked(op: string, x: Tensor, checked: never): Tensor;
  forward(x: Tensor, options?: never): Tensor;
};
const layers: Array<[string, () => Split]> = [
  ['MultiHeadAttention', () => new MultiHeadAttention(8, { numHeads: 2, generator: g }) as unknown as Split],
  ['ChunkedAttention', () => new ChunkedAttention(8, 2, 2, { generator: g }) as unknown as Split],
  ['MultiHeadLatentAttention', () => new MultiHeadLatentAttention({ dim: 8, numHeads: 2, kvLoraRank: 4, qkNopeHeadDim: 2, qkRopeHeadDim: 2, vHeadDim: 2, generator: g }) as unknown as Split],
];

for (const [name, make] of layers) {
  test(`${name}.forwardChecked refuses what its checkCall did not issue for this call`, () => {
    const layer = make();
    const op = `${name}.forward`;
    const call = (...args: unknown[]): unknown => (layer.forwardChecked as (...a: unknown[]) => unknown)(...args);
    // the former bypasses: an options object, or a resolved check written by hand, in place of the proof
    assertRefused(() => call(op, x(), {}, { causal: false, mask: null }), DTypeError, op, { arg: 'checked' });
    assertRefused(() => call(op, x(), { causal: false, mask: null }), DTypeError, op, { arg: 'checked' });
    // a proof from another layer of the same kind
    assertRefused(() => call(op, x(), make().checkCall(op, x(), {})), DTypeError, op, { arg: 'checked' });
    // a proof for another shape
    assertRefused(() => call(op, randn([2, 4, 8], { generator: g }), layer.checkCall(op, x(), {})), ShapeError, op, { arg: 'x' });
    // a proof used twice
    const checked = layer.checkCall(op, x(), {});
    call(op, x(), checked);
    assertRefused(() => call(op, x(), checked), DTypeError, op, { arg: 'checked' });
  });

  test(`${name}.forwardChecked with a proof gives forward's result (the checked options are the ones used)`, () => {
    const layer = make();
    const op = `${name}.forward`;
    const input = x();
    const positions = new Tensor(Float64Array.from([3, 4, 5, 6]), [4]);
    const options = { positions };
    const viaProof = layer.forwardChecked(op, input, layer.checkCall(op, input, options) as never);
    assert.equal(viaProof.data, layer.forward(input, options as never).data);
  });
}

test('MultiHeadAttention.forwardChecked appends to the cache its checkCall accepted', () => {
  const attn = new MultiHeadAttention(8, { numHeads: 2, generator: g });
  const cache = new KVCache();
  const checked = attn.checkCall('MultiHeadAttention.forward', x(), { cache });
  attn.forwardChecked('MultiHeadAttention.forward', x(), checked);
  assert.is(cache.length, 4, 'the checked cache received the keys');
});

test.run();
