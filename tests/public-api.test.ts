/** The public names the issues list are a contract: each must be exported by its folder and by the package root. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as root from '../index.js';
import * as core from '../core/index.js';
import * as models from '../models/index.js';
import * as nn from '../nn/index.js';
import * as positional from '../positional/index.js';

const CONTRACT: Array<[string, Record<string, unknown>, string]> = [
  ['core', core, 'tensor zeros ones randn Generator Tensor add sub mul div matmul sum mean max exp log softmax logSoftmax reshape permute transpose concat gather noGrad grad gradcheck ShapeError symmetricEigenvalues'],
  ['nn', nn, 'Module Linear Embedding LayerNorm RMSNorm MLP SwiGLU Block MultiHeadAttention scaledDotProductAttention KVCache serializeSafetensors parseSafetensors saveSafetensors loadSafetensors ChunkedAttention FifoMemory MemoryBlock MultiHeadLatentAttention PaTHAttention pathAttention'],
  ['positional', positional, 'ropeInvFreq rotaryAngles applyRotary RoPE fromHFConfig yarnInvFreq pRopeInvFreq longTermDecay minimalBase PSC hiropePositions anchorAttentionMask toBFloat16 ropeVitAxialAngles ropeVitMixedAngles RoPEMixed mropePositions videoRopePositions videoRopeAxisOfPair vropePositions hopeAngles fluxPositions dropeAngles multiAxisAngles'],
  ['models', models, 'GPT MemoryTransformer MLALM'],
];

for (const [folder, surface, names] of CONTRACT) {
  test(`${folder}/index.ts and the package root export every contracted name`, () => {
    for (const name of names.split(' ')) {
      assert.type(surface[name], 'function', `${folder} exports ${name}`);
      assert.is(root[name as keyof typeof root], surface[name], `the root re-exports ${folder}'s ${name}`);
    }
  });
}

test.run();
