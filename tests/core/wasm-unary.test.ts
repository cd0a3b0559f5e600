import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { WasmHeap } from '../../core/wasm/heap.js';
import { WasmUnary, unaryModule, UNARY_KERNELS } from '../../core/wasm/unary.js';
import { exp, gelu, setBackend, sigmoid, silu, Tensor } from '../../core/index.js';
import type { UnaryKernelName } from '../../core/backend.js';

const seed = Number(process.env['FC_SEED'] ?? 42);
const U = 2 ** -24;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

const heap = new WasmHeap();
const unary = new WasmUnary(heap);

/** The public op each kernel serves, and u, the argument of σ (0 where there is none), for the error bound. */
const OPS: Record<UnaryKernelName, { op: (x: Tensor) => Tensor; arg: (x: number) => number }> = {
  exp: { op: exp, arg: () => 0 },
  sigmoid: { op: sigmoid, arg: (x) => x },
  silu: { op: silu, arg: (x) => x },
  geluTanh: { op: (x) => gelu(x, 'tanh'), arg: (x) => 2 * SQRT_2_OVER_PI * (x + 0.044715 * x ** 3) },
};

test('the unary module validates, shared and unshared memory; it exports every kernel', () => {
  assert.ok(WebAssembly.validate(unaryModule(true)));
  assert.ok(WebAssembly.validate(unaryModule(false)));
  assert.equal([...UNARY_KERNELS].sort(), Object.keys(OPS).sort());
});

/**
 * The wasm map against the JS op (float64 math rounded once) on the same float32 input, per element:
 *   |wasm − js| ≤ 4·ulp(js) + 8·2⁻²⁴·|u|·|js| + 2⁻¹²⁶·max(1, |x|)
 * exp and σ are within ~1.5 ulp; σ's argument u is a float32 expression (relative error ≤ 3·2⁻²⁴ for GELU), which
 * moves σ(u) by up to |u|·|Δu/u| relatively where σ is small; results below float32's normal range may flush to 0.
 */
function checkAgainstJs(name: UnaryKernelName, values: readonly number[]): void {
  const x = new Tensor(Float32Array.from(values), [values.length]);
  setBackend('js');
  const want = OPS[name].op(x);
  const got = new Float32Array(values.length);
  assert.ok(unary.map(name, x.data, got), `${name}: taken (${values.length} float32 elements)`);
  for (let i = 0; i < values.length; i++) {
    const a = got[i]!;
    const b = want.data[i]!;
    if (Object.is(a, b) || (a === 0 && b === 0)) continue;
    const v = x.data[i]!;
    if (!Number.isFinite(b) || !Number.isFinite(a)) assert.unreachable(`${name}(${v}) = ${a}, js ${b}: non-finite values must match exactly`);
    const ulp = Math.max(Math.abs(b), 2 ** -126) * 2 ** -23;
    const tol = 4 * ulp + 8 * U * Math.abs(OPS[name].arg(v)) * Math.abs(b) + 2 ** -126 * Math.max(1, Math.abs(v));
    if (!(Math.abs(a - b) <= tol)) assert.unreachable(`${name}(${v}) = ${a}, js ${b} (|diff| ${Math.abs(a - b)} > ${tol})`);
  }
  assert.is(heap.liveBytes, 0);
}

for (const name of UNARY_KERNELS) {
  test(`wasm ${name} = the JS op to a few float32 ulp: random magnitudes, every length mod 4, the exp range edges`, () => {
    const value = fc.oneof(
      fc.double({ min: -12, max: 12, noNaN: true }),
      fc.double({ min: -120, max: 100, noNaN: true }),
      fc.constantFrom(0, -0, 1e-30, -1e-30, -87.5, -103.9, -104.5, 88.72, 88.73, 89, 1e20, -1e20),
    );
    fc.assert(fc.property(fc.array(value, { minLength: 256, maxLength: 300 }), (values) => checkAgainstJs(name, values)), { seed, numRuns: 40 });
  });
}

test('special values come out as the JS ops give them: NaN, ±∞, signed zero', () => {
  const specials = [NaN, Infinity, -Infinity, 0, -0, ...new Array<number>(251).fill(1)];
  for (const name of UNARY_KERNELS) {
    const x = new Tensor(Float32Array.from(specials), [specials.length]);
    setBackend('js');
    const want = OPS[name].op(x).data;
    const got = new Float32Array(specials.length);
    assert.ok(unary.map(name, x.data, got));
    for (let i = 0; i < 5; i++) assert.ok(Object.is(got[i], want[i]) || (got[i] === 0 && want[i] === 0 && name !== 'exp'), `${name}(${specials[i]}) = ${got[i]}, js ${want[i]}`);
  }
});

test('declines Float64Array and short arrays, writing nothing', () => {
  const out64 = new Float64Array(1000).fill(7);
  const out32 = new Float32Array(100).fill(7);
  assert.not.ok(unary.map('exp', new Float64Array(1000), out64));
  assert.not.ok(unary.map('exp', new Float32Array(100), out32));
  assert.ok(out64.every((v) => v === 7) && out32.every((v) => v === 7));
});

test("setBackend('wasm'): the public ops run the maps (float32, large) and keep JS for float64", () => {
  const values = Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 7);
  const x32 = new Tensor(Float32Array.from(values), [1000]);
  const x64 = new Tensor(Float64Array.from(values), [1000]);
  setBackend('js');
  const js32 = gelu(x32, 'tanh').data;
  const js64 = gelu(x64, 'tanh').data;
  setBackend('wasm');
  try {
    const w32 = gelu(x32, 'tanh').data;
    const w64 = gelu(x64, 'tanh').data;
    assert.ok(w32.some((v, i) => v !== js32[i]), 'float32 ran on the wasm map (it rounds differently)');
    assert.ok(w64.every((v, i) => v === js64[i]), 'float64 stayed on the JS loop, bit for bit');
  } finally {
    setBackend('js');
  }
});

test.run();
