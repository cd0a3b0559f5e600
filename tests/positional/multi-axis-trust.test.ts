/**
 * Trust (issue #10) for the multi-axis encodings (RoPE-ViT, M-RoPE, VideoRoPE, VRoPE, HoPE, FLUX): each bad input is
 * refused at the entry with a typed error that starts with the name of what the user called — null or non-object
 * options and null option fields (never read as "use the default"), sizes too large for one tensor (refused before
 * anything is allocated, not a RangeError), wrong JS types (not a TypeError from inside), non-finite ids, and errors
 * of inner helpers (ropeVitGrid, allocateFrequencies, multiAxisAngles, fluxFrequencies, fluxShiftImageIds, FluxRoPE)
 * re-named for the caller. What stays valid: fractional decode deltas, non-finite prefix rows that are ignored.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertRefused } from '../helpers/refusal.js';
import { DTypeError, Generator, ShapeError, Tensor, ValueError, randn } from '../../core/index.js';
import {
  FluxRoPE, HoPE, MRoPE, RoPEAxial, RoPEMixed, VRoPE, VideoRoPE, mropePositions, fluxFrequencies, fluxLatentGrid, fluxPositions, fluxShiftImageIds,
  freeFluxProbe, hopeAngles, hopeFrequencies, hopePositions, mropeDecodePositions, mropeFrequencies, mropePositionsTensor, ropeVitAxialAngles,
  ropeVitAxialFrequencies, ropeVitGrid, ropeVitInvFreq, ropeVitMixedAngles, ropeVitMixedFrequencies, hopeTemporalScale, mropeTokenCount,
  videoRopeFrequencies, videoRopePositions, vropeFrequencies, vropePairPositions, vropePositions, type MRoPESegment,
} from '../../positional/index.js';

type ErrorClass = new (...a: never[]) => Error;

/** fn is refused with `type`, its message starting with `${op}: ` and mentioning every word. */
const throwsTyped = (fn: () => unknown, type: ErrorClass, op: string, words: readonly string[] = []): void => assertRefused(fn, type, op, { words });

const f64 = (values: number[], shape: number[]): Tensor => new Tensor(Float64Array.from(values), shape);
const segments = (): MRoPESegment[] => [{ type: 'text', length: 2 }, { type: 'image', grid: [1, 4, 4] }, { type: 'text', length: 1 }];
const axes3 = (): Tensor => f64([0, 0, 0, 1, 1, 1, 2, 1, 2], [3, 3]);
const grid2 = (): Tensor => f64([0, 0, 1, 0, 0, 1], [3, 2]);
const qk = (d = 8): Tensor => randn([1, 2, 3, d], { dtype: 'float64', generator: new Generator(3) });
const BIG = 2 ** 40;
const TOO_BIG = 'more than one tensor can hold';
/** An object standing in for a value of the wrong type. */
const wrong = <T>(v: unknown): T => v as T;

test('null or non-object options, and null option fields, are refused — not read as the defaults', () => {
  for (const bad of [null, 42, 'abc', true, []]) {
    throwsTyped(() => new MRoPE(8, [2, 1, 1], wrong(bad)), DTypeError, 'MRoPE', ['options']);
    throwsTyped(() => new VideoRoPE(8, [2, 1, 1], wrong(bad)), DTypeError, 'VideoRoPE', ['options']);
    throwsTyped(() => new HoPE(8, [2, 1, 1], wrong(bad)), DTypeError, 'HoPE', ['options']);
    throwsTyped(() => new VRoPE(8, wrong(bad)), DTypeError, 'VRoPE', ['options']);
    throwsTyped(() => new FluxRoPE([2, 2, 4], wrong(bad)), DTypeError, 'FluxRoPE', ['options']);
    throwsTyped(() => new RoPEAxial(8, wrong(bad)), DTypeError, 'RoPEAxial', ['options']);
    throwsTyped(() => new RoPEMixed(2, 8, wrong(bad)), DTypeError, 'RoPEMixed', ['options']);
    throwsTyped(() => ropeVitMixedFrequencies(2, 8, wrong(bad)), DTypeError, 'ropeVitMixedFrequencies', ['options']);
    throwsTyped(() => mropeFrequencies(8, [2, 1, 1], wrong(bad)), DTypeError, 'mropeFrequencies', ['options']);
    throwsTyped(() => videoRopeFrequencies(8, [2, 1, 1], wrong(bad)), DTypeError, 'videoRopeFrequencies', ['options']);
    throwsTyped(() => hopeFrequencies(8, [2, 1, 1], wrong(bad)), DTypeError, 'hopeFrequencies', ['options']);
    throwsTyped(() => mropePositions(segments(), wrong(bad)), DTypeError, 'mropePositions', ['options']);
    throwsTyped(() => mropeTokenCount(segments(), wrong(bad)), DTypeError, 'mropeTokenCount', ['options']);
    throwsTyped(() => videoRopePositions(segments(), wrong(bad)), DTypeError, 'videoRopePositions', ['options']);
    throwsTyped(() => vropePositions(segments(), wrong(bad)), DTypeError, 'vropePositions', ['options']);
  }
  // options that must be given: undefined is refused as null is, under the function's own name
  throwsTyped(() => ropeVitAxialAngles(wrong(undefined)), DTypeError, 'ropeVitAxialAngles', ['options']);
  throwsTyped(() => ropeVitMixedAngles(wrong(null)), DTypeError, 'ropeVitMixedAngles', ['options']);
  throwsTyped(() => hopeAngles(axes3(), wrong(undefined)), DTypeError, 'hopeAngles', ['options']);
  throwsTyped(() => fluxPositions(wrong(null)), DTypeError, 'fluxPositions', ['options']);
  throwsTyped(() => freeFluxProbe(new FluxRoPE([2, 2, 4]), qk(), qk(), fluxPositions({ textLength: 1, height: 1, width: 2 }), wrong(undefined)), DTypeError, 'freeFluxProbe', ['options']);
  // a field set to null is a mistake, not a request for the default
  throwsTyped(() => new MRoPE(8, [2, 1, 1], { layout: wrong(null) }), ValueError, 'MRoPE', ['layout']);
  throwsTyped(() => new VideoRoPE(8, [2, 1, 1], { attentionFactor: wrong(null) }), DTypeError, 'VideoRoPE', ['attentionFactor']);
  throwsTyped(() => new VRoPE(8, { rotaryDim: wrong(null) }), DTypeError, 'VRoPE', ['rotaryDim']);
  throwsTyped(() => new FluxRoPE([2, 2, 4], { theta: wrong(null) }), DTypeError, 'FluxRoPE', ['theta']);
  throwsTyped(() => new RoPEAxial(8, { prefixTokens: wrong(null) }), DTypeError, 'RoPEAxial', ['prefixTokens']);
  throwsTyped(() => new RoPEMixed(2, 8, { generator: wrong(null) }), DTypeError, 'RoPEMixed', ['generator']);
  throwsTyped(() => ropeVitMixedFrequencies(2, 8, { rotate: wrong(null) }), DTypeError, 'ropeVitMixedFrequencies', ['rotate']);
  throwsTyped(() => ropeVitMixedFrequencies(2, 8, { dtype: wrong('float16') }), ValueError, 'ropeVitMixedFrequencies', ['dtype']);
  throwsTyped(() => ropeVitGrid(3, 2, wrong(null)), ValueError, 'ropeVitGrid', ['dtype']);
  throwsTyped(() => mropePositions(segments(), { spatialMergeSize: wrong(null) }), DTypeError, 'mropePositions', ['spatialMergeSize']);
  throwsTyped(() => videoRopePositions(segments(), { temporalSpacing: wrong(null) }), DTypeError, 'videoRopePositions', ['temporalSpacing']);
  throwsTyped(() => hopePositions(segments(), { temporalScale: 0.75, spatialMergeSize: wrong(null) }), DTypeError, 'hopePositions', ['spatialMergeSize']);
  throwsTyped(() => vropePositions(segments(), { start: 1.5 }), ValueError, 'vropePositions', ['start']);
  // a misspelt option is reported, not ignored
  throwsTyped(() => new MRoPE(8, [2, 1, 1], wrong({ bsae: 10 })), ValueError, 'MRoPE', ['bsae']);
  throwsTyped(() => new RoPEAxial(8, wrong({ prefix: 1 })), ValueError, 'RoPEAxial', ['prefix']);
});

test('sizes too large for one tensor are refused before anything is allocated (a typed error, not a RangeError)', () => {
  throwsTyped(() => ropeVitGrid(BIG, 2), ValueError, 'ropeVitGrid', [TOO_BIG]);
  throwsTyped(() => ropeVitInvFreq(BIG), ValueError, 'ropeVitInvFreq', [TOO_BIG]);
  throwsTyped(() => ropeVitAxialAngles({ dim: 8, gridW: 3, gridH: BIG }), ValueError, 'ropeVitAxialAngles', [TOO_BIG]);
  throwsTyped(() => ropeVitMixedFrequencies(BIG, 8), ValueError, 'ropeVitMixedFrequencies', [TOO_BIG]);
  throwsTyped(() => new RoPEMixed(2 ** 20, 2 ** 20), ValueError, 'RoPEMixed', [TOO_BIG]); // each fits, the table does not
  throwsTyped(() => new RoPEAxial(8).angles(2 ** 16, 2 ** 16), ValueError, 'RoPEAxial', [TOO_BIG]);
  throwsTyped(() => new VRoPE(BIG), ValueError, 'VRoPE', [TOO_BIG]);
  throwsTyped(() => mropeDecodePositions(0, 0, BIG), ValueError, 'mropeDecodePositions', [TOO_BIG]);
  throwsTyped(() => vropePairPositions(f64([0, 1, 2, 3], [1, 4]), BIG), ValueError, 'vropePairPositions', [TOO_BIG]);
  throwsTyped(() => fluxPositions({ textLength: 1, height: 2 ** 20, width: 2 ** 20 }), ValueError, 'fluxPositions', [TOO_BIG]);
  const huge: MRoPESegment[] = [{ type: 'image', grid: [1, 2 ** 20, 2 ** 20] }];
  throwsTyped(() => mropePositions(huge, { spatialMergeSize: 1 }), ValueError, 'mropePositions', [TOO_BIG]);
  throwsTyped(() => videoRopePositions(huge, { spatialMergeSize: 1 }), ValueError, 'videoRopePositions', [TOO_BIG]);
  throwsTyped(() => hopePositions(huge, { spatialMergeSize: 1, temporalScale: 1 }), ValueError, 'hopePositions', [TOO_BIG]);
  throwsTyped(() => vropePositions(huge, { spatialMergeSize: 1 }), ValueError, 'vropePositions', [TOO_BIG]);
  // counting allocates nothing: the same segments are counted
  assert.is(mropeTokenCount(huge, { spatialMergeSize: 1 }), 2 ** 40);
});

test('wrong JS types give DTypeErrors at the entry, not TypeErrors from inside', () => {
  throwsTyped(() => mropePositionsTensor(wrong(null)), DTypeError, 'mropePositionsTensor', ['ids']);
  throwsTyped(() => mropePositionsTensor(wrong([[0], 'ab', [1]])), DTypeError, 'mropePositionsTensor', ['ids[1]']);
  throwsTyped(() => videoRopeFrequencies(wrong({}), [2, 1, 1]), DTypeError, 'videoRopeFrequencies', ['headDim']);
  throwsTyped(() => new VRoPE(wrong({ a: 1 })), DTypeError, 'VRoPE', ['headDim']);
  throwsTyped(() => fluxLatentGrid(wrong({}), 32), DTypeError, 'fluxLatentGrid', ['pixelHeight']);
  throwsTyped(() => vropePairPositions(wrong(null), 4), DTypeError, 'vropePairPositions', ['positions']);
  throwsTyped(() => vropeFrequencies(wrong(undefined)), DTypeError, 'vropeFrequencies', ['invFreq']);
  throwsTyped(() => hopeAngles(wrong(null), { headDim: 8, mropeSection: [2, 1, 1] }), DTypeError, 'hopeAngles', ['positions']);
  throwsTyped(() => hopeTemporalScale(wrong(42)), DTypeError, 'hopeTemporalScale', ['generator']);
  throwsTyped(() => fluxShiftImageIds(wrong(null), 0, [1, 1]), DTypeError, 'fluxShiftImageIds', ['ids']);
  throwsTyped(() => fluxShiftImageIds(fluxPositions({ textLength: 1, height: 1, width: 2 }), 1, wrong(null)), DTypeError, 'fluxShiftImageIds', ['shift']);
  throwsTyped(() => freeFluxProbe(wrong('rope'), qk(), qk(), fluxPositions({ textLength: 1, height: 1, width: 2 }), { textLength: 1, keys: 'unrotated' }), DTypeError, 'freeFluxProbe', ['rope']);
  throwsTyped(() => ropeVitMixedFrequencies(2, 8, { generator: wrong('seed') }), DTypeError, 'ropeVitMixedFrequencies', ['generator']);
  const axial = new RoPEAxial(8);
  throwsTyped(() => axial.rotate(qk(), wrong(null)), DTypeError, 'RoPEAxial', ['positions']);
  throwsTyped(() => axial.encodeQK(qk(), qk(), grid2(), wrong(undefined)), DTypeError, 'RoPEAxial', ['kPositions']);
  throwsTyped(() => new RoPEMixed(2, 8).encodeQK(qk(), qk(), wrong(undefined), grid2()), DTypeError, 'RoPEMixed', ['qPositions']);
});

test('non-finite ids are refused, not copied into the result', () => {
  for (const bad of [Number.NaN, Infinity]) {
    throwsTyped(() => vropePairPositions(f64([bad, 1, 2, 3], [1, 4]), 4), ValueError, 'vropePairPositions', ['positions']);
    const ids = fluxPositions({ textLength: 1, height: 1, width: 2 });
    ids.data[4] = bad;
    throwsTyped(() => fluxShiftImageIds(ids, 1, [1, 1]), ValueError, 'fluxShiftImageIds', ['ids']);
    throwsTyped(() => mropePositionsTensor([[0, bad], [0, 1], [0, 1]]), ValueError, 'mropePositionsTensor', ['ids[0]']);
    throwsTyped(() => ropeVitMixedFrequencies(2, 8, { orientations: [0, bad] }), ValueError, 'ropeVitMixedFrequencies', ['orientations']);
  }
});

test('errors of inner helpers are named after the function or class the user called', () => {
  throwsTyped(() => ropeVitAxialAngles({ dim: 8, gridW: 0, gridH: 2 }), ValueError, 'ropeVitAxialAngles', ['gridW']); // not ropeVitGrid
  throwsTyped(() => ropeVitAxialFrequencies(8, 100, wrong('bogus')), ValueError, 'ropeVitAxialFrequencies', ['dtype']); // not allocateFrequencies
  throwsTyped(() => new RoPEAxial(8).angles(3, 1.5), ValueError, 'RoPEAxial', ['gridH']);
  throwsTyped(() => new RoPEMixed(2, 8).angles(wrong(null), 2), DTypeError, 'RoPEMixed', ['gridW']);
  const fx = f64([1, 0, 0, 1], [1, 4]);
  throwsTyped(() => ropeVitMixedAngles({ freqsX: fx, freqsY: f64([1, Number.NaN, 0, 1], [1, 4]), gridW: 2, gridH: 2 }), ValueError, 'ropeVitMixedAngles', ['freqsY']); // not multiAxisAngles
  throwsTyped(() => hopeAngles(f64([0, 0, Number.NaN], [1, 3]), { headDim: 8, mropeSection: [2, 1, 1] }), ValueError, 'hopeAngles', ['positions']);
  throwsTyped(() => vropeFrequencies([0.5, Number.NaN]), ValueError, 'vropeFrequencies', ['invFreq']);
  throwsTyped(() => new FluxRoPE([2, 3, 4]), ValueError, 'FluxRoPE', ['axesDim[1]']); // not fluxFrequencies
  throwsTyped(() => new FluxRoPE([2, 2, 4], { theta: 1 }), ValueError, 'FluxRoPE', ['theta']);
  throwsTyped(() => fluxFrequencies([2, 2, 4], 0.5), ValueError, 'fluxFrequencies', ['theta']);
  const rope = new FluxRoPE([2, 2, 4]);
  const ids = fluxPositions({ textLength: 1, height: 1, width: 2 });
  throwsTyped(() => freeFluxProbe(rope, qk(9), qk(), ids, { textLength: 1, keys: [1, 1] }), ShapeError, 'freeFluxProbe', ['q']); // not FluxRoPE
  throwsTyped(() => freeFluxProbe(rope, qk(), qk(), ids, { textLength: 5, keys: [1, 1] }), ValueError, 'freeFluxProbe', ['textLength']); // not fluxShiftImageIds
  throwsTyped(() => freeFluxProbe(rope, qk(), qk(), ids, { textLength: 1, keys: wrong([1]) }), ValueError, 'freeFluxProbe', ['keys']);
  throwsTyped(() => freeFluxProbe(rope, qk(), qk(), f64([0, 0, 0, 0, 1, 1], [2, 3]), { textLength: 1, keys: 'unrotated' }), ShapeError, 'freeFluxProbe'); // 2 ids for 3 tokens
});

test('what stays valid: fractional decode deltas, ignored prefix rows, options left out', () => {
  // HoPE with γ = 0.75 gives a fractional delta; decoding continues from it
  const p = hopePositions([{ type: 'video', grid: [2, 2, 2] }], { temporalScale: 0.75, spatialMergeSize: 2 });
  assert.is(p.delta, -0.25);
  assert.equal(Array.from(mropeDecodePositions(p.delta, 2, 2).data), [1.75, 2.75]);
  // the class token's row is ignored, whatever it holds
  const axial = new RoPEAxial(8, { prefixTokens: 1 });
  const x = randn([1, 1, 3, 8], { dtype: 'float64', generator: new Generator(1) });
  const withNaN = f64([Number.NaN, Number.NaN, 0, 0, 1, 0], [3, 2]);
  const out = axial.rotate(x, withNaN);
  assert.equal(Array.from(out.data.subarray(0, 8)), Array.from(x.data.subarray(0, 8)));
  assert.equal(Array.from(out.data), Array.from(axial.rotate(x, f64([0, 0, 1, 0], [2, 2])).data));
  // but a NaN in a patch row is refused
  throwsTyped(() => axial.rotate(x, f64([0, 0, Number.NaN, 0, 1, 0], [3, 2])), ValueError, 'RoPEAxial', ['positions']);
  // defaults when options are left out
  assert.equal(new MRoPE(8, [2, 1, 1]).layout, 'half');
  assert.equal(new FluxRoPE([2, 2, 4]).attentionFactor, 1);
  assert.equal(ropeVitMixedFrequencies(2, 8).freqsX.dtype, 'float32');
  assert.equal(vropePositions(segments()).offsets, [0, 2, 6]);
});

test.run();
