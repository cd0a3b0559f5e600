/**
 * gradcheck itself (core/gradcheck.ts): it must pass correct ops, and catch each way a backward can be wrong —
 * a wrong Jacobian entry (naming input and element), a non-reentrant rule, a rule not linear in the upstream
 * gradient, an output cut from its input — and refuse what it cannot check (float32, nothing requiring grad).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  DTypeError, Generator, GradcheckError, Tensor, ValueError,
  crossEntropy, defineOp, gradcheck, matmul, randn, softmax, tensor,
} from '../../core/index.js';
import { fcParams, shapeArb, valuesArb } from '../helpers/fc.js';
import { sizeOfShape, unravel } from '../helpers/oracle.js';

const f64 = (values: readonly number[], shape: readonly number[], requiresGrad = false): Tensor =>
  tensor(Float64Array.from(values), shape, { dtype: 'float64', requiresGrad });

const shapedArb = (bound = 2): fc.Arbitrary<[number[], number[]]> =>
  shapeArb(3, 3, 1).chain((s) => fc.tuple(fc.constant(s), valuesArb(sizeOfShape(s), bound)));

/** x ↦ x³ elementwise whose backward is g·3x²·scale(element, call): scale = 1 is the correct rule. */
function cubeWith(name: string, scale: (element: number, call: number) => number): (x: Tensor) => Tensor {
  let calls = 0;
  const op = defineOp<Tensor>({
    name,
    forward: (x) => ({ output: x!.mul(x!).mul(x!), saved: x! }),
    backward: (g, x) => {
      const c = calls++;
      const gx = new Float64Array(x.size);
      for (let e = 0; e < x.size; e++) gx[e] = g.data[e]! * 3 * x.data[e]! ** 2 * scale(e, c);
      return [new Tensor(gx, x.shape)];
    },
  });
  return (x) => op(x);
}

test('passes correct ops and composites on random float64 inputs (one and several inputs, several outputs)', () => {
  fc.assert(
    fc.property(shapedArb().chain(([s, v]) => fc.tuple(fc.constant(s), fc.constant(v), valuesArb(v.length, 2))), ([shape, av, bv]) => {
      const a = f64(av, shape, true);
      const b = f64(bv, shape, true);
      assert.ok(gradcheck((x) => cubeWith('cube', () => 1)(x!), [a]));
      assert.ok(gradcheck((x, y) => x!.mul(y!).add(x!.sin()).tanh(), [a, b]));
      assert.ok(gradcheck((x, y) => [x!.mul(y!), x!.exp().sum()], [a, b]), 'several outputs');
      // an input that does not require grad is held fixed and not checked
      assert.ok(gradcheck((x, y) => x!.mul(y!), [a, f64(bv, shape)]));
    }),
    fcParams(25),
  );
});

test('passes the former smoke composites: softmax(A·B)·1.7 → tanh, and crossEntropy with label smoothing', () => {
  const g = new Generator(1);
  const a = randn([3, 4], { dtype: 'float64', generator: g, requiresGrad: true });
  const b = randn([4, 2], { dtype: 'float64', generator: g, requiresGrad: true });
  assert.ok(gradcheck((p, q) => softmax(matmul(p!, q!), -1).mul(1.7).tanh(), [a, b]));
  assert.ok(gradcheck((p) => crossEntropy(p!, tensor([0, 3, 1], { dtype: 'float64' }), { labelSmoothing: 0.1 }), [a]));
});

test('passes outputs that share the input buffer (identity, reshape): outputs are read before the next perturbation', () => {
  fc.assert(
    fc.property(shapedArb(), ([shape, v]) => {
      const x = f64(v, shape, true);
      assert.ok(gradcheck((t) => t!, [x]), 'identity');
      assert.ok(gradcheck((t) => t!.reshape([t!.size]), [x]), 'reshape');
    }),
    fcParams(20),
  );
});

test('leaves the inputs as they were (perturbations are undone, no .grad set)', () => {
  fc.assert(
    fc.property(shapedArb(), ([shape, v]) => {
      const x = f64(v, shape, true);
      gradcheck((t) => t!.exp(), [x]);
      assert.equal(Array.from(x.data), v);
      assert.is(x.grad, null);
    }),
    fcParams(20),
  );
});

test('a wrong Jacobian entry → GradcheckError naming the input index and the element, in fields and message', () => {
  fc.assert(
    fc.property(
      shapeArb(3, 3, 1).filter((s) => sizeOfShape(s) > 1).chain((s) =>
        fc.tuple(fc.constant(s), valuesArb(sizeOfShape(s), 2), valuesArb(sizeOfShape(s), 2), fc.nat(sizeOfShape(s) - 1), fc.constantFrom(0, 1)),
      ),
      ([shape, av, bv, bad, which]) => {
        // y[k] = a[r]·b[r] with r = n − 1 − k (so the output element differs from the input element), and
        // ∂y/∂(input `which`) doubled at input element `bad` only; |a|, |b| ≥ 0.5 keeps the true entry away from 0
        const n = sizeOfShape(shape);
        const a = f64(av.map((t) => t + Math.sign(t || 1) * 0.5), shape, true);
        const b = f64(bv.map((t) => t + Math.sign(t || 1) * 0.5), shape, true);
        const op = defineOp<[Tensor, Tensor]>({
          name: 'badReversedMul',
          forward: (p, q) => ({ output: new Tensor(Float64Array.from(p!.data, (_, k) => p!.data[n - 1 - k]! * q!.data[n - 1 - k]!), shape), saved: [p!, q!] }),
          backward: (g, [p, q]) => {
            const grads = [p, q].map((_, i) => new Tensor(Float64Array.from(g.data, (_, e) => g.data[n - 1 - e]! * [q, p][i]!.data[e]!), shape));
            grads[which]!.data[bad] = grads[which]!.data[bad]! * 2;
            return grads;
          },
        });
        try {
          gradcheck((p, q) => op(p!, q!), [a, b]);
          assert.unreachable('gradcheck must throw');
        } catch (e) {
          assert.instance(e, GradcheckError);
          const err = e as GradcheckError;
          assert.is(err.inputIndex, which);
          assert.is(err.element, bad);
          assert.is(err.outputIndex, 0);
          assert.ok(err.message.startsWith('gradcheck: '));
          const at = (i: number): string => `[${unravel(i, shape).join(',')}]`;
          assert.ok(err.message.includes(`output 0[${shape.join(',')}] element ${at(n - 1 - bad)} with respect to input ${which}[${shape.join(',')}] element ${at(bad)}`), err.message);
        }
      },
    ),
    fcParams(30),
  );
});

test('rtol is honoured: a rule off by a relative δ passes when δ ≪ rtol and fails when δ ≫ rtol', () => {
  fc.assert(
    fc.property(shapedArb(), ([shape, v]) => {
      const x = f64(v.map((t) => t + Math.sign(t || 1)), shape, true); // |x| ≥ 1: |∂x³| ≥ 3 ≫ atol
      const op = cubeWith('slightlyOff', () => 1 + 1e-4);
      assert.ok(gradcheck((t) => op(t!), [x], { rtol: 1e-3 }));
      assert.throws(() => gradcheck((t) => op(t!), [x], { rtol: 1e-6, atol: 1e-8 }), (e: unknown) => e instanceof GradcheckError && /Jacobian mismatch/.test(e.message));
    }),
    fcParams(20),
  );
});

test('a non-reentrant backward (a counter changes its result) → GradcheckError saying so', () => {
  const x = f64([0.5, -1.2, 2], [3], true);
  const op = cubeWith('counting', (_e, call) => 1 + 1e-9 * call); // within tolerance every time, never the same twice
  assert.throws(() => gradcheck((t) => op(t!), [x]), (e: unknown) => e instanceof GradcheckError && /not reentrant/.test(e.message) && e.inputIndex === 0);
});

test('a backward not linear in the upstream gradient (ignores it) → GradcheckError saying so', () => {
  // Σx has Jacobian all-ones; the rule returns ones whatever g is, so every one-hot check passes, but g = 0 does not
  const sumIgnoringG = defineOp<Tensor>({
    name: 'sumIgnoringG',
    forward: (x) => ({ output: x!.sum(), saved: x! }),
    backward: (_g, x) => [new Tensor(new Float64Array(x.size).fill(1), x.shape)],
  });
  const x = f64([0.5, -1.2, 2], [3], true);
  assert.throws(() => gradcheck((t) => sumIgnoringG(t!), [x]), (e: unknown) => e instanceof GradcheckError && /not linear/.test(e.message) && e.inputIndex === 0);
});

test('an output that depends on an input but does not require grad → GradcheckError', () => {
  const x = f64([0.5, -1.2], [2], true);
  assert.throws(() => gradcheck((t) => t!.detach().mul(2), [x]), (e: unknown) => e instanceof GradcheckError && /does not require grad/.test(e.message));
});

test('refuses float32 inputs that require grad (DTypeError) and input lists with nothing to check (ValueError)', () => {
  const x32 = tensor([1, 2], { requiresGrad: true });
  assert.throws(() => gradcheck((t) => t!.exp(), [x32]), (e: unknown) => e instanceof DTypeError && e.op === 'gradcheck' && e.arg === 'inputs[0]' && /float32/.test(e.message));
  const x64 = f64([1, 2], [2]);
  assert.throws(() => gradcheck((t) => t!.exp(), [x64]), (e: unknown) => e instanceof ValueError && e.op === 'gradcheck');
  // a float32 input that does not require grad is only held fixed: allowed
  assert.ok(gradcheck((t, c) => t!.mul(c!), [f64([1, 2], [2], true), tensor([3, 4])]));
});

test.run();
