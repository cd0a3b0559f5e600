/**
 * Property-test your own RoPE with ropelab/testing (fast-check under the hood, with shrinking).
 *
 *   node scripts/run.mjs examples/property-test.ts
 *
 * `myRotate` below is a RoPE with a planted bug: positions from 512 on get one added to them, as a cache offset applied
 * in the wrong place would. The checkers run it on random q, k and positions and, when a property fails, shrink the
 * case to the smallest one they can and describe it. ropelab's own RoPE passes the same checks. In your own project
 * the imports are `from 'ropelab'` and `from 'ropelab/testing'` (npm install ropelab fast-check).
 */
import { RoPE, Tensor, applyRotary, ropeInvFreq, rotaryAngles } from '../index.js';
import { checkLayoutEquivalence, checkNormPreservation, checkRelativePositionInvariance, type QKFunction } from '../testing/index.js';

const headDim = 8;
const invFreq = ropeInvFreq(headDim); // θ_i = 10000^(−2i/d)

/** x: [1, heads, T, headDim], positions: [T] → x rotated by RoPE — with the bug. */
function myRotate(x: Tensor, positions: Tensor): Tensor {
  const shifted = new Tensor(Float64Array.from(positions.data, (p) => (p >= 512 ? p + 1 : p)), positions.shape); // BUG
  return applyRotary(x, rotaryAngles(shifted, invFreq), { layout: 'half' });
}
const mine: QKFunction = (q, k, qPositions, kPositions) => ({ q: myRotate(q, qPositions), k: myRotate(k, kPositions) });

// 1. The bug breaks relative-position invariance; the counterexample points at position 512.
console.log(checkRelativePositionInvariance(mine, { headDim, seed: 7 }).message);

// 2. Norm preservation still passes: every vector is rotated, just by the wrong angle. One property is not enough.
console.log(checkNormPreservation(mine, { headDim, seed: 7 }).message);

// 3. ropelab's RoPE passes both, and its two pair layouts agree under the channel permutation.
const rope = new RoPE(headDim);
console.log(checkRelativePositionInvariance(rope, { headDim, seed: 7 }).message);
console.log(checkLayoutEquivalence({ half: rope, interleaved: new RoPE(headDim, { layout: 'interleaved' }) }, { headDim, seed: 7 }).message);
