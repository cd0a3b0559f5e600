/**
 * Elementwise float32 maps on WebAssembly SIMD128 for the unary ops whose JS loops cost most, those built on exp:
 *   exp(x);   sigmoid(x) = 1/(1 + e^−x) for x ≥ 0, e^x/(1 + e^x) below (e^−|x| either way: no overflow);
 *   silu(x) = x·σ(x);   GELU-tanh(x) = x·σ(2√(2/π)(x + 0.044715x³))  (Hendrycks & Gimpel 2016; ½(1 + tanh u) = σ(2u)).
 * The JS ops compute in float64 and round once; these compute in float32 with the exp of core/wasm/exp.ts, so they
 * agree to a few float32 ulp (tests/core/wasm-unary.test.ts states the bounds). Operands are copied into the wasm
 * memory and back per call; arrays shorter than MIN_LENGTH and Float64Array stay on JS.
 */
import type { UnaryKernelName } from '../backend.js';
import type { TypedArray } from '../dtype.js';
import { emitExp, expScratch, splat4 } from './exp.js';
import { heapMemoryImport, type WasmHeap } from './heap.js';
import { I32, ModuleWriter, V128 } from './writer.js';

/** Below this many elements the copies cost more than the JS loop. */
const MIN_LENGTH = 256;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

/** The functions, by kernel name: each (x, out, vectors) maps `vectors` f32x4 of x into out. */
export const UNARY_KERNELS: readonly UnaryKernelName[] = ['exp', 'sigmoid', 'silu', 'geluTanh'];

export function unaryModule(shared: boolean): Uint8Array<ArrayBuffer> {
  const m = new ModuleWriter();
  m.importMemory('env', 'memory', heapMemoryImport(shared));
  for (const name of UNARY_KERNELS) {
    m.func(name, [I32, I32, I32], [], (f) => {
      const [x, out, vectors] = [0, 1, 2];
      const end = f.local(I32);
      const v = f.local(V128);
      const e = f.local(V128);
      const scratch = expScratch(f);
      /** e ← σ(e), lane-wise: t = e^−|e|, then (e ≥ 0 ? 1 : t) / (1 + t). */
      const sigmoidOfE = (): void => {
        const z = f.local(V128);
        f.localGet(e).localSet(z);
        f.localGet(e).f32x4Abs().f32x4Neg().localSet(e);
        emitExp(f, e, scratch); // e = t
        f.v128Const(splat4(1)).localGet(e).localGet(z).v128Const(splat4(0)).f32x4Ge().v128Bitselect();
        f.v128Const(splat4(1)).localGet(e).f32x4Add().f32x4Div().localSet(e);
      };
      f.localGet(x).localGet(vectors).i32Const(16).i32Mul().i32Add().localSet(end);
      f.block().loop();
      f.localGet(x).localGet(end).i32GeU().brIf(1);
      f.localGet(x).v128Load().localTee(v).localSet(e);
      if (name === 'exp') emitExp(f, e, scratch);
      else if (name === 'sigmoid') sigmoidOfE();
      else if (name === 'silu') {
        sigmoidOfE();
        f.localGet(e).localGet(v).f32x4Mul().localSet(e);
      } else {
        // u2 = 2√(2/π)·(v + c·v³) = v·(2√(2/π) + 2√(2/π)c·v²)
        f.localGet(v).localGet(v).f32x4Mul().v128Const(splat4(2 * SQRT_2_OVER_PI * GELU_C)).f32x4Mul();
        f.v128Const(splat4(2 * SQRT_2_OVER_PI)).f32x4Add().localGet(v).f32x4Mul().localSet(e);
        sigmoidOfE();
        f.localGet(e).localGet(v).f32x4Mul().localSet(e);
      }
      f.localGet(out).localGet(e).v128Store();
      f.localGet(x).i32Const(16).i32Add().localSet(x);
      f.localGet(out).i32Const(16).i32Add().localSet(out).br(0);
      f.end().end();
    });
  }
  return m.bytes();
}

type Map = (x: number, out: number, vectors: number) => void;

export class WasmUnary {
  private readonly maps: Record<UnaryKernelName, Map>;

  constructor(private readonly heap: WasmHeap) {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(unaryModule(heap.shared)), { env: { memory: heap.memory } });
    this.maps = Object.fromEntries(UNARY_KERNELS.map((name) => [name, instance.exports[name] as Map])) as Record<UnaryKernelName, Map>;
  }

  /** out ← kernel(x) for Float32Array x and out of at least MIN_LENGTH elements; false (nothing written) otherwise. */
  map(name: UnaryKernelName, x: TypedArray, out: TypedArray): boolean {
    if (!(x instanceof Float32Array && out instanceof Float32Array) || out.length < MIN_LENGTH) return false;
    const n = out.length;
    const vectors = Math.ceil(n / 4);
    const block = this.heap.alloc(2 * 16 * vectors);
    try {
      const f32 = this.heap.f32;
      const inAt = block / 4;
      const outAt = inAt + 4 * vectors;
      f32.set(x.subarray(0, n), inAt); // the last vector's spare lanes hold whatever was there: computed, never read
      this.maps[name](block, block + 16 * vectors, vectors);
      out.set(f32.subarray(outAt, outAt + n));
    } finally {
      this.heap.release(block);
    }
    return true;
  }
}
