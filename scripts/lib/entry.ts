/** Whether a script module is the program being run or only imported (by a test, or by another script). */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/**
 * True when the module at `moduleUrl` (its import.meta.url) is the program node runs and its file is `name` (.ts, .js
 * or .mjs). Bundlers inline imported modules into the entry's file, so the URL alone is not enough: the entry's
 * name must be the script's own too. Symlinks are resolved first (npm's bin link node_modules/.bin/ropelab →
 * ../ropelab/dist/cli.js runs cli.js).
 */
export function isEntryPoint(moduleUrl: string, name: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    const real = realpathSync(entry);
    const base = real.split(/[\\/]/).pop()!;
    return ['.ts', '.js', '.mjs'].some((ext) => base === name + ext) && moduleUrl === pathToFileURL(real).href;
  } catch {
    return false;
  }
}
