/**
 * What this JavaScript engine offers the wasm backend: WebAssembly with fixed-width SIMD (f32x4), detected once by
 * validating a one-function module that uses a v128 op. A test hook switches the backend off to exercise the
 * fallback to the JS kernels.
 */
import { ModuleWriter, V128 } from './writer.js';

let detected: string | null | undefined;
let forced: string | null = null;

/** A module whose one function returns v128.const 0 + v128.const 0 (f32x4.add): valid only where SIMD128 is supported. */
export function simdProbe(): Uint8Array<ArrayBuffer> {
  const m = new ModuleWriter();
  m.func('probe', [], [V128], (f) => f.v128Const().v128Const().f32x4Add());
  return m.bytes();
}

function detect(): string | null {
  if (typeof WebAssembly !== 'object' || typeof WebAssembly.validate !== 'function') return 'this engine has no WebAssembly';
  try {
    if (!WebAssembly.validate(simdProbe())) return 'this engine has WebAssembly but not its SIMD128 extension';
  } catch {
    return 'this engine has WebAssembly but not its SIMD128 extension';
  }
  return null;
}

/** Why the wasm backend cannot run here, or null when it can (WebAssembly with SIMD128, not switched off). */
export function wasmUnavailableReason(): string | null {
  if (forced !== null) return forced;
  if (detected === undefined) detected = detect();
  return detected;
}

/**
 * Test hook: switch the wasm backend off (with the reason that `setBackend('wasm')` will report) or back on (null).
 * Not part of the public surface.
 */
export function forceWasmUnavailable(reason: string | null): void {
  forced = reason;
}
