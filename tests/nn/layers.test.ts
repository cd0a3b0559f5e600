/**
 * nn layers against the definitions, computed by hand from their own weights: Linear (x Wᵀ + b, [out, in] layout,
 * U(−1/√in, 1/√in) init, seeded), Embedding (row lookup for every id form, IndexError, gradient accumulation over
 * repeated ids), LayerNorm/RMSNorm modules, Dropout (identity in eval mode, inverted dropout in train mode), MLP and
 * SwiGLU (forward composition; gradcheck through the module in float64 with respect to input and weights, which
 * gradcheck reaches by closure); Linear's std init and gpt2Init's residual marks.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, IndexError, Module, ShapeError, Tensor, gradcheck, manualSeed, randn, type DType } from '../../core/index.js';
import { Embedding } from '../../nn/embedding.js';
import { Linear } from '../../nn/linear.js';
import { Dropout, MLP, SwiGLU } from '../../nn/mlp.js';
import { Block, MemoryBlock, gpt2Init } from '../../nn/index.js';
import { LayerNorm, RMSNorm } from '../../nn/norm.js';
import { assertClose, assertShape } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';
import { sizeOfShape } from '../helpers/oracle.js';
import { makeTensor } from '../helpers/oracle-elementwise.js';
import { assertCloseScaled, dtypeArb, thrown } from '../helpers/oracle-reduce.js';
import { naiveGeluTanh, naiveLayerNorm, naiveLinear, naiveRmsNorm, naiveSilu } from '../helpers/oracle-nn.js';

/**
 * float32 layers round after each op (matmul, bias add, activation, product), each within 2⁻²⁴ of its float64 value;
 * measured against Σ|terms| (propagated through the next layer's |weights| where layers compose) the total stays
 * under 6·2⁻²⁴, so 8·2⁻²⁴ cannot fail spuriously. float64 differs only in summation order.
 */
const REL: Record<DType, number> = { float32: 8 * 2 ** -24, float64: 1e-13 };
const EXACT = { rtol: 0, atol: 0 };

const maxAbs = (v: ArrayLike<number>): number => Array.from(v).reduce((m, x) => Math.max(m, Math.abs(x)), 0);

const leadArb = fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 2 });

// ── Linear ──

test('Linear: y = x Wᵀ + b with W [out, in], for inputs [..., in] of rank 1..3, float32/float64, with and without bias', () => {
  fc.assert(
    fc.property(
      fc.record({ lead: leadArb, inF: fc.integer({ min: 1, max: 6 }), outF: fc.integer({ min: 1, max: 6 }), bias: fc.boolean(), dtype: dtypeArb, seed: fc.nat() }),
      ({ lead, inF, outF, bias, dtype, seed }) => {
        const g = new Generator(seed);
        const lin = new Linear(inF, outF, { bias, generator: g, dtype });
        assertShape(lin.weight.shape, [outF, inF], 'weight layout');
        assert.is(lin.bias === null, !bias);
        assert.equal(lin.namedParameters().map(([n]) => n), bias ? ['weight', 'bias'] : ['weight']);
        const x = randn([...lead, inF], { generator: g, dtype });
        const y = lin.forward(x);
        assert.is(y.dtype, dtype);
        assertShape(y.shape, [...lead, outF]);
        const ref = naiveLinear(x.data, lin.weight.data, lin.bias?.data ?? null, inF, outF);
        assertCloseScaled(y.data, ref.data, ref.scale, REL[dtype], `Linear ${inF}→${outF} lead=[${lead}] ${dtype}`);
      },
    ),
    fcParams(150),
  );
});

test('Linear init: every weight and bias entry lies in [−1/√in, 1/√in] and the range is filled; same seed, same weights', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 8 }), dtypeArb, fc.nat(), (inF, outF, dtype, seed) => {
      const lin = new Linear(inF, outF, { generator: new Generator(seed), dtype });
      // float32 rounds the bound itself; a draw within half an ulp of it may round onto it
      const bound = dtype === 'float32' ? Math.fround(1 / Math.sqrt(inF)) : 1 / Math.sqrt(inF);
      for (const [name, p] of lin.namedParameters()) {
        assert.is(p.dtype, dtype);
        const worst = maxAbs(p.data);
        assert.ok(worst <= bound, `${name}: |entry| ${worst} > bound ${bound}`);
        // 200 uniform draws all below 0.9·bound has probability 0.9^200 ≈ 7e-10: a too-small bound shows
        if (p.size >= 200) assert.ok(worst > 0.9 * bound, `${name}: max |entry| ${worst} leaves the range [−${bound}, ${bound}] unfilled`);
      }
      const again = new Linear(inF, outF, { generator: new Generator(seed), dtype });
      assertClose(again.weight.data, lin.weight.data, EXACT, 'same seed, same weight');
      assertClose(again.bias!.data, lin.bias!.data, EXACT, 'same seed, same bias');
    }),
    fcParams(60),
  );
  // the bias has its own draws (fan-in bound too): 500 of them fill the range
  const wide = new Linear(4, 500, { generator: new Generator(4) });
  const biasMax = maxAbs(wide.bias!.data);
  assert.ok(biasMax <= Math.fround(0.5) && biasMax > 0.45, `bias max |entry| ${biasMax} for bound 0.5`);
  const a = new Linear(16, 16, { generator: new Generator(1) });
  const b = new Linear(16, 16, { generator: new Generator(2) });
  assert.ok(a.weight.data.some((v, i) => v !== b.weight.data[i]), 'different seeds, different weights');
  // without a generator, layers draw from core's default generator (as PyTorch's global RNG): it advances, so two
  // layers differ, and manualSeed(n) reproduces them
  manualSeed(11);
  const first = new Linear(5, 3).weight.data.slice();
  const second = new Linear(5, 3).weight.data.slice();
  assert.ok(first.some((v, i) => v !== second[i]), 'two default-initialised layers must differ (the default generator advances)');
  manualSeed(11);
  assertClose(new Linear(5, 3).weight.data, first, EXACT, 'manualSeed(11) reproduces the default-initialised weights');
  const mean = (t: Tensor): number => Array.from(t.data).reduce((s, v) => s + v, 0) / t.size;
  const big = new Linear(400, 50, { generator: new Generator(3) }).weight;
  // U(−b, b) has variance b²/3: with 20000 draws the sample mean is within 5 standard errors (b/√3/√20000·5) of 0
  assert.ok(Math.abs(mean(big)) < (5 * (1 / 20) / Math.sqrt(3)) / Math.sqrt(20000), `mean ${mean(big)}`);
});

test('Linear: x whose last dim is not inFeatures, or a scalar x → ShapeError', () => {
  const lin = new Linear(4, 3);
  for (const shape of [[3], [2, 5], [2, 3, 1], []]) {
    const e = thrown(() => lin.forward(randn(shape)), `x=[${shape}]`);
    assert.instance(e, ShapeError, `x=[${shape}]`);
    assert.ok((e as Error).message.includes(`[${shape.join(',')}]`), (e as Error).message);
  }
});

test('gradcheck: Linear (with and without bias) with respect to x, weight and bias, in float64', () => {
  for (const bias of [true, false]) {
    const lin = new Linear(3, 2, { bias, generator: new Generator(4), dtype: 'float64' });
    const x = randn([2, 3], { generator: new Generator(5), dtype: 'float64', requiresGrad: true });
    // gradcheck perturbs and differentiates the leaf inputs themselves, so the module's parameters work by closure
    assert.ok(gradcheck((xi) => lin.forward(xi!), [x, ...lin.parameters()]));
  }
});

// ── Embedding ──

const idsArb = (n: number) =>
  fc.record({
    shape: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
    form: fc.constantFrom('tensor32', 'tensor64', 'array', 'int32'),
  }).chain(({ shape, form }) =>
    fc.record({ shape: fc.constant(form === 'tensor32' || form === 'tensor64' ? shape : [sizeOfShape(shape)]), form: fc.constant(form), ids: fc.array(fc.nat(n - 1), { minLength: sizeOfShape(shape), maxLength: sizeOfShape(shape) }) }),
  );

function idsOf(form: string, shape: readonly number[], ids: number[]): Tensor | number[] | Int32Array {
  if (form === 'tensor32') return makeTensor(shape, ids, 'float32');
  if (form === 'tensor64') return makeTensor(shape, ids, 'float64');
  return form === 'int32' ? Int32Array.from(ids) : ids;
}

test('Embedding: output [...ids.shape, dim] holds weight row ids[i] at each position, for Tensor (any shape), number[] and Int32Array ids', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }).chain((n) => fc.record({ n: fc.constant(n), dim: fc.integer({ min: 1, max: 4 }), dtype: dtypeArb, idx: idsArb(n) })),
      ({ n, dim, dtype, idx: { shape, form, ids } }) => {
        const emb = new Embedding(n, dim, { dtype, generator: new Generator(n) });
        assertShape(emb.weight.shape, [n, dim]);
        const out = emb.forward(idsOf(form, shape, ids));
        assert.is(out.dtype, dtype);
        assertShape(out.shape, [...shape, dim]);
        const want = ids.flatMap((id) => Array.from(emb.weight.data.subarray(id * dim, id * dim + dim)));
        assertClose(out.data, want, EXACT, `Embedding ${form} ids=[${ids}]`);
      },
    ),
    fcParams(150),
  );
});

test('Embedding: the gradient of row r is the sum of the upstream gradients at every position whose id is r (repeats accumulate)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 5 }).chain((n) => fc.record({ n: fc.constant(n), dim: fc.integer({ min: 1, max: 3 }), idx: idsArb(n), seed: fc.nat() })),
      ({ n, dim, idx: { shape, form, ids }, seed }) => {
        const emb = new Embedding(n, dim, { dtype: 'float64' });
        const out = emb.forward(idsOf(form, shape, ids));
        const up = randn(out.shape, { generator: new Generator(seed), dtype: 'float64' });
        out.backward(up);
        const want = new Array<number>(n * dim).fill(0);
        ids.forEach((id, pos) => {
          for (let c = 0; c < dim; c++) want[id * dim + c]! += up.data[pos * dim + c]!;
        });
        if (ids.length === 0) assert.ok(emb.weight.grad === null || emb.weight.grad.data.every((v) => v === 0));
        else assertClose(emb.weight.grad!.data, want, { rtol: 1e-15, atol: 1e-15 }, `grad for ids=[${ids}]`);
      },
    ),
    fcParams(100),
  );
});

test('Embedding: an id outside [0, numEmbeddings) or not an integer → IndexError', () => {
  const emb = new Embedding(4, 2);
  for (const bad of [-1, 4, 1.5, NaN]) {
    assert.instance(thrown(() => emb.forward([0, bad]), `[0, ${bad}]`), IndexError, `number[] ${bad}`);
    assert.instance(thrown(() => emb.forward(makeTensor([1, 2], [bad, 0], 'float32')), `tensor ${bad}`), IndexError, `tensor ${bad}`);
  }
  assert.instance(thrown(() => emb.forward(Int32Array.from([7])), 'Int32Array 7'), IndexError);
});

test('Embedding init: N(0, std²) with std 1 by default and as given; seeded', () => {
  const stdOf = (t: Tensor): number => Math.sqrt(Array.from(t.data).reduce((s, v) => s + v * v, 0) / t.size);
  // 20000 normal draws: the sample std is within ~5·std/√(2·20000) = 2.5% of std
  assert.ok(Math.abs(stdOf(new Embedding(1000, 20).weight) - 1) < 0.025);
  assert.ok(Math.abs(stdOf(new Embedding(1000, 20, { std: 0.02 }).weight) - 0.02) < 0.025 * 0.02);
  assertClose(new Embedding(5, 3, { generator: new Generator(9) }).weight.data, new Embedding(5, 3, { generator: new Generator(9) }).weight.data, EXACT, 'seeded');
});

// ── norms ──

test('LayerNorm / RMSNorm modules: forward is the norm with their weight (and bias) and eps; affine: false has no parameters', () => {
  fc.assert(
    fc.property(
      fc.record({ lead: leadArb, D: fc.integer({ min: 1, max: 5 }), dtype: dtypeArb, eps: fc.constantFrom(undefined, 1e-3, 0.5), seed: fc.nat() }),
      ({ lead, D, dtype, eps, seed }) => {
        const g = new Generator(seed);
        const x = randn([...lead, D], { generator: g, dtype });
        const opts = { dtype, ...(eps === undefined ? {} : { eps }) };
        const ln = new LayerNorm(D, opts);
        const rn = new RMSNorm(D, opts);
        assert.equal(ln.namedParameters().map(([n]) => n), ['weight', 'bias']);
        assert.equal(rn.namedParameters().map(([n]) => n), ['weight']);
        assert.ok(Array.from(ln.weight!.data).every((v) => v === 1) && Array.from(ln.bias!.data).every((v) => v === 0), 'init 1 and 0');
        assert.ok(Array.from(rn.weight!.data).every((v) => v === 1), 'init 1');
        // random affine parameters, so that forward must use them
        for (const p of [...ln.parameters(), ...rn.parameters()]) p.data.set(randn(p.shape, { generator: g, dtype }).data);
        const tol = dtype === 'float32' ? { rtol: 2 ** -23, atol: 1e-12 } : { rtol: 1e-14, atol: 1e-13 };
        assertClose(ln.forward(x).data, naiveLayerNorm(x.data, D, ln.weight!.data, ln.bias!.data, eps ?? 1e-5), tol, 'LayerNorm');
        assertClose(rn.forward(x).data, naiveRmsNorm(x.data, D, rn.weight!.data, eps ?? 1e-6), tol, 'RMSNorm');
        const lnPlain = new LayerNorm(D, { ...opts, affine: false });
        const rnPlain = new RMSNorm(D, { ...opts, affine: false });
        assert.is(lnPlain.numParameters() + rnPlain.numParameters(), 0);
        assert.equal(new LayerNorm(D, { bias: false }).namedParameters().map(([n]) => n), ['weight']);
        assertClose(lnPlain.forward(x).data, naiveLayerNorm(x.data, D, null, null, eps ?? 1e-5), tol, 'LayerNorm affine: false');
        assertClose(rnPlain.forward(x).data, naiveRmsNorm(x.data, D, null, eps ?? 1e-6), tol, 'RMSNorm affine: false');
      },
    ),
    fcParams(100),
  );
});

// ── Dropout ──

test('Dropout: identity in eval mode (also when the parent is put in eval); in train mode zeros ≈ p of the entries and scales the rest by 1/(1 − p)', () => {
  fc.assert(
    fc.property(fc.double({ min: 0.05, max: 0.9, noNaN: true }), fc.nat(), (p, seed) => {
      class Net extends Module {
        drop = new Dropout(p, { generator: new Generator(seed) });
      }
      const net = new Net();
      const x = randn([100, 40], { generator: new Generator(seed + 1) }).add(5); // no zeros in x
      const y = net.drop.forward(x);
      let zeros = 0;
      const keep = Math.fround(1 / (1 - p));
      y.data.forEach((v, i) => {
        if (v === 0) zeros++;
        else assert.ok(v === Math.fround(x.data[i]! * keep), `kept entry ${i}: ${v} vs ${x.data[i]}·${keep}`);
      });
      // 4000 Bernoulli(p) draws: the zero fraction is within 6 standard deviations (√(p(1−p)/4000) ≤ 0.008) of p
      assert.ok(Math.abs(zeros / x.size - p) < 6 * Math.sqrt((p * (1 - p)) / x.size), `zero fraction ${zeros / x.size} vs p=${p}`);
      const y2 = net.drop.forward(x);
      assert.ok(y2.data.some((v, i) => (v === 0) !== (y.data[i] === 0)), 'a new mask each call');
      net.eval();
      assert.is(net.drop.training, false);
      assertClose(net.drop.forward(x).data, x.data, EXACT, 'eval: identity');
      net.train();
      assert.ok(net.drop.forward(x).data.some((v) => v === 0), 'train again: drops');
    }),
    fcParams(30),
  );
  const x = randn([3, 3], { generator: new Generator(1) });
  assertClose(new Dropout(0).forward(x).data, x.data, EXACT, 'p = 0: identity');
});

// ── MLP, SwiGLU ──

/** fc2(gelu_tanh(fc1 x)) in float64 from the module's own weights, with the float32 error scale of the composition. */
function naiveMlp(m: MLP, x: Tensor): { data: number[]; scale: number[] } {
  const [inF, hidden] = [m.fc1.inFeatures, m.fc1.outFeatures];
  const z = naiveLinear(x.data, m.fc1.weight.data, m.fc1.bias?.data ?? null, inF, hidden);
  const h = z.data.map(naiveGeluTanh);
  const y = naiveLinear(h, m.fc2.weight.data, m.fc2.bias?.data ?? null, hidden, inF);
  // error in h_i is ~ (scale of z_i + |h_i|)·2⁻²⁴; it reaches y_o through |W2[o,i]|
  const hScale = h.map((v, i) => z.scale[i]! + Math.abs(v));
  const scale = naiveLinear(hScale, Array.from(m.fc2.weight.data, Math.abs), m.fc2.bias ? Array.from(m.fc2.bias.data, Math.abs) : null, hidden, inF).data;
  return { data: y.data, scale: scale.map((s, i) => s + y.scale[i]!) };
}

/** down(silu(gate x) ⊙ up x) in float64 from the module's own weights, with the float32 error scale. */
function naiveSwiGLU(m: SwiGLU, x: Tensor): { data: number[]; scale: number[] } {
  const [inF, hidden] = [m.gate.inFeatures, m.gate.outFeatures];
  const zg = naiveLinear(x.data, m.gate.weight.data, null, inF, hidden);
  const zu = naiveLinear(x.data, m.up.weight.data, null, inF, hidden);
  const s = zg.data.map(naiveSilu);
  const h = s.map((v, i) => v * zu.data[i]!);
  const y = naiveLinear(h, m.down.weight.data, null, hidden, inF);
  const hScale = h.map((v, i) => Math.abs(zu.data[i]!) * (zg.scale[i]! + Math.abs(s[i]!)) + Math.abs(s[i]!) * zu.scale[i]! + Math.abs(v));
  const scale = naiveLinear(hScale, Array.from(m.down.weight.data, Math.abs), null, hidden, inF).data;
  return { data: y.data, scale: scale.map((v, i) => v + y.scale[i]!) };
}

test('MLP and SwiGLU: forward equals the composition computed by hand from their weights; parameter names; default hidden sizes', () => {
  fc.assert(
    fc.property(
      fc.record({ lead: leadArb, dim: fc.integer({ min: 1, max: 6 }), hidden: fc.option(fc.integer({ min: 1, max: 9 }), { nil: undefined }), bias: fc.boolean(), dtype: dtypeArb, seed: fc.nat() }),
      ({ lead, dim, hidden, bias, dtype, seed }) => {
        const g = new Generator(seed);
        const x = randn([...lead, dim], { generator: g, dtype });
        const mlp = new MLP(dim, hidden, { generator: g, dtype, bias });
        const glu = new SwiGLU(dim, hidden, { generator: g, dtype });
        assert.is(mlp.fc1.outFeatures, hidden ?? 4 * dim);
        assert.is(glu.gate.outFeatures, hidden ?? Math.round((8 * dim) / 3));
        assert.equal(mlp.namedParameters().map(([n]) => n), bias ? ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias'] : ['fc1.weight', 'fc2.weight']);
        assert.equal(glu.namedParameters().map(([n]) => n), ['gate.weight', 'up.weight', 'down.weight']);
        for (const [name, m, ref] of [['MLP', mlp, naiveMlp(mlp, x)], ['SwiGLU', glu, naiveSwiGLU(glu, x)]] as const) {
          const y = m.forward(x);
          assert.is(y.dtype, dtype);
          assertShape(y.shape, [...lead, dim]);
          assertCloseScaled(y.data, ref.data, ref.scale, REL[dtype], `${name} dim=${dim} hidden=${hidden} ${dtype}`);
        }
      },
    ),
    fcParams(100),
  );
});

test('gradcheck through MLP and SwiGLU (Module.to("float64")) with respect to the input and every weight', () => {
  const modules: Array<[string, MLP | SwiGLU]> = [
    ['MLP', new MLP(3, 5, { generator: new Generator(1) })],
    ['SwiGLU', new SwiGLU(3, 4, { generator: new Generator(2) })],
    ['SwiGLU with bias', new SwiGLU(2, 3, { generator: new Generator(3), bias: true })],
  ];
  for (const [label, m] of modules) {
    m.to('float64');
    const named = m.namedParameters();
    assert.ok(named.every(([, p]) => p.dtype === 'float64'), `${label}: float64 parameters`);
    const x = randn([2, m instanceof MLP ? m.fc1.inFeatures : m.gate.inFeatures], { generator: new Generator(7), dtype: 'float64', requiresGrad: true });
    assert.ok(gradcheck((xi) => m.forward(xi!), [x, ...named.map(([, p]) => p)], { eps: 1e-6, atol: 1e-6, rtol: 1e-4 }), label);
    // and the module's own backward reaches every parameter
    m.forward(x).sum().backward();
    assert.ok(m.parameters().every((p) => p.grad !== null && p.grad.dtype === 'float64'), `${label}: grads on every parameter`);
  }
});


test('Linear std: the weight is N(0, std²) drawn as normalParameter draws it, biases 0; without std, U(±1/√in)', () => {
  const lin = new Linear(6, 5, { std: 0.02, generator: new Generator(3) });
  const expected = randn([5, 6], { std: 0.02, generator: new Generator(3) });
  assert.equal(Array.from(lin.weight.data), Array.from(expected.data), 'same draws as randn with std');
  assert.equal(Array.from(lin.bias!.data), [0, 0, 0, 0, 0]);
  assert.ok(!new Linear(6, 5, { generator: new Generator(3) }).weight.data.every((v, i) => v === expected.data[i]), 'default init differs');
});

test('gpt2Init: weights of Linears marked residualProjection get std 0.02/√(2L), the other selected weights 0.02; blocks mark what adds into the residual stream', () => {
  const L = 8;
  const mlp = new MLP(64, 256, { generator: new Generator(1) });
  mlp.output.residualProjection = true;
  gpt2Init(mlp, { numLayers: L, generator: new Generator(2), select: /weight$/ });
  const std = (w: Tensor) => Math.sqrt(Array.from(w.data).reduce((s, v) => s + v * v, 0) / w.size);
  assertClose([std(mlp.fc1.weight)], [0.02], { rtol: 0.05 }, 'fc1 (not marked)');
  assertClose([std(mlp.fc2.weight)], [0.02 / Math.sqrt(2 * L)], { rtol: 0.05 }, 'fc2 (marked)');
  const marked = (m: Module) => m.namedParameters().filter(([, p]) => {
    let hit = false;
    const walk = (x: Module): void => {
      if (x instanceof Linear && x.residualProjection && x.weight === p) hit = true;
      x.children().forEach(walk);
    };
    walk(m);
    return hit;
  }).map(([n]) => n);
  assert.equal(marked(new Block(8, { numHeads: 2, mlp: 'swiglu' })), ['attn.wo.weight', 'mlp.down.weight']);
  assert.equal(marked(new Block(8, { numHeads: 2 })), ['attn.wo.weight', 'mlp.fc2.weight']);
  const mem = { numHeads: 2, chunkSize: 2, memorySlots: 2 };
  assert.equal(marked(new MemoryBlock(8, { ...mem })), ['mix.weight', 'mlp.fc2.weight']);
  assert.equal(marked(new MemoryBlock(8, { ...mem, combine: 'weights' })), ['global.wo.weight', 'local.wo.weight', 'memory.wo.weight', 'mlp.fc2.weight']);
});

test.run();
