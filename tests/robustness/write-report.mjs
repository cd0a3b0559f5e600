#!/usr/bin/env node
// Run the robustness suite and write its failing calls, grouped by folder and export, as Markdown.
// Usage: node tests/robustness/write-report.mjs [out.md]   (default: robustness-failures.md in the working directory)
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const out = process.argv[2] ?? 'robustness-failures.md';
const jsonl = join(tmpdir(), `robustness-${process.pid}.jsonl`);
rmSync(jsonl, { force: true });
spawnSync(process.execPath, ['scripts/test.mjs', 'tests/robustness/(core|positional|nn|models)\\.test'], {
  env: { ...process.env, ROBUSTNESS_REPORT: jsonl },
  stdio: 'ignore',
});
const rows = readFileSync(jsonl, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.category !== 'skipped');
rmSync(jsonl, { force: true });

// The issue's probe classes: typed OK, unclear error, wrong op name, silent NaN / silent wrong answer, refused-valid.
const CLASS = { typed: 'typed OK', ok: 'typed OK', unclear: 'unclear error', hang: 'unclear error', 'wrong-name': 'wrong op name', silent: 'silent', 'silent-nan': 'silent', 'refused-valid': 'refused-valid' };
const CLASSES = ['typed OK', 'unclear error', 'wrong op name', 'silent', 'refused-valid'];
const folders = ['core', 'positional', 'nn', 'models'];
const count = (rs) => Object.fromEntries(CLASSES.map((c) => [c, rs.filter((r) => CLASS[r.category] === c).length]));

let md = `# Robustness suite: failing calls\n\nGenerated ${new Date().toISOString()} by \`node tests/robustness/write-report.mjs\` ` +
  `(suite: tests/robustness/, issue #10 item 7). Each line: the call, the bad input, what happened.\n\n` +
  `Classes: **typed OK** (a typed error naming the call, or a finite result for an input that may be valid), **unclear error** ` +
  `(a JS TypeError/RangeError/untyped Error, or a hang past the per-call timeout), **wrong op name** (a typed error whose message ` +
  `starts with another name), **silent** (an invalid input accepted — \`[silent]\` — or NaN out of finite inputs — \`[silent-nan]\`), ` +
  `**refused-valid** (the valid call threw).\n\n| folder | calls | ${CLASSES.join(' | ')} |\n|---|---|${CLASSES.map(() => '---').join('|')}|\n`;
for (const f of [...folders, 'all']) {
  const rs = f === 'all' ? rows : rows.filter((r) => r.folder === f);
  const c = count(rs);
  md += `| ${f} | ${rs.length} | ${CLASSES.map((k) => c[k]).join(' | ')} |\n`;
}
for (const f of folders) {
  const failing = rows.filter((r) => r.folder === f && CLASS[r.category] !== 'typed OK');
  const exports = [...new Set(failing.map((r) => r.export))];
  md += `\n## ${f} (${failing.length} failing calls in ${exports.length} exports)\n`;
  for (const e of exports) {
    const rs = failing.filter((r) => r.export === e);
    const c = count(rs);
    md += `\n### ${e} — ${CLASSES.filter((k) => c[k] > 0).map((k) => `${c[k]} ${k}`).join(', ')}\n\n`;
    for (const r of rs) md += `- [${r.category}] \`${r.call}(${r.input})\` → ${r.detail}\n`;
  }
}
writeFileSync(out, md);
console.log(`wrote ${out}: ${rows.length} calls, ${rows.filter((r) => CLASS[r.category] !== 'typed OK').length} failing`);
