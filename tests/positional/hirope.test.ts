/**
 * HiRoPE (positional/hirope.ts; Zhang et al. 2024, §3; docs/notes/hirope.md): split = pairs with window ∞ (or 0
 * and global tokens) ⇒ plain RoPE; inside the window the logits are plain RoPE's bit for bit; beyond it they are
 * the hierarchical ones with L_window − 1 added to the unit-level distance (§3.2) and depend only on
 * (Δp_tok, Δp_hi); a single unit ⇒ RoPE with the low pairs frozen; the worked toy; gradchecks through the angle
 * table (in the positions) and the two passes; the HiRoPE encoding (window-0 form); and the code segmenter
 * (positional/source-lexer.ts) on TypeScript and Python snippets (braces in strings, comments, templates and
 * regexes), the partition property and token-list mapping.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, Tensor, ValueError, gradcheck, matmul } from '../../core/index.js';
import { HiRoPE, hiropeAngles, hiropePositionsTensor, hiropePositions, hiropeScores, type HiRoPELevels } from '../../positional/hirope.js';
import { hiropeSegments, type HiRoPESegment } from '../../positional/source-lexer.js';
import { RoPE, ropeInvFreq, type PairLayout } from '../../positional/rope.js';
import { assertClose } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';

function randTensor(g: Generator, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(Float64Array.from({ length: n }, () => g.normal()), shape);
}

function plainLogits(q: Tensor, k: Tensor, invFreq: Float64Array, layout: PairLayout, qPos: ArrayLike<number>, kPos: ArrayLike<number>): Tensor {
  const rope = new RoPE(q.shape[q.ndim - 1]!, { invFreq, layout });
  const p = (a: ArrayLike<number>): Tensor => new Tensor(Float64Array.from(a), [a.length]);
  return matmul(rope.rotate(q, p(qPos)), rope.rotate(k, p(kPos)), { transposeB: true });
}

/** Random hierarchical positions for T tokens: unit indices non-decreasing, p_tok reset or global. */
function randomLevels(g: Generator, T: number, reset: boolean): { token: Float64Array; unit: Float64Array; position: Float64Array } {
  const unit = new Float64Array(T);
  const token = new Float64Array(T);
  let u = 0;
  let run = 0;
  for (let t = 0; t < T; t++) {
    if (t > 0 && g.random() < 0.3) {
      u++;
      run = t;
    }
    unit[t] = u;
    token[t] = reset ? t - run : t;
  }
  return { token, unit, position: Float64Array.from({ length: T }, (_, t) => t) };
}

const caseArb = fc.record({
  pairs: fc.integer({ min: 1, max: 5 }),
  T: fc.integer({ min: 1, max: 9 }),
  layout: fc.constantFrom<PairLayout>('half', 'interleaved'),
  reset: fc.boolean(),
  window: fc.integer({ min: 0, max: 6 }),
  seed: fc.integer({ min: 0, max: 1 << 30 }),
});

test('split = pairs: window ∞ is plain RoPE; window 0 with global p_tok is plain RoPE too (through the hierarchical pass)', () => {
  fc.assert(
    fc.property(caseArb, ({ pairs, T, layout, seed }) => {
      const g = new Generator(seed);
      const d = 2 * pairs;
      const invFreq = ropeInvFreq(d, 100);
      const q = randTensor(g, [2, T, d]);
      const k = randTensor(g, [2, T, d]);
      const lv = randomLevels(g, T, false);
      const ref = plainLogits(q, k, invFreq, layout, lv.position, lv.position);
      for (const window of [Infinity, 0]) {
        const s = hiropeScores(q, k, lv, { invFreq, split: pairs, window, layout });
        assert.equal(Array.from(s.data), Array.from(ref.data), `window ${window}`);
      }
    }),
    fcParams(60),
  );
});

test('inside the window the logits are plain RoPE bit for bit; outside they are the hierarchical ones, query p_hi + max(L − 1, 0)', () => {
  fc.assert(
    fc.property(caseArb, fc.integer({ min: 0, max: 5 }), ({ pairs, T, layout, reset, window, seed }, s) => {
      const g = new Generator(seed);
      const d = 2 * pairs;
      const split = Math.min(s, pairs);
      const invFreq = ropeInvFreq(d, 50);
      const q = randTensor(g, [T, d]);
      const k = randTensor(g, [T, d]);
      const lv = randomLevels(g, T, reset);
      const scores = hiropeScores(q, k, lv, { invFreq, split, window, layout });
      const plain = plainLogits(q, k, invFreq, layout, lv.position, lv.position);
      const shift = Math.max(window - 1, 0);
      const qt = hiropePositionsTensor({ token: lv.token, unit: lv.unit.map((u) => u + shift) });
      const e = new HiRoPE(d, { invFreq, split, layout }).encodeQK(q, k, qt, hiropePositionsTensor(lv));
      const hier = matmul(e.q, e.k, { transposeB: true });
      for (let m = 0; m < T; m++) {
        for (let n = 0; n < T; n++) {
          const at = m * T + n;
          const expected = Math.abs(m - n) < window ? plain.data[at] : hier.data[at];
          assert.ok(Object.is(scores.data[at], expected), `(${m}, ${n}): ${scores.data[at]} vs ${expected}`);
        }
      }
    }),
    fcParams(60),
  );
});

test('outside the window the logits depend only on (Δp_tok, Δp_hi): shifting each level leaves them unchanged', () => {
  fc.assert(
    fc.property(caseArb, fc.integer({ min: -500, max: 500 }), fc.integer({ min: -50, max: 50 }), fc.integer({ min: -900, max: 900 }), (c, a, b, shift) => {
      const { pairs, T, layout, reset, window, seed } = c;
      const g = new Generator(seed);
      const d = 2 * pairs;
      const invFreq = ropeInvFreq(d, 30);
      const q = randTensor(g, [1, 2, T, d]);
      const k = randTensor(g, [1, 2, T, d]);
      const lv = randomLevels(g, T, reset);
      const split = g.int(0, pairs + 1);
      const moved: HiRoPELevels = { token: lv.token.map((v) => v + a), unit: lv.unit.map((v) => v + b), position: lv.position.map((v) => v + shift) };
      const s0 = hiropeScores(q, k, lv, { invFreq, split, window, layout });
      const s1 = hiropeScores(q, k, moved, { invFreq, split, window, layout });
      assertClose(s1.data, s0.data, { atol: 1e-10, rtol: 1e-10 }, 'logits');
    }),
    fcParams(60),
  );
});

test('a single unit with global p_tok ⇒ RoPE with the pairs ≥ split frozen (NoPE on them)', () => {
  fc.assert(
    fc.property(caseArb, fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 40 }), ({ pairs, T, layout, seed }, s, u) => {
      const g = new Generator(seed);
      const d = 2 * pairs;
      const split = Math.min(s, pairs);
      const invFreq = ropeInvFreq(d);
      const frozen = invFreq.map((v, i) => (i < split ? v : 0));
      const q = randTensor(g, [T, d]);
      const k = randTensor(g, [T, d]);
      const token = Float64Array.from({ length: T }, (_, t) => t);
      const ref = plainLogits(q, k, frozen, layout, token, token);
      const exact = hiropeScores(q, k, { token, unit: new Float64Array(T) }, { invFreq, split, window: 0, layout });
      assert.equal(Array.from(exact.data), Array.from(ref.data), 'unit index 0: bit for bit');
      const shifted = hiropeScores(q, k, { token, unit: new Float64Array(T).fill(u) }, { invFreq, split, window: 0, layout });
      assertClose(shifted.data, ref.data, { atol: 1e-12, rtol: 1e-12 }, `unit index ${u}`);
    }),
    fcParams(60),
  );
});

test('worked toy (docs/notes/hirope.md): [f0: 0 1 2 | f1: 0 1 | f2: 0 1 2 3], d = 8, s = 2', () => {
  const r = hiropePositions(['a(){', ' ', '}\n', 'b(){', '}\n', 'c(){', ' ', ' ', '}\n']);
  assert.equal(Array.from(r.unit), [0, 0, 0, 1, 1, 2, 2, 2, 2]);
  assert.equal(Array.from(r.token), [0, 1, 2, 0, 1, 0, 1, 2, 3]);
  assert.equal(Array.from(r.position), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(r.units.map((u) => u.kind), ['function', 'function', 'function']);
  const theta = ropeInvFreq(8);
  assertClose(theta, [1, 0.1, 0.01, 0.001], { rtol: 1e-15, atol: 0 });
  const a = hiropeAngles(r.token, r.unit, theta, 2);
  assert.equal([...a.shape], [9, 4]);
  for (let t = 0; t < 9; t++) {
    const row = Array.from(a.data.subarray(t * 4, t * 4 + 4));
    assert.equal(row, [r.token[t]! * theta[0]!, r.token[t]! * theta[1]!, r.unit[t]! * theta[2]!, r.unit[t]! * theta[3]!]);
  }
  const global = hiropePositions(['a(){', ' ', '}\n', 'b(){', '}\n', 'c(){', ' ', ' ', '}\n'], { tokenIndex: 'global' });
  assert.equal(Array.from(global.token), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
});

test('beyond L_window the unit-level distance gains L_window − 1 (Zhang et al. 2024, §3.2): one pair, θ = 1, q = k = e₁', () => {
  // d = 2, split 0: the single pair rotates with p_hi beyond the window, with global positions inside it; for
  // q = k = (1, 0) the logit is cos(φ_m − φ_n). Units [0, 0, 1, 1] at positions 0…3.
  const q = new Tensor(new Float64Array([1, 0, 1, 0, 1, 0, 1, 0]), [4, 2]);
  const lv = { token: [0, 1, 0, 1], unit: [0, 0, 1, 1] };
  const logit = (window: number, m: number, n: number): number => hiropeScores(q, q, lv, { invFreq: [1], split: 0, window }).data[m * 4 + n]!;
  // L = 3: (3, 0) and (0, 3) are beyond it (|Δ| = 3): Δp_hi = ±1, shifted by 2 on the query side
  assertClose([logit(3, 3, 0)], [Math.cos(1 + 2)], { atol: 1e-15, rtol: 0 }, 'query after key: cos(Δp_hi + L − 1)');
  assertClose([logit(3, 0, 3)], [Math.cos(-1 + 2)], { atol: 1e-15, rtol: 0 }, 'query before key: the shift is on the query side');
  assertClose([logit(3, 2, 0)], [Math.cos(2)], { atol: 1e-15, rtol: 0 }, 'inside (|Δ| = 2 < 3): plain RoPE with global positions');
  // L = 2: (2, 0) and (3, 1) are beyond it; (2, 0) spans a unit, (3, 1) too; (3, 2) is inside
  assertClose([logit(2, 2, 0), logit(2, 3, 1), logit(2, 3, 2)], [Math.cos(1 + 1), Math.cos(1 + 1), Math.cos(1)], { atol: 1e-15, rtol: 0 }, 'L = 2');
  // L = 1 and L = 0 shift nothing: the pure hierarchical distance
  assertClose([logit(1, 3, 0), logit(0, 3, 0), logit(0, 1, 0)], [Math.cos(1), Math.cos(1), 1], { atol: 1e-15, rtol: 0 }, 'L ≤ 1');
});

test('gradcheck through hiropeAngles (the multi-axis table) in p_tok and p_hi, float64, shared and per-sequence', () => {
  const g = new Generator(13);
  const invFreq = ropeInvFreq(8, 30);
  for (const shape of [[5], [2, 4]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const token = new Tensor(Float64Array.from({ length: n }, () => g.normal() * 3), shape);
    const unit = new Tensor(Float64Array.from({ length: n }, () => g.normal()), shape);
    token.requiresGrad = true;
    unit.requiresGrad = true;
    const w = randTensor(g, [...shape, 4]);
    assert.ok(gradcheck((a, b) => hiropeAngles(a!, b!, invFreq, 2).sin().mul(w).sum(), [token, unit], { atol: 1e-7, rtol: 1e-5 }), `shape [${shape}]`);
  }
});

test('gradcheck through both passes and the merge (window 2), in q and k', () => {
  const g = new Generator(5);
  const [T, d] = [5, 6];
  const q = randTensor(g, [1, T, d]);
  const k = randTensor(g, [1, T, d]);
  q.requiresGrad = true;
  k.requiresGrad = true;
  const lv = randomLevels(new Generator(9), T, true);
  const opts = { invFreq: ropeInvFreq(d, 20), split: 1, window: 2, layout: 'half' as const };
  assert.ok(gradcheck((a, b) => hiropeScores(a!, b!, lv, opts), [q, k], { atol: 1e-7, rtol: 1e-5 }));
});

test('HiRoPE encoding: window-0 form through encodeQK equals hiropeScores; [B, T, 2] positions; windowed scores()', () => {
  const g = new Generator(21);
  const [B, H, T, d] = [2, 2, 6, 8];
  const enc = new HiRoPE(d, { split: 2 });
  assert.is(enc.name, 'hirope');
  assert.is(enc.split, 2);
  assert.is(enc.numParameters(), 0);
  const q = randTensor(g, [B, H, T, d]);
  const k = randTensor(g, [B, H, T, d]);
  const lv = randomLevels(g, T, true);
  const e = enc.encodeQK(q, k, hiropePositionsTensor(lv), hiropePositionsTensor(lv));
  const viaScores = hiropeScores(q, k, lv, { invFreq: enc.invFreq, split: 2, window: 0 });
  assert.equal(Array.from(matmul(e.q, e.k, { transposeB: true }).data), Array.from(viaScores.data));
  // per-sequence positions [B, T, 2]: sequence 1 uses other levels
  const lv2 = randomLevels(g, T, false);
  const both = new Tensor(new Float64Array([...hiropePositionsTensor(lv).data, ...hiropePositionsTensor(lv2).data]), [B, T, 2]);
  const eb = enc.encodeQK(q, k, both, both);
  const one = enc.encodeQK(q.narrow(0, 1, 1), k.narrow(0, 1, 1), hiropePositionsTensor(lv2), hiropePositionsTensor(lv2));
  assert.equal(Array.from(eb.q.data.subarray(H * T * d)), Array.from(one.q.data));
  // windowed: encodeQK refuses, scores() merges two passes
  const windowed = new HiRoPE(d, { split: 2, window: 3 });
  assert.throws(() => windowed.encodeQK(q, k, hiropePositionsTensor(lv), hiropePositionsTensor(lv)), /HiRoPE\.encodeQK: a window needs two score passes — window=3/);
  const ws = windowed.scores(q, k, lv);
  const ref = hiropeScores(q, k, lv, { invFreq: enc.invFreq, split: 2, window: 3 });
  assert.equal(Array.from(ws.data), Array.from(ref.data));
  assert.throws(() => enc.encodeQK(q, k, new Tensor(new Float64Array(T), [T]), new Tensor(new Float64Array(T), [T])), /HiRoPE: qPositions=\[6\] must be \[T, 2\] or \[B, T, 2\]/);
});

test('errors: split out of range, mismatched levels, negative window', () => {
  const t = new Tensor(new Float64Array(3 * 4), [3, 4]);
  assert.throws(() => hiropeAngles([0, 1], [0, 0], [1, 0.1], 3), (e: unknown) => e instanceof ValueError && /^hiropeAngles: split must be an integer ≥ 0 ≤ 2, got 3/.test((e as Error).message));
  assert.throws(() => hiropeAngles([0, 1], [0], [1, 0.1], 1), /hiropeAngles: token=\[2\] and unit=\[1\] differ/);
  assert.throws(() => hiropeScores(t, t, { token: [0, 1, 2], unit: [0, 0, 0] }, { invFreq: [1, 0.1], split: 1, window: -1 }), /^hiropeScores: window must be a number ≥ 0, got -1/);
  assert.throws(() => new HiRoPE(8, { split: 5 }), /HiRoPE: split must be an integer ≥ 0 ≤ 4, got 5/);
  assert.throws(() => hiropePositions('x', { tokenIndex: 'local' as 'reset' }), /hiropePositions: tokenIndex must be/);
});

// ── segmentation ──

function show(src: string, segs: readonly HiRoPESegment[]): Array<[string, string]> {
  return segs.map((s) => [s.kind, src.slice(s.start, s.end)]);
}

test('hiropeSegments, TypeScript: functions, classes, blocks; braces in strings, comments, templates and regexes', () => {
  const src = [
    "import { x } from './x.js';",
    'const s = "}{";',
    '',
    '/** Doc with { brace */',
    'export function add(a: number, b: number): number {',
    "  const t = `${a} } ${ {b}.b }`; // }",
    '  return a + b;',
    '}',
    '',
    'export class Foo extends Bar {',
    "  method() { return /\\{/.test('{'); }",
    '}',
    'const obj = {',
    '  a: 1,',
    '};',
    'if (x) {',
    '  y();',
    '}',
    'else {',
    '  z();',
    '}',
    'const f = (a: number) => {',
    '  return a;',
    '};',
    'function multi(',
    '  a: number,',
    '): void',
    '{',
    '}',
    '',
  ].join('\n');
  assert.equal(show(src, hiropeSegments(src)), [
    ['gap', "import { x } from './x.js';\nconst s = \"}{\";\n\n/** Doc with { brace */\n"],
    ['function', 'export function add(a: number, b: number): number {\n  const t = `${a} } ${ {b}.b }`; // }\n  return a + b;\n}\n\n'],
    ['class', "export class Foo extends Bar {\n  method() { return /\\{/.test('{'); }\n}\n"],
    ['block', 'const obj = {\n  a: 1,\n};\n'],
    ['block', 'if (x) {\n  y();\n}\nelse {\n  z();\n}\n'],
    ['function', 'const f = (a: number) => {\n  return a;\n};\n'],
    ['function', 'function multi(\n  a: number,\n): void\n{\n}\n'],
  ]);
});

test('hiropeSegments, Python: def/class units, decorators, else continuation, column-0 text in strings, gaps', () => {
  const src = [
    'import os',
    '',
    '@decorator',
    'def f(x):',
    '    """doc',
    'no indent here',
    '    """',
    '    return x',
    '',
    '# comment',
    'class A(B):',
    '    def m(self):',
    '        pass',
    '',
    'x = [',
    '1, 2]',
    'if __name__ == "__main__":',
    '    main()',
    'else:',
    '    pass',
    'def one(): return 1',
    '',
  ].join('\n');
  const segs = hiropeSegments(src);
  assert.equal(show(src, segs), [
    ['gap', 'import os\n\n'],
    ['function', '@decorator\ndef f(x):\n    """doc\nno indent here\n    """\n    return x\n'],
    ['gap', '\n# comment\n'],
    ['class', 'class A(B):\n    def m(self):\n        pass\n'],
    ['gap', '\nx = [\n1, 2]\n'],
    ['block', 'if __name__ == "__main__":\n    main()\nelse:\n    pass\n'],
    ['function', 'def one(): return 1\n'],
  ]);
  // gaps: 'own' numbers every segment, 'previous' gives gap text the unit before it
  const own = hiropePositions(src);
  assert.equal(own.units.map((u) => u.index), [0, 1, 2, 3, 4, 5, 6]);
  const prev = hiropePositions(src, { gaps: 'previous' });
  assert.equal(prev.units.map((u) => u.index), [0, 0, 0, 1, 1, 2, 3]);
  // p_tok restarts where p_hi changes: the first character of the class is token 0
  const classStart = segs[3]!.start;
  assert.is(prev.token[classStart], 0);
  assert.is(prev.token[classStart - 1], classStart - 1); // gap, f and gap share index 0: one run from 0
  assert.is(own.token[segs[1]!.start], 0);
  assert.is(own.token[segs[1]!.start - 1], segs[1]!.start - 1);
});

test("hiropeSegments: 'auto' picks the syntax; explicit syntax overrides; unbalanced braces run to the end", () => {
  const py = 'def f():\n    return {1: 2}\n';
  assert.equal(hiropeSegments(py).map((s) => s.kind), ['function']);
  const c = 'int main(void) {\n  return 0;\n}\n';
  assert.equal(show(c, hiropeSegments(c)), [['function', c]]);
  const open = 'x = 1;\nfunction f() {\n  if (a) {\n';
  assert.equal(show(open, hiropeSegments(open, { syntax: 'braces' })), [['gap', 'x = 1;\n'], ['function', 'function f() {\n  if (a) {\n']]);
  assert.equal(hiropeSegments('').length, 0);
  assert.equal(show('  \n', hiropeSegments('  \n')), [['gap', '  \n']]);
});

/** Code-like text from fragments that stress the lexers. */
const fragments = [
  'function f() {', 'class A {', '}', '{', '(', ')', '[', ']', ';', '\n', '\n', '  ', 'x = 1', '"s{"', "'}'", '`a${b}c`', '`${ {a} }`',
  '// c {\n', '/* { */', '/r{/', 'return /x}/', 'def g():\n', '    pass\n', 'if x:\n', 'else:\n', '@d\n', '# c {\n', '"""\n{\n"""', '\\\n', '} else {',
];
const codeArb = fc.array(fc.constantFrom(...fragments), { maxLength: 40 }).map((parts) => parts.join(''));

test('property: the segments partition the source (every character once, in order) and positions are consistent', () => {
  fc.assert(
    fc.property(codeArb, fc.constantFrom('braces', 'indent', 'auto') as fc.Arbitrary<'braces' | 'indent' | 'auto'>, fc.boolean(), fc.boolean(), (src, syntax, reset, ownGaps) => {
      const r = hiropePositions(src, { syntax, tokenIndex: reset ? 'reset' : 'global', gaps: ownGaps ? 'own' : 'previous' });
      let pos = 0;
      for (const u of r.units) {
        assert.is(u.start, pos, 'contiguous');
        assert.ok(u.end > u.start, 'non-empty');
        pos = u.end;
      }
      assert.is(pos, src.length, 'covers the source');
      assert.is(r.token.length, src.length);
      for (let t = 0; t < src.length; t++) {
        const seg = r.units.find((u) => t >= u.start && t < u.end)!;
        assert.is(r.unit[t], seg.index);
        if (t > 0) assert.ok(r.unit[t]! >= r.unit[t - 1]!, 'p_hi non-decreasing');
        const restart = t === 0 || r.unit[t] !== r.unit[t - 1];
        assert.is(r.token[t], reset ? (restart ? 0 : r.token[t - 1]! + 1) : t);
      }
    }),
    fcParams(150),
  );
});

test('property: a token list maps each token to the unit of its first character', () => {
  fc.assert(
    fc.property(codeArb, fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 60 }), (src, cuts) => {
      const tokens: string[] = [];
      let at = 0;
      for (const c of cuts) {
        tokens.push(src.slice(at, at + c));
        at = Math.min(src.length, at + c);
      }
      tokens.push(src.slice(at));
      const byChar = hiropePositions(src);
      const byToken = hiropePositions(tokens);
      assert.equal(byToken.units, byChar.units);
      let offset = 0;
      tokens.forEach((tok, j) => {
        const seg = byChar.units.find((u) => offset >= u.start && offset < u.end) ?? byChar.units[byChar.units.length - 1];
        assert.is(byToken.unit[j], seg === undefined ? 0 : seg.index, `token ${j}`);
        offset += tok.length;
      });
    }),
    fcParams(100),
  );
});

test.run();
