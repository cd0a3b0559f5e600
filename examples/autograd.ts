/**
 * Autograd basics: tensors, ops, backward, gradcheck.
 *
 *   node scripts/run.mjs examples/autograd.ts
 *
 * ropelab's tensors are typed arrays with a shape. An op on a tensor that requires grad records how to differentiate
 * it; `backward()` walks that record from a scalar back to every input and fills in `.grad` (reverse mode, as
 * PyTorch does). `gradcheck` compares those gradients with finite differences, which is how ropelab tests every op.
 */
import { Generator, SGD, gradcheck, matmul, randn, tensor, type Tensor } from '../index.js';

// 1. Tensors and broadcasting ops. `tensor` takes nested arrays; the default dtype is float32.
const a = tensor([[1, 2, 3], [4, 5, 6]]); // [2, 3]
const b = tensor([10, 20, 30]); // [3], broadcast over the rows of a
console.log(`a + b = ${JSON.stringify(a.add(b).toArray())}`);
console.log(`a @ aᵀ = ${JSON.stringify(matmul(a, a.transpose(0, 1)).toArray())}`);

// 2. Backward. y = Σ x² · w, so dy/dx = 2·x·w and dy/dw = x².
const x = tensor([1, 2, 3], { requiresGrad: true });
const w = tensor([0.5, -1, 2], { requiresGrad: true });
const y = x.square().mul(w).sum(); // a scalar
y.backward();
console.log(`y = ${y.item()}`);
console.log(`dy/dx = ${JSON.stringify(x.grad!.toArray())}   (by hand: 2·x·w = [1, -4, 12])`);
console.log(`dy/dw = ${JSON.stringify(w.grad!.toArray())}   (by hand: x² = [1, 4, 9])`);

// 3. gradcheck: autograd against central finite differences, in float64 (float32 differences are too coarse).
//    It returns true, or throws a GradcheckError naming the input and element that disagree.
const g = new Generator(0); // a seeded stream: the same numbers on every run
const p = randn([3, 4], { dtype: 'float64', generator: g, requiresGrad: true });
const q = randn([4, 2], { dtype: 'float64', generator: g, requiresGrad: true });
const f = (u: Tensor, v: Tensor): Tensor => matmul(u, v).tanh().softmax(-1).log().sum();
console.log(`gradcheck(log softmax(tanh(p @ q))): ${gradcheck(f, [p, q]) ? 'passed' : 'failed'}`);

// 4. A training loop: fit the line t = 3·s − 1 with SGD. zeroGrad → forward → backward → step.
const s = randn([64, 1], { generator: g });
const t = s.mul(3).sub(1);
const slope = tensor([[0]], { requiresGrad: true });
const bias = tensor([0], { requiresGrad: true });
const optimizer = new SGD([slope, bias], { lr: 0.1 });
for (let step = 0; step < 100; step++) {
  const loss = matmul(s, slope).add(bias).sub(t).square().mean();
  optimizer.zeroGrad();
  loss.backward();
  optimizer.step();
}
const c = bias.item();
console.log(`fitted t = ${slope.item().toFixed(3)}·s ${c < 0 ? '−' : '+'} ${Math.abs(c).toFixed(3)}   (true: 3·s − 1)`);
