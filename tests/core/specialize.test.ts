/**
 * core/kernels/elementwise.ts `specialize`, public for kernels outside core (positional/rope.ts): a private copy that
 * computes what the loop computes, is a different function object (its own inline caches), and refuses non-functions.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DTypeError, specialize } from '../../core/index.js';
import { assertRefused } from '../helpers/refusal.js';

function scaleLoop(x: Float64Array | Float32Array, out: Float64Array | Float32Array, s: number): void {
  for (let i = 0; i < x.length; i++) out[i] = x[i]! * s;
}

test('specialize: a distinct copy that computes what the loop computes, per dtype', () => {
  const a = specialize(scaleLoop);
  const b = specialize(scaleLoop);
  assert.ok(a !== scaleLoop && a !== b, 'each call compiles a new function object');
  const x64 = new Float64Array([1, -2, 0.5]);
  const out64 = new Float64Array(3);
  a(x64, out64, 3);
  assert.equal(Array.from(out64), [3, -6, 1.5]);
  const x32 = new Float32Array([0.1, 2]);
  const out32 = new Float32Array(2);
  b(x32, out32, 2);
  const ref = new Float32Array(2);
  scaleLoop(x32, ref, 2);
  assert.equal(Array.from(out32), Array.from(ref));
});

test('specialize: refuses a non-function under its own name', () => {
  for (const bad of [null, undefined, 3, 'x => x', {}]) {
    assertRefused(() => specialize(bad as unknown as () => void), DTypeError, 'specialize', { arg: 'loop', words: ['function'] });
  }
});

test.run();
