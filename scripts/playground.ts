/**
 * npm run playground: bundles the RoPE playground (docs/playground/main.ts, with ropelab imported from source) by
 * esbuild, serves it with docs/playground/index.html on 127.0.0.1 (a free port; scripts/lib/chromium.ts servePages)
 * and prints the URL; Ctrl-C stops it. `npm run build` writes the same page to out/playground/ (scripts/build.mjs).
 * tests/browser/playground.test.ts imports servePlayground.
 */
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { servePages, type PageServer, type Route } from './lib/chromium.js';
import { isEntryPoint } from './lib/entry.js';

/** The page's entry and HTML, relative to the repository root. */
export const PLAYGROUND_ENTRY = 'docs/playground/main.ts';
export const PLAYGROUND_HTML = 'docs/playground/index.html';

/** The bundle of the playground (one ES module, no imports left: what index.html loads as ./playground.js). */
export async function bundlePlayground(): Promise<string> {
  const result = await build({
    entryPoints: [resolve(PLAYGROUND_ENTRY)],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

/** Serves the playground on 127.0.0.1: '/' (and '/index.html') the page, '/playground.js' the bundle. */
export async function servePlayground(): Promise<PageServer> {
  const html: Route = { body: readFileSync(resolve(PLAYGROUND_HTML), 'utf8'), type: 'text/html; charset=utf-8' };
  const routes = new Map<string, Route>([
    ['/', html],
    ['/index.html', html],
    ['/playground.js', { body: await bundlePlayground(), type: 'text/javascript; charset=utf-8' }],
  ]);
  return servePages(routes);
}

async function main(): Promise<void> {
  const server = await servePlayground();
  console.log(`RoPE playground: ${server.origin}/  (Ctrl-C stops it)`);
  process.on('SIGINT', () => void server.close().then(() => process.exit(0)));
}

if (isEntryPoint(import.meta.url, 'playground')) await main();
