/**
 * The wasm backend in Chromium, without and with threads: the products/attention property tests that Node runs
 * again under 'wasm' (scripts/test.mjs WASM_SUITE, its tests/core part) run in a plain page — not cross-origin
 * isolated, so no SharedArrayBuffer and one thread — and in a cross-origin isolated page (COOP + COEP) on two
 * threads with the Web Worker ready; there a 768³ float32 product on two threads must equal one thread bit for bit.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ThreadsResult } from '../../scripts/lib/browser-scenario.js';
import { browserSuiteSkipped, expectAllPassed, lazyBrowserSuite } from './harness.js';

/** The tests/core files of scripts/test.mjs's WASM_SUITE (products, higher-order, attention). */
const WASM_FILES = ['tests/core/matmul.test.ts', 'tests/core/higher-order.test.ts', 'tests/core/attention.test.ts'];
const SCENARIO = 'scripts/lib/browser-scenario.ts';

if (!browserSuiteSkipped()) {
  const suite = lazyBrowserSuite([...WASM_FILES, SCENARIO]);
  test.after(() => suite.close());

  // no thread count is set: on a page that is not cross-origin isolated there is no SharedArrayBuffer, so the wasm
  // backend must fall back to one thread by itself (Chromium still makes a shared WebAssembly.Memory there)
  test('wasm backend without threads: a page that is not cross-origin isolated runs the wasm suite on one thread', async () => {
    const report = await (await suite.get()).run({ page: 'plain', backend: 'wasm', tests: WASM_FILES });
    assert.is(report.crossOriginIsolated, false);
    assert.is(report.backend, 'wasm');
    assert.is(report.threads, 1, 'the default falls back to one thread without SharedArrayBuffer');
    console.log(`\n${expectAllPassed(report, WASM_FILES, 'wasm backend, one thread (plain page)')}`);
  });

  test('wasm backend with threads: a cross-origin isolated page runs the wasm suite on two threads', async () => {
    const report = await (await suite.get()).run({ page: 'isolated', backend: 'wasm', threads: 2, tests: WASM_FILES });
    assert.is(report.crossOriginIsolated, true, 'COOP + COEP make the page cross-origin isolated');
    assert.is(report.backend, 'wasm');
    assert.is(report.threads, 2);
    assert.is(report.workersReady, 1, 'the Web Worker started before the tests');
    console.log(`${expectAllPassed(report, WASM_FILES, 'wasm backend, two threads (isolated page)')}`);
  });

  test('wasm threads in the isolated page: a 768³ float32 product on two threads equals one thread bit for bit', async () => {
    const report = await (await suite.get()).run({ page: 'isolated', call: { module: SCENARIO, export: 'runThreadsScenario' } });
    assert.is(report.error, '');
    const t = report.value as ThreadsResult;
    assert.is(t.error, '');
    assert.ok(t.isolated && t.backend === 'wasm' && t.threads === 2 && t.workers === 1, `isolated ${t.isolated}, backend ${t.backend}, threads ${t.threads}, workers ${t.workers}`);
    assert.ok(t.identical, 'two threads give the one-thread product bit for bit');
    console.log(`768³ f32 in the isolated page: ${t.ms1.toFixed(1)} ms on one thread, ${t.ms2.toFixed(1)} ms on two, identical`);
  });

  test.run();
}
