/**
 * Runs in the page: the harness that openBrowserPages (scripts/lib/chromium.ts) bundles with test files or page
 * modules and loads in Chromium (tests/browser/ and scripts/browser-check.ts use it). Its query string says what
 * to do:
 *
 *   ?backend=wasm&threads=2     first setBackend / setNumThreads (threads > 1: a 256³ product starts the Web
 *                               Workers, then it waits until they are ready, at most 20 s)
 *   &tests=/a.test.js,/b.js     uvu test files (bundled entries) to import and run one after another; uvu is
 *                               deferred (UVU_DEFER, set by an inline script before any module loads), so each
 *                               file's test.run() queues its suites and this harness runs them and counts
 *   &call=/m.js&export=run      or: import a module and await its export (a function of no arguments) for a value
 *
 * and it leaves a PageReport (plain data) on window.ropelabPage for Node to read.
 */
import { Generator, getBackend, getNumThreads, matmul, randn, setBackend, setNumThreads } from '../../core/index.js';
import { wasmWorkersReady } from '../../core/backend.js';

/** One uvu test file's outcome in the page. */
export interface FileReport {
  file: string;
  passed: number;
  failed: number;
  skipped: number;
  ms: number;
  /** uvu's failure reports (message, diff, stack), or why the file did not load. */
  failures: string[];
}

/** What the page reports back. */
export interface PageReport {
  userAgent: string;
  crossOriginIsolated: boolean;
  backend: string;
  threads: number;
  /** Web Workers of the wasm backend ready when the tests started. */
  workersReady: number;
  files: FileReport[];
  /** The awaited export's value in `call` mode. */
  value: unknown;
  /** A harness error (bad query, backend refused, call threw): the run is invalid. */
  error: string;
}

type Runner = () => Promise<[string | true, number, number, number]>;
interface UvuGlobals {
  UVU_QUEUE: [string | null, ...Runner[]][];
  UVU_INDEX: number;
  ropelabPage?: PageReport;
}

const ANSI = /\x1b\[[0-9;]*m/g;

async function runTestFile(g: UvuGlobals, file: string): Promise<FileReport> {
  const report: FileReport = { file, passed: 0, failed: 0, skipped: 0, ms: 0, failures: [] };
  const t0 = performance.now();
  g.UVU_QUEUE ??= []; // uvu adopts this queue when it loads (globalThis.UVU_QUEUE || [])
  g.UVU_QUEUE.length = 0;
  g.UVU_QUEUE.push([file]);
  g.UVU_INDEX = 0;
  try {
    await import(file);
  } catch (err) {
    report.failed++;
    report.failures.push(`${file} did not load: ${String((err as Error)?.stack ?? err)}`);
    return report;
  }
  const [, ...runners] = g.UVU_QUEUE[0]!;
  for (const run of runners) {
    const [errors, ran, skipped, total] = await run();
    report.passed += ran;
    report.skipped += skipped;
    report.failed += total - ran;
    if (errors !== true) report.failures.push(errors.replace(ANSI, ''));
  }
  report.ms = performance.now() - t0;
  return report;
}

/** Starts the wasm backend's Web Workers (a product big enough to use them) and waits until `want` are ready. */
async function startWorkers(want: number): Promise<void> {
  const g = new Generator(0);
  matmul(randn([256, 256], { generator: g, dtype: 'float32' }), randn([256, 256], { generator: g, dtype: 'float32' }));
  const deadline = performance.now() + 20_000;
  while (wasmWorkersReady() < want && performance.now() < deadline) await new Promise((done) => setTimeout(done, 20));
}

async function main(): Promise<void> {
  const g = globalThis as unknown as UvuGlobals;
  const q = new URLSearchParams(location.search);
  const report: PageReport = {
    userAgent: navigator.userAgent,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    backend: '',
    threads: 0,
    workersReady: 0,
    files: [],
    value: null,
    error: '',
  };
  try {
    const backend = q.get('backend');
    if (backend !== null) setBackend(backend);
    const threads = q.get('threads');
    if (threads !== null) {
      setNumThreads(Number(threads));
      if (Number(threads) > 1) await startWorkers(Number(threads) - 1);
    }
    report.backend = getBackend();
    report.threads = getNumThreads();
    report.workersReady = wasmWorkersReady();
    const tests = q.get('tests');
    const call = q.get('call');
    if (tests !== null) {
      for (const file of tests.split(',')) report.files.push(await runTestFile(g, file));
    } else if (call !== null) {
      const mod = (await import(call)) as Record<string, unknown>;
      const fn = mod[q.get('export') ?? 'run'];
      if (typeof fn !== 'function') throw new Error(`page: ${call} has no export '${q.get('export') ?? 'run'}'`);
      report.value = await (fn as () => unknown)();
    } else throw new Error('page: the query names neither tests= nor call=');
  } catch (err) {
    report.error = String((err as Error)?.stack ?? err);
  }
  g.ropelabPage = report;
}

await main();
