/**
 * Broadcasting: the shape rule (core/shape.ts, broadcastShapes) and the elementwise kernels that walk broadcast
 * operands (core/kernels/elementwise.ts: unaryKernel, binaryKernel, mapTernary, forEachRow), against multi-index loops.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { broadcastShapes, ShapeError } from '../../core/index.js';
import { binaryKernel, forEachRow, mapTernary, unaryKernel } from '../../core/kernels/elementwise.js';
import { assertShape } from '../helpers/close.js';
import { broadcastablePairArb, fcParams, nonBroadcastablePairArb, shapeArb } from '../helpers/fc.js';
import { naiveBroadcastShape, sizeOfShape, unravel } from '../helpers/oracle.js';
import { broadcastShapeN, broadcastTripleArb, fmt, naiveMap } from '../helpers/oracle-elementwise.js';

/** Broadcastable pairs, with the kernels' fast paths (equal shapes, one side a single element) forced often. */
const kernelPairArb: fc.Arbitrary<[number[], number[]]> = fc.oneof(
  broadcastablePairArb(5, 4),
  shapeArb(5, 4, 1).map((s) => [s, [...s]] as [number[], number[]]),
  fc.tuple(shapeArb(5, 4, 1), fc.integer({ min: 0, max: 2 }), fc.boolean()).map(([s, ones, swap]) => {
    const one = new Array<number>(Math.min(ones, s.length)).fill(1);
    return (swap ? [one, s] : [s, one]) as [number[], number[]];
  }),
);

/** Distinct, recognisable values: operand k, element i holds 1000·k + i. */
function tagged(shape: readonly number[], k: number): Float64Array {
  return Float64Array.from({ length: sizeOfShape(shape) }, (_, i) => 1000 * k + i);
}

test('broadcastShapes: equals the naive rule (size-0 dims too), is symmetric, and names both shapes when it fails', () => {
  fc.assert(
    fc.property(broadcastablePairArb(5, 4), ([a, b]) => {
      assertShape(broadcastShapes(a, b), naiveBroadcastShape(a, b)!, `${fmt(a)} with ${fmt(b)}`);
      assertShape(broadcastShapes(b, a), broadcastShapes(a, b), 'symmetric');
    }),
    fcParams(100),
  );
  // any shapes at all, sizes 0..3: agrees with an independent n-way rule, throws exactly when that rule says no
  fc.assert(
    fc.property(shapeArb(4, 3, 0), shapeArb(4, 3, 0), (a, b) => {
      const expected = broadcastShapeN(a, b);
      let got: number[] | null = null;
      try {
        got = broadcastShapes(a, b, 'op');
      } catch (e) {
        assert.instance(e, ShapeError);
        const msg = (e as ShapeError).message;
        assert.ok(msg.startsWith('op: cannot broadcast a=') && msg.includes(`a=${fmt(a)}`) && msg.includes(`b=${fmt(b)}`), msg);
      }
      assert.equal(got, expected, `${fmt(a)} with ${fmt(b)}`);
    }),
    fcParams(300),
  );
  fc.assert(
    fc.property(nonBroadcastablePairArb(5, 4), ([a, b]) => {
      let err: unknown;
      try {
        broadcastShapes(a, b, 'myop', ['x', 'y']);
      } catch (e) {
        err = e;
      }
      assert.instance(err, ShapeError);
      const e = err as ShapeError;
      assert.is(e.op, 'myop');
      // the first offending dim from the right, counted negatively, with both sizes
      const dim = (s: number[], k: number): number => s[s.length - k] ?? 1;
      let k = 1;
      while (dim(a, k) === dim(b, k) || dim(a, k) === 1 || dim(b, k) === 1) k++;
      const detail = `dim -${k} is ${dim(a, k)} vs ${dim(b, k)} (sizes must match or be 1)`;
      assert.is(e.message, `myop: cannot broadcast x=${fmt(a)} with y=${fmt(b)} — ${detail}`);
    }),
    fcParams(100),
  );
});

test('binaryKernel: every element equals f at the naive broadcast read (fast paths and strided path, any output dtype)', () => {
  fc.assert(
    fc.property(kernelPairArb, fc.boolean(), ([sa, sb], out32) => {
      const shape = naiveBroadcastShape(sa, sb)!;
      const a = tagged(sa, 1);
      const b = tagged(sb, 2);
      const out = out32 ? new Float32Array(sizeOfShape(shape)) : new Float64Array(sizeOfShape(shape));
      const f = (x: number, y: number): number => x * 10000 + y; // injective on the tags: a wrong read shows
      const ret = binaryKernel(f)(a, sa, b, sb, out, shape);
      assert.ok(ret === out, 'returns out');
      const expected = naiveMap(f, { data: a, shape: sa }, { data: b, shape: sb }).data;
      assert.equal(Array.from(out), expected.map((v) => (out32 ? Math.fround(v) : v)), `${fmt(sa)} with ${fmt(sb)}`);
    }),
    fcParams(150),
  );
});

test('mapTernary: every element equals f at the naive 3-way broadcast read', () => {
  fc.assert(
    fc.property(broadcastTripleArb(5, 4), ([sc, sa, sb]) => {
      const shape = broadcastShapeN(sc, sa, sb)!;
      const [c, a, b] = [tagged(sc, 1), tagged(sa, 2), tagged(sb, 3)];
      const out = new Float64Array(sizeOfShape(shape));
      const f = (p: number, q: number, r: number): number => p * 1e8 + q * 1e4 + r;
      mapTernary(f, c, sc, a, sa, b, sb, out, shape);
      const expected = naiveMap(f, { data: c, shape: sc }, { data: a, shape: sa }, { data: b, shape: sb }).data;
      assert.equal(Array.from(out), expected, `${fmt(sc)}, ${fmt(sa)}, ${fmt(sb)}`);
    }),
    fcParams(150),
  );
});

test('unaryKernel: out[i] = f(x[i]), rounding to the output buffer type', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { maxLength: 64 }), (xs) => {
      const x = Float64Array.from(xs);
      const out = new Float32Array(xs.length);
      unaryKernel((v) => v / 3)(x, out);
      assert.equal(Array.from(out), xs.map((v) => Math.fround(v / 3)));
    }),
    fcParams(50),
  );
});

test('forEachRow: visits each row once, in order, with offsets Σ idx·stride for every operand', () => {
  const arb = shapeArb(5, 4, 0).chain((shape) =>
    fc.tuple(
      fc.constant(shape),
      fc.array(fc.array(fc.integer({ min: 0, max: 50 }), { minLength: shape.length, maxLength: shape.length }), { minLength: 0, maxLength: 3 }),
    ),
  );
  fc.assert(
    fc.property(arb, ([shape, strides]) => {
      const seen: [number, number[], number][] = [];
      forEachRow(shape, strides, (o, offs, len) => seen.push([o, [...offs], len]));
      const expected: [number, number[], number][] = [];
      if (shape.length === 0) {
        expected.push([0, strides.map(() => 0), 1]);
      } else {
        const outer = shape.slice(0, -1);
        const len = shape[shape.length - 1]!;
        const rows = len === 0 ? 0 : sizeOfShape(outer);
        for (let r = 0; r < rows; r++) {
          const idx = unravel(r, outer);
          expected.push([r * len, strides.map((s) => idx.reduce((acc, i, d) => acc + i * s[d]!, 0)), len]);
        }
      }
      assert.equal(seen, expected, `shape ${fmt(shape)}, strides ${JSON.stringify(strides)}`);
    }),
    fcParams(150),
  );
});

test.run();
