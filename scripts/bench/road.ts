/**
 * RoAd mixed-adapter batches (issue 14 item 1): one RoAdLinear holding 4 adapters (road_1, road_2, road_4, road_1 with
 * another group size), a batch of 16 rows where every row picks an adapter or '__base__', run two ways:
 *   mixed     layer.forward(x, { adapterNames }): one base matmul for all rows, then one element-wise pass with each
 *             row's C and S gathered from a per-adapter table
 *   per-row   for each row: setActiveAdapter(its adapter) and layer.forward(row) (base.forward for '__base__'), then
 *             the rows concatenated — what a server does without mixed batching
 * Both are checked to give the same output (max |diff| column), then timed alternately (harness.pairedMediansMs),
 * under noGrad, float32, on the JS backend and on wasm where this engine has it. Target: mixed faster than per-row at
 * batch 16 (ratio = per-row ms / mixed ms > 1).
 *
 *   npm run bench:road [-- --reps N]
 */
import { Generator, Tensor, concat, noGrad, randn } from '../../core/index.js';
import { Linear } from '../../nn/linear.js';
import { ROAD_BASE, RoAdLinear } from '../../nn/index.js';
import { integerFlag, readFlags } from '../lib/flags.js';
import { fmt, onRopelab, pairedMediansMs, printEnvironment, printTable, ropelabVariants } from './harness.js';

const HELP = `usage: npm run bench:road [-- --reps N]

RoAdLinear: a mixed-adapter batch of 16 rows in one pass vs a loop over the rows, same results, alternating timings.

  --reps N   timed repetitions per case (default 15)
  --help     this text`;
const FLAGS = readFlags('bench:road', HELP, { reps: 15 }, { values: { reps: (f, v) => (f.reps = integerFlag(v, 1)) } });

const BATCH = 16;
const NAMES = ['a1', 'a2', 'a4', 'b1', ROAD_BASE] as const;

/** A layer dim → dim with four random adapters (PEFT's init_weights=False) of every variant. */
function makeLayer(dim: number): RoAdLinear {
  const g = new Generator(1);
  const layer = new RoAdLinear(new Linear(dim, dim, { generator: g }), { adapterName: 'a1', variant: 'road_1', groupSize: 64, initWeights: false, generator: g });
  layer.addAdapter('a2', { variant: 'road_2', groupSize: 64, initWeights: false, generator: g });
  layer.addAdapter('a4', { variant: 'road_4', groupSize: 64, initWeights: false, generator: g });
  layer.addAdapter('b1', { variant: 'road_1', groupSize: 32, initWeights: false, generator: g });
  return layer;
}

function perRow(layer: RoAdLinear, x: Tensor, names: readonly string[]): Tensor {
  const rows = names.map((name, r) => {
    const row = x.narrow(0, r, 1);
    if (name === ROAD_BASE) return layer.base.forward(row);
    layer.setActiveAdapter(name);
    return layer.forward(row);
  });
  return concat(rows, 0);
}

async function main(): Promise<void> {
  printEnvironment(`RoAdLinear mixed-adapter batch (B = ${BATCH}) vs a per-row loop; 4 adapters + '__base__'; median of ${FLAGS.reps} alternating reps, float32, noGrad`);
  const names = Array.from({ length: BATCH }, (_, r) => NAMES[r % NAMES.length]!); // every adapter and the base, in turn
  const rows: string[][] = [];
  for (const variant of ropelabVariants().filter((v) => v !== 'wasm×2')) {
    for (const [dim, T] of [[128, 1], [128, 64], [512, 1], [512, 64]] as const) {
      const layer = makeLayer(dim);
      const x = randn([BATCH, T, dim], { generator: new Generator(2) });
      const [mixedMs, loopMs, diff] = await onRopelab(variant, async () => {
        const mixed = noGrad(() => layer.forward(x, { adapterNames: names }));
        const loop = noGrad(() => perRow(layer, x, names));
        let d = 0;
        for (let i = 0; i < mixed.size; i++) d = Math.max(d, Math.abs(mixed.data[i]! - loop.data[i]!));
        const [a, b] = await pairedMediansMs([() => noGrad(() => layer.forward(x, { adapterNames: names })), () => noGrad(() => perRow(layer, x, names))], FLAGS.reps, 2);
        return [a!, b!, d];
      });
      rows.push([variant, `[${BATCH}, ${T}, ${dim}]`, fmt(mixedMs, 3), fmt(loopMs, 3), fmt(loopMs / mixedMs), diff.toExponential(1)]);
    }
  }
  printTable(['backend', 'x', 'mixed ms', 'per-row ms', 'per-row / mixed', 'max |diff|'], rows);
  console.log('per-row / mixed > 1: the mixed batch is faster (target at batch 16).');
}

await main();
