/** One gemm test case and its buffers, shared by the JS kernel's tests and the wasm kernel's. */

/** Value written around C's region to catch stores outside it. */
export const SENTINEL = 12345.5;

/** C[M,N] (+)= op(A)·op(B) with element offsets into each buffer. */
export interface GemmCase {
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  aOff: number;
  bOff: number;
  cOff: number;
  accumulate: boolean;
}

/** Uniform values in [-1, 1) from a small LCG, so buffers are reproducible from the case alone. */
export function fillRandom(buf: Float32Array | Float64Array, state: number): void {
  let s = state >>> 0;
  for (let i = 0; i < buf.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    buf[i] = s / 2 ** 31 - 1;
  }
}

/** Random A and B, and C filled with random values in its region and SENTINEL around it (3 spare elements each). */
export function gemmBuffers(t: GemmCase, Arr: Float32ArrayConstructor | Float64ArrayConstructor): { a: Float32Array | Float64Array; b: Float32Array | Float64Array; c: Float32Array | Float64Array } {
  const { M, N, K, aOff, bOff, cOff } = t;
  const a = new Arr(aOff + M * K + 3);
  const b = new Arr(bOff + K * N + 3);
  const c = new Arr(cOff + M * N + 3);
  c.fill(SENTINEL);
  fillRandom(a, 1 + M * 7 + K);
  fillRandom(b, 2 + N * 11 + K);
  fillRandom(c.subarray(cOff, cOff + M * N), 3 + M + N);
  return { a, b, c };
}
