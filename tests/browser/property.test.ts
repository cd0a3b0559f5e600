/**
 * The engine's and positional/'s property tests in Chromium: the same tests/core and tests/positional files that
 * run in Node, bundled for the browser (harness.ts: those importing a `node:` module are skipped), run by uvu in
 * the page under the JS backend (as Node's main run pins it), counts and failure messages reported back here.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { browserSuiteSkipped, browserTestFiles, expectAllPassed, lazyBrowserSuite } from './harness.js';

if (!browserSuiteSkipped()) {
  const { run, skipped } = browserTestFiles();
  const suite = lazyBrowserSuite(run);
  test.after(() => suite.close());

  test('tests/core and tests/positional pass in headless Chromium under the JS backend', async () => {
    assert.ok(run.length >= 40, `at least 40 files run in the page (${run.length})`);
    const pages = await suite.get();
    const report = await pages.run({ page: 'plain', backend: 'js', tests: run });
    assert.is(report.backend, 'js');
    const line = expectAllPassed(report, run, `Chromium ${pages.chromium.version}, JS backend`);
    console.log(`\n${line}; skipped files (${skipped.map((s) => s.reason).filter((r, i, a) => a.indexOf(r) === i).join('; ')}): ${skipped.map((s) => s.file).join(', ')}`);
  });

  test.run();
}
