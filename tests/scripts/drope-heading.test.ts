/**
 * scripts/experiments/drope-heading.ts (DRoPE toy protocol A, heading periodicity): the scene generator's invariants
 * (each pair ID on exactly two agents of opposite roles, partners mutual, the label is the class of the wrapped
 * heading difference computed independently, the wrap-around flag is |raw difference| > π, the partner's label is the
 * mirror, classes balanced and a quarter of agents wrap around), what each arm's encoding does to a score (DRoPE:
 * 2π-periodic and relative; RoPE: not periodic, pair k=0 alone periodic; RoPE without k=0: pair 0 passes through),
 * the same init in every arm, the pair-norm shares' channel map, the pre-registered judgement on constructed runs,
 * the --quick reproduction (well-formed result, progress, the SVG well-formed), and flags. Importing the script must
 * not run its main.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator, Tensor, matmul } from '../../core/index.js';
import { RoPE } from '../../positional/index.js';
import {
  ARMS, CLASSES, DEFAULT_FLAGS, HeadingModel, QUICK_FLAGS, armEncoding, chart, checkFlags, headingClass, judge, makeScenes, pairNormShares, parseFlags,
  reproduction, verdictOf, wrapAngle, type Arm, type ArmRun, type Flags,
} from '../../scripts/experiments/drope-heading.js';
import { fcParams } from '../helpers/fc.js';
import { assertWellFormedSvg } from '../helpers/svg.js';

const TWO_PI = 2 * Math.PI;

test('wrapAngle and headingClass on known values', () => {
  for (const [x, w] of [[0, 0], [3 * Math.PI / 2, -Math.PI / 2], [-3 * Math.PI / 2, Math.PI / 2], [TWO_PI - 0.1, -0.1], [Math.PI, -Math.PI], [5 * TWO_PI + 1, 1]]) {
    assert.ok(Math.abs(wrapAngle(x!) - w!) < 1e-12, `wrap(${x}) = ${wrapAngle(x!)}, expected ${w}`);
  }
  assert.equal([0, 0.7, -0.7, 0.8, 2.3, 2.4, -0.8, -2.3, -2.4, Math.PI - 1e-9, -Math.PI].map(headingClass), [0, 0, 0, 1, 1, 2, 3, 3, 2, 2, 2]);
  assert.equal(CLASSES, ['same', 'left', 'opposite', 'right']);
});

test('makeScenes (property): pairs, roles, partners, headings in [0, 2π·turns), the label is the class of the wrapped difference, wrap ⇔ |raw| > π, the partner sees the mirror', () => {
  const mirror = [0, 3, 2, 1]; // same ↔ same, left ↔ right, opposite ↔ opposite
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 30 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 8 }), (seed, B, pairs, turns) => {
    const N = 2 * pairs;
    const s = makeScenes(B, N, new Generator(seed), turns);
    for (let b = 0; b < B; b++) {
      const members = Array.from({ length: pairs }, () => [] as number[]);
      for (let i = 0; i < N; i++) members[s.pairId[b * N + i]!]!.push(i);
      for (const m of members) {
        assert.is(m.length, 2, 'each pair ID on exactly two agents');
        assert.equal(m.map((i) => s.role[b * N + i]).sort(), [0, 1], 'one of each role');
        assert.is(s.partner[b * N + m[0]!], m[1]);
        assert.is(s.partner[b * N + m[1]!], m[0]);
      }
      for (let i = 0; i < N; i++) {
        const ψ = s.heading[b * N + i]!;
        const j = s.partner[b * N + i]!;
        assert.ok(ψ >= 0 && ψ < TWO_PI * turns && s.speed[b * N + i]! >= 0 && s.speed[b * N + i]! < 1);
        const raw = s.heading[b * N + j]! - ψ;
        const delta = Math.atan2(Math.sin(raw), Math.cos(raw)); // an independent wrap
        const expected = Math.abs(delta) < Math.PI / 4 ? 0 : Math.abs(delta) > 3 * Math.PI / 4 ? 2 : delta > 0 ? 1 : 3;
        assert.is(s.label[b * N + i], expected, `label of Δψ = ${delta}`);
        assert.is(s.wrap[b * N + i], Math.abs(raw) > Math.PI ? 1 : 0);
        const periods = (raw - delta) / TWO_PI;
        assert.ok(Math.abs(periods - Math.round(periods)) < 1e-9 && Math.abs(periods) <= turns, 'raw and wrapped differ by whole turns');
        if (s.wrap[b * N + i] === 0) assert.ok(Math.abs(raw - delta) < 1e-9, 'no wrap-around: raw = wrapped');
        else if (turns === 1) assert.ok(Math.abs(Math.abs(raw - delta) - TWO_PI) < 1e-9, 'one turn: a wrap-around pair differs by exactly 2π');
        assert.is(s.wrap[b * N + j], s.wrap[b * N + i], 'both members wrap or neither');
        assert.is(s.label[b * N + j], mirror[s.label[b * N + i]!], "the partner's label is the mirror");
      }
    }
  }), fcParams(60));
});

test('makeScenes: balanced classes, a quarter of agents in the wrap-around subset, a different draw per seed', () => {
  const s = makeScenes(2000, 16, new Generator(7));
  const counts = [0, 0, 0, 0];
  for (const c of s.label) counts[c]!++;
  for (const c of counts) assert.ok(Math.abs(c / s.label.length - 0.25) < 0.01, `class share ${c / s.label.length}`);
  const wrap = s.wrap.reduce((a, b) => a + b, 0) / s.wrap.length;
  assert.ok(Math.abs(wrap - 0.25) < 0.01, `wrap share ${wrap}`);
  assert.not.equal(Array.from(makeScenes(1, 16, new Generator(1)).heading), Array.from(makeScenes(1, 16, new Generator(2)).heading));
  assert.throws(() => makeScenes(1, 3, new Generator(1)), /even/);
});

test('makeScenes with turns: one turn by default (the same draws), the wrap-around share (1 − 1/2K)², classes still balanced; bad turns refused', () => {
  assert.equal(makeScenes(3, 8, new Generator(5)), makeScenes(3, 8, new Generator(5), 1), 'drope-heading\'s scenes unchanged');
  for (const turns of [2, 8]) {
    const s = makeScenes(2000, 16, new Generator(turns), turns);
    const wrap = s.wrap.reduce((a, b) => a + b, 0) / s.wrap.length;
    assert.ok(Math.abs(wrap - (1 - 1 / (2 * turns)) ** 2) < 0.01, `turns ${turns}: wrap share ${wrap}`);
    const counts = [0, 0, 0, 0];
    for (const c of s.label) counts[c]!++;
    for (const c of counts) assert.ok(Math.abs(c / s.label.length - 0.25) < 0.01, `turns ${turns}: class share ${c / s.label.length}`);
    assert.ok(Math.max(...s.heading) > TWO_PI * (turns - 0.1), 'headings reach the last turn');
  }
  assert.throws(() => makeScenes(1, 4, new Generator(1), 0), /makeScenes: turns must be an integer ≥ 1, got 0/);
  assert.throws(() => makeScenes(1, 4, new Generator(1), 1.5), /turns/);
});

/** Score q̃·k̃ of one query and one key (one head) at headings ψq, ψk through an arm's encoding. */
function score(arm: Arm, q: Tensor, k: Tensor, ψq: number, ψk: number): number {
  const enc = armEncoding(arm, q.shape[3]!);
  const pos = (ψ: number): Tensor => (arm === 'drope' ? new Tensor(new Float64Array([0, 0, ψ]), [1, 1, 3]) : new Tensor(new Float64Array([ψ]), [1, 1]));
  const { q: qr, k: kr } = enc.encodeQK(q, k, pos(ψq), pos(ψk));
  return matmul(qr, kr.transpose(-1, -2)).data[0]!;
}

test('the arms\' encodings: DRoPE scores are 2π-periodic and relative; RoPE\'s are not periodic but its pair k=0 alone is; without k=0 that pair passes through', () => {
  const g = new Generator(3);
  const D = 16;
  const rand = (): Tensor => new Tensor(Float64Array.from({ length: D }, () => g.normal()), [1, 1, 1, D]);
  const only = (t: Tensor, k: number): Tensor => new Tensor(Float64Array.from(t.data, (v, c) => (c === k || c === k + D / 2 ? v : 0)), t.shape);
  for (let trial = 0; trial < 5; trial++) {
    const [q, k] = [rand(), rand()];
    const [a, b, off] = [g.random() * TWO_PI, g.random() * TWO_PI, g.random() * 10];
    const near = (x: number, y: number, what: string): void => assert.ok(Math.abs(x - y) < 1e-9 * (1 + Math.abs(x)), `${what}: ${x} vs ${y}`);
    near(score('drope', q, k, a, b + TWO_PI), score('drope', q, k, a, b), 'DRoPE 2π-periodic in the key heading');
    near(score('drope', q, k, a + off, b + off), score('drope', q, k, a, b), 'DRoPE relative');
    near(score('rope', q, k, a + off, b + off), score('rope', q, k, a, b), 'RoPE relative');
    assert.ok(Math.abs(score('rope', q, k, a, b + TWO_PI) - score('rope', q, k, a, b)) > 1e-3, 'RoPE on ψ is not 2π-periodic');
    near(score('rope', only(q, 0), only(k, 0), a, b + TWO_PI), score('rope', only(q, 0), only(k, 0), a, b), 'pair k=0 (θ = 1) is 2π-periodic');
    near(score('rope-no-k0', only(q, 0), only(k, 0), a, b), score('none', only(q, 0), only(k, 0), a, b), 'without k=0 that pair is not rotated');
    for (const kk of [1, 3]) near(score('rope-no-k0', only(q, kk), only(k, kk), a, b), score('rope', only(q, kk), only(k, kk), a, b), `pair ${kk} as in RoPE`);
    near(score('abs', q, k, a, b), score('none', q, k, 0, 0), 'abs / none: no rotation');
  }
  assert.ok(armEncoding('rope', D) instanceof RoPE);
});

test('through the whole model: DRoPE\'s logits are unchanged by ψ → ψ + 2π for one agent and by a global heading offset; RoPE\'s only by the offset', () => {
  const shape = { dim: 16, layers: 2, heads: 2, agents: 6 };
  const s = makeScenes(2, 6, new Generator(8));
  const logits = (arm: Arm, heading: Float64Array): Float64Array => Float64Array.from(new HeadingModel(shape, arm, 3).forward({ ...s, heading }).data);
  const diff = (a: Float64Array, b: Float64Array): number => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
  const turned = s.heading.map((ψ, i) => (i === 4 ? ψ + TWO_PI : ψ));
  const offset = s.heading.map((ψ) => ψ + 1.234);
  for (const arm of ['drope', 'rope', 'rope-no-k0', 'none'] as const) {
    const base = logits(arm, s.heading);
    assert.ok(diff(logits(arm, offset), base) < 1e-4, `${arm}: a global heading offset changes nothing`);
    const periodic = diff(logits(arm, turned), base);
    if (arm === 'drope' || arm === 'none') assert.ok(periodic < 1e-4, `${arm}: 2π-periodic (${periodic})`);
    else assert.ok(periodic > 1e-3, `${arm}: not 2π-periodic (${periodic})`);
  }
  const other = s.heading.map((ψ, i) => (i === 4 ? ψ + 1 : ψ));
  assert.ok(diff(logits('drope', other), logits('drope', s.heading)) > 1e-3, 'DRoPE does see the heading');
});

test('every arm starts from the same weights; only the abs arm sees (cos ψ, sin ψ) in its input', () => {
  const shape = { dim: 16, layers: 1, heads: 2, agents: 4 };
  const models = ARMS.map((arm) => new HeadingModel(shape, arm, 5));
  const flat = (m: HeadingModel): number[] => m.parameters().flatMap((p) => Array.from(p.data));
  for (const m of models.slice(1)) assert.equal(flat(m), flat(models[0]!));
  const s = makeScenes(2, 4, new Generator(1));
  const x = (arm: Arm): number[] => Array.from(models[ARMS.indexOf(arm)]!.embedScenes(s).data);
  assert.equal(x('rope'), x('none'));
  assert.equal(x('drope'), x('none'));
  assert.not.equal(x('abs'), x('none'));
  const shifted = { ...s, heading: s.heading.map((ψ) => ψ + 0.5) };
  assert.equal(x('none'), Array.from(models[ARMS.indexOf('none')]!.embedScenes(shifted).data), 'headings do not enter the input of the other arms');
});

test('pairNormShares: shares sum to 1 per head; pair k is channels k and k + D/2 of each head', () => {
  const shape = { dim: 16, layers: 2, heads: 2, agents: 4 };
  const model = new HeadingModel(shape, 'rope', 2);
  const scenes = [makeScenes(3, 4, new Generator(4))];
  for (const layer of pairNormShares(model, scenes)) {
    assert.is(layer.length, 2);
    for (const head of layer) {
      assert.is(head.length, 4);
      assert.ok(Math.abs(head.reduce((a, b) => a + b, 0) - 1) < 1e-9 && head.every((v) => v > 0 && v < 1));
    }
  }
  // keep only output channels 1 and 1 + 4 of head 1 (rows 8 + 1, 8 + 5) of wq and wk in layer 0: head 1's pair 1 holds everything
  const attn = model.blocks[0]!.attn as unknown as { wq: { weight: Tensor }; wk: { weight: Tensor } };
  for (const w of [attn.wq.weight, attn.wk.weight]) {
    const C = 16;
    for (let r = 0; r < C; r++) if (r !== 9 && r !== 13) w.data.fill(0, r * C, (r + 1) * C);
  }
  const shares = pairNormShares(model, scenes)[0]![1]!;
  assert.ok(Math.abs(shares[1]! - 1) < 1e-9, `head 1 shares ${shares.join(', ')}`);
});

/** A constructed run: final accuracies, a flat curve at the same values, and (rotary arms) pair shares. */
function fakeRun(arm: Arm, seed: number, all: number, wrap: number, k0 = 0.125): ArmRun {
  const acc = { all, wrap, rest: all };
  const shares = [[[k0, ...Array.from({ length: 7 }, () => (1 - k0) / 7)]]];
  return {
    arm, seed, accuracy: acc, finalLoss: 0.1,
    curve: [{ step: 0, all: 0.25, wrap: 0.25, rest: 0.25 }, { step: 10, ...acc }],
    pairShares: arm === 'rope' || arm === 'rope-no-k0' || arm === 'drope' ? { init: shares, final: shares } : null,
  };
}

function fakeRuns(values: Partial<Record<Arm, Array<[number, number]>>>, k0 = 0.125): ArmRun[] {
  const base: Record<Arm, Array<[number, number]>> = {
    rope: [[0.9, 0.85], [0.9, 0.86], [0.91, 0.87]], 'rope-no-k0': [[0.6, 0.58], [0.62, 0.6], [0.61, 0.59]],
    drope: [[0.99, 0.99], [0.98, 0.98], [0.99, 0.985]], abs: [[0.95, 0.95], [0.96, 0.96], [0.95, 0.95]], none: [[0.25, 0.25], [0.26, 0.24], [0.25, 0.25]],
    ...values,
  };
  return ARMS.flatMap((arm) => base[arm].map(([all, wrap], s) => fakeRun(arm, s + 1, all, wrap, k0)));
}

const FLAGS8: Flags = { ...DEFAULT_FLAGS, dim: 64, heads: 4 }; // 8 pairs per head

test('judge: reproduced when DRoPE beats RoPE-without-k0 on wrap in every seed by the margin; the control and the falsifier', () => {
  const clear = judge(FLAGS8, fakeRuns({}), 1);
  assert.is(clear.primary.verdict, 'reproduced');
  assert.ok(clear.control.passed);
  assert.equal(verdictOf(clear).verdict, 'reproduced');
  assert.not.ok(clear.falsifier.triggered);
  assert.ok(Math.abs(clear.k0Share.uniform - 1 / 8) < 1e-12);
  // a seed out of order → partly
  assert.is(judge(FLAGS8, fakeRuns({ 'rope-no-k0': [[0.6, 0.58], [0.62, 0.99], [0.61, 0.59]] }), 1).primary.verdict, 'partly');
  // the positive control fails in one seed → not reproduced, whatever the ordering
  const weak = judge(FLAGS8, fakeRuns({ drope: [[0.99, 0.99], [0.85, 0.98], [0.99, 0.985]] }), 1);
  assert.is(weak.primary.verdict, 'reproduced');
  assert.not.ok(weak.control.passed);
  assert.is(verdictOf(weak).verdict, 'not reproduced');
  assert.match(verdictOf(weak).reason, /positive control failed/);
  // (a′) equal to DRoPE on wrap → the falsifier triggers
  const equal = judge(FLAGS8, fakeRuns({ 'rope-no-k0': [[0.99, 0.99], [0.98, 0.98], [0.99, 0.985]] }), 1);
  assert.ok(equal.falsifier.triggered);
  assert.match(equal.falsifier.why, /RoPE-without-k0 is at or above DRoPE/);
  // (a′) far behind in every seed but with a wide seed range: the rule triggers, and its text says so, not "matches"
  const wide = judge(FLAGS8, fakeRuns({ 'rope-no-k0': [[0.46, 0.43], [0.87, 0.82], [0.45, 0.35]] }), 1);
  assert.ok(wide.falsifier.triggered);
  assert.match(wide.falsifier.why, /within the rule's reach of DRoPE[^:]*: 53\.3% vs 98\.5%, gap 45\.2 points ≤ [^=]*= 94\.0; behind DRoPE in 3 of 3 seeds/);
  // (a) keeps up with DRoPE at every step: triggers without k=0 concentration, not with it
  const keepsUp = { rope: [[0.99, 0.99], [0.98, 0.98], [0.99, 0.985]] as Array<[number, number]> };
  assert.ok(judge(FLAGS8, fakeRuns(keepsUp, 0.125), 1).falsifier.triggered);
  assert.not.ok(judge(FLAGS8, fakeRuns(keepsUp, 0.4), 1).falsifier.triggered);
});

test('reproduction --quick: a well-formed result in seconds (fields, finite numbers, progress, the SVG well-formed)', async () => {
  const seen: Array<[number, number]> = [];
  const r = await reproduction.run({ quick: true, progress: (done, total) => seen.push([done, total]) });
  assert.is(reproduction.name, 'drope-heading');
  assert.ok(['reproduced', 'partly', 'not reproduced'].includes(r.verdict));
  for (const field of [r.summary, r.reason, r.table, reproduction.paper, reproduction.claim, reproduction.setup, reproduction.criterion, reproduction.falsifier]) assert.ok(field.length > 20);
  for (const label of ['(a) RoPE on ψ', '(a′) RoPE on ψ, no k=0 pair', '(b) DRoPE', '(c) absolute', '(d) none']) assert.ok(r.table.includes(`| ${label}`), label);
  assert.not.match(r.summary, /NaN/);
  assertWellFormedSvg(r.svg!);
  const total = ARMS.length * QUICK_FLAGS.seeds * QUICK_FLAGS.steps;
  assert.equal(seen.at(-1), [total, total], 'progress ends at the total');
  const data = r.data as ReturnType<typeof judge>;
  assert.is(data.runs.length, ARMS.length * QUICK_FLAGS.seeds);
  for (const run of data.runs) {
    for (const v of [run.accuracy.all, run.accuracy.rest, run.finalLoss]) assert.ok(Number.isFinite(v));
    assert.is(run.curve.length, 1 + QUICK_FLAGS.steps, 'init + every step (steps < 10)');
    assert.is(run.pairShares !== null, run.arm === 'rope' || run.arm === 'rope-no-k0' || run.arm === 'drope');
  }
  for (const v of [...data.k0Share.init, ...data.k0Share.final]) assert.ok(v > 0 && v < 1);
  assert.ok(JSON.parse(JSON.stringify(r.data)) !== null, 'the data serialises');
  assertWellFormedSvg(chart(data));
});

test('flags: defaults, --quick, overrides, the head-dim and agents rules, --help, errors', () => {
  assert.equal(parseFlags([]), DEFAULT_FLAGS);
  assert.equal(parseFlags(['--quick']), QUICK_FLAGS);
  assert.equal(parseFlags(['--quick', '--seeds', '4']), { ...QUICK_FLAGS, seeds: 4 });
  assert.equal(parseFlags(['--json', '--quick']), { ...QUICK_FLAGS, json: true });
  assert.equal(parseFlags(['--steps', '10', '--agents', '8', '--json']), { ...DEFAULT_FLAGS, steps: 10, agents: 8, json: true });
  assert.is(parseFlags(['--help']), 'help');
  assert.is(checkFlags(DEFAULT_FLAGS), null);
  assert.match(checkFlags({ ...DEFAULT_FLAGS, dim: 12, heads: 4 }) ?? '', /even/);
  assert.match(checkFlags({ ...DEFAULT_FLAGS, agents: 5 }) ?? '', /even/);
  assert.throws(() => parseFlags(['--seeds', '0']), /integer ≥ 1/);
  assert.throws(() => parseFlags(['--bogus', '1']), /unknown flag/);
  assert.equal(parseFlags(['--turns', '8', '--arms', 'drope,rope,rope-no-k0']), { ...DEFAULT_FLAGS, turns: 8, arms: ['rope', 'rope-no-k0', 'drope'] }, 'arms in the table\'s order');
  assert.throws(() => parseFlags(['--turns', '0']), /integer ≥ 1/);
  assert.throws(() => parseFlags(['--arms', 'rope,nope']), /--arms takes names among rope, rope-no-k0, drope, abs, none, got 'nope'/);
  assert.throws(() => parseFlags(['--arms', 'rope,rope']), /twice/);
  assert.match(checkFlags({ ...DEFAULT_FLAGS, arms: ['rope', 'drope', 'abs'] }) ?? '', /--arms must include rope, rope-no-k0 and drope .* missing rope-no-k0/);
});

test.run();
