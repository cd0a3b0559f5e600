/**
 * The published package, as a user installs it: scripts/build.mjs builds dist/ into a temporary
 * node_modules/ropelab (with package.json; the checkout's dist/ is left alone), and a consumer next to it
 * - imports it as ESM and require()s it (Node ≥ 20.19 loads ES modules with require), root and subpaths;
 * - bundles `import { ropeInvFreq } from 'ropelab'` with esbuild (minified, tree-shaken): ≤ 2 KB gzipped, because
 *   dist/ keeps one ES module per source file and package.json says "sideEffects": false;
 * - type-checks against the .d.ts files under TypeScript's node16, nodenext and bundler resolutions (and from a
 *   CommonJS file under nodenext), with a @ts-expect-error proving the types are real, not `any`;
 * - runs the `ropelab` command (dist/cli.js, directly and through npm's bin link node_modules/.bin/ropelab): the same
 *   JSON as runCli in-process, --help exit 0, a bad flag exit 2 in one line, demo refused without a checkout.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runCli } from '../../cli.js';

const ROOT = process.cwd();
const TMP = mkdtempSync(join(tmpdir(), 'ropelab-package-'));
const PACKAGE = join(TMP, 'node_modules', 'ropelab');
/** The budget for one function's import, bundled, minified and gzipped. */
const ONE_FUNCTION_GZIP_BYTES = 2048;

/** Builds the package into TMP once, on first use (a failed build then fails each test with tsc's output). */
let built: string | null = null;
function buildPackage(): void {
  if (built === 'ok') return;
  if (built !== null) throw new Error(built);
  mkdirSync(PACKAGE, { recursive: true });
  copyFileSync(join(ROOT, 'package.json'), join(PACKAGE, 'package.json'));
  writeFileSync(join(TMP, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  const run = spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--outdir', join(PACKAGE, 'dist')], { cwd: ROOT, encoding: 'utf8' });
  built = run.status === 0 ? 'ok' : `scripts/build.mjs failed:\n${run.stdout}${run.stderr}`;
  if (built !== 'ok') throw new Error(built);
}

test.after(() => rmSync(TMP, { recursive: true, force: true }));

/** Runs `code` with node in the consumer folder; returns its stdout (throws with stderr on failure). */
function node(args: readonly string[], code: string): string {
  const { FORCE_COLOR: _color, ...env } = process.env; // uvu forces colour, which console.log would put around numbers
  const run = spawnSync(process.execPath, [...args, '-e', code], { cwd: TMP, encoding: 'utf8', env });
  assert.is(run.status, 0, `node ${args.join(' ')} -e ${code}\n${run.stderr}`);
  return run.stdout.trim();
}

test('dist holds one ES module per source file, each with its .d.ts', () => {
  buildPackage();
  for (const file of ['index.js', 'core/tensor.js', 'core/tensor.d.ts', 'positional/rope.js', 'positional/rope.d.ts', 'nn/attention.js', 'models/gpt.js']) {
    assert.ok(readFileSync(join(PACKAGE, 'dist', file), 'utf8').length > 0, file);
  }
  assert.match(readFileSync(join(PACKAGE, 'dist/positional/rope.js'), 'utf8'), /from '\.\.\/core\/index\.js'/, 'modules import each other, not a shared chunk');
});

test('import and require() of the root and of a subpath give the same working exports', () => {
  buildPackage();
  const expected = '[1,0.01]';
  assert.is(node(['--input-type=module'], "import { ropeInvFreq } from 'ropelab'; console.log(JSON.stringify(Array.from(ropeInvFreq(4, 10000))));"), expected);
  assert.is(node([], "const { ropeInvFreq } = require('ropelab'); console.log(JSON.stringify(Array.from(ropeInvFreq(4, 10000))));"), expected);
  assert.is(node([], "const { RoPE } = require('ropelab/positional'); const { Tensor } = require('ropelab/core'); console.log(typeof RoPE, typeof Tensor);"), 'function function');
  const keys = (how: string): number => Number(node(how === 'import' ? ['--input-type=module'] : [], how === 'import'
    ? "import * as r from 'ropelab'; console.log(Object.keys(r).length);"
    : "console.log(Object.keys(require('ropelab')).length);"));
  const imported = keys('import');
  assert.ok(imported > 100, `the root exports the library (${imported} names)`);
  assert.is(keys('require'), imported, 'require() sees every export (plus none)');
});

test("'ropelab/testing' runs a property checker once fast-check (its optional peer) is installed; the root never needs it", () => {
  buildPackage();
  // the consumer has no fast-check yet: the root and the library subpaths load without it
  assert.is(node(['--input-type=module'], "import { RoPE } from 'ropelab/positional'; import * as r from 'ropelab'; console.log(typeof RoPE, typeof r.Tensor);"), 'function function');
  symlinkSync(join(ROOT, 'node_modules', 'fast-check'), join(TMP, 'node_modules', 'fast-check'), 'dir');
  const out = node(['--input-type=module'], [
    "import { checkRelativePositionInvariance } from 'ropelab/testing';",
    "import { RoPE } from 'ropelab/positional';",
    "const r = checkRelativePositionInvariance(new RoPE(8), { headDim: 8, numRuns: 20, seed: 1 });",
    'console.log(r.property, r.pass);',
  ].join(' '));
  assert.match(out, /relative.* true$/i);
});

test(`import { ropeInvFreq } bundles to ≤ ${ONE_FUNCTION_GZIP_BYTES} bytes gzipped (minified, tree-shaken), and runs`, async () => {
  buildPackage();
  const bundle = async (contents: string): Promise<string> => {
    const result = await build({
      stdin: { contents, resolveDir: TMP, loader: 'js' },
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      logLevel: 'silent',
    });
    return result.outputFiles[0]!.text;
  };
  const one = await bundle("import { ropeInvFreq } from 'ropelab'; console.log(JSON.stringify(Array.from(ropeInvFreq(8))));");
  const whole = await bundle("import * as ropelab from 'ropelab'; console.log(Object.keys(ropelab).length);");
  const gz = (code: string): number => gzipSync(code, { level: 9 }).length;
  assert.ok(gz(one) <= ONE_FUNCTION_GZIP_BYTES, `ropeInvFreq alone: ${gz(one)} bytes gzipped (${one.length} minified)`);
  assert.ok(gz(whole) > 10 * gz(one), `the whole library (${gz(whole)} bytes gzipped) is what tree shaking left out`);
  writeFileSync(join(TMP, 'one.mjs'), one);
  assert.is(spawnSync(process.execPath, [join(TMP, 'one.mjs')], { encoding: 'utf8' }).stdout.trim(), '[1,0.1,0.01,0.001]');
});

test('TypeScript finds the types under node16, nodenext and bundler resolution, and from CommonJS under nodenext', () => {
  buildPackage();
  const consumer = [
    "import { ropeInvFreq, Tensor } from 'ropelab';",
    "import { RoPE } from 'ropelab/positional';",
    'const inv: Float64Array = ropeInvFreq(8);',
    'const rope: RoPE = new RoPE(8);',
    'const t: Tensor = new Tensor(new Float32Array(2), [2]);',
    '// @ts-expect-error: dim is a number; with `any` types this line would be an unused directive',
    "ropeInvFreq('8');",
    'export { inv, rope, t };',
  ].join('\n');
  const cjsConsumer = [
    "import ropelab = require('ropelab');",
    'const inv: Float64Array = ropelab.ropeInvFreq(8);',
    '// @ts-expect-error: dim is a number',
    "ropelab.ropeInvFreq('8');",
    'export = inv;',
  ].join('\n');
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  const check = (name: string, module: string, moduleResolution: string, files: Record<string, string>, type: 'module' | 'commonjs'): void => {
    const dir = join(TMP, `ts-${name}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `ts-${name}`, private: true, type }));
    for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module, moduleResolution, target: 'ES2022', lib: ['ES2022', 'DOM'], strict: true, noEmit: true, skipLibCheck: false, types: [] },
      files: Object.keys(files),
    }));
    const run = spawnSync(process.execPath, [tsc, '-p', dir], { cwd: dir, encoding: 'utf8' });
    assert.is(run.status, 0, `${name} (module ${module}, moduleResolution ${moduleResolution}):\n${run.stdout}${run.stderr}`);
  };
  check('node16', 'node16', 'node16', { 'index.ts': consumer }, 'module');
  check('nodenext', 'nodenext', 'nodenext', { 'index.ts': consumer, 'legacy.cts': cjsConsumer }, 'module');
  check('bundler', 'esnext', 'bundler', { 'index.ts': consumer }, 'module');
});

test('the ropelab command of the built package: dist/cli.js and the npm bin link give runCli\'s JSON; --help 0, a bad flag 2', async () => {
  buildPackage();
  const cli = join(PACKAGE, 'dist', 'cli.js');
  assert.match(readFileSync(cli, 'utf8'), /^#!\/usr\/bin\/env node\n/, 'dist/cli.js starts with the shebang');
  mkdirSync(join(TMP, 'node_modules', '.bin'), { recursive: true });
  const bin = join(TMP, 'node_modules', '.bin', 'ropelab');
  symlinkSync('../ropelab/dist/cli.js', bin);
  writeFileSync(join(TMP, 'config.json'), JSON.stringify({ head_dim: 16, max_position_embeddings: 8192, rope_theta: 10000, rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 2048 } }));
  const { FORCE_COLOR: _color, ...env } = process.env;
  const run = (file: string, args: readonly string[]) => spawnSync(process.execPath, [file, ...args], { cwd: TMP, encoding: 'utf8', env });
  let expected = '';
  const code = await runCli(['freqs', '--config', join(TMP, 'config.json'), '--json'], { stdout: (t) => (expected += `${t}\n`), stderr: (t) => assert.unreachable(t) });
  assert.is(code, 0);
  for (const file of [cli, bin]) {
    const json = run(file, ['freqs', '--config', join(TMP, 'config.json'), '--json']);
    assert.is(json.status, 0, `${file}: ${json.stderr}`);
    assert.is(json.stdout, expected, `${file} freqs --json equals runCli's`);
  }
  const help = run(bin, ['--help']);
  assert.is(help.status, 0, help.stderr);
  assert.match(help.stdout, /^usage: ropelab <command>/);
  const refusals: [string[], RegExp][] = [
    [['freqs', '--config', join(TMP, 'config.json'), '--seq-len', 'x'], /^ropelab freqs: --seq-len needs an integer ≥ 1, got 'x'$/],
    [['demo'], /^ropelab demo: needs a ropelab checkout with its dev dependencies \(the installed package has no scripts\/ and no esbuild\): git clone /],
  ];
  for (const [args, line] of refusals) {
    const bad = run(bin, args);
    assert.is(bad.status, 2, `${args.join(' ')}: ${bad.stderr}`);
    assert.is(bad.stdout, '');
    const lines = bad.stderr.split('\n').filter((l) => l !== '');
    assert.is(lines.length, 1, bad.stderr);
    assert.match(lines[0]!, line);
  }
});

test.run();
