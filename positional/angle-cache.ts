/**
 * The one angle cache of positional/: RoPE and its scaled subclasses, the multi-axis family MRoPE / VideoRoPE /
 * HoPE / VRoPE / FluxRoPE, and RoPE-Axial / RoPE-Mixed memoise their angle tables here, and `applyRotary` memoises
 * cos/sin of each angle table here, so q and k, and every layer sharing one encoding, build the table and its
 * trigonometry once. DRoPE, HiRoPE and DynamicNTKRoPE build their angle tables on every call, without this memo;
 * only their cos/sin are memoised, through `rotateBy`.
 *
 * The staleness rule, the same for every entry: a hit is served only if the current VALUES of everything the table
 * was computed from equal the values it was computed from — the positions (or the angles, for cos/sin), the
 * frequencies, and any other number that shapes it (e.g. the token count T and prefix of RoPE-ViT). Values, not
 * identity, because tensors and typed arrays are mutable: a caller refills a positions buffer, a scaling rule rescales
 * `invFreq` in place, an optimizer steps frozen-by-default frequencies; a cache keyed by identity alone would then
 * serve a table for numbers that no longer exist. Nothing is cached when an input tensor requires grad: that table
 * must be built inside the autograd graph, and learnable values change every step.
 *
 * Memory is bounded: entries keyed by a tensor live in a WeakMap (dropped with the tensor); positions whose rows are
 * each a contiguous range offset, offset+1, … (what a forward pass builds afresh every call) are also keyed by content
 * in an LRU of `ANGLE_CACHE_LIMIT` entries per memo.
 */
import { Tensor } from '../core/index.js';

/** How many content-keyed tables (contiguous position ranges) one memo keeps. */
export const ANGLE_CACHE_LIMIT = 8;

/** Any input of a table besides the keying tensor: a tensor (frequencies), an array of frequencies, or numbers (T). */
export type MemoInput = Tensor | ArrayLike<number>;

interface Entry<V> {
  /** Copies of the key's values and of each input's values when the value was computed. */
  key: Float64Array;
  inputs: Float64Array[];
  value: V;
}

const computed = { tables: 0, trig: 0 };

/** How many angle tables and cos/sin tables the memos have computed so far (hits excluded); for tests. */
export function memoComputations(): { tables: number; trig: number } {
  return { ...computed };
}

/** One memo per encoding (or, for cos/sin, per module): values computed from a key tensor and further inputs. */
export class AngleMemo<V = Tensor> {
  readonly #byTensor = new WeakMap<Tensor, Entry<V>>();
  readonly #byRange = new Map<string, Entry<V>>();

  /** `kind` says which counter a computation adds to; `ranges` keys contiguous positions by content too. */
  constructor(private readonly kind: 'tables' | 'trig' = 'tables', private readonly ranges = true) {}

  /** The value for `key` and `inputs`: the cached one if every value still matches, else `compute()` (then cached). */
  get(key: Tensor, inputs: readonly MemoInput[], compute: () => V): V {
    if (key.requiresGrad || inputs.some((x) => x instanceof Tensor && x.requiresGrad)) return this.#compute(compute);
    const range = this.ranges ? rangeKey(key) : null;
    const hit = range !== null ? this.#byRange.get(range) : this.#byTensor.get(key);
    if (hit !== undefined && sameValues(hit.key, key.data) && hit.inputs.every((v, i) => sameValues(v, valuesOf(inputs[i]!)))) {
      if (range !== null) this.#touch(range, hit);
      return hit.value;
    }
    const entry: Entry<V> = { key: Float64Array.from(key.data), inputs: inputs.map((x) => Float64Array.from(valuesOf(x))), value: this.#compute(compute) };
    if (range !== null) this.#touch(range, entry);
    else this.#byTensor.set(key, entry);
    return entry.value;
  }

  #compute(compute: () => V): V {
    computed[this.kind]++;
    return compute();
  }

  /** (Re)inserts an entry as the most recent, evicting the oldest beyond the limit. */
  #touch(range: string, entry: Entry<V>): void {
    this.#byRange.delete(range);
    this.#byRange.set(range, entry);
    if (this.#byRange.size > ANGLE_CACHE_LIMIT) this.#byRange.delete(this.#byRange.keys().next().value!);
  }
}

function valuesOf(x: MemoInput): ArrayLike<number> {
  return x instanceof Tensor ? x.data : x;
}

/** Element-wise equality (=== per element, so NaN never matches and a NaN-holding entry is simply recomputed). */
function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `${shape}:${offsets}` when every row of positions [T] or [B, T] is offset, offset+1, …; null otherwise. */
function rangeKey(positions: Tensor): string | null {
  if (positions.ndim !== 1 && positions.ndim !== 2) return null;
  const T = positions.shape[positions.ndim - 1]!;
  const rows = T === 0 ? 0 : positions.size / T;
  const p = positions.data;
  const offsets: number[] = [];
  for (let r = 0; r < rows; r++) {
    const base = r * T;
    const offset = p[base]!;
    for (let t = 1; t < T; t++) if (p[base + t] !== offset + t) return null;
    offsets.push(offset);
  }
  return `${positions.shape.join('x')}:${offsets.join(',')}`;
}
