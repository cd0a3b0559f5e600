/**
 * models/ refuse every bad config field at construction, and bad ids / targets / caches / options at the method
 * called, with a typed error whose message starts with that model (or Model.method).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertRefused } from '../helpers/refusal.js';
import { DTypeError, Generator, ShapeError, Tensor, ValueError, randn, zeros } from '../../core/index.js';
import {
  GPT, MLABlock, MLALM, MemoryTransformer, PaTHBlock, PaTHLM, ViT, bilinearResizeMatrix, mlaLMParameterName, patchify, resolveMLALMConfig, type GPTConfig,
} from '../../models/index.js';
import { FifoMemory, KVCache, generate } from '../../nn/index.js';

type ErrorClass = typeof DTypeError | typeof ValueError | typeof ShapeError;

const refuses = (fn: () => unknown, type: ErrorClass, prefix: string, label: string): void => assertRefused(fn, type, prefix, { label });

const gpt: GPTConfig = { vocabSize: 11, contextLength: 8, dim: 8, numLayers: 1, numHeads: 2, positional: 'rope' };
const mla = { vocabSize: 11, dim: 8, numLayers: 1, numHeads: 2, kvLoraRank: 4, qkNopeHeadDim: 2, qkRopeHeadDim: 2, vHeadDim: 2 };
const path = { vocabSize: 11, dim: 8, numLayers: 1, numHeads: 2, lowRankW: 4 as number | false };
const mem = { vocabSize: 11, dim: 8, numLayers: 1, numHeads: 2, segmentLength: 4, chunkSize: 2, memorySlots: 2 };
const vit = { patchSize: 2, numClasses: 3, dim: 8, depth: 1, numHeads: 2, positional: 'rope-axial' as const, channels: 1 };
const ids = (values: number[], shape = [1, values.length]): Tensor => new Tensor(Float64Array.from(values), shape);

test('every config field of every model is checked at construction', () => {
  const rows: Array<[() => unknown, ErrorClass, string, string]> = [
    [() => new GPT({ ...gpt, numLayers: -1 }), ValueError, 'GPT', 'numLayers -1'],
    [() => new GPT({ ...gpt, numLayers: 1.5 }), ValueError, 'GPT', 'numLayers 1.5'],
    [() => new GPT({ ...gpt, vocabSize: NaN }), ValueError, 'GPT', 'vocabSize NaN'],
    [() => new GPT({ ...gpt, contextLength: 0 }), ValueError, 'GPT', 'contextLength 0'],
    [() => new GPT({ ...gpt, numKVHeads: 3 }), ValueError, 'GPT', 'numKVHeads 3'],
    [() => new GPT({ ...gpt, ropeBase: 1 }), ValueError, 'GPT', 'ropeBase 1'],
    [() => new GPT({ ...gpt, dropout: 2 }), ValueError, 'GPT', 'dropout 2'],
    [() => new GPT({ ...gpt, norm: 'batch' as 'layer' }), ValueError, 'GPT', "norm 'batch'"],
    [() => new GPT({ ...gpt, tieEmbeddings: 'yes' as unknown as boolean }), DTypeError, 'GPT', 'tieEmbeddings string'],
    [() => new GPT({ ...gpt, seed: NaN }), ValueError, 'GPT', 'seed NaN'],
    [() => new GPT({ ...gpt, positional: 7 as unknown as string }), DTypeError, 'GPT', 'positional 7'],
    [() => new GPT({ ...gpt, numLayer: 2 } as unknown as GPTConfig), ValueError, 'GPT', 'misspelt field'],
    [() => new GPT({ ...gpt, dim: 6, numHeads: 2 }), ValueError, 'GPT', 'odd head dim for RoPE'],
    [() => new GPT(null as unknown as GPTConfig), DTypeError, 'GPT', 'null'],
    [() => new GPT({ ...gpt, vocabSize: 2 ** 30, dim: 2 ** 10 }), ValueError, 'GPT', 'too large'],
    [() => new MLALM({ ...mla, numLayers: 1.5 }), ValueError, 'MLALM', 'numLayers 1.5'],
    [() => new MLALM({ ...mla, numHeads: 0 }), ValueError, 'MLALM', 'numHeads 0'],
    [() => new MLALM({ ...mla, qkRopeHeadDim: 3 }), ValueError, 'MLALM', 'qkRopeHeadDim 3'],
    [() => new MLALM({ ...mla, ropeBase: NaN }), ValueError, 'MLALM', 'ropeBase NaN'],
    [() => new MLALM({ ...mla, ropeBase: 1 }), ValueError, 'MLALM', 'ropeBase 1'],
    [() => new MLALM({ ...mla, normEps: -1 }), ValueError, 'MLALM', 'normEps -1'],
    [() => new MLALM({ ...mla, rope: 'pre-rope', mode: 'absorbed' }), ValueError, 'MLALM', 'pre-rope absorbed'],
    [() => new MLALM(null as unknown as typeof mla), DTypeError, 'MLALM', 'null'],
    [() => new PaTHLM({ ...path, numLayers: -1 }), ValueError, 'PaTHLM', 'numLayers -1'],
    [() => new PaTHLM({ ...path, chunkSize: 0.5 }), ValueError, 'PaTHLM', 'chunkSize 0.5'],
    [() => new PaTHLM({ ...path, numKVHeads: 3 }), ValueError, 'PaTHLM', 'numKVHeads 3'],
    [() => new PaTHLM({ ...path, mlp: 'relu' as 'gelu' }), ValueError, 'PaTHLM', "mlp 'relu'"],
    [() => new MemoryTransformer({ ...mem, numLayers: 1.5 }), ValueError, 'MemoryTransformer', 'numLayers 1.5'],
    [() => new MemoryTransformer({ ...mem, chunkSize: 0 }), ValueError, 'MemoryTransformer', 'chunkSize 0'],
    [() => new MemoryTransformer({ ...mem, gate: 2 }), ValueError, 'MemoryTransformer', 'gate 2'],
    [() => new MemoryTransformer({ ...mem, ropeBase: -1 }), ValueError, 'MemoryTransformer', 'ropeBase -1'],
    [() => new MemoryTransformer({ ...mem, combine: 'sum' as 'weights' }), ValueError, 'MemoryTransformer', "combine 'sum'"],
    [() => new ViT({ ...vit, depth: 1.5 }), ValueError, 'ViT', 'depth 1.5'],
    [() => new ViT({ ...vit, mlpRatio: NaN }), ValueError, 'ViT', 'mlpRatio NaN'],
    [() => new ViT({ ...vit, channels: 0 }), ValueError, 'ViT', 'channels 0'],
    [() => new ViT({ ...vit, positional: 'sin' as 'none' }), ValueError, 'ViT', "positional 'sin'"],
  ];
  for (const [fn, type, prefix, label] of rows) refuses(fn, type, prefix, label);
});

test('forward, loss, caches and generate refuse bad inputs at the method called', () => {
  const g = new GPT(gpt);
  const m = new MLALM(mla);
  const p = new PaTHLM(path);
  const t = new MemoryTransformer(mem);
  const v = new ViT(vit);
  const rows: Array<[() => unknown, ErrorClass, string, string]> = [
    [() => g.forward(null as unknown as Tensor), DTypeError, 'GPT.forward', 'null ids'],
    [() => g.forward([[1, 2]] as unknown as Tensor), DTypeError, 'GPT.forward', 'nested array ids'],
    [() => g.forward(ids([1, 11])), ValueError, 'GPT.forward', 'id = vocabSize'],
    [() => g.forward(ids([1, NaN])), ValueError, 'GPT.forward', 'NaN id'],
    [() => g.forward(ids([1, 2]), { caches: [new KVCache(), new KVCache()] }), ValueError, 'GPT.forward', 'two caches for one layer'],
    [() => g.forward(ids([1, 2]), { caches: [{}] as unknown as KVCache[] }), DTypeError, 'GPT.forward', 'cache {}'],
    [() => g.loss(ids([1, 2]), ids([1, 2, 3])), ShapeError, 'GPT.loss', 'targets shape'],
    [() => g.loss(ids([1, 2]), ids([1, 1.5])), ValueError, 'GPT.loss', 'fractional target'],
    [() => generate(g, [1, 11], { maxNewTokens: 1, temperature: 0 }), ValueError, 'generate', 'prompt id = vocabSize'],
    [() => m.forward(ids([1, 2]), { positions: new Tensor(Float64Array.from([0, NaN]), [2]) }), ValueError, 'MLALM.forward', 'NaN position'],
    [() => m.forward(ids([1, 2]), { caches: [new KVCache()] }), DTypeError, 'MLALM.forward', 'plain KVCache'],
    [() => m.setMode('fast' as 'explicit'), ValueError, 'MLALM.setMode', "mode 'fast'"],
    [() => p.forward(ids([1, -1])), ValueError, 'PaTHLM.forward', 'negative id'],
    [() => t.forward(ids([1, 2]), { memory: null as unknown as [] }), DTypeError, 'MemoryTransformer.forward', 'null memory'],
    [() => t.forwardStream(ids([1, 2]), null as unknown as ReturnType<MemoryTransformer['newStream']>), DTypeError, 'MemoryTransformer.forwardStream', 'null stream'],
    [() => t.forwardStream(ids([1, 2, 1, 2], [2, 2]), t.newStream(1)), ValueError, 'MemoryTransformer.forwardStream', 'stream batch'],
    [() => t.generate('hi' as unknown as number[], { maxNewTokens: 1, temperature: 0 }), DTypeError, 'MemoryTransformer.generate', 'string prompt'],
    [() => t.newStream(0), ValueError, 'MemoryTransformer.newStream', 'batch 0'],
    [() => v.forward(null as unknown as Tensor), DTypeError, 'ViT.forward', 'null images'],
    [() => v.forward(zeros([1, 1, 3, 4])), ShapeError, 'ViT.forward', 'odd image size'],
    [() => v.loss(zeros([2, 1, 4, 4]), [0, 3]), ValueError, 'ViT.loss', 'label = numClasses'],
    [() => v.positions(NaN, 2), ValueError, 'ViT.positions', 'gh NaN'],
    [() => patchify(zeros([1, 1, 3, 4]), 2), ShapeError, 'patchify', 'odd image size'],
    [() => bilinearResizeMatrix(2, 2, 1.5, 2), ValueError, 'bilinearResizeMatrix', 'gh 1.5'],
  ];
  for (const [fn, type, prefix, label] of rows) refuses(fn, type, prefix, label);
});

test('PaTHBlock and MLABlock check their config, generator, x and cache at their own entry', () => {
  const g = new Generator(1);
  const x = randn([1, 4, 8], { generator: g });
  const bad = null as unknown as never;
  refuses(() => new PaTHBlock(8, bad, g), DTypeError, 'PaTHBlock', 'PaTHBlock(config = null)');
  refuses(() => new PaTHBlock(1.5, path, g), ValueError, 'PaTHBlock', 'PaTHBlock(dim = 1.5)');
  refuses(() => new PaTHBlock(8, { ...path, numLayers: Number.NaN }, g), ValueError, 'PaTHBlock', 'PaTHBlock(numLayers = NaN)');
  refuses(() => new PaTHBlock(8, path, bad), DTypeError, 'PaTHBlock', 'PaTHBlock(generator = null)');
  const pb = new PaTHBlock(8, path, g);
  refuses(() => pb.forward(bad), DTypeError, 'PaTHBlock.forward', 'PaTHBlock.forward(x = null)');
  refuses(() => pb.forward(randn([1, 4, 9])), ShapeError, 'PaTHBlock.forward', 'PaTHBlock.forward(x = [1,4,9])');
  refuses(() => pb.forward(x, 42 as never), DTypeError, 'PaTHBlock.forward', 'PaTHBlock.forward(cache = 42)');
  const c = resolveMLALMConfig(mla);
  refuses(() => new MLABlock(bad, g), DTypeError, 'MLABlock', 'MLABlock(c = null)');
  refuses(() => new MLABlock(c, undefined as never), DTypeError, 'MLABlock', 'MLABlock(generator missing)');
  const mb = new MLABlock(c, g);
  refuses(() => mb.forward(bad), DTypeError, 'MLABlock.forward', 'MLABlock.forward(x = null)');
  refuses(() => mb.forward(x, { cache: 'abc' as never }), DTypeError, 'MLABlock.forward', "MLABlock.forward(cache = 'abc')");
  refuses(() => mb.forward(x, { bogus: 1 } as never), ValueError, 'MLABlock.forward', 'MLABlock.forward(unknown option)');
});

test('seeds are integers, enum fields are not null, and layer stacks too large to allocate are refused under the model name', () => {
  refuses(() => new GPT({ ...gpt, seed: 1.5 }), ValueError, 'GPT', 'GPT(seed = 1.5)');
  refuses(() => new GPT({ ...gpt, numLayers: 2 ** 40 }), ValueError, 'GPT', 'GPT(numLayers = 2**40)');
  refuses(() => new ViT({ ...vit, seed: 1.5 }), ValueError, 'ViT', 'ViT(seed = 1.5)');
  refuses(() => new ViT({ ...vit, depth: 2 ** 40 }), ValueError, 'ViT', 'ViT(depth = 2**40)');
  refuses(() => new ViT({ ...vit, numClasses: 2 ** 40 }), ValueError, 'ViT', 'ViT(numClasses = 2**40)');
  refuses(() => new MemoryTransformer({ ...mem, seed: 1.5 }), ValueError, 'MemoryTransformer', 'MemoryTransformer(seed = 1.5)');
  refuses(() => new MemoryTransformer({ ...mem, numLayers: 2 ** 40 }), ValueError, 'MemoryTransformer', 'MemoryTransformer(numLayers = 2**40)');
  refuses(() => new MemoryTransformer({ ...mem, truncateBPTT: null as never }), DTypeError, 'MemoryTransformer', 'MemoryTransformer(truncateBPTT = null)');
  refuses(() => new PaTHLM({ ...path, seed: 1.5 }), ValueError, 'PaTHLM', 'PaTHLM(seed = 1.5)');
  refuses(() => new PaTHLM({ ...path, numLayers: 2 ** 40 }), ValueError, 'PaTHLM', 'PaTHLM(numLayers = 2**40)');
  refuses(() => new PaTHLM({ ...path, lowRankW: 2 ** 40 }), ValueError, 'PaTHLM', 'PaTHLM(lowRankW = 2**40)');
  refuses(() => new MLALM({ ...mla, numLayers: 2 ** 40 }), ValueError, 'MLALM', 'MLALM(numLayers = 2**40)');
  refuses(() => new MLALM({ ...mla, hidden: 2 ** 40 }), ValueError, 'MLALM', 'MLALM(hidden = 2**40)');
  refuses(() => new MLALM({ ...mla, qLoraRank: 2 ** 40 }), ValueError, 'MLALM', 'MLALM(qLoraRank = 2**40)');
  for (const field of ['ropeLayout', 'rope', 'mode', 'dtype']) {
    refuses(() => resolveMLALMConfig({ ...mla, [field]: null } as never), ValueError, 'resolveMLALMConfig', `resolveMLALMConfig(${field} = null)`);
  }
  refuses(() => resolveMLALMConfig({ ...mla, seed: 1.5 }), ValueError, 'resolveMLALMConfig', 'resolveMLALMConfig(seed = 1.5)');
  refuses(() => mlaLMParameterName(42 as never), DTypeError, 'mlaLMParameterName', 'mlaLMParameterName(42)');
  assert.is(mlaLMParameterName('model.layers.0.mlp.gate_proj.weight'), 'layers.0.mlp.gate.weight');
});

test('nn option fields given as null are refused, not read as their default', () => {
  refuses(() => new KVCache({ maxLength: null as never }), ValueError, 'KVCache', 'KVCache(maxLength = null)');
  refuses(() => new FifoMemory(4, 8, { gate: null as never }), DTypeError, 'FifoMemory', 'FifoMemory(gate = null)');
});

test('positions the rotary encoding refuses are named by the method the user called (MLABlock.forward, MLALM.forward)', () => {
  const g = new Generator(1);
  const x = randn([1, 4, 8], { generator: g });
  const block = new MLABlock(resolveMLALMConfig(mla), g);
  const m = new MLALM(mla);
  const wrong: Array<[string, Tensor]> = [
    ['T + 1 positions', new Tensor(Float64Array.from([0, 1, 2, 3, 4]), [5])],
    ['an extra leading axis', new Tensor(Float64Array.from([0, 1]), [1, 1, 2])],
    ['no positions', new Tensor(new Float64Array(0), [0])],
  ];
  for (const [label, positions] of wrong) {
    refuses(() => block.forward(x, { positions }), ShapeError, 'MLABlock.forward', `MLABlock: ${label}`);
    refuses(() => m.forward(ids([1, 2, 3, 4]), { positions }), ShapeError, 'MLALM.forward', `MLALM: ${label}`);
  }
  const caches = m.newCaches();
  refuses(() => m.forward(ids([1, 2, 3, 4]), { positions: wrong[0]![1], caches }), ShapeError, 'MLALM.forward', 'with caches');
  assert.is(caches[0]!.length, 0, 'a refused call leaves the caches empty');
});

test('sizes too large to allocate are refused at the model method the user called, naming its argument', () => {
  const big = 2 ** 40;
  const t = new MemoryTransformer(mem);
  const v = new ViT(vit);
  const rows: Array<[() => unknown, string, string]> = [
    [() => new MemoryTransformer({ ...mem, memorySlots: big }), 'MemoryTransformer', 'memorySlots'],
    [() => t.initialMemory(big), 'MemoryTransformer.initialMemory', 'batch'],
    [() => t.newStream(big), 'MemoryTransformer.newStream', 'batch'],
    [() => v.positions(big, 2), 'ViT.positions', 'gh'],
    [() => v.positions(2, big), 'ViT.positions', 'gw'],
  ];
  for (const [fn, prefix, arg] of rows) {
    let caught: unknown = null;
    try {
      fn();
    } catch (e) {
      caught = e;
    }
    refuses(() => { if (caught !== null) throw caught; }, ValueError, prefix, `${prefix} ${arg}`);
    assert.is((caught as ValueError).arg, arg, `${prefix}: names ${arg}`);
  }
});

test('ViT.loss refuses labels with an extra axis; MemoryTransformer.generate names itself for NaN logits', () => {
  const v = new ViT(vit);
  refuses(() => v.loss(zeros([1, 1, 4, 4]), new Tensor(Float64Array.from([0]), [1, 1])), ShapeError, 'ViT.loss', 'labels [1, 1]');
  assert.ok(Number.isFinite(v.loss(zeros([1, 1, 4, 4]), new Tensor(Float64Array.from([0]), [1])).data[0]!), 'labels [1] still work');
  const t = new MemoryTransformer(mem);
  t.lnF.weight!.data.fill(NaN);
  t.lnF.weight!.markModified();
  refuses(() => t.generate([1, 2], { maxNewTokens: 1, temperature: 0 }), ValueError, 'MemoryTransformer.generate', 'NaN logits');
});

test('MLABlock runs only through forward (no public unchecked run), and MLALM.forward checks every layer before any cache grows', () => {
  const g = new Generator(2);
  const block = new MLABlock(resolveMLALMConfig(mla), g);
  assert.is((block as unknown as { run?: unknown }).run, undefined, 'MLABlock.run skipped every check');
  const model = new MLALM({ ...mla, numLayers: 2 });
  const fresh = model.newCaches();
  // layer 1's cache holds 2 tokens of another batch size: refused before layer 0's cache grows
  model.forward(new Tensor(Float64Array.from([1, 2, 3, 4]), [2, 2]), { caches: [model.newCaches()[0]!, fresh[1]!] });
  const first = model.newCaches()[0]!;
  refuses(() => model.forward(new Tensor(Float64Array.from([1, 2]), [1, 2]), { caches: [first, fresh[1]!] }), ShapeError, 'MLALM.forward', 'MLALM.forward(layer 1 cache of batch 2)');
  assert.is(first.length, 0, "layer 0's cache untouched by the refused call");
});

test.run();
