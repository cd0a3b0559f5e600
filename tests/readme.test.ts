/**
 * The README's code runs as shown: every ```ts block is run from a checkout (its `'ropelab'` / `'ropelab/<entry>'`
 * imports pointed at the repo's index files), and where a ```text block follows under "prints", stdout must equal it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface Snippet {
  index: number;
  code: string;
  /** The output the README shows for it, if any. */
  expected: string | undefined;
}

/** The ```ts blocks of `markdown`, each with the ```text block that follows it after a "prints" line. */
function readmeSnippets(markdown: string): Snippet[] {
  const re = /```ts\n([\s\S]*?)```\n(\nprints\n\n```text\n([\s\S]*?)```\n)?/g;
  const out: Snippet[] = [];
  for (let m = re.exec(markdown); m !== null; m = re.exec(markdown)) out.push({ index: out.length + 1, code: m[1]!, expected: m[3] });
  return out;
}

const DIR = join('.cache', `readme-test-${process.pid}`);

function run(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/run.mjs', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('readmeSnippets pairs each ts block with the output shown after it', () => {
  const md = 'x\n```ts\nconsole.log(1);\n```\n\nprints\n\n```text\n1\n```\n\n```ts\nconst a = 2;\n```\n';
  assert.equal(readmeSnippets(md), [{ index: 1, code: 'console.log(1);\n', expected: '1\n' }, { index: 2, code: 'const a = 2;\n', expected: undefined }]);
});

test('every ts snippet of README.md runs and prints exactly what the README shows', async () => {
  const snippets = readmeSnippets(readFileSync('README.md', 'utf8'));
  assert.ok(snippets.length >= 4, `README.md has ${snippets.length} ts snippets`);
  assert.ok(snippets.filter((s) => s.expected !== undefined).length >= 3, 'most snippets show their output');
  mkdirSync(DIR, { recursive: true });
  try {
    const results = await Promise.all(snippets.map((s) => {
      const code = s.code.replace(/from 'ropelab\/([a-z]+)'/g, "from '../../$1/index.js'").replace(/from 'ropelab'/g, "from '../../index.js'");
      const file = join(DIR, `snippet-${s.index}.ts`);
      writeFileSync(file, code);
      return run(file);
    }));
    snippets.forEach((s, i) => {
      const r = results[i]!;
      assert.is(r.code, 0, `README snippet ${s.index} exits 0:\n${r.stderr}`);
      if (s.expected !== undefined) assert.fixture(r.stdout, s.expected);
    });
  } finally {
    rmSync(DIR, { recursive: true, force: true });
  }
});

test.run();
