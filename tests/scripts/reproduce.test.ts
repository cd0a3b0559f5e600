/**
 * scripts/reproduce.ts, the runner of issue 17's reproductions: the progress line and its ETA, the records and charts
 * it writes, the table, the results page (a quick run never reaches it), and — the suite's smoke test — every
 * registered reproduction in --quick mode returns a well-formed result.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Reproduction, ReproductionResult } from '../../scripts/lib/reproduction.js';
import { formatDuration, progressLine, reproduce, resultsPage, runOne, summaryTable, writeResults, type ReproduceIO, type ReproductionRecord } from '../../scripts/reproduce.js';
import { NOT_YET_RUN, REPRODUCTIONS } from '../../scripts/reproductions.js';

/** An io with a clock the test advances. */
function fakeIO(): ReproduceIO & { lines: string[]; progressLines: string[]; clock: { t: number } } {
  const clock = { t: 0 };
  const lines: string[] = [];
  const progressLines: string[] = [];
  return { lines, progressLines, clock, out: (l) => lines.push(l), progress: (l) => progressLines.push(l), progressEvery: 2000, now: () => clock.t };
}

function fake(name: string, verdict: ReproductionResult['verdict'], io: { clock: { t: number } }, svg: string | null = '<svg xmlns="http://www.w3.org/2000/svg"/>'): Reproduction {
  return {
    name, paper: `Paper ${name}`, claim: 'A beats B | by a lot', setup: 'toy', criterion: 'A < B in every seed', falsifier: 'B ≤ A', minutes: 2,
    run: async ({ progress }) => {
      for (let step = 1; step <= 10; step++) {
        io.clock.t += 1000; // 1 s per step
        progress(step, 10, `step ${step}`);
      }
      return { verdict, summary: `A 1.0 (0.9–1.1) vs B 2.0`, reason: 'because', table: 'arm │ loss\nA │ 1.0', svg, data: { steps: 10 } };
    },
  };
}

test('formatDuration and the progress line: percent, elapsed and ETA = elapsed · (1 − f)/f (the estimate before any progress)', () => {
  assert.equal([formatDuration(0), formatDuration(59.4), formatDuration(65), formatDuration(3600), formatDuration(NaN)], ['0s', '59s', '1m05s', '60m00s', '?']);
  assert.is(progressLine('x', 1, 4, 30, 600), '[x]  25%  30s elapsed, ETA 1m30s');
  assert.is(progressLine('x', 0, 4, 30, 600, 'warming up'), '[x]   0%  30s elapsed, ETA 9m30s  warming up');
  assert.is(progressLine('x', 4, 4, 80, 600), '[x] 100%  1m20s elapsed, ETA 0s');
});

test('reproduce runs each in order, throttles progress to one line per 2 s (and the last), writes <name>.json and .svg, prints the table', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ropelab-reproduce-'));
  try {
    const io = fakeIO();
    const records = await reproduce([fake('alpha', 'reproduced', io), fake('beta', 'partly', io, null)], { quick: false, outDir: dir }, io);
    assert.equal(records.map((r) => [r.name, r.verdict, r.seconds]), [['alpha', 'reproduced', 10], ['beta', 'partly', 10]]);
    assert.is(io.progressLines.filter((l) => l.startsWith('[alpha]')).length, 6, 'steps 1, 3, 5, 7, 9 and the last');
    assert.match(io.progressLines.at(-1)!, /^\[beta\] 100% {2}10s elapsed, ETA 0s {2}step 10$/);
    const saved = JSON.parse(readFileSync(join(dir, 'alpha.json'), 'utf8')) as ReproductionRecord;
    assert.equal([saved.claim, saved.criterion, saved.command, saved.quick, saved.data], ['A beats B | by a lot', 'A < B in every seed', 'npm run reproduce -- alpha', false, { steps: 10 }]);
    assert.ok(existsSync(join(dir, 'alpha.svg')) && !existsSync(join(dir, 'beta.svg')), 'a chart only where one was returned');
    assert.match(io.lines.at(-1)!, /alpha +│ reproduced +│ 10s +│ A 1\.0/);
    assert.match(summaryTable(records.map((r) => ({ ...r, quick: true }))), /alpha +│ \(quick: no verdict\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the results page: one row per full run with its verdict and command, escaped cells, charts linked, the protocols not run listed', () => {
  const base = { paper: 'P', claim: 'x | y', setup: 's', criterion: 'c', falsifier: 'f', quick: false, seconds: 75, date: '2026-12-07', summary: 'A 1 vs B 2', reason: 'r', table: 't', data: null };
  const page = resultsPage([
    { ...base, name: 'one', verdict: 'reproduced', command: 'npm run reproduce -- one' },
    { ...base, name: 'two', verdict: 'not reproduced', command: 'npm run reproduce -- two' },
  ], new Set(['one']), [{ paper: 'Later paper', section: '§9' }]);
  assert.match(page, /Verdicts: 1 reproduced, 0 partly, 1 not reproduced, of 2 run\./);
  assert.match(page, /\| \*\*P\*\*: x \\\| y \| s \| A 1 vs B 2 \(\[chart\]\(results\/one\.svg\)\) \| \*\*reproduced\*\* — r \| `npm run reproduce -- one` \(1m15s, 2026-12-07\) \|/);
  assert.not.match(page, /results\/two\.svg/);
  assert.match(page, /## Not run yet[\s\S]*- Later paper — spec §9/);
});

test('a rerun keeps its earlier runs and an examined result says why: the record carries both and the page shows them under the result', async () => {
  const io = fakeIO();
  const history = ['2026-12-07: not reproduced (the control failed); then 2000 steps instead of 600'];
  const examination = 'the control arm had not converged; 3× the steps would settle it';
  const { record } = await runOne({ ...fake('again', 'reproduced', io), history, examination }, false, io);
  assert.equal(record.history, history);
  assert.is(record.examination, examination);
  const { record: plain } = await runOne(fake('plain', 'reproduced', io), false, io);
  assert.not.ok('history' in plain);
  assert.not.ok('examination' in plain);
  const page = resultsPage([record, plain], new Set());
  assert.match(page, /\*\*reproduced\*\* — because \(a rerun: the earlier run is in its section\)/);
  assert.match(page, /## again[\s\S]*\*\*Earlier runs of this protocol\*\*[^\n]*\n\n- 2026-12-07: not reproduced \(the control failed\); then 2000 steps instead of 600\n[\s\S]*## plain/);
  assert.equal(page.match(/Earlier runs of this protocol/g)?.length, 1);
  assert.match(page, /```\n\n\*\*Why, and what would settle it\.\*\* the control arm had not converged; 3× the steps would settle it\n/);
  assert.equal(page.match(/Why, and what would settle it/g)?.length, 1);
});

test('writeResults takes only full runs (a quick record is not evidence) and copies their charts, not another run\'s', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ropelab-results-'));
  try {
    const out = join(dir, 'out');
    const docs = join(dir, 'docs');
    mkdirSync(out);
    const names = writeResults(out, docs);
    assert.equal(names, [], 'no records yet');
    assert.match(readFileSync(join(docs, 'results.md'), 'utf8'), /of 0 run/);
    writeFileSync(join(out, 'ignored.json'), '{}'); // not a registered name: never read
    assert.equal(writeResults(out, docs), []);
    const warnings: string[] = [];
    writeFileSync(join(out, `${REPRODUCTIONS[0]!.name}.json`), '{"runs": []}'); // another tool's file under the name
    assert.equal(writeResults(out, docs, (w) => warnings.push(w)), [], 'not a record: left out');
    assert.match(warnings.join('\n'), /is not a record of npm run reproduce/);
    const name = REPRODUCTIONS[0]!.name;
    const record = { name, paper: 'P', claim: 'c', setup: 's', criterion: 'k', falsifier: 'f', seconds: 1, date: '2026-12-07', command: 'x', verdict: 'reproduced', summary: 'S', reason: 'R', table: 'T', data: null };
    writeFileSync(join(out, `${name}.json`), JSON.stringify({ ...record, quick: true }));
    assert.equal(writeResults(out, docs), [], 'a quick record is not evidence');
    writeFileSync(join(out, `${name}.json`), JSON.stringify({ ...record, quick: false }));
    writeFileSync(join(out, `${name}.svg`), '<svg/>');
    assert.equal(writeResults(out, docs), [name]);
    assert.ok(existsSync(join(docs, 'results', `${name}.svg`)), 'its chart is copied');
    assert.ok(existsSync(join(docs, 'results', `${name}.json`)), 'and its record, to be committed with the page');
    const page = readFileSync(join(docs, 'results.md'), 'utf8');
    // a chart another run left in out/ (an experiment's own command writes one too) never replaces the run's
    writeFileSync(join(out, `${name}.svg`), '<svg id="other run"/>');
    const anHourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(join(out, `${name}.svg`), anHourAgo, anHourAgo);
    const chartWarnings: string[] = [];
    assert.equal(writeResults(out, docs, (w) => chartWarnings.push(w)), [name]);
    assert.is(readFileSync(join(docs, 'results', `${name}.svg`), 'utf8'), '<svg/>', 'the run\'s chart is kept');
    assert.match(chartWarnings.join('\n'), /was not written with .* the chart in docs\/results\/ is kept/);
    // a clean checkout has no out/: the committed record still makes the page, and a quick run does not shadow it
    rmSync(join(out, `${name}.json`));
    rmSync(join(out, `${name}.svg`));
    assert.equal(writeResults(out, docs), [name], 'from docs/results/<name>.json');
    assert.is(readFileSync(join(docs, 'results.md'), 'utf8'), page, 'the same page');
    writeFileSync(join(out, `${name}.json`), JSON.stringify({ ...record, quick: true }));
    assert.equal(writeResults(out, docs), [name], 'a quick record in out/ does not hide the committed full run');
    rmSync(join(out, `${name}.json`));
    assert.match(page, /of 1 run/);
    const other = REPRODUCTIONS[1]!.name;
    assert.match(page, new RegExp(`\\(\`${other}\`: implemented, no full run recorded\\)\n`), 'a registered reproduction without a run is listed, with no empty spec section');
    // an examination is written after the run: the page shows the registry's current text, not the record's
    const examined = REPRODUCTIONS.find((r) => r.examination !== undefined)!;
    writeFileSync(join(out, `${examined.name}.json`), JSON.stringify({ ...record, name: examined.name, quick: false, examination: 'stale text' }));
    writeResults(out, docs);
    const withNotes = readFileSync(join(docs, 'results.md'), 'utf8');
    assert.ok(withNotes.includes(`**Why, and what would settle it.** ${examined.examination!}`), 'the registry\'s examination');
    assert.not.ok(withNotes.includes('stale text'));
    assert.ok(withNotes.includes(`**${examined.paper}**: ${examined.claim}`), 'the registry\'s citation and claim, not the record\'s');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("every registered reproduction states its claim, setup, criterion and falsifier, lives in scripts/experiments/<name>.ts and has a test running its --quick mode", () => {
  assert.ok(REPRODUCTIONS.length >= 3, `registered: ${REPRODUCTIONS.map((r) => r.name).join(', ')}`);
  assert.is(new Set(REPRODUCTIONS.map((r) => r.name)).size, REPRODUCTIONS.length, 'names are unique');
  for (const r of REPRODUCTIONS) {
    for (const field of ['paper', 'claim', 'setup', 'criterion', 'falsifier'] as const) assert.ok(r[field].trim().length > 20, `${r.name}.${field} says something`);
    assert.ok(r.minutes > 0 && Number.isFinite(r.minutes), `${r.name}.minutes`);
    assert.ok(existsSync(join('scripts/experiments', `${r.name}.ts`)), `scripts/experiments/${r.name}.ts`);
    const testFile = join('tests/scripts', `${r.name}.test.ts`);
    assert.ok(existsSync(testFile) && /quick/.test(readFileSync(testFile, 'utf8')), `${testFile} runs the quick mode`);
  }
  const shown = new Set(NOT_YET_RUN.map((p) => p.paper));
  assert.is(shown.size, NOT_YET_RUN.length);
});

test.run();
