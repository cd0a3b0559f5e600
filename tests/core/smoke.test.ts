import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, matmul, sum, gradcheck, randn, Generator, softmax, crossEntropy } from '../../core/index.js';

test('smoke: y = sum(x·w) backward', () => {
  const x = tensor([[1, 2], [3, 4]], { requiresGrad: true });
  const w = tensor([[1], [1]], { requiresGrad: true });
  const y = sum(matmul(x, w));
  y.backward();
  assert.equal(Array.from(x.grad!.data), [1, 1, 1, 1]);
  assert.equal(Array.from(w.grad!.data), [4, 6]);
});

test('smoke: gradcheck of a small graph', () => {
  const g = new Generator(1);
  const a = randn([3, 4], { dtype: 'float64', generator: g, requiresGrad: true });
  const b = randn([4, 2], { dtype: 'float64', generator: g, requiresGrad: true });
  gradcheck((p, q) => softmax(matmul(p!, q!), -1).mul(1.7).tanh(), [a, b]);
  gradcheck((p) => crossEntropy(p!, tensor([0, 3, 1], { dtype: 'float64' }), { labelSmoothing: 0.1 }), [a]);
});

test.run();
