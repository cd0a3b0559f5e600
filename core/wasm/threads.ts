/**
 * Worker threads for the wasm kernels: `worker_threads` in Node, Web Workers in a browser, each instantiating the
 * same kernel modules on the heap's shared `WebAssembly.Memory`, so that a product's packed operands are visible to
 * every thread without a copy. Only a shared memory allows this (Node; browsers on cross-origin isolated pages); with
 * an unshared one there are no threads and every kernel runs on the calling thread.
 *
 * One job at a time, synchronous for the caller: the calling thread writes each worker's part into that worker's
 * control block (an Int32Array on a SharedArrayBuffer), bumps the job number and notifies; it does its own part;
 * then it waits until every worker has stored the job number as done. Parts are disjoint column strips of C, so
 * the result does not depend on the thread count (the same sums in the same order).
 *
 *   control block (Int32Array):  [JOB, DONE, READY, FAILED, KERNEL, a, b, c, Mp, Np, K, s0, s1, accumulate]
 *
 * A worker waits on JOB with Atomics.wait (it never returns to its event loop), so Node workers are unref'd: a
 * process whose main thread has finished exits, ending them. A worker that throws stores FAILED and DONE, and the
 * caller throws. Workers start when the thread count is raised, not on first use; in Node the caller waits (at
 * most READY_TIMEOUT_MS) for them to be ready, in a browser a product runs on the calling thread until they are.
 */
import type { Blocked } from './gemm.js';
import type { WasmHeap } from './heap.js';

const JOB = 0;
const DONE = 1;
const READY = 2;
const FAILED = 3;
const KERNEL = 4;
const ARGS = 5;
const CONTROL_INTS = ARGS + 9;
/** How long a Node caller waits for a new worker to instantiate the modules before running without it. */
const READY_TIMEOUT_MS = 10_000;
/** A job a worker has not finished after this long is reported as an error rather than waited on for ever. */
const JOB_TIMEOUT_MS = 120_000;

/** What a worker is started with: the memory, the kernel modules (by kernel index) and its control block. */
interface ThreadInit {
  memory: WebAssembly.Memory;
  modules: WebAssembly.Module[];
  control: SharedArrayBuffer;
}

/**
 * The body of every worker, started from its source text (`threadMain.toString()`), so it must use nothing but
 * globals: instantiate each module, say READY, then run jobs for ever.
 */
function threadMain(init: ThreadInit): void {
  const ctl = new Int32Array(init.control);
  const kernels = init.modules.map((m) => new WebAssembly.Instance(m, { env: { memory: init.memory } }).exports['blocked'] as Blocked);
  Atomics.store(ctl, 2, 1); // READY
  Atomics.notify(ctl, 2);
  let seen = 0;
  for (;;) {
    Atomics.wait(ctl, 0, seen); // JOB
    seen = Atomics.load(ctl, 0);
    try {
      kernels[ctl[4]!]!(ctl[5]!, ctl[6]!, ctl[7]!, ctl[8]!, ctl[9]!, ctl[10]!, ctl[11]!, ctl[12]!, ctl[13]!);
    } catch {
      Atomics.store(ctl, 3, 1); // FAILED
    }
    Atomics.store(ctl, 1, seen); // DONE
    Atomics.notify(ctl, 1);
  }
}

/** The worker script: Node passes the init as workerData, a browser as the first message. */
function workerSource(): string {
  return `'use strict';
const threadMain = ${threadMain.toString()};
if (typeof require === 'function') threadMain(require('node:worker_threads').workerData);
else self.onmessage = (e) => threadMain(e.data);
`;
}

interface NodeWorker {
  unref(): void;
}
interface WorkerThreadsModule {
  Worker: new (source: string, options: { eval: true; workerData: ThreadInit }) => NodeWorker;
}

/** A Node built-in module, loaded synchronously (process.getBuiltinModule, Node ≥ 20.16), or undefined outside Node. */
function nodeBuiltin<T>(id: string): T | undefined {
  return (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.(id) as T | undefined;
}

/** Node's worker_threads, or null outside Node. */
function nodeWorkerThreads(): WorkerThreadsModule | null {
  return nodeBuiltin<WorkerThreadsModule>('node:worker_threads') ?? null;
}

/** Cores this engine reports: os.availableParallelism() in Node, navigator.hardwareConcurrency in a browser, else 1. */
export function availableCores(): number {
  const n = nodeBuiltin<{ availableParallelism?: () => number }>('node:os')?.availableParallelism?.() ?? (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

/** Whether this thread may block in Atomics.wait (Node's main thread may; a browser's main thread may not). */
function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0); // value differs: returns at once where allowed
    return true;
  } catch {
    return false;
  }
}

/** A worker, known by its control block; it lives as long as the process (or page). */
interface Thread {
  control: Int32Array;
}

/** Why threads cannot run in this engine with this heap, or null when they can. */
export function threadsUnavailableReason(heap: WasmHeap): string | null {
  if (!heap.shared) return 'the wasm memory is not shared (a browser page must be cross-origin isolated for SharedArrayBuffer)';
  // Chromium makes a shared WebAssembly.Memory on a page that is not cross-origin isolated, but no SharedArrayBuffer
  // for the threads' control block, and cannot post the memory to a worker
  if (typeof SharedArrayBuffer !== 'function') return 'SharedArrayBuffer is not available (a browser page must be cross-origin isolated)';
  if (nodeWorkerThreads() === null && typeof Worker !== 'function') return 'this engine has neither worker_threads nor Web Workers';
  return null;
}

export class ThreadPool {
  private readonly threads: Thread[] = [];
  private readonly blocking = canBlock();
  private job = 0;
  private target = 1;

  /** `modules[k]` exports `blocked`, the kernel a job names by index k; all are instantiated on `heap.memory`. */
  constructor(private readonly heap: WasmHeap, private readonly modules: WebAssembly.Module[]) {}

  /** Threads a job may use, the calling one included. */
  get size(): number {
    return this.target;
  }

  /** Workers started so far (they start at the first job that uses them). */
  get started(): number {
    return this.threads.length;
  }

  /**
   * Sets `size` to n (n ≥ 1; the caller has checked it). Missing workers start at the next job that uses them;
   * surplus ones stay parked in Atomics.wait (no CPU), so that lowering and raising the count costs nothing.
   */
  resize(n: number): void {
    this.target = n;
  }

  /** How many workers have instantiated their modules and take jobs (tests and checks read it). */
  get readyCount(): number {
    return this.ready().length;
  }

  /** Workers that have instantiated their modules (a browser's start asynchronously). */
  private ready(): Thread[] {
    return this.threads.filter((t) => Atomics.load(t.control, READY) === 1);
  }

  /**
   * Runs the `blocked` kernel of `module` (`own` is the calling thread's instance of it) over strips [0, strips) of a packed product, split into contiguous ranges: the first for
   * the calling thread (`own`), one for each ready worker. Returns when all are done.
   */
  run(module: WebAssembly.Module, own: Blocked, a: number, b: number, c: number, Mp: number, Np: number, K: number, strips: number, accumulate: number): void {
    while (this.threads.length < this.target - 1) this.threads.push(this.start());
    const kernel = this.modules.indexOf(module);
    const workers = kernel < 0 ? [] : this.ready().slice(0, this.target - 1);
    const parts = Math.min(workers.length + 1, strips);
    const bound = (i: number): number => Math.round((strips * i) / parts);
    const job = ++this.job;
    for (let w = 0; w + 1 < parts; w++) {
      const ctl = workers[w]!.control;
      ctl.set([kernel, a, b, c, Mp, Np, K, bound(w + 1), bound(w + 2), accumulate], KERNEL);
      Atomics.store(ctl, JOB, job);
      Atomics.notify(ctl, JOB);
    }
    try {
      own(a, b, c, Mp, Np, K, 0, bound(1), accumulate);
    } finally {
      for (let w = 0; w + 1 < parts; w++) this.waitFor(workers[w]!.control, job);
    }
  }

  /** Waits until the worker has done `job`; throws if it failed or never finishes. */
  private waitFor(ctl: Int32Array, job: number): void {
    const start = Date.now();
    while (Atomics.load(ctl, DONE) !== job) {
      if (Date.now() - start > JOB_TIMEOUT_MS) throw new Error(`a wasm worker thread did not finish its part within ${JOB_TIMEOUT_MS / 1000} s`);
      if (this.blocking) Atomics.wait(ctl, DONE, Atomics.load(ctl, DONE), 100);
    }
    if (Atomics.load(ctl, FAILED) !== 0) {
      Atomics.store(ctl, FAILED, 0);
      throw new Error('a wasm worker thread failed in its part of a product');
    }
  }

  private start(): Thread {
    const control = new SharedArrayBuffer(CONTROL_INTS * 4);
    const ctl = new Int32Array(control);
    const init: ThreadInit = { memory: this.heap.memory, modules: this.modules, control };
    const node = nodeWorkerThreads();
    if (node !== null) {
      const worker = new node.Worker(workerSource(), { eval: true, workerData: init });
      worker.unref();
      if (this.blocking) Atomics.wait(ctl, READY, 0, READY_TIMEOUT_MS);
    } else {
      const worker = new Worker(URL.createObjectURL(new Blob([workerSource()], { type: 'text/javascript' })));
      worker.postMessage(init);
    }
    return { control: ctl };
  }
}
