/**
 * The reverse-mode engine (core/autograd.ts) and the functional/custom-op layer (core/custom-op.ts): deep chains,
 * fan-out and diamonds, broadcast reduction, the one gradient-shape check, graph freeing and retainGraph, leaf
 * accumulation, retainGrad, noGrad/enableGrad, detach, grad/valueAndGrad, defineOp, dtype of leaf gradients.
 * Expected gradients are derived by hand in each test; values come from fast-check.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  DTypeError, ShapeError, Tensor, ValueError,
  defineOp, enableGrad, gradcheck, grad, isGradEnabled, matmul, noGrad, ones, sum, tensor, valueAndGrad,
} from '../../core/index.js';
import { assertClose } from '../helpers/close.js';
import { broadcastablePairArb, fcParams, shapeArb, valuesArb } from '../helpers/fc.js';
import { broadcastRead, naiveBroadcastShape, ravel, sizeOfShape, unravel } from '../helpers/oracle.js';

const f64 = (values: readonly number[], shape: readonly number[], requiresGrad = false): Tensor =>
  tensor(Float64Array.from(values), shape, { dtype: 'float64', requiresGrad });

/** A shape (rank ≤ 4, dims 1..4) together with float64 values for it. */
const shapedArb = (bound = 3): fc.Arbitrary<[number[], number[]]> =>
  shapeArb(4, 4, 1).chain((s) => fc.tuple(fc.constant(s), valuesArb(sizeOfShape(s), bound)));

const F64 = { rtol: 1e-12, atol: 1e-12 };

// ── depth ──

test('a 100 000-op chain backpropagates without overflowing the stack, with the right gradient', () => {
  // h_{k+1} = h_k·c + 0, 50 000 times ⇒ h_N = c^N·x and dh_N/dx = c^N (100 000 recorded ops)
  const c = 1.0000001;
  const N = 50_000;
  const x = f64([0.5, -2], [2], true);
  let h = x;
  for (let k = 0; k < N; k++) h = h.mul(c).add(0);
  const y = h.sum();
  y.backward();
  const expected = Math.pow(c, N); // one rounding per step: relative error ≤ N·2⁻⁵³ ≈ 6e-12
  assertClose(x.grad!.data, [expected, expected], { rtol: 1e-10, atol: 0 }, 'd(c^N x)/dx');
  assertClose(h.data, [0.5 * expected, -2 * expected], { rtol: 1e-10, atol: 0 }, 'forward');
});

// ── graph shapes ──

test('fan-out: y = Σ(x·x + x) ⇒ dy/dx = 2x + 1', () => {
  fc.assert(
    fc.property(shapedArb(), ([shape, v]) => {
      const x = f64(v, shape, true);
      x.mul(x).add(x).sum().backward();
      assertClose(x.grad!.data, v.map((t) => 2 * t + 1), F64, 'dy/dx');
    }),
    fcParams(60),
  );
});

test('fan-out to k uses: y = Σ_i c_i·x ⇒ dy/dx = Σ_i c_i', () => {
  fc.assert(
    fc.property(shapedArb(), fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: 1, maxLength: 12 }), ([shape, v], cs) => {
      const x = f64(v, shape, true);
      let y = x.mul(cs[0]!);
      for (const c of cs.slice(1)) y = y.add(x.mul(c));
      y.sum().backward();
      let total = 0;
      for (const c of cs) total += c;
      assertClose(x.grad!.data, v.map(() => total), { rtol: 1e-12, atol: 1e-12 }, 'Σc');
    }),
    fcParams(40),
  );
});

test('diamond: a = exp(x), y = Σ sin(a)·cos(a) ⇒ dy/dx = cos(2a)·a', () => {
  fc.assert(
    fc.property(shapedArb(1.5), ([shape, v]) => {
      const x = f64(v, shape, true);
      const a = x.exp();
      a.sin().mul(a.cos()).sum().backward();
      assertClose(x.grad!.data, v.map((t) => Math.cos(2 * Math.exp(t)) * Math.exp(t)), { rtol: 1e-10, atol: 1e-12 }, 'dy/dx');
    }),
    fcParams(60),
  );
});

test('diamond with paths of unequal depth: b = 2a, c = b + a, y = Σ c·a = Σ 3a² with a = exp(x) ⇒ dy/dx = 6e^{2x}', () => {
  fc.assert(
    fc.property(shapedArb(1.5), ([shape, v]) => {
      const x = f64(v, shape, true);
      const a = x.exp();
      const b = a.mul(2);
      b.add(a).mul(a).sum().backward();
      assertClose(x.grad!.data, v.map((t) => 6 * Math.exp(2 * t)), { rtol: 1e-12, atol: 1e-12 }, 'dy/dx');
    }),
    fcParams(60),
  );
});

test('y = Σ(x·w) for x [m,k], w [k,n] ⇒ dx[i,p] = Σ_j w[p,j], dw[p,j] = Σ_i x[i,p]', () => {
  const dims = fc.integer({ min: 1, max: 4 });
  fc.assert(
    fc.property(fc.tuple(dims, dims, dims).chain(([m, k, n]) => fc.tuple(fc.constant([m, k, n]), valuesArb(m * k), valuesArb(k * n))), ([[m, k, n], xv, wv]) => {
      const x = f64(xv, [m!, k!], true);
      const w = f64(wv, [k!, n!], true);
      sum(matmul(x, w)).backward();
      const dx: number[] = [];
      for (let i = 0; i < m!; i++) for (let p = 0; p < k!; p++) dx.push(wv.slice(p * n!, (p + 1) * n!).reduce((s, t) => s + t, 0));
      const dw: number[] = [];
      for (let p = 0; p < k!; p++) for (let j = 0; j < n!; j++) dw.push(Array.from({ length: m! }, (_, i) => xv[i * k! + p]!).reduce((s, t) => s + t, 0));
      assertClose(x.grad!.data, dx, { rtol: 1e-12, atol: 1e-12 }, 'dx');
      assertClose(w.grad!.data, dw, { rtol: 1e-12, atol: 1e-12 }, 'dw');
    }),
    fcParams(40),
  );
});

// ── broadcasting ──

test('broadcast reduction: a [3,1] + b [4] ⇒ a.grad [3,1] = row sums of G, b.grad [4] = column sums', () => {
  fc.assert(
    fc.property(valuesArb(3), valuesArb(4), valuesArb(12), (av, bv, gv) => {
      const a = f64(av, [3, 1], true);
      const b = f64(bv, [4], true);
      const out = a.add(b);
      assert.equal([...out.shape], [3, 4]);
      out.backward(f64(gv, [3, 4]));
      assert.equal([...a.grad!.shape], [3, 1]);
      assert.equal([...b.grad!.shape], [4]);
      const rows = [0, 1, 2].map((i) => gv.slice(4 * i, 4 * i + 4).reduce((s, t) => s + t, 0));
      const cols = [0, 1, 2, 3].map((j) => gv[j]! + gv[4 + j]! + gv[8 + j]!);
      assertClose(a.grad!.data, rows, F64, 'a.grad');
      assertClose(b.grad!.data, cols, F64, 'b.grad');
    }),
    fcParams(40),
  );
});

/** Σ of contributions over every output position that reads element `i` of `shape` when broadcast to `outShape`. */
function reduceTo(contrib: (idx: number[]) => number, outShape: readonly number[], shape: readonly number[]): number[] {
  const acc = new Array<number>(sizeOfShape(shape)).fill(0);
  for (let i = 0; i < sizeOfShape(outShape); i++) {
    const idx = unravel(i, outShape);
    const off = idx.length - shape.length;
    const own = shape.map((d, k) => (d === 1 ? 0 : idx[k + off]!));
    acc[ravel(own, shape)]! += contrib(idx);
  }
  return acc;
}

test('broadcast reduction, any broadcastable pair: grads of a·b under upstream G are G·b and G·a summed to each input\'s shape', () => {
  fc.assert(
    fc.property(
      broadcastablePairArb(4, 3).chain(([sa, sb]) => {
        const so = naiveBroadcastShape(sa, sb)!;
        return fc.tuple(fc.constant([sa, sb, so]), valuesArb(sizeOfShape(sa)), valuesArb(sizeOfShape(sb)), valuesArb(sizeOfShape(so)));
      }),
      ([[sa, sb, so], av, bv, gv]) => {
        const a = f64(av, sa!, true);
        const b = f64(bv, sb!, true);
        a.mul(b).backward(f64(gv, so!));
        const G = (idx: number[]): number => gv[ravel(idx, so!)]!;
        assert.equal([...a.grad!.shape], sa);
        assert.equal([...b.grad!.shape], sb);
        assertClose(a.grad!.data, reduceTo((idx) => G(idx) * broadcastRead(bv, sb!, idx), so!, sa!), { rtol: 1e-12, atol: 1e-12 }, 'a.grad');
        assertClose(b.grad!.data, reduceTo((idx) => G(idx) * broadcastRead(av, sa!, idx), so!, sb!), { rtol: 1e-12, atol: 1e-12 }, 'b.grad');
      },
    ),
    fcParams(60),
  );
});

// ── the one gradient check ──

test('a backward that returns a wrongly shaped gradient → ShapeError from autograd naming the op and both shapes', () => {
  const bad = defineOp<null>({
    name: 'badShapeOp',
    forward: (x) => ({ output: x!.mul(2), saved: null }),
    backward: () => [ones([5], { dtype: 'float64' })],
  });
  const x = f64([1, 2, 3], [3], true);
  const y = bad(x).sum();
  assert.throws(
    () => y.backward(),
    (e: unknown) =>
      e instanceof ShapeError && e.op === 'autograd' && e.arg === 'input 0' && e.message.startsWith('autograd: ') &&
      e.message.includes('badShapeOp') && e.message.includes('[5]') && e.message.includes('[3]'),
  );
  assert.ok(isGradEnabled(), 'grad mode restored after a throwing backward');
});

test('a backward may return a broadcast-shaped gradient: the engine sums it down to the input', () => {
  fc.assert(
    fc.property(valuesArb(3), fc.integer({ min: 1, max: 4 }), (v, rows) => {
      // d/dx of Σ 2x, but the rule answers with `rows` copies stacked on a new leading axis
      const op = defineOp<null>({
        name: 'broadcastGrad',
        forward: (x) => ({ output: x!.mul(2), saved: null }),
        backward: (g) => [g.mul(ones([rows, 3], { dtype: 'float64' })).mul(2)],
      });
      const x = f64(v, [3], true);
      op(x).sum().backward();
      assertClose(x.grad!.data, [2 * rows, 2 * rows, 2 * rows], F64, 'summed grad');
    }),
    fcParams(20),
  );
});

test('a backward that returns the wrong number of gradients → ValueError from backward, the call the user made', () => {
  const op = defineOp<null>({ name: 'twoGrads', forward: (x) => ({ output: x!.mul(1), saved: null }), backward: (g) => [g, g] });
  const x = f64([1], [1], true);
  assert.throws(() => op(x).sum().backward(), (e: unknown) => e instanceof ValueError && e.op === 'Tensor.backward' && /twoGrads returned 2 gradients for 1 inputs/.test(e.message));
});

// ── graph lifetime ──

test('backward twice without retainGraph → clear error; with retainGraph the second pass accumulates', () => {
  fc.assert(
    fc.property(shapedArb(), ([shape, v]) => {
      const x = f64(v, shape, true);
      const y = x.mul(x).sum();
      y.backward();
      assert.throws(() => y.backward(), (e: unknown) => e instanceof Error && /second time/.test(e.message) && /retainGraph/.test(e.message) && e.message.startsWith('Tensor.backward: '));
      assertClose(x.grad!.data, v.map((t) => 2 * t), F64, 'grad after one pass');

      const x2 = f64(v, shape, true);
      const y2 = x2.mul(x2).sum();
      y2.backward(undefined, { retainGraph: true });
      y2.backward(undefined, { retainGraph: true });
      y2.backward(); // the last pass may free
      assertClose(x2.grad!.data, v.map((t) => 6 * t), F64, 'three passes accumulate');
      assert.throws(() => y2.backward(), /second time/);
    }),
    fcParams(30),
  );
});

test('an intermediate shared by two outputs: the second backward through a freed part throws', () => {
  const x = f64([1, 2], [2], true);
  const h = x.exp();
  const y1 = h.mul(2).sum();
  const y2 = h.mul(3).sum();
  y1.backward();
  assert.throws(() => y2.backward(), /second time/);
});

test('leaf .grad accumulates across separate graphs: Σ(x·a) then Σ(x·b) ⇒ x.grad = a + b', () => {
  fc.assert(
    fc.property(shapedArb().chain(([s, v]) => fc.tuple(fc.constant(s), fc.constant(v), valuesArb(v.length), valuesArb(v.length))), ([shape, v, av, bv]) => {
      const x = f64(v, shape, true);
      x.mul(f64(av, shape)).sum().backward();
      assertClose(x.grad!.data, av, F64, 'first');
      x.mul(f64(bv, shape)).sum().backward();
      assertClose(x.grad!.data, av.map((t, i) => t + bv[i]!), F64, 'accumulated');
    }),
    fcParams(40),
  );
});

test('retainGrad keeps dL/dh on an intermediate (accumulating); others stay null', () => {
  fc.assert(
    fc.property(shapedArb(), ([shape, v]) => {
      const x = f64(v, shape, true);
      const h = x.mul(3).retainGrad();
      const k = x.mul(2);
      const y = h.mul(h).add(k).sum(); // y = Σ 9x² + 2x ⇒ dy/dh = 2h, dy/dx = 18x + 2
      y.backward(undefined, { retainGraph: true });
      assertClose(h.grad!.data, v.map((t) => 6 * t), F64, 'h.grad');
      assertClose(x.grad!.data, v.map((t) => 18 * t + 2), F64, 'x.grad');
      assert.is(k.grad, null, 'no retainGrad, no .grad');
      y.backward();
      assertClose(h.grad!.data, v.map((t) => 12 * t), F64, 'h.grad accumulates');
    }),
    fcParams(30),
  );
});

test('backward from a leaf itself: x.backward(g) puts g in x.grad', () => {
  const x = f64([1, 2, 3], [3], true);
  x.backward(f64([4, 5, 6], [3]));
  assert.equal(Array.from(x.grad!.data), [4, 5, 6]);
});

// ── grad mode ──

test('noGrad records nothing, restores the mode (also when fn throws); enableGrad records inside noGrad', () => {
  const x = f64([1, 2], [2], true);
  assert.ok(isGradEnabled());
  const y = noGrad(() => {
    assert.not.ok(isGradEnabled());
    const inner = enableGrad(() => {
      assert.ok(isGradEnabled());
      return x.mul(2);
    });
    assert.not.ok(isGradEnabled(), 'enableGrad restores the outer noGrad');
    assert.ok(inner.requiresGrad && inner.gradNode !== null, 'enableGrad records');
    return x.mul(3);
  });
  assert.not.ok(y.requiresGrad);
  assert.is(y.gradNode, null);
  assert.ok(y.isLeaf);
  assert.ok(isGradEnabled());
  assert.equal(Array.from(y.data), [3, 6]);

  assert.throws(() => noGrad(() => { throw new RangeError('boom'); }), /boom/);
  assert.ok(isGradEnabled(), 'restored after a throw');
  noGrad(() => {
    assert.throws(() => enableGrad(() => { throw new RangeError('boom'); }), /boom/);
    assert.not.ok(isGradEnabled(), 'enableGrad restores after a throw too');
    noGrad(() => 0);
    assert.not.ok(isGradEnabled(), 'a nested noGrad restores the outer noGrad');
    assert.throws(() => noGrad(() => { throw new RangeError('boom'); }), /boom/);
    assert.not.ok(isGradEnabled(), '… also after a throw');
  });
  enableGrad(() => {
    enableGrad(() => 0);
    assert.ok(isGradEnabled(), 'nested enableGrad');
  });
  assert.is(noGrad(() => 42), 42, 'returns fn\'s value');
});

test('backward rules run with grad mode off, and the mode is restored after backward', () => {
  const seen: boolean[] = [];
  const op = defineOp<null>({
    name: 'spy',
    forward: (x) => {
      seen.push(isGradEnabled());
      return { output: x!.mul(1), saved: null };
    },
    backward: (g) => {
      seen.push(isGradEnabled());
      return [g];
    },
  });
  const x = f64([1], [1], true);
  op(x).sum().backward();
  assert.equal(seen, [false, false], 'forward and backward of a custom op see grad mode off');
  assert.ok(isGradEnabled());
});

test('detach cuts the graph: d = (2x).detach() is a leaf sharing data; Σ d·x ⇒ dx = d (not 4x)', () => {
  fc.assert(
    fc.property(shapedArb(), ([shape, v]) => {
      const x = f64(v, shape, true);
      const src = x.mul(2);
      const d = src.detach();
      assert.not.ok(d.requiresGrad);
      assert.ok(d.isLeaf);
      assert.is(d.data, src.data, 'detach shares the buffer (like torch.Tensor.detach)');
      d.mul(x).sum().backward();
      assertClose(x.grad!.data, v.map((t) => 2 * t), F64, 'dx');
      assert.is(d.grad, null);
    }),
    fcParams(30),
  );
});

// ── functional API ──

test('grad / valueAndGrad of f(x, y) = Σ(x·y + sin x): value, dx = y + cos x, dy = x; inputs untouched', () => {
  fc.assert(
    fc.property(shapedArb().chain(([s, v]) => fc.tuple(fc.constant(s), fc.constant(v), valuesArb(v.length))), ([shape, xv, yv]) => {
      const f = (x: Tensor, y: Tensor): Tensor => x.mul(y).add(x.sin()).sum();
      const x = f64(xv, shape);
      const y = f64(yv, shape);
      const [dx, dy] = grad((a, b) => f(a!, b!))(x, y);
      assertClose(dx!.data, xv.map((t, i) => yv[i]! + Math.cos(t)), { rtol: 1e-12, atol: 1e-12 }, 'dx');
      assertClose(dy!.data, xv, F64, 'dy');
      const { value, grads } = valueAndGrad((a, b) => f(a!, b!))(x, y);
      assertClose(value.data, [xv.reduce((s, t, i) => s + t * yv[i]! + Math.sin(t), 0)], { rtol: 1e-12, atol: 1e-12 }, 'value');
      assert.not.ok(value.requiresGrad, 'the value comes back detached');
      assertClose(grads[0]!.data, dx!.data, { rtol: 0, atol: 0 }, 'same grads');
      assert.is(x.grad, null, 'the caller\'s tensors get no .grad');
      assert.not.ok(x.requiresGrad);
    }),
    fcParams(40),
  );
});

test('grad: an input the output does not depend on gets zeros of its shape and dtype', () => {
  const [, dz] = grad((a) => a!.mul(a!).sum())(f64([1, 2], [2]), tensor([[1, 2, 3]]));
  assert.equal([...dz!.shape], [1, 3]);
  assert.is(dz!.dtype, 'float32');
  assert.equal(Array.from(dz!.data), [0, 0, 0]);
  // also inside noGrad: grad records anyway
  const [d] = noGrad(() => grad((a) => a!.mul(a!).sum())(f64([3], [1])));
  assert.equal(Array.from(d!.data), [6]);
});

test('grad of a non-scalar fn → ShapeError from grad naming the shape', () => {
  assert.throws(() => grad((a) => a!.mul(2))(f64([1, 2], [2])), (e: unknown) => e instanceof ShapeError && e.op === 'grad' && e.message.includes('[2]'));
});

// ── custom ops ──

/** f(a, b) = a·e^b elementwise, written on raw arrays; ∂f/∂a = e^b, ∂f/∂b = a·e^b. */
const aExpB = defineOp<{ a: Tensor; eb: Tensor }>({
  name: 'aExpB',
  forward: (a, b) => {
    const eb = new Tensor(Float64Array.from(b!.data, Math.exp), b!.shape);
    return { output: new Tensor(Float64Array.from(a!.data, (t, i) => t * eb.data[i]!), a!.shape), saved: { a: a!, eb } };
  },
  backward: (g, { a, eb }, needs) => [needs[0] ? g.mul(eb) : null, needs[1] ? g.mul(a).mul(eb) : null],
});

test('defineOp: a custom forward/backward passes gradcheck, and gets needsInputGrad', () => {
  fc.assert(
    fc.property(shapedArb(1).chain(([s, v]) => fc.tuple(fc.constant(s), fc.constant(v), valuesArb(v.length, 1))), ([shape, av, bv]) => {
      const a = f64(av, shape, true);
      const b = f64(bv, shape, true);
      assert.ok(gradcheck((p, q) => aExpB(p!, q!).mul(1.5).sin(), [a, b]));
    }),
    fcParams(20),
  );
  const needs: boolean[][] = [];
  const spy = defineOp<null>({
    name: 'needsSpy',
    forward: (a, b) => ({ output: a!.add(b!), saved: null }),
    backward: (g, _s, n) => {
      needs.push([...n]);
      return [g, g];
    },
  });
  spy(f64([1], [1], true), f64([1], [1])).sum().backward();
  assert.equal(needs, [[true, false]]);
});

test('defineOp: no graph when no input requires grad; a fresh output node even when forward returns its input', () => {
  const id = defineOp<null>({ name: 'identity', forward: (x) => ({ output: x!, saved: null }), backward: (g) => [g] });
  const plain = id(f64([1, 2], [2]));
  assert.not.ok(plain.requiresGrad);
  const x = f64([1, 2], [2], true);
  const y = id(x);
  assert.is.not(y, x);
  assert.is(y.gradNode!.op, 'identity');
  y.mul(3).sum().backward();
  assert.equal(Array.from(x.grad!.data), [3, 3]);
  assert.throws(() => id(1 as unknown as Tensor), (e: unknown) => e instanceof DTypeError && e.op === 'identity');
});

// ── backward entry checks ──

test('backward on a non-scalar without a grad → ShapeError; with a grad of the wrong shape or dtype → typed errors', () => {
  fc.assert(
    fc.property(shapeArb(4, 4, 1).filter((s) => sizeOfShape(s) > 1), (shape) => {
      const x = ones(shape, { dtype: 'float64', requiresGrad: true });
      const y = x.mul(2);
      assert.throws(() => y.backward(), (e: unknown) => e instanceof ShapeError && e.op === 'Tensor.backward' && e.arg === 'grad' && e.message.includes(`[${shape.join(',')}]`));
      // a grad that merely broadcasts to y is not y's shape
      assert.throws(() => y.backward(ones([2, ...shape], { dtype: 'float64' })), (e: unknown) => e instanceof ShapeError && e.op === 'Tensor.backward');
      assert.throws(() => y.backward(ones(shape, { dtype: 'float32' })), (e: unknown) => e instanceof DTypeError && e.op === 'Tensor.backward');
      y.backward(ones(shape, { dtype: 'float64' }));
      assert.ok(x.grad!.data.every((t) => t === 2));
    }),
    fcParams(30),
  );
});

test('backward on a tensor that does not require grad → ValueError from backward', () => {
  const x = f64([1, 2], [2]);
  assert.throws(() => x.sum().backward(), (e: unknown) => e instanceof ValueError && e.op === 'Tensor.backward' && /does not require grad/.test(e.message));
});

test('a single-element output of any rank gets an implied grad of 1 in its own dtype', () => {
  const x = tensor([[2]], { requiresGrad: true });
  const y = x.mul(x); // [1,1], float32
  y.backward();
  assert.is(x.grad!.dtype, 'float32');
  assert.equal(Array.from(x.grad!.data), [4]);
});

// ── dtypes ──

test('float32 leaves fed through a float64 op get float32 gradients (the float64 leaf float64 ones)', () => {
  fc.assert(
    fc.property(shapedArb().chain(([s, v]) => fc.tuple(fc.constant(s), fc.constant(v), valuesArb(v.length))), ([shape, xv, yv]) => {
      const x = tensor(xv, shape, { requiresGrad: true }); // float32
      const y = f64(yv, shape, true);
      const z = x.mul(y).add(x.cast('float64'));
      assert.is(z.dtype, 'float64');
      z.sum().backward();
      assert.is(x.grad!.dtype, 'float32');
      assert.is(y.grad!.dtype, 'float64');
      // dz/dx = y + 1, summed over two paths in float32 (≤ 2 roundings: rtol 2⁻²²); dz/dy = float32(x) exactly
      assertClose(x.grad!.data, yv.map((t) => t + 1), { rtol: 2 ** -22, atol: 1e-7 }, 'x.grad');
      assertClose(y.grad!.data, xv.map(Math.fround), { rtol: 0, atol: 0 }, 'y.grad');
    }),
    fcParams(40),
  );
});

test.run();
