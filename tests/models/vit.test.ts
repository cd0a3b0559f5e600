/**
 * models/vit.ts: shapes at several resolutions, patch order, the unrotated class token, the absolute table's bilinear
 * resampling, the position signal's effect on a patch permutation, overfitting a fixed batch, and gradcheck.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AdamW, Generator, ShapeError, Tensor, ValueError, gradcheck, noGrad, randn } from '../../core/index.js';
import { ViT, bilinearResizeMatrix, patchify, type ViTConfig, type ViTPositional } from '../../models/vit.js';
import { RoPEAxial, RoPEMixed, ropeVitGrid } from '../../positional/index.js';
import { assertClose, assertShape } from '../helpers/close.js';

const VARIANTS: readonly ViTPositional[] = ['rope-axial', 'rope-mixed', 'absolute', 'none'];

const tiny = (positional: ViTPositional, extra: Partial<ViTConfig> = {}): ViT =>
  new ViT({ imageSize: 8, patchSize: 4, channels: 2, numClasses: 5, dim: 16, depth: 2, numHeads: 2, positional, seed: 3, ...extra });

function images(B: number, C: number, H: number, W: number, seed: number, dtype: 'float32' | 'float64' = 'float32'): Tensor {
  return randn([B, C, H, W], { generator: new Generator(seed), dtype });
}

test('logits are [B, numClasses] at the training size, larger, smaller and non-square sizes (every variant)', () => {
  for (const positional of VARIANTS) {
    const model = tiny(positional);
    for (const [H, W] of [[8, 8], [12, 12], [16, 24], [4, 8], [20, 12]] as const) {
      const y = noGrad(() => model.forward(images(3, 2, H, W, H + W)));
      assertShape(y.shape, [3, 5], `${positional} at ${H}×${W}`);
      assert.ok(Array.from(y.data).every(Number.isFinite), `${positional} at ${H}×${W}: finite logits`);
    }
  }
});

test('bad inputs and configs are refused with the field named', () => {
  const model = tiny('rope-axial');
  const isShape = (e: unknown): boolean => e instanceof ShapeError;
  assert.throws(() => model.forward(images(1, 2, 10, 8, 0)), (e: unknown) => isShape(e) && /10×8 must be positive multiples of patchSize=4/.test((e as Error).message));
  assert.throws(() => model.forward(images(1, 3, 8, 8, 0)), isShape);
  assert.throws(() => model.forward(randn([2, 8, 8])), isShape);
  assert.throws(() => tiny('absolute', { imageSize: undefined }), (e: unknown) => e instanceof ValueError && /needs imageSize/.test((e as Error).message));
  assert.throws(() => tiny('rope-axial', { dim: 12, numHeads: 2 }), (e: unknown) => e instanceof ValueError && /divisible by 4/.test((e as Error).message));
  assert.throws(() => tiny('rope-axial', { imageSize: 10 }), (e: unknown) => e instanceof ValueError && /imageSize/.test((e as Error).message));
  // without imageSize, the position-free and RoPE variants still work at any size
  assertShape(noGrad(() => tiny('rope-mixed', { imageSize: undefined }).forward(images(1, 2, 12, 8, 1))).shape, [1, 5]);
});

test('patchify: raster order over the grid (x fastest, as ropeVitGrid), each patch flattened (c, i, j)', () => {
  const [C, H, W, p] = [2, 4, 6, 2];
  const x = new Tensor(Float64Array.from({ length: C * H * W }, (_, i) => i), [1, C, H, W]);
  const patches = patchify(x, p);
  assertShape(patches.shape, [1, 6, C * p * p]);
  const grid = ropeVitGrid(W / p, H / p);
  for (let n = 0; n < 6; n++) {
    const [col, row] = [grid.data[2 * n]!, grid.data[2 * n + 1]!];
    const expected: number[] = [];
    for (let c = 0; c < C; c++) for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) expected.push(c * H * W + (row * p + i) * W + col * p + j);
    assert.equal(Array.from(patches.data.subarray(n * 8, (n + 1) * 8)), expected, `patch ${n} at column ${col}, row ${row}`);
  }
});

test('the class token is left unrotated by every layer; patch rows are rotated by their grid position', () => {
  for (const positional of ['rope-axial', 'rope-mixed'] as const) {
    const model = tiny(positional, { dtype: 'float64' });
    const [gh, gw] = [3, 5];
    const T = 1 + gh * gw;
    for (const block of model.blocks) {
      const pe = block.attn.positional;
      assert.ok(pe instanceof (positional === 'rope-axial' ? RoPEAxial : RoPEMixed), `${positional}: ${pe.name}`);
      const q = randn([2, 2, T, 8], { generator: new Generator(1), dtype: 'float64' });
      const k = randn([2, 2, T, 8], { generator: new Generator(2), dtype: 'float64' });
      const pos = model.positions(gh, gw);
      const out = pe.encodeQK(q, k, pos, pos);
      for (const [name, before, after] of [['q', q, out.q], ['k', k, out.k]] as const) {
        for (let bh = 0; bh < 4; bh++) {
          const row0 = (t: Tensor): number[] => Array.from(t.data.subarray(bh * T * 8, bh * T * 8 + 8));
          assert.equal(row0(after), row0(before), `${positional} ${name}: class token row changed`);
        }
        // the last patch sits at (4, 2): rotated
        const last = (t: Tensor): number[] => Array.from(t.data.subarray((T - 1) * 8, T * 8));
        assert.not.equal(last(after), last(before), `${positional} ${name}: last patch not rotated`);
      }
    }
  }
  const axial = tiny('rope-axial');
  assert.is(axial.blocks[0]!.attn.positional, axial.blocks[1]!.attn.positional, 'RoPE-Axial is shared by the layers');
  const mixed = tiny('rope-mixed');
  assert.is.not(mixed.blocks[0]!.attn.positional, mixed.blocks[1]!.attn.positional, 'RoPE-Mixed is per layer');
});

test('parameter names: class token, absolute table, per-layer RoPE-Mixed frequencies', () => {
  const names = (positional: ViTPositional): string[] => tiny(positional).namedParameters().map(([n]) => n);
  assert.equal(names('absolute').slice(0, 4), ['clsToken', 'posEmbed', 'patchEmbed.weight', 'patchEmbed.bias']); // own parameters first
  assert.ok(names('rope-mixed').includes('blocks.1.attn.positional.freqsY'));
  assert.ok(!names('rope-axial').some((n) => n.includes('positional')) && !names('none').includes('posEmbed'));
  assert.ok(names('none').includes('head.weight') && names('none').includes('norm.weight'));
  assert.is(tiny('absolute').numParameters() - tiny('none').numParameters(), 4 * 16); // a 2 × 2 grid of 16-vectors
  assert.is(tiny('rope-mixed').numParameters() - tiny('none').numParameters(), 2 * 2 * 2 * 4); // layers × axes × heads × d/2
});

test('bilinear resampling matches F.interpolate(align_corners=False); the training grid uses the table as is', () => {
  // 1-D [0, 1] → 4: torch gives [0, 0.25, 0.75, 1]; [0, 1, 2, 3] → 2 gives [0.5, 2.5]
  const up = bilinearResizeMatrix(1, 2, 1, 4);
  assert.equal(Array.from(up.matmul(new Tensor(Float64Array.from([0, 1]), [2, 1])).data), [0, 0.25, 0.75, 1]);
  const down = bilinearResizeMatrix(1, 4, 1, 2);
  assert.equal(Array.from(down.matmul(new Tensor(Float64Array.from([0, 1, 2, 3]), [4, 1])).data), [0.5, 2.5]);
  // 2-D: [gh·gw, gh0·gw0], each row a convex combination (sums to 1)
  const m = bilinearResizeMatrix(3, 4, 5, 7);
  assertShape(m.shape, [35, 12]);
  for (let r = 0; r < 35; r++) assertClose([Array.from(m.data.subarray(r * 12, (r + 1) * 12)).reduce((a, b) => a + b, 0)], [1], {}, `row ${r}`);
  const model = tiny('absolute');
  assert.is(model.absoluteEmbedding(2, 2), model.posEmbed);
  assertShape(model.absoluteEmbedding(3, 5).shape, [15, 16]);
  // at 4 × 4 from 2 × 2 the corner patches copy the corner entries exactly
  const big = model.absoluteEmbedding(4, 4);
  const p = model.posEmbed!;
  assertClose(big.data.subarray(0, 16), p.data.subarray(0, 16), { rtol: 1e-6, atol: 1e-7 }, 'top-left');
  assertClose(big.data.subarray(15 * 16, 16 * 16), p.data.subarray(3 * 16, 4 * 16), { rtol: 1e-6, atol: 1e-7 }, 'bottom-right');
});

/** The image with its p × p patches rearranged: output patch n is input patch perm[n] (raster order). */
function permutePatches(x: Tensor, p: number, perm: readonly number[]): Tensor {
  const [B, C, H, W] = x.shape as [number, number, number, number];
  const gw = W / p;
  const out = new Float64Array(x.size);
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let n = 0; n < perm.length; n++) {
    const [r, q] = [Math.floor(n / gw), n % gw];
    const [rs, qs] = [Math.floor(perm[n]! / gw), perm[n]! % gw];
    for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) {
      out[((b * C + c) * H + r * p + i) * W + q * p + j] = x.data[((b * C + c) * H + rs * p + i) * W + qs * p + j]!;
    }
  }
  return new Tensor(out, x.shape);
}

test("permuting the patches changes the logits with a position signal; 'none' is invariant (float64)", () => {
  const x = images(2, 2, 12, 8, 5, 'float64'); // 3 × 2 grid
  const perm = [4, 0, 5, 2, 1, 3];
  const xp = permutePatches(x, 4, perm);
  for (const positional of VARIANTS) {
    const model = tiny(positional).to('float64');
    const a = noGrad(() => model.forward(x));
    const b = noGrad(() => model.forward(xp));
    if (positional === 'none') {
      assertClose(b.data, a.data, { rtol: 1e-12, atol: 1e-12 }, 'none');
    } else {
      const diff = Math.max(...Array.from(a.data, (v, i) => Math.abs(v - b.data[i]!)));
      assert.ok(diff > 1e-4, `${positional}: max |Δlogit| ${diff}`);
    }
  }
});

test('a tiny ViT overfits a fixed batch of 8 images: loss < 0.05 within 150 AdamW steps (every variant)', () => {
  const x = images(8, 1, 8, 8, 11);
  const labels = [0, 1, 2, 3, 0, 1, 2, 3];
  for (const positional of VARIANTS) {
    const model = new ViT({ imageSize: 8, patchSize: 4, channels: 1, numClasses: 4, dim: 16, depth: 1, numHeads: 2, mlpRatio: 2, positional, seed: 1 });
    const opt = new AdamW(model.parameters(), { lr: 1e-2, weightDecay: 0 });
    let loss = Infinity;
    for (let step = 0; step < 150 && loss >= 0.05; step++) {
      const l = model.loss(x, labels);
      opt.zeroGrad();
      l.backward();
      opt.step();
      loss = l.item();
    }
    assert.ok(loss < 0.05, `${positional}: loss ${loss}`);
  }
});

test('gradcheck (float64): the input image and RoPE-Mixed frequencies; the resampled absolute table', () => {
  const cfg = { patchSize: 2, channels: 1, numClasses: 3, dim: 8, depth: 1, numHeads: 2, mlpRatio: 1, seed: 5 } as const;
  const mixed = new ViT({ ...cfg, imageSize: 4, positional: 'rope-mixed' }).to('float64');
  const pe = mixed.blocks[0]!.attn.positional;
  if (!(pe instanceof RoPEMixed)) throw new Error('expected RoPEMixed');
  const img = new Tensor(images(1, 1, 4, 6, 9, 'float64').data, [1, 1, 4, 6], true);
  assert.ok(gradcheck((x) => mixed.forward(x), [img, pe.freqsX]));
  // a 3 × 3 grid from the 2 × 2 training table: gradients flow through the interpolation matrix
  const absolute = new ViT({ ...cfg, imageSize: 4, positional: 'absolute' }).to('float64');
  const img6 = images(1, 1, 6, 6, 10, 'float64');
  assert.ok(gradcheck(() => absolute.forward(img6), [absolute.posEmbed!, absolute.clsToken]));
});

test.run();
