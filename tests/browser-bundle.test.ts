/**
 * The package bundles for the browser and runs without Node: the root entry is bundled by esbuild with
 * platform 'browser' (a `node:` import anywhere would fail the build), then evaluated in a fresh V8 context that
 * has only the language's globals plus TextEncoder/TextDecoder — no process, require, Buffer or fs. There it
 * builds a GPT, runs it, and round-trips its weights through safetensors bytes; saveSafetensors must refuse.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { build } from 'esbuild';
import { join } from 'node:path';
import { createContext, runInContext } from 'node:vm';
import { GPT, type GPTConfig } from '../models/index.js';
import { getBackend, setBackend, Tensor } from '../core/index.js';

const CONFIG: GPTConfig = { vocabSize: 11, contextLength: 8, dim: 16, numLayers: 1, numHeads: 2, positional: 'rope', seed: 3 };
const IDS = [1, 4, 2, 9, 0, 7];

/** What the script run inside the context reports back (plain arrays and strings only). */
interface BrowserRun {
  /** The backend the bundle chose by itself (calibration, with Date.now: the context has no performance.now). */
  backend: string;
  logits: number[];
  reloaded: number[];
  saveError: string;
  globals: string[];
}

const SCRIPT = `
(async () => {
  const { GPT, Tensor, serializeSafetensors, parseSafetensors, saveSafetensors, getBackend } = ropelab;
  const backend = getBackend();
  const ids = new Tensor(Float64Array.from(IDS), [1, IDS.length]);
  const model = new GPT(CONFIG);
  const logits = Array.from(model.forward(ids).data);
  const bytes = serializeSafetensors(model.stateDict(), { config: JSON.stringify(CONFIG) });
  const other = new GPT({ ...CONFIG, seed: CONFIG.seed + 1 });
  other.loadStateDict(parseSafetensors(bytes).tensors);
  const reloaded = Array.from(other.forward(ids).data);
  let saveError = '';
  try { await saveSafetensors(model, 'model.safetensors'); } catch (err) { saveError = String(err.message); }
  const globals = ['process', 'require', 'Buffer', 'window'].filter((name) => typeof globalThis[name] !== 'undefined');
  return { backend, logits, reloaded, saveError, globals };
})()`;

test('the package root bundles for the browser and runs a GPT and safetensors bytes without Node', async () => {
  const result = await build({
    entryPoints: [join(process.cwd(), 'index.ts')],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    globalName: 'ropelab',
    write: false,
    logLevel: 'silent',
  });
  assert.is(result.errors.length, 0, 'browser bundle builds');
  const code = result.outputFiles[0]!.text;

  const context = createContext({ TextEncoder, TextDecoder, IDS, CONFIG });
  runInContext(code, context);
  const inner = (await runInContext(SCRIPT, context)) as BrowserRun;
  // arrays made in the context have that realm's Array: copy them into this one before comparing
  const run: BrowserRun = { backend: inner.backend, logits: Array.from(inner.logits), reloaded: Array.from(inner.reloaded), saveError: inner.saveError, globals: Array.from(inner.globals) };

  assert.equal(run.globals, [], 'the context has no Node globals');
  const pinned = getBackend();
  setBackend(run.backend);
  try {
    const want = new GPT(CONFIG).forward(new Tensor(Float64Array.from(IDS), [1, IDS.length]));
    assert.equal(run.logits, Array.from(want.data), `the bundled GPT gives the same logits as in Node on '${run.backend}', bit for bit`);
  } finally {
    setBackend(pinned);
  }
  assert.equal(run.reloaded, run.logits, 'weights survive serializeSafetensors → parseSafetensors → loadStateDict');
  assert.match(run.saveError, /saveSafetensors: needs Node's node:fs\/promises/);
});

test.run();
