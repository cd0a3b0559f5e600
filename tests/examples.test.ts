/**
 * Smoke test of examples/: each example runs as its README line says (`node scripts/run.mjs examples/<file>.ts`, as a
 * child process; the training run with `--steps 8`), and its output says what it should — checked against numbers
 * worked out here by hand or from the papers' formulas, not against the examples' own code. The runs start together
 * before the first test (each is mostly process start-up and bundling). The browser example is bundled for the
 * browser (a `node:` import would fail the build); where Chromium is installed (always in CI, as tests/browser/), its
 * serve.ts is started, the page opened in headless Chromium and its report read back.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium, chromiumMissing } from '../scripts/lib/chromium.js';
import { inCI } from './browser/harness.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node scripts/run.mjs examples/<file> …args` and collects its output. */
function runExample(file: string, args: readonly string[] = []): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/run.mjs', `examples/${file}`, ...args], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const LLAMA3_CONFIG = 'tests/fixtures/hf_configs/llama-3.1-8b/config.json';
let runs: Record<'autograd' | 'rope' | 'yarn' | 'llama3' | 'lm' | 'property', Promise<Run>>;

test.before(() => {
  runs = {
    autograd: runExample('autograd.ts'),
    rope: runExample('rope-attention.ts'),
    yarn: runExample('hf-yarn.ts'),
    llama3: runExample('hf-yarn.ts', [LLAMA3_CONFIG]),
    lm: runExample('train-tiny-lm.ts', ['--steps', '8']),
    property: runExample('property-test.ts'),
  };
});

/** The run's stdout, after checking that it exited 0 with nothing on stderr. */
async function outputOf(run: Promise<Run>, name: string): Promise<string> {
  const r = await run;
  assert.is(r.stderr, '', `${name} writes nothing to stderr`);
  assert.is(r.code, 0, `${name} exits 0`);
  return r.stdout;
}

/** The number after `label` in `text` (fails when absent). */
function numberAfter(text: string, label: string): number {
  const at = text.indexOf(label);
  assert.ok(at >= 0, `the output has '${label}':\n${text}`);
  const m = /^\s*(−|-)?\s*([0-9.]+(?:e[+-]?[0-9]+)?)/.exec(text.slice(at + label.length));
  assert.ok(m !== null, `a number follows '${label}'`);
  return (m![1] ? -1 : 1) * Number(m![2]);
}

test('property-test.ts: the planted bug fails relative-position invariance at position 512, norm still passes, ropelab\'s RoPE passes', async () => {
  const out = await outputOf(runs.property, 'property-test.ts');
  const lines = out.split('\n');
  assert.match(lines[0]!, /^relative-position invariance \(1-D\): FAILED/);
  assert.match(out, /key 1 at position 512: shifting every position by s = \d+ changed their score/);
  assert.equal(lines.filter((l) => /^\S.*: passed \d+ random cases/.test(l)).map((l) => l.split(':')[0]), [
    'norm preservation', 'relative-position invariance (1-D)', 'layout equivalence (half vs interleaved under the channel permutation)',
  ]);
});

test('autograd.ts: gradients equal the hand-derived ones, gradcheck passes, SGD fits the line', async () => {
  const out = await outputOf(runs.autograd, 'autograd.ts');
  assert.ok(out.includes('a + b = [[11,22,33],[14,25,36]]'), out);
  assert.ok(out.includes('a @ aᵀ = [[14,32],[32,77]]'), out);
  // y = Σ x²·w for x = [1, 2, 3], w = [0.5, −1, 2]: y = 0.5 − 4 + 18, dy/dx = 2xw, dy/dw = x²
  assert.is(numberAfter(out, 'y = '), 14.5);
  assert.ok(out.includes('dy/dx = [1,-4,12]'), out);
  assert.ok(out.includes('dy/dw = [1,4,9]'), out);
  assert.ok(/gradcheck\(.*\): passed/.test(out), out);
  assert.ok(Math.abs(numberAfter(out, 'fitted t = ') - 3) < 0.01, 'slope ≈ 3');
  assert.ok(Math.abs(numberAfter(out, '·s ') + 1) < 0.01, 'intercept ≈ −1');
});

test('rope-attention.ts: scores depend on relative position only, the encodings swap in, KV-cache decoding equals the full pass', async () => {
  const out = await outputOf(runs.rope, 'rope-attention.ts');
  // θ_i = 10000^(−2i/16): θ_0 = 1, θ_7 = 10000^(−7/8)
  assert.ok(out.includes('θ_0 = 1,'), out);
  assert.ok(out.includes(`θ_7 = ${Math.pow(10000, -7 / 8).toExponential(3)}`), out);
  assert.ok(numberAfter(out, 'scores at 0…| = ') < 1e-9, 'shifting every position by 1000 leaves q·k unchanged (float64)');
  assert.ok(out.includes('x [1,8,32] → [1,8,32]'), out);
  // YaRN's attention factor 0.1·ln s + 1 (Peng et al. 2023, eq. 22) for s = 4
  assert.is(numberAfter(out, 'attention factor '), Number((0.1 * Math.log(4) + 1).toFixed(4)));
  assert.ok(numberAfter(out, 'YaRN (s = 4): attention factor 1.1386, output changed by ') > 1e-3, 'swapping in YaRN changes the output');
  assert.ok(out.includes('6 of 8 pairs rotate'), '⌊0.75·16/2⌋ = 6 pairs kept');
  assert.ok(numberAfter(out, 'pairs rotate; output changed by ') > 0, 'swapping in p-RoPE changes the output');
  assert.ok(numberAfter(out, 'max |step-by-step − full| = ') < 1e-5, 'KV-cache decoding equals the full forward (float32)');
});

/** How many of `pairs` pairs YaRN keeps, blends and interpolates: the correction range of Peng et al. 2023 (eq. 17–18, rounded outward as transformers does). */
function yarnCounts(d: number, base: number, L: number, betaFast = 32, betaSlow = 1): [number, number, number] {
  const dimOf = (turns: number): number => (d * Math.log(L / (turns * 2 * Math.PI))) / (2 * Math.log(base));
  const low = Math.max(Math.floor(dimOf(betaFast)), 0);
  const high = Math.min(Math.ceil(dimOf(betaSlow)), d - 1);
  return [low + 1, high - low - 1, d / 2 - high];
}

/** The same for Llama-3's band (Meta 2024): wavelength below L/4 kept, above L interpolated, in between blended. */
function llama3Counts(d: number, base: number, L: number, lowFreqFactor = 1, highFreqFactor = 4): [number, number, number] {
  const lambda = Array.from({ length: d / 2 }, (_, i) => 2 * Math.PI * Math.pow(base, (2 * i) / d));
  const kept = lambda.filter((l) => l < L / highFreqFactor).length;
  const interpolated = lambda.filter((l) => l > L / lowFreqFactor).length;
  return [kept, d / 2 - kept - interpolated, interpolated];
}

function counts(out: string): [number, number, number] {
  const m = /(\d+) pairs extrapolated, (\d+) blended, (\d+) interpolated/.exec(out);
  assert.ok(m !== null, out);
  return [Number(m![1]), Number(m![2]), Number(m![3])];
}

test('hf-yarn.ts: the Qwen2.5 YaRN config gives 64 pairs split at YaRN\'s correction range, and yarnInvFreq agrees', async () => {
  const out = await outputOf(runs.yarn, 'hf-yarn.ts');
  assert.ok(out.includes("rope_type 'yarn' (from rope_scaling), base 1000000, head dim 128"), out);
  assert.ok(out.includes('factor s = 4, training length L = 32768'), out);
  const rows = out.split('\n').filter((line) => /^\s+\d+\s+\d/.test(line));
  assert.is(rows.length, 64, 'one row per pair of a 128-channel head');
  assert.ok(rows[63]!.includes('0.2500   interpolated'), 'the slowest pair turns s = 4 times slower');
  assert.equal(counts(out), yarnCounts(128, 1e6, 32768));
  assert.ok(out.includes("max relative difference from the config's θ′ 0.00e+0; yarnPairRegimes agrees"), out);
});

test('hf-yarn.ts with the Llama-3.1 config: pairs split at the wavelengths L/4 and L', async () => {
  const out = await outputOf(runs.llama3, 'hf-yarn.ts (llama-3.1)');
  assert.ok(out.includes(`${LLAMA3_CONFIG}: rope_type 'llama3'`), out);
  assert.equal(counts(out), llama3Counts(128, 500000, 8192));
  assert.ok(!out.includes('yarnInvFreq'), 'the YaRN cross-check runs for YaRN configs only');
});

test('train-tiny-lm.ts --steps 8: the loss falls below a uniform guess and it samples text after the prompt', async () => {
  const out = await outputOf(runs.lm, 'train-tiny-lm.ts');
  const uniform = numberAfter(out, 'uniform guess: ');
  const vocab = Number(/^(\d+) characters/.exec(out)?.[1]);
  assert.ok(Math.abs(uniform - Math.log(vocab)) < 1e-3, `the uniform guess is ln(vocabulary size ${vocab})`);
  assert.ok(out.includes('after 8 steps'), out);
  assert.ok(numberAfter(out, 'validation loss ') < uniform - 0.3, `validation loss below ln(V) = ${uniform}:\n${out}`);
  const sample = out.split('sample:\n')[1]?.replace(/\n$/, '') ?? '';
  assert.ok(sample.startsWith('Call me Ishmael. '), out);
  assert.is([...sample].length, 'Call me Ishmael. '.length + 120, '120 characters after the prompt');
});

test('browser/main.ts bundles for the browser (no Node built-ins)', async () => {
  const result = await build({ entryPoints: ['examples/browser/main.ts'], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'silent' });
  assert.is(result.errors.length, 0);
  assert.ok(result.outputFiles[0]!.text.includes('ropelabExample'), 'the bundle is the example page module');
});

/** What examples/browser/main.ts leaves on window.ropelabExample. */
interface PageReport {
  scores: Array<{ distance: number; rope: number; yarn: number }>;
  losses: number[];
  sample: string;
  done: boolean;
}

const chromiumAbsent = chromiumMissing();
if (chromiumAbsent !== null && !inCI()) console.log(`examples: browser page not opened: ${chromiumAbsent}`);
else {
  test('browser/serve.ts serves the page; in Chromium it computes RoPE scores and trains a GPT', async () => {
    // its own process group: the test stops run.mjs, the served script and esbuild's service together
    const server = spawn(process.execPath, ['scripts/run.mjs', 'examples/browser/serve.ts', '--port', '0'], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const stop = (): void => {
      try {
        process.kill(-server.pid!, 'SIGTERM');
      } catch {
        // already gone
      }
      rmSync(join('.cache', `run-${server.pid}`), { recursive: true, force: true }); // run.mjs's bundle folder (it was stopped before removing it)
    };
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let text = '';
        const timer = setTimeout(() => reject(new Error(`serve.ts printed no URL in 60 s: ${text}`)), 60_000);
        server.stdout.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(text);
          if (m !== null) {
            clearTimeout(timer);
            resolve(m[0]);
          }
        });
        server.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
        server.on('close', (code) => reject(new Error(`serve.ts exited (${code}): ${text}`)));
      });
      const chromium = await launchChromium();
      try {
        const page = await chromium.newPage();
        const errors: string[] = [];
        page.on('pageerror', (err) => errors.push(err.message));
        await page.goto(url);
        await page.waitForFunction(() => (window as unknown as { ropelabExample?: PageReport }).ropelabExample?.done === true, null, { timeout: 60_000, polling: 100 });
        const report = await page.evaluate(() => (window as unknown as { ropelabExample: PageReport }).ropelabExample);
        assert.equal(errors, [], 'no page errors');
        // q = k = ones: ⟨q, R(n)k⟩/d = (2/d)·Σ_i cos(n·θ_i), θ_i = 10000^(−2i/64); YaRN's starts at its factor², 0.1·ln 4 + 1 squared
        const rope = (n: number): number => (2 / 64) * Array.from({ length: 32 }, (_, i) => Math.cos(n * Math.pow(10000, -i / 32))).reduce((a, b) => a + b, 0);
        assert.is(report.scores.length, 8);
        for (const row of report.scores) assert.ok(Math.abs(row.rope - rope(row.distance)) < 1e-9, `RoPE score at distance ${row.distance}: page ${row.rope}, by hand ${rope(row.distance)}`);
        assert.ok(Math.abs(report.scores[0]!.yarn - (0.1 * Math.log(4) + 1) ** 2) < 1e-9, 'YaRN score at distance 0 is the attention factor squared');
        const text = await page.locator('#scores').innerText();
        assert.ok(text.includes('4096'), 'the table is drawn in the page');
        assert.is(report.losses.length, 60);
        assert.ok(report.losses.at(-1)! < report.losses[0]! / 4, `training in the page: loss ${report.losses[0]} → ${report.losses.at(-1)}`);
        assert.ok(report.sample.startsWith('It was ') && report.sample.length === 'It was '.length + 40, report.sample);
        assert.ok((await page.locator('#status').innerText()).startsWith('step 60/60'));
      } finally {
        await chromium.close();
      }
    } finally {
      stop();
    }
  });
}

test.run();
