/**
 * The 'gpujs' backend (core/gpujs/): gpu.js 2.24.1 kernels (gemm, attention, the last-axis softmax, the RoPE rotation,
 * unary maps) in its 'cpu' and 'webasm' modes against ropelab's JS kernels, the absent-gpu.js path, modes, release and the calibration. gpu.js is an optional peer: where it is not
 * installed (or ROPELAB_NO_GPUJS=1 simulates that), the tests that need it are left out with one line saying how to
 * install it; the absent-path tests always run (they inject a failing import).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { attention, gelu, grad, exp, matmul, sigmoid, silu, softmax, sum, mul, randn, tensor, Generator, ValueError, type Tensor } from '../../core/index.js';
import { applyRotary, type PairLayout } from '../../positional/rope.js';
import {
  backendNames, calibrate, getBackend, getBackendOptions, kernels, prepareBackend, releaseBackend, setBackend,
} from '../../core/backend.js';
import { gpujsKernels, GPUJS_VERSION } from '../../core/gpujs/backend.js';
import type { GpuJsKernels } from '../../core/gpujs/kernels.js';
import { gemmJs } from '../../core/kernels/matmul.js';
import { SENTINEL, gemmBuffers, type GemmCase } from '../helpers/gemm-case.js';

const seed = Number(process.env['FC_SEED'] ?? 42);
const U = 2 ** -24; // float32 unit roundoff

/**
 * Whether gpu.js imports from here (as prepareBackend would import it, so a resolution hook that hides it counts);
 * ROPELAB_NO_GPUJS=1 makes the file behave as if it did not.
 */
async function gpujsInstalled(): Promise<boolean> {
  if (process.env['ROPELAB_NO_GPUJS'] === '1') return false;
  const specifier = 'gpu.js'; // in a variable: TypeScript must not resolve it (gpu.js may be absent)
  try {
    await import(specifier);
    return true;
  } catch {
    return false;
  }
}
const HAVE_GPUJS = await gpujsInstalled();
if (!HAVE_GPUJS) {
  console.log(`tests/core/gpujs.test.ts: gpu.js is not installed here — its kernel tests are left out (install it: npm run peers:install, or npm install --no-save --ignore-scripts gpu.js@${GPUJS_VERSION})`);
}

/** The gpu.js kernel class each mode must run in Node (gpu.js's own classes). */
const MODES = [
  { mode: 'cpu', kernelClass: 'CPUKernel' },
  { mode: 'webasm', kernelClass: 'WebAssemblyKernel' },
] as const;

/** Runs body on gpujs in `mode`, then switches back to the backend active before (restored even on failure). */
function onGpuJs<T>(mode: string, body: (k: GpuJsKernels) => T): T {
  const before = getBackend();
  setBackend('gpujs', { mode });
  try {
    return body(gpujsKernels()!);
  } finally {
    setBackend(before);
  }
}

const count = (m: Map<string, number>, key: string): number => m.get(key) ?? 0;

// ---- gpu.js absent or not yet imported: always run, and first (nothing has prepared gpujs yet) ----

test('before prepareBackend, gpujs is not available and setBackend says to prepare it (active backend unchanged)', () => {
  const before = getBackend();
  assert.not.ok(backendNames().includes('gpujs'));
  assert.throws(() => setBackend('gpujs'), (e: unknown) => e instanceof ValueError && /^setBackend: .*await prepareBackend\('gpujs'\)/.test(e.message) && e.message.includes(`gpu.js@${GPUJS_VERSION}`));
  assert.is(getBackend(), before);
});

test('gpu.js absent: prepareBackend rejects with a typed error saying why and how to install it; so does setBackend after', async () => {
  const before = getBackend();
  const missing = (): Promise<never> => Promise.reject(Object.assign(new Error("Cannot find package 'gpu.js' imported from x.mjs"), { code: 'ERR_MODULE_NOT_FOUND' }));
  let error: unknown = null;
  try {
    await prepareBackend('gpujs', { importModule: missing });
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ValueError, 'a ValueError');
  const message = (error as Error).message;
  assert.match(message, /^prepareBackend: backend 'gpujs' cannot be prepared: gpu\.js could not be imported \(Cannot find package 'gpu\.js'/);
  assert.ok(message.includes(`npm install --no-save --ignore-scripts gpu.js@${GPUJS_VERSION}`), message);
  assert.throws(() => setBackend('gpujs', { mode: 'cpu' }), (e: unknown) => e instanceof ValueError && /^setBackend: backend 'gpujs' cannot run here: gpu\.js could not be imported .*peers:install/.test(e.message));
  assert.is(getBackend(), before);
  assert.not.ok(backendNames().includes('gpujs'));
  // a module that is not gpu.js (no GPU class) is refused the same way
  await prepareBackend('gpujs', { importModule: () => Promise.resolve({ default: {} }) }).then(
    () => assert.unreachable('resolved'),
    (e: unknown) => assert.ok(e instanceof ValueError && e.message.includes('has no GPU class'), String(e)),
  );
});

test('prepareBackend and setBackend check their arguments', async () => {
  await prepareBackend('nope').then(() => assert.unreachable('resolved'), (e: unknown) => assert.ok(e instanceof ValueError && e.message.startsWith('prepareBackend: ')));
  await prepareBackend('gpujs', { importModule: 3 as unknown as () => Promise<unknown> }).then(() => assert.unreachable('resolved'), (e: unknown) => assert.match(String(e), /options\.importModule must be a function/));
  await prepareBackend('js'); // nothing to prepare
  assert.throws(() => setBackend('js', { mode: 'cpu' }), /^setBackend: backend 'js' takes no options/);
});

// ---- gpu.js installed ----

if (HAVE_GPUJS) {
  test('prepareBackend imports gpu.js; gpujs is then a backend with modes (cpu, webasm) and getBackendOptions names the mode', async () => {
    await prepareBackend('gpujs');
    assert.ok(backendNames().includes('gpujs'));
    for (const { mode, kernelClass } of MODES) {
      onGpuJs(mode, (k) => {
        assert.is(getBackend(), 'gpujs');
        assert.equal(getBackendOptions(), { mode });
        assert.is(k.mode, mode);
        matmul(randn([4, 5], { generator: new Generator(1) }), randn([5, 3], { generator: new Generator(2) }));
        assert.is(k.kernelClass(), kernelClass);
      });
    }
  });

  test('setBackend refuses a mode this engine lacks, an unknown mode or option, saying why (active backend unchanged)', () => {
    const before = getBackend();
    assert.throws(() => setBackend('gpujs', { mode: 'webgl2' }), (e: unknown) => e instanceof ValueError && /^setBackend: backend 'gpujs': gpu\.js mode 'webgl2' cannot run here/.test(e.message));
    assert.throws(() => setBackend('gpujs', { mode: 'fast' }), /^setBackend: backend 'gpujs': options\.mode must be one of 'gpu', 'cpu', 'webasm'/);
    assert.throws(() => setBackend('gpujs', { mode: 3 as unknown as string }), /options\.mode must be a string/);
    assert.throws(() => setBackend('gpujs', { threads: 2 } as never), /unknown option 'threads'/);
    assert.is(getBackend(), before);
  });

  /**
   * gemm, every transpose, offsets and accumulate, against gemmJs: per element
   *   |gpujs − js| ≤ (K + 2)·2⁻²⁴·(Σ_p |a_ip·b_pj| + |c0|)
   * (a float32 sum of K products is within γ_{K+1} of the exact value, Higham 2002 eq. 3.5; the JS kernel sums in
   * float64 and rounds once). Nothing outside C's region is written.
   */
  const gemmCase = fc.record({
    M: fc.integer({ min: 1, max: 19 }), N: fc.integer({ min: 1, max: 19 }), K: fc.integer({ min: 1, max: 40 }),
    transA: fc.boolean(), transB: fc.boolean(),
    aOff: fc.integer({ min: 0, max: 5 }), bOff: fc.integer({ min: 0, max: 5 }), cOff: fc.integer({ min: 0, max: 5 }),
    accumulate: fc.boolean(),
  });
  for (const { mode, kernelClass } of MODES) {
    test(`gemm on gpu.js '${mode}' (${kernelClass}) agrees with the JS kernel within (K+2)·2⁻²⁴·Σ|a·b| on generated shapes`, () => {
      onGpuJs(mode, (k) => {
        const ran = count(k.runs, kernelClass);
        let cases = 0;
        fc.assert(fc.property(gemmCase, (t: GemmCase) => {
          const { M, N, K, aOff, bOff, cOff } = t;
          const { a, b, c } = gemmBuffers(t, Float32Array);
          const want = Float64Array.from(c);
          const scale = new Float64Array(M * N);
          for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
            let s = t.accumulate ? Math.abs(c[cOff + i * N + j]!) : 0;
            for (let p = 0; p < K; p++) s += Math.abs((t.transA ? a[aOff + p * M + i]! : a[aOff + i * K + p]!) * (t.transB ? b[bOff + j * K + p]! : b[bOff + p * N + j]!));
            scale[i * N + j] = s;
          }
          gemmJs(M, N, K, a, aOff, t.transA, b, bOff, t.transB, want, cOff, t.accumulate);
          assert.ok(kernels.gemm!(M, N, K, a, aOff, t.transA, b, bOff, t.transB, c, cOff, t.accumulate), 'gpujs takes float32');
          cases++;
          for (let i = 0; i < c.length; i++) {
            if (i < cOff || i >= cOff + M * N) {
              if (c[i] !== SENTINEL) return false;
              continue;
            }
            if (!(Math.abs(c[i]! - want[i]!) <= (K + 2) * U * scale[i - cOff]!)) return false;
          }
          return true;
        }), { seed, numRuns: 60 });
        assert.is(count(k.runs, kernelClass) - ran, cases, `every case ran on ${kernelClass}`);
        assert.is(k.runs.size, 1, `only ${kernelClass} ran: ${[...k.runs.keys()].join(', ')}`);
      });
    });

    test(`matmul and batched matmul on gpu.js '${mode}' agree with the js backend (float32, |Δ| ≤ 2⁻¹⁸·(K+2)·max|c|); float64 stays on JS, bit for bit`, () => {
      fc.assert(fc.property(
        fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 1000 }),
        (batch, M, K, N, s) => {
          const g = new Generator(s);
          const lead = batch === 0 ? [] : [batch];
          const a = randn([...lead, M, K], { generator: g });
          const b = randn([...lead, K, N], { generator: g });
          const want = matmul(a, b);
          const got = onGpuJs(mode, (k) => {
            const before = count(k.calls, 'gemm');
            const c = matmul(a, b);
            assert.is(count(k.calls, 'gemm') - before, Math.max(batch, 1), 'one gemm kernel call per matrix');
            return c;
          });
          assert.equal(got.shape, want.shape);
          const bound = 2 ** -18 * (K + 2) * Math.max(1, ...Array.from(want.data, Math.abs));
          return Array.from(want.data).every((w, i) => Math.abs(w - got.data[i]!) <= bound);
        },
      ), { seed, numRuns: 25 });
      const a64 = randn([5, 7], { dtype: 'float64', generator: new Generator(3) });
      const b64 = randn([7, 4], { dtype: 'float64', generator: new Generator(4) });
      const want = Array.from(matmul(a64, b64).data);
      onGpuJs(mode, (k) => {
        const before = count(k.calls, 'gemm');
        assert.equal(Array.from(matmul(a64, b64).data), want);
        assert.is(count(k.calls, 'gemm'), before, 'float64 is declined');
      });
    });

    test(`attention (softmax and score products) on gpu.js '${mode}' agrees with the js backend: outputs and gradients within 1e-4 (values ≤ 4)`, () => {
      // float32 logits differ by ≤ d·2⁻²⁴·Σ|q||k|·scale (≈ 1e-6 here), which moves each probability by about that
      // relative amount; outputs are convex mixes of v (|v| ≤ 4), gradients go through P and the same products
      fc.assert(fc.property(
        fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 8 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 6 }),
        fc.boolean(), fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 1000 }),
        (Tq, extra, d, dv, causal, w, s) => {
          const Tk = Tq + extra;
          const g = new Generator(s);
          const q = randn([2, Tq, d], { generator: g });
          const k = randn([2, Tk, d], { generator: g });
          const v = randn([2, Tk, dv], { generator: g });
          const options = { causal, window: w === 0 ? Infinity : w };
          const run = (): Tensor[] => {
            const out = attention(q, k, v, options);
            const dOut = randn(out.shape, { generator: new Generator(s + 1) });
            return [out, ...grad((qq: Tensor, kk: Tensor, vv: Tensor) => sum(mul(attention(qq, kk, vv, options), dOut)))(q, k, v)];
          };
          const want = run();
          const got = onGpuJs(mode, (kern) => {
            const before = count(kern.calls, 'probs');
            const r = run();
            assert.ok(count(kern.calls, 'probs') - before >= 2, 'the softmax ran on gpu.js, per matrix');
            return r;
          });
          return want.every((t, i) => Array.from(t.data).every((x, j) => Math.abs(x - got[i]!.data[j]!) <= 1e-4));
        },
      ), { seed, numRuns: 25 });
    });

    /**
     * softmax over the last axis against the js backend: per element, with p the JS probability and m the row max,
     *   |p_gpujs − p| ≤ (n + 4 + 2|x − m|)·2⁻²⁴·p + 2⁻¹²⁶
     * (a float32 row sum of n terms is within γ_n, exp(x − m) within about (1 + |x − m|)·u of its value; the
     * subnormal slack covers probabilities that underflow float32 in one and not the other).
     */
    test(`softmax (last axis) on gpu.js '${mode}' (${kernelClass}) agrees with the js backend within (n+4+2|x−m|)·2⁻²⁴·p on generated shapes`, () => {
      onGpuJs(mode, (k) => {
        const ran = count(k.runs, kernelClass);
        let cases = 0;
        fc.assert(fc.property(
          fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 2 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 1000 }),
          (lead, n, spread, s) => {
            const x = mul(randn([...lead, n], { generator: new Generator(s) }), spread); // logits up to ~±4·spread
            setBackend('js');
            const want = softmax(x);
            setBackend('gpujs', { mode });
            const before = count(k.calls, 'softmaxProbs');
            const got = softmax(x);
            assert.is(count(k.calls, 'softmaxProbs') - before, 1, 'one gpu.js softmax per call');
            cases++;
            for (let r = 0; r < x.size / n; r++) {
              const m = Math.max(...Array.from(x.data.subarray(r * n, (r + 1) * n)));
              for (let j = r * n; j < (r + 1) * n; j++) {
                const p = want.data[j]!;
                if (!(Math.abs(got.data[j]! - p) <= (n + 4 + 2 * Math.abs(x.data[j]! - m)) * U * p + 2 ** -126)) return false;
              }
            }
            return true;
          },
        ), { seed, numRuns: 60 });
        assert.is(count(k.runs, kernelClass) - ran, 3 * cases, `every case ran its three kernels on ${kernelClass}`);
        assert.is(k.runs.size, 1, `only ${kernelClass} ran: ${[...k.runs.keys()].join(', ')}`);
      });
    });

    test(`softmax on gpu.js '${mode}' leaves to JS, bit for bit: another axis, −∞ masks, float64`, () => {
      const x = randn([3, 5, 4], { generator: new Generator(7) });
      const masked = tensor([[0.5, -Infinity, 2], [-Infinity, -Infinity, -Infinity]]);
      const x64 = randn([4, 6], { dtype: 'float64', generator: new Generator(8) });
      const cases: [Tensor, number][] = [[x, 1], [x, 0], [masked, -1], [x64, -1]];
      const want = cases.map(([t, ax]) => Array.from(softmax(t, ax).data));
      onGpuJs(mode, (k) => {
        const before = count(k.calls, 'softmaxProbs');
        cases.forEach(([t, ax], i) => assert.equal(Array.from(softmax(t, ax).data), want[i]));
        assert.is(count(k.calls, 'softmaxProbs'), before, 'none of them ran on gpu.js');
        assert.ok(Number.isNaN(softmax(masked).data[3]!), 'an all −∞ row is NaN, as the JS kernel (and torch)');
      });
    });

    /**
     * applyRotary (precision 'float64', float32 x) forward and its x-gradient against the js backend, both layouts,
     * angle tables shared, per head or per sequence, partial rotaryDim and a scale s: per channel of a pair (a, b)
     *   |y_gpujs − y_js| ≤ 4·2⁻²⁴·|s|·(|x_a| + |x_b|)
     * (c = s·cos φ and s·sin φ rounded once to float32, two float32 products and a sum; the JS kernel rounds once).
     */
    test(`rotation (applyRotary, both layouts) on gpu.js '${mode}' (${kernelClass}) agrees with the js backend within 4·2⁻²⁴·|s|·(|x_a|+|x_b|), forward and backward`, () => {
      onGpuJs(mode, (k) => {
        const ran = count(k.runs, kernelClass);
        let calls = 0;
        fc.assert(fc.property(
          fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 3 }),
          fc.constantFrom<PairLayout>('half', 'interleaved'), fc.constantFrom('shared', 'head', 'sequence'), fc.integer({ min: -8, max: 8 }), fc.integer({ min: 0, max: 1000 }),
          (B, H, T, P, pass, layout, table, s8, seedX) => {
            const D = 2 * P + pass;
            const scale = s8 === 0 ? 1 : s8 / 4;
            const g = new Generator(seedX);
            const x = randn([B, H, T, D], { generator: g });
            const aShape = table === 'shared' ? [T, P] : table === 'head' ? [H, T, P] : [B, 1, T, P];
            const angles = mul(randn(aShape, { dtype: 'float64', generator: g }), 50);
            const dy = randn([B, H, T, D], { generator: g });
            const options = { layout, scale, rotaryDim: 2 * P };
            const run = (): Tensor[] => [applyRotary(x, angles, options), grad((xx: Tensor) => sum(mul(applyRotary(xx, angles, options), dy)))(x)[0]!];
            setBackend('js');
            const want = run();
            setBackend('gpujs', { mode });
            const before = count(k.calls, 'rotate');
            const got = run();
            calls += 3; // the forward, and the forward and backward (sScale = −s) of grad
            assert.is(count(k.calls, 'rotate') - before, 3, 'the rotation and its x-backward ran on gpu.js');
            const bOff = layout === 'half' ? P : 1;
            return [[x, want[0]!, got[0]!], [dy, want[1]!, got[1]!]].every(([input, w, o]) => {
              for (let row = 0; row < B * H * T; row++) {
                for (let i = 0; i < P; i++) {
                  const ia = row * D + (layout === 'half' ? i : 2 * i);
                  const ib = ia + bOff;
                  const tol = 4 * U * Math.abs(scale) * (Math.abs(input!.data[ia]!) + Math.abs(input!.data[ib]!));
                  if (!(Math.abs(o!.data[ia]! - w!.data[ia]!) <= tol && Math.abs(o!.data[ib]! - w!.data[ib]!) <= tol)) return false;
                }
                for (let c = 2 * P; c < D; c++) if (o!.data[row * D + c] !== w!.data[row * D + c]) return false;
              }
              return true;
            });
          },
        ), { seed, numRuns: 60 });
        assert.is(count(k.runs, kernelClass) - ran, calls, `every rotation ran on ${kernelClass}`);
        assert.is(k.runs.size, 1, `only ${kernelClass} ran: ${[...k.runs.keys()].join(', ')}`);
      });
    });

    test(`rotation on gpu.js '${mode}' leaves to JS, bit for bit: float64 x, precision 'float32' and 'bf16' emulation`, () => {
      const x = randn([2, 5, 8], { generator: new Generator(5) });
      const x64 = randn([2, 5, 8], { dtype: 'float64', generator: new Generator(6) });
      const angles = randn([5, 4], { dtype: 'float64', generator: new Generator(7) });
      const cases: [Tensor, 'float64' | 'float32' | 'bf16'][] = [[x64, 'float64'], [x, 'float32'], [x, 'bf16']];
      const want = cases.map(([t, precision]) => Array.from(applyRotary(t, angles, { layout: 'interleaved', precision }).data));
      onGpuJs(mode, (k) => {
        const before = count(k.calls, 'rotate');
        cases.forEach(([t, precision], i) => assert.equal(Array.from(applyRotary(t, angles, { layout: 'interleaved', precision }).data), want[i]));
        assert.is(count(k.calls, 'rotate'), before, 'none of them ran on gpu.js');
      });
    });

    test(`exp, sigmoid, silu and gelu(tanh) on gpu.js '${mode}' agree with the js backend within 4·2⁻²⁴·(1 + |y|)`, () => {
      const x = mul(randn([257], { generator: new Generator(11) }), 6);
      const ops: [string, (t: Tensor) => Tensor][] = [['exp', exp], ['sigmoid', sigmoid], ['silu', silu], ['geluTanh', (t) => gelu(t, 'tanh')]];
      for (const [name, op] of ops) {
        const want = op(x);
        onGpuJs(mode, (k) => {
          const before = count(k.calls, name);
          const got = op(x);
          assert.is(count(k.calls, name) - before, 1, `${name} ran on gpu.js`);
          for (let i = 0; i < want.size; i++) {
            const tol = 4 * U * (1 + Math.abs(want.data[i]!));
            if (!(Math.abs(got.data[i]! - want.data[i]!) <= tol)) assert.unreachable(`${name}(${x.data[i]}): gpujs ${got.data[i]}, js ${want.data[i]}`);
          }
        });
      }
    });
  }

  test('releaseBackend frees every mode\'s kernels (refused while active); the next setBackend builds them again', () => {
    const before = getBackend();
    setBackend('gpujs', { mode: 'webasm' });
    const webasm = gpujsKernels()!;
    matmul(randn([3, 3], { generator: new Generator(1) }), randn([3, 3], { generator: new Generator(2) }));
    assert.throws(() => releaseBackend('gpujs'), /^releaseBackend: backend 'gpujs' is active/);
    assert.not.ok(webasm.disposed);
    setBackend(before === 'gpujs' ? 'js' : before);
    releaseBackend('gpujs');
    assert.ok(webasm.disposed, 'the webasm kernels were destroyed');
    assert.is(gpujsKernels(), null);
    assert.throws(() => webasm.gemm(2, 2, 2, new Float32Array(4), 0, false, new Float32Array(4), 0, false, new Float32Array(4), 0, false), (e: unknown) => /disposed/.test(String(e)));
    onGpuJs('cpu', (k) => {
      assert.not.ok(k.disposed);
      const c = matmul(randn([3, 3], { generator: new Generator(1) }), randn([3, 3], { generator: new Generator(2) }));
      assert.is(c.shape.length, 2);
      assert.is(k.kernelClass(), 'CPUKernel');
    });
    releaseBackend('gpujs');
    releaseBackend('gpujs'); // a second release does nothing
  });

  test('calibration: with gpu.js prepared it is timed, and on this machine it is never the default (slower than JS)', () => {
    // three calibrations, best time of each backend (a neighbour's load can slow one 3 ms timing): gpujs would be
    // the default only if 1.25 × its time beat JS's (CALIBRATION_MARGIN), and it is chosen in none of the three
    const before = getBackend();
    const runs = [calibrate(), calibrate(), calibrate()];
    const best = (name: string): number => Math.min(...runs.map((r) => r.times.find((t) => t.name === name)?.ms ?? NaN));
    const [gpujsMs, jsMs] = [best('gpujs'), best('js')];
    assert.ok(Number.isFinite(gpujsMs), `gpujs was timed: ${JSON.stringify(runs[0]!.times)}`);
    assert.ok(gpujsMs * 1.25 >= jsMs, `gpujs (${gpujsMs} ms) is not faster than js (${jsMs} ms) by the margin on a 96³ product here`);
    assert.ok(gpujsMs > jsMs, `gpujs (${gpujsMs} ms) is slower than js (${jsMs} ms)`);
    assert.equal(runs.filter((r) => r.choice === 'gpujs').length, 0, 'never chosen');
    assert.is(getBackend(), before, 'calibrate() changes nothing');
    releaseBackend('gpujs');
  });
}

test.run();
