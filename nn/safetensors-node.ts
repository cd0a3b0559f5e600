/**
 * safetensors checkpoints on disk (Node). The fs modules are imported inside the functions, through a specifier
 * bundlers do not follow, so nn/ bundles for the browser (where these two throw; serializeSafetensors and
 * parseSafetensors work on bytes everywhere).
 */
import { DTypeError, ValueError, describeValue, expectOptions, type Module } from '../core/index.js';
import { expectModule, optionalBoolean } from './checks.js';
import { checkMetadata, parseSafetensors, serializeSafetensors } from './safetensors.js';

/** A file path: a non-empty string. */
function expectPath(op: string, path: unknown): asserts path is string {
  if (typeof path !== 'string') throw new DTypeError(op, `path must be a string, got ${describeValue(path)}`, 'path');
  if (path.length === 0) throw new ValueError(op, 'path is empty', 'path');
}

type Fs = typeof import('node:fs/promises');
type NodePath = typeof import('node:path');

/**
 * Node built-in `name`, imported at call time. The specifier is a parameter, so bundlers targeting the browser
 * leave the import alone instead of failing to resolve a `node:` module; where there is no such module, `op`
 * throws saying so.
 */
async function nodeBuiltin<T>(op: string, name: string): Promise<T> {
  try {
    return (await import(/* @vite-ignore */ /* webpackIgnore: true */ name)) as T;
  } catch (cause) {
    const err = new ValueError(op, `needs Node's ${name}, which this runtime does not have (use serializeSafetensors / parseSafetensors on bytes)`);
    (err as { cause?: unknown }).cause = cause;
    throw err;
  }
}

/**
 * Write `module.stateDict()` to `path` as safetensors (F32/F64 as the parameters are), with `metadata` as the
 * header's `__metadata__` (e.g. the model config as JSON text). Parent folders are created. The bytes go to a
 * temporary file in the same folder, flushed to disk, then renamed over `path`, so a crash leaves either the old
 * checkpoint or the new one, never half of one.
 */
export async function saveSafetensors(module: Module, path: string, metadata?: Readonly<Record<string, string>>): Promise<void> {
  expectModule('saveSafetensors', 'module', module);
  expectPath('saveSafetensors', path);
  if (metadata !== undefined) checkMetadata('saveSafetensors', metadata);
  const bytes = serializeSafetensors(module.stateDict(), metadata);
  const fs = await nodeBuiltin<Fs>('saveSafetensors', 'node:fs/promises');
  const nodePath = await nodeBuiltin<NodePath>('saveSafetensors', 'node:path');
  await fs.mkdir(nodePath.dirname(nodePath.resolve(path)), { recursive: true });
  const tmp = `${path}.${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}.tmp`;
  try {
    const handle = await fs.open(tmp, 'wx');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, path);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

/** Options of `loadSafetensors`: `strict`. */
export interface LoadSafetensorsOptions {
  /** Require the file's tensor names to be exactly the module's parameter names (default true). */
  strict?: boolean;
}

/** What `loadSafetensors` reports: the file's metadata and, for non-strict loads, the missing and unexpected names. */
export interface LoadSafetensorsResult {
  /** The header's `__metadata__` ({} when absent). */
  metadata: Record<string, string>;
  /** Parameters the file has no tensor for (non-strict loads only; strict loads throw instead). */
  missing: string[];
  /** Tensors in the file that name no parameter (non-strict loads only). */
  unexpected: string[];
}

/**
 * Load a safetensors file into `module`'s parameters, in place. The whole file is parsed and validated first
 * (parseSafetensors), then Module.loadStateDict checks every name and shape before copying anything (converting
 * dtypes on copy), so a corrupt file or a mismatched checkpoint throws and leaves the module untouched.
 */
export async function loadSafetensors(module: Module, path: string, options: LoadSafetensorsOptions = {}): Promise<LoadSafetensorsResult> {
  expectModule('loadSafetensors', 'module', module);
  expectPath('loadSafetensors', path);
  const strict = optionalBoolean('loadSafetensors', 'strict', expectOptions('loadSafetensors', 'options', options, ['strict']).strict) ?? true;
  const fs = await nodeBuiltin<Fs>('loadSafetensors', 'node:fs/promises');
  const file = await fs.readFile(path);
  const { tensors, metadata } = parseSafetensors(file);
  const { missing, unexpected } = module.loadStateDict(tensors, { strict });
  return { metadata, missing, unexpected };
}
