/**
 * nn/ entries refuse bad arguments with a typed error whose message starts with what the user called (the class, or
 * Class.method), never an inner helper or a JS engine error: null, strings, plain arrays, wrong ranks, NaN/±∞
 * numbers and positions, bad options, sizes too large to allocate. Each row is one probe.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertRefused } from '../helpers/refusal.js';
import { AdamW, DTypeError, Generator, Module, ShapeError, Tensor, ValueError, manualSeed, randn, zeros } from '../../core/index.js';
import {
  Block, ChunkedAttention, Dropout, ShortConvolution, baselineFromSpectra, causalMask, combineMasks, documentMask, effectiveRank,
  formatProgress, marchenkoPasturCdf, marchenkoPasturQuantile, paddingMask, qkSpectrum, randomInitBaseline, slidingWindowMask,
  saveSafetensors, spectralDiagnostics, stableRank, constantParameter, gpt2Init, normalParameter, uniformParameter, Embedding, FifoMemory, KVCache, LayerNorm, Linear, MLP, MemoryBlock, MultiHeadAttention,
  MultiHeadLatentAttention, PaTHAttention, PaTHCache, RMSNorm, SwiGLU, chunkedAttention, generate, pathAttention, pathAttentionDirect,
  pathAttentionRecurrent, sampleFromLogits, scaledDotProductAttention, serializeSafetensors, train, type CausalLM,
} from '../../nn/index.js';
import { RoPE } from '../../positional/index.js';

type ErrorClass = typeof DTypeError | typeof ValueError | typeof ShapeError;

/** fn is refused with `type`, its message starting with `prefix: `. */
const refuses = (fn: () => unknown, type: ErrorClass, prefix: string, label: string): void => assertRefused(fn, type, prefix, { label });

const f32 = (shape: number[], seed = 1): Tensor => randn(shape, { generator: new Generator(seed) });
const maxAbsDiff = (a: Tensor, b: Tensor): number => Array.from(a.data).reduce<number>((m, x, i) => Math.max(m, Math.abs(x - b.data[i]!)), 0);
const positionsWith = (v: number, T: number): Tensor => new Tensor(Float64Array.from({ length: T }, (_, i) => (i === 1 ? v : i)), [T]);

/** Every nn layer that takes positions, at dim 8 with 2 heads (RoPE where the layer takes an encoding). */
function positionLayers() {
  return {
    mha: new MultiHeadAttention(8, { numHeads: 2, positional: new RoPE(4) }),
    block: new Block(8, { numHeads: 2, positional: new RoPE(4) }),
    chunked: new ChunkedAttention(8, 2, 2),
    mla: new MultiHeadLatentAttention({ dim: 8, numHeads: 2, kvLoraRank: 4, qkNopeHeadDim: 2, qkRopeHeadDim: 2, vHeadDim: 2 }),
    mem: new MemoryBlock(8, { numHeads: 2, chunkSize: 2, memorySlots: 2 }),
  };
}

test('NaN / ±∞ positions are refused by every layer taking positions, before anything is computed', () => {
  const x = f32([1, 3, 8]);
  const { mha, block, chunked, mla, mem } = positionLayers();
  for (const bad of [NaN, Infinity, -Infinity]) {
    const positions = positionsWith(bad, 3);
    refuses(() => mha.forward(x, { positions }), ValueError, 'MultiHeadAttention.forward', `MHA ${bad}`);
    refuses(() => block.forward(x, { positions }), ValueError, 'Block.forward', `Block ${bad}`);
    refuses(() => chunked.forward(x, { positions }), ValueError, 'ChunkedAttention.forward', `Chunked ${bad}`);
    refuses(() => mla.forward(x, { positions }), ValueError, 'MultiHeadLatentAttention.forward', `MLA ${bad}`);
    refuses(() => mla.logits(x, { positions }), ValueError, 'MultiHeadLatentAttention.logits', `MLA logits ${bad}`);
    refuses(() => mem.forward(x, mem.memory.initial(1), { positions }), ValueError, 'MemoryBlock.forward', `MemoryBlock ${bad}`);
  }
  // a refused call leaves a cache untouched
  const cache = new KVCache();
  refuses(() => mha.forward(x, { positions: positionsWith(NaN, 3), cache }), ValueError, 'MultiHeadAttention.forward', 'with cache');
  assert.is(cache.length, 0);
  assert.is(cache.position, 0);
  // finite fractional positions are fine
  assert.equal(mha.forward(x, { positions: positionsWith(0.5, 3) }).shape, [1, 3, 8]);
});

test('layer configs are refused at construction with the class and option named', () => {
  const rows: Array<[() => unknown, ErrorClass, string, string]> = [
    [() => new Linear(2.5, 3), ValueError, 'Linear', 'inFeatures 2.5'],
    [() => new Linear(-1, 3), ValueError, 'Linear', 'inFeatures -1'],
    [() => new Linear(2, NaN), ValueError, 'Linear', 'outFeatures NaN'],
    [() => new Linear('2' as unknown as number, 3), DTypeError, 'Linear', "inFeatures '2'"],
    [() => new Linear(2, 3, { bias: 'no' as unknown as boolean }), DTypeError, 'Linear', 'bias string'],
    [() => new Linear(2, 3, { biass: false } as unknown as object), ValueError, 'Linear', 'misspelt option'],
    [() => new Linear(2, 3, null as unknown as object), DTypeError, 'Linear', 'null options'],
    [() => new Linear(2 ** 20, 2 ** 20), ValueError, 'Linear', 'too large'],
    [() => new Embedding(0, 4), ValueError, 'Embedding', 'numEmbeddings 0'],
    [() => new Embedding(4, 4, { std: NaN }), ValueError, 'Embedding', 'std NaN'],
    [() => new LayerNorm(Infinity), ValueError, 'LayerNorm', 'dim ∞'],
    [() => new LayerNorm(4, { eps: -1 }), ValueError, 'LayerNorm', 'eps -1'],
    [() => new RMSNorm(4, { eps: NaN }), ValueError, 'RMSNorm', 'eps NaN'],
    [() => new RMSNorm(4, { affine: 1 as unknown as boolean }), DTypeError, 'RMSNorm', 'affine 1'],
    [() => new Dropout(1), ValueError, 'Dropout', 'p 1'],
    [() => new Dropout(NaN), ValueError, 'Dropout', 'p NaN'],
    [() => new MLP(4, 0), ValueError, 'MLP', 'hidden 0'],
    [() => new SwiGLU(4, 2.5), ValueError, 'SwiGLU', 'hidden 2.5'],
    [() => new KVCache({ maxLength: 2.5 }), ValueError, 'KVCache', 'maxLength 2.5'],
    [() => new KVCache({ maxLength: NaN }), ValueError, 'KVCache', 'maxLength NaN'],
    [() => new MultiHeadAttention(8, { numHeads: 1.5 }), ValueError, 'MultiHeadAttention', 'numHeads 1.5'],
    [() => new MultiHeadAttention(8, { numHeads: 2, window: 0.5 }), ValueError, 'MultiHeadAttention', 'window 0.5'],
    [() => new MultiHeadAttention(8, { numHeads: 2, positional: {} as RoPE }), DTypeError, 'MultiHeadAttention', 'positional {}'],
    [() => new MultiHeadAttention(8, { numHeads: 2, positional: new RoPE(8) }), ShapeError, 'MultiHeadAttention', 'RoPE for another head dim'],
    [() => new MultiHeadAttention(8, null as unknown as { numHeads: number }), DTypeError, 'MultiHeadAttention', 'null options'],
    [() => new Block(8, { numHeads: 2, mlp: 'relu' as 'gelu' }), ValueError, 'Block', "mlp 'relu'"],
    [() => new Block(8, { numHeads: 2, dropout: -0.1 }), ValueError, 'Block', 'dropout -0.1'],
    [() => new Block(8, { numHeads: 3 }), ValueError, 'Block', 'numHeads 3'],
    [() => new ChunkedAttention(8, 2, NaN), ValueError, 'ChunkedAttention', 'chunkSize NaN'],
    [() => new FifoMemory(2, 8, { gate: NaN }), ValueError, 'FifoMemory', 'gate NaN'],
    [() => new FifoMemory(2, 8, { pool: 'max' as 'chunk-mean' }), ValueError, 'FifoMemory', "pool 'max'"],
    [() => new MemoryBlock(8, { numHeads: 2, chunkSize: 0, memorySlots: 2 }), ValueError, 'MemoryBlock', 'chunkSize 0'],
    [() => new MemoryBlock(8, { numHeads: 2, chunkSize: 2, memorySlots: 2.5 }), ValueError, 'MemoryBlock', 'memorySlots 2.5'],
    [() => new MultiHeadLatentAttention({ dim: 8, numHeads: 2, kvLoraRank: 4, qkNopeHeadDim: 2, qkRopeHeadDim: 2, vHeadDim: 2, ropeBase: NaN }), ValueError, 'MultiHeadLatentAttention', 'ropeBase NaN'],
    [() => new MultiHeadLatentAttention(null as unknown as { dim: 8, numHeads: 2, kvLoraRank: 4, qkNopeHeadDim: 2, qkRopeHeadDim: 2, vHeadDim: 2 }), DTypeError, 'MultiHeadLatentAttention', 'null'],
    [() => new PaTHAttention(8, { numHeads: 2, chunkSize: 0 }), ValueError, 'PaTHAttention', 'chunkSize 0'],
    [() => new PaTHAttention(8, { numHeads: 2, lowRankW: 1.5 }), ValueError, 'PaTHAttention', 'lowRankW 1.5'],
  ];
  for (const [fn, type, prefix, label] of rows) refuses(fn, type, prefix, label);
});

test('forward calls refuse null, strings, plain arrays, wrong ranks and wrong dtypes at the method called', () => {
  const lin = new Linear(4, 3);
  const x = f32([1, 3, 8]);
  const mha = new MultiHeadAttention(8, { numHeads: 2 });
  const cross = new MultiHeadAttention(8, { numHeads: 2 });
  const emb = new Embedding(5, 4);
  const rows: Array<[() => unknown, ErrorClass, string, string]> = [
    [() => lin.forward(null as unknown as Tensor), DTypeError, 'Linear.forward', 'null'],
    [() => lin.forward('x' as unknown as Tensor), DTypeError, 'Linear.forward', 'string'],
    [() => lin.forward([1, 2, 3, 4] as unknown as Tensor), DTypeError, 'Linear.forward', 'plain array'],
    [() => lin.forward(f32([2, 5])), ShapeError, 'Linear.forward', 'wrong features'],
    [() => lin.forward(f32([2, 4]).cast('float64')), DTypeError, 'Linear.forward', 'float64 into float32'],
    [() => new LayerNorm(4).forward(undefined as unknown as Tensor), DTypeError, 'LayerNorm.forward', 'undefined'],
    [() => new MLP(4).forward(f32([4, 3])), ShapeError, 'MLP.forward', 'wrong features'],
    [() => new Dropout(0.1).forward(null as unknown as Tensor), DTypeError, 'Dropout.forward', 'null'],
    [() => emb.forward('abc' as unknown as number[]), DTypeError, 'Embedding.forward', 'string ids'],
    [() => mha.forward(null as unknown as Tensor), DTypeError, 'MultiHeadAttention.forward', 'null'],
    [() => mha.forward(f32([3, 8])), ShapeError, 'MultiHeadAttention.forward', 'rank 2'],
    [() => mha.forward(x, { positions: [0, 1, 2] as unknown as Tensor }), DTypeError, 'MultiHeadAttention.forward', 'array positions'],
    [() => mha.forward(x, { causal: 'yes' as unknown as boolean }), DTypeError, 'MultiHeadAttention.forward', 'causal string'],
    [() => mha.forward(x, { cache: {} as KVCache }), DTypeError, 'MultiHeadAttention.forward', 'cache {}'],
    [() => mha.forward(x, { mask: f32([2, 3]) }), ShapeError, 'MultiHeadAttention.forward', 'mask [2, 3]'],
    [() => mha.forward(x, { mask: 1 as unknown as Tensor }), DTypeError, 'MultiHeadAttention.forward', 'mask 1'],
    [() => cross.forward(x, { context: f32([2, 5, 8]) }), ShapeError, 'MultiHeadAttention.forward', 'cross-attention batch mismatch'],
    [() => mha.forward(x, { contxt: x } as unknown as object), ValueError, 'MultiHeadAttention.forward', 'misspelt option'],
    [() => new Block(8, { numHeads: 2 }).forward(f32([1, 3, 6])), ShapeError, 'Block.forward', 'wrong features'],
    [() => new ChunkedAttention(8, 2, 2).forward(null as unknown as Tensor), DTypeError, 'ChunkedAttention.forward', 'null'],
    [() => new FifoMemory(2, 8).read(x, null as unknown as { slots: Tensor; head: number }), DTypeError, 'FifoMemory.read', 'null state'],
    [() => new FifoMemory(2, 8).initial(2 ** 30), ValueError, 'FifoMemory.initial', 'too large'],
    [() => new PaTHAttention(8, { numHeads: 2 }).forward(x, { cache: new KVCache() as PaTHCache }), DTypeError, 'PaTHAttention.forward', 'plain KVCache'],
    [() => new KVCache().append(null as unknown as Tensor, f32([1, 1, 1, 2])), DTypeError, 'KVCache.append', 'null k'],
    [() => scaledDotProductAttention(f32([2, 4]), f32([3, 5]), f32([3, 4])), ShapeError, 'scaledDotProductAttention', 'head dims'],
    [() => scaledDotProductAttention(f32([2, 2, 4]), f32([3, 3, 4]), f32([3, 3, 4])), ShapeError, 'scaledDotProductAttention', 'batch'],
    [() => scaledDotProductAttention(f32([2, 4]), f32([3, 4]), f32([3, 4]), { scale: NaN }), ValueError, 'scaledDotProductAttention', 'scale NaN'],
    [() => chunkedAttention(f32([2, 4]), f32([2, 4]), null as unknown as Tensor, 2), DTypeError, 'chunkedAttention', 'null v'],
  ];
  for (const [fn, type, prefix, label] of rows) refuses(fn, type, prefix, label);
});

test('generate, sampleFromLogits, train and serializeSafetensors refuse bad arguments with their own name', () => {
  const model: CausalLM = { forward: () => zeros([1, 1, 3]), newCaches: () => [] };
  const w = f32([2]);
  w.requiresGrad = true;
  const optimizer = new AdamW([w], { lr: 1e-3 });
  const rows: Array<[() => unknown, ErrorClass, string, string]> = [
    [() => generate(model, 'hello' as unknown as number[], { maxNewTokens: 1, temperature: 0 }), DTypeError, 'generate', 'string prompt'],
    [() => generate(null as unknown as CausalLM, [1], { maxNewTokens: 1, temperature: 0 }), DTypeError, 'generate', 'null model'],
    [() => generate(model, [1], null as unknown as { maxNewTokens: number }), DTypeError, 'generate', 'null options'],
    [() => generate(model, [1], { maxNewTokens: 1.5, temperature: 0 }), ValueError, 'generate', 'maxNewTokens 1.5'],
    [() => generate(model, [1], { maxNewTokens: 1, temperature: NaN }), ValueError, 'generate', 'temperature NaN'],
    [() => generate(model, [1], { maxNewTokens: 1, temperature: 0, stopToken: -1 }), ValueError, 'generate', 'stopToken -1'],
    [() => generate(model, [1], { maxNewTokens: 1, generator: 7 as unknown as Generator }), DTypeError, 'generate', 'generator 7'],
    [() => sampleFromLogits(null as unknown as number[], { temperature: 0 }), DTypeError, 'sampleFromLogits', 'null logits'],
    [() => sampleFromLogits(['a'] as unknown as number[], { temperature: 0 }), ValueError, 'sampleFromLogits', 'string logit'],
    [() => train([w], () => w.sum(), null as unknown as { steps: number; optimizer: AdamW }), DTypeError, 'train', 'null options'],
    [() => train([w], null as unknown as () => Tensor, { steps: 1, optimizer, output: null }), DTypeError, 'train', 'null lossFn'],
    [() => train('w' as unknown as Tensor[], () => w.sum(), { steps: 1, optimizer, output: null }), DTypeError, 'train', 'string params'],
    [() => train([w], () => w.sum(), { steps: 1.5, optimizer, output: null }), ValueError, 'train', 'steps 1.5'],
    [() => train([w], () => w.sum(), { steps: 1, optimizer: {} as AdamW, output: null }), DTypeError, 'train', 'optimizer {}'],
    [() => train([w], () => w.sum(), { steps: 1, optimizer, clipGradNorm: NaN, output: null }), ValueError, 'train', 'clipGradNorm NaN'],
    [() => train([w], () => 3 as unknown as Tensor, { steps: 1, optimizer, output: null }), DTypeError, 'train', 'lossFn returns a number'],
    [() => train([w], () => w, { steps: 1, optimizer, output: null }), ValueError, 'train', 'lossFn returns [2]'],
    [() => serializeSafetensors(null as unknown as Record<string, Tensor>), DTypeError, 'serializeSafetensors', 'null'],
    [() => serializeSafetensors({ a: [1, 2] as unknown as Tensor }), DTypeError, 'serializeSafetensors', 'array value'],
  ];
  for (const [fn, type, prefix, label] of rows) refuses(fn, type, prefix, label);
  // train still stops before a NaN update
  const before = Array.from(w.data);
  refuses(() => train([w], () => w.sum().mul(NaN), { steps: 3, optimizer, output: null }), ValueError, 'train', 'NaN loss');
  assert.equal(Array.from(w.data), before, 'no parameter was updated with a NaN loss');
});


test('layers built without a generator draw from the default generator: two builds differ, manualSeed(n) reproduces them', () => {
  const builds: Array<[string, () => Module]> = [
    ['Linear', () => new Linear(4, 4)],
    ['Embedding', () => new Embedding(5, 4)],
    ['MLP', () => new MLP(4, 8)],
    ['SwiGLU', () => new SwiGLU(4, 8)],
    ['MultiHeadAttention', () => new MultiHeadAttention(8, { numHeads: 2 })],
    ['Block', () => new Block(8, { numHeads: 2 })],
    ['ChunkedAttention', () => new ChunkedAttention(8, 2, 2)],
    ['FifoMemory', () => new FifoMemory(4, 8, { numHeads: 2, init: 'learned' })],
    ['MemoryBlock', () => new MemoryBlock(8, { numHeads: 2, chunkSize: 2, memorySlots: 4 })],
    ['MultiHeadLatentAttention', () => new MultiHeadLatentAttention({ dim: 8, numHeads: 2, kvLoraRank: 4, qkNopeHeadDim: 2, qkRopeHeadDim: 2, vHeadDim: 2 })],
    ['PaTHAttention', () => new PaTHAttention(8, { numHeads: 2 })],
    ['ShortConvolution', () => new ShortConvolution(8, 3)],
  ];
  const flat = (m: Module): number[] => m.parameters().flatMap((p) => Array.from(p.data));
  for (const [name, build] of builds) {
    manualSeed(5);
    const a = flat(build());
    const b = flat(build());
    assert.ok(a.some((v, i) => v !== b[i]), `${name}: two layers built without a generator have the same weights`);
    manualSeed(5);
    assert.equal(flat(build()), a, `${name}: manualSeed(5) does not reproduce the weights`);
  }
  // Dropout without a generator draws its masks from the default generator too
  const drop = new Dropout(0.5);
  manualSeed(3);
  const m1 = Array.from(drop.forward(zeros([64]).add(1)).data);
  const m2 = Array.from(drop.forward(zeros([64]).add(1)).data);
  assert.ok(m1.some((v, i) => v !== m2[i]), 'Dropout: two calls without a generator drew the same mask');
  manualSeed(3);
  assert.equal(Array.from(drop.forward(zeros([64]).add(1)).data), m1, 'Dropout: manualSeed(3) does not reproduce the mask');
});

test('initialisers check their arguments under their own name', () => {
  const g = new Generator(1);
  const bad = null as unknown as never;
  refuses(() => uniformParameter(bad, { bound: 0.1, generator: g }), DTypeError, 'uniformParameter', 'uniformParameter(shape = null)');
  refuses(() => uniformParameter([2, -1], { bound: 0.1, generator: g }), ShapeError, 'uniformParameter', 'uniformParameter(shape = [2, -1])');
  refuses(() => uniformParameter([2, 2], { bound: -1, generator: g }), ValueError, 'uniformParameter', 'uniformParameter(bound = -1)');
  refuses(() => uniformParameter([2, 2], { bound: 0.1, generator: bad }), DTypeError, 'uniformParameter', 'uniformParameter(generator = null)');
  refuses(() => uniformParameter([2, 2], { bound: 0.1, generator: g, dtype: 'bogus' as never }), ValueError, 'uniformParameter', 'uniformParameter(dtype = bogus)');
  refuses(() => normalParameter([2, 2], { std: Number.NaN, generator: g }), ValueError, 'normalParameter', 'normalParameter(std = NaN)');
  // the options object holds required settings: leaving it out says what it must hold, under its own name
  for (const [call, name, needs] of [
    [() => uniformParameter([2, 2], undefined as never), 'uniformParameter', 'bound and generator'],
    [() => normalParameter([2, 2], undefined as never), 'normalParameter', 'std and generator'],
    [() => gpt2Init(new MLP(4, 8, { generator: g }), undefined as never), 'gpt2Init', 'numLayers, generator and select'],
  ] as const) {
    assertRefused(call, DTypeError, name, { arg: 'options', words: [needs], label: `${name}(shape, undefined)` });
  }
  refuses(() => normalParameter([2 ** 20, 2 ** 20], { std: 1, generator: g }), ValueError, 'normalParameter', 'normalParameter(shape too large)');
  refuses(() => constantParameter([2, 2], 'abc' as never), DTypeError, 'constantParameter', "constantParameter(value = 'abc')");
  const mlp = new MLP(4, 8, { generator: g });
  refuses(() => gpt2Init(bad, { numLayers: 2, generator: g, select: /weight/ }), DTypeError, 'gpt2Init', 'gpt2Init(model = null)');
  refuses(() => gpt2Init(mlp, { numLayers: 1.5, generator: g, select: /weight/ }), ValueError, 'gpt2Init', 'gpt2Init(numLayers = 1.5)');
  refuses(() => gpt2Init(mlp, { numLayers: 2, generator: bad, select: /weight/ }), DTypeError, 'gpt2Init', 'gpt2Init(generator = null)');
  refuses(() => gpt2Init(mlp, { numLayers: 2, generator: g, select: 'weight' as never }), DTypeError, 'gpt2Init', "gpt2Init(select = 'weight')");
  const before = mlp.fc1.weight.version;
  gpt2Init(mlp, { numLayers: 2, generator: g, select: /weight/ });
  assert.ok(mlp.fc1.weight.version > before, 'gpt2Init writes in place, so it must bump the parameter version');
});

test('masks, formatProgress and the spectral read-outs refuse bad arguments under their own name', () => {
  const bad = null as unknown as never;
  refuses(() => causalMask(3, 2 ** 40), ValueError, 'causalMask', 'causalMask(Tk = 2**40)');
  refuses(() => slidingWindowMask(3, 1.5, 2), ValueError, 'slidingWindowMask', 'slidingWindowMask(Tk = 1.5)');
  refuses(() => slidingWindowMask(3, undefined as never, 2), DTypeError, 'slidingWindowMask', 'slidingWindowMask(Tk missing)');
  refuses(() => paddingMask(bad, 4), DTypeError, 'paddingMask', 'paddingMask(lengths = null)');
  refuses(() => paddingMask([2, 3], -1), ValueError, 'paddingMask', 'paddingMask(Tk = -1)');
  refuses(() => documentMask('abc' as never), DTypeError, 'documentMask', "documentMask('abc')");
  refuses(() => documentMask([0, Number.NaN, 1]), ValueError, 'documentMask', 'documentMask(NaN id)');
  refuses(() => combineMasks(bad, causalMask(2)), DTypeError, 'combineMasks', 'combineMasks(null, mask)');
  refuses(() => combineMasks(causalMask(2, 3), causalMask(2)), ShapeError, 'combineMasks', 'combineMasks([2,3], [2,2])');
  const p = { step: 1, steps: 10, loss: 2.5, lr: 1e-3, tokensPerSecond: 100, etaSeconds: 5 };
  refuses(() => formatProgress(bad), DTypeError, 'formatProgress', 'formatProgress(null)');
  refuses(() => formatProgress({ ...p, step: 1.5 }), ValueError, 'formatProgress', 'formatProgress(step = 1.5)');
  refuses(() => formatProgress({ ...p, lr: 'abc' as never }), DTypeError, 'formatProgress', "formatProgress(lr = 'abc')");
  refuses(() => formatProgress({ ...p, etaSeconds: Number.NaN }), ValueError, 'formatProgress', 'formatProgress(etaSeconds = NaN)');
  refuses(() => formatProgress(p, Number.POSITIVE_INFINITY), ValueError, 'formatProgress', 'formatProgress(secondsPerStep = ∞)');
  assert.match(formatProgress({ ...p, loss: Number.NaN }), /loss NaN/, 'a NaN loss is data: it prints');
  refuses(() => marchenkoPasturCdf(Number.NaN, 0.5), ValueError, 'marchenkoPasturCdf', 'marchenkoPasturCdf(x = NaN)');
  refuses(() => marchenkoPasturCdf(true as never, 0.5), DTypeError, 'marchenkoPasturCdf', 'marchenkoPasturCdf(x = true)');
  refuses(() => marchenkoPasturQuantile(null as never, 0.5), DTypeError, 'marchenkoPasturQuantile', 'marchenkoPasturQuantile(q = null)');
  refuses(() => effectiveRank(bad), DTypeError, 'effectiveRank', 'effectiveRank(null)');
  refuses(() => stableRank(['1'] as never), DTypeError, 'stableRank', "stableRank(['1'])");
  refuses(() => spectralDiagnostics([3, 2, 1], bad), DTypeError, 'spectralDiagnostics', 'spectralDiagnostics(options = null)');
  refuses(() => spectralDiagnostics([3, 2, 1], { n: 8, baseline: null as never }), DTypeError, 'spectralDiagnostics', 'spectralDiagnostics(baseline = null)');
  const w = f32([8, 8]);
  refuses(() => qkSpectrum(bad, w), DTypeError, 'qkSpectrum', 'qkSpectrum(wq = null)');
  refuses(() => qkSpectrum(w, new Tensor(new Float32Array(64).fill(Number.NaN), [8, 8])), ValueError, 'qkSpectrum', 'qkSpectrum(wk = NaN inside)');
  refuses(() => qkSpectrum(w, w, 'abc' as never), DTypeError, 'qkSpectrum', "qkSpectrum(options = 'abc')");
  refuses(() => qkSpectrum(w, w, { numHeads: 2, perHead: 1 as never }), DTypeError, 'qkSpectrum', 'qkSpectrum(perHead = 1)');
  refuses(() => qkSpectrum(w, w, { numHeads: 2, numKVHeads: null as never }), DTypeError, 'qkSpectrum', 'qkSpectrum(numKVHeads = null)');
  refuses(() => baselineFromSpectra('abc' as never), DTypeError, 'baselineFromSpectra', "baselineFromSpectra('abc')");
  refuses(() => baselineFromSpectra([qkSpectrum(w, w).layer], { margin: null as never }), DTypeError, 'baselineFromSpectra', 'baselineFromSpectra(margin = null)');
  refuses(() => randomInitBaseline(bad), DTypeError, 'randomInitBaseline', 'randomInitBaseline(shape = null)');
  refuses(() => randomInitBaseline([8, 8], 'linear', { generator: 42 as never }), DTypeError, 'randomInitBaseline', 'randomInitBaseline(generator = 42)');
  refuses(() => randomInitBaseline([8, 8], 'linear', { bogus: 1 } as never), ValueError, 'randomInitBaseline', 'randomInitBaseline(unknown option)');
});

test('train counts tokens per step as an integer', () => {
  const lin = new Linear(2, 2, { generator: new Generator(1) });
  const x = f32([3, 2]);
  const opt = { steps: 1, optimizer: new AdamW(lin.parameters(), { lr: 0.01 }), output: null, tokensPerStep: 1.5 };
  refuses(() => train(lin, () => lin.forward(x).square().mean(), opt), ValueError, 'train', 'train(tokensPerStep = 1.5)');
});

test('saveSafetensors refuses bad metadata under its own name (not serializeSafetensors)', async () => {
  const lin = new Linear(2, 2, { generator: new Generator(1) });
  for (const metadata of [null, 'abc', 42, { a: 1 }]) {
    let caught: unknown = null;
    try {
      await saveSafetensors(lin, '/nonexistent-dir-never-written/x.safetensors', metadata as never);
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof DTypeError, `metadata=${String(metadata)}: ${String(caught)}`);
    assert.ok((caught as Error).message.startsWith('saveSafetensors: '), (caught as Error).message);
  }
});

test('positions the encoding refuses (one too many, an extra axis, none) are named by the method the user called', () => {
  const x = f32([1, 4, 8]);
  const { mha, block, chunked, mla, mem } = positionLayers();
  const wrong: Array<[string, Tensor]> = [
    ['T + 1 positions', new Tensor(Float64Array.from([0, 1, 2, 3, 4]), [5])],
    ['an extra leading axis', new Tensor(Float64Array.from([0, 1]), [1, 1, 2])],
    ['no positions', new Tensor(new Float64Array(0), [0])],
  ];
  for (const [label, positions] of wrong) {
    refuses(() => mha.forward(x, { positions }), ShapeError, 'MultiHeadAttention.forward', `MHA: ${label}`);
    refuses(() => block.forward(x, { positions }), ShapeError, 'Block.forward', `Block: ${label}`);
    refuses(() => chunked.forward(x, { positions }), ShapeError, 'ChunkedAttention.forward', `Chunked: ${label}`);
    refuses(() => mem.forward(x, mem.memory.initial(1), { positions }), ShapeError, 'MemoryBlock.forward', `MemoryBlock: ${label}`);
    for (const mode of ['explicit', 'absorbed'] as const) {
      mla.mode = mode;
      refuses(() => mla.forward(x, { positions }), ShapeError, 'MultiHeadLatentAttention.forward', `MLA ${mode}: ${label}`);
      refuses(() => mla.logits(x, { positions }), ShapeError, 'MultiHeadLatentAttention.logits', `MLA logits ${mode}: ${label}`);
    }
  }
  // the refusal comes before a cache is touched
  const bad = wrong[0]![1];
  const cache = new KVCache();
  refuses(() => mha.forward(x, { positions: bad, cache }), ShapeError, 'MultiHeadAttention.forward', 'MHA with a cache');
  assert.is(cache.length, 0);
  const latent = mla.newCache();
  refuses(() => mla.forward(x, { positions: bad, cache: latent }), ShapeError, 'MultiHeadLatentAttention.forward', 'MLA with a cache');
  assert.is(latent.length, 0);
  // the right positions still run: [T] and [B, T]
  assert.equal(block.forward(x, { positions: new Tensor(Float64Array.from([3, 4, 5, 6]), [1, 4]) }).shape, [1, 4, 8]);
  assert.equal(mla.forward(x, { positions: new Tensor(Float64Array.from([3, 4, 5, 6]), [4]) }).shape, [1, 4, 8]);
});

test('sizes too large to allocate are refused at the layer the user built, naming its argument', () => {
  const big = 2 ** 40;
  const rows: Array<[() => unknown, string, string]> = [
    [() => new LayerNorm(big), 'LayerNorm', 'dim'],
    [() => new RMSNorm(big), 'RMSNorm', 'dim'],
    [() => new MLP(big, 16), 'MLP', 'dim'],
    [() => new MLP(8, big), 'MLP', 'hidden'],
    [() => new SwiGLU(big, 16), 'SwiGLU', 'dim'],
    [() => new SwiGLU(8, big), 'SwiGLU', 'hidden'],
    [() => new Block(8, { numHeads: 2, hidden: big }), 'Block', 'hidden'],
    [() => new MemoryBlock(big, { numHeads: 2, chunkSize: 2, memorySlots: 2 }), 'MemoryBlock', 'dim'],
    [() => new MemoryBlock(8, { numHeads: 2, chunkSize: 2, memorySlots: big }), 'MemoryBlock', 'memorySlots'],
    [() => new MemoryBlock(8, { numHeads: 2, chunkSize: 2, memorySlots: 2, hidden: big }), 'MemoryBlock', 'hidden'],
  ];
  for (const [fn, prefix, arg] of rows) {
    refuses(fn, ValueError, prefix, `${prefix} ${arg}`);
    try {
      fn();
    } catch (e) {
      assert.is((e as ValueError).arg, arg, `${prefix}: names ${arg}`);
    }
  }
});

test('chunkedAttention with a chunk longer than the sequence is plain (causal) attention, allocating nothing of the chunk size', () => {
  const q = f32([1, 2, 4, 4], 1);
  const k = f32([1, 2, 4, 4], 2);
  const v = f32([1, 2, 4, 4], 3);
  for (const causal of [true, false]) {
    const plain = scaledDotProductAttention(q, k, v, { causal });
    for (const chunkSize of [4, 5, 2 ** 40]) {
      const out = chunkedAttention(q, k, v, chunkSize, { causal });
      assert.ok(maxAbsDiff(out, plain) < 1e-6, `chunkSize ${chunkSize}, causal ${causal}`);
    }
  }
});

test('PaTH attention at a huge scale gives the argmax limit, not NaN, in all four computations', () => {
  // softmax(scale·s) → one-hot at the largest (scale > 0) or smallest (scale < 0) logit: each output row is one of v's rows
  const g = new Generator(5);
  const [B, H, T, d] = [1, 2, 4, 4];
  const unit = (t: Tensor): Tensor => t.div(t.mul(t).sum(-1, true).sqrt());
  const q = randn([B, H, T, d], { generator: g });
  const k = randn([B, H, T, d], { generator: g });
  const v = randn([B, H, T, d], { generator: g });
  const w = unit(randn([B, H, T, d], { generator: g }));
  const beta = randn([B, H, T], { generator: g }).sigmoid().mul(2);
  for (const scale of [1e300, -1e300, 1e38]) {
    const outs: Array<[string, Tensor]> = [
      ['pathAttention', pathAttention(q, k, v, w, beta, { scale })],
      ['pathAttentionDirect', pathAttentionDirect(q, k, v, w, beta, { scale })],
      ['pathAttentionRecurrent', pathAttentionRecurrent(q, k, v, w, beta, { scale })],
      ['PaTHCache.step', new PaTHCache().step(q, k, v, w, beta, { scale })],
    ];
    for (const [name, out] of outs) {
      assert.ok(out.data.every(Number.isFinite), `${name} scale ${scale}: finite`);
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < T; i++) {
          const row = Array.from(out.data.subarray(((h * T) + i) * d, ((h * T) + i + 1) * d));
          const hit = Array.from({ length: i + 1 }, (_, j) => Array.from(v.data.subarray(((h * T) + j) * d, ((h * T) + j + 1) * d)))
            .some((vj) => vj.every((x, c) => Math.abs(x - row[c]!) < 1e-6));
          assert.ok(hit, `${name} scale ${scale}: head ${h} row ${i} is one of v[0..${i}]`);
        }
      }
    }
    for (const [name, out] of outs.slice(1)) assert.ok(maxAbsDiff(out, outs[0]![1]) < 1e-6, `${name} agrees with pathAttention at scale ${scale}`);
  }
});

test('generate names itself when the model returns NaN or +∞ logits', () => {
  for (const bad of [NaN, Infinity]) {
    const model: CausalLM = { forward: () => new Tensor(Float64Array.from([0, bad, 1]), [1, 1, 3]), newCaches: () => [] };
    refuses(() => generate(model, [0], { maxNewTokens: 1, temperature: 0 }), ValueError, 'generate', `logit ${bad}`);
  }
  // −∞ is a masked token: fine
  const masked: CausalLM = { forward: () => new Tensor(Float64Array.from([-Infinity, 0, 1]), [1, 1, 3]), newCaches: () => [] };
  assert.equal(generate(masked, [0], { maxNewTokens: 2, temperature: 0 }), [2, 2]);
});

test.run();
