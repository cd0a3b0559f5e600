/**
 * The robustness tables cover the package root and the ropelab/testing subpath: every runtime export has exactly one
 * entry, and no entry is stale.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as root from '../../index.js';
import * as core from '../../core/index.js';
import * as nn from '../../nn/index.js';
import * as positional from '../../positional/index.js';
import * as models from '../../models/index.js';
import * as testing from '../../testing/index.js';
import type { Entry } from './harness.js';
import { coreEntries } from './tables/core.js';
import { nnEntries } from './tables/nn.js';
import { positionalEntries } from './tables/positional.js';
import { modelsEntries } from './tables/models.js';
import { testingEntries } from './tables/testing.js';

const TABLES: Array<[string, Record<string, unknown>, readonly Entry[]]> = [
  ['core', core, coreEntries],
  ['positional', positional, positionalEntries],
  ['nn', nn, nnEntries],
  ['models', models, modelsEntries],
  ['testing', testing, testingEntries],
];

/** Subpath entries the root does not re-export: their tables answer to their own surface only. */
const SUBPATHS = new Set(['testing']);

/** nn/index.ts re-exports core's Module and Parameter: one entry (in core's table) covers both. */
function owner(name: string): string {
  for (const [folder, surface] of TABLES) if (name in surface) return folder;
  return '(no folder)';
}

test('every runtime export of the package root has a robustness entry in its folder table', () => {
  const missing: string[] = [];
  for (const name of Object.keys(root)) {
    const folder = owner(name);
    const table = TABLES.find(([f]) => f === folder)?.[2] ?? [];
    if (!table.some((e) => e.name === name)) missing.push(`${name} (add it to tests/robustness/tables/${folder}.ts)`);
  }
  assert.equal(missing, [], `exports without a robustness entry:\n  ${missing.join('\n  ')}`);
});

test('every runtime export of a subpath entry (ropelab/testing) has a robustness entry in its table', () => {
  const missing: string[] = [];
  for (const [folder, surface, table] of TABLES) {
    if (!SUBPATHS.has(folder)) continue;
    for (const name of Object.keys(surface)) if (!table.some((e) => e.name === name)) missing.push(`${name} (add it to tests/robustness/tables/${folder}.ts)`);
  }
  assert.equal(missing, [], `exports without a robustness entry:\n  ${missing.join('\n  ')}`);
});

test('every robustness entry names a current export of its folder, once', () => {
  const stale: string[] = [];
  for (const [folder, surface, table] of TABLES) {
    const seen = new Set<string>();
    for (const e of table) {
      const listed = SUBPATHS.has(folder) ? e.name in surface : e.name in root && owner(e.name) === folder && e.name in surface;
      if (!listed) stale.push(`${folder}: ${e.name} is not exported by ${folder}/index.ts${SUBPATHS.has(folder) ? '' : ' and the root'}`);
      if (seen.has(e.name)) stale.push(`${folder}: ${e.name} has two entries`);
      seen.add(e.name);
    }
  }
  assert.equal(stale, [], `stale or duplicate robustness entries:\n  ${stale.join('\n  ')}`);
});

test('a callable export is never marked exempt, and an exempt entry says why', () => {
  const wrong: string[] = [];
  for (const [, surface, table] of TABLES) {
    for (const e of table) {
      if (e.type !== 'exempt') continue;
      const value = surface[e.name];
      const isErrorClass = typeof value === 'function' && (value as { prototype?: unknown }).prototype instanceof Error;
      const isArgCheck = typeof value === 'function' && e.name.startsWith('expect');
      if (typeof value === 'function' && !isErrorClass && !isArgCheck) wrong.push(`${e.name} is callable: give it a function or class entry`);
      if (e.reason.trim().length < 10) wrong.push(`${e.name}: the exemption needs a reason`);
    }
  }
  assert.equal(wrong, []);
});

test.run();
