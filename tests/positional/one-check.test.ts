/**
 * One check per call: an encoding's encodeQK checks q, k and their positions once each, as rotate does for one
 * tensor (a second finite scan of positions per call was O(T) of repeated work). Counted by wrapping a tensor in a
 * Proxy that counts `instanceof` tests (each check starts with one), so the counts compare entry points without
 * pinning how many checks a path makes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tensor } from '../../core/index.js';
import { DRoPE, DynamicNTKRoPE, MRoPE, RoPE, type PositionalEncoding } from '../../positional/index.js';

/** `t` behind a Proxy, and how many `instanceof` tests it has seen so far. */
function counted(t: Tensor): { tensor: Tensor; count: () => number } {
  let n = 0;
  const tensor = new Proxy(t, {
    getPrototypeOf(target) {
      n++;
      return Reflect.getPrototypeOf(target);
    },
  });
  return { tensor, count: () => n };
}

const seq = (T: number, D: number): Tensor => new Tensor(Float64Array.from({ length: T * D }, (_, i) => Math.sin(0.3 * i)), [1, 1, T, D]);
const range = (T: number): Tensor => new Tensor(Float64Array.from({ length: T }, (_, i) => i), [T]);

const encodings: Array<[string, () => PositionalEncoding, (T: number) => Tensor]> = [
  ['RoPE', () => new RoPE(8), range],
  ['MRoPE', () => new MRoPE(8, [2, 1, 1]), range],
  ['DynamicNTKRoPE', () => new DynamicNTKRoPE(8, { factor: 2, maxPositions: 16 }), range],
];

for (const [name, make, positions] of encodings) {
  test(`${name}: encodeQK checks k and kPositions once, as rotate does`, () => {
    const pe = make() as PositionalEncoding & { rotate(x: Tensor, p: Tensor): Tensor };
    pe.rotate(seq(4, 8), positions(4)); // the angle table for 0..3 is cached from here on: both counts below hit it
    const viaRotate = { k: counted(seq(4, 8)), p: counted(positions(4)) };
    pe.rotate(viaRotate.k.tensor, viaRotate.p.tensor);
    const viaEncode = { k: counted(seq(4, 8)), p: counted(positions(4)) };
    pe.encodeQK(seq(4, 8), viaEncode.k.tensor, positions(4), viaEncode.p.tensor);
    assert.ok(viaRotate.k.count() > 0 && viaRotate.p.count() > 0, 'the counter sees the checks');
    assert.is(viaEncode.k.count(), viaRotate.k.count(), 'k checked as often as x in rotate');
    assert.is(viaEncode.p.count(), viaRotate.p.count(), 'kPositions checked as often as positions in rotate');
  });
}

test('DRoPE: rotate checks its agents once, as angles does', () => {
  const pe = new DRoPE({ mode: 'dimSplit', headDim: 12 });
  const agents = (): Tensor => new Tensor(Float64Array.from({ length: 12 }, (_, i) => (i % 3) * 0.5 + i * 0.1), [4, 3]);
  pe.angles(agents());
  const viaAngles = counted(agents());
  pe.angles(viaAngles.tensor);
  const viaRotate = counted(agents());
  pe.rotate(new Tensor(new Float64Array(4 * 12).fill(0.5), [4, 12]), viaRotate.tensor);
  assert.ok(viaAngles.count() > 0);
  assert.is(viaRotate.count(), viaAngles.count());
});

test.run();
