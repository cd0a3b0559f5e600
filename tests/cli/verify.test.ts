/**
 * `ropelab verify` in-process: exit status 0 / 1 / thrown (cli.ts exits 2), the text and --json reports, numbers equal
 * to verifyRoPEDump's, the dump readers (JSON, safetensors with int64 positions), --help.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ValueError } from '../../core/index.js';
import { readRoPEDumpFile, verifyCommand } from '../../cli/verify.js';
import { verifyRoPEDump } from '../../positional/conformance.js';
import { FlagError } from '../../scripts/lib/flags.js';

const DIR = 'tests/fixtures/verify';
const cfg = (name: string): string => `${DIR}/${name}.config.json`;
const dumpPath = (name: string): string => `${DIR}/${name}`;

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await verifyCommand.run(argv, { stdout: (t) => (out += `${t}\n`), stderr: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

async function rejects(argv: string[], type: new (...a: never[]) => Error, words: string[]): Promise<void> {
  let error: unknown = null;
  try {
    await run(argv);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof type, `${argv.join(' ')}: expected ${type.name}, got ${String(error)}`);
  const message = (error as Error).message;
  assert.not.match(message, '\n', 'one line');
  for (const w of words) assert.ok(message.includes(w), `'${message}' mentions ${w}`);
}

test('exit 0 for a conforming dump, with one line per check', async () => {
  const r = await run(['--config', cfg('yarn'), '--dump', dumpPath('yarn.ok.json')]);
  assert.is(r.code, 0);
  assert.match(r.out, 'conforms: residual');
  for (const name of ['inv_freq', 'cos', 'sin', 'q_embed', 'k_embed', 'attention_scaling']) assert.match(r.out, new RegExp(`ok +${name} `));
});

test('exit 1 with the diagnosis and residuals before and after', async () => {
  const r = await run(['--config', cfg('yarn'), '--dump', dumpPath('yarn.no-attention-factor.safetensors')]);
  assert.is(r.code, 1);
  assert.match(r.out, 'diagnosis: attention-factor — attention factor missing');
  assert.match(r.out, /residual before [\d.e-]+, after [\d.e-]+/);
  assert.match(r.out, /FAIL cos/);
});

test('exit 1 with "no known cause" when no class explains the dump', async () => {
  const r = await run(['--config', cfg('yarn'), '--dump', dumpPath('yarn.wrong-theta.json')]);
  assert.is(r.code, 1);
  assert.match(r.out, 'diagnosis: no known cause');
  assert.match(r.out, 'closest:');
});

test('--json: the documented shape, numbers equal to verifyRoPEDump', async () => {
  for (const [config, dump] of [['longrope', 'longrope.short-past-switch.json'], ['mrope', 'mrope.decode.ok.safetensors'], ['yarn', 'yarn.wrong-theta.json']] as const) {
    const r = await run(['--config', cfg(config), '--dump', dumpPath(dump), '--json']);
    const report = JSON.parse(r.out) as Record<string, unknown>;
    assert.equal(Object.keys(report).sort(), ['candidates', 'checks', 'command', 'config', 'diagnosis', 'dump', 'ok', 'residual', 'ropeType', 'tolerance']);
    assert.is(report['command'], 'verify');
    assert.is(report['config'], cfg(config));
    assert.is(report['dump'], dumpPath(dump));
    const lib = verifyRoPEDump(JSON.parse(readFileSync(cfg(config), 'utf8')), readRoPEDumpFile(dumpPath(dump)));
    assert.equal({ ...report, command: undefined, config: undefined, dump: undefined }, { ...JSON.parse(JSON.stringify(lib)), command: undefined, config: undefined, dump: undefined });
    assert.is(r.code, lib.ok ? 0 : 1);
    for (const c of report['checks'] as Array<Record<string, unknown>>) assert.equal(Object.keys(c).sort(), ['maxAbsError', 'name', 'ok', 'scale', 'shape']);
    const d = report['diagnosis'] as Record<string, unknown> | null;
    if (d !== null) assert.equal(Object.keys(d).sort(), ['cause', 'detail', 'residualAfter', 'residualBefore']);
  }
});

test('--layout and --tolerance reach the library', async () => {
  const half = await run(['--config', cfg('llama3'), '--dump', dumpPath('llama3.interleaved.safetensors')]);
  assert.is(half.code, 1);
  const claimed = await run(['--config', cfg('llama3'), '--dump', dumpPath('llama3.interleaved.safetensors'), '--layout', 'interleaved']);
  assert.is(claimed.code, 0, claimed.out);
  const loose = await run(['--config', cfg('partial'), '--dump', dumpPath('partial.fp16-inv-freq.safetensors'), '--tolerance', '1e-3', '--json']);
  assert.is(loose.code, 0);
  assert.is(JSON.parse(loose.out).tolerance, 1e-3);
});

test('dump readers: int64 positions in safetensors, nested JSON arrays', () => {
  const st = readRoPEDumpFile(dumpPath('llama3.ok.safetensors'));
  assert.equal(Array.from(st['position_ids']!.data), [100, 101, 102, 103, 104, 105, 106, 107]);
  assert.equal(st['cos']!.shape, [8, 32]);
  const js = readRoPEDumpFile(dumpPath('mrope.decode.no-deltas.json'));
  assert.equal(js['position_ids']!.shape, [3, 2]);
  assert.equal(js['rope_deltas']!.shape, []);
  assert.is(js['rope_deltas']!.data[0], -12);
});

test('exit 2 paths: bad flags, unreadable or malformed files, refused configs and dumps', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ropelab-verify-'));
  const write = (name: string, text: string | Uint8Array): string => {
    writeFileSync(join(tmp, name), text);
    return join(tmp, name);
  };
  await rejects(['--dump', dumpPath('yarn.ok.json')], FlagError, ['ropelab verify', '--config is required']);
  await rejects(['--config', cfg('yarn')], FlagError, ['--dump is required']);
  await rejects(['--config', cfg('yarn'), '--dump', dumpPath('yarn.ok.json'), '--layout', 'pairs'], FlagError, ['--layout', 'half, interleaved']);
  await rejects(['--config', cfg('yarn'), '--dump', dumpPath('yarn.ok.json'), '--tolerance', '-1'], FlagError, ['--tolerance']);
  await rejects(['--config', cfg('yarn'), '--dump', dumpPath('yarn.ok.json'), '--frobnicate'], FlagError, ['unknown flag']);
  await rejects(['--config', join(tmp, 'missing.json'), '--dump', dumpPath('yarn.ok.json')], FlagError, ['no such file']);
  await rejects(['--config', cfg('yarn'), '--dump', join(tmp, 'missing.json')], FlagError, ['--dump', 'no such file']);
  await rejects(['--config', cfg('yarn'), '--dump', write('bad.json', '{"cos": [[1, 2], [3]]}')], FlagError, ['ragged']);
  await rejects(['--config', cfg('yarn'), '--dump', write('text.json', 'not json')], FlagError, ['valid JSON']);
  await rejects(['--config', cfg('yarn'), '--dump', write('bad.safetensors', new Uint8Array([1, 2, 3]))], FlagError, ['safetensors', 'too short']);
  await rejects(['--config', write('refused.json', '{"head_dim": 16, "rope_scaling": {"rope_type": "nope"}}'), '--dump', dumpPath('yarn.ok.json')], ValueError, ['verifyRoPEDump:', 'rope_type']);
  await rejects(['--config', cfg('yarn'), '--dump', write('names.json', '{"cos_cached": [[1]]}')], ValueError, ['verifyRoPEDump:', 'cos_cached', 'inv_freq']);
});

test('--help prints the usage, the bug classes and the JSON shape, exit 0', async () => {
  const r = await run(['--help']);
  assert.is(r.code, 0);
  assert.is(r.out, `${verifyCommand.help}\n`);
  for (const w of ['usage: ropelab verify', 'pair-layout', 'position-offset', '"diagnosis"', 'Exit status']) assert.match(r.out, w);
  assert.is(verifyCommand.name, 'verify');
});

test.run();
