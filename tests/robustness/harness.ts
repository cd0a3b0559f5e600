/**
 * The robustness harness (issue #10 item 7). Every runtime export of the package root has one entry in a table
 * (core.ts, positional.ts, nn.ts, models.ts): how to build a valid call, and what each argument is. From the
 * argument kinds the harness derives bad inputs — wrong JS types, NaN/±∞, bad shapes, huge sizes, bad options —
 * plus fast-check samples of random wrong values, and asserts for every call the rule of the issue: a correct
 * result (no NaN out when every input is finite), or one of ropelab's typed errors whose message starts with the
 * name of the function or class the user called (`softmax: …`, `RoPE: …`, `RoPE.apply: …`).
 *
 * Calls run in a child process with a per-call timeout and a capped heap, so an input that hangs a kernel or
 * exhausts memory is reported as one failure instead of stopping `npm test` (a worker thread that runs out of heap
 * can take the whole process down).
 */
import fc from 'fast-check';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { appendFileSync } from 'node:fs';
import { test } from 'uvu';
import { AutogradError, AxisError, DTypeError, GradcheckError, IndexError, ShapeError, ValueError, Tensor } from '../../core/index.js';
import { FC_SEED } from '../helpers/fc.js';
import * as rootNamespace from '../../index.js';

// ───────────────────────────── argument kinds ─────────────────────────────

/** What an argument (or an options field) is; decides which bad inputs it gets. */
export type ArgKind =
  | 'tensor' // a Tensor of data: NaN inside may give NaN out
  | 'configTensor' // a Tensor of positions / frequencies / ids: NaN or ±∞ inside must be refused
  | 'tensorLike' // a Tensor or a number (elementwise operands)
  | 'tensors' // an array of Tensors
  | 'size' // a count or size: a non-negative integer
  | 'int' // an integer that may be negative (an offset, a k, a step)
  | 'axis' // an axis of a tensor: an integer in [-ndim, ndim)
  | 'real' // a finite config number (base, lr, eps, a scale, a position)
  | 'data' // a number that is data (a fill value, a clamp bound): NaN allowed
  | 'shape' // an array of sizes
  | 'ints' // an array of integers (dims, sizes, sections, token ids)
  | 'reals' // an array of finite config numbers (betas, factors, positions)
  | 'options' // an options object (fields below)
  | 'enum' // one of a fixed set of strings
  | 'bool'
  | 'string' // a free string (a name, a text); only wrong types are tried
  | 'path' // a file path: only wrong types are tried (never a string, so nothing is written)
  | 'fn' // a callback
  | 'object' // any other object (a Module, a Generator, a config record)
  | 'bytes' // a typed array / ArrayBuffer view
  | 'any'; // any value is valid (describeValue): only the valid call is judged

export interface ArgSpec {
  readonly kind: ArgKind;
  /** The argument's name in the signature (shown in failure lines). */
  readonly name: string;
  /** `undefined` is a valid value (an optional argument or field). */
  readonly optional?: boolean;
  /** `null` is a valid value (`mask?: Tensor | null`). */
  readonly nullable?: boolean;
  /** For an options field: it must be given (fields are optional unless marked). */
  readonly required?: boolean;
  /** For 'options': the fields, each with its own kind. */
  readonly fields?: Readonly<Record<string, ArgSpec>>;
  /** For 'real'/'data': ±∞ is a valid value (clamp bounds, a window). */
  readonly infinityOk?: boolean;
  /** For 'tensor'/'tensors': a plain nested array is a valid value too (`Tensor | ArrayLike<number>`). */
  readonly arrayOk?: boolean;
  /** For 'size'/'int'/'real'/'axis': an array is accepted too (`number | number[]`). */
  readonly alsoArray?: boolean;
  /** For 'size': a count of work (steps, tokens to generate, samples), not of memory: 2**40 would just run for ages, so it is not tried. */
  readonly work?: boolean;
  /** For 'shape': one −1 is valid (the size is inferred, as in reshape). */
  readonly inferOk?: boolean;
}

type Mods = Omit<ArgSpec, 'kind' | 'name'>;
const spec = (kind: ArgKind) => (name: string, mods: Mods = {}): ArgSpec => ({ kind, name, ...mods });
export const A = {
  tensor: spec('tensor'),
  configTensor: spec('configTensor'),
  tensorLike: spec('tensorLike'),
  tensors: spec('tensors'),
  size: spec('size'),
  int: spec('int'),
  axis: spec('axis'),
  real: spec('real'),
  data: spec('data'),
  shape: spec('shape'),
  ints: spec('ints'),
  reals: spec('reals'),
  enum: spec('enum'),
  bool: spec('bool'),
  string: spec('string'),
  path: spec('path'),
  fn: spec('fn'),
  object: spec('object'),
  bytes: spec('bytes'),
  any: spec('any'),
  options: (name: string, fields: Record<string, ArgSpec>, mods: Mods = {}): ArgSpec => ({ kind: 'options', name, fields, optional: true, ...mods }),
};
/** The same spec, optional. */
export const opt = (s: ArgSpec): ArgSpec => ({ ...s, optional: true });

// ───────────────────────────── entries ─────────────────────────────

export interface MethodEntry {
  readonly name: string;
  /** Valid arguments for this method of `self` (a fresh instance built by the class entry). */
  readonly build: (self: any) => unknown[];
  readonly args: readonly ArgSpec[];
  /** The valid call may return NaN (documented), so only errors are judged. */
  readonly nanOk?: boolean;
  /** The method is an alias of this exported function (Tensor.add → add), so a message may start with its name. */
  readonly aliasOf?: string;
}

export type Entry =
  | { readonly type: 'function'; readonly name: string; readonly build: () => unknown[]; readonly args: readonly ArgSpec[]; readonly nanOk?: boolean }
  | {
      readonly type: 'class';
      readonly name: string;
      readonly build: () => unknown[];
      readonly args: readonly ArgSpec[];
      readonly methods: readonly MethodEntry[];
      /** Build the instance with `new make(...args)` (default: the export itself; abstract classes pass a subclass). */
      readonly make?: new (...args: any[]) => unknown;
    }
  | { readonly type: 'exempt'; readonly name: string; readonly reason: string };

export const fn = (name: string, build: () => unknown[], args: readonly ArgSpec[], extra: { nanOk?: boolean } = {}): Entry => ({
  type: 'function', name, build, args, ...extra,
});
export const cls = (
  name: string, build: () => unknown[], args: readonly ArgSpec[], methods: readonly MethodEntry[] = [], make?: new (...args: any[]) => unknown,
): Entry => ({ type: 'class', name, build, args, methods, ...(make ? { make } : {}) });
export const method = (name: string, build: (self: any) => unknown[], args: readonly ArgSpec[], extra: { nanOk?: boolean; aliasOf?: string } = {}): MethodEntry => ({
  name, build, args, ...extra,
});
export const exempt = (name: string, reason: string): Entry => ({ type: 'exempt', name, reason });

// ───────────────────────────── bad inputs ─────────────────────────────

/** One bad input: how to make it from the valid value, and whether the call must refuse it. */
interface Corruption {
  readonly label: string;
  readonly make: (valid: unknown) => unknown;
  /** The call must throw a typed error (returning anything is a silent wrong answer). */
  readonly mustRefuse: boolean;
  /** The bad input itself holds NaN/±∞, so NaN out is not held against the call. */
  readonly nonFinite?: boolean;
}

const refuse = (label: string, value: unknown, nonFinite = false): Corruption => ({ label, make: () => value, mustRefuse: true, nonFinite });
const tryIt = (label: string, make: (valid: unknown) => unknown, nonFinite = false): Corruption => ({ label, make, mustRefuse: false, nonFinite });

function tensorWith(t: Tensor, f: (data: Float64Array | Float32Array) => void): Tensor {
  const data = (t.data as Float64Array).slice() as Float64Array;
  f(data);
  return new Tensor(data, t.shape.slice());
}
const isFloat = (t: Tensor) => t.dtype === 'float32' || t.dtype === 'float64';

const WRONG_TYPES: readonly Corruption[] = [refuse('null', null), refuse("'abc'", 'abc'), refuse('true', true), refuse('{}', {})];
const NON_FINITE: readonly Corruption[] = [refuse('NaN', NaN, true), refuse('Infinity', Infinity, true), refuse('-Infinity', -Infinity, true)];

/** Bad inputs for one argument of `kind`, fixed ones first. */
function corruptionsFor(s: ArgSpec): Corruption[] {
  const out: Corruption[] = [];
  const wrong = WRONG_TYPES.filter((c) => !(s.nullable && c.label === 'null'));
  if (!s.optional) out.push(refuse('undefined', undefined));
  switch (s.kind) {
    case 'tensor':
    case 'configTensor':
    case 'tensorLike': {
      out.push(...wrong);
      if (s.kind !== 'tensorLike') out.push(refuse('42', 42));
      if (!s.arrayOk) out.push(refuse('[[1,2],[3,4]] (plain array)', [[1, 2], [3, 4]]));
      const asTensor = (v: unknown) => (v instanceof Tensor ? v : null);
      out.push(
        tryIt('a 0-d tensor', () => new Tensor(new Float32Array([0.5]), [])),
        tryIt('one more leading axis', (v) => {
          const t = asTensor(v);
          return t ? new Tensor(t.data.slice(), [1, ...t.shape]) : new Tensor(new Float32Array(2), [1, 2]);
        }),
        tryIt('last axis + 1', (v) => {
          const t = asTensor(v);
          if (!t || t.ndim === 0) return new Tensor(new Float32Array(3), [3]);
          const shape = [...t.shape.slice(0, -1), t.shape[t.ndim - 1]! + 1];
          return new Tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.25), shape);
        }),
        tryIt('an empty tensor [0]', () => new Tensor(new Float32Array(0), [0])),
      );
      const withNaN = (v: unknown, x: number) => {
        const t = asTensor(v);
        return t && isFloat(t) && t.size > 0 ? tensorWith(t, (d) => (d[0] = x)) : t;
      };
      if (s.kind === 'configTensor') {
        out.push(
          { label: 'NaN inside', make: (v) => withNaN(v, NaN), mustRefuse: true, nonFinite: true },
          { label: 'Infinity inside', make: (v) => withNaN(v, Infinity), mustRefuse: true, nonFinite: true },
        );
      } else {
        out.push(tryIt('NaN inside', (v) => withNaN(v, NaN), true));
      }
      break;
    }
    case 'tensors':
      out.push(...wrong, refuse('[null]', [null]), tryIt('[]', () => []), {
        label: "[t, 'x']",
        make: (v) => [...(Array.isArray(v) ? v.slice(0, 1) : []), 'x'],
        mustRefuse: true,
      });
      break;
    case 'size':
    case 'int':
    case 'axis':
    case 'real':
    case 'data':
      out.push(...wrong);
      if (s.kind === 'data') out.push(tryIt('NaN', () => NaN, true));
      else if (s.infinityOk) out.push(refuse('NaN', NaN, true));
      else out.push(...NON_FINITE);
      if (s.kind === 'size' || s.kind === 'int' || s.kind === 'axis') out.push(refuse('1.5', 1.5));
      if (s.kind === 'size') out.push(refuse('-1', -1), tryIt('0', () => 0), ...(s.work ? [] : [tryIt('2**40', () => 2 ** 40)]));
      if (s.kind === 'axis') out.push(refuse('99', 99), refuse('-99', -99));
      if (s.kind === 'real') out.push(tryIt('-1', () => -1), tryIt('0', () => 0), tryIt('1e300', () => 1e300));
      if (s.kind === 'int') out.push(tryIt('-1', () => -1), tryIt('2**40', () => 2 ** 40));
      break;
    case 'shape':
      out.push(
        ...wrong,
        s.inferOk ? tryIt('[-1, 2]', () => [-1, 2]) : refuse('[-1, 2]', [-1, 2]),
        refuse('[-1, -1]', [-1, -1]),
        refuse('[1.5, 2]', [1.5, 2]),
        refuse('[NaN]', [NaN], true),
        refuse('[Infinity]', [Infinity], true),
        refuse('[2**20, 2**20]', [2 ** 20, 2 ** 20]),
        refuse("['2']", ['2']),
      );
      break;
    case 'ints':
      out.push(...wrong, refuse('[NaN]', [NaN], true), refuse('[1.5]', [1.5]), refuse('[Infinity]', [Infinity], true), refuse("['1']", ['1']));
      break;
    case 'reals':
      out.push(...wrong, refuse('[NaN]', [NaN], true), refuse('[Infinity]', [Infinity], true), refuse("['1']", ['1']));
      break;
    case 'options':
      out.push(...WRONG_TYPES.filter((c) => c.label !== '{}' && !(s.nullable && c.label === 'null')), refuse('42', 42), refuse('[]', []));
      break;
    case 'enum':
      out.push(refuse("'bogus'", 'bogus'), refuse("'__proto__'", '__proto__'), refuse('42', 42), ...(s.nullable ? [] : [refuse('null', null)]));
      break;
    case 'bool':
      out.push(refuse("'yes'", 'yes'), refuse('1', 1), ...(s.nullable ? [] : [refuse('null', null)]));
      break;
    case 'string':
    case 'path':
      out.push(refuse('42', 42), refuse('{}', {}), ...(s.nullable ? [] : [refuse('null', null)]));
      break;
    case 'fn':
      out.push(...wrong, refuse('42', 42));
      break;
    case 'object':
      out.push(...wrong.filter((c) => c.label !== '{}'), refuse('42', 42));
      break;
    case 'any':
      out.length = 0;
      break;
    case 'bytes':
      out.push(...wrong, refuse('[1,2,3] (plain array)', [1, 2, 3]), tryIt('an empty Uint8Array', () => new Uint8Array(0)));
      break;
  }
  return out;
}

/** fast-check samples of random bad values for an argument (wrong types, random doubles, random shapes). */
function randomCorruptionArb(s: ArgSpec): fc.Arbitrary<Corruption> | null {
  const wrongType = fc.oneof(fc.string({ maxLength: 6 }), fc.boolean(), fc.constant(null), fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }));
  const wrongForString = fc.oneof(fc.integer(), fc.boolean(), fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }));
  const show = (v: unknown) => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v) ?? String(v));
  const nullOk = (v: unknown) => (v === null && s.nullable) || (s.kind === 'options' && v !== null && typeof v === 'object');
  switch (s.kind) {
    case 'real':
    case 'data':
      // Random finite doubles: whatever the call does, it must not crash untyped or return NaN.
      return fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => tryIt(`random ${x}`, () => x));
    case 'size':
    case 'int':
      return fc.oneof(fc.double({ noDefaultInfinity: true, noNaN: true, min: -1e6, max: 1e6 }).filter((x) => !Number.isInteger(x)), wrongType).map((v) =>
        refuse(`random ${show(v)}`, v),
      );
    case 'tensor':
    case 'tensorLike':
      // A random (often wrong) shape of finite values: a typed error or a finite result.
      return fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 4 }).map((shape) =>
        tryIt(`random shape [${shape.join(',')}]`, () => {
          const n = shape.reduce((a, b) => a * b, 1);
          return new Tensor(Float32Array.from({ length: n }, (_, i) => 0.55 + 0.45 * Math.sin(i + 1)), shape); // in (0.1, 1): inside every op's domain
        }),
      );
    case 'string':
    case 'enum':
    case 'path':
      return wrongForString.filter((v) => !nullOk(v)).map((v) => refuse(`random ${show(v)}`, v));
    case 'bool':
      return fc.oneof(fc.integer(), fc.string({ maxLength: 4 })).map((v) => refuse(`random ${show(v)}`, v));
    case 'options':
      return fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), fc.boolean()).map((v) => refuse(`random ${show(v)}`, v));
    default:
      return null;
  }
}

// ───────────────────────────── cases ─────────────────────────────

/** One call: which target (constructor, method, function), which argument or option field, which bad input. */
interface Case {
  readonly target: string; // '' for the function / constructor, else a method name
  readonly argIndex: number; // −1: the valid call itself
  readonly field?: string;
  readonly corruption?: Corruption;
}

function hashName(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** How many fast-check samples each argument gets (on top of the fixed bad inputs). */
const RANDOM_PER_ARG = 3;

function casesForArgs(target: string, args: readonly ArgSpec[], seedName: string): Case[] {
  const cases: Case[] = [{ target, argIndex: -1 }];
  args.forEach((s, argIndex) => {
    for (const c of corruptionsFor(s)) cases.push({ target, argIndex, corruption: c });
    if (s.kind === 'options' && s.fields) {
      for (const [field, fs] of Object.entries(s.fields)) {
        for (const c of corruptionsFor({ ...fs, optional: !fs.required })) cases.push({ target, argIndex, field, corruption: c });
      }
      cases.push({ target, argIndex, field: '__unknownOption', corruption: tryIt('an unknown option', () => 1) });
    }
    const arb = randomCorruptionArb(s);
    if (arb) {
      const seed = (FC_SEED ^ hashName(`${seedName}/${target}/${argIndex}`)) | 0;
      for (const c of fc.sample(arb, { seed, numRuns: RANDOM_PER_ARG })) cases.push({ target, argIndex, corruption: c });
    }
  });
  return cases;
}

function casesFor(entry: Entry): Case[] {
  if (entry.type === 'exempt') return [];
  if (entry.type === 'function') return casesForArgs('', entry.args, entry.name);
  return [...casesForArgs('', entry.args, entry.name), ...entry.methods.flatMap((m) => casesForArgs(m.name, m.args, `${entry.name}.${m.name}`))];
}

// ───────────────────────────── judging one call ─────────────────────────────

export type Category = 'skipped' | 'typed' | 'ok' | 'unclear' | 'wrong-name' | 'silent' | 'silent-nan' | 'refused-valid' | 'hang';
export interface Outcome {
  readonly export: string;
  readonly call: string;
  readonly input: string;
  readonly category: Category;
  readonly detail: string;
}
export const FAILING: ReadonlySet<Category> = new Set(['unclear', 'wrong-name', 'silent', 'silent-nan', 'refused-valid', 'hang']);

const TYPED = [ShapeError, DTypeError, ValueError, AxisError, IndexError, AutogradError, GradcheckError] as const;
const isTyped = (e: unknown) => TYPED.some((E) => e instanceof (E as unknown as new (...a: never[]) => Error));

/** NaN anywhere in a result: tensors, typed arrays, numbers, arrays and plain objects (a few levels deep). */
export function findNaN(x: unknown, depth = 0, seen = new Set<unknown>()): string | null {
  if (typeof x === 'number') return Number.isNaN(x) ? 'NaN' : null;
  if (x === null || typeof x !== 'object' || depth > 4 || seen.has(x)) return null;
  seen.add(x);
  if (x instanceof Tensor) {
    for (let i = 0; i < x.data.length; i++) if (Number.isNaN(x.data[i])) return `NaN at flat index ${i} of a [${x.shape.join(',')}] tensor`;
    return null;
  }
  if (ArrayBuffer.isView(x)) {
    const a = x as unknown as ArrayLike<number>;
    if (typeof a.length === 'number') for (let i = 0; i < a.length; i++) if (Number.isNaN(a[i])) return `NaN at index ${i}`;
    return null;
  }
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length && i < 4096; i++) {
      const r = findNaN(x[i], depth + 1, seen);
      if (r) return `[${i}]: ${r}`;
    }
    return null;
  }
  const proto = Object.getPrototypeOf(x);
  if (proto !== Object.prototype && proto !== null) return null; // a module or other instance: not scanned
  for (const [k, v] of Object.entries(x)) {
    const r = findNaN(v, depth + 1, seen);
    if (r) return `.${k}: ${r}`;
  }
  return null;
}

function show(v: unknown): string {
  if (v instanceof Tensor) return `Tensor[${v.shape.join(',')}]`;
  if (typeof v === 'string') return `'${v.length > 16 ? v.slice(0, 16) + '…' : v}'`;
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  if (typeof v === 'function') return 'fn';
  if (Array.isArray(v)) return `[${v.slice(0, 4).map(show).join(',')}${v.length > 4 ? ',…' : ''}]`;
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype) return proto?.constructor?.name ?? 'object';
    const entries = Object.entries(v as object);
    return `{${entries.slice(0, 3).map(([k, x]) => `${k}:${show(x)}`).join(',')}${entries.length > 3 ? ',…' : ''}}`;
  }
  return String(v);
}

function firstLine(e: unknown): string {
  if (e instanceof Error) return `${e.constructor?.name ?? e.name}: ${e.message.split('\n')[0]!.slice(0, 160)}`;
  return `threw a non-Error ${show(e)}`;
}

function describeCase(entryName: string, c: Case, args: readonly ArgSpec[]): { call: string; input: string } {
  const call = c.target === '' ? entryName : `${entryName}.${c.target}`;
  if (c.argIndex < 0 || !c.corruption) return { call, input: 'a valid call' };
  const arg = args[c.argIndex]!;
  const where = c.field ? `${arg.name}.${c.field}` : arg.name;
  return { call, input: `${where} = ${c.corruption.label}` };
}

async function runCase(entry: Exclude<Entry, { type: 'exempt' }>, c: Case): Promise<Outcome> {
  const isClass = entry.type === 'class';
  const m = isClass && c.target !== '' ? entry.methods.find((x) => x.name === c.target)! : null;
  const specs = m ? m.args : entry.args;
  const { call, input } = describeCase(entry.name, c, specs);
  const out = (category: Category, detail: string): Outcome => ({ export: entry.name, call, input, category, detail });
  let args: unknown[];
  let invoke: (a: unknown[]) => unknown;
  try {
    if (m && entry.type === 'class') {
      const Make = (entry.make ?? rootExports[entry.name]) as new (...a: unknown[]) => unknown;
      const self = new Make(...entry.build()) as Record<string, (...a: unknown[]) => unknown>;
      args = m.build(self);
      invoke = (a) => self[m.name]!(...a);
    } else if (entry.type === 'class') {
      const Make = (entry.make ?? rootExports[entry.name]) as new (...a: unknown[]) => unknown;
      args = entry.build();
      invoke = (a) => new Make(...a);
    } else {
      const f = rootExports[entry.name] as (...a: unknown[]) => unknown;
      args = entry.build();
      invoke = (a) => f(...a);
    }
  } catch (e) {
    // The instance (or the valid arguments) could not be built: reported once, at the valid call; the bad-input
    // calls of that method are skipped, since there is nothing valid to corrupt.
    return c.corruption ? out('skipped', 'not run: the valid call could not be built') : out('refused-valid', `building the valid call failed: ${firstLine(e)}`);
  }
  const corruption = c.corruption;
  if (corruption) {
    const valid = args[c.argIndex];
    if (c.field !== undefined) {
      const base = valid !== null && typeof valid === 'object' && !Array.isArray(valid) ? (valid as Record<string, unknown>) : {};
      args = args.slice();
      args[c.argIndex] = { ...base, [c.field]: corruption.make(base[c.field]) };
    } else {
      args = args.slice();
      while (args.length <= c.argIndex) args.push(undefined);
      args[c.argIndex] = corruption.make(valid);
    }
  }
  let result: unknown;
  try {
    result = invoke(args);
    if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') result = await result;
  } catch (e) {
    if (!isTyped(e)) return out(corruption ? 'unclear' : 'refused-valid', firstLine(e));
    const msg = (e as Error).message;
    const name = entry.name;
    const named =
      entry.type === 'class'
        ? msg.startsWith(`${name}:`) || msg.startsWith(`${name}.`) || (m?.aliasOf !== undefined && msg.startsWith(`${m.aliasOf}:`))
        : msg.startsWith(`${name}:`);
    if (!corruption) return out('refused-valid', firstLine(e));
    if (!named) return out('wrong-name', firstLine(e));
    return out('typed', firstLine(e));
  }
  const nan = findNaN(result);
  if (corruption?.mustRefuse) return out('silent', `accepted it and returned ${show(result)}${nan ? ` (${nan})` : ''}`);
  if (nan && !corruption?.nonFinite && !(m ? m.nanOk : entry.type === 'function' && entry.nanOk)) {
    return out('silent-nan', `returned ${nan} from finite inputs`);
  }
  return out('ok', 'returned a finite result');
}

/** Where the entries' names are looked up: the package root, or a subpath entry's surface (robustnessSuite sets it). */
let rootExports = rootNamespace as unknown as Record<string, unknown>;

// ───────────────────────────── worker protocol ─────────────────────────────

/** A call that sends no word for this long is reported as a hang and its worker is replaced. */
const CASE_TIMEOUT_MS = 4000;

type Request = { entry: string; from: number };
type Reply =
  | { type: 'start'; index: number; call: string; input: string }
  | { type: 'case'; index: number; outcome: Outcome }
  | { type: 'end'; count: number };

/** Set in the child processes that run the calls. */
const CHILD_ENV = 'ROPELAB_ROBUSTNESS_CHILD';
const send = (r: Reply) => process.send!(r);

function serveEntries(entries: readonly Entry[]): void {
  const byName = new Map(entries.map((e) => [e.name, e]));
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (req: Request) => {
    const entry = byName.get(req.entry)!;
    if (entry.type === 'exempt') {
      send({ type: 'end', count: 0 } satisfies Reply);
      return;
    }
    const cases = casesFor(entry);
    for (let i = req.from; i < cases.length; i++) {
      const c = cases[i]!;
      const specs = c.target === '' || entry.type !== 'class' ? entry.args : entry.methods.find((x) => x.name === c.target)!.args;
      send({ type: 'start', index: i, ...describeCase(entry.name, c, specs) } satisfies Reply);
      const outcome = await runCase(entry, cases[i]!);
      send({ type: 'case', index: i, outcome } satisfies Reply);
    }
    send({ type: 'end', count: cases.length } satisfies Reply);
  });
}

class CasePool {
  private worker: ChildProcess | null = null;
  constructor(private readonly file: string) {}

  private spawn(): ChildProcess {
    this.worker ??= fork(this.file, [], {
      env: { ...process.env, [CHILD_ENV]: '1' },
      execArgv: ['--enable-source-maps', '--max-old-space-size=768'],
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    });
    return this.worker;
  }

  async close(): Promise<void> {
    const child = this.worker;
    this.worker = null;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  }

  /** Every outcome of one entry's cases; a case that hangs or kills its worker becomes a 'hang' outcome. */
  async run(entry: Entry): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    let from = 0;
    let current = { call: entry.name, input: 'case #0' };
    for (;;) {
      const worker = this.spawn();
      const done = await new Promise<'end' | 'stuck'>((resolve) => {
        let timer = setTimeout(() => finish('stuck'), CASE_TIMEOUT_MS);
        const onMessage = (r: Reply) => {
          clearTimeout(timer);
          if (r.type === 'end') return finish('end');
          if (r.type === 'start') {
            current = { call: r.call, input: r.input };
            timer = setTimeout(() => finish('stuck'), CASE_TIMEOUT_MS);
            return;
          }
          outcomes.push(r.outcome);
          from = r.index + 1;
          timer = setTimeout(() => finish('stuck'), CASE_TIMEOUT_MS);
        };
        const onError = (code: number | null, signal: string | null) => {
          clearTimeout(timer);
          outcomes.push({ export: entry.name, ...current, category: 'hang', detail: `killed its process (exit code ${code}, signal ${signal}): out of memory or a crash` });
          from += 1;
          finish('stuck', true);
        };
        const finish = (how: 'end' | 'stuck', reported = false) => {
          clearTimeout(timer);
          worker.off('message', onMessage);
          worker.off('exit', onError);
          if (how === 'stuck' && !reported) {
            outcomes.push({ export: entry.name, ...current, category: 'hang', detail: `no answer within ${CASE_TIMEOUT_MS} ms (a hang or a huge loop)` });
            from += 1;
          }
          resolve(how);
        };
        worker.on('message', onMessage);
        worker.on('exit', onError);
        worker.send({ entry: entry.name, from } satisfies Request);
      });
      if (done === 'end') return outcomes;
      await this.close();
    }
  }
}

// ───────────────────────────── the suite ─────────────────────────────

/** Compact failure lines for an assertion message. */
export function formatFailures(outcomes: readonly Outcome[]): string {
  return outcomes.map((o) => `  [${o.category}] ${o.call}(${o.input}) → ${o.detail}`).join('\n');
}

/**
 * Register one uvu test per entry of `entries` (the test process), or serve their calls (a child process). Call it from
 * each folder's test file with that file's `import.meta.url`; a subpath entry that the root does not re-export (e.g.
 * ropelab/testing) passes its own `surface`. With ROBUSTNESS_REPORT=<file>, every outcome is
 * appended to that file as a JSON line (tests/robustness/write-report.mjs turns it into the failure list).
 */
export function robustnessSuite(folder: string, entries: readonly Entry[], moduleUrl: string, surface?: Record<string, unknown>): void {
  if (surface !== undefined) rootExports = surface;
  if (process.env[CHILD_ENV] === '1') {
    serveEntries(entries);
    return;
  }
  const pool = new CasePool(fileURLToPath(moduleUrl));
  const report = process.env['ROBUSTNESS_REPORT'];
  for (const entry of entries) {
    if (entry.type === 'exempt') continue;
    test(`robustness ${folder}: ${entry.name}`, async () => {
      const outcomes = await pool.run(entry);
      if (report) appendFileSync(report, outcomes.map((o) => JSON.stringify({ folder, ...o })).join('\n') + '\n');
      const failures = outcomes.filter((o) => FAILING.has(o.category));
      if (failures.length > 0) {
        const err = new Error(`${entry.name}: ${failures.length} of ${outcomes.length} calls broke the rule of issue #10:\n${formatFailures(failures)}`);
        err.stack = ''; // uvu prints the message; a stack would repeat it and point into the harness
        throw err;
      }
    });
  }
  test.after(() => pool.close());
  test.run();
}
