/**
 * The API reference (scripts/api-docs.ts): the committed docs/api/ pages equal what the script generates from the
 * sources now, every public export has a doc comment, and the script's own parser reads the export syntax right —
 * on fixtures, and on every module the entries reach (each `export` declaration at the top of a line is found).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import {
  API_ENTRIES, activeEntries, buildApiReference, cleanDoc, countExports, escapeMarkdown, headingSlug, parseModule, readCommittedPages, summaryOf,
  tokenize, undocumentedExports,
} from '../../scripts/api-docs.js';

const root = process.cwd();
const reference = buildApiReference(root);

/** The first line where two texts differ, for the failure message. */
function firstDifference(a: string, b: string): string {
  const x = a.split('\n');
  const y = b.split('\n');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] !== y[i]) return `line ${i + 1}:\n  committed: ${x[i] ?? '(end of file)'}\n  generated: ${y[i] ?? '(end of file)'}`;
  }
  return 'identical';
}

test('the committed docs/api/ equals what scripts/api-docs.ts generates now', () => {
  const committed = readCommittedPages(root);
  const problems: string[] = [];
  for (const [page, text] of reference.pages) {
    const old = committed.get(page);
    if (old === undefined) problems.push(`docs/api/${page} is missing`);
    else if (old !== text) problems.push(`docs/api/${page} is stale (${firstDifference(old, text)})`);
  }
  for (const page of committed.keys()) if (!reference.pages.has(page)) problems.push(`docs/api/${page} documents no entry any more`);
  assert.ok(problems.length === 0, `the API reference is out of date: run \`npm run docs\` and commit docs/api/.\n${problems.join('\n')}`);
});

test('every public export has a doc comment', () => {
  const missing = undocumentedExports(reference.surfaces);
  assert.ok(missing.length === 0, `${missing.length} public exports have no doc comment (write one above the declaration):\n  ${missing.join('\n  ')}`);
});

test('the entries: one list; the optional testing entry is documented exactly when testing/index.ts exists', () => {
  const active = activeEntries(root);
  assert.equal(
    reference.surfaces.map((s) => s.entry.page),
    active.map((e) => e.page),
  );
  for (const page of ['index.md', 'core.md', 'positional.md', 'nn.md', 'models.md']) assert.ok(reference.pages.has(page), page);
  const testing = API_ENTRIES.find((e) => e.index === 'testing/index.ts');
  assert.ok(testing?.optional === true);
  const fake = [{ specifier: 'x', index: 'no/such/index.ts', page: 'x.md', optional: true }];
  assert.equal(activeEntries(root, fake), []);
});

test('every export of every entry is on its page, and the root page links each folder export', () => {
  const root_ = reference.surfaces.find((s) => s.entry.index === 'index.ts')!;
  const rootPage = reference.pages.get('index.md')!;
  assert.ok(root_.reExportedEntries.length >= 4);
  for (const s of reference.surfaces) {
    const page = reference.pages.get(s.entry.page)!;
    for (const e of s.exports) {
      assert.ok(page.includes(`### \`${e.name}\``), `${s.entry.page} lacks ${e.name}`);
      assert.ok(page.includes(`defined in [${e.file}](../../${e.file})`) || page.includes(`[${e.file}]`), `${e.name}: no link to ${e.file}`);
    }
    if (root_.reExportedEntries.includes(s.entry)) for (const e of s.exports) assert.ok(rootPage.includes(`[\`${e.name}\`](${s.entry.page}#`), `index.md lacks ${e.name}`);
  }
  assert.ok(countExports(reference.surfaces) > 500);
});

test('the parser finds every top-level export declaration of the modules the entries reach', () => {
  const files = new Set(reference.surfaces.flatMap((s) => s.exports.map((e) => e.file)));
  for (const file of files) {
    const src = readFileSync(file, 'utf8');
    const parsed = parseModule(src, file);
    const found = new Set(parsed.declarations.map((d) => d.name));
    const listed = [...src.matchAll(/^export (?:declare )?(?:abstract )?(?:async )?(?:function\*?|class|const|let|interface|type) ([\p{L}\p{N}_$]+)/gmu)].map((m) => m[1]!);
    for (const name of listed) assert.ok(found.has(name), `${file}: the parser missed 'export … ${name}'`);
  }
});

const FIXTURE = `/** The header. */
import { x } from './x.js';

const re = /[/]}{"'\`/g, half = 1 / 2, n = x! / 2;
const tpl = \`a \${ { b: '}' }.b } \${\`nested \${1}\`}\`;

/** Adds. Shapes: \`a: [batch, seq]\`.
 *
 * More text. */
export function add<T extends { a: number }>(a: T, b = { c: 1 }): { sum: number } {
  return { sum: a.a + b.c };
}

/** Overloaded. */
export function pick(x: number): number;
export function pick(x: string): string;
export function pick(x: number | string): number | string {
  return x;
}

/** A box. */
export abstract class Box<T> extends Base<{ t: T }> implements Shape {
  /** The value. */
  readonly value: T;
  private hidden = 1;
  protected guarded(): void {}
  /** @internal Not for users. */
  internalOnly(): void {}
  count = 0;
  /** Builds it. */
  constructor(value: T) {
    super();
    this.value = value;
  }
  /** Maps it. */
  map<U>(f: (t: T) => U): Box<U> {
    return { then: () => {} } as never;
  }
  static of(): void {}
  get size(): number {
    return 1;
  }
}

/** Options. */
export interface Options {
  /** How many. */
  readonly count?: number;
  run(x: number): void;
}

/** A union; its comments stay. */
export type Mode =
  // the first
  | 'a'
  | 'b';

/** An object type. */
export type Pair = { /** Left. */ left: number; right: number };

/** A factory product. */
export const made = factory('x');
export const arrow = (x: number): number => x * 2;
/** Short. */
export const LIMIT = 2 ** 10;
function factory(name: string): (a: number) => number {
  return (a) => a;
}
export { a, b as c, type D } from './other.js';
export * from './all.js';
`;

test('parser: tokens, declarations, overloads, class members, types and re-exports on a fixture', () => {
  const toks = tokenize(FIXTURE);
  assert.ok(toks.some((t) => t.kind === 'regex' && t.text === '/[/]}{"\'`/g'), 'a regular expression with brackets and quotes');
  assert.ok(toks.some((t) => t.kind === 'template' && t.text.startsWith('`a ${')), 'a template literal');
  const m = parseModule(FIXTURE, 'fixture.ts');
  assert.is(m.header, 'The header.');
  const by = (n: string) => m.declarations.filter((d) => d.name === n);
  assert.equal(
    m.declarations.map((d) => `${d.kind} ${d.name}`),
    ['function add', 'function pick', 'function pick', 'abstract class Box', 'interface Options', 'type Mode', 'type Pair', 'function made', 'function arrow', 'constant LIMIT'],
  );
  const add = by('add')[0]!;
  assert.is(add.signature, 'function add<T extends { a: number }>(a: T, b = { c: 1 }): { sum: number }');
  assert.is(add.doc, 'Adds. Shapes: `a: [batch, seq]`.\n\nMore text.');
  assert.is(summaryOf(add.doc), 'Adds. Shapes: `a: [batch, seq]`.');
  assert.equal(
    by('pick').map((d) => d.signature),
    ['function pick(x: number): number;', 'function pick(x: string): string;'],
  );
  const box = by('Box')[0]!;
  assert.is(box.signature, 'abstract class Box<T> extends Base<{ t: T }> implements Shape');
  assert.equal(
    box.members.map((x) => x.signature),
    ['readonly value: T', 'count = 0', 'constructor(value: T)', 'map<U>(f: (t: T) => U): Box<U>', 'static of(): void', 'get size(): number'],
  );
  assert.is(box.members[0]!.doc, 'The value.');
  assert.equal(
    by('Options')[0]!.members.map((x) => [x.signature, x.doc]),
    [
      ['readonly count?: number', 'How many.'],
      ['run(x: number): void', ''],
    ],
  );
  assert.ok(by('Mode')[0]!.signature.includes('// the first'));
  assert.equal(
    by('Pair')[0]!.members.map((x) => [x.signature, x.doc]),
    [
      ['left: number', 'Left.'],
      ['right: number', ''],
    ],
  );
  assert.is(by('made')[0]!.signature, 'const made: (a: number) => number');
  assert.is(by('arrow')[0]!.signature, 'const arrow: (x: number) => number');
  assert.is(by('arrow')[0]!.doc, '');
  assert.is(by('LIMIT')[0]!.signature, 'const LIMIT = 2 ** 10');
  assert.equal(m.reExports, [
    { names: [['a', 'a'], ['b', 'c'], ['D', 'D']], from: './other.js', doc: '' },
    { names: null, from: './all.js', doc: '' },
  ]);
});

test('parser: unsupported export syntax is refused with the file and line, never skipped', () => {
  assert.throws(() => parseModule('/** h */\nexport default 1;\n', 'a.ts'), /a\.ts:2: export default is not supported/);
  assert.throws(() => parseModule('/** h */\nexport enum E { A }\n', 'b.ts'), /b\.ts:2: export enum is not supported/);
  assert.throws(() => parseModule('/** h */\nexport const a = 1, b = 2;\n', 'c.ts'), /c\.ts:2: .*several declarators/);
  assert.throws(() => parseModule('/** h */\nconst a = 1;\nexport { a };\n', 'd.ts'), /d\.ts:3: a local `export/);
});

test('doc text: tags, summaries, markdown escapes and anchors', () => {
  assert.equal(cleanDoc('/** @internal Hidden. */'), { text: 'Hidden.', internal: true });
  assert.is(cleanDoc('/**\n * Text.\n * @example f(1); // 2\n */').text, 'Text.\n\nExample:\n\n```ts\nf(1); // 2\n```');
  assert.is(escapeMarkdown('a*b_c <T> `x*y<z>` [B, T, C]'), 'a\\*b\\_c &lt;T> `x*y<z>` [B, T, C]');
  assert.is(escapeMarkdown('see [x](y)'), 'see [x]\\(y)');
  assert.is(escapeMarkdown('```ts\na*b\n```'), '```ts\na*b\n```');
  assert.is(headingSlug('RoPE'), 'rope');
  assert.is(headingSlug('core/ops/elementwise.ts'), 'coreopselementwisets');
  // a class and a function whose names differ only in case get distinct anchors on one page (Tensor, tensor)
  const core = reference.pages.get('core.md')!;
  assert.ok(core.includes('[`Tensor`](#tensor)') && core.includes('[`tensor`](#tensor-1)'));
});

test.run();
