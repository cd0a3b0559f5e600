/**
 * The 'gpujs' backend: core/gpujs/kernels.ts's gpu.js kernels in the registry of core/backend.ts. gpu.js
 * (https://github.com/gpujs/gpu.js, pinned at exactly GPUJS_VERSION) is an optional peer: it is imported by a dynamic
 * import in `prepare` (core/backend.ts's `prepareBackend('gpujs')`), never statically, so ropelab loads, type-checks
 * and runs everything without it; until `prepare` has succeeded the backend says why it cannot run and how to
 * install gpu.js.
 *
 *   await prepareBackend('gpujs');            // imports gpu.js (rejects with why and how to install it)
 *   setBackend('gpujs', { mode: 'webasm' });  // one gpu.js instance per mode, built on first use, kept until released
 *   releaseBackend('gpujs');                   // destroys every instance's kernels and textures
 */
import type { BackendDefinition, BackendOptions, Kernels } from '../backend.js';
import { GPUJS_MODES, GpuJsKernels, type GpuJsMode, type GpuJsModule } from './kernels.js';

/** The exact gpu.js version this backend is written and tested against (gpu.js changes fast). */
export const GPUJS_VERSION = '2.24.1';

/**
 * How to install gpu.js so that its optional native `gl` is never built (a source build that needs X headers):
 * --ignore-scripts. Not --omit=optional: in an install that omits optional dependencies from the whole tree on
 * disk, npm also removes esbuild's platform binary (@esbuild/linux-x64), which the tests and builds need.
 */
export const GPUJS_INSTALL = `npm run peers:install (or: npm install --no-save --ignore-scripts gpu.js@${GPUJS_VERSION})`;

/** The mode used when setBackend('gpujs') names none: gpu.js's own pick (WebGL2/WebGL where they work, else webasm). */
export const GPUJS_DEFAULT_MODE: GpuJsMode = 'gpu';

/** The imported gpu.js module, or null until prepare succeeded. */
let gpujs: GpuJsModule | null = null;
/** Why the last prepare failed, or null. */
let failure: string | null = null;
/** One kernel set per mode, built on first use of the mode; the active one. */
const instances = new Map<GpuJsMode, GpuJsKernels>();
let mode: GpuJsMode = GPUJS_DEFAULT_MODE;

/** The module name, in a variable so that neither TypeScript nor a bundler resolves it (it may be absent). */
const GPUJS_SPECIFIER = 'gpu.js';

/** Imports gpu.js; a module without the GPU class (another version's layout) is a failure too. */
async function importGpuJs(importModule: () => Promise<unknown>): Promise<GpuJsModule> {
  const ns = (await importModule()) as { GPU?: unknown; default?: { GPU?: unknown } } | null;
  const mod = typeof ns?.GPU === 'function' ? ns : ns?.default;
  if (typeof mod?.GPU !== 'function') throw new Error(`the module has no GPU class (this backend expects gpu.js ${GPUJS_VERSION})`);
  return mod as GpuJsModule;
}

/** The kernels of the current mode, built on first use (throws gpu.js's reason when the mode cannot run here). */
function current(): GpuJsKernels {
  let k = instances.get(mode);
  if (k === undefined) {
    k = new GpuJsKernels(gpujs!, mode);
    instances.set(mode, k);
  }
  return k;
}

/** The kernels of the active mode (null before the first setBackend('gpujs') or after release). Internal: tests, benches. */
export function gpujsKernels(): GpuJsKernels | null {
  return instances.get(mode) ?? null;
}

export const gpujsBackend: BackendDefinition = {
  name: 'gpujs',
  optionNames: ['mode'],
  unavailable: () => {
    if (gpujs !== null) return null;
    if (failure !== null) return `gpu.js could not be imported (${failure}); install the optional peer: ${GPUJS_INSTALL}`;
    return `gpu.js is imported asynchronously: \`await prepareBackend('gpujs')\` first (it needs the optional peer gpu.js@${GPUJS_VERSION}: ${GPUJS_INSTALL})`;
  },
  prepare: async (importModule) => {
    if (gpujs !== null) return;
    try {
      gpujs = await importGpuJs(importModule ?? (() => import(GPUJS_SPECIFIER)));
      failure = null;
    } catch (e) {
      failure = e instanceof Error ? e.message.split('\n')[0]! : String(e);
      throw new Error(`gpu.js could not be imported (${failure}); install the optional peer: ${GPUJS_INSTALL}`);
    }
  },
  // the table dispatches to the current mode's kernels, so a mode switch needs no reload
  load: (): Partial<Kernels> => ({
    gemm: (M, N, K, a, aOff, transA, b, bOff, transB, c, cOff, accumulate) => current().gemm(M, N, K, a, aOff, transA, b, bOff, transB, c, cOff, accumulate),
    unary: (name, x, out) => current().unary(name, x, out),
    attentionForward: (head, P, pOff, out, oOff) => current().attentionForward(head, P, pOff, out, oOff),
    softmax: (x, out, rows, n) => current().softmax(x, out, rows, n),
    rotate: (layout, x, out, cos, sin, cScale, sScale, outer, T, D, P, angleOuter) => current().rotate(layout, x, out, cos, sin, cScale, sScale, outer, T, D, P, angleOuter),
  }),
  configure: (options: BackendOptions) => {
    const next = options.mode ?? GPUJS_DEFAULT_MODE;
    if (!(GPUJS_MODES as readonly string[]).includes(next)) {
      throw new Error(`options.mode must be one of ${GPUJS_MODES.map((m) => `'${m}'`).join(', ')}, got ${JSON.stringify(next)}`);
    }
    // build the mode's gpu.js instance now, so a mode this engine lacks fails here, before anything changes
    if (!instances.has(next as GpuJsMode)) {
      let k: GpuJsKernels;
      try {
        k = new GpuJsKernels(gpujs!, next as GpuJsMode);
      } catch (e) {
        throw new Error(`gpu.js mode '${next}' cannot run here: ${e instanceof Error ? e.message : String(e)}`);
      }
      const problem = k.readbackProblem(); // e.g. webgpu: its results are not read back synchronously
      if (problem !== null) {
        k.dispose();
        throw new Error(`gpu.js mode '${next}' cannot serve ropelab's synchronous kernels: ${problem}`);
      }
      instances.set(next as GpuJsMode, k);
    }
    mode = next as GpuJsMode;
  },
  options: () => ({ mode }),
  release: () => {
    for (const k of instances.values()) k.dispose();
    instances.clear();
    mode = GPUJS_DEFAULT_MODE;
  },
};
