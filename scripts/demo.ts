/**
 * npm run demo — an engine showcase: fit a small MLP to two interleaved spirals with AdamW, using nothing but
 * core/ (tensors, autograd, crossEntropy, optimizers), and print the loss curve.
 * Flags: --steps N (default 400), --hidden H (default 32), --seed S (default 0), --help.
 */
import { AdamW, Generator, Tensor, argmax, crossEntropy, eq, gelu, matmul, mean, noGrad, randn, tensor, warmupCosineLr, zeros } from '../core/index.js';

interface Flags {
  steps: number;
  hidden: number;
  seed: number;
}

function parseFlags(argv: readonly string[]): Flags {
  const flags: Flags = { steps: 400, hidden: 32, seed: 0 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      console.log('usage: npm run demo -- [--steps N] [--hidden H] [--seed S]\n  fits a 2-layer MLP to two spirals and prints the loss curve');
      process.exit(0);
    }
    const key = arg.replace(/^--/, '') as keyof Flags;
    if (!(key in flags) || i + 1 >= argv.length) throw new Error(`demo: unknown flag or missing value '${arg}' (see --help)`);
    const value = Number(argv[++i]);
    if (!Number.isInteger(value) || value < 0) throw new Error(`demo: --${key} needs a non-negative integer, got '${argv[i]}'`);
    flags[key] = value;
  }
  return flags;
}

/** Two spirals in the plane: points [n·2, 2] and labels 0/1. */
function spirals(n: number, g: Generator): { x: Tensor; y: Tensor } {
  const pts: number[] = [];
  const labels: number[] = [];
  for (let c = 0; c < 2; c++) {
    for (let i = 0; i < n; i++) {
      const r = (i / n) * 5 + 0.5;
      const t = 1.75 * (i / n) * 2 * Math.PI + c * Math.PI;
      pts.push(r * Math.cos(t) + 0.15 * g.normal(), r * Math.sin(t) + 0.15 * g.normal());
      labels.push(c);
    }
  }
  return { x: tensor(pts, [2 * n, 2]), y: tensor(labels) };
}

function layer(fanIn: number, fanOut: number, g: Generator): { w: Tensor; b: Tensor } {
  return {
    w: randn([fanIn, fanOut], { generator: g, std: 1 / Math.sqrt(fanIn), requiresGrad: true }),
    b: zeros([fanOut], { requiresGrad: true }),
  };
}

function main(): void {
  const flags = parseFlags(process.argv.slice(2));
  const g = new Generator(flags.seed);
  const { x, y } = spirals(200, g);
  const layers = [layer(2, flags.hidden, g), layer(flags.hidden, flags.hidden, g), layer(flags.hidden, 2, g)];
  const params = layers.flatMap((l) => [l.w, l.b]);
  const forward = (input: Tensor): Tensor =>
    layers.reduce((h, l, i) => {
      const z = matmul(h, l.w).add(l.b); // [N, out]
      return i < layers.length - 1 ? gelu(z) : z;
    }, input);

  const opt = new AdamW(params, { lr: 0.02, weightDecay: 1e-4 });
  const curve: number[] = [];
  const start = performance.now();
  console.log(`ropelab demo: MLP 2→${flags.hidden}→${flags.hidden}→2 on ${x.shape[0]} spiral points, ${flags.steps} AdamW steps\n`);
  console.log(' step │   loss │ accuracy');
  console.log('──────┼────────┼─────────');
  for (let step = 0; step < flags.steps; step++) {
    opt.lr = warmupCosineLr(step, { maxLr: 0.02, warmupSteps: 20, totalSteps: flags.steps, minLr: 0.001 });
    const logits = forward(x);
    const loss = crossEntropy(logits, y);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    curve.push(loss.item());
    if (step % Math.max(1, Math.floor(flags.steps / 10)) === 0 || step === flags.steps - 1) {
      const acc = noGrad(() => mean(eq(argmax(logits, 1), y)).item());
      console.log(`${String(step).padStart(5)} │ ${loss.item().toFixed(4)} │ ${(100 * acc).toFixed(1).padStart(6)}%`);
    }
  }
  const seconds = (performance.now() - start) / 1000;
  console.log(`\nloss curve, log scale (${curve[0]!.toFixed(3)} → ${curve[curve.length - 1]!.toFixed(3)}), ${seconds.toFixed(2)} s:`);
  console.log(sparkline(curve, 60));
}

/** A one-line plot of log(values) using block characters. */
function sparkline(values: readonly number[], width: number): string {
  const blocks = '▁▂▃▄▅▆▇█';
  const logs = values.map((v) => Math.log(v));
  const lo = Math.min(...logs);
  const hi = Math.max(...logs);
  const out: string[] = [];
  for (let i = 0; i < width; i++) {
    const v = logs[Math.floor((i * values.length) / width)]!;
    out.push(blocks[Math.min(7, Math.floor(((v - lo) / (hi - lo || 1)) * 8))]!);
  }
  return out.join('');
}

main();
