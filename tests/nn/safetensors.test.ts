/**
 * safetensors checkpoints (nn/safetensors.ts, nn/safetensors-node.ts) against the reference implementation,
 * huggingface/safetensors, whose writer is `prepare` + `serialize` in safetensors/src/tensor.rs:
 *   - `data.sort_by(|(lname, left), (rname, right)| right.dtype().cmp(&left.dtype()).then(lname.cmp(rname)))`:
 *     tensors sorted by dtype DESCENDING in the order of `enum Dtype` (… F16, BF16, I32, U32, F32, F64, I64, U64 …,
 *     so F64 before F32), then by name as Rust `String` orders it (UTF-8 bytes); data offsets are assigned in that
 *     order, packed from 0 with no gaps;
 *   - `impl Serialize for Metadata`: `__metadata__` first (only when metadata is `Some`), then each tensor as the
 *     struct `TensorInfo { dtype, shape, data_offsets }` in that field order, written by `serde_json::to_string`
 *     (compact: no spaces; `data_offsets` a 2-tuple, so a JSON array);
 *   - `let extra = (8 - metadata_buf.len() % 8) % 8; metadata_buf.extend(vec![b' '; extra]);` — spaces up to a
 *     multiple of 8; N (the u64 LE prefix) counts the padding;
 *   - then each tensor's bytes, little-endian.
 * The reader (`read_metadata` + `Metadata::validate`) sorts entries by data_offsets and requires each to start
 * where the previous ended, to span prod(shape)·itemsize bytes, and the last to end at the end of the file.
 * The reference's own tests pin bytes that the cases below reproduce (tensor.rs `test_serialization`,
 * `test_serialization_forced_alignement`, `test_empty`; bindings/python/tests/test_simple.py
 * `test_serialization_metadata`: `{"__metadata__":{"framework":"pt"},"test1":{…}}` + 1 space, N = 0x60).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DTypeError, Module, Parameter, ShapeError, Tensor, ValueError } from '../../core/index.js';
import { parseSafetensors, serializeSafetensors } from '../../nn/safetensors.js';
import { loadSafetensors, saveSafetensors } from '../../nn/safetensors-node.js';
import { fcParams, shapeArb } from '../helpers/fc.js';

// ── helpers ──

const ascii = (s: string): number[] => Array.from(s, (c) => {
  const code = c.charCodeAt(0);
  if (code > 0x7f) throw new Error('ascii only');
  return code;
});
const u64le = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff, 0, 0, 0, 0];
const spaces = (n: number): number[] => new Array<number>(n).fill(0x20);

/** A file from a header string (UTF-8, no padding unless given) and raw data bytes: for hand-built and corrupt files. */
function rawFile(header: string, data: ArrayLike<number> = [], pad = 0): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + pad + data.length);
  new DataView(out.buffer).setUint32(0, h.length + pad, true);
  out.set(h, 8);
  out.fill(0x20, 8 + h.length, 8 + h.length + pad);
  out.set(Array.from(data), 8 + h.length + pad);
  return out;
}

const bytesOf = (t: Tensor): Uint8Array => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
const f32 = (values: number[], shape: number[] = [values.length]): Tensor => new Tensor(Float32Array.from(values), shape);
const f64 = (values: number[], shape: number[] = [values.length]): Tensor => new Tensor(Float64Array.from(values), shape);

function assertBytes(actual: Uint8Array, expected: ArrayLike<number>, label: string): void {
  assert.is(actual.length, expected.length, `${label}: length ${actual.length} vs ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) assert.unreachable(`${label}: byte ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

type TypedCtor = typeof ValueError | typeof ShapeError | typeof DTypeError;
function throwsTyped(fn: () => unknown, Ctor: TypedCtor, pattern: RegExp, label: string): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof Ctor, `${label}: expected ${Ctor.name}, got ${String(e)}`);
    assert.is((e as InstanceType<TypedCtor>).op, 'parseSafetensors', `${label}: op`);
    assert.ok(pattern.test((e as Error).message), `${label}: message ${JSON.stringify((e as Error).message)} does not match ${pattern}`);
    return;
  }
  assert.unreachable(`${label}: did not throw`);
}

// ── pinned bytes ──

test('pinned bytes: save_file({"a": tensor([1., 2.]), "b": zeros(1, float64)}, metadata={"k": "v"})', () => {
  // Derived by hand from the reference writer (see the header comment):
  //   order: "b" is F64 and F64 > F32 in `enum Dtype`, so b comes first (before "a" despite the name): b gets
  //   data_offsets [0,8], a gets [8,16];
  //   JSON: __metadata__ first, then b, then a, compact, fields dtype/shape/data_offsets:
  const json =
    '{"__metadata__":{"k":"v"},' + //                                            26 chars
    '"b":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},' + //                 53 chars
    '"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}'; //                 54 chars
  assert.is(json.length, 133);
  //   133 % 8 = 5, so (8 − 5) % 8 = 3 spaces: N = 136 = 0x88, and the data starts at 8 + 136 = 144.
  const expected = [
    0x88, 0, 0, 0, 0, 0, 0, 0, // N = 136, u64 little-endian
    ...ascii(json),
    0x20, 0x20, 0x20, // padding to a multiple of 8
    0, 0, 0, 0, 0, 0, 0, 0, // b: 0.0 as f64 LE
    0x00, 0x00, 0x80, 0x3f, // a[0]: 1.0f = 0x3F800000 LE
    0x00, 0x00, 0x00, 0x40, // a[1]: 2.0f = 0x40000000 LE
  ];
  assert.is(expected.length, 160);
  // Insertion order does not matter (the reference sorts): a first here, b first in the next call.
  const out = serializeSafetensors({ a: f32([1, 2]), b: f64([0]) }, { k: 'v' });
  assertBytes(out, expected, 'serialize');
  assertBytes(serializeSafetensors({ b: f64([0]), a: f32([1, 2]) }, { k: 'v' }), expected, 'serialize, other insertion order');

  const { tensors, metadata } = parseSafetensors(Uint8Array.from(expected));
  assert.equal({ ...metadata }, { k: 'v' });
  assert.equal(Object.keys(tensors).sort(), ['a', 'b']);
  assert.is(tensors['a']!.dtype, 'float32');
  assert.equal([...tensors['a']!.shape], [2]);
  assert.equal(Array.from(tensors['a']!.data), [1, 2]);
  assert.is(tensors['b']!.dtype, 'float64');
  assert.equal([...tensors['b']!.shape], [1]);
  assert.equal(Array.from(tensors['b']!.data), [0]);
});

test("pinned bytes: the reference's own test vectors (tensor.rs test_serialization, test_serialization_forced_alignement, test_empty)", () => {
  const data = [0, 0, 0, 0, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40, 0, 0, 0xa0, 0x40]; // 0..5 as f32 LE
  const values = [0, 1, 2, 3, 4, 5];

  // "attn.0" [1,2,3]: the JSON is exactly 64 bytes, so no padding.
  const h1 = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
  assert.is(h1.length, 64);
  assertBytes(serializeSafetensors({ 'attn.0': f32(values, [1, 2, 3]) }), [...u64le(64), ...ascii(h1), ...data], 'attn.0');

  // "attn0" [1,1,2,3]: 65 bytes of JSON, 7 spaces, N = 72.
  const h2 = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}';
  assert.is(h2.length, 65);
  assertBytes(serializeSafetensors({ attn0: f32(values, [1, 1, 2, 3]) }), [...u64le(72), ...ascii(h2), ...spaces(7), ...data], 'attn0');

  // No tensors: "{}" and 6 spaces; with metadata {"framework": "pt"}: 35 bytes and 5 spaces.
  assertBytes(serializeSafetensors({}), [...u64le(8), ...ascii('{}'), ...spaces(6)], 'empty');
  const h3 = '{"__metadata__":{"framework":"pt"}}';
  assert.is(h3.length, 35);
  assertBytes(serializeSafetensors({}, { framework: 'pt' }), [...u64le(40), ...ascii(h3), ...spaces(5)], 'empty with metadata');

  for (const file of [serializeSafetensors({ 'attn.0': f32(values, [1, 2, 3]) }), serializeSafetensors({}, { framework: 'pt' })]) {
    assert.ok(parseSafetensors(file));
  }
});

test('writer order and escaping: dtype descending, then UTF-8 byte order of names (not UTF-16); serde_json escapes', () => {
  // U+FF21 is EF BC A1 in UTF-8 and U+1F600 is F0 9F 98 80, so Rust's byte order puts U+FF21 first, while
  // UTF-16 code-unit order (JS's default sort) would put U+1F600 (D83D DE00) first.
  const fullwidthA = '\uFF21';
  const emoji = '\u{1F600}';
  const quoted = 'q"\\\n\u0001';
  const out = serializeSafetensors({ [emoji]: f32([1]), z: f64([2]), [fullwidthA]: f32([3]), [quoted]: f32([]) });
  const n = new DataView(out.buffer).getUint32(0, true);
  const header = new TextDecoder().decode(out.subarray(8, 8 + n)).trimEnd();
  assert.is(
    header,
    '{"z":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},' +
      '"q\\"\\\\\\n\\u0001":{"dtype":"F32","shape":[0],"data_offsets":[8,8]},' +
      `"${fullwidthA}":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},` +
      `"${emoji}":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}`,
  );
  const back = parseSafetensors(out).tensors;
  assert.equal(Object.keys(back).sort(), [emoji, fullwidthA, quoted, 'z'].sort());
  assert.equal(Array.from(back[fullwidthA]!.data), [3]);
  assert.equal([...back[quoted]!.shape], [0]);
});

// ── round trip ──

const nameArb = fc
  .oneof(fc.string({ maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 4 }), fc.constantFrom('__proto__', 'constructor', 'a.b.0', ''))
  .filter((s) => s !== '__metadata__');

/** A tensor with arbitrary bits (NaN payloads, -0, subnormals, infinities) of a random shape, rank 0 and size 0 included. */
const tensorArb: fc.Arbitrary<Tensor> = fc.tuple(shapeArb(3, 3), fc.boolean()).chain(([shape, double]) => {
  const size = shape.reduce((p, d) => p * d, 1);
  const words = size * (double ? 2 : 1);
  return fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: words, maxLength: words }).map((bits) => {
    const buf = Uint32Array.from(bits).buffer;
    return new Tensor(double ? new Float64Array(buf) : new Float32Array(buf), shape);
  });
});

const stateArb = fc
  .uniqueArray(fc.tuple(nameArb, tensorArb), { maxLength: 6, selector: ([name]) => name })
  .map((pairs) => {
    const state: Record<string, Tensor> = {};
    for (const [name, t] of pairs) Object.defineProperty(state, name, { value: t, enumerable: true, writable: true, configurable: true });
    return state;
  });
const metadataArb = fc.option(fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ unit: 'binary', maxLength: 12 }), { maxKeys: 3 }), { nil: undefined });

test('round trip is bit-exact for random names, shapes (rank 0, size 0), f32/f64 bits and metadata; the output is canonical', () => {
  fc.assert(
    fc.property(stateArb, metadataArb, (state, metadata) => {
      const bytes = serializeSafetensors(state, metadata);
      const n = new DataView(bytes.buffer).getUint32(0, true);
      assert.is(n % 8, 0, 'data starts 8-byte aligned');
      assert.ok(n === 0 || bytes[8] === 0x7b, "header starts with '{'");

      const { tensors, metadata: meta } = parseSafetensors(bytes);
      assert.equal(Object.keys(tensors).sort(), Object.keys(state).sort());
      for (const name of Object.keys(state)) {
        const want = state[name]!;
        const got = tensors[name]!;
        assert.ok(Object.prototype.hasOwnProperty.call(tensors, name), `own key ${JSON.stringify(name)}`);
        assert.is(got.dtype, want.dtype);
        assert.equal([...got.shape], [...want.shape]);
        assertBytes(bytesOf(got), bytesOf(want), `bits of ${JSON.stringify(name)}`);
        assert.ok(got.data.buffer !== bytes.buffer, 'tensors own their data');
      }
      assert.equal({ ...meta }, { ...(metadata ?? {}) });

      // Canonical: parse → serialize gives the same bytes, whatever the insertion order.
      assertBytes(serializeSafetensors(tensors, metadata), bytes, 're-serialized');
    }),
    fcParams(80),
  );
});

test('parsing copes with unaligned data (odd header length, odd byteOffset) and returns aligned, owned arrays', () => {
  // Header of odd length and no padding: the reference reader accepts this (it only writes padded files).
  const header = '{"x":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},"y":{"dtype":"F32","shape":[],"data_offsets":[16,20]}}';
  const data = new Uint8Array(20);
  new DataView(data.buffer).setFloat64(0, Math.PI, true);
  new DataView(data.buffer).setFloat64(8, -1e-300, true);
  new DataView(data.buffer).setFloat32(16, 0.1, true);
  const file = rawFile(header, data);
  assert.is((8 + header.length) % 8 !== 0, true);
  const shifted = new Uint8Array(file.length + 3);
  shifted.set(file, 3);
  for (const bytes of [file, shifted.subarray(3)]) {
    const { tensors } = parseSafetensors(bytes);
    assert.equal(Array.from(tensors['x']!.data), [Math.PI, -1e-300]);
    assert.equal([...tensors['y']!.shape], []);
    assert.is(tensors['y']!.data[0], Math.fround(0.1));
  }
});

test('parseSafetensors reads any ArrayBufferView: a Node Buffer (readFileSync, Buffer.from: views into a larger pool), a DataView, a Uint8Array inside a larger buffer, and an ArrayBuffer', async () => {
  const file = serializeSafetensors({ a: new Tensor(Float32Array.from([1, 2, 3]), [3]), b: new Tensor(Float64Array.from([-0.5, 7]), [2, 1]) }, { k: 'v' });
  const dir = await mkdtemp(join(tmpdir(), 'ropelab-st-view-'));
  try {
    const path = join(dir, 'm.safetensors');
    await writeFile(path, file);
    const big = new Uint8Array(file.length + 24).fill(0xab); // garbage on both sides of the file's bytes
    big.set(file, 8);
    const pooled = Buffer.from(file);
    assert.ok(pooled.byteOffset !== 0 || pooled.buffer.byteLength !== file.length, 'Buffer.from gives a view into a larger pool');
    const inputs: Array<[string, ArrayBufferView | ArrayBuffer]> = [
      ['readFileSync', readFileSync(path)],
      ['Buffer.from', pooled],
      ['DataView', new DataView(big.buffer, 8, file.length)],
      ['Uint8Array at byteOffset 8', big.subarray(8, 8 + file.length)],
      ['ArrayBuffer', file.slice().buffer],
    ];
    for (const [label, input] of inputs) {
      const { tensors, metadata } = parseSafetensors(input);
      assert.equal(Array.from(tensors['a']!.data), [1, 2, 3], label);
      assert.equal(Array.from(tensors['b']!.data), [-0.5, 7], label);
      assert.equal([...tensors['b']!.shape], [2, 1], label);
      assert.is(tensors['a']!.data.buffer.byteLength, 12, `${label}: a owns exactly its bytes`);
      assert.equal(metadata, { k: 'v' }, label);
    }
    for (let n = 0; n < file.length; n++) {
      assert.throws(() => parseSafetensors(pooled.subarray(0, n)), (e: unknown) => (e instanceof ValueError || e instanceof ShapeError) && /^parseSafetensors: /.test((e as Error).message), `Buffer prefix of ${n} bytes`);
    }
    for (const bad of [null, 'abc', [1, 2], 42, {}]) {
      assert.throws(() => parseSafetensors(bad as unknown as Uint8Array), (e: unknown) => e instanceof DTypeError && /^parseSafetensors: bytes must be an ArrayBufferView/.test((e as Error).message), String(bad));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// ── BF16 and F16 ──

test('BF16 reads as float32 with the bf16 bits in the high half (1, -2, ±inf, NaN, subnormal, -0)', () => {
  const halves = [0x3f80, 0xc000, 0x7f80, 0xff80, 0x7fc1, 0x0001, 0x8000, 0x4049];
  const data = halves.flatMap((h) => [h & 0xff, h >> 8]);
  const file = rawFile(`{"w":{"dtype":"BF16","shape":[2,4],"data_offsets":[0,${data.length}]}}`, data);
  const w = parseSafetensors(file).tensors['w']!;
  assert.is(w.dtype, 'float32');
  assert.equal([...w.shape], [2, 4]);
  assert.equal(Array.from(new Uint32Array(w.data.buffer, w.data.byteOffset, w.size)), halves.map((h) => h * 65536));
  const v = Array.from(w.data);
  assert.is(v[0], 1);
  assert.is(v[1], -2);
  assert.is(v[2], Infinity);
  assert.is(v[3], -Infinity);
  assert.ok(Number.isNaN(v[4]));
  assert.is(v[5], 2 ** -133);
  assert.ok(Object.is(v[6], -0));
  assert.is(v[7], 3.140625);
});

test('F16 reads as float32 exactly, for all 65536 bit patterns (against the IEEE binary16 formula)', () => {
  const data = new Uint8Array(2 * 65536);
  for (let h = 0; h < 65536; h++) {
    data[2 * h] = h & 0xff;
    data[2 * h + 1] = h >> 8;
  }
  const t = parseSafetensors(rawFile(`{"h":{"dtype":"F16","shape":[65536],"data_offsets":[0,131072]}}`, data)).tensors['h']!;
  const bits = new Uint32Array(t.data.buffer, t.data.byteOffset, t.size);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    const got = t.data[h]!;
    if (exp === 0x1f && mant !== 0) {
      // NaN: quiet/payload bits move up by 13, sign kept.
      assert.ok(Number.isNaN(got), `0x${h.toString(16)} is NaN`);
      assert.is(bits[h], ((h & 0x8000) << 16 | 0x7f800000 | (mant << 13)) >>> 0, `NaN bits of 0x${h.toString(16)}`);
      continue;
    }
    const want = exp === 0x1f ? sign * Infinity : exp === 0 ? sign * mant * 2 ** -24 : sign * (1 + mant / 1024) * 2 ** (exp - 15);
    if (!Object.is(got, want)) assert.unreachable(`0x${h.toString(16)}: ${got} vs ${want}`);
  }
  assert.is(t.data[0x3c00], 1);
  assert.is(t.data[0x7bff], 65504);
});

// ── corrupt files ──

const entry = (dtype: string, shape: string, offsets: string): string => `{"dtype":"${dtype}","shape":${shape},"data_offsets":${offsets}}`;

test('corrupt headers: each failure is a typed error that names parseSafetensors and what is wrong', () => {
  const V = ValueError;
  throwsTyped(() => parseSafetensors(new Uint8Array(0)), V, /0 bytes, too short/, 'empty file');
  throwsTyped(() => parseSafetensors(new Uint8Array(7)), V, /7 bytes, too short/, '7 bytes');

  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setUint32(4, 1, true); // N = 2^32
  throwsTyped(() => parseSafetensors(huge), V, /header length 4294967296 exceeds the 100000000-byte limit/, 'N = 2^32');
  new DataView(huge.buffer).setUint32(4, 0xffffffff, true);
  new DataView(huge.buffer).setUint32(0, 0xffffffff, true);
  throwsTyped(() => parseSafetensors(huge), V, /header length 18446744073709551615 exceeds/, 'N = 2^64 - 1');
  const big = new Uint8Array(16);
  new DataView(big.buffer).setUint32(0, 100_000_001, true);
  throwsTyped(() => parseSafetensors(big), V, /exceeds/, 'N just over the limit');
  const past = rawFile('{}');
  new DataView(past.buffer).setUint32(0, 3, true);
  throwsTyped(() => parseSafetensors(past), V, /header length 3 runs past the end of the file \(10 bytes/, 'N past the end');

  const notUtf8 = Uint8Array.from([...u64le(4), 0x7b, 0xff, 0xfe, 0x7d]);
  throwsTyped(() => parseSafetensors(notUtf8), V, /not valid UTF-8/, 'invalid UTF-8');
  throwsTyped(() => parseSafetensors(Uint8Array.from([...u64le(0)])), V, /must start with '\{' — got an empty header/, 'N = 0');
  throwsTyped(() => parseSafetensors(rawFile(' {}')), V, /must start with '\{'/, 'leading space');
  throwsTyped(() => parseSafetensors(rawFile('\uFEFF{}')), V, /must start with '\{'/, 'byte-order mark');
  throwsTyped(() => parseSafetensors(rawFile('[]')), V, /must start with '\{'/, 'array header');

  for (const [header, pattern] of [
    ['{"a":}', /not valid JSON — unexpected "}"/],
    ['{"a":{}', /not valid JSON — expected ',' or '}', found the end/],
    ['{} x', /not valid JSON — unexpected "x" after the header object/],
    ['{"a":[1,]}', /not valid JSON/],
    ['{a:1}', /not valid JSON — expected a string key/],
    ['{"a\u0001":1}', /raw control character/],
    ['{"\\ud800":1}', /lone surrogate/],
    ['{"a":01}', /not valid JSON/],
    [`{"a":${'['.repeat(10000)}${']'.repeat(10000)}}`, /nesting deeper than 64/],
  ] as const) {
    throwsTyped(() => parseSafetensors(rawFile(header)), V, pattern, `JSON ${header.slice(0, 20)}`);
  }

  throwsTyped(() => parseSafetensors(rawFile(`{"a":${entry('F32', '[1]', '[0,4]')},"a":${entry('F32', '[1]', '[4,8]')}}`, new Uint8Array(8))), V, /duplicate key "a"/, 'duplicate tensor');
  throwsTyped(() => parseSafetensors(rawFile('{"__metadata__":{},"__metadata__":{}}')), V, /duplicate key "__metadata__"/, 'duplicate metadata');
  throwsTyped(() => parseSafetensors(rawFile('{"__metadata__":{"k":"v","k":"w"}}')), V, /duplicate key "k"/, 'duplicate metadata key');
  throwsTyped(() => parseSafetensors(rawFile('{"__metadata__":{"k":1}}')), V, /__metadata__\["k"\] is a number \(metadata values must be strings\)/, 'number metadata');
  throwsTyped(() => parseSafetensors(rawFile('{"__metadata__":{"k":{"x":"y"}}}')), V, /metadata values must be strings/, 'nested metadata');
  throwsTyped(() => parseSafetensors(rawFile('{"__metadata__":["k"]}')), V, /__metadata__ must be an object/, 'array metadata');

  throwsTyped(() => parseSafetensors(rawFile(`{"a":${entry('C64', '[1]', '[0,8]')}}`, new Uint8Array(8))), DTypeError, /dtype "C64", which is not supported \(accepted: F32, F64, BF16, F16, and I64, I32/, 'C64');
  throwsTyped(() => parseSafetensors(rawFile(`{"a":${entry('float32', '[1]', '[0,4]')}}`, new Uint8Array(4))), DTypeError, /not supported/, 'float32 spelling');
  throwsTyped(() => parseSafetensors(rawFile('{"a":[1]}')), V, /tensor "a" must be an object/, 'entry not an object');
  throwsTyped(() => parseSafetensors(rawFile('{"a":{"shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4))), V, /tensor "a" has dtype missing/, 'no dtype');
  throwsTyped(() => parseSafetensors(rawFile(`{"a":${entry('F32', '[-1]', '[0,4]')}}`, new Uint8Array(4))), V, /shape \[-1\] \(expected an array of non-negative integers below 2\^53\)/, 'negative dim');
  throwsTyped(() => parseSafetensors(rawFile(`{"a":${entry('F32', '[1.5]', '[0,4]')}}`, new Uint8Array(4))), V, /shape \[1.5\]/, 'fractional dim');
  throwsTyped(() => parseSafetensors(rawFile(`{"a":${entry('F32', '"1"', '[0,4]')}}`, new Uint8Array(4))), V, /shape "1"/, 'shape not an array');
  throwsTyped(() => parseSafetensors(rawFile(`{"a":${entry('F32', '[1]', '[0,4,8]')}}`, new Uint8Array(4))), V, /data_offsets \[0,4,8\] \(expected \[begin, end\]/, 'three offsets');
  throwsTyped(() => parseSafetensors(rawFile(`{"a":${entry('F32', '[1]', '[4,0]')}}`, new Uint8Array(4))), V, /end before begin/, 'end < begin');
  throwsTyped(() => parseSafetensors(rawFile(`{"a":${entry('F32', '[1]', '[0,18446744073709551616]')}}`, new Uint8Array(4))), V, /data_offsets/, 'offset beyond 2^53');
});

test('corrupt offsets: shape/offset mismatch, overlap, gap, out of bounds, trailing bytes, overflow', () => {
  const V = ValueError;
  throwsTyped(
    () => parseSafetensors(rawFile(`{"a":${entry('F32', '[2]', '[0,4]')}}`, new Uint8Array(4))),
    ShapeError,
    /tensor "a" has shape=\[2\] of F32, which needs 8 bytes, but data_offsets=\[0,4\] span 4/,
    'F32 [2] in 4 bytes',
  );
  throwsTyped(() => parseSafetensors(rawFile(`{"a":${entry('BF16', '[3]', '[0,4]')}}`, new Uint8Array(4))), ShapeError, /BF16, which needs 6 bytes/, 'BF16 [3] in 4 bytes');
  throwsTyped(() => parseSafetensors(rawFile(`{"a":${entry('F64', '[]', '[0,4]')}}`, new Uint8Array(4))), ShapeError, /shape=\[\] of F64, which needs 8 bytes/, 'rank 0 F64 in 4 bytes');
  throwsTyped(
    () => parseSafetensors(rawFile(`{"a":${entry('F32', '[2]', '[0,8]')},"b":${entry('F32', '[1]', '[4,8]')}}`, new Uint8Array(8))),
    V,
    /tensor "b" has data_offsets=\[4,8\], overlapping tensor "a" which ends at 8/,
    'overlap',
  );
  throwsTyped(
    () => parseSafetensors(rawFile(`{"a":${entry('F32', '[1]', '[0,4]')},"b":${entry('F32', '[1]', '[8,12]')}}`, new Uint8Array(12))),
    V,
    /leaving bytes \[4,8\) of the data buffer to no tensor/,
    'gap',
  );
  throwsTyped(() => parseSafetensors(rawFile(`{"a":${entry('F32', '[1]', '[4,8]')}}`, new Uint8Array(8))), V, /leaving bytes \[0,4\)/, 'gap at the start');
  throwsTyped(() => parseSafetensors(rawFile(`{"a":${entry('F32', '[2]', '[0,8]')}}`, new Uint8Array(4))), V, /data_offsets=\[0,8\] past the end of the 4-byte data buffer/, 'out of bounds');
  throwsTyped(() => parseSafetensors(rawFile(`{"a":${entry('F32', '[1]', '[0,4]')}}`, new Uint8Array(8))), V, /the tensors cover 4 bytes but the data buffer has 8/, 'trailing bytes');
  throwsTyped(() => parseSafetensors(rawFile('{}', new Uint8Array(1))), V, /cover 0 bytes but the data buffer has 1/, 'data with no tensors');
  throwsTyped(
    () => parseSafetensors(rawFile(`{"a":${entry('F32', '[4294967296,4294967296]', '[0,4]')}}`, new Uint8Array(4))),
    V,
    /too large to address/,
    'shape overflow',
  );
  // Entries may come in any order in the JSON: validation goes by offsets, as the reference's does.
  const ok = parseSafetensors(rawFile(`{"b":${entry('F32', '[1]', '[4,8]')},"e":${entry('F32', '[0]', '[4,4]')},"a":${entry('F32', '[1]', '[0,4]')}}`, new Uint8Array(8)));
  assert.equal(Object.keys(ok.tensors), ['b', 'e', 'a']);
});

test('any truncation of a valid file throws a typed parseSafetensors error, never returns', () => {
  fc.assert(
    fc.property(stateArb, metadataArb, fc.nat(), (state, metadata, cut) => {
      const bytes = serializeSafetensors(state, metadata);
      const at = cut % bytes.length;
      try {
        parseSafetensors(bytes.slice(0, at));
      } catch (e) {
        assert.ok(e instanceof ValueError || e instanceof ShapeError || e instanceof DTypeError, String(e));
        assert.is((e as ValueError).op, 'parseSafetensors');
        return;
      }
      assert.unreachable(`truncated to ${at} of ${bytes.length} bytes and parsed`);
    }),
    fcParams(150),
  );
});

// ── files and modules ──

class Tiny extends Module {
  w = new Parameter(new Float32Array([1, 2, 3, 4]), [2, 2]);
  b = new Parameter(new Float32Array([0.5, -0.5]), [2]);
}
class TinyWrongBias extends Module {
  w = new Parameter(new Float32Array([9, 9, 9, 9]), [2, 2]);
  b = new Parameter(new Float32Array([7, 7, 7]), [3]);
}
class OnlyW extends Module {
  w = new Parameter(new Float32Array([5, 6, 7, 8]), [2, 2]);
}

const snapshot = (m: Module): Array<[string, number[]]> => m.namedParameters().map(([n, p]) => [n, Array.from(bytesOf(p))]);

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ropelab-safetensors-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('saveSafetensors / loadSafetensors: round trip into a module, parent folders created, no temp file left', async () => {
  await withTempDir(async (dir) => {
    const src = new Tiny();
    src.w.data.set([Math.PI, -0, NaN, 1e-40]);
    const path = join(dir, 'nested', 'deeper', 'tiny.safetensors');
    const config = JSON.stringify({ dModel: 2, rope: 'yarn' });
    await saveSafetensors(src, path, { config });
    assertBytes(new Uint8Array(await readFile(path)), serializeSafetensors(src.stateDict(), { config }), 'file bytes');
    assert.equal(await readdir(join(dir, 'nested', 'deeper')), ['tiny.safetensors']);

    const dst = new Tiny();
    const result = await loadSafetensors(dst, path);
    assert.equal({ ...result.metadata }, { config });
    assert.equal(result.missing, []);
    assert.equal(result.unexpected, []);
    assert.equal(snapshot(dst), snapshot(src));

    // Overwriting an existing checkpoint replaces it whole.
    await saveSafetensors(new OnlyW(), path);
    const reread = parseSafetensors(new Uint8Array(await readFile(path)));
    assert.equal(Object.keys(reread.tensors), ['w']);
    assert.equal({ ...reread.metadata }, {});
  });
});

test('loadSafetensors never half-loads: a wrong shape or a corrupt file leaves every parameter bit-for-bit unchanged', async () => {
  await withTempDir(async (dir) => {
    // w matches (and comes first), b has the wrong shape: a naive loader would have written w already.
    const wrong = join(dir, 'wrong.safetensors');
    await saveSafetensors(new TinyWrongBias(), wrong);
    const m = new Tiny();
    const before = snapshot(m);
    try {
      await loadSafetensors(m, wrong);
      assert.unreachable('loaded a wrong shape');
    } catch (e) {
      assert.ok(e instanceof ShapeError, String(e));
      assert.match((e as Error).message, /b=\[3\] does not match the parameter's \[2\]/);
    }
    assert.equal(snapshot(m), before);

    // Truncated file: the parse fails before the module is touched.
    const good = join(dir, 'good.safetensors');
    const other = new Tiny();
    other.w.data.fill(42);
    await saveSafetensors(other, good);
    const bytes = await readFile(good);
    const cut = join(dir, 'cut.safetensors');
    await writeFile(cut, bytes.subarray(0, bytes.length - 2));
    try {
      await loadSafetensors(m, cut);
      assert.unreachable('loaded a truncated file');
    } catch (e) {
      assert.ok(e instanceof ValueError, String(e));
      assert.is((e as ValueError).op, 'parseSafetensors');
    }
    assert.equal(snapshot(m), before);
  });
});

test('loadSafetensors strict vs non-strict: missing and unexpected names; dtype converts on load', async () => {
  await withTempDir(async (dir) => {
    const onlyW = join(dir, 'only-w.safetensors');
    await saveSafetensors(new OnlyW(), onlyW);

    const m = new Tiny();
    const before = snapshot(m);
    try {
      await loadSafetensors(m, onlyW);
      assert.unreachable('strict load with a missing name');
    } catch (e) {
      assert.ok(e instanceof ValueError, String(e));
      assert.match((e as Error).message, /missing: \[b\]/);
    }
    assert.equal(snapshot(m), before);

    const loose = await loadSafetensors(m, onlyW, { strict: false });
    assert.equal(loose.missing, ['b']);
    assert.equal(loose.unexpected, []);
    assert.equal(Array.from(m.w.data), [5, 6, 7, 8]);
    assert.equal(Array.from(m.b.data), [0.5, -0.5]);

    // A file with an extra tensor, saved as float64: non-strict reports it and converts the rest on copy.
    const extra = join(dir, 'extra.safetensors');
    await writeFile(extra, serializeSafetensors({ w: f64([1.5, 2.5, 3.5, 4.5], [2, 2]), b: f64([1, 2]), extra: f32([0]) }));
    try {
      await loadSafetensors(m, extra);
      assert.unreachable('strict load with an unexpected name');
    } catch (e) {
      assert.match((e as Error).message, /unexpected: \[extra\]/);
    }
    const r = await loadSafetensors(m, extra, { strict: false });
    assert.equal(r.missing, []);
    assert.equal(r.unexpected, ['extra']);
    assert.is(m.w.dtype, 'float32');
    assert.equal(Array.from(m.w.data), [1.5, 2.5, 3.5, 4.5]);
    assert.equal(Array.from(m.b.data), [1, 2]);
  });
});

test('integer and BOOL tensors (HF\'s int64 position ids) are read as float64, exactly; a 64-bit value beyond ±2⁵³ is refused', () => {
  const data = new Uint8Array(8 * 3 + 4 * 2 + 2 + 1 + 1);
  const view = new DataView(data.buffer);
  [0n, -5n, 2n ** 53n].forEach((v, i) => view.setBigInt64(8 * i, v, true));
  view.setInt32(24, -2147483648, true);
  view.setUint32(28, 4294967295, true);
  view.setInt16(32, -300, true);
  data[34] = 0xff; // I8 −1
  data[35] = 1; // BOOL true
  const header = `{"i64":${entry('I64', '[3]', '[0,24]')},"i32":${entry('I32', '[1]', '[24,28]')},"u32":${entry('U32', '[1]', '[28,32]')},"i16":${entry('I16', '[1]', '[32,34]')},"i8":${entry('I8', '[1]', '[34,35]')},"b":${entry('BOOL', '[1]', '[35,36]')}}`;
  const { tensors } = parseSafetensors(rawFile(header, data));
  assert.equal(Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, [t.dtype, Array.from(t.data)]])), {
    i64: ['float64', [0, -5, 2 ** 53]], i32: ['float64', [-2147483648]], u32: ['float64', [4294967295]], i16: ['float64', [-300]], i8: ['float64', [-1]], b: ['float64', [1]],
  });
  const big = new Uint8Array(8);
  new DataView(big.buffer).setBigInt64(0, 2n ** 53n + 1n, true);
  throwsTyped(() => parseSafetensors(rawFile(`{"a":${entry('I64', '[1]', '[0,8]')}}`, big)), ValueError, /tensor "a" \(I64\) holds 9007199254740993 at flat index 0, beyond ±2⁵³/, 'I64 beyond 2^53');
  throwsTyped(() => parseSafetensors(rawFile(`{"a":${entry('I64', '[2]', '[0,8]')}}`, big)), ShapeError, /needs 16 bytes/, 'I64 item size');
});

test.run();
