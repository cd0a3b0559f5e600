/**
 * KVCache's storage (nn/kv-cache.ts): rows grow by doubling and the [B, H, L, d] tensors are made when read. Whatever
 * the steps, the cache must hold what concatenating every step and keeping the last maxLength would, and each append
 * must return the keys and values before eviction.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, concat, narrow, randn, type Tensor } from '../../core/index.js';
import { KVCache } from '../../nn/index.js';

const seed = Number(process.env['FC_SEED'] ?? 42);

test('KVCache: uneven appends, with and without eviction, hold exactly the concatenation of the steps (last maxLength kept)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 12 }), fc.option(fc.integer({ min: 1, max: 20 }), { nil: undefined }),
      fc.constantFrom('float32' as const, 'float64' as const), fc.integer({ min: 0, max: 1e6 }),
      (steps, maxLength, dtype, s) => {
        const g = new Generator(s);
        const cache = new KVCache(maxLength === undefined ? {} : { maxLength });
        let keys: Tensor | null = null;
        let values: Tensor | null = null;
        for (const T of steps) {
          const k = randn([2, 3, T, 4], { dtype, generator: g });
          const v = randn([2, 3, T, 5], { dtype, generator: g });
          const step = cache.append(k, v);
          keys = keys === null ? k : concat([keys, k], 2);
          values = values === null ? v : concat([values, v], 2);
          assert.equal(Array.from(step.keys.data), Array.from(keys.data), 'the step attends to every cached key and the new ones');
          assert.equal(Array.from(step.values.data), Array.from(values.data));
          const L = keys.shape[2]!;
          if (maxLength !== undefined && L > maxLength) {
            keys = narrow(keys, 2, L - maxLength, maxLength);
            values = narrow(values, 2, L - maxLength, maxLength);
          }
          assert.equal(cache.keys!.shape, keys.shape);
          assert.equal(Array.from(cache.keys!.data), Array.from(keys.data), 'then keeps the last maxLength');
          assert.equal(Array.from(cache.values!.data), Array.from(values.data));
          assert.is(cache.keys!.dtype, dtype);
        }
        assert.is(cache.position, steps.reduce((a, b) => a + b, 0), 'position counts every token');
      },
    ),
    { seed, numRuns: 80 },
  );
});

test('KVCache: keys and values set from outside are continued by the next append, and the tensors set are not written to', () => {
  const g = new Generator(1);
  const cache = new KVCache({ maxLength: 4 });
  const k = randn([1, 2, 3, 4], { dtype: 'float64', generator: g });
  const before = Array.from(k.data);
  cache.keys = k;
  cache.values = k;
  assert.is(cache.keys, k, 'reading gives back the tensor set');
  const next = randn([1, 2, 2, 4], { dtype: 'float64', generator: g });
  cache.append(next, next);
  assert.equal(Array.from(cache.keys!.data), Array.from(narrow(concat([k, next], 2), 2, 1, 4).data));
  assert.equal(Array.from(k.data), before, 'eviction did not shift the tensor that was set');
});

test.run();
