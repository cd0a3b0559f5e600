/**
 * Test a rotation computed outside JavaScript (PyTorch, JAX): dump what it does to the unit vectors at a range of
 * positions, and `rotationFromDump` turns the dump into a RoPESubject that every checker accepts.
 *
 * RoPE is linear in x at each position (f(x, m) = R(m)·x, a scaled rotation), so R(m) is known from its columns
 * R(m)·e_j. The dump (safetensors, via nn's `parseSafetensors(bytes).tensors`, or JSON of nested arrays) holds:
 *   position_ids      [T] or [T, A]    the positions dumped (integers; include 0, 1, …, P for the checkers' ranges)
 *   basis_embed       [d, T, d]        basis_embed[j, t] = f(e_j at position_ids[t]); or, when q and k differ,
 *   q_basis_embed, k_basis_embed       one each
 * In PyTorch, for a rotation `rope(x, position_ids)` of x [B, T, d]:
 *   basis = torch.eye(d)[:, None, :].expand(d, T, d); basis_embed = rope(basis, position_ids)
 * A nonlinear f (which RoPE is not) cannot be tested this way.
 */
import { DTypeError, ShapeError, Tensor, ValueError, describeValue, expectFiniteValues, tensor, type NestedArray } from '../core/index.js';
import type { QKFunction } from './run.js';

/** A dumped rotation, ready for the checkers: pass `subject`, `headDim`, `axes` and `maxPosition` on. */
export interface DumpedRotation {
  subject: QKFunction;
  headDim: number;
  /** undefined for 1-D position_ids [T]; A for [T, A]. */
  axes: number | undefined;
  /** The largest P such that every position in [0, P] (every axis) was dumped: the checkers' maxPosition. */
  maxPosition: number;
}

const NAMES = ['position_ids', 'basis_embed', 'q_basis_embed', 'k_basis_embed'] as const;

/** Build a RoPESubject from a dump of the rotation applied to the unit vectors (see the file header). */
export function rotationFromDump(dump: Readonly<Record<string, Tensor | NestedArray>>): DumpedRotation {
  const op = 'rotationFromDump';
  if (typeof dump !== 'object' || dump === null || Array.isArray(dump)) {
    throw new DTypeError(op, `dump must be an object of named tensors (safetensors or JSON), got ${describeValue(dump)}`, 'dump');
  }
  for (const name of Object.keys(dump)) {
    if (!(NAMES as readonly string[]).includes(name)) throw new ValueError(op, `dump has an unknown tensor '${name}' (known: ${NAMES.join(', ')})`, `dump.${name}`);
  }
  const get = (name: string): Tensor | undefined => {
    const v = dump[name];
    if (v === undefined) return undefined;
    if (v instanceof Tensor) return v;
    if (typeof v === 'number' || Array.isArray(v)) return tensor(v, { dtype: 'float64' });
    throw new DTypeError(op, `dump.${name} must be a Tensor or nested arrays of numbers, got ${describeValue(v)}`, `dump.${name}`);
  };
  const positions = get('position_ids');
  if (positions === undefined) throw new ValueError(op, 'dump needs position_ids [T] or [T, A]', 'dump.position_ids');
  if (positions.ndim !== 1 && positions.ndim !== 2) throw new ShapeError(op, `dump.position_ids=[${positions.shape.join(', ')}] must be [T] or [T, A]`, 'dump.position_ids');
  expectFiniteValues(op, 'dump.position_ids', positions.data);
  const T = positions.shape[0]!;
  const axes = positions.ndim === 2 ? positions.shape[1]! : undefined;
  const A = axes ?? 1;
  const shared = get('basis_embed');
  const qb = get('q_basis_embed') ?? shared;
  const kb = get('k_basis_embed') ?? shared;
  if (qb === undefined || kb === undefined) throw new ValueError(op, 'dump needs basis_embed [d, T, d], or both q_basis_embed and k_basis_embed', 'dump.basis_embed');
  const d = qb.shape[0]!;
  for (const [name, b] of [['q_basis_embed', qb], ['k_basis_embed', kb]] as const) {
    if (b.ndim !== 3 || b.shape[0] !== d || b.shape[1] !== T || b.shape[2] !== d) {
      throw new ShapeError(op, `dump.${shared !== undefined ? 'basis_embed' : name}=[${b.shape.join(', ')}] must be [d, T, d] = [${d}, ${T}, ${d}] (T from position_ids [${positions.shape.join(', ')}])`, `dump.${name}`);
    }
    expectFiniteValues(op, `dump.${name}`, b.data);
  }
  const key = (vals: ArrayLike<number>, at: number): string => Array.from({ length: A }, (_, a) => vals[at * A + a]!).join(',');
  const index = new Map<string, number>();
  for (let t = 0; t < T; t++) if (!index.has(key(positions.data, t))) index.set(key(positions.data, t), t);

  let maxPosition = -1;
  for (let p = 0; ; p++) {
    // every tuple with max coordinate p must be present (the grid [0, p]^A)
    let complete = true;
    const tuple = new Array<number>(A).fill(0);
    const visit = (a: number): void => {
      if (!complete) return;
      if (a === A) {
        if (Math.max(...tuple) === p && !index.has(tuple.join(','))) complete = false;
        return;
      }
      for (let v = 0; v <= p && complete; v++) {
        tuple[a] = v;
        visit(a + 1);
      }
    };
    visit(0);
    if (!complete) break;
    maxPosition = p;
  }
  if (maxPosition < 0) throw new ValueError(op, `dump.position_ids must include position 0${A > 1 ? ` ([${new Array(A).fill(0).join(', ')}])` : ''} (the checkers draw positions from 0 up)`, 'dump.position_ids');

  const apply = (x: Tensor, p: Tensor, basis: Tensor, arg: string): Tensor => {
    if (x.ndim < 2 || x.shape[x.ndim - 1] !== d) throw new ShapeError(op, `${arg}=[${x.shape.join(', ')}] must end in the dumped head size ${d}`, arg);
    const Tx = x.shape[x.ndim - 2]!;
    if (p.size !== Tx * A) throw new ShapeError(op, `positions of ${arg} hold ${p.size} values, expected ${Tx}${A > 1 ? ` × ${A}` : ''} for ${arg}=[${x.shape.join(', ')}]`, arg);
    const out = new Float64Array(x.size);
    for (let r = 0; r < x.size / d; r++) {
      const t = index.get(key(p.data, r % Tx));
      if (t === undefined) throw new ValueError(op, `position ${key(p.data, r % Tx)} was not dumped (dumped: 0…${maxPosition} on every axis, and others)`, arg);
      for (let j = 0; j < d; j++) {
        const xj = x.data[r * d + j]!;
        if (xj === 0) continue;
        const col = (j * T + t) * d;
        for (let c = 0; c < d; c++) out[r * d + c] += xj * basis.data[col + c]!;
      }
    }
    return new Tensor(out, x.shape);
  };
  const subject: QKFunction = (q, k, qPositions, kPositions) => ({ q: apply(q, qPositions, qb, 'q'), k: apply(k, kPositions, kb, 'k') });
  return { subject, headDim: d, axes, maxPosition };
}
