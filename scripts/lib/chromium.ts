/**
 * The one way this repository drives a browser: Debian's Chromium (`/usr/bin/chromium`, or $CHROMIUM; never a
 * downloaded browser) through playwright-core, on a fresh profile, with the flags that keep it off the network, and
 * pages served from 127.0.0.1 — bundled from source by esbuild, optionally cross-origin isolated (COOP + COEP, so
 * SharedArrayBuffer and the wasm backend's Web Worker threads exist). Used by tests/browser/ (in `npm test`) and
 * scripts/browser-check.ts (`npm run check:browser`). openBrowserPages does it all for the in-page harness
 * (scripts/lib/browser-page.ts); the pieces:
 *
 *   const routes = await bundleForBrowser(['scripts/x.ts']);             // '/scripts/x.js' → the bundle
 *   routes.set('/', htmlPage('/scripts/x.js', { isolated: true }));
 *   const server = await servePages(routes);                              // http://127.0.0.1:<port>
 *   const chromium = await launchChromium();
 *   const page = await chromium.newPage(); await page.goto(server.origin + '/');
 *   await chromium.close(); await server.close();
 */
import { build } from 'esbuild';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { chromium as playwrightChromium, type BrowserContext, type Page } from 'playwright-core';
import type { PageReport } from './browser-page.js';

/** The in-page harness (runs uvu test files or calls a module's export; see the file). */
const PAGE_ENTRY = 'scripts/lib/browser-page.ts';

/** Flags for a headless Chromium that reaches nothing but 127.0.0.1 (the profile directory is added per launch). */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
];

/** Where the browser is: $CHROMIUM, else Debian's /usr/bin/chromium (`apt-get install -y chromium`). */
export function chromiumPath(): string {
  return process.env['CHROMIUM'] || '/usr/bin/chromium';
}

/** Why no Chromium can be launched here (no executable at chromiumPath()), or null when there is one. */
export function chromiumMissing(): string | null {
  const path = chromiumPath();
  return existsSync(path) ? null : `no Chromium at ${path} (Debian: apt-get install -y chromium, or set CHROMIUM=/path/to/chrome)`;
}

/** A running Chromium: open pages with newPage, then close (which also removes the fresh profile directory). */
export interface ChromiumSession {
  readonly context: BrowserContext;
  readonly version: string;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/**
 * Starts Chromium headless on a fresh `--user-data-dir` (a new temporary folder, removed by close). Throws an Error
 * that says why when the executable is missing or fails to start.
 */
export async function launchChromium(): Promise<ChromiumSession> {
  const missing = chromiumMissing();
  if (missing !== null) throw new Error(`launchChromium: ${missing}`);
  const executablePath = chromiumPath();
  const profile = mkdtempSync(join(tmpdir(), 'ropelab-chromium-'));
  let context: BrowserContext;
  try {
    // launchPersistentContext passes the folder as --user-data-dir: a fresh profile per launch
    context = await playwrightChromium.launchPersistentContext(profile, { executablePath, headless: true, args: [...CHROMIUM_ARGS], timeout: 60_000 });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    // playwright's message, then what the browser wrote to stderr (its '[err]' log lines), without the long command line
    const lines = String((err as Error).message ?? err).split('\n');
    const reason = [lines[0], ...lines.filter((l) => l.includes('[err]')).slice(0, 8)].join('\n');
    throw new Error(`launchChromium: Chromium at ${executablePath} failed to start: ${reason}`);
  }
  const version = context.browser()?.version() ?? 'unknown';
  return {
    context,
    version,
    newPage: () => context.newPage(),
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** One file a page server answers with. */
export interface Route {
  body: string | Uint8Array;
  type: string;
  /** Send COOP same-origin + COEP require-corp: the page (and what it loads) is cross-origin isolated. */
  isolated?: boolean;
}

/** The headers that make a page cross-origin isolated (SharedArrayBuffer, wasm threads). */
const ISOLATION_HEADERS = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } as const;

/** A minimal HTML page that loads one module script; `before` is an inline classic script run first. */
export function htmlPage(script: string, options: { isolated?: boolean; title?: string; before?: string } = {}): Route {
  const before = options.before === undefined ? '' : `<script>${options.before}</script>`;
  const body = `<!doctype html><meta charset="utf-8"><title>${options.title ?? 'ropelab'}</title>${before}<script type="module" src="${script}"></script>`;
  return { body, type: 'text/html; charset=utf-8', isolated: options.isolated ?? false };
}

/** A server on 127.0.0.1 (a free port); `origin` is its http://127.0.0.1:port. */
/** launchChromium for pages `server` serves: if Chromium cannot start, the server is stopped before the error goes on. */
export async function launchChromiumFor(server: PageServer): Promise<ChromiumSession> {
  try {
    return await launchChromium();
  } catch (err) {
    await server.close();
    throw err;
  }
}

export interface PageServer {
  readonly origin: string;
  close(): Promise<void>;
}

/**
 * Serves `routes` (path → file; the query string is ignored) on 127.0.0.1; anything else is a 404. Every response
 * of an isolated route — and, when `isolateAll`, every response — carries the COOP/COEP headers.
 */
export async function servePages(routes: ReadonlyMap<string, Route>, options: { isolateAll?: boolean } = {}): Promise<PageServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = routes.get(path);
    if (route === undefined) {
      res.writeHead(404).end();
      return;
    }
    const isolation = route.isolated === true || options.isolateAll === true ? ISOLATION_HEADERS : {};
    res.writeHead(200, { 'content-type': route.type, 'cache-control': 'no-store', ...isolation }).end(route.body);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

/**
 * Bundles TypeScript entry points (paths relative to the repository root) for the browser: ESM with code
 * splitting, so entries share one instance of each library module, and a page can `import()` any entry by its
 * route. Routes are '/' + the entry's path with `.js` for `.ts` (`tests/core/matmul.test.ts` →
 * `/tests/core/matmul.test.js`), plus the shared chunks. `define` replaces globals (esbuild's define). A `node:`
 * import anywhere in the graph fails the build.
 */
export async function bundleForBrowser(entryPoints: readonly string[], options: { define?: Record<string, string> } = {}): Promise<Map<string, Route>> {
  const root = resolve('.');
  const outdir = join(root, '.cache', 'browser-bundle'); // never written (write: false); only names the outputs
  const result = await build({
    entryPoints: entryPoints.map((p) => resolve(root, p)),
    outdir,
    outbase: root,
    bundle: true,
    splitting: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    ...(options.define === undefined ? {} : { define: options.define }),
  });
  const routes = new Map<string, Route>();
  for (const file of result.outputFiles) {
    routes.set('/' + relative(outdir, file.path).split('\\').join('/'), { body: file.contents, type: 'text/javascript; charset=utf-8' });
  }
  return routes;
}

/** The route of an entry point bundled by bundleForBrowser: 'tests/core/x.test.ts' → '/tests/core/x.test.js'. */
export function entryRoute(entryPoint: string): string {
  return '/' + entryPoint.replace(/\.ts$/, '.js');
}

/** What a page runs: test files (by their path, e.g. 'tests/core/matmul.test.ts') or an export of a page module. */
export interface PageRun {
  /** '/isolated' pages are cross-origin isolated (needed for wasm threads); '/plain' ones are not. */
  page: 'plain' | 'isolated';
  backend?: string;
  threads?: number;
  tests?: readonly string[];
  call?: { module: string; export: string };
  /** How long to wait for the page's report (default 120 s). */
  timeoutMs?: number;
}

/** A bundle served on 127.0.0.1 and a Chromium to open it in. */
export interface BrowserPages {
  readonly chromium: ChromiumSession;
  readonly server: PageServer;
  run(what: PageRun): Promise<PageReport>;
  close(): Promise<void>;
}

/**
 * Bundles the page harness (scripts/lib/browser-page.ts) with `entries` (test files and page modules, by path),
 * serves it as two pages — `/plain` and `/isolated` (COOP + COEP: cross-origin isolated, SharedArrayBuffer, the
 * wasm backend's Web Worker threads) — and starts Chromium; `run` opens a page with a query and returns the
 * harness's PageReport. Close it when done (it removes the profile and stops the server).
 */
export async function openBrowserPages(entries: readonly string[], options: { define?: Record<string, string> } = {}): Promise<BrowserPages> {
  const routes = await bundleForBrowser([PAGE_ENTRY, ...entries], options);
  // uvu reads UVU_DEFER when its module first evaluates: set it before any module script runs
  const before = 'globalThis.UVU_DEFER = 1;';
  routes.set('/plain', htmlPage(entryRoute(PAGE_ENTRY), { before, title: 'ropelab browser suite' }));
  routes.set('/isolated', htmlPage(entryRoute(PAGE_ENTRY), { before, title: 'ropelab browser suite (isolated)', isolated: true }));
  const server = await servePages(routes);
  const chromium = await launchChromiumFor(server);
  return {
    chromium,
    server,
    run: (what) => runPage(chromium, server, what),
    close: async () => {
      await chromium.close();
      await server.close();
    },
  };
}

async function runPage(chromium: ChromiumSession, server: PageServer, what: PageRun): Promise<PageReport> {
  const q = new URLSearchParams();
  if (what.backend !== undefined) q.set('backend', what.backend);
  if (what.threads !== undefined) q.set('threads', String(what.threads));
  if (what.tests !== undefined) q.set('tests', what.tests.map(entryRoute).join(','));
  if (what.call !== undefined) {
    q.set('call', entryRoute(what.call.module));
    q.set('export', what.call.export);
  }
  const page = await chromium.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  try {
    await page.goto(`${server.origin}/${what.page}?${q}`);
    try {
      await page.waitForFunction(() => 'ropelabPage' in window, null, { timeout: what.timeoutMs ?? 120_000, polling: 100 });
    } catch (err) {
      throw new Error(`the page produced no report: ${errors.join('; ') || (err as Error).message}`);
    }
    return await page.evaluate(() => (window as unknown as { ropelabPage: PageReport }).ropelabPage);
  } finally {
    await page.close();
  }
}
