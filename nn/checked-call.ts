/**
 * @internal Proof that a layer's `checkCall` accepted a forward call, for the split of a forward into "check once"
 * and "run checked" that blocks and models use (a block checks x once, then runs its attention on norm(x)). The
 * proof is an opaque object that only this file can issue (nn/index.ts does not export it): a caller cannot
 * fabricate one, and one proof runs one call, on an input of the shape and dtype that was checked, through the
 * layer that checked it, with the option values that were checked (held by the proof, not read again). So
 * `forwardChecked` skips no check that `forward` makes.
 */
import { DTypeError, ShapeError, Tensor, describeValue, fmtShape, type DType } from '../core/index.js';

declare const checkedBrand: unique symbol;

/** @internal What `checkCall` returns: an unforgeable, single-use proof holding the checked values `T`. */
export type CheckedCall<T> = { readonly [checkedBrand]: T };

interface Issued {
  owner: object;
  shape: readonly number[];
  dtype: DType;
  value: unknown;
}

const issued = new WeakMap<object, Issued>();

/** @internal A proof that `owner` checked a call on x (its shape and dtype) with the resolved `value`. */
export function issueCheckedCall<T>(owner: object, x: Tensor, value: T): CheckedCall<T> {
  const token = Object.freeze(Object.create(null) as object);
  issued.set(token, { owner, shape: x.shape.slice(), dtype: x.dtype, value });
  return token as CheckedCall<T>;
}

/**
 * @internal The checked values of `checked`, consumed: refused (under `op`) unless `owner` issued it, it was not
 * used yet, and x has the shape and dtype that were checked.
 */
export function redeemCheckedCall<T>(op: string, owner: object, checked: CheckedCall<T>, x: unknown): T {
  const entry = typeof checked === 'object' && checked !== null ? issued.get(checked) : undefined;
  if (entry === undefined || entry.owner !== owner) {
    throw new DTypeError(op, `checked must be what this layer's checkCall returned for this call, used once; got ${describeValue(checked)}`, 'checked');
  }
  issued.delete(checked);
  if (!(x instanceof Tensor) || x.dtype !== entry.dtype || x.ndim !== entry.shape.length || x.shape.some((d, i) => d !== entry.shape[i])) {
    throw new ShapeError(op, `x=${describeValue(x)} is not the input checkCall accepted (${fmtShape(entry.shape)} ${entry.dtype})`, 'x');
  }
  return entry.value as T;
}
