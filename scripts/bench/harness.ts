/**
 * Shared benchmark plumbing: median timing, an environment header, aligned tables, and TF.js (cpu and wasm
 * backends, loaded offline from node_modules) as the peer measured in the same run. TF.js is not installed by
 * `npm ci`: `npm run peers:install` adds the exact versions in package.json's `peers:install` script.
 */
import { cpus } from 'node:os';
import { Worker, type MessagePort } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TF_CORE_FUNCTIONS, type TfCore, type TfUmbrella } from './tfjs-types.js';
import { backendNames, getBackend, getNumThreads, setBackend, setNumThreads } from '../../core/index.js';

export type PeerBackend = 'cpu' | 'wasm';

export { fmt, median, medianMs, pairedMediansMs } from './timing.js';

/** max |a − b| / max |b|: how far a result is from a reference, relative to the reference's size. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return den === 0 ? num : num / den;
}

export function printEnvironment(title: string): void {
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  console.log(`${title}\nnode ${process.version} · ${cpu} · ${cpus().length} cores\n`);
}

/** Print rows as a table with right-aligned columns. */
export function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join(' │ ');
  console.log(line(header));
  console.log(widths.map((w) => '─'.repeat(w)).join('─┼─'));
  for (const r of rows) console.log(line(r));
  console.log();
}


/** The benchmark peers, exactly as `npm run peers:install` installs them (package.json). */
export const TF_PEERS = ['@tensorflow/tfjs', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm'] as const;

/** The TF.js peers that do not resolve from here (none once `npm run peers:install` has run). */
export function missingPeers(): string[] {
  const require = createRequire(import.meta.url);
  return TF_PEERS.filter((name) => {
    try {
      require.resolve(name);
      return false;
    } catch {
      return true;
    }
  });
}

/**
 * Exits with one line on stderr when the TF.js peers are not installed (they are not part of `npm ci`). Call it
 * before any work, in the process that runs the benchmark.
 */
export function requirePeers(script: string): void {
  const missing = missingPeers();
  if (missing.length === 0) return;
  console.error(`${script}: the benchmark peers are not installed (${missing.join(', ')}) — run \`npm run peers:install\` first`);
  process.exit(2);
}

/**
 * Imports a peer by a name TypeScript does not resolve (TF.js need not be installed to type-check the benchmarks;
 * tfjs-types.ts types what they use) and checks that the functions the benchmarks call are there.
 */
export async function importTf<T extends TfCore>(name: (typeof TF_PEERS)[number]): Promise<T> {
  const tf = (await import(name)) as Record<string, unknown>;
  const absent = TF_CORE_FUNCTIONS.filter((f) => typeof tf[f] !== 'function');
  if (absent.length > 0) throw new Error(`${name} ${String(tf['version_core'])} lacks ${absent.join(', ')} (the benchmarks expect TF.js 4.22)`);
  return tf as unknown as T;
}

/**
 * TF.js with its cpu and wasm backends registered; wasm binaries are read from node_modules (no network).
 * Time ropelab before the wasm backend starts, or run TF.js in a worker thread (its own isolate): growing
 * WebAssembly memory detaches an ArrayBuffer, after which V8 adds a check to every typed-array access in
 * optimized JS for the rest of the process (20–30% slower here; ropelab's matmul kernel is spared, see
 * core/kernels/matmul.ts, its other typed-array loops are not).
 */
export async function loadTf(): Promise<TfCore> {
  const tf = await importTf('@tensorflow/tfjs-core');
  await import(TF_PEERS[2]);
  const wasm = (await import(TF_PEERS[3])) as { setWasmPaths(prefix: string): void };
  const require = createRequire(import.meta.url);
  const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(`${pathToFileURL(wasmDir).href}/`);
  return tf;
}

/** The `@tensorflow/tfjs` umbrella (for its gradients) with the cpu and wasm backends registered. */
export async function loadTfUmbrella(): Promise<TfUmbrella> {
  const tf = await importTf<TfUmbrella>('@tensorflow/tfjs');
  // loadTf imports tfjs-core and the backends; Node resolves both packages to the same CommonJS tfjs-core the
  // umbrella uses, so the wasm backend registers on the engine whose ops have gradients
  const core = await loadTf();
  if (core.engine() !== tf.engine()) throw new Error('@tensorflow/tfjs and @tensorflow/tfjs-core resolved to different copies');
  tf.enableProdMode(); // silences the "install tfjs-node" banner
  return tf;
}

/** A reply of a peer worker (PeerWorker / servePeer): one per request, in order. */
type PeerReply = { ok: true; value: unknown } | { ok: false; error: string };

/**
 * Main side of a worker thread that runs TF.js. TF.js runs in its own thread, i.e. its own V8 isolate: starting its
 * wasm backend detaches an ArrayBuffer, which slows every typed-array access in that isolate (see loadTf), and this
 * keeps ropelab's thread out of it, so ropelab and each TF.js backend can be timed in alternation. The worker runs
 * `script` (the benchmark's own bundle, `new URL(import.meta.url)`) with workerData { role }, and answers through
 * servePeer.
 */
export class PeerWorker<Request> {
  private readonly waiting: ((reply: PeerReply) => void)[] = [];

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: PeerReply) => this.waiting.shift()?.(reply));
    worker.on('error', (err) => {
      for (const w of this.waiting.splice(0)) w({ ok: false, error: err.stack ?? String(err) });
    });
  }

  /** Starts the worker and waits for its 'ready'. */
  static async start<Request>(script: URL, role: string): Promise<PeerWorker<Request>> {
    const w = new PeerWorker<Request>(new Worker(script, { workerData: { role } }));
    await w.reply();
    return w;
  }

  /** Sends one request; resolves to the worker's answer, rejects with its error. */
  call<T>(req: Request): Promise<T> {
    const reply = this.reply() as Promise<T>;
    this.worker.postMessage(req);
    return reply;
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }

  private reply(): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.waiting.push((r) => (r.ok ? resolve(r.value) : reject(new Error(`TF.js worker: ${r.error}`))));
    });
  }
}

/** Worker side of a PeerWorker: says 'ready', then answers each request with `handle`'s value (or its error), one at a time. */
export function servePeer<Request>(port: MessagePort, handle: (req: Request) => Promise<unknown>): void {
  let queue = Promise.resolve();
  port.on('message', (req: Request) => {
    queue = queue.then(async () => {
      try {
        port.postMessage({ ok: true, value: await handle(req) } satisfies PeerReply);
      } catch (err) {
        port.postMessage({ ok: false, error: (err as Error).stack ?? String(err) } satisfies PeerReply);
      }
    });
  });
  port.postMessage({ ok: true, value: 'ready' } satisfies PeerReply);
}

export async function useBackend(tf: TfCore, backend: PeerBackend): Promise<boolean> {
  try {
    const ok = await tf.setBackend(backend);
    await tf.ready();
    return ok && tf.getBackend() === backend;
  } catch (err) {
    console.warn(`TF.js ${backend} backend unavailable: ${(err as Error).message}`);
    return false;
  }
}

/**
 * ropelab variants the benchmarks time: 'js' (the scalar reference), 'wasm' on one thread and 'wasm×2' on two, where
 * this engine has WebAssembly SIMD (and worker threads on a shared memory for 'wasm×2'). Each is pinned explicitly:
 * the default backend and thread count are chosen by calibration.
 */
export type RopelabVariant = 'js' | 'wasm' | 'wasm×2';
const VARIANT_SETTING: Record<RopelabVariant, { backend: string; threads: number }> = {
  js: { backend: 'js', threads: 1 },
  wasm: { backend: 'wasm', threads: 1 },
  'wasm×2': { backend: 'wasm', threads: 2 },
};

/** Runs fn on `variant` (its backend and thread count), then restores the backend and threads active before. */
export function onRopelab<T>(variant: RopelabVariant, fn: () => T): T {
  const before = { backend: getBackend(), threads: getNumThreads() };
  setBackend(VARIANT_SETTING[variant].backend);
  setNumThreads(VARIANT_SETTING[variant].threads);
  try {
    return fn();
  } finally {
    setBackend(before.backend);
    setNumThreads(before.threads);
  }
}

/** The variants this engine can run, 'js' first. */
export function ropelabVariants(): RopelabVariant[] {
  if (!backendNames().includes('wasm')) return ['js'];
  try {
    onRopelab('wasm×2', () => undefined); // setNumThreads(2) throws, saying why, where threads cannot run
    return ['js', 'wasm', 'wasm×2'];
  } catch {
    return ['js', 'wasm'];
  }
}
