/**
 * Engine-private scratch buffers, reused instead of allocated fresh.
 *
 * Fresh memory costs a page fault per 4 KiB on first touch (about 10–15 µs each on these machines), and a large
 * typed array is often fresh memory: the allocator maps it from the kernel per allocation, or trims freed memory back
 * to it. The fused attention's saved probabilities are the biggest such buffer of a training step (18 MB per layer at
 * batch 8, 4 heads, T = 512, causal: up to 4 600 pages each step). Buffers taken here come back when their last reader is
 * done (the attention hands P back when its backward has run, or at once when no graph was recorded) and the next
 * call of the same size gets the same memory.
 *
 * Only buffers a user can never see may pass through here: a tensor's data may be held, viewed or subarrayed by the
 * caller for as long as it likes, so op outputs and gradients are never pooled (reusing them could silently overwrite
 * live data). Everything here is exact-size (a steady loop asks for the same sizes), zeroed on reuse, and bounded.
 */
import { allocate, dtypeOf, type DType, type TypedArray } from './dtype.js';

/** At most this many bytes wait in the pool; beyond it the oldest buffers are dropped to the garbage collector. */
const MAX_POOLED_BYTES = 256 * 1024 * 1024;

/** Buffers waiting for reuse, by dtype and length, oldest first. */
const free = new Map<string, TypedArray[]>();
/** Every pooled buffer, oldest first (for the byte bound). */
const order: TypedArray[] = [];
let pooledBytes = 0;
let hits = 0;
let misses = 0;

const keyOf = (dtype: DType, length: number): string => `${dtype}:${length}`;

/**
 * A zeroed buffer of `length` elements for the engine's own use (never a tensor's data that escapes to a caller).
 * `op`/`arg` name the public function and argument for the allocation's size errors, as in `allocate`.
 */
export function takeBuffer(dtype: DType, length: number, op: string, arg = 'length'): TypedArray {
  const list = free.get(keyOf(dtype, length));
  const buf = list?.pop();
  if (buf === undefined) {
    misses++;
    return allocate(dtype, length, op, arg);
  }
  hits++;
  order.splice(order.lastIndexOf(buf), 1);
  pooledBytes -= buf.byteLength;
  buf.fill(0);
  return buf;
}

/**
 * Hand `buf` (from `takeBuffer`) back: the caller promises that nothing reads or writes it any more. Small buffers
 * are not kept (allocating them is cheap and reuses the allocator's own free lists).
 */
export function giveBuffer(buf: TypedArray): void {
  if (buf.byteLength < 64 * 1024 || buf.byteLength > MAX_POOLED_BYTES) return;
  const key = keyOf(dtypeOf(buf), buf.length);
  const list = free.get(key);
  if (list === undefined) free.set(key, [buf]);
  else if (list.includes(buf)) return; // given twice: keep one entry, or two callers would share it
  else list.push(buf);
  order.push(buf);
  pooledBytes += buf.byteLength;
  while (pooledBytes > MAX_POOLED_BYTES) {
    const old = order.shift()!;
    const oldList = free.get(keyOf(dtypeOf(old), old.length))!;
    oldList.splice(oldList.indexOf(old), 1);
    pooledBytes -= old.byteLength;
  }
}

/** What the pool did so far (for tests): reuses, fresh allocations, and the bytes waiting now. */
export function bufferPoolStats(): { hits: number; misses: number; pooledBytes: number } {
  return { hits, misses, pooledBytes };
}

/** Drop every pooled buffer (tests; or to give memory back after a large run). */
export function clearBufferPool(): void {
  free.clear();
  order.length = 0;
  pooledBytes = 0;
}
