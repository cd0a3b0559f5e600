/**
 * The `ropelab` command line (cli.ts, cli/): the dispatcher's help, unknown commands and exit statuses; `freqs`
 * numbers equal to fromHFConfig's for every rope type (regimes checked against yarnPairRegimes, Llama-3's wavelength
 * band, dynamic NTK and LongRoPE's lists; M-RoPE axes against ropeFromHFConfig's frequency matrix); `bound` against
 * minimalBase; `plot` series against pairWavelengths / decayCurve; `bench` / `experiment` names from scripts/.
 * Most runs are in-process through runCli with a capturing CliIO; a few run cli.ts bundled once by esbuild (as
 * scripts/run.mjs bundles it), directly and through a symlink named `ropelab` (npm's bin link).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { COMMANDS, runCli, runCommands } from '../../cli.js';
import type { CliCommand, CliIO } from '../../cli/command.js';
import type { BoundReport } from '../../cli/bound.js';
import type { FreqsReport } from '../../cli/freqs.js';
import type { PlotReport } from '../../cli/plot.js';
import { BENCH_HELPERS, checkoutRoot, packageRoot } from '../../cli/scripts.js';
import { ValueError } from '../../core/index.js';
import {
  decayCurve, fromHFConfig, minimalBase, MultiAxisRoPE, pairWavelengths, ropeFromHFConfig, ropeInvFreq, yarnPairRegimes, type HFRoPEConfig,
} from '../../positional/index.js';

const TMP = mkdtempSync(join(tmpdir(), 'ropelab-cli-'));
test.after(() => rmSync(TMP, { recursive: true, force: true }));

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

function capture(): { io: CliIO; out: { stdout: string; stderr: string } } {
  const out = { stdout: '', stderr: '' };
  return { io: { stdout: (t) => (out.stdout += t.endsWith('\n') ? t : `${t}\n`), stderr: (t) => (out.stderr += t.endsWith('\n') ? t : `${t}\n`) }, out };
}

async function cli(argv: readonly string[]): Promise<Captured> {
  const { io, out } = capture();
  const code = await runCli(argv, io);
  return { code, ...out };
}

/** Exit 2, nothing on stdout, exactly one line on stderr matching `line`, no stack trace. */
function assertRefused(run: Captured, line: RegExp, what: string): void {
  assert.is(run.code, 2, `${what}: exit status (stderr: ${run.stderr})`);
  assert.is(run.stdout, '', `${what}: nothing on stdout`);
  assert.not.match(run.stderr, /^\s+at /m, `${what}: no stack trace`);
  const lines = run.stderr.split('\n').filter((l) => l !== '');
  assert.is(lines.length, 1, `${what}: one line, got ${JSON.stringify(run.stderr)}`);
  assert.match(lines[0]!, line, what);
}

/** Writes a config.json into TMP and returns its path. */
function config(name: string, value: unknown): string {
  const path = join(TMP, `${name}.json`);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
}

const YARN: HFRoPEConfig = { hidden_size: 512, num_attention_heads: 8, max_position_embeddings: 16384, rope_theta: 10000, rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 4096 } };
const LLAMA3: HFRoPEConfig = { head_dim: 64, max_position_embeddings: 131072, rope_theta: 500000, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } };
const LINEAR: HFRoPEConfig = { head_dim: 32, rope_theta: 10000, rope_scaling: { type: 'linear', factor: 2 } };
const DYNAMIC: HFRoPEConfig = { head_dim: 32, max_position_embeddings: 2048, rope_scaling: { rope_type: 'dynamic', factor: 2 } };
const LONGROPE: HFRoPEConfig = {
  head_dim: 16, max_position_embeddings: 8192, original_max_position_embeddings: 1024, partial_rotary_factor: 0.75, rope_theta: 10000,
  rope_scaling: { type: 'su', short_factor: [1, 1.5, 2, 3, 1, 1], long_factor: [1, 2, 4, 8, 16, 0.5] },
};
const PROPORTIONAL: HFRoPEConfig = { head_dim: 16, global_head_dim: 32, partial_rotary_factor: 0.5, rope_parameters: { rope_type: 'proportional', rope_theta: 1e6, factor: 2 } };
const MROPE: HFRoPEConfig = { head_dim: 32, rope_theta: 1e6, rope_scaling: { type: 'mrope', mrope_section: [8, 4, 4] } };
const MROPE_INTERLEAVED: HFRoPEConfig = { head_dim: 32, rope_theta: 5e6, rope_parameters: { rope_type: 'default', mrope_section: [6, 5, 5], mrope_interleaved: true } };
const GEMMA3: HFRoPEConfig = { head_dim: 32, max_position_embeddings: 32768, rope_theta: 1e6, rope_local_base_freq: 10000, rope_scaling: { rope_type: 'linear', factor: 8 } };
const PER_LAYER: HFRoPEConfig = {
  head_dim: 32, max_position_embeddings: 8192,
  rope_parameters: { full_attention: { rope_type: 'yarn', rope_theta: 1e6, factor: 2, original_max_position_embeddings: 4096, beta_fast: 16 }, sliding_attention: { rope_type: 'default', rope_theta: 1e4 } },
};

async function freqsJson(cfg: HFRoPEConfig, name: string, extra: string[] = []): Promise<FreqsReport> {
  const run = await cli(['freqs', '--config', config(name, cfg), '--json', ...extra]);
  assert.is(run.code, 0, run.stderr);
  assert.is(run.stderr, '');
  return JSON.parse(run.stdout) as FreqsReport;
}

/** θ′, wavelengths, the attention factor and the logit factor equal the library's exactly; θ is base^(−2i/d). */
function assertLibraryNumbers(r: FreqsReport, cfg: HFRoPEConfig, options: { layerType?: string; seqLen?: number }, base: number, ladderDim: number): void {
  const s = fromHFConfig(cfg, options);
  assert.equal(r.pairs.map((p) => p.invFreq), Array.from(s.invFreq), 'θ′ = fromHFConfig invFreq');
  assert.equal(r.pairs.map((p) => p.wavelength), Array.from(pairWavelengths(s.invFreq), (l) => (Number.isFinite(l) ? l : null)), 'wavelengths');
  assert.equal(r.pairs.map((p) => p.unscaledInvFreq), Array.from(ropeInvFreq(ladderDim, base)), 'θ = ropeInvFreq(d, base)');
  assert.equal(r.pairs.map((p) => p.ratio), r.pairs.map((p) => p.invFreq / p.unscaledInvFreq));
  assert.is(r.attentionFactor, s.attentionFactor);
  assert.is(r.logitFactor, s.attentionFactor ** 2);
  assert.is(r.rotaryDim, s.rotaryDim);
  assert.is(r.ropeType, s.ropeType);
  assert.is(r.base, base);
  const counts = { extrapolate: 0, blend: 0, interpolate: 0, dropped: 0 };
  for (const p of r.pairs) counts[p.regime]++;
  assert.equal(r.regimeCounts, counts);
}

const regimesOf = (r: FreqsReport): string[] => r.pairs.map((p) => p.regime);

// ── dispatcher ─────────────────────────────────────────────────────────────────────────────────────────────────

test('ropelab --help, no arguments and `help` list every command with its summary; exit 0', async () => {
  for (const argv of [['--help'], [], ['help'], ['-h']]) {
    const run = await cli(argv);
    assert.is(run.code, 0, argv.join(' '));
    assert.is(run.stderr, '');
    assert.match(run.stdout, /^usage: ropelab <command>/);
    for (const c of COMMANDS) assert.ok(run.stdout.includes(`  ${c.name.padEnd(10)}  ${c.summary}`), `${argv.join(' ')} lists ${c.name}`);
  }
  assert.equal(COMMANDS.map((c) => c.name), ['freqs', 'bound', 'plot', 'verify', 'demo', 'bench', 'experiment']);
});

test('ropelab <command> --help and ropelab help <command> print its usage and exit 0', async () => {
  for (const name of ['freqs', 'bound', 'plot', 'verify', 'bench', 'experiment']) {
    const command = COMMANDS.find((c) => c.name === name)!;
    const run = await cli([name, '--help']);
    assert.is(run.code, 0, `${name} --help: ${run.stderr}`);
    assert.is(run.stdout, `${command.help}\n`, `${name} --help prints its help`);
    assert.match(run.stdout, new RegExp(`^usage: ropelab ${name}`));
    const viaHelp = await cli(['help', name]);
    assert.is(viaHelp.code, 0);
    assert.is(viaHelp.stdout, run.stdout);
  }
  const version = await cli(['--version']);
  assert.is(version.stdout, `ropelab ${(JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version}\n`);
});

test('an unknown command is one line on stderr, exit 2', async () => {
  assertRefused(await cli(['freq']), /^ropelab: unknown command 'freq' \(one of freqs, bound, plot, verify, demo, bench, experiment; see ropelab --help\)$/, 'freq');
  assertRefused(await cli(['help', 'nope']), /^ropelab: unknown command 'nope'/, 'help nope');
});

test('FlagError and the library typed errors → one line, exit 2; any other error → its stack, exit 1', async () => {
  const thrower = (name: string, err: unknown): CliCommand => ({ name, summary: name, help: `usage: ropelab ${name}`, run: async () => Promise.reject(err) });
  const commands = [
    thrower('library', new ValueError('fromHFConfig', 'rope_type is bad —\n  rope_type=x', 'rope_type')),
    thrower('bug', new TypeError('x is not a function')),
    { name: 'ok', summary: 'ok', help: 'usage: ropelab ok', run: async (argv: readonly string[], io: CliIO) => (io.stdout(argv.join('|')), 7) },
  ];
  const { io, out } = capture();
  assert.is(await runCommands(commands, ['library'], io), 2);
  assert.is(out.stderr, 'ropelab library: fromHFConfig: rope_type is bad — rope_type=x\n', 'prefixed with the command, newlines folded');
  out.stderr = '';
  assert.is(await runCommands(commands, ['bug'], io), 1);
  assert.match(out.stderr, /^TypeError: x is not a function\n\s+at /, 'a bug shows its stack');
  assert.is(await runCommands(commands, ['ok', 'a', 'b'], io), 7, "the command's own status");
  assert.match(out.stdout, /a\|b/);
  const rejection = async (call: () => Promise<number>): Promise<string> => call().then(() => 'resolved', (err: Error) => err.message);
  assert.match(await rejection(() => runCli('freqs' as unknown as string[])), /^runCli: argv must be an array of strings/);
  assert.match(await rejection(() => runCli(['freqs'], {} as CliIO)), /^runCli: io must be an object/);
});

// ── freqs ──────────────────────────────────────────────────────────────────────────────────────────────────────

test('freqs yarn: numbers are fromHFConfig\'s; regimes are yarnPairRegimes\'; attention factor 0.1·ln 4 + 1', async () => {
  const r = await freqsJson(YARN, 'yarn');
  assertLibraryNumbers(r, YARN, {}, 10000, 64);
  const names = { extrapolated: 'extrapolate', blended: 'blend', interpolated: 'interpolate' } as const;
  assert.equal(regimesOf(r), yarnPairRegimes({ dim: 64, base: 10000, factor: 4, originalMaxPositions: 4096 }).map((g) => names[g]));
  assert.ok(r.regimeCounts.extrapolate > 0 && r.regimeCounts.blend > 0 && r.regimeCounts.interpolate > 0, JSON.stringify(r.regimeCounts));
  assert.ok(Math.abs(r.attentionFactor - (0.1 * Math.log(4) + 1)) < 1e-15);
  assert.equal(
    [r.command, r.config, r.layerType, r.seqLen, r.ropeDict, r.headDim, r.factor, r.maxPositionEmbeddings, r.originalMaxPositionEmbeddings, r.longropeList, r.mrope, r.encoding, r.warnings],
    ['freqs', join(TMP, 'yarn.json'), null, null, 'rope_scaling', 64, 4, 16384, 4096, null, null, 'rope', []],
  );
  assert.equal(Object.keys(r.pairs[0]!), ['pair', 'invFreq', 'wavelength', 'unscaledInvFreq', 'unscaledWavelength', 'ratio', 'regime']);
});

test('freqs llama3: regimes follow the wavelength band (kept below L/high, divided by s above L/low)', async () => {
  const r = await freqsJson(LLAMA3, 'llama3');
  assertLibraryNumbers(r, LLAMA3, {}, 500000, 64);
  const expected = Array.from(ropeInvFreq(64, 500000), (t) => {
    const wavelength = (2 * Math.PI) / t;
    return wavelength < 8192 / 4 ? 'extrapolate' : wavelength > 8192 / 1 ? 'interpolate' : 'blend';
  });
  assert.equal(regimesOf(r), expected);
  assert.ok(expected.includes('blend'));
});

test('freqs linear: every pair interpolated by s; proportional: the dropped pairs are dropped, wavelength null', async () => {
  const lin = await freqsJson(LINEAR, 'linear');
  assertLibraryNumbers(lin, LINEAR, {}, 10000, 32);
  assert.ok(regimesOf(lin).every((g) => g === 'interpolate'));
  const prop = await freqsJson(PROPORTIONAL, 'proportional');
  assertLibraryNumbers(prop, PROPORTIONAL, {}, 1e6, 32);
  assert.equal(regimesOf(prop), [...new Array<string>(8).fill('interpolate'), ...new Array<string>(8).fill('dropped')]);
  assert.is(prop.pairs[15]!.wavelength, null);
  assert.is(prop.encoding, 'p-rope-0.5');
});

test('freqs dynamic: unscaled within the trained length; beyond it pair 0 kept, the last interpolated by s·ℓ/L − (s−1)', async () => {
  const within = await freqsJson(DYNAMIC, 'dynamic', ['--seq-len', '2048']);
  assertLibraryNumbers(within, DYNAMIC, { seqLen: 2048 }, 10000, 32);
  assert.ok(regimesOf(within).every((g) => g === 'extrapolate'));
  assert.is(within.factor, 1);
  const beyond = await freqsJson(DYNAMIC, 'dynamic', ['--seq-len', '8192']);
  assertLibraryNumbers(beyond, DYNAMIC, { seqLen: 8192 }, 10000, 32);
  assert.is(beyond.factor, (2 * 8192) / 2048 - 1);
  assert.equal(regimesOf(beyond), ['extrapolate', ...new Array<string>(14).fill('blend'), 'interpolate']);
  assert.ok(Math.abs(beyond.pairs[15]!.ratio * beyond.factor - 1) < 1e-12);
  assert.is(beyond.encoding, 'dynamic-ntk');
});

test('freqs longrope (Phi-3 "su"): short factors up to the original length, long beyond; λ per pair; the legacy spelling warned', async () => {
  const short = await freqsJson(LONGROPE, 'longrope', ['--seq-len', '1024']);
  assertLibraryNumbers(short, LONGROPE, { seqLen: 1024 }, 10000, 12);
  assert.is(short.longropeList, 'short');
  assert.equal(short.pairs.map((p) => p.longropeFactor), [1, 1.5, 2, 3, 1, 1]);
  const long = await freqsJson(LONGROPE, 'longrope', ['--seq-len', '1025']);
  assertLibraryNumbers(long, LONGROPE, { seqLen: 1025 }, 10000, 12);
  assert.is(long.longropeList, 'long');
  assert.is(long.factor, 8);
  assert.equal(regimesOf(long), ['extrapolate', 'blend', 'blend', 'interpolate', 'interpolate', 'extrapolate']);
  assert.equal(long.pairs.map((p) => p.invFreq), Array.from(ropeInvFreq(12, 10000), (t, i) => t / [1, 2, 4, 8, 16, 0.5][i]!));
  assert.ok(Math.abs(long.attentionFactor - Math.sqrt(1 + Math.log(8) / Math.log(1024))) < 1e-15);
  assert.match(long.warnings.join('\n'), /legacy spelling/);
  assert.is((await freqsJson(LONGROPE, 'longrope')).longropeList, 'short', 'no --seq-len: short');
});

test('freqs M-RoPE: each pair\'s axis is the row of ropeFromHFConfig\'s frequency matrix that holds it (sections and interleaved)', async () => {
  for (const [name, cfg] of [['mrope', MROPE], ['mrope-interleaved', MROPE_INTERLEAVED]] as const) {
    const r = await freqsJson(cfg, name);
    assertLibraryNumbers(r, cfg, {}, cfg === MROPE ? 1e6 : 5e6, 32);
    const enc = ropeFromHFConfig(cfg) as MultiAxisRoPE;
    assert.ok(enc instanceof MultiAxisRoPE);
    const F = enc.freqs.data;
    const P = r.pairs.length;
    const axes = r.pairs.map((_, j) => ['t', 'h', 'w'][[0, 1, 2].find((a) => F[a * P + j] !== 0)!]);
    assert.equal(r.pairs.map((p) => p.axis), axes, name);
    assert.ok(new Set(axes).size === 3, name);
  }
  const r = await freqsJson(MROPE_INTERLEAVED, 'mrope-interleaved');
  assert.equal(r.mrope, { section: [6, 5, 5], interleaved: true });
  assert.equal(r.pairs.slice(0, 4).map((p) => p.axis), ['t', 'h', 'w', 't']);
});

test('freqs per layer type: Gemma-3 rope_local_base_freq for sliding layers, per-layer rope_parameters; refusals name the choices', async () => {
  const sliding = await freqsJson(GEMMA3, 'gemma3', ['--layer-type', 'sliding_attention']);
  assertLibraryNumbers(sliding, GEMMA3, { layerType: 'sliding_attention' }, 10000, 32);
  assert.is(sliding.ropeDict, 'rope_local_base_freq (sliding_attention)');
  assert.ok(regimesOf(sliding).every((g) => g === 'extrapolate'));
  const full = await freqsJson(GEMMA3, 'gemma3', ['--layer-type', 'full_attention']);
  assertLibraryNumbers(full, GEMMA3, { layerType: 'full_attention' }, 1e6, 32);
  assert.ok(regimesOf(full).every((g) => g === 'interpolate'));
  const yarnLayer = await freqsJson(PER_LAYER, 'per-layer', ['--layer-type', 'full_attention']);
  assertLibraryNumbers(yarnLayer, PER_LAYER, { layerType: 'full_attention' }, 1e6, 32);
  assert.is(yarnLayer.ropeDict, 'rope_parameters.full_attention');
  const names = { extrapolated: 'extrapolate', blended: 'blend', interpolated: 'interpolate' } as const;
  assert.equal(regimesOf(yarnLayer), yarnPairRegimes({ dim: 32, base: 1e6, factor: 2, originalMaxPositions: 4096, betaFast: 16 }).map((g) => names[g]));
  assertRefused(await cli(['freqs', '--config', config('per-layer', PER_LAYER)]), /^ropelab freqs: --config '.*per-layer\.json': fromHFConfig: rope_parameters holds one dict per layer type .*full_attention, sliding_attention/, 'no --layer-type');
});

test('freqs table: a header with the config and parameters, one aligned row per pair', async () => {
  const path = config('yarn', YARN);
  const run = await cli(['freqs', '--config', path]);
  assert.is(run.code, 0, run.stderr);
  const lines = run.stdout.trimEnd().split('\n');
  assert.is(lines[0], `ropelab freqs --config ${path}`);
  assert.match(run.stdout, /rope_type yarn \(from rope_scaling\); base 10000; head dim 64, rotary dim 64, 32 pairs/);
  assert.match(run.stdout, /scaling factor s = 4; max_position_embeddings 16384; original_max_position_embeddings 4096/);
  assert.match(run.stdout, /attention factor 1\.13862944 on cos and sin \(logits × 1\.29647699\)/);
  const header = lines.findIndex((l) => l.startsWith('pair'));
  const rows = lines.slice(header + 1);
  assert.is(rows.length, 32);
  const regimeColumn = lines[header]!.indexOf('regime');
  for (const [i, row] of rows.entries()) {
    assert.match(row, new RegExp(`^ {0,3}${i} `));
    assert.match(row.slice(regimeColumn), /^(extrapolate|blend|interpolate)$/, `row ${i} aligned: ${row}`);
  }
});

test('freqs refuses a bad command line or config with one line naming it, exit 2', async () => {
  const cases: [string[], RegExp][] = [
    [[], /^ropelab freqs: give --config config\.json \(see --help\)$/],
    [['--config', join(TMP, 'missing.json')], /^ropelab freqs: --config '.*missing\.json' cannot be read \(no such file\)$/],
    [['--config', config('bad-json', '{"head_dim": 64,')], /^ropelab freqs: --config '.*bad-json\.json' is not valid JSON/],
    [['--config', config('array', '[1, 2]')], /^ropelab freqs: --config '.*array\.json' must hold a JSON object \(a config\.json\), got an array$/],
    [['--config', config('no-factor', { head_dim: 64, rope_scaling: { rope_type: 'linear' } })], /^ropelab freqs: --config '.*no-factor\.json': fromHFConfig: rope_type 'linear' is missing factor/],
    [['--config', config('yarn', YARN), '--seq-len', '0'], /^ropelab freqs: --seq-len needs an integer ≥ 1, got '0'$/],
    [['--config', config('yarn', YARN), '--layer-type', 'full_attention'], /fromHFConfig: layerType was given but rope_scaling is one dict for all layers/],
    [['--config'], /^ropelab freqs: --config needs a value/],
    [['--bogus'], /^ropelab freqs: unknown flag '--bogus' \(see --help\)$/],
  ];
  for (const [argv, line] of cases) assertRefused(await cli(['freqs', ...argv]), line, argv.join(' '));
});

test('freqs --json on the real model configs of tests/fixtures/hf_configs equals fromHFConfig, at and beyond their lengths', async () => {
  const dir = 'tests/fixtures/hf_configs';
  const models = existsSync(dir) ? readdirSync(dir).filter((m) => existsSync(join(dir, m, 'config.json'))) : [];
  assert.ok(models.length >= 5, `model configs found: ${models.join(', ')}`);
  for (const model of models) {
    const path = join(dir, model, 'config.json');
    const cfg = JSON.parse(readFileSync(path, 'utf8')) as HFRoPEConfig;
    const layerTypes = model.startsWith('gemma-3') ? [undefined, 'sliding_attention', 'full_attention'] : [undefined]; // Gemma-3's local base sits in text_config (its default)
    for (const layerType of layerTypes) {
      for (const seqLen of [undefined, 2 * (Number(cfg.max_position_embeddings) || 4096)]) {
        const argv = ['freqs', '--config', path, '--json', ...(layerType !== undefined ? ['--layer-type', layerType] : []), ...(seqLen !== undefined ? ['--seq-len', String(seqLen)] : [])];
        const run = await cli(argv);
        assert.is(run.code, 0, `${argv.join(' ')}: ${run.stderr}`);
        const r = JSON.parse(run.stdout) as FreqsReport;
        const s = fromHFConfig(cfg, { ...(layerType !== undefined ? { layerType } : {}), ...(seqLen !== undefined ? { seqLen } : {}) });
        assert.equal(r.pairs.map((p) => p.invFreq), Array.from(s.invFreq), `${model} ${layerType ?? ''} ${seqLen ?? ''}: θ′`);
        assert.equal([r.attentionFactor, r.rotaryDim, r.ropeType], [s.attentionFactor, s.rotaryDim, s.ropeType], model);
        assert.equal(r.pairs.map((p) => p.wavelength), Array.from(pairWavelengths(s.invFreq), (l) => (Number.isFinite(l) ? l : null)), model);
        if (s.ropeType === 'default') assert.ok(regimesOf(r).every((g) => g === 'extrapolate'), `${model}: unscaled`);
        else assert.ok(r.regimeCounts.extrapolate < r.pairs.length, `${model}: ${s.ropeType} scales some pair`);
        if (seqLen === undefined) {
          const want = REAL_CONFIG_REGIMES[`${model}${layerType !== undefined ? ` ${layerType}` : ''}`];
          assert.ok(want !== undefined, `an expectation for ${model} ${layerType ?? ''}`);
          assert.equal([r.base, r.factor, r.regimeCounts], want, `${model} ${layerType ?? ''}: base, factor and regimes`);
        }
      }
    }
  }
});

/**
 * Base, factor s and regime counts [extrapolate, blend, interpolate] of the real configs, from their published fields:
 * Llama-3.1 (θ 5e5, d 128): 29 pairs have λ = 2π·θ^(2i/d) < 8192/4 (kept), 29 have λ > 8192 (÷8), 6 between;
 * Qwen2.5 YaRN (θ 1e6, L 32768): 24 pairs turn > β_fast = 32 times over L (kept), 24 less than β_slow = 1 (÷4);
 * Gemma-3: full layers linear ÷8 with θ 1e6 (Gemma3TextConfig's default), sliding layers plain with base 1e4;
 * Phi-3: every LongRoPE short factor lies strictly between 1 and s = 131072/4096 = 32; Qwen2.5-VL: unscaled.
 */
const REAL_CONFIG_REGIMES: Record<string, [number, number, Record<string, number>]> = {
  'llama-3.1-8b': [500000, 8, { extrapolate: 29, blend: 6, interpolate: 29, dropped: 0 }],
  'qwen2.5-7b-instruct-yarn': [1e6, 4, { extrapolate: 24, blend: 16, interpolate: 24, dropped: 0 }],
  'gemma-3-4b-it': [1e6, 8, { extrapolate: 0, blend: 0, interpolate: 128, dropped: 0 }],
  'gemma-3-4b-it full_attention': [1e6, 8, { extrapolate: 0, blend: 0, interpolate: 128, dropped: 0 }],
  'gemma-3-4b-it sliding_attention': [1e4, 1, { extrapolate: 128, blend: 0, interpolate: 0, dropped: 0 }],
  'phi-3-mini-128k-instruct-su': [1e4, 32, { extrapolate: 0, blend: 48, interpolate: 0, dropped: 0 }],
  'phi-3-mini-128k-instruct-longrope': [1e4, 32, { extrapolate: 0, blend: 48, interpolate: 0, dropped: 0 }],
  'qwen2.5-vl-7b-instruct': [1e6, 1, { extrapolate: 64, blend: 0, interpolate: 0, dropped: 0 }],
};

// ── bound ──────────────────────────────────────────────────────────────────────────────────────────────────────

test('bound --json: the bases are minimalBase\'s, m0 above L; --config checks the base against them', async () => {
  const run = await cli(['bound', '--context', '4096', '--dim', '64', '--json']);
  assert.is(run.code, 0, run.stderr);
  const r = JSON.parse(run.stdout) as BoundReport;
  assert.is(r.context, 4096);
  assert.is(r.dim, 64);
  assert.is(r.fit, 0.0424 * Math.pow(4096, 1.628));
  assert.equal(r.methods.map((m) => [m.method, m.base]), [['first-hit', minimalBase(4096, 64)], ['robust', minimalBase(4096, 64, { method: 'robust' })]]);
  for (const m of r.methods) assert.ok(m.m0! > 4096 && m.baseOverFit === m.base / r.fit, JSON.stringify(m));
  assert.is(r.config, null);

  const withConfig = await cli(['bound', '--config', config('llama3', LLAMA3), '--context', '4096', '--method', 'first-hit', '--json']);
  assert.is(withConfig.code, 0, withConfig.stderr);
  const c = (JSON.parse(withConfig.stdout) as BoundReport).config!;
  assert.equal([c.base, c.rotaryDim, c.context, c.contextFrom, c.ropeType], [500000, 64, 4096, '--context', 'llama3']);
  assert.equal(c.meets, { 'first-hit': 500000 >= minimalBase(4096, 64) });
  assert.ok(c.meets['first-hit'] === true && c.m0! > 4096, 'base 5e5 supports 4k at d = 64');
  assert.ok(c.scaled !== null && c.scaled.firstNegative === null && c.scaled.decayNonNegativeUpToContext);
  const small = JSON.parse((await cli(['bound', '--config', config('dyn', DYNAMIC), '--method', 'robust', '--json'])).stdout) as BoundReport;
  assert.equal([small.context, small.dim, small.config!.contextFrom], [2048, 32, 'max_position_embeddings']);
  assert.is(small.config!.meets.robust, false, 'base 1e4 is below the robust bound for 2048 at d = 32');
});

test('bound prints the lines of scripts/base-bound.ts, and refuses bad flags in one line', async () => {
  const run = await cli(['bound', '--context', '1024', '--method', 'first-hit']);
  assert.is(run.code, 0);
  assert.match(run.stdout, /^minimal RoPE base for context L = 1024, d = 128 {3}\(fit 0\.0424·L\^1\.628 = \d\.\d{3}e\+\d\)\n {2}first-hit {2}b = \d\.\d{4}e\+\d {3}m0\(b\) = \d+ {3}b\/fit = \d\.\d{3} {3}\d+\.\d\d s\n$/);
  const cases: [string[], RegExp][] = [
    [[], /^ropelab bound: give --context L or --config config\.json \(see --help\)$/],
    [['--context', '4096', '--dim', '63'], /^ropelab bound: --dim must be even, got '63'$/],
    [['--config', config('yarn', YARN), '--dim', '64'], /^ropelab bound: give --dim or --config, not both/],
    [['--context', '4096', '--layer-type', 'x'], /^ropelab bound: --layer-type needs --config$/],
    [['--context', '4096', '--method', 'best'], /^ropelab bound: --method must be one of first-hit, robust, both, got 'best'$/],
    [['--config', config('no-max', { head_dim: 64 })], /^ropelab bound: --config '.*no-max\.json' has no max_position_embeddings; give --context L$/],
  ];
  for (const [argv, line] of cases) assertRefused(await cli(['bound', ...argv]), line, argv.join(' '));
});

// ── plot ───────────────────────────────────────────────────────────────────────────────────────────────────────

async function plot(argv: string[]): Promise<{ report: PlotReport; svg: string }> {
  const run = await cli(['plot', ...argv, '--json']);
  assert.is(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout) as PlotReport;
  return { report, svg: readFileSync(report.out, 'utf8') };
}

function assertSvg(svg: string, series: number): void {
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\n$/);
  assert.not.match(svg, /NaN|Infinity|undefined/);
  assert.is(svg.match(/<g class="series"/g)?.length, series);
}

test('plot freqs: wavelengths of θ′ and of θ (log y) with the context lengths as reference lines', async () => {
  const out = join(TMP, 'plots', 'freqs.svg');
  const { report, svg } = await plot(['freqs', '--config', config('yarn', YARN), '--out', out]);
  assertSvg(svg, 4);
  assert.equal([report.kind, report.out, report.logX, report.logY], ['freqs', out, false, true]);
  assert.equal(report.series[0]!.points, Array.from(pairWavelengths(fromHFConfig(YARN).invFreq), (l, i) => [i, l]));
  assert.equal(report.series[1]!.points, Array.from(pairWavelengths(ropeInvFreq(64, 10000)), (l, i) => [i, l]));
  assert.equal(report.series.slice(2).map((s) => [s.name, s.points]), [['original context 4096', [[0, 4096], [31, 4096]]], ['max_position_embeddings 16384', [[0, 16384], [31, 16384]]]]);
  const plain = await plot(['freqs', '--base', '10000', '--dim', '8', '--out', join(TMP, 'plots', 'plain.svg')]);
  assert.equal(plain.report.series.map((s) => s.points), [Array.from(pairWavelengths(ropeInvFreq(8, 10000)), (l, i) => [i, l])]);
  const prop = await plot(['freqs', '--config', config('proportional', PROPORTIONAL), '--out', join(TMP, 'plots', 'prop.svg')]);
  assert.is(prop.report.series[0]!.points[15]![1], null, 'a dropped pair is a gap');
});

test('plot decay: decayCurve of θ′ (and of θ with --compare-plain) up to the context, log x', async () => {
  const { report, svg } = await plot(['decay', '--config', config('yarn', YARN), '--compare-plain', '--out', join(TMP, 'plots', 'decay.svg')]);
  assertSvg(svg, 4);
  assert.ok(report.logX && !report.logY);
  assert.equal(report.series[0]!.points, decayCurve(fromHFConfig(YARN).invFreq, { maxDistance: 16384, points: 400 }));
  assert.equal(report.series[1]!.points, decayCurve(ropeInvFreq(64, 10000), { maxDistance: 16384, points: 400 }));
  const short = await plot(['decay', '--base', '500000', '--dim', '16', '--max-distance', '1000', '--out', join(TMP, 'plots', 'd2.svg')]);
  assert.equal(short.report.series.map((s) => s.points), [decayCurve(ropeInvFreq(16, 500000), { maxDistance: 1000, points: 400 })]);
});

test('plot angles: cos(m·θ′_i) per chosen pair, or the wrapped angle with gaps at each wrap', async () => {
  const { report, svg } = await plot(['angles', '--config', config('yarn', YARN), '--pairs', '3,20', '--max-position', '100', '--compare-plain', '--out', join(TMP, 'plots', 'angles.svg')]);
  assertSvg(svg, 4);
  const theta = fromHFConfig(YARN).invFreq;
  assert.equal(report.series[0]!.points, Array.from({ length: 101 }, (_, m) => [m, Math.cos(m * theta[3]!)]));
  assert.equal(report.series[2]!.points, Array.from({ length: 101 }, (_, m) => [m, Math.cos(m * theta[20]!)]));
  assert.equal(report.series[3]!.points, Array.from({ length: 101 }, (_, m) => [m, Math.cos(m * ropeInvFreq(64, 10000)[20]!)]));
  const mod = await plot(['angles', '--base', '10000', '--dim', '8', '--pairs', '0', '--max-position', '20', '--angle', 'mod', '--out', join(TMP, 'plots', 'mod.svg')]);
  const pts = mod.report.series[0]!.points;
  assert.equal(pts.slice(0, 8), [[0, 0], [1, 1], [2, 2], [3, 3], [4, 4], [5, 5], [6, 6], [null, null]]);
  assert.is(pts.filter(([x]) => x === null).length, 3, 'wraps at 2π, 4π, 6π within m ≤ 20');
  const defaults = await plot(['angles', '--config', config('llama3', LLAMA3), '--out', join(TMP, 'plots', 'd.svg')]);
  assert.is(defaults.report.series.length, 3, 'three default pairs');
  assert.is(defaults.report.series[0]!.points.at(-1)![0], 8192, 'up to the original context');
});

test('plot refuses bad arguments in one line, exit 2, and writes nothing', async () => {
  const out = join(TMP, 'plots', 'never.svg');
  const yarn = config('yarn', YARN);
  const cases: [string[], RegExp][] = [
    [[], /^ropelab plot: the first argument must be one of freqs, decay, angles, got nothing/],
    [['wavelengths', '--out', out], /^ropelab plot: the first argument must be one of freqs, decay, angles, got 'wavelengths'/],
    [['freqs', '--config', yarn], /^ropelab plot freqs: give --out file\.svg$/],
    [['freqs', '--out', out], /^ropelab plot freqs: give --config config\.json, or --base B and --dim d/],
    [['freqs', '--config', yarn, '--base', '10000', '--out', out], /^ropelab plot freqs: give --config or --base\/--dim, not both$/],
    [['freqs', '--base', '10000', '--dim', '7', '--out', out], /^ropelab plot freqs: --dim must be even, got '7'$/],
    [['freqs', '--base', '1', '--dim', '8', '--out', out], /^ropelab plot freqs: --base needs a finite number > 1, got '1'$/],
    [['freqs', '--config', yarn, '--max-distance', '10', '--out', out], /^ropelab plot freqs: --max-distance is for ropelab plot decay$/],
    [['angles', '--config', yarn, '--pairs', '3,32', '--out', out], /^ropelab plot: --pairs 3,32 has pair 32, but the table has 32 pairs \(0 … 31\)$/],
    [['angles', '--config', yarn, '--angle', 'sin', '--out', out], /^ropelab plot angles: --angle must be one of cos, mod, got 'sin'$/],
    [['decay', '--config', join(TMP, 'missing.json'), '--out', out], /^ropelab plot: --config '.*missing\.json' cannot be read/],
    [['decay', '--config', yarn, '--out', join(yarn, 'x.svg')], /^ropelab plot decay: --out '.*x\.svg' cannot be written \(a file stands where its folder should be\)$/],
  ];
  for (const [argv, line] of cases) assertRefused(await cli(['plot', ...argv]), line, argv.join(' '));
  assert.not.ok(existsSync(out));
});

// ── demo, bench, experiment ────────────────────────────────────────────────────────────────────────────────────

test('bench and experiment list the scripts of scripts/bench (without the helpers) and scripts/experiments', async () => {
  const files = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)).sort();
  const benches = files('scripts/bench');
  for (const helper of BENCH_HELPERS) assert.ok(benches.includes(helper), `helper ${helper} still exists in scripts/bench (else update BENCH_HELPERS)`);
  const bench = await cli(['bench', '--help']);
  assert.is(bench.code, 0);
  assert.ok(bench.stdout.includes(`names: ${benches.filter((b) => !BENCH_HELPERS.includes(b)).join(', ')}\n`), bench.stdout);
  assert.not.match(bench.stdout, /names:.*\bharness\b/);
  const experiment = await cli(['experiment', '--help']);
  assert.ok(experiment.stdout.includes(`names: ${files('scripts/experiments').join(', ')}\n`), experiment.stdout);
  assertRefused(await cli(['bench', 'harness']), /^ropelab bench: unknown bench 'harness' \(one of attention, backends, decode, long-context, matmul, memory, ops, road, rope\)$/, 'a helper is not a bench');
  assertRefused(await cli(['experiment']), new RegExp(`^ropelab experiment: give a name, one of ${files('scripts/experiments').join(', ')} \\(see --help\\)$`), 'no name');
});

test('the checkout is found from the module URL; an installed package (no scripts/) or no ropelab package.json is not one', () => {
  const root = process.cwd();
  assert.is(packageRoot(), root, 'from the test bundle under .cache/');
  assert.is(checkoutRoot(), root);
  assert.is(packageRoot(pathToFileURL(join(root, 'cli', 'scripts.ts')).href), root);
  const installed = join(TMP, 'node_modules', 'ropelab');
  mkdirSync(join(installed, 'dist', 'cli'), { recursive: true });
  writeFileSync(join(installed, 'package.json'), JSON.stringify({ name: 'ropelab', version: '0.0.0' }));
  const url = pathToFileURL(join(installed, 'dist', 'cli', 'scripts.js')).href;
  assert.is(packageRoot(url), installed);
  assert.is(checkoutRoot(url), null, 'no scripts/run.mjs');
  mkdirSync(join(installed, 'scripts'));
  writeFileSync(join(installed, 'scripts', 'run.mjs'), '');
  assert.is(checkoutRoot(url), null, 'no esbuild');
  writeFileSync(join(installed, 'package.json'), JSON.stringify({ name: 'other' }));
  assert.is(packageRoot(url), null);
});

test('experiment <name> runs the script through scripts/run.mjs and passes its exit status through', async () => {
  const { io, out } = capture();
  const code = await runCli(['experiment', 'rope-analysis', '--bogus'], io);
  assert.is(code, 2, out.stderr);
  assert.match(out.stderr, /^ropelab: node scripts\/run\.mjs scripts\/experiments\/rope-analysis\.ts --bogus\nrope-analysis: unknown flag '--bogus' \(see --help\)\n$/);
  const help = await cli(['bench', 'rope', '--help']);
  assert.is(help.code, 0);
  assert.match(help.stdout, /^usage: npm run bench:rope /, "the bench's own usage");
});

// ── as a process ───────────────────────────────────────────────────────────────────────────────────────────────

function runNode(argv: readonly string[]): Promise<Captured> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test('cli.ts bundled (as npm run ropelab runs it), directly and through a bin symlink: exit statuses, one-line errors, the same JSON', async () => {
  const dir = join(process.cwd(), '.cache', `cli-bundle-${process.pid}`);
  try {
    await build({ entryPoints: ['cli.ts'], outfile: join(dir, 'cli.mjs'), bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'error' });
    const link = join(dir, 'ropelab');
    symlinkSync(join(dir, 'cli.mjs'), link);
    const path = config('yarn', YARN);
    const [help, json, missing, unknown, viaLink] = await Promise.all([
      runNode([join(dir, 'cli.mjs'), '--help']),
      runNode([join(dir, 'cli.mjs'), 'freqs', '--config', path, '--json']),
      runNode([join(dir, 'cli.mjs'), 'freqs', '--config', join(TMP, 'missing.json')]),
      runNode([join(dir, 'cli.mjs'), 'nope']),
      runNode([link, 'freqs', '--config', path, '--json']),
    ]);
    assert.is(help.code, 0);
    assert.match(help.stdout, /^usage: ropelab <command>/);
    assert.is(json.code, 0, json.stderr);
    const inProcess = (await cli(['freqs', '--config', path, '--json'])).stdout;
    const a = json.stdout.split('\n');
    const b = inProcess.split('\n');
    const first = a.findIndex((line, i) => line !== b[i]);
    assert.ok(json.stdout === inProcess, `the same JSON as in-process; first difference at line ${first}: ${JSON.stringify(a[first])} vs ${JSON.stringify(b[first])} (${a.length} vs ${b.length} lines)`);
    assert.is(viaLink.code, 0, viaLink.stderr);
    assert.is(viaLink.stdout, json.stdout, 'through a symlink named ropelab (npm bin)');
    assertRefused(missing, /^ropelab freqs: --config '.*missing\.json' cannot be read \(no such file\)$/, 'missing config');
    assertRefused(unknown, /^ropelab: unknown command 'nope'/, 'unknown command');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
