/**
 * Module / Parameter on random module trees (own parameters, child modules, arrays of modules, and values the walk
 * must ignore): namedParameters order and dotted names against a walk of the tree's description, tied parameters
 * listed once, parameters()/numParameters, train()/eval() reaching every module, zeroGrad, stateDict/loadStateDict
 * (round trip, strict and non-strict name mismatches, shape mismatch validated before any write, float64 → float32),
 * and to(dtype) keeping tied weights tied.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, Module, Parameter, ShapeError, Tensor, ValueError, randn, type DType } from '../../core/index.js';
import { assertClose } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';
import { sizeOfShape } from '../helpers/oracle.js';
import { thrown } from '../helpers/oracle-reduce.js';

/** A module tree, described as the ordered list of each module's own properties. */
type Spec = Entry[];
type Entry =
  | { kind: 'param'; name: string; shape: number[] }
  | { kind: 'child'; name: string; spec: Spec }
  | { kind: 'list'; name: string; specs: Spec[] }
  | { kind: 'noise'; name: string; value: 'number' | 'null' | 'tensor' | 'empty' | 'numbers' | 'object' };

function specArb(depth: number): fc.Arbitrary<Spec> {
  const param = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }).map((shape) => ({ kind: 'param' as const, shape }));
  const noise = fc.constantFrom('number', 'null', 'tensor', 'empty', 'numbers', 'object').map((value) => ({ kind: 'noise' as const, value }));
  const options: fc.Arbitrary<Omit<Entry, 'name'>>[] = [param, param, noise];
  if (depth > 0) {
    options.push(specArb(depth - 1).map((spec) => ({ kind: 'child' as const, spec })));
    options.push(fc.array(specArb(depth - 1), { minLength: 1, maxLength: 3 }).map((specs) => ({ kind: 'list' as const, specs })));
  }
  // names are unique per module and never integer-like (JS orders integer keys first)
  return fc.array(fc.oneof(...options), { maxLength: 4 }).map((entries) => entries.map((e, i) => ({ ...e, name: `${e.kind[0]}${i}` }) as Entry));
}

/** A module whose own properties are the spec's entries, assigned in order. */
class Tree extends Module {
  constructor(spec: Spec, g: Generator, dtype: DType = 'float32') {
    super();
    const self = this as unknown as Record<string, unknown>;
    for (const e of spec) {
      if (e.kind === 'param') self[e.name] = Parameter.from(randn(e.shape, { generator: g, dtype }));
      else if (e.kind === 'child') self[e.name] = new Tree(e.spec, g, dtype);
      else if (e.kind === 'list') self[e.name] = e.specs.map((s) => new Tree(s, g, dtype));
      else {
        const values: Record<typeof e.value, unknown> = {
          number: 3,
          null: null,
          tensor: new Tensor(new Float32Array(2), [2], true), // a tensor, not a Parameter: not a parameter
          empty: [],
          numbers: [1, 2],
          object: { weight: Parameter.from(randn([2], { generator: g })) }, // plain objects are not walked
        };
        self[e.name] = values[e.value];
      }
    }
  }
}

/** The dotted names the spec promises, in order: a module's own parameters first, then each child's, depth first. */
function expectedNames(spec: Spec, prefix = ''): string[] {
  const own = spec.filter((e) => e.kind === 'param').map((e) => prefix + e.name);
  const children = spec.flatMap((e) => {
    if (e.kind === 'child') return expectedNames(e.spec, `${prefix}${e.name}.`);
    if (e.kind === 'list') return e.specs.flatMap((s, i) => expectedNames(s, `${prefix}${e.name}.${i}.`));
    return [];
  });
  return [...own, ...children];
}

/** Every module of the tree, by following the spec. */
function modulesOf(m: Module, spec: Spec): Module[] {
  const self = m as unknown as Record<string, unknown>;
  return [
    m,
    ...spec.flatMap((e) => {
      if (e.kind === 'child') return modulesOf(self[e.name] as Module, e.spec);
      if (e.kind === 'list') return e.specs.flatMap((s, i) => modulesOf((self[e.name] as Module[])[i]!, s));
      return [];
    }),
  ];
}

/** The tensor at a dotted path, by plain property access. */
function at(m: Module, name: string): Parameter {
  return name.split('.').reduce<unknown>((o, key) => (o as Record<string, unknown>)[key], m) as Parameter;
}

function setAt(m: Module, name: string, p: Parameter): void {
  const path = name.split('.');
  const owner = path.slice(0, -1).reduce<unknown>((o, key) => (o as Record<string, unknown>)[key], m) as Record<string, unknown>;
  owner[path[path.length - 1]!] = p;
}

/** A tree with at least one parameter, and a list of (from, to) ties between parameter slots of equal shape. */
const treeArb = specArb(3)
  .filter((spec) => expectedNames(spec).length > 0)
  .chain((spec) => {
    const n = expectedNames(spec).length;
    return fc.record({ spec: fc.constant(spec), ties: fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: 3 }), seed: fc.nat() });
  });

/** Build the tree and apply the ties (slot b takes slot a's Parameter when shapes agree); returns the slot names. */
function buildTied(spec: Spec, ties: Array<[number, number]>, seed: number, dtype: DType = 'float32'): { m: Tree; slots: string[] } {
  const m = new Tree(spec, new Generator(seed), dtype);
  const slots = expectedNames(spec);
  for (const [a, b] of ties) {
    const pa = at(m, slots[a]!);
    if (a !== b && pa.shape.join() === at(m, slots[b]!).shape.join()) setAt(m, slots[b]!, pa);
  }
  return { m, slots };
}

/** The slot names that the walk keeps: the first slot of each distinct Parameter, in slot order. */
function firstSlots(m: Module, slots: readonly string[]): string[] {
  const seen = new Set<Parameter>();
  return slots.filter((s) => {
    const p = at(m, s);
    if (seen.has(p)) return false;
    seen.add(p);
    return true;
  });
}

test('namedParameters: dotted names in declaration order (own first, then children, arrays as name.i), tied listed once; counts', () => {
  fc.assert(
    fc.property(treeArb, ({ spec, ties, seed }) => {
      const { m, slots } = buildTied(spec, ties, seed);
      const named = m.namedParameters();
      const want = firstSlots(m, slots);
      assert.equal(named.map(([n]) => n), want);
      named.forEach(([n, p]) => assert.ok(p === at(m, n) && p instanceof Parameter && p.requiresGrad, `${n} is the parameter itself`));
      assert.is(m.parameters().length, want.length);
      assert.ok(m.parameters().every((p, i) => p === named[i]![1]));
      assert.is(m.numParameters(), want.reduce((s, n) => s + at(m, n).size, 0));
      assert.equal(m.namedParameters('model').map(([n]) => n), want.map((n) => `model.${n}`));
      assert.equal(Object.keys(m.stateDict()), want);
    }),
    fcParams(200),
  );
});

test('namedParameters: a concrete net names blocks.0.fc.weight and lists a tied embedding/head weight once', () => {
  class Fc extends Module {
    weight: Parameter;
    bias: Parameter;
    constructor(g: Generator) {
      super();
      this.weight = Parameter.from(randn([3, 2], { generator: g }));
      this.bias = Parameter.from(randn([3], { generator: g }));
    }
  }
  class Block extends Module {
    fc: Fc;
    constructor(g: Generator) {
      super();
      this.fc = new Fc(g);
    }
  }
  class Net extends Module {
    emb: Parameter;
    blocks: Block[];
    head: Fc;
    constructor(g: Generator) {
      super();
      this.emb = Parameter.from(randn([3, 2], { generator: g }));
      this.blocks = [new Block(g), new Block(g)];
      this.head = new Fc(g);
      this.head.weight = this.emb; // weight tying
    }
  }
  const net = new Net(new Generator(0));
  assert.equal(net.namedParameters().map(([n]) => n), ['emb', 'blocks.0.fc.weight', 'blocks.0.fc.bias', 'blocks.1.fc.weight', 'blocks.1.fc.bias', 'head.bias']);
  assert.is(net.numParameters(), 6 + 4 * (6 + 3) / 2 + 3);
  assert.equal(net.namedChildren().map(([n]) => n), ['blocks.0', 'blocks.1', 'head']);
});

test('train()/eval() reach every module (arrays included) and return the module; zeroGrad clears every gradient', () => {
  fc.assert(
    fc.property(treeArb, fc.boolean(), ({ spec, ties, seed }, mode) => {
      const { m } = buildTied(spec, ties, seed);
      const all = modulesOf(m, spec);
      assert.ok(all.every((x) => x.training), 'training by default');
      assert.is(m.eval(), m);
      assert.ok(all.every((x) => !x.training), 'eval() reaches every module');
      assert.is(m.train(mode), m);
      assert.ok(all.every((x) => x.training === mode), `train(${mode}) reaches every module`);
      const params = m.parameters();
      params.reduce<Tensor | null>((acc, p) => (acc === null ? p.sum() : acc.add(p.sum())), null)!.backward();
      assert.ok(params.every((p) => p.grad !== null && p.grad.data.every((x) => x !== 0)), 'backward filled every grad');
      m.zeroGrad();
      assert.ok(params.every((p) => p.grad === null), 'zeroGrad cleared every grad');
    }),
    fcParams(100),
  );
});

test('stateDict → loadStateDict into a fresh tree of the same structure copies every value in place (tied stay tied)', () => {
  fc.assert(
    fc.property(treeArb, ({ spec, ties, seed }) => {
      const src = buildTied(spec, ties, seed).m;
      const { m: dst, slots } = buildTied(spec, ties, seed + 1);
      const before = dst.parameters();
      const result = dst.loadStateDict(src.stateDict());
      assert.equal(result, { missing: [], unexpected: [] });
      assert.ok(dst.parameters().every((p, i) => p === before[i]), 'same Parameter objects (loaded in place)');
      for (const s of slots) assertClose(at(dst, s).data, at(src, s).data, { rtol: 0, atol: 0 }, s);
      assert.equal(firstSlots(dst, slots), firstSlots(src, slots), 'ties unchanged');
      // the state dict holds the parameters themselves, not copies
      const sd = src.stateDict();
      for (const [n, p] of src.namedParameters()) assert.is(sd[n], p);
    }),
    fcParams(100),
  );
});

test('loadStateDict: strict name mismatch → ValueError listing missing and unexpected names, nothing written; non-strict loads the overlap and reports them', () => {
  fc.assert(
    fc.property(treeArb, fc.nat(), ({ spec, ties, seed }, pick) => {
      const src = buildTied(spec, ties, seed).m;
      const dst = buildTied(spec, ties, seed + 1).m;
      const names = dst.namedParameters().map(([n]) => n);
      const drop = names[pick % names.length]!;
      const state = { ...src.stateDict() };
      delete state[drop];
      state['nope.weight'] = randn([2]);
      const snapshot = dst.parameters().map((p) => p.data.slice());
      const e = thrown(() => dst.loadStateDict(state), 'strict');
      assert.instance(e, ValueError);
      const msg = (e as Error).message;
      assert.ok(msg.includes(drop) && msg.includes('nope.weight'), `message lists both names: ${msg}`);
      dst.parameters().forEach((p, i) => assertClose(p.data, snapshot[i]!, { rtol: 0, atol: 0 }, 'unchanged after strict failure'));
      const result = dst.loadStateDict(state, { strict: false });
      assert.equal(result, { missing: [drop], unexpected: ['nope.weight'] });
      for (const [n, p] of dst.namedParameters()) {
        const want = n === drop ? snapshot[names.indexOf(n)]! : src.stateDict()[n]!.data;
        assertClose(p.data, want, { rtol: 0, atol: 0 }, n);
      }
    }),
    fcParams(100),
  );
});

test('loadStateDict: a shape mismatch anywhere → ShapeError naming it, and every parameter is left unchanged', () => {
  fc.assert(
    fc.property(treeArb, fc.nat(), fc.boolean(), ({ spec, ties, seed }, pick, strict) => {
      const src = buildTied(spec, ties, seed).m;
      const dst = buildTied(spec, ties, seed + 1).m;
      const names = dst.namedParameters().map(([n]) => n);
      const bad = names[pick % names.length]!;
      const state = { ...src.stateDict() };
      const shape = state[bad]!.shape;
      state[bad] = randn([...shape.slice(0, -1), shape[shape.length - 1]! + 1]); // same rank, wrong size
      const snapshot = dst.parameters().map((p) => p.data.slice());
      const e = thrown(() => dst.loadStateDict(state, { strict }), `mismatch at ${bad}`);
      assert.instance(e, ShapeError);
      assert.ok((e as Error).message.includes(bad), `names ${bad}: ${(e as Error).message}`);
      dst.parameters().forEach((p, i) => assertClose(p.data, snapshot[i]!, { rtol: 0, atol: 0 }, `${names[i]} unchanged`));
      // same number of elements, other shape: still a mismatch
      const flat = { ...src.stateDict(), [bad]: randn([sizeOfShape(shape)]) };
      if (shape.length > 1) assert.instance(thrown(() => dst.loadStateDict(flat, { strict }), 'flattened'), ShapeError);
    }),
    fcParams(100),
  );
});

test('loadStateDict matches names as own keys only: a parameter named like an Object.prototype member is still missing', () => {
  const m = new Tree([{ kind: 'param', name: 'weight', shape: [2] }], new Generator(0));
  (m as unknown as Record<string, unknown>)['constructor'] = Parameter.from(randn([3]));
  assert.equal(m.namedParameters().map(([n]) => n), ['weight', 'constructor']);
  const e = thrown(() => m.loadStateDict({ weight: randn([2]) }), 'strict');
  assert.instance(e, ValueError);
  assert.ok((e as Error).message.includes('missing: [constructor]'), (e as Error).message);
  assert.equal(m.loadStateDict({ weight: randn([2]) }, { strict: false }), { missing: ['constructor'], unexpected: [] });
});

test('loadStateDict converts dtypes: float64 state into float32 parameters rounds each value', () => {
  fc.assert(
    fc.property(treeArb, ({ spec, ties, seed }) => {
      const src = buildTied(spec, ties, seed, 'float64').m;
      const dst = buildTied(spec, ties, seed + 1, 'float32').m;
      dst.loadStateDict(src.stateDict());
      for (const [n, p] of dst.namedParameters()) {
        assert.is(p.dtype, 'float32');
        assertClose(p.data, Array.from(at(src, n).data, Math.fround), { rtol: 0, atol: 0 }, n);
      }
    }),
    fcParams(60),
  );
});

test('to(dtype) converts every parameter (values kept), keeps tied weights tied, and gradients flow in the new dtype', () => {
  fc.assert(
    fc.property(treeArb, ({ spec, ties, seed }) => {
      const { m, slots } = buildTied(spec, ties, seed, 'float32');
      const values = new Map(slots.map((s) => [s, Array.from(at(m, s).data)]));
      const tied = firstSlots(m, slots);
      assert.is(m.to('float64'), m);
      for (const s of slots) {
        const p = at(m, s);
        assert.ok(p instanceof Parameter && p.dtype === 'float64' && p.requiresGrad, `${s} float64 Parameter`);
        assertClose(p.data, values.get(s)!, { rtol: 0, atol: 0 }, s);
      }
      assert.equal(firstSlots(m, slots), tied, 'ties kept');
      assert.equal(m.namedParameters().map(([n]) => n), tied);
      m.parameters()[0]!.sum().backward();
      assert.is(m.parameters()[0]!.grad!.dtype, 'float64');
      m.to('float32');
      assert.ok(m.parameters().every((p) => p.dtype === 'float32'));
      assert.equal(firstSlots(m, slots), tied, 'ties kept on the way back');
    }),
    fcParams(100),
  );
});

test.run();
