/**
 * verifyRoPEDump: the shipped dumps (tests/fixtures/verify/, written by make_dumps.py, an independent numpy
 * re-implementation of transformers' RoPE) are each diagnosed as manifest.json says; dumps built here from ropelab's own
 * encodings pass, or, with a bug applied, are diagnosed; a bug outside the classes gives "no known cause"; residuals and
 * errors.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DTypeError, ShapeError, Tensor, ValueError } from '../../core/index.js';
import { readRoPEDumpFile } from '../../cli/verify.js';
import { ROPE_BUG_CLASSES, ROPE_DUMP_NAMES, verifyRoPEDump, type RoPEBugClass } from '../../positional/conformance.js';
import { fromHFConfig, ropeFromHFConfig, type HFRoPEConfig } from '../../positional/hf-config.js';
import type { PositionalEncoding } from '../../positional/encoding.js';
import type { PairLayout } from '../../positional/rope.js';
import { fcParams } from '../helpers/fc.js';
import { assertRefused } from '../helpers/refusal.js';

const DIR = 'tests/fixtures/verify';
interface ManifestEntry { dump: string; config: string; expect: RoPEBugClass | 'ok' | 'unknown'; note: string; detail?: string }
const manifest = (JSON.parse(readFileSync(`${DIR}/manifest.json`, 'utf8')) as { dumps: ManifestEntry[] }).dumps;
const configOf = (name: string): HFRoPEConfig => JSON.parse(readFileSync(`${DIR}/${name}`, 'utf8')) as HFRoPEConfig;

test('manifest: every bug class has a shipped dump, both formats are used, correct dumps too', () => {
  const expects = new Set(manifest.map((e) => e.expect));
  for (const c of ROPE_BUG_CLASSES) assert.ok(expects.has(c), `no fixture for ${c}`);
  assert.ok(expects.has('ok') && expects.has('unknown'));
  assert.ok(manifest.some((e) => e.dump.endsWith('.json')) && manifest.some((e) => e.dump.endsWith('.safetensors')));
});

for (const entry of manifest) {
  test(`fixture ${entry.dump}: ${entry.expect}`, () => {
    const r = verifyRoPEDump(configOf(entry.config), readRoPEDumpFile(`${DIR}/${entry.dump}`));
    if (entry.expect === 'ok') {
      assert.ok(r.ok, `${entry.dump} should conform: residual ${r.residual} > ${r.tolerance}; ${JSON.stringify(r.checks)}`);
      assert.is(r.diagnosis, null);
      assert.ok(r.checks.length > 0 && r.checks.every((c) => c.ok));
      return;
    }
    assert.is(r.ok, false, `${entry.dump} should not conform`);
    assert.ok(r.residual > r.tolerance);
    if (entry.expect === 'unknown') {
      assert.is(r.diagnosis, null, `${entry.dump}: expected no known cause, got ${JSON.stringify(r.diagnosis)}`);
      assert.ok(r.candidates.every((c) => c.residual > r.tolerance));
      return;
    }
    assert.ok(r.diagnosis !== null, `${entry.dump}: no diagnosis; candidates ${JSON.stringify(r.candidates.slice(0, 3))}`);
    assert.is(r.diagnosis.cause, entry.expect, `${entry.dump}: ${r.diagnosis.detail}`);
    if (entry.detail !== undefined) assert.ok(r.diagnosis.detail.includes(entry.detail), `${entry.dump}: '${r.diagnosis.detail}' names the variant '${entry.detail}'`);
    assert.is(r.diagnosis.residualBefore, r.residual);
    assert.ok(r.diagnosis.residualAfter <= r.tolerance);
    assert.is(r.candidates[0]!.cause, entry.expect);
    assert.is(r.candidates[0]!.residual, r.diagnosis.residualAfter);
  });
}

// ── dumps built from ropelab's own encodings ──

/** HF's cos/sin table [T, rd] from angles [T, P]: cat(φ, φ) ('half') or repeat_interleave(φ, 2), times a. */
function tables(angles: Tensor, a: number, layout: PairLayout): { cos: Tensor; sin: Tensor } {
  const [T, P] = angles.shape as [number, number];
  const cos = new Float64Array(T * 2 * P);
  const sin = new Float64Array(T * 2 * P);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < 2 * P; j++) {
      const phi = angles.data[t * P + (layout === 'half' ? j % P : j >> 1)]!;
      cos[t * 2 * P + j] = a * Math.cos(phi);
      sin[t * 2 * P + j] = a * Math.sin(phi);
    }
  }
  return { cos: new Tensor(cos, [T, 2 * P]), sin: new Tensor(sin, [T, 2 * P]) };
}

let seed = 1;
function randomQK(shape: number[]): Tensor {
  const n = shape.reduce((x, y) => x * y, 1);
  return new Tensor(Float64Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1), shape);
}

/** A dump of `config` at `positions` computed by ropelab (ropeFromHFConfig + fromHFConfig), in `layout`. */
function libraryDump(config: HFRoPEConfig, positions: number[], layout: PairLayout = 'half', tablePositions = positions): Record<string, Tensor> {
  const s = fromHFConfig(config, { seqLen: Math.max(...positions) + 1 });
  const enc = ropeFromHFConfig(config, { layout }) as PositionalEncoding & { angles(p: Tensor): Tensor; rotate(x: Tensor, p: Tensor): Tensor };
  const pos = new Tensor(Float64Array.from(tablePositions), [tablePositions.length]);
  const q = randomQK([2, positions.length, s.headDim]);
  const k = randomQK([2, positions.length, s.headDim]);
  return {
    inv_freq: new Tensor(s.invFreq, [s.invFreq.length]),
    position_ids: new Tensor(Float64Array.from(positions), [positions.length]),
    ...tables(enc.angles(pos), s.attentionFactor, layout),
    q, k, q_embed: enc.rotate(q, pos), k_embed: enc.rotate(k, pos),
  };
}

const configArb = fc.record({
  halfHead: fc.integer({ min: 2, max: 32 }),
  baseExp: fc.integer({ min: 30, max: 60 }), // base = 10^(exp/10): 1e3 … 1e6
  kind: fc.constantFrom('default', 'linear', 'yarn', 'llama3'),
  factor: fc.integer({ min: 2, max: 16 }),
  start: fc.integer({ min: 0, max: 200 }),
  T: fc.integer({ min: 2, max: 6 }),
}).map(({ halfHead, baseExp, kind, factor, start, T }): { config: HFRoPEConfig; positions: number[] } => {
  const scaling = kind === 'default' ? {} : kind === 'linear' ? { rope_type: 'linear', factor }
    : kind === 'yarn' ? { rope_type: 'yarn', factor, original_max_position_embeddings: 64 }
    : { rope_type: 'llama3', factor, original_max_position_embeddings: 64, low_freq_factor: 1, high_freq_factor: 4 };
  return {
    config: { head_dim: 2 * halfHead, rope_theta: 10 ** (baseExp / 10), max_position_embeddings: 1024, ...(kind === 'default' ? {} : { rope_scaling: scaling }) },
    positions: Array.from({ length: T }, (_, i) => start + i),
  };
});

test('property: a dump computed by ropelab for any config passes, with every check at float64 error', () => {
  fc.assert(
    fc.property(configArb, fc.constantFrom<PairLayout>('half', 'interleaved'), ({ config, positions }, layout) => {
      const r = verifyRoPEDump(config, libraryDump(config, positions, layout), { layout });
      assert.ok(r.ok, JSON.stringify(r.checks));
      assert.ok(r.residual < 1e-12, `residual ${r.residual}`);
      assert.equal(r.checks.map((c) => c.name).sort(), ['cos', 'inv_freq', 'k_embed', 'q_embed', 'sin']);
    }),
    fcParams(40),
  );
});

test('property: a dump in the other layout is always diagnosed as pair-layout', () => {
  fc.assert(
    fc.property(configArb, fc.constantFrom<PairLayout>('half', 'interleaved'), ({ config, positions }, claimed) => {
      const actual: PairLayout = claimed === 'half' ? 'interleaved' : 'half';
      const r = verifyRoPEDump(config, libraryDump(config, positions, actual), { layout: claimed });
      assert.is(r.ok, false);
      assert.is(r.diagnosis?.cause, 'pair-layout', JSON.stringify(r.candidates.slice(0, 2)));
      assert.ok(r.diagnosis!.residualAfter < 1e-12);
    }),
    fcParams(40),
  );
});

test('property: tables built one position late are diagnosed as position-offset', () => {
  fc.assert(
    fc.property(configArb, fc.constantFrom(1, -1), ({ config, positions }, by) => {
      const shifted = positions.map((p) => p + by);
      const r = verifyRoPEDump(config, libraryDump(config, positions, 'half', shifted));
      assert.is(r.diagnosis?.cause, 'position-offset', JSON.stringify(r.candidates.slice(0, 2)));
      assert.match(r.diagnosis!.detail, by > 0 ? '+1' : '−1');
    }),
    fcParams(30),
  );
});

test('pair-layout variants: tables alone in the other layout, or the rotation alone in the other pairing', () => {
  const config: HFRoPEConfig = { head_dim: 16, rope_theta: 10000 };
  const positions = [2, 3, 4, 5];
  const half = libraryDump(config, positions, 'half');
  const inter = libraryDump(config, positions, 'interleaved');
  const tablesOnly = verifyRoPEDump(config, { ...half, cos: inter['cos']!, sin: inter['sin']! });
  assert.is(tablesOnly.diagnosis?.cause, 'pair-layout');
  assert.match(tablesOnly.diagnosis!.detail, 'cos/sin tables in layout');
  const enc = ropeFromHFConfig(config, { layout: 'interleaved' }) as PositionalEncoding & { rotate(x: Tensor, p: Tensor): Tensor };
  const pos = new Tensor(Float64Array.from(positions), [4]);
  const rotationOnly = verifyRoPEDump(config, { ...half, q_embed: enc.rotate(half['q']!, pos), k_embed: enc.rotate(half['k']!, pos) });
  assert.is(rotationOnly.diagnosis?.cause, 'pair-layout');
  assert.match(rotationOnly.diagnosis!.detail, 'q/k rotated in interleaved pairs');
});

test('p-RoPE (proportional): the exponent over the kept pairs instead of the head is partial-rotary-denominator', () => {
  const config: HFRoPEConfig = { head_dim: 16, rope_parameters: { rope_type: 'proportional', partial_rotary_factor: 0.5, rope_theta: 10000, factor: 2 } };
  // k = int(0.5·16 // 2) = 4 kept pairs: θ_i = 10000^(−2i/16)/2 correct; 10000^(−2i/8)/2 the bug
  const bug = Float64Array.from({ length: 8 }, (_, i) => (i < 4 ? Math.pow(10000, (-2 * i) / 8) / 2 : 0));
  const r = verifyRoPEDump(config, { inv_freq: new Tensor(bug, [8]) });
  assert.is(r.diagnosis?.cause, 'partial-rotary-denominator', JSON.stringify(r.candidates.slice(0, 2)));
  assert.match(r.diagnosis!.detail, 'p-RoPE');
  assert.ok(r.diagnosis!.residualAfter < 1e-15);
});

const yarn: HFRoPEConfig = { head_dim: 16, rope_theta: 10000, max_position_embeddings: 256, rope_scaling: { rope_type: 'yarn', factor: 8, original_max_position_embeddings: 32 } };

test('a bug outside the classes (rotation direction flipped: sin negated) is "no known cause"', () => {
  const dump = libraryDump(yarn, [3, 4, 5, 6]);
  dump['sin'] = dump['sin']!.neg();
  const r = verifyRoPEDump(yarn, dump);
  assert.is(r.ok, false);
  assert.is(r.diagnosis, null);
  assert.ok(r.candidates.length > 0 && r.candidates.every((c) => c.residual > r.tolerance));
  assert.ok(r.candidates.every((c, i) => i === 0 || c.residual >= r.candidates[i - 1]!.residual), 'sorted by residual');
});

test('residuals and checks: maxAbsError is |dump − reference|, scaled by max(1, max|reference|)', () => {
  const dump = libraryDump(yarn, [0, 1, 2]);
  const inv = dump['inv_freq']!.data.slice();
  inv[2] += 0.25;
  const r = verifyRoPEDump(yarn, { inv_freq: new Tensor(inv, [8]) }, { tolerance: 0.1 });
  assert.is(r.checks.length, 1);
  assert.is(r.checks[0]!.name, 'inv_freq');
  assert.equal(r.checks[0]!.shape, [8]);
  assert.ok(Math.abs(r.checks[0]!.maxAbsError - 0.25) < 1e-15);
  assert.is(r.checks[0]!.scale, 1);
  assert.is(r.tolerance, 0.1);
  assert.is(r.ok, false);
  // a q_embed with entries up to |a·q| ≈ 3 is scaled by its own magnitude
  const q = new Tensor(Float64Array.from({ length: 16 }, (_, i) => (i === 0 ? 3 : 0.1)), [1, 16]);
  const good = libraryDump(yarn, [0]);
  const enc = ropeFromHFConfig(yarn) as PositionalEncoding & { rotate(x: Tensor, p: Tensor): Tensor };
  const qe = enc.rotate(q, new Tensor(Float64Array.from([0]), [1]));
  const off = qe.data.slice();
  off[0] += 0.01;
  const r2 = verifyRoPEDump(yarn, { q, q_embed: new Tensor(off, [1, 16]), cos: good['cos']!.reshape([1, 16]) });
  const c = r2.checks.find((x) => x.name === 'q_embed')!;
  assert.ok(Math.abs(c.scale - Math.abs(qe.data[0]!)) < 1e-12 && c.scale > 3);
  assert.ok(Math.abs(r2.residual - 0.01 / c.scale) < 1e-12);
});

test('the default tolerance grows with the largest position (float32 angles), and an explicit one is used as is', () => {
  const near = verifyRoPEDump(yarn, libraryDump(yarn, [0, 1]));
  const far = verifyRoPEDump(yarn, libraryDump(yarn, [4000, 4001]));
  assert.ok(Math.abs(near.tolerance - (1e-5 + 2 ** -21 * 2)) < 1e-15);
  assert.ok(Math.abs(far.tolerance - (1e-5 + 2 ** -21 * 4002)) < 1e-15);
});

test('attention_scaling and cache_position: checked against the config and the positions', () => {
  const dump = libraryDump(yarn, [5, 6, 7]);
  const a = fromHFConfig(yarn).attentionFactor;
  const ok = verifyRoPEDump(yarn, { ...dump, attention_scaling: new Tensor(Float64Array.from([a]), []), cache_position: new Tensor(Float64Array.from([5, 6, 7]), [3]) });
  assert.ok(ok.ok);
  assert.ok(ok.checks.some((c) => c.name === 'position_ids'), 'position_ids is checked when cache_position gives the positions');
  const bad = verifyRoPEDump(yarn, { inv_freq: dump['inv_freq']!, attention_scaling: new Tensor(Float64Array.from([1]), []) });
  assert.is(bad.diagnosis?.cause, 'attention-factor');
  assert.match(bad.diagnosis!.detail, 'missing');
  // a wrong attention_scaling beside correct tables fits no single bug: the dump contradicts itself
  const mixed = verifyRoPEDump(yarn, { ...dump, attention_scaling: new Tensor(Float64Array.from([1]), []) });
  assert.is(mixed.diagnosis, null);
  const late = verifyRoPEDump(yarn, { ...dump, cache_position: new Tensor(Float64Array.from([4, 5, 6]), [3]) });
  assert.is(late.diagnosis?.cause, 'position-offset', 'position_ids one past cache_position');
});

test('errors: typed, naming verifyRoPEDump and the argument', () => {
  const dump = libraryDump(yarn, [0, 1, 2]);
  const OP = 'verifyRoPEDump';
  assertRefused(() => verifyRoPEDump(null as unknown as HFRoPEConfig, dump), DTypeError, OP, { words: ['config'] });
  assertRefused(() => verifyRoPEDump({ head_dim: 16, rope_scaling: { rope_type: 'nope' } }, dump), ValueError, OP, { words: ['rope_type'] });
  assertRefused(() => verifyRoPEDump(yarn, null as unknown as Record<string, Tensor>), DTypeError, OP, { arg: 'dump' });
  assertRefused(() => verifyRoPEDump(yarn, { ...dump, cos_cached: dump['cos']! }), ValueError, OP, { arg: 'dump.cos_cached', words: [...ROPE_DUMP_NAMES] });
  assertRefused(() => verifyRoPEDump(yarn, { ...dump, cos: [[1]] as unknown as Tensor }), DTypeError, OP, { arg: 'dump.cos' });
  assertRefused(() => verifyRoPEDump(yarn, { ...dump, sin: dump['sin']!.mul(NaN) }), ValueError, OP, { arg: 'dump.sin' });
  assertRefused(() => verifyRoPEDump(yarn, { ...dump, cos: dump['cos']!.reshape([3, 2, 8]) }), ShapeError, OP, { arg: 'dump.cos', words: ['[T, 16]'] });
  assertRefused(() => verifyRoPEDump(yarn, { ...dump, inv_freq: new Tensor(new Float64Array(16), [16]) }), ShapeError, OP, { arg: 'dump.inv_freq', words: ['[8]'] });
  assertRefused(() => verifyRoPEDump(yarn, { q_embed: dump['q_embed']! }), ShapeError, OP, { arg: 'dump.q_embed', words: ['q'] });
  assertRefused(() => verifyRoPEDump(yarn, { q: dump['q']! }), ValueError, OP, { arg: 'dump', words: ['nothing to compare'] });
  assertRefused(() => verifyRoPEDump(yarn, { ...dump, rope_deltas: new Tensor(Float64Array.from([1]), [1]) }), ShapeError, OP, { arg: 'dump.rope_deltas', words: ['M-RoPE'] });
  assertRefused(() => verifyRoPEDump(yarn, { ...dump, seq_len: new Tensor(Float64Array.from([2.5]), []) }), ValueError, OP, { arg: 'dump.seq_len' });
  assertRefused(() => verifyRoPEDump(yarn, dump, { layout: 'pairs' as PairLayout }), ValueError, OP, { arg: 'layout' });
  assertRefused(() => verifyRoPEDump(yarn, dump, { tolerance: -1 }), ValueError, OP, { arg: 'tolerance' });
  assertRefused(() => verifyRoPEDump(yarn, dump, { tolerance: NaN }), ValueError, OP, { arg: 'tolerance' });
  assertRefused(() => verifyRoPEDump(yarn, dump, { tol: 1 } as never), ValueError, OP, { words: ['tol'] });
  assertRefused(() => verifyRoPEDump(yarn, dump, null as never), DTypeError, OP, { arg: 'options' });
});

test.run();
