/**
 * The gpu.js backend's WebGL2 kernels in Chromium (issue 15 item 3): tests/browser/gpujs-page.ts runs in the page —
 * gpu.js's browser build bundled and handed to prepareBackend('gpujs', { importModule }), setBackend('gpujs',
 * { mode: 'webgl2' }), then gemm, matmul and batched matmul, attention forward (outputs and gradients), the unary
 * maps, softmax and the RoPE rotation on seeded generated shapes against the JS kernels, within the float32 tolerances stated in that file — and
 * this side asserts that every check is within them, that each kernel call ran on gpu.js, that the class that ran
 * them is WebGL2Kernel, and that releaseBackend freed them. Headless Chromium here renders WebGL2 with SwiftShader
 * (no GPU).
 *
 * gpu.js is an optional peer: where its browser build is absent (or ROPELAB_NO_GPUJS=1), outside CI this file
 * prints one line and registers nothing; in CI (CI=1: .ci/run installs the peers) it runs and fails saying why.
 */
import { existsSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GPUJS_BROWSER_BUILD } from '../../scripts/bench/backends-page.js';
import { GPUJS_VERSION } from '../../core/gpujs/backend.js';
import type { GpujsPageResult } from './gpujs-page.js';
import { browserSuiteSkipped, inCI, lazyBrowserSuite } from './harness.js';

const PAGE = 'tests/browser/gpujs-page.ts';
/** The gpu.js kernel class WebGL2 mode must run (gpu.js 2.24.1's src/backend/web-gl2/kernel.js). */
const KERNEL_CLASS = 'WebGL2Kernel';

/** Why gpu.js cannot be bundled here, or null. */
function gpujsMissing(): string | null {
  if (process.env['ROPELAB_NO_GPUJS'] === '1') return 'ROPELAB_NO_GPUJS=1';
  return existsSync(GPUJS_BROWSER_BUILD) ? null : `gpu.js is not installed (no ${GPUJS_BROWSER_BUILD})`;
}

const missing = gpujsMissing();
if (!browserSuiteSkipped()) {
  if (missing !== null && !inCI()) {
    console.log(`\ntests/browser/gpujs.test.ts: ${missing} — its WebGL2 tests are left out (install it: npm run peers:install, or npm install --no-save --ignore-scripts gpu.js@${GPUJS_VERSION})`);
  } else {
    const suite = lazyBrowserSuite(missing === null ? [PAGE, GPUJS_BROWSER_BUILD] : [PAGE]);
    test.after(() => suite.close());

    test(`gpu.js WebGL2 kernels in Chromium agree with the JS kernels (gemm, matmul, batched matmul, attention, unary maps, softmax, RoPE rotation) and run on ${KERNEL_CLASS}`, async () => {
      if (missing !== null) assert.unreachable(`in CI gpu.js must be installed (.ci/run installs the peers): ${missing}`);
      const report = await (await suite.get()).run({ page: 'plain', call: { module: PAGE, export: 'runGpujsPageChecks' }, timeoutMs: 60_000 });
      assert.is(report.error, '');
      const r = report.value as GpujsPageResult;
      assert.is(r.error, '', r.error);
      assert.is(r.mode, 'webgl2');
      assert.is(r.backend, 'gpujs');
      assert.is(r.kernelClass, KERNEL_CLASS, `the compiled kernels are gpu.js's ${KERNEL_CLASS}`);
      assert.equal(Object.keys(r.runs), [KERNEL_CLASS], `every kernel call ran on ${KERNEL_CLASS}: ${JSON.stringify(r.runs)}`);
      assert.is(r.checks.length, 6);
      const lines: string[] = [];
      for (const c of r.checks) {
        assert.ok(c.cases > 0, `${c.name}: cases ran`);
        assert.is(c.calls, c.expectedCalls, `${c.name}: ${c.calls} gpu.js kernel calls, expected ${c.expectedCalls}`);
        assert.ok(c.worst <= 1, `${c.name}: |gpujs − js| reaches ${c.worst.toFixed(3)}× the tolerance at ${c.worstCase}`);
        lines.push(`${c.name}: ${c.cases} cases, worst ${c.worst.toFixed(3)}× tolerance`);
      }
      assert.ok(r.released, 'releaseBackend(\'gpujs\') disposed the WebGL2 kernels');
      console.log(`\ngpu.js ${GPUJS_VERSION} WebGL2 in Chromium (${(r.ms / 1000).toFixed(1)} s in the page, ${Object.values(r.runs)[0]} kernel calls on ${KERNEL_CLASS}):\n  ${lines.join('\n  ')}`);
    });

    test.run();
  }
}
