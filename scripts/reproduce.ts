/**
 * npm run reproduce [name…] — issue 17: each seed paper's headline claim tested at toy scale (protocols:
 * ../shared/specs/reproductions.md; one module per claim under scripts/experiments/, each exporting a `Reproduction`,
 * scripts/lib/reproduction.ts). Runs all (or the named) reproductions one after another with a progress line and an
 * ETA, writes out/<name>.json (the claim, the criterion, the verdict and every number) and out/<name>.svg, and prints
 * the table. `--results` then writes docs/results.md (and docs/results/<name>.json and .svg, committed with it) from
 * every out/<name>.json there is, else from the committed docs/results/<name>.json, so reproductions can be run one at
 * a time and a clean checkout regenerates the page. `--quick` runs each in seconds (the test suite's smoke test); its
 * numbers are not evidence, so a quick run never writes docs/.
 *
 * Usage: npm run reproduce -- [name…] [--quick] [--results | --results-only] [--out DIR] [--list] [--help]
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isEntryPoint } from './lib/entry.js';
import { FlagError, pathFlag, readFlags } from './lib/flags.js';
import type { Reproduction, ReproductionResult } from './lib/reproduction.js';
import type { Verdict } from './lib/stats.js';
import { NOT_YET_RUN, REPRODUCTIONS } from './reproductions.js';

/** What out/<name>.json holds: the reproduction's statement, what its run returned (but the chart), and how it ran. */
export interface ReproductionRecord extends Pick<Reproduction, 'name' | 'paper' | 'claim' | 'setup' | 'criterion' | 'falsifier' | 'history' | 'examination'>, Omit<ReproductionResult, 'svg'> {
  quick: boolean;
  seconds: number;
  date: string;
  command: string;
}

export interface ReproduceIO {
  /** Results and tables. */
  out(line: string): void;
  /** A progress line (throttled to one per `progressEvery` ms, and the last); `final` when the work is done. */
  progress(line: string, final: boolean): void;
  progressEvery: number;
  now(): number;
}

/** A terminal redraws one progress line every second; a log gets a line every 30 s. */
const processIO: ReproduceIO = {
  out: (line) => console.log(line),
  progress: (line, final) => process.stderr.write(process.stderr.isTTY ? `\r${line}\x1b[K${final ? '\n' : ''}` : `${line}\n`),
  progressEvery: process.stderr.isTTY ? 1000 : 30000,
  now: () => performance.now(),
};

/** "1m05s", "12s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/**
 * The progress line of a reproduction `done`/`total` of the way after `elapsed` seconds: percent, elapsed and ETA
 * (elapsed · (total − done) / done; before any progress, the reproduction's own estimate).
 */
export function progressLine(name: string, done: number, total: number, elapsed: number, estimate: number, note?: string): string {
  const fraction = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const eta = fraction > 0 ? (elapsed * (1 - fraction)) / fraction : Math.max(0, estimate - elapsed);
  return `[${name}] ${(100 * fraction).toFixed(0).padStart(3)}%  ${formatDuration(elapsed)} elapsed, ETA ${formatDuration(eta)}${note !== undefined ? `  ${note}` : ''}`;
}

/** Runs one reproduction with throttled progress lines (at most one per io.progressEvery ms, and the last); returns its record and chart. */
export async function runOne(r: Reproduction, quick: boolean, io: ReproduceIO): Promise<{ record: ReproductionRecord; svg: string | null }> {
  const start = io.now();
  let lastPrint = -Infinity;
  const result: ReproductionResult = await r.run({
    quick,
    progress: (done, total, note) => {
      const t = io.now();
      if (t - lastPrint < io.progressEvery && done < total) return;
      lastPrint = t;
      io.progress(progressLine(r.name, done, total, (t - start) / 1000, quick ? 0 : r.minutes * 60, note), done >= total);
    },
  });
  const seconds = (io.now() - start) / 1000;
  const record: ReproductionRecord = {
    name: r.name, paper: r.paper, claim: r.claim, setup: r.setup, criterion: r.criterion, falsifier: r.falsifier, ...(r.history !== undefined ? { history: r.history } : {}),
    ...(r.examination !== undefined ? { examination: r.examination } : {}), quick, seconds,
    date: new Date().toISOString().slice(0, 10), command: `npm run reproduce -- ${r.name}${quick ? ' --quick' : ''}`,
    verdict: result.verdict, summary: result.summary, reason: result.reason, table: result.table, data: result.data,
  };
  return { record, svg: result.svg };
}

/** The final table: one row per reproduction run. */
export function summaryTable(records: readonly ReproductionRecord[]): string {
  const rows = records.map((r) => [r.name, r.quick ? '(quick: no verdict)' : r.verdict, formatDuration(r.seconds), r.summary]);
  const head = ['reproduction', 'verdict', 'time', 'result'];
  const width = head.map((h, j) => Math.max(h.length, ...rows.map((row) => row[j]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, j) => (j === cells.length - 1 ? c : c.padEnd(width[j]!))).join(' │ ');
  return [line(head), width.map((w, j) => '─'.repeat(j === head.length - 1 ? Math.min(w, 60) : w)).join('─┼─'), ...rows.map(line)].join('\n');
}

/** docs/results.md from full-run records (order of REPRODUCTIONS), with links to docs/results/<name>.svg. */
export function resultsPage(records: readonly ReproductionRecord[], svgs: ReadonlySet<string>, notYetRun = NOT_YET_RUN): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n+/g, ' ');
  const count = (v: Verdict): number => records.filter((r) => r.verdict === v).length;
  const out = [
    '# Reproductions: each seed paper\'s headline claim, tested at toy scale',
    '',
    'Generated by `npm run reproduce -- --results` from the full runs\' records (`docs/results/<name>.json`); protocols and their sources:',
    '`../shared/specs/reproductions.md` (a starting point; each row\'s setup says where we changed it). Every arm runs',
    '≥ 3 seeds (seed i shares data order and initialization across arms); numbers are the mean with the min–max over',
    'seeds. The criterion is written before the run (scripts/lib/stats.ts): **reproduced** = the predicted ordering',
    'holds in every seed and every mean gap exceeds twice the larger seed range; **partly** = the means are in the',
    'predicted order but not in every seed or not by that margin; **not reproduced** = they are not (or the positive',
    'control failed: the toy was too small to test the claim). "Not reproduced" means *at this scale*: these are',
    'models of 10⁴–10⁵ parameters trained for minutes on 2 CPU cores, not the papers\' models.',
    '',
    `Verdicts: ${count('reproduced')} reproduced, ${count('partly')} partly, ${count('not reproduced')} not reproduced, of ${records.length} run.`,
    '',
    '| claim (paper: its statement and numbers) | our setup | our result | verdict | reproduce |',
    '|---|---|---|---|---|',
    ...records.map((r) => `| **${cell(r.paper)}**: ${cell(r.claim)} | ${cell(r.setup)} | ${cell(r.summary)}${svgs.has(r.name) ? ` ([chart](results/${r.name}.svg))` : ''} | **${r.verdict}** — ${cell(r.reason)}${(r.history?.length ?? 0) > 0 ? ` (a rerun: the earlier run${r.history!.length > 1 ? 's are' : ' is'} in its section)` : ''} | \`${r.command}\` (${formatDuration(r.seconds)}, ${r.date}) |`),
    '',
  ];
  for (const r of records) {
    out.push(`## ${r.name}`, '', `**Claim.** ${r.paper}: ${r.claim}`, '', `**Setup.** ${r.setup}`, '', `**Criterion (before the run).** ${r.criterion}`, '',
      `**Falsifier.** ${r.falsifier}`, '', `**Result: ${r.verdict}.** ${r.reason}`, '', '```', r.table, '```', '');
    if (svgs.has(r.name)) out.push(`![${r.name}](results/${r.name}.svg)`, '');
    if (r.examination !== undefined) out.push(`**Why, and what would settle it.** ${r.examination}`, '');
    if ((r.history?.length ?? 0) > 0) out.push('**Earlier runs of this protocol** (oldest first; each says what changed before the next run):', '', ...r.history!.map((h) => `- ${h}`), '');
  }
  if (notYetRun.length > 0) {
    out.push('## Not run yet', '', 'The spec\'s protocols that have no reproduction here yet (issue 17 stays open until each is run):', '');
    for (const p of notYetRun) out.push(`- ${p.paper}${p.section !== '' ? ` — spec ${p.section}` : ''}`);
    out.push('');
  }
  return out.join('\n');
}

interface Flags {
  names: string[];
  quick: boolean;
  results: boolean;
  resultsOnly: boolean;
  list: boolean;
  out: string;
}

const HELP = `usage: npm run reproduce -- [name…] [--quick] [--results | --results-only] [--out DIR] [--list]

Runs the reproductions of the seed papers' claims (all, or the named ones: ${REPRODUCTIONS.map((r) => r.name).join(', ')}),
one after another with a progress line and an ETA; writes DIR/<name>.json and DIR/<name>.svg and prints the table.

  --quick      a seconds-long run of each (the test suite's smoke test; its numbers are not evidence)
  --results    then write docs/results.md (and docs/results/<name>.json, .svg) from every full run's DIR/<name>.json,
               else from the record committed in docs/results/
  --results-only  write docs/results.md from those records without running anything
  --out DIR    where the .json and .svg go (default out)
  --list       print the reproductions with their estimated minutes and exit
  --help       this text`;

function readCommandLine(argv: readonly string[]): Flags {
  // reproduction names are the arguments that are neither flags nor --out's value
  const names: string[] = [];
  const flagArgs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-')) names.push(arg);
    else {
      flagArgs.push(arg);
      if (arg === '--out' && i + 1 < argv.length) flagArgs.push(argv[++i]!);
    }
  }
  const known = REPRODUCTIONS.map((r) => r.name);
  return readFlags<Flags>('reproduce', HELP, { names, quick: false, results: false, resultsOnly: false, list: false, out: 'out' }, {
    values: { out: (f, v) => (f.out = pathFlag(v)) },
    switches: { quick: (f) => (f.quick = true), results: (f) => (f.results = true), 'results-only': (f) => (f.resultsOnly = true), list: (f) => (f.list = true) },
    check: (f) => {
      const unknown = f.names.filter((n) => !known.includes(n));
      if (unknown.length > 0) throw new FlagError(`reproduce: unknown reproduction '${unknown[0]}' (one of ${known.join(', ')})`);
      if (f.quick && (f.results || f.resultsOnly)) throw new FlagError('reproduce: --results takes full runs; a --quick run is not evidence');
      if (f.resultsOnly && f.names.length > 0) throw new FlagError('reproduce: --results-only runs nothing; give no names (or use --results)');
    },
  }, flagArgs);
}

/** Runs `list` in order, writing each record and chart into `outDir`; returns the records. */
export async function reproduce(list: readonly Reproduction[], options: { quick: boolean; outDir: string }, io: ReproduceIO = processIO): Promise<ReproductionRecord[]> {
  mkdirSync(options.outDir, { recursive: true });
  const records: ReproductionRecord[] = [];
  for (const [i, r] of list.entries()) {
    io.out(`\n── ${i + 1}/${list.length} ${r.name}: ${r.paper}${options.quick ? ' (quick)' : ` (about ${r.minutes} min)`}`);
    const { record, svg } = await runOne(r, options.quick, io);
    writeFileSync(join(options.outDir, `${r.name}.json`), `${JSON.stringify(record, null, 2)}\n`);
    if (svg !== null) writeFileSync(join(options.outDir, `${r.name}.svg`), svg);
    io.out(record.table);
    io.out(options.quick ? `[${r.name}] quick run done (${formatDuration(record.seconds)})` : `[${r.name}] ${record.verdict}: ${record.reason}`);
    records.push(record);
  }
  io.out(`\n${summaryTable(records)}`);
  return records;
}

/** Whether `x` has every field a ReproductionRecord has (a file another tool wrote under out/ may not). */
function isRecord(x: unknown): boolean {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  const strings = ['name', 'paper', 'claim', 'setup', 'criterion', 'falsifier', 'date', 'command', 'verdict', 'summary', 'reason', 'table'];
  return strings.every((k) => typeof r[k] === 'string') && typeof r['quick'] === 'boolean' && typeof r['seconds'] === 'number';
}

/**
 * The record with its reproduction's current statement of the source (`paper`, `claim`) and notes (`examination`,
 * `history`): none of them is a measurement — the notes are written after a run, and a corrected citation must reach
 * the page without a rerun — so the registry's text replaces what the record carried when it ran. Setup, criterion
 * and every number stay as run.
 */
function withCurrentNotes(record: ReproductionRecord): ReproductionRecord {
  const r = REPRODUCTIONS.find((x) => x.name === record.name);
  if (r === undefined) return record;
  const { examination: _e, history: _h, ...rest } = record;
  return {
    ...rest, paper: r.paper, claim: r.claim,
    ...(r.history !== undefined ? { history: r.history } : {}), ...(r.examination !== undefined ? { examination: r.examination } : {}),
  };
}

/** A record and its chart count as one run's when their files were written within this many ms of each other. */
const SAME_RUN_MS = 60_000;

/**
 * docs/results.md from the full-run records of every registered reproduction — in `outDir`, else the copy committed
 * in `docsDir`/results/ — which it copies there with the charts; returns the names written. A file that is not a
 * record is left out with a warning.
 */
export function writeResults(outDir: string, docsDir: string, warn: (line: string) => void = (line) => console.error(line)): string[] {
  // a full run's record in outDir, else the one committed with the page (docs/results/<name>.json), so a clean checkout
  // regenerates the page from what is in the repository; `fromOut` says which records are new
  const fromOut = new Set<string>();
  const records: ReproductionRecord[] = [];
  for (const r of REPRODUCTIONS) {
    for (const [file, isOut] of [[join(outDir, `${r.name}.json`), true], [join(docsDir, 'results', `${r.name}.json`), false]] as const) {
      if (!existsSync(file)) continue;
      const record = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      if (!isRecord(record)) {
        warn(`reproduce: ${file} is not a record of npm run reproduce (left out of docs/results.md)`);
        continue;
      }
      if ((record as ReproductionRecord).quick) continue; // a quick run is not evidence
      records.push(withCurrentNotes(record as ReproductionRecord));
      if (isOut) fromOut.add(r.name);
      break;
    }
  }
  mkdirSync(join(docsDir, 'results'), { recursive: true });
  const svgs = new Set<string>();
  for (const record of records) {
    if (!fromOut.has(record.name)) continue;
    const json = join(outDir, `${record.name}.json`);
    copyFileSync(json, join(docsDir, 'results', `${record.name}.json`));
    const svg = join(outDir, `${record.name}.svg`);
    if (!existsSync(svg)) continue;
    // only the chart the same run wrote (runOne's caller writes both at once): an experiment's own command, quick or
    // not, also writes out/<name>.svg, and that chart would silently replace the run's
    if (Math.abs(statSync(svg).mtimeMs - statSync(json).mtimeMs) <= SAME_RUN_MS) copyFileSync(svg, join(docsDir, 'results', `${record.name}.svg`));
    else warn(`reproduce: ${svg} was not written with ${json} (another run wrote it): the chart in docs/results/ is kept`);
  }
  for (const record of records) if (existsSync(join(docsDir, 'results', `${record.name}.svg`))) svgs.add(record.name);
  const missing = REPRODUCTIONS.filter((r) => !records.some((record) => record.name === r.name)).map((r) => ({ paper: `${r.paper} (\`${r.name}\`: implemented, no full run recorded)`, section: '' }));
  writeFileSync(join(docsDir, 'results.md'), resultsPage(records, svgs, [...missing, ...NOT_YET_RUN]));
  return records.map((r) => r.name);
}

async function main(): Promise<void> {
  const flags = readCommandLine(process.argv.slice(2));
  if (flags.list) {
    for (const r of REPRODUCTIONS) console.log(`${r.name.padEnd(22)} ~${r.minutes} min  ${r.paper}`);
    return;
  }
  if (!flags.resultsOnly) {
    const list = flags.names.length === 0 ? REPRODUCTIONS : REPRODUCTIONS.filter((r) => flags.names.includes(r.name));
    await reproduce(list, { quick: flags.quick, outDir: flags.out });
  }
  if (flags.results || flags.resultsOnly) {
    const written = writeResults(flags.out, 'docs');
    console.log(`\nwrote docs/results.md (${written.length} reproduction${written.length === 1 ? '' : 's'}: ${written.join(', ')})`);
  }
}

if (isEntryPoint(import.meta.url, 'reproduce')) await main();
