/** Whether a script module is the program being run or only imported (by a test, or by another script). */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/**
 * True when the module at `moduleUrl` (its import.meta.url) is the program node runs and its file is `name` (.ts, .js
 * or .mjs). Bundlers inline imported modules into the entry's file, so the URL alone is not enough: the entry's
 * name must be the script's own too.
 */
export function isEntryPoint(moduleUrl: string, name: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  const base = entry.split(/[\\/]/).pop()!;
  if (!['.ts', '.js', '.mjs'].some((ext) => base === name + ext)) return false;
  try {
    return moduleUrl === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}
