/**
 * Runs ropelab in a real browser and prints what it finds: scripts/lib/browser-scenario.ts's scenarios, bundled
 * with the in-page harness and served on 127.0.0.1 (scripts/lib/chromium.ts, the same path as tests/browser/ in
 * `npm test`), in Debian's headless Chromium. A seeded GPT's logits, a safetensors round trip and 20 AdamW losses
 * on the JS backend, compared with Node bit for bit; then, on a cross-origin isolated page, a 768³ wasm product on
 * two Web Worker threads against one thread, with timings.
 *
 *   npm run check:browser                # Chromium from /usr/bin/chromium (Debian: apt-get install chromium)
 *   CHROMIUM=/path/to/chrome npm run check:browser
 */
import { getBackend, setBackend } from '../core/index.js';
import { runScenario, type ScenarioResult, type ThreadsResult } from './lib/browser-scenario.js';
import { chromiumMissing, openBrowserPages } from './lib/chromium.js';
import { readFlags } from './lib/flags.js';

const SCENARIO = 'scripts/lib/browser-scenario.ts';

/** The first index where a and b differ (Object.is: bit for bit), or -1. */
function firstDifference(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  return a.findIndex((x, i) => !Object.is(x, b[i]));
}

const HELP = `usage: npm run check:browser          (CHROMIUM=/path/to/chrome to pick the browser; default /usr/bin/chromium)

Runs a seeded GPT, a safetensors round trip and 20 training steps in headless Chromium and compares them with Node,
then the wasm backend's threads on a cross-origin isolated page. Takes no flags but --help.`;

async function main(): Promise<void> {
  readFlags('check:browser', HELP, {}, { values: {} });
  const missing = chromiumMissing();
  if (missing !== null) {
    console.error(`browser-check: ${missing}`);
    process.exit(2);
  }
  const pages = await openBrowserPages([SCENARIO]);
  try {
    const report = await pages.run({ page: 'plain', backend: 'js', call: { module: SCENARIO, export: 'runScenario' } });
    if (report.error !== '') throw new Error(`browser-check: the page failed: ${report.error}`);
    const inBrowser = report.value as ScenarioResult;
    const pinned = getBackend();
    setBackend('js');
    const inNode = runScenario();
    setBackend(pinned);
    console.log(`${report.userAgent}\nbrowser vs Node on the JS backend (bit for bit):`);
    for (const key of ['logits', 'reloadedLogits', 'losses'] as const) {
      const at = firstDifference(inBrowser[key], inNode[key]);
      console.log(`  ${key.padEnd(16)} ${at < 0 ? 'identical' : `DIFFER at ${at}: ${inBrowser[key][at]} vs ${inNode[key][at]}`}`);
      if (at >= 0) process.exitCode = 1;
    }
    console.log(`  loss ${inBrowser.losses[0]!.toFixed(4)} → ${inBrowser.losses.at(-1)!.toFixed(4)} in the browser`);

    const threads = await pages.run({ page: 'isolated', call: { module: SCENARIO, export: 'runThreadsScenario' } });
    const t = (threads.value ?? {}) as ThreadsResult;
    const ok = threads.error === '' && t.error === '' && t.isolated && t.backend === 'wasm' && t.threads === 2 && t.workers === 1 && t.identical;
    console.log(
      `cross-origin isolated page: crossOriginIsolated ${t.isolated}, backend ${t.backend || '—'}, threads ${t.threads}, Web Workers ready ${t.workers}; ` +
        `768³ f32 on two threads ${t.identical ? '= one thread bit for bit' : 'DIFFERS from one thread'}; ` +
        `${t.ms1?.toFixed(2)} ms on one thread, ${t.ms2?.toFixed(2)} ms on two ${ok ? 'ok' : 'FAILED'}${threads.error || t.error ? `\n  ${threads.error || t.error}` : ''}`,
    );
    if (!ok) process.exitCode = 1;
  } finally {
    await pages.close();
  }
}

await main();
