/**
 * The safetensors checkpoint format (huggingface/safetensors), in memory: no Node imports, so it runs in the
 * browser too (see nn/safetensors-node.ts for files).
 *
 * Layout, as the reference writes it (safetensors/src/tensor.rs, `prepare` + `serialize` + `impl Serialize for
 * Metadata`):
 *   - 8 bytes: N, the header length, a little-endian u64;
 *   - N bytes: compact UTF-8 JSON `{"__metadata__":{…},"name":{"dtype":"F32","shape":[…],"data_offsets":[b,e]},…}`,
 *     padded with spaces (0x20) to a multiple of 8 bytes so the data starts 8-byte aligned;
 *   - the data buffer: each tensor's raw little-endian, row-major bytes, [b, e) relative to the buffer's start.
 * The writer puts `__metadata__` first (only when metadata is given), then the tensors sorted by dtype descending
 * in the reference's enum order (F64 before F32 before BF16 before F16), then by name (byte order); their data is
 * packed in that same order with no gaps.
 *
 * The reader accepts F32, F64 (kept as is), BF16, F16 (widened exactly to float32), and the integer dtypes I64, I32,
 * I16, I8, U64, U32, U16, U8 and BOOL (HF's int64 position ids and buffers: widened to float64, exact; a 64-bit value
 * beyond ±2⁵³, which float64 cannot hold, is refused). It validates what the
 * reference validates (`read_metadata` + `Metadata::validate`: header ≤ 100 MB, UTF-8, JSON, offsets that cover
 * the data buffer exactly, without gaps or overlaps, and byte lengths that match dtype and shape) plus what the
 * format forbids but serde accepts silently (duplicate keys, non-string metadata values), and throws a typed
 * error naming `parseSafetensors` before returning anything.
 */
import { DTypeError, ShapeError, Tensor, ValueError, fmtShape } from '../core/index.js';

const SER = 'serializeSafetensors';
const PARSE = 'parseSafetensors';

/** The reference's MAX_HEADER_SIZE: larger headers are refused (a guard against hostile files). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/** What the writer writes; the reader also takes the integer dtypes. */
type FileDType = 'F64' | 'F32' | 'BF16' | 'F16';
type IntDType = 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';
const ITEMSIZE: Readonly<Record<FileDType | IntDType, number>> = {
  F64: 8, F32: 4, BF16: 2, F16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
};
/** Position in the reference's `Dtype` enum (its derived Ord); the writer sorts by it, descending. */
const DTYPE_RANK: Readonly<Record<FileDType, number>> = { F16: 0, BF16: 1, F32: 2, F64: 3 };
const ACCEPTED = 'accepted: F32, F64, BF16, F16, and I64, I32, I16, I8, U64, U32, U16, U8, BOOL as float64';

/** JSON nesting deeper than this is refused (a valid header nests 3 deep) so a hostile header cannot blow the stack. */
const MAX_JSON_DEPTH = 64;

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A lone UTF-16 surrogate: not representable in UTF-8 (TextEncoder would replace it, JSON readers reject it). */
const LONE_SURROGATE = /\p{Cs}/u;

// ─────────────────────────────────────────────── writing ───────────────────────────────────────────────

/** safetensors `__metadata__`: a plain object of string → string (valid Unicode); `op` is the function the user called. */
export function checkMetadata(op: string, metadata: unknown): asserts metadata is Readonly<Record<string, string>> {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new DTypeError(op, `metadata must be an object of string → string — got ${kindOf(metadata)}`, 'metadata');
  }
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') {
      throw new DTypeError(op, `metadata[${JSON.stringify(k)}] is ${kindOf(v)} (safetensors metadata values must be strings)`, 'metadata');
    }
    if (LONE_SURROGATE.test(k) || LONE_SURROGATE.test(v)) {
      throw new ValueError(op, `metadata[${JSON.stringify(k)}] contains a lone UTF-16 surrogate (keys and values must be valid Unicode)`, 'metadata');
    }
  }
}

/**
 * The safetensors bytes of `tensors` (F32 for float32 tensors, F64 for float64), with `metadata` as the header's
 * `__metadata__` (string values only; omitted when metadata is undefined). Byte-for-byte what the reference
 * `safetensors.torch.save_file` writes for the same tensors when metadata has at most one key; with more keys the
 * reference's order is a HashMap's (unspecified), here it is sorted by key.
 */
export function serializeSafetensors(
  tensors: Readonly<Record<string, Tensor>>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  if (typeof tensors !== 'object' || tensors === null || Array.isArray(tensors) || tensors instanceof Tensor) {
    throw new DTypeError(SER, `tensors must be an object of name → Tensor — got ${kindOf(tensors)}`, 'tensors');
  }
  const encoder = new TextEncoder();
  const entries: Array<{ name: string; key: Uint8Array; dtype: FileDType; tensor: Tensor }> = [];
  for (const name of Object.keys(tensors)) {
    const tensor = tensors[name];
    if (!(tensor instanceof Tensor)) {
      throw new DTypeError(SER, `tensors[${JSON.stringify(name)}] is ${kindOf(tensor)}, not a Tensor`, 'tensors');
    }
    if (name === '__metadata__') {
      throw new ValueError(SER, `"__metadata__" cannot name a tensor (the format reserves it for the metadata map)`, 'tensors');
    }
    if (LONE_SURROGATE.test(name)) {
      throw new ValueError(SER, `tensor name ${JSON.stringify(name)} contains a lone UTF-16 surrogate (names must be valid Unicode)`, 'tensors');
    }
    entries.push({ name, key: encoder.encode(name), dtype: tensor.dtype === 'float64' ? 'F64' : 'F32', tensor });
  }
  entries.sort((a, b) => DTYPE_RANK[b.dtype] - DTYPE_RANK[a.dtype] || compareBytes(a.key, b.key));

  const parts: string[] = [];
  if (metadata !== undefined) {
    checkMetadata(SER, metadata);
    const keys = Object.keys(metadata)
      .map((k) => ({ k, bytes: encoder.encode(k) }))
      .sort((a, b) => compareBytes(a.bytes, b.bytes))
      .map(({ k }) => k);
    const items: string[] = [];
    for (const k of keys) {
      const v: unknown = metadata[k];
      if (typeof v !== 'string') throw new DTypeError(SER, 'metadata changed while it was written', 'metadata'); // checked above
      items.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    parts.push(`"__metadata__":{${items.join(',')}}`);
  }
  let offset = 0;
  for (const { name, dtype, tensor } of entries) {
    const end = offset + tensor.data.byteLength;
    // JSON.stringify escapes exactly as serde_json does for valid Unicode: \" \\ \b \f \n \r \t, other C0 controls as
    // \u00xx (lowercase hex), everything else raw.
    parts.push(`${JSON.stringify(name)}:{"dtype":"${dtype}","shape":[${tensor.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = encoder.encode(`{${parts.join(',')}}`);
  const headerLength = json.length + ((8 - (json.length % 8)) % 8);
  if (headerLength > SAFETENSORS_MAX_HEADER_BYTES) {
    throw new ValueError(SER, `the header would be ${headerLength} bytes (readers refuse headers over ${SAFETENSORS_MAX_HEADER_BYTES} bytes)`, 'tensors');
  }

  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength, true); // u64 LE: the high word stays 0 (headerLength < 2^32)
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let pos = 8 + headerLength;
  for (const { tensor } of entries) {
    const data = tensor.data;
    // Raw bytes, not values: bit-exact, NaN payloads included. Swapped to little-endian on a big-endian host.
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), pos);
    if (!LITTLE_ENDIAN_HOST) swapBytes(out, pos, data.byteLength, data.BYTES_PER_ELEMENT);
    pos += data.byteLength;
  }
  return out;
}

// ─────────────────────────────────────────────── reading ───────────────────────────────────────────────

interface TensorEntry {
  name: string;
  dtype: FileDType | IntDType;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Tensors and metadata of a safetensors file, given as any ArrayBufferView (a Node Buffer from readFileSync, a
 * Uint8Array at any byteOffset, a DataView) or an ArrayBuffer. F32/F64 tensors come back as float32/float64, BF16/F16 widened
 * (exactly) to float32, integer and BOOL tensors as float64 (exact; a 64-bit integer beyond ±2⁵³ is refused); every tensor owns its data (copied out of `bytes`). Throws ValueError / ShapeError /
 * DTypeError (op 'parseSafetensors') for any malformed, truncated or unsupported file, and never returns part of one.
 */
export function parseSafetensors(input: ArrayBufferView | ArrayBuffer): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  // Any view (a Node Buffer is a Uint8Array over a slice of a larger pooled ArrayBuffer; a DataView; a Uint8Array at
  // any byteOffset) or a whole ArrayBuffer: read as plain bytes [byteOffset, byteOffset + byteLength) of its buffer.
  let bytes: Uint8Array;
  if (ArrayBuffer.isView(input)) bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  else if (input instanceof ArrayBuffer) bytes = new Uint8Array(input);
  else throw new DTypeError(PARSE, `bytes must be an ArrayBufferView (Uint8Array, Buffer, DataView) or an ArrayBuffer — got ${kindOf(input)}`, 'bytes');
  if (bytes.length < 8) {
    throw new ValueError(PARSE, `the file is ${bytes.length} bytes, too short for the 8-byte header length (truncated or not safetensors)`, 'bytes');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
    throw new ValueError(PARSE, `header length ${declared} exceeds the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit (corrupt, or not safetensors)`, 'bytes');
  }
  const n = Number(declared);
  if (8 + n > bytes.length) {
    throw new ValueError(PARSE, `header length ${n} runs past the end of the file (${bytes.length} bytes: truncated?)`, 'bytes');
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    throw new ValueError(PARSE, `the ${n}-byte header is not valid UTF-8`, 'bytes');
  }
  if (text[0] !== '{') {
    const got = text.length === 0 ? 'an empty header' : `${JSON.stringify(text.slice(0, 8))}…`;
    throw new ValueError(PARSE, `the header must start with '{' — got ${got} (corrupt, or not safetensors)`, 'bytes');
  }
  const root = parseJson(text);
  if (!(root instanceof Map)) throw new ValueError(PARSE, `the header must be a JSON object — got ${kindOf(root)}`, 'bytes');

  const metadata: Record<string, string> = {};
  const entries: TensorEntry[] = [];
  for (const [name, value] of root) {
    if (name === '__metadata__') {
      if (value === null) continue; // serde reads null as no metadata
      if (!(value instanceof Map)) {
        throw new ValueError(PARSE, `__metadata__ must be an object of string → string — got ${kindOf(value)}`, 'bytes');
      }
      for (const [k, v] of value) {
        if (typeof v !== 'string') {
          throw new ValueError(PARSE, `__metadata__[${JSON.stringify(k)}] is ${kindOf(v)} (metadata values must be strings)`, 'bytes');
        }
        define(metadata, k, v);
      }
      continue;
    }
    entries.push(readEntry(name, value));
  }

  // As the reference's Metadata::validate: in offset order, each tensor starts where the previous ended, spans
  // exactly prod(shape)·itemsize bytes, and the last ends at the end of the file.
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  const ordered = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: string | null = null;
  for (const e of ordered) {
    const offsets = `data_offsets=[${e.begin},${e.end}]`;
    if (e.end > dataLength) {
      throw new ValueError(PARSE, `tensor ${JSON.stringify(e.name)} has ${offsets} past the end of the ${dataLength}-byte data buffer (truncated?)`, 'bytes');
    }
    if (e.begin < cursor) {
      throw new ValueError(PARSE, `tensor ${JSON.stringify(e.name)} has ${offsets}, overlapping tensor ${JSON.stringify(previous)} which ends at ${cursor} (tensors may not share bytes)`, 'bytes');
    }
    if (e.begin > cursor) {
      throw new ValueError(PARSE, `tensor ${JSON.stringify(e.name)} has ${offsets}, leaving bytes [${cursor},${e.begin}) of the data buffer to no tensor (the data must be packed without gaps)`, 'bytes');
    }
    const numel = e.shape.reduce((p, d) => p * d, 1);
    const needed = numel * ITEMSIZE[e.dtype];
    if (!Number.isSafeInteger(needed)) {
      throw new ValueError(PARSE, `tensor ${JSON.stringify(e.name)} has shape=${fmtShape(e.shape)}, too large to address`, 'bytes');
    }
    if (e.end - e.begin !== needed) {
      throw new ShapeError(
        PARSE,
        `tensor ${JSON.stringify(e.name)} has shape=${fmtShape(e.shape)} of ${e.dtype}, which needs ${needed} bytes, but ${offsets} span ${e.end - e.begin} (end − begin must equal prod(shape)·itemsize)`,
        'bytes',
      );
    }
    cursor = e.end;
    previous = e.name;
  }
  if (cursor !== dataLength) {
    throw new ValueError(PARSE, `the tensors cover ${cursor} bytes but the data buffer has ${dataLength} (the last tensor must end at the end of the file)`, 'bytes');
  }

  const tensors: Record<string, Tensor> = {};
  for (const e of entries) define(tensors, e.name, decode(bytes, dataStart + e.begin, dataStart + e.end, e));
  return { tensors, metadata };
}

function readEntry(name: string, value: unknown): TensorEntry {
  const where = `tensor ${JSON.stringify(name)}`;
  if (!(value instanceof Map)) {
    throw new ValueError(PARSE, `${where} must be an object {dtype, shape, data_offsets} — got ${kindOf(value)}`, 'bytes');
  }
  const dtype: unknown = value.get('dtype');
  if (typeof dtype !== 'string') throw new ValueError(PARSE, `${where} has dtype ${describe(dtype)} (expected a string; ${ACCEPTED})`, 'bytes');
  if (!Object.prototype.hasOwnProperty.call(ITEMSIZE, dtype)) {
    throw new DTypeError(PARSE, `${where} has dtype ${JSON.stringify(dtype)}, which is not supported (${ACCEPTED})`, 'bytes');
  }
  const shape: unknown = value.get('shape');
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    throw new ValueError(PARSE, `${where} has shape ${describe(shape)} (expected an array of non-negative integers below 2^53)`, 'bytes');
  }
  const offsets: unknown = value.get('data_offsets');
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
    throw new ValueError(PARSE, `${where} has data_offsets ${describe(offsets)} (expected [begin, end], non-negative integers below 2^53)`, 'bytes');
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw new ValueError(PARSE, `${where} has data_offsets=[${begin},${end}] with end before begin`, 'bytes');
  return { name, dtype: dtype as FileDType | IntDType, shape: shape as number[], begin, end };
}

/** A tensor that owns a fresh copy of bytes[start, end) in host order (any alignment, any host endianness). */
function decode(bytes: Uint8Array, start: number, end: number, e: TensorEntry): Tensor {
  if (e.dtype === 'F32' || e.dtype === 'F64') {
    const copy = new Uint8Array(end - start); // a new buffer of exactly this tensor's bytes (aligned)
    copy.set(bytes.subarray(start, end));
    const size = ITEMSIZE[e.dtype];
    if (!LITTLE_ENDIAN_HOST) swapBytes(copy, 0, copy.length, size);
    return new Tensor(e.dtype === 'F64' ? new Float64Array(copy.buffer) : new Float32Array(copy.buffer), e.shape);
  }
  if (e.dtype !== 'BF16' && e.dtype !== 'F16') return decodeIntegers(bytes, start, end, e);
  const count = (end - start) / 2;
  const out = new Float32Array(count);
  const bits = new Uint32Array(out.buffer); // host order, as out's floats are
  for (let i = 0, p = start; i < count; i++, p += 2) {
    const h = bytes[p]! | (bytes[p + 1]! << 8);
    bits[i] = e.dtype === 'BF16' ? h << 16 : halfToFloatBits(h);
  }
  return new Tensor(out, e.shape);
}

/** An integer or BOOL tensor as float64 (exact); a 64-bit value beyond ±2⁵³ is refused. */
function decodeIntegers(bytes: Uint8Array, start: number, end: number, e: TensorEntry): Tensor {
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, end - start);
  const size = ITEMSIZE[e.dtype];
  const out = new Float64Array((end - start) / size);
  if (e.dtype === 'I64' || e.dtype === 'U64') {
    const signed = e.dtype === 'I64';
    for (let i = 0; i < out.length; i++) {
      const v = signed ? view.getBigInt64(i * 8, true) : view.getBigUint64(i * 8, true);
      if (v > 9007199254740992n || v < -9007199254740992n) {
        throw new ValueError(PARSE, `tensor ${JSON.stringify(e.name)} (${e.dtype}) holds ${v} at flat index ${i}, beyond ±2⁵³: float64 cannot hold it exactly`, 'bytes');
      }
      out[i] = Number(v);
    }
    return new Tensor(out, e.shape);
  }
  // one reader per dtype, chosen once (U8 and BOOL are bytes)
  const read: (at: number) => number = {
    I32: (at: number) => view.getInt32(at, true),
    U32: (at: number) => view.getUint32(at, true),
    I16: (at: number) => view.getInt16(at, true),
    U16: (at: number) => view.getUint16(at, true),
    I8: (at: number) => view.getInt8(at),
  }[e.dtype as 'I32' | 'U32' | 'I16' | 'U16' | 'I8'] ?? ((at: number) => view.getUint8(at));
  for (let i = 0; i < out.length; i++) out[i] = read(i * size);
  return new Tensor(out, e.shape);
}

/** IEEE binary16 bits → the binary32 bits of the same value (exact: every half is a float). */
function halfToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return sign | 0x7f800000 | (mant << 13); // ±inf, NaN (payload kept)
  if (exp !== 0) return sign | ((exp + 112) << 23) | (mant << 13); // rebias 15 → 127
  if (mant === 0) return sign; // ±0
  let e = 113; // subnormal mant·2⁻²⁴: normalize
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return sign | (e << 23) | ((mant & 0x3ff) << 13);
}

// ───────────────────────────────────── a strict JSON reader ─────────────────────────────────────
// JSON.parse keeps the last of duplicate keys silently (and turns "__proto__" keys into prototypes); the format
// disallows duplicates, so the header is read here: objects become Maps, duplicates are an error.

function parseJson(text: string): unknown {
  let i = 0;
  const fail = (what: string): never => {
    throw new ValueError(PARSE, `the header is not valid JSON — ${what} at character ${i}`, 'bytes');
  };
  const skipWhitespace = (): void => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else return;
    }
  };
  const expect = (ch: string): void => {
    if (text[i] !== ch) fail(`expected '${ch}', found ${found()}`);
    i++;
  };
  const found = (): string => (i >= text.length ? 'the end of the header' : JSON.stringify(text[i]));
  const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
  const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

  const readString = (): string => {
    i++; // opening quote
    let out = '';
    let run = i;
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(run, i);
        i++;
        break;
      }
      if (c < 0x20) fail('raw control character in a string');
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += text.slice(run, i);
      const esc = text[i + 1];
      if (esc === 'u') {
        const hex = text.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
        out += String.fromCharCode(parseInt(hex, 16));
        i += 6;
      } else if (esc !== undefined && Object.prototype.hasOwnProperty.call(ESCAPES, esc)) {
        out += ESCAPES[esc]!;
        i += 2;
      } else {
        fail('bad escape');
      }
      run = i;
    }
    if (LONE_SURROGATE.test(out)) fail('a \\u escape makes a lone surrogate');
    return out;
  };

  const readValue = (depth: number): unknown => {
    if (depth > MAX_JSON_DEPTH) fail(`nesting deeper than ${MAX_JSON_DEPTH}`);
    skipWhitespace();
    const c = text[i];
    if (c === '{') {
      i++;
      const map = new Map<string, unknown>();
      skipWhitespace();
      if (text[i] === '}') {
        i++;
        return map;
      }
      for (;;) {
        skipWhitespace();
        if (text[i] !== '"') fail(`expected a string key, found ${found()}`);
        const at = i;
        const key = readString();
        if (map.has(key)) {
          throw new ValueError(PARSE, `duplicate key ${JSON.stringify(key)} at character ${at} of the header (keys must be unique)`, 'bytes');
        }
        skipWhitespace();
        expect(':');
        map.set(key, readValue(depth + 1));
        skipWhitespace();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return map;
        } else fail(`expected ',' or '}', found ${found()}`);
      }
    }
    if (c === '[') {
      i++;
      const arr: unknown[] = [];
      skipWhitespace();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(readValue(depth + 1));
        skipWhitespace();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return arr;
        } else fail(`expected ',' or ']', found ${found()}`);
      }
    }
    if (c === '"') return readString();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m === null) return fail(`unexpected ${found()}`);
    i += m[0].length;
    return Number(m[0]);
  };

  const value = readValue(0);
  skipWhitespace();
  if (i !== text.length) fail(`unexpected ${found()} after the header object`);
  return value;
}

// ─────────────────────────────────────────────── helpers ───────────────────────────────────────────────

function isIndex(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** An own, enumerable property, even for names like "__proto__" (plain assignment would set the prototype). */
function define<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Reverse each `size`-byte element of bytes[start, start + length) in place. */
function swapBytes(bytes: Uint8Array, start: number, length: number, size: number): void {
  for (let p = start; p < start + length; p += size) {
    for (let a = p, b = p + size - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

function kindOf(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (x instanceof Map) return 'an object';
  if (x === undefined) return 'undefined';
  return typeof x === 'object' ? 'an object' : `a ${typeof x}`;
}

function describe(x: unknown): string {
  if (x === undefined) return 'missing';
  if (x instanceof Map) return 'an object';
  const s = JSON.stringify(x) ?? kindOf(x);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}
