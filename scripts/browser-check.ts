/**
 * Runs ropelab in a real browser: bundles scripts/lib/browser-scenario.ts (and with it the library, from source)
 * for the browser with esbuild, serves it on localhost, loads it in headless Chromium through playwright-core,
 * and compares what the page computes with the same scenario run here in Node. A second, cross-origin isolated page
 * (COOP/COEP headers, so SharedArrayBuffer exists) runs a wasm product on two threads — Web Workers on the shared
 * wasm memory — and checks it equals one thread bit for bit. Not part of `npm test` (CI has no browser); `npm test`
 * bundles for the browser and runs the bundle without Node globals instead.
 *
 *   npm run check:browser                # Chromium from /usr/bin/chromium (Debian: apt-get install chromium)
 *   CHROMIUM=/path/to/chrome npm run check:browser
 */
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { runScenario, type ScenarioResult } from './lib/browser-scenario.js';
import { readFlags } from './lib/flags.js';

const PAGE = '<!doctype html><meta charset="utf-8"><title>ropelab browser check</title><script type="module" src="/page.js"></script>';
/** Node and Chromium run the same code on the same V8 math, so results should agree to the last bit or nearly. */
const RTOL = 1e-12;

async function bundle(contents: string): Promise<string> {
  const result = await build({
    stdin: { contents, resolveDir: resolve('.'), loader: 'ts' },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    logLevel: 'error',
  });
  return result.outputFiles[0]!.text;
}

/** What the isolated page reports about the wasm backend's threads. */
interface ThreadsResult {
  isolated: boolean;
  backend: string;
  threads: number;
  /** Web Workers that started and took the second half of the products. */
  workers: number;
  identical: boolean;
  /** Best of 5, ms, for one and two threads. */
  ms1: number;
  ms2: number;
  error: string;
}

/**
 * The threads page: a 768³ float32 product on one thread, then on two (the worker starts asynchronously in a page,
 * so the page waits two seconds after the first two-thread product before comparing and timing).
 */
const THREADS_SCENARIO = `
import { Generator, getBackend, getNumThreads, matmul, randn, setBackend, setNumThreads } from './core/index.ts';
import { wasmWorkersReady } from './core/backend.ts';
const result = { isolated: globalThis.crossOriginIsolated === true, backend: '', threads: 0, workers: 0, identical: false, ms1: NaN, ms2: NaN, error: '' };
const best = (f) => { let ms = Infinity; for (let i = 0; i < 5; i++) { const t0 = performance.now(); f(); ms = Math.min(ms, performance.now() - t0); } return ms; };
try {
  setBackend('wasm');
  const g = new Generator(1);
  const a = randn([768, 768], { generator: g });
  const b = randn([768, 768], { generator: g });
  setNumThreads(1);
  const one = matmul(a, b);
  setNumThreads(2);
  matmul(a, b);
  await new Promise((done) => setTimeout(done, 2000));
  const two = matmul(a, b);
  result.identical = one.data.every((x, i) => Object.is(x, two.data[i]));
  result.backend = getBackend();
  result.threads = getNumThreads();
  result.workers = wasmWorkersReady();
  result.ms2 = best(() => matmul(a, b));
  setNumThreads(1);
  result.ms1 = best(() => matmul(a, b));
} catch (e) {
  result.error = String(e && e.stack || e);
}
window.ropelabThreads = result;
`;

function maxRelDiff(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) return Infinity;
  return Math.max(0, ...a.map((x, i) => Math.abs(x - b[i]!) / Math.max(Math.abs(b[i]!), 1e-30)));
}

const HELP = `usage: npm run check:browser          (CHROMIUM=/path/to/chrome to pick the browser; default /usr/bin/chromium)

Runs a seeded GPT, a safetensors round trip and 20 training steps in headless Chromium and compares them with Node.
Takes no flags but --help.`;

async function main(): Promise<void> {
  readFlags('check:browser', HELP, {}, { values: {} });
  const executablePath = process.env['CHROMIUM'] ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    console.error(`browser-check: no Chromium at ${executablePath} (Debian: apt-get install chromium, or set CHROMIUM=/path/to/chrome)`);
    process.exit(2);
  }
  const script = await bundle("import { runScenario } from './scripts/lib/browser-scenario.ts';\nwindow.ropelabResult = runScenario();");
  const threadsScript = await bundle(THREADS_SCENARIO);
  // the threads page is cross-origin isolated: COOP + COEP on the page and its script make SharedArrayBuffer available
  const isolated = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };
  const server = createServer((req, res) => {
    if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    else if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else if (req.url === '/threads') res.writeHead(200, { 'content-type': 'text/html', ...isolated }).end(PAGE.replace('/page.js', '/threads.js'));
    else if (req.url === '/threads.js') res.writeHead(200, { 'content-type': 'text/javascript', ...isolated }).end(threadsScript);
    else res.writeHead(404).end();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  const browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(`http://127.0.0.1:${port}/`);
    try {
      await page.waitForFunction(() => 'ropelabResult' in window, null, { timeout: 60_000 });
    } catch (err) {
      throw new Error(`browser-check: the page produced no result — ${pageErrors.join('; ') || (err as Error).message}`);
    }
    const inBrowser = await page.evaluate(() => (window as unknown as { ropelabResult: ScenarioResult }).ropelabResult);
    const inNode = runScenario();
    const userAgent = await page.evaluate(() => navigator.userAgent);
    const rows: [string, number][] = [
      ['logits', maxRelDiff(inBrowser.logits, inNode.logits)],
      ['logits after a safetensors round trip', maxRelDiff(inBrowser.reloadedLogits, inNode.logits)],
      ['20 AdamW step losses', maxRelDiff(inBrowser.losses, inNode.losses)],
    ];
    console.log(`${userAgent}\nbrowser vs Node (max relative difference, tolerance ${RTOL}):`);
    for (const [label, diff] of rows) console.log(`  ${label.padEnd(40)} ${diff.toExponential(2)} ${diff <= RTOL ? 'ok' : 'MISMATCH'}`);
    console.log(`  loss ${inBrowser.losses[0]!.toFixed(4)} → ${inBrowser.losses.at(-1)!.toFixed(4)} in the browser`);
    if (rows.some(([, diff]) => !(diff <= RTOL))) process.exitCode = 1;

    const threadsPage = await browser.newPage();
    await threadsPage.goto(`http://127.0.0.1:${port}/threads`);
    await threadsPage.waitForFunction(() => 'ropelabThreads' in window, null, { timeout: 60_000 });
    const t = await threadsPage.evaluate(() => (window as unknown as { ropelabThreads: ThreadsResult }).ropelabThreads);
    const ok = t.error === '' && t.isolated && t.backend === 'wasm' && t.threads === 2 && t.workers === 1 && t.identical;
    console.log(
      `cross-origin isolated page: crossOriginIsolated ${t.isolated}, backend ${t.backend || '—'}, threads ${t.threads}, Web Workers ready ${t.workers}; ` +
      `768³ f32 on two Web Workers' threads ${t.identical ? '= one thread bit for bit' : 'DIFFERS from one thread'}; ` +
      `${t.ms1.toFixed(2)} ms on one thread, ${t.ms2.toFixed(2)} ms on two ${ok ? 'ok' : 'FAILED'}${t.error ? `\n  ${t.error}` : ''}`,
    );
    if (!ok) process.exitCode = 1;
  } finally {
    await browser.close();
    server.close();
  }
}

await main();
