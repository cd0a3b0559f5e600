/**
 * positional/anchor.ts — AnchorAttention (Wang et al. 2025; haonan3/AnchorContext `train.py`): the worked mask rows, the mask rule as a
 * property and against the nn/ masks, flex packing (packWithAnchor) and flash packing cases, equivalence of the flex
 * mask with one anchor and the flash construction through real RoPE attention, and no cross-document gradient.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, ShapeError, Tensor, ValueError, randn } from '../../core/index.js';
import { MultiHeadAttention, causalMask, combineMasks, documentMask } from '../../nn/index.js';
import { RoPE } from '../../positional/index.js';
import { anchorAttentionMask, flashAnchorMask, flashAnchorPositions, packFlashAnchor, packWithAnchor } from '../../positional/anchor.js';
import { assertClose, assertShape } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';

/** Columns row q of a [T, T] 0/1 mask allows. */
function visible(mask: Tensor, q: number): number[] {
  const T = mask.shape[mask.ndim - 1]!;
  const out: number[] = [];
  for (let k = 0; k < T; k++) if (mask.data[q * T + k] === 1) out.push(k);
  return out;
}

function throwsValueError(fn: () => unknown, op: string, arg: string, type: new (...a: never[]) => Error = ValueError): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, type);
    assert.is((e as ValueError).op, op);
    assert.is((e as ValueError).arg, arg);
    assert.ok((e as Error).message.startsWith(`${op}: `), (e as Error).message);
    return;
  }
  assert.unreachable(`${op} did not throw`);
}

test('anchor mask (AnchorContext `anchor_attn_mod`): doc ids [0,1,1,1,2,2,3] — row 5 sees {0,4,5}, row 0 sees {0}, every row as worked out', () => {
  const mask = anchorAttentionMask([0, 1, 1, 1, 2, 2, 3]);
  assertShape(mask.shape, [7, 7]);
  assert.is(mask.dtype, 'float32');
  assert.equal(visible(mask, 5), [0, 4, 5]);
  assert.equal(visible(mask, 0), [0]);
  const rows = [[0], [0, 1], [0, 1, 2], [0, 1, 2, 3], [0, 4], [0, 4, 5], [0, 6]];
  rows.forEach((r, q) => assert.equal(visible(mask, q), r, `row ${q}`));
});

test('anchorAttentionMask: allowed(q, k) ⇔ q ≥ k ∧ (doc[q] = doc[k] ∨ doc[k] = 0), for [T] and [B, T] ids', () => {
  const batchArb = fc.integer({ min: 1, max: 24 }).chain((T) =>
    fc.array(fc.array(fc.integer({ min: 0, max: 4 }), { minLength: T, maxLength: T }), { minLength: 1, maxLength: 3 }),
  );
  fc.assert(
    fc.property(batchArb, (rows) => {
      const T = rows[0]!.length;
      for (const ids of rows) {
        const m = anchorAttentionMask(ids);
        for (let q = 0; q < T; q++) {
          for (let k = 0; k < T; k++) assert.is(m.data[q * T + k], q >= k && (ids[q] === ids[k] || ids[k] === 0) ? 1 : 0, `q=${q} k=${k} ids=${ids}`);
        }
      }
      const batched = anchorAttentionMask(new Tensor(Float64Array.from(rows.flat()), [rows.length, T]));
      assertShape(batched.shape, [rows.length, 1, T, T]);
      assert.equal(Array.from(batched.data), rows.flatMap((ids) => Array.from(anchorAttentionMask(ids).data)));
    }),
    fcParams(80),
  );
});

test('anchorAttentionMask plugs into the nn/ masks: without id 0 it is documentMask ∘ causalMask; the anchor column is causal', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 20 }), (docs) => {
      const T = docs.length;
      assert.equal(Array.from(anchorAttentionMask(docs).data), Array.from(combineMasks(documentMask(docs), causalMask(T)).data));
      const withAnchor = [0, ...docs];
      const m = anchorAttentionMask(withAnchor);
      const blocks = combineMasks(documentMask(withAnchor), causalMask(T + 1));
      for (let q = 0; q <= T; q++) {
        for (let k = 0; k <= T; k++) assert.is(m.data[q * (T + 1) + k], k === 0 ? 1 : blocks.data[q * (T + 1) + k], `q=${q} k=${k}`);
      }
    }),
    fcParams(60),
  );
});

test('anchorAttentionMask / flash helpers reject bad ids with typed errors', () => {
  throwsValueError(() => anchorAttentionMask(new Tensor(new Float64Array(8), [2, 2, 2])), 'anchorAttentionMask', 'docIds', ShapeError);
  throwsValueError(() => anchorAttentionMask([0, 1, NaN]), 'anchorAttentionMask', 'docIds');
  throwsValueError(() => flashAnchorMask(new Tensor(new Float64Array(1), [])), 'flashAnchorMask', 'docIds', ShapeError);
  throwsValueError(() => flashAnchorPositions([1, Infinity]), 'flashAnchorPositions', 'docIds');
  assertShape(anchorAttentionMask([]).shape, [0, 0]);
});

test('packWithAnchor: strips each leading BOS, one anchor at index 0 with doc id 0, ids 1, 2, …, global positions', () => {
  const BOS = 1;
  const docs = [[BOS, 5, 6, 7], [BOS, 8, 9], [BOS, 10]];
  const full = packWithAnchor(docs, { windowLength: 100, anchorToken: BOS });
  assert.equal(full.tokens, [1, 5, 6, 7, 8, 9, 10]);
  assert.equal(full.docIds, [0, 1, 1, 1, 2, 2, 3]); // the ids of the worked mask above
  assert.equal(Array.from(full.positions), [0, 1, 2, 3, 4, 5, 6]);
  assert.instance(full.positions, Float64Array);
  assert.equal(visible(anchorAttentionMask(full.docIds), 5), [0, 4, 5]);

  // truncation at the window (the anchor counts): the last document is cut, later ones dropped
  const cut = packWithAnchor(docs, { windowLength: 5, anchorToken: BOS });
  assert.equal(cut.tokens, [1, 5, 6, 7, 8]);
  assert.equal(cut.docIds, [0, 1, 1, 1, 2]);
  assert.equal(Array.from(cut.positions), [0, 1, 2, 3, 4]);
  assert.equal(packWithAnchor(docs, { windowLength: 4, anchorToken: BOS }).docIds, [0, 1, 1, 1]);
  assert.equal(packWithAnchor(docs, { windowLength: 1, anchorToken: BOS }).tokens, [1]);

  // documents without BOS are kept whole; a BOS-only or empty document gets no id
  assert.equal(packWithAnchor([[5, 6], [BOS], [], [BOS, 7]], { windowLength: 10, anchorToken: BOS }), {
    tokens: [1, 5, 6, 7], docIds: [0, 1, 1, 2], positions: Float64Array.from([0, 1, 2, 3]),
  });
  // a dedicated anchor id distinct from the BOS; only the leading BOS is stripped
  assert.equal(packWithAnchor([[2, 2, 5], [2, 6]], { windowLength: 10, anchorToken: 0, bosToken: 2 }).tokens, [0, 2, 5, 6]);
  assert.equal(packWithAnchor([], { windowLength: 3, anchorToken: 1 }).docIds, [0]);
});

test('packWithAnchor / packFlashAnchor reject bad input with typed errors', () => {
  throwsValueError(() => packWithAnchor([[1, 5, 1]], { windowLength: 8, anchorToken: 1 }), 'packWithAnchor', 'documents'); // anchor inside a document
  throwsValueError(() => packWithAnchor([[5, 0.5]], { windowLength: 8, anchorToken: 1 }), 'packWithAnchor', 'documents[0]');
  throwsValueError(() => packWithAnchor([[5]], { windowLength: 0, anchorToken: 1 }), 'packWithAnchor', 'windowLength');
  throwsValueError(() => packWithAnchor([[5]], { windowLength: 2.5, anchorToken: 1 }), 'packWithAnchor', 'windowLength');
  throwsValueError(() => packWithAnchor([[5]], { windowLength: 4, anchorToken: NaN }), 'packWithAnchor', 'anchorToken');
  throwsValueError(() => packWithAnchor([[5]], { windowLength: 4, anchorToken: 1, bosToken: 1.5 }), 'packWithAnchor', 'bosToken');
  throwsValueError(() => packFlashAnchor([[5]], { windowLength: -1, bosToken: 1 }), 'packFlashAnchor', 'windowLength');
  throwsValueError(() => packFlashAnchor([[5, NaN]], { windowLength: 4, bosToken: 1 }), 'packFlashAnchor', 'documents[0]');
});

test('flash engine: each document keeps a BOS at rotary position 0, others global; block-diagonal causal mask', () => {
  assert.equal(Array.from(flashAnchorPositions([1, 1, 1, 2, 2, 3]).data), [0, 1, 2, 0, 4, 0]);
  assertShape(flashAnchorPositions(new Tensor(Float64Array.from([1, 1, 2, 2, 2, 2]), [2, 3])).shape, [2, 3]);
  assert.equal(Array.from(flashAnchorPositions(new Tensor(Float64Array.from([1, 1, 2, 2, 2, 2]), [2, 3])).data), [0, 1, 0, 0, 1, 2]);
  const packed = packFlashAnchor([[5, 6], [1, 7, 8], [1], [9]], { windowLength: 100, bosToken: 1 });
  assert.equal(packed.tokens, [1, 5, 6, 1, 7, 8, 1, 9]);
  assert.equal(packed.docIds, [1, 1, 1, 2, 2, 2, 3, 3]);
  assert.equal(Array.from(packed.positions), [0, 1, 2, 0, 4, 5, 0, 7]);
  assert.equal(packFlashAnchor([[5, 6], [7, 8]], { windowLength: 4, bosToken: 1 }).tokens, [1, 5, 6, 1]);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 6 }), (lengths) => {
      const ids = lengths.flatMap((n, d) => new Array<number>(n).fill(d + 1));
      const T = ids.length;
      assert.equal(Array.from(flashAnchorMask(ids).data), Array.from(combineMasks(documentMask(ids), causalMask(T)).data));
    }),
    fcParams(40),
  );
});

/** Token embeddings: row t of a fixed [vocab, C] table (the BOS row is the anchor's embedding). */
function embed(tokens: readonly number[], table: Tensor): Tensor {
  const C = table.shape[1]!;
  const out = new Float64Array(tokens.length * C);
  tokens.forEach((t, i) => out.set(table.data.subarray(t * C, (t + 1) * C), i * C));
  return new Tensor(out, [1, tokens.length, C]);
}

test('flex mask with one anchor == flash construction (BOS per document at position 0, block-diagonal) through RoPE attention', () => {
  // Flex: [A, doc1…, doc2…, …] with one anchor; flash: [BOS, doc1…, BOS, doc2…, …]. Each real token is given the
  // same rotary position in both (the flash ones: global index in the flash window), so the outputs must agree.
  // (With packWithAnchor's own arange positions, document j sits j − 1 positions earlier than in the flash window.)
  const BOS = 0;
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 1000 }), (lengths, seed) => {
      const g = new Generator(seed);
      const C = 16;
      const vocab = 12;
      const table = randn([vocab, C], { dtype: 'float64', generator: g });
      const docs = lengths.map((n) => Array.from({ length: n }, () => 1 + g.int(0, vocab - 1)));
      const mha = new MultiHeadAttention(C, { numHeads: 2, positional: new RoPE(8), generator: g, dtype: 'float64' });

      const flash = packFlashAnchor(docs.map((d) => [BOS, ...d]), { windowLength: 1000, bosToken: BOS });
      const realIdx = flash.tokens.flatMap((_, i) => (flash.positions[i] === 0 ? [] : [i])); // non-BOS tokens
      const flex = packWithAnchor(docs, { windowLength: 1000, anchorToken: BOS });
      assert.equal(flex.tokens.slice(1), realIdx.map((i) => flash.tokens[i]!));
      const flexPositions = Float64Array.from([0, ...realIdx.map((i) => flash.positions[i]!)]);

      const yFlash = mha.forward(embed(flash.tokens, table), {
        mask: flashAnchorMask(flash.docIds), positions: new Tensor(Float64Array.from(flash.positions), [flash.tokens.length]),
      });
      const yFlex = mha.forward(embed(flex.tokens, table), {
        mask: anchorAttentionMask(flex.docIds), positions: new Tensor(flexPositions, [flex.tokens.length]),
      });
      const pick = (y: Tensor, rows: number[]): number[] => rows.flatMap((r) => Array.from(y.data.subarray(r * C, (r + 1) * C)));
      assertClose(pick(yFlex, realIdx.map((_, j) => j + 1)), pick(yFlash, realIdx), { rtol: 1e-12, atol: 1e-12 }, 'non-BOS outputs');
      // and the anchor itself equals every flash BOS (each sees only itself at position 0)
      const bosRows = flash.tokens.flatMap((_, i) => (flash.positions[i] === 0 ? [i] : []));
      for (const r of bosRows) assertClose(pick(yFlash, [r]), pick(yFlex, [0]), { rtol: 1e-12, atol: 1e-12 }, `BOS row ${r}`);
    }),
    fcParams(25),
  );
});

test('no cross-document leakage: ∂(doc-2 outputs)/∂(doc-1 inputs) is exactly zero; the anchor and doc 2 do get gradient', () => {
  const g = new Generator(3);
  const C = 16;
  const { docIds, positions } = packWithAnchor([[1, 2, 3, 4], [5, 6, 7], [8, 9]], { windowLength: 64, anchorToken: 0 });
  const T = docIds.length;
  const mha = new MultiHeadAttention(C, { numHeads: 4, positional: new RoPE(4), generator: g, dtype: 'float64' });
  const x = randn([1, T, C], { dtype: 'float64', generator: g, requiresGrad: true });
  const y = mha.forward(x, { mask: anchorAttentionMask(docIds), positions: new Tensor(positions, [T]) });
  const doc2 = docIds.flatMap((d, i) => (d === 2 ? [i] : []));
  const w = randn([1, doc2.length, C], { dtype: 'float64', generator: g });
  y.narrow(1, doc2[0]!, doc2.length).mul(w).sum().backward();
  const gx = x.grad!;
  const rowNorm = (r: number): number => Array.from(gx.data.subarray(r * C, (r + 1) * C)).reduce((s, v) => s + Math.abs(v), 0);
  docIds.forEach((d, r) => {
    if (d === 1 || d === 3) assert.is(rowNorm(r), 0, `row ${r} (doc ${d}) must get exactly zero gradient`);
    else assert.ok(rowNorm(r) > 0, `row ${r} (doc ${d}) should get gradient`);
  });
});

test.run();
