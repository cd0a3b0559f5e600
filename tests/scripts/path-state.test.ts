/**
 * scripts/experiments/path-state.ts (issue 17, PaTH): the flip-flop generator (first w, last r, the read target is the
 * latest written bit, instruction frequencies follow p), the shell-game generator (the label is the ball's cup,
 * recomputed by moving the cups' contents), that one hand-set PaTH layer solves the shell game to n = 128 through
 * all three PaTH forms (the transposition tokens are Householder reflections, as the protocol relies on), the
 * pre-registered judgement (orderings, controls, how the two protocols combine), the --quick run, and the flags.
 * The spec's implementation check (naive recurrence vs UT form) is tests/nn/path-attention.test.ts ('direct ==
 * blockwise … == recurrent').
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, Tensor, noGrad } from '../../core/index.js';
import { pathAttention, pathAttentionDirect, pathAttentionRecurrent } from '../../nn/path-attention.js';
import {
  CUPS, FF, FULL, IGNORE, QUICK, SHELL_ARMS, SHELL_VOCAB, TRANSPOSITIONS, flipFlopBatch, judge, parseFlags, reproduction, shellBatch, windowMean,
  type FlipFlopRun, type Results, type ShellRun,
} from '../../scripts/experiments/path-state.js';
import { assertWellFormedSvg } from '../helpers/svg.js';

test('flipFlopBatch: w first, r last, instruction/bit alternation, every read scored with the latest written bit', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 40 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 1e6 }), (pairs, pc, B, seed) => {
      const p = pc / 100;
      const batch = flipFlopBatch(B, pairs, p, new Generator(seed));
      const T = 2 * pairs;
      assert.equal(batch.ids.shape, [B, T]);
      let reads = 0;
      for (let b = 0; b < B; b++) {
        const row = Array.from(batch.ids.data.subarray(b * T, (b + 1) * T));
        assert.is(row[0], FF.W);
        assert.is(row[T - 2], FF.R);
        for (let t = 0; t < T; t++) {
          if (t % 2 === 0) assert.ok(row[t] === FF.W || row[t] === FF.I || row[t] === FF.R, 'instruction slot');
          else assert.ok(row[t] === FF.ZERO || row[t] === FF.ONE, 'bit slot');
          const target = batch.targets[b * T + t]!;
          if (row[t] !== FF.R || t % 2 === 1) {
            assert.is(target, IGNORE, 'only reads are scored');
            continue;
          }
          let k = t - 2;
          while (row[k] !== FF.W) k -= 2; // the latest write, found by scanning back
          assert.is(target, row[k + 1], `read at ${t} recalls the write at ${k}`);
          assert.is(row[t + 1], target, 'the bit after r is the target');
          reads++;
        }
      }
      assert.is(batch.reads, reads);
    }),
    { numRuns: 60 },
  );
});

test('flipFlopBatch: the middle instructions are i with probability p and w / r with (1 − p)/2 each', () => {
  for (const p of [0.1, 0.8, 0.98]) {
    const batch = flipFlopBatch(200, 100, p, new Generator(3));
    const counts = [0, 0, 0, 0, 0];
    for (let b = 0; b < 200; b++) for (let k = 1; k < 99; k++) counts[batch.ids.data[b * 200 + 2 * k]!]! += 1;
    const n = 200 * 98;
    assert.ok(Math.abs(counts[FF.I]! / n - p) < 0.01, `i frequency ${counts[FF.I]! / n} vs ${p}`);
    assert.ok(Math.abs(counts[FF.W]! / n - (1 - p) / 2) < 0.01, `w frequency ${counts[FF.W]! / n}`);
    assert.ok(Math.abs(counts[FF.R]! / n - (1 - p) / 2) < 0.01, `r frequency ${counts[FF.R]! / n}`);
  }
});

/** The ball's cup after the moves so far, by moving the cups' contents (an independent reading of the rules). */
function ballByContents(ids: ArrayLike<number>): number[] {
  const contents: string[] = Array.from({ length: CUPS }, (_, c) => (c === ids[0] ? 'ball' : 'empty'));
  const out: number[] = [];
  for (let n = 1; n < ids.length; n++) {
    const [a, b] = TRANSPOSITIONS[ids[n]! - CUPS]!;
    [contents[a], contents[b]] = [contents[b]!, contents[a]!];
    out.push(contents.indexOf('ball'));
  }
  return out;
}

test('shellBatch: the label at position n is the ball\'s cup after n transpositions; tokens in range; position 0 unscored', () => {
  assert.is(TRANSPOSITIONS.length, 10);
  assert.is(new Set(TRANSPOSITIONS.map(([a, b]) => `${a}${b}`)).size, 10);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 1e6 }), (moves, B, seed) => {
      const batch = shellBatch(B, moves, new Generator(seed));
      const T = moves + 1;
      for (let b = 0; b < B; b++) {
        const ids = Array.from(batch.ids.data.subarray(b * T, (b + 1) * T));
        assert.ok(ids[0]! >= 0 && ids[0]! < CUPS && ids.slice(1).every((t) => t >= CUPS && t < SHELL_VOCAB));
        assert.is(batch.targets[b * T], IGNORE);
        assert.equal(Array.from(batch.targets.subarray(b * T + 1, (b + 1) * T)), ballByContents(ids));
      }
    }),
    { numRuns: 60 },
  );
});

test('one hand-set PaTH layer solves the shell game to n = 128: transposition (a b) is H = I − 2 w wᵀ, w = (e_a − e_b)/√2 (direct, blockwise and recurrent forms)', () => {
  // k_0 = e_start, every other key 0; query head m asks "is the ball in cup m?" with q = 40 e_m; v_0 = 1, other v = 0.
  // The logit of key 0 at query i is 40 (H_i ⋯ H_1 e_start)_m = 40 [ball at m]: head m's output is ≈ 1 iff so.
  const moves = 128;
  const T = moves + 1;
  const batch = shellBatch(2, moves, new Generator(11));
  const d = CUPS;
  const mk = (heads: number, f: (b: number, h: number, t: number, c: number) => number, dv = d): Tensor =>
    new Tensor(Float64Array.from({ length: 2 * heads * T * dv }, (_, e) => f(Math.floor(e / (heads * T * dv)), Math.floor(e / (T * dv)) % heads, Math.floor(e / dv) % T, e % dv)), [2, heads, T, dv]);
  const id = (b: number, t: number): number => batch.ids.data[b * T + t]!;
  const q = mk(CUPS, (_b, h, _t, c) => (c === h ? 40 : 0));
  const k = mk(1, (b, _h, t, c) => (t === 0 && c === id(b, 0) ? 1 : 0));
  const v = mk(1, (_b, _h, t) => (t === 0 ? 1 : 0), 1);
  const w = mk(1, (b, _h, t, c) => {
    if (t === 0) return c === 0 ? 1 : 0;
    const [x, y] = TRANSPOSITIONS[id(b, t) - CUPS]!;
    return c === x ? Math.SQRT1_2 : c === y ? -Math.SQRT1_2 : 0;
  });
  const beta = new Tensor(Float64Array.from({ length: 2 * T }, (_, e) => (e % T === 0 ? 0 : 2)), [2, 1, T]);
  const forms = [
    ['blockwise BT=32', () => pathAttention(q, k, v, w, beta, { chunkSize: 32, scale: 1 })],
    ['recurrent', () => pathAttentionRecurrent(q, k, v, w, beta, { scale: 1 })],
    ['direct', () => pathAttentionDirect(q, k, v, w, beta, { scale: 1 })],
  ] as const;
  for (const [name, f] of forms) {
    const out = noGrad(f); // [2, 5, T, 1]
    for (let b = 0; b < 2; b++) {
      for (let t = 1; t < T; t++) {
        const scores = Array.from({ length: CUPS }, (_, m) => out.data[(b * CUPS + m) * T + t]!);
        const guess = scores.indexOf(Math.max(...scores));
        assert.is(guess, batch.targets[b * T + t], `${name}: game ${b}, move ${t}`);
      }
    }
  }
});

test('windowMean: the mean over positions n − window + 1 … n, clipped at position 1', () => {
  const byPosition = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
  assert.ok(Math.abs(windowMean(byPosition, 6, 3) - 0.5) < 1e-12);
  assert.ok(Math.abs(windowMean(byPosition, 2, 4) - 0.15) < 1e-12);
  assert.ok(Math.abs(windowMean(byPosition, 1, 1) - 0.1) < 1e-12);
});

/** Results with given per-seed numbers: flip-flop ID/sparse/dense errors per arm, shell accuracy at n ≤ 4, 32 and 128 per arm. */
function fakeResults(ff: Record<string, Array<[number, number, number]>>, shell: Record<string, Array<[number, number, number]>>): Results {
  const s = { ...FULL, shellTrain: 32, shellTest: 128, window: 8 };
  const flipFlop: FlipFlopRun[] = Object.entries(ff).flatMap(([arm, seeds]) => seeds.map(([ID, sparse, dense], i) => ({
    arm: arm as FlipFlopRun['arm'], seed: i + 1, errors: { ID, sparse, dense }, sequenceErrors: { ID, sparse, dense }, curve: [], seconds: 0,
  })));
  const sh: ShellRun[] = Object.entries(shell).flatMap(([arm, seeds]) => seeds.map(([short, at32, at128], i) => ({
    arm: arm as ShellRun['arm'], seed: i + 1, at: { 32: at32, 64: (at32 + at128) / 2, 128: at128 }, seconds: 0,
    byPosition: Array.from({ length: 128 }, (_, m) => (m < 4 ? short : m < 32 ? at32 : at128)),
  })));
  return { settings: s, flipFlop, shell: sh, seconds: 0 };
}

const goodFF = { PaTH: [[0, 0, 0.001], [0, 0.001, 0], [0.001, 0, 0]], RoPE: [[0.01, 0.2, 0.3], [0.02, 0.25, 0.3], [0.01, 0.22, 0.28]], NoPE: [[0.4, 0.5, 0.5], [0.4, 0.5, 0.5], [0.4, 0.5, 0.5]] } as Record<string, Array<[number, number, number]>>;
const goodShell = {
  'PaTH-1L': [[1, 0.99, 0.97], [1, 0.98, 0.96], [1, 0.99, 0.98]], 'PaTH-2L': [[1, 1, 1], [1, 1, 1], [1, 1, 1]],
  'RoPE-1L': [[0.95, 0.3, 0.2], [0.95, 0.3, 0.2], [0.95, 0.3, 0.2]], 'RoPE-2L': [[0.99, 0.5, 0.21], [0.98, 0.55, 0.2], [0.99, 0.6, 0.22]],
} as Record<string, Array<[number, number, number]>>;

test('judge: both orderings with their controls → reproduced; a failed control or a reversed protocol makes it partly; both lost → not reproduced', () => {
  const ok = judge(fakeResults(goodFF, goodShell));
  assert.is(ok.flipFlop.verdict, 'reproduced');
  assert.is(ok.shell.verdict, 'reproduced');
  assert.is(ok.verdict, 'reproduced');
  assert.not.ok(ok.shell.briefControl, 'RoPE at n = 32 is below 90 %: the brief\'s stricter control is reported as not passed');

  const ropeIdBad = { ...goodFF, RoPE: goodFF.RoPE!.map(([, s, d]) => [0.08, s, d] as [number, number, number]) };
  const c = judge(fakeResults(ropeIdBad, goodShell));
  assert.not.ok(c.flipFlop.control);
  assert.is(c.flipFlop.verdict, 'not reproduced');
  assert.is(c.verdict, 'partly');
  assert.match(c.reason, /positive control failed \(RoPE seed 1 ID error 8\.0%/);

  const nopeIdBad = { ...goodFF, NoPE: goodFF.NoPE!.map(() => [0.3, 0.5, 0.5] as [number, number, number]) };
  assert.is(judge(fakeResults(nopeIdBad, goodShell)).flipFlop.verdict, 'reproduced', 'NoPE is not gated');

  const pathUnlearned = { ...goodShell, 'PaTH-1L': goodShell['PaTH-1L']!.map(([a, , c2]) => [a, 0.85, c2] as [number, number, number]) };
  const u = judge(fakeResults(goodFF, pathUnlearned));
  assert.not.ok(u.shell.control);
  assert.is(u.shell.verdict, 'not reproduced');
  assert.is(u.verdict, 'partly');

  const ropeShortBad = { ...goodShell, 'RoPE-2L': goodShell['RoPE-2L']!.map(([, b, c2]) => [0.6, b, c2] as [number, number, number]) };
  assert.not.ok(judge(fakeResults(goodFF, ropeShortBad)).shell.control, 'RoPE-2L must learn short games');

  const reversedFF = { ...goodFF, PaTH: goodFF.RoPE!, RoPE: goodFF.PaTH! };
  const reversedShell = { ...goodShell, 'PaTH-1L': goodShell['PaTH-1L']!.map(([a, b]) => [a, b, 0.1] as [number, number, number]) };
  const both = judge(fakeResults(reversedFF, reversedShell));
  assert.is(both.flipFlop.verdict, 'not reproduced');
  assert.is(both.shell.verdict, 'not reproduced');
  assert.is(both.verdict, 'not reproduced');

  const noisy = { ...goodFF, RoPE: [[0.01, 0.0, 0.01], [0.01, 0.3, 0.3], [0.01, 0.01, 0.0]] as Array<[number, number, number]> };
  const p = judge(fakeResults(noisy, goodShell));
  assert.is(p.flipFlop.verdict, 'partly', 'in order on average but not by twice the seed range');
  assert.is(p.verdict, 'partly');
});

test('--quick: every arm and seed of both protocols runs in seconds and returns a well-formed result', async () => {
  let calls = 0;
  let lastDone = 0;
  let lastTotal = 0;
  const res = await reproduction.run({ quick: true, progress: (done, total) => ((calls += 1), (lastDone = done), (lastTotal = total)) });
  assert.is(reproduction.name, 'path-state');
  for (const field of [reproduction.paper, reproduction.claim, reproduction.setup, reproduction.criterion, reproduction.falsifier]) assert.ok(field.length > 40);
  assert.ok(calls > 0 && lastDone === lastTotal && lastTotal > 0, 'progress reaches its total');
  assert.ok(['reproduced', 'partly', 'not reproduced'].includes(res.verdict));
  assert.ok(res.summary.length > 0 && res.reason.length > 0);
  assert.match(res.table, /\| PaTH \|/);
  assert.match(res.table, /\| RoPE-2L \|/);
  const data = res.data as Results;
  assert.is(data.flipFlop.length, 3 * QUICK.seeds);
  assert.is(data.shell.length, SHELL_ARMS.length * QUICK.seeds);
  for (const r of data.flipFlop) for (const v of [...Object.values(r.errors), ...Object.values(r.sequenceErrors)]) assert.ok(v >= 0 && v <= 1);
  for (const r of data.shell) {
    assert.is(r.byPosition.length, QUICK.shellTest);
    assert.ok([...r.byPosition, ...Object.values(r.at)].every((a) => a >= 0 && a <= 1));
  }
  assert.ok(res.svg !== null, 'a chart');
  assertWellFormedSvg(res.svg);
  assert.ok(JSON.parse(JSON.stringify(res.data)) !== null, 'the data serialises');
});

test('flags: defaults, overrides, --help, errors', () => {
  assert.equal(parseFlags([]), { quick: false, seeds: 3, json: false });
  assert.equal(parseFlags(['--quick', '--seeds', '4', '--json']), { quick: true, seeds: 4, json: true });
  assert.is(parseFlags(['--help']), 'help');
  assert.throws(() => parseFlags(['--seeds', '0']), /integer ≥ 1/);
  assert.throws(() => parseFlags(['--bogus']), /unknown flag/);
});

test.run();
