/**
 * A small WebAssembly module writer: TypeScript emits the bytes of a module at run time, so the repository holds no
 * `.wasm` files and needs no toolchain. It covers what the kernels use: the type, import, function, memory, export
 * and code sections, locals, structured control flow, i32/f32 arithmetic, loads and stores, and the SIMD128
 * opcodes (prefix 0xfd) for f32x4 and f64x2. Encoding follows the WebAssembly Core Specification 2.0, §5 (Binary Format):
 * integers are LEB128 (§5.2.2), sections are id · size · contents (§5.5.2), function bodies are
 * size · locals · expression (§5.5.13). The SIMD opcodes are those of the fixed-width SIMD proposal (merged in 2.0).
 *
 *   const m = new ModuleWriter();
 *   m.importMemory('env', 'memory', { min: 1, max: 16, shared: false });
 *   m.func('add', [I32, I32], [I32], (f) => f.localGet(0).localGet(1).i32Add());
 *   new WebAssembly.Module(m.bytes());
 */

/** Value types (§5.3.1). */
export const I32 = 0x7f;
export const I64 = 0x7e;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof I64 | typeof F32 | typeof F64 | typeof V128;

/** Unsigned LEB128 of a non-negative integer below 2³² (§5.2.2). */
export function uleb(n: number): number[] {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`uleb: ${n} is not a u32`);
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of an integer in [-2³¹, 2³¹) (§5.2.2): i32.const takes its immediate this way. */
export function sleb(n: number): number[] {
  if (!Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) throw new RangeError(`sleb: ${n} is not an i32`);
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7; // arithmetic shift keeps the sign
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

/** A UTF-8 name, length-prefixed (§5.2.4). */
function name(s: string): number[] {
  const utf8 = Array.from(new TextEncoder().encode(s));
  return [...uleb(utf8.length), ...utf8];
}

/** A vector: count then items (§5.1.3). */
function vec(items: readonly number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** Memory limits (§5.3.4, threads proposal for the shared flag): pages of 64 KiB. */
export interface MemoryLimits {
  min: number;
  max?: number;
  /** A shared memory (SharedArrayBuffer-backed, needs max): growing it never detaches its buffer. */
  shared?: boolean;
}

function limits({ min, max, shared = false }: MemoryLimits): number[] {
  if (shared && max === undefined) throw new RangeError('limits: a shared memory needs a maximum');
  if (max === undefined) return [0x00, ...uleb(min)];
  return [shared ? 0x03 : 0x01, ...uleb(min), ...uleb(max)];
}

/** `memarg` of a load or store: alignment exponent and a constant byte offset added to the address. */
function memarg(align: number, offset: number): number[] {
  return [...uleb(align), ...uleb(offset)];
}

/**
 * One function body. Each method appends one instruction and returns `this`, so bodies read as the stack code
 * they are. Locals: parameters first (indices 0…params-1), then those `local(type)` declares.
 */
export class FunctionWriter {
  private readonly code: number[] = [];
  private readonly locals: ValType[] = [];

  constructor(private readonly paramCount: number) {}

  /** Declares a local of `type` and returns its index. */
  local(type: ValType): number {
    this.locals.push(type);
    return this.paramCount + this.locals.length - 1;
  }

  /** The encoded body (§5.5.13): size, local declarations grouped by runs of one type, code, `end`. */
  encode(): number[] {
    const groups: number[][] = [];
    for (let i = 0; i < this.locals.length; ) {
      let j = i;
      while (j < this.locals.length && this.locals[j] === this.locals[i]) j++;
      groups.push([...uleb(j - i), this.locals[i]!]);
      i = j;
    }
    const body = [...vec(groups), ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }

  private op(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }

  private simd(opcode: number, ...immediates: number[]): this {
    return this.op(0xfd, ...uleb(opcode), ...immediates);
  }

  // control (§5.4.1); block types are empty (0x40): these kernels keep values in locals, not on block results
  block(): this { return this.op(0x02, 0x40); }
  loop(): this { return this.op(0x03, 0x40); }
  if(): this { return this.op(0x04, 0x40); }
  else(): this { return this.op(0x05); }
  end(): this { return this.op(0x0b); }
  /** Branch to the `depth`-th enclosing block (0 = innermost); to a loop it jumps back to the loop's start. */
  br(depth: number): this { return this.op(0x0c, ...uleb(depth)); }
  brIf(depth: number): this { return this.op(0x0d, ...uleb(depth)); }
  return(): this { return this.op(0x0f); }
  /** Calls function `index` (§5.4.1): its arguments on the stack, its results left there. */
  call(index: number): this { return this.op(0x10, ...uleb(index)); }

  // parametric (§5.4.3)
  /** a, b, cond → cond ≠ 0 ? a : b. */
  select(): this { return this.op(0x1b); }

  // variables (§5.4.4)
  localGet(i: number): this { return this.op(0x20, ...uleb(i)); }
  localSet(i: number): this { return this.op(0x21, ...uleb(i)); }
  localTee(i: number): this { return this.op(0x22, ...uleb(i)); }

  // memory (§5.4.6): align is log2 of the natural alignment, a hint only
  f32Load(offset = 0): this { return this.op(0x2a, ...memarg(2, offset)); }
  f32Store(offset = 0): this { return this.op(0x38, ...memarg(2, offset)); }
  f64Load(offset = 0): this { return this.op(0x2b, ...memarg(3, offset)); }
  f64Store(offset = 0): this { return this.op(0x39, ...memarg(3, offset)); }

  // numeric (§5.4.7)
  i32Const(n: number): this { return this.op(0x41, ...sleb(n)); }
  i32Eqz(): this { return this.op(0x45); }
  i32Eq(): this { return this.op(0x46); }
  i32Ne(): this { return this.op(0x47); }
  i32LtS(): this { return this.op(0x48); }
  i32LtU(): this { return this.op(0x49); }
  i32GtS(): this { return this.op(0x4a); }
  i32GtU(): this { return this.op(0x4b); }
  i32GeU(): this { return this.op(0x4f); }
  i32Add(): this { return this.op(0x6a); }
  i32Sub(): this { return this.op(0x6b); }
  i32Mul(): this { return this.op(0x6c); }
  i32DivU(): this { return this.op(0x6e); }
  i32And(): this { return this.op(0x71); }
  i32Or(): this { return this.op(0x72); }
  f32Const(x: number): this {
    const bytes = new Uint8Array(new Float32Array([x]).buffer); // IEEE 754 little-endian (§5.2.3)
    return this.op(0x43, ...bytes);
  }
  f64Const(x: number): this {
    const bytes = new Uint8Array(new Float64Array([x]).buffer); // IEEE 754 little-endian (§5.2.3)
    return this.op(0x44, ...bytes);
  }
  f32Add(): this { return this.op(0x92); }
  f32Max(): this { return this.op(0x97); }
  f64Add(): this { return this.op(0xa0); }
  f64Div(): this { return this.op(0xa3); }
  f32DemoteF64(): this { return this.op(0xb6); }
  f64PromoteF32(): this { return this.op(0xbb); }
  f32Mul(): this { return this.op(0x94); }
  f32ConvertI32S(): this { return this.op(0xb2); }

  // SIMD128 (§5.4.8)
  v128Load(offset = 0): this { return this.simd(0x00, ...memarg(4, offset)); }
  /** Loads one f32 and splats it to all four lanes. */
  v128Load32Splat(offset = 0): this { return this.simd(0x09, ...memarg(2, offset)); }
  /** Loads one f64 and splats it to both lanes. */
  v128Load64Splat(offset = 0): this { return this.simd(0x0a, ...memarg(3, offset)); }
  v128Store(offset = 0): this { return this.simd(0x0b, ...memarg(4, offset)); }
  /** v128.const of sixteen bytes (all zero by default). */
  v128Const(bytes: readonly number[] = new Array<number>(16).fill(0)): this {
    if (bytes.length !== 16) throw new RangeError('v128Const: needs 16 bytes');
    return this.simd(0x0c, ...bytes);
  }
  /** i8x16.shuffle: lane i of the result is byte lanes[i] of a ‖ b (0–15 from a, 16–31 from b). */
  i8x16Shuffle(lanes: readonly number[]): this {
    if (lanes.length !== 16) throw new RangeError('i8x16Shuffle: needs 16 lane indices');
    return this.simd(0x0d, ...lanes);
  }
  i32x4Splat(): this { return this.simd(0x11); }
  f32x4Splat(): this { return this.simd(0x13); }
  f64x2ExtractLane(lane: number): this { return this.simd(0x21, lane); }
  i32x4LeS(): this { return this.simd(0x3d); }
  i32x4GeS(): this { return this.simd(0x3f); }
  v128And(): this { return this.simd(0x4e); }
  /** a, b, mask → (a & mask) | (b & ~mask). */
  v128Bitselect(): this { return this.simd(0x52); }
  f64x2PromoteLowF32x4(): this { return this.simd(0x5f); }
  f32x4Nearest(): this { return this.simd(0x6a); }
  f32x4Ge(): this { return this.simd(0x46); }
  i32x4Shl(): this { return this.simd(0xab); }
  i32x4ShrS(): this { return this.simd(0xac); }
  i32x4Sub(): this { return this.simd(0xb1); }
  f32x4Abs(): this { return this.simd(0xe0); }
  f32x4Neg(): this { return this.simd(0xe1); }
  f32x4Div(): this { return this.simd(0xe7); }
  f32x4Min(): this { return this.simd(0xe8); }
  i32x4Add(): this { return this.simd(0xae); }
  f32x4Sub(): this { return this.simd(0xe5); }
  f32x4Max(): this { return this.simd(0xe9); }
  i32x4TruncSatF32x4S(): this { return this.simd(0xf8); }
  f32x4ExtractLane(lane: number): this { return this.simd(0x1f, lane); }
  f32x4Add(): this { return this.simd(0xe4); }
  f32x4Mul(): this { return this.simd(0xe6); }
  f64x2Add(): this { return this.simd(0xf0); }
  f64x2Mul(): this { return this.simd(0xf2); }
}

interface FuncEntry {
  type: number;
  body: FunctionWriter;
}

/** A module under construction; `bytes()` encodes it. Imported functions are not needed by the kernels. */
export class ModuleWriter {
  private readonly types: number[][] = [];
  private readonly imports: number[][] = [];
  private readonly funcs: FuncEntry[] = [];
  private readonly exports: number[][] = [];
  private memory: number[] | null = null;

  /** Index of the function type params → results, added once (§5.3.5). */
  private typeIndex(params: readonly ValType[], results: readonly ValType[]): number {
    const t = [0x60, ...vec(params.map((p) => [p])), ...vec(results.map((r) => [r]))];
    const key = t.join(',');
    const found = this.types.findIndex((u) => u.join(',') === key);
    if (found >= 0) return found;
    this.types.push(t);
    return this.types.length - 1;
  }

  /** Imports memory 0 as module.field (§5.5.5). */
  importMemory(module: string, field: string, lim: MemoryLimits): this {
    this.imports.push([...name(module), ...name(field), 0x02, ...limits(lim)]);
    return this;
  }

  /** Defines memory 0 in the module (§5.5.8), exported as `exportAs` when given. */
  defineMemory(lim: MemoryLimits, exportAs?: string): this {
    this.memory = limits(lim);
    if (exportAs !== undefined) this.exports.push([...name(exportAs), 0x02, 0x00]);
    return this;
  }

  /** Adds a function, exported as `exportAs` unless null; `build` writes its body. Returns its index. */
  func(exportAs: string | null, params: readonly ValType[], results: readonly ValType[], build: (f: FunctionWriter) => void): number {
    const body = new FunctionWriter(params.length);
    build(body);
    const index = this.funcs.length; // no imported functions, so function indices start at 0
    this.funcs.push({ type: this.typeIndex(params, results), body });
    if (exportAs !== null) this.exports.push([...name(exportAs), 0x00, ...uleb(index)]);
    return index;
  }

  /** The module's bytes: magic, version, then the sections in their required order (§5.5.16). */
  bytes(): Uint8Array<ArrayBuffer> {
    const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    const section = (id: number, contents: number[]): void => {
      out.push(id, ...uleb(contents.length));
      for (const b of contents) out.push(b);
    };
    if (this.types.length > 0) section(1, vec(this.types));
    if (this.imports.length > 0) section(2, vec(this.imports));
    if (this.funcs.length > 0) section(3, vec(this.funcs.map((f) => uleb(f.type))));
    if (this.memory !== null) section(5, vec([this.memory]));
    if (this.exports.length > 0) section(7, vec(this.exports));
    if (this.funcs.length > 0) section(10, vec(this.funcs.map((f) => f.body.encode())));
    return new Uint8Array(out);
  }
}
