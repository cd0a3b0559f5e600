import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { F32, I32, ModuleWriter, sleb, uleb, V128 } from '../../core/wasm/writer.js';
import { forceWasmUnavailable, simdProbe, wasmUnavailableReason } from '../../core/wasm/features.js';

test('uleb / sleb encode LEB128 (WebAssembly Core §5.2.2 examples and the boundaries)', () => {
  assert.equal(uleb(0), [0]);
  assert.equal(uleb(127), [0x7f]);
  assert.equal(uleb(128), [0x80, 0x01]);
  assert.equal(uleb(624485), [0xe5, 0x8e, 0x26]);
  assert.equal(uleb(2 ** 32 - 1), [0xff, 0xff, 0xff, 0xff, 0x0f]);
  assert.equal(sleb(0), [0]);
  assert.equal(sleb(63), [0x3f]);
  assert.equal(sleb(64), [0xc0, 0x00]);
  assert.equal(sleb(-1), [0x7f]);
  assert.equal(sleb(-64), [0x40]);
  assert.equal(sleb(-65), [0xbf, 0x7f]);
  assert.equal(sleb(-123456), [0xc0, 0xbb, 0x78]);
  assert.equal(sleb(2 ** 31 - 1), [0xff, 0xff, 0xff, 0xff, 0x07]);
  assert.equal(sleb(-(2 ** 31)), [0x80, 0x80, 0x80, 0x80, 0x78]);
  assert.throws(() => uleb(-1), RangeError);
  assert.throws(() => sleb(2 ** 31), RangeError);
});

test('an empty module is the 8-byte header and validates', () => {
  const bytes = new ModuleWriter().bytes();
  assert.equal(Array.from(bytes), [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  assert.ok(WebAssembly.validate(bytes));
});

test('scalar function with locals, a loop and i32 constants across LEB widths computes right', () => {
  // sum(n) = Σ_{i<n} (i·1000 − 70000): exercises sleb of large/negative constants, locals, loop/br_if
  const m = new ModuleWriter();
  m.func('sum', [I32], [I32], (f) => {
    const i = f.local(I32);
    const s = f.local(I32);
    f.block().loop();
    f.localGet(i).localGet(0).i32LtU().i32Eqz().brIf(1);
    f.localGet(s).localGet(i).i32Const(1000).i32Mul().i32Const(-70000).i32Add().i32Add().localSet(s);
    f.localGet(i).i32Const(1).i32Add().localSet(i);
    f.br(0).end().end();
    f.localGet(s);
  });
  const bytes = m.bytes();
  assert.ok(WebAssembly.validate(bytes));
  const sum = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports['sum'] as (n: number) => number;
  for (const n of [0, 1, 5, 300]) {
    let want = 0;
    for (let i = 0; i < n; i++) want += i * 1000 - 70000;
    assert.is(sum(n), want);
  }
});

/** out[i] = a[i] + b[i]·2 for n floats (n a multiple of 4), with f32x4, on an exported memory or an imported shared one. */
function vectorAddModule(memory: 'define' | 'shared'): Uint8Array<ArrayBuffer> {
  const m = new ModuleWriter();
  if (memory === 'define') m.defineMemory({ min: 1 }, 'memory');
  else m.importMemory('env', 'memory', { min: 1, max: 4, shared: true });
  m.func('axpy2', [I32, I32, I32, I32], [], (f) => {
    const [a, b, out, n] = [0, 1, 2, 3];
    const two = f.local(V128);
    const end = f.local(I32);
    f.i32Const(2).f32ConvertI32S();
    f.f32x4Splat().localSet(two);
    f.localGet(a).localGet(n).i32Const(4).i32Mul().i32Add().localSet(end);
    f.block().loop();
    f.localGet(a).localGet(end).i32LtU().i32Eqz().brIf(1);
    f.localGet(out).localGet(a).v128Load().localGet(b).v128Load().localGet(two).f32x4Mul().f32x4Add().v128Store();
    for (const p of [a, b, out]) f.localGet(p).i32Const(16).i32Add().localSet(p);
    f.br(0).end().end();
  });
  m.func('lane', [I32, I32], [F32], (f) => f.localGet(0).v128Load().f32x4ExtractLane(2).localGet(1).f32Load(4).f32Mul());
  return m.bytes();
}

test('a tiny SIMD module (f32x4 add and mul of two float arrays) validates and computes right', () => {
  for (const kind of ['define', 'shared'] as const) {
    const bytes = vectorAddModule(kind);
    assert.ok(WebAssembly.validate(bytes), kind);
    const memory = kind === 'shared' ? new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true }) : undefined;
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), memory ? { env: { memory } } : {});
    const mem = new Float32Array((memory ?? (exports['memory'] as WebAssembly.Memory)).buffer);
    const n = 12;
    for (let i = 0; i < n; i++) {
      mem[i] = i + 0.25;
      mem[16 + i] = -3 * i + 0.5;
    }
    (exports['axpy2'] as (a: number, b: number, o: number, n: number) => void)(0, 64, 128, n);
    for (let i = 0; i < n; i++) assert.is(mem[32 + i], Math.fround(i + 0.25 + 2 * (-3 * i + 0.5)), `${kind} out[${i}]`);
    assert.is(mem[32 + n], 0, 'nothing written past n');
    assert.is((exports['lane'] as (p: number, q: number) => number)(0, 0), 2.25 * 1.25);
  }
});

test('invalid bodies do not validate (the writer does not hide type errors)', () => {
  const m = new ModuleWriter();
  m.func('bad', [], [I32], (f) => f.i32Const(1).f32x4Splat()); // i32 where f32 is needed, v128 returned as i32
  assert.not.ok(WebAssembly.validate(m.bytes()));
});

test('SIMD detection: the probe validates on this engine, and the test hook switches the backend off and on', () => {
  assert.ok(WebAssembly.validate(simdProbe()));
  assert.is(wasmUnavailableReason(), null);
  forceWasmUnavailable('switched off by a test');
  try {
    assert.is(wasmUnavailableReason(), 'switched off by a test');
  } finally {
    forceWasmUnavailable(null);
  }
  assert.is(wasmUnavailableReason(), null);
});

test.run();
