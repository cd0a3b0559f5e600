/**
 * Trust (issue #10) for positional/: every entry returns a right answer or throws a typed error that starts with the
 * name of what the user called. Non-finite positions, bad bases and tables, wider heads than the encoding's,
 * malformed HF configs; and HiRoPE's header classifier stays linear (compared with the old backtracking patterns).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertRefused } from '../helpers/refusal.js';
import fc from 'fast-check';
import { DTypeError, Generator, ShapeError, Tensor, ValueError, randn, type DType } from '../../core/index.js';
import {
  DRoPE, DynamicNTKRoPE, FluxRoPE, HiRoPE, HoPE, LearnedAbsolute, MRoPE, MultiAxisRoPE, NoPE, PRoPE, PSC, PSCRoPE, RoPE, RoPEAxial, RoPEMixed,
  VRoPE, VideoRoPE, allocateFrequencies, anchorAttentionMask, applyRotary, createPositional, decayCurve, dropeAngles, flashAnchorPositions,
  fromHFConfig, hiropeAngles, hiropePositions, hiropeScores, interleavedAxes, longRopeAttentionFactor, longTermDecay, minimalBase, multiAxisAngles, ntkInvFreq,
  packFlashAnchor, packWithAnchor, perHeadFrequencies, pRopeInvFreq, pscCalibrate, pscCoefficient, registerPositional, ropeInvFreq, rotaryAngles, hiropeSegments, toBFloat16,
  yarnInvFreq, type HFRoPEConfig, type MinimalBaseOptions, type PackWithAnchorOptions, type PositionalFactory, type PositionalSpec,
} from '../../positional/index.js';
import { classifyHeader } from '../../positional/source-lexer.js';
import { fcParams } from '../helpers/fc.js';

/** fn is refused with `type`, its message starting with `${op}: ` and mentioning every word. */
const throwsTyped = (fn: () => unknown, type: ErrorClass, op: string, words: readonly string[] = []): void => assertRefused(fn, type, op, { words });

const pos1 = (values: number[]): Tensor => new Tensor(Float64Array.from(values), [values.length]);
const posA = (values: number[], axes: number): Tensor => new Tensor(Float64Array.from(values), [values.length / axes, axes]);

/** Every rotary encoding, a q of its head size, and positions of its kind with one bad value at index 1. */
function encodings(bad: number): Array<[string, { encodeQK(q: Tensor, k: Tensor, a: Tensor, b: Tensor): unknown }, Tensor, Tensor]> {
  const q = (H: number, T: number, d: number): Tensor => randn([1, H, T, d], { dtype: 'float64' });
  return [
    ['RoPE', new RoPE(8), q(1, 3, 8), pos1([0, bad, 2])],
    ['PRoPE', new PRoPE(8, 0.5), q(1, 3, 8), pos1([0, bad, 2])],
    ['DynamicNTKRoPE', new DynamicNTKRoPE(8, { factor: 2, maxPositions: 16 }), q(1, 3, 8), pos1([0, bad, 2])],
    ['PSCRoPE', new PSCRoPE(new RoPE(8), { numHeads: 1, headDim: 8, dtype: 'float64' }), q(1, 3, 8), pos1([0, bad, 2])],
    ['HiRoPE', new HiRoPE(8), q(1, 3, 8), posA([0, 0, bad, 1, 2, 1], 2)],
    ['MultiAxisRoPE', new MultiAxisRoPE(new Tensor(new Float64Array([1, 0, 0, 1]), [2, 2])), q(1, 3, 4), posA([0, 0, bad, 1, 2, 1], 2)],
    ['MRoPE', new MRoPE(8, [2, 1, 1]), q(1, 2, 8), posA([0, 0, 0, bad, 1, 1], 3)],
    ['VideoRoPE', new VideoRoPE(8, [2, 1, 1]), q(1, 2, 8), posA([0, 0, 0, bad, 1, 1], 3)],
    ['HoPE', new HoPE(8, [2, 1, 1]), q(1, 2, 8), posA([0, 0, 0, bad, 1, 1], 3)],
    ['VRoPE', new VRoPE(8), q(1, 2, 8), posA([0, 0, 0, 0, bad, 1, 1, 1], 4)],
    ['FluxRoPE', new FluxRoPE([4, 2, 2]), q(1, 2, 8), posA([0, 0, 0, bad, 1, 1], 3)],
    ['DRoPE', new DRoPE({ mode: 'dimSplit', headDim: 8 }), q(1, 2, 8), posA([0, 0, 0, bad, 1, 1], 3)],
    ['RoPEAxial', new RoPEAxial(8), q(1, 2, 8), posA([0, 0, bad, 1], 2)],
    ['RoPEMixed', new RoPEMixed(1, 8, { dtype: 'float64' }), q(1, 2, 8), posA([0, 0, bad, 1], 2)],
  ];
}

test('a NaN or ±∞ position is refused by every rotary encoding, by the class called (no NaN rows)', () => {
  for (const bad of [Number.NaN, Infinity, -Infinity]) {
    for (const [op, enc, q, p] of encodings(bad)) throwsTyped(() => enc.encodeQK(q, q, p, p), ValueError, op, ['positions', String(bad)]);
  }
  // and finite positions still work for each of them (the fixture above is valid once the bad value is replaced)
  for (const [op, enc, q, p] of encodings(1)) assert.ok(enc.encodeQK(q, q, p, p), op);
});

test('the angle functions refuse non-finite positions too', () => {
  throwsTyped(() => rotaryAngles([0, Number.NaN], [1, 0.1]), ValueError, 'rotaryAngles', ['positions']);
  throwsTyped(() => multiAxisAngles(posA([0, Infinity], 2), new Tensor(new Float64Array([1, 0, 0, 1]), [2, 2])), ValueError, 'multiAxisAngles', ['positions']);
  throwsTyped(() => hiropeAngles([0, Number.NaN], [0, 0], [1, 0.1], 1), ValueError, 'hiropeAngles', ['token']);
  throwsTyped(() => dropeAngles(posA([0, 0, -Infinity], 3), { mode: 'dimSplit', headDim: 8 }), ValueError, 'dropeAngles', ['agents']);
  throwsTyped(() => applyRotary(randn([2, 4], { dtype: 'float64' }), new Tensor(new Float64Array([0, Number.NaN, 0, 0]), [2, 2]), { layout: 'half' }), ValueError, 'applyRotary', ['angles']);
});

test('one rule for bases and tables: finite base > 1, invFreq entries finite and ≥ 0, in every class', () => {
  for (const base of [1, 0.5, -2, Number.NaN, Infinity]) {
    throwsTyped(() => new RoPE(8, { base }), ValueError, 'RoPE', ['base']);
    throwsTyped(() => new PRoPE(8, 0.5, { base }), ValueError, 'PRoPE', ['base']);
    throwsTyped(() => new DynamicNTKRoPE(8, { base, factor: 2, maxPositions: 8 }), ValueError, 'DynamicNTKRoPE', ['base']);
    throwsTyped(() => new HiRoPE(8, { base }), ValueError, 'HiRoPE', ['base']);
    throwsTyped(() => new MRoPE(8, [2, 1, 1], { base }), ValueError, 'MRoPE', ['base']);
    throwsTyped(() => new VideoRoPE(8, [2, 1, 1], { base }), ValueError, 'VideoRoPE', ['base']);
    throwsTyped(() => new HoPE(8, [2, 1, 1], { base }), ValueError, 'HoPE', ['base']);
    throwsTyped(() => new VRoPE(8, { base }), ValueError, 'VRoPE', ['base']);
    throwsTyped(() => new DRoPE({ mode: 'dimSplit', headDim: 8, base }), ValueError, 'DRoPE', ['base']);
  }
  for (const v of [Number.NaN, Infinity, -0.5]) {
    const invFreq = [1, v, 0.01, 0.001];
    throwsTyped(() => new RoPE(8, { invFreq }), ValueError, 'RoPE', ['invFreq[1]']);
    throwsTyped(() => new HiRoPE(8, { invFreq }), ValueError, 'HiRoPE', ['invFreq[1]']);
    throwsTyped(() => new MRoPE(8, [2, 1, 1], { invFreq }), ValueError, 'MRoPE', ['invFreq[1]']);
    throwsTyped(() => new VRoPE(8, { invFreq }), ValueError, 'VRoPE', ['invFreq[1]']);
    throwsTyped(() => rotaryAngles([0, 1], invFreq), ValueError, 'rotaryAngles', ['invFreq[1]']);
  }
});

/** fn is refused with `type` and exactly the message `${op}: ${message}`. */
function refusedWith(fn: () => unknown, type: ErrorClass, op: string, message: string): void {
  assertRefused(fn, type, op);
  try {
    fn();
  } catch (e) {
    assert.is((e as Error).message, `${op}: ${message}`);
  }
}

test('one check per concept (positional/checks.ts): the same mistake gets the same words from every entry', () => {
  // a base ≤ 1, in a class, a table function and an HF config
  for (const [op, fn] of [['RoPE', () => new RoPE(8, { base: 1 })], ['ntkInvFreq', () => ntkInvFreq({ dim: 8, base: 1, factor: 2 })], ['HiRoPE', () => new HiRoPE(8, { base: 1 })]] as const) {
    refusedWith(fn, ValueError, op, 'base must be a finite number > 1, got 1');
  }
  refusedWith(() => fromHFConfig({ head_dim: 8, rope_parameters: { rope_type: 'default', rope_theta: 1 } }), ValueError, 'fromHFConfig', 'rope_theta must be a finite number > 1, got 1');
  // a scale that may be below 1 but not 0
  refusedWith(() => pRopeInvFreq(8, 0.5, { factor: 0 }), ValueError, 'pRopeInvFreq', 'factor must be a finite number > 0, got 0');
  refusedWith(() => longRopeAttentionFactor({ factor: 0, originalMaxPositions: 16 }), ValueError, 'longRopeAttentionFactor', 'factor must be a finite number > 0, got 0');
  // integer ids: token ids, document ids, learned positions
  refusedWith(() => packWithAnchor([[5, 0.5]], { windowLength: 8, anchorToken: 1 }), ValueError, 'packWithAnchor', 'documents[0][1] must be an integer, got 0.5');
  refusedWith(() => packFlashAnchor([[5, 0.5]], { windowLength: 8, bosToken: 1 }), ValueError, 'packFlashAnchor', 'documents[0][1] must be an integer, got 0.5');
  refusedWith(() => anchorAttentionMask(pos1([0, 0.5])), ValueError, 'anchorAttentionMask', 'docIds[1] must be an integer, got 0.5');
  refusedWith(() => new LearnedAbsolute(4, 2).inputEmbedding(pos1([0, -1]), 2), ValueError, 'LearnedAbsolute', 'positions[1] must be an integer ≥ 0, got -1');
  // options that must be given
  refusedWith(() => new DynamicNTKRoPE(8, undefined as never), DTypeError, 'DynamicNTKRoPE', 'options must be an options object with factor and maxPositions, got undefined');
  refusedWith(() => new PSCRoPE(new RoPE(8), undefined as never), DTypeError, 'PSCRoPE', 'options must be an options object with numHeads and headDim, got undefined');
  refusedWith(() => dropeAngles(posA([0, 0, 0], 3), undefined as never), DTypeError, 'dropeAngles', 'options must be an options object with mode and headDim, got undefined');
  // a misspelt DRoPE option is refused, not ignored
  refusedWith(() => new DRoPE({ mode: 'dimSplit', headDim: 8, headingPair: 2 } as never), ValueError, 'DRoPE', "options has an unknown option 'headingPair' (known: mode, headDim, base, positionPairs, headingPairs, numHeads, headingHeads, layout, name)");
  refusedWith(() => dropeAngles(posA([0, 0, 0], 3), { mode: 'dimSplit', headDim: 8, layout: 'half' } as never), ValueError, 'dropeAngles', "options has an unknown option 'layout' (known: mode, headDim, base, positionPairs, headingPairs, numHeads, headingHeads)");
  // counts, context lengths, flags, strings
  refusedWith(() => dropeAngles(posA([0, 0, 0], 3), { mode: 'dimSplit', headDim: 8, headingPairs: -1 }), ValueError, 'dropeAngles', 'headingPairs must be an integer ≥ 0, got -1');
  refusedWith(() => minimalBase(0, 8), ValueError, 'minimalBase', 'contextLength must be an integer > 0, got 0');
  refusedWith(() => yarnInvFreq({ dim: 8, factor: 4, originalMaxPositions: 32, truncate: 'yes' as never }), DTypeError, 'yarnInvFreq', "truncate must be true or false, got a string 'yes'");
  refusedWith(() => hiropeSegments(5 as never), DTypeError, 'hiropeSegments', 'source must be a string, got 5');
  refusedWith(() => fromHFConfig({ head_dim: 8 }, { layerType: 5 as never }), DTypeError, 'fromHFConfig', 'layerType must be a string, got 5');
  refusedWith(() => new DRoPE({ mode: 'dimSplit', headDim: 8, name: 5 as never }), DTypeError, 'DRoPE', 'name must be a string, got 5');
});

test('a head wider than the encoding is refused, naming both dims; partial rotation only through rotaryDim', () => {
  const x = randn([1, 1, 3, 64], { dtype: 'float64' });
  const p = pos1([0, 1, 2]);
  throwsTyped(() => new RoPE(32).encodeQK(x, x, p, p), ShapeError, 'RoPE', ['64', '32', 'rotaryDim']);
  throwsTyped(() => new RoPE(32).rotate(x, p), ShapeError, 'RoPE', ['64', '32']);
  throwsTyped(() => new PRoPE(32, 0.5).rotate(x, p), ShapeError, 'PRoPE', ['64', '32']);
  throwsTyped(() => new DynamicNTKRoPE(32, { factor: 2, maxPositions: 8 }).rotate(x, p), ShapeError, 'DynamicNTKRoPE', ['64', '32']);
  throwsTyped(() => new HiRoPE(32).encodeQK(x, x, posA([0, 0, 1, 0, 2, 0], 2), posA([0, 0, 1, 0, 2, 0], 2)), ShapeError, 'HiRoPE', ['64', '32']);
  throwsTyped(() => new MRoPE(32, [8, 4, 4]).rotate(x, p), ShapeError, 'MRoPE', ['64', '32']);
  throwsTyped(() => new VRoPE(32).rotate(x, p), ShapeError, 'VRoPE', ['64', '32']);
  throwsTyped(() => new FluxRoPE([16, 8, 8]).rotate(x, posA([0, 0, 0, 0, 1, 1, 0, 2, 2], 3)), ShapeError, 'FluxRoPE', ['64', '32']);
  throwsTyped(() => applyRotary(x, rotaryAngles([0, 1, 2], new Float64Array(16).fill(0.1)), { layout: 'half' }), ShapeError, 'applyRotary', ['64', '32', 'rotaryDim']);
  // asked for: a 64-channel RoPE rotating 32 of them, and applyRotary with rotaryDim
  const partial = new RoPE(64, { rotaryDim: 32 }).rotate(x, p);
  assert.equal(Array.from(partial.data.subarray(32, 64)), Array.from(x.data.subarray(32, 64)), 'pass-through channels copied');
  assert.ok(applyRotary(x, rotaryAngles([0, 1, 2], new Float64Array(16).fill(0.1)), { layout: 'half', rotaryDim: 32 }));
});

test('errors name what the user called and refuse JS-engine crashes: null, strings, bad options', () => {
  throwsTyped(() => new RoPE(8, { base: 1 }), ValueError, 'RoPE', ['base']);
  throwsTyped(() => new RoPE(Number.NaN), ValueError, 'RoPE', ['headDim']);
  throwsTyped(() => new RoPE(7), ValueError, 'RoPE', ['headDim']);
  throwsTyped(() => new RoPE(8, null as never), DTypeError, 'RoPE', ['options']);
  throwsTyped(() => new RoPE(8, 5 as never), DTypeError, 'RoPE', ['options']);
  throwsTyped(() => new RoPE(8, { layout: 'diagonal' as never }), ValueError, 'RoPE', ['layout']);
  throwsTyped(() => new RoPE(8, { bsae: 500000 } as never), ValueError, 'RoPE', ['bsae']);
  throwsTyped(() => new RoPE(8).rotate(null as never, pos1([0])), DTypeError, 'RoPE', ['x']);
  throwsTyped(() => new RoPE(8).rotate(randn([1, 8]), 'abc' as never), DTypeError, 'RoPE', ['positions']);
  throwsTyped(() => new DynamicNTKRoPE(8, undefined as never), DTypeError, 'DynamicNTKRoPE', ['factor']);
  throwsTyped(() => new PSCRoPE(new RoPE(8), undefined as never), DTypeError, 'PSCRoPE', ['options']);
  throwsTyped(() => applyRotary(randn([2, 8]), randn([2, 4]), undefined as never), DTypeError, 'applyRotary', ['options']);
  throwsTyped(() => rotaryAngles(null as never, [1]), DTypeError, 'rotaryAngles', ['positions']);
  throwsTyped(() => rotaryAngles([0], 'abc' as never), DTypeError, 'rotaryAngles', ['invFreq']);
});

const llama = { head_dim: 64, max_position_embeddings: 4096 };

test("fromHFConfig: rope_scaling that is not an object is refused, naming the field", () => {
  for (const [value, words] of [['yarn', "a string 'yarn'"], [4, '4'], [[1, 2], 'an array']] as const) {
    throwsTyped(() => fromHFConfig({ ...llama, rope_scaling: value } as unknown as HFRoPEConfig), DTypeError, 'fromHFConfig', ['rope_scaling must be an object', words]);
    throwsTyped(() => fromHFConfig({ ...llama, rope_parameters: value } as unknown as HFRoPEConfig), DTypeError, 'fromHFConfig', ['rope_parameters must be an object']);
  }
  throwsTyped(() => fromHFConfig({ ...llama, rope_scaling: 'yarn' } as unknown as HFRoPEConfig), DTypeError, 'fromHFConfig', ["rope_scaling must be an object, got a string 'yarn'"]);
  throwsTyped(() => fromHFConfig(null as never), DTypeError, 'fromHFConfig', ['config']);
  throwsTyped(() => fromHFConfig(llama, 3 as never), DTypeError, 'fromHFConfig', ['options']);
});

test('fromHFConfig: prototype keys are not layer types', () => {
  const config: HFRoPEConfig = { ...llama, rope_parameters: { full_attention: { rope_type: 'linear', factor: 2 }, sliding_attention: { rope_type: 'default' } } };
  for (const layerType of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
    throwsTyped(() => fromHFConfig(config, { layerType }), ValueError, 'fromHFConfig', ['layerType', 'full_attention, sliding_attention']);
  }
  assert.is(fromHFConfig(config, { layerType: 'full_attention' }).ropeType, 'linear');
});

test('fromHFConfig: unknown keys become warnings, and errors with strict; scaling errors say fromHFConfig', () => {
  const config = { ...llama, rope_scaling: { rope_type: 'linear', factor: 2, facter: 4, low_freq_factor: 1 } } as HFRoPEConfig;
  const result = fromHFConfig(config);
  assert.is(result.warnings.length, 1);
  assert.ok(result.warnings[0]!.startsWith('fromHFConfig: '), result.warnings[0]);
  assert.ok(result.warnings[0]!.includes('facter') && result.warnings[0]!.includes('low_freq_factor'), result.warnings[0]);
  assert.equal(fromHFConfig({ ...llama, rope_scaling: { rope_type: 'linear', factor: 2 } }).warnings, []);
  throwsTyped(() => fromHFConfig(config, { strict: true }), ValueError, 'fromHFConfig', ['facter']);
  assert.equal(fromHFConfig({ ...llama, rope_scaling: { rope_type: 'linear', factor: 2 } }, { strict: true }).warnings, []);
  throwsTyped(() => fromHFConfig({ ...llama, rope_scaling: { rope_type: 'linear', factor: 0.5 } }), ValueError, 'fromHFConfig', ['factor']);
  throwsTyped(() => fromHFConfig({ ...llama, rope_scaling: { rope_type: 'yarn', factor: 0.5, original_max_position_embeddings: 2048 } }), ValueError, 'fromHFConfig', ['factor']);
  throwsTyped(() => fromHFConfig({ ...llama, rope_scaling: { rope_type: 'llama3', factor: 0.5, original_max_position_embeddings: 2048, low_freq_factor: 1, high_freq_factor: 4 } }), ValueError, 'fromHFConfig', ['factor']);
  throwsTyped(() => fromHFConfig({ ...llama, rope_scaling: { rope_type: 'dynamic', factor: 0.5 } }), ValueError, 'fromHFConfig', ['factor']);
  throwsTyped(() => fromHFConfig(llama, { strict: 'yes' as never }), DTypeError, 'fromHFConfig', ['strict']);
});

// ── HiRoPE's header classifier: the old patterns, kept here as the reference ──

function classifyHeaderOld(header: string): string {
  const h = header.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, ' ').replace(/#[^\n]*/g, ' ').trim();
  if (/\b(class|interface|struct|enum|trait|impl|union|record)\b/.test(h)) return 'class';
  if (/^(if|for|while|switch|catch|with|else|do|try|finally|return|unless|until|loop|match)\b/.test(h)) return 'block';
  if (/\b(function|fn|func|fun|def)\b/.test(h) || /=>\s*$/.test(h) || /\)\s*((:|->)\s*[^=;{}()]*|throws\s+[\w.,\s]+)?$/.test(h)) return 'function';
  return 'block';
}

test('hiropeSegments header kinds: the linear classifier agrees with the old patterns on generated headers', () => {
  const piece = fc.constantFrom('f', '(', ')', ':', '->', ' ', '\n', 'throws', 'int', '=', ';', '{', '}', '/*', '*/', '//', '#', '=>', 'a.b', ',', 'class', 'if ', 'fn ', '\t');
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 24 }), (parts) => {
      const h = parts.join('');
      assert.is(classifyHeader(h), classifyHeaderOld(h), JSON.stringify(h));
    }),
    fcParams(3000),
  );
});

test('hiropeSegments stays linear on headers the old patterns backtracked over (long runs of spaces, unclosed comments)', () => {
  // The old patterns took ~0.5 s at 20 kB and grew 4× per doubling: at 400 kB these would take minutes.
  const n = 400_000;
  const cases: Array<[string, string]> = [
    [`f() throws${' '.repeat(n)}!{}\n`, 'block'],
    [`f():${' '.repeat(n)}={}\n`, 'block'],
    [`${'"/*"'.repeat(n / 4)}{}\n`, 'block'],
    [`f(a):${' '.repeat(n)}int {}\n`, 'function'],
  ];
  for (const [src, kind] of cases) {
    const segments = hiropeSegments(src, { syntax: 'braces' });
    assert.is(segments[0]!.kind, kind);
    assert.is(segments[segments.length - 1]!.end, src.length);
  }
});

// ── the robustness classes (tests/robustness/positional): each line failed before the entry checks were added ──

type ErrorClass = new (...a: never[]) => Error;
const q8 = (): Tensor => randn([1, 2, 3, 8], { generator: new Generator(1) });
const pos3 = (): Tensor => new Tensor(Float64Array.from([0, 1, 2]), [3]);
const yarn = { dim: 8, factor: 4, originalMaxPositions: 32 };
const bad = <T>(x: unknown): T => x as T; // a wrong argument, as a JavaScript caller could pass it

/** [what, call, error class, the name the message starts with, a word it must contain]. */
const REFUSED: ReadonlyArray<readonly [string, () => unknown, ErrorClass, string, string]> = [
  // sizes too large to allocate: a typed error, not a RangeError from a typed array
  ['RoPE head dim 2**40', () => new RoPE(2 ** 40), ValueError, 'RoPE', 'headDim'],
  ['ropeInvFreq dim 2**40', () => ropeInvFreq(2 ** 40), ValueError, 'ropeInvFreq', 'dim'],
  ['LearnedAbsolute table 2**20 × 2**20', () => new LearnedAbsolute(2 ** 20, 2 ** 20), ValueError, 'LearnedAbsolute', 'maxPositions × dim'],
  ['PSC gates 2**20 × 2**10²', () => new PSC(2 ** 20, 2 ** 10), ValueError, 'PSC', 'numHeads'],
  ['decayCurve 2**40 points', () => decayCurve(ropeInvFreq(8), { maxDistance: 10, points: 2 ** 40 }), ValueError, 'decayCurve', 'points'],
  // lengths are whole numbers of tokens
  ['DynamicNTKRoPE maxPositions 1.5', () => new DynamicNTKRoPE(8, { factor: 2, maxPositions: 1.5 }), ValueError, 'DynamicNTKRoPE', 'maxPositions'],
  ['DynamicNTKRoPE.updateFor 1.5', () => new DynamicNTKRoPE(8, { factor: 2, maxPositions: 16 }).updateFor(1.5), ValueError, 'DynamicNTKRoPE.updateFor', 'seqLen'],
  ['yarnInvFreq originalMaxPositions 1.5', () => yarnInvFreq({ ...yarn, originalMaxPositions: 1.5 }), ValueError, 'yarnInvFreq', 'originalMaxPositions'],
  ['fromHFConfig seqLen 1.5', () => fromHFConfig({ head_dim: 8 }, { seqLen: 1.5 }), ValueError, 'fromHFConfig', 'seqLen'],
  // null is not "the default"
  ['DynamicNTKRoPE base null', () => new DynamicNTKRoPE(8, { factor: 2, maxPositions: 16, base: bad(null) }), DTypeError, 'DynamicNTKRoPE', 'base'],
  ['LearnedAbsolute generator null', () => new LearnedAbsolute(4, 4, { generator: bad(null) }), DTypeError, 'LearnedAbsolute', 'generator'],
  ['PSC generator a string', () => new PSC(2, 4, { generator: bad('abc') }), DTypeError, 'PSC', 'generator'],
  ['yarnInvFreq mscale null', () => yarnInvFreq({ ...yarn, mscale: bad(null) }), DTypeError, 'yarnInvFreq', 'mscale'],
  ['HiRoPE window null', () => new HiRoPE(8, { window: bad(null) }), DTypeError, 'HiRoPE', 'window'],
  ['fromHFConfig rope_theta null', () => fromHFConfig(bad({ head_dim: 8, rope_theta: null })), DTypeError, 'fromHFConfig', 'rope_theta'],
  ['fromHFConfig hidden_size null', () => fromHFConfig(bad({ head_dim: 8, hidden_size: null })), DTypeError, 'fromHFConfig', 'hidden_size'],
  ['fromHFConfig max_position_embeddings 1.5', () => fromHFConfig({ head_dim: 8, max_position_embeddings: 1.5 }), ValueError, 'fromHFConfig', 'max_position_embeddings'],
  // NaN out of finite inputs
  ['applyRotary scale 1e300 in float32', () => applyRotary(q8(), rotaryAngles(pos3(), ropeInvFreq(8)), { layout: 'half', precision: 'float32', scale: 1e300 }), ValueError, 'applyRotary', 'scale'],
  ['hiropeScores attentionFactor 1e300', () => hiropeScores(q8(), q8(), { token: [0, 1, 2], unit: [0, 0, 1] }, { invFreq: ropeInvFreq(8), split: 2, window: 2, attentionFactor: 1e300 }), ValueError, 'hiropeScores', 'attentionFactor'],
  // wrong types
  ['toBFloat16(null)', () => toBFloat16(bad(null)), DTypeError, 'toBFloat16', 'x'],
  ["toBFloat16('abc')", () => toBFloat16(bad('abc')), DTypeError, 'toBFloat16', 'x'],
  ['NoPE.encodeQK q null', () => new NoPE().encodeQK(bad(null), q8(), pos3(), pos3()), DTypeError, 'NoPE', 'q'],
  ['NoPE.encodeQK NaN position', () => new NoPE().encodeQK(q8(), q8(), new Tensor(Float64Array.from([0, NaN, 2]), [3]), pos3()), ValueError, 'NoPE', 'qPositions'],
  ['longTermDecay invFreq a string', () => longTermDecay(1, bad('abc')), DTypeError, 'longTermDecay', 'invFreq'],
  ['minimalBase options null', () => minimalBase(1024, 8, bad<MinimalBaseOptions>(null)), DTypeError, 'minimalBase', 'options'],
  ["hiropeSegments syntax null", () => hiropeSegments('x', { syntax: bad(null) }), ValueError, 'hiropeSegments', 'syntax'],
  // anchors
  ['packWithAnchor without options', () => packWithAnchor([[1, 2]], bad<PackWithAnchorOptions>(undefined)), DTypeError, 'packWithAnchor', 'options'],
  ['packWithAnchor bosToken null', () => packWithAnchor([[1, 2]], { windowLength: 4, anchorToken: 0, bosToken: bad(null) }), DTypeError, 'packWithAnchor', 'bosToken'],
  ['packFlashAnchor a document that is not an array', () => packFlashAnchor(bad([null]), { windowLength: 4, bosToken: 0 }), DTypeError, 'packFlashAnchor', 'documents'],
  ['anchorAttentionMask fractional id', () => anchorAttentionMask([0, 1.5]), ValueError, 'anchorAttentionMask', 'docIds'],
  ["anchorAttentionMask ids as strings", () => anchorAttentionMask(bad(['0', '1'])), DTypeError, 'anchorAttentionMask', 'docIds'],
  ['flashAnchorPositions(undefined)', () => flashAnchorPositions(bad(undefined)), DTypeError, 'flashAnchorPositions', 'docIds'],
  // errors name the call, not an inner helper
  ['pscCoefficient x undefined (not matmul:)', () => pscCoefficient(bad(undefined), randn([2, 8, 8]), randn([2, 8, 8])), DTypeError, 'pscCoefficient', 'x'],
  ['pscCalibrate down of another shape', () => pscCalibrate(q8(), randn([2, 8, 8]), randn([8, 8])), ShapeError, 'pscCalibrate', 'down'],
  ['PSCRoPE.encodeQK positions of another length (not RoPE:)', () => new PSCRoPE(new RoPE(8), { numHeads: 2, headDim: 8 }).encodeQK(q8(), q8(), new Tensor(new Float64Array(4), [4]), pos3()), ShapeError, 'PSCRoPE', 'angles'],
  ['hiropeScores bad layout (not applyRotary:)', () => hiropeScores(q8(), q8(), { token: [0, 1, 2], unit: [0, 0, 1] }, { invFreq: ropeInvFreq(8), split: 2, window: 0, layout: bad('bogus') }), ValueError, 'hiropeScores', 'layout'],
  ['hiropePositions bad syntax (not hiropeSegments:)', () => hiropePositions('x', { syntax: bad('bogus') }), ValueError, 'hiropePositions', 'syntax'],
  ['HiRoPE.scores positions without token (not hiropeAngles:)', () => new HiRoPE(8).scores(q8(), q8(), bad({ unit: [0, 0, 1] })), DTypeError, 'HiRoPE', 'token'],
  ['perHeadFrequencies invFreq a string (not allocateFrequencies:)', () => perHeadFrequencies([[0, 0, 1, 1]], bad('abc'), 2), DTypeError, 'perHeadFrequencies', 'invFreq'],
  ['allocateFrequencies dtype bogus', () => allocateFrequencies([0, 1], [1, 0.1], 2, bad<DType>('bogus')), ValueError, 'allocateFrequencies', 'dtype'],
  ['interleavedAxes numAxes 0', () => interleavedAxes(4, 0), ValueError, 'interleavedAxes', 'numAxes'],
  ['DRoPE without options', () => new DRoPE(bad(undefined)), DTypeError, 'DRoPE', 'options'],
  ['DRoPE.encodeQK q null', () => new DRoPE({ mode: 'dimSplit', headDim: 8 }).encodeQK(bad(null), q8(), pos3(), pos3()), DTypeError, 'DRoPE', 'q'],
  // the registry
  ['createPositional without a spec', () => createPositional('rope', bad<PositionalSpec>(undefined)), DTypeError, 'createPositional', 'spec'],
  ['createPositional spec.dtype bogus', () => createPositional('rope', { headDim: 8, modelDim: 16, contextLength: 32, dtype: bad('bogus') }), ValueError, 'createPositional', 'dtype'],
  ['createPositional psc-rope with 1.5 heads (not PSCRoPE:)', () => createPositional('psc-rope', { headDim: 8, modelDim: 12, contextLength: 32 }), ValueError, 'createPositional', 'numHeads'],
  ['registerPositional without a factory', () => registerPositional('mine', bad<PositionalFactory>(undefined)), DTypeError, 'registerPositional', 'factory'],
];

test('robustness classes: bad sizes, lengths, nulls, types and overflowing scales are refused by the call made', () => {
  const broken: string[] = [];
  for (const [what, fn, type, op, word] of REFUSED) {
    try {
      throwsTyped(fn, type, op, [word]);
    } catch (e) {
      broken.push(`${what}: ${(e as Error).message}`);
    }
  }
  assert.equal(broken, [], `${broken.length} of ${REFUSED.length} broke the rule:\n${broken.join('\n')}`);
});

test('what stays valid: window Infinity, fractional positions in DynamicNTK, head_dim null, an empty window', () => {
  const hi = new HiRoPE(8, { window: Infinity }); // documented: every pair inside the window (plain RoPE)
  assert.is(hi.window, Infinity);
  const ntk = new DynamicNTKRoPE(8, { factor: 2, maxPositions: 4 });
  const frac = new Tensor(Float64Array.from([0.5, 5.5]), [2]);
  const out = ntk.encodeQK(randn([1, 1, 2, 8]), randn([1, 1, 2, 8]), frac, frac); // ℓ = 6.5 grows the table
  assert.is(ntk.cachedSeqLen, 6.5);
  assert.ok(out.q.data.every(Number.isFinite));
  assert.is(fromHFConfig(bad<HFRoPEConfig>({ head_dim: null, hidden_size: 64, num_attention_heads: 8 })).rotaryDim, 8);
  assert.equal(toBFloat16(NaN), NaN);
  assert.is(applyRotary(q8(), rotaryAngles(pos3(), ropeInvFreq(8)), { layout: 'half', precision: 'float64', scale: 1e300 }).data.some(Number.isNaN), false);
});

test('0-d positions are one number, not a sequence: refused like nn refuses them (ShapeError naming the call)', () => {
  const scalar = new Tensor(new Float64Array([3]), []);
  assertRefused(() => new RoPE(8).angles(scalar), ShapeError, 'RoPE', { arg: 'positions' });
  assertRefused(() => rotaryAngles(scalar, ropeInvFreq(8)), ShapeError, 'rotaryAngles', { arg: 'positions' });
  assertRefused(() => new DynamicNTKRoPE(8, { factor: 2, maxPositions: 16 }).angles(scalar), ShapeError, 'DynamicNTKRoPE', { arg: 'positions' });
});

test.run();
