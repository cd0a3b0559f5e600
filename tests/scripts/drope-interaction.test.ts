/**
 * scripts/experiments/drope-interaction.ts (DRoPE toy protocol B, interaction modelling): the scene generator and its
 * label (a hand-made scene gives the expected count, including the oncoming window's wrap at ±π; the label is invariant
 * to rotating and translating the whole scene; it equals an independent computation; headings in [0, 2π); the label
 * shares), the RPE layer (equal to a loop over pairs, float64 gradcheck of the composed backward, O(N²) pairwise
 * features in the agent's frame), the arms (the same shared init, what each sees, the invariances each model has:
 * RPE to rigid motions, the rotary arms to translations), the analytic memory, the pre-registered judgement on
 * constructed runs, the --quick reproduction and the flags. Importing the script must not run its main.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator, Tensor, gradcheck } from '../../core/index.js';
import { Block, MultiHeadAttention } from '../../nn/index.js';
import {
  ARMS, ARM_FEATURES, CLASSES, CONTROL_THRESHOLD, DEFAULT_FLAGS, InteractionModel, ONCOMING, QUICK_FLAGS, RADIUS, RPEAttention, attentionMemory,
  chart, checkFlags, interactionCount, interacts, judge, labelScenes, makeInteractionScenes, pairFeatures, parseFlags, reproduction, verdictOf,
  type Arm, type ArmRun, type InteractionScenes,
} from '../../scripts/experiments/drope-interaction.js';
import { fcParams } from '../helpers/fc.js';
import { assertWellFormedSvg } from '../helpers/svg.js';

const TWO_PI = 2 * Math.PI;

/** One scene from agents [x, y, ψ]. */
function scene(agents: ReadonlyArray<readonly [number, number, number]>): InteractionScenes {
  const N = agents.length;
  const x = Float64Array.from(agents, (a) => a[0]);
  const y = Float64Array.from(agents, (a) => a[1]);
  const heading = Float64Array.from(agents, (a) => a[2]);
  return { B: 1, N, x, y, heading, label: labelScenes(1, N, x, y, heading) };
}

/** The whole scene (every scene of s) rotated by φ about the origin and shifted by (tx, ty); labels recomputed. */
function moved(s: InteractionScenes, φ: number, tx: number, ty: number): InteractionScenes {
  const [c, sn] = [Math.cos(φ), Math.sin(φ)];
  const x = s.x.map((v, i) => c * v - sn * s.y[i]! + tx);
  const y = s.y.map((v, i) => sn * s.x[i]! + c * v + ty);
  const heading = s.heading.map((ψ) => ψ + φ);
  return { ...s, x, y, heading, label: labelScenes(s.B, s.N, x, y, heading) };
}

// agent 0 at the origin heading +x; the others as commented (Δψ = heading − 0)
const HAND: Array<readonly [number, number, number]> = [
  [0, 0, 0],
  [10, 0, Math.PI], //             counted: ahead, 10 m, exactly oncoming
  [10, 2, Math.PI / 2], //         ahead and near, but crossing (not oncoming)
  [-10, 0, Math.PI], //            oncoming and near, but behind
  [25, 0, Math.PI], //             ahead and oncoming, but 25 m away
  [5, 5, Math.PI + 0.5], //        counted: Δψ = π + 0.5 wraps to −π + 0.5, circular distance 0.5 from π
  [5, -5, Math.PI - 0.5], //       counted: distance 0.5 from π on the other side
  [3, 19, Math.PI], //             counted: in front (x = 3 > 0), |p| = 19.2 < 20
  [0.5, 0, Math.PI + 0.7], //      ahead and near, oncoming window missed by 0.1
];

test('interacts / interactionCount: a hand-made scene gives the expected count, the same after moving the whole scene', () => {
  const expected = [true, false, false, false, true, true, true, false];
  for (let j = 1; j < HAND.length; j++) {
    const [x, y, ψ] = HAND[j]!;
    assert.is(interacts(0, 0, 0, x, y, ψ), expected[j - 1], `agent ${j}`);
  }
  const s = scene(HAND);
  assert.is(interactionCount(s.x, s.y, s.heading, 0), 4);
  assert.is(s.label[0], 3, '4 interacting agents → class 3+');
  // agent 1 (at (10, 0) heading π) has agent 0 at x = +10 in its own frame: in front, oncoming, near
  assert.ok(interacts(10, 0, Math.PI, 0, 0, 0));
  for (const [φ, tx, ty] of [[1, 30, -40], [Math.PI, -7, 3], [-2.5, 0, 0], [4.0, 100, 100]] as const) {
    const m = moved(s, φ, tx, ty);
    assert.is(interactionCount(m.x, m.y, m.heading, 0), 4, `moved by φ=${φ}, t=(${tx}, ${ty})`);
    assert.equal(Array.from(m.label), Array.from(s.label));
  }
  // each condition alone matters: turn agent 1 away, move it behind, move it out of range
  assert.not.ok(interacts(0, 0, 0, 10, 0, Math.PI - ONCOMING - 0.01));
  assert.not.ok(interacts(0, 0, 0, -0.01, 5, Math.PI));
  assert.not.ok(interacts(0, 0, 0, RADIUS, 0, Math.PI));
  assert.ok(interacts(0, 0, 0, RADIUS - 0.01, 0, Math.PI));
});

/** Independent label: displacement in agent i's frame by atan2, the heading difference by atan2(sin, cos). */
function independentCount(s: InteractionScenes, b: number, i: number): number {
  const N = s.N;
  let n = 0;
  for (let j = 0; j < N; j++) {
    if (j === i) continue;
    const dx = s.x[b * N + j]! - s.x[b * N + i]!;
    const dy = s.y[b * N + j]! - s.y[b * N + i]!;
    const bearing = Math.atan2(dy, dx) - s.heading[b * N + i]!;
    const ahead = Math.cos(Math.atan2(Math.sin(bearing), Math.cos(bearing))) > 0;
    const d = s.heading[b * N + j]! - s.heading[b * N + i]!;
    const fromPi = Math.PI - Math.abs(Math.atan2(Math.sin(d), Math.cos(d))); // circular distance of d from π
    if (Math.hypot(dx, dy) < RADIUS && ahead && fromPi < ONCOMING) n++;
  }
  return Math.min(3, n);
}

test('makeInteractionScenes (property): headings in [0, 2π), the label equals an independent count, and is invariant to rotating and translating the whole scene', () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 2 ** 30 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 20 }),
    fc.integer({ min: -6283, max: 6283 }), fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: -1000, max: 1000 }),
    (seed, B, N, φk, txk, tyk) => {
      const s = makeInteractionScenes(B, N, new Generator(seed));
      for (let b = 0; b < B; b++) {
        for (let i = 0; i < N; i++) {
          const ψ = s.heading[b * N + i]!;
          assert.ok(ψ >= 0 && ψ < TWO_PI, `heading ${ψ}`);
          assert.is(s.label[b * N + i], independentCount(s, b, i), `scene ${b} agent ${i}`);
        }
      }
      const m = moved(s, φk / 1000, txk / 10, tyk / 10);
      assert.equal(Array.from(m.label), Array.from(s.label));
    },
  ), fcParams(80));
});

test('makeInteractionScenes: label shares (0, 1, 2, 3+) ≈ 45 / 31 / 16 / 8 %, translations spread, a different draw per seed', () => {
  const s = makeInteractionScenes(3000, 16, new Generator(11));
  const shares = [0, 1, 2, 3].map((c) => s.label.filter((l) => l === c).length / s.label.length);
  const expected = [0.455, 0.315, 0.155, 0.075]; // from an independent Monte Carlo of the same generator
  shares.forEach((v, c) => assert.ok(Math.abs(v - expected[c]!) < 0.02, `class ${c}: share ${v.toFixed(3)}, expected ≈ ${expected[c]}`));
  // the scene centres spread over the ±50 m shift
  const cx = Array.from({ length: 3000 }, (_, b) => s.x.subarray(16 * b, 16 * b + 16).reduce((a, v) => a + v, 0) / 16);
  assert.ok(Math.max(...cx) > 40 && Math.min(...cx) < -40, `scene centres ${Math.min(...cx)}…${Math.max(...cx)}`);
  assert.not.equal(Array.from(makeInteractionScenes(1, 16, new Generator(1)).x), Array.from(makeInteractionScenes(1, 16, new Generator(2)).x));
  assert.throws(() => makeInteractionScenes(0, 16, new Generator(1)), /B must be/);
});

test('pairFeatures: the displacement in agent i\'s frame / 20 m and (cos, sin) of ψ_j − ψ_i; the diagonal is (0, 0, 1, 0)', () => {
  const s = scene([[1, 1, Math.PI / 2], [1, 21, 0], [-19, 1, Math.PI]]);
  const r = pairFeatures(s, 'float64');
  assert.equal(r.shape, [1, 3, 3, 4]);
  const at = (i: number, j: number): number[] => Array.from(r.data.slice((i * 3 + j) * 4, (i * 3 + j) * 4 + 4));
  const near = (a: number[], b: number[]): void => assert.ok(a.every((v, k) => Math.abs(v - b[k]!) < 1e-12), `${a} vs ${b}`);
  near(at(0, 1), [1, 0, 0, -1]); //  agent 0 faces +y: agent 1, 20 m up, is straight ahead; Δψ = −π/2
  near(at(0, 2), [0, 1, 0, 1]); //   agent 2, 20 m to −x, is on agent 0's left; Δψ = π/2
  near(at(1, 0), [0, -1, 0, 1]); //  agent 1 faces +x: agent 0, 20 m along −y, is on its right; Δψ = π/2
  for (let i = 0; i < 3; i++) near(at(i, i), [0, 0, 1, 0]);
});

test('RPEAttention equals a loop over pairs: s = q·k/√D + b, a = softmax, o = Σ a (v + u), then wo (float64)', () => {
  const g = new Generator(21);
  const [dim, H, N, hidden] = [8, 2, 5, 6];
  const D = dim / H;
  const block = new Block(dim, { numHeads: H, generator: g, dtype: 'float64' });
  const attn = block.attn as MultiHeadAttention; // Block builds a MultiHeadAttention
  const layer = new RPEAttention(attn, hidden, g, 'float64');
  const s = makeInteractionScenes(2, N, g);
  const r = pairFeatures(s, 'float64');
  const x = new Tensor(Float64Array.from({ length: 2 * N * dim }, () => g.normal()), [2, N, dim]);
  const out = layer.forward(x, r).data;
  const lin = (w: Tensor, b: Tensor | null, v: ArrayLike<number>): number[] =>
    Array.from({ length: w.shape[0]! }, (_, o) => Array.from(v).reduce((acc, vi, i) => acc + w.data[o * w.shape[1]! + i]! * vi, b === null ? 0 : b.data[o]!));
  const gelu = (u: number): number => 0.5 * u * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (u + 0.044715 * u ** 3)));
  for (let b = 0; b < 2; b++) {
    const row = (i: number): number[] => Array.from(x.data.slice((b * N + i) * dim, (b * N + i + 1) * dim));
    const [q, k, v] = [attn.wq, attn.wk, attn.wv].map((w) => Array.from({ length: N }, (_, i) => lin(w.weight, w.bias, row(i))));
    for (let i = 0; i < N; i++) {
      const o = new Array<number>(dim).fill(0);
      for (let h = 0; h < H; h++) {
        const pair = Array.from({ length: N }, (_, j) => {
          const feat = Array.from(r.data.slice(((b * N + i) * N + j) * 4, ((b * N + i) * N + j) * 4 + 4));
          return lin(layer.fc2.weight, layer.fc2.bias, lin(layer.fc1.weight, layer.fc1.bias, feat).map(gelu));
        });
        const scores = Array.from({ length: N }, (_, j) => {
          let dot = 0;
          for (let c = 0; c < D; c++) dot += q[i]![h * D + c]! * k[j]![h * D + c]!;
          return dot / Math.sqrt(D) + pair[j]![h]!;
        });
        const m = Math.max(...scores);
        const e = scores.map((sc) => Math.exp(sc - m));
        const z = e.reduce((a2, c2) => a2 + c2, 0);
        for (let j = 0; j < N; j++) {
          for (let c = 0; c < D; c++) o[h * D + c]! += (e[j]! / z) * (v[j]![h * D + c]! + pair[j]![H + h * D + c]!);
        }
      }
      const expected = lin(attn.wo.weight, attn.wo.bias, o);
      for (let c = 0; c < dim; c++) {
        const got = out[(b * N + i) * dim + c]!;
        assert.ok(Math.abs(got - expected[c]!) < 1e-10, `scene ${b} agent ${i} channel ${c}: ${got} vs ${expected[c]}`);
      }
    }
  }
});

test('RPEAttention: float64 gradcheck of the composed backward (input, pair features, parameters)', () => {
  const g = new Generator(5);
  const block = new Block(8, { numHeads: 2, generator: g, dtype: 'float64' });
  const layer = new RPEAttention(block.attn as MultiHeadAttention, 4, g, 'float64');
  const s = makeInteractionScenes(1, 4, g);
  const r0 = pairFeatures(s, 'float64');
  const r = new Tensor(Float64Array.from(r0.data), r0.shape, true);
  const x = new Tensor(Float64Array.from({ length: 4 * 8 }, () => g.normal()), [1, 4, 8], true);
  gradcheck((xi, ri) => layer.forward(xi!, ri!).square().sum(), [x, r], { atol: 1e-6, rtol: 1e-5 });
  gradcheck(() => layer.forward(x.detach(), r.detach()).square().sum(), layer.parameters(), { atol: 1e-6, rtol: 1e-5 });
});

const SHAPE = { dim: 16, layers: 2, heads: 2, base: 100, rpeHidden: 8 };

test('every arm starts from the same shared weights; RPE adds its pair MLPs; each arm sees only its features', () => {
  const models = ARMS.map((arm) => new InteractionModel(SHAPE, arm, 7));
  const shared = (m: InteractionModel): number[] => [m.features, ...m.blocks, m.norm, m.head].flatMap((mod) => mod.parameters().flatMap((p) => Array.from(p.data)));
  for (const m of models.slice(1)) assert.equal(shared(m), shared(models[0]!));
  const rpe = models[ARMS.indexOf('rpe')]!;
  assert.is(rpe.rpe.length, 2);
  assert.is(rpe.parameters().length, models[0]!.parameters().length + 2 * 4, 'two Linear layers with bias per block');
  const s = makeInteractionScenes(2, 5, new Generator(3));
  for (const [a, arm] of ARMS.entries()) {
    const f = models[a]!.tokenFeatures(s).data;
    for (let i = 0; i < s.B * s.N; i++) {
      const full = [1, s.x[i]! / 50, s.y[i]! / 50, Math.cos(s.heading[i]!), Math.sin(s.heading[i]!)];
      for (let c = 0; c < 5; c++) assert.ok(Math.abs(f[i * 5 + c]! - (ARM_FEATURES[arm][c] ? full[c]! : 0)) < 1e-6, `${arm} feature ${c}`);
    }
  }
  assert.equal(ARM_FEATURES.scene, [true, true, true, true, true]);
  assert.equal(ARM_FEATURES.drope, ARM_FEATURES.rope2d);
  assert.equal(ARM_FEATURES.rpe, [true, false, false, false, false]);
});

test('invariances through the whole model: RPE to rotating and translating the scene; the rotary arms to translating it (not rotating); scene-centric to neither', () => {
  const s = makeInteractionScenes(2, 6, new Generator(9));
  const logits = (arm: Arm, sc: InteractionScenes): Float64Array => Float64Array.from(new InteractionModel(SHAPE, arm, 4).forward(sc).data);
  const diff = (a: Float64Array, b: Float64Array): number => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
  const rotated = moved(s, 1.1, 12, -30);
  const shifted = moved(s, 0, 12, -30);
  for (const arm of ARMS) {
    const base = logits(arm, s);
    const dRot = diff(logits(arm, rotated), base);
    const dShift = diff(logits(arm, shifted), base);
    if (arm === 'rpe') assert.ok(dRot < 1e-4, `rpe: rigid motion changes the logits by ${dRot}`);
    else assert.ok(dRot > 1e-3, `${arm}: rotation must be visible (${dRot})`);
    if (arm === 'scene') assert.ok(dShift > 1e-3, `scene: translation must be visible (${dShift})`);
    else assert.ok(dShift < 1e-4, `${arm}: translation changes the logits by ${dShift}`);
  }
  // DRoPE-RoPE and RoPE-2D differ only in the heading pairs: a common heading offset ψ → ψ + 2π changes neither
  const turned = { ...s, heading: s.heading.map((ψ) => ψ + TWO_PI) };
  for (const arm of ['drope', 'rope2d'] as const) assert.ok(diff(logits(arm, turned), logits(arm, s)) < 1e-4, `${arm}: 2π-periodic in ψ`);
  assert.ok(diff(logits('drope', s), logits('rope2d', s)) > 1e-3, 'the heading pairs make a difference');
});

test('attentionMemory: rotary O(N·d), RPE O(N²·d_rpe), scene 0; the ratio grows linearly with N', () => {
  const shape = { dim: 64, heads: 4, rpeHidden: 32 };
  assert.equal(attentionMemory('rpe', 16, shape), { extra: 256 * (4 + 64 + 4 * 17), common: 3 * 16 * 64 + 4 * 256, order: 'O(N²·d_rpe)' });
  assert.is(attentionMemory('drope', 16, shape).extra, 16 * 8 + 2 * 16 * 64);
  assert.is(attentionMemory('rope2d', 32, shape).extra, 2 * attentionMemory('rope2d', 16, shape).extra);
  assert.is(attentionMemory('scene', 16, shape).extra, 0);
  const ratio = (N: number): number => attentionMemory('rpe', N, shape).extra / attentionMemory('drope', N, shape).extra;
  assert.ok(Math.abs(ratio(256) / ratio(16) - 16) < 1e-9);
});

/** Constructed runs with the given final accuracies per arm (one per seed). */
function fakeRuns(values: Partial<Record<Arm, number[]>>): ArmRun[] {
  const base: Record<Arm, number[]> = { scene: [0.6, 0.62, 0.61], rope2d: [0.8, 0.81, 0.8], drope: [0.85, 0.86, 0.85], rpe: [0.9, 0.91, 0.9], ...values };
  return ARMS.flatMap((arm) => base[arm].map((accuracy, s) => ({
    arm, seed: s + 1, accuracy, finalLoss: 0.3, seconds: 1, curve: [{ step: 0, accuracy: 0.3 }, { step: 10, accuracy }],
  })));
}

const LABELS = [0, 0, 0, 1, 1, 2, 3, 0];

test('judge: the verdict is DRoPE-RoPE > scene-centric; the control, closeness to RPE and the falsifier', () => {
  const clear = judge(DEFAULT_FLAGS, fakeRuns({}), LABELS, 1);
  assert.is(clear.primary.verdict, 'reproduced');
  assert.is(verdictOf(clear).verdict, 'reproduced');
  assert.ok(clear.control.passed);
  assert.ok(Math.abs(clear.closeness.gap - 0.05) < 1e-9);
  assert.not.ok(clear.closeness.isClose, '5 points is not close');
  assert.not.ok(clear.falsifier.triggered);
  assert.is(clear.majority, 0.5);
  assert.equal(clear.labelShares, [0.5, 0.25, 0.125, 0.125]);
  assert.ok(judge(DEFAULT_FLAGS, fakeRuns({ rpe: [0.87, 0.88, 0.87] }), LABELS, 1).closeness.isClose);
  assert.is(clear.memory.rpe.order, 'O(N²·d_rpe)');
  assert.ok(clear.memory.rpe.extraAt128 > 50 * clear.memory.drope.extraAt128);
  // one seed out of order → partly
  assert.is(judge(DEFAULT_FLAGS, fakeRuns({ scene: [0.6, 0.9, 0.61] }), LABELS, 1).primary.verdict, 'partly');
  // the control fails in one seed → not reproduced, whatever the ordering
  const weak = judge(DEFAULT_FLAGS, fakeRuns({ rpe: [0.9, CONTROL_THRESHOLD - 0.01, 0.9] }), LABELS, 1);
  assert.is(weak.primary.verdict, 'reproduced');
  assert.is(verdictOf(weak).verdict, 'not reproduced');
  assert.match(verdictOf(weak).reason, /positive control failed/);
  assert.ok(judge(DEFAULT_FLAGS, fakeRuns({ rpe: [CONTROL_THRESHOLD, CONTROL_THRESHOLD, CONTROL_THRESHOLD] }), LABELS, 1).control.passed, 'the threshold itself passes');
  // DRoPE-RoPE equal to scene-centric → the falsifier, and not reproduced
  const equal = judge(DEFAULT_FLAGS, fakeRuns({ drope: [0.6, 0.62, 0.61] }), LABELS, 1);
  assert.ok(equal.falsifier.triggered);
  assert.is(equal.primary.verdict, 'not reproduced');
  assert.is(judge(DEFAULT_FLAGS, fakeRuns({}), LABELS, 1).dropeVsRope2d.verdict, 'reproduced');
});

test('reproduction --quick: a well-formed result in seconds (fields, finite numbers, progress, the SVG well-formed)', async () => {
  const seen: Array<[number, number]> = [];
  const r = await reproduction.run({ quick: true, progress: (done, total) => seen.push([done, total]) });
  assert.is(reproduction.name, 'drope-interaction');
  assert.ok(['reproduced', 'partly', 'not reproduced'].includes(r.verdict));
  for (const field of [r.summary, r.reason, r.table, reproduction.paper, reproduction.claim, reproduction.setup, reproduction.criterion, reproduction.falsifier]) assert.ok(field.length > 20);
  for (const label of ['scene-centric', 'RoPE-2D(x, y)', 'DRoPE-RoPE', 'RPE']) assert.ok(r.table.includes(`| ${label}`), label);
  assert.not.match(r.summary, /NaN/);
  assertWellFormedSvg(r.svg!);
  const total = ARMS.length * QUICK_FLAGS.seeds * QUICK_FLAGS.steps;
  assert.equal(seen.at(-1), [total, total], 'progress ends at the total');
  const data = r.data as ReturnType<typeof judge>;
  assert.is(data.runs.length, ARMS.length * QUICK_FLAGS.seeds);
  for (const run of data.runs) {
    for (const v of [run.accuracy, run.finalLoss, ...run.curve.map((c) => c.accuracy)]) assert.ok(Number.isFinite(v));
    assert.is(run.curve.length, 1 + QUICK_FLAGS.steps, 'init + every step (steps < 10)');
  }
  assert.ok(Math.abs(data.labelShares.reduce((a, b) => a + b, 0) - 1) < 1e-12 && data.labelShares.length === CLASSES);
  assert.ok(JSON.parse(JSON.stringify(r.data)) !== null, 'the data serialises');
  assertWellFormedSvg(chart(data));
});

test('flags: defaults, --quick, overrides, the head-dim rule, --help, errors', () => {
  assert.equal(parseFlags([]), DEFAULT_FLAGS);
  assert.equal(parseFlags(['--quick']), QUICK_FLAGS);
  assert.equal(parseFlags(['--quick', '--seeds', '4']), { ...QUICK_FLAGS, seeds: 4 });
  assert.equal(parseFlags(['--json', '--quick']), { ...QUICK_FLAGS, json: true });
  assert.equal(parseFlags(['--steps', '10', '--rpe-hidden', '16', '--base', '50']), { ...DEFAULT_FLAGS, steps: 10, rpeHidden: 16, base: 50 });
  assert.is(parseFlags(['--help']), 'help');
  assert.is(checkFlags(DEFAULT_FLAGS), null);
  assert.is(checkFlags(QUICK_FLAGS), null);
  assert.match(checkFlags({ ...DEFAULT_FLAGS, dim: 24, heads: 4 }) ?? '', /multiple of 4/);
  assert.throws(() => parseFlags(['--seeds', '0']), /integer ≥ 1/);
  assert.throws(() => parseFlags(['--base', '1']), /--base/);
  assert.throws(() => parseFlags(['--bogus', '1']), /unknown flag/);
});

test.run();
