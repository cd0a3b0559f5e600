/**
 * Inspect what a Hugging Face config's YaRN (or Llama-3) scaling does to each RoPE pair.
 *
 *   node scripts/run.mjs examples/hf-yarn.ts                                                  # Qwen2.5-7B-Instruct, YaRN ×4
 *   node scripts/run.mjs examples/hf-yarn.ts tests/fixtures/hf_configs/llama-3.1-8b/config.json  # Llama-3.1, llama3 ×8
 *
 * `fromHFConfig(config)` reads a transformers config.json the way transformers' ROPE_INIT_FUNCTIONS do and returns
 * the scaled inverse frequencies θ′ (one per channel pair), the attention factor and the settings it read.
 * Both rules keep the fast pairs as trained (θ′ = θ: they turn many times within the training length L, so they
 * extrapolate), divide the slow ones by the factor s (θ′ = θ/s: position interpolation) and blend the pairs in
 * between (YaRN: Peng et al. 2023, "NTK-by-parts"; Llama-3: Meta 2024, a wavelength band).
 */
import { readFileSync } from 'node:fs';
import { fromHFConfig, pairWavelengths, ropeFromHFConfig, ropeInvFreq, yarnInvFreq, yarnPairRegimes, type HFRoPEConfig } from '../index.js';

const path = process.argv[2] ?? 'tests/fixtures/hf_configs/qwen2.5-7b-instruct-yarn/config.json';
const config = JSON.parse(readFileSync(path, 'utf8')) as HFRoPEConfig;
const rope = fromHFConfig(config);
const s = rope.factor ?? 1;
console.log(`${path}: rope_type '${rope.ropeType}' (from ${rope.ropeDict ?? 'no rope dict'}), base ${rope.base}, head dim ${rope.headDim}`);
console.log(`factor s = ${s}, training length L = ${rope.originalMaxPositions ?? '—'}, attention factor ${rope.attentionFactor.toFixed(4)} (logits × ${(rope.attentionFactor ** 2).toFixed(4)})`);

// θ: the unscaled ladder base^(−2i/d); θ′: what the config uses. ρ = θ′/θ says what happened to the pair.
// L/λ: how many turns the unscaled pair makes within the training length (YaRN keeps pairs above β_fast = 32 turns
// and interpolates those below β_slow = 1; Llama-3 draws its band at L/λ = 4 and 1).
const theta = ropeInvFreq(rope.rotaryDim, rope.base);
const turns = Array.from(pairWavelengths(theta), (lambda) => (rope.originalMaxPositions ?? NaN) / lambda);
const wavelength = pairWavelengths(rope.invFreq); // λ′ = 2π/θ′ tokens per turn
const regimeOf = (rho: number): string => (Math.abs(rho - 1) < 1e-9 ? 'extrapolated' : Math.abs(rho * s - 1) < 1e-9 ? 'interpolated' : 'blended');
const regimes = Array.from(rope.invFreq, (t, i) => regimeOf(t / theta[i]!));

console.log('\npair        θ      L/λ          θ′   λ′ (tokens)   θ′/θ   regime');
for (let i = 0; i < theta.length; i++) {
  const row = [
    String(i).padStart(4), theta[i]!.toExponential(4).padStart(12), turns[i]!.toPrecision(3).padStart(8), rope.invFreq[i]!.toExponential(4).padStart(11),
    wavelength[i]!.toFixed(1).padStart(13), (rope.invFreq[i]! / theta[i]!).toFixed(4).padStart(7),
  ];
  console.log(`${row.join(' ')}   ${regimes[i]}`);
}
const count = (r: string): number => regimes.filter((x) => x === r).length;
console.log(`\n${count('extrapolated')} pairs extrapolated, ${count('blended')} blended, ${count('interpolated')} interpolated`);

// For a YaRN config, the same numbers come from ropelab's YaRN functions called with the config's settings.
if (rope.ropeType === 'yarn') {
  const { beta_fast: betaFast, beta_slow: betaSlow } = rope.ropeParameters; // absent here: the defaults 32 and 1
  const yarn = { dim: rope.rotaryDim, base: rope.base, factor: s, originalMaxPositions: rope.originalMaxPositions!, ...(betaFast ? { betaFast } : {}), ...(betaSlow ? { betaSlow } : {}) };
  const fromYarn = yarnInvFreq(yarn);
  const diff = Math.max(...Array.from(fromYarn, (t, i) => Math.abs(t - rope.invFreq[i]!) / t));
  const same = yarnPairRegimes(yarn).every((r, i) => r === regimes[i]);
  console.log(`yarnInvFreq with these settings: max relative difference from the config's θ′ ${diff.toExponential(2)}; yarnPairRegimes ${same ? 'agrees' : 'DISAGREES'}`);
}

// ropeFromHFConfig builds the encoding to pass to an attention layer as its `positional` option.
console.log(`ropeFromHFConfig → ${ropeFromHFConfig(config).name}`);
