import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { backendNames, getBackend, matmul, randn, setBackend, Generator, ValueError } from '../../core/index.js';
import { kernels, registerBackend, type GemmKernel } from '../../core/backend.js';

/** Every test leaves the process on the JS backend, whatever it switched to. */
function onBackend(name: string, body: () => void): void {
  setBackend(name);
  try {
    body();
  } finally {
    setBackend('js');
  }
}

/** A test backend whose gemm writes a marker (7) into C, or declines the call when `decline` says so. */
let calls = 0;
let decline = false;
const marker: GemmKernel = (M, N, _K, _a, _aOff, _tA, _b, _bOff, _tB, c, cOff) => {
  calls++;
  if (decline) return false;
  c.fill(7, cOff, cOff + M * N);
  return true;
};
registerBackend({ name: 'test-marker', unavailable: () => null, load: () => ({ gemm: marker }) });
registerBackend({ name: 'test-empty', unavailable: () => null, load: () => ({}) });
registerBackend({ name: 'test-missing', unavailable: () => 'this engine lacks the test feature', load: () => ({ gemm: marker }) });
registerBackend({ name: 'test-broken', unavailable: () => null, load: () => { throw new Error('compile failed'); } });

const gen = () => new Generator(5);

test('js is the default, always available and first', () => {
  assert.is(getBackend(), 'js');
  assert.is(backendNames()[0], 'js');
  assert.is(kernels.gemm, undefined);
});

test('setBackend switches the kernel table and getBackend names the active backend', () => {
  onBackend('test-marker', () => {
    assert.is(getBackend(), 'test-marker');
    const c = matmul(randn([3, 4], { generator: gen() }), randn([4, 5], { generator: gen() }));
    assert.equal(Array.from(c.data), new Array<number>(15).fill(7));
  });
  assert.is(getBackend(), 'js');
  assert.is(kernels.gemm, undefined);
});

test('a kernel the backend lacks, or a call it declines, runs on js (bit-identical)', () => {
  const a = randn([6, 9], { generator: gen() });
  const b = randn([9, 7], { generator: gen() });
  const want = Array.from(matmul(a, b).data);
  onBackend('test-empty', () => assert.equal(Array.from(matmul(a, b).data), want));
  decline = true;
  calls = 0;
  try {
    onBackend('test-marker', () => assert.equal(Array.from(matmul(a, b).data), want));
  } finally {
    decline = false;
  }
  assert.ok(calls > 0, 'the backend kernel was asked first');
});

test('backendNames lists only backends that can run here', () => {
  const names = backendNames();
  assert.ok(names.includes('test-marker'));
  assert.not.ok(names.includes('test-missing'));
});

test('setBackend refuses unknown names and unavailable backends with a ValueError naming it; the backend stays', () => {
  for (const bad of ['gpu', '', '__proto__', 42, null] as unknown[]) {
    assert.throws(() => setBackend(bad as string), (e: unknown) => e instanceof ValueError && /^setBackend: name must be one of 'js', /.test(e.message));
  }
  assert.throws(
    () => setBackend('test-missing'),
    (e: unknown) => e instanceof ValueError && e.message === "setBackend: backend 'test-missing' cannot run here: this engine lacks the test feature (setBackend('js') runs everywhere)",
  );
  assert.throws(() => setBackend('test-broken'), (e: unknown) => e instanceof ValueError && /^setBackend: backend 'test-broken' failed to load: compile failed/.test(e.message));
  assert.is(getBackend(), 'js');
  assert.is(kernels.gemm, undefined);
});

test('registerBackend refuses a second backend of the same name', () => {
  assert.throws(() => registerBackend({ name: 'js', unavailable: () => null, load: () => ({}) }), /^registerBackend: a backend named 'js' is already registered/);
});

test.run();
