/**
 * One growable `WebAssembly.Memory` and a first-fit free-list allocator over it, for kernel operands.
 *
 * The memory is shared (SharedArrayBuffer-backed) when the engine allows it (Node; browsers only on cross-origin
 * isolated pages), because growing a shared memory never detaches its buffer. Growing an unshared one detaches the
 * old ArrayBuffer, and once anything in a process detaches a buffer V8 adds a detach check to every typed-array
 * access in optimized code (20–30% slower scalar kernels, see core/kernels/matmul.ts); unshared memory is the
 * fallback. A shared memory also lets worker threads read the same operands (core/wasm/threads.ts).
 *
 * Blocks are 64-byte aligned (a cache line; v128 loads want 16). Freed blocks join a sorted free list and merge
 * with their neighbours; a free block at the top lowers the top instead. The memory only grows.
 */
import type { MemoryLimits } from './writer.js';

const PAGE = 65536;
const ALIGN = 64;
/** 4 GiB: the most a 32-bit memory can address. Reserved address space only; pages are committed as it grows. */
const MAX_PAGES = 65536;

/** Limits under which a kernel module imports a heap's memory as env.memory (a shared import must state the maximum). */
export function heapMemoryImport(shared: boolean): MemoryLimits {
  return shared ? { min: 1, max: MAX_PAGES, shared: true } : { min: 1 };
}

export class WasmHeap {
  readonly memory: WebAssembly.Memory;
  readonly shared: boolean;
  /** A float32 view of the whole memory, renewed after every growth. */
  f32: Float32Array;
  /** A float64 view of the whole memory, renewed with `f32`. */
  f64: Float64Array;
  /** Free blocks [start, size) in bytes, sorted by start, never adjacent to each other or to `top`. */
  private readonly free: { start: number; size: number }[] = [];
  /** Size of every live block, by start. */
  private readonly live = new Map<number, number>();
  /** Bytes below `top` are blocks (live or free); above it nothing is allocated. Address 0 is never handed out. */
  private top = ALIGN;

  constructor(preferShared = true) {
    let memory: WebAssembly.Memory | null = null;
    if (preferShared) {
      try {
        memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
      } catch {
        memory = null; // not cross-origin isolated, or no threads support: unshared
      }
    }
    this.shared = memory !== null;
    this.memory = memory ?? new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES });
    this.f32 = new Float32Array(this.memory.buffer);
    this.f64 = new Float64Array(this.memory.buffer);
  }

  /** Live bytes (for tests: everything a kernel allocates it frees). */
  get liveBytes(): number {
    let n = 0;
    for (const size of this.live.values()) n += size;
    return n;
  }

  /** Start (byte address, a multiple of 64) of a new block of at least `bytes` bytes. */
  alloc(bytes: number): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    let start = -1;
    for (let i = 0; i < this.free.length; i++) {
      const block = this.free[i]!;
      if (block.size < size) continue;
      start = block.start;
      if (block.size === size) this.free.splice(i, 1);
      else {
        block.start += size;
        block.size -= size;
      }
      break;
    }
    if (start < 0) {
      start = this.top;
      this.reserve(start + size);
      this.top = start + size;
    }
    this.live.set(start, size);
    return start;
  }

  /**
   * One block cut into regions of the given byte sizes, each 64-byte aligned; returns their starts. The first start is
   * the block's: `release(starts[0])` frees them all (one allocation per kernel call instead of one per operand).
   */
  allocRegions(sizes: readonly number[]): number[] {
    const offsets: number[] = [];
    let total = 0;
    for (const bytes of sizes) {
      offsets.push(total);
      total += Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    }
    const base = this.alloc(total);
    return offsets.map((o) => base + o);
  }

  /** Returns a block to the free list, merging it with free neighbours (or lowering the top). */
  release(start: number): void {
    const size = this.live.get(start);
    if (size === undefined) throw new RangeError(`WasmHeap.release: ${start} is not a live block`);
    this.live.delete(start);
    let i = 0;
    while (i < this.free.length && this.free[i]!.start < start) i++;
    let block = { start, size };
    const before = this.free[i - 1];
    if (before !== undefined && before.start + before.size === start) {
      before.size += size;
      block = before;
      i--;
    } else {
      this.free.splice(i, 0, block);
    }
    const after = this.free[i + 1];
    if (after !== undefined && block.start + block.size === after.start) {
      block.size += after.size;
      this.free.splice(i + 1, 1);
    }
    if (block.start + block.size === this.top) {
      this.top = block.start;
      this.free.splice(i, 1);
    }
  }

  /** Grows the memory so that bytes [0, end) exist, and renews the view. */
  private reserve(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    if (have / PAGE + pages > MAX_PAGES) throw new RangeError(`WasmHeap: ${end} bytes exceed the 4 GiB a 32-bit WebAssembly memory addresses`);
    // grow at least by half again, so a sequence of growing requests grows the memory O(log) times
    this.memory.grow(Math.min(MAX_PAGES - have / PAGE, Math.max(pages, Math.ceil(have / PAGE / 2))));
    this.f32 = new Float32Array(this.memory.buffer);
    this.f64 = new Float64Array(this.memory.buffer);
  }
}
