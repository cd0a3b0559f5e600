/**
 * A training run in Chromium equals Node's bit for bit: scripts/lib/browser-scenario.ts runScenario — a seeded
 * 1-layer RoPE GPT's logits, the same logits after a safetensors round trip into a differently seeded GPT, and 20
 * AdamW steps on a fixed batch — under the JS backend and under wasm (one thread), in the page and here.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getBackend, setBackend } from '../../core/index.js';
import { runScenario, type ScenarioResult } from '../../scripts/lib/browser-scenario.js';
import { browserSuiteSkipped, lazyBrowserSuite } from './harness.js';

const SCENARIO = 'scripts/lib/browser-scenario.ts';

/** Node's run under `backend` (restoring the active one). */
function inNode(backend: string): ScenarioResult {
  const before = getBackend();
  setBackend(backend);
  try {
    return runScenario();
  } finally {
    setBackend(before);
  }
}

if (!browserSuiteSkipped()) {
  const suite = lazyBrowserSuite([SCENARIO]);
  test.after(() => suite.close());

  for (const backend of ['js', 'wasm']) {
    test(`GPT logits, a safetensors round trip and 20 AdamW losses in Chromium equal Node's bit for bit (${backend})`, async () => {
      const report = await (await suite.get()).run({ page: 'plain', backend, call: { module: SCENARIO, export: 'runScenario' } });
      assert.is(report.error, '');
      assert.is(report.backend, backend);
      const page = report.value as ScenarioResult;
      const node = inNode(backend);
      assert.is(page.losses.length, 20);
      assert.ok(page.losses.at(-1)! < page.losses[0]!, `the loss falls: ${page.losses[0]} → ${page.losses.at(-1)}`);
      // Object.is per element: bit for bit (−0 and NaN included), not within a tolerance
      for (const key of ['logits', 'reloadedLogits', 'losses'] as const) {
        const differ = page[key].findIndex((x, i) => !Object.is(x, node[key][i]));
        assert.ok(page[key].length === node[key].length && differ < 0, `${key}[${differ}]: page ${page[key][differ]} vs Node ${node[key][differ]}`);
      }
      if (backend === 'js') console.log(`\ntraining in Chromium = Node bit for bit: loss ${page.losses[0]!.toFixed(6)} → ${page.losses.at(-1)!.toFixed(6)} in 20 AdamW steps`);
    });
  }

  test.run();
}
