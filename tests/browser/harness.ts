/**
 * The Node side of the browser suite (not a test file): which test files run in the page, when the suite is
 * skipped, and how a page's report is checked. Bundling, serving and Chromium are scripts/lib/chromium.ts
 * (openBrowserPages); the in-page harness that runs uvu is scripts/lib/browser-page.ts.
 *
 * Which Node test files run in the page (browserTestFiles): every tests/core/*.test.ts and tests/positional/*.test.ts
 * except those that import a `node:` module (they read fixtures from disk or spawn Node processes; a browser has
 * neither). `process.env` is replaced by a constant holding FC_SEED when it is set, so the page draws the same
 * fast-check cases as Node.
 *
 * When Chromium is absent: outside CI the suite prints one line and registers no tests (browserSuiteSkipped);
 * in CI (CI set, as .ci/run does) it never skips — launching fails the test with the reason.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FileReport, PageReport } from '../../scripts/lib/browser-page.js';
import { chromiumMissing, entryRoute, openBrowserPages, type BrowserPages } from '../../scripts/lib/chromium.js';

/** A file is skipped in the page when it imports a Node built-in: `from 'node:…'` or `import('node:…')`. */
const NODE_IMPORT = /\bfrom\s+['"]node:|\bimport\s*\(\s*['"]node:/;

/** True where the environment says CI (CI=1 or CI=true, as .ci/run exports): the browser suite must run there. */
export function inCI(): boolean {
  const ci = process.env['CI'];
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

let skipNoticePrinted = false;

/**
 * True when the browser suite is skipped here: no Chromium and not in CI. Prints one line saying so (once per
 * process). In CI it returns false even without Chromium, so the tests run and fail with the launch error.
 */
export function browserSuiteSkipped(): boolean {
  const missing = chromiumMissing();
  if (missing === null || inCI()) return false;
  if (!skipNoticePrinted) console.log(`\nbrowser suite skipped: ${missing}; CI installs it and always runs the suite`);
  skipNoticePrinted = true;
  return true;
}

/** The Node test files that also run in the page, and those skipped with the reason. */
export function browserTestFiles(folders: readonly string[] = ['tests/core', 'tests/positional']): { run: string[]; skipped: { file: string; reason: string }[] } {
  const run: string[] = [];
  const skipped: { file: string; reason: string }[] = [];
  for (const folder of folders) {
    for (const name of readdirSync(join(process.cwd(), folder)).sort()) {
      if (!name.endsWith('.test.ts')) continue;
      const file = `${folder}/${name}`;
      if (NODE_IMPORT.test(readFileSync(join(process.cwd(), file), 'utf8'))) skipped.push({ file, reason: 'imports a node: module' });
      else run.push(file);
    }
  }
  return { run, skipped };
}

/**
 * Bundles the page harness with `entries` (test files by path), with process.env replaced by a constant holding
 * FC_SEED when it is set (so the page draws the same fast-check cases as Node), serves it and starts Chromium.
 */
export function openBrowserSuite(entries: readonly string[]): Promise<BrowserPages> {
  const fcSeed = process.env['FC_SEED'];
  return openBrowserPages(entries, { define: { 'process.env': JSON.stringify(fcSeed === undefined ? {} : { FC_SEED: fcSeed }) } });
}

/**
 * The suite of one test file, opened at first use — inside a test, so that a Chromium that cannot start fails
 * that test with the reason (uvu swallows errors thrown by a before hook) — and closed by `close` (an after hook).
 */
export function lazyBrowserSuite(entries: readonly string[]): { get(): Promise<BrowserPages>; close(): Promise<void> } {
  let opened: Promise<BrowserPages> | undefined;
  return {
    get: () => (opened ??= openBrowserSuite(entries)),
    close: async () => {
      const suite = await opened?.catch(() => undefined);
      await suite?.close();
    },
  };
}

/** An Error whose stack is its first line only: uvu prints message + stack, and the message already says it all. */
function failure(message: string): Error {
  const err = new Error(message);
  err.stack = `Error: ${message.split('\n')[0]}`;
  return err;
}

/** Passed/failed/skipped summed over a page's test files. */
export function totals(files: readonly FileReport[]): { passed: number; failed: number; skipped: number } {
  return files.reduce((t, f) => ({ passed: t.passed + f.passed, failed: t.failed + f.failed, skipped: t.skipped + f.skipped }), { passed: 0, failed: 0, skipped: 0 });
}

/**
 * Throws, with every failure message, unless the page ran each of `files` with at least one passing test and no
 * failure. Returns a one-line summary.
 */
export function expectAllPassed(report: PageReport, files: readonly string[], label: string): string {
  if (report.error !== '') throw failure(`${label}: the page harness failed: ${report.error}`);
  const ran = report.files.map((f) => f.file);
  const want = files.map(entryRoute);
  if (ran.join() !== want.join()) throw failure(`${label}: the page ran [${ran.join(', ')}], expected [${want.join(', ')}]`);
  const t = totals(report.files);
  const failures = report.files.flatMap((f) => f.failures.map((m) => `${f.file}:\n${m.slice(0, 4000)}`));
  const empty = report.files.filter((f) => f.passed === 0 && f.failed === 0).map((f) => f.file);
  if (t.failed > 0 || failures.length > 0) throw failure(`${label}: ${t.failed} failed, ${t.passed} passed in Chromium\n${failures.join('\n')}`);
  if (empty.length > 0) throw failure(`${label}: no test ran in ${empty.join(', ')}`);
  const ms = report.files.reduce((s, f) => s + f.ms, 0);
  return `${label}: ${files.length} files, ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped in ${(ms / 1000).toFixed(1)} s`;
}
