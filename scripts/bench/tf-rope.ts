/**
 * The RoPE rotation written with TF.js ops: the peer side of bench:attention (inside its attention layer) and
 * bench:rope (alone). Half layout, as positional/rope.ts's default: x [..., T, D] with pairs (i, i + D/2).
 */
import type { TfCore, TfTensor } from './tfjs-types.js';

/**
 * (a cos − b sin, a sin + b cos) for the halves a, b of x's last axis; cos and sin are [T, D/2] (broadcast over the
 * leading axes) or already the shape of a half.
 */
export function tfRope(tf: TfCore, x: TfTensor, cos: TfTensor, sin: TfTensor): TfTensor {
  const [a, b] = tf.split(x, 2, -1) as [TfTensor, TfTensor];
  return tf.concat([tf.sub(tf.mul(a, cos), tf.mul(b, sin)), tf.add(tf.mul(a, sin), tf.mul(b, cos))], -1);
}
