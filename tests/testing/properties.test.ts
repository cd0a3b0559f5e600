/**
 * testing/properties.ts: every checker passes on ropelab's own encodings and fails, with a counterexample in words,
 * on a RoPE with a planted bug (the bugs real ports make: a position-dependent off-by-one, the wrong pair layout,
 * another base, positions numbered within the call, a missing attention factor, a backward with a wrong sign).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { DTypeError, Tensor, ValueError, defineOp, type Tensor as T } from '../../core/index.js';
import { MRoPE, RoPE, applyRotary, fromHFConfig, ropeFromHFConfig, rotaryAngles, type HFRoPEConfig } from '../../positional/index.js';
import {
  assertProperty, checkAngleGradients, checkFrequencyGradients, checkHFConfigAgreement, checkKVCacheDecoding, checkLayoutEquivalence, checkNormPreservation,
  checkReducesToRoPE, checkRelativePositionInvariance, halfLayoutPermutation, hfRoPEConfigArb, PropertyFailure, type PropertyResult, type QKFunction,
} from '../../testing/index.js';
import { FC_SEED } from '../helpers/fc.js';

const seed = FC_SEED;
const rope = new RoPE(8);

/** A 1-D rotation whose positions go through `shift` first (a planted position bug). */
function movedPositions(inner: RoPE, shift: (p: number) => number, which: 'q' | 'k' | 'both' = 'k'): QKFunction {
  const move = (p: T): T => new Tensor(Float64Array.from(p.data, shift), p.shape);
  return (q, k, qp, kp) => ({ q: inner.rotate(q, which === 'k' ? qp : move(qp)), k: inner.rotate(k, which === 'q' ? kp : move(kp)) });
}

function failsWith(result: PropertyResult, ...patterns: RegExp[]): void {
  assert.is(result.pass, false, 'the planted bug is found');
  assert.ok(result.counterexample !== null);
  for (const p of patterns) assert.match(result.message, p);
  assert.throws(() => assertProperty(result), (e: unknown) => e instanceof PropertyFailure && e.message === result.message);
}

test('relative position (1-D): RoPE passes in both layouts, with GQA heads; a key off by one from position 100 on is caught at 100', () => {
  for (const layout of ['half', 'interleaved'] as const) assertProperty(checkRelativePositionInvariance(new RoPE(8, { layout }), { headDim: 8, heads: 4, kvHeads: 2, seed }));
  const r = checkRelativePositionInvariance(movedPositions(rope, (p) => (p >= 100 ? p + 1 : p)), { headDim: 8, seed });
  failsWith(r, /relative-position invariance \(1-D\): FAILED/, /at position 100/, /shifting every position by s = -1/, /q: \[1, 1, 1, 1, 1, 1, 1, 1\]/);
  // the shrunk case is the boundary: one of the two positions is 100 and the shift takes it to 99
  const v = r.counterexample!.values;
  assert.ok(v['query position'] === 100 || v['key position'] === 100, JSON.stringify(v));
  assert.ok((v['difference'] as number) > 0.1);
});

test('relative position (N-D, per-axis shifts): M-RoPE passes on [T, 3] positions; an off-by-one on the height axis alone is caught', () => {
  const m = new MRoPE(16, [2, 3, 3]);
  assertProperty(checkRelativePositionInvariance(m, { headDim: 16, axes: 3, maxPosition: 200, seed, numRuns: 50 }));
  const bug: QKFunction = (q, k, qp, kp) => {
    const moved = new Tensor(Float64Array.from(kp.data, (p, i) => (i % 3 === 1 && p >= 50 ? p + 1 : p)), kp.shape);
    return m.encodeQK(q, k, qp, moved);
  };
  const r = checkRelativePositionInvariance(bug, { headDim: 16, axes: 3, maxPosition: 200, seed });
  failsWith(r, /3 axes, per-axis shifts/, /shifting every position by s = \[-?\d+, -?\d+, -?\d+\] \(per axis\)/);
  // shrinking leaves only the height axis shifted: the other two axes are innocent
  const shift = r.counterexample!.values['shift'] as number[];
  assert.ok(shift[0] === 0 && shift[1] !== 0 && shift[2] === 0, `shift ${shift}`);
});

test('norm preservation: RoPE (and YaRN-style attention factor read from the encoding) passes; a rotation with unequal cos scaling is caught', () => {
  assertProperty(checkNormPreservation(rope, { headDim: 8, seed }));
  assertProperty(checkNormPreservation(new RoPE(8, { attentionFactor: 1.2 }), { headDim: 8, seed }));
  // stretched: the encoding also multiplies by the attention factor, but the checker is told 1
  failsWith(checkNormPreservation(new RoPE(8, { attentionFactor: 1.2 }), { headDim: 8, scale: 1, seed }), /ratio 1\.2/);
  // a planted bug: sin taken at 2φ on the first pair (cos² + sin² ≠ 1)
  const bad: QKFunction = (q, k, qp, kp) => {
    const r = rope.encodeQK(q, k, qp, kp);
    const skew = (x: T): T => {
      const d = x.data.slice();
      for (let i = 0; i < d.length; i += 8) d[i] = d[i]! * 1.01;
      return new Tensor(d, x.shape);
    };
    return { q: skew(r.q), k: skew(r.k) };
  };
  failsWith(checkNormPreservation(bad, { headDim: 8, seed }), /norm preservation: FAILED/, /has length .* before the encoding and .* after it/);
});

test('layout equivalence: half and interleaved RoPE agree under π; interleaved pairing implemented as half is caught', () => {
  assert.equal(halfLayoutPermutation(8), [0, 2, 4, 6, 1, 3, 5, 7]);
  assert.equal(halfLayoutPermutation(6, 4), [0, 2, 1, 3, 4, 5]);
  assertProperty(checkLayoutEquivalence({ half: rope, interleaved: new RoPE(8, { layout: 'interleaved' }) }, { headDim: 8, seed }));
  assertProperty(checkLayoutEquivalence({ half: new RoPE(8, { rotaryDim: 4 }), interleaved: new RoPE(8, { layout: 'interleaved', rotaryDim: 4 }) }, { headDim: 8, rotaryDim: 4, seed }));
  const r = checkLayoutEquivalence({ half: rope, interleaved: rope }, { headDim: 8, seed });
  failsWith(r, /half-layout channel \d \(interleaved channel \d\)/, /π: \[0, 2, 4, 6, 1, 3, 5, 7\]/);
});

test('identity reduction: RoPE (and M-RoPE on text positions) equals plain RoPE; another base or layout is caught', () => {
  assertProperty(checkReducesToRoPE(rope, { headDim: 8, seed }));
  assertProperty(checkReducesToRoPE(new RoPE(8, { layout: 'interleaved', base: 500 }), { headDim: 8, layout: 'interleaved', base: 500, seed }));
  assertProperty(checkReducesToRoPE(new MRoPE(16, [2, 3, 3]), { headDim: 16, axes: 3, base: 1e6, seed, numRuns: 40 })); // Qwen2-VL's base
  failsWith(checkReducesToRoPE(new RoPE(8, { base: 500 }), { headDim: 8, seed }), /plain RoPE \(base 10000, half layout\) gives/, /channel \d/);
  failsWith(checkReducesToRoPE(rope, { headDim: 8, layout: 'interleaved', seed }), /interleaved layout/);
});

test('HF config agreement: ropeFromHFConfig passes on every fixture config and on random configs of every rope_type; a YaRN without its attention factor is caught', () => {
  const dir = join('tests', 'fixtures', 'hf_configs');
  for (const name of readdirSync(dir).filter((n) => !n.includes('.'))) {
    const config = JSON.parse(readFileSync(join(dir, name, 'config.json'), 'utf8')) as HFRoPEConfig;
    assertProperty(checkHFConfigAgreement(ropeFromHFConfig(config), config, { seed, numRuns: 10, maxTokens: 2 }));
  }
  for (const config of fc.sample(hfRoPEConfigArb({ headDims: [8, 16] }), { seed, numRuns: 24 })) {
    assertProperty(checkHFConfigAgreement(ropeFromHFConfig(config), config, { seed, numRuns: 8, layout: 'half' }));
  }
  const yarn: HFRoPEConfig = { head_dim: 16, rope_theta: 10000, max_position_embeddings: 8192, rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 2048 } };
  const s = fromHFConfig(yarn);
  const noFactor = new RoPE(16, { invFreq: s.invFreq }); // the table, but attention_scaling forgotten
  failsWith(checkHFConfigAgreement(noFactor, yarn, { seed }), /rope_type 'yarn'/, /ropelab's reference \(yarn, half layout\) gives/);
  const wrongTable = new RoPE(16, { attentionFactor: s.attentionFactor }); // plain RoPE's table with YaRN's factor
  failsWith(checkHFConfigAgreement(wrongTable, yarn, { seed }), /channel/);
});

test('KV-cache decoding: RoPE passes (GQA too); a rotation that numbers tokens within its call is caught', () => {
  assertProperty(checkKVCacheDecoding(rope, { headDim: 8, seed }));
  assertProperty(checkKVCacheDecoding(new RoPE(8, { layout: 'interleaved' }), { headDim: 8, heads: 2, kvHeads: 1, seed }));
  const arange: QKFunction = (q, k) => {
    const ids = (n: number): T => new Tensor(Float64Array.from({ length: n }, (_, i) => i), [n]);
    return { q: rope.rotate(q, ids(q.shape[2]!)), k: rope.rotate(k, ids(k.shape[2]!)) };
  };
  failsWith(checkKVCacheDecoding(arange, { headDim: 8, seed }), /decoding token \d \(position \d+\) in a call of its own/, /the full forward gives/);
});

/** applyRotary re-implemented as a custom op whose backward rotates by +φ instead of −φ (a planted sign bug). */
const wrongBackward = defineOp<{ angles: T }>({
  name: 'badRotary',
  forward: (x, angles) => ({ output: applyRotary(x!, angles!, { layout: 'half' }), saved: { angles: angles! } }),
  backward: (g, s) => [applyRotary(g, s.angles, { layout: 'half' }), null],
});

test('gradient checks: applyRotary and rotaryAngles pass; a backward with the wrong sign, or a missing ∂/∂θ, is caught', () => {
  assertProperty(checkAngleGradients((x, a) => applyRotary(x, a, { layout: 'half' }), { headDim: 6, seed }));
  assertProperty(checkAngleGradients((x, a) => applyRotary(x, a, { layout: 'interleaved', rotaryDim: 4 }), { headDim: 6, pairs: 2, seed }));
  assertProperty(checkFrequencyGradients((p, f) => rotaryAngles(p, f), { pairs: 3, positionGradients: true, seed }));
  failsWith(checkAngleGradients((x, a) => wrongBackward(x, a), { headDim: 4, seed }), /gradient with respect to (x|angles) is wrong/, /angles: \[/);
  // θ treated as a constant: the angle table is recomputed from plain numbers, so no gradient reaches invFreq
  const detached = (p: T, f: T): T => rotaryAngles(p, Array.from(f.data)).add(f.mul(0));
  failsWith(checkFrequencyGradients(detached, { pairs: 2, seed }), /gradient with respect to invFreq is wrong/);
});

test('a subject that throws or answers with the wrong shape is reported as the counterexample, not thrown', () => {
  const throws: QKFunction = () => {
    throw new Error('boom');
  };
  failsWith(checkNormPreservation(throws, { headDim: 8, seed }), /the function under test threw Error: boom/);
  const short: QKFunction = (q, k) => ({ q: new Tensor(new Float64Array(4), [1, 1, 1, 4]), k });
  failsWith(checkNormPreservation(short, { headDim: 8, seed }), /returned q of shape \[1, 1, 1, 4\] for an input of shape \[1, 1, \d, 8\]/);
});

test('argument errors are typed and name the checker and the argument', () => {
  const cases: Array<[() => unknown, new (...a: never[]) => Error, RegExp]> = [
    [() => checkRelativePositionInvariance(42 as never, { headDim: 8 }), DTypeError, /^checkRelativePositionInvariance: subject must be a PositionalEncoding or a function/],
    [() => checkNormPreservation(rope, { headDim: 0 }), ValueError, /^checkNormPreservation: options\.headDim must be an integer ≥ 1/],
    [() => checkNormPreservation(rope, { headDim: 8, heads: 3, kvHeads: 2 }), ValueError, /^checkNormPreservation: options\.heads=3 must be a multiple of options\.kvHeads=2/],
    [() => checkNormPreservation(rope, { headDim: 8, numRuns: 0 }), ValueError, /^checkNormPreservation: options\.numRuns/],
    [() => checkNormPreservation(rope, { headDim: 8, bogus: 1 } as never), ValueError, /^checkNormPreservation: .*bogus/],
    [() => checkLayoutEquivalence(null as never, { headDim: 8 }), DTypeError, /^checkLayoutEquivalence: subjects must be \{ half, interleaved \}/],
    [() => checkLayoutEquivalence({ half: rope, interleaved: rope }, { headDim: 8, rotaryDim: 3 }), ValueError, /^checkLayoutEquivalence: .*rotaryDim=3 must be even/],
    [() => checkReducesToRoPE(rope, { headDim: 8, layout: 'pairs' as never }), ValueError, /^checkReducesToRoPE: options\.layout/],
    [() => checkHFConfigAgreement(rope, { rope_scaling: { rope_type: 'yarn' } } as HFRoPEConfig), ValueError, /^checkHFConfigAgreement: /],
    [() => checkKVCacheDecoding(rope, { headDim: 8, maxTokens: 1 }), ValueError, /^checkKVCacheDecoding: options\.maxTokens=1 must be ≥ 2/],
    [() => checkAngleGradients('f' as never, { headDim: 4 }), DTypeError, /^checkAngleGradients: rotate must be a function/],
    [() => checkFrequencyGradients((p) => p, { pairs: 0 }), ValueError, /^checkFrequencyGradients: options\.pairs/],
    [() => assertProperty({} as never), DTypeError, /^assertProperty: result must be/],
    [() => halfLayoutPermutation(8, 10), ValueError, /^halfLayoutPermutation: rotaryDim/],
  ];
  for (const [call, E, re] of cases) assert.throws(call, (e: unknown) => e instanceof E && re.test((e as Error).message), re.source);
});

test.run();
