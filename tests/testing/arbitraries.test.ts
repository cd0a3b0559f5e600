/**
 * testing/arbitraries.ts and testing/dump.ts: every drawn value is what the arbitrary promises (shapes, ranges,
 * packed documents restarting at 0, RoPE settings that build, HF configs that transformers' rules accept), and a
 * rotation dumped from outside JavaScript (here: ropelab's own, through safetensors and JSON) is checked like a function.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { DTypeError, ShapeError, Tensor, ValueError } from '../../core/index.js';
import { parseSafetensors, serializeSafetensors } from '../../nn/index.js';
import { RoPE, fromHFConfig, llama3InvFreq, type PairLayout } from '../../positional/index.js';
import {
  HF_ARB_ROPE_TYPES, assertProperty, checkKVCacheDecoding, checkNormPreservation, checkRelativePositionInvariance, hfRoPEConfigArb,
  multiAxisPositionsArb, packedPositionsArb, positionsArb, ropeConfigArb, rotationFromDump, tensorArb,
} from '../../testing/index.js';
import { FC_SEED, fcParams } from '../helpers/fc.js';

const seed = FC_SEED;

test('tensorArb: the shape, dtype and value range asked for, on the grid; shapes may be drawn too', () => {
  fc.assert(fc.property(tensorArb({ shape: [2, 3], min: -0.5, max: 2, steps: 10 }), (t) => {
    assert.equal(t.shape, [2, 3]);
    assert.is(t.dtype, 'float64');
    for (const v of t.data) assert.ok(v >= -0.5 && v <= 2 && Math.abs(v / 0.25 - Math.round(v / 0.25)) < 1e-9, `${v}`);
  }), fcParams(30));
  const drawn = fc.sample(tensorArb({ shape: fc.constantFrom([1], [4, 2]), dtype: 'float32', requiresGrad: true }), { seed, numRuns: 20 });
  assert.ok(drawn.every((t) => t.dtype === 'float32' && t.requiresGrad && (t.size === 1 || t.size === 8)));
  assert.ok(new Set(drawn.map((t) => t.size)).size === 2, 'both shapes drawn');
  assert.throws(() => tensorArb({ shape: [2, -1] }), (e: unknown) => e instanceof ValueError && /^tensorArb: options\.shape\[1\]/.test((e as Error).message));
  assert.throws(() => tensorArb({ shape: [2], min: 1, max: 0 }), (e: unknown) => e instanceof ValueError && /^tensorArb: options\.max/.test((e as Error).message));
});

test('positionsArb / multiAxisPositionsArb: integer positions in range, [T] and [T, A]', () => {
  fc.assert(fc.property(positionsArb({ minLength: 2, maxLength: 5, min: 3, max: 9 }), (p) => {
    assert.ok(p.ndim === 1 && p.size >= 2 && p.size <= 5);
    for (const v of p.data) assert.ok(Number.isInteger(v) && v >= 3 && v <= 9);
  }), fcParams(30));
  fc.assert(fc.property(multiAxisPositionsArb({ axes: 3, maxLength: 4, max: 7 }), (p) => {
    assert.ok(p.ndim === 2 && p.shape[1] === 3 && p.shape[0]! >= 1 && p.shape[0]! <= 4);
    for (const v of p.data) assert.ok(Number.isInteger(v) && v >= 0 && v <= 7);
  }), fcParams(30));
  assert.throws(() => positionsArb({ minLength: 3, maxLength: 2 }), (e: unknown) => e instanceof ValueError && /^positionsArb: options\.maxLength/.test((e as Error).message));
  assert.throws(() => multiAxisPositionsArb({} as never), (e: unknown) => e instanceof DTypeError && /^multiAxisPositionsArb: options\.axes/.test((e as Error).message));
});

test('packedPositionsArb: every document restarts at 0 and counts up; ids and lengths agree with the positions', () => {
  fc.assert(fc.property(packedPositionsArb({ maxDocuments: 3, maxDocumentLength: 4 }), ({ positions, documentIds, lengths }) => {
    assert.is(positions.size, lengths.reduce((a, b) => a + b, 0));
    assert.ok(lengths.length >= 1 && lengths.length <= 3 && lengths.every((n) => n >= 1 && n <= 4));
    for (let t = 0; t < positions.size; t++) {
      const newDoc = t === 0 || documentIds[t] !== documentIds[t - 1];
      assert.is(positions.data[t], newDoc ? 0 : positions.data[t - 1]! + 1, `token ${t}`);
    }
  }), fcParams(40));
  const [sample] = fc.sample(packedPositionsArb({ maxDocuments: 3 }).filter((p) => p.lengths.length > 1), { seed, numRuns: 1 });
  assert.ok(sample !== undefined && sample.positions.data[sample.lengths[0]!] === 0, 'the second document starts at 0');
  assert.throws(() => packedPositionsArb({ maxDocuments: 0 }), (e: unknown) => e instanceof ValueError && /^packedPositionsArb: options\.maxDocuments/.test((e as Error).message));
});

test('ropeConfigArb: every drawn setting builds a RoPE with its rule\'s table, and that RoPE passes the invariants', () => {
  const drawn = fc.sample(ropeConfigArb({ headDims: [8, 16], partialRotary: true }), { seed, numRuns: 40 });
  assert.equal(new Set(drawn.map((c) => c.scaling)).size, 5, 'every scaling drawn');
  for (const c of drawn) {
    const r = new RoPE(c.headDim, c.options);
    assert.ok(c.rotaryDim % 2 === 0 && c.rotaryDim <= c.headDim && r.rotaryDim === c.rotaryDim);
    assert.is(c.options.layout, c.layout);
    if (c.scaling === 'llama3') assert.equal(Array.from(r.invFreq), Array.from(llama3InvFreq({ dim: c.rotaryDim, base: c.base, factor: c.factor, originalMaxPositions: c.originalMaxPositions! })));
    if (c.scaling === 'none') assert.is(c.factor, 1);
    else assert.ok(c.factor >= 1);
  }
  for (const c of drawn.slice(0, 6)) {
    const r = new RoPE(c.headDim, c.options);
    assertProperty(checkRelativePositionInvariance(r, { headDim: c.headDim, seed, numRuns: 10 }));
    assertProperty(checkNormPreservation(r, { headDim: c.headDim, seed, numRuns: 10 }));
  }
  assert.throws(() => ropeConfigArb({ headDims: [7] }), (e: unknown) => e instanceof ValueError && /^ropeConfigArb: options\.headDims\[0\]=7 must be even/.test((e as Error).message));
  assert.throws(() => ropeConfigArb({ scalings: [] }), (e: unknown) => e instanceof ValueError && /^ropeConfigArb: options\.scalings must be a non-empty array/.test((e as Error).message));
});

test('hfRoPEConfigArb: fromHFConfig accepts every drawn config strictly (no ignored key), with the drawn rope_type; all six types appear', () => {
  const seen = new Set<string>();
  fc.assert(fc.property(hfRoPEConfigArb(), (config) => {
    const s = fromHFConfig(config, { strict: true });
    seen.add(s.ropeType);
    const dict = config.rope_scaling;
    assert.is(s.ropeType, dict?.rope_type ?? 'default');
    assert.ok(s.rotaryDim % 2 === 0 && s.rotaryDim > 0 && s.invFreq.length === s.rotaryDim / 2);
    assert.ok(s.invFreq.every((v) => v > 0 && Number.isFinite(v)) && s.attentionFactor > 0);
  }), fcParams(120));
  assert.equal([...seen].sort(), [...HF_ARB_ROPE_TYPES].sort());
  const only = fc.sample(hfRoPEConfigArb({ ropeTypes: ['longrope'], headDims: [8] }), { seed, numRuns: 5 });
  assert.ok(only.every((c) => c.rope_scaling?.rope_type === 'longrope' && c.rope_scaling.short_factor!.length === 4 * ((c['partial_rotary_factor'] as number | undefined) ?? 1)));
  assert.throws(() => hfRoPEConfigArb({ ropeTypes: ['su' as never] }), (e: unknown) => e instanceof ValueError && /^hfRoPEConfigArb: options\.ropeTypes\[0\]/.test((e as Error).message));
});

// ── rotationFromDump ──

/** What a PyTorch user dumps: the rotation applied to each unit vector at positions 0..T−1 → [d, T, d]. */
function dumpOf(d: number, T: number, rotate: (x: Tensor, p: Tensor) => Tensor): { position_ids: Tensor; basis_embed: Tensor } {
  const basis = new Float64Array(d * T * d);
  for (let j = 0; j < d; j++) for (let t = 0; t < T; t++) basis[(j * T + t) * d + j] = 1;
  const positions = new Tensor(Float64Array.from({ length: T }, (_, i) => i), [T]);
  return { position_ids: positions, basis_embed: rotate(new Tensor(basis, [d, T, d]), positions) };
}

test('rotationFromDump: a dumped RoPE (through safetensors and through JSON) passes; a dumped off-by-one is caught; undumped positions are reported', () => {
  for (const layout of ['half', 'interleaved'] as PairLayout[]) {
    const rope = new RoPE(8, { layout });
    const raw = dumpOf(8, 40, (x, p) => rope.rotate(x, p));
    const viaSafetensors = parseSafetensors(serializeSafetensors(raw)).tensors;
    const viaJson = JSON.parse(JSON.stringify({ position_ids: raw.position_ids.toArray(), basis_embed: raw.basis_embed.toArray() })) as Record<string, number[]>;
    for (const dump of [viaSafetensors, viaJson]) {
      const r = rotationFromDump(dump);
      assert.equal([r.headDim, r.axes, r.maxPosition], [8, undefined, 39]);
      assertProperty(checkRelativePositionInvariance(r.subject, { headDim: r.headDim, maxPosition: r.maxPosition, seed, numRuns: 30 }));
      assertProperty(checkKVCacheDecoding(r.subject, { headDim: r.headDim, maxPosition: r.maxPosition, seed, numRuns: 20 }));
    }
  }
  const rope = new RoPE(8);
  const buggy = rotationFromDump(dumpOf(8, 40, (x, p) => rope.rotate(x, new Tensor(Float64Array.from(p.data, (m) => (m >= 20 ? m + 1 : m)), p.shape))));
  const r = checkRelativePositionInvariance(buggy.subject, { headDim: 8, maxPosition: buggy.maxPosition, seed });
  assert.is(r.pass, false);
  assert.match(r.message, /at position (19|20)/);
  const tooFar = checkRelativePositionInvariance(buggy.subject, { headDim: 8, maxPosition: 100, seed });
  assert.match(tooFar.message, /the function under test threw ValueError: rotationFromDump: position \d+ was not dumped/);
});

test('rotationFromDump: q and k dumped apart, multi-axis positions; malformed dumps are typed errors', () => {
  const rope = new RoPE(4);
  const q = dumpOf(4, 6, (x, p) => rope.rotate(x, p));
  const grid = new Tensor(Float64Array.from([0, 0, 0, 1, 1, 0, 1, 1]), [4, 2]);
  const two = rotationFromDump({ position_ids: grid, q_basis_embed: new Tensor(new Float64Array(4 * 4 * 4), [4, 4, 4]), k_basis_embed: new Tensor(new Float64Array(64), [4, 4, 4]) });
  assert.equal([two.axes, two.maxPosition], [2, 1]);
  const errors: Array<[unknown, new (...a: never[]) => Error, RegExp]> = [
    [null, DTypeError, /^rotationFromDump: dump must be an object/],
    [{ ...q, cos: q.basis_embed }, ValueError, /^rotationFromDump: dump has an unknown tensor 'cos'/],
    [{ basis_embed: q.basis_embed }, ValueError, /^rotationFromDump: dump needs position_ids/],
    [{ position_ids: q.position_ids }, ValueError, /^rotationFromDump: dump needs basis_embed/],
    [{ position_ids: new Tensor(Float64Array.from([0, 1, 2]), [3]), basis_embed: q.basis_embed }, ShapeError, /^rotationFromDump: dump\.basis_embed=\[4, 6, 4\] must be \[d, T, d\] = \[4, 3, 4\]/],
    [{ position_ids: new Tensor(Float64Array.from([1, 2, 3, 4, 5, 6]), [6]), basis_embed: q.basis_embed }, ValueError, /^rotationFromDump: dump\.position_ids must include position 0/],
    [{ position_ids: q.position_ids, basis_embed: 'x' }, DTypeError, /^rotationFromDump: dump\.basis_embed must be a Tensor or nested arrays/],
  ];
  for (const [dump, E, re] of errors) assert.throws(() => rotationFromDump(dump as never), (e: unknown) => e instanceof E && re.test((e as Error).message), re.source);
});

test.run();
