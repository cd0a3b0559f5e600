/**
 * The library's layering, enforced: core ← positional ← nn ← models. A folder imports only the folders below it,
 * and only through their public surface (`<folder>/index.ts`): core imports none of the others; positional imports
 * core/index.ts; nn imports core/index.ts and positional/index.ts; models imports the three index files. Every
 * import counts — `import type`, `export … from` and dynamic `import()` — because each one couples the files.
 * Inside a folder (its subfolders included) anything goes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';

/** The layers, lowest first: each may import those before it. */
const LAYERS = ['core', 'positional', 'nn', 'models'] as const;
type Layer = (typeof LAYERS)[number];

const root = process.cwd();

function layerOf(path: string): Layer | null {
  const top = path.split('/')[0];
  return (LAYERS as readonly string[]).includes(top ?? '') ? (top as Layer) : null;
}

interface Token {
  kind: 'id' | 'str' | 'punct' | 'other';
  value: string;
}

const REGEX_AFTER = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw', 'yield', 'await', 'instanceof']);

/**
 * The tokens of a TypeScript source that matter for its imports: identifiers, string literals and punctuation.
 * Comments, template literals and regular-expression literals are skipped, so an import written inside one of them
 * does not count. (TypeScript 7 ships no JavaScript API to parse with.)
 */
function tokenize(src: string): Token[] {
  const out: Token[] = [];
  const substitutions: number[] = []; // brace depth at each open `${` of a template literal
  let depth = 0;
  let i = 0;
  const n = src.length;
  /** Skip a template literal's text from j; stop after its closing backtick or at a `${` (its expression is tokenized). */
  const template = (j: number): number => {
    while (j < n) {
      const c = src[j]!;
      if (c === '\\') j += 2;
      else if (c === '`') return j + 1;
      else if (c === '$' && src[j + 1] === '{') {
        substitutions.push(depth);
        return j + 2;
      } else j++;
    }
    return n;
  };
  while (i < n) {
    const c = src[i]!;
    const prev = out[out.length - 1];
    if (/\s/.test(c)) i++;
    else if (c === '/' && src[i + 1] === '/') i = src.includes('\n', i) ? src.indexOf('\n', i) : n;
    else if (c === '/' && src[i + 1] === '*') i = src.includes('*/', i + 2) ? src.indexOf('*/', i + 2) + 2 : n;
    else if (c === '"' || c === "'") {
      let j = i + 1;
      let value = '';
      while (j < n && src[j] !== c) {
        if (src[j] === '\\') j++;
        value += src[j++];
      }
      out.push({ kind: 'str', value });
      i = j + 1;
    } else if (c === '`') {
      out.push({ kind: 'other', value: '`' });
      i = template(i + 1);
    } else if (c === '}' && substitutions.length > 0 && substitutions[substitutions.length - 1] === depth) {
      substitutions.pop();
      i = template(i + 1);
    } else if (c === '/' && (prev === undefined || (prev.kind === 'punct' && !')]}'.includes(prev.value)) || (prev.kind === 'id' && REGEX_AFTER.has(prev.value)))) {
      let j = i + 1;
      let inClass = false;
      while (j < n && (inClass || src[j] !== '/')) {
        if (src[j] === '\\') j++;
        else if (src[j] === '[') inClass = true;
        else if (src[j] === ']') inClass = false;
        j++;
      }
      j++;
      while (j < n && /[a-z]/.test(src[j]!)) j++;
      out.push({ kind: 'other', value: 'regex' });
      i = j;
    } else if (/[A-Za-z_$0-9]/.test(c)) {
      let j = i;
      while (j < n && /[A-Za-z_$0-9.]/.test(src[j]!) && !(src[j] === '.' && /[A-Za-z_$]/.test(c))) j++;
      out.push({ kind: /[0-9]/.test(c) ? 'other' : 'id', value: src.slice(i, j) });
      i = j;
    } else {
      if (c === '{') depth++;
      if (c === '}') depth--;
      out.push({ kind: 'punct', value: c });
      i++;
    }
  }
  return out;
}

/**
 * Module specifiers a TypeScript source imports or re-exports: `import … from`, `import type … from`, `import '…'`,
 * `export … from` and dynamic `import('…')` (also in `typeof import('…')`).
 */
function importsOf(source: string): string[] {
  const tok = tokenize(source);
  const specs: string[] = [];
  const at = (k: number): Token | undefined => tok[k];
  /** From k, the string after the first `from` before a `;`. */
  const fromClause = (k: number): string | null => {
    for (; k < tok.length && !(tok[k]!.kind === 'punct' && tok[k]!.value === ';'); k++) {
      if (tok[k]!.kind === 'id' && tok[k]!.value === 'from' && at(k + 1)?.kind === 'str') return tok[k + 1]!.value;
    }
    return null;
  };
  for (let k = 0; k < tok.length; k++) {
    const t = tok[k]!;
    if (t.kind !== 'id' || (at(k - 1)?.kind === 'punct' && at(k - 1)?.value === '.')) continue;
    const next = at(k + 1);
    if (t.value === 'import') {
      if (next?.kind === 'str') specs.push(next.value);
      else if (next?.kind === 'punct' && next.value === '(' && at(k + 2)?.kind === 'str') specs.push(at(k + 2)!.value);
      else if (!(next?.kind === 'punct' && next.value === '.')) {
        const spec = fromClause(k + 1);
        if (spec !== null) specs.push(spec);
      }
    } else if (t.value === 'export') {
      const first = next?.value === 'type' ? at(k + 2) : next;
      if (first?.kind === 'punct' && (first.value === '{' || first.value === '*')) {
        const spec = fromClause(k + 1);
        if (spec !== null) specs.push(spec);
      }
    }
  }
  return specs;
}

/**
 * What is wrong with `from` (a repo-relative path like 'nn/spectral.ts') importing `specifier`, or null. Package and
 * `node:` imports are not layering's business.
 */
function layeringViolation(from: string, specifier: string): string | null {
  if (!specifier.startsWith('.')) return null;
  const fromLayer = layerOf(from);
  if (fromLayer === null) return null;
  const target = posix.normalize(posix.join(posix.dirname(from), specifier)).replace(/\.js$/, '.ts');
  const toLayer = layerOf(target);
  if (toLayer === null) return `${from} imports '${specifier}' (${target}), outside core/, positional/, nn/ and models/`;
  if (toLayer === fromLayer) return null;
  if (LAYERS.indexOf(toLayer) > LAYERS.indexOf(fromLayer)) return `${from} imports '${specifier}': ${fromLayer}/ may not import ${toLayer}/ (a layer above it)`;
  if (target !== `${toLayer}/index.ts`) return `${from} imports '${specifier}': outside ${toLayer}/, import ${toLayer}/index.ts (its public surface), not ${target}`;
  return null;
}

function sourcesUnder(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourcesUnder(p);
    return e.name.endsWith('.ts') ? [p.split(sep).join('/')] : [];
  });
}

test('layering rule: what it allows and what it refuses', () => {
  const allowed: [string, string][] = [
    ['core/ops/matmul.ts', '../kernels/matmul.js'],
    ['core/index.ts', './linalg.js'],
    ['positional/rope.ts', '../core/index.js'],
    ['nn/spectral.ts', '../core/index.js'],
    ['nn/block.ts', '../positional/index.js'],
    ['nn/block.ts', './attention.js'],
    ['models/gpt.ts', '../nn/index.js'],
    ['models/gpt.ts', '../positional/index.js'],
    ['models/gpt.ts', '../core/index.js'],
    ['nn/safetensors-node.ts', 'node:fs/promises'],
  ];
  for (const [from, spec] of allowed) assert.is(layeringViolation(from, spec), null, `${from} → ${spec}`);
  const refused: [string, string, string][] = [
    ['core/tensor.ts', '../positional/index.js', 'layer above'],
    ['core/ops/attention.ts', '../../nn/index.js', 'layer above'],
    ['positional/rope.ts', '../nn/index.js', 'layer above'],
    ['positional/rope.ts', '../models/index.js', 'layer above'],
    ['nn/block.ts', '../models/gpt.js', 'layer above'],
    ['positional/rope.ts', '../core/kernels/elementwise.js', 'core/index.ts'],
    ['nn/spectral.ts', '../core/linalg.js', 'core/index.ts'],
    ['models/gpt.ts', '../core/tensor.js', 'core/index.ts'],
    ['nn/block.ts', '../positional/rope.js', 'positional/index.ts'],
    ['models/gpt.ts', '../nn/checks.js', 'nn/index.ts'],
    ['models/gpt.ts', '../scripts/x.js', 'outside'],
  ];
  for (const [from, spec, why] of refused) {
    const v = layeringViolation(from, spec);
    assert.ok(v !== null && v.includes(why), `${from} → ${spec}: expected a refusal mentioning '${why}', got ${v}`);
  }
});

test('importsOf: static, type-only, re-exports and dynamic imports; not comments or strings', () => {
  const src = [
    "import { a } from '../core/index.js';",
    "import type {\n  B,\n} from '../core/dtype.js';",
    "export { c } from './c.js';",
    "export * from '../nn/index.js';",
    "const m = await import('../models/gpt.js');",
    "const q = a /* import { g2 } from '../core/errors.js'; */ + b;",
    "// import { d } from '../core/tensor.js';",
    "const s = \"import { e } from '../core/shape.js'\";",
    "const t = `import { f } from '../core/args.js' ${x.map((y) => `${y}`)}`;",
    "/* export { g } from '../core/errors.js'; */",
    "const r = /import '..\\/core\\/a.js'/g;",
    "type M = typeof import('./m.js');",
    "import '../positional/side-effect.js';",
    "export type { H } from './h.js';",
    "export function notAReExport(): void {}",
    "const m2 = import.meta.url;",
  ].join('\n');
  assert.equal(importsOf(src).sort(), [
    '../core/dtype.js', '../core/index.js', '../models/gpt.js', '../nn/index.js', '../positional/side-effect.js', './c.js', './h.js', './m.js',
  ]);
});

test('every import in core/, positional/, nn/ and models/ respects the layering', () => {
  const files = LAYERS.flatMap(sourcesUnder);
  assert.ok(files.length > 50 && files.includes('core/index.ts') && files.includes('models/index.ts'), `found the sources (${files.length})`);
  const violations: string[] = [];
  for (const file of files) {
    const source = readFileSync(join(root, file), 'utf8');
    const found = importsOf(source);
    // The scanner misses nothing a line-start import or re-export names (a cross-check on the tokenizer).
    for (const m of source.matchAll(/^(?:import|export|})[^'"\n]*? from '([^']+)';$/gm)) assert.ok(found.includes(m[1]!), `${file}: the scanner missed '${m[1]}'`);
    for (const spec of found) {
      const v = layeringViolation(relative(root, join(root, file)).split(sep).join('/'), spec);
      if (v !== null) violations.push(v);
    }
  }
  assert.ok(violations.length === 0, `${violations.length} layering violation(s):\n  ${violations.join('\n  ')}`);
});

test.run();
