/** The one assertion of the trust tests: a call is refused with one of ropelab's typed errors, named after the call. */
import * as assert from 'uvu/assert';
import { AutogradError, AxisError, DTypeError, IndexError, ShapeError, ValueError } from '../../core/index.js';

type ErrorClass = abstract new (...args: never[]) => Error;
const TYPED: readonly ErrorClass[] = [DTypeError, ValueError, ShapeError, AxisError, IndexError, AutogradError];

export interface RefusalExpectation {
  /** Shown in the failure message (default: the op). */
  label?: string;
  /** The error's `arg` (the argument at fault), when the test pins it. */
  arg?: string;
  /** Words the message must mention (case-insensitive). */
  words?: readonly string[];
}

/**
 * `fn()` throws an instance of `type` — one of ropelab's typed errors, never a bare engine TypeError/RangeError —
 * whose message starts with `${op}: ` and whose `op` field is `op`.
 */
export function assertRefused(fn: () => unknown, type: ErrorClass, op: string, expect: RefusalExpectation = {}): void {
  const what = expect.label ?? `${op}${expect.arg === undefined ? '' : ` ${expect.arg}`}`;
  let error: unknown = null;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  assert.ok(error !== null, `${what}: did not throw`);
  const e = error as Error & { op?: string; arg?: string };
  assert.ok(TYPED.some((C) => e instanceof C), `${what}: threw an untyped ${e.name}: ${e.message}`);
  assert.ok(e instanceof type, `${what}: expected ${type.name}, got ${e.name}: ${e.message}`);
  assert.ok(e.message.startsWith(`${op}: `), `${what}: message does not start with '${op}: ' — ${e.message}`);
  assert.is(e.op, op, `${what}: op`);
  if (expect.arg !== undefined) assert.is(e.arg, expect.arg, `${what}: arg (${e.message})`);
  for (const w of expect.words ?? []) assert.ok(e.message.toLowerCase().includes(w.toLowerCase()), `${what}: '${e.message}' mentions ${w}`);
}
